//! Imported data: score files and embeddings with their metadata.
pub mod metadata;
mod normalize;
pub mod npy;
pub mod scores;
pub mod spill;

/// Why imported data could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A problem with a whole file.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A problem with one row.
    #[error("{file}:{line}: {message}")]
    Row {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A line without the UTF-8 byte-order mark some editors put at the start of a file.
pub(crate) fn strip_bom(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

/// The index of the first column whose (trimmed) name an earlier column already has.
pub(crate) fn duplicate_column<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .map(str::trim)
        .find(|n| !seen.insert(*n))
        .map(crate::format::quoted)
}

/// Refuses a CSV header that names one column twice (which of the two would be read is
/// anybody's guess).
pub(crate) fn check_columns(file: &str, header: &csv::StringRecord) -> Result<(), ImportError> {
    match duplicate_column(header.iter()) {
        Some(name) => Err(ImportError::File {
            file: file.to_string(),
            message: format!(
                "the header names column {name} twice; give every column a distinct name"
            ),
        }),
        None => Ok(()),
    }
}
