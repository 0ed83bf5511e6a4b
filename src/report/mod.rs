//! The report bundle: every file of an output folder, rendered in memory in a fixed order,
//! written atomically, and verified by re-running.
//!
//! ```text
//! results.json -> tables/*.csv -> plots/*.svg -> report.md, report.html (cite the hashes
//! above) -> manifest.json (hashes of everything above)        provenance.json: not hashed
//! ```
//!
//! Invariants: the bundle's bytes depend only on (version, scenario text, seed), never on
//! time, host, threads or tile size; only `provenance.json` holds those. A folder is written
//! as a temporary folder beside the target and renamed into place, so no reader ever sees a
//! partial bundle, and an existing folder is replaced only if it is a falsematch bundle.

pub mod document;
pub mod evaluation;
mod folder;
pub mod html;
pub mod infer;
pub mod markdown;
pub mod plots;
pub mod results;
pub mod search;
pub mod summary;
pub mod sweep;
pub mod tables;

pub use folder::{
    Recorded, Verdict, VerifyError, WriteError, check_target, verify, write, write_file,
};

use crate::estimate::ProbeRecord;
use crate::report::results::Results;
use crate::scenario::{Scenario, sha256_hex};
use document::{FigureRef, ReportInput};
use plots::{Bar, IntervalPoint, Marker};
use serde::{Deserialize, Serialize};

/// Name of the file that may differ between two runs (and is not hashed).
pub const PROVENANCE: &str = "provenance.json";
/// Name of the manifest.
pub const MANIFEST: &str = "manifest.json";

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A plot failed.
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
}

/// The tool, as recorded in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// "falsematch".
    pub name: String,
    /// Release.
    pub version: String,
    /// Git commit of the build, when built from a checkout.
    pub git_commit: Option<String>,
}

/// The scenario, as recorded in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioRecord {
    /// Scenario name.
    pub name: String,
    /// SHA-256 of `text`.
    pub sha256: String,
    /// The scenario file, verbatim.
    pub text: String,
}

/// One file of the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path inside the bundle.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version of the manifest.
    pub manifest_version: u32,
    /// The tool.
    pub tool: ToolInfo,
    /// The scenario (simulated runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<ScenarioRecord>,
    /// The seed used (the scenario's, or `--seed`; simulated runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Every model parameter as resolved (same as `results.json`'s `model`; simulated runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<serde_json::Value>,
    /// The data and settings of an evaluation of imported data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<crate::pipeline::evaluate::EvaluationRecord>,
    /// What the folder holds when it is not a run's report: a sweep or an export of the
    /// recorded scenario (absent for runs and evaluations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Job>,
    /// Every other file of the bundle except `provenance.json`.
    pub files: Vec<FileRecord>,
}

/// A folder of another command than `run` or `evaluate`, re-made by `verify` from the recorded
/// scenario and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "command")]
pub enum Job {
    /// `falsematch sweep` with these settings.
    Sweep(sweep::SweepSettings),
    /// `falsematch export`.
    Export,
}

/// An output folder's files, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Bundle {
    /// (path inside the bundle, bytes), `manifest.json` last.
    pub files: Vec<(String, Vec<u8>)>,
}

impl Bundle {
    /// The bytes of one file.
    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.0 == path)
            .map(|f| f.1.as_slice())
    }
}

/// The git commit this binary was built from, if known.
pub fn git_commit() -> Option<String> {
    let commit = env!("FALSEMATCH_GIT_COMMIT");
    (!commit.is_empty()).then(|| commit.to_string())
}

/// Renders every file of the bundle of a finished run: its results (see
/// [`Results::new`]) and everything [`build`] makes from them.
///
/// # Errors
/// [`ReportError`] when a plot cannot be drawn.
pub fn run_bundle(
    scenario: &Scenario,
    scenario_text: &str,
    output: &crate::pipeline::run::RunOutput,
) -> Result<Bundle, ReportError> {
    build(
        scenario,
        scenario_text,
        &Results::new(scenario, output),
        &output.records,
    )
}

