//! Bring your own data: imported embeddings give the synthetic run's estimates, score files'
//! bad rows are named errors (or counted with --skip-bad-rows), evaluation bundles verify.

use crate::support::evaluate_options;
use assert_cmd::Command;
use falsematch::estimate::Estimates;
use falsematch::pipeline::evaluate::evaluate_embeddings;
use falsematch::pipeline::export::export;
use falsematch::pipeline::run::{RunOptions, simulate};
use falsematch::scenario::Scenario;
use std::path::Path;

fn falsematch() -> Command {
    Command::cargo_bin("falsematch").unwrap()
}

/// Gives the imported estimates the synthetic threshold labels ("67 % [identity]" where an
/// evaluation, which knows only raw scores, says "0.67").
fn relabel(e: &mut Estimates, labels: &[String]) {
    for s in &mut e.slices {
        for (r, l) in s.thresholds.iter_mut().zip(labels) {
            r.threshold = l.clone();
        }
    }
    for (t, l) in e.cross_group.iter_mut().zip(labels) {
        t.threshold = l.clone();
    }
    for r in &mut e.replicates {
        for (row, l) in r.thresholds.iter_mut().zip(labels) {
            row.threshold = l.clone();
        }
    }
    for (f, l) in e.fairness.iter_mut().zip(labels) {
        f.threshold = l.clone();
    }
}

#[test]
fn exported_synthetic_data_evaluates_to_the_synthetic_estimates() {
    let path = format!("{}/tests/data/small.toml", env!("CARGO_MANIFEST_DIR"));
    let (scenario, _) = Scenario::load(&path).unwrap();
    let synthetic = simulate(&scenario, &RunOptions::default())
        .unwrap()
        .estimates;
    let (npy, csv) = export(&scenario).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.npy"), npy).unwrap();
    std::fs::write(dir.path().join("m.csv"), csv).unwrap();
    let scores: Vec<f64> = scenario.thresholds().iter().map(|t| t.score).collect();
    let mut o = evaluate_options(&scores, scenario.k(), &[]);
    o.headline = scenario.headline();
    o.bootstrap_draws = scenario.config().analysis.bootstrap_draws;
    o.confidence_level = scenario.config().analysis.confidence_level;
    o.seed = scenario.seed();
    let mut imported =
        evaluate_embeddings(&dir.path().join("e.npy"), &dir.path().join("m.csv"), &o)
            .unwrap()
            .estimates;
    let labels: Vec<String> = scenario
        .thresholds()
        .iter()
        .map(|t| t.label.clone())
        .collect();
    relabel(&mut imported, &labels);
    assert_eq!(imported.slices, synthetic.slices);
    assert_eq!(imported.cross_group, synthetic.cross_group);
    assert_eq!(imported.replicates, synthetic.replicates);
    // The fairness rows agree too, but for the closed-form threshold shift, which only a
    // scenario (a model) has.
    let mut fairness = synthetic.fairness.clone();
    for f in &mut fairness {
        f.threshold_shift.clear();
    }
    assert_eq!(imported.fairness, fairness);
    assert!(imported.closed_form.is_none() && synthetic.closed_form.is_some());
}

