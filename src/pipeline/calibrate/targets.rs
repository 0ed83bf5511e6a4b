//! Calibration to targets at one threshold: rho per group solved from each group's FMR, the
//! effective dimension from a second point of one group, the capture noise from the genuine
//! mean.

use super::{
    CalibrateError, Calibration, MAX_RHO, SecondPoint, TargetRow, Targets, err, model, solve_rho,
    unreachable,
};
use crate::scenario::{Scenario, ScenarioConfig};

/// How far (in ln FMR) the second point may stay from its target when the best d_eff is at an
/// end of the usable range (a factor of 1.25).
const SECOND_POINT_TOLERANCE: f64 = 0.223;

/// Solves the parameters for `targets` and returns the calibrated scenario configuration.
///
/// # Errors
/// [`CalibrateError`] when a target names no group, a group has per-identity rho or a capture
/// has varying noise (the closed forms need fixed ones), or a target is out of the model's reach.
pub fn calibrate(
    scenario: &Scenario,
    targets: &Targets,
) -> Result<(ScenarioConfig, Calibration), CalibrateError> {
    let group = |name: &str| group_index(scenario, name);
    let indices = target_groups(scenario, targets)?;
    let in_unit = |x: f64| x > 0.0 && x < 1.0;
    let (gallery, probe) = (
        &scenario.captures()[scenario.gallery_capture()],
        &scenario.captures()[scenario.probe_capture()],
    );
    let mut noise = (probe.noise_min, gallery.noise_min);
    if let Some(m) = targets.genuine_mean {
        if !in_unit(m) {
            return Err(err(format!("genuine mean must be in (0, 1), got {m}")));
        }
        let s = (1.0 - m).sqrt();
        noise = (s, s);
    } else if !(gallery.is_fixed() && probe.is_fixed()) {
        return Err(err(
            "the gallery or probe capture has varying noise (noise_max); give --genuine-mean to set one fixed noise, or fix it in the scenario",
        ));
    }
    let free = scenario.dim() - scenario.demographic_dim();
    // The closed form needs a noise block of at least 2 dims when there is capture noise.
    let max_deff = if noise.0 > 0.0 || noise.1 > 0.0 {
        free - 2
    } else {
        free
    };
    let mut d_eff = scenario.effective_dim().min(max_deff);
    if let Some(second) = &targets.second {
        if !(in_unit(second.fmr) && second.threshold > -1.0 && second.threshold < 1.0) {
            return Err(err(
                "the second point needs a threshold in (-1, 1) and an FMR in (0, 1)",
            ));
        }
        if second.threshold == targets.threshold {
            return Err(err(
                "the second point needs another threshold than the first",
            ));
        }
        let g = group(&second.group)?;
        let first = targets
            .groups
            .iter()
            .find(|t| t.group == second.group)
            .ok_or_else(|| {
                err(format!(
                    "the second point's group `{}` needs a target at the main threshold too",
                    second.group
                ))
            })?;
        d_eff = deff_for_second_point(
            scenario,
            targets.threshold,
            first.fmr,
            second,
            g,
            noise,
            max_deff,
        )?;
    }
    let mut config = scenario.config().clone();
    config.embedding.effective_dimension = d_eff;
    if targets.genuine_mean.is_some() {
        for name in [&config.gallery.capture, &config.probes.capture] {
            if let Some(c) = config.captures.get_mut(name.as_str()) {
                c.noise = noise.0;
                c.noise_max = None;
            }
        }
    }
    let mut rho = Vec::new();
    let mut rows = Vec::new();
    for (t, &g) in targets.groups.iter().zip(&indices) {
        let r = solve_rho(scenario, g, d_eff, noise, targets.threshold, t.fmr)?;
        config.groups[g].rho = r;
        rho.push((t.group.clone(), r));
        rows.push(TargetRow::fmr(
            &t.group,
            targets.threshold,
            t.fmr,
            model(scenario, d_eff, noise, r).fmr(targets.threshold),
        ));
    }
    if let Some(second) = &targets.second {
        let g = group(&second.group)?;
        let r = config.groups[g].rho;
        rows.push(TargetRow::fmr(
            &second.group,
            second.threshold,
            second.fmr,
            model(scenario, d_eff, noise, r).fmr(second.threshold),
        ));
    }
    if let Some(m) = targets.genuine_mean {
        rows.push(TargetRow {
            target: "genuine mean".into(),
            group: String::new(),
            threshold: 0.0,
            value: m,
            closed_form: (1.0 - noise.0 * noise.0).sqrt() * (1.0 - noise.1 * noise.1).sqrt(),
        });
    }
    // The calibration thresholds become named thresholds, so a run reports them.
    for t in std::iter::once(targets.threshold).chain(targets.second.as_ref().map(|s| s.threshold))
    {
        if !config.thresholds.raw.contains(&t) {
            config.thresholds.raw.push(t);
        }
    }
    config.thresholds.raw.sort_by(f64::total_cmp);
    Ok((
        config,
        Calibration {
            effective_dim: d_eff,
            noise,
            rho,
            concentration: None,
            rows,
        },
    ))
}

