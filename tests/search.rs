//! `falsematch search` on imported embeddings, against a brute-force float64 search.

use assert_cmd::Command;
use std::path::Path;

/// Writes a float32 .npy file.
fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) {
    std::fs::write(path, falsematch::import::npy::npy_bytes(rows, cols, data)).unwrap();
}

/// Gaussian-ish test data from a fixed LCG (sum of uniforms), with a shared component so that
/// scores spread over a useful range.
/// `falsematch search` of `dir`'s `g.npy` against its `p.npy` with `args`, into `dir/out`
/// (with `FALSEMATCH_KERNEL` set when given); returns the output's bytes.
fn search_bytes(dir: &Path, out: &str, kernel: Option<&str>, args: &[&str]) -> Vec<u8> {
    let out = dir.join(out);
    let mut cmd = Command::cargo_bin("falsematch").unwrap();
    if let Some(kernel) = kernel {
        cmd.env("FALSEMATCH_KERNEL", kernel);
    }
    cmd.arg("search")
        .args(args)
        .arg("--gallery")
        .arg(dir.join("g.npy"))
        .arg("--probes")
        .arg(dir.join("p.npy"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    std::fs::read(out).unwrap()
}

/// `g.npy` (n rows of `data(.., seed)`) and `p.npy` (m rows of `data(.., seed + 1)`) in `dir`.
fn write_gallery_and_probes(dir: &Path, (n, m, d): (usize, usize, usize), seed: u64) {
    write_npy(&dir.join("g.npy"), n, d, &data(n, d, seed));
    write_npy(&dir.join("p.npy"), m, d, &data(m, d, seed + 1));
}

fn data(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..rows * cols)
        .map(|i| {
            let g: f64 = (0..4).map(|_| uniform()).sum::<f64>() - 2.0;
            (g + if i % cols < 3 { 1.2 } else { 0.0 }) as f32
        })
        .collect()
}

fn normalized(data: &[f32], cols: usize) -> Vec<Vec<f64>> {
    data.chunks(cols)
        .map(|r| {
            let n = r
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt();
            r.iter().map(|&v| f64::from(v) / n).collect()
        })
        .collect()
}

#[test]
fn search_matches_a_brute_force_float_search() {
    let (n, m, d, k) = (3000, 6, 40, 5);
    let tmp = tempfile::tempdir().unwrap();
    let (g, p) = (data(n, d, 1), data(m, d, 2));
    write_npy(&tmp.path().join("g.npy"), n, d, &g);
    write_npy(&tmp.path().join("p.npy"), m, d, &p);
    let groups: String = std::iter::once("group".to_string())
        .chain((0..n).map(|i| if i % 3 == 0 { "a".into() } else { "b".into() }))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(tmp.path().join("g.csv"), groups + "\n").unwrap();
    let out = tmp.path().join("hits.json");
    Command::cargo_bin("falsematch")
        .unwrap()
        .args([
            "search",
            "--k",
            "5",
            "--thresholds",
            "0.5,0.3",
            "--quiet",
            "--threads",
            "2",
        ])
        .arg("--gallery")
        .arg(tmp.path().join("g.npy"))
        .arg("--probes")
        .arg(tmp.path().join("p.npy"))
        .arg("--gallery-groups")
        .arg(tmp.path().join("g.csv"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["thresholds"], serde_json::json!([0.3, 0.5]));
    let (gn, pn) = (normalized(&g, d), normalized(&p, d));
    // Quantization moves a score by at most 0.5 sqrt(d) / 32767.
    let tol = 0.5 * (d as f64).sqrt() / 32767.0;
    for (i, probe) in pn.iter().enumerate() {
        let mut exact: Vec<(usize, f64)> = gn
            .iter()
            .enumerate()
            .map(|(j, x)| (j, x.iter().zip(probe).map(|(a, b)| a * b).sum()))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1));
        let got = &json["results"][i];
        for r in 0..k {
            let c = &got["candidates"][r];
            assert!(
                (c["score"].as_f64().unwrap() - exact[r].1).abs() <= tol,
                "probe {i} rank {r}: {c} vs {:?}",
                exact[r]
            );
            if exact[r].1 - exact[r + 1].1 > 2.0 * tol
                && (r == 0 || exact[r - 1].1 - exact[r].1 > 2.0 * tol)
            {
                assert_eq!(
                    c["gallery_index"].as_u64().unwrap() as usize,
                    exact[r].0,
                    "probe {i} rank {r}"
                );
            }
            let group = if exact[r].0.is_multiple_of(3) {
                "a"
            } else {
                "b"
            };
            assert_eq!(c["group"], group);
        }
        for (t, threshold) in [(0, 0.3), (1, 0.5)] {
            let above = exact.iter().filter(|e| e.1 >= threshold + tol).count() as u64;
            let maybe = exact.iter().filter(|e| e.1 >= threshold - tol).count() as u64;
            let total = got["counts"][t]["total"].as_u64().unwrap();
            assert!(
                above <= total && total <= maybe,
                "probe {i} T {threshold}: {total} not in [{above}, {maybe}]"
            );
            let by_group: u64 = got["counts"][t]["by_group"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(by_group, total);
        }
    }
    // The CSV form holds the same candidates.
    let csv_out = tmp.path().join("hits.csv");
    Command::cargo_bin("falsematch")
        .unwrap()
        .args(["search", "--k", "5", "--quiet", "--gallery"])
        .arg(tmp.path().join("g.npy"))
        .arg("--probes")
        .arg(tmp.path().join("p.npy"))
        .arg("--out")
        .arg(&csv_out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&csv_out).unwrap();
    assert_eq!(text.lines().count(), 1 + m * k);
    let first = text.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&format!(
            "0,1,{},",
            json["results"][0]["candidates"][0]["gallery_index"]
        )),
        "{first}"
    );
    assert!(tmp.path().join("hits-counts.csv").is_file());
}

