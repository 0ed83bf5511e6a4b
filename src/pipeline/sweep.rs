//! Sweeps over gallery size: FPIR and SEL against N at each of a scenario's thresholds, from
//! the closed forms at every size (the analytic mode) and by simulation up to a size that can
//! be enumerated; where both run, their agreement.
//!
//! ```text
//! analytic: the closed forms of `closed_form::Expected` over the expected gallery layout at N:
//!           FPIR exact for any number of detections per identity (they match together),
//!           SEL exact in expectation
//! agreement: z = (simulated - analytic) / standard error (binomial for FPIR; for SEL the
//!            simulated interval's half-width over z_(1+level)/2: the interval allows for
//!            searches and identities shared by many comparisons), only where at least 5
//!            events are expected (and 5 non-events for FPIR)
//! ```

use crate::closed_form::Expected;
use crate::estimate::Estimate;
use crate::pipeline::run::{RunError, RunOptions, simulate};
use crate::scenario::Scenario;
use serde::Serialize;

/// One row of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    /// Gallery entries N.
    pub entries: u64,
    /// Threshold label.
    pub threshold: String,
    /// Threshold score.
    pub score: f64,
    /// Analytic FPIR (None outside the closed-form regime).
    pub analytic_fpir: Option<f64>,
    /// Analytic SEL.
    pub analytic_sel: Option<f64>,
    /// Simulated FPIR, when N was simulated.
    pub fpir: Option<Estimate>,
    /// Simulated SEL.
    pub sel: Option<Estimate>,
    /// Standardized difference of FPIR.
    pub z_fpir: Option<f64>,
    /// Standardized difference of SEL.
    pub z_sel: Option<f64>,
    /// The generator that simulated N (generator 1 where the scenario's generator 2 could not
    /// fill every candidate list at that size).
    pub generator: Option<u32>,
}

/// Sizes from `lo` to `hi` (both included), `per_decade` per factor of 10, log-spaced from
/// `lo`, rounded.
pub fn sizes(lo: f64, hi: f64, per_decade: u32) -> Vec<u64> {
    let steps = ((hi / lo).log10() * f64::from(per_decade) + 1e-9)
        .floor()
        .max(0.0) as u32;
    let mut out: Vec<u64> = (0..=steps)
        .map(|i| (lo * 10f64.powf(f64::from(i) / f64::from(per_decade))).round() as u64)
        .collect();
    out.push(hi.round() as u64);
    out.dedup();
    out
}

/// The analytic (FPIR, SEL) at every threshold for a gallery of `n` entries (closed forms
/// over the expected layout; see [`Expected`]).
pub fn analytic(scenario: &Scenario, n: u64) -> Vec<(f64, f64)> {
    Expected::new(scenario)
        .at(n)
        .into_iter()
        .map(|(f, s, _)| (f, s))
        .collect()
}

/// The scenario with a gallery of `n` entries.
///
/// # Errors
/// [`crate::scenario::ScenarioError`] when the resized scenario is not valid.
pub fn resized(scenario: &Scenario, n: u64) -> Result<Scenario, crate::scenario::ScenarioError> {
    scenario.with_detections(n)
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A resized scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// A simulation failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Sweeps `sizes`, simulating those up to `simulate_up_to`; `progress` is told each size.
///
/// # Errors
/// [`SweepError`] when a resized scenario is invalid or a simulation fails.
pub fn sweep(
    scenario: &Scenario,
    sizes: &[u64],
    simulate_up_to: u64,
    options: &RunOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<SweepRow>, SweepError> {
    let mut rows = Vec::new();
    let z_level =
        crate::special::normal_quantile(0.5 + scenario.config().analysis.confidence_level / 2.0);
    // A normal z needs enough expected events; with fewer the comparison is left out.
    let enough = |expected: f64| expected >= 5.0;
    let expected = Expected::new(scenario);
    for &n in sizes {
        progress(n);
        let analytic: Option<Vec<(f64, f64)>> =
            Some(expected.at(n).into_iter().map(|(f, s, _)| (f, s)).collect());
        let simulated = if n <= simulate_up_to {
            let s = resized(scenario, n)?;
            // Generator 2 fails where a small gallery leaves a candidate list unfilled; the
            // same law drawn in full (generator 1) simulates that size.
            let (mut output, generator) = match simulate(&s, options) {
                Err(RunError::Screened(_)) => (simulate(&s.with_generator(1)?, options)?, 1),
                output => (output?, s.config().search.generator),
            };
            Some((output.estimates.slices.swap_remove(0), generator))
        } else {
            None
        };
        let generator = simulated.as_ref().map(|s| s.1);
        let simulated = simulated.map(|s| s.0);
        for (t, threshold) in scenario.thresholds().iter().enumerate() {
            let a = analytic.as_ref().map(|a| a[t]);
            let row = simulated.as_ref().map(|s| &s.thresholds[t]);
            let fpir = row.and_then(|r| r.fpir.clone());
            let sel = row.and_then(|r| r.sel.clone());
            let z_fpir = match (&fpir, a) {
                (Some(e), Some((p, _)))
                    if enough(p * e.trials as f64) && enough((1.0 - p) * e.trials as f64) =>
                {
                    Some((e.value - p) / (p * (1.0 - p) / e.trials as f64).sqrt())
                }
                _ => None,
            };
            // SEL: the simulated interval's half-width as the standard error; that interval
            // allows for searches and gallery identities shared by many comparisons (the
            // two-way cluster design effect).
            let z_sel = match (&sel, a) {
                (Some(e), Some((_, m))) if e.upper > e.lower && enough(m * e.trials as f64) => {
                    let se = (e.upper - e.lower) / (2.0 * z_level);
                    Some((e.value - m) / se)
                }
                _ => None,
            };
            rows.push(SweepRow {
                entries: n,
                threshold: threshold.label.clone(),
                score: threshold.score,
                analytic_fpir: a.map(|x| x.0),
                analytic_sel: a.map(|x| x.1),
                fpir,
                sel,
                z_fpir,
                z_sel,
                generator,
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_log_spaced_and_inclusive() {
        assert_eq!(sizes(1e3, 1e5, 1), vec![1000, 10_000, 100_000]);
        assert_eq!(sizes(1e3, 1e4, 2), vec![1000, 3162, 10_000]);
        assert_eq!(sizes(5.0, 5.0, 3), vec![5]);
        assert_eq!(sizes(1e4, 2.8e5, 1), vec![10_000, 100_000, 280_000]);
    }
}
