//! The binary: exit codes, messages, and what it leaves on disk.

use assert_cmd::Command;
use std::path::Path;

fn falsematch() -> Command {
    Command::cargo_bin("falsematch").unwrap()
}

/// Runs the binary with `args`, expects success, returns its stdout.
fn stdout_of(args: &[&str]) -> String {
    let out = falsematch()
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).unwrap()
}

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn bad_input_exits_2_with_one_line_naming_file_and_field_and_writes_nothing() {
    // (file, fragments the message must contain)
    let cases: &[(&str, &[&str])] = &[
        ("bad/malformed.toml", &["malformed.toml:2:"]),
        (
            "bad/unknown_key.toml",
            &[
                "unknown_key.toml:",
                "field `gallery.colour`",
                "unknown field",
            ],
        ),
        (
            "bad/wrong_type.toml",
            &["wrong_type.toml:", "field `gallery.detections`"],
        ),
        (
            "bad/rho_out_of_range.toml",
            &[
                "rho_out_of_range.toml",
                "field `groups[0].rho`",
                "[0, 1)",
                "1.2",
            ],
        ),
        (
            "bad/published_threshold.toml",
            &[
                "published_threshold.toml",
                "field `report.published[0].threshold`",
                "`0.55` is not a threshold label",
            ],
        ),
        (
            "bad/shares_not_one.toml",
            &["shares_not_one.toml", "gallery_share", "sum to 1"],
        ),
        (
            "bad/threshold_out_of_range.toml",
            &[
                "threshold_out_of_range.toml",
                "field `thresholds.raw[1]`",
                "[-1, 1]",
            ],
        ),
        (
            "bad/zero_probes.toml",
            &["zero_probes.toml", "field `probes`", "got 0"],
        ),
        ("bad/empty.toml", &["empty.toml", "is empty"]),
        (
            "bad/same_attributes.toml",
            &[
                "same_attributes.toml",
                "field `groups[1].attributes`",
                "groups[0]",
            ],
        ),
        (
            "bad/duplicate_value.toml",
            &[
                "duplicate_value.toml",
                "field `attributes[0].values[2]`",
                "twice",
            ],
        ),
        (
            "bad/seed_too_large.toml",
            &["seed_too_large.toml", "field `seed`", "2^63 - 1"],
        ),
        (
            "bad/table_point_extra_value.toml",
            &["table_point_extra_value.toml", "point 1 has 3 values"],
        ),
        ("bad/dot_name.toml", &["dot_name.toml", "field `name`"]),
        (
            "bad/no-such-file.toml",
            &["no-such-file.toml", "no such file"],
        ),
        ("bad", &["bad", "is a directory"]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (file, fragments) in cases {
        let out = tmp.path().join(file.replace('/', "_"));
        let assert = falsematch()
            .args(["run", &data(file), "--out"])
            .arg(&out)
            .assert()
            .code(2);
        let output = assert.get_output();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{file}: one line expected, got: {stderr}"
        );
        assert!(stderr.starts_with("error: "), "{file}: {stderr}");
        for f in *fragments {
            assert!(stderr.contains(f), "{file}: `{f}` missing from: {stderr}");
        }
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(output.stdout.is_empty(), "{file}: nothing on stdout");
        assert!(!out.exists(), "{file}: output folder must not be created");
    }
}

#[test]
fn usage_errors_exit_2() {
    falsematch()
        .args(["run", "--threads", "0"])
        .assert()
        .code(2);
    falsematch().args(["frobnicate"]).assert().code(2);
}

/// Every command the top-level help lists (so a new command cannot be forgotten by the tests
/// that go through them all), and the help text.
fn commands() -> (Vec<String>, String) {
    let top = stdout_of(&["--help"]);
    let commands = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect();
    (commands, top)
}

#[test]
fn help_shows_an_example_for_each_command() {
    let (commands, top) = commands();
    assert_eq!(commands.len(), 12, "{top}");
    assert!(top.contains("Examples:"), "{top}");
    for command in &commands {
        let text = stdout_of(&[command, "--help"]);
        assert!(
            text.contains("Examples:") && text.contains(&format!("falsematch {command}")),
            "{command} --help has no example of itself: {text}"
        );
        // Help is for people: no rustdoc link syntax leaks into it.
        assert!(!text.contains("[`"), "{command} --help: {text}");
    }
}

#[test]
fn scenarios_lists_the_bundled_ones() {
    let text = stdout_of(&["scenarios"]);
    assert!(
        text.contains("kaganskikh-2019")
            && text.contains("(default)")
            && text.contains("closed-form-check"),
        "{text}"
    );
    // One line per scenario, the descriptions in one column after the longest name.
    let names: Vec<&str> = falsematch::scenario::BUNDLED
        .iter()
        .map(|b| b.name)
        .collect();
    let width = names.iter().map(|n| n.len()).max().unwrap();
    assert_eq!(text.lines().count(), names.len(), "{text}");
    for (line, name) in text.lines().zip(names) {
        let (head, description) = line.split_at(width + 2);
        assert_eq!(head.trim_end(), name, "{text}");
        assert!(!description.starts_with(' '), "{text}");
    }
}

/// Runs `small.toml` into `dir` and returns its results.json; checks the bundle is complete and
/// nothing temporary is left beside it.
fn run_to(dir: &Path, extra: &[&str]) -> Vec<u8> {
    falsematch()
        .args(["run", &data("small.toml"), "--quiet", "--out"])
        .arg(dir)
        .args(extra)
        .assert()
        .success();
    for file in [
        "results.json",
        "report.md",
        "report.html",
        "manifest.json",
        "provenance.json",
        "tables/estimates.csv",
        "plots/det.svg",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let siblings: Vec<String> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(siblings.is_empty(), "temporary folders left: {siblings:?}");
    std::fs::read(dir.join("results.json")).unwrap()
}

#[test]
fn results_are_byte_identical_for_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let one = run_to(&tmp.path().join("one"), &["--threads", "1"]);
    let two = run_to(
        &tmp.path().join("two"),
        &["--threads", "2", "--tile-size", "300"],
    );
    assert!(
        one == two,
        "results.json differs between --threads 1 and --threads 2"
    );
    let json: serde_json::Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["scenario"]["name"], "small");
    // --seed changes the results and is recorded.
    let seeded = run_to(&tmp.path().join("seeded"), &["--seed", "99"]);
    let json: serde_json::Value = serde_json::from_slice(&seeded).unwrap();
    assert_eq!(json["scenario"]["seed"], 99);
    assert!(seeded != one);
}

