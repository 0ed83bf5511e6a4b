//! The output folder on disk: atomic writes (a temporary sibling, then a rename), the check
//! that a target may be replaced, and `verify` (files against the manifest, then against a
//! fresh run).

use super::{Bundle, Job, MANIFEST, Manifest, PROVENANCE, ReportError};
use crate::atomic::{remove_stale, sibling};
use crate::scenario::{Scenario, sha256_hex};
use std::path::{Path, PathBuf};

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target is a bundle holding a file that falsematch did not write.
    #[error(
        "{dir}: holds {file}, which is not part of the falsematch bundle there; move it out of the folder or choose another --out (falsematch never deletes files it did not write)"
    )]
    Foreign {
        /// The bundle folder.
        dir: PathBuf,
        /// The foreign file, quoted, relative to the folder.
        file: String,
    },
    /// `--out` is a symbolic link.
    #[error(
        "{0}: is a symbolic link; give the folder it points to as --out (falsematch does not replace links)"
    )]
    Link(PathBuf),
    /// The target exists and is not a falsematch bundle.
    #[error(
        "{0}: exists and is not a falsematch output folder (no manifest.json); choose another --out or remove it"
    )]
    NotABundle(PathBuf),
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

/// Checks that `dir` may receive a bundle: it does not exist, or it is an empty folder or a
/// falsematch output folder (it has a manifest). Anything else is never replaced.
///
/// # Errors
/// [`WriteError::NotABundle`], or [`WriteError::Io`] when the folder cannot be read.
pub fn check_target(dir: &Path) -> Result<(), WriteError> {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(WriteError::Link(dir.to_path_buf()));
    }
    if !dir.exists() {
        return Ok(());
    }
    let is_empty = || {
        std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_none())
            .map_err(|source| WriteError::Io {
                path: dir.to_path_buf(),
                source,
            })
    };
    if !dir.is_dir() {
        return Err(WriteError::NotABundle(dir.to_path_buf()));
    }
    if is_empty()? {
        return Ok(());
    }
    let listed = std::fs::read(dir.join(MANIFEST))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).ok());
    let Some(manifest) = listed else {
        return Err(WriteError::NotABundle(dir.to_path_buf()));
    };
    // Replacing the folder would delete whatever else is in it: refuse instead.
    let mut present = Vec::new();
    collect_files(dir, dir, &mut present);
    present.sort();
    match present
        .into_iter()
        .find(|p| p != MANIFEST && p != PROVENANCE && !manifest.files.iter().any(|f| &f.path == p))
    {
        Some(file) => Err(WriteError::Foreign {
            dir: dir.to_path_buf(),
            file: crate::format::quoted(&file),
        }),
        None => Ok(()),
    }
}

