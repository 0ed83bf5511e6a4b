//! The closed forms of a scenario: the law of each pair of groups' comparisons, the FMR
//! matrix, and the expectations of whole searches at any gallery size (over the expected
//! gallery layout), from the laws above.

use super::PairModel;
use super::search::{PairLaw, ProbeNode, RhoLaw, Side, search_expectations};
use crate::scenario::Scenario;
use rayon::prelude::*;

/// The law of comparisons of probe group `g` against gallery group `h`.
pub fn pair_law(scenario: &Scenario, g: usize, h: usize) -> PairLaw {
    let side = |group: usize, capture: usize| {
        let grp = &scenario.groups()[group];
        let cap = &scenario.captures()[capture];
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
    let (a, b) = (&scenario.groups()[g], &scenario.groups()[h]);
    let mut law = PairLaw {
        effective_dim: scenario.effective_dim(),
        noise_dim: scenario.noise_dim(),
        direction_cosine: direction_cosine(a, b),
        probe: side(g, scenario.probe_capture()),
        entry: side(h, scenario.gallery_capture()),
        group_term: None,
        tail: scenario.tail(),
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
                .map(|u| f64::from(crate::quantize::quantize(signal * u)))
                .collect()
        };
        let pa = coords(a, law.probe.noise_min);
        let pb = coords(b, law.entry.noise_min);
        let scale = crate::quantize::QUANT_SCALE * crate::quantize::QUANT_SCALE;
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
    let (a, b) = (&scenario.groups()[g], &scenario.groups()[h]);
    PairModel {
        effective_dim: scenario.effective_dim(),
        noise_dim: scenario.noise_dim(),
        rho_a: a.rho,
        rho_b: b.rho,
        direction_cosine: direction_cosine(a, b),
        noise_a: scenario.captures()[scenario.probe_capture()].noise_min,
        noise_b: scenario.captures()[scenario.gallery_capture()].noise_min,
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
        let scores: Vec<f64> = scenario.thresholds().iter().map(|t| t.score).collect();
        Self::at_scores(scenario, &scores)
    }

    /// The work of [`at_scores`](Self::at_scores) at `scores` threshold scores, in the units of
    /// [`PairLaw::cost`](super::search::PairLaw::cost).
    pub fn cost(scenario: &Scenario, scores: usize) -> (f64, f64) {
        let n_g = scenario.n_groups();
        let sizes = size_law(scenario).len();
        let (evaluations, updates) = (0..n_g)
            .filter(|&g| scenario.groups()[g].probe_share > 0.0)
            .flat_map(|g| (0..n_g).map(move |h| pair_law(scenario, g, h).cost(sizes)))
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        (evaluations * scores as f64, updates * scores as f64)
    }

    /// The closed forms of every probe group with probes, at the given threshold scores.
    pub fn at_scores(scenario: &Scenario, scores: &[f64]) -> Self {
        let sizes = size_law(scenario);
        let mean_size = sizes.iter().map(|&(m, p)| m as f64 * p).sum::<f64>()
            / sizes.iter().map(|x| x.1).sum::<f64>();
        let n_g = scenario.n_groups();
        let ms: Vec<u64> = sizes.iter().map(|x| x.0).collect();
        let n_t = scores.len();
        let jobs: Vec<(usize, usize, usize)> = (0..n_g)
            .flat_map(|g| (0..n_t).flat_map(move |t| (0..n_g).map(move |h| (g, t, h))))
            .filter(|&(g, _, _)| scenario.groups()[g].probe_share > 0.0)
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
            gallery_share: scenario.groups().iter().map(|g| g.gallery_share).collect(),
            probe_share: scenario.groups().iter().map(|g| g.probe_share).collect(),
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
        .groups()
        .iter()
        .map(|grp| n * grp.gallery_share)
        .collect();
    let size_sq: Vec<f64> = entries.iter().map(|e| e * mean_m2 / mean_m).collect();
    let nodes: Vec<Vec<ProbeNode>> = (0..scenario.n_groups())
        .map(|h| pair_law(scenario, g, h).per_probe(threshold, &[]))
        .collect();
    super::search::search_count_moments(&nodes, &entries, &size_sq)
}

/// Each identity class with its share of identities.
fn class_shares(
    scenario: &Scenario,
) -> impl Iterator<Item = (f64, &crate::scenario::IdentityClass)> {
    scenario
        .identity_classes()
        .iter()
        .enumerate()
        .map(|(k, class)| {
            let below = if k == 0 {
                0.0
            } else {
                scenario.class_cumulative()[k - 1]
            };
            (scenario.class_cumulative()[k] - below, class)
        })
}

/// E\[m\] and E\[m^2\] of the detections per identity under the scenario's identity classes.
pub fn size_moments(scenario: &Scenario) -> (f64, f64) {
    let mut m1 = 0.0;
    let mut m2 = 0.0;
    for (share, class) in class_shares(scenario) {
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

/// The law of an identity's detection count (size, probability), sizes ascending; geometric
/// classes are cut where a size's probability falls under 1e-12.
fn size_law(scenario: &Scenario) -> Vec<(u64, f64)> {
    let mut law: Vec<(u64, f64)> = Vec::new();
    for (share, class) in class_shares(scenario) {
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
    sizes
}
