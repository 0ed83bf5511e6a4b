//! The size of a run before it starts: its comparisons, its memory and a rough wall time at
//! the reference machine's measured speeds, for the announcement on stderr and for refusing
//! runs beyond `--max-memory` or `--max-time`.
//!
//! ```text
//! seconds = (layout + generation + search) / threads      per detection and comparison
//!         + bootstrap                                     draws x searches x thresholds x slices
//!         + closed forms / threads + report               tail evaluations and hit updates
//! ```
//!
//! Each speed is a constant fitted to measured runs (the constants' docs say which), so the
//! estimate is as good as the machine is like the reference one; README (`run`) lists how far
//! it was from the truth on every bundled scenario.

use super::run::RunOptions;
use crate::estimate::sensitivity::closed_form_cost;
use crate::quantize::Precision;
use crate::scenario::Scenario;

/// The size of a run, known before it starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkEstimate {
    /// Probe-entry comparisons in all replicates.
    pub comparisons: f64,
    /// Approximate peak memory, bytes.
    pub memory_bytes: f64,
    /// Worker threads the estimate assumes.
    pub threads: usize,
    /// Rough wall time at the reference machine's measured speed (benches/README.md).
    pub seconds: f64,
}

/// CPU-seconds per probe-entry comparison on the 2-core machine of benches/README.md (Intel
/// Xeon with AVX-512 VNNI): the part that does not depend on d (consuming the score into the
/// tallies), and the kernel's part at d = 512 in int16 and in int8 (scaling as d); and entries
/// generated per second and thread at d = 512 (generation scales about as d^0.85: the
/// `generate_tile` bench takes 0.31x the time at d = 128). Fitted on 2026-12-07 to three
/// `falsematch run --threads 2` searches that weigh them differently, `throughput-1m` (10^9
/// comparisons, 10^6 entries, d = 512: 5.14 s of search), `kaganskikh-2019` (1.05e9
/// comparisons, 4.2e6 entries: 9.27 s) and `closed-form-check` at 10^7 entries with
/// thresholds from 0.55 (2.5e9 comparisons at d = 128: 8.75 s), and checked on others
/// (README, `run`).
const REFERENCE_CONSUME_SECS: f64 = 2.7e-9;
const REFERENCE_KERNEL_SECS_D512: f64 = 5.1e-9;
const REFERENCE_KERNEL_SECS_D512_INT8: f64 = 2.7e-9;
const REFERENCE_ENTRIES_PER_SEC_D512: f64 = 4.2e5;
/// Gallery detections laid out (every identity's detection count drawn) per second and
/// thread, counting the two layouts of a run (one for the search, one for the estimates):
/// moscow-citywide's 1.575e9 detections take about 27 s each on 2 threads.
const REFERENCE_LAYOUT_DETECTIONS_PER_SEC: f64 = 1.45e7;
/// Bootstrap resampling steps (one search, one threshold) per second and thread, measured
/// with a 20,000-draw bootstrap of 10,000 searches at 4 thresholds (2.4e9 steps in 8.7 s).
pub const REFERENCE_BOOTSTRAP_STEPS_PER_SEC: f64 = 2.5e8;
/// CPU-seconds per evaluation of a capture-noise tail in the closed forms, and per update of
/// an identity-size hit probability (the units of [`closed_form_cost`]), and the seconds the
/// estimates and report take besides. Fitted on 2026-12-07 to the closed-form part of the
/// bundled runs (from the end of the search to the report, 0.18 to 5.9 s): `kaganskikh-2019`
/// (its tail table, 1.8e9 updates) and `nist-demographics` (1.2e7 evaluations) set the two
/// rates; every bundled scenario's part came out within a factor of 1.8 of its measure.
const REFERENCE_TAIL_EVALUATION_SECS: f64 = 3.0e-7;
const REFERENCE_HIT_UPDATE_SECS: f64 = 6.2e-9;
const REFERENCE_REPORT_SECS: f64 = 0.1;

