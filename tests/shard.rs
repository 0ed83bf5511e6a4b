//! Sharded runs merge to the unsharded bundle byte for byte; a run killed after a checkpoint
//! and resumed gives the uninterrupted run's bundle; bad merges and memory limits are refused.

use assert_cmd::Command;
use falsematch::pipeline::run::{Batches, RunOptions, finish, simulate, simulate_part};
use falsematch::pipeline::shard::{PartialRun, Shard};
use falsematch::scenario::Scenario;
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
                    Batches::every(3),
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

fn resume_scenario() -> String {
    format!("{}/tests/data/resume.toml", env!("CARGO_MANIFEST_DIR"))
}

/// The arguments of a checkpointed run of the resume scenario into `out`: one tile per
/// checkpoint, so every tile is a kill point.
fn checkpointed(out: &str) -> Vec<String> {
    [
        "run",
        &resume_scenario(),
        "--out",
        out,
        "--quiet",
        "--tile-size",
        "300",
        "--checkpoint-every",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_run_killed_at_any_point_resumes_to_the_uninterrupted_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    assert!(
        run(&["run", &resume_scenario(), "--out", &d("whole"), "--quiet"])
            .status
            .success()
    );
    // Count the checkpoints of one uninterrupted checkpointed run: each is two kill points,
    // half-way through its write and right after it.
    let (scenario, _) = Scenario::load(&resume_scenario()).unwrap();
    let mut checkpoints = 0u64;
    simulate_part(
        &scenario,
        &RunOptions {
            tile_entries: 300,
            ..RunOptions::default()
        },
        PartialRun::new(&scenario, "", Shard::WHOLE),
        Batches::every(1),
        &mut |_| {
            checkpoints += 1;
            Ok(())
        },
    )
    .unwrap();
    let mut kill_points = 0;
    for n in 1..=checkpoints {
        for hook in [
            "FALSEMATCH_ABORT_IN_CHECKPOINT",
            "FALSEMATCH_ABORT_AFTER_CHECKPOINTS",
        ] {
            let out = d(&format!("killed-{hook}-{n}"));
            let args = checkpointed(&out);
            let killed = falsematch()
                .args(&args)
                .env(hook, n.to_string())
                .output()
                .unwrap();
            assert!(!killed.status.success(), "{hook}={n} did not stop the run");
            assert!(
                !Path::new(&out).exists(),
                "{hook}={n}: a killed run left a report"
            );
            // Without --resume, the checkpoint is neither overwritten nor ignored.
            if n > 1 || hook.ends_with("CHECKPOINTS") {
                let o = falsematch().args(&args).output().unwrap();
                assert_eq!(o.status.code(), Some(2), "{hook}={n}");
                assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
            }
            let resumed = falsematch().args(&args).arg("--resume").output().unwrap();
            assert!(
                resumed.status.success(),
                "{hook}={n}: {}",
                String::from_utf8_lossy(&resumed.stderr)
            );
            same_bundle(&dir.path().join("whole"), Path::new(&out));
            let leftovers: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f.starts_with('.') || f.ends_with(".checkpoint.json"))
                .collect();
            assert!(leftovers.is_empty(), "{hook}={n} left {leftovers:?}");
            kill_points += 1;
        }
    }
    assert!(kill_points >= 20, "only {kill_points} kill points");
}

/// A checkpoint of the resume scenario after `n` tiles, as written by a killed run.
fn checkpoint_after(dir: &Path, n: u64) -> (std::path::PathBuf, Vec<String>) {
    let out = dir.join("tampered").display().to_string();
    let args = checkpointed(&out);
    let killed = falsematch()
        .args(&args)
        .env("FALSEMATCH_ABORT_AFTER_CHECKPOINTS", n.to_string())
        .output()
        .unwrap();
    assert!(!killed.status.success());
    (dir.join("tampered.checkpoint.json"), args)
}

