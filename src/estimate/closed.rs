//! The simulation beside the closed forms of the model, with a verdict that can fail.
//!
//! The closed forms ([`crate::closed_form::search`]) are exact for any per-identity rho,
//! per-capture noise and number of detections per identity, given the gallery's realized
//! entries and identity sizes; so every run is checked. Each row compares an observed count
//! with its closed-form expectation under the variance the model implies for it (detections
//! of one identity match together: Y_i ~ Binomial(m_i, q(c)) given the template cosine c), or
//! the data's two-way cluster variance around the closed-form rates ([`super::cluster`]) if
//! that is larger (it also sees per-identity rho):
//!
//! ```text
//! FMR (g, h, T):   events ~ effective Binomial(n/D, p0) of the n = n_g N_h comparisons
//! SEL, people:     count  ~ effective Poisson(E0/D)                D = design effect >= 1
//! FPIR:            searches with a candidate ~ Binomial(n_g, FPIR0) (searches independent)
//! p = two-sided exact tail probability;  z = sign(observed - expected) Phi^-1(1 - p/2)
//! verdict: agrees when max |z| <= Phi^-1(1 - (1 - 0.95^(1/m))/2)  (Sidak, m rows tested)
//! ```
//!
//! With that bound, a correct simulation is called "disagrees" in 5 % of runs at most, and a
//! bias of a few standard errors in any one row fails the check.

use super::cluster::{Clustering, Unit, design_effect};
use super::{ProbeRecord, ReplicateOutcome};
use crate::closed_form::PairModel;
use crate::closed_form::search::{
    PairLaw, ProbeNode, RhoLaw, Side, search_count_moments, search_expectations,
};
use crate::scenario::Scenario;
use crate::special::{beta_inc, gamma_inc, normal_quantile};
use rayon::prelude::*;
use serde::Serialize;

/// One comparison of a simulated count with its closed form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClosedFormRow {
    /// `fmr` (per comparison), `fpir`, `sel` (detections per search) or `sel_people`.
    pub metric: String,
    /// Threshold label.
    pub threshold: String,
    /// Probe group.
    pub probe_group: String,
    /// Gallery group (FMR rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gallery_group: Option<String>,
    /// The closed-form value of the metric.
    pub closed_form: f64,
    /// The simulated value.
    pub simulated: f64,
    /// The observed count behind it (events, candidates or searches with a candidate).
    pub observed: u64,
    /// Its closed-form expectation.
    pub expected: f64,
    /// The design effect its test allows for (1: none).
    pub design_effect: f64,
    /// Two-sided exact p-value.
    pub p_value: f64,
    /// The p-value as a signed standard normal deviate.
    pub z: f64,
}

/// What the check concludes, in numbers and in words.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// True when no row differs by more than chance allows over all rows tested.
    pub agrees: bool,
    /// Rows tested (rows that could show a difference).
    pub rows_tested: usize,
    /// Simulated comparisons behind the FMR rows.
    pub comparisons: u64,
    /// The largest |z|.
    pub largest_abs_z: f64,
    /// The |z| that chance exceeds in 5 % of runs over that many rows (Sidak).
    pub critical_abs_z: f64,
    /// The largest |z| chance gives in half of the runs (its median).
    pub typical_largest_abs_z: f64,
    /// The verdict in a sentence.
    pub text: String,
}

/// The closed-form comparison of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClosedFormCheck {
    /// What was compared and how.
    pub note: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Every row, by threshold, probe group, metric.
    pub rows: Vec<ClosedFormRow>,
}

/// The |z| that the largest of `m` independent standard normal |z| exceeds with probability
/// `alpha`.
fn sidak(m: usize, alpha: f64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let per_row = 1.0 - (1.0 - alpha).powf(1.0 / m as f64);
    normal_quantile(1.0 - per_row / 2.0)
}

/// A two-sided p-value as a signed z.
fn z_of(p: f64, above: bool) -> f64 {
    let z = normal_quantile(1.0 - (p / 2.0).max(1e-300)).clamp(0.0, 38.0);
    if above { z } else { -z }
}

