//! Closed forms of whole searches under the reference model, wherever the model is exact:
//! per-identity rho (Beta), per-capture noise (uniform) and several detections per identity.
//!
//! ```text
//! given a probe (its rho_p, its noise s_p) and a gallery identity i (rho_i) of m detections,
//! with template cosine c (d_eff dims) and detection noises s_j (iid):
//!   score_j = k_j (A + B c) + s_p s_j c'_j        k_j = sqrt(1-s_p^2) sqrt(1-s_j^2)
//!   A = sqrt(rho_p rho_i) u_g.u_h,  B = sqrt((1-rho_p)(1-rho_i)),  c'_j iid cosines (noise dims)
//!   q(c)       = E_s P(score_j >= T | c)               one detection, given the template cosine
//!   FMR        = E_probe E_rho_i E_c q(c)
//!   hit_m      = E_rho_i E_c [1 - (1 - q(c))^m]         identity of m detections returned
//! given the probe, gallery identities are independent (isotropy: the law of c does not depend
//! on the probe's direction), so with n_hm identities of group h with m detections:
//!   FPIR_g     = 1 - E_probe prod_{h,m} (1 - hit_m(h))^{n_hm}
//!   SEL_g      = sum_h N_h FMR_gh            people_g = E_probe sum_{h,m} n_hm hit_m(h)
//! ```
//!
//! Expectations over rho use Gauss-Legendre nodes on panels of the Beta quantile that narrow
//! geometrically toward both ends (the far tails of FMR come from the extreme rho); over a
//! uniform noise, Gauss-Legendre nodes; over c, composite Simpson on the part of the
//! integrand's support holding all but e^-46 of its peak (located on a coarse grid).
//! With fixed rho and noise on both sides, the shared group term k A is taken on the int16
//! grid (every member of a group has the same rounded demographic coordinates), so the closed
//! form describes the quantized scores the kernel counts.

use super::cosine_upper_tail;
use crate::special::{beta_quantile, ln_gamma};

/// How a side's concentration rho is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RhoLaw {
    /// The same for everyone.
    Fixed(f64),
    /// Per identity, Beta(mean k, (1 - mean) k).
    Beta {
        /// Mean rho.
        mean: f64,
        /// Concentration k.
        concentration: f64,
    },
}

/// One side of a comparison: its group's rho and its capture condition's noise range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// Concentration law.
    pub rho: RhoLaw,
    /// Lowest capture noise.
    pub noise_min: f64,
    /// Highest capture noise (uniform in between; equal for a fixed noise).
    pub noise_max: f64,
}

/// The law of comparisons between probes of one group and gallery entries of another.
#[derive(Clone, Debug, PartialEq)]
pub struct PairLaw {
    /// d_eff.
    pub effective_dim: usize,
    /// Dimension of the noise block.
    pub noise_dim: usize,
    /// u_g . u_h.
    pub direction_cosine: f64,
    /// The probe side.
    pub probe: Side,
    /// The gallery side.
    pub entry: Side,
    /// The group term k A as the quantized scores have it (fixed rho and noise on both sides).
    pub group_term: Option<f64>,
    /// Look-alikes (None: the sphere model).
    pub tail: Option<crate::scenario::Tail>,
    /// How finely to integrate.
    pub quadrature: Quadrature,
}

/// How finely the closed forms integrate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Quadrature {
    /// For results: relative error about 1e-6 where everything is fixed, 1e-3 with mixtures.
    #[default]
    Fine,
    /// For searches over parameters (calibration): about 1e-2, ten times faster.
    Coarse,
}

/// What a search meets, for one probe quadrature node.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeNode {
    /// Quadrature weight (the weights of a law sum to 1).
    pub weight: f64,
    /// The per-comparison false match rate for this probe.
    pub fmr: f64,
    /// E[q(c)^2]: the probability that two given detections of one identity both score >= T
    /// (they share the identity's template; their noises are independent).
    pub fmr2: f64,
    /// For each requested identity size m, the probability that an identity of m detections
    /// has at least one scoring >= T.
    pub hits: Vec<f64>,
}

/// Gauss-Legendre nodes and weights on [-1, 1], 2 and 3 points.
const GL2: [(f64, f64); 2] = [
    (-0.577_350_269_189_625_8, 1.0),
    (0.577_350_269_189_625_8, 1.0),
];
const GL3: [(f64, f64); 3] = [
    (-0.774_596_669_241_483_4, 0.555_555_555_555_555_6),
    (0.0, 0.888_888_888_888_889),
    (0.774_596_669_241_483_4, 0.555_555_555_555_555_6),
];

