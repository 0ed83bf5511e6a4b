//! Atomic writes: a file (or a folder, in `report`) is written under a temporary name beside
//! its target, then renamed into place, so a crash never leaves a half-written output; a later
//! write into the same place removes what an interrupted process left.

use std::path::{Path, PathBuf};

/// `.NAME.TAG-PID` beside `dir`: where this process writes before a rename.
pub(crate) fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// The temporary file [`write_file`] writes before renaming it to `path` (tests simulate a
/// crash half-way through a write with it).
pub fn partial_sibling(path: &Path) -> PathBuf {
    sibling(path, "partial")
}

/// Removes temporary files and folders that an interrupted earlier falsematch process left
/// beside `dir` (only names of the form `.NAME.partial-PID` and `.NAME.old-PID`, which nothing
/// but falsematch writes).
pub(crate) fn remove_stale(dir: &Path) {
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for entry in entries.flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        let ours = [".partial-", ".old-"].iter().any(|tag| {
            n.strip_prefix(&format!(".{name}{tag}"))
                .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        });
        if ours {
            if entry.path().is_dir() {
                let _ = std::fs::remove_dir_all(entry.path());
            } else {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Writes one file atomically: a temporary file beside it, then a rename. A device or pipe
/// (`--out /dev/null`) is written in place: renaming over it would replace the device itself.
///
/// # Errors
/// The operating system's error; the temporary file is removed on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        return std::fs::write(path, bytes);
    }
    remove_stale(path);
    let tmp = sibling(path, "partial");
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
