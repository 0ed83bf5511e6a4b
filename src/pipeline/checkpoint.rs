//! A run's checkpoint on disk: where it is (`OUT.checkpoint.json` beside the output), how a
//! run starts from it (only with `--resume`, integrity-checked like a part file), and how it
//! is saved (atomically, so an interruption never leaves half of one).

use crate::pipeline::shard::{PartError, PartialRun, Shard};
use crate::scenario::Scenario;
use std::path::{Path, PathBuf};

/// Where a run into `out` keeps its checkpoint: `OUT.checkpoint.json` beside it.
pub fn checkpoint_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!("{name}.checkpoint.json"))
}

/// How a run started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From nothing (no `--resume`).
    Fresh,
    /// From the checkpoint, as asked.
    Resumed,
    /// `--resume` was asked but there was no checkpoint: from nothing.
    NoCheckpoint,
}

/// Why a checkpoint could not be used or saved (each names the file).
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A checkpoint is there and `--resume` was not asked.
    #[error(
        "{}: a checkpoint of an interrupted run is there; continue it with --resume, or remove it to start again",
        .0.display()
    )]
    Exists(PathBuf),
    /// The checkpoint cannot be read.
    #[error("{}: cannot read the checkpoint: {source}", path.display())]
    Read {
        /// The checkpoint.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The checkpoint is not a trustworthy part of this run (digest, scenario, seed, shard).
    #[error(transparent)]
    Part(#[from] PartError),
    /// The folder of the checkpoint cannot be created.
    #[error("{}: cannot create the folder: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// The part a run of `shard` starts from: the checkpoint at `path` (integrity-checked) when
/// `resume`, else a new one. Creates the checkpoint's folder.
///
/// # Errors
/// [`CheckpointError`] when a checkpoint is there without `resume`, cannot be read or is not a
/// part of this scenario, seed and shard, or the folder cannot be created.
pub fn start(
    path: &Path,
    resume: bool,
    scenario: &Scenario,
    text: &str,
    shard: Shard,
) -> Result<(PartialRun, Start), CheckpointError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| CheckpointError::Folder {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let name = path.display().to_string();
    if !resume {
        if path.exists() {
            return Err(CheckpointError::Exists(path.to_path_buf()));
        }
        return Ok((PartialRun::new(scenario, text, shard), Start::Fresh));
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let saved = PartialRun::from_json(&bytes, &name)?;
            saved.check(scenario, shard, &name)?;
            Ok((saved, Start::Resumed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((PartialRun::new(scenario, text, shard), Start::NoCheckpoint))
        }
        Err(source) => Err(CheckpointError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Saves `part` as the checkpoint at `path`, atomically.
///
/// # Errors
/// [`RunError::Checkpoint`](crate::pipeline::run::RunError::Checkpoint) with the operating
/// system's error.
pub fn save(path: &Path, part: &PartialRun) -> Result<(), crate::pipeline::run::RunError> {
    save_bytes(path, &part.to_json())
}

/// Saves the bytes of a part as the checkpoint at `path`, atomically.
///
/// # Errors
/// As [`save`].
pub fn save_bytes(path: &Path, bytes: &[u8]) -> Result<(), crate::pipeline::run::RunError> {
    crate::atomic::write_file(path, bytes).map_err(|e| {
        crate::pipeline::run::RunError::Checkpoint(Box::new(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", path.display()),
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_starts_fresh_resumes_a_saved_part_and_never_overwrites_one_unasked() {
        let (scenario, text) = Scenario::load("closed-form-check").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let path = checkpoint_path(&tmp.path().join("deep/out"));
        assert_eq!(path, tmp.path().join("deep/out.checkpoint.json"));
        let (part, start) = super::start(&path, true, &scenario, &text, Shard::WHOLE).unwrap();
        assert_eq!(start, Start::NoCheckpoint);
        save(&path, &part).unwrap();
        let (again, start) = super::start(&path, true, &scenario, &text, Shard::WHOLE).unwrap();
        assert_eq!((start, again), (Start::Resumed, part));
        let err = super::start(&path, false, &scenario, &text, Shard::WHOLE).unwrap_err();
        assert!(matches!(err, CheckpointError::Exists(_)), "{err}");
        // Another shard's checkpoint is not this run's.
        let err = super::start(&path, true, &scenario, &text, Shard::parse("1/2").unwrap());
        assert!(matches!(err, Err(CheckpointError::Part(_))));
        std::fs::write(&path, b"{").unwrap();
        assert!(super::start(&path, true, &scenario, &text, Shard::WHOLE).is_err());
    }
}