/// Quadrature nodes (value, weight) of a rho law.
fn rho_nodes(law: RhoLaw, quadrature: Quadrature) -> Vec<(f64, f64)> {
    match law {
        RhoLaw::Fixed(r) => vec![(r, 1.0)],
        RhoLaw::Beta {
            mean,
            concentration,
        } => {
            let (a, b) = (mean * concentration, (1.0 - mean) * concentration);
            // Panels of the quantile u, narrowing geometrically toward 0 and 1.
            let fine = [0.0, 1e-4, 1e-2, 0.1, 0.5, 0.9, 0.99, 0.9999, 1.0];
            let coarse = [0.0, 1e-2, 0.3, 0.7, 0.99, 1.0];
            let cuts: &[f64] = match quadrature {
                Quadrature::Fine => &fine,
                Quadrature::Coarse => &coarse,
            };
            let mut nodes = Vec::new();
            for w in cuts.windows(2) {
                let (lo, hi) = (w[0], w[1]);
                for &(x, wt) in &GL2 {
                    let u = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x;
                    let rho = beta_quantile(a, b, u).clamp(0.0, 1.0 - 1e-12);
                    nodes.push((rho, 0.5 * (hi - lo) * wt));
                }
            }
            nodes
        }
    }
}

/// Quadrature nodes (value, weight) of a noise range.
fn noise_nodes(side: &Side) -> Vec<(f64, f64)> {
    if side.noise_max <= side.noise_min {
        return vec![(side.noise_min, 1.0)];
    }
    let (lo, hi) = (side.noise_min, side.noise_max);
    GL3.iter()
        .map(|&(x, w)| (0.5 * (lo + hi) + 0.5 * (hi - lo) * x, 0.5 * w))
        .collect()
}

impl PairLaw {
    /// True when everything is fixed (no mixture over rho or noise on either side).
    pub fn is_fixed(&self) -> bool {
        matches!(self.probe.rho, RhoLaw::Fixed(_))
            && matches!(self.entry.rho, RhoLaw::Fixed(_))
            && self.probe.noise_max <= self.probe.noise_min
            && self.entry.noise_max <= self.entry.noise_min
    }

    /// The probe quadrature nodes (rho, noise, weight); the same for every gallery group.
    pub fn probe_nodes(&self) -> Vec<(f64, f64, f64)> {
        let rhos = rho_nodes(self.probe.rho, self.quadrature);
        let noises = noise_nodes(&self.probe);
        rhos.iter()
            .flat_map(|&(r, wr)| noises.iter().map(move |&(s, ws)| (r, s, wr * ws)))
            .collect()
    }

    /// Points of the coarse and the fine grid of each cosine integral: fewer when many
    /// integrals are nested.
    fn points(&self) -> (usize, usize) {
        match (self.quadrature, self.is_fixed()) {
            (Quadrature::Fine, true) => (2000, 4000),
            (Quadrature::Fine, false) => (200, 400),
            (Quadrature::Coarse, _) => (120, 160),
        }
    }

    /// Probe states: without look-alikes every identity's template cosine c has the sphere
    /// law; a probe with look-alikes shares its centre with each identity with probability
    /// lambda / K, and then c = kappa + (1 - kappa) c' (c' in d_eff - 1 dims).
    fn states(&self) -> Vec<(f64, Vec<(CosineLaw, f64)>)> {
        match self.tail {
            Some(t) if t.share > 0.0 => {
                let same = t.share / t.groups as f64;
                vec![
                    (1.0 - t.share, vec![(CosineLaw::Sphere, 1.0)]),
                    (
                        t.share,
                        vec![
                            (CosineLaw::Sphere, 1.0 - same),
                            (CosineLaw::Centre(t.closeness), same),
                        ],
                    ),
                ]
            }
            _ => vec![(1.0, vec![(CosineLaw::Sphere, 1.0)])],
        }
    }

