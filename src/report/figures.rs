//! The figures of a report, as (path, SVG, caption): those of a simulated run and those of an
//! evaluation, drawn by [`super::plots`] from the estimates (nothing is computed here but the
//! exact FPIR curve read off the per-search maxima).

use super::plots::{self, Bar, IntervalPoint, Marker};
use super::{ReportError, Subject};
use crate::estimate::ProbeRecord;
use crate::pipeline::evaluate::Evaluation;
use crate::report::results::Results;
use crate::scenario::Scenario;

/// The figures of a report's subject.
pub(super) fn of(subject: &Subject<'_>) -> Result<Vec<(String, String, String)>, ReportError> {
    match subject {
        Subject::Run {
            scenario,
            results,
            records,
            ..
        } => run(scenario, results, records),
        Subject::Evaluation { evaluation: e, .. } => evaluation(e),
    }
}

/// The plots of a run: (path, SVG, caption).
fn run(
    scenario: &Scenario,
    results: &Results<'_>,
    records: &[ProbeRecord],
) -> Result<Vec<(String, String, String)>, ReportError> {
    let e = &*results.estimates;
    let overall = &e.slices[0];
    let h = scenario.headline();
    let headline = &scenario.thresholds()[h];
    let n_groups = scenario.n_groups();
    let markers: Vec<Marker> = scenario
        .thresholds()
        .iter()
        .map(|t| Marker {
            label: t.label.clone(),
            score: t.score,
        })
        .collect();
    let point = |x: f64, est: &crate::estimate::Estimate| IntervalPoint {
        x,
        value: est.value,
        lower: est.lower,
        upper: est.upper,
    };
    // Exact FPIR(T) from every non-mated search's highest non-mate score.
    let mut maxima: Vec<i32> = records
        .iter()
        .filter(|r| r.mate.is_none())
        .map(|r| r.max_nonmate)
        .collect();
    maxima.sort_unstable();
    let n = maxima.len().max(1) as f64;
    let mut curve = Vec::new();
    let lo = scenario.thresholds().first().map_or(0.0, |t| t.score) - 0.05;
    let hi = scenario.thresholds().last().map_or(1.0, |t| t.score) + 0.05;
    let steps = 200;
    for i in 0..=steps {
        let t = lo + (hi - lo) * f64::from(i) / f64::from(steps);
        let q = crate::quantize::threshold_q(t.clamp(-1.0, 1.0));
        let above = maxima.len() - maxima.partition_point(|&m| m < q);
        curve.push((t, above as f64 / n));
    }
    let fpir: Vec<IntervalPoint> = overall
        .thresholds
        .iter()
        .filter_map(|r| r.fpir.as_ref().map(|e| point(r.score, e)))
        .collect();
    let sel: Vec<IntervalPoint> = overall
        .thresholds
        .iter()
        .filter_map(|r| r.sel.as_ref().map(|e| point(r.score, e)))
        .collect();
    let mut out = vec![(
        "plots/fpir_sel.svg".to_string(),
        plots::threshold_curves(if maxima.is_empty() { &[] } else { &curve }, &fpir, &sel, &markers)?,
        "FPIR (first panel; line: exact at every threshold, dots: the named thresholds with intervals) and SEL (second panel, log scale) against the threshold; grey lines mark the named thresholds.".to_string(),
    )];
    // Per-group bars only when there are groups to compare (slice 0 is all searches).
    if e.slices.len() > 2 {
        out.push(groups_figure(
            &e.slices[1..],
            h,
            &headline.label,
            "SEL (detections)",
            scenario.k(),
            scenario.config().analysis.confidence_level,
        )?);
    }
    let names: Vec<String> = scenario.groups().iter().map(|g| g.name.clone()).collect();
    out.push(cross_group_figure(
        &names,
        &e.cross_group[h],
        &headline.label,
        "an archive detection",
    )?);
    let per_search: Vec<u64> = records
        .iter()
        .filter(|r| r.mate.is_none())
        .map(|r| r.false_candidates(h, n_groups))
        .collect();
    out.push((
        "plots/false_candidates_per_search.svg".into(),
        plots::histogram(&format!("False candidates per search at {}", headline.label), &per_search)?,
        format!("How many false candidates one search for someone not in the archive returns at {}: the spread behind the average (SEL).", headline.label),
    ));
    out.push(det_figure(
        &e.slices,
        format!("DET: as the threshold falls, fewer people in the archive are missed (FNIR, top {}) and more searches for people not in it return someone (FPIR); normal-deviate axes.", scenario.k()),
    )?);
    Ok(out)
}

/// The 1:N DET plot of every slice: (path, SVG, caption).
fn det_figure(
    slices: &[crate::estimate::SliceEstimates],
    caption: String,
) -> Result<(String, String, String), ReportError> {
    // With one probe group its curve is the overall one: draw it once, not hidden under it.
    let slices = if slices.len() == 2 {
        &slices[..1]
    } else {
        slices
    };
    let overall = &slices[0];
    let floor = 0.5
        / (overall
            .non_mated_searches
            .max(overall.mated_searches)
            .max(1) as f64);
    let curves: Vec<(String, Vec<(f64, f64)>)> = slices
        .iter()
        .map(|s| {
            (
                s.probe_group.clone(),
                s.det.iter().map(|p| (p.fpir, p.fnir)).collect(),
            )
        })
        .collect();
    Ok(("plots/det.svg".into(), plots::det(&curves, floor)?, caption))
}

