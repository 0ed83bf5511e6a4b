//! Tallies -> estimates: every rate with its interval and event count, overall and per probe
//! group, from integer counts only.
//!
//! ```text
//! FPIR(N, T)    = #{non-mated searches with max non-mate score >= T} / #non-mated searches
//! SEL(N, T)     = sum over non-mated searches of #{entries >= T} / #non-mated searches
//!                 (also in distinct people: identities with at least one entry >= T)
//! FNIR(N, R, T) = #{mated searches whose mate has rank > R or best score < T} / #mated
//! CMC(r)        = 1 - FNIR(N, r, -inf)
//! FMR_gh(T)     = #{non-mated comparisons probe in g, entry in h, score >= T} / (n_g N_h)
//! ```
//!
//! Intervals: Clopper-Pearson for rates (rule-of-3 bound at zero events, a flag under 30
//! events); for FPIR and SEL also a percentile bootstrap resampling probe subjects (gallery
//! identities held fixed; replicate galleries show gallery-to-gallery variation). Every
//! bootstrap draw has its own random stream, so intervals repeat exactly. Floats are reduced
//! in index order; nothing here depends on how the search was split.

mod closed;
pub mod cluster;
pub mod fairness;
pub mod interval;
pub mod records;
pub mod sensitivity;
mod slice;
pub mod verification;

pub use closed::{ClosedFormCheck, ClosedFormRow, Verdict, closed_form_check};
pub use interval::{Bounds, Estimate, IntervalMethod};
pub use records::{MateDetection, ProbeRecord, ReplicateOutcome, records};
pub use slice::{Search, Simulated, slice};

use crate::closed_form::{Expected, pair_model};
use crate::quantize::score_value;
use crate::scenario::{Scenario, Threshold};
use crate::search::Thresholds;
use serde::{Deserialize, Serialize};

/// False candidates of one candidate group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CandidateGroupCount {
    /// Candidate (gallery) group.
    pub group: String,
    /// False candidate detections, summed over non-mated searches.
    pub detections: u64,
    /// Distinct false candidate people, summed over non-mated searches.
    pub people: u64,
    /// Share of all false candidate detections.
    pub share: f64,
}

/// Estimates at one threshold for one slice of searches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    /// Threshold label.
    pub threshold: String,
    /// Raw score threshold.
    pub score: f64,
    /// FPIR(N, T), non-mated searches.
    pub fpir: Option<Estimate>,
    /// SEL(N, T) in detections, non-mated searches.
    pub sel: Option<Estimate>,
    /// SEL(N, T) in distinct people, non-mated searches.
    pub sel_people: Option<Estimate>,
    /// FNIR(N, 1, T), mated searches.
    pub fnir_rank_1: Option<Estimate>,
    /// FNIR(N, K, T), mated searches.
    pub fnir_rank_k: Option<Estimate>,
    /// Who the false candidates are.
    pub false_candidates: Vec<CandidateGroupCount>,
}

/// One point of the DET curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetPoint {
    /// Threshold (score).
    pub score: f64,
    /// FPIR at this threshold.
    pub fpir: f64,
    /// FNIR(N, K, T) at this threshold.
    pub fnir: f64,
}

/// Estimates for one slice of searches: all probes, or one probe group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliceEstimates {
    /// "all" or the probe group's name.
    pub probe_group: String,
    /// Non-mated searches in the slice (all replicates).
    pub non_mated_searches: u64,
    /// Mated searches in the slice.
    pub mated_searches: u64,
    /// One row per threshold, ascending.
    pub thresholds: Vec<ThresholdRow>,
    /// CMC: identification rate at rank 1..=K (T = -inf).
    pub cmc: Vec<Estimate>,
    /// DET points (FPIR, FNIR at rank K) at the observed non-mated maxima, descending score.
    pub det: Vec<DetPoint>,
}

/// One cell of the cross-group matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossGroupCell {
    /// Probe group.
    pub probe_group: String,
    /// Candidate (gallery) group.
    pub candidate_group: String,
    /// FMR of the pair; events are the false candidates.
    pub fmr: Estimate,
}

/// The cross-group matrix at one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CrossGroupTable {
    /// Threshold label.
    pub threshold: String,
    /// Raw score threshold.
    pub score: f64,
    /// Cells, probe group major.
    pub cells: Vec<CrossGroupCell>,
}

