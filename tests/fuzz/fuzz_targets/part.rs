//! Part files and checkpoints of the scenario in `tests/fuzz/part.toml`, twice: as bytes (the
//! digest must refuse any change), and re-sealed with a fresh digest, as a forger would, so
//! that the count checks behind the digest are reached. Either way: refused with an error, or
//! merged into an output whose counts are possible; never a panic.
#![no_main]
use falsematch::pipeline::run::finish;
use falsematch::scenario::Scenario;
use falsematch::pipeline::shard::PartialRun;
use libfuzzer_sys::fuzz_target;

const SCENARIO: &str = include_str!("../part.toml");

fn merge(scenario: &Scenario, part: &PartialRun) {
    if part.check(scenario, part.shard, "fuzz.json").is_err() {
        return;
    }
    if let Ok(output) = finish(scenario, std::slice::from_ref(part)) {
        for r in &output.records {
            let outcome = output.outcomes.iter().find(|o| o.replicate == r.replicate);
            let entries = outcome.expect("a record of a replicate").entries;
            assert!(r.false_candidates(0, scenario.n_groups()) <= entries);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let scenario = Scenario::from_toml(SCENARIO, "part.toml").unwrap();
    if let Ok(part) = PartialRun::from_json(data, "fuzz.json") {
        merge(&scenario, &part);
    }
    if let Ok(raw) = serde_json::from_slice::<PartialRun>(data) {
        let resealed = raw.to_json();
        match PartialRun::from_json(&resealed, "fuzz.json") {
            Ok(part) => merge(&scenario, &part),
            Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
        }
    }
});