#[test]
fn a_run_prints_a_summary_and_names_its_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = falsematch()
        .current_dir(tmp.path())
        .args(["run", &data("small.toml")])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    for needle in [
        "Gallery: 5,000 detections",
        "FPIR",
        "SEL",
        "67 % [identity]",
        "Who the false candidates are",
        "Wrote falsematch-out/small",
    ] {
        assert!(text.contains(needle), "`{needle}` missing: {text}");
    }
    assert!(
        tmp.path()
            .join("falsematch-out/small/results.json")
            .is_file()
    );
}

#[test]
fn a_run_that_cannot_fit_in_memory_is_refused_before_it_starts() {
    // 10^6 searches x 64 thresholds x 200 groups of tallies: hundreds of GB.
    let cells: Vec<String> = (0..200).map(|i| format!("\"c{i}\"")).collect();
    let mut text = format!(
        "name = \"huge\"\n[[attributes]]\nname = \"cell\"\nvalues = [{}]\n",
        cells.join(", ")
    );
    for i in 0..200 {
        text += &format!(
            "[[groups]]\nname = \"c{i}\"\nattributes = {{ cell = \"c{i}\" }}\ngallery_share = 0.005\nprobe_share = 0.005\nrho = 0.1\n"
        );
    }
    let thresholds: Vec<String> = (0..64)
        .map(|i| format!("{}", 0.3 + 0.001 * f64::from(i)))
        .collect();
    text += &format!(
        "[captures.cctv]\nnoise = 0.5\n[gallery]\ndetections = 1000\ncapture = \"cctv\"\n[probes]\nnon_mated = 1000000\ncapture = \"cctv\"\n[thresholds]\nraw = [{}]\n",
        thresholds.join(", ")
    );
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("huge.toml");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    let assert = falsematch()
        .arg("run")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("huge.toml")
            && stderr.contains("needs about")
            && stderr.contains("MiB are available"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn infer_gives_the_exact_poisson_interval_and_refuses_bad_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("infer.json");
    let out = stdout_of(&[
        "infer",
        "--candidates",
        "238",
        "--archive",
        "1e6..4e6",
        "--gallery",
        "city=1e9",
        "--scenario",
        "closed-form-check",
        "--out",
        json.to_str().unwrap(),
    ]);
    // 208.72 / 4e6 and 270.24 / 1e6 (scipy.stats.chi2, see src/infer.rs).
    assert!(out.contains("95 % interval 5.22e-5 to 2.70e-4"), "{out}");
    assert!(out.contains("city (1,000,000,000 detections)"), "{out}");
    assert!(out.contains("whose sex is not"), "{out}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["fmr"]["candidates"], 238);
    let bad = falsematch()
        .args(["infer", "--candidates", "3", "--archive", "5..1"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&bad).contains("give N or LOW..HIGH"));
}

#[test]
fn work_that_would_take_too_long_is_refused_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // 10,000 searches and a bootstrap of 100,000 draws: far more than a second of work.
    let text = std::fs::read_to_string(data("small.toml"))
        .unwrap()
        .replace("non_mated = 20", "non_mated = 10000")
        .replace("bootstrap_draws = 100", "bootstrap_draws = 100000");
    let scenario = dir.path().join("long.toml");
    std::fs::write(&scenario, &text).unwrap();
    let refused = |args: &[&str], fragment: &str| {
        let o = falsematch().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(fragment), "{err}");
        assert!(!out.exists());
    };
    let s = scenario.to_str().unwrap();
    let o = out.to_str().unwrap();
    refused(
        &["run", s, "--out", o, "--max-time", "1s"],
        "more than --max-time 1 s",
    );
    refused(
        &[
            "sweep",
            s,
            "--sizes",
            "1e3..1e4",
            "--out",
            o,
            "--max-time",
            "1",
        ],
        "more than --max-time 1 s",
    );
    refused(
        &["run", s, "--max-time", "soon"],
        "give a duration such as 90s",
    );
    // The estimate includes the bootstrap: with it, the run is announced as long.
    let (scenario, _) = falsematch::scenario::Scenario::load(s).unwrap();
    let opts = falsematch::pipeline::run::RunOptions {
        threads: Some(2),
        ..Default::default()
    };
    let with = falsematch::pipeline::work::work_estimate(&scenario, &opts).seconds;
    let mut config = scenario.config().clone();
    config.analysis.bootstrap_draws = 0;
    let without = falsematch::pipeline::work::work_estimate(
        &falsematch::scenario::Scenario::from_config(config, "t").unwrap(),
        &opts,
    )
    .seconds;
    assert!(with > without + 10.0, "{with} vs {without}");
    // An evaluation's bootstrap is checked once its searches are known.
    let scores = dir.path().join("scores.csv");
    let mut rows = String::from("probe_id,gallery_id,score,mated\n");
    for p in 0..3000 {
        for g in 0..3 {
            rows.push_str(&format!("p{p},g{g},0.{g}{p},0\n"));
        }
    }
    std::fs::write(&scores, rows).unwrap();
    refused(
        &[
            "evaluate",
            "--scores",
            scores.to_str().unwrap(),
            "--bootstrap-draws",
            "100000",
            "--out",
            o,
            "--max-time",
            "1s",
        ],
        "bootstrap of 3000 searches",
    );
}

