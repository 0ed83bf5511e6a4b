//! Closed forms of the reference model (MODEL.md sections 3-4): the analytic side that the
//! simulator is tested against, and the fast mode for galleries too large to enumerate.
//!
//! ```text
//! c  = cosine of two independent uniform unit vectors in m dims:  (1 + c)/2 ~ Beta((m-1)/2, (m-1)/2)
//! score of two captures a (group g) and b (group h), without quantization:
//!     k [ sqrt(rho_g rho_h) (u_g . u_h) + sqrt((1-rho_g)(1-rho_h)) c ] + s_a s_b c'
//!     k = sqrt(1-s_a^2) sqrt(1-s_b^2),  c in d_eff dims,  c' in the noise block's dims
//! FMR_gh(T) = P(score >= T) = E_{c'}[ P(c >= (T - k A - s_a s_b c') / (k B)) ]     (1-D integral)
//! FPIR_g(N, T) = 1 - prod_h (1 - FMR_gh(T))^{N_h}                  (one capture per identity)
//! SEL_g(N, T)  = sum_h N_h FMR_gh(T)
//! ```
//!
//! The integral runs over c' = sin(theta), where the density of c' becomes proportional to
//! cos(theta)^(m-2), smooth for every m >= 2; the integrand is located on a coarse grid and
//! then integrated by composite Simpson over the part holding all but e^-40 of its peak.

mod laws;
pub mod search;

pub use laws::{
    Expected, SearchExpectation, fmr_matrix, pair_law, pair_model, search_count_law, size_moments,
};

use crate::special::{beta_inc, ln_gamma};

/// P(c >= v) for the cosine c of two independent uniform unit vectors in `m >= 2` dimensions.
pub fn cosine_upper_tail(m: usize, v: f64) -> f64 {
    if v <= -1.0 {
        return 1.0;
    }
    if v > 1.0 {
        return 0.0;
    }
    let a = (m as f64 - 1.0) / 2.0;
    beta_inc(a, a, (1.0 + v) / 2.0).1
}

/// The two captures of a comparison, as the closed form needs them.
#[derive(Clone, Copy, Debug)]
pub struct PairModel {
    /// Effective (identity) dimension d_eff.
    pub effective_dim: usize,
    /// Dimension of the capture-noise block.
    pub noise_dim: usize,
    /// Concentration of the first identity's group.
    pub rho_a: f64,
    /// Concentration of the second identity's group.
    pub rho_b: f64,
    /// Cosine between the two group directions, u_g . u_h.
    pub direction_cosine: f64,
    /// Capture noise of the first capture.
    pub noise_a: f64,
    /// Capture noise of the second capture.
    pub noise_b: f64,
}

impl PairModel {
    /// FMR(T): probability that a non-mated comparison scores >= `threshold`.
    pub fn fmr(&self, threshold: f64) -> f64 {
        let k =
            (1.0 - self.noise_a * self.noise_a).sqrt() * (1.0 - self.noise_b * self.noise_b).sqrt();
        let shared = k * (self.rho_a * self.rho_b).sqrt() * self.direction_cosine;
        let spread = k * ((1.0 - self.rho_a) * (1.0 - self.rho_b)).sqrt();
        let noise = self.noise_a * self.noise_b;
        let identity_tail = |v: f64| {
            cosine_upper_tail(
                self.effective_dim,
                (threshold - shared - noise * v) / spread,
            )
        };
        if noise == 0.0 || self.noise_dim == 0 {
            return identity_tail(0.0);
        }
        expectation_over_cosine(self.noise_dim, identity_tail)
    }

    /// Mean genuine score of two captures of one identity: k (the noise terms average to 0).
    pub fn genuine_mean(&self) -> f64 {
        (1.0 - self.noise_a * self.noise_a).sqrt() * (1.0 - self.noise_b * self.noise_b).sqrt()
    }
}

