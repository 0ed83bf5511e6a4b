//! Tidy CSV tables under `tables/`, one row per estimate, loadable directly in pandas or R.
//!
//! ```text
//! estimates.csv          metric, probe_group, candidate_group, threshold, label, rank, replicate,
//!                        value, lower, upper, method, events, trials, few_events
//! det.csv                probe_group, score, fpir, fnir
//! false_candidates.csv   probe_group, threshold, label, candidate_group, detections, people, share
//! closed_form.csv        metric, threshold, label, probe_group, gallery_group, closed_form,
//!                        simulated, observed, expected, design_effect, p_value, z
//! fairness.csv           threshold, label, rate, summary, value   (per-group rates: estimates.csv)
//! verification.csv       probe_group, operating_point, threshold, label, target, metric, value,
//!                        lower, upper, events, trials        (imported score files: 1:1 rates)
//! verification_det.csv   probe_group, score, fmr, fnmr
//! ```
//!
//! Conventions: `threshold` is always the score (a number, see `format::score`), `label` the
//! name the report gives it (`0.50`, `67 % [half_cosine]`); `rank` is the K of a rank-K row
//! (1 for `fnir_rank_1`, the candidate list length for `fnir_rank_k`, the rank of a CMC point);
//! `replicate` counts archives from 1, as the report does. A column that is empty in every row
//! is left out (one replicate: no `replicate`; one group: no `candidate_group`), and
//! `fairness.csv` holds only the summaries that exist (none with one probe group: no file).
//! Other floats are written in their shortest round-trip form (`format::float`: 0.0025, and
//! 6.508199893790681e-15 rather than fifteen zeros), so the text is exact and stable.

use crate::estimate::verification::VerificationSlice;
use crate::estimate::{Estimate, Estimates, IntervalMethod};
use crate::format::{float, score};

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
    x.map(float).unwrap_or_default()
}

/// One row of `estimates.csv`.
struct Row<'a> {
    metric: &'a str,
    probe_group: &'a str,
    candidate_group: &'a str,
    label: &'a str,
    score: Option<f64>,
    rank: Option<usize>,
    replicate: Option<u32>,
    estimate: &'a Estimate,
}

/// A CSV table: header, then rows; a column empty in every row is left out, and a table
/// without rows is no bytes at all (left out of the bundle).
fn to_csv(header: &[&str], rows: Vec<Vec<String>>) -> Vec<u8> {
    if rows.is_empty() {
        return Vec::new();
    }
    let keep: Vec<bool> = (0..header.len())
        .map(|c| rows.iter().any(|r| !r[c].is_empty()))
        .collect();
    let kept = |record: Vec<String>| -> Vec<String> {
        record
            .into_iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(x, _)| x)
            .collect()
    };
    let header = kept(header.iter().map(|h| h.to_string()).collect());
    let rows: Vec<Vec<String>> = rows.into_iter().map(kept).collect();
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>, record: &[String]| {
        w.write_record(record)
            .expect("writing CSV to memory cannot fail")
    };
    write(&mut w, &header);
    for row in rows {
        write(&mut w, &row);
    }
    w.into_inner().expect("writing CSV to memory cannot fail")
}

/// Every table of the bundle, as (file name, bytes); `k` is the candidate list length.
pub fn tables(estimates: &Estimates, k: usize) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "tables/estimates.csv".to_string(),
        estimates_table(estimates, k),
    )];
    if let Some(table) = fairness_table(estimates) {
        out.push(("tables/fairness.csv".to_string(), table));
    }
    out.extend([
        ("tables/det.csv".to_string(), det_table(estimates)),
        (
            "tables/false_candidates.csv".to_string(),
            false_candidates_table(estimates),
        ),
    ]);
    if let Some(check) = &estimates.closed_form {
        out.push((
            "tables/closed_form.csv".to_string(),
            closed_form_table(check, estimates),
        ));
    }
    // A table with no rows (no searches, so no 1:N estimates) is left out, not written empty.
    out.retain(|(_, bytes)| !bytes.is_empty());
    out
}