#[test]
fn calibrate_from_scores_refuses_lists_and_thin_files_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fitted.toml");
    let data = format!("{}/tests/data/parity", env!("CARGO_MANIFEST_DIR"));
    for (file, expected) in [
        ("continuous-candidates.csv", "holds candidate lists"),
        ("continuous.csv", "2355 impostor comparisons are too few"),
    ] {
        let output = falsematch()
            .args(["calibrate", "lfw-facenet", "--scores"])
            .arg(format!("{data}/{file}"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains(file) && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(!out.exists());
    }
    // Operating points and a score file are two different fits.
    falsematch()
        .args(["calibrate", "--scores", "x.csv", "--point", "a@0.5=1e-3"])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
}

#[test]
fn infer_and_calibrate_print_what_their_snapshots_hold() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("infer.json");
    insta::assert_snapshot!(
        "infer_stdout",
        stdout_of(&[
            "infer",
            "--candidates",
            "238",
            "--archive",
            "4.2e5..8.4e6",
            "--scenario",
            "kaganskikh-2019",
            "--gallery",
            "city=1e8",
            "--watchlist",
            "3000",
            "--passers-per-day",
            "1e6",
            "--out",
            json.to_str().unwrap(),
        ])
    );
    insta::assert_snapshot!("infer_json", std::fs::read_to_string(&json).unwrap());
    let out = tmp.path().join("cal.toml");
    let printed = stdout_of(&[
        "calibrate",
        "closed-form-check",
        "--threshold",
        "0.5",
        "--fmr",
        "female=6e-3",
        "--fmr",
        "male=3e-3",
        "--out",
        out.to_str().unwrap(),
    ]);
    insta::assert_snapshot!(
        "calibrate_stdout",
        printed.replace(out.to_str().unwrap(), "cal.toml")
    );
    insta::assert_snapshot!("calibrate_toml", std::fs::read_to_string(&out).unwrap());
}

