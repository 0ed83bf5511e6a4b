//! Calibration: solve the model's parameters from published operating points with the closed
//! forms (MODEL.md sections 3-4), then write the calibrated scenario.
//!
//! ```text
//! genuine mean m (both captures alike)   ->  capture noise s = sqrt(1 - m)
//! a second operating point of one group  ->  effective dimension d_eff (integer bisection: with
//!                                            rho solved for the first point, the FMR at the
//!                                            second threshold moves monotonically with d_eff)
//! FMR_g at threshold T, per group        ->  rho_g (bisection: within-group FMR rises with rho)
//! ```
//!
//! Targets out of the model's reach (an FMR below what rho = 0 gives, or above rho = 0.999) are
//! errors that say which parameter to move. The check by simulation is `falsematch calibrate
//! --check`, which runs the calibrated scenario and sets each target beside the simulated rate.

mod data;
mod fit;
mod targets;

pub use data::{
    MAX_EMBEDDING_COMPARISONS, ObservedPoint, ScoreFit, ScoreFitOptions, embeddings_to_scores,
    fit_embeddings, fit_scores, score_fit_header, score_fit_table,
};
pub use fit::{OperatingPoint, fit};
pub use targets::calibrate;

use crate::closed_form::PairModel;
use crate::scenario::{Scenario, ScenarioConfig};
use serde::Serialize;

/// A target within-group FMR at the calibration threshold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupTarget {
    /// Group name.
    pub group: String,
    /// Target FMR (probe and gallery entry both of this group).
    pub fmr: f64,
}

/// A second operating point of one group, to pin d_eff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondPoint {
    /// Group name (must also have a target at the main threshold).
    pub group: String,
    /// Its threshold.
    pub threshold: f64,
    /// Target FMR there.
    pub fmr: f64,
}

/// Everything calibration aims at.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Targets {
    /// The threshold of the per-group targets.
    pub threshold: f64,
    /// Per-group within-group FMR at `threshold`.
    pub groups: Vec<GroupTarget>,
    /// Optional second operating point (pins d_eff).
    pub second: Option<SecondPoint>,
    /// Optional mean genuine score (pins the capture noise of gallery and probe captures).
    pub genuine_mean: Option<f64>,
}

/// One target beside the calibrated model's closed form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetRow {
    /// What: `FMR GROUP at T` or `genuine mean`.
    pub target: String,
    /// Group (empty for the genuine mean).
    pub group: String,
    /// Threshold (NaN-free: 0 for the genuine mean).
    pub threshold: f64,
    /// Target value.
    pub value: f64,
    /// The calibrated model's closed form.
    pub closed_form: f64,
}

impl TargetRow {
    /// The row of a target FMR of `group` at `threshold`, beside the model's `closed_form`.
    pub fn fmr(group: &str, threshold: f64, value: f64, closed_form: f64) -> Self {
        Self {
            target: format!("FMR {group} at {threshold}"),
            group: group.to_string(),
            threshold,
            value,
            closed_form,
        }
    }
}

/// What calibration found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Effective dimension.
    pub effective_dim: usize,
    /// Capture noise of the gallery and probe captures.
    pub noise: (f64, f64),
    /// Calibrated rho per targeted group.
    pub rho: Vec<(String, f64)>,
    /// The fitted spread of rho within groups (Beta concentration k; None: rho fixed).
    pub concentration: Option<f64>,
    /// Targets beside the closed form.
    pub rows: Vec<TargetRow>,
}

impl Calibration {
    /// The solution in one line: effective dimension, capture noise, rho per group.
    pub fn summary(&self) -> String {
        format!(
            "effective dimension {}, capture noise {:.6} (probe) / {:.6} (gallery), rho {}{}",
            self.effective_dim,
            self.noise.0,
            self.noise.1,
            self.rho
                .iter()
                .map(|(g, r)| format!("{g} = {r:.6}"))
                .collect::<Vec<_>>()
                .join(", "),
            self.concentration.map_or(String::new(), |k| format!(
                ", varying per person with Beta concentration {k:.4} (the spread of look-alikeness: lower is a heavier tail)"
            ))
        )
    }
}

