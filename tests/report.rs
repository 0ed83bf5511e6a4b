//! The report bundle: verify, atomic writes under interruption, renderer snapshots.

use assert_cmd::Command;
use falsematch::estimate::{Plan, ReplicateOutcome, estimate, records};
use falsematch::pipeline::run::RunOutput;
use falsematch::report::document::{FigureRef, ReportInput, build};
use falsematch::report::results::{Results, ResultsFile};
use falsematch::report::{html, markdown};
use falsematch::scenario::Scenario;
use falsematch::search::Mate;
use falsematch::tally::{Candidate, ProbeTally, Tally};
use std::path::{Path, PathBuf};

fn falsematch() -> Command {
    Command::cargo_bin("falsematch").unwrap()
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn make_bundle(dir: &Path) {
    falsematch()
        .args(["run", &data("small.toml"), "--quiet", "--out"])
        .arg(dir)
        .assert()
        .success();
}

fn verify(dir: &Path) -> (i32, String) {
    let out = falsematch()
        .args(["verify", "--quiet"])
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn an_untouched_bundle_verifies_and_any_changed_byte_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    make_bundle(&dir);
    assert_eq!(verify(&dir), (0, "reproduced\n".into()));

    // provenance.json may differ.
    std::fs::write(dir.join("provenance.json"), "{}\n").unwrap();
    assert_eq!(verify(&dir).0, 0);

    // One changed byte in any hashed file fails and names the file.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<String> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert!(files.len() >= 10, "{files:?}");
    for file in files
        .iter()
        .chain(std::iter::once(&"manifest.json".to_string()))
    {
        let copy = tmp.path().join(format!("copy-{}", file.replace('/', "_")));
        copy_dir(&dir, &copy);
        let mut bytes = std::fs::read(copy.join(file)).unwrap();
        let at = bytes.len() / 2;
        bytes[at] = if bytes[at] == b'7' { b'8' } else { b'7' };
        std::fs::write(copy.join(file), bytes).unwrap();
        let (code, stdout) = verify(&copy);
        assert_eq!(code, 1, "{file}: {stdout}");
        assert!(stdout.contains(file.as_str()), "{file}: {stdout}");
    }
}

#[test]
fn a_changed_scenario_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    make_bundle(&dir);
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    // Edit the scenario text and keep its hash consistent: the re-run then differs.
    let text = manifest["scenario"]["text"]
        .as_str()
        .unwrap()
        .replace("rho = 0.2", "rho = 0.25");
    manifest["scenario"]["sha256"] = falsematch::scenario::sha256_hex(text.as_bytes()).into();
    manifest["scenario"]["text"] = text.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let (code, stdout) = verify(&dir);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("results.json: differs from a fresh run"),
        "{stdout}"
    );
    // An edit that breaks the hash is named at the manifest.
    manifest["scenario"]["text"] = "name = \"other\"".into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let (code, stdout) = verify(&dir);
    assert_eq!(code, 1);
    assert!(stdout.contains("manifest.json"), "{stdout}");
}

#[test]
fn an_edited_manifest_fails_verification_and_another_commit_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    make_bundle(&dir);
    let path = dir.join("manifest.json");
    let original = std::fs::read_to_string(&path).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&original).unwrap();
    let edits: Vec<(&str, String)> = vec![
        (
            "an extra key",
            original.replacen("{", "{\n  \"signed_by\": \"me\",", 1),
        ),
        (
            "reformatted",
            String::from_utf8(serde_json::to_vec(&manifest).unwrap()).unwrap() + "\n",
        ),
        (
            "a file's size changed",
            original.replacen("\"bytes\": ", "\"bytes\": 1", 1),
        ),
        ("no final newline", original.trim_end().to_string()),
    ];
    for (what, edited) in edits {
        assert_ne!(edited, original, "{what}");
        std::fs::write(&path, edited).unwrap();
        let (code, stdout) = verify(&dir);
        assert_eq!(code, 1, "{what}: {stdout}");
        assert!(stdout.contains("manifest.json"), "{what}: {stdout}");
    }
    // Another build's commit is legitimate, but said in words.
    let other = match manifest["tool"]["git_commit"].as_str() {
        Some(commit) => original.replacen(commit, "0123456789abcdef0123456789abcdef01234567", 1),
        // Built outside a git checkout: the recorded commit is null.
        None => original.replacen(
            "\"git_commit\": null",
            "\"git_commit\": \"0123456789abcdef0123456789abcdef01234567\"",
            1,
        ),
    };
    std::fs::write(&path, other).unwrap();
    let (code, stdout) = verify(&dir);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with(
            "reproduced\nnote: manifest.json records the build's git commit 0123456789abcdef"
        ),
        "{stdout}"
    );
}

