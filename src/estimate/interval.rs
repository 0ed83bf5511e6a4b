//! Point estimates with intervals.
//!
//! ```text
//! Clopper-Pearson, k events in n trials, level 1 - a:
//!     lower = Beta^-1(a/2; k, n - k + 1)        (0 when k = 0)
//!     upper = Beta^-1(1 - a/2; k + 1, n - k)    (1 when k = n)
//! rule of 3 (k = 0):          upper = -ln(1 - level) / n      (2.996 / n at 95 %)
//! Poisson exact, total k over n searches:
//!     [Gamma^-1(a/2; k) / n,  Gamma^-1(1 - a/2; k + 1) / n]
//! percentile bootstrap:       type-7 quantiles of the resampled statistic
//! clustered (design effect D >= 1 from a two-way cluster variance, see `cluster`):
//!     proportion: Clopper-Pearson on the effective counts k / D of n / D trials (Korn-Graubard)
//!     mean count: D/n x the exact Poisson interval of the effective count k / D
//! ```
//!
//! A rate resting on fewer than 30 events is flagged (Doddington's rule of 30).

use crate::special::{beta_quantile, gamma_quantile};
use serde::{Deserialize, Serialize};

/// Fewer events than this and a rate is flagged as resting on too few events.
pub const RULE_OF_30: u64 = 30;

/// How an interval was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalMethod {
    /// Exact binomial (Clopper-Pearson).
    ClopperPearson,
    /// Percentile bootstrap over probe subjects.
    SubjectBootstrap,
    /// Exact Poisson interval on the total count.
    PoissonExact,
    /// Clopper-Pearson on effective counts: events and trials divided by the design effect of
    /// a two-way (searches x gallery identities) cluster variance.
    ClusterBinomial,
    /// Exact Poisson interval on the effective count (total over the design effect of a
    /// cluster variance), scaled back.
    ClusterPoisson,
}

/// Lower and upper bounds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// An estimate with its interval and the counts behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Point estimate.
    pub value: f64,
    /// Lower bound of the main interval.
    pub lower: f64,
    /// Upper bound of the main interval.
    pub upper: f64,
    /// How the main interval was computed.
    pub method: IntervalMethod,
    /// Events (for a rate) or total count (for a mean count).
    pub events: u64,
    /// Trials (for a rate) or searches (for a mean count).
    pub trials: u64,
    /// True when fewer than 30 events support the estimate.
    pub few_events: bool,
    /// Rule-of-3 style upper bound when no event was seen: -ln(1 - level) / trials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_of_three_upper: Option<f64>,
    /// Subject-bootstrap interval, when it is not the main one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<Bounds>,
    /// Exact Poisson interval, when it is not the main one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poisson: Option<Bounds>,
    /// The design effect the main interval allows for: its variance over the binomial (or
    /// Poisson) one, at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub design_effect: Option<f64>,
}

impl Estimate {
    /// A proportion `events / trials` with its Clopper-Pearson interval. `trials` must be > 0.
    pub fn proportion(events: u64, trials: u64, level: f64) -> Self {
        let b = clopper_pearson(events, trials, level);
        Self {
            value: events as f64 / trials as f64,
            lower: b.lower,
            upper: b.upper,
            method: IntervalMethod::ClopperPearson,
            events,
            trials,
            few_events: events < RULE_OF_30,
            rule_of_three_upper: (events == 0).then(|| -libm::log(1.0 - level) / trials as f64),
            bootstrap: None,
            poisson: None,
            design_effect: None,
        }
    }

    /// A mean count `total / searches`: the bootstrap interval is the main one when given and
    /// at least one event was seen (resampling zeros says nothing), else the exact Poisson
    /// interval. `searches` must be > 0.
    pub fn mean_count(total: u64, searches: u64, level: f64, bootstrap: Option<Bounds>) -> Self {
        let poisson = poisson_exact(total, searches, level);
        let (main, method, extra) = match bootstrap.filter(|_| total > 0) {
            Some(b) => (b, IntervalMethod::SubjectBootstrap, Some(poisson)),
            None => (poisson, IntervalMethod::PoissonExact, None),
        };
        Self {
            value: total as f64 / searches as f64,
            lower: main.lower,
            upper: main.upper,
            method,
            events: total,
            trials: searches,
            few_events: total < RULE_OF_30,
            rule_of_three_upper: (total == 0).then(|| -libm::log(1.0 - level) / searches as f64),
            bootstrap: None,
            poisson: extra,
            design_effect: None,
        }
    }

