//! What a report compares with and how it analyses: published figures, analysis settings, the
//! look-alike tail and the alternative tails.

use super::Checker;
use crate::format::quoted;
use crate::scenario::{BUNDLED, ScenarioConfig, ScenarioError, Tail, Threshold};

/// The published figures a report compares with.
pub(super) fn check_published(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    thresholds: &[Threshold],
) -> Result<(), ScenarioError> {
    for (i, p) in config.report.published.iter().enumerate() {
        let field = |f: &str| format!("report.published[{i}].{f}");
        if p.label.trim().is_empty() {
            return Err(c.err(field("label"), "must say what was published"));
        }
        if !["fpir", "sel", "fnir", "hit_share"].contains(&p.metric.as_str()) {
            return Err(c.err(
                field("metric"),
                format!(
                    "{}: allowed metrics are fpir, sel, fnir and hit_share",
                    quoted(&p.metric)
                ),
            ));
        }
        if (p.metric == "hit_share") == p.groups.is_empty() {
            return Err(c.err(
                field("groups"),
                "give the probe groups of a hit_share (and only of a hit_share)",
            ));
        }
        if let Some(g) = p
            .groups
            .iter()
            .find(|g| !config.groups.iter().any(|x| &x.name == *g))
        {
            return Err(c.err(
                field("groups"),
                format!("{} is not a group of this scenario", quoted(g)),
            ));
        }
        if let Some(role) = p
            .role
            .as_deref()
            .filter(|r| *r != "check" && *r != "calibration")
        {
            return Err(c.err(
                field("role"),
                format!("{}: allowed roles are check and calibration", quoted(role)),
            ));
        }
        if !thresholds.iter().any(|t| t.label == p.threshold) {
            return Err(c.err(
                field("threshold"),
                format!(
                    "{} is not a threshold label; labels are: {}",
                    quoted(&p.threshold),
                    thresholds
                        .iter()
                        .map(|t| t.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        match (p.value, p.events, p.searches) {
            (Some(v), None, None) if v.is_finite() && v >= 0.0 => {}
            (None, Some(e), Some(n)) if n > 0 && (p.metric == "sel" || e <= n) => {}
            _ => {
                return Err(c.err(
                    field("value"),
                    "give either value (a rate >= 0) or events and searches (events <= searches, but for sel)",
                ));
            }
        }
    }
    Ok(())
}

/// The analysis settings.
pub(super) fn check_analysis(
    c: &Checker<'_>,
    config: &ScenarioConfig,
) -> Result<(), ScenarioError> {
    let a = &config.analysis;
    if a.bootstrap_draws > 100_000 {
        return Err(c.err(
            "analysis.bootstrap_draws",
            format!("must be in [0, 100000], got {}", a.bootstrap_draws),
        ));
    }
    c.range(
        "analysis.confidence_level",
        a.confidence_level,
        0.5,
        1.0,
        true,
    )?;
    Ok(())
}

/// The look-alikes, if any.
pub(super) fn check_tail(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    effective_dim: usize,
) -> Result<Option<Tail>, ScenarioError> {
    let tail = match &config.tail {
        None => None,
        Some(t) => {
            let check = |field: &str, ok: bool, allowed: &str, value: String| {
                if ok {
                    Ok(())
                } else {
                    Err(c.err(
                        format!("tail.{field}"),
                        format!("must be {allowed}, got {value}"),
                    ))
                }
            };
            check(
                "lookalike_share",
                (0.0..=1.0).contains(&t.lookalike_share),
                "in [0, 1]",
                t.lookalike_share.to_string(),
            )?;
            // With few groups, the directions an archive happens to draw for its centres
            // shift every comparison between people of different groups together: an
            // archive-level effect that no interval allows for. From 1,000 groups on it stays
            // below a few tenths of a percent of any rate.
            check(
                "lookalike_groups",
                t.lookalike_groups >= MIN_LOOKALIKE_GROUPS && t.lookalike_groups <= 1 << 40,
                "from 1,000 to 2^40 (fewer groups make the archive's own draw of their directions matter)",
                t.lookalike_groups.to_string(),
            )?;
            check(
                "closeness",
                t.closeness > 0.0 && t.closeness < 1.0,
                "in (0, 1)",
                t.closeness.to_string(),
            )?;
            if effective_dim < 3 {
                return Err(c.err(
                    "embedding.effective_dimension",
                    "must be at least 3 with look-alikes (a centre and a direction around it)",
                ));
            }
            Some(Tail {
                share: t.lookalike_share,
                groups: t.lookalike_groups,
                closeness: t.closeness,
            })
        }
    };
    Ok(tail)
}

/// The alternative tails a report shows its conclusions under.
pub(super) fn check_report_tails(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    dim: usize,
    demographic_dim: usize,
) -> Result<(), ScenarioError> {
    for (i, a) in config.report.tails.iter().enumerate() {
        let field = |f: &str| format!("report.tails[{i}].{f}");
        if a.name.trim().is_empty() {
            return Err(c.err(field("name"), "is empty; name every tail"));
        }
        if a.model
            .as_deref()
            .is_some_and(|m| !BUNDLED.iter().any(|b| b.name == m))
        {
            return Err(c.err(
                field("model"),
                "must name a bundled scenario (see `falsematch scenarios`)",
            ));
        }
        if a.rho.is_some_and(|r| !(0.0..1.0).contains(&r))
            || a.noise.is_some_and(|n| !(0.0..1.0).contains(&n))
            || a.rho_concentration
                .is_some_and(|k| !(k > 0.0 && k.is_finite()))
            || a.effective_dimension
                .is_some_and(|d| d < 3 || d + demographic_dim > dim)
        {
            return Err(c.err(
                field("rho"),
                "rho and noise must be in [0, 1), rho_concentration > 0, effective_dimension within the embedding",
            ));
        }
    }
    Ok(())
}

/// The fewest look-alike groups a scenario may have (see the check of `tail.lookalike_groups`).
pub const MIN_LOOKALIKE_GROUPS: u64 = 1000;
