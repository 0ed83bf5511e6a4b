//! Fitting a whole ROC: any number of operating points per group, solved all at once by least
//! squares on log FMR.
//!
//! ```text
//! parameters: d_eff (integer), rho_g per group with points, and (with three or more points in a
//!             group, or when asked) k, the Beta concentration of per-person rho shared by the
//!             groups: the spread of look-alikeness, whose lower values give a heavier tail
//! capture noise: from the genuine mean m (s = sqrt(1 - m), both captures), else as given
//! minimize  sum over points (ln FMR_model(g, T) - ln FMR_target)^2
//!           [+ (ln mean_model - ln impostor mean)^2, mean_model = (1 - s^2) E[sqrt(rho)]^2]
//!   d_eff: a log-spaced scan, then every integer around the best;  rho_g, ln k: Nelder-Mead
//!   over logit(rho_g) and ln k, from rho_g solved for the group's first point
//! ```
//!
//! The search evaluates the closed forms with a coarse quadrature, then polishes the best point
//! with the fine one, which the reported fit uses. A fit that leaves any point off by more than
//! a factor of 2 is an error saying the points ask for a tail this model cannot give.

use super::{CalibrateError, Calibration, MAX_RHO, TargetRow, err, solve_rho, unreachable};
use crate::closed_form::search::{PairLaw, Quadrature, RhoLaw, Side};
use crate::scenario::{Scenario, ScenarioConfig};
use serde::Serialize;

/// One operating point: within-group FMR `fmr` of group `group` at threshold `threshold`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// Group name.
    pub group: String,
    /// Threshold (cosine).
    pub threshold: f64,
    /// Target FMR.
    pub fmr: f64,
}

/// The largest factor between a fitted point and its target that still counts as a fit.
const MAX_FIT_FACTOR: f64 = 2.0;

/// The within-group law of group `g`'s comparisons under the parameters.
fn law(
    scenario: &Scenario,
    d_eff: usize,
    noise: f64,
    rho: f64,
    concentration: Option<f64>,
    quadrature: Quadrature,
) -> PairLaw {
    let side = Side {
        rho: match concentration {
            Some(k) => RhoLaw::Beta {
                mean: rho,
                concentration: k,
            },
            None => RhoLaw::Fixed(rho),
        },
        noise_min: noise,
        noise_max: noise,
    };
    PairLaw {
        effective_dim: d_eff,
        noise_dim: scenario.dim() - scenario.demographic_dim() - d_eff,
        direction_cosine: 1.0,
        probe: side,
        entry: side,
        group_term: None,
        tail: scenario.tail(),
        quadrature,
    }
}