/// Seconds a subject bootstrap of `draws` draws over `searches` searches at `thresholds`
/// thresholds takes on `threads` threads, for `slices` slices (all searches and each group).
pub fn bootstrap_seconds(
    draws: u32,
    searches: u64,
    thresholds: usize,
    slices: usize,
    threads: usize,
) -> f64 {
    f64::from(draws) * searches as f64 * thresholds as f64 * slices as f64
        / REFERENCE_BOOTSTRAP_STEPS_PER_SEC
        / threads.max(1) as f64
}

/// Seconds per identity of generator 2 (template, head scores, screening) per thread, at
/// M = 250 probes and a 21-dimension head, fitted on 2026-12-07 to `moscow-citywide-screened`
/// (373 s on 2 threads; it had been 2.4e-6 since a slower first build of 2026-12-04).
/// `closed-form-check` at 10^7 detections with generator 2 comes out 1.5x too long (README).
const REFERENCE_SCREENED_IDENTITY_SECS: f64 = 1.6e-6;
/// Detections generator 2 draws per detection visible to some probe (identities drawn in full,
/// proposals not kept): 1.7 on moscow-citywide at 0.50.
const SCREENED_INFLATION: f64 = 2.0;

/// The share of the gallery generator 2 is expected to draw: the detections some probe sees at
/// the lowest threshold (the closed-form FMR, summed over the probes), times
/// [`SCREENED_INFLATION`], at most 1.
fn screened_share(scenario: &Scenario) -> f64 {
    let Some(lowest) = scenario.thresholds().first() else {
        return 1.0;
    };
    let fmr = crate::closed_form::fmr_matrix(scenario, lowest.score);
    let probes = scenario.n_probes() as f64;
    let visible: f64 = scenario
        .groups()
        .iter()
        .zip(&fmr)
        .map(|(g, row)| {
            probes
                * g.probe_share
                * scenario
                    .groups()
                    .iter()
                    .zip(row)
                    .map(|(h, f)| h.gallery_share * f)
                    .sum::<f64>()
        })
        .sum();
    (visible * SCREENED_INFLATION).min(1.0)
}

