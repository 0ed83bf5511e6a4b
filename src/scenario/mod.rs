//! Scenarios: parse a TOML file (or a bundled one) into a [`ScenarioConfig`], then validate it
//! once into a [`Scenario`] that the rest of the crate trusts.
//!
//! ```text
//! text --toml + serde_path_to_error--> ScenarioConfig --validate--> Scenario
//! ```
//!
//! Invariants: every error names the file and the field (as a path such as `groups[1].rho`)
//! and says what is allowed; nothing after [`Scenario`] can fail on user input.

mod bundled;
mod config;
mod validate;

pub use bundled::{BUNDLED, BundledScenario, DEFAULT_SCENARIO};
pub use config::*;
pub use validate::{MAX_DIMENSION, MAX_SEED};

use sha2::{Digest, Sha256};
use std::path::Path;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A directory was given.
    #[error("{file}: is a directory; give a scenario file (.toml) or a bundled scenario name")]
    IsDirectory {
        /// The path.
        file: String,
    },
    /// The file is empty.
    #[error(
        "{file}: is empty; a scenario needs at least name, attributes, groups, captures, gallery, probes and thresholds"
    )]
    Empty {
        /// The file.
        file: String,
    },
    /// TOML syntax, an unknown key, a wrong type or a missing field.
    #[error("{file}:{line}:{column}: {location}{message}")]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// "field `a.b`: " or empty.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A value out of its allowed range, or inconsistent with another.
    #[error("{file}: field `{field}`: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// Path of the field.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Neither a file nor a bundled scenario.
    #[error(
        "{name}: no such file, and not a bundled scenario{suggestion} (bundled: {bundled}); see `falsematch scenarios`"
    )]
    Unknown {
        /// What was asked for.
        name: String,
        /// "; did you mean `NAME`?" for a bundled name a few edits away, else empty.
        suggestion: String,
        /// Bundled names.
        bundled: String,
    },
}

/// A resolved threshold.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Threshold {
    /// Label as shown in reports, e.g. `0.50` or `67 % [identity]`.
    pub label: String,
    /// Raw score T (a candidate is returned when score >= T).
    pub score: f64,
    /// Where it comes from, in words: "raw score", or e.g. "67 % read as (1 + score)/2".
    pub origin: String,
}

impl Threshold {
    /// A raw score threshold, labelled as scenarios label them ("0.50", or "0.301").
    pub fn raw(score: f64) -> Self {
        Self {
            label: validate::raw_label(score),
            score,
            origin: "raw score".into(),
        }
    }
}

/// A demographic group, validated.
#[derive(Clone, Debug)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Unit direction u_g in the demographic block.
    pub direction: Vec<f64>,
    /// Share of gallery identities.
    pub gallery_share: f64,
    /// Share of probes.
    pub probe_share: f64,
    /// Concentration rho_g.
    pub rho: f64,
    /// Beta concentration of per-identity rho, if rho varies per identity.
    pub rho_concentration: Option<f64>,
}

/// A capture condition, validated.
#[derive(Clone, Debug)]
pub struct Capture {
    /// Name.
    pub name: String,
    /// Lowest capture noise.
    pub noise_min: f64,
    /// Highest capture noise (equal to `noise_min` when fixed).
    pub noise_max: f64,
}

impl Capture {
    /// True when every capture of this condition has the same noise.
    pub fn is_fixed(&self) -> bool {
        self.noise_min == self.noise_max
    }
}

/// A class of gallery identities by how often they are seen.
#[derive(Clone, Debug)]
pub struct IdentityClass {
    /// Label.
    pub label: String,
    /// Mean detections per identity.
    pub mean_detections: f64,
    /// Distribution of the count.
    pub distribution: CountDistribution,
}

/// A validated scenario: everything the simulator needs, nothing it must check again.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario as resolved, every default filled in (recorded in results).
    config: ScenarioConfig,
    /// SHA-256 of the scenario text, hex.
    text_sha256: String,
    /// Embedding dimension d.
    dim: usize,
    /// Size of the demographic block (total number of attribute values).
    demographic_dim: usize,
    /// Effective identity dimension d_eff.
    effective_dim: usize,
    /// Size of the capture-noise block, d - D - d_eff.
    noise_dim: usize,
    /// Groups, in file order.
    groups: Vec<Group>,
    /// Capture conditions, in name order.
    captures: Vec<Capture>,
    /// Identity classes of the gallery.
    identity_classes: Vec<IdentityClass>,
    /// Cumulative shares of the identity classes.
    class_cumulative: Vec<f64>,
    /// Cumulative gallery shares of the groups.
    gallery_group_cumulative: Vec<f64>,
    /// Cumulative probe shares of the groups.
    probe_group_cumulative: Vec<f64>,
    /// Index of the gallery's capture condition.
    gallery_capture: usize,
    /// Index of the probes' capture condition.
    probe_capture: usize,
    /// Thresholds, ascending by score.
    thresholds: Vec<Threshold>,
    /// Index (into `thresholds`) of the headline threshold.
    headline: usize,
    /// Look-alikes (None: the sphere model).
    tail: Option<Tail>,
}

