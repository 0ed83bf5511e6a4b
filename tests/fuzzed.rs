//! Every input the fuzzers (tests/fuzz/run.sh) started from or found a crash with, replayed
//! through the same readers on every `cargo test`: each is read or refused with a one-line
//! error, never a panic.

use falsematch::import::metadata::Metadata;
use falsematch::import::scores::{ScoreFormat, ScoreOptions, read_scores};
use falsematch::pipeline::shard::PartialRun;
use falsematch::scenario::Scenario;
use std::path::{Path, PathBuf};

/// The files of tests/fuzz/seeds/TARGET and tests/fuzz/crashes/TARGET.
fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz");
    let mut files = Vec::new();
    for kind in ["seeds", "crashes"] {
        if let Ok(entries) = std::fs::read_dir(root.join(kind).join(target)) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    files.sort();
    files
}

fn one_line(e: impl std::fmt::Display, file: &Path) {
    let text = e.to_string();
    assert!(!text.contains('\n'), "{}: {text}", file.display());
}

#[test]
fn scenario_inputs() {
    let files = inputs("scenario");
    assert!(files.len() >= 10);
    for f in files {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        if let Err(e) = Scenario::from_toml(&text, "fuzz.toml") {
            one_line(e, &f);
        }
    }
}

#[test]
fn npy_inputs() {
    let files = inputs("npy");
    assert!(files.len() >= 5);
    for f in files {
        let shape = falsematch::import::npy::npy_shape(&f);
        match falsematch::import::npy::read_npy_hashed(&f) {
            Ok((rows, _)) => assert_eq!(Some(rows.dim()), shape.ok(), "{}", f.display()),
            Err(e) => one_line(e, &f),
        }
    }
}

#[test]
fn score_inputs() {
    let files = inputs("scores");
    assert!(files.len() >= 5);
    for f in files {
        let formats = std::iter::once(None).chain(ScoreFormat::ALL.iter().map(|x| Some(x.1)));
        for format in formats {
            for skip_bad_rows in [false, true] {
                let options = ScoreOptions {
                    format,
                    skip_bad_rows,
                    spill_budget: 64,
                    per_gallery: skip_bad_rows,
                };
                if let Err(e) = read_scores(&f, None, &[0.3, 0.5], 3, &options) {
                    one_line(e, &f);
                }
            }
        }
    }
}

#[test]
fn metadata_inputs() {
    let files = inputs("metadata");
    assert!(files.len() >= 2);
    for f in files {
        if let Err(e) = Metadata::read(&f) {
            one_line(e, &f);
        }
    }
}

#[test]
fn part_inputs() {
    let scenario_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/part.toml");
    let scenario = Scenario::from_toml(
        &std::fs::read_to_string(scenario_file).unwrap(),
        "part.toml",
    )
    .unwrap();
    let files = inputs("part");
    assert!(files.len() >= 3);
    let mut merged = 0;
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let raw = serde_json::from_slice::<PartialRun>(&bytes).ok();
        let resealed = raw.map(|r| r.to_json());
        for bytes in std::iter::once(bytes).chain(resealed) {
            match PartialRun::from_json(&bytes, "fuzz.json") {
                Ok(part) => {
                    if part.check(&scenario, part.shard, "fuzz.json").is_ok()
                        && falsematch::pipeline::run::finish(&scenario, std::slice::from_ref(&part))
                            .is_ok()
                    {
                        merged += 1;
                    }
                }
                Err(e) => one_line(e, &f),
            }
        }
    }
    // The whole-run seed merges (as read and as re-sealed): the harness reaches the merge.
    assert!(merged >= 2, "{merged}");
}
