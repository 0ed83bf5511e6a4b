//! How far the headline conclusions move when each assumption is varied over a stated range:
//! every conclusion tied to the assumptions it rests on.
//!
//! ```text
//! conclusions at the headline threshold (closed forms over the expected gallery layout):
//!   false candidate detections per search, distinct people per search, FPIR,
//!   share of false candidates whose sex differs from the probe's (when groups have a sex)
//! assumptions, one at a time, low and high:
//!   rho of each gallery group x0.5 and x1.5;  weight of each attribute in the group
//!   directions x0.5 and x2;  effective dimension x0.75 and x1.33;  capture noise -0.05 and
//!   +0.05 (both captures);  detections per person x0.5 and x2 (every class)
//! ```
//!
//! The closed forms are exact for the model, so every number here is what a simulation of the
//! varied scenario would estimate, without its sampling noise.

use crate::closed_form::Expected;
use crate::scenario::{Scenario, ScenarioConfig};
use serde::{Deserialize, Serialize};

/// The headline conclusions under one setting of the assumptions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conclusions {
    /// False candidate detections per search.
    pub sel: f64,
    /// Distinct false candidate people per search.
    pub people: f64,
    /// FPIR.
    pub fpir: f64,
    /// Share of false candidates whose sex differs from the probe's (None without a `sex`
    /// attribute or without false candidates).
    pub other_sex_share: Option<f64>,
}

/// One assumption varied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    /// The assumption, in plain words.
    pub assumption: String,
    /// Its value as the scenario has it.
    pub base: String,
    /// The low and high settings tried.
    pub settings: (String, String),
    /// The conclusions at the low and high settings (None where the varied scenario is not
    /// valid, e.g. an effective dimension beyond the embedding).
    pub low: Option<Conclusions>,
    /// At the high setting.
    pub high: Option<Conclusions>,
}

/// Which assumption moves one conclusion most.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dependence {
    /// The conclusion.
    pub conclusion: String,
    /// The assumption that moves it most.
    pub assumption: String,
    /// The conclusion's range over that assumption's settings.
    pub range: (f64, f64),
}

/// The sensitivity of the headline conclusions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// Headline threshold label.
    pub threshold: String,
    /// Its score.
    pub score: f64,
    /// The conclusions as the scenario has them.
    pub base: Conclusions,
    /// One row per assumption varied.
    pub rows: Vec<SensitivityRow>,
    /// For each conclusion, the assumption it rests on most.
    pub dependence: Vec<Dependence>,
}

/// The conclusions of `scenario` at threshold `score`.
fn conclusions(scenario: &Scenario, score: f64) -> Conclusions {
    let n = scenario.config().gallery.detections;
    let expected = Expected::at_scores(scenario, &[score]);
    let (fpir, sel, people) = expected.at(n)[0];
    let by_group = &expected.sel_by_group(n)[0];
    let sex = |g: usize| scenario.config().groups[g].attributes.get("sex");
    let probe_sex: Vec<(usize, f64)> = (0..scenario.n_groups())
        .filter(|&g| scenario.groups()[g].probe_share > 0.0)
        .map(|g| (g, scenario.groups()[g].probe_share))
        .collect();
    // Probes of one sex: the share of their false candidates of the other sex.
    let other_sex_share = match probe_sex.as_slice() {
        [(g, _)] if sex(*g).is_some() && sel > 0.0 => Some(
            by_group
                .iter()
                .enumerate()
                .filter(|&(h, _)| sex(h) != sex(*g))
                .map(|(_, x)| x)
                .sum::<f64>()
                / sel,
        ),
        _ => None,
    };
    Conclusions {
        sel,
        people,
        fpir,
        other_sex_share,
    }
}

/// One conclusion, read from the conclusions.
type Metric = fn(&Conclusions) -> Option<f64>;

/// A setting of one assumption: a label and the configuration change.
type Setting = (String, Box<dyn Fn(&mut ScenarioConfig)>);

fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The assumptions to vary, with their base value and low/high settings.
fn assumptions(scenario: &Scenario) -> Vec<(String, String, Setting, Setting)> {
    let c = &scenario.config();
    let mut out: Vec<(String, String, Setting, Setting)> = Vec::new();
    for (g, group) in c.groups.iter().enumerate() {
        if group.gallery_share <= 0.0 {
            continue;
        }
        let rho = group.rho;
        let set = |factor: f64| -> Setting {
            let value = (rho * factor).min(0.95);
            (
                number(value),
                Box::new(move |cfg: &mut ScenarioConfig| cfg.groups[g].rho = value),
            )
        };
        out.push((
            format!(
                "concentration rho of {} (how alike its faces look)",
                group.name
            ),
            number(rho),
            set(0.5),
            set(1.5),
        ));
    }
    for (a, attr) in c.attributes.iter().enumerate() {
        if attr.values.len() < 2 || c.attributes.len() < 2 {
            continue;
        }
        let weights = attr.weights.clone().unwrap_or(vec![1.0; attr.values.len()]);
        let set = |factor: f64| -> Setting {
            let w: Vec<f64> = weights.iter().map(|x| x * factor).collect();
            (
                format!("x{}", number(factor)),
                Box::new(move |cfg: &mut ScenarioConfig| {
                    cfg.attributes[a].weights = Some(w.clone())
                }),
            )
        };
        out.push((
            format!(
                "weight of {} in the group directions (how much it separates groups)",
                attr.name
            ),
            weights
                .iter()
                .map(|x| number(*x))
                .collect::<Vec<_>>()
                .join(", "),
            set(0.5),
            set(2.0),
        ));
    }
    let d_eff = scenario.effective_dim();
    let set_d = |factor: f64| -> Setting {
        let d = ((d_eff as f64 * factor).round() as usize).max(2);
        (
            d.to_string(),
            Box::new(move |cfg: &mut ScenarioConfig| cfg.embedding.effective_dimension = d),
        )
    };
    out.push((
        "effective dimension (the algorithm's discriminative capacity)".into(),
        d_eff.to_string(),
        set_d(0.75),
        set_d(4.0 / 3.0),
    ));
    let noise = |delta: f64| -> Setting {
        (
            format!("{delta:+}"),
            Box::new(move |cfg: &mut ScenarioConfig| {
                for cap in cfg.captures.values_mut() {
                    cap.noise = (cap.noise + delta).clamp(0.0, 0.95);
                    if let Some(max) = cap.noise_max.as_mut() {
                        *max = (*max + delta).clamp(cap.noise, 0.95);
                    }
                }
            }),
        )
    };
    let base_noise: Vec<String> = scenario
        .captures()
        .iter()
        .map(|c| number(c.noise_min))
        .collect();
    out.push((
        "capture noise of every capture (image quality)".into(),
        base_noise.join(", "),
        noise(-0.05),
        noise(0.05),
    ));
    if c.gallery
        .identity_classes
        .iter()
        .any(|k| k.distribution == crate::scenario::CountDistribution::Geometric)
    {
        let means: Vec<String> = c
            .gallery
            .identity_classes
            .iter()
            .map(|k| number(k.mean_detections))
            .collect();
        let set = |factor: f64| -> Setting {
            (
                format!("x{}", number(factor)),
                Box::new(move |cfg: &mut ScenarioConfig| {
                    for k in &mut cfg.gallery.identity_classes {
                        if k.distribution == crate::scenario::CountDistribution::Geometric {
                            k.mean_detections = (k.mean_detections * factor).max(1.0);
                        }
                    }
                }),
            )
        };
        out.push((
            "detections per person (how often people pass a camera)".into(),
            means.join(", "),
            set(0.5),
            set(2.0),
        ));
    }
    out
}

/// `scenario` under one setting of an assumption (None where that variant is not valid).
fn setting_variant(scenario: &Scenario, assumption: &str, setting: &Setting) -> Option<Scenario> {
    scenario.changed(assumption, |c| (setting.1)(c)).ok()
}

/// The closed-form work of a run's estimates and report, in the units of
/// [`PairLaw::cost`](crate::closed_form::search::PairLaw::cost): the closed-form check at every
/// threshold, the sensitivity table (the conclusions at the headline threshold under each
/// assumption's two settings) and the tail table (every threshold under each alternative).
pub fn closed_form_cost(scenario: &Scenario) -> (f64, f64) {
    let n_t = scenario.thresholds().len();
    let mut total = (0.0, 0.0);
    let mut add = |s: &Scenario, scores: usize| {
        let (evaluations, updates) = Expected::cost(s, scores);
        total = (total.0 + evaluations, total.1 + updates);
    };
    // The check at every threshold and the sensitivity table's base conclusions.
    add(scenario, n_t + 1);
    for (assumption, _, low, high) in assumptions(scenario) {
        for setting in [&low, &high] {
            if let Some(v) = setting_variant(scenario, &assumption, setting) {
                add(&v, 1);
            }
        }
    }
    let alts = &scenario.config().report.tails;
    if !alts.is_empty() {
        add(scenario, n_t + 1);
        for v in alts.iter().filter_map(|a| variant(scenario, a).ok()) {
            add(&v, n_t + 1);
        }
    }
    total
}

