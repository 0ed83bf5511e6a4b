//! The scenario file as written: serde types for the TOML, unchecked.
//!
//! Every table rejects unknown keys. Defaults are filled in by serde, so a deserialized
//! [`ScenarioConfig`] serialized again is the *resolved* scenario that `results.json` records.
//! Field meanings, units and defaults are documented in `datasets/README.md`; ranges are
//! checked in [`super::validate`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// Short name, used for the output folder.
    pub name: String,
    /// One line saying what the scenario asks.
    #[serde(default)]
    pub description: String,
    /// Where the numbers come from (one entry per source).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Which inputs are assumptions rather than published figures (one entry each).
    #[serde(default)]
    pub assumptions: Vec<String>,
    /// Seed of every random stream of the run.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Number of independent replicate galleries (each with its own probes).
    #[serde(default = "default_replicates")]
    pub replicates: u32,
    /// Embedding space.
    #[serde(default)]
    pub embedding: EmbeddingConfig,
    /// Demographic attributes (sex, region, age band, ...).
    pub attributes: Vec<AttributeConfig>,
    /// Demographic groups: cells of the attributes, with their shares and concentration.
    pub groups: Vec<GroupConfig>,
    /// Capture conditions by name, with their noise levels.
    pub captures: BTreeMap<String, CaptureConfig>,
    /// The searched archive.
    pub gallery: GalleryConfig,
    /// The searches.
    pub probes: ProbesConfig,
    /// Candidate lists.
    #[serde(default)]
    pub search: SearchConfig,
    /// Decision thresholds, raw or as vendor percentages.
    pub thresholds: ThresholdsConfig,
    /// Interval settings.
    #[serde(default)]
    pub analysis: AnalysisConfig,
    /// Report settings.
    #[serde(default)]
    pub report: ReportConfig,
    /// Look-alikes: the heavier tail (absent: the reference sphere model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<TailConfig>,
}

/// Look-alikes: a share of people sit close to one of many shared centres in the identity
/// block, so some strangers score like relatives. The tail of the impostor scores becomes a
/// mixture of two Beta-type tails.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TailConfig {
    /// Share of people who have look-alikes (lambda, in [0, 1]).
    pub lookalike_share: f64,
    /// Number of look-alike groups (centres, K >= 1,000); two people with look-alikes share
    /// a centre with probability 1/K.
    pub lookalike_groups: u64,
    /// How close a person is to their centre (kappa, in (0, 1)): their identity directions
    /// have cosine kappa + (1 - kappa) c, c the cosine of two random directions.
    pub closeness: f64,
}

/// A named setting of the model to set beside the scenario's own in the report: another
/// scenario's model (its effective dimension, capture noise, and its first group's rho and
/// spread, given to every group), and any explicit changes on top.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TailAlternative {
    /// Its name, e.g. "FaceNet on LFW".
    pub name: String,
    /// A bundled scenario (or file) whose model to borrow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Effective dimension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_dimension: Option<usize>,
    /// Capture noise of every capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Concentration rho of every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho: Option<f64>,
    /// Spread of rho (Beta concentration) of every group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho_concentration: Option<f64>,
    /// Look-alikes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookalikes: Option<TailConfig>,
    /// Where it comes from.
    #[serde(default)]
    pub source: String,
}

/// Report settings.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Label of the threshold the report's per-group plots and summary lead with (default: the
    /// first percent threshold, else the middle raw one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline_threshold: Option<String>,
    /// The searches in plain words, e.g. "A search like the journalist's".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_description: Option<String>,
    /// List every search and its candidate list in results.json (default true; false for
    /// scenarios with very many searches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_searches: Option<bool>,
    /// Published figures the report sets beside the simulation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedConfig>,
    /// Other impostor tails to set the results beside (closed forms), e.g. a real model's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tails: Vec<TailAlternative>,
}

/// A published figure to compare with: a rate at one of the scenario's thresholds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedConfig {
    /// What was published, in words.
    pub label: String,
    /// `fpir` (share of searches returning anyone), `sel` (false candidates per search),
    /// `fnir` (share of mated searches missing their mate within rank K at the threshold) or
    /// `hit_share` (share of the searches returning anyone whose probe is in `groups`).
    pub metric: String,
    /// The probe groups of a `hit_share`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `check` (the default): the scenario was not calibrated on this figure, so the
    /// comparison can fail; `calibration`: it was, so agreement is by construction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Label of the scenario threshold it corresponds to.
    pub threshold: String,
    /// The published value (when no counts are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Published events (false alerts, false matches), with `searches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// Published number of searches behind `events`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searches: Option<u64>,
    /// Where it was published.
    #[serde(default)]
    pub source: String,
}

