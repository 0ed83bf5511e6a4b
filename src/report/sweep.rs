//! The folders of `falsematch sweep` and `falsematch export`: their files rendered in memory,
//! listed with their SHA-256 in a manifest that records the scenario, seed and settings, so
//! that `verify` can make them again and compare bytes, as for a run's report.
//!
//! ```text
//! sweep:   sweep.md, sweep.csv, sweep.svg, manifest.json (job = sweep + its settings)
//! export:  embeddings.npy, metadata.csv, manifest.json    (job = export)
//! ```

use super::{Bundle, Job, Manifest, ReportError, ScenarioRecord, ToolInfo};
use crate::estimate::Estimate;
use crate::format::{count, mean, rate};
use crate::pipeline::sweep::SweepRow;
use crate::scenario::{Scenario, sha256_hex};
use serde::{Deserialize, Serialize};

/// The settings of a sweep, as recorded in its manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Smallest gallery size.
    pub from: f64,
    /// Largest gallery size.
    pub to: f64,
    /// Sizes per factor of 10.
    pub per_decade: u32,
    /// Sizes up to this many entries are simulated.
    pub simulate_up_to: u64,
}

impl SweepSettings {
    /// The gallery sizes of the sweep.
    pub fn sizes(&self) -> Vec<u64> {
        crate::pipeline::sweep::sizes(self.from, self.to, self.per_decade)
    }
}

/// The folder of `job` for `scenario` (text as given): `files` and the manifest listing them.
fn sealed(scenario: &Scenario, text: &str, job: Job, files: Vec<(String, Vec<u8>)>) -> Bundle {
    Manifest {
        manifest_version: 1,
        tool: ToolInfo::this(),
        scenario: Some(ScenarioRecord {
            name: scenario.config().name.clone(),
            sha256: sha256_hex(text.as_bytes()),
            text: text.to_string(),
        }),
        seed: Some(scenario.seed()),
        model: None,
        evaluation: None,
        job: Some(job),
        png_copies: false,
        files: Vec::new(),
    }
    .seal(files)
}

/// The folder of `falsematch export`: the gallery and probes as `embeddings.npy` and
/// `metadata.csv`.
pub fn export_bundle(scenario: &Scenario, text: &str, npy: Vec<u8>, csv: Vec<u8>) -> Bundle {
    let files = vec![
        ("embeddings.npy".to_string(), npy),
        ("metadata.csv".to_string(), csv),
    ];
    sealed(scenario, text, Job::Export, files)
}

/// The folder of `falsematch sweep`: `sweep.md` (the table), `sweep.csv` and `sweep.svg`.
///
/// # Errors
/// [`ReportError`] when the plot cannot be drawn.
pub fn sweep_bundle(
    scenario: &Scenario,
    text: &str,
    settings: &SweepSettings,
    rows: &[SweepRow],
) -> Result<Bundle, ReportError> {
    let files = vec![
        (
            "sweep.md".to_string(),
            markdown(scenario, rows).into_bytes(),
        ),
        ("sweep.csv".to_string(), csv(rows)),
        ("sweep.svg".to_string(), svg(scenario, rows)?.into_bytes()),
    ];
    Ok(sealed(scenario, text, Job::Sweep(settings.clone()), files))
}