/// Two-sided exact p of observing `k` (effective, real) events of `n` (effective) trials at
/// rate `p`.
fn binomial_p(k: f64, n: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return if k > 0.0 { 0.0 } else { 1.0 };
    }
    if p >= 1.0 {
        return if k < n { 0.0 } else { 1.0 };
    }
    // P(X >= k) = I_p(k, n - k + 1);  P(X <= k) = 1 - I_p(k + 1, n - k).
    let upper = if k <= 0.0 {
        1.0
    } else {
        beta_inc(k, (n - k + 1.0).max(1e-9), p).0
    };
    let lower = if k >= n {
        1.0
    } else {
        beta_inc(k + 1.0, (n - k).max(1e-9), p).1
    };
    (2.0 * upper.min(lower)).min(1.0)
}

/// Two-sided exact p of observing `k` (effective, real) events with Poisson mean `mean`.
fn poisson_p(k: f64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return if k > 0.0 { 0.0 } else { 1.0 };
    }
    // P(X >= k) = P(k, mean) (lower regularized gamma); P(X <= k) = Q(k + 1, mean).
    let upper = if k <= 0.0 { 1.0 } else { gamma_inc(k, mean).0 };
    let lower = gamma_inc(k + 1.0, mean).1;
    (2.0 * upper.min(lower)).min(1.0)
}

/// The law of comparisons of probe group `g` against gallery group `h`.
pub fn pair_law(scenario: &Scenario, g: usize, h: usize) -> PairLaw {
    let side = |group: usize, capture: usize| {
        let grp = &scenario.groups[group];
        let cap = &scenario.captures[capture];
        Side {
            rho: match grp.rho_concentration {
                Some(k) => RhoLaw::Beta {
                    mean: grp.rho,
                    concentration: k,
                },
                None => RhoLaw::Fixed(grp.rho),
            },
            noise_min: cap.noise_min,
            noise_max: cap.noise_max,
        }
    };
    let (a, b) = (&scenario.groups[g], &scenario.groups[h]);
    let mut law = PairLaw {
        effective_dim: scenario.effective_dim,
        noise_dim: scenario.noise_dim,
        direction_cosine: direction_cosine(a, b),
        probe: side(g, scenario.probe_capture),
        entry: side(h, scenario.gallery_capture),
        group_term: None,
        tail: scenario.tail,
        quadrature: Default::default(),
    };
    if law.is_fixed() {
        // Every member's demographic coordinates round the same way: the group term of the
        // quantized scores is exact.
        let coords = |group: &crate::scenario::Group, noise: f64| -> Vec<f64> {
            let signal = (1.0 - noise * noise).sqrt() * group.rho.sqrt();
            group
                .direction
                .iter()
                .map(|u| f64::from(crate::population::quantize(signal * u)))
                .collect()
        };
        let pa = coords(a, law.probe.noise_min);
        let pb = coords(b, law.entry.noise_min);
        let scale = crate::population::QUANT_SCALE * crate::population::QUANT_SCALE;
        law.group_term = Some(pa.iter().zip(&pb).map(|(x, y)| x * y).sum::<f64>() / scale);
    }
    law
}

/// The cosine of two groups' directions u_g . u_h.
fn direction_cosine(a: &crate::scenario::Group, b: &crate::scenario::Group) -> f64 {
    a.direction
        .iter()
        .zip(&b.direction)
        .map(|(x, y)| x * y)
        .sum()
}

/// The model of comparisons of probe group `g` with gallery group `h` at the groups' mean rho
/// and the captures' lowest noise (the fixed-parameter case, for calibration and inference).
pub fn pair_model(scenario: &Scenario, g: usize, h: usize) -> PairModel {
    let (a, b) = (&scenario.groups[g], &scenario.groups[h]);
    PairModel {
        effective_dim: scenario.effective_dim,
        noise_dim: scenario.noise_dim,
        rho_a: a.rho,
        rho_b: b.rho,
        direction_cosine: direction_cosine(a, b),
        noise_a: scenario.captures[scenario.probe_capture].noise_min,
        noise_b: scenario.captures[scenario.gallery_capture].noise_min,
    }
}

