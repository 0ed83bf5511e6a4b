//! The look-alike (heavier-tailed) model: its closed form against an independent scipy
//! implementation (tests/tail/reference.py), and the simulation against its closed forms.

use crate::support::{Z_TOL, run};
use falsematch::closed_form::search::{PairLaw, RhoLaw, Side};
use falsematch::pipeline::run::RunOptions;
use falsematch::scenario::{Scenario, Tail};

/// Relative agreement with the scipy reference (two quadratures of the same integral).
const REFERENCE_REL_TOL: f64 = 1e-4;

#[test]
fn the_closed_form_is_the_independent_implementations() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/tail/reference.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let settings = doc["settings"].as_array().unwrap();
    assert!(settings.len() >= 6);
    let mut far = false;
    for s in settings {
        let f = |k: &str| s[k].as_f64().unwrap();
        let side = |rho: f64, noise: f64| Side {
            rho: RhoLaw::Fixed(rho),
            noise_min: noise,
            noise_max: noise,
        };
        let law = PairLaw {
            effective_dim: f("d_eff") as usize,
            noise_dim: f("noise_dim") as usize,
            direction_cosine: f("direction_cosine"),
            probe: side(f("rho_a"), f("noise_a")),
            entry: side(f("rho_b"), f("noise_b")),
            group_term: None,
            tail: Some(Tail {
                share: f("share"),
                groups: f("groups") as u64,
                closeness: f("closeness"),
            }),
            quadrature: Default::default(),
        };
        let (got, expected) = (law.fmr(f("threshold")), f("fmr"));
        far |= expected < 1e-6;
        assert!(
            ((got - expected) / expected).abs() < REFERENCE_REL_TOL,
            "{s}: falsematch {got:e}, scipy {expected:e}"
        );
    }
    assert!(far, "the reference reaches the far tail");
}

/// A one-group scenario with look-alikes: `share` of people, `groups` centres, `closeness`.
fn lookalikes(share: f64, groups: u64, closeness: f64, thresholds: &str, mean: f64) -> Scenario {
    let text = format!(
        r#"
name = "lookalikes"
seed = 41
replicates = 2
[embedding]
dimension = 96
effective_dimension = 12
[[attributes]]
name = "sex"
values = ["female", "male"]
[[groups]]
name = "female"
attributes = {{ sex = "female" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.15
[[groups]]
name = "male"
attributes = {{ sex = "male" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.05
[captures.cctv]
noise = 0.5
[gallery]
detections = 40_000
capture = "cctv"
[[gallery.identity_classes]]
label = "all"
share = 1.0
mean_detections = {mean}
[probes]
non_mated = 600
capture = "cctv"
[thresholds]
raw = [{thresholds}]
[analysis]
bootstrap_draws = 0
[tail]
lookalike_share = {share}
lookalike_groups = {groups}
closeness = {closeness}
"#
    );
    Scenario::from_toml(&text, "lookalikes.toml").unwrap()
}

#[test]
fn the_simulation_agrees_with_the_closed_forms_at_several_settings() {
    // Three settings, one of them reaching FMR near 1e-6; one with several detections each.
    for (share, groups, closeness, thresholds, mean) in [
        (1.0, 1000, 0.6, "0.35, 0.50", 1.0),
        (0.8, 1000, 0.45, "0.40, 0.55", 3.0),
        (0.9, 2000, 0.8, "0.45, 0.75", 1.0),
    ] {
        let scenario = lookalikes(share, groups, closeness, thresholds, mean);
        let output = run(&scenario, &RunOptions::default());
        let check = output.estimates.closed_form.as_ref().unwrap();
        assert!(
            check.verdict.agrees,
            "{share} {groups} {closeness}: {}",
            check.verdict.text
        );
        for row in &check.rows {
            assert!(row.z.abs() < Z_TOL, "{row:?}");
        }
        // The tail is heavier than the sphere's: with the same parameters but no look-alikes,
        // the closed form at the highest threshold is far smaller than what was simulated.
        let mut light = scenario.config().clone();
        light.tail = None;
        let light = Scenario::from_config(light, "light").unwrap();
        let t = scenario.thresholds().len() - 1;
        let sphere =
            falsematch::closed_form::fmr_matrix(&light, scenario.thresholds()[t].score)[0][0];
        let heavy =
            falsematch::closed_form::fmr_matrix(&scenario, scenario.thresholds()[t].score)[0][0];
        assert!(heavy > sphere, "{heavy:e} vs {sphere:e}");
        if thresholds.ends_with("0.75") {
            assert!(heavy > 1.5 * sphere, "{heavy:e} vs {sphere:e}");
            eprintln!("far tail: look-alikes {heavy:e}, sphere {sphere:e}");
            assert!(heavy < 3e-6, "the far setting reaches {heavy:e}");
            let events: u64 = check
                .rows
                .iter()
                .filter(|r| r.metric == "fmr" && r.threshold == "0.75")
                .map(|r| r.observed)
                .sum();
            assert!(events >= 5, "the far tail is seen ({events} events)");
        }
    }
}
