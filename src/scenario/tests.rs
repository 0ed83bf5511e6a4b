//! Parsing and validation: every error names the field and the allowed range.

use super::*;

const BASE: &str = r#"
name = "t"
[[attributes]]
name = "sex"
values = ["female", "male"]
[[groups]]
name = "f"
attributes = { sex = "female" }
gallery_share = 0.5
probe_share = 0.5
rho = 0.1
[[groups]]
name = "m"
attributes = { sex = "male" }
gallery_share = 0.5
probe_share = 0.5
rho = 0.1
[captures.cctv]
noise = 0.5
[gallery]
detections = 1000
capture = "cctv"
[probes]
non_mated = 10
capture = "cctv"
[thresholds]
raw = [0.5]
percent = [67.0]
percent_mappings = ["identity", "half_cosine"]
"#;

fn error_of(text: &str) -> String {
    Scenario::from_toml(text, "s.toml").unwrap_err().to_string()
}

#[test]
fn defaults_are_filled_and_thresholds_resolved() {
    let s = Scenario::from_toml(BASE, "s.toml").unwrap();
    assert_eq!(s.dim, 512);
    assert_eq!(s.effective_dim, 13);
    assert_eq!(s.demographic_dim, 2);
    assert_eq!(s.noise_dim, 512 - 2 - 13);
    assert_eq!(s.config.seed, 1);
    assert_eq!(s.config.analysis.bootstrap_draws, 1000);
    let scores: Vec<f64> = s.thresholds.iter().map(|t| t.score).collect();
    assert_eq!(scores.len(), 3);
    assert!((scores[0] - 0.34).abs() < 1e-12, "{scores:?}");
    assert_eq!(scores[1], 0.5);
    assert_eq!(scores[2], 0.67);
    assert!(s.is_closed_form_regime());
    assert_eq!(s.text_sha256.len(), 64);
}

#[test]
fn errors_name_the_field_and_the_range() {
    let cases = [
        (
            BASE.replace("rho = 0.1\n[[groups]]", "rho = 1.2\n[[groups]]"),
            "groups[0].rho",
            "[0, 1)",
        ),
        (
            BASE.replace(
                "gallery_share = 0.5\nprobe_share = 0.5\nrho = 0.1\n[captures",
                "gallery_share = 0.6\nprobe_share = 0.5\nrho = 0.1\n[captures",
            ),
            "groups[*].gallery_share",
            "sum to 1",
        ),
        (
            BASE.replace("raw = [0.5]", "raw = [1.5]"),
            "thresholds.raw[0]",
            "[-1, 1]",
        ),
        (
            BASE.replace("non_mated = 10", "non_mated = 0"),
            "probes",
            "[1, 1000000]",
        ),
        (
            BASE.replace(
                "capture = \"cctv\"\n[probes]",
                "capture = \"dashcam\"\n[probes]",
            ),
            "gallery.capture",
            "cctv",
        ),
        (
            BASE.replace("sex = \"male\"", "sex = \"other\""),
            "groups[1].attributes.sex",
            "female, male",
        ),
        (
            BASE.replace(
                "[gallery]",
                "[embedding]\neffective_dimension = 1\n[gallery]",
            ),
            "embedding.effective_dimension",
            "[2,",
        ),
    ];
    for (text, field, allowed) in cases {
        let e = error_of(&text);
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(allowed) && e.starts_with("s.toml"),
            "{e}"
        );
    }
}