/// The closed-form FMR of every (probe group, gallery group) pair at `threshold`.
pub fn fmr_matrix(scenario: &Scenario, threshold: f64) -> Vec<Vec<f64>> {
    let n = scenario.n_groups();
    (0..n * n)
        .into_par_iter()
        .map(|c| pair_law(scenario, c / n, c % n).fmr(threshold))
        .collect::<Vec<f64>>()
        .chunks(n.max(1))
        .map(<[f64]>::to_vec)
        .collect()
}

/// Closed-form expectations of a scenario's searches at any gallery size, over the expected
/// gallery layout: N / E\[m\] identities, of group h with its gallery share, of m detections
/// with the identity classes' mixture law (sizes whose probability is below 1e-12 left out).
pub struct Expected {
    /// Per (probe group, threshold, gallery group): the probe nodes.
    nodes: Vec<Vec<Vec<Vec<ProbeNode>>>>,
    /// Identity sizes m and their probabilities.
    sizes: Vec<(u64, f64)>,
    /// Mean detections per identity.
    mean_size: f64,
    /// Gallery and probe shares of the groups.
    gallery_share: Vec<f64>,
    probe_share: Vec<f64>,
}

/// (FPIR, expected false candidate detections, expected false candidate people) of one search.
pub type SearchExpectation = (f64, f64, f64);

impl Expected {
    /// The closed forms of every probe group with probes, at every threshold.
    pub fn new(scenario: &Scenario) -> Self {
        let scores: Vec<f64> = scenario.thresholds.iter().map(|t| t.score).collect();
        Self::at_scores(scenario, &scores)
    }

    /// The closed forms of every probe group with probes, at the given threshold scores.
    pub fn at_scores(scenario: &Scenario, scores: &[f64]) -> Self {
        let mut law: Vec<(u64, f64)> = Vec::new();
        for (k, class) in scenario.identity_classes.iter().enumerate() {
            let share = scenario.class_cumulative[k]
                - if k == 0 {
                    0.0
                } else {
                    scenario.class_cumulative[k - 1]
                };
            match class.distribution {
                crate::scenario::CountDistribution::Fixed => {
                    law.push((class.mean_detections as u64, share))
                }
                crate::scenario::CountDistribution::Geometric if class.mean_detections <= 1.0 => {
                    law.push((1, share))
                }
                crate::scenario::CountDistribution::Geometric => {
                    let q = 1.0 - 1.0 / class.mean_detections;
                    let mut p = 1.0 - q;
                    let mut m = 1u64;
                    while p > 1e-12 {
                        law.push((m, share * p));
                        p *= q;
                        m += 1;
                    }
                }
            }
        }
        law.sort_by_key(|x| x.0);
        let mut sizes: Vec<(u64, f64)> = Vec::new();
        for (m, p) in law {
            match sizes.last_mut() {
                Some(last) if last.0 == m => last.1 += p,
                _ => sizes.push((m, p)),
            }
        }
        let mean_size = sizes.iter().map(|&(m, p)| m as f64 * p).sum::<f64>()
            / sizes.iter().map(|x| x.1).sum::<f64>();
        let n_g = scenario.n_groups();
        let ms: Vec<u64> = sizes.iter().map(|x| x.0).collect();
        let n_t = scores.len();
        let jobs: Vec<(usize, usize, usize)> = (0..n_g)
            .flat_map(|g| (0..n_t).flat_map(move |t| (0..n_g).map(move |h| (g, t, h))))
            .filter(|&(g, _, _)| scenario.groups[g].probe_share > 0.0)
            .collect();
        let computed: Vec<Vec<ProbeNode>> = jobs
            .par_iter()
            .map(|&(g, t, h)| pair_law(scenario, g, h).per_probe(scores[t], &ms))
            .collect();
        let mut nodes = vec![vec![vec![Vec::new(); n_g]; n_t]; n_g];
        for (&(g, t, h), n) in jobs.iter().zip(computed) {
            nodes[g][t][h] = n;
        }
        Self {
            nodes,
            sizes,
            mean_size,
            gallery_share: scenario.groups.iter().map(|g| g.gallery_share).collect(),
            probe_share: scenario.groups.iter().map(|g| g.probe_share).collect(),
        }
    }

