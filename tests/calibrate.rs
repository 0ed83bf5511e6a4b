//! Calibration: calibrate to targets, simulate the calibrated scenario, recover the targets
//! within intervals.

use crate::support::Z_TOL;
use falsematch::calibrate::{GroupTarget, Targets, calibrate, check, to_toml};
use falsematch::run::{RunOptions, simulate};
use falsematch::scenario::Scenario;

#[test]
fn a_calibrated_scenario_simulates_to_its_targets() {
    let (scenario, _) = Scenario::load("closed-form-check").unwrap();
    let targets = Targets {
        threshold: 0.4,
        groups: vec![
            GroupTarget {
                group: "female".into(),
                fmr: 5e-2,
            },
            GroupTarget {
                group: "male".into(),
                fmr: 2.5e-2,
            },
        ],
        second: None,
        genuine_mean: Some(0.7),
    };
    let (config, calibration) = calibrate(&scenario, &targets).unwrap();
    let text = to_toml(&config, "closed-form-check", &calibration).unwrap();
    let calibrated = Scenario::from_toml(&text, "calibrated.toml").unwrap();
    for row in &calibration.rows {
        assert!((row.closed_form / row.value - 1.0).abs() < 1e-6, "{row:?}");
    }
    let output = simulate(&calibrated, &RunOptions::default()).unwrap();
    let simulated = check(&calibrated, &calibration, &output);
    assert_eq!(simulated.len(), 3);
    for (row, sim) in calibration.rows.iter().zip(&simulated) {
        let sim = sim
            .as_ref()
            .unwrap_or_else(|| panic!("{}: not measured", row.target));
        assert!(
            sim.z.abs() <= Z_TOL,
            "{}: target {}, simulated {:?}",
            row.target,
            row.value,
            sim
        );
        assert!(sim.lower <= sim.value && sim.value <= sim.upper);
    }
}