#[test]
fn int8_search_is_reproducible_and_within_its_error_bound() {
    let (n, m, d, k) = (2000, 13, 70, 5);
    let tmp = tempfile::tempdir().unwrap();
    let (g, p) = (data(n, d, 3), data(m, d, 4));
    write_npy(&tmp.path().join("g.npy"), n, d, &g);
    write_npy(&tmp.path().join("p.npy"), m, d, &p);
    let search = |name: &str, threads: &str, kernel: Option<&str>| {
        let args = ["--precision", "int8", "--k", "5", "--quiet"];
        let args = [
            &args[..],
            &["--thresholds", "0.1,0.2", "--threads", threads],
        ]
        .concat();
        search_bytes(tmp.path(), name, kernel, &args)
    };
    let reference = search("a.json", "1", None);
    assert_eq!(search("b.json", "2", None), reference, "threads");
    assert_eq!(
        search("c.json", "2", Some("portable")),
        reference,
        "the portable kernel gives the same bytes"
    );
    let json: serde_json::Value = serde_json::from_slice(&reference).unwrap();
    assert_eq!(json["precision"], "int8");
    let (gn, pn) = (normalized(&g, d), normalized(&p, d));
    // Each component moves by at most f/2 + 0.5/32767, f = max |x_i| / 127; the pair bound
    // follows as in benches/compare_faiss.py.
    let err = |x: &[f64]| x.iter().fold(0.0f64, |a, v| a.max(v.abs())) / 254.0 + 0.5 / 32767.0;
    let l1 = |x: &[f64]| x.iter().map(|v| v.abs()).sum::<f64>();
    for (i, probe) in pn.iter().enumerate() {
        let got = &json["results"][i]["candidates"];
        let mut exact: Vec<f64> = gn
            .iter()
            .map(|x| x.iter().zip(probe).map(|(a, b)| a * b).sum())
            .collect();
        for r in 0..k {
            let c = &got[r];
            let j = c["gallery_index"].as_u64().unwrap() as usize;
            let x = &gn[j];
            let bound =
                err(x) * l1(probe) + err(probe) * l1(x) + d as f64 * err(x) * err(probe) + 1e-6;
            let diff = (c["score"].as_f64().unwrap() - exact[j]).abs();
            assert!(diff <= bound, "probe {i} rank {r}: {diff} > {bound}");
            // Far tighter than the bound in practice: random directions move by about 1e-3.
            assert!(diff < 0.01, "probe {i} rank {r}: {diff}");
        }
        exact.sort_by(|a, b| b.total_cmp(a));
        let kth = got[k - 1]["score"].as_f64().unwrap();
        assert!(
            (kth - exact[k - 1]).abs() < 0.01,
            "probe {i}: K-th score {kth} vs {}",
            exact[k - 1]
        );
    }
}