/// Per-replicate FPIR and SEL (all non-mated searches), at one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicateRow {
    /// Threshold label.
    pub threshold: String,
    /// FPIR.
    pub fpir: Option<Estimate>,
    /// SEL (Poisson interval).
    pub sel: Option<Estimate>,
}

/// One replicate gallery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicateEstimates {
    /// Replicate index.
    pub replicate: u32,
    /// Gallery entries N.
    pub entries: u64,
    /// Gallery identities.
    pub identities: u64,
    /// Entries per group, in group order.
    pub entries_per_group: Vec<u64>,
    /// Identities per group.
    pub identities_per_group: Vec<u64>,
    /// FPIR and SEL per threshold.
    pub thresholds: Vec<ReplicateRow>,
}

/// Everything estimated from a run (empty by default: an evaluation without searches).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimates {
    /// All probes first, then each probe group with searches.
    pub slices: Vec<SliceEstimates>,
    /// Cross-group false-match matrix per threshold.
    pub cross_group: Vec<CrossGroupTable>,
    /// Per replicate gallery.
    pub replicates: Vec<ReplicateEstimates>,
    /// Closed-form comparison, when the scenario is in the closed-form regime.
    pub closed_form: Option<ClosedFormCheck>,
    /// Differential summaries across probe groups, one row per threshold.
    pub fairness: Vec<fairness::FairnessRow>,
    /// Published figures beside the simulation (scenario `report.published`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<PublishedComparison>,
}

/// A published figure beside the simulated (and closed-form) value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublishedComparison {
    /// What was published.
    pub label: String,
    /// Where.
    pub source: String,
    /// `fpir`, `sel`, `fnir` or `hit_share`.
    pub metric: String,
    /// `check` (the comparison can fail) or `calibration` (the scenario was fitted to it).
    pub role: String,
    /// Threshold label.
    pub threshold: String,
    /// The published value.
    pub published: f64,
    /// Its interval, when counts were published (Clopper-Pearson for FPIR, Poisson for SEL).
    pub published_interval: Option<Bounds>,
    /// The simulation's value with its interval (all searches).
    pub simulated: Option<Estimate>,
    /// The closed form, when the scenario is in the closed-form regime.
    pub closed_form: Option<f64>,
    /// The standardized difference of the published figure from the simulated one, with the
    /// published figure's sampling error under the simulated value (when counts were
    /// published) and the simulation's own.
    pub z: Option<f64>,
    /// Its two-sided p-value.
    pub p_value: Option<f64>,
    /// True when the p-value is at least 1 - the confidence level.
    pub consistent: Option<bool>,
}

