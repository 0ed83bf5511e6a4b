//! Coverage of the reported 95 % intervals, measured: a scenario with the default's clustering
//! structure (80 % of people seen about twice, 20 % about 20 times; four groups; two replicate
//! archives) re-run over many seeds, each interval set against its closed-form truth, and the
//! share of intervals that contain it counted per kind. The truth of SEL (detections) is the
//! scenario's, N sum_h share_h FMR_h, whatever mix of groups an archive draws; that of a group
//! pair's FMR and of people per search is that of the realized archive (people: its realized
//! mix of groups and detection counts, so that interval, which allows for the mix, can only
//! cover it more often).
//!
//! `cargo test` runs a small study (30 seeds, 100,000 detections) with loose bounds; the study
//! of the closing notes runs on demand, e.g.
//! `FALSEMATCH_COVERAGE_SEEDS=200 FALSEMATCH_COVERAGE_DETECTIONS=2100000 cargo test --release
//! coverage -- --nocapture`, which also applies the tight bounds (93-97 %, rare events >= 93 %).

use falsematch::pipeline::run::{RunOptions, simulate};
use falsematch::scenario::Scenario;
use std::collections::BTreeMap;

/// One interval against its truth.
#[derive(Clone, Copy)]
struct Hit {
    covered: bool,
    /// Events expected under the truth (to tell rare rows from the rest).
    expected_events: f64,
}

fn scenario(seed: u64, detections: u64) -> Scenario {
    let (_, text) = Scenario::load("kaganskikh-2019").unwrap();
    // Without the percent thresholds, the published figures set beside them go too.
    let published = text.find("[[report.published]]").unwrap();
    let tails = text.find("[[report.tails]]").unwrap();
    let text = format!("{}{}", &text[..published], &text[tails..]);
    let text = text
        .replace("seed = 20191201", &format!("seed = {seed}"))
        .replace(
            "detections = 2_100_000",
            &format!("detections = {detections}"),
        )
        .replace("non_mated = 200", "non_mated = 100")
        .replace("mated = 50 ", "mated = 0 ")
        .replace("bootstrap_draws = 1000", "bootstrap_draws = 0")
        .replace(
            "raw = [0.40, 0.45, 0.50, 0.55, 0.60]",
            "raw = [0.40, 0.45, 0.50, 0.55, 0.58]",
        )
        .replace("percent = [67.0]", "percent = []")
        .replace(
            "headline_threshold = \"0.50\"",
            "headline_threshold = \"0.45\"",
        );
    Scenario::from_toml(&text, "coverage.toml").unwrap()
}