/// Read access: a validated scenario is never changed (a different seed or size is a new
/// scenario, validated again: [`Scenario::with_seed`], [`Scenario::with_detections`]).
impl Scenario {
    /// The scenario as resolved, every default filled in (recorded in results).
    pub fn config(&self) -> &ScenarioConfig {
        &self.config
    }

    /// SHA-256 of the scenario text, hex.
    pub fn text_sha256(&self) -> &str {
        &self.text_sha256
    }

    /// Embedding dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Size of the demographic block (total number of attribute values).
    pub fn demographic_dim(&self) -> usize {
        self.demographic_dim
    }

    /// Effective identity dimension d_eff.
    pub fn effective_dim(&self) -> usize {
        self.effective_dim
    }

    /// Size of the capture-noise block, d - D - d_eff.
    pub fn noise_dim(&self) -> usize {
        self.noise_dim
    }

    /// Groups, in file order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Capture conditions, in name order.
    pub fn captures(&self) -> &[Capture] {
        &self.captures
    }

    /// Identity classes of the gallery.
    pub fn identity_classes(&self) -> &[IdentityClass] {
        &self.identity_classes
    }

    /// Cumulative shares of the identity classes.
    pub fn class_cumulative(&self) -> &[f64] {
        &self.class_cumulative
    }

    /// Cumulative gallery shares of the groups.
    pub fn gallery_group_cumulative(&self) -> &[f64] {
        &self.gallery_group_cumulative
    }

    /// Cumulative probe shares of the groups.
    pub fn probe_group_cumulative(&self) -> &[f64] {
        &self.probe_group_cumulative
    }

    /// Index of the gallery's capture condition.
    pub fn gallery_capture(&self) -> usize {
        self.gallery_capture
    }

    /// Index of the probes' capture condition.
    pub fn probe_capture(&self) -> usize {
        self.probe_capture
    }

    /// Thresholds, ascending by score.
    pub fn thresholds(&self) -> &[Threshold] {
        &self.thresholds
    }

    /// Index (into `thresholds`) of the headline threshold.
    pub fn headline(&self) -> usize {
        self.headline
    }

    /// Look-alikes (None: the sphere model).
    pub fn tail(&self) -> Option<Tail> {
        self.tail
    }

    /// The same scenario with another seed (`--seed`), validated again.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] for a seed above 2^63 - 1.
    pub fn with_seed(self, seed: u64) -> Result<Self, ScenarioError> {
        let mut config = self.config;
        config.seed = seed;
        let mut s = Self::from_config(config, "--seed")?;
        s.text_sha256 = self.text_sha256;
        Ok(s)
    }

    /// The same scenario with a gallery of `detections` entries (a sweep's sizes), validated
    /// again.
    ///
    /// # Errors
    /// [`ScenarioError::Invalid`] when the size is out of range.
    pub fn with_detections(&self, detections: u64) -> Result<Self, ScenarioError> {
        self.changed(&format!("{} at N = {detections}", self.config.name), |c| {
            c.gallery.detections = detections
        })
    }

    /// The same scenario with its configuration changed by `change`, validated again (`what`
    /// names the change in errors).
    ///
    /// # Errors
    /// [`ScenarioError`] when the changed configuration is not valid.
    pub fn changed(
        &self,
        what: &str,
        change: impl FnOnce(&mut ScenarioConfig),
    ) -> Result<Self, ScenarioError> {
        let mut config = self.config.clone();
        change(&mut config);
        Self::from_config(config, what)
    }

    /// The same scenario drawn by another generator (`[search] generator`), validated again.
    ///
    /// # Errors
    /// [`ScenarioError`] when the scenario cannot use that generator.
    pub fn with_generator(&self, generator: u32) -> Result<Self, ScenarioError> {
        self.changed(
            &format!("{} with generator {generator}", self.config.name),
            |c| c.search.generator = generator,
        )
    }
}

/// Look-alikes, validated (see [`TailConfig`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tail {
    /// Share of people with look-alikes, lambda.
    pub share: f64,
    /// Look-alike groups (centres), K.
    pub groups: u64,
    /// Closeness to the centre, kappa.
    pub closeness: f64,
}