fn default_seed() -> u64 {
    1
}
fn default_replicates() -> u32 {
    1
}

/// Embedding space: total dimension and the algorithm's discriminative capacity.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// Embedding dimension d.
    #[serde(default = "default_dimension")]
    pub dimension: usize,
    /// Effective (identity) dimension d_eff.
    #[serde(default = "default_effective_dimension")]
    pub effective_dimension: usize,
}

fn default_dimension() -> usize {
    512
}
fn default_effective_dimension() -> usize {
    13
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            dimension: default_dimension(),
            effective_dimension: default_effective_dimension(),
        }
    }
}

/// One demographic attribute and its values.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeConfig {
    /// Attribute name, e.g. "sex".
    pub name: String,
    /// Its values, e.g. ["female", "male"].
    pub values: Vec<String>,
    /// Weight of each value in the group direction (default 1 each).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
}

/// One demographic group.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Group name, e.g. "male european".
    pub name: String,
    /// The group's value of every attribute.
    pub attributes: BTreeMap<String, String>,
    /// Share of gallery identities in this group.
    pub gallery_share: f64,
    /// Share of probes in this group.
    pub probe_share: f64,
    /// Concentration: how alike faces of this group look to the algorithm, in [0, 1).
    pub rho: f64,
    /// If set, each identity draws its own rho from Beta(rho k, (1 - rho) k) with this k.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rho_concentration: Option<f64>,
}

/// A capture condition.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureConfig {
    /// Capture noise s in [0, 1): 0 is a perfect photo.
    pub noise: f64,
    /// If set, each capture draws its noise uniformly in [noise, noise_max].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_max: Option<f64>,
}

/// The gallery (archive of detections).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryConfig {
    /// Number of gallery entries N (detections).
    pub detections: u64,
    /// Capture condition of gallery detections.
    pub capture: String,
    /// Classes of identities by how often they are seen.
    #[serde(default = "default_identity_classes")]
    pub identity_classes: Vec<IdentityClassConfig>,
}

fn default_identity_classes() -> Vec<IdentityClassConfig> {
    vec![IdentityClassConfig {
        label: "one detection each".into(),
        share: 1.0,
        mean_detections: 1.0,
        distribution: CountDistribution::Fixed,
    }]
}

/// How many detections an identity of a class contributes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityClassConfig {
    /// Label, e.g. "passers-by".
    pub label: String,
    /// Share of identities in this class.
    pub share: f64,
    /// Mean detections per identity (>= 1).
    pub mean_detections: f64,
    /// Distribution of the count.
    #[serde(default)]
    pub distribution: CountDistribution,
}

/// Distribution of detections per identity.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CountDistribution {
    /// Geometric on {1, 2, ...} with the class mean.
    #[default]
    Geometric,
    /// Exactly the class mean (an integer).
    Fixed,
}

/// The searches.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbesConfig {
    /// Searches whose subject is enrolled in the gallery.
    #[serde(default)]
    pub mated: u32,
    /// Searches whose subject is not in the gallery.
    #[serde(default)]
    pub non_mated: u32,
    /// Capture condition of probes.
    pub capture: String,
}

/// Candidate list settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Candidate list length K.
    #[serde(default = "default_k")]
    pub candidate_list_length: usize,
    /// Number format of the search: `int16` (default, exact to 9.3e-10) or `int8` (half the
    /// memory; about twice as fast with AVX-512 VNNI, no faster on AVX2 CPUs; at d = 512
    /// scores move by about 5e-4 typically, up to about 2e-3). Both are bit-for-bit
    /// reproducible.
    #[serde(
        default,
        skip_serializing_if = "crate::quantize::Precision::is_default"
    )]
    pub precision: crate::quantize::Precision,
    /// How the simulated gallery is drawn: 1 (default) draws every detection's embedding; 2
    /// (*screened*) draws every identity, but a detection's capture noise only where some
    /// probe's score could reach the lowest threshold (the rest, which no count, list or rank
    /// can see, are never drawn). The two are equal in law; their random draws differ, so the
    /// number is part of the scenario and of every result's provenance.
    #[serde(
        default = "default_generator",
        skip_serializing_if = "is_default_generator"
    )]
    pub generator: u32,
}

fn default_k() -> usize {
    10
}

fn default_generator() -> u32 {
    1
}