    /// A proportion whose trials are clustered, with design effect `deff` (>= 1): the
    /// Clopper-Pearson interval of the effective counts `events / deff` in `trials / deff`.
    /// `trials` must be > 0.
    pub fn clustered_proportion(events: u64, trials: u64, level: f64, deff: f64) -> Self {
        let deff = deff.max(1.0);
        let b = clopper_pearson_real(events as f64 / deff, trials as f64 / deff, level);
        Self {
            lower: b.lower,
            upper: b.upper,
            method: IntervalMethod::ClusterBinomial,
            design_effect: Some(deff),
            ..Self::proportion(events, trials, level)
        }
    }

    /// A mean count `total / searches` whose events are clustered, with design effect `deff`
    /// (>= 1): the exact Poisson interval of the effective count `total / deff`, times
    /// `deff / searches`. The subject bootstrap, when drawn, rides along. `searches` must be
    /// > 0.
    pub fn clustered_mean_count(
        total: u64,
        searches: u64,
        level: f64,
        deff: f64,
        bootstrap: Option<Bounds>,
    ) -> Self {
        let deff = deff.max(1.0);
        let b = poisson_exact_real(total as f64 / deff, level);
        let plain = Self::mean_count(total, searches, level, None);
        Self {
            lower: b.lower * deff / searches as f64,
            upper: b.upper * deff / searches as f64,
            method: IntervalMethod::ClusterPoisson,
            rule_of_three_upper: (total == 0)
                .then(|| -libm::log(1.0 - level) * deff / searches as f64),
            bootstrap: bootstrap.filter(|_| total > 0),
            poisson: Some(Bounds {
                lower: plain.lower,
                upper: plain.upper,
            }),
            design_effect: Some(deff),
            ..plain
        }
    }
}

/// Clopper-Pearson interval for `events` in `trials` (> 0) at confidence `level`.
pub fn clopper_pearson(events: u64, trials: u64, level: f64) -> Bounds {
    clopper_pearson_real(events as f64, trials as f64, level)
}

/// Clopper-Pearson interval for a real-valued (effective) count `events` in `trials` (> 0).
pub fn clopper_pearson_real(events: f64, trials: f64, level: f64) -> Bounds {
    let alpha = 1.0 - level;
    let lower = if events <= 0.0 {
        0.0
    } else {
        beta_quantile(events, trials - events + 1.0, alpha / 2.0)
    };
    let upper = if events >= trials {
        1.0
    } else {
        beta_quantile(events + 1.0, trials - events, 1.0 - alpha / 2.0)
    };
    Bounds { lower, upper }
}

/// Exact (Garwood) Poisson interval for a real-valued (effective) count.
pub fn poisson_exact_real(count: f64, level: f64) -> Bounds {
    let alpha = 1.0 - level;
    Bounds {
        lower: if count <= 0.0 {
            0.0
        } else {
            gamma_quantile(count, alpha / 2.0)
        },
        upper: gamma_quantile(count + 1.0, 1.0 - alpha / 2.0),
    }
}

/// Exact Poisson interval for a mean count: `total` events over `searches` (> 0) searches.
pub fn poisson_exact(total: u64, searches: u64, level: f64) -> Bounds {
    let alpha = 1.0 - level;
    let k = total as f64;
    let lower = if total == 0 {
        0.0
    } else {
        gamma_quantile(k, alpha / 2.0)
    };
    let upper = gamma_quantile(k + 1.0, 1.0 - alpha / 2.0);
    Bounds {
        lower: lower / searches as f64,
        upper: upper / searches as f64,
    }
}