    /// The work of one [`per_probe`](Self::per_probe) call with `sizes` identity sizes, the
    /// units of the start-up estimate's closed-form part: (evaluations of a capture-noise tail,
    /// an incomplete beta function; hit-probability updates, one per node and size). Per probe
    /// node, cosine law and entry rho node, one evaluation per entry noise level at every point
    /// of the integral's two grids (one per level without noise), and one update per size at
    /// every point of the fine grid.
    pub fn cost(&self, sizes: usize) -> (f64, f64) {
        let (coarse, fine) = self.points();
        let noise_free =
            self.noise_dim == 0 || self.probe.noise_max <= 0.0 || self.entry.noise_max <= 0.0;
        // (points where the tail is evaluated, nodes that update the hits) per integral.
        let (points, nodes) = if noise_free {
            (1, 1)
        } else {
            (coarse + fine + 2, fine + 1)
        };
        let laws: usize = self.states().iter().map(|s| s.1.len()).sum();
        let integrals = (self.probe_nodes().len()
            * laws
            * rho_nodes(self.entry.rho, self.quadrature).len()) as f64;
        (
            integrals * (noise_nodes(&self.entry).len() * points) as f64,
            integrals * (nodes * sizes) as f64,
        )
    }

    /// FMR and identity hit probabilities (for each size in `sizes`) at `threshold`, per probe
    /// quadrature node.
    pub fn per_probe(&self, threshold: f64, sizes: &[u64]) -> Vec<ProbeNode> {
        let entry_rhos = rho_nodes(self.entry.rho, self.quadrature);
        let entry_noises = noise_nodes(&self.entry);
        let (coarse, fine) = self.points();
        let states = self.states();
        let mut out = Vec::new();
        for (rho_p, s_p, weight) in self.probe_nodes() {
            for (state_weight, laws) in &states {
                let mut fmr = 0.0;
                let mut fmr2 = 0.0;
                let mut hits = vec![0.0; sizes.len()];
                for &(rho_i, w_i) in &entry_rhos {
                    let a = (rho_p * rho_i).sqrt() * self.direction_cosine;
                    let b = ((1.0 - rho_p) * (1.0 - rho_i)).sqrt();
                    // Each noise level's (k, group term, noise) for this pair.
                    let levels: Vec<(f64, f64, f64, f64)> = entry_noises
                        .iter()
                        .map(|&(s_e, w_s)| {
                            let k = (1.0 - s_p * s_p).sqrt() * (1.0 - s_e * s_e).sqrt();
                            (k, self.group_term.unwrap_or(k * a), s_p * s_e, w_s)
                        })
                        .collect();
                    // q(c): one detection scores >= T, averaged over its noise.
                    let q = |c: f64| -> f64 {
                        levels
                            .iter()
                            .map(|&(k, shared, noise, w_s)| {
                                let level = shared + k * b * c;
                                let p = if noise == 0.0 || self.noise_dim == 0 {
                                    f64::from(u8::from(level >= threshold))
                                } else {
                                    cosine_upper_tail(self.noise_dim, (threshold - level) / noise)
                                };
                                w_s * p
                            })
                            .sum()
                    };
                    let noise_free = self.noise_dim == 0 || levels.iter().all(|l| l.2 == 0.0);
                    for &(law, w_law) in laws {
                        let nodes = if noise_free {
                            // q is a step function of c: exact masses between its steps.
                            let steps: Vec<(f64, f64)> = levels
                                .iter()
                                .map(|&(k, shared, _, w_s)| {
                                    let step = if k * b > 0.0 {
                                        (threshold - shared) / (k * b)
                                    } else if shared >= threshold {
                                        f64::NEG_INFINITY
                                    } else {
                                        f64::INFINITY
                                    };
                                    (step, w_s)
                                })
                                .collect();
                            law.step_nodes(self.effective_dim, steps)
                        } else {
                            law.nodes(self.effective_dim, &q, coarse, fine)
                        };
                        for &(qc, w) in &nodes {
                            let w = w_i * w_law * w;
                            fmr += w * qc;
                            fmr2 += w * qc * qc;
                            add_hits(&mut hits, sizes, qc, w);
                        }
                    }
                }
                out.push(ProbeNode {
                    weight: weight * state_weight,
                    fmr: fmr.clamp(0.0, 1.0),
                    fmr2: fmr2.clamp(0.0, 1.0),
                    hits: hits.into_iter().map(|h| h.clamp(0.0, 1.0)).collect(),
                });
            }
        }
        out
    }