/// Writes `text` as `name` in `dir`; returns its path as a string.
fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// Runs `falsematch evaluate --scores path` (plus `extra`) into `dir/out`, expecting success.
fn evaluate_scores_cli(dir: &Path, path: &str, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join("out");
    falsematch()
        .args([
            "evaluate",
            "--scores",
            path,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .args(extra)
        .assert()
        .success();
    out
}

const GOOD: &str =
    "probe_id,gallery_id,score,mated\np1,g1,0.9,1\np1,g2,0.2,0\np2,g1,0.3,0\np2,g2,0.1,0\n";

#[test]
fn bad_score_rows_are_errors_naming_file_and_line_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let meta = file(
        dir.path(),
        "ids.csv",
        "id,subject,role\np1,alice,probe\np2,bob,probe\np3,carol,probe\ng1,alice,gallery\ng2,dave,gallery\n",
    );
    // (name, file text, metadata?, fragments of the one-line message)
    let cases: &[(&str, &str, bool, &[&str])] = &[
        (
            "short.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.9\n",
            false,
            &["short.csv:2:", "3 fields, but the header has 4"],
        ),
        (
            "word.csv",
            "probe_id,gallery_id,score,mated\np1,g1,high,1\n",
            false,
            &["word.csv:2:", "score `high` is not a number"],
        ),
        (
            "nan.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.5,1\np1,g2,NaN,0\n",
            false,
            &["nan.csv:3:", "`NaN` is not a finite number"],
        ),
        (
            "flag.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.5,maybe\n",
            false,
            &[
                "flag.csv:2:",
                "`mated` is `maybe`; allowed: 0, 1, true, false",
            ],
        ),
        (
            "dup.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.5,1\np1,g2,0.1,0\np1,g1,0.4,1\n",
            false,
            &[
                "dup.csv:4:",
                "probe `p1` and gallery `g1` were already compared",
            ],
        ),
        (
            "missing.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.5,1\np1,g2,0.1,0\np2,g1,0.4,0\n",
            false,
            &[
                "missing.csv:",
                "probe `p2` (first row on line 4) has scores against 1 of the 2 gallery ids",
            ],
        ),
        (
            "contradicts.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.9,0\n",
            true,
            &[
                "contradicts.csv:2:",
                "mated is 0 but the metadata gives subjects `alice` (probe `p1`) and `alice` (gallery `g1`)",
            ],
        ),
        (
            "norows.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.9,1\np1,g2,0.2,0\np2,g1,0.3,0\np2,g2,0.1,0\n",
            true,
            &["norows.csv:", "probe `p3` (metadata line 4) has no rows"],
        ),
        (
            "unknown.csv",
            "probe_id,gallery_id,score,mated\np9,g1,0.9,0\n",
            true,
            &["unknown.csv:2:", "id `p9` is not in"],
        ),
        (
            "bob.txt",
            "g1 alice p1 0.9\ng2 alice p1\n",
            false,
            &["bob.txt:2:", "3 fields; the bob4 format has 4"],
        ),
        (
            "groups.csv",
            "probe_id,gallery_id,score,mated,sex\np1,g1,0.9,1,F\np1,g2,0.2,0,M\n",
            false,
            &[
                "groups.csv:3:",
                "probe `p1` is in group `M` here but `F` on line 2",
            ],
        ),
        (
            "ranks.csv",
            "probe_id,rank,gallery_id,score,enrolled,mated\np1,1,g1,0.9,1,1\np1,1,g2,0.5,1,0\n",
            false,
            &["ranks.csv:3:", "probe `p1` already has rank 1"],
        ),
        ("empty.csv", "", false, &["empty.csv: is empty"]),
        (
            "yes.csv",
            "probe_id,gallery_id,score,mated\np1,g1,0.5,yes\n",
            false,
            &["yes.csv:2:", "`mated` is `yes`; allowed: 0, 1, true, false"],
        ),
        (
            "yes-candidates.csv",
            "probe_id,rank,gallery_id,score,enrolled,mated\np1,1,g1,0.9,no,1\n",
            false,
            &["yes-candidates.csv:2:", "`enrolled` is `no`"],
        ),
        (
            "twice.csv",
            "probe_id,gallery_id,score,mated,score\np1,g1,0.5,1,0.7\n",
            false,
            &["twice.csv: the header names column `score` twice"],
        ),
    ];
    for (name, text, with_meta, fragments) in cases {
        let path = file(dir.path(), name, text);
        let out = dir.path().join(format!("out-{name}"));
        let mut cmd = falsematch();
        cmd.args([
            "evaluate",
            "--scores",
            &path,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        if *with_meta {
            cmd.args(["--metadata", &meta]);
        }
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
        for f in *fragments {
            assert!(stderr.contains(f), "{name}: `{f}` not in: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: an output folder was left behind");
    }
}

#[test]
fn bad_metadata_columns_are_refused_and_a_byte_order_mark_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let scores = file(dir.path(), "s.csv", GOOD);
    for (name, text, fragment) in [
        (
            "twice.csv",
            "id,subject,role,sex,sex\np1,alice,probe,F,M\n",
            "the header names column `sex` twice",
        ),
        (
            "blank.csv",
            "id,subject,role,sex\np1,alice,probe,F\np2,bob,probe, \ng1,alice,gallery,F\ng2,dave,gallery,M\n",
            "blank.csv:3: empty value in group column `sex`",
        ),
    ] {
        let meta = file(dir.path(), name, text);
        let out = dir.path().join(format!("out-{name}"));
        let o = falsematch()
            .args([
                "evaluate",
                "--scores",
                &scores,
                "--metadata",
                &meta,
                "--quiet",
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(fragment), "{name}: {stderr}");
        assert!(!out.exists());
    }
    // The same scores with a UTF-8 byte-order mark give the same estimates, in every layout.
    let bob5 =
        "alice g1 alice p1 0.9\ndave g2 alice p1 0.2\nalice g1 bob p2 0.3\ndave g2 bob p2 0.1\n";
    for (name, text) in [("plain.csv", GOOD), ("plain.txt", bob5)] {
        let plain = file(dir.path(), name, text);
        let marked = file(
            dir.path(),
            &format!("bom-{name}"),
            &format!("\u{feff}{text}"),
        );
        let estimates = |path: &str, out: &str| {
            let out = dir.path().join(out);
            falsematch()
                .args(["evaluate", "--scores", path, "--quiet", "--out"])
                .arg(&out)
                .assert()
                .success();
            std::fs::read(out.join("tables/estimates.csv")).unwrap()
        };
        assert_eq!(
            estimates(&plain, &format!("o-{name}")),
            estimates(&marked, &format!("o-bom-{name}")),
            "{name}"
        );
    }
}

#[test]
fn skip_bad_rows_counts_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{GOOD}p3,g1,oops,0\np3,g2,0.1,0\np1,g1,0.95,1\np4,g1\n");
    let path = file(dir.path(), "mixed.csv", &text);
    let out = evaluate_scores_cli(dir.path(), &path, &["--skip-bad-rows"]);
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("results.json")).unwrap()).unwrap();
    let skipped = &results["skipped"];
    assert_eq!(skipped["rows"], 3);
    let reasons: Vec<(String, u64)> = skipped["by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().unwrap().to_string(),
                r["rows"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("duplicate pair".to_string(), 1),
            ("malformed row".to_string(), 1),
            ("score not a number".to_string(), 1)
        ]
    );
    // p3 lost a row, so it is left out of 1:N; its valid row still counts for 1:1.
    assert_eq!(skipped["excluded_probes"][0]["probe"], "p3");
    assert_eq!(results["data"]["probes"], 2);
    assert_eq!(results["verification"][0]["impostor"], 4);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("line 6: score `oops` is not a number"),
        "{report}"
    );
}

