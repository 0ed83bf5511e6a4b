//! Imported data: score files and embeddings with their metadata.
pub mod evaluate;
pub mod export;
pub mod metadata;
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
