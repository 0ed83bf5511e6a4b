//! Simulation against the closed forms of DESIGN.md section 4.

use crate::support::{Z_TOL, isotropic, run};
use falsematch::closed_form::{cosine_upper_tail, fpir};
use falsematch::run::RunOptions;
use falsematch::scenario::BUNDLED;

fn z(events: f64, trials: f64, p: f64) -> f64 {
    (events - trials * p) / (trials * p * (1.0 - p)).sqrt()
}

#[test]
fn isotropic_fmr_and_fpir_follow_the_beta_tail() {
    // (d_eff, thresholds): FMR from about 3e-2 down to 2e-4 in each dimension.
    let cases: [(usize, [f64; 2]); 3] =
        [(16, [0.30, 0.55]), (64, [0.15, 0.30]), (128, [0.10, 0.22])];
    for (d_eff, thresholds) in cases {
        let n_entries = 20_000u64;
        let n_probes = 100u32;
        let scenario = isotropic(d_eff, n_entries, n_probes, &thresholds, 11);
        let output = run(&scenario, &RunOptions::default());
        let all = &output.estimates.slices[0];
        for (t, row) in all.thresholds.iter().enumerate() {
            let p = cosine_upper_tail(d_eff, row.score);
            let fmr = &output.estimates.cross_group[t].cells[0].fmr;
            assert_eq!(fmr.trials, n_entries * u64::from(n_probes));
            let zf = z(fmr.events as f64, fmr.trials as f64, p);
            assert!(
                zf.abs() < Z_TOL,
                "d_eff {d_eff} T {}: FMR {} vs Beta tail {p:e} (z = {zf:.2})",
                row.score,
                fmr.value
            );
            // FPIR against 1 - (1 - FMR)^N.
            let expected = fpir(&[p], &[n_entries]);
            let f = row.fpir.as_ref().unwrap();
            if expected < 1.0 - 1e-12 {
                let zp = z(f.events as f64, f.trials as f64, expected);
                assert!(
                    zp.abs() < Z_TOL,
                    "d_eff {d_eff} T {}: FPIR {} vs {expected} (z = {zp:.2})",
                    row.score,
                    f.value
                );
            } else {
                assert_eq!(f.events, f.trials);
            }
            // Interval contains the closed form's expectation here (95 %, fixed seed).
            let sel = row.sel.as_ref().unwrap();
            let expected_sel = p * n_entries as f64;
            assert!(
                (sel.value - expected_sel).abs()
                    < Z_TOL * (expected_sel / f64::from(n_probes)).sqrt(),
                "SEL {} vs {expected_sel}",
                sel.value
            );
        }
        // The run's own closed-form check agrees with the test's arithmetic.
        let check = output
            .estimates
            .closed_form
            .as_ref()
            .expect("isotropic scenarios are in the closed-form regime");
        for (row, t) in check.fmr.iter().zip(thresholds) {
            assert!(
                (row.closed_form - cosine_upper_tail(d_eff, t)).abs()
                    < 1e-12 * row.closed_form.max(1e-300) + 1e-300
            );
        }
    }
}

#[test]
fn two_groups_with_concentration_and_noise_agree_with_the_closed_form() {
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    let scenario = falsematch::scenario::Scenario::from_toml(bundled.text, bundled.file).unwrap();
    assert!(scenario.groups.iter().all(|g| g.rho > 0.0));
    let output = run(&scenario, &RunOptions::default());
    let check = output.estimates.closed_form.as_ref().unwrap();
    assert_eq!(check.fmr.len(), 4 * 2 * 2);
    assert_eq!(check.searches.len(), 4 * 2);
    for row in &check.fmr {
        let z = row.z.unwrap();
        assert!(z.abs() < Z_TOL, "{row:?}");
    }
    for row in &check.searches {
        for z in [row.fpir_z, row.sel_z].into_iter().flatten() {
            assert!(z.abs() < Z_TOL, "{row:?}");
        }
    }
    // Same-group pairs match more often than cross-group pairs (u_g . u_h = 0 across sexes).
    let at = |pg: &str, gg: &str| {
        check
            .fmr
            .iter()
            .find(|r| r.threshold == "0.40" && r.probe_group == pg && r.gallery_group == gg)
            .unwrap()
            .simulated
    };
    assert!(at("female", "female") > 2.0 * at("female", "male"));
}

#[test]
fn fairness_summaries_rest_on_the_group_rates_and_the_threshold_shift_equalizes_fmr() {
    use falsematch::estimate::fairness::{garbe, max_over_min};
    use falsematch::estimate::pair_model;
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    let scenario = falsematch::scenario::Scenario::from_toml(bundled.text, bundled.file).unwrap();
    let output = run(&scenario, &RunOptions::default());
    let row = &output.estimates.fairness[scenario.headline];
    assert_eq!(
        row.groups
            .iter()
            .map(|g| g.group.as_str())
            .collect::<Vec<_>>(),
        ["female", "male"]
    );
    // The summaries are recomputed from the per-group rates printed beside them.
    let fpir: Vec<f64> = output.estimates.slices[1..]
        .iter()
        .map(|s| s.thresholds[scenario.headline].fpir.as_ref().unwrap().value)
        .collect();
    assert_eq!(
        row.groups
            .iter()
            .map(|g| g.fpir.unwrap())
            .collect::<Vec<_>>(),
        fpir
    );
    assert_eq!(row.fpir.max_over_min, max_over_min(&fpir));
    let fmr: Vec<f64> = row.groups.iter().map(|g| g.fmr.unwrap()).collect();
    let fnmr: Vec<f64> = row.groups.iter().map(|g| g.fnmr.unwrap()).collect();
    assert_eq!(row.garbe_verification, garbe(&fmr, &fnmr, row.alpha));
    // Women's faces are more alike here (rho 0.2 vs 0.1): their FMR is higher, and their
    // equalizing threshold is higher, with the within-group FMR at it equal to the men's at T.
    assert!(fmr[0] > fmr[1]);
    let shift = &row.threshold_shift;
    assert_eq!(shift.len(), 2);
    assert!(
        shift[0].shift > 0.01 && shift[1].shift.abs() < 1e-9,
        "{shift:?}"
    );
    let at_shifted = pair_model(&scenario, 0, 0).fmr(shift[0].threshold);
    assert!(
        (at_shifted / shift[1].within_group_fmr - 1.0).abs() < 1e-6,
        "{at_shifted} vs {}",
        shift[1].within_group_fmr
    );
}

#[test]
fn sweep_analytic_and_simulated_agree_where_both_run() {
    use falsematch::sweep::{sizes, sweep};
    let (scenario, _) = falsematch::scenario::Scenario::load("closed-form-check").unwrap();
    let grid = sizes(1e3, 1e6, 1);
    let rows = sweep(
        &scenario,
        &grid,
        10_000,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(rows.len(), grid.len() * scenario.thresholds.len());
    for r in &rows {
        assert!(
            r.analytic_sel.is_some() && r.analytic_fpir.is_some(),
            "{r:?}"
        );
        assert_eq!(r.sel.is_some(), r.entries <= 10_000, "{r:?}");
        for z in [r.z_fpir, r.z_sel].into_iter().flatten() {
            assert!(z.abs() <= Z_TOL, "{r:?}");
        }
    }
    // SEL grows in proportion to N in the analytic mode.
    let sel = |n: u64| {
        rows.iter()
            .find(|r| r.entries == n)
            .unwrap()
            .analytic_sel
            .unwrap()
    };
    assert!((sel(1_000_000) / sel(1_000) / 1000.0 - 1.0).abs() < 1e-3);
}