#[test]
fn rerunning_into_a_bundle_never_deletes_a_file_falsematch_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("bundle");
    make_bundle(&dir);
    std::fs::write(dir.join("my-notes.txt"), "mine").unwrap();
    let o = falsematch()
        .args(["run", &data("small.toml"), "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds `my-notes.txt`"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.join("my-notes.txt")).unwrap(),
        "mine"
    );
    // Without the foreign file the bundle is replaced as before.
    std::fs::remove_file(dir.join("my-notes.txt")).unwrap();
    make_bundle(&dir);
    // A link as --out is refused, and the link and its bundle stay as they were.
    #[cfg(unix)]
    {
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let o = falsematch()
            .args(["run", &data("small.toml"), "--quiet", "--out"])
            .arg(&link)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("is a symbolic link"), "{stderr}");
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    // A scenario name can never place output outside falsematch-out/.
    let text = std::fs::read_to_string(data("small.toml")).unwrap();
    for name in ["..", ".", ".hidden"] {
        let path = tmp.path().join("dots.toml");
        std::fs::write(
            &path,
            text.replace("name = \"small\"", &format!("name = \"{name}\"")),
        )
        .unwrap();
        let o = falsematch()
            .current_dir(tmp.path())
            .args(["run", path.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("field `name`"), "{name}: {stderr}");
        assert!(!tmp.path().join("falsematch-out").exists(), "{name}");
    }
}

#[test]
fn verify_of_a_folder_without_manifest_is_an_input_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = falsematch()
        .args(["verify"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("manifest.json"));
}

#[test]
fn bundles_are_identical_across_threads_except_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    falsematch()
        .args([
            "run",
            &data("small.toml"),
            "--quiet",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&a)
        .assert()
        .success();
    falsematch()
        .args([
            "run",
            &data("small.toml"),
            "--quiet",
            "--threads",
            "2",
            "--tile-size",
            "500",
            "--out",
        ])
        .arg(&b)
        .assert()
        .success();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    for f in manifest["files"].as_array().unwrap() {
        let p = f["path"].as_str().unwrap();
        assert!(
            std::fs::read(a.join(p)).unwrap() == std::fs::read(b.join(p)).unwrap(),
            "{p} differs"
        );
    }
    assert_eq!(
        std::fs::read(a.join("manifest.json")).unwrap(),
        std::fs::read(b.join("manifest.json")).unwrap()
    );
}

#[test]
fn a_folder_that_is_not_a_bundle_is_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("thesis.txt"), "precious").unwrap();
    let out = falsematch()
        .args(["run", &data("small.toml"), "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a falsematch output folder"));
    assert_eq!(
        std::fs::read_to_string(dir.join("thesis.txt")).unwrap(),
        "precious"
    );
}

