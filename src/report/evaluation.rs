//! The bundle of an evaluation of imported data: the same files as a simulated run's bundle
//! (results.json, tables/, plots/, report.md, report.html, manifest.json), with the input files
//! recorded by SHA-256 where a simulated run records its scenario and seed.

use super::document;
use super::plots;
use super::{Bundle, MANIFEST, Manifest, ReportError, ToolInfo, VerifyError};
use crate::import::evaluate::{
    EvaluateError, EvaluateOptions, Evaluation, evaluate_embeddings, evaluate_scores,
};
use crate::import::scores::ScoreFormat;
use crate::run::RunOptions;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An input file of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// "embeddings", "metadata" or "scores".
    pub role: String,
    /// The path as given on the command line.
    pub path: String,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The path from the bundle folder to the file, so that `verify` finds it from any working
    /// directory (absent in bundles made before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_bundle: Option<String>,
    /// Where `verify` found the file (not recorded).
    #[serde(skip)]
    pub found_at: Option<std::path::PathBuf>,
}

/// The relative path from folder `base` (which need not exist yet) to the existing file
/// `target`, through their canonical forms (of `base`, its nearest existing ancestor's).
fn relative_path(target: &Path, base: &Path) -> Option<String> {
    use std::path::Component;
    let target = std::fs::canonicalize(target).ok()?;
    let base = if base.is_absolute() {
        base.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(base)
    };
    let mut existing = base.as_path();
    let mut missing = Vec::new();
    while !existing.exists() {
        missing.push(existing.file_name()?);
        existing = existing.parent()?;
    }
    let mut base = std::fs::canonicalize(existing).ok()?;
    for m in missing.iter().rev() {
        base.push(m);
    }
    let (t, b): (Vec<Component<'_>>, Vec<Component<'_>>) =
        (target.components().collect(), base.components().collect());
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = std::path::PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out.to_str().map(|s| s.replace('\\', "/"))
}

impl InputFile {
    /// Describes a file (hashing it in a streaming pass).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn of(role: &str, path: &Path) -> Result<Self, crate::embeddings::EmbeddingError> {
        Ok(Self {
            role: role.into(),
            path: path.display().to_string(),
            sha256: crate::embeddings::sha256_file(path)?,
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            from_bundle: None,
            found_at: None,
        })
    }

    /// Records the path from the bundle folder `bundle` to the file.
    pub fn seen_from(mut self, bundle: &Path) -> Self {
        self.from_bundle = relative_path(Path::new(&self.path), bundle);
        self
    }

    /// Where to read the file: as seen from the bundle `dir` when that file exists, else the
    /// path as given.
    pub fn locate(&mut self, dir: &Path) {
        self.found_at = self
            .from_bundle
            .as_ref()
            .map(|r| dir.join(r))
            .filter(|p| p.is_file());
    }

    /// The file to read.
    pub fn file(&self) -> &Path {
        self.found_at
            .as_deref()
            .unwrap_or_else(|| Path::new(&self.path))
    }
}

/// What an evaluation read and how: enough to repeat it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    /// "embeddings" or "scores".
    pub kind: String,
    /// The input files.
    pub inputs: Vec<InputFile>,
    /// The score-file layout asked for (None: detected).
    pub format: Option<ScoreFormat>,
    /// Raw score thresholds, ascending.
    pub thresholds: Vec<f64>,
    /// The headline threshold.
    pub headline: f64,
    /// Candidate list length K.
    pub k: usize,
    /// Target FMRs.
    pub targets: Vec<f64>,
    /// Bad rows counted instead of stopping.
    pub skip_bad_rows: bool,
    /// Confidence level.
    pub confidence_level: f64,
    /// Subject-bootstrap draws.
    pub bootstrap_draws: u32,
    /// Seed of the bootstrap streams.
    pub seed: u64,
}

impl EvaluationRecord {
    fn input(&self, role: &str) -> Option<&Path> {
        self.inputs
            .iter()
            .find(|i| i.role == role)
            .map(InputFile::file)
    }

    /// The evaluation options this record describes.
    pub fn options(&self, run: RunOptions) -> EvaluateOptions {
        EvaluateOptions {
            headline: self
                .thresholds
                .iter()
                .position(|&t| t == self.headline)
                .unwrap_or(0),
            thresholds: self.thresholds.clone(),
            k: self.k,
            targets: self.targets.clone(),
            confidence_level: self.confidence_level,
            bootstrap_draws: self.bootstrap_draws,
            seed: self.seed,
            format: self.format,
            skip_bad_rows: self.skip_bad_rows,
            spill_budget: crate::import::spill::DEFAULT_BUDGET_KEYS,
            run,
        }
    }