#[test]
fn bad_embedding_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    write_npy(&tmp.path().join("g.npy"), 4, 8, &data(4, 8, 3));
    write_npy(&tmp.path().join("p.npy"), 2, 6, &data(2, 6, 4));
    std::fs::write(tmp.path().join("junk.npy"), b"not numpy").unwrap();
    let run = |gallery: &str, probes: &str, extra: &[&str]| {
        let out = Command::cargo_bin("falsematch")
            .unwrap()
            .args(["search", "--quiet", "--gallery"])
            .arg(tmp.path().join(gallery))
            .arg("--probes")
            .arg(tmp.path().join(probes))
            .arg("--out")
            .arg(tmp.path().join("out.json"))
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("g.npy", "p.npy", &[]);
    assert!(
        code == 2 && err.contains("p.npy") && err.contains("6 columns"),
        "{err}"
    );
    let (code, err) = run("junk.npy", "p.npy", &[]);
    assert!(
        code == 2 && err.contains("junk.npy") && err.contains("not a .npy"),
        "{err}"
    );
    let (code, err) = run("g.npy", "g.npy", &["--thresholds", "0.3,1.5"]);
    assert!(
        code == 2 && err.contains("--thresholds") && err.contains("[-1, 1]"),
        "{err}"
    );
    let (code, err) = run("missing.npy", "g.npy", &[]);
    assert!(code == 2 && err.contains("missing.npy"), "{err}");
    assert!(!tmp.path().join("out.json").exists());
}