    /// Per threshold and gallery group h, the expected false candidate detections of one
    /// search (averaged over probe groups by their probe shares) against `n` entries.
    pub fn sel_by_group(&self, n: u64) -> Vec<Vec<f64>> {
        let total_share: f64 = self.probe_share.iter().sum();
        let n_t = self.nodes.first().map_or(0, Vec::len);
        (0..n_t)
            .map(|t| {
                (0..self.gallery_share.len())
                    .map(|h| {
                        let entries = n as f64 * self.gallery_share[h];
                        (0..self.probe_share.len())
                            .filter(|&g| self.probe_share[g] > 0.0)
                            .map(|g| {
                                let fmr: f64 =
                                    self.nodes[g][t][h].iter().map(|k| k.weight * k.fmr).sum();
                                self.probe_share[g] / total_share * entries * fmr
                            })
                            .sum()
                    })
                    .collect()
            })
            .collect()
    }

    /// Per threshold, the expectation of one search (averaged over probe groups by their
    /// probe shares) against a gallery of `n` entries.
    pub fn at(&self, n: u64) -> Vec<SearchExpectation> {
        let identities = n as f64 / self.mean_size;
        let n_g = self.gallery_share.len();
        let entries: Vec<u64> = self
            .gallery_share
            .iter()
            .map(|s| (n as f64 * s).round() as u64)
            .collect();
        let ms: Vec<Vec<u64>> = vec![self.sizes.iter().map(|x| x.0).collect(); n_g];
        let counts: Vec<Vec<f64>> = self
            .gallery_share
            .iter()
            .map(|s| {
                self.sizes
                    .iter()
                    .map(|&(_, p)| identities * s * p)
                    .collect()
            })
            .collect();
        let total_share: f64 = self.probe_share.iter().sum();
        let n_t = self.nodes.first().map_or(0, Vec::len);
        (0..n_t)
            .map(|t| {
                let mut out = (0.0, 0.0, 0.0);
                for g in 0..n_g {
                    let w = self.probe_share[g] / total_share;
                    if w == 0.0 {
                        continue;
                    }
                    let (f, s, p) = search_expectations(&self.nodes[g][t], &ms, &counts, &entries);
                    out.0 += w * f;
                    out.1 += w * s;
                    out.2 += w * p;
                }
                out
            })
            .collect()
    }
}

/// The mean and variance of the number of false candidate detections one search by a probe of
/// group `g` returns at `threshold` against a gallery of `n` entries (expected layout).
pub fn search_count_law(scenario: &Scenario, g: usize, n: f64, threshold: f64) -> (f64, f64) {
    let (mean_m, mean_m2) = size_moments(scenario);
    let entries: Vec<f64> = scenario
        .groups
        .iter()
        .map(|grp| n * grp.gallery_share)
        .collect();
    let size_sq: Vec<f64> = entries.iter().map(|e| e * mean_m2 / mean_m).collect();
    let nodes: Vec<Vec<ProbeNode>> = (0..scenario.n_groups())
        .map(|h| pair_law(scenario, g, h).per_probe(threshold, &[]))
        .collect();
    crate::closed_form::search::search_count_moments(&nodes, &entries, &size_sq)
}

/// E\[m\] and E\[m^2\] of the detections per identity under the scenario's identity classes.
pub fn size_moments(scenario: &Scenario) -> (f64, f64) {
    let mut m1 = 0.0;
    let mut m2 = 0.0;
    for (k, class) in scenario.identity_classes.iter().enumerate() {
        let share = scenario.class_cumulative[k]
            - if k == 0 {
                0.0
            } else {
                scenario.class_cumulative[k - 1]
            };
        let mu = class.mean_detections;
        let (e1, e2) = match class.distribution {
            crate::scenario::CountDistribution::Fixed => (mu, mu * mu),
            // Geometric on {1, 2, ...} with mean mu: variance mu (mu - 1).
            crate::scenario::CountDistribution::Geometric => {
                let mu = mu.max(1.0);
                (mu, mu * (mu - 1.0) + mu * mu)
            }
        };
        m1 += share * e1;
        m2 += share * e2;
    }
    (m1, m2)
}