/// The published figures of a scenario beside its estimates.
fn published(scenario: &Scenario, slices: &[SliceEstimates]) -> Vec<PublishedComparison> {
    let level = scenario.config().analysis.confidence_level;
    let published = &scenario.config().report.published;
    let analytic = (!published.is_empty()).then(|| {
        Expected::new(scenario)
            .at(scenario.config().gallery.detections)
            .into_iter()
            .map(|(f, s, _)| (f, s))
            .collect::<Vec<_>>()
    });
    published
        .iter()
        .filter_map(|p| {
            let t = scenario
                .thresholds()
                .iter()
                .position(|t| t.label == p.threshold)?;
            let rate = p.metric != "sel";
            let (value, interval) = match (p.value, p.events, p.searches) {
                (_, Some(e), Some(n)) => (
                    e as f64 / n as f64,
                    Some(if rate {
                        interval::clopper_pearson(e, n, level)
                    } else {
                        interval::poisson_exact(e, n, level)
                    }),
                ),
                (Some(v), _, _) => (v, None),
                _ => return None,
            };
            let row = &slices[0].thresholds[t];
            let simulated = match p.metric.as_str() {
                "fpir" => row.fpir.clone(),
                "sel" => row.sel.clone(),
                "fnir" => row.fnir_rank_k.clone(),
                _ => {
                    // Searches returning anyone whose probe is in the named groups.
                    let hits =
                        |s: &SliceEstimates| s.thresholds[t].fpir.as_ref().map_or(0, |e| e.events);
                    let total = hits(&slices[0]);
                    let of: u64 = slices[1..]
                        .iter()
                        .filter(|s| p.groups.contains(&s.probe_group))
                        .map(hits)
                        .sum();
                    (total > 0).then(|| Estimate::proportion(of, total, level))
                }
            };
            let z_level = crate::special::normal_quantile(0.5 + level / 2.0);
            let z = simulated.as_ref().and_then(|s| {
                let se_sim = (s.upper - s.lower) / (2.0 * z_level);
                let se_pub = match p.searches {
                    Some(n) if rate => (s.value * (1.0 - s.value) / n as f64).sqrt(),
                    Some(n) => (s.value / n as f64).sqrt(),
                    None => 0.0,
                };
                let se = (se_sim * se_sim + se_pub * se_pub).sqrt();
                if se > 0.0 {
                    Some((value - s.value) / se)
                } else if value == s.value {
                    Some(0.0)
                } else {
                    None
                }
            });
            let p_value = z.map(|z| (2.0 * crate::special::normal_upper_tail(z.abs())).min(1.0));
            let consistent = simulated
                .as_ref()
                .map(|s| p_value.map_or(value == s.value, |p| p >= 1.0 - level));
            let closed_form = analytic.as_ref().and_then(|a| match p.metric.as_str() {
                "fpir" => Some(a[t].0),
                "sel" => Some(a[t].1),
                _ => None,
            });
            Some(PublishedComparison {
                label: p.label.clone(),
                source: p.source.clone(),
                metric: p.metric.clone(),
                role: p.role.clone().unwrap_or_else(|| "check".into()),
                threshold: p.threshold.clone(),
                published: value,
                published_interval: interval,
                simulated,
                closed_form,
                z,
                p_value,
                consistent,
            })
        })
        .collect()
}

/// What estimation needs besides the records; the same for simulated and imported searches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Probe group names, in index order.
    pub groups: Vec<String>,
    /// Candidate (gallery) group names: the probe groups for simulated runs.
    pub candidate_groups: Vec<String>,
    /// Thresholds, ascending by score.
    pub thresholds: Vec<Threshold>,
    /// Index of the headline threshold.
    pub headline: usize,
    /// Candidate list length K.
    pub k: usize,
    /// Confidence level of every interval.
    pub confidence_level: f64,
    /// Subject-bootstrap draws (0: none).
    pub bootstrap_draws: u32,
    /// Seed of the bootstrap streams.
    pub seed: u64,
}

impl Plan {
    /// The plan of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        Self {
            groups: scenario.groups().iter().map(|g| g.name.clone()).collect(),
            candidate_groups: scenario.groups().iter().map(|g| g.name.clone()).collect(),
            thresholds: scenario.thresholds().to_vec(),
            headline: scenario.headline(),
            k: scenario.k(),
            confidence_level: scenario.config().analysis.confidence_level,
            bootstrap_draws: scenario.config().analysis.bootstrap_draws,
            seed: scenario.seed(),
        }
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.groups.len()
    }

    /// The integer thresholds of the kernel.
    pub fn kernel_thresholds(&self) -> Thresholds {
        Thresholds {
            q: self
                .thresholds
                .iter()
                .map(|t| crate::quantize::threshold_q(t.score))
                .collect(),
        }
    }
}

/// Computes every estimate from the records of all replicates; `model` is the scenario of a
/// simulated run (None for imported data), which adds the closed-form checks.
pub fn estimate(
    plan: &Plan,
    model: Option<&Scenario>,
    outcomes: &[ReplicateOutcome],
    records: &[ProbeRecord],
) -> Estimates {
    let thresholds = plan.kernel_thresholds();
    let searches: Vec<Simulated<'_>> = records
        .iter()
        .map(|record| Simulated {
            record,
            q: &thresholds.q,
            n_groups: plan.n_groups(),
        })
        .collect();
    let clustering = cluster::Clustering {
        outcomes,
        records,
        n_groups: plan.n_groups(),
    };
    let n_t = plan.thresholds.len();
    let effects = |slice: Option<usize>| {
        Some((
            clustering.count_design_effects(cluster::Unit::Detections, slice, None, n_t),
            clustering.count_design_effects(cluster::Unit::People, slice, None, n_t),
        ))
    };
    let mut slices = vec![slice(plan, "all", &searches, 0, effects(None))];
    for (g, group) in plan.groups.iter().enumerate() {
        let members: Vec<Simulated<'_>> = searches
            .iter()
            .filter(|s| s.record.group as usize == g)
            .copied()
            .collect();
        if !members.is_empty() {
            slices.push(slice(plan, group, &members, g as u64 + 1, effects(Some(g))));
        }
    }
    let cross_group = cross_group(plan, &clustering);
    let fairness = fairness_rows(plan, model, &thresholds, &slices, &cross_group, records);
    Estimates {
        replicates: outcomes
            .iter()
            .map(|o| replicate_row(plan, &thresholds, o, &clustering))
            .collect(),
        closed_form: model.map(|s| closed_form_check(s, outcomes, records, &clustering)),
        published: model.map_or_else(Vec::new, |s| published(s, &slices)),
        slices,
        cross_group,
        fairness,
    }
}