impl Tail {
    /// The chance that two strangers are look-alikes (share a centre): lambda^2 / K.
    pub fn pair_share(&self) -> f64 {
        self.share * self.share / self.groups as f64
    }
}

impl Scenario {
    /// Parses and validates scenario text; `file` names it in errors.
    ///
    /// # Errors
    /// [`ScenarioError`] naming the file, the line or field, and what is allowed.
    pub fn from_toml(text: &str, file: &str) -> Result<Self, ScenarioError> {
        if text.trim().is_empty() {
            return Err(ScenarioError::Empty { file: file.into() });
        }
        let config = parse(text, file)?;
        let mut scenario = validate::validate(config, file)?;
        scenario.text_sha256 = sha256_hex(text.as_bytes());
        Ok(scenario)
    }

    /// Validates a configuration built in code (a variant of a loaded scenario: resized for a
    /// sweep, or one assumption moved for the sensitivity table); `what` names it in errors.
    /// Its text hash is that of its TOML form.
    ///
    /// # Errors
    /// [`ScenarioError`] when the configuration is not valid.
    pub fn from_config(config: ScenarioConfig, what: &str) -> Result<Self, ScenarioError> {
        let text = toml::to_string(&config).unwrap_or_default();
        let mut scenario = validate::validate(config, what)?;
        scenario.text_sha256 = sha256_hex(text.as_bytes());
        Ok(scenario)
    }

    /// Loads a scenario from a path, or by the name of a bundled scenario.
    ///
    /// # Errors
    /// [`ScenarioError`] as for [`Scenario::from_toml`], or when the file cannot be read.
    pub fn load(path_or_name: &str) -> Result<(Self, String), ScenarioError> {
        let path = Path::new(path_or_name);
        if path.is_dir() {
            return Err(ScenarioError::IsDirectory {
                file: path_or_name.into(),
            });
        }
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
                file: path_or_name.into(),
                source,
            })?;
            return Ok((Self::from_toml(&text, path_or_name)?, text));
        }
        match BUNDLED.iter().find(|b| b.name == path_or_name) {
            Some(b) => Ok((Self::from_toml(b.text, b.file)?, b.text.to_string())),
            None => Err(ScenarioError::Unknown {
                name: path_or_name.into(),
                suggestion: BUNDLED
                    .iter()
                    .map(|b| (edit_distance(b.name, path_or_name), b.name))
                    .filter(|&(d, _)| d <= 3)
                    .min()
                    .map_or(String::new(), |(_, n)| format!("; did you mean `{n}`?")),
                bundled: BUNDLED
                    .iter()
                    .map(|b| b.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The run seed.
    pub fn seed(&self) -> u64 {
        self.config.seed
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// Number of probes per replicate (mated first, then non-mated).
    pub fn n_probes(&self) -> usize {
        (self.config.probes.mated + self.config.probes.non_mated) as usize
    }

    /// Candidate list length K.
    pub fn k(&self) -> usize {
        self.config.search.candidate_list_length
    }

    /// True when the closed forms of MODEL.md sections 3-4 hold exactly: rho fixed per group,
    /// one detection per identity, and a fixed noise level for gallery and probe captures.
    pub fn is_closed_form_regime(&self) -> bool {
        self.has_closed_form_fmr()
            && self
                .identity_classes
                .iter()
                .all(|c| c.mean_detections == 1.0 && c.distribution == CountDistribution::Fixed)
    }

    /// True when the per-comparison closed forms hold: rho fixed per group and a fixed noise
    /// level for gallery and probe captures. Then FMR per group pair and the expected SEL are
    /// exact whatever the detections per identity (but counts are no longer binomial).
    pub fn has_closed_form_fmr(&self) -> bool {
        self.groups.iter().all(|g| g.rho_concentration.is_none())
            && self.captures[self.gallery_capture].is_fixed()
            && self.captures[self.probe_capture].is_fixed()
    }
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse(text: &str, file: &str) -> Result<ScenarioConfig, ScenarioError> {
    let syntax = |span: Option<std::ops::Range<usize>>, location: String, message: &str| {
        let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ScenarioError::Syntax {
            file: file.into(),
            line,
            column,
            location,
            message: message.trim().replace('\n', "; "),
        }
    };
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| syntax(e.span(), String::new(), e.message()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let location = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!("field `{path}`: ")
        };
        let inner = e.into_inner();
        syntax(inner.span(), location, inner.message())
    })
}

/// Levenshtein distance between two strings (by characters).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
