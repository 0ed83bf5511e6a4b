//! Simulation against the closed forms of MODEL.md sections 3-4.

use crate::support::{Z_TOL, assert_agrees_with_closed_forms, check_against, isotropic, run};
use falsematch::closed_form::{cosine_upper_tail, fpir};
use falsematch::pipeline::run::RunOptions;
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
        let fmr_rows: Vec<_> = check.rows.iter().filter(|r| r.metric == "fmr").collect();
        assert_eq!(fmr_rows.len(), thresholds.len());
        for (row, t) in fmr_rows.into_iter().zip(thresholds) {
            assert!(
                (row.closed_form - cosine_upper_tail(d_eff, t)).abs()
                    < 1e-6 * row.closed_form.max(1e-300) + 1e-300,
                "{row:?} vs {:e}",
                cosine_upper_tail(d_eff, t)
            );
        }
        assert!(check.verdict.agrees, "{}", check.verdict.text);
    }
}

#[test]
fn two_groups_with_concentration_and_noise_agree_with_the_closed_form() {
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    let scenario = falsematch::scenario::Scenario::from_toml(bundled.text, bundled.file).unwrap();
    assert!(scenario.groups().iter().all(|g| g.rho > 0.0));
    let output = run(&scenario, &RunOptions::default());
    let check = output.estimates.closed_form.as_ref().unwrap();
    // Per threshold and probe group: 2 FMR rows, FPIR, SEL and people.
    assert_eq!(check.rows.len(), 4 * 2 * (2 + 3));
    assert!(check.verdict.rows_tested >= 30, "{:?}", check.verdict);
    assert!(check.verdict.agrees, "{}", check.verdict.text);
    // The comparisons behind the FMR rows: each non-mated search against the whole gallery,
    // once (not once per threshold, as the rows are).
    let c = scenario.config();
    assert_eq!(
        check.verdict.comparisons,
        u64::from(c.probes.non_mated) * c.gallery.detections * u64::from(c.replicates)
    );
    for row in &check.rows {
        assert!(row.z.abs() < Z_TOL, "{row:?}");
        assert!((0.0..=1.0).contains(&row.p_value), "{row:?}");
    }
    // Same-group pairs match more often than cross-group pairs (u_g . u_h = 0 across sexes).
    let at = |pg: &str, gg: &str| {
        check
            .rows
            .iter()
            .find(|r| {
                r.metric == "fmr"
                    && r.threshold == "0.40"
                    && r.probe_group == pg
                    && r.gallery_group.as_deref() == Some(gg)
            })
            .unwrap()
            .simulated
    };
    assert!(at("female", "female") > 2.0 * at("female", "male"));
}