#[test]
fn an_evaluation_bundle_verifies_and_notices_a_changed_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = file(dir.path(), "s.csv", GOOD);
    let out = evaluate_scores_cli(dir.path(), &path, &[]);
    for f in [
        "results.json",
        "report.md",
        "report.html",
        "manifest.json",
        "tables/verification.csv",
        "plots/det.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let verify = |expect: i32| {
        let o = falsematch()
            .args(["verify", out.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(expect),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(verify(0), "reproduced\n");
    std::fs::write(&path, GOOD.replace("0.9", "0.8")).unwrap();
    let said = verify(1);
    assert!(
        said.contains("s.csv: the scores file changed since the report was made"),
        "{said}"
    );
}

#[test]
fn embeddings_too_large_for_memory_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    // A header promising 10^9 rows of 512 floats (2 TB as int16), and no data.
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 512), }\n";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    let npy = dir.path().join("huge.npy");
    let header_bytes = bytes.len() as u64;
    std::fs::write(&npy, bytes).unwrap();
    // A sparse file of the size the header promises (2 TB of zeros that take no disk), so the
    // header describes the file exactly and only memory can refuse it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&npy)
        .unwrap()
        .set_len(header_bytes + 1_000_000_000 * 512 * 4)
        .unwrap();
    let meta = file(dir.path(), "m.csv", "subject,role\na,gallery\n");
    let out = dir.path().join("out");
    let o = falsematch()
        .args([
            "evaluate",
            "--embeddings",
            npy.to_str().unwrap(),
            "--metadata",
            &meta,
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("huge.npy: this run needs about") && stderr.contains("MiB are available"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn the_row_order_of_a_score_file_changes_no_byte_of_the_estimates() {
    // The same scores, rows reversed and interleaved: every estimate and interval (the subject
    // bootstrap included) must come out identical.
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{}/tests/data/parity/continuous.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&source).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    let odd = lines.iter().skip(1).step_by(2);
    let even = lines.iter().step_by(2);
    let shuffled: Vec<&str> = std::iter::once(header)
        .chain(odd.chain(even).copied())
        .collect();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let original = evaluate_scores_cli(&a, &source, &["--bootstrap-draws", "200"]);
    let reordered = evaluate_scores_cli(
        &b,
        &file(dir.path(), "shuffled.csv", &(shuffled.join("\n") + "\n")),
        &["--bootstrap-draws", "200"],
    );
    for table in [
        "estimates.csv",
        "det.csv",
        "verification.csv",
        "fairness.csv",
    ] {
        let read = |d: &Path| std::fs::read(d.join("tables").join(table)).unwrap();
        assert!(
            read(&original) == read(&reordered),
            "tables/{table} differs with the row order"
        );
    }
    // The subject bootstrap rides along in results.json: the same bounds either way.
    let bootstraps = |d: &Path| -> Vec<String> {
        let text = std::fs::read_to_string(d.join("results.json")).unwrap();
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.contains("\"bootstrap\""))
            .map(|(i, _)| text.lines().skip(i).take(4).collect::<Vec<_>>().join(""))
            .collect()
    };
    let (a, b) = (bootstraps(&original), bootstraps(&reordered));
    assert!(!a.is_empty(), "no bootstrap interval was compared");
    assert_eq!(a, b);
}

#[test]
fn an_evaluation_bundle_made_with_relative_paths_verifies_from_any_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    file(&dir.path().join("data"), "s.csv", GOOD);
    // Made from `dir` with paths relative to it; the bundle does not exist yet.
    falsematch()
        .current_dir(dir.path())
        .args([
            "evaluate",
            "--scores",
            "data/s.csv",
            "--out",
            "reports/eval",
            "--quiet",
        ])
        .assert()
        .success();
    let manifest = std::fs::read_to_string(dir.path().join("reports/eval/manifest.json")).unwrap();
    assert!(
        manifest.contains("\"from_bundle\": \"../../data/s.csv\""),
        "{manifest}"
    );
    let bundle = dir.path().join("reports/eval");
    for cwd in [Path::new("/"), dir.path(), bundle.as_path()] {
        let o = falsematch()
            .current_dir(cwd)
            .args(["verify", bundle.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        assert_eq!(
            (o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()),
            (Some(0), "reproduced\n"),
            "from {}: {}",
            cwd.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn pyeers_two_files_give_the_same_one_to_one_rates_as_the_same_scores_with_ids() {
    // The parity file's comparisons, split into pyeer's genuine and impostor files (the
    // impostor lines keep their ids in front, as pyeer allows: the score is the last field).
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "{}/tests/data/parity/continuous.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&source).unwrap();
    let (mut genuine, mut impostor) = (String::new(), String::new());
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[3] == "1" {
            genuine.push_str(&format!("{}\n", f[2]));
        } else {
            impostor.push_str(&format!("{} {} {}\n\n", f[0], f[1], f[2]));
        }
    }
    let g = file(dir.path(), "genuine.txt", &genuine);
    let i = file(dir.path(), "impostor.txt", &impostor);
    let with_ids = evaluate_scores_cli(dir.path(), &source, &["--bootstrap-draws", "0"]);
    let pairs = dir.path().join("pairs");
    let o = falsematch()
        .args(["evaluate", "--genuine", &g, "--impostor", &i, "--out"])
        .arg(&pairs)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("no ids, so no searches"), "{summary}");
    // Only the overall slice: the two files carry no groups.
    let overall = |d: &Path, table: &str| -> Vec<String> {
        std::fs::read_to_string(d.join("tables").join(table))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("all,") || !l.contains(','))
            .map(String::from)
            .collect()
    };
    for table in ["verification.csv", "verification_det.csv"] {
        let (a, b) = (overall(&with_ids, table), overall(&pairs, table));
        assert!(a.len() > 3, "tables/{table}: {a:?}");
        assert_eq!(a[1..], b[1..], "tables/{table}");
    }
    // No searches, so no 1:N tables or figures, and a report that says why.
    for absent in ["tables/estimates.csv", "tables/det.csv", "plots/det.svg"] {
        assert!(!pairs.join(absent).exists(), "{absent} was written");
    }
    let report = std::fs::read_to_string(pairs.join("report.md")).unwrap();
    assert!(
        report.contains("only one-to-one rates are given"),
        "{report}"
    );
    assert!(!report.contains("FPIR(T)"), "{report}");
    falsematch()
        .current_dir("/")
        .args(["verify", pairs.to_str().unwrap(), "--quiet"])
        .assert()
        .success()
        .stdout("reproduced\n");
}

#[test]
fn a_bad_line_in_pyeers_files_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let g = file(dir.path(), "g.txt", "0.9\n0.8\n");
    let i = file(dir.path(), "i.txt", "0.1\n\nscore 0.2x\n");
    let out = dir.path().join("out");
    let o = falsematch()
        .args(["evaluate", "--genuine", &g, "--impostor", &i, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{i}:3:")) && err.contains("`0.2x` is not a number"),
        "{err}"
    );
    assert!(!out.exists());
    // With --skip-bad-rows the line is counted, not fatal.
    falsematch()
        .args([
            "evaluate",
            "--genuine",
            &g,
            "--impostor",
            &i,
            "--skip-bad-rows",
        ])
        .args(["--quiet", "--out"])
        .arg(&out)
        .assert()
        .success();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("1 row(s) were skipped"), "{report}");
    // --impostor alone, or with --scores, is refused by the argument parser.
    falsematch()
        .args(["evaluate", "--impostor", &i])
        .assert()
        .code(2);
    falsematch()
        .args([
            "evaluate",
            "--genuine",
            &g,
            "--impostor",
            &i,
            "--scores",
            &g,
        ])
        .assert()
        .code(2);
}