/// Estimates the work and memory of a run.
pub fn work_estimate(scenario: &Scenario, options: &RunOptions) -> WorkEstimate {
    let n = scenario.config().gallery.detections as f64;
    let m = scenario.n_probes() as f64;
    let d = scenario.dim() as f64;
    let threads = options.threads.unwrap_or_else(rayon::current_num_threads) as f64;
    let per_probe_tally =
        (2 * scenario.thresholds().len() * scenario.n_groups() * 8 + scenario.k() * 32 + 64) as f64;
    // Each worker holds a tile, its scores, and a few tally accumulators (rayon fold splits).
    let tile = options.tile_entries as f64 * (d * 2.0 + 24.0);
    // The process itself (binary, allocator arenas, thread stacks) takes a few MiB.
    const BASE_BYTES: f64 = 8.0 * 1_048_576.0;
    let memory = BASE_BYTES
        + m * d * 2.0
        + threads * (tile + 4.0 * m * per_probe_tally)
        + n / 256.0 * 8.0
        + m * per_probe_tally * 2.0;
    let replicates = f64::from(scenario.config().replicates);
    let comparisons = n * m * replicates;
    let scale = d / 512.0;
    // Generator 2 draws a share of the detections (and scores those twice), plus every
    // identity's template and head scores.
    let (drawn, identity_seconds) = if scenario.config().search.generator == 2 {
        let (mean_size, _) = crate::closed_form::size_moments(scenario);
        let head = (scenario.demographic_dim() + scenario.effective_dim()) as f64;
        let identities = n * replicates / mean_size.max(1.0);
        (
            screened_share(scenario),
            identities * REFERENCE_SCREENED_IDENTITY_SECS * (1.0 + m * head / (250.0 * 21.0)) / 2.0,
        )
    } else {
        (1.0, 0.0)
    };
    let kernel = match scenario.config().search.precision {
        Precision::Int16 => REFERENCE_KERNEL_SECS_D512,
        Precision::Int8 => REFERENCE_KERNEL_SECS_D512_INT8,
    };
    let cpu_seconds = drawn
        * (comparisons
            * if drawn < 1.0 { 2.0 } else { 1.0 }
            * (REFERENCE_CONSUME_SECS + kernel * scale)
            + n * replicates * scale.powf(0.85) / REFERENCE_ENTRIES_PER_SEC_D512)
        + identity_seconds
        + n * replicates / REFERENCE_LAYOUT_DETECTIONS_PER_SEC;
    // The estimates: the bootstrap over all searches and each probe group; then the closed
    // forms of the estimates and the report (`closed_form_cost`).
    let groups_with_probes = scenario
        .groups()
        .iter()
        .filter(|g| g.probe_share > 0.0)
        .count();
    let non_mated =
        u64::from(scenario.config().probes.non_mated) * u64::from(scenario.config().replicates);
    let bootstrap = bootstrap_seconds(
        scenario.config().analysis.bootstrap_draws,
        non_mated,
        scenario.thresholds().len(),
        1 + groups_with_probes,
        threads as usize,
    );
    let (evaluations, updates) = closed_form_cost(scenario);
    let closed_form = (evaluations * REFERENCE_TAIL_EVALUATION_SECS
        + updates * REFERENCE_HIT_UPDATE_SECS)
        / threads
        + REFERENCE_REPORT_SECS;
    WorkEstimate {
        comparisons,
        memory_bytes: memory,
        threads: threads as usize,
        seconds: cpu_seconds / threads + bootstrap + closed_form,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Scenario {
        Scenario::load(name).unwrap().0
    }

    fn seconds(scenario: &Scenario) -> f64 {
        let options = RunOptions {
            threads: Some(2),
            ..Default::default()
        };
        work_estimate(scenario, &options).seconds
    }

    fn changed(
        scenario: &Scenario,
        change: impl FnOnce(&mut crate::scenario::ScenarioConfig),
    ) -> Scenario {
        scenario.changed("changed", change).unwrap()
    }

    #[test]
    fn int8_is_estimated_faster_and_only_in_the_kernel() {
        let city = load("moscow-citywide");
        let int8 = changed(&city, |c| c.search.precision = Precision::Int8);
        let (a, b) = (seconds(&city), seconds(&int8));
        // The kernel is 5.1e-9 of 7.8e-9 CPU-s per comparison in int16, 2.7e-9 in int8.
        let comparisons = 393_750_000_000.0 / 2.0;
        let expected = comparisons * (REFERENCE_KERNEL_SECS_D512 - REFERENCE_KERNEL_SECS_D512_INT8);
        assert!(
            (a - b - expected).abs() < 1e-6 * a,
            "{a} - {b} vs {expected}"
        );
    }

    #[test]
    fn the_tail_table_and_the_sensitivity_table_are_counted() {
        // kaganskikh-2019 sets its results beside FaceNet's tail; that table is most of its
        // closed-form work (a Beta mixture over rho, and every identity size of its classes).
        let with = load("kaganskikh-2019");
        let without = changed(&with, |c| c.report.tails.clear());
        let (a, b) = (closed_form_cost(&with), closed_form_cost(&without));
        assert!(a.1 > 5.0 * b.1, "{a:?} vs {b:?}");
        assert!(seconds(&with) > seconds(&without) + 3.0);
        // Each assumption of the sensitivity table adds its two variants.
        let (check, n_t) = (
            crate::closed_form::Expected::cost(&without, 1),
            without.thresholds().len(),
        );
        assert!(b.0 >= check.0 * (n_t + 1 + 2) as f64, "{b:?} vs {check:?}");
    }

    #[test]
    fn the_screened_generator_is_estimated_by_what_it_draws() {
        let screened = load("moscow-citywide-screened");
        let full = screened.with_generator(1).unwrap();
        let (a, b) = (seconds(&screened), seconds(&full));
        assert!(a * 5.0 < b, "{a} vs {b}");
    }
}
