//! Generator 2 (screened): equal in law to generator 1, checked against the closed forms; the
//! same bytes whatever the threads, tiles, order or shards; refused where its bound does not
//! hold, and failing rather than reporting a candidate list it could not fill.

use crate::support::{
    assert_agrees_with_closed_forms, check_against, results_json, run,
    same_results_across_threads_and_tiles,
};
use falsematch::pipeline::run::{Batches, RunError, RunOptions, finish, simulate, simulate_part};
use falsematch::pipeline::shard::{PartialRun, Shard};
use falsematch::population::{GalleryLayout, Population, Screen, draw_probes};
use falsematch::scenario::{BUNDLED, Scenario};
use falsematch::search::Thresholds;

/// The closed-form check with people seen 5 times on average, thresholds where false matches
/// are rare (FMR about 1e-3 to 1e-5), and the given generator.
fn screened_text(generator: u32, detections: u64) -> String {
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    bundled
        .text
        .replace(
            "detections = 200_000",
            &format!("detections = {detections}"),
        )
        .replace(
            "raw = [0.30, 0.35, 0.40, 0.45]",
            "raw = [0.55, 0.60, 0.65, 0.70]",
        )
        .replace(
            "candidate_list_length = 10",
            &format!("candidate_list_length = 10\ngenerator = {generator}"),
        )
        + "\n[[gallery.identity_classes]]\nlabel = \"regulars\"\nshare = 1.0\nmean_detections = 5.0\n"
}

/// `falsematch run FILE --out OUT --quiet`, with FALSEMATCH_KERNEL set if given.
fn falsematch_run(
    file: &std::path::Path,
    out: &std::path::Path,
    kernel: Option<&str>,
) -> std::process::Output {
    let mut command = assert_cmd::Command::cargo_bin("falsematch").unwrap();
    if let Some(kernel) = kernel {
        command.env("FALSEMATCH_KERNEL", kernel);
    }
    command
        .args([
            "run",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ])
        .output()
        .unwrap()
}

fn screened(generator: u32, detections: u64) -> Scenario {
    Scenario::from_toml(&screened_text(generator, detections), "screened.toml").unwrap()
}

#[test]
fn screened_runs_agree_with_the_closed_forms_drawing_a_small_share_of_the_gallery() {
    let scenario = screened(2, 100_000);
    let output = run(&scenario, &RunOptions::default());
    assert_agrees_with_closed_forms(&output, 30);
    // Most detections are never drawn: count the rows of every tile.
    let population = Population::new(&scenario, 0);
    let layout = GalleryLayout::build(&population);
    let probes = draw_probes(&population, &layout, 0).unwrap();
    let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
    let screen = Screen::new(&population, &probes, &thresholds);
    let (mut rows, mut entries) = (0, 0);
    for tile in layout.tiles(4096) {
        let tile = screen.generate(&population, &layout, tile);
        rows += tile.len();
        entries += tile
            .sparse
            .as_ref()
            .unwrap()
            .entries_per_group
            .iter()
            .sum::<u64>();
    }
    assert_eq!(entries, 100_000);
    // (26,688 here: a quarter, with 250 searches at FMR 1e-3; moscow-citywide at 0.50 draws
    // about 2 %.)
    assert!(rows < 35_000, "{rows} rows drawn of {entries}");
    // The same simulation against a model with women's rho 10 % higher: the check fails.
    let wrong = Scenario::from_toml(
        &screened_text(2, 100_000).replace("rho = 0.2", "rho = 0.22"),
        "wrong.toml",
    )
    .unwrap();
    let verdict = check_against(&wrong, &output);
    assert!(!verdict.agrees, "{}", verdict.text);
}