/// Minimizes `f` from `start` with the Nelder-Mead simplex (deterministic; `steps` moves).
fn nelder_mead(f: &dyn Fn(&[f64]) -> f64, start: &[f64], scale: f64, steps: usize) -> Vec<f64> {
    let n = start.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = start.to_vec();
            if i > 0 {
                x[i - 1] += scale;
            }
            let v = f(&x);
            (x, v)
        })
        .collect();
    for _ in 0..steps {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let worst = simplex[n].clone();
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|p| p.0[j]).sum::<f64>() / n as f64)
            .collect();
        let at = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&worst.0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let reflected = at(-1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = at(-2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = at(0.5);
            let fc = f(&contracted);
            if fc < worst.1 {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for p in simplex.iter_mut().skip(1) {
                    p.0 =
                        p.0.iter()
                            .zip(&best)
                            .map(|(x, b)| b + 0.5 * (x - b))
                            .collect();
                    p.1 = f(&p.0);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0).0
}

/// E[sqrt(rho)] for rho fixed, or Beta(mean k, (1 - mean) k): the impostor mean of two people
/// of one group is (1 - s^2) E[sqrt(rho)]^2 (the identity and noise terms average to 0).
fn mean_sqrt_rho(mean: f64, concentration: Option<f64>) -> f64 {
    match concentration {
        None => mean.sqrt(),
        Some(k) => {
            let (a, b) = (mean * k, (1.0 - mean) * k);
            use crate::special::ln_gamma;
            (ln_gamma(a + 0.5) - ln_gamma(a) + ln_gamma(a + b) - ln_gamma(a + b + 0.5)).exp()
        }
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Fits d_eff, rho per group and (when `spread` or a group has three or more points) the
/// spread of rho to `points`, with the capture noise from `genuine_mean` when given.
///
/// # Errors
/// [`CalibrateError`] when a point names no group or is out of range, a capture has varying
/// noise without a genuine mean, or the best fit leaves a point off by more than a factor of 2.
pub fn fit(
    scenario: &Scenario,
    points: &[OperatingPoint],
    genuine_mean: Option<f64>,
    impostor_mean: Option<f64>,
    spread: bool,
) -> Result<(ScenarioConfig, Calibration), CalibrateError> {
    if points.is_empty() {
        return Err(err(
            "give at least one operating point (--point GROUP@T=FMR)",
        ));
    }
    let groups = point_groups(scenario, points)?;
    let noise = fitted_noise(scenario, genuine_mean)?;
    let most_points = groups
        .iter()
        .map(|&g| {
            points
                .iter()
                .filter(|p| p.group == scenario.groups()[g].name)
                .count()
        })
        .max()
        .unwrap_or(0);
    let fit_spread = spread || most_points >= 3;
    let free = scenario.dim() - scenario.demographic_dim();
    let max_deff = free.saturating_sub(2).max(3);
    let group_of = |p: &OperatingPoint| {
        groups
            .iter()
            .position(|&g| scenario.groups()[g].name == p.group)
            .expect("checked above")
    };
    if let Some(m) = impostor_mean
        && !(m > 0.0 && m < 1.0 - noise * noise)
    {
        return Err(err(format!(
            "impostor mean {m} must be in (0, the genuine mean {:.4})",
            1.0 - noise * noise
        )));
    }
    // The objective at d_eff for parameters theta = [logit rho_g..., ln k]: every point's
    // squared log ratio, and the impostor mean's (of the first group: within-group pairs).
    let objective = |d: usize, theta: &[f64], quadrature: Quadrature| -> f64 {
        let k = fit_spread.then(|| theta[groups.len()].exp().clamp(0.05, 1e4));
        let points_part: f64 = points
            .iter()
            .map(|p| {
                let rho = expit(theta[group_of(p)]).min(MAX_RHO);
                let f = law(scenario, d, noise, rho, k, quadrature).fmr(p.threshold);
                (f.max(1e-300).ln() - p.fmr.ln()).powi(2)
            })
            .sum();
        let mean_part = impostor_mean.map_or(0.0, |m| {
            let rho = expit(theta[0]).min(MAX_RHO);
            let model = (1.0 - noise * noise) * mean_sqrt_rho(rho, k).powi(2);
            (model.max(1e-300).ln() - m.ln()).powi(2)
        });
        points_part + mean_part
    };
    let start = |d: usize| start_point(scenario, points, &groups, d, noise, fit_spread);
    let solve = |d: usize| -> (f64, Vec<f64>) {
        let theta = nelder_mead(
            &|t: &[f64]| objective(d, t, Quadrature::Coarse),
            &start(d),
            0.5,
            60 + 30 * groups.len(),
        );
        (objective(d, &theta, Quadrature::Coarse), theta)
    };
    let best = scan_deff(max_deff, &solve);
    // Polish at the chosen d_eff with the fine quadrature: a second simplex from the best
    // point, smaller steps.
    let (d_eff, _, theta) = best;
    let theta = nelder_mead(
        &|t: &[f64]| objective(d_eff, t, Quadrature::Fine),
        &theta,
        0.1,
        40 + 20 * groups.len(),
    );
    let concentration = fit_spread.then(|| theta[groups.len()].exp().clamp(0.05, 1e4));
    let rho: Vec<(String, f64)> = groups
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            (
                scenario.groups()[g].name.clone(),
                expit(theta[i]).min(MAX_RHO),
            )
        })
        .collect();
    let mut rows: Vec<TargetRow> = points
        .iter()
        .map(|p| {
            let r = rho[group_of(p)].1;
            TargetRow::fmr(
                &p.group,
                p.threshold,
                p.fmr,
                law(scenario, d_eff, noise, r, concentration, Quadrature::Fine).fmr(p.threshold),
            )
        })
        .collect();
    check_fit(&rows, d_eff, fit_spread)?;
    if let Some(m) = impostor_mean {
        rows.push(TargetRow {
            target: "impostor mean".into(),
            group: String::new(),
            threshold: 0.0,
            value: m,
            closed_form: (1.0 - noise * noise) * mean_sqrt_rho(rho[0].1, concentration).powi(2),
        });
    }
    if let Some(m) = genuine_mean {
        rows.push(TargetRow {
            target: "genuine mean".into(),
            group: String::new(),
            threshold: 0.0,
            value: m,
            closed_form: 1.0 - noise * noise,
        });
    }
    let config = fitted_config(scenario, points, &groups, d_eff, noise, &rho, concentration);
    Ok((
        config,
        Calibration {
            effective_dim: d_eff,
            noise: (noise, noise),
            rho,
            concentration,
            rows,
        },
    ))
}

/// The fit's starting parameters at d_eff `d`: each group's rho solved from its first point,
/// and a Beta concentration of 5 when the spread is fitted.
fn start_point(
    scenario: &Scenario,
    points: &[OperatingPoint],
    groups: &[usize],
    d: usize,
    noise: f64,
    fit_spread: bool,
) -> Vec<f64> {
    let mut theta: Vec<f64> = groups
        .iter()
        .map(|&g| {
            let first = points
                .iter()
                .find(|p| p.group == scenario.groups()[g].name)
                .expect("every group has a point");
            let r = solve_rho(scenario, g, d, (noise, noise), first.threshold, first.fmr)
                .unwrap_or(0.1)
                .clamp(1e-3, 0.99);
            logit(r)
        })
        .collect();
    if fit_spread {
        theta.push(5f64.ln());
    }
    theta
}

/// Refuses a fit that leaves a point off by more than [`MAX_FIT_FACTOR`].
fn check_fit(rows: &[TargetRow], d_eff: usize, fit_spread: bool) -> Result<(), CalibrateError> {
    if let Some((row, factor)) = rows
        .iter()
        .map(|r| {
            (
                r,
                (r.closed_form / r.value).max(r.value / r.closed_form.max(1e-300)),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|x| x.1 > MAX_FIT_FACTOR)
    {
        return Err(unreachable(format!(
            "no effective dimension, rho{} fits every point within a factor of {MAX_FIT_FACTOR}: the best fit (d_eff {d_eff}) gives {:.3e} for {} (target {:e}, off by {factor:.2}); these points ask for a tail this model cannot give",
            if fit_spread { " and spread of rho" } else { "" },
            row.closed_form,
            row.target,
            row.value
        )));
    }
    Ok(())
}

/// The scenario's groups the points name, in order of first mention.
fn point_groups(
    scenario: &Scenario,
    points: &[OperatingPoint],
) -> Result<Vec<usize>, CalibrateError> {
    let mut groups: Vec<usize> = Vec::new();
    for p in points {
        let g = scenario
            .groups()
            .iter()
            .position(|x| x.name == p.group)
            .ok_or_else(|| {
                err(format!(
                    "no group {} in scenario {}",
                    crate::format::quoted(&p.group),
                    scenario.config().name
                ))
            })?;
        if !(p.fmr > 0.0 && p.fmr < 1.0 && p.threshold > -1.0 && p.threshold < 1.0) {
            return Err(err(format!(
                "point {}@{}={}: needs a threshold in (-1, 1) and an FMR in (0, 1)",
                p.group, p.threshold, p.fmr
            )));
        }
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(groups)
}

/// The capture noise: from the genuine mean when given, else the scenario's one fixed noise.
fn fitted_noise(scenario: &Scenario, genuine_mean: Option<f64>) -> Result<f64, CalibrateError> {
    Ok(match genuine_mean {
        Some(m) if m > 0.0 && m < 1.0 => (1.0 - m).sqrt(),
        Some(m) => return Err(err(format!("genuine mean must be in (0, 1), got {m}"))),
        None => {
            let c = &scenario.captures()[scenario.gallery_capture()];
            let p = &scenario.captures()[scenario.probe_capture()];
            if !(c.is_fixed() && p.is_fixed() && c.noise_min == p.noise_min) {
                return Err(err(
                    "give --genuine-mean: fitting needs one fixed capture noise for gallery and probes",
                ));
            }
            c.noise_min
        }
    })
}

/// The best effective dimension for `solve` (the objective and parameters at each d_eff):
/// a log grid from 3 to `max_deff`, then integers between the best point's neighbours.
fn scan_deff(
    max_deff: usize,
    solve: &(dyn Fn(usize) -> (f64, Vec<f64>) + Sync),
) -> (usize, f64, Vec<f64>) {
    // Scan d_eff on a log grid, then every integer around the best.
    let mut grid: Vec<usize> = (0..12)
        .map(|i| (3.0 * (max_deff as f64 / 3.0).powf(f64::from(i) / 11.0)).round() as usize)
        .collect();
    grid.dedup();
    use rayon::prelude::*;
    let scanned: Vec<(usize, f64, Vec<f64>)> = grid
        .par_iter()
        .map(|&d| {
            let (v, t) = solve(d);
            (d, v, t)
        })
        .collect();
    let best_at = scanned
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
        .map_or(0, |(i, _)| i);
    let lo = grid[best_at.saturating_sub(1)];
    let hi = grid[(best_at + 1).min(grid.len() - 1)];
    let mut best = scanned[best_at].clone();
    // Within the neighbours, integers on a few steps (every one where the range is small).
    let step = ((hi - lo) / 8).max(1);
    let refined: Vec<(usize, f64, Vec<f64>)> = (lo..=hi)
        .step_by(step)
        .filter(|d| !grid.contains(d))
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&d| {
            let (v, t) = solve(d);
            (d, v, t)
        })
        .collect();
    for r in refined {
        if r.1 < best.1 {
            best = r;
        }
    }
    best
}

/// The scenario with the fitted parameters, and the points' thresholds among its raw ones.
fn fitted_config(
    scenario: &Scenario,
    points: &[OperatingPoint],
    groups: &[usize],
    d_eff: usize,
    noise: f64,
    rho: &[(String, f64)],
    concentration: Option<f64>,
) -> ScenarioConfig {
    let mut config = scenario.config().clone();
    config.embedding.effective_dimension = d_eff;
    for name in [&config.gallery.capture, &config.probes.capture] {
        if let Some(c) = config.captures.get_mut(name.as_str()) {
            c.noise = noise;
            c.noise_max = None;
        }
    }
    for (&g, (_, r)) in groups.iter().zip(rho) {
        config.groups[g].rho = *r;
        config.groups[g].rho_concentration = concentration;
    }
    for p in points {
        if !config.thresholds.raw.contains(&p.threshold) {
            config.thresholds.raw.push(p.threshold);
        }
    }
    config.thresholds.raw.sort_by(f64::total_cmp);
    config
}
