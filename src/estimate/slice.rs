//! Identification estimates of one slice of searches (all, or one probe group), from any
//! searches behind the [`Search`] trait: FPIR, SEL, FNIR, CMC and DET, with Clopper-Pearson,
//! Poisson and subject-bootstrap intervals.

use super::interval::{Bounds, Estimate, percentile_interval};
use super::{CandidateGroupCount, DetPoint, Plan, ProbeRecord, SliceEstimates, ThresholdRow};
use crate::quantize::score_value;
use crate::rng::{Domain, StreamKey};
use rayon::prelude::*;

/// One search as the identification estimates see it, whether simulated (integer scores) or
/// imported (a score file's floats). Thresholds are indices into the plan's thresholds.
pub trait Search {
    /// True for a mated search.
    fn mated(&self) -> bool;
    /// True when the highest non-mate score reaches threshold `t`.
    fn reaches(&self, t: usize) -> bool;
    /// Non-mate entries at or above threshold `t`, by candidate group.
    fn false_candidates(&self, t: usize) -> &[u64];
    /// Distinct non-mate people at or above threshold `t`, by candidate group, when known.
    fn false_people(&self, t: usize) -> Option<&[u64]>;
    /// True when this mated search misses its mate within rank `r` at threshold `t`.
    fn misses(&self, r: u64, t: usize) -> bool;
    /// Pessimistic rank of the mate (None for non-mated searches).
    fn mate_rank(&self) -> Option<u64>;
    /// Highest non-mate score, if any non-mate was compared.
    fn max_nonmate(&self) -> Option<f64>;
    /// True when this mated search misses its mate within rank `r` at raw score `score`.
    fn misses_at_score(&self, r: u64, score: f64) -> bool;
    /// False when the false-candidate counts at threshold `t` may be incomplete (a truncated
    /// candidate list).
    fn counts_complete(&self, _t: usize) -> bool {
        true
    }
}

/// A simulated search: a record and the kernel's integer thresholds.
#[derive(Clone, Copy)]
pub struct Simulated<'a> {
    /// The record.
    pub record: &'a ProbeRecord,
    /// Integer thresholds, ascending.
    pub q: &'a [i32],
    /// Number of candidate groups.
    pub n_groups: usize,
}

impl Search for Simulated<'_> {
    fn mated(&self) -> bool {
        self.record.mate.is_some()
    }
    fn reaches(&self, t: usize) -> bool {
        self.record.max_nonmate >= self.q[t]
    }
    fn false_candidates(&self, t: usize) -> &[u64] {
        &self.record.det[t * self.n_groups..(t + 1) * self.n_groups]
    }
    fn false_people(&self, t: usize) -> Option<&[u64]> {
        Some(&self.record.ppl[t * self.n_groups..(t + 1) * self.n_groups])
    }
    fn misses(&self, r: u64, t: usize) -> bool {
        self.record.misses(r, self.q[t])
    }
    fn mate_rank(&self) -> Option<u64> {
        self.record.mate.as_ref().map(|m| m.rank)
    }
    fn max_nonmate(&self) -> Option<f64> {
        (self.record.max_nonmate > i32::MIN).then(|| score_value(self.record.max_nonmate))
    }
    fn misses_at_score(&self, r: u64, score: f64) -> bool {
        self.record.misses(r, crate::quantize::threshold_q(score))
    }
}

/// Design effects of a slice's mean counts at every threshold: (detections, people).
pub type CountDesignEffects = (Vec<f64>, Vec<f64>);