#[test]
fn search_and_calibrate_never_overwrite_inputs_or_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    write_npy(&p("g.npy"), 4, 8, &data(4, 8, 3));
    write_npy(&p("p.npy"), 2, 8, &data(2, 8, 4));
    let gallery = std::fs::read(p("g.npy")).unwrap();
    let search = |out: &str| {
        Command::cargo_bin("falsematch")
            .unwrap()
            .args(["search", "--quiet", "--gallery"])
            .arg(p("g.npy"))
            .arg("--probes")
            .arg(p("p.npy"))
            .arg("--out")
            .arg(p(out))
            .output()
            .unwrap()
    };
    let refused = |o: std::process::Output, fragment: &str| {
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(fragment), "`{fragment}` not in {stderr}");
    };
    // Its own gallery as --out.
    refused(search("g.npy"), "is an input of this command");
    assert_eq!(std::fs::read(p("g.npy")).unwrap(), gallery);
    // A foreign file beside a CSV output, and a foreign JSON file.
    std::fs::write(p("hits-counts.csv"), "my,own\n").unwrap();
    refused(
        search("hits.csv"),
        "hits-counts.csv: exists and was not written by falsematch",
    );
    assert!(!p("hits.csv").exists());
    assert_eq!(
        std::fs::read_to_string(p("hits-counts.csv")).unwrap(),
        "my,own\n"
    );
    std::fs::write(p("notes.json"), "{\"mine\": true}\n").unwrap();
    refused(
        search("notes.json"),
        "exists and was not written by falsematch",
    );
    // Its own earlier outputs are replaced.
    std::fs::remove_file(p("hits-counts.csv")).unwrap();
    for out in ["hits.csv", "hits.csv", "out.json", "out.json"] {
        assert!(search(out).status.success(), "{out}");
    }
    // calibrate: neither its input scenario nor a foreign file.
    let scenario = format!("{}/tests/data/small.toml", env!("CARGO_MANIFEST_DIR"));
    let input = p("input.toml");
    std::fs::copy(&scenario, &input).unwrap();
    std::fs::write(p("notes.txt"), "mine").unwrap();
    let calibrate = |out: &Path| {
        Command::cargo_bin("falsematch")
            .unwrap()
            .arg("calibrate")
            .arg(&input)
            .args(["--threshold", "0.5", "--fmr", "female=2e-2", "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    refused(calibrate(&input), "is an input of this command");
    refused(
        calibrate(&p("notes.txt")),
        "exists and was not written by falsematch",
    );
    assert_eq!(std::fs::read_to_string(p("notes.txt")).unwrap(), "mine");
    let o = calibrate(&p("cal.toml"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(calibrate(&p("cal.toml")).status.success());
}

#[test]
fn search_outputs_match_their_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, m, d) = (60, 2, 8);
    write_gallery_and_probes(tmp.path(), (n, m, d), 5);
    let groups: String = std::iter::once("group".to_string())
        .chain((0..n).map(|i| if i % 4 == 0 { "a".into() } else { "b".into() }))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(tmp.path().join("g.csv"), groups + "\n").unwrap();
    for out in ["hits.json", "hits.csv"] {
        Command::cargo_bin("falsematch")
            .unwrap()
            .current_dir(tmp.path())
            .args([
                "search",
                "--k",
                "3",
                "--thresholds",
                "0.5,0.3",
                "--gallery",
                "g.npy",
                "--gallery-groups",
                "g.csv",
                "--probes",
                "p.npy",
                "--quiet",
                "--out",
                out,
            ])
            .assert()
            .success();
    }
    let read = |name: &str| std::fs::read_to_string(tmp.path().join(name)).unwrap();
    insta::assert_snapshot!("search_json", read("hits.json"));
    insta::assert_snapshot!(
        "search_csv",
        format!(
            "{}\n==> hits-counts.csv <==\n{}",
            read("hits.csv"),
            read("hits-counts.csv")
        )
    );
}

/// Every kernel this CPU has (the process picks one from `FALSEMATCH_KERNEL`) gives the same
/// bytes: a simulated run with repeated identities in both number formats, and a search of
/// imported rows in int16 (int8 is checked above).
#[test]
fn every_kernel_gives_the_same_bytes_in_runs_and_searches() {
    let tmp = tempfile::tempdir().unwrap();
    let small = std::fs::read_to_string("tests/data/small.toml").unwrap();
    let int8 = tmp.path().join("small-int8.toml");
    std::fs::write(&int8, format!("{small}\n[search]\nprecision = \"int8\"\n")).unwrap();
    let run = |scenario: &Path, name: &str, kernel: &str, tile: &str| {
        let out = tmp.path().join(name);
        Command::cargo_bin("falsematch")
            .unwrap()
            .env("FALSEMATCH_KERNEL", kernel)
            .args(["run", "--quiet", "--threads", "2", "--tile-size", tile])
            .arg(scenario)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        std::fs::read(out.join("results.json")).unwrap()
    };
    for (scenario, label) in [
        (Path::new("tests/data/small.toml"), "int16"),
        (&*int8, "int8"),
    ] {
        let reference = run(scenario, &format!("{label}-portable"), "portable", "4096");
        for (kernel, tile) in [
            ("avx2", "4096"),
            ("avx2", "77"),
            ("avx512", "1000"),
            ("avx512", "77"),
        ] {
            assert!(
                run(scenario, &format!("{label}-{kernel}-{tile}"), kernel, tile) == reference,
                "{label}: {kernel} (or the fastest path this CPU has) with tiles of {tile} differs from the portable kernel"
            );
        }
    }
    let (n, m, d) = (1500, 14, 77);
    write_gallery_and_probes(tmp.path(), (n, m, d), 5);
    let search = |kernel: &str| {
        let args = ["--k", "7", "--quiet", "--thresholds", "0.05,0.2"];
        search_bytes(tmp.path(), &format!("s-{kernel}.json"), Some(kernel), &args)
    };
    let reference = search("portable");
    assert!(search("avx2") == reference, "int16 search: avx2 differs");
    assert!(
        search("avx512") == reference,
        "int16 search: avx512 differs"
    );
}

#[test]
fn a_streamed_gallery_gives_the_same_results_whatever_the_block_tile_and_threads() {
    use falsematch::pipeline::run::RunOptions;
    use falsematch::pipeline::search_files::{SearchRequest, search_files};
    use falsematch::quantize::Precision;
    let tmp = tempfile::tempdir().unwrap();
    let (n, m, d) = (1000, 9, 40);
    write_gallery_and_probes(tmp.path(), (n, m, d), 21);
    let groups: String = (0..n).map(|i| ["a\n", "b\n", "c\n"][i % 7 % 3]).collect();
    std::fs::write(tmp.path().join("groups.csv"), format!("group\n{groups}")).unwrap();
    let (g, p, groups) = (
        tmp.path().join("g.npy"),
        tmp.path().join("p.npy"),
        tmp.path().join("groups.csv"),
    );
    for precision in [Precision::Int16, Precision::Int8] {
        let request = SearchRequest {
            gallery: &g,
            probes: &p,
            gallery_groups: Some(&groups),
            k: 6,
            thresholds: &[0.05, 0.2, 0.3],
            precision,
        };
        let search = |threads: usize, tile_entries: u64, read_block_bytes: usize| {
            search_files(
                &request,
                &RunOptions {
                    threads: Some(threads),
                    tile_entries,
                    read_block_bytes,
                    ..RunOptions::default()
                },
            )
            .unwrap()
        };
        // One block of one tile, the whole gallery at once.
        let reference = search(1, 4096, 1 << 30);
        assert!(reference.results.iter().all(|r| r.candidates.len() == 6));
        // Blocks of one tile of one row; of 3 tiles of 7 rows (the last block short); one
        // tile per block where blocks would be smaller than a tile.
        for (threads, tile, block) in [
            (2, 1, 1),
            (3, 7, 7 * d * 4 * 3),
            (2, 100, 1),
            (1, 333, 2 * 333 * d * 4),
        ] {
            let other = search(threads, tile, block);
            assert_eq!(
                other.gallery, reference.gallery,
                "{precision:?} {tile} {block}"
            );
            assert_eq!(other.probes, reference.probes);
            assert_eq!(other.groups, reference.groups);
            assert_eq!(
                other.results, reference.results,
                "{precision:?}: threads {threads}, tile {tile}, block {block} bytes"
            );
        }
    }
}

#[test]
fn a_bad_row_late_in_a_streamed_gallery_is_named_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, m, d) = (5000, 3, 8);
    let mut g = data(n, d, 31);
    g[4321 * d + 5] = f32::NAN;
    write_npy(&tmp.path().join("g.npy"), n, d, &g);
    write_npy(&tmp.path().join("p.npy"), m, d, &data(m, d, 32));
    // In blocks of 100 rows, 43 blocks are searched before the bad one is read.
    let (gallery, probes) = (tmp.path().join("g.npy"), tmp.path().join("p.npy"));
    let found = falsematch::pipeline::search_files::search_files(
        &falsematch::pipeline::search_files::SearchRequest {
            gallery: &gallery,
            probes: &probes,
            gallery_groups: None,
            k: 3,
            thresholds: &[0.1],
            precision: falsematch::quantize::Precision::Int16,
        },
        &falsematch::pipeline::run::RunOptions {
            tile_entries: 50,
            read_block_bytes: 100 * d * 4,
            ..Default::default()
        },
    );
    let Err(error) = found else {
        panic!("a NaN row must be refused")
    };
    let said = error.to_string();
    assert!(
        said.contains("g.npy") && said.contains("row 4321 has a NaN"),
        "{said}"
    );
    // The command line (one block here) says the same and writes nothing.
    let out = tmp.path().join("s.json");
    let o = Command::cargo_bin("falsematch")
        .unwrap()
        .args(["search", "--k", "3", "--quiet", "--thresholds", "0.1"])
        .arg("--gallery")
        .arg(tmp.path().join("g.npy"))
        .arg("--probes")
        .arg(tmp.path().join("p.npy"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("g.npy") && stderr.contains("row 4321 has a NaN"),
        "{stderr}"
    );
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 2, "only the inputs are left");
}
