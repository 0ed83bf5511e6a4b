//! Special functions behind the closed forms and the exact intervals.
//!
//! ```text
//! I_x(a, b)  = B(x; a, b) / B(a, b)            regularized incomplete beta (lower tail)
//! Q_x(a, b)  = 1 - I_x(a, b) = I_{1-x}(b, a)    upper tail, computed directly (no cancellation)
//! P(a, x)    = gamma(a, x) / Gamma(a)           regularized lower incomplete gamma
//! ```
//!
//! Continued fractions (modified Lentz) and series as in Numerical Recipes, section 6.2 and 6.4.
//! Every elementary function comes from the pure-Rust `libm` crate, so the same binary gives
//! the same bits on every CPU: these numbers end up in results that must be byte-identical
//! across machines (MODEL.md section 6). The test module checks them against `statrs`, an
//! independent implementation.

const EPS: f64 = 1e-16;
const TINY: f64 = 1e-300;
const MAX_ITER: usize = 1_000_000;

/// ln Gamma(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma_r(x).0
}

/// Lower and upper regularized incomplete beta, `(I_x(a, b), 1 - I_x(a, b))`, each accurate in
/// relative terms even when tiny. `a, b > 0`; `x` is clamped to [0, 1].
pub fn beta_inc(a: f64, b: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if x >= 1.0 {
        return (1.0, 0.0);
    }
    let ln_front =
        ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * libm::log(x) + b * libm::log1p(-x);
    let front = libm::exp(ln_front);
    if x < (a + 1.0) / (a + b + 2.0) {
        let lower = front * beta_cf(a, b, x) / a;
        (lower, 1.0 - lower)
    } else {
        let upper = front * beta_cf(b, a, 1.0 - x) / b;
        (1.0 - upper, upper)
    }
}

/// One step of the modified Lentz method for a continued fraction b0 + a1/(b1 + a2/(b2 + ...)):
/// updates the running `c` and `d` with the term (a_n, b_n) and returns the factor by which the
/// value changes (1 at convergence).
#[inline]
fn lentz_step(a_n: f64, b_n: f64, c: &mut f64, d: &mut f64) -> f64 {
    *d = b_n + a_n * *d;
    if d.abs() < TINY {
        *d = TINY;
    }
    *c = b_n + a_n / *c;
    if c.abs() < TINY {
        *c = TINY;
    }
    *d = 1.0 / *d;
    *d * *c
}

/// The continued fraction of the incomplete beta (Numerical Recipes `betacf`).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        // Even and odd terms of the fraction.
        h *= lentz_step(
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            1.0,
            &mut c,
            &mut d,
        );
        let del = lentz_step(
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
            1.0,
            &mut c,
            &mut d,
        );
        h *= del;
        if (del - 1.0).abs() <= EPS {
            break;
        }
    }
    h
}

/// Lower and upper regularized incomplete gamma, `(P(a, x), Q(a, x))`. `a > 0`, `x >= 0`.
pub fn gamma_inc(a: f64, x: f64) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    let ln_front = a * libm::log(x) - x - ln_gamma(a);
    if x < a + 1.0 {
        // Series.
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        let lower = sum * libm::exp(ln_front);
        (lower, 1.0 - lower)
    } else {
        // Continued fraction (modified Lentz).
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..=MAX_ITER {
            let i = i as f64;
            b += 2.0;
            let del = lentz_step(-i * (i - a), b, &mut c, &mut d);
            h *= del;
            if (del - 1.0).abs() <= EPS {
                break;
            }
        }
        let upper = libm::exp(ln_front) * h;
        (1.0 - upper, upper)
    }
}

