//! `results.json`, one model for both kinds of report ([`ResultsFile`]): a simulated run's
//! (the resolved scenario, the model as resolved, the conventions, every estimate with its
//! interval and counts, and each search's candidate list) or an evaluation's (the input
//! files by SHA-256, the settings, the conventions, the data summary and every estimate).
//!
//! Invariants: the bytes depend only on (tool version, scenario, seed): no time, host, thread
//! count or tile size; every map is a list in a fixed order (groups in file order, thresholds
//! ascending). Writing is the report bundle's job (`report::write`).

use crate::estimate::{Estimates, MateDetection, ProbeRecord};
use crate::pipeline::evaluate::{CONVENTIONS, Evaluation, EvaluationConventions, EvaluationRecord};
use crate::pipeline::run::RunOutput;
use crate::quantize::QUANT_SCALE;
use crate::quantize::score_value;
use crate::scenario::{Scenario, ScenarioConfig, Threshold};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Version of the `results.json` layout.
pub const SCHEMA_VERSION: u32 = 1;

/// The tool that wrote the file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tool {
    /// "falsematch".
    pub name: Cow<'static, str>,
    /// Crate version.
    pub version: Cow<'static, str>,
}

impl Tool {
    /// This build of falsematch.
    pub fn this() -> Self {
        Self {
            name: "falsematch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// One group as resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupModel {
    /// Name.
    pub name: String,
    /// Concentration rho_g ("how alike faces of this group look to the algorithm").
    pub rho: f64,
    /// Beta concentration of per-identity rho, if any.
    pub rho_concentration: Option<f64>,
    /// u_g . u_h for every group h, in group order.
    pub direction_cosines: Vec<f64>,
}

/// A capture condition as resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaptureModel {
    /// Name.
    pub name: String,
    /// Lowest capture noise.
    pub noise_min: f64,
    /// Highest capture noise.
    pub noise_max: f64,
}

/// The population model as resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Model {
    /// Embedding dimension d.
    pub dimension: usize,
    /// Demographic block size D.
    pub demographic_dimension: usize,
    /// Effective identity dimension d_eff ("discriminative capacity").
    pub effective_dimension: usize,
    /// Capture-noise block size.
    pub noise_dimension: usize,
    /// Groups.
    pub groups: Vec<GroupModel>,
    /// Gallery capture condition ("capture quality" of the archive).
    pub gallery_capture: CaptureModel,
    /// Probe capture condition.
    pub probe_capture: CaptureModel,
    /// Mean genuine score at the lowest noise levels, sqrt(1-s_a^2) sqrt(1-s_b^2).
    pub genuine_mean: f64,
    /// True when the closed forms hold exactly.
    pub closed_form_regime: bool,
}

/// How scores, ranks and intervals are defined.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Conventions {
    /// Score representation.
    pub score: Cow<'static, str>,
    /// Quantization scale.
    pub quantization_scale: f64,
    /// Smallest score step.
    pub score_resolution: f64,
    /// Largest possible score change from quantization.
    pub max_quantization_error: f64,
    /// Decision rule.
    pub candidate_rule: Cow<'static, str>,
    /// Tie and rank rule.
    pub ties: Cow<'static, str>,
    /// Interval methods.
    pub intervals: Cow<'static, str>,
    /// Confidence level.
    pub confidence_level: f64,
    /// Bootstrap draws.
    pub bootstrap_draws: u32,
}

/// One candidate, for reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CandidateView {
    /// Rank (1-based).
    pub rank: usize,
    /// Score.
    pub score: f64,
    /// Gallery entry.
    pub entry: u64,
    /// Identity.
    pub identity: u64,
    /// Group name.
    pub group: String,
    /// True for a detection of the searched subject.
    pub mate: bool,
}

/// The mate of a mated search, for reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MateView {
    /// Identity.
    pub identity: u64,
    /// Pessimistic rank of the identity.
    pub rank: u64,
    /// Best score.
    pub score: f64,
    /// Every detection.
    pub detections: Vec<MateDetection>,
}

/// One search, for reading.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchView {
    /// Replicate.
    pub replicate: u32,
    /// Probe index.
    pub probe: u32,
    /// Probe group.
    pub group: String,
    /// True for a mated search.
    pub mated: bool,
    /// Highest non-mate score.
    pub max_non_mate_score: Option<f64>,
    /// The mate.
    pub mate: Option<MateView>,
    /// Top-K candidates.
    pub candidates: Vec<CandidateView>,
}