/// The one-way (by search) design effects of the mean counts of `non_mated` searches: the
/// variance of the per-search counts over their Poisson variance, settled for rows with few
/// events (used when nothing says which gallery entries are the same person).
fn search_design_effects<S: Search>(non_mated: &[&S], n_t: usize) -> CountDesignEffects {
    use super::cluster::{MIN_EVENTS_FOR_DISPERSION, design_effect, settled_design_effects};
    let n = non_mated.len() as f64;
    let of = |count: &dyn Fn(&S, usize) -> Option<u64>| -> Vec<f64> {
        let raw: Vec<(f64, u64)> = (0..n_t)
            .map(|t| {
                let xs: Vec<f64> = non_mated
                    .iter()
                    .filter_map(|r| count(r, t))
                    .map(|x| x as f64)
                    .collect();
                let total: f64 = xs.iter().sum();
                let mean = total / n.max(1.0);
                let v = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() * n
                    / (n - 1.0).max(1.0);
                (design_effect(v, total), total as u64)
            })
            .collect();
        settled_design_effects(&raw, MIN_EVENTS_FOR_DISPERSION, 1.0)
    };
    (
        of(&|r, t| Some(r.false_candidates(t).iter().sum())),
        of(&|r, t| r.false_people(t).map(|p| p.iter().sum())),
    )
}

