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
pub mod html;
pub mod markdown;
pub mod plots;
pub mod tables;

use crate::estimate::ProbeRecord;
use crate::results::Results;
use crate::scenario::{Scenario, sha256_hex};
use document::{FigureRef, ReportInput};
use plots::{Bar, IntervalPoint, Marker};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    pub evaluation: Option<evaluation::EvaluationRecord>,
    /// Every other file of the bundle except `provenance.json`.
    pub files: Vec<FileRecord>,
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
    files.extend(tables::tables(results.estimates));
    let figures = figures(scenario, results, records)?;
    let manifest = Manifest {
        manifest_version: 1,
        tool: ToolInfo::this(),
        scenario: Some(ScenarioRecord {
            name: scenario.config.name.clone(),
            sha256: sha256_hex(scenario_text.as_bytes()),
            text: scenario_text.to_string(),
        }),
        seed: Some(scenario.seed()),
        model: Some(serde_json::to_value(&results.model).expect("the model serializes")),
        evaluation: None,
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
    let mut bytes = serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
    bytes.push(b'\n');
    files.push((MANIFEST.into(), bytes));
    Bundle { files }
}

/// The plots of a run: (path, SVG, caption).
fn figures(
    scenario: &Scenario,
    results: &Results<'_>,
    records: &[ProbeRecord],
) -> Result<Vec<(String, String, String)>, ReportError> {
    let e = results.estimates;
    let overall = &e.slices[0];
    let h = scenario.headline;
    let headline = &scenario.thresholds[h];
    let n_groups = scenario.n_groups();
    let markers: Vec<Marker> = scenario
        .thresholds
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
    let lo = scenario.thresholds.first().map_or(0.0, |t| t.score) - 0.05;
    let hi = scenario.thresholds.last().map_or(1.0, |t| t.score) + 0.05;
    let steps = 200;
    for i in 0..=steps {
        let t = lo + (hi - lo) * f64::from(i) / f64::from(steps);
        let q = crate::search::threshold_q(t.clamp(-1.0, 1.0));
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
    let bars_of = |f: &dyn Fn(
        &crate::estimate::ThresholdRow,
    ) -> Option<&crate::estimate::Estimate>|
     -> Vec<Bar> {
        e.slices
            .iter()
            .skip(usize::from(e.slices.len() > 1))
            .map(|s| Bar {
                label: s.probe_group.clone(),
                value: f(&s.thresholds[h]).map(|est| point(0.0, est)),
            })
            .collect()
    };
    out.push((
        "plots/groups.svg".into(),
        plots::bars(
            &format!("By probe group at {}", headline.label),
            &[
                ("FPIR".into(), true, bars_of(&|r| r.fpir.as_ref())),
                (
                    "SEL (detections)".into(),
                    false,
                    bars_of(&|r| r.sel.as_ref()),
                ),
                (
                    format!("FNIR rank {}", scenario.k()),
                    true,
                    bars_of(&|r| r.fnir_rank_k.as_ref()),
                ),
            ],
        )?,
        format!(
            "FPIR, SEL and FNIR by probe group at {}, with {} intervals.",
            headline.label,
            crate::format::level(scenario.config.analysis.confidence_level)
        ),
    ));
    let names: Vec<String> = scenario.groups.iter().map(|g| g.name.clone()).collect();
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

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Removes temporary folders that an interrupted earlier run left beside `dir`.
fn remove_stale(dir: &Path) {
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return;
    };
    for entry in entries.flatten() {
        let n = entry.file_name().to_string_lossy().into_owned();
        if n.starts_with(&format!(".{name}.partial-")) || n.starts_with(&format!(".{name}.old-")) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The target exists and is not a falsematch bundle.
    #[error(
        "{0}: exists and is not a falsematch output folder (no manifest.json); choose another --out or remove it"
    )]
    NotABundle(PathBuf),
    /// An I/O error.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

/// Checks that `dir` may receive a bundle: it does not exist, or it is an empty folder or a
/// falsematch output folder (it has a manifest). Anything else is never replaced.
///
/// # Errors
/// [`WriteError::NotABundle`], or [`WriteError::Io`] when the folder cannot be read.
pub fn check_target(dir: &Path) -> Result<(), WriteError> {
    if !dir.exists() {
        return Ok(());
    }
    let is_empty = || {
        std::fs::read_dir(dir)
            .map(|mut entries| entries.next().is_none())
            .map_err(|source| WriteError::Io {
                path: dir.to_path_buf(),
                source,
            })
    };
    if dir.is_dir() && (dir.join(MANIFEST).is_file() || is_empty()?) {
        Ok(())
    } else {
        Err(WriteError::NotABundle(dir.to_path_buf()))
    }
}

/// Writes a bundle (plus provenance) to `dir` atomically: into a temporary folder beside it,
/// then renamed into place. An existing `dir` is replaced only if it is empty or a bundle.
///
/// # Errors
/// [`WriteError`]; nothing is left behind on failure.
pub fn write(dir: &Path, bundle: &Bundle, provenance: &[u8]) -> Result<(), WriteError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| WriteError::Io { path, source }
    };
    check_target(dir)?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    remove_stale(dir);
    let tmp = sibling(dir, "partial");
    let result = (|| {
        for (path, bytes) in bundle
            .files
            .iter()
            .map(|(p, b)| (p.as_str(), b.as_slice()))
            .chain(std::iter::once((PROVENANCE, provenance)))
        {
            let target = tmp.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&target, bytes).map_err(io(&target))?;
        }
        if dir.exists() {
            let old = sibling(dir, "old");
            std::fs::rename(dir, &old).map_err(io(dir))?;
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&tmp, dir).map_err(io(dir))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Writes one file atomically: a temporary file beside it, then a rename.
///
/// # Errors
/// [`WriteError::Io`]; the temporary file is removed on failure.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let tmp = sibling(path, "partial");
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// What `verify` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every file reproduced.
    Reproduced,
    /// The first difference, in words naming the file.
    Differs(String),
}

