//! Scenarios compiled into the binary, so `falsematch run` works from any directory.
//!
//! The files live under `datasets/scenarios/`; `datasets/README.md` explains each one.

/// A scenario shipped inside the binary.
#[derive(Clone, Copy, Debug)]
pub struct BundledScenario {
    /// Name, as given to `falsematch run NAME`.
    pub name: &'static str,
    /// Path in the repository (used in error messages).
    pub file: &'static str,
    /// The TOML text.
    pub text: &'static str,
}

impl BundledScenario {
    /// The scenario's one-line description (its `description` field).
    pub fn description(&self) -> String {
        super::Scenario::from_toml(self.text, self.file)
            .map(|s| s.config.description)
            .unwrap_or_else(|e| format!("(invalid: {e})"))
    }
}

/// Name of the scenario `falsematch run` uses when given none.
pub const DEFAULT_SCENARIO: &str = "kaganskikh-2019";

/// Every bundled scenario, the default first.
pub const BUNDLED: &[BundledScenario] = &[
    BundledScenario {
        name: "kaganskikh-2019",
        file: "datasets/scenarios/kaganskikh-2019.toml",
        text: include_str!("../../datasets/scenarios/kaganskikh-2019.toml"),
    },
    BundledScenario {
        name: "kuznetsova-2020",
        file: "datasets/scenarios/kuznetsova-2020.toml",
        text: include_str!("../../datasets/scenarios/kuznetsova-2020.toml"),
    },
    BundledScenario {
        name: "moscow-citywide",
        file: "datasets/scenarios/moscow-citywide.toml",
        text: include_str!("../../datasets/scenarios/moscow-citywide.toml"),
    },
    BundledScenario {
        name: "metro-watchlist",
        file: "datasets/scenarios/metro-watchlist.toml",
        text: include_str!("../../datasets/scenarios/metro-watchlist.toml"),
    },
    BundledScenario {
        name: "nist-demographics",
        file: "datasets/scenarios/nist-demographics.toml",
        text: include_str!("../../datasets/scenarios/nist-demographics.toml"),
    },
    BundledScenario {
        name: "npl-met-2023",
        file: "datasets/scenarios/npl-met-2023.toml",
        text: include_str!("../../datasets/scenarios/npl-met-2023.toml"),
    },
    BundledScenario {
        name: "aclu-2018",
        file: "datasets/scenarios/aclu-2018.toml",
        text: include_str!("../../datasets/scenarios/aclu-2018.toml"),
    },
    BundledScenario {
        name: "closed-form-check",
        file: "datasets/scenarios/closed-form-check.toml",
        text: include_str!("../../datasets/scenarios/closed-form-check.toml"),
    },
];