impl Calibration {
    /// The printed table: each target, its closed-form value and their ratio, and beside them
    /// what a simulation measured when `simulated` is given (one entry per row).
    pub fn table(&self, simulated: Option<&[Option<Simulated>]>) -> String {
        use std::fmt::Write as _;
        let calibration = self;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n{:<34} {:>12} {:>16} {:>7}{}",
            "target",
            "value",
            "closed form",
            "ratio",
            if simulated.is_some() {
                "  simulated [95 % interval]            z"
            } else {
                ""
            }
        );
        for (i, r) in calibration.rows.iter().enumerate() {
            let sim =
                simulated
                    .and_then(|s| s.get(i).cloned().flatten())
                    .map_or(String::new(), |c| {
                        format!(
                            "  {:<36} {:>5.2}",
                            format!("{:.4e} [{:.3e}, {:.3e}]", c.value, c.lower, c.upper),
                            c.z
                        )
                    });
            let _ = writeln!(
                out,
                "{:<34} {:>12.4e} {:>16.4e} {:>7.3}{sim}",
                r.target,
                r.value,
                r.closed_form,
                r.closed_form / r.value
            );
        }
        out
    }
}

/// Why calibration failed.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// A target, point or option is out of range or names nothing in the scenario (what is
    /// wrong and what is allowed).
    #[error("{0}")]
    Input(String),
    /// The model cannot reach the targets anywhere in its parameter ranges (which target, how
    /// close it came, what to change).
    #[error("{0}")]
    Unreachable(String),
    /// A score or metadata file could not be read (file and line named).
    #[error(transparent)]
    Data(#[from] crate::import::ImportError),
    /// An embeddings file could not be read.
    #[error(transparent)]
    Embeddings(#[from] crate::import::npy::EmbeddingError),
    /// A temporary score file could not be written or read back.
    #[error("{what}: {source}")]
    TemporaryFile {
        /// The file and what was being done.
        what: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The fitted scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// The calibrated configuration could not be written as TOML.
    #[error("cannot write TOML: {0}")]
    Toml(#[from] toml::ser::Error),
}

impl CalibrateError {
    /// The same error with the file name `from` shown as `to` wherever it is named (a temporary
    /// file stands for the file the user gave).
    pub fn renamed(self, from: &str, to: &str) -> Self {
        use crate::import::ImportError;
        let r = |s: String| s.replace(from, to);
        match self {
            Self::Input(m) => Self::Input(r(m)),
            Self::Unreachable(m) => Self::Unreachable(r(m)),
            Self::Data(ImportError::File { file, message }) => Self::Data(ImportError::File {
                file: r(file),
                message: r(message),
            }),
            Self::Data(ImportError::Row {
                file,
                line,
                message,
            }) => Self::Data(ImportError::Row {
                file: r(file),
                line,
                message: r(message),
            }),
            Self::TemporaryFile { what, source } => Self::TemporaryFile {
                what: r(what),
                source,
            },
            other => other,
        }
    }
}

/// A bad target, point or option.
pub(crate) fn err(message: impl Into<String>) -> CalibrateError {
    CalibrateError::Input(message.into())
}

/// Targets the model cannot reach.
pub(crate) fn unreachable(message: impl Into<String>) -> CalibrateError {
    CalibrateError::Unreachable(message.into())
}

/// Largest rho calibration will use.
pub(crate) const MAX_RHO: f64 = 0.999;

/// The within-group pair model under parameters `(d_eff, noise, rho)`.
fn model(scenario: &Scenario, d_eff: usize, noise: (f64, f64), rho: f64) -> PairModel {
    let noise_dim = scenario.dim() - scenario.demographic_dim() - d_eff;
    PairModel {
        effective_dim: d_eff,
        noise_dim,
        rho_a: rho,
        rho_b: rho,
        direction_cosine: 1.0,
        noise_a: noise.0,
        noise_b: noise.1,
    }
}

/// rho with within-group FMR `target` at `threshold` (bisection; FMR rises with rho).
pub(crate) fn solve_rho(
    scenario: &Scenario,
    g: usize,
    d_eff: usize,
    noise: (f64, f64),
    threshold: f64,
    target: f64,
) -> Result<f64, CalibrateError> {
    let fmr = |rho: f64| model(scenario, d_eff, noise, rho).fmr(threshold);
    let name = &scenario.groups()[g].name;
    let (lo_fmr, hi_fmr) = (fmr(0.0), fmr(MAX_RHO));
    if target < lo_fmr {
        return Err(unreachable(format!(
            "group `{name}`: FMR {target:e} at {threshold} is below what the model gives with rho = 0 ({lo_fmr:.3e}) at d_eff = {d_eff}; raise the effective dimension or lower the threshold"
        )));
    }
    if target > hi_fmr {
        return Err(unreachable(format!(
            "group `{name}`: FMR {target:e} at {threshold} is above what the model gives with rho = {MAX_RHO} ({hi_fmr:.3e}); lower the effective dimension or the capture noise"
        )));
    }
    Ok(crate::special::bisect(0.0, MAX_RHO, 60, |rho| {
        fmr(rho) < target
    }))
}

/// A target as a simulation of the calibrated scenario measured it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Simulated {
    /// Simulated value.
    pub value: f64,
    /// Lower bound of its 95 % interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// (simulated - target) / standard error.
    pub z: f64,
}

/// Each calibration row's target beside a simulation of the calibrated scenario (None when the
/// run measured nothing for it): within-group FMR from the cross-group cells at the row's
/// threshold, the genuine mean from every mate detection's score.
pub fn check(
    scenario: &Scenario,
    calibration: &Calibration,
    output: &crate::pipeline::run::RunOutput,
) -> Vec<Option<Simulated>> {
    let z95 = crate::special::normal_quantile(0.975);
    calibration
        .rows
        .iter()
        .map(|row| {
            if row.group.is_empty() {
                let scores: Vec<f64> = output
                    .records
                    .iter()
                    .filter_map(|r| r.mate.as_ref())
                    .flat_map(|m| m.detections.iter().map(|d| d.score))
                    .collect();
                let n = scores.len() as f64;
                if n < 2.0 {
                    return None;
                }
                let mean = scores.iter().sum::<f64>() / n;
                let var = scores.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let se = (var / n).sqrt();
                return Some(Simulated {
                    value: mean,
                    lower: mean - z95 * se,
                    upper: mean + z95 * se,
                    z: (mean - row.value) / se.max(f64::MIN_POSITIVE),
                });
            }
            let t = scenario
                .thresholds()
                .iter()
                .position(|t| t.score == row.threshold)?;
            let cell = output.estimates.cross_group[t]
                .cells
                .iter()
                .find(|c| c.probe_group == row.group && c.candidate_group == row.group)?;
            // The standard error allows for repeated sightings (the cell's design effect).
            let e = &cell.fmr;
            let deff = e.design_effect.unwrap_or(1.0);
            let se = (deff * row.value * (1.0 - row.value) / e.trials as f64).sqrt();
            Some(Simulated {
                value: e.value,
                lower: e.lower,
                upper: e.upper,
                z: (e.value - row.value) / se,
            })
        })
        .collect()
}

/// The calibrated scenario as TOML text, with a header saying how it was made.
///
/// # Errors
/// [`CalibrateError`] when the configuration cannot be written as TOML.
pub fn to_toml(
    config: &ScenarioConfig,
    from: &str,
    calibration: &Calibration,
) -> Result<String, CalibrateError> {
    let body = toml::to_string(config)?;
    let mut head = format!(
        "# Calibrated by falsematch {} from {from}.\n# Targets (solved with the closed forms of MODEL.md sections 3-4):\n",
        env!("CARGO_PKG_VERSION")
    );
    for r in &calibration.rows {
        head.push_str(&format!(
            "#   {}: target {:e}, calibrated model {:e} (ratio {:.3})\n",
            r.target,
            r.value,
            r.closed_form,
            r.closed_form / r.value
        ));
    }
    head.push_str(&format!("# Solved: {}\n", calibration.summary()));
    Ok(head + "\n" + &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text_extra: &str) -> Scenario {
        let text = format!(
            r#"
name = "cal"
[embedding]
dimension = 512
effective_dimension = 40
[[attributes]]
name = "region"
values = ["europe", "asia"]
[[groups]]
name = "europe"
attributes = {{ region = "europe" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.3
[[groups]]
name = "asia"
attributes = {{ region = "asia" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.3
[captures.cctv]
noise = 0.3
[gallery]
detections = 1000
capture = "cctv"
[probes]
mated = 0
non_mated = 10
capture = "cctv"
[thresholds]
raw = [0.4]
{text_extra}
"#
        );
        Scenario::from_toml(&text, "cal.toml").unwrap()
    }

    #[test]
    fn recovers_the_design_test_vectors() {
        // MODEL.md sections 3-4: d_eff 13, s 0.645 (genuine mean 0.584), rho 0.047 gives FMR
        // 1.05e-4 at 0.50 and 1.01e-3 at 0.45; rho 0.374 gives about 1.04e-3 at 0.50.
        let s = scenario("");
        let targets = Targets {
            threshold: 0.50,
            groups: vec![
                GroupTarget {
                    group: "europe".into(),
                    fmr: 1.05e-4,
                },
                GroupTarget {
                    group: "asia".into(),
                    fmr: 1.04e-3,
                },
            ],
            second: Some(SecondPoint {
                group: "europe".into(),
                threshold: 0.45,
                fmr: 1.01e-3,
            }),
            genuine_mean: Some(0.584),
        };
        let (config, c) = calibrate(&s, &targets).unwrap();
        assert_eq!(c.effective_dim, 13);
        assert!((c.noise.0 - 0.645).abs() < 1e-3, "{:?}", c.noise);
        let rho = |g: &str| c.rho.iter().find(|r| r.0 == g).unwrap().1;
        assert!((rho("europe") - 0.047).abs() < 2e-3, "{}", rho("europe"));
        assert!((rho("asia") - 0.374).abs() < 5e-3, "{}", rho("asia"));
        for r in &c.rows[..2] {
            assert!((r.closed_form / r.value - 1.0).abs() < 1e-6, "{r:?}");
        }
        // The second point is met as well as an integer d_eff allows.
        assert!(
            (c.rows[2].closed_form / c.rows[2].value - 1.0).abs() < 0.1,
            "{:?}",
            c.rows[2]
        );
        // The written scenario loads and carries the calibration thresholds.
        let text = to_toml(&config, "cal.toml", &c).unwrap();
        let again = Scenario::from_toml(&text, "calibrated.toml").unwrap();
        assert_eq!(again.effective_dim(), 13);
        assert!(again.thresholds().iter().any(|t| t.score == 0.45));
    }

    #[test]
    fn unreachable_targets_say_what_to_move() {
        let s = scenario("");
        let e = calibrate(
            &s,
            &Targets {
                threshold: 0.4,
                groups: vec![GroupTarget {
                    group: "europe".into(),
                    fmr: 1e-30,
                }],
                second: None,
                genuine_mean: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("below what the model gives with rho = 0"), "{e}");
        let e = calibrate(
            &s,
            &Targets {
                threshold: 0.4,
                groups: vec![GroupTarget {
                    group: "africa".into(),
                    fmr: 1e-3,
                }],
                second: None,
                genuine_mean: None,
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no group `africa`") && e.contains("europe, asia"),
            "{e}"
        );
    }
}
