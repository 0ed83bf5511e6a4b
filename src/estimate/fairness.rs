//! Differential summaries across demographic groups, at one common threshold, always reported
//! beside the per-group rates they summarise.
//!
//! ```text
//! x_g: a per-group error rate (FPIR, FNIR, FMR, FNMR, or SEL), n groups, mean m
//! Max/GeoMean  = max_g x_g / (prod_g x_g)^(1/n)                     (NIST IR 8429 draft)
//! max/min      = max_g x_g / min_g x_g
//! Gini         = n/(n-1) * sum_{i != j} |x_i - x_j| / (2 n^2 m)     (with the n/(n-1) correction)
//! GARBE        = alpha Gini(false positives) + (1 - alpha) Gini(false negatives)
//! FDR          = 1 - (alpha (max - min)(false positives) + (1 - alpha) (max - min)(false negatives))
//! IR           = (max/min false positives)^alpha (max/min false negatives)^(1 - alpha)
//! ```
//!
//! GARBE: Howard et al., "Evaluating proposed fairness models for face recognition algorithms"
//! (2022), after ISO/IEC DIS 19795-10; FDR: de Freitas Pereira and Marcel (2021); IR: Howard et
//! al. (2022). A summary that divides by zero (a zero rate in a ratio, a zero mean in the Gini)
//! is `None`, never infinite: the report then shows the raw rates alone.

use serde::{Deserialize, Serialize};

/// Summaries of one per-group rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disparity {
    /// Largest rate over the geometric mean of all groups' rates.
    pub max_over_geomean: Option<f64>,
    /// Largest rate over the smallest.
    pub max_over_min: Option<f64>,
    /// Largest rate minus the smallest.
    pub max_minus_min: Option<f64>,
    /// Gini coefficient with the n/(n-1) correction.
    pub gini: Option<f64>,
}

/// Largest over geometric mean; `None` with fewer than 2 values or any zero.
pub fn max_over_geomean(x: &[f64]) -> Option<f64> {
    if x.len() < 2 || x.iter().any(|&v| v <= 0.0) {
        return None;
    }
    let ln_geomean = x.iter().map(|&v| libm::log(v)).sum::<f64>() / x.len() as f64;
    Some(x.iter().copied().fold(f64::MIN, f64::max) / libm::exp(ln_geomean))
}

/// Largest over smallest; `None` with fewer than 2 values or a zero smallest.
pub fn max_over_min(x: &[f64]) -> Option<f64> {
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    (x.len() >= 2 && min > 0.0).then(|| x.iter().copied().fold(f64::MIN, f64::max) / min)
}

/// Largest minus smallest; `None` with fewer than 2 values.
pub fn max_minus_min(x: &[f64]) -> Option<f64> {
    (x.len() >= 2).then(|| {
        x.iter().copied().fold(f64::MIN, f64::max) - x.iter().copied().fold(f64::INFINITY, f64::min)
    })
}

/// Gini coefficient with the n/(n-1) correction; 0 when all values are equal, `None` with
/// fewer than 2 values or a zero mean.
pub fn gini(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    if x.len() < 2 || mean <= 0.0 {
        return None;
    }
    let sum: f64 = x
        .iter()
        .flat_map(|a| x.iter().map(move |b| (a - b).abs()))
        .sum();
    Some(n / (n - 1.0) * sum / (2.0 * n * n * mean))
}

impl Disparity {
    /// Every summary of `x`.
    pub fn of(x: &[f64]) -> Self {
        Self {
            max_over_geomean: max_over_geomean(x),
            max_over_min: max_over_min(x),
            max_minus_min: max_minus_min(x),
            gini: gini(x),
        }
    }
}

/// GARBE from the false-positive and false-negative rates of the same groups.
pub fn garbe(false_positive: &[f64], false_negative: &[f64], alpha: f64) -> Option<f64> {
    Some(alpha * gini(false_positive)? + (1.0 - alpha) * gini(false_negative)?)
}

/// Fairness discrepancy rate: 1 is perfectly fair.
pub fn fdr(false_positive: &[f64], false_negative: &[f64], alpha: f64) -> Option<f64> {
    Some(
        1.0 - (alpha * max_minus_min(false_positive)?
            + (1.0 - alpha) * max_minus_min(false_negative)?),
    )
}

