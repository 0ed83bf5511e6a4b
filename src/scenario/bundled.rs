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

/// The bundled entries of scenario files `datasets/scenarios/NAME.toml`, by name.
macro_rules! bundled {
    ($($name:literal),* $(,)?) => {
        &[$(BundledScenario {
            name: $name,
            file: concat!("datasets/scenarios/", $name, ".toml"),
            text: include_str!(concat!("../../datasets/scenarios/", $name, ".toml")),
        }),*]
    };
}

/// Every bundled scenario, the default first.
pub const BUNDLED: &[BundledScenario] = bundled![
    "kaganskikh-2019",
    "kuznetsova-2020",
    "moscow-citywide",
    "moscow-citywide-screened",
    "metro-watchlist",
    "aclu-2018",
    "npl-met-2023",
    "nist-demographics",
    "closed-form-check",
    "lfw-facenet",
];