    /// FMR at `threshold`, averaged over probes.
    pub fn fmr(&self, threshold: f64) -> f64 {
        self.per_probe(threshold, &[])
            .iter()
            .map(|n| n.weight * n.fmr)
            .sum()
    }
}

/// The law of the identity-block cosine c of a probe and a gallery identity.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CosineLaw {
    /// Two independent uniform directions in d_eff dims.
    Sphere,
    /// Two people around one look-alike centre: c = kappa + (1 - kappa) c', c' in d_eff - 1.
    Centre(f64),
}

impl CosineLaw {
    /// Quadrature nodes (f(c), weight) of E[f(c)].
    fn nodes(
        self,
        d_eff: usize,
        f: &dyn Fn(f64) -> f64,
        coarse: usize,
        fine: usize,
    ) -> Vec<(f64, f64)> {
        match self {
            CosineLaw::Sphere => cosine_nodes(d_eff, f, coarse, fine),
            CosineLaw::Centre(kappa) => {
                cosine_nodes(d_eff - 1, &|c| f(kappa + (1.0 - kappa) * c), coarse, fine)
            }
        }
    }

    /// Exact nodes of E[q(c)] for a step function q: q jumps by `w` at each `(step, w)`.
    fn step_nodes(self, d_eff: usize, mut steps: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
        let (dim, map): (usize, Box<dyn Fn(f64) -> f64>) = match self {
            CosineLaw::Sphere => (d_eff, Box::new(|c| c)),
            CosineLaw::Centre(kappa) => (d_eff - 1, Box::new(move |c| (c - kappa) / (1.0 - kappa))),
        };
        steps.sort_by(|x, y| x.0.total_cmp(&y.0));
        let tail = |c: f64| {
            if c >= 1.0 {
                0.0
            } else {
                cosine_upper_tail(dim, map(c))
            }
        };
        let mut out = Vec::new();
        let mut level = 0.0;
        for (i, &(step, w_s)) in steps.iter().enumerate() {
            level += w_s;
            let upper = steps.get(i + 1).map_or(1.0, |x| x.0);
            let mass = tail(step) - tail(upper);
            if mass > 0.0 {
                out.push((level, mass));
            }
        }
        out
    }
}

/// Adds `weight` (1 - (1 - q)^m) to `hits[k]` for each size m = `sizes[k]`, without
/// cancellation and mostly without transcendental calls: with x = m ln(1 - q), a short
/// series where |x| < 1e-3 (the far tail, most nodes), expm1 up to |x| = 0.5, and beyond,
/// where 1 - (1 - q)^m >= 0.39, (1 - q)^m itself (relative error about 1e-14).
fn add_hits(hits: &mut [f64], sizes: &[u64], q: f64, weight: f64) {
    let l = libm::log1p(-q.min(1.0));
    if l == f64::NEG_INFINITY {
        hits.iter_mut().for_each(|h| *h += weight);
        return;
    }
    for (hit, &m) in hits.iter_mut().zip(sizes) {
        let x = m as f64 * l;
        let h = if x > -1e-3 {
            // -expm1(x) = -x (1 + x/2 + x^2/6 + x^3/24), |x| < 1e-3.
            -x * (1.0 + x * (0.5 + x / 6.0 * (1.0 + x / 4.0)))
        } else if x > -0.5 {
            -libm::expm1(x)
        } else {
            1.0 - libm::exp(x)
        };
        *hit += weight * h;
    }
}