/// Per (probe group, threshold): per gallery group, the probe nodes (FMR and hit probabilities
/// for the identity sizes in `sizes[h]`).
type Nodes = Vec<Vec<ProbeNode>>;

/// Compares the simulated FMR, FPIR, SEL and distinct people with the closed forms.
pub fn closed_form_check(
    scenario: &Scenario,
    outcomes: &[ReplicateOutcome],
    records: &[ProbeRecord],
    clustering: &Clustering<'_>,
) -> ClosedFormCheck {
    let n_g = scenario.n_groups();
    let n_t = scenario.thresholds.len();
    // Identity sizes present in any replicate, per gallery group.
    let sizes: Vec<Vec<u64>> = (0..n_g)
        .map(|h| {
            let mut s: Vec<u64> = outcomes
                .iter()
                .flat_map(|o| o.tally.clusters.sizes[h].keys().copied())
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let probe_groups: Vec<usize> = (0..n_g)
        .filter(|&g| {
            records
                .iter()
                .any(|r| r.mate.is_none() && r.group as usize == g)
        })
        .collect();
    // The closed forms: one integral family per (probe group, threshold, gallery group).
    let jobs: Vec<(usize, usize, usize)> = probe_groups
        .iter()
        .flat_map(|&g| (0..n_t).flat_map(move |t| (0..n_g).map(move |h| (g, t, h))))
        .collect();
    let computed: Vec<Vec<ProbeNode>> = jobs
        .par_iter()
        .map(|&(g, t, h)| {
            pair_law(scenario, g, h).per_probe(scenario.thresholds[t].score, &sizes[h])
        })
        .collect();
    let nodes_of = |g: usize, t: usize| -> Nodes {
        (0..n_g)
            .map(|h| {
                let at = jobs.iter().position(|&j| j == (g, t, h)).expect("computed");
                computed[at].clone()
            })
            .collect()
    };
    let mut rows = Vec::new();
    let mut comparisons = 0u64;
    for &g in &probe_groups {
        let group = &scenario.groups[g].name;
        let all: Vec<usize> = (0..n_g).collect();
        for (t, threshold) in scenario.thresholds.iter().enumerate() {
            let nodes = nodes_of(g, t);
            let fmr0: Vec<f64> = nodes
                .iter()
                .map(|n| n.iter().map(|k| k.weight * k.fmr).sum())
                .collect();
            let mut rate0 = vec![vec![0.0; n_g]; n_g];
            rate0[g] = fmr0.clone();
            let row = |metric: &str,
                       gallery: Option<String>,
                       closed: f64,
                       simulated: f64,
                       observed: u64,
                       expected: f64,
                       deff: f64,
                       p: f64| ClosedFormRow {
                metric: metric.into(),
                threshold: threshold.label.clone(),
                probe_group: group.clone(),
                gallery_group: gallery,
                closed_form: closed,
                simulated,
                observed,
                expected,
                design_effect: deff,
                p_value: p,
                z: if p >= 1.0 {
                    0.0
                } else {
                    z_of(p, observed as f64 > expected)
                },
            };
            // FMR per gallery group.
            for h in 0..n_g {
                let (events, trials) = outcomes.iter().fold((0u64, 0u64), |(e, n), o| {
                    let searches = searches_of(records, o.replicate, g);
                    let events: u64 = searches.iter().map(|r| r.det[t * n_g + h]).sum();
                    (
                        e + events,
                        n + searches.len() as u64 * o.tally.entries_per_group[h],
                    )
                });
                if trials == 0 {
                    continue;
                }
                comparisons += trials;
                let p0 = fmr0[h];
                // The variance the model implies (exact, whatever the events), or the data's
                // two-way cluster variance around the closed-form rates if larger.
                let v_model: f64 = outcomes
                    .iter()
                    .map(|o| {
                        let k = searches_of(records, o.replicate, g).len() as f64;
                        let mut entries = vec![0.0; n_g];
                        let mut size_sq = vec![0.0; n_g];
                        entries[h] = o.tally.entries_per_group[h] as f64;
                        size_sq[h] = o.tally.clusters.size_sq[h] as f64;
                        k * search_count_moments(&nodes, &entries, &size_sq).1
                    })
                    .sum();
                let v = clustering.variance(Unit::Detections, t, Some(g), &[h], None, &rate0);
                let deff = design_effect(v.max(v_model), trials as f64 * p0 * (1.0 - p0));
                let p = binomial_p(events as f64 / deff, trials as f64 / deff, p0);
                rows.push(row(
                    "fmr",
                    Some(scenario.groups[h].name.clone()),
                    p0,
                    events as f64 / trials as f64,
                    events,
                    trials as f64 * p0,
                    deff,
                    p,
                ));
            }
            // Searches: FPIR, SEL and people, from each replicate's realized gallery.
            let (mut hits, mut total, mut people, mut n) = (0u64, 0u64, 0u64, 0u64);
            let (mut e_fpir, mut e_sel, mut e_people) = (0.0, 0.0, 0.0);
            let (mut v_sel, mut v_people) = (0.0, 0.0);
            let (mut v_sel_model, mut v_people_model) = (0.0, 0.0);
            for o in outcomes {
                let searches = searches_of(records, o.replicate, g);
                if searches.is_empty() {
                    continue;
                }
                let k = searches.len() as u64;
                let c = &o.tally.clusters;
                let identities: Vec<Vec<f64>> = (0..n_g)
                    .map(|h| {
                        sizes[h]
                            .iter()
                            .map(|m| c.sizes[h].get(m).copied().unwrap_or(0) as f64)
                            .collect()
                    })
                    .collect();
                let (f, s, p) =
                    search_expectations(&nodes, &sizes, &identities, &o.tally.entries_per_group);
                e_fpir += k as f64 * f;
                e_sel += k as f64 * s;
                e_people += k as f64 * p;
                n += k;
                let q = crate::search::threshold_q(threshold.score);
                hits += searches.iter().filter(|r| r.max_nonmate >= q).count() as u64;
                total += searches
                    .iter()
                    .map(|r| r.false_candidates(t, n_g))
                    .sum::<u64>();
                people += searches.iter().map(|r| r.false_people(t, n_g)).sum::<u64>();
                v_sel += clustering.variance(
                    Unit::Detections,
                    t,
                    Some(g),
                    &all,
                    Some(o.replicate),
                    &rate0,
                );
                let entries: Vec<f64> = o
                    .tally
                    .entries_per_group
                    .iter()
                    .map(|&x| x as f64)
                    .collect();
                let size_sq: Vec<f64> = c.size_sq.iter().map(|&x| x as f64).collect();
                v_sel_model += k as f64 * search_count_moments(&nodes, &entries, &size_sq).1;
                v_people_model += k as f64 * people_variance(&nodes, &identities);
                // People rates of this replicate: expected people per identity of group h.
                let mut people0 = vec![vec![0.0; n_g]; n_g];
                for h in 0..n_g {
                    let ids = o.tally.identities_per_group[h] as f64;
                    if ids > 0.0 {
                        people0[g][h] = nodes[h]
                            .iter()
                            .map(|node| {
                                node.weight
                                    * node
                                        .hits
                                        .iter()
                                        .zip(&identities[h])
                                        .map(|(hit, &n)| hit * n)
                                        .sum::<f64>()
                            })
                            .sum::<f64>()
                            / ids;
                    }
                }
                v_people += clustering.variance(
                    Unit::People,
                    t,
                    Some(g),
                    &all,
                    Some(o.replicate),
                    &people0,
                );
            }
            if n == 0 {
                continue;
            }
            let nf = n as f64;
            let fpir0 = e_fpir / nf;
            rows.push(row(
                "fpir",
                None,
                fpir0,
                hits as f64 / nf,
                hits,
                e_fpir,
                1.0,
                binomial_p(hits as f64, nf, fpir0),
            ));
            let deff = design_effect(v_sel.max(v_sel_model), e_sel);
            rows.push(row(
                "sel",
                None,
                e_sel / nf,
                total as f64 / nf,
                total,
                e_sel,
                deff,
                poisson_p(total as f64 / deff, e_sel / deff),
            ));
            let deff = design_effect(v_people.max(v_people_model), e_people);
            rows.push(row(
                "sel_people",
                None,
                e_people / nf,
                people as f64 / nf,
                people,
                e_people,
                deff,
                poisson_p(people as f64 / deff, e_people / deff),
            ));
        }
    }
    let verdict = verdict(&rows, comparisons);
    ClosedFormCheck {
        note: "closed forms of the model (datasets/MODEL.md section 4) given each replicate's realized gallery: exact for fixed or Beta-distributed rho, fixed or uniform capture noise, and any number of detections per identity; each row is an exact two-sided test whose variance allows for repeated sightings of one person and for one probe meeting the whole gallery (two-way cluster design effect); the verdict allows for the number of rows (Sidak, 5 %)".into(),
        verdict,
        rows,
    }
}

/// The variance of one search's count of distinct false candidate people: given the probe,
/// identities are independent Bernoulli(hit_m); plus the variance over probe nodes.
fn people_variance(nodes: &[Vec<ProbeNode>], identities: &[Vec<f64>]) -> f64 {
    let n_probe = nodes.first().map_or(0, Vec::len);
    let (mut mean, mut second) = (0.0, 0.0);
    for k in 0..n_probe {
        let w = nodes[0][k].weight;
        let (mut m, mut v) = (0.0, 0.0);
        for (h, group) in nodes.iter().enumerate() {
            for (hit, &n) in group[k].hits.iter().zip(&identities[h]) {
                m += n * hit;
                v += n * hit * (1.0 - hit);
            }
        }
        mean += w * m;
        second += w * (v + m * m);
    }
    (second - mean * mean).max(0.0)
}

/// The non-mated searches of probe group `g` in `replicate`.
fn searches_of(records: &[ProbeRecord], replicate: u32, g: usize) -> Vec<&ProbeRecord> {
    records
        .iter()
        .filter(|r| r.replicate == replicate && r.mate.is_none() && r.group as usize == g)
        .collect()
}

/// The verdict over the rows that could show a difference.
fn verdict(rows: &[ClosedFormRow], comparisons: u64) -> Verdict {
    let tested: Vec<&ClosedFormRow> = rows
        .iter()
        .filter(|r| r.expected > 0.0 || r.observed > 0)
        .collect();
    let m = tested.len();
    let largest = tested.iter().fold(0.0f64, |a, r| a.max(r.z.abs()));
    let critical = sidak(m, 0.05);
    let typical = sidak(m, 0.5);
    let agrees = largest <= critical;
    let text = if m == 0 {
        "nothing to compare: no row has an expected or observed event".to_string()
    } else {
        format!(
            "{}: the largest |z| over {m} rows ({} simulated comparisons) is {largest:.2}; by chance alone the largest of {m} |z| is about {typical:.2}, and above {critical:.2} in 5 % of runs",
            if agrees {
                "agrees with the closed forms"
            } else {
                "DISAGREES with the closed forms"
            },
            crate::format::count(comparisons)
        )
    };
    Verdict {
        agrees,
        rows_tested: m,
        comparisons,
        largest_abs_z: largest,
        critical_abs_z: critical,
        typical_largest_abs_z: typical,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tests_and_the_sidak_bound() {
        // 5 events when 5 are expected: nothing unusual; 30 when 5 are: very unusual.
        assert!(poisson_p(5.0, 5.0) > 0.5);
        assert!(poisson_p(30.0, 5.0) < 1e-9);
        assert!(poisson_p(0.0, 5.0) < 0.02);
        assert!((binomial_p(50.0, 100.0, 0.5) - 1.0).abs() < 1e-12);
        assert!(binomial_p(80.0, 100.0, 0.5) < 1e-8);
        // Sidak: one row at 5 % is 1.96; 35 rows about 3.2.
        assert!((sidak(1, 0.05) - 1.959_963_985).abs() < 1e-6);
        assert!((sidak(35, 0.05) - 3.19).abs() < 0.02);
        assert!(z_of(0.05, true) > 1.95 && z_of(0.05, false) < -1.95);
    }
}
