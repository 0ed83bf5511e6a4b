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
mod figures;
mod folder;
pub mod html;
pub mod infer;
pub mod markdown;
pub mod plots;
pub mod png;
pub mod results;
pub mod search;
pub mod summary;
pub mod sweep;
pub mod tables;

pub use folder::{
    Recorded, Verdict, VerifyError, WriteError, check_target, verify, write, write_file,
};

use crate::estimate::ProbeRecord;
use crate::pipeline::evaluate::{Evaluation, EvaluationRecord};
use crate::pipeline::run::RunOutput;
use crate::report::results::{EvaluationResults, Results, ResultsFile};
use crate::scenario::{Scenario, sha256_hex};
use document::{FigureRef, ReportInput};
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
    /// A figure's PNG copy could not be made.
    #[error("{0}")]
    Png(String),
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
    /// True when every figure has a PNG copy beside it (`--png`; see [`Bundle::with_png_copies`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub png_copies: bool,
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

    /// The bundle with a PNG copy of every figure (`plots/NAME.png` after `plots/NAME.svg`,
    /// see [`png::render`]), listed in the manifest, which records that it has them so that
    /// `verify` makes them too. The reports themselves still show the SVGs.
    ///
    /// # Errors
    /// [`ReportError::Png`] when a figure cannot be drawn, or the bundle has no manifest.
    pub fn with_png_copies(self) -> Result<Bundle, ReportError> {
        let mut files = Vec::with_capacity(self.files.len() * 2);
        let mut manifest = None;
        for (path, bytes) in self.files {
            if path == MANIFEST {
                manifest = serde_json::from_slice::<Manifest>(&bytes).ok();
                continue;
            }
            let copy = match path.strip_suffix(".svg") {
                Some(stem) if path.starts_with("plots/") => Some((
                    format!("{stem}.png"),
                    png::render(&String::from_utf8_lossy(&bytes))?,
                )),
                _ => None,
            };
            files.push((path, bytes));
            files.extend(copy);
        }
        let mut manifest = manifest
            .ok_or_else(|| ReportError::Png("PNG copies: the bundle has no manifest".into()))?;
        manifest.png_copies = true;
        Ok(manifest.seal(files))
    }
}

/// The git commit this binary was built from, if known.
pub fn git_commit() -> Option<String> {
    let commit = env!("FALSEMATCH_GIT_COMMIT");
    (!commit.is_empty()).then(|| commit.to_string())
}

/// What a report describes: a simulated run or an evaluation of imported data. Both go
/// through one bundle path ([`build`]): `results.json` ([`ResultsFile`]), the tables of the
/// estimates, the figures, `report.md` and `report.html` citing the hashes of everything
/// before them, and the manifest. They differ in where the numbers come from (a scenario and
/// seed, or input files by SHA-256) and in which sections and figures apply; that is this
/// data, not a second pipeline.
#[derive(Clone, Debug)]
pub enum Subject<'a> {
    /// A simulated run.
    Run {
        /// The validated scenario.
        scenario: &'a Scenario,
        /// The scenario file as written.
        text: &'a str,
        /// Its results (see [`Results::new`]; boxed: it is the larger variant).
        results: Box<Results<'a>>,
        /// Every search, for the figures and the report's examples.
        records: &'a [ProbeRecord],
    },
    /// An evaluation of imported data.
    Evaluation {
        /// The input files by SHA-256 and the settings.
        record: &'a EvaluationRecord,
        /// What the evaluation produced.
        evaluation: &'a Evaluation,
    },
}

impl<'a> Subject<'a> {
    /// A finished run of `scenario` (written as `text`).
    pub fn run(scenario: &'a Scenario, text: &'a str, output: &'a RunOutput) -> Self {
        Subject::Run {
            scenario,
            text,
            results: Box::new(Results::new(scenario, output)),
            records: &output.records,
        }
    }

    /// A finished evaluation.
    pub fn evaluation(record: &'a EvaluationRecord, evaluation: &'a Evaluation) -> Self {
        Subject::Evaluation { record, evaluation }
    }

    /// The `results.json` model.
    pub fn results(&self) -> ResultsFile<'_> {
        match self {
            Subject::Run { results, .. } => ResultsFile::Run(results.clone()),
            Subject::Evaluation { record, evaluation } => {
                ResultsFile::Evaluation(Box::new(EvaluationResults::new(record, evaluation)))
            }
        }
    }

    /// The short plain-text summary the command prints (see [`summary::render`]).
    pub fn summary(&self) -> String {
        summary::render(&self.results())
    }

    /// The manifest without its file list: what the bundle was made from.
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest {
            manifest_version: 1,
            tool: ToolInfo::this(),
            scenario: None,
            seed: None,
            model: None,
            evaluation: None,
            job: None,
            png_copies: false,
            files: Vec::new(),
        };
        match self {
            Subject::Run {
                scenario,
                text,
                results,
                ..
            } => {
                manifest.scenario = Some(ScenarioRecord {
                    name: scenario.config().name.clone(),
                    sha256: sha256_hex(text.as_bytes()),
                    text: text.to_string(),
                });
                manifest.seed = Some(scenario.seed());
                manifest.model =
                    Some(serde_json::to_value(&results.model).expect("the model serializes"));
            }
            Subject::Evaluation { record, .. } => manifest.evaluation = Some((*record).clone()),
        }
        manifest
    }
}

/// Renders every file of a report's bundle: `results.json`, the tables, the figures,
/// `report.md`, `report.html` and `manifest.json`.
///
/// # Errors
/// [`ReportError`] when a plot cannot be drawn.
pub fn build(subject: &Subject<'_>) -> Result<Bundle, ReportError> {
    let results = subject.results();
    let mut files: Vec<(String, Vec<u8>)> = vec![("results.json".into(), results.to_json())];
    files.extend(tables::tables(results.estimates(), results.k()));
    if let Subject::Evaluation { evaluation, .. } = subject
        && !evaluation.verification.is_empty()
    {
        files.extend(tables::verification_tables(&evaluation.verification));
    }
    let figures = figures::of(subject)?;
    Ok(assemble(
        files,
        figures,
        subject.manifest(),
        |refs, hashes| match subject {
            Subject::Run {
                scenario,
                results,
                records,
                ..
            } => document::build(&ReportInput {
                scenario,
                results,
                records,
                figures: refs,
                hashes,
            }),
            Subject::Evaluation { record, evaluation } => {
                document::evaluation::build(record, evaluation, refs, hashes)
            }
        },
    ))
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
    manifest: Manifest,
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
    manifest.seal(files)
}

impl Manifest {
    /// The bundle of `files` and this manifest, which lists every one of them by SHA-256 and
    /// comes last.
    pub(crate) fn seal(mut self, mut files: Vec<(String, Vec<u8>)>) -> Bundle {
        self.files = files
            .iter()
            .map(|(p, b)| FileRecord {
                path: p.clone(),
                sha256: sha256_hex(b),
                bytes: b.len() as u64,
            })
            .collect();
        files.push((MANIFEST.into(), self.to_bytes()));
        Bundle { files }
    }

    /// The bytes of `manifest.json`: pretty JSON, newline-terminated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the manifest serializes");
        bytes.push(b'\n');
        bytes
    }
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