    /// Runs the evaluation this record describes.
    ///
    /// # Errors
    /// [`EvaluateError`] as for a first run.
    pub fn evaluate(&self, run: RunOptions) -> Result<Evaluation, EvaluateError> {
        let o = self.options(run);
        match (
            self.input("embeddings"),
            self.input("scores"),
            self.input("metadata"),
        ) {
            (Some(e), _, Some(m)) => evaluate_embeddings(e, m, &o),
            (_, Some(s), m) => evaluate_scores(s, m, &o),
            _ => Err(crate::import::ImportError::File {
                file: MANIFEST.into(),
                message: "the recorded evaluation names no embeddings+metadata or scores file"
                    .into(),
            }
            .into()),
        }
    }

    /// The first input whose bytes no longer match their recorded SHA-256, in words.
    ///
    /// # Errors
    /// [`VerifyError::Input`] when an input cannot be read.
    pub fn changed_input(&self) -> Result<Option<String>, VerifyError> {
        for i in &self.inputs {
            let sha = crate::embeddings::sha256_file(i.file()).map_err(|e| VerifyError::Input {
                path: i.path.clone(),
                message: e.message,
            })?;
            if sha != i.sha256 {
                return Ok(Some(format!(
                    "{}: the {} file changed since the report was made (SHA-256 {} recorded, {} now)",
                    i.path, i.role, i.sha256, sha
                )));
            }
        }
        Ok(None)
    }

    /// The command line that repeats this evaluation.
    pub fn command(&self) -> String {
        let mut c = String::from("falsematch evaluate");
        for i in &self.inputs {
            c.push_str(&format!(" --{} {}", i.role, i.path));
        }
        if let Some(f) = self.format {
            c.push_str(&format!(" --format {}", f.name()));
        }
        let list = |x: &[f64]| {
            x.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        c.push_str(&format!(
            " --thresholds {} --headline {} --k {}",
            list(&self.thresholds),
            self.headline,
            self.k
        ));
        if !self.targets.is_empty() {
            c.push_str(&format!(" --target-fmr {}", list(&self.targets)));
        }
        c.push_str(&format!(
            " --confidence-level {} --bootstrap-draws {} --seed {}",
            self.confidence_level, self.bootstrap_draws, self.seed
        ));
        if self.skip_bad_rows {
            c.push_str(" --skip-bad-rows");
        }
        c
    }
}

/// Definitions a reader of `results.json` needs.
#[derive(Clone, Debug, Serialize)]
pub struct EvaluationConventions {
    /// When a comparison is a candidate / a match.
    pub candidate_rule: &'static str,
    /// Ranks and ties.
    pub ties: &'static str,
    /// The threshold for a target FMR.
    pub target_fmr: &'static str,
    /// The EER.
    pub eer: &'static str,
    /// Intervals.
    pub intervals: &'static str,
}

/// `results.json` of an evaluation.
#[derive(Serialize)]
struct EvaluationResults<'a> {
    schema_version: u32,
    tool: crate::results::Tool,
    kind: &'static str,
    evaluation: &'a EvaluationRecord,
    conventions: EvaluationConventions,
    #[serde(flatten)]
    outcome: &'a Evaluation,
}

/// The conventions of every evaluation.
pub const CONVENTIONS: EvaluationConventions = EvaluationConventions {
    candidate_rule: "a gallery entry is a candidate (a comparison is a match) when its score >= the threshold; higher scores mean more alike",
    ties: "a mate's rank counts every non-mate entry scoring >= the mate (pessimistic); FMR counts impostor scores equal to the threshold as matches and FNMR counts genuine scores equal to it as accepted, as bob.measure, pyeer and scikit-learn do",
    target_fmr: "the lowest impostor score t with FMR(t) <= target (never the nearest); when even the highest impostor score gives more, the next float above it (bob.measure far_threshold)",
    eer: "(FMR + FNMR) / 2 at the threshold minimizing |FMR - FNMR| over every distinct score and +inf, ties to the higher threshold (bob.measure eer); pyeer's EER can differ when the curves cross between scores",
    intervals: "rates: Clopper-Pearson exact, rule-of-3 upper bound at zero events, flag under 30 events; SEL: subject bootstrap when drawn, else exact Poisson; 1:1 rates treat comparisons as independent, which understates the uncertainty when subjects repeat",
};

/// Renders every file of an evaluation's bundle.
///
/// # Errors
/// [`ReportError`] when a plot cannot be drawn.
pub fn build(record: &EvaluationRecord, evaluation: &Evaluation) -> Result<Bundle, ReportError> {
    let results = EvaluationResults {
        schema_version: crate::results::SCHEMA_VERSION,
        tool: crate::results::Tool {
            name: "falsematch",
            version: env!("CARGO_PKG_VERSION"),
        },
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