/// FPIR, SEL and FNIR of each slice at threshold `h` (label `label`), as bars with whiskers.
fn groups_figure(
    slices: &[crate::estimate::SliceEstimates],
    h: usize,
    label: &str,
    sel_label: &str,
    k: usize,
    level: f64,
) -> Result<(String, String, String), ReportError> {
    let bars_of =
        |f: &dyn Fn(&crate::estimate::ThresholdRow) -> Option<&crate::estimate::Estimate>| {
            slices
                .iter()
                .map(|s| Bar {
                    label: s.probe_group.clone(),
                    value: f(&s.thresholds[h]).map(|est| IntervalPoint {
                        x: 0.0,
                        value: est.value,
                        lower: est.lower,
                        upper: est.upper,
                    }),
                })
                .collect::<Vec<Bar>>()
        };
    Ok((
        "plots/groups.svg".into(),
        plots::bars(
            &format!("By probe group at {label}"),
            &[
                ("FPIR".into(), true, bars_of(&|r| r.fpir.as_ref())),
                (sel_label.into(), false, bars_of(&|r| r.sel.as_ref())),
                (
                    format!("FNIR rank {k}"),
                    true,
                    bars_of(&|r| r.fnir_rank_k.as_ref()),
                ),
            ],
        )?,
        format!(
            "FPIR, SEL and FNIR by probe group at {label}, with {} intervals.",
            crate::format::level(level)
        ),
    ))
}

/// The cross-group heat map at one threshold (`label`); `entry` names a gallery entry in the
/// caption. Rows are the probe groups with cells.
fn cross_group_figure(
    names: &[String],
    table: &crate::estimate::CrossGroupTable,
    label: &str,
    entry: &str,
) -> Result<(String, String, String), ReportError> {
    let cells = &table.cells;
    let probe_rows: Vec<String> = names
        .iter()
        .filter(|g| cells.iter().any(|c| &c.probe_group == *g))
        .cloned()
        .collect();
    let matrix: Vec<Vec<Option<f64>>> = probe_rows
        .iter()
        .map(|pg| {
            names
                .iter()
                .map(|cg| {
                    cells
                        .iter()
                        .find(|c| &c.probe_group == pg && &c.candidate_group == cg)
                        .map(|c| c.fmr.value)
                })
                .collect()
        })
        .collect();
    Ok((
        "plots/cross_group.svg".into(),
        plots::heat_map(
            &format!("False match rate by probe and candidate group at {label}"),
            &probe_rows,
            names,
            &matrix,
        )?,
        format!(
            "Cross-group matrix: false match rate per comparison between a probe of one group and {entry} of another, at {label}."
        ),
    ))
}

/// The plots of an evaluation: (path, SVG, caption).
fn evaluation(e: &Evaluation) -> Result<Vec<(String, String, String)>, ReportError> {
    let est = &e.estimates;
    let h = e.plan.headline;
    let headline = &e.plan.thresholds[h];
    let mut out = Vec::new();
    // Score files without ids (pyeer's two files) have no searches, so no 1:N DET.
    if !est.slices.is_empty() {
        out.push(det_figure(
            &est.slices,
            format!(
                "1:N DET: as the threshold falls, fewer mated searches miss their mate (FNIR, top {}) and more non-mated searches return someone (FPIR); normal-deviate axes.",
                e.plan.k
            ),
        )?);
    }
    if let Some(all) = e.verification.first() {
        let floor = 0.5 / (all.impostor.max(all.genuine).max(1) as f64);
        let curves: Vec<(String, Vec<(f64, f64)>)> = e
            .verification
            .iter()
            .map(|s| {
                (
                    s.probe_group.clone(),
                    s.det.iter().map(|p| (p.fmr, p.fnmr)).collect(),
                )
            })
            .collect();
        out.push((
            "plots/verification_det.svg".into(),
            plots::det_with(
                &curves,
                floor,
                [
                    "1:1 DET: false non-matches (FNMR) against false matches (FMR), probit axes",
                    "FMR",
                    "FNMR",
                ],
            )?,
            "1:1 DET from every comparison in the score files, per probe group; normal-deviate axes.".into(),
        ));
    }
    if est.slices.len() > 2 {
        out.push(groups_figure(
            &est.slices[1..],
            h,
            &headline.label,
            "SEL",
            e.plan.k,
            e.plan.confidence_level,
        )?);
    }
    if let Some(table) = est.cross_group.get(h).filter(|_| e.plan.groups.len() > 1) {
        out.push(cross_group_figure(
            &e.plan.groups,
            table,
            &headline.label,
            "a gallery entry",
        )?);
    }
    Ok(out)
}