/// Renders every file of the bundle of a run from its results and per-search records.
///
/// # Errors
/// [`ReportError`] when a plot cannot be drawn.
pub fn build(
    scenario: &Scenario,
    scenario_text: &str,
    results: &Results<'_>,
    records: &[ProbeRecord],
) -> Result<Bundle, ReportError> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("results.json".into(), results.to_json())];
    files.extend(tables::tables(&results.estimates));
    let figures = figures(scenario, results, records)?;
    let manifest = Manifest {
        manifest_version: 1,
        tool: ToolInfo::this(),
        scenario: Some(ScenarioRecord {
            name: scenario.config().name.clone(),
            sha256: sha256_hex(scenario_text.as_bytes()),
            text: scenario_text.to_string(),
        }),
        seed: Some(scenario.seed()),
        model: Some(serde_json::to_value(&results.model).expect("the model serializes")),
        evaluation: None,
        job: None,
        files: Vec::new(),
    };
    Ok(assemble(files, figures, manifest, |refs, hashes| {
        document::build(&ReportInput {
            scenario,
            results,
            records,
            figures: refs,
            hashes,
        })
    }))
}

impl ToolInfo {
    /// This build of falsematch.
    pub fn this() -> Self {
        Self {
            name: "falsematch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: git_commit(),
        }
    }
}

/// Completes a bundle: the data files, then the figures, then the report (`document` gets the
/// figures and the SHA-256 of every file so far), then the manifest listing them all.
pub(crate) fn assemble(
    mut files: Vec<(String, Vec<u8>)>,
    figures: Vec<(String, String, String)>,
    mut manifest: Manifest,
    document: impl FnOnce(&[FigureRef], &[(String, String)]) -> document::Document,
) -> Bundle {
    let refs: Vec<FigureRef> = figures
        .iter()
        .map(|(path, _, caption)| FigureRef {
            path: path.clone(),
            caption: caption.clone(),
        })
        .collect();
    for (path, svg, _) in &figures {
        files.push((path.clone(), svg.clone().into_bytes()));
    }
    let hashes: Vec<(String, String)> = files
        .iter()
        .map(|(p, b)| (p.clone(), sha256_hex(b)))
        .collect();
    let doc = document(&refs, &hashes);
    files.push(("report.md".into(), markdown::render(&doc)));
    let svg_of = |path: &str| figures.iter().find(|f| f.0 == path).map(|f| f.1.clone());
    files.push(("report.html".into(), html::render(&doc, &svg_of)));
    manifest.files = files
        .iter()
        .map(|(p, b)| FileRecord {
            path: p.clone(),
            sha256: sha256_hex(b),
            bytes: b.len() as u64,
        })
        .collect();
    files.push((MANIFEST.into(), manifest.to_bytes()));
    Bundle { files }
}

impl Manifest {
    /// The bytes of `manifest.json`: pretty JSON, newline-terminated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the manifest serializes");
        bytes.push(b'\n');
        bytes
    }
}

/// The plots of a run: (path, SVG, caption).
fn figures(
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
        "FPIR (left; line: exact at every threshold, dots: the named thresholds with intervals) and SEL (right, log scale) against the threshold; grey lines mark the named thresholds.".to_string(),
    )];
    out.push(groups_figure(
        &e.slices[usize::from(e.slices.len() > 1)..],
        h,
        &headline.label,
        "SEL (detections)",
        scenario.k(),
        scenario.config().analysis.confidence_level,
    )?);
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
pub(crate) fn det_figure(
    slices: &[crate::estimate::SliceEstimates],
    caption: String,
) -> Result<(String, String, String), ReportError> {
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
pub(crate) fn groups_figure(
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
pub(crate) fn cross_group_figure(
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

/// `provenance.json`: when, where and how the run happened. Never hashed.
pub fn provenance(threads: usize, tile_entries: u64, run_secs: f64) -> Vec<u8> {
    let value = serde_json::json!({
        "created_utc": utc_now(),
        "host": std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_default(),
        "threads": threads,
        "tile_entries": tile_entries,
        "kernel": format!("{:?}", crate::search::Kernel::detect()),
        "run_secs": (run_secs * 1000.0).round() / 1000.0,
        "command": std::env::args().collect::<Vec<_>>(),
    });
    let mut bytes = serde_json::to_vec_pretty(&value).expect("provenance serializes");
    bytes.push(b'\n');
    bytes
}

/// The current UTC time as RFC 3339, e.g. 2026-11-22T06:40:00Z.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_now_is_rfc3339() {
        let t = utc_now();
        assert_eq!(t.len(), 20);
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
}