/// Quadrature of E[f(c)] for c the cosine of two uniform unit vectors in `dim >= 2` dims:
/// (f(c_k), weight_k) pairs whose weighted sum is the expectation. The support of the
/// integrand is located on `coarse` points; Simpson's rule with `fine` intervals covers it.
pub fn cosine_nodes(
    dim: usize,
    f: &dyn Fn(f64) -> f64,
    coarse: usize,
    fine: usize,
) -> Vec<(f64, f64)> {
    use std::f64::consts::FRAC_PI_2;
    let a = (dim as f64 - 1.0) / 2.0;
    // c = sin(theta); density of theta: cos^(dim - 2) theta / B(1/2, (dim - 1)/2).
    let ln_norm = ln_gamma(0.5) + ln_gamma(a) - ln_gamma(0.5 + a);
    let ln_density = |theta: f64| {
        let c = libm::cos(theta);
        if dim == 2 {
            -ln_norm
        } else if c <= 0.0 {
            f64::NEG_INFINITY
        } else {
            (dim as f64 - 2.0) * libm::log(c) - ln_norm
        }
    };
    let step = 2.0 * FRAC_PI_2 / coarse as f64;
    let grid: Vec<(f64, f64)> = (0..=coarse)
        .map(|i| {
            let theta = -FRAC_PI_2 + i as f64 * step;
            let v = f(libm::sin(theta));
            let ln = if v > 0.0 {
                ln_density(theta) + libm::log(v)
            } else {
                f64::NEG_INFINITY
            };
            (theta, ln)
        })
        .collect();
    let peak = grid.iter().map(|g| g.1).fold(f64::NEG_INFINITY, f64::max);
    if peak == f64::NEG_INFINITY {
        return Vec::new();
    }
    let keep = |v: f64| v > peak - 46.0;
    let first = grid.iter().position(|g| keep(g.1)).unwrap_or(0);
    let last = grid.iter().rposition(|g| keep(g.1)).unwrap_or(coarse);
    let lo = grid[first.saturating_sub(1)].0.max(-FRAC_PI_2);
    let hi = grid[(last + 1).min(coarse)].0.min(FRAC_PI_2);
    let h = (hi - lo) / fine as f64;
    (0..=fine)
        .filter_map(|i| {
            let theta = lo + i as f64 * h;
            let ln_d = ln_density(theta);
            if ln_d == f64::NEG_INFINITY {
                return None;
            }
            let simpson = if i == 0 || i == fine {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            Some((f(libm::sin(theta)), simpson * h / 3.0 * libm::exp(ln_d)))
        })
        .collect()
}

/// FPIR, expected false candidate detections and people of one search of a probe group, from
/// the per-probe nodes of each gallery group h (`nodes[h]`, sizes as in `sizes[h]`), the
/// entries `entries[h]`, and the identities `identities[h][k]` of size `sizes[h][k]` (counts,
/// or expected counts).
pub fn search_expectations(
    nodes: &[Vec<ProbeNode>],
    sizes: &[Vec<u64>],
    identities: &[Vec<f64>],
    entries: &[u64],
) -> (f64, f64, f64) {
    let n_probe = nodes.first().map_or(0, Vec::len);
    let (mut fpir, mut sel, mut people) = (0.0, 0.0, 0.0);
    for k in 0..n_probe {
        let weight = nodes[0][k].weight;
        let mut ln_miss = 0.0;
        let mut expected_people = 0.0;
        for (h, group) in nodes.iter().enumerate() {
            let node = &group[k];
            sel += weight * node.fmr * entries[h] as f64;
            for (j, &hit) in node.hits.iter().enumerate() {
                let n = identities[h][j];
                ln_miss += n * libm::log1p(-hit.min(1.0 - 1e-300));
                expected_people += n * hit;
            }
            debug_assert_eq!(sizes[h].len(), node.hits.len());
        }
        fpir += weight * -libm::expm1(ln_miss);
        people += weight * expected_people;
    }
    (fpir.clamp(0.0, 1.0), sel, people)
}

/// The mean and variance of one search's count of false candidate detections, from the
/// per-probe nodes of each gallery group h, the entries `entries[h]` = sum_i m_i and the
/// sums of squares `size_sq[h]` = sum_i m_i^2 of its identities:
///
/// ```text
/// given the probe, identities are independent, and Y_i ~ Binomial(m_i, q(c)) given c:
/// Var(X | probe) = sum_h [ N_h FMR + (M2_h - N_h) FMR2 - M2_h FMR^2 ]     M2_h = sum_i m_i^2
/// Var(X) = E_probe Var(X | probe) + Var_probe E(X | probe)
/// ```
pub fn search_count_moments(
    nodes: &[Vec<ProbeNode>],
    entries: &[f64],
    size_sq: &[f64],
) -> (f64, f64) {
    let n_probe = nodes.first().map_or(0, Vec::len);
    let (mut mean, mut second) = (0.0, 0.0);
    for k in 0..n_probe {
        let w = nodes[0][k].weight;
        let (mut m, mut v) = (0.0, 0.0);
        for (h, group) in nodes.iter().enumerate() {
            let node = &group[k];
            m += entries[h] * node.fmr;
            v += entries[h] * node.fmr + (size_sq[h] - entries[h]) * node.fmr2
                - size_sq[h] * node.fmr * node.fmr;
        }
        mean += w * m;
        second += w * (v.max(0.0) + m * m);
    }
    (mean, (second - mean * mean).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::closed_form::PairModel;

    fn side(rho: f64, s: f64) -> Side {
        Side {
            rho: RhoLaw::Fixed(rho),
            noise_min: s,
            noise_max: s,
        }
    }

    #[test]
    fn hits_without_cancellation_are_the_exact_ones() {
        let sizes: Vec<u64> = (1..=300).chain([500, 1000, 5000]).collect();
        for q in [1e-15, 1e-9, 1e-5, 1e-3, 0.02, 0.3, 0.9, 1.0] {
            let mut hits = vec![0.0; sizes.len()];
            add_hits(&mut hits, &sizes, q, 1.0);
            for (h, &m) in hits.iter().zip(&sizes) {
                let exact = -libm::expm1(m as f64 * libm::log1p(-q));
                assert!(
                    (h - exact).abs() <= 1e-12 * exact + 1e-300,
                    "q {q} m {m}: {h} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn a_fixed_law_is_the_pair_model() {
        for (d_eff, s, rho, t) in [
            (16, 0.6, 0.1, 0.35),
            (13, 0.645, 0.047, 0.5),
            (32, 0.0, 0.2, 0.4),
        ] {
            let law = PairLaw {
                effective_dim: d_eff,
                noise_dim: 512 - 8 - d_eff,
                direction_cosine: 1.0,
                probe: side(rho, s),
                entry: side(rho, s),
                group_term: None,
                tail: None,
                quadrature: Quadrature::Fine,
            };
            let pair = PairModel {
                effective_dim: d_eff,
                noise_dim: 512 - 8 - d_eff,
                rho_a: rho,
                rho_b: rho,
                direction_cosine: 1.0,
                noise_a: s,
                noise_b: s,
            };
            let (a, b) = (law.fmr(t), pair.fmr(t));
            assert!(
                ((a - b) / b).abs() < 1e-6,
                "{d_eff} {s} {rho} {t}: {a:e} vs {b:e}"
            );
        }
    }

    #[test]
    fn one_detection_hits_with_the_fmr_and_more_hit_more() {
        let law = PairLaw {
            effective_dim: 13,
            noise_dim: 491,
            direction_cosine: 1.0,
            probe: side(0.047, 0.645),
            entry: side(0.047, 0.645),
            group_term: None,
            tail: None,
            quadrature: Quadrature::Fine,
        };
        let node = &law.per_probe(0.45, &[1, 2, 20])[0];
        assert!((node.hits[0] - node.fmr).abs() < 1e-15 * node.fmr.max(1e-300) + 1e-18);
        // Detections of one identity match together: 20 detections hit far less often than
        // 20 independent entries would, but more often than one.
        assert!(node.hits[1] > node.hits[0] && node.hits[2] > node.hits[1]);
        assert!(node.hits[2] < 20.0 * node.fmr);
    }

    #[test]
    fn a_beta_rho_averages_the_fixed_law_over_rho() {
        // E_rho FMR(rho) by a plain fine midpoint rule over the Beta quantile, against the
        // panel quadrature (one side random, the other fixed).
        let (mean, k) = (0.2, 30.0);
        let base = PairLaw {
            effective_dim: 10,
            noise_dim: 30,
            direction_cosine: 1.0,
            probe: side(0.15, 0.3),
            entry: Side {
                rho: RhoLaw::Beta {
                    mean,
                    concentration: k,
                },
                noise_min: 0.4,
                noise_max: 0.4,
            },
            group_term: None,
            tail: None,
            quadrature: Quadrature::Fine,
        };
        for t in [0.3, 0.5, 0.7] {
            let n = 1000;
            let reference: f64 = (0..n)
                .map(|i| {
                    let u = (i as f64 + 0.5) / n as f64;
                    let rho = beta_quantile(mean * k, (1.0 - mean) * k, u);
                    PairLaw {
                        entry: side(rho, 0.4),
                        ..base.clone()
                    }
                    .fmr(t)
                })
                .sum::<f64>()
                / n as f64;
            let got = base.fmr(t);
            assert!(
                ((got - reference) / reference).abs() < 2e-3,
                "{t}: {got:e} vs {reference:e}"
            );
        }
    }
}