#[test]
fn syntax_errors_give_line_and_field() {
    let text = BASE.replace("[gallery]\n", "[gallery]\ncolour = 3\n");
    let e = error_of(&text);
    let line = text.lines().position(|l| l.starts_with("colour")).unwrap() + 1;
    assert!(
        e.starts_with(&format!("s.toml:{line}:"))
            && e.contains("field `gallery.colour`: unknown field"),
        "{e}"
    );
    let e = error_of(&BASE.replace("detections = 1000", "detections = \"many\""));
    assert!(e.contains("field `gallery.detections`"), "{e}");
    let line = BASE
        .lines()
        .position(|l| l.starts_with("detections"))
        .unwrap()
        + 1;
    assert!(e.starts_with(&format!("s.toml:{line}:")), "{e}");
    let e = error_of("name = \"t\"\n[[groups]\n");
    assert!(e.starts_with("s.toml:2:"), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
    assert!(error_of("  \n").contains("is empty"));
}

#[test]
fn bundled_scenarios_are_valid() {
    for b in BUNDLED {
        let s = Scenario::from_toml(b.text, b.file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.config.name, b.name);
        assert!(!s.config.description.is_empty() && !s.config.sources.is_empty());
    }
}

#[test]
fn logistic_and_table_mappings_resolve_and_are_checked() {
    let text = BASE.replace(
        "percent_mappings = [\"identity\", \"half_cosine\"]",
        "percent_mappings = [\"identity\", { logistic = { midpoint = 0.45, slope = 20.0 } }, { table = [[50, 0.30], [80, 0.55]] }]",
    );
    let s = Scenario::from_toml(&text, "s.toml").unwrap();
    let score = |label: &str| {
        s.thresholds
            .iter()
            .find(|t| t.label == label)
            .unwrap_or_else(|| panic!("{label}"))
            .score
    };
    // Logistic: 0.45 + ln(0.67 / 0.33) / 20.
    assert!(
        (score("67 % [logistic 0.45/20]") - (0.45 + (0.67f64 / 0.33).ln() / 20.0)).abs() < 1e-12
    );
    // Table: 67 % lies 17/30 of the way from (50, 0.30) to (80, 0.55).
    assert!((score("67 % [table]") - (0.30 + 17.0 / 30.0 * 0.25)).abs() < 1e-12);
    assert_eq!(score("67 % [identity]"), 0.67);

    let outside = BASE.replace(
        "percent_mappings = [\"identity\", \"half_cosine\"]",
        "percent_mappings = [{ table = [[70, 0.4], [90, 0.6]] }]",
    );
    let e = error_of(&outside);
    assert!(
        e.contains("`thresholds.percent[0]`")
            && e.contains("no score in [-1, 1]")
            && e.contains("percent_mappings[0]"),
        "{e}"
    );
    let unordered = BASE.replace(
        "percent_mappings = [\"identity\", \"half_cosine\"]",
        "percent_mappings = [{ table = [[90, 0.6], [50, 0.4]] }]",
    );
    assert!(error_of(&unordered).contains("`thresholds.percent_mappings[0].table`"));
    let flat = BASE.replace(
        "percent_mappings = [\"identity\", \"half_cosine\"]",
        "percent_mappings = [{ logistic = { midpoint = 0.45, slope = 0.0 } }]",
    );
    assert!(error_of(&flat).contains("`thresholds.percent_mappings[0].logistic.slope`"));
    let twice = BASE.replace("raw = [0.5]", "raw = [0.5, 0.5]");
    assert!(error_of(&twice).contains("share the label `0.50`"));
}

#[test]
fn ambiguous_groups_values_tables_and_seeds_are_refused() {
    let cases = [
        (
            BASE.replace("name = \"m\"", "name = \"\""),
            "groups[1].name",
            "is empty",
        ),
        (
            BASE.replace("sex = \"male\"", "sex = \"female\""),
            "groups[1].attributes",
            "are those of groups[0] (`f`)",
        ),
        (
            BASE.replace("[\"female\", \"male\"]", "[\"female\", \"male\", \"male\"]"),
            "attributes[0].values[2]",
            "`male` is listed twice",
        ),
        (
            BASE.replace("[\"female\", \"male\"]", "[\"female\", \"male\", \" \"]"),
            "attributes[0].values[2]",
            "is empty",
        ),
        (
            BASE.replace("name = \"t\"", "name = \"t\"\nseed = 9223372036854775808"),
            "seed",
            "2^63 - 1",
        ),
    ];
    for (text, field, allowed) in cases {
        let e = error_of(&text);
        assert!(
            e.contains(&format!("`{field}`")) && e.contains(allowed) && e.starts_with("s.toml"),
            "{e}"
        );
    }
    let largest = BASE.replace("name = \"t\"", "name = \"t\"\nseed = 9223372036854775807");
    assert_eq!(
        Scenario::from_toml(&largest, "s.toml").unwrap().seed(),
        i64::MAX as u64
    );
    // A table point with an extra value is an error, never silently dropped.
    let table = |points: &str| {
        BASE.replace(
            "percent_mappings = [\"identity\", \"half_cosine\"]",
            &format!("percent_mappings = [{{ table = {points} }}]"),
        )
    };
    assert!(Scenario::from_toml(&table("[[0, -1.0], [100, 1.0]]"), "s.toml").is_ok());
    let e = error_of(&table("[[0, -1.0], [50, 0.30, 99], [100, 1.0]]"));
    assert!(
        e.contains("point 1 has 3 values") && e.contains("[percent, score]"),
        "{e}"
    );
}

#[test]
fn echoed_values_stay_on_one_short_line() {
    let long = "x".repeat(10_000_000);
    for value in ["a\r\nb", long.as_str()] {
        let text = BASE.replace("sex = \"male\"", &format!("sex = {value:?}"));
        let e = error_of(&text);
        assert_eq!(e.lines().count(), 1, "{}", &e[..e.len().min(300)]);
        assert!(e.len() < 400, "{} characters", e.len());
    }
}

#[test]
fn an_unknown_name_a_few_edits_from_a_bundled_one_gets_a_suggestion() {
    assert_eq!(edit_distance("kaganskikh2019", "kaganskikh-2019"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    let e = Scenario::load("kaganskih-2019").unwrap_err().to_string();
    assert!(e.contains("did you mean `kaganskikh-2019`?"), "{e}");
    let e = Scenario::load("no-such-thing-at-all")
        .unwrap_err()
        .to_string();
    assert!(!e.contains("did you mean") && e.contains("bundled:"), "{e}");
}