/// Edits of a part file's text: (what, the edit).
type TextEdit = (&'static str, Box<dyn Fn(&str) -> String>);

fn text_edits() -> Vec<TextEdit> {
    vec![
        (
            "one digit of a count flipped",
            Box::new(|t: &str| {
                let at = t.find("\"det\":[").unwrap() + 7;
                let digit = t[at..].find(|c: char| c.is_ascii_digit()).unwrap() + at;
                let mut s = t.to_string();
                let old = s.as_bytes()[digit];
                s.replace_range(digit..digit + 1, if old == b'9' { "8" } else { "9" });
                s
            }),
        ),
        (
            "a top score changed",
            Box::new(|t: &str| {
                let at = t.find("\"score\":").unwrap() + 8;
                format!("{}1{}", &t[..at], &t[at..])
            }),
        ),
        (
            "the seed changed with the digest left as it was",
            Box::new(|t: &str| t.replacen("\"seed\":3", "\"seed\":4", 1)),
        ),
    ]
}

/// Edits of a part's content that keep a valid digest (re-sealed), each impossible for its
/// blocks: (what, the edit).
type PartEdit = (&'static str, fn(&mut PartialRun));

fn impossible_edits() -> Vec<PartEdit> {
    vec![
        ("a probe dropped", |p| {
            p.replicates[0].tally.probes.remove(0);
        }),
        ("an entry count raised", |p| {
            p.replicates[0].tally.entries_per_group[0] += 1;
        }),
        ("more identities than entries", |p| {
            p.replicates[0].tally.identities_per_group[1] += 100_000;
        }),
        ("a non-mated probe's count raised past its group", |p| {
            let t = &mut p.replicates[0].tally;
            let last = t.probes.len() - 1;
            t.probes[last].det[0] += t.entries_per_group[0] + 1;
        }),
        ("a distinct-people count above its detections", |p| {
            let t = &mut p.replicates[0].tally;
            let last = t.probes.len() - 1;
            t.probes[last].ppl[0] = t.probes[last].det[0] + 1;
        }),
        ("a highest score outside its threshold bucket", |p| {
            let t = &mut p.replicates[0].tally;
            let last = t.probes.len() - 1;
            t.probes[last].max_nonmate = i32::MAX;
        }),
        ("a block outside the shard", |p| {
            p.replicates[0].blocks.push((10_000, 10_001));
        }),
        ("overlapping blocks", |p| {
            let (a, b) = p.replicates[0].blocks[0];
            p.replicates[0].blocks.push((a, b));
        }),
        ("a candidate list out of order", |p| {
            let t = &mut p.replicates[0].tally;
            let last = t.probes.len() - 1;
            t.probes[last].top.reverse();
        }),
    ]
}

#[test]
fn a_changed_or_impossible_checkpoint_is_refused_by_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoint, args) = checkpoint_after(dir.path(), 3);
    let original = std::fs::read_to_string(&checkpoint).unwrap();
    let refused = |what: &str, fragment: &str| {
        let o = falsematch().args(&args).arg("--resume").output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(&*checkpoint.display().to_string()) && stderr.contains(fragment),
            "{what}: `{fragment}` not in {stderr}"
        );
        assert!(
            !dir.path().join("tampered").exists(),
            "{what}: a bundle was written"
        );
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    };
    for (what, edit) in text_edits() {
        let edited = edit(&original);
        assert_ne!(edited, original, "{what}");
        std::fs::write(&checkpoint, edited).unwrap();
        refused(what, "does not match its SHA-256 digest");
    }
    for (what, edit) in impossible_edits() {
        let mut part = PartialRun::from_json(original.as_bytes(), "checkpoint").unwrap();
        edit(&mut part);
        std::fs::write(&checkpoint, part.to_json()).unwrap();
        refused(what, "cannot be trusted");
    }
    // The untouched checkpoint still resumes.
    std::fs::write(&checkpoint, &original).unwrap();
    let o = falsematch().args(&args).arg("--resume").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_changed_or_impossible_part_file_is_refused_by_merge() {
    let dir = tempfile::tempdir().unwrap();
    let d = |p: &str| dir.path().join(p).display().to_string();
    for i in 0..2 {
        let o = run(&[
            "run",
            &resume_scenario(),
            "--shard",
            &format!("{i}/2"),
            "--out",
            &d(&format!("{i}.json")),
            "--quiet",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let original = std::fs::read_to_string(dir.path().join("1.json")).unwrap();
    let refused = |what: &str, fragment: &str| {
        let o = run(&["merge", &d("0.json"), &d("1.json"), "--out", &d("merged")]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(&d("1.json")) && stderr.contains(fragment),
            "{what}: `{fragment}` not in {stderr}"
        );
        assert!(
            !dir.path().join("merged").exists(),
            "{what}: a bundle was written"
        );
    };
    for (what, edit) in text_edits() {
        std::fs::write(dir.path().join("1.json"), edit(&original)).unwrap();
        refused(what, "does not match its SHA-256 digest");
    }
    for (what, edit) in impossible_edits() {
        let mut part = PartialRun::from_json(original.as_bytes(), "part").unwrap();
        edit(&mut part);
        std::fs::write(dir.path().join("1.json"), part.to_json()).unwrap();
        refused(what, "cannot be trusted");
    }
}

#[test]
fn a_shard_from_a_job_arrays_environment_is_the_same_part_as_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let part = |name: &str| dir.path().join(name);
    let p = |name: &str| part(name).display().to_string();
    let flag = run(&[
        "run",
        &small(),
        "--shard",
        "1/3",
        "--out",
        &p("flag.json"),
        "--quiet",
    ]);
    assert!(
        flag.status.success(),
        "{}",
        String::from_utf8_lossy(&flag.stderr)
    );
    let slurm = falsematch()
        .args([
            "run",
            &small(),
            "--shard-from-env",
            "--out",
            &p("slurm.json"),
            "--quiet",
        ])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert!(
        slurm.status.success(),
        "{}",
        String::from_utf8_lossy(&slurm.stderr)
    );
    let k8s = falsematch()
        .args(["run", &small(), "--shard-from-env", "--shard-count", "3"])
        .args(["--out", &p("k8s.json"), "--quiet"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert!(
        k8s.status.success(),
        "{}",
        String::from_utf8_lossy(&k8s.stderr)
    );
    let bytes = |name: &str| std::fs::read(part(name)).unwrap();
    assert!(bytes("flag.json") == bytes("slurm.json"));
    assert!(bytes("flag.json") == bytes("k8s.json"));
    // Outside a job array: exit code 2, one line saying what is missing, no part.
    let outside = falsematch()
        .args([
            "run",
            &small(),
            "--shard-from-env",
            "--out",
            &p("none.json"),
        ])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(2));
    let err = String::from_utf8_lossy(&outside.stderr);
    assert!(
        err.contains("SLURM_ARRAY_TASK_ID") && err.contains("JOB_COMPLETION_INDEX"),
        "{err}"
    );
    assert!(!part("none.json").exists());
}