/// Per-group rates and their differential summaries at every threshold; the closed-form
/// threshold shift at the headline threshold.
fn fairness_rows(
    plan: &Plan,
    model: Option<&Scenario>,
    thresholds: &Thresholds,
    slices: &[SliceEstimates],
    cross_group: &[CrossGroupTable],
    records: &[ProbeRecord],
) -> Vec<fairness::FairnessRow> {
    let groups: Vec<(usize, &SliceEstimates)> = slices
        .iter()
        .skip(1)
        .filter_map(|s| {
            plan.groups
                .iter()
                .position(|g| *g == s.probe_group)
                .map(|g| (g, s))
        })
        .collect();
    (0..thresholds.q.len())
        .map(|t| {
            let q = thresholds.q[t];
            let rates = groups
                .iter()
                .map(|&(g, s)| {
                    let row = &s.thresholds[t];
                    let cells = cross_group[t]
                        .cells
                        .iter()
                        .filter(|c| c.probe_group == s.probe_group);
                    let (events, trials) = cells.fold((0u64, 0u64), |(e, n), c| {
                        (e + c.fmr.events, n + c.fmr.trials)
                    });
                    let (misses, genuine) = records
                        .iter()
                        .filter(|r| r.group as usize == g)
                        .filter_map(|r| r.mate.as_ref())
                        .flat_map(|m| m.detections.iter())
                        .fold((0u64, 0u64), |(m, n), d| {
                            (m + u64::from(d.score < score_value(q)), n + 1)
                        });
                    fairness::GroupRates {
                        group: s.probe_group.clone(),
                        fpir: row.fpir.as_ref().map(|e| e.value),
                        sel: row.sel.as_ref().map(|e| e.value),
                        fnir: row.fnir_rank_k.as_ref().map(|e| e.value),
                        fmr: (trials > 0).then(|| events as f64 / trials as f64),
                        fnmr: (genuine > 0).then(|| misses as f64 / genuine as f64),
                    }
                })
                .collect();
            let threshold = &plan.thresholds[t];
            let mut row =
                fairness::FairnessRow::new(threshold.label.clone(), threshold.score, rates);
            if let Some(scenario) = model
                && t == plan.headline
                && scenario.has_closed_form_fmr()
                && groups.len() > 1
            {
                row.threshold_shift = threshold_shift(
                    scenario,
                    threshold.score,
                    &groups.iter().map(|g| g.0).collect::<Vec<_>>(),
                );
            }
            row
        })
        .collect()
}

/// For each group, the threshold at which its closed-form within-group FMR equals the lowest
/// group's at the common threshold `score` (bisection; FMR falls as the threshold rises).
fn threshold_shift(
    scenario: &Scenario,
    score: f64,
    groups: &[usize],
) -> Vec<fairness::ThresholdShift> {
    let within: Vec<f64> = groups
        .iter()
        .map(|&g| pair_model(scenario, g, g).fmr(score))
        .collect();
    let target = within.iter().copied().fold(f64::INFINITY, f64::min);
    groups
        .iter()
        .zip(&within)
        .map(|(&g, &fmr)| {
            let model = pair_model(scenario, g, g);
            let threshold = crate::special::bisect(score, 1.0, 40, |t| model.fmr(t) > target);
            fairness::ThresholdShift {
                group: scenario.groups()[g].name.clone(),
                within_group_fmr: fmr,
                threshold,
                shift: threshold - score,
            }
        })
        .collect()
}