/// The sensitivity of `scenario`'s conclusions at its headline threshold.
pub fn sensitivity(scenario: &Scenario) -> Sensitivity {
    let headline = &scenario.thresholds()[scenario.headline()];
    let score = headline.score;
    let base = conclusions(scenario, score);
    let rows: Vec<SensitivityRow> = assumptions(scenario)
        .into_iter()
        .map(|(assumption, base_value, low, high)| {
            let run = |setting: &Setting| {
                setting_variant(scenario, &assumption, setting).map(|s| conclusions(&s, score))
            };
            let (low_result, high_result) = (run(&low), run(&high));
            SensitivityRow {
                assumption,
                base: base_value,
                settings: (low.0.clone(), high.0.clone()),
                low: low_result,
                high: high_result,
            }
        })
        .collect();
    let metrics: [(&str, Metric); 4] = [
        ("false candidate detections per search", |c| Some(c.sel)),
        ("distinct false candidate people per search", |c| {
            Some(c.people)
        }),
        ("FPIR", |c| Some(c.fpir)),
        ("share of false candidates of the other sex", |c| {
            c.other_sex_share
        }),
    ];
    let dependence = metrics
        .iter()
        .filter_map(|(name, f)| {
            let b = f(&base)?;
            rows.iter()
                .filter_map(|r| {
                    let lo = f(r.low.as_ref()?)?;
                    let hi = f(r.high.as_ref()?)?;
                    // How far it moves: the log ratio for rates and counts, so a change from
                    // 1e-4 to 1e-2 counts as large as one from 0.01 to 1.
                    let spread = |x: f64| (x.max(1e-300) / b.max(1e-300)).ln().abs();
                    Some((r, lo, hi, spread(lo).max(spread(hi))))
                })
                .max_by(|a, b| a.3.total_cmp(&b.3))
                .map(|(r, lo, hi, _)| Dependence {
                    conclusion: (*name).to_string(),
                    assumption: r.assumption.clone(),
                    range: (lo.min(hi), lo.max(hi)),
                })
        })
        .collect();
    Sensitivity {
        threshold: headline.label.clone(),
        score,
        base,
        rows,
        dependence,
    }
}

/// One tail's results at every threshold (closed forms over the expected layout).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailResult {
    /// Its name.
    pub name: String,
    /// Where it comes from.
    pub source: String,
    /// Its parameters, in words.
    pub parameters: String,
    /// Per threshold: (label, FPIR, false candidate detections, distinct people) per search.
    pub thresholds: Vec<(String, f64, f64, f64)>,
    /// The share of false candidates of the other sex at the headline threshold.
    pub other_sex_share: Option<f64>,
}

/// The results under the scenario's own tail beside other tails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tails {
    /// The scenario's own model.
    pub base: TailResult,
    /// Each alternative (None where its variant of the scenario is not valid).
    pub alternatives: Vec<TailResult>,
    /// The conclusions that change between them, in sentences.
    pub changes: Vec<String>,
}

/// The scenario's tail in words.
pub fn tail_words(scenario: &Scenario) -> String {
    let spread: Vec<String> = scenario
        .groups()
        .iter()
        .filter_map(|g| {
            g.rho_concentration
                .map(|k| format!("{} {}", g.name, number(k)))
        })
        .collect();
    let mut parts = vec![format!(
        "effective dimension {}, capture noise {}",
        scenario.effective_dim(),
        scenario
            .captures()
            .iter()
            .map(|c| number(c.noise_min))
            .collect::<Vec<_>>()
            .join("/")
    )];
    if spread.is_empty() {
        parts.push("rho fixed per group".into());
    } else {
        parts.push(format!(
            "rho varying per person (spread of look-alikeness, Beta concentration: {}; lower is a heavier tail)",
            spread.join(", ")
        ));
    }
    match scenario.tail() {
        Some(t) => parts.push(format!(
            "look-alikes: {} of people in {} groups at closeness {} (two strangers are look-alikes with chance {:.2e})",
            crate::format::share(t.share),
            crate::format::count(t.groups),
            number(t.closeness),
            t.pair_share()
        )),
        None => parts.push("no look-alike groups".into()),
    }
    parts.join("; ")
}

