//! Sharded runs merge to the unsharded bundle byte for byte; a run killed after a checkpoint
//! and resumed gives the uninterrupted run's bundle; bad merges and memory limits are refused.

use assert_cmd::Command;
use falsematch::run::{RunOptions, finish, simulate, simulate_part};
use falsematch::scenario::Scenario;
use falsematch::shard::{PartialRun, Shard};
use std::path::Path;

fn falsematch() -> Command {
    Command::cargo_bin("falsematch").unwrap()
}

fn small() -> String {
    format!("{}/tests/data/small.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Every file of two bundles, but provenance.json (time and host), is the same.
fn same_bundle(a: &Path, b: &Path) {
    let mut files = Vec::new();
    for sub in ["", "tables", "plots"] {
        for entry in std::fs::read_dir(a.join(sub)).unwrap().flatten() {
            if entry.path().is_file() {
                files.push(Path::new(sub).join(entry.file_name()));
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for f in files.iter().filter(|f| !f.ends_with("provenance.json")) {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{} differs", f.display());
    }
}

fn run(args: &[&str]) -> std::process::Output {
    falsematch().args(args).output().unwrap()
}

#[test]
fn three_shards_merged_give_the_unsharded_bundle_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    assert!(
        run(&["run", &small(), "--out", &d("whole"), "--quiet"])
            .status
            .success()
    );
    for i in 0..3 {
        let shard = format!("{i}/3");
        let part = d(&format!("parts/{i}.json"));
        // Tile size and threads differ from the whole run's on purpose.
        let o = run(&[
            "run",
            &small(),
            "--shard",
            &shard,
            "--out",
            &part,
            "--quiet",
            "--tile-size",
            "300",
            "--threads",
            "1",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let o = run(&[
        "merge",
        &d("parts/2.json"),
        &d("parts/0.json"),
        &d("parts/1.json"),
        "--out",
        &d("merged"),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    same_bundle(&dir.path().join("whole"), &dir.path().join("merged"));
    let verify = run(&["verify", &d("merged"), "--quiet"]);
    assert_eq!(String::from_utf8_lossy(&verify.stdout), "reproduced\n");

    // Bad merges: a missing shard, a shard twice, parts of another run.
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![d("parts/0.json"), d("parts/1.json")],
            "shard 2/3 is missing",
        ),
        (
            vec![d("parts/0.json"), d("parts/0.json"), d("parts/1.json")],
            "shard 0/3 is also",
        ),
    ];
    for (parts, fragment) in cases {
        let mut args = vec!["merge".to_string()];
        args.extend(parts);
        args.extend(["--out".into(), d("bad")]);
        let o = falsematch().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(fragment), "`{fragment}` not in {stderr}");
        assert!(!dir.path().join("bad").exists());
    }
    let other = run(&[
        "run",
        &small(),
        "--seed",
        "9",
        "--shard",
        "2/3",
        "--out",
        &d("other.json"),
        "--quiet",
    ]);
    assert!(other.status.success());
    let o = run(&[
        "merge",
        &d("parts/0.json"),
        &d("parts/1.json"),
        &d("other.json"),
        "--out",
        &d("bad"),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("merge parts of one run"));
}

#[test]
fn a_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    assert!(
        run(&["run", &small(), "--out", &d("whole"), "--quiet"])
            .status
            .success()
    );
    let args = [
        "run",
        &small(),
        "--out",
        &d("crashed"),
        "--quiet",
        "--tile-size",
        "300",
        "--checkpoint-every",
        "2",
    ];
    let killed = falsematch()
        .args(args)
        .env("FALSEMATCH_ABORT_AFTER_CHECKPOINTS", "2")
        .output()
        .unwrap();
    assert!(
        !killed.status.success(),
        "the test hook did not stop the run"
    );
    assert!(
        !dir.path().join("crashed").exists(),
        "a killed run left a report"
    );
    let checkpoint = dir.path().join("crashed.checkpoint.json");
    let saved = PartialRun::from_json(&std::fs::read(&checkpoint).unwrap(), "checkpoint").unwrap();
    let done: u64 = saved.replicates[0].blocks.iter().map(|(a, b)| b - a).sum();
    assert!(done > 0, "the checkpoint holds finished blocks");
    let resumed = falsematch().args(args).arg("--resume").output().unwrap();
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    same_bundle(&dir.path().join("whole"), &dir.path().join("crashed"));
    assert!(
        !checkpoint.exists(),
        "the checkpoint is removed after success"
    );
}

#[test]
fn any_split_into_shards_gives_the_whole_runs_output() {
    let (scenario, text) = Scenario::load(&small()).unwrap();
    let whole = simulate(&scenario, &RunOptions::default()).unwrap();
    for count in [2u32, 5] {
        let parts: Vec<PartialRun> = (0..count)
            .map(|index| {
                simulate_part(
                    &scenario,
                    &RunOptions {
                        tile_entries: 700,
                        ..RunOptions::default()
                    },
                    PartialRun::new(&scenario, &text, Shard { index, count }),
                    3,
                    &mut |_| Ok(()),
                )
                .unwrap()
            })
            .collect();
        let merged = finish(&scenario, &parts).unwrap();
        assert_eq!(merged.estimates, whole.estimates, "{count} shards");
        assert_eq!(merged.records, whole.records, "{count} shards");
        let e = finish(&scenario, &parts[1..]).unwrap_err().to_string();
        assert!(e.contains("are in no part"), "{e}");
    }
}

#[test]
fn a_run_beyond_max_memory_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = run(&[
        "run",
        &small(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "1M",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--max-memory is 1 MiB") && stderr.contains("raise --max-memory"),
        "{stderr}"
    );
    assert!(!out.exists());
    let o = run(&[
        "run",
        &small(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "lots",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("give a size like 512M"));
}