fn leftovers(parent: &Path) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn an_interrupted_run_leaves_nothing_and_the_next_run_cleans_up() {
    for signal in ["-KILL", "-INT"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir: PathBuf = tmp.path().join("out");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_falsematch"))
            .args(["run", &data("slow.toml"), "--quiet", "--out"])
            .arg(&dir)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Interrupt once the run is searching: its first checkpoint is on disk (no fixed
        // sleep, which a loaded machine could outrun or a fast one overshoot).
        let checkpoint = tmp.path().join("out.checkpoint.json");
        let started = std::time::Instant::now();
        while !checkpoint.exists() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{signal}: the run ended before its first checkpoint"
            );
            assert!(
                started.elapsed().as_secs() < 120,
                "{signal}: no checkpoint after 120 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        assert!(
            !out.status.success(),
            "{signal}: the run finished before it was interrupted; make slow.toml slower"
        );
        // Ctrl-C (not a kill, which cannot be caught) says how to continue.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("run the same command with --resume to continue"),
            signal == "-INT",
            "{signal}: {stderr}"
        );
        assert!(
            !dir.exists(),
            "{signal}: an interrupted run left an output folder"
        );
        // What it leaves is its checkpoint (for --resume); without it, a stale temporary
        // folder (as a kill during the final write would leave) is removed by the next run into
        // the same place.
        assert!(checkpoint.is_file(), "{signal}: the checkpoint is gone");
        std::fs::remove_file(&checkpoint).unwrap();
        std::fs::create_dir_all(tmp.path().join(".out.partial-4242/tables")).unwrap();
        make_bundle(&dir);
        assert!(
            leftovers(tmp.path()).is_empty(),
            "{signal}: {:?}",
            leftovers(tmp.path())
        );
        assert_eq!(verify(&dir).0, 0);
    }
}

/// Results built by hand: two probes (one mated), two groups, two thresholds.
fn hand_built() -> (Scenario, RunOutput) {
    let text = std::fs::read_to_string(data("small.toml")).unwrap();
    let scenario = Scenario::from_toml(&text, "small.toml").unwrap();
    let n_t = scenario.thresholds().len();
    assert_eq!(n_t, 3);
    let mut mated = ProbeTally::new(n_t, 2, 2);
    mated.max_nonmate = 500_000_000;
    mated.det = vec![3, 1, 0, 0, 0, 0];
    mated.ppl = vec![2, 1, 0, 0, 0, 0];
    mated.beaten = vec![0, 2];
    mated.top = vec![
        Candidate {
            score: 700_000_000,
            entry: 10,
            identity: 4,
            group: 0,
            mate: true,
        },
        Candidate {
            score: 500_000_000,
            entry: 99,
            identity: 40,
            group: 1,
            mate: false,
        },
    ];
    let mut non_mated = ProbeTally::new(n_t, 2, 0);
    non_mated.max_nonmate = 600_000_000;
    non_mated.det = vec![5, 2, 1, 1, 0, 0];
    non_mated.ppl = vec![4, 2, 1, 1, 0, 0];
    non_mated.top = vec![Candidate {
        score: 600_000_000,
        entry: 7,
        identity: 3,
        group: 0,
        mate: false,
    }];
    let outcome = ReplicateOutcome {
        replicate: 0,
        entries: 5000,
        identities: 1700,
        probe_group: vec![0, 1],
        mate: vec![
            Some(Mate {
                identity: 4,
                detections: vec![(10, 700_000_000), (11, 400_000_000)],
            }),
            None,
        ],
        tally: Tally {
            k: 10,
            probes: vec![mated, non_mated],
            entries_per_group: vec![2600, 2400],
            identities_per_group: vec![880, 820],
            clusters: falsematch::tally::ClusterSums::new(n_t, 2),
        },
    };
    let records = records(&outcome, n_t, 2);
    let outcomes = vec![outcome];
    let estimates = estimate(&Plan::of(&scenario), Some(&scenario), &outcomes, &records);
    (
        scenario,
        RunOutput {
            outcomes,
            records,
            estimates,
        },
    )
}

