//! Shared helpers: tolerances named once, scenario builders, runs.

use falsematch::pipeline::run::{RunOptions, RunOutput, simulate};
use falsematch::report::results::Results;
use falsematch::scenario::Scenario;

/// Largest standardized difference |z| accepted between simulation and a closed form.
/// With fixed seeds the tests are deterministic; 4 sigma keeps a correct model passing for
/// essentially every seed while catching biases of a fraction of an interval.
pub const Z_TOL: f64 = 4.0;

/// A one-group isotropic scenario (rho = 0, no capture noise) in `effective_dim` dims.
pub fn isotropic(
    effective_dim: usize,
    detections: u64,
    non_mated: u32,
    thresholds: &[f64],
    seed: u64,
) -> Scenario {
    let raw: Vec<String> = thresholds.iter().map(|t| format!("{t}")).collect();
    let text = format!(
        r#"
name = "isotropic-{effective_dim}"
seed = {seed}
[embedding]
dimension = {dim}
effective_dimension = {effective_dim}
[[attributes]]
name = "population"
values = ["all"]
[[groups]]
name = "all"
attributes = {{ population = "all" }}
gallery_share = 1.0
probe_share = 1.0
rho = 0.0
[captures.perfect]
noise = 0.0
[gallery]
detections = {detections}
capture = "perfect"
[probes]
non_mated = {non_mated}
capture = "perfect"
[thresholds]
raw = [{raw}]
[analysis]
bootstrap_draws = 0
"#,
        dim = effective_dim + 1,
        raw = raw.join(", ")
    );
    Scenario::from_toml(&text, "isotropic.toml").unwrap()
}

/// A small scenario that exercises everything outside the closed-form regime: several
/// detections per identity, per-identity rho, varying capture noise, mated and non-mated
/// probes, two replicates.
pub fn rich(seed: u64) -> Scenario {
    rich_with(seed, "")
}

/// [`rich`] with extra settings in its `[search]` table.
pub fn rich_with(seed: u64, search: &str) -> Scenario {
    let text = format!(
        r#"
name = "rich"
seed = {seed}
replicates = 2
[embedding]
dimension = 48
effective_dimension = 10
[[attributes]]
name = "sex"
values = ["female", "male"]
[[attributes]]
name = "age"
values = ["young", "old"]
[[groups]]
name = "young women"
attributes = {{ sex = "female", age = "young" }}
gallery_share = 0.3
probe_share = 0.4
rho = 0.3
rho_concentration = 30.0
[[groups]]
name = "old women"
attributes = {{ sex = "female", age = "old" }}
gallery_share = 0.2
probe_share = 0.1
rho = 0.2
[[groups]]
name = "young men"
attributes = {{ sex = "male", age = "young" }}
gallery_share = 0.3
probe_share = 0.3
rho = 0.15
[[groups]]
name = "old men"
attributes = {{ sex = "male", age = "old" }}
gallery_share = 0.2
probe_share = 0.2
rho = 0.1
[captures.cctv]
noise = 0.4
noise_max = 0.6
[captures.photo]
noise = 0.3
[gallery]
detections = 6000
capture = "cctv"
[[gallery.identity_classes]]
label = "passers-by"
share = 0.8
mean_detections = 2.0
[[gallery.identity_classes]]
label = "regulars"
share = 0.2
mean_detections = 8.0
[probes]
mated = 12
non_mated = 20
capture = "photo"
[search]
candidate_list_length = 5
{search}
[thresholds]
raw = [0.3, 0.4, 0.5]
percent = [67.0]
percent_mappings = ["identity", "half_cosine"]
[analysis]
bootstrap_draws = 200
"#
    );
    Scenario::from_toml(&text, "rich.toml").unwrap()
}

/// Runs a scenario with the given options.
pub fn run(scenario: &Scenario, options: &RunOptions) -> RunOutput {
    simulate(scenario, options).unwrap()
}

/// results.json bytes of a run.
pub fn results_json(scenario: &Scenario, options: &RunOptions) -> Vec<u8> {
    let output = run(scenario, options);
    Results::new(scenario, &output).to_json()
}

/// Largest difference accepted between falsematch and a reference library on the same scores
/// (both compute the same ratios of integer counts; only the last bits may differ).
pub const PARITY_TOL: f64 = 1e-12;

/// Evaluation options for tests: the given thresholds, K, targets; no bootstrap.
pub fn evaluate_options(
    thresholds: &[f64],
    k: usize,
    targets: &[f64],
) -> falsematch::pipeline::evaluate::EvaluateOptions {
    let mut thresholds = thresholds.to_vec();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    falsematch::pipeline::evaluate::EvaluateOptions {
        headline: thresholds.len() / 2,
        thresholds,
        k,
        targets: targets.to_vec(),
        confidence_level: 0.95,
        bootstrap_draws: 0,
        seed: 1,
        format: None,
        skip_bad_rows: false,
        spill_budget: falsematch::import::spill::DEFAULT_BUDGET_KEYS,
        run: RunOptions::default(),
    }
}

/// results.json bytes of `scenario` on one thread, checked to be the same with 2 threads and
/// one block per tile, and with 3 threads, 2,500-entry tiles in reverse order.
pub fn same_results_across_threads_and_tiles(scenario: &Scenario, what: &str) -> Vec<u8> {
    let reference = results_json(
        scenario,
        &RunOptions {
            threads: Some(1),
            ..RunOptions::default()
        },
    );
    for options in [
        RunOptions {
            threads: Some(2),
            tile_entries: 1,
            ..RunOptions::default()
        },
        RunOptions {
            threads: Some(3),
            tile_entries: 2500,
            reverse_tiles: true,
            ..RunOptions::default()
        },
    ] {
        assert!(
            results_json(scenario, &options) == reference,
            "{what} results differ with {options:?}"
        );
    }
    reference
}

/// The verdict of a run's closed-form check against another scenario's model.
pub fn check_against(other: &Scenario, output: &RunOutput) -> falsematch::estimate::Verdict {
    let clustering = falsematch::estimate::cluster::Clustering {
        outcomes: &output.outcomes,
        records: &output.records,
        n_groups: other.n_groups(),
    };
    falsematch::estimate::closed_form_check(other, &output.outcomes, &output.records, &clustering)
        .verdict
}

/// Asserts that a run's closed-form check tested at least `rows` rows, agrees, and has every
/// |z| below [`Z_TOL`].
pub fn assert_agrees_with_closed_forms(output: &RunOutput, rows: usize) {
    let check = output.estimates.closed_form.as_ref().unwrap();
    assert!(check.verdict.rows_tested >= rows, "{:?}", check.verdict);
    assert!(check.verdict.agrees, "{}", check.verdict.text);
    for row in &check.rows {
        assert!(row.z.abs() < Z_TOL, "{row:?}");
    }
}