/// The identification estimates of one slice of searches (all, or one probe group);
/// `stratum` separates the bootstrap streams of slices. `design_effects` are those of the
/// mean counts (from the two-way cluster variance when the gallery's identities are known);
/// without them, the one-way (by search) design effects are used.
pub fn slice<S: Search + Sync>(
    plan: &Plan,
    name: &str,
    members: &[S],
    stratum: u64,
    design_effects: Option<CountDesignEffects>,
) -> SliceEstimates {
    let level = plan.confidence_level;
    let n_groups = plan.candidate_groups.len();
    let k = plan.k as u64;
    let non_mated: Vec<&S> = members.iter().filter(|r| !r.mated()).collect();
    let mated: Vec<&S> = members.iter().filter(|r| r.mated()).collect();
    let (n_nm, n_m) = (non_mated.len() as u64, mated.len() as u64);
    let boot = bootstrap(plan, &non_mated, stratum);
    let (deff, deff_people) =
        design_effects.unwrap_or_else(|| search_design_effects(&non_mated, plan.thresholds.len()));
    let rows = (0..plan.thresholds.len())
        .map(|t| {
            let threshold = &plan.thresholds[t];
            let complete = non_mated.iter().all(|r| r.counts_complete(t));
            let (fpir, sel, sel_people) = if n_nm > 0 {
                let events = non_mated.iter().filter(|r| r.reaches(t)).count() as u64;
                let mut fpir = Estimate::proportion(events, n_nm, level);
                fpir.bootstrap = boot.as_ref().map(|b| b.fpir[t]);
                let total: u64 = non_mated
                    .iter()
                    .map(|r| r.false_candidates(t).iter().sum::<u64>())
                    .sum();
                let people: Option<u64> = non_mated
                    .iter()
                    .map(|r| r.false_people(t).map(|p| p.iter().sum::<u64>()))
                    .sum();
                (
                    Some(fpir),
                    complete.then(|| {
                        Estimate::clustered_mean_count(
                            total,
                            n_nm,
                            level,
                            deff[t],
                            boot.as_ref().map(|b| b.sel[t]),
                        )
                    }),
                    people.filter(|_| complete).map(|people| {
                        Estimate::clustered_mean_count(
                            people,
                            n_nm,
                            level,
                            deff_people[t],
                            boot.as_ref().and_then(|b| b.people.as_ref().map(|p| p[t])),
                        )
                    }),
                )
            } else {
                (None, None, None)
            };
            let fnir = |rank: u64| {
                (n_m > 0).then(|| {
                    Estimate::proportion(
                        mated.iter().filter(|r| r.misses(rank, t)).count() as u64,
                        n_m,
                        level,
                    )
                })
            };
            let totals: Vec<(u64, u64)> = (0..n_groups)
                .map(|h| {
                    non_mated.iter().fold((0, 0), |(d, p), r| {
                        (
                            d + r.false_candidates(t)[h],
                            p + r.false_people(t).map_or(0, |x| x[h]),
                        )
                    })
                })
                .collect();
            let all: u64 = totals.iter().map(|x| x.0).sum();
            ThresholdRow {
                threshold: threshold.label.clone(),
                score: threshold.score,
                fpir,
                sel,
                sel_people,
                fnir_rank_1: fnir(1),
                fnir_rank_k: fnir(k),
                false_candidates: totals
                    .iter()
                    .zip(&plan.candidate_groups)
                    .map(|(&(detections, people), g)| CandidateGroupCount {
                        group: g.clone(),
                        detections,
                        people,
                        share: if all > 0 {
                            detections as f64 / all as f64
                        } else {
                            0.0
                        },
                    })
                    .collect(),
            }
        })
        .collect();
    let cmc = if n_m > 0 {
        (1..=k)
            .map(|r| {
                Estimate::proportion(
                    mated
                        .iter()
                        .filter(|m| m.mate_rank().is_some_and(|rank| rank <= r))
                        .count() as u64,
                    n_m,
                    level,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    SliceEstimates {
        probe_group: name.into(),
        non_mated_searches: n_nm,
        mated_searches: n_m,
        thresholds: rows,
        cmc,
        det: det_points(&non_mated, &mated, k),
    }
}

/// At most this many DET points per slice (evenly spaced order statistics).
const MAX_DET_POINTS: usize = 400;

fn det_points<S: Search>(non_mated: &[&S], mated: &[&S], k: u64) -> Vec<DetPoint> {
    if non_mated.is_empty() || mated.is_empty() {
        return Vec::new();
    }
    let mut maxima: Vec<f64> = non_mated.iter().filter_map(|r| r.max_nonmate()).collect();
    maxima.sort_unstable_by(|a, b| b.total_cmp(a));
    maxima.dedup();
    let step = maxima.len().div_ceil(MAX_DET_POINTS).max(1);
    maxima
        .iter()
        .step_by(step)
        .map(|&score| DetPoint {
            score,
            fpir: non_mated
                .iter()
                .filter(|r| r.max_nonmate().is_some_and(|m| m >= score))
                .count() as f64
                / non_mated.len() as f64,
            fnir: mated.iter().filter(|r| r.misses_at_score(k, score)).count() as f64
                / mated.len() as f64,
        })
        .collect()
}

struct BootstrapBounds {
    fpir: Vec<Bounds>,
    sel: Vec<Bounds>,
    people: Option<Vec<Bounds>>,
}

/// Percentile bootstrap over non-mated probe subjects, one stream per draw.
fn bootstrap<S: Search + Sync>(
    plan: &Plan,
    non_mated: &[&S],
    stratum: u64,
) -> Option<BootstrapBounds> {
    let draws = u64::from(plan.bootstrap_draws);
    let n = non_mated.len();
    if draws == 0 || n == 0 {
        return None;
    }
    let n_t = plan.thresholds.len();
    let with_people = non_mated
        .iter()
        .all(|r| n_t == 0 || r.false_people(0).is_some());
    // Per subject and threshold: (hit, false candidates, false people).
    let per: Vec<Vec<(u64, u64, u64)>> = non_mated
        .iter()
        .map(|r| {
            (0..n_t)
                .map(|t| {
                    (
                        u64::from(r.reaches(t)),
                        r.false_candidates(t).iter().sum(),
                        r.false_people(t).map_or(0, |p| p.iter().sum()),
                    )
                })
                .collect()
        })
        .collect();
    let key = StreamKey::new(plan.seed, 0, Domain::Bootstrap);
    let sums: Vec<Vec<(u64, u64, u64)>> = (0..draws)
        .into_par_iter()
        .map(|b| {
            let mut rng = key.stream((stratum << 32) | b);
            let mut acc = vec![(0u64, 0u64, 0u64); n_t];
            for _ in 0..n {
                let i = rng.below(n as u64) as usize;
                for (a, x) in acc.iter_mut().zip(&per[i]) {
                    a.0 += x.0;
                    a.1 += x.1;
                    a.2 += x.2;
                }
            }
            acc
        })
        .collect();
    let level = plan.confidence_level;
    let bounds = |f: &dyn Fn(&(u64, u64, u64)) -> u64| -> Vec<Bounds> {
        (0..n_t)
            .map(|t| {
                percentile_interval(
                    sums.iter().map(|s| f(&s[t]) as f64 / n as f64).collect(),
                    level,
                )
            })
            .collect()
    };
    Some(BootstrapBounds {
        fpir: bounds(&|s| s.0),
        sel: bounds(&|s| s.1),
        people: with_people.then(|| bounds(&|s| s.2)),
    })
}