#[test]
fn fairness_summaries_rest_on_the_group_rates_and_the_threshold_shift_equalizes_fmr() {
    use falsematch::closed_form::pair_model;
    use falsematch::estimate::fairness::{garbe, max_over_min};
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    let scenario = falsematch::scenario::Scenario::from_toml(bundled.text, bundled.file).unwrap();
    let output = run(&scenario, &RunOptions::default());
    let row = &output.estimates.fairness[scenario.headline()];
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
        .map(|s| {
            s.thresholds[scenario.headline()]
                .fpir
                .as_ref()
                .unwrap()
                .value
        })
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
    use falsematch::pipeline::sweep::{sizes, sweep};
    let (scenario, _) = falsematch::scenario::Scenario::load("closed-form-check").unwrap();
    // From 10 entries, where FPIR is far from 1 and can be compared, to 10^6.
    let grid = sizes(1e1, 1e6, 1);
    let rows = sweep(
        &scenario,
        &grid,
        10_000,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(rows.len(), grid.len() * scenario.thresholds().len());
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
    // The comparison happened (a missing z would pass the loop above): every simulated row
    // has a z for SEL where SEL is expected to be 5 or more, and for FPIR where 5 or more
    // searches are expected both with and without a candidate.
    let simulated: Vec<_> = rows.iter().filter(|r| r.sel.is_some()).collect();
    assert_eq!(simulated.len(), 4 * scenario.thresholds().len(), "{rows:?}");
    let trials =
        |r: &&falsematch::pipeline::sweep::SweepRow| r.fpir.as_ref().unwrap().trials as f64;
    for r in &simulated {
        let (p, m) = (r.analytic_fpir.unwrap(), r.analytic_sel.unwrap());
        let n = trials(r);
        assert_eq!(r.z_sel.is_some(), m * n >= 5.0, "{r:?}");
        assert_eq!(
            r.z_fpir.is_some(),
            p * n >= 5.0 && (1.0 - p) * n >= 5.0,
            "{r:?}"
        );
    }
    assert!(
        simulated.iter().filter(|r| r.z_fpir.is_some()).count() >= 4,
        "{simulated:?}"
    );
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

/// A scenario of the closed-form check, changed by `edit` (applied to the TOML text).
fn closed_form_check_with(edit: impl Fn(String) -> String) -> falsematch::scenario::Scenario {
    let bundled = BUNDLED
        .iter()
        .find(|b| b.name == "closed-form-check")
        .unwrap();
    falsematch::scenario::Scenario::from_toml(&edit(bundled.text.to_string()), "edited.toml")
        .unwrap()
}

#[test]
fn several_detections_per_person_have_exact_fpir_and_people_and_the_check_can_fail() {
    // People seen 5 times on average (geometric): their detections match together, so FPIR
    // is below the independence form 1 - (1 - FMR)^N, and SEL counts clusters.
    let regulars = |t: String| {
        t.replace("detections = 200_000", "detections = 5_000")
            .replace(
                "raw = [0.30, 0.35, 0.40, 0.45]",
                "raw = [0.45, 0.50, 0.55, 0.60]",
            )
            + "\n[[gallery.identity_classes]]\nlabel = \"regulars\"\nshare = 1.0\nmean_detections = 5.0\n"
    };
    let scenario = closed_form_check_with(regulars);
    let output = run(&scenario, &RunOptions::default());
    let check = output.estimates.closed_form.as_ref().unwrap();
    assert!(check.verdict.agrees, "{}", check.verdict.text);
    let fpir_rows: Vec<_> = check.rows.iter().filter(|r| r.metric == "fpir").collect();
    assert!(!fpir_rows.is_empty());
    let mut below_independence = 0;
    for r in &fpir_rows {
        assert!(r.z.abs() < Z_TOL, "{r:?}");
        // The independence form from the same FMR rows.
        let g = &r.probe_group;
        let fmr: Vec<f64> = ["female", "male"]
            .iter()
            .map(|h| {
                check
                    .rows
                    .iter()
                    .find(|x| {
                        x.metric == "fmr"
                            && &x.probe_group == g
                            && x.threshold == r.threshold
                            && x.gallery_group.as_deref() == Some(h)
                    })
                    .unwrap()
                    .closed_form
            })
            .collect();
        let entries = &output.outcomes[0].tally.entries_per_group;
        let independent = fpir(&fmr, entries);
        if r.closed_form < 0.99 * independent {
            below_independence += 1;
        }
    }
    assert!(
        below_independence > 0,
        "clustered FPIR should be below the independence form: {fpir_rows:?}"
    );
    // The same simulation checked against a model with women's rho 10 % higher: disagrees.
    let wrong = closed_form_check_with(|t| regulars(t.replace("rho = 0.2", "rho = 0.22")));
    let verdict = check_against(&wrong, &output);
    assert!(!verdict.agrees, "{}", verdict.text);
}

#[test]
fn per_identity_rho_and_per_capture_noise_agree_with_their_mixture_closed_forms() {
    // Beta-distributed rho for women and uniform capture noise in the gallery.
    let scenario = closed_form_check_with(|t| {
        t.replacen("rho = 0.2", "rho = 0.2\nrho_concentration = 15.0", 1)
            .replacen("noise = 0.5", "noise = 0.4\nnoise_max = 0.6", 1)
    });
    assert!(scenario.groups()[0].rho_concentration.is_some());
    assert!(scenario.captures().iter().any(|c| !c.is_fixed()));
    let output = run(&scenario, &RunOptions::default());
    assert_agrees_with_closed_forms(&output, 30);
}

#[test]
fn the_dispersion_infer_uses_is_the_simulated_one() {
    // One search's false candidates with people seen 1 to many times: the variance over the
    // mean of the per-search counts across 3,000 simulated searches against the closed form
    // `infer` uses for its negative binomial interval.
    let scenario = closed_form_check_with(|t| {
        t.replace("detections = 200_000", "detections = 20_000")
            .replace("non_mated = 200", "non_mated = 3000")
            .replace("raw = [0.30, 0.35, 0.40, 0.45]", "raw = [0.35, 0.45]")
            + "\n[[gallery.identity_classes]]\nlabel = \"passers-by\"\nshare = 0.8\nmean_detections = 2.0\n[[gallery.identity_classes]]\nlabel = \"regulars\"\nshare = 0.2\nmean_detections = 20.0\n"
    });
    let output = run(&scenario, &RunOptions::default());
    for (t, threshold) in scenario.thresholds().iter().enumerate() {
        // Women's searches (group 0).
        let counts: Vec<f64> = output
            .records
            .iter()
            .filter(|r| r.mate.is_none() && r.group == 0)
            .map(|r| r.false_candidates(t, 2) as f64)
            .collect();
        let n = counts.len() as f64;
        let mean = counts.iter().sum::<f64>() / n;
        let var = counts.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let entries = output.outcomes[0].entries as f64;
        let (m, v) =
            falsematch::closed_form::search_count_law(&scenario, 0, entries, threshold.score);
        let (simulated, model) = (var / mean, v / m);
        assert!(
            model > 3.0,
            "people seen many times make the count overdispersed: {model}"
        );
        // The sample variance of heavy-tailed counts is itself noisy: 25 % over 1,500 searches.
        assert!(
            (simulated / model - 1.0).abs() < 0.25,
            "T {}: simulated dispersion {simulated:.2}, closed form {model:.2} (mean {mean:.2} vs {m:.2})",
            threshold.score
        );
        assert!((mean / m - 1.0).abs() < 0.05, "{mean} vs {m}");
    }
}