/// `sweep.md`: what was compared, the table and the largest |z|.
pub fn markdown(scenario: &Scenario, rows: &[SweepRow]) -> String {
    let mut md = format!(
        "# Sweep of {} over gallery size\n\nFPIR and SEL (false candidates per search) against the number of gallery entries N. Analytic: the closed forms (SEL exact in expectation; FPIR assumes detections match independently, exact with one detection per identity{}). Simulated: `falsematch run` of the scenario resized to N, with 95 % intervals. z: standardized difference where both ran.\n\n",
        scenario.config().name,
        if scenario.is_closed_form_regime() {
            ""
        } else {
            "; here people have several detections, which match together, so the analytic FPIR overstates it and gets no z"
        }
    );
    md.push_str("| N | threshold | analytic FPIR | simulated FPIR | z | analytic SEL | simulated SEL | z |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let cell = |x: &Option<Estimate>, f: fn(f64) -> String| {
        x.as_ref().map_or("-".to_string(), |e| {
            crate::format::with_interval(e.value, e.lower, e.upper, f)
        })
    };
    let z = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:+.2}"));
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            count(r.entries),
            r.threshold,
            r.analytic_fpir.map_or("-".into(), rate),
            cell(&r.fpir, rate),
            z(r.z_fpir),
            r.analytic_sel.map_or("-".into(), mean),
            cell(&r.sel, mean),
            z(r.z_sel)
        ));
    }
    let worst = rows
        .iter()
        .flat_map(|r| [r.z_fpir, r.z_sel])
        .flatten()
        .fold(0.0f64, |a, z| a.max(z.abs()));
    md.push_str(&format!("\nLargest |z| where both ran: {worst:.2}.\n"));
    let mut in_full: Vec<u64> = rows
        .iter()
        .filter(|r| r.generator == Some(1) && scenario.config().search.generator != 1)
        .map(|r| r.entries)
        .collect();
    in_full.dedup();
    if !in_full.is_empty() {
        let sizes: Vec<String> = in_full.into_iter().map(count).collect();
        md.push_str(&format!(
            "\nAt N = {}, generator {} (screened) could not fill every candidate list from the detections it draws, so those sizes were simulated with generator 1 (the same law, drawn in full).\n",
            sizes.join(", "),
            scenario.config().search.generator
        ));
    }
    md.push_str("\n![sweep](sweep.svg)\n");
    md
}

/// `sweep.csv`: one row per (size, threshold).
pub fn csv(rows: &[SweepRow]) -> Vec<u8> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let mut record = |fields: Vec<String>| {
        csv.write_record(fields)
            .expect("writing CSV to memory cannot fail");
    };
    record(
        [
            "entries",
            "threshold",
            "score",
            "analytic_fpir",
            "analytic_sel",
            "fpir",
            "fpir_lower",
            "fpir_upper",
            "sel",
            "sel_lower",
            "sel_upper",
            "z_fpir",
            "z_sel",
        ]
        .map(String::from)
        .to_vec(),
    );
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        let e = |x: &Option<Estimate>, f: fn(&Estimate) -> f64| opt(x.as_ref().map(f));
        record(vec![
            r.entries.to_string(),
            r.threshold.clone(),
            r.score.to_string(),
            opt(r.analytic_fpir),
            opt(r.analytic_sel),
            e(&r.fpir, |e| e.value),
            e(&r.fpir, |e| e.lower),
            e(&r.fpir, |e| e.upper),
            e(&r.sel, |e| e.value),
            e(&r.sel, |e| e.lower),
            e(&r.sel, |e| e.upper),
            opt(r.z_fpir),
            opt(r.z_sel),
        ]);
    }
    csv.into_inner().expect("writing CSV to memory cannot fail")
}

/// `sweep.svg`: FPIR and SEL against N, analytic lines and simulated points.
fn svg(scenario: &Scenario, rows: &[SweepRow]) -> Result<String, ReportError> {
    use super::plots::{IntervalPoint, SweepSeries};
    let series = |analytic: fn(&SweepRow) -> Option<f64>,
                  sim: fn(&SweepRow) -> Option<&Estimate>| {
        scenario
            .thresholds()
            .iter()
            .map(|t| SweepSeries {
                label: t.label.clone(),
                analytic: rows
                    .iter()
                    .filter(|r| r.threshold == t.label)
                    .filter_map(|r| analytic(r).map(|v| (r.entries as f64, v)))
                    .collect(),
                simulated: rows
                    .iter()
                    .filter(|r| r.threshold == t.label)
                    .filter_map(|r| {
                        sim(r).map(|e| IntervalPoint {
                            x: r.entries as f64,
                            value: e.value,
                            lower: e.lower,
                            upper: e.upper,
                        })
                    })
                    .collect(),
            })
            .collect::<Vec<_>>()
    };
    Ok(super::plots::sweep(
        &series(|r| r.analytic_fpir, |r| r.fpir.as_ref()),
        &series(|r| r.analytic_sel, |r| r.sel.as_ref()),
    )?)
}