/// Solves `f(x) = target` for a function `f` increasing on [lo, hi], by bisection; bisects
/// geometrically while the bracket spans orders of magnitude, so tiny roots keep full
/// relative precision.
fn solve_increasing(mut lo: f64, mut hi: f64, target: f64, f: impl Fn(f64) -> f64) -> f64 {
    for _ in 0..2000 {
        let mid = if lo > 0.0 && hi / lo > 4.0 {
            (lo * hi).sqrt()
        } else if lo == 0.0 && hi > 1e-300 {
            // Reach small magnitudes quickly.
            hi * 1e-3
        } else {
            0.5 * (lo + hi)
        };
        if mid <= lo || mid >= hi {
            break;
        }
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 4.0 * f64::EPSILON * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The `p` quantile of Beta(a, b): the x with `I_x(a, b) = p`.
pub fn beta_quantile(a: f64, b: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    if p <= 0.5 {
        solve_increasing(0.0, 1.0, p, |x| beta_inc(a, b, x).0)
    } else {
        // Solve on the upper tail for accuracy near 1: 1 - I_x = 1 - p, decreasing in x.
        let q = 1.0 - p;
        solve_increasing(0.0, 1.0, -q, |x| -beta_inc(a, b, x).1)
    }
}

/// The `p` quantile of Gamma(a, 1): the x with `P(a, x) = p`.
pub fn gamma_quantile(a: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let mut hi = a + 10.0 * a.sqrt() + 50.0;
    while gamma_inc(a, hi).0 < p {
        hi *= 2.0;
    }
    if p <= 0.5 {
        solve_increasing(0.0, hi, p, |x| gamma_inc(a, x).0)
    } else {
        let q = 1.0 - p;
        solve_increasing(0.0, hi, -q, |x| -gamma_inc(a, x).1)
    }
}

/// Standard normal upper tail, `P(Z >= z)`.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// Standard normal quantile, the z with `P(Z <= z) = p` (probit), by bisection on the tail;
/// `p` is clamped to [1e-300, 1 - 1e-16].
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    bisect(-40.0, 40.0, 200, |mid| {
        // P(Z <= mid) = 1 - upper tail; compare on the smaller side for accuracy.
        let below = if mid < 0.0 {
            normal_upper_tail(-mid)
        } else {
            1.0 - normal_upper_tail(mid)
        };
        below < p
    })
}

/// Plain bisection of [lo, hi] for the point where `below(x)` turns from true to false:
/// `iterations` halvings, each keeping the half where the change lies; returns the midpoint
/// of the last bracket. The one bisection loop of the closed forms and the intervals (the
/// same arithmetic, so the same bits, wherever it is used).
pub fn bisect(mut lo: f64, mut hi: f64, iterations: u32, below: impl Fn(f64) -> bool) -> f64 {
    for _ in 0..iterations {
        let mid = 0.5 * (lo + hi);
        if below(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use statrs::function::beta::beta_reg;
    use statrs::function::gamma::gamma_lr;

    /// Relative tolerance against statrs, named once.
    const REL_TOL: f64 = 1e-9;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= REL_TOL * a.abs().max(b.abs()) + 1e-300
    }

    #[test]
    fn beta_inc_matches_statrs() {
        for &(a, b) in &[
            (0.5, 0.5),
            (2.0, 3.0),
            (6.0, 6.0),
            (31.5, 31.5),
            (1.0, 1e6),
            (40.0, 9e5),
        ] {
            for &x in &[1e-7, 1e-3, 0.1, 0.3, 0.5, 0.77, 0.999] {
                let (lo, up) = beta_inc(a, b, x);
                let reference = beta_reg(a, b, x);
                assert!(
                    close(lo, reference),
                    "I_{x}({a},{b}) = {lo} vs statrs {reference}"
                );
                assert!((lo + up - 1.0).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn beta_upper_tail_is_accurate_where_one_minus_lower_is_not() {
        // Q_x(a, a) at x = 0.95 with a = 31.5: about 1e-25, far below 1 - I's resolution.
        let (_, up) = beta_inc(31.5, 31.5, 0.95);
        let (mirror, _) = beta_inc(31.5, 31.5, 0.05);
        assert!(up > 0.0 && up < 1e-20);
        assert!(close(up, mirror));
    }

    #[test]
    fn gamma_inc_matches_statrs() {
        for &a in &[0.5, 1.0, 3.0, 30.0, 1000.0] {
            for &x in &[1e-4, 0.5, 2.0, 29.0, 35.0, 990.0, 1100.0] {
                let (lo, _) = gamma_inc(a, x);
                let reference = gamma_lr(a, x);
                assert!(
                    close(lo, reference),
                    "P({a},{x}) = {lo} vs statrs {reference}"
                );
            }
        }
    }

    #[test]
    fn quantiles_invert_their_cdfs() {
        for &(a, b, p) in &[
            (1.0, 999.0, 0.975),
            (4.0, 1e7, 0.025),
            (51.0, 50.0, 0.5),
            (3.0, 2.0, 1e-9),
        ] {
            let x = beta_quantile(a, b, p);
            assert!(close(beta_inc(a, b, x).0, p) || (beta_inc(a, b, x).0 - p).abs() < 1e-13);
        }
        for &(a, p) in &[(1.0, 0.975), (10.0, 0.025), (238.0, 0.5)] {
            let x = gamma_quantile(a, p);
            assert!((gamma_inc(a, x).0 - p).abs() < 1e-12, "{a} {p}");
        }
        // Known value: Gamma(1) is Exp(1), so its 0.975 quantile is -ln(0.025).
        assert!((gamma_quantile(1.0, 0.975) - 3.688_879_454_113_936).abs() < 1e-12);
    }

    #[test]
    fn normal_quantile_known_values() {
        assert!(normal_quantile(0.5).abs() < 1e-12);
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-9);
        assert!((normal_quantile(1e-6) + 4.753_424_308_822_899).abs() < 1e-8);
    }

    #[test]
    fn normal_tail_known_values() {
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-15);
        assert!((normal_upper_tail(1.959_963_984_540_054) - 0.025).abs() < 1e-12);
    }
}