/// Inequity rate: 1 is perfectly fair.
pub fn inequity_rate(false_positive: &[f64], false_negative: &[f64], alpha: f64) -> Option<f64> {
    Some(
        max_over_min(false_positive)?.powf(alpha) * max_over_min(false_negative)?.powf(1.0 - alpha),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-12;

    #[test]
    fn hand_computed_values() {
        // x = (1, 2, 4): geometric mean 2, so Max/GeoMean = 2; max/min = 4; max - min = 3.
        let x = [1.0, 2.0, 4.0];
        assert!((max_over_geomean(&x).unwrap() - 2.0).abs() < TOL);
        assert_eq!(max_over_min(&x), Some(4.0));
        assert_eq!(max_minus_min(&x), Some(3.0));
        // Gini: ordered pairs |1-2|, |1-4|, |2-4| twice each = 2 (1 + 3 + 2) = 12;
        // 3/2 * 12 / (2 * 9 * 7/3) = 18 / 42 = 3/7.
        assert!((gini(&x).unwrap() - 3.0 / 7.0).abs() < TOL);
        // Two groups (0.01, 0.03) and (0.1, 0.2), alpha 0.5:
        // Gini(a) = 2 * 0.04 / (2 * 4 * 0.02) = 0.5; Gini(b) = 2 * 0.2 / (2 * 4 * 0.15) = 1/3.
        let (a, b) = ([0.01, 0.03], [0.1, 0.2]);
        assert!((garbe(&a, &b, 0.5).unwrap() - (0.25 + 1.0 / 6.0)).abs() < TOL);
        // FDR = 1 - (0.5 * 0.02 + 0.5 * 0.1) = 0.94.
        assert!((fdr(&a, &b, 0.5).unwrap() - 0.94).abs() < TOL);
        // IR = 3^0.5 * 2^0.5 = sqrt(6).
        assert!((inequity_rate(&a, &b, 0.5).unwrap() - 6f64.sqrt()).abs() < TOL);
    }

    #[test]
    fn equal_rates_are_perfectly_fair_and_degenerate_inputs_give_none() {
        let x = [0.2, 0.2, 0.2];
        assert_eq!(gini(&x), Some(0.0));
        assert_eq!(max_over_min(&x), Some(1.0));
        assert!((max_over_geomean(&x).unwrap() - 1.0).abs() < TOL);
        assert_eq!(fdr(&x, &x, 0.3), Some(1.0));
        assert_eq!(max_over_min(&[0.0, 0.1]), None);
        assert_eq!(max_over_geomean(&[0.0, 0.1]), None);
        assert_eq!(gini(&[0.0, 0.0]), None);
        assert_eq!(gini(&[0.5]), None);
        assert_eq!(inequity_rate(&[0.0, 0.1], &[0.1, 0.2], 0.5), None);
    }
}

/// One group's rates at one threshold (the raw numbers every summary rests on).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupRates {
    /// Probe group.
    pub group: String,
    /// FPIR of its non-mated searches.
    pub fpir: Option<f64>,
    /// SEL of its non-mated searches.
    pub sel: Option<f64>,
    /// FNIR at rank K of its mated searches.
    pub fnir: Option<f64>,
    /// FMR of its non-mated comparisons against the whole archive.
    pub fmr: Option<f64>,
    /// FNMR of its genuine comparisons (each mate detection against the probe).
    pub fnmr: Option<f64>,
}

/// The threshold that gives one group the same within-group FMR as the best-treated group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdShift {
    /// Probe group.
    pub group: String,
    /// Closed-form within-group FMR at the common threshold.
    pub within_group_fmr: f64,
    /// Threshold at which its within-group FMR equals the lowest group's.
    pub threshold: f64,
    /// `threshold` minus the common threshold.
    pub shift: f64,
}

/// Differential summaries at one common threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FairnessRow {
    /// Threshold label.
    pub threshold: String,
    /// Raw score threshold.
    pub score: f64,
    /// Weight of false positives in GARBE, FDR and IR.
    pub alpha: f64,
    /// Per-group rates, in group order (probe groups with searches).
    pub groups: Vec<GroupRates>,
    /// Summaries of FPIR across groups.
    pub fpir: Disparity,
    /// Summaries of SEL across groups.
    pub sel: Disparity,
    /// Summaries of FNIR (rank K) across groups.
    pub fnir: Disparity,
    /// Summaries of FMR across groups.
    pub fmr: Disparity,
    /// Summaries of FNMR across groups.
    pub fnmr: Disparity,
    /// GARBE on (FPIR, FNIR): identification.
    pub garbe_identification: Option<f64>,
    /// FDR on (FPIR, FNIR).
    pub fdr_identification: Option<f64>,
    /// Inequity rate on (FPIR, FNIR).
    pub inequity_rate_identification: Option<f64>,
    /// GARBE on (FMR, FNMR): verification.
    pub garbe_verification: Option<f64>,
    /// FDR on (FMR, FNMR).
    pub fdr_verification: Option<f64>,
    /// Inequity rate on (FMR, FNMR).
    pub inequity_rate_verification: Option<f64>,
    /// Per-group threshold equalizing within-group FMR (closed form; headline threshold only).
    pub threshold_shift: Vec<ThresholdShift>,
}

/// Weight of false positives in GARBE, FDR and IR.
pub const ALPHA: f64 = 0.5;

impl FairnessRow {
    /// Summaries of the given per-group rates.
    pub fn new(threshold: String, score: f64, groups: Vec<GroupRates>) -> Self {
        let pick =
            |f: fn(&GroupRates) -> Option<f64>| groups.iter().filter_map(f).collect::<Vec<f64>>();
        let both = |a: fn(&GroupRates) -> Option<f64>, b: fn(&GroupRates) -> Option<f64>| {
            let pairs: Vec<(f64, f64)> =
                groups.iter().filter_map(|g| Some((a(g)?, b(g)?))).collect();
            (
                pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
                pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
            )
        };
        let (fp_i, fn_i) = both(|g| g.fpir, |g| g.fnir);
        let (fp_v, fn_v) = both(|g| g.fmr, |g| g.fnmr);
        Self {
            threshold,
            score,
            alpha: ALPHA,
            fpir: Disparity::of(&pick(|g| g.fpir)),
            sel: Disparity::of(&pick(|g| g.sel)),
            fnir: Disparity::of(&pick(|g| g.fnir)),
            fmr: Disparity::of(&pick(|g| g.fmr)),
            fnmr: Disparity::of(&pick(|g| g.fnmr)),
            garbe_identification: garbe(&fp_i, &fn_i, ALPHA),
            fdr_identification: fdr(&fp_i, &fn_i, ALPHA),
            inequity_rate_identification: inequity_rate(&fp_i, &fn_i, ALPHA),
            garbe_verification: garbe(&fp_v, &fn_v, ALPHA),
            fdr_verification: fdr(&fp_v, &fn_v, ALPHA),
            inequity_rate_verification: inequity_rate(&fp_v, &fn_v, ALPHA),
            groups,
            threshold_shift: Vec::new(),
        }
    }
}
