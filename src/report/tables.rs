//! Tidy CSV tables under `tables/`, one row per estimate, loadable directly in pandas or R.
//!
//! ```text
//! estimates.csv          metric, probe_group, candidate_group, threshold, score, rank, replicate,
//!                        value, lower, upper, method, events, trials, few_events
//! det.csv                probe_group, score, fpir, fnir
//! false_candidates.csv   probe_group, threshold, score, candidate_group, detections, people, share
//! closed_form.csv        metric, threshold, probe_group, gallery_group, closed_form, simulated,
//!                        observed, expected, design_effect, p_value, z
//! fairness.csv           threshold, score, rate, summary, value   (per-group rates: estimates.csv)
//! verification.csv       probe_group, operating_point, threshold, score, target, metric, value,
//!                        lower, upper, events, trials        (imported score files: 1:1 rates)
//! verification_det.csv   probe_group, score, fmr, fnmr
//! ```
//!
//! Floats are written in Rust's shortest round-trip form, so the text is exact and stable.

use crate::estimate::verification::VerificationSlice;
use crate::estimate::{Estimate, Estimates, IntervalMethod};

fn method(m: IntervalMethod) -> &'static str {
    match m {
        IntervalMethod::ClopperPearson => "clopper-pearson",
        IntervalMethod::SubjectBootstrap => "subject-bootstrap",
        IntervalMethod::PoissonExact => "poisson-exact",
        IntervalMethod::ClusterBinomial => "cluster-binomial",
        IntervalMethod::ClusterPoisson => "cluster-poisson",
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

/// One row of `estimates.csv`.
struct Row<'a> {
    metric: &'a str,
    probe_group: &'a str,
    candidate_group: &'a str,
    threshold: &'a str,
    score: Option<f64>,
    rank: Option<usize>,
    replicate: Option<u32>,
    estimate: &'a Estimate,
}

fn to_csv(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        w.write_record(record)
            .expect("writing CSV to memory cannot fail")
    };
    write(
        &mut w,
        &header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
    );
    for row in rows {
        write(&mut w, &row);
    }
    w.into_inner().expect("writing CSV to memory cannot fail")
}

/// Every table of the bundle, as (file name, bytes).
pub fn tables(estimates: &Estimates) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        (
            "tables/estimates.csv".to_string(),
            estimates_table(estimates),
        ),
        ("tables/fairness.csv".to_string(), fairness_table(estimates)),
        ("tables/det.csv".to_string(), det_table(estimates)),
        (
            "tables/false_candidates.csv".to_string(),
            false_candidates_table(estimates),
        ),
    ];
    if let Some(check) = &estimates.closed_form {
        out.push((
            "tables/closed_form.csv".to_string(),
            closed_form_table(check),
        ));
    }
    out
}

/// Every estimate with its interval, one per row (tables/estimates.csv).
fn estimates_table(estimates: &Estimates) -> Vec<u8> {
    let rows = estimate_rows(estimates);
    to_csv(
        &[
            "metric",
            "probe_group",
            "candidate_group",
            "threshold",
            "score",
            "rank",
            "replicate",
            "value",
            "lower",
            "upper",
            "method",
            "events",
            "trials",
            "few_events",
        ],
        rows.iter()
            .map(|r| {
                vec![
                    r.metric.into(),
                    r.probe_group.into(),
                    r.candidate_group.into(),
                    r.threshold.into(),
                    opt(r.score),
                    r.rank.map(|x| x.to_string()).unwrap_or_default(),
                    r.replicate.map(|x| x.to_string()).unwrap_or_default(),
                    r.estimate.value.to_string(),
                    r.estimate.lower.to_string(),
                    r.estimate.upper.to_string(),
                    method(r.estimate.method).into(),
                    r.estimate.events.to_string(),
                    r.estimate.trials.to_string(),
                    r.estimate.few_events.to_string(),
                ]
            })
            .collect(),
    )
}

