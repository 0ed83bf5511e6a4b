//! What an evaluation read and how, recorded in its bundle's manifest: enough to repeat it
//! (`verify`) and to say which input changed since.

use super::{
    EvaluateError, EvaluateOptions, Evaluation, evaluate_embeddings, evaluate_pairs,
    evaluate_scores,
};
use crate::import::ImportError;
use crate::import::scores::ScoreFormat;
use crate::pipeline::run::RunOptions;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::Path;

/// An input file of an evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// "embeddings", "metadata", "scores", "genuine" or "impostor".
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
    pub fn of(role: &str, path: &Path) -> Result<Self, crate::import::npy::EmbeddingError> {
        Ok(Self {
            role: role.into(),
            path: path.display().to_string(),
            sha256: crate::import::npy::sha256_file(path)?,
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
    /// "embeddings", "scores" or "pairs" (genuine and impostor score files).
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
        if let (Some(g), Some(i)) = (self.input("genuine"), self.input("impostor")) {
            return evaluate_pairs(g, i, &o);
        }
        match (
            self.input("embeddings"),
            self.input("scores"),
            self.input("metadata"),
        ) {
            (Some(e), _, Some(m)) => evaluate_embeddings(e, m, &o),
            (_, Some(s), m) => evaluate_scores(s, m, &o),
            _ => Err(ImportError::File {
                file: "manifest.json".into(),
                message: "the recorded evaluation names no embeddings+metadata, scores, or genuine+impostor files"
                    .into(),
            }
            .into()),
        }
    }

    /// The first input whose bytes no longer match their recorded SHA-256, in words.
    ///
    /// # Errors
    /// [`ImportError::File`] (naming the path as recorded) when an input cannot be read.
    pub fn changed_input(&self) -> Result<Option<String>, ImportError> {
        for i in &self.inputs {
            let sha = crate::import::npy::sha256_file(i.file()).map_err(|e| ImportError::File {
                file: i.path.clone(),
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvaluationConventions {
    /// When a comparison is a candidate / a match.
    pub candidate_rule: Cow<'static, str>,
    /// Ranks and ties.
    pub ties: Cow<'static, str>,
    /// The threshold for a target FMR.
    pub target_fmr: Cow<'static, str>,
    /// The EER.
    pub eer: Cow<'static, str>,
    /// Intervals.
    pub intervals: Cow<'static, str>,
}

/// The conventions of every evaluation.
pub const CONVENTIONS: EvaluationConventions = EvaluationConventions {
    candidate_rule: Cow::Borrowed(
        "a gallery entry is a candidate (a comparison is a match) when its score >= the threshold; higher scores mean more alike",
    ),
    ties: Cow::Borrowed(
        "a mate's rank counts every non-mate entry scoring >= the mate (pessimistic); FMR counts impostor scores equal to the threshold as matches and FNMR counts genuine scores equal to it as accepted, as bob.measure, pyeer and scikit-learn do",
    ),
    target_fmr: Cow::Borrowed(
        "the lowest impostor score t with FMR(t) <= target (never the nearest); when even the highest impostor score gives more, the next float above it (bob.measure far_threshold)",
    ),
    eer: Cow::Borrowed(
        "(FMR + FNMR) / 2 at the threshold minimizing |FMR - FNMR| over every distinct score and +inf, ties to the higher threshold (bob.measure eer); pyeer's EER can differ when the curves cross between scores",
    ),
    intervals: Cow::Borrowed(
        "rates: Clopper-Pearson exact, rule-of-3 upper bound at zero events, flag under 30 events; SEL: subject bootstrap when drawn, else exact Poisson; 1:1 rates treat comparisons as independent, which understates the uncertainty when subjects repeat",
    ),
};