fn cross_group(plan: &Plan, clustering: &cluster::Clustering<'_>) -> Vec<CrossGroupTable> {
    let (outcomes, records) = (clustering.outcomes, clustering.records);
    let level = plan.confidence_level;
    let n_groups = plan.n_groups();
    let non_mated: Vec<&ProbeRecord> = records.iter().filter(|r| r.mate.is_none()).collect();
    // Comparisons per (probe group, candidate group): each non-mated search meets every entry of
    // its replicate's gallery; the same at every threshold.
    let mut trials = vec![0u64; n_groups * n_groups];
    for r in &non_mated {
        let entries = &outcome_of(outcomes, r.replicate).tally.entries_per_group;
        for (h, &n) in entries.iter().enumerate() {
            trials[r.group as usize * n_groups + h] += n;
        }
    }
    // Design effects per cell, by threshold (only cells with trials).
    let deffs: Vec<Vec<f64>> = (0..n_groups * n_groups)
        .map(|cell| {
            if trials[cell] > 0 {
                clustering.rate_design_effects(
                    cell / n_groups,
                    cell % n_groups,
                    plan.thresholds.len(),
                )
            } else {
                Vec::new()
            }
        })
        .collect();
    plan.thresholds
        .iter()
        .enumerate()
        .map(|(t, threshold)| {
            let mut events = vec![0u64; n_groups * n_groups];
            for r in &non_mated {
                for h in 0..n_groups {
                    events[r.group as usize * n_groups + h] += r.det[t * n_groups + h];
                }
            }
            let mut cells = Vec::new();
            for (g, probe_group) in plan.groups.iter().enumerate() {
                for (h, candidate_group) in plan.groups.iter().enumerate() {
                    let cell = g * n_groups + h;
                    if trials[cell] > 0 {
                        cells.push(CrossGroupCell {
                            probe_group: probe_group.clone(),
                            candidate_group: candidate_group.clone(),
                            fmr: Estimate::clustered_proportion(
                                events[cell],
                                trials[cell],
                                level,
                                deffs[cell][t],
                            ),
                        });
                    }
                }
            }
            CrossGroupTable {
                threshold: threshold.label.clone(),
                score: threshold.score,
                cells,
            }
        })
        .collect()
}

/// The outcome of a replicate.
fn outcome_of(outcomes: &[ReplicateOutcome], replicate: u32) -> &ReplicateOutcome {
    outcomes
        .iter()
        .find(|o| o.replicate == replicate)
        .expect("every record comes from a replicate of the run")
}

fn replicate_row(
    plan: &Plan,
    thresholds: &Thresholds,
    outcome: &ReplicateOutcome,
    clustering: &cluster::Clustering<'_>,
) -> ReplicateEstimates {
    let records = clustering.records;
    let deff = clustering.count_design_effects(
        cluster::Unit::Detections,
        None,
        Some(outcome.replicate),
        plan.thresholds.len(),
    );
    let level = plan.confidence_level;
    let n_groups = plan.n_groups();
    let non_mated: Vec<&ProbeRecord> = records
        .iter()
        .filter(|r| r.replicate == outcome.replicate && r.mate.is_none())
        .collect();
    let n = non_mated.len() as u64;
    ReplicateEstimates {
        replicate: outcome.replicate,
        entries: outcome.entries,
        identities: outcome.identities,
        entries_per_group: outcome.tally.entries_per_group.clone(),
        identities_per_group: outcome.tally.identities_per_group.clone(),
        thresholds: plan
            .thresholds
            .iter()
            .enumerate()
            .map(|(t, threshold)| ReplicateRow {
                threshold: threshold.label.clone(),
                fpir: (n > 0).then(|| {
                    Estimate::proportion(
                        non_mated
                            .iter()
                            .filter(|r| r.max_nonmate >= thresholds.q[t])
                            .count() as u64,
                        n,
                        level,
                    )
                }),
                sel: (n > 0).then(|| {
                    Estimate::clustered_mean_count(
                        non_mated
                            .iter()
                            .map(|r| r.false_candidates(t, n_groups))
                            .sum(),
                        n,
                        level,
                        deff[t],
                        None,
                    )
                }),
            })
            .collect(),
    }
}