/// Type-7 (linear interpolation) quantile of `sorted` (ascending, non-empty) at `q` in [0, 1].
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The central percentile interval of bootstrap replicates at confidence `level`.
pub fn percentile_interval(mut replicates: Vec<f64>, level: f64) -> Bounds {
    replicates.sort_by(f64::total_cmp);
    let alpha = 1.0 - level;
    Bounds {
        lower: quantile_sorted(&replicates, alpha / 2.0),
        upper: quantile_sorted(&replicates, 1.0 - alpha / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Agreement with reference values from other implementations.
    const REF_TOL: f64 = 1e-6;

    #[test]
    fn clopper_pearson_solves_its_defining_equations() {
        // The bounds solve I_lower(k, n - k + 1) = a/2 and I_upper(k + 1, n - k) = 1 - a/2;
        // checked with statrs' incomplete beta, an independent implementation. (The ACLU test:
        // 28 false matches in 535 x 25,000 comparisons.)
        use statrs::function::beta::beta_reg;
        for &(k, n) in &[
            (28u64, 535u64 * 25_000),
            (3, 40),
            (500, 1000),
            (1, 1_000_000_000),
        ] {
            let b = clopper_pearson(k, n, 0.95);
            let (kf, nf) = (k as f64, n as f64);
            assert!(
                (beta_reg(kf, nf - kf + 1.0, b.lower) - 0.025).abs() < REF_TOL * 0.025,
                "{k}/{n}: {b:?}"
            );
            assert!(
                (beta_reg(kf + 1.0, nf - kf, b.upper) - 0.975).abs() < REF_TOL,
                "{k}/{n}: {b:?}"
            );
        }
        // Textbook: 0 of 10 at 95 % has upper bound 1 - 0.025^(1/10) = 0.308497.
        let z = clopper_pearson(0, 10, 0.95);
        assert_eq!(z.lower, 0.0);
        assert!((z.upper - (1.0 - 0.025f64.powf(0.1))).abs() < 1e-12);
        let all = clopper_pearson(10, 10, 0.95);
        assert_eq!(all.upper, 1.0);
        assert!((all.lower - 0.025f64.powf(0.1)).abs() < 1e-12);
    }

    #[test]
    fn poisson_exact_reference_values() {
        // Garwood interval for 0 events: upper = -ln(0.025) = 3.68888.
        let zero = poisson_exact(0, 1, 0.95);
        assert!((zero.upper - 3.688_879_454_113_936).abs() < 1e-9);
        // For 238 events the bounds solve P(238, lower) = 0.025 and P(239, upper) = 0.975,
        // checked with statrs' regularized incomplete gamma.
        use statrs::function::gamma::gamma_lr;
        let b = poisson_exact(238, 1, 0.95);
        assert!(
            (gamma_lr(238.0, b.lower) - 0.025).abs() < REF_TOL * 0.025,
            "{b:?}"
        );
        assert!((gamma_lr(239.0, b.upper) - 0.975).abs() < REF_TOL, "{b:?}");
        // Per search: the same interval divided by the number of searches.
        let per = poisson_exact(238, 4, 0.95);
        assert!((per.upper - b.upper / 4.0).abs() < 1e-12);
    }

    #[test]
    fn quantile_type_7() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_eq!(quantile_sorted(&v, 1.0), 4.0);
        assert!((quantile_sorted(&v, 0.5) - 2.5).abs() < 1e-15);
    }

    proptest! {
        #[test]
        fn proportion_interval_contains_estimate(k in 0u64..200, extra in 0u64..5000, level in 0.8f64..0.999) {
            let n = k + extra + 1;
            let e = Estimate::proportion(k, n, level);
            prop_assert!((0.0..=1.0).contains(&e.value));
            prop_assert!(e.lower <= e.value && e.value <= e.upper, "{:?}", e);
            prop_assert!(e.lower >= 0.0 && e.upper <= 1.0);
            prop_assert_eq!(e.few_events, k < 30);
        }

        #[test]
        fn proportion_interval_narrows_with_more_trials(p in 0.01f64..0.99, n in 20u64..2000) {
            let small = Estimate::proportion((p * n as f64) as u64, n, 0.95);
            let big = Estimate::proportion((p * (4 * n) as f64) as u64, 4 * n, 0.95);
            prop_assert!(big.upper - big.lower < small.upper - small.lower);
        }

        #[test]
        fn mean_count_interval_contains_estimate(total in 0u64..100_000, searches in 1u64..1000) {
            let e = Estimate::mean_count(total, searches, 0.95, None);
            prop_assert!(e.lower <= e.value && e.value <= e.upper, "{:?}", e);
        }
    }
}