/// Every estimate with its interval, one per row (tables/estimates.csv).
fn estimates_table(estimates: &Estimates, k: usize) -> Vec<u8> {
    let rows = estimate_rows(estimates, k);
    to_csv(
        &[
            "metric",
            "probe_group",
            "candidate_group",
            "threshold",
            "label",
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
                    r.score.map(score).unwrap_or_default(),
                    r.label.into(),
                    r.rank.map(|x| x.to_string()).unwrap_or_default(),
                    r.replicate.map(|x| x.to_string()).unwrap_or_default(),
                    float(r.estimate.value),
                    float(r.estimate.lower),
                    float(r.estimate.upper),
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
fn estimate_rows(estimates: &Estimates, k: usize) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for slice in &estimates.slices {
        for t in &slice.thresholds {
            let metrics = [
                ("fpir", &t.fpir, None),
                ("sel_detections", &t.sel, None),
                ("sel_people", &t.sel_people, None),
                ("fnir_rank_1", &t.fnir_rank_1, Some(1)),
                ("fnir_rank_k", &t.fnir_rank_k, Some(k)),
            ];
            for (metric, e, rank) in metrics {
                if let Some(e) = e {
                    rows.push(Row {
                        metric,
                        probe_group: &slice.probe_group,
                        candidate_group: "",
                        label: &t.threshold,
                        score: Some(t.score),
                        rank,
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
                label: "",
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
                label: &table.threshold,
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
                        label: &t.threshold,
                        score: score_of(estimates, &t.threshold),
                        rank: None,
                        replicate: Some(rep.replicate + 1),
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
                        float(p.score),
                        float(p.fpir),
                        float(p.fnir),
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
            "label",
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
                            score(t.score),
                            t.threshold.clone(),
                            c.group.clone(),
                            c.detections.to_string(),
                            c.people.to_string(),
                            float(c.share),
                        ]
                    })
                })
            })
            .collect(),
    )
}

/// The differential summaries across probe groups that exist (tables/fairness.csv), or none.
fn fairness_table(estimates: &Estimates) -> Option<Vec<u8>> {
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
                score(row.score),
                row.threshold.clone(),
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
                    score(row.score),
                    row.threshold.clone(),
                    rate.into(),
                    summary.into(),
                    opt(value),
                ]);
            }
        }
        for t in &row.threshold_shift {
            fairness_rows.push(vec![
                score(row.score),
                row.threshold.clone(),
                format!("threshold_shift:{}", t.group),
                "equalizing_threshold".into(),
                float(t.threshold),
            ]);
        }
    }
    fairness_rows.retain(|r| !r[4].is_empty());
    (!fairness_rows.is_empty()).then(|| {
        to_csv(
            &["threshold", "label", "rate", "summary", "value"],
            fairness_rows,
        )
    })
}

/// The score of a threshold label, from the overall slice.
fn score_of(estimates: &Estimates, label: &str) -> Option<f64> {
    estimates.slices.first().and_then(|s| {
        s.thresholds
            .iter()
            .find(|t| t.threshold == label)
            .map(|t| t.score)
    })
}

/// The closed-form check, row by row (tables/closed_form.csv).
fn closed_form_table(check: &crate::estimate::ClosedFormCheck, estimates: &Estimates) -> Vec<u8> {
    let rows: Vec<Vec<String>> = check
        .rows
        .iter()
        .map(|r| {
            vec![
                r.metric.clone(),
                score_of(estimates, &r.threshold)
                    .map(score)
                    .unwrap_or_default(),
                r.threshold.clone(),
                r.probe_group.clone(),
                r.gallery_group.clone().unwrap_or_default(),
                float(r.closed_form),
                float(r.simulated),
                r.observed.to_string(),
                float(r.expected),
                float(r.design_effect),
                float(r.p_value),
                float(r.z),
            ]
        })
        .collect();
    to_csv(
        &[
            "metric",
            "threshold",
            "label",
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
            float(score),
            label.to_string(),
            opt(target),
            metric.to_string(),
            float(e.value),
            float(e.lower),
            float(e.upper),
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
                    float(e.threshold),
                    String::new(),
                    String::new(),
                    metric.into(),
                    float(value),
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
                    float(p.score),
                    float(p.fmr),
                    float(p.fnmr),
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
                    "label",
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