/// Writes a bundle (plus provenance) to `dir` atomically: into a temporary folder beside it,
/// then renamed into place. An existing `dir` is replaced only if it is empty or a bundle.
///
/// # Errors
/// [`WriteError`]; nothing is left behind on failure.
pub fn write(dir: &Path, bundle: &Bundle, provenance: &[u8]) -> Result<(), WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    check_target(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    remove_stale(dir);
    let tmp = sibling(dir, "partial");
    let result = (|| {
        for (path, bytes) in bundle
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .chain(std::iter::once((PROVENANCE, provenance)))
        {
            // Errors name the file as it was to be written, not its temporary path.
            let target = tmp.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io(dir))?;
            }
            std::fs::write(&target, bytes).map_err(io(&dir.join(path)))?;
        }
        if dir.exists() {
            let old = sibling(dir, "old");
            std::fs::rename(dir, &old).map_err(io(dir))?;
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Writes one file atomically: a temporary file beside it, then a rename.
///
/// # Errors
/// [`WriteError::Io`]; the temporary file is removed on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    crate::atomic::write_file(path, bytes).map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every file reproduced; the notes name fields that legitimately differ (the build's git
    /// commit), in words.
    Reproduced(Vec<String>),
    /// The first difference, in words naming the file.
    Differs(String),
}

/// Why a folder could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No readable manifest.
    #[error("{path}: cannot read the manifest ({message}); is this a falsematch output folder?")]
    Manifest {
        /// The manifest path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The recorded scenario is not valid.
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The re-run failed.
    #[error(transparent)]
    Run(#[from] crate::pipeline::run::RunError),
    /// The re-run of a sweep failed.
    #[error(transparent)]
    Sweep(#[from] crate::pipeline::sweep::SweepError),
    /// An input file of a recorded evaluation cannot be read.
    #[error(
        "{path}: cannot read this input of the recorded evaluation ({message}); verify needs the data files at the paths recorded in {MANIFEST}"
    )]
    Input {
        /// The recorded path.
        path: String,
        /// Why.
        message: String,
    },
    /// The re-run of an evaluation failed.
    #[error(transparent)]
    Evaluate(#[from] crate::pipeline::evaluate::EvaluateError),
    /// Rendering failed.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What a manifest says to re-run.
pub enum Recorded<'a> {
    /// A simulated run: the scenario (seed set) and its text.
    Scenario(&'a Scenario, &'a str),
    /// An evaluation of imported data.
    Evaluation(&'a crate::pipeline::evaluate::EvaluationRecord),
    /// A sweep of the scenario (seed set) over gallery size.
    Sweep(&'a Scenario, &'a str, &'a super::sweep::SweepSettings),
    /// An export of the scenario's (seed set) gallery and probes.
    Export(&'a Scenario, &'a str),
}

/// Compares the files on disk with their manifest, then with a fresh re-run (`rerun` builds the
/// bundle from the recorded scenario and seed, or the recorded evaluation).
///
/// # Errors
/// [`VerifyError`] when the folder has no usable manifest, a recorded input file is missing, or
/// the re-run fails.
pub fn verify(
    dir: &Path,
    rerun: impl FnOnce(Recorded<'_>) -> Result<Bundle, VerifyError>,
) -> Result<Verdict, VerifyError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| VerifyError::Manifest {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Verdict::Differs(format!(
                "{MANIFEST}: not a valid manifest ({e})"
            )));
        }
    };
    // 1. The folder against its own manifest.
    for f in &manifest.files {
        match std::fs::read(dir.join(&f.path)) {
            Err(_) => return Ok(Verdict::Differs(format!("{}: missing", f.path))),
            Ok(bytes) if sha256_hex(&bytes) != f.sha256 => {
                return Ok(Verdict::Differs(format!(
                    "{}: its SHA-256 does not match manifest.json",
                    f.path
                )));
            }
            Ok(_) => {}
        }
    }
    // 2. A fresh run of the recorded scenario or evaluation against the folder.
    let fresh = match (&manifest.scenario, &manifest.evaluation) {
        (Some(recorded), _) => {
            if sha256_hex(recorded.text.as_bytes()) != recorded.sha256 {
                return Ok(Verdict::Differs(
                    "manifest.json: the scenario text does not match its SHA-256".into(),
                ));
            }
            let mut scenario = Scenario::from_toml(
                &recorded.text,
                &format!("{} (scenario recorded in {MANIFEST})", dir.display()),
            )?;
            if let Some(seed) = manifest.seed {
                scenario = scenario.with_seed(seed)?;
            }
            match &manifest.job {
                None => rerun(Recorded::Scenario(&scenario, &recorded.text))?,
                Some(Job::Sweep(settings)) => {
                    rerun(Recorded::Sweep(&scenario, &recorded.text, settings))?
                }
                Some(Job::Export) => rerun(Recorded::Export(&scenario, &recorded.text))?,
            }
        }
        (None, Some(record)) => {
            let mut record = record.clone();
            for input in &mut record.inputs {
                input.locate(dir);
            }
            let changed = record.changed_input().map_err(|e| match e {
                crate::import::ImportError::File { file, message }
                | crate::import::ImportError::Row { file, message, .. } => VerifyError::Input {
                    path: file,
                    message,
                },
            })?;
            if let Some(changed) = changed {
                return Ok(Verdict::Differs(changed));
            }
            rerun(Recorded::Evaluation(&record))?
        }
        (None, None) => {
            return Ok(Verdict::Differs(format!(
                "{MANIFEST}: records neither a scenario nor an evaluation"
            )));
        }
    };
    let fresh = if manifest.png_copies {
        fresh.with_png_copies()?
    } else {
        fresh
    };
    let mut notes = Vec::new();
    for (path, bytes) in &fresh.files {
        let Ok(on_disk) = std::fs::read(dir.join(path)) else {
            return Ok(Verdict::Differs(format!("{path}: missing")));
        };
        let expected = if path == MANIFEST {
            let (expected, note) = expected_manifest(&on_disk, bytes);
            notes.extend(note);
            expected
        } else {
            bytes.clone()
        };
        if on_disk != expected {
            return Ok(Verdict::Differs(first_difference(
                path, &on_disk, &expected,
            )));
        }
    }
    let mut extra = Vec::new();
    collect_files(dir, dir, &mut extra);
    extra.sort();
    if let Some(x) = extra
        .into_iter()
        .find(|p| p != PROVENANCE && fresh.get(p).is_none())
    {
        return Ok(Verdict::Differs(format!(
            "{x}: not part of a bundle of this scenario"
        )));
    }
    Ok(Verdict::Reproduced(notes))
}

/// The manifest a fresh run would write, byte for byte, but with the build's git commit taken
/// from the manifest on disk (the same release built from two commits gives the same results),
/// and a note in words when the two commits differ. Any other change to the manifest on disk
/// (a field, an extra key, its formatting) then shows as a difference.
fn expected_manifest(on_disk: &[u8], fresh: &[u8]) -> (Vec<u8>, Option<String>) {
    let parse = |x: &[u8]| serde_json::from_slice::<Manifest>(x).ok();
    let (Some(recorded), Some(mut manifest)) = (parse(on_disk), parse(fresh)) else {
        return (fresh.to_vec(), None);
    };
    let commit = |c: &Option<String>| c.clone().unwrap_or_else(|| "unknown".into());
    let note = (recorded.tool.git_commit != manifest.tool.git_commit).then(|| {
        format!(
            "{MANIFEST} records the build's git commit {}, this build is {}; the results do not depend on it",
            commit(&recorded.tool.git_commit),
            commit(&manifest.tool.git_commit)
        )
    });
    manifest.tool.git_commit = recorded.tool.git_commit;
    (manifest.to_bytes(), note)
}

fn first_difference(path: &str, on_disk: &[u8], fresh: &[u8]) -> String {
    let at = on_disk
        .iter()
        .zip(fresh)
        .position(|(a, b)| a != b)
        .unwrap_or(on_disk.len().min(fresh.len()));
    let line = on_disk[..at.min(on_disk.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1;
    format!(
        "{path}: differs from a fresh run at byte {at} (line {line}); {} bytes on disk, {} in the fresh run",
        on_disk.len(),
        fresh.len()
    )
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_byte_and_line() {
        assert_eq!(
            first_difference("a", b"x\nyz", b"x\nyq"),
            "a: differs from a fresh run at byte 3 (line 2); 4 bytes on disk, 4 in the fresh run"
        );
    }

    #[cfg(unix)]
    #[test]
    fn writing_to_a_device_leaves_the_device_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let null = Path::new("/dev/null");
        write_file(null, b"discarded").unwrap();
        assert!(
            std::fs::metadata(null)
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
}