#[test]
fn renderers_match_their_snapshots() {
    let (scenario, output) = hand_built();
    let results = Results::new(&scenario, &output);
    let figures = vec![FigureRef {
        path: "plots/det.svg".into(),
        caption: "DET".into(),
    }];
    let hashes = vec![("results.json".to_string(), "0".repeat(64))];
    let doc = build(&ReportInput {
        scenario: &scenario,
        results: &results,
        records: &output.records,
        figures: &figures,
        hashes: &hashes,
    });
    let md = String::from_utf8(markdown::render(&doc)).unwrap();
    let page = String::from_utf8(html::render(&doc, &|path| {
        Some(format!("<svg data-file=\"{path}\"></svg>"))
    }))
    .unwrap();
    insta::assert_snapshot!("report_md", md);
    insta::assert_snapshot!("report_html", page);
    // Every tidy table, and the summary printed on the terminal.
    let mut tables = String::new();
    for (path, bytes) in falsematch::report::tables::tables(&output.estimates, scenario.k()) {
        tables.push_str(&format!(
            "==> {path} <==\n{}\n",
            String::from_utf8(bytes).unwrap()
        ));
    }
    insta::assert_snapshot!("tables", tables);
    insta::assert_snapshot!(
        "summary",
        falsematch::report::summary::render(&ResultsFile::Run(Box::new(results.clone())))
    );
}

#[test]
fn a_sweep_page_matches_its_snapshot() {
    use falsematch::pipeline::sweep::{sizes, sweep};
    let (scenario, _) = Scenario::load("closed-form-check").unwrap();
    // Closed forms at every size, a simulation at the two smallest.
    let rows = sweep(
        &scenario,
        &sizes(1e2, 1e9, 1),
        1_000,
        &falsematch::pipeline::run::RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    insta::assert_snapshot!(
        "sweep_md",
        falsematch::report::sweep::markdown(&scenario, &rows)
    );
}

#[test]
fn the_small_committed_reports_reproduce_byte_for_byte() {
    // .ci/run verifies every committed report; these three (a simulated run, an evaluation of
    // imported scores, a sweep) take seconds, so `cargo test` checks them too.
    for name in [
        "metro-watchlist",
        "evaluate-continuous",
        "metro-watchlist-sweep",
    ] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("reports")
            .join(name);
        let (code, stdout) = verify(&dir);
        assert_eq!(
            (code, stdout.lines().next()),
            (0, Some("reproduced")),
            "{name}: {stdout}"
        );
    }
}

#[test]
fn results_json_round_trips_through_the_library() {
    // A run's results, and every committed report (simulated runs and evaluations of imported
    // data alike): load, write again, same bytes.
    let (scenario, output) = hand_built();
    let written = Results::new(&scenario, &output).to_json();
    let loaded = Results::from_json(&written).unwrap();
    assert_eq!(loaded.to_json(), written);
    assert_eq!(loaded.estimates.slices.len(), output.estimates.slices.len());
    let reports = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    let (mut runs, mut evaluations) = (0, 0);
    for entry in std::fs::read_dir(&reports).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.join("report.html").is_file() || dir.join("sweep.csv").is_file() {
            continue; // sweeps and other folders have other results
        }
        let bytes = std::fs::read(dir.join("results.json")).unwrap();
        let loaded =
            ResultsFile::from_json(&bytes).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(
            loaded.to_json() == bytes,
            "{}: not the same bytes",
            dir.display()
        );
        assert!(!loaded.estimates().slices.is_empty());
        // The summary printed at the end of the run can be printed again from the file.
        let summary = falsematch::report::summary::render(&loaded);
        match loaded {
            ResultsFile::Run(r) => {
                assert!(summary.contains(&r.scenario.name), "{summary}");
                runs += 1
            }
            ResultsFile::Evaluation(e) => {
                assert!(summary.contains("evaluation of"), "{summary}");
                assert!(!e.evaluation.inputs.is_empty());
                evaluations += 1
            }
        }
    }
    assert!(runs >= 8, "only {runs} committed runs checked");
    assert!(evaluations >= 1, "no committed evaluation checked");
    // Not everything loads: a results.json of another layout is refused with its line.
    let err = Results::from_json(b"{\"schema_version\": 1}").unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
    let err =
        ResultsFile::from_json(b"{\"kind\": \"evaluation\", \"schema_version\": 1}").unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
}