#[test]
fn screened_and_full_generators_agree_in_law_but_not_in_draws() {
    // The templates are the same draws in both, the capture noise is not: the counts differ,
    // by less than their sampling error. Per (probe group, gallery group) false matches at
    // each threshold, summed over the searches.
    let full = run(&screened(1, 60_000), &RunOptions::default());
    let screened = run(&screened(2, 60_000), &RunOptions::default());
    let (a, b) = (&full.outcomes[0].tally, &screened.outcomes[0].tally);
    assert_eq!(a.entries_per_group, b.entries_per_group);
    assert_eq!(a.identities_per_group, b.identities_per_group);
    let total = |t: &falsematch::tally::Tally| -> Vec<u64> {
        let width = t.probes[0].det.len();
        (0..width)
            .map(|c| t.probes.iter().map(|p| p.det[c]).sum())
            .collect()
    };
    let (x, y) = (total(a), total(b));
    assert_ne!(x, y, "different draws");
    for (c, (&x, &y)) in x.iter().zip(&y).enumerate() {
        // Both are sums of the same clustered counts: allow 4 sigma of a Poisson difference
        // inflated 10x for the clustering (people seen 5 times, 250 searches).
        let sd = (10.0 * (x + y) as f64).sqrt().max(1.0);
        assert!(
            (x as f64 - y as f64).abs() < 4.0 * sd,
            "cell {c}: full {x}, screened {y}"
        );
    }
}

#[test]
fn screened_results_do_not_depend_on_threads_tiles_order_or_shards() {
    let scenario = screened(2, 100_000);
    let reference = same_results_across_threads_and_tiles(&scenario, "screened");
    // Three shards, merged.
    let options = RunOptions {
        threads: Some(2),
        ..RunOptions::default()
    };
    let parts: Vec<PartialRun> = (0..3)
        .map(|index| {
            let part = PartialRun::new(&scenario, "", Shard { index, count: 3 });
            simulate_part(&scenario, &options, part, Batches::WHOLE, &mut |_| Ok(())).unwrap()
        })
        .collect();
    let merged = finish(&scenario, &parts).unwrap();
    let merged = falsematch::report::results::Results::new(&scenario, &merged).to_json();
    assert!(
        merged == reference,
        "three shards differ from the whole run"
    );
    assert!(
        results_json(&screened(1, 100_000), &RunOptions::default()) != reference,
        "generators 1 and 2 draw differently"
    );
}

#[test]
fn screened_results_do_not_depend_on_the_kernel() {
    // The kernel is chosen once per process: one run per kernel, from the command line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("screened.toml");
    std::fs::write(&file, screened_text(2, 100_000)).unwrap();
    let results = |kernel: &str| {
        let out = dir.path().join(kernel);
        let output = falsematch_run(&file, &out, Some(kernel).filter(|k| *k != "default"));
        assert!(output.status.success(), "{output:?}");
        std::fs::read(out.join("results.json")).unwrap()
    };
    let reference = results("portable");
    assert!(
        results("default") == reference,
        "the CPU's kernel differs from the portable one"
    );
}

#[test]
fn a_screened_run_that_cannot_fill_a_candidate_list_fails() {
    // 2,000 detections: about 2 per search reach 0.55, fewer than the list's 10.
    let error = simulate(&screened(2, 2_000), &RunOptions::default()).unwrap_err();
    assert!(matches!(error, RunError::Screened(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("generator = 1") && message.contains("candidate list of 10"),
        "{message}"
    );
    // Generator 1 runs the same scenario.
    run(&screened(1, 2_000), &RunOptions::default());
    // From the command line: exit code 2, the way out named, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("few.toml");
    std::fs::write(&file, screened_text(2, 2_000)).unwrap();
    let out = dir.path().join("out");
    let output = falsematch_run(&file, &out, None);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("generator = 1"), "{stderr}");
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the scenario file"
    );
}