/// The rows of tables/estimates.csv: each slice's rates per threshold and its CMC, the
/// cross-group FMR cells, and each replicate gallery's FPIR and SEL.
fn estimate_rows(estimates: &Estimates) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for slice in &estimates.slices {
        for t in &slice.thresholds {
            let metrics = [
                ("fpir", &t.fpir),
                ("sel_detections", &t.sel),
                ("sel_people", &t.sel_people),
                ("fnir_rank_1", &t.fnir_rank_1),
                ("fnir_rank_k", &t.fnir_rank_k),
            ];
            for (metric, e) in metrics {
                if let Some(e) = e {
                    rows.push(Row {
                        metric,
                        probe_group: &slice.probe_group,
                        candidate_group: "",
                        threshold: &t.threshold,
                        score: Some(t.score),
                        rank: None,
                        replicate: None,
                        estimate: e,
                    });
                }
            }
        }
        for (i, e) in slice.cmc.iter().enumerate() {
            rows.push(Row {
                metric: "identification_rate",
                probe_group: &slice.probe_group,
                candidate_group: "",
                threshold: "",
                score: None,
                rank: Some(i + 1),
                replicate: None,
                estimate: e,
            });
        }
    }
    for table in &estimates.cross_group {
        for cell in &table.cells {
            rows.push(Row {
                metric: "fmr",
                probe_group: &cell.probe_group,
                candidate_group: &cell.candidate_group,
                threshold: &table.threshold,
                score: Some(table.score),
                rank: None,
                replicate: None,
                estimate: &cell.fmr,
            });
        }
    }
    for rep in &estimates.replicates {
        for t in &rep.thresholds {
            for (metric, e) in [("fpir", &t.fpir), ("sel_detections", &t.sel)] {
                if let Some(e) = e {
                    rows.push(Row {
                        metric,
                        probe_group: "all",
                        candidate_group: "",
                        threshold: &t.threshold,
                        score: None,
                        rank: None,
                        replicate: Some(rep.replicate),
                        estimate: e,
                    });
                }
            }
        }
    }
    rows
}

/// The DET points of each slice (tables/det.csv).
fn det_table(estimates: &Estimates) -> Vec<u8> {
    to_csv(
        &["probe_group", "score", "fpir", "fnir"],
        estimates
            .slices
            .iter()
            .flat_map(|s| {
                s.det.iter().map(move |p| {
                    vec![
                        s.probe_group.clone(),
                        p.score.to_string(),
                        p.fpir.to_string(),
                        p.fnir.to_string(),
                    ]
                })
            })
            .collect(),
    )
}

/// Who the false candidates are, per slice and threshold (tables/false_candidates.csv).
fn false_candidates_table(estimates: &Estimates) -> Vec<u8> {
    to_csv(
        &[
            "probe_group",
            "threshold",
            "score",
            "candidate_group",
            "detections",
            "people",
            "share",
        ],
        estimates
            .slices
            .iter()
            .flat_map(|s| {
                s.thresholds.iter().flat_map(move |t| {
                    t.false_candidates.iter().map(move |c| {
                        vec![
                            s.probe_group.clone(),
                            t.threshold.clone(),
                            t.score.to_string(),
                            c.group.clone(),
                            c.detections.to_string(),
                            c.people.to_string(),
                            c.share.to_string(),
                        ]
                    })
                })
            })
            .collect(),
    )
}

/// The differential summaries across probe groups (tables/fairness.csv).
fn fairness_table(estimates: &Estimates) -> Vec<u8> {
    let mut fairness_rows = Vec::new();
    for row in &estimates.fairness {
        for (summary, value) in [
            ("garbe_identification", row.garbe_identification),
            ("fdr_identification", row.fdr_identification),
            (
                "inequity_rate_identification",
                row.inequity_rate_identification,
            ),
            ("garbe_verification", row.garbe_verification),
            ("fdr_verification", row.fdr_verification),
            ("inequity_rate_verification", row.inequity_rate_verification),
        ] {
            fairness_rows.push(vec![
                row.threshold.clone(),
                row.score.to_string(),
                "".into(),
                summary.into(),
                opt(value),
            ]);
        }
        for (rate, d) in [
            ("fpir", &row.fpir),
            ("sel", &row.sel),
            ("fnir", &row.fnir),
            ("fmr", &row.fmr),
            ("fnmr", &row.fnmr),
        ] {
            for (summary, value) in [
                ("max_over_geomean", d.max_over_geomean),
                ("max_over_min", d.max_over_min),
                ("max_minus_min", d.max_minus_min),
                ("gini", d.gini),
            ] {
                fairness_rows.push(vec![
                    row.threshold.clone(),
                    row.score.to_string(),
                    rate.into(),
                    summary.into(),
                    opt(value),
                ]);
            }
        }
        for t in &row.threshold_shift {
            fairness_rows.push(vec![
                row.threshold.clone(),
                row.score.to_string(),
                format!("threshold_shift:{}", t.group),
                "equalizing_threshold".into(),
                t.threshold.to_string(),
            ]);
        }
    }
    to_csv(
        &["threshold", "score", "rate", "summary", "value"],
        fairness_rows,
    )
}