/// The whole file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results<'a> {
    /// Layout version.
    pub schema_version: u32,
    /// Writer.
    pub tool: Tool,
    /// SHA-256 of the scenario text.
    pub scenario_sha256: Cow<'a, str>,
    /// The scenario, every default filled in.
    pub scenario: Cow<'a, ScenarioConfig>,
    /// The model as resolved.
    pub model: Model,
    /// Definitions.
    pub conventions: Conventions,
    /// Thresholds, ascending.
    pub thresholds: Cow<'a, [Threshold]>,
    /// Every estimate.
    pub estimates: Cow<'a, Estimates>,
    /// How far the headline conclusions move with each assumption (closed forms).
    pub sensitivity: crate::estimate::sensitivity::Sensitivity,
    /// The impostor tail the model uses, in words.
    pub tail: String,
    /// The results under other tails (scenario `report.tails`; closed forms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tails: Option<crate::estimate::sensitivity::Tails>,
    /// Every search and its candidate list (empty, and left out, when the scenario sets
    /// `report.list_searches = false`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub searches: Vec<SearchView>,
}

impl<'a> Results<'a> {
    /// Assembles the results of a run.
    pub fn new(scenario: &'a Scenario, output: &'a RunOutput) -> Self {
        let capture = |i: usize| {
            let c = &scenario.captures()[i];
            CaptureModel {
                name: c.name.clone(),
                noise_min: c.noise_min,
                noise_max: c.noise_max,
            }
        };
        let (sa, sb) = (
            scenario.captures()[scenario.probe_capture()].noise_min,
            scenario.captures()[scenario.gallery_capture()].noise_min,
        );
        let precision = scenario.config().search.precision;
        Results {
            schema_version: SCHEMA_VERSION,
            tool: Tool::this(),
            scenario_sha256: Cow::Borrowed(scenario.text_sha256()),
            scenario: Cow::Borrowed(scenario.config()),
            model: Model {
                dimension: scenario.dim(),
                demographic_dimension: scenario.demographic_dim(),
                effective_dimension: scenario.effective_dim(),
                noise_dimension: scenario.noise_dim(),
                groups: scenario
                    .groups()
                    .iter()
                    .map(|g| GroupModel {
                        name: g.name.clone(),
                        rho: g.rho,
                        rho_concentration: g.rho_concentration,
                        direction_cosines: scenario
                            .groups()
                            .iter()
                            .map(|h| {
                                g.direction
                                    .iter()
                                    .zip(&h.direction)
                                    .map(|(a, b)| a * b)
                                    .sum()
                            })
                            .collect(),
                    })
                    .collect(),
                gallery_capture: capture(scenario.gallery_capture()),
                probe_capture: capture(scenario.probe_capture()),
                genuine_mean: (1.0 - sa * sa).sqrt() * (1.0 - sb * sb).sqrt(),
                closed_form_regime: scenario.is_closed_form_regime(),
            },
            conventions: Conventions {
                score: precision.convention().into(),
                quantization_scale: QUANT_SCALE,
                score_resolution: 1.0 / (QUANT_SCALE * QUANT_SCALE),
                max_quantization_error: precision.max_quantization_error(scenario.dim()),
                candidate_rule: "an entry is a candidate at threshold T when its score >= T".into(),
                ties: "candidate lists break ties by lower gallery index; a mate's rank counts every non-mate entry scoring >= the mate (ties against the mate, pessimistic)".into(),
                intervals: "rates: Clopper-Pearson exact, with a rule-of-3 upper bound at zero events and a flag under 30 events; FPIR and SEL also (SEL mainly) by percentile bootstrap over probe subjects with gallery identities fixed; SEL also exact Poisson; FMR pairs share subjects, so their Clopper-Pearson intervals are narrower than the truth outside the closed-form regime".into(),
                confidence_level: scenario.config().analysis.confidence_level,
                bootstrap_draws: scenario.config().analysis.bootstrap_draws,
            },
            thresholds: Cow::Borrowed(scenario.thresholds()),
            estimates: Cow::Borrowed(&output.estimates),
            sensitivity: crate::estimate::sensitivity::sensitivity(scenario),
            tail: crate::estimate::sensitivity::tail_words(scenario),
            tails: crate::estimate::sensitivity::tails(scenario),
            searches: if scenario.config().report.list_searches == Some(false) {
                Vec::new()
            } else {
                output
                    .records
                    .iter()
                    .map(|r| search_view(scenario, r))
                    .collect()
            },
        }
    }

