//! The bundle of an evaluation of imported data: the same files as a simulated run's bundle
//! (results.json, tables/, plots/, report.md, report.html, manifest.json), with the input files
//! recorded by SHA-256 where a simulated run records its scenario and seed.

use super::document;
use super::plots;
use super::{Bundle, Manifest, ReportError, ToolInfo};
use crate::pipeline::evaluate::{CONVENTIONS, Evaluation, EvaluationConventions, EvaluationRecord};
use serde::Serialize;

/// `results.json` of an evaluation.
#[derive(Serialize)]
struct EvaluationResults<'a> {
    schema_version: u32,
    tool: crate::report::results::Tool,
    kind: &'static str,
    evaluation: &'a EvaluationRecord,
    conventions: EvaluationConventions,
    #[serde(flatten)]
    outcome: &'a Evaluation,
}

/// Renders every file of an evaluation's bundle.
///
/// # Errors
/// [`ReportError`] when a plot cannot be drawn.
pub fn build(record: &EvaluationRecord, evaluation: &Evaluation) -> Result<Bundle, ReportError> {
    let results = EvaluationResults {
        schema_version: crate::report::results::SCHEMA_VERSION,
        tool: crate::report::results::Tool::this(),
        kind: "evaluation",
        evaluation: record,
        conventions: CONVENTIONS,
        outcome: evaluation,
    };
    let mut json = serde_json::to_vec_pretty(&results).expect("results serialize");
    json.push(b'\n');
    let mut files: Vec<(String, Vec<u8>)> = vec![("results.json".into(), json)];
    files.extend(super::tables::tables(&evaluation.estimates));
    if !evaluation.verification.is_empty() {
        files.extend(super::tables::verification_tables(&evaluation.verification));
    }
    let figures = figures(evaluation)?;
    let manifest = Manifest {
        manifest_version: 1,
        tool: ToolInfo::this(),
        scenario: None,
        seed: None,
        model: None,
        evaluation: Some(record.clone()),
        job: None,
        files: Vec::new(),
    };
    Ok(super::assemble(files, figures, manifest, |refs, hashes| {
        document::evaluation::build(record, evaluation, refs, hashes)
    }))
}

fn figures(e: &Evaluation) -> Result<Vec<(String, String, String)>, ReportError> {
    let est = &e.estimates;
    let h = e.plan.headline;
    let headline = &e.plan.thresholds[h];
    let mut out = vec![super::det_figure(
        &est.slices,
        format!(
            "1:N DET: as the threshold falls, fewer mated searches miss their mate (FNIR, top {}) and more non-mated searches return someone (FPIR); normal-deviate axes.",
            e.plan.k
        ),
    )?];
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
            "1:1 DET from every comparison in the score file, per probe group; normal-deviate axes.".into(),
        ));
    }
    if est.slices.len() > 1 {
        out.push(super::groups_figure(
            &est.slices[1..],
            h,
            &headline.label,
            "SEL",
            e.plan.k,
            e.plan.confidence_level,
        )?);
    }
    if let Some(table) = est.cross_group.get(h).filter(|_| e.plan.groups.len() > 1) {
        out.push(super::cross_group_figure(
            &e.plan.groups,
            table,
            &headline.label,
            "a gallery entry",
        )?);
    }
    Ok(out)
}