/// The closed-form check, row by row (tables/closed_form.csv).
fn closed_form_table(check: &crate::estimate::ClosedFormCheck) -> Vec<u8> {
    let rows: Vec<Vec<String>> = check
        .rows
        .iter()
        .map(|r| {
            vec![
                r.metric.clone(),
                r.threshold.clone(),
                r.probe_group.clone(),
                r.gallery_group.clone().unwrap_or_default(),
                r.closed_form.to_string(),
                r.simulated.to_string(),
                r.observed.to_string(),
                r.expected.to_string(),
                r.design_effect.to_string(),
                r.p_value.to_string(),
                r.z.to_string(),
            ]
        })
        .collect();
    to_csv(
        &[
            "metric",
            "threshold",
            "probe_group",
            "gallery_group",
            "closed_form",
            "simulated",
            "observed",
            "expected",
            "design_effect",
            "p_value",
            "z",
        ],
        rows,
    )
}

/// The 1:1 tables of an imported score file.
pub fn verification_tables(slices: &[VerificationSlice]) -> Vec<(String, Vec<u8>)> {
    let mut rows = Vec::new();
    let estimate_row = |group: &str,
                        point: &str,
                        label: &str,
                        score: f64,
                        target: Option<f64>,
                        metric: &str,
                        e: &Estimate| {
        vec![
            group.to_string(),
            point.to_string(),
            label.to_string(),
            score.to_string(),
            opt(target),
            metric.to_string(),
            e.value.to_string(),
            e.lower.to_string(),
            e.upper.to_string(),
            e.events.to_string(),
            e.trials.to_string(),
        ]
    };
    for s in slices {
        let g = s.probe_group.as_str();
        for r in &s.thresholds {
            for (metric, e) in [("fmr", &r.fmr), ("fnmr", &r.fnmr)] {
                if let Some(e) = e {
                    rows.push(estimate_row(
                        g,
                        "threshold",
                        &r.threshold,
                        r.score,
                        None,
                        metric,
                        e,
                    ));
                }
            }
        }
        for t in &s.target_fmr {
            rows.push(estimate_row(
                g,
                "target_fmr",
                "",
                t.threshold,
                Some(t.target),
                "fmr",
                &t.fmr,
            ));
            if let Some(e) = &t.fnmr {
                rows.push(estimate_row(
                    g,
                    "target_fmr",
                    "",
                    t.threshold,
                    Some(t.target),
                    "fnmr",
                    e,
                ));
            }
        }
        if let Some(e) = &s.eer {
            for (metric, value) in [("eer", e.eer), ("fmr", e.fmr), ("fnmr", e.fnmr)] {
                rows.push(vec![
                    g.to_string(),
                    "eer".into(),
                    String::new(),
                    e.threshold.to_string(),
                    String::new(),
                    metric.into(),
                    value.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    let det: Vec<Vec<String>> = slices
        .iter()
        .flat_map(|s| {
            s.det.iter().map(|p| {
                vec![
                    s.probe_group.clone(),
                    p.score.to_string(),
                    p.fmr.to_string(),
                    p.fnmr.to_string(),
                ]
            })
        })
        .collect();
    vec![
        (
            "tables/verification.csv".into(),
            to_csv(
                &[
                    "probe_group",
                    "operating_point",
                    "threshold",
                    "score",
                    "target",
                    "metric",
                    "value",
                    "lower",
                    "upper",
                    "events",
                    "trials",
                ],
                rows,
            ),
        ),
        (
            "tables/verification_det.csv".into(),
            to_csv(&["probe_group", "score", "fmr", "fnmr"], det),
        ),
    ]
}