fn tail_result(scenario: &Scenario, name: &str, source: &str) -> TailResult {
    let scores: Vec<f64> = scenario.thresholds().iter().map(|t| t.score).collect();
    let n = scenario.config().gallery.detections;
    let expected = Expected::at_scores(scenario, &scores);
    let at = expected.at(n);
    TailResult {
        name: name.into(),
        source: source.into(),
        parameters: tail_words(scenario),
        thresholds: scenario
            .thresholds()
            .iter()
            .zip(&at)
            .map(|(t, &(f, s, p))| (t.label.clone(), f, s, p))
            .collect(),
        other_sex_share: conclusions(scenario, scenario.thresholds()[scenario.headline()].score)
            .other_sex_share,
    }
}

/// The variant of `scenario` under `alt`.
fn variant(
    scenario: &Scenario,
    alt: &crate::scenario::TailAlternative,
) -> Result<Scenario, crate::scenario::ScenarioError> {
    let mut config = scenario.config().clone();
    if let Some(name) = &alt.model {
        let (donor, _) = Scenario::load(name)?;
        // The donor's identity and noise blocks as they are, after this scenario's demographic
        // block.
        config.embedding.dimension =
            scenario.demographic_dim() + donor.effective_dim() + donor.noise_dim();
        config.embedding.effective_dimension = donor.effective_dim();
        let noise = donor.captures()[donor.gallery_capture()].noise_min;
        for c in config.captures.values_mut() {
            c.noise = noise;
            c.noise_max = None;
        }
        for g in &mut config.groups {
            g.rho = donor.groups()[0].rho;
            g.rho_concentration = donor.groups()[0].rho_concentration;
        }
        config.tail = donor.config().tail.clone();
    }
    if let Some(d) = alt.effective_dimension {
        config.embedding.effective_dimension = d;
    }
    if let Some(noise) = alt.noise {
        for c in config.captures.values_mut() {
            c.noise = noise;
            c.noise_max = None;
        }
    }
    for g in &mut config.groups {
        if let Some(r) = alt.rho {
            g.rho = r;
        }
        if alt.rho_concentration.is_some() {
            g.rho_concentration = alt.rho_concentration;
        }
    }
    if alt.lookalikes.is_some() {
        config.tail = alt.lookalikes.clone();
    }
    config.report.tails.clear();
    Scenario::from_config(config, &alt.name)
}

/// The results under the scenario's tail and each of `report.tails`, with what changes.
pub fn tails(scenario: &Scenario) -> Option<Tails> {
    let alts = &scenario.config().report.tails;
    if alts.is_empty() {
        return None;
    }
    let base = tail_result(scenario, "as in the scenario", "");
    let alternatives: Vec<TailResult> = alts
        .iter()
        .filter_map(|a| {
            variant(scenario, a)
                .ok()
                .map(|v| tail_result(&v, &a.name, &a.source))
        })
        .collect();
    let mut changes = Vec::new();
    // Vendor settings (percent thresholds) first: they are what the public record quotes.
    let mut order: Vec<usize> = (0..scenario.thresholds().len()).collect();
    order.sort_by_key(|&t| scenario.thresholds()[t].origin == "raw score");
    for alt in &alternatives {
        for &t in &order {
            let (b, a) = (&base.thresholds[t], &alt.thresholds[t]);
            let (x, y) = (b.2, a.2);
            let factor = (y.max(1e-300) / x.max(1e-300)).max(x.max(1e-300) / y.max(1e-300));
            if factor >= 10.0 && x.max(y) >= 0.1 {
                changes.push(format!(
                    "At {}, one search returns {} false candidate detections under the scenario's tail and {} under {}'s.",
                    b.0,
                    crate::format::mean(x),
                    crate::format::mean(y),
                    alt.name
                ));
            }
        }
        if let (Some(x), Some(y)) = (base.other_sex_share, alt.other_sex_share)
            && (x - y).abs() >= 0.1
        {
            changes.push(format!(
                "The share of false candidates of the other sex is {} under the scenario's tail and {} under {}'s.",
                crate::format::percent(x),
                crate::format::percent(y),
                alt.name
            ));
        }
    }
    Some(Tails {
        base,
        alternatives,
        changes,
    })
}