#[test]
fn completions_and_the_man_page_cover_every_command() {
    let (commands, _) = commands();
    let man = stdout_of(&["man"]);
    assert!(
        man.starts_with(".ie") && man.contains(".TH falsematch 1"),
        "{man}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
            assert!(man.contains(c.as_str()), "the man page lacks {c}");
        }
        // Options of a subcommand complete too.
        assert!(script.contains("checkpoint-every"), "{shell}");
    }
    let out = falsematch().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

#[test]
fn png_copies_are_the_same_bytes_on_any_thread_count_and_verify_checks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    run_to(&one, &["--threads", "1", "--png"]);
    run_to(&two, &["--threads", "2", "--tile-size", "300", "--png"]);
    let mut copies = 0;
    for entry in std::fs::read_dir(one.join("plots")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "svg") {
            let png = std::fs::read(path.with_extension("png")).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
            let name = path.with_extension("png");
            let other = two.join("plots").join(name.file_name().unwrap());
            assert!(png == std::fs::read(other).unwrap(), "{}", name.display());
            copies += 1;
        }
    }
    assert!(copies >= 3, "only {copies} PNG copies");
    let manifest = std::fs::read_to_string(one.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"png_copies\": true") && manifest.contains("plots/det.png"),
        "{manifest}"
    );
    falsematch()
        .args(["verify", one.to_str().unwrap(), "--quiet"])
        .assert()
        .success()
        .stdout("reproduced\n");
    // A PNG changed after the fact is noticed.
    let det = one.join("plots/det.png");
    let mut bytes = std::fs::read(&det).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&det, bytes).unwrap();
    let o = falsematch()
        .args(["verify", one.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("plots/det.png"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