fn is_default_generator(g: &u32) -> bool {
    *g == 1
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            candidate_list_length: default_k(),
            precision: crate::quantize::Precision::default(),
            generator: default_generator(),
        }
    }
}

/// Thresholds, raw and as confidence percentages.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsConfig {
    /// Raw score thresholds (cosine), in [-1, 1].
    #[serde(default)]
    pub raw: Vec<f64>,
    /// Vendor "confidence %" thresholds, in [0, 100].
    #[serde(default)]
    pub percent: Vec<f64>,
    /// How a percentage maps to a raw score; each percent threshold is resolved under each.
    #[serde(default = "default_mappings")]
    pub percent_mappings: Vec<PercentMapping>,
}

fn default_mappings() -> Vec<PercentMapping> {
    vec![PercentMapping::Identity]
}

/// How a vendor's confidence percentage maps to a raw cosine score.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum PercentMapping {
    /// score = % / 100.
    Identity,
    /// % / 100 = (1 + cos) / 2, so score = 2 % / 100 - 1.
    HalfCosine,
    /// % / 100 = 1 / (1 + exp(-slope (score - midpoint))).
    Logistic {
        /// Score printed as 50 %.
        midpoint: f64,
        /// Steepness, per unit of score (> 0).
        slope: f64,
    },
    /// A table of (percent, score) points, both increasing; linear in between.
    #[serde(deserialize_with = "table_points")]
    Table(Vec<(f64, f64)>),
}

/// Table points, each exactly `[percent, score]` (an extra value is an error, never dropped).
fn table_points<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(f64, f64)>, D::Error> {
    let raw: Vec<Vec<f64>> = Vec::deserialize(d)?;
    raw.iter()
        .enumerate()
        .map(|(k, point)| match point[..] {
            [percent, score] => Ok((percent, score)),
            _ => Err(serde::de::Error::custom(format!(
                "point {k} has {} values; give each point as [percent, score]",
                point.len()
            ))),
        })
        .collect()
}

impl PercentMapping {
    /// The raw score of `percent` under this mapping, if it has one.
    pub fn score(&self, percent: f64) -> Option<f64> {
        let p = percent / 100.0;
        match self {
            PercentMapping::Identity => Some(p),
            PercentMapping::HalfCosine => Some(2.0 * p - 1.0),
            PercentMapping::Logistic { midpoint, slope } => {
                (p > 0.0 && p < 1.0).then(|| midpoint + libm::log(p / (1.0 - p)) / slope)
            }
            PercentMapping::Table(points) => points
                .windows(2)
                .find(|w| w[0].0 <= percent && percent <= w[1].0)
                .map(|w| {
                    let t = (percent - w[0].0) / (w[1].0 - w[0].0);
                    w[0].1 + t * (w[1].1 - w[0].1)
                }),
        }
    }

    /// Short name, used in threshold labels.
    pub fn name(&self) -> String {
        match self {
            PercentMapping::Identity => "identity".into(),
            PercentMapping::HalfCosine => "half_cosine".into(),
            PercentMapping::Logistic { midpoint, slope } => format!("logistic {midpoint}/{slope}"),
            PercentMapping::Table(_) => "table".into(),
        }
    }

    /// How a percent is read as a score, in words ("67 % read as ..."), as the reports say it.
    pub fn reading(&self) -> String {
        match self {
            PercentMapping::Identity => "the score itself".into(),
            PercentMapping::HalfCosine => "(1 + score)/2".into(),
            other => other.formula(),
        }
    }

    /// The formula, as shown in reports.
    pub fn formula(&self) -> String {
        match self {
            PercentMapping::Identity => "score = %/100".into(),
            PercentMapping::HalfCosine => "%/100 = (1+score)/2".into(),
            PercentMapping::Logistic { midpoint, slope } => {
                format!("%/100 = 1/(1+exp(-{slope} (score - {midpoint})))")
            }
            PercentMapping::Table(points) => format!(
                "table {}",
                points
                    .iter()
                    .map(|(p, s)| format!("{p} % -> {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Interval settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Bootstrap resamples of probe subjects (0 = no bootstrap).
    #[serde(default = "default_bootstrap")]
    pub bootstrap_draws: u32,
    /// Confidence level of every interval.
    #[serde(default = "default_confidence")]
    pub confidence_level: f64,
}

fn default_bootstrap() -> u32 {
    1000
}
fn default_confidence() -> f64 {
    0.95
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            bootstrap_draws: default_bootstrap(),
            confidence_level: default_confidence(),
        }
    }
}