/// Runs one seed and sets every interval against its truth, by kind.
fn one_seed(seed: u64, detections: u64, out: &mut BTreeMap<&'static str, Vec<Hit>>) {
    let s = scenario(seed, detections);
    let output = simulate(&s, &RunOptions::default()).unwrap();
    let e = &output.estimates;
    let check = e.closed_form.as_ref().unwrap();
    let row = |metric: &str, t: &str, h: Option<&str>| {
        check
            .rows
            .iter()
            .find(|r| {
                r.metric == metric
                    && r.threshold == t
                    && r.probe_group == "male european"
                    && r.gallery_group.as_deref() == h
            })
            .unwrap()
    };
    let contains = |lo: f64, hi: f64, x: f64| lo <= x * (1.0 + 1e-12) && x <= hi * (1.0 + 1e-12);
    // Gallery groups are drawn per identity with the scenario's shares.
    let share_total: f64 = s.groups().iter().map(|g| g.gallery_share).sum();
    for (t, threshold) in s.thresholds().iter().enumerate() {
        let label = threshold.label.as_str();
        let all = &e.slices[0].thresholds[t];
        // The scenario's false candidates per search and entry: sum_h share_h FMR_h, the same
        // whatever mix of groups an archive happens to draw.
        let per_entry: f64 = s
            .groups()
            .iter()
            .map(|g| g.gallery_share / share_total * row("fmr", label, Some(&g.name)).closed_form)
            .sum();
        for (kind, metric, est) in [
            ("FPIR (Clopper-Pearson)", "fpir", all.fpir.as_ref()),
            ("SEL, detections (cluster)", "sel", all.sel.as_ref()),
            (
                "SEL, people (cluster; truth of the realized mix)",
                "sel_people",
                all.sel_people.as_ref(),
            ),
        ] {
            let (r, est) = (row(metric, label, None), est.unwrap());
            let (truth, events) = match metric {
                "fpir" => (
                    r.closed_form,
                    r.expected.min(est.trials as f64 - r.expected),
                ),
                // The scenario's SEL (the check's closed form is its realized gallery's).
                "sel" => {
                    let truth = per_entry * detections as f64;
                    (truth, truth * est.trials as f64)
                }
                _ => (r.closed_form, r.expected),
            };
            out.entry(kind).or_default().push(Hit {
                covered: contains(est.lower, est.upper, truth),
                expected_events: events,
            });
        }
        // Cross-group FMR cells.
        for cell in &e.cross_group[t].cells {
            let r = row("fmr", label, Some(&cell.candidate_group));
            out.entry("FMR by group pair (cluster)")
                .or_default()
                .push(Hit {
                    covered: contains(cell.fmr.lower, cell.fmr.upper, r.closed_form),
                    expected_events: r.expected,
                });
        }
        // Per archive: the scenario's SEL, N sum_h share_h FMR_h.
        for rep in &e.replicates {
            let truth = per_entry * rep.entries as f64;
            let est = rep.thresholds[t].sel.as_ref().unwrap();
            out.entry("SEL per archive (cluster)")
                .or_default()
                .push(Hit {
                    covered: contains(est.lower, est.upper, truth),
                    expected_events: truth * est.trials as f64,
                });
        }
    }
}

/// The coverage table: per kind, (covered, intervals) over rows with at least 30 expected
/// events, and over rare rows (0.5 to 30 expected events).
fn table(hits: &BTreeMap<&'static str, Vec<Hit>>) -> Vec<(String, usize, usize)> {
    let mut rows = Vec::new();
    for (kind, v) in hits {
        for (name, keep) in [
            (
                "",
                &(|h: &Hit| h.expected_events >= 30.0) as &dyn Fn(&Hit) -> bool,
            ),
            (", rare (0.5-30 events)", &|h: &Hit| {
                (0.5..30.0).contains(&h.expected_events)
            }),
        ] {
            let kept: Vec<&Hit> = v.iter().filter(|h| keep(h)).collect();
            if !kept.is_empty() {
                rows.push((
                    format!("{kind}{name}"),
                    kept.iter().filter(|h| h.covered).count(),
                    kept.len(),
                ));
            }
        }
    }
    rows
}

#[test]
fn reported_intervals_cover_the_truth() {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seeds = var("FALSEMATCH_COVERAGE_SEEDS", 30);
    let detections = var("FALSEMATCH_COVERAGE_DETECTIONS", 100_000);
    let on_demand = std::env::var("FALSEMATCH_COVERAGE_SEEDS").is_ok();
    let mut hits = BTreeMap::new();
    for seed in 0..seeds {
        one_seed(7_000 + seed, detections, &mut hits);
    }
    println!("coverage of 95 % intervals, {seeds} seeds x 2 archives, {detections} detections:");
    for (kind, covered, n) in table(&hits) {
        let share = covered as f64 / n as f64;
        println!("  {kind:<45} {covered:>5} / {n:<5} {:.1} %", 100.0 * share);
        // The small study can only catch gross failures (a binomial or Poisson interval on
        // clustered counts covers about half the time); the on-demand one applies the bounds.
        let (lo, hi) = match (on_demand, kind.contains("rare")) {
            (false, _) => (0.85, 1.0),
            (true, false) => (0.93, 0.97),
            (true, true) => (0.93, 1.0),
        };
        if n >= 20 {
            assert!(
                (lo..=hi).contains(&share),
                "{kind}: {covered} of {n} intervals cover the truth"
            );
        }
    }
}