/// Why a folder could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No readable manifest.
    #[error("{path}: cannot read the manifest ({message}); is this a falsematch output folder?")]
    Manifest {
        /// The manifest path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The recorded scenario is not valid.
    #[error("{0}")]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The re-run failed.
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    /// An input file of a recorded evaluation cannot be read.
    #[error(
        "{path}: cannot read this input of the recorded evaluation ({message}); verify needs the data files at the paths recorded in {MANIFEST}"
    )]
    Input {
        /// The recorded path.
        path: String,
        /// Why.
        message: String,
    },
    /// The re-run of an evaluation failed.
    #[error(transparent)]
    Evaluate(#[from] crate::import::evaluate::EvaluateError),
    /// Rendering failed.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// What a manifest says to re-run.
pub enum Recorded<'a> {
    /// A simulated run: the scenario (seed set) and its text.
    Scenario(&'a Scenario, &'a str),
    /// An evaluation of imported data.
    Evaluation(&'a evaluation::EvaluationRecord),
}

/// Compares the files on disk with their manifest, then with a fresh re-run (`rerun` builds the
/// bundle from the recorded scenario and seed, or the recorded evaluation).
///
/// # Errors
/// [`VerifyError`] when the folder has no usable manifest, a recorded input file is missing, or
/// the re-run fails.
pub fn verify(
    dir: &Path,
    rerun: impl FnOnce(Recorded<'_>) -> Result<Bundle, VerifyError>,
) -> Result<Verdict, VerifyError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| VerifyError::Manifest {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let manifest: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return Ok(Verdict::Differs(format!(
                "{MANIFEST}: not a valid manifest ({e})"
            )));
        }
    };
    // 1. The folder against its own manifest.
    for f in &manifest.files {
        match std::fs::read(dir.join(&f.path)) {
            Err(_) => return Ok(Verdict::Differs(format!("{}: missing", f.path))),
            Ok(bytes) if sha256_hex(&bytes) != f.sha256 => {
                return Ok(Verdict::Differs(format!(
                    "{}: its SHA-256 does not match manifest.json",
                    f.path
                )));
            }
            Ok(_) => {}
        }
    }
    // 2. A fresh run of the recorded scenario or evaluation against the folder.
    let fresh = match (&manifest.scenario, &manifest.evaluation) {
        (Some(recorded), _) => {
            if sha256_hex(recorded.text.as_bytes()) != recorded.sha256 {
                return Ok(Verdict::Differs(
                    "manifest.json: the scenario text does not match its SHA-256".into(),
                ));
            }
            let mut scenario = Scenario::from_toml(
                &recorded.text,
                &format!("{} (scenario recorded in {MANIFEST})", dir.display()),
            )?;
            if let Some(seed) = manifest.seed {
                scenario.set_seed(seed);
            }
            rerun(Recorded::Scenario(&scenario, &recorded.text))?
        }
        (None, Some(record)) => {
            if let Some(changed) = record.changed_input()? {
                return Ok(Verdict::Differs(changed));
            }
            rerun(Recorded::Evaluation(record))?
        }
        (None, None) => {
            return Ok(Verdict::Differs(format!(
                "{MANIFEST}: records neither a scenario nor an evaluation"
            )));
        }
    };
    for (path, bytes) in &fresh.files {
        let Ok(on_disk) = std::fs::read(dir.join(path)) else {
            return Ok(Verdict::Differs(format!("{path}: missing")));
        };
        let same = if path == MANIFEST {
            same_manifest(&on_disk, bytes)
        } else {
            on_disk == *bytes
        };
        if !same {
            return Ok(Verdict::Differs(first_difference(path, &on_disk, bytes)));
        }
    }
    let mut extra = Vec::new();
    collect_files(dir, dir, &mut extra);
    extra.sort();
    if let Some(x) = extra
        .into_iter()
        .find(|p| p != PROVENANCE && fresh.get(p).is_none())
    {
        return Ok(Verdict::Differs(format!(
            "{x}: not part of a bundle of this scenario"
        )));
    }
    Ok(Verdict::Reproduced)
}

/// Manifests are equal up to the git commit of the build (the same release built from two
/// commits gives the same results).
fn same_manifest(a: &[u8], b: &[u8]) -> bool {
    let parse = |x: &[u8]| {
        serde_json::from_slice::<Manifest>(x).ok().map(|mut m| {
            m.tool.git_commit = None;
            m
        })
    };
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

fn first_difference(path: &str, on_disk: &[u8], fresh: &[u8]) -> String {
    let at = on_disk
        .iter()
        .zip(fresh)
        .position(|(a, b)| a != b)
        .unwrap_or(on_disk.len().min(fresh.len()));
    let line = on_disk[..at.min(on_disk.len())]
        .iter()
        .filter(|&&c| c == b'\n')
        .count()
        + 1;
    format!(
        "{path}: differs from a fresh run at byte {at} (line {line}); {} bytes on disk, {} in the fresh run",
        on_disk.len(),
        fresh.len()
    )
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
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

    #[test]
    fn first_difference_names_byte_and_line() {
        assert_eq!(
            first_difference("a", b"x\nyz", b"x\nyq"),
            "a: differs from a fresh run at byte 3 (line 2); 4 bytes on disk, 4 in the fresh run"
        );
    }
}