/// E[f(c)] for c the cosine of two uniform unit vectors in `m >= 2` dims, `f` bounded.
fn expectation_over_cosine(m: usize, f: impl Fn(f64) -> f64) -> f64 {
    use std::f64::consts::FRAC_PI_2;
    let a = (m as f64 - 1.0) / 2.0;
    // Density of theta (c = sin theta): cos^(m-2) theta / B(1/2, (m-1)/2).
    let ln_norm = ln_gamma(0.5) + ln_gamma(a) - ln_gamma(0.5 + a);
    let ln_integrand = |theta: f64| {
        let value = f(libm::sin(theta));
        if value <= 0.0 {
            return f64::NEG_INFINITY;
        }
        let c = libm::cos(theta);
        let ln_density = if m == 2 {
            0.0
        } else if c <= 0.0 {
            f64::NEG_INFINITY
        } else {
            (m as f64 - 2.0) * libm::log(c)
        };
        ln_density - ln_norm + libm::log(value)
    };
    // Locate the integrand's support on a coarse grid.
    const COARSE: usize = 2000;
    let step = 2.0 * FRAC_PI_2 / COARSE as f64;
    let grid: Vec<(f64, f64)> = (0..=COARSE)
        .map(|i| {
            let theta = -FRAC_PI_2 + i as f64 * step;
            (theta, ln_integrand(theta))
        })
        .collect();
    let peak = grid.iter().map(|g| g.1).fold(f64::NEG_INFINITY, f64::max);
    if peak == f64::NEG_INFINITY {
        return 0.0;
    }
    let keep = |v: f64| v > peak - 40.0;
    let first = grid.iter().position(|g| keep(g.1)).unwrap_or(0);
    let last = grid.iter().rposition(|g| keep(g.1)).unwrap_or(COARSE);
    let lo = (grid[first.saturating_sub(1)].0).max(-FRAC_PI_2);
    let hi = (grid[(last + 1).min(COARSE)].0).min(FRAC_PI_2);
    // Composite Simpson on the support.
    const FINE: usize = 4000;
    let h = (hi - lo) / FINE as f64;
    let value = |theta: f64| {
        let v = ln_integrand(theta);
        if v == f64::NEG_INFINITY {
            0.0
        } else {
            libm::exp(v)
        }
    };
    let mut sum = value(lo) + value(hi);
    for i in 1..FINE {
        let w = if i % 2 == 1 { 4.0 } else { 2.0 };
        sum += w * value(lo + i as f64 * h);
    }
    (sum * h / 3.0).clamp(0.0, 1.0)
}

/// FPIR of one probe against a gallery with `entries[h]` entries of group h, each matching
/// independently with probability `fmr[h]`: 1 - prod_h (1 - fmr_h)^{N_h}.
pub fn fpir(fmr: &[f64], entries: &[u64]) -> f64 {
    let ln_miss: f64 = fmr
        .iter()
        .zip(entries)
        .map(|(&p, &n)| n as f64 * libm::log1p(-p.min(1.0 - 1e-300)))
        .sum();
    -libm::expm1(ln_miss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative agreement with the independent implementation's 4-significant-digit values.
    const VECTOR_REL_TOL: f64 = 0.003;

    fn pair(d_eff: usize, s: f64, rho_a: f64, rho_b: f64, cosine: f64) -> PairModel {
        PairModel {
            effective_dim: d_eff,
            noise_dim: 512 - 8 - d_eff,
            rho_a,
            rho_b,
            direction_cosine: cosine,
            noise_a: s,
            noise_b: s,
        }
    }

    #[test]
    fn design_test_vectors() {
        // MODEL.md sections 3-4: d = 512, D = 8, both captures with the same s.
        let rows = [
            (16, 0.6, 0.1, 0.1, 1.0, 0.35, 2.214e-2, VECTOR_REL_TOL),
            (32, 0.5, 0.2, 0.2, 1.0, 0.40, 8.306e-3, VECTOR_REL_TOL),
            (64, 0.3, 0.0, 0.0, 0.0, 0.30, 3.686e-3, VECTOR_REL_TOL),
            (13, 0.645, 0.047, 0.047, 1.0, 0.50, 1.05e-4, 0.01),
            (13, 0.645, 0.047, 0.047, 1.0, 0.45, 1.01e-3, 0.01),
            (13, 0.645, 0.047, 0.374, 0.0, 0.45, 2.5e-7, 0.04),
        ];
        for (d_eff, s, ra, rb, cos, t, expected, tol) in rows {
            let got = pair(d_eff, s, ra, rb, cos).fmr(t);
            assert!(
                ((got - expected) / expected).abs() < tol,
                "d_eff {d_eff} s {s} rho {ra}/{rb} T {t}: {got:e} vs {expected:e}"
            );
        }
    }

    #[test]
    fn cosine_tail_known_values() {
        // m = 3: c is uniform on [-1, 1] (Archimedes), so P(c >= v) = (1 - v) / 2.
        for v in [-0.5, 0.0, 0.3, 0.9] {
            assert!((cosine_upper_tail(3, v) - (1.0 - v) / 2.0).abs() < 1e-14);
        }
        assert_eq!(cosine_upper_tail(16, 1.5), 0.0);
        assert_eq!(cosine_upper_tail(16, -1.0), 1.0);
    }

    #[test]
    fn noise_free_pair_is_a_pure_beta_tail() {
        let p = PairModel {
            noise_a: 0.0,
            noise_b: 0.0,
            ..pair(16, 0.0, 0.0, 0.0, 0.0)
        };
        assert_eq!(p.fmr(0.4), cosine_upper_tail(16, 0.4));
    }

    #[test]
    fn fpir_of_independent_entries() {
        assert!((fpir(&[0.01], &[10]) - (1.0 - 0.99f64.powi(10))).abs() < 1e-15);
        // 10^6 ln(1 - 1e-9) = -1e-3 - 5e-13 (to 1e-21): the product form without rounding loss.
        let expected = -(-1e-3f64 - 5e-13).exp_m1();
        assert!((fpir(&[1e-9, 0.0], &[1_000_000, 5]) - expected).abs() < 1e-17);
        assert_eq!(fpir(&[0.2], &[0]), 0.0);
    }
}
