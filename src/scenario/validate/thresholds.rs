//! The thresholds of a scenario: raw scores, and percent settings through each stated mapping.

use super::Checker;
use crate::format::quoted;
use crate::scenario::{PercentMapping, ScenarioConfig, ScenarioError, Threshold};

/// The thresholds (raw, and percent through each mapping), ascending, and the headline's index.
pub(super) fn check_thresholds(
    c: &Checker<'_>,
    config: &ScenarioConfig,
) -> Result<(Vec<Threshold>, usize), ScenarioError> {
    let t = &config.thresholds;
    let mut thresholds = Vec::new();
    for (i, &score) in t.raw.iter().enumerate() {
        c.range(&format!("thresholds.raw[{i}]"), score, -1.0, 1.0, false)?;
        thresholds.push(Threshold {
            label: raw_label(score),
            score,
            origin: "raw score".into(),
        });
    }
    if !t.percent.is_empty() && t.percent_mappings.is_empty() {
        return Err(c.err(
            "thresholds.percent_mappings",
            "needs at least one mapping (identity, half_cosine) when percent thresholds are given",
        ));
    }
    for (m, mapping) in t.percent_mappings.iter().enumerate() {
        let field = format!("thresholds.percent_mappings[{m}]");
        match mapping {
            PercentMapping::Logistic { midpoint, slope } => {
                c.range(
                    &format!("{field}.logistic.midpoint"),
                    *midpoint,
                    -1.0,
                    1.0,
                    false,
                )?;
                if !(slope.is_finite() && *slope > 0.0) {
                    return Err(c.err(
                        format!("{field}.logistic.slope"),
                        format!("must be > 0, got {slope}"),
                    ));
                }
            }
            PercentMapping::Table(points) => {
                if points.len() < 2 {
                    return Err(c.err(
                        format!("{field}.table"),
                        "needs at least two (percent, score) points",
                    ));
                }
                for (k, &(p, score)) in points.iter().enumerate() {
                    c.range(&format!("{field}.table[{k}][0]"), p, 0.0, 100.0, false)?;
                    c.range(&format!("{field}.table[{k}][1]"), score, -1.0, 1.0, false)?;
                }
                if points
                    .windows(2)
                    .any(|w| w[1].0 <= w[0].0 || w[1].1 < w[0].1)
                {
                    return Err(c.err(format!("{field}.table"), "percent must increase strictly from point to point, and score must not decrease"));
                }
            }
            PercentMapping::Identity | PercentMapping::HalfCosine => {}
        }
    }
    for (i, &percent) in t.percent.iter().enumerate() {
        c.range(
            &format!("thresholds.percent[{i}]"),
            percent,
            0.0,
            100.0,
            false,
        )?;
        for (m, mapping) in t.percent_mappings.iter().enumerate() {
            let score = mapping.score(percent).filter(|s| (-1.0..=1.0).contains(s)).ok_or_else(|| {
                c.err(
                    format!("thresholds.percent[{i}]"),
                    format!("{percent} % has no score in [-1, 1] under thresholds.percent_mappings[{m}] ({})", mapping.formula()),
                )
            })?;
            thresholds.push(Threshold {
                label: format!("{percent} % [{}]", mapping.name()),
                score,
                origin: format!("{percent} % read as {}", mapping.reading()),
            });
        }
    }
    if let Some(dup) = thresholds
        .iter()
        .enumerate()
        .find(|(i, a)| thresholds[..*i].iter().any(|b| b.label == a.label))
    {
        return Err(c.err(
            "thresholds",
            format!(
                "two thresholds share the label `{}`; list each value and mapping once",
                dup.1.label
            ),
        ));
    }
    if thresholds.is_empty() || thresholds.len() > 64 {
        return Err(c.err(
            "thresholds",
            format!(
                "needs 1 to 64 thresholds in raw and percent, got {}",
                thresholds.len()
            ),
        ));
    }
    thresholds.sort_by(|a, b| a.score.total_cmp(&b.score));
    let headline = match &config.report.headline_threshold {
        Some(label) => thresholds
            .iter()
            .position(|t| &t.label == label)
            .ok_or_else(|| {
                c.err(
                    "report.headline_threshold",
                    format!(
                        "{} is not a threshold label; labels are: {}",
                        quoted(label),
                        thresholds
                            .iter()
                            .map(|t| t.label.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
        None => thresholds
            .iter()
            .position(|t| t.origin != "raw score")
            .unwrap_or(thresholds.len() / 2),
    };
    Ok((thresholds, headline))
}

/// Label of a raw threshold: two decimals when they are exact ("0.50"), else the shortest
/// exact form ("0.301"), so distinct thresholds never share a label.
pub(crate) fn raw_label(score: f64) -> String {
    let two = format!("{score:.2}");
    if two.parse::<f64>() == Ok(score) {
        two
    } else {
        format!("{score}")
    }
}