/// The index of group `name`, or an error listing the scenario's groups.
fn group_index(scenario: &Scenario, name: &str) -> Result<usize, CalibrateError> {
    scenario
        .groups()
        .iter()
        .position(|g| g.name == name)
        .ok_or_else(|| {
            err(format!(
                "no group `{name}` in scenario {}; groups: {}",
                scenario.config().name,
                scenario
                    .groups()
                    .iter()
                    .map(|g| g.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The groups of the targets, checked: each in range and of fixed rho, the threshold a cosine.
fn target_groups(scenario: &Scenario, targets: &Targets) -> Result<Vec<usize>, CalibrateError> {
    let group = |name: &str| group_index(scenario, name);
    if targets.groups.is_empty() {
        return Err(err("give at least one group target (--fmr GROUP=RATE)"));
    }
    let in_unit = |x: f64| x > 0.0 && x < 1.0;
    if !(targets.threshold > -1.0 && targets.threshold < 1.0) {
        return Err(err(format!(
            "threshold {} must be a cosine in (-1, 1)",
            targets.threshold
        )));
    }
    let mut indices = Vec::new();
    for t in &targets.groups {
        if !in_unit(t.fmr) {
            return Err(err(format!(
                "FMR of `{}` must be in (0, 1), got {}",
                t.group, t.fmr
            )));
        }
        let g = group(&t.group)?;
        if scenario.groups()[g].rho_concentration.is_some() {
            return Err(err(format!(
                "group `{}` has a per-identity rho (rho_concentration); calibration solves a fixed rho, so remove rho_concentration first",
                t.group
            )));
        }
        indices.push(g);
    }
    Ok(indices)
}

/// The effective dimension at which the second point's FMR follows from the first target's
/// (rho solved from the first at each d_eff): a coarse scan for a sign change of the gap in
/// ln FMR, then bisection; without one, the closest d_eff if within the tolerance.
fn deff_for_second_point(
    scenario: &Scenario,
    threshold: f64,
    first_fmr: f64,
    second: &SecondPoint,
    g: usize,
    noise: (f64, f64),
    max_deff: usize,
) -> Result<usize, CalibrateError> {
    let targets_threshold = threshold;
    // g(d) = ln FMR(T2) - ln target2 moves monotonically with d; bisect on its sign.
    let gap = |d: usize| -> Option<f64> {
        let rho = solve_rho(scenario, g, d, noise, targets_threshold, first_fmr).ok()?;
        let f = model(scenario, d, noise, rho).fmr(second.threshold);
        Some(libm::log(f.max(1e-300)) - libm::log(second.fmr))
    };
    // The d_eff values at which the first target is reachable at all (not an interval in
    // general: a small noise block has a heavy tail of its own).
    let usable: Vec<usize> = (2..=max_deff)
        .filter(|&d| {
            let m = |rho: f64| model(scenario, d, noise, rho).fmr(targets_threshold);
            m(0.0) <= first_fmr && first_fmr <= m(MAX_RHO)
        })
        .collect();
    if usable.is_empty() {
        return Err(unreachable(format!(
            "group `{}`: FMR {:e} at {} is out of reach at every d_eff from 2 to {max_deff}",
            second.group, first_fmr, targets_threshold
        )));
    }
    // Coarse scan for a sign change of the gap, then bisection inside it; without one, the
    // coarse point closest to the target and its neighbourhood.
    let step = usable.len().div_ceil(24).max(1);
    let mut coarse: Vec<usize> = (0..usable.len()).step_by(step).collect();
    if coarse.last() != Some(&(usable.len() - 1)) {
        coarse.push(usable.len() - 1);
    }
    let gaps: Vec<Option<f64>> = coarse.iter().map(|&i| gap(usable[i])).collect();
    let crossing = (1..coarse.len()).find(
        |&j| matches!((gaps[j - 1], gaps[j]), (Some(a), Some(b)) if a.signum() != b.signum()),
    );
    let (mut lo, mut hi) = match crossing {
        Some(j) => (coarse[j - 1], coarse[j]),
        None => {
            let best = (0..coarse.len())
                .filter_map(|j| gaps[j].map(|g| (j, g.abs())))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(j, _)| coarse[j]);
            let Some(best) = best else {
                return Err(unreachable(format!(
                    "group `{}`: the first target is out of reach at every d_eff",
                    second.group
                )));
            };
            let around = best.saturating_sub(step)..=(best + step).min(usable.len() - 1);
            let local = around
                .filter_map(|i| gap(usable[i]).map(|g| (i, g)))
                .min_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
            let Some((i, g)) = local else {
                return Err(unreachable("no usable effective dimension"));
            };
            if g.abs() > SECOND_POINT_TOLERANCE {
                return Err(unreachable(format!(
                    "group `{}`: no effective dimension from 2 to {max_deff} gives FMR {:e} at {} together with {:e} at {} (closest: {:.3e} at d_eff = {}); the two points disagree with this model's tail",
                    second.group,
                    first_fmr,
                    targets_threshold,
                    second.fmr,
                    second.threshold,
                    second.fmr * libm::exp(g),
                    usable[i]
                )));
            }
            (i, i)
        }
    };
    if lo != hi {
        let sign_lo = gap(usable[lo]).map_or(0.0, f64::signum);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            match gap(usable[mid]) {
                Some(v) if v.signum() == sign_lo => lo = mid,
                _ => hi = mid,
            }
        }
    }
    let pick = |i: usize| gap(usable[i]).map_or(f64::INFINITY, f64::abs);
    Ok(if pick(lo) <= pick(hi) {
        usable[lo]
    } else {
        usable[hi]
    })
}