    /// Reads `results.json` as [`to_json`](Self::to_json) wrote it (any version with this
    /// schema); writing it again gives the same bytes.
    ///
    /// # Errors
    /// When the bytes are not a results.json of this schema (the path and line in the message).
    pub fn from_json(bytes: &[u8]) -> Result<Results<'static>, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The JSON bytes (pretty, newline-terminated).
    pub fn to_json(&self) -> Vec<u8> {
        pretty(self)
    }
}

fn search_view(scenario: &Scenario, r: &ProbeRecord) -> SearchView {
    let group = |g: u16| scenario.groups()[g as usize].name.clone();
    SearchView {
        replicate: r.replicate,
        probe: r.probe,
        group: group(r.group),
        mated: r.mate.is_some(),
        max_non_mate_score: (r.max_nonmate > i32::MIN).then(|| score_value(r.max_nonmate)),
        mate: r.mate.as_ref().map(|m| MateView {
            identity: m.identity,
            rank: m.rank,
            score: score_value(m.best_score),
            detections: m.detections.clone(),
        }),
        candidates: r
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| CandidateView {
                rank: i + 1,
                score: score_value(c.score),
                entry: c.entry,
                identity: c.identity,
                group: group(c.group),
                mate: c.mate,
            })
            .collect(),
    }
}

/// `results.json` of an evaluation of imported data: the record of its inputs and settings,
/// the conventions, and everything the evaluation produced (flattened).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvaluationResults<'a> {
    /// Layout version.
    pub schema_version: u32,
    /// Writer.
    pub tool: Tool,
    /// Always "evaluation" (a run's file has no `kind`).
    pub kind: Cow<'static, str>,
    /// The input files by SHA-256 and the settings.
    pub evaluation: Cow<'a, EvaluationRecord>,
    /// Definitions.
    pub conventions: EvaluationConventions,
    /// Data summary, plan, estimates, 1:1 estimates, skipped rows, notes.
    #[serde(flatten)]
    pub outcome: Cow<'a, Evaluation>,
}

/// Any `results.json` falsematch writes for a report: a simulated run's or an evaluation's.
/// The two share the estimates (`estimates`) and differ in where the numbers come from.
#[derive(Clone, Debug)]
pub enum ResultsFile<'a> {
    /// A simulated run (boxed, like the other: both are large).
    Run(Box<Results<'a>>),
    /// An evaluation of imported data.
    Evaluation(Box<EvaluationResults<'a>>),
}

impl<'a> EvaluationResults<'a> {
    /// The results of an evaluation.
    pub fn new(record: &'a EvaluationRecord, evaluation: &'a Evaluation) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            tool: Tool::this(),
            kind: Cow::Borrowed("evaluation"),
            evaluation: Cow::Borrowed(record),
            conventions: CONVENTIONS,
            outcome: Cow::Borrowed(evaluation),
        }
    }
}

impl ResultsFile<'_> {
    /// Reads either kind of `results.json` (told apart by `kind`); writing it again gives the
    /// same bytes.
    ///
    /// # Errors
    /// When the bytes are not a results.json of this schema (the path and line in the message).
    pub fn from_json(bytes: &[u8]) -> Result<ResultsFile<'static>, serde_json::Error> {
        #[derive(Deserialize)]
        struct Kind {
            #[serde(default)]
            kind: Option<String>,
        }
        let kind: Kind = serde_json::from_slice(bytes)?;
        Ok(match kind.kind.as_deref() {
            Some("evaluation") => ResultsFile::Evaluation(Box::new(serde_json::from_slice(bytes)?)),
            _ => ResultsFile::Run(Box::new(Results::from_json(bytes)?)),
        })
    }

    /// The JSON bytes (pretty, newline-terminated).
    pub fn to_json(&self) -> Vec<u8> {
        match self {
            ResultsFile::Run(r) => pretty(r),
            ResultsFile::Evaluation(e) => pretty(e),
        }
    }

    /// The candidate list length K of the rank-K estimates.
    pub fn k(&self) -> usize {
        match self {
            ResultsFile::Run(r) => r.scenario.search.candidate_list_length,
            ResultsFile::Evaluation(e) => e.outcome.plan.k,
        }
    }

    /// The 1:N estimates, the same model for both kinds.
    pub fn estimates(&self) -> &Estimates {
        match self {
            ResultsFile::Run(r) => &r.estimates,
            ResultsFile::Evaluation(e) => &e.outcome.estimates,
        }
    }
}

/// Pretty JSON, newline-terminated: the bytes of every `results.json`.
fn pretty(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .expect("results contain only finite numbers, strings and lists");
    bytes.push(b'\n');
    bytes
}