#[test]
fn a_screened_scenario_is_not_exported() {
    // export writes every detection, which generator 2 never draws.
    let error = falsematch::pipeline::export::export(&screened(2, 10_000)).unwrap_err();
    assert!(
        matches!(error, RunError::NotExportable { generator: 2 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("generator = 1"), "{error}");
}

#[test]
fn the_screened_generator_is_refused_where_its_bound_does_not_hold() {
    let text = screened_text(2, 10_000);
    for (edited, why) in [
        (
            text.replace("generator = 2", "generator = 3"),
            "must be 1 or 2",
        ),
        (
            text.replace("generator = 2", "generator = 2\nprecision = \"int8\""),
            "int16",
        ),
        (
            text.replace("noise = 0.5", "noise = 0.4\nnoise_max = 0.6"),
            "noise_max",
        ),
    ] {
        let error = Scenario::from_toml(&edited, "s.toml")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("search.generator") && error.contains(why),
            "{why}: {error}"
        );
    }
}

#[test]
fn overlapping_caps_are_thinned_so_the_visible_detections_keep_their_law() {
    // Each probe three times: every proposal lies in three identical caps and must be kept
    // with probability 1/3. The detections that reach some probe's lowest threshold (the only
    // ones any count sees) are then the same in law as generator 1's, and both share every
    // template, so their numbers differ only through the capture noise.
    let scenario = Scenario::from_toml(
        &screened_text(2, 100_000)
            .replace("raw = [0.55, 0.60, 0.65, 0.70]", "raw = [0.55, 0.60]")
            .replace("non_mated = 200", "non_mated = 40")
            .replace("mated = 50", "mated = 0"),
        "tripled.toml",
    )
    .unwrap();
    let population = Population::new(&scenario, 0);
    let layout = GalleryLayout::build(&population);
    let single = draw_probes(&population, &layout, 0).unwrap();
    let rows: Vec<usize> = (0..single.embeddings.nrows())
        .flat_map(|p| [p; 3])
        .collect();
    let probes = falsematch::search::ProbeSet::new(
        single.embeddings.select(ndarray::Axis(0), &rows),
        rows.iter().map(|&p| single.group[p]).collect(),
        vec![None; rows.len()],
        falsematch::quantize::Precision::Int16,
    );
    let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
    let t_min = thresholds.q[0];
    let visible = |tile: &falsematch::search::Tile| {
        tile.embeddings
            .rows()
            .into_iter()
            .filter(|row| {
                let row = row.as_slice().unwrap();
                (0..single.embeddings.nrows()).any(|p| single.score(p, row) >= t_min)
            })
            .count()
    };
    let screen = Screen::new(&population, &probes, &thresholds);
    let (mut full, mut screened) = (0, 0);
    for blocks in layout.tiles(4096) {
        full += visible(&layout.generate(&population, blocks.clone()));
        screened += visible(&screen.generate(&population, &layout, blocks));
    }
    // Here: 2,685 full and 2,696 screened; without the thinning, 3,024 (6.5 sigma off).
    let sd = (full as f64).sqrt();
    assert!(full > 1000, "{full}");
    assert!(
        (screened as f64 - full as f64).abs() < 4.0 * sd,
        "visible detections: full {full}, screened {screened}"
    );
}

#[test]
fn a_sweep_simulates_with_generator_1_the_sizes_generator_2_cannot_fill() {
    // 2,000 detections leave the lists unfilled (the test above); 100,000 do not.
    let scenario = screened(2, 100_000);
    let rows = falsematch::pipeline::sweep::sweep(
        &scenario,
        &[2_000, 100_000],
        100_000,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let generator = |n: u64| {
        let used: Vec<_> = rows
            .iter()
            .filter(|r| r.entries == n)
            .map(|r| r.generator)
            .collect();
        assert!(!used.is_empty());
        assert!(used.iter().all(|g| *g == used[0]));
        used[0]
    };
    assert_eq!(generator(2_000), Some(1));
    assert_eq!(generator(100_000), Some(2));
    assert!(rows.iter().all(|r| r.sel.is_some()));
    let page = falsematch::report::sweep::markdown(&scenario, &rows);
    assert!(
        page.contains("At N = 2,000, generator 2 (screened) could not fill every candidate list"),
        "{page}"
    );
}
