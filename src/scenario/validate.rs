//! Range and consistency checks: [`ScenarioConfig`] -> [`Scenario`].
//!
//! Each check names the field by its path and states the allowed range. The limits keep every
//! later step inside its arithmetic guarantees (for example d <= 4096 keeps the exact int16
//! dot product inside i32, see `search`).

use super::{
    Capture, CountDistribution, Group, IdentityClass, PercentMapping, Scenario, ScenarioConfig,
    ScenarioError, Threshold,
};
use crate::format::quoted;

/// Largest embedding dimension (keeps the integer dot product exact in i32).
pub const MAX_DIMENSION: usize = 4096;

/// Largest seed: the largest TOML integer, 2^63 - 1.
pub const MAX_SEED: u64 = i64::MAX as u64;
/// Tolerance on shares summing to 1.
const SHARE_TOL: f64 = 1e-6;

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn range(
        &self,
        field: &str,
        value: f64,
        lo: f64,
        hi: f64,
        hi_open: bool,
    ) -> Result<(), ScenarioError> {
        let ok = value.is_finite() && value >= lo && if hi_open { value < hi } else { value <= hi };
        if ok {
            Ok(())
        } else {
            let close = if hi_open { ')' } else { ']' };
            Err(self.err(field, format!("must be in [{lo}, {hi}{close}, got {value}")))
        }
    }

    fn shares(&self, field: &str, shares: &[f64]) -> Result<Vec<f64>, ScenarioError> {
        let total: f64 = shares.iter().sum();
        if (total - 1.0).abs() > SHARE_TOL {
            return Err(self.err(field, format!("shares must sum to 1, they sum to {total}")));
        }
        let mut cumulative = Vec::with_capacity(shares.len());
        let mut acc = 0.0;
        for s in shares {
            acc += s;
            cumulative.push(acc);
        }
        Ok(cumulative)
    }
}

pub(super) fn validate(config: ScenarioConfig, file: &str) -> Result<Scenario, ScenarioError> {
    let c = Checker { file };
    check_top_level(&c, &config)?;
    let (offsets, demographic_dim) = check_attributes(&c, &config)?;
    let (dim, effective_dim, noise_dim) = check_embedding(&c, &config, demographic_dim)?;
    let (groups, gallery_group_cumulative, probe_group_cumulative) =
        check_groups(&c, &config, &offsets, demographic_dim)?;
    let (captures, gallery_capture, probe_capture) =
        check_captures(&c, &config, [demographic_dim, effective_dim, noise_dim])?;
    let (identity_classes, class_cumulative) = check_gallery(&c, &config)?;
    check_probes_and_search(&c, &config, &groups)?;
    let (thresholds, headline) = check_thresholds(&c, &config)?;
    check_published(&c, &config, &thresholds)?;
    check_analysis(&c, &config)?;
    let tail = check_tail(&c, &config, effective_dim)?;
    check_report_tails(&c, &config, dim, demographic_dim)?;
    Ok(Scenario {
        text_sha256: String::new(),
        tail,
        dim,
        demographic_dim,
        effective_dim,
        noise_dim,
        groups,
        captures,
        identity_classes,
        class_cumulative,
        gallery_group_cumulative,
        probe_group_cumulative,
        gallery_capture,
        probe_capture,
        thresholds,
        headline,
        config,
    })
}

/// The scenario's name, seed and replicates.
fn check_top_level(c: &Checker<'_>, config: &ScenarioConfig) -> Result<(), ScenarioError> {
    if config.name.trim().is_empty()
        || config.name.starts_with('.')
        || !config
            .name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
    {
        return Err(c.err(
            "name",
            "must be non-empty, use only letters, digits, '-', '_' and '.', and not start with '.' (it names the output folder)",
        ));
    }
    if config.seed > super::MAX_SEED {
        return Err(c.err(
            "seed",
            format!(
                "must be in [0, 2^63 - 1] (a TOML integer), got {}",
                config.seed
            ),
        ));
    }
    if !(1..=1000).contains(&config.replicates) {
        return Err(c.err(
            "replicates",
            format!("must be in [1, 1000], got {}", config.replicates),
        ));
    }
    Ok(())
}

/// The attributes; returns each one's offset in the demographic block and the block's size.
fn check_attributes(
    c: &Checker<'_>,
    config: &ScenarioConfig,
) -> Result<(Vec<usize>, usize), ScenarioError> {
    if config.attributes.is_empty() {
        return Err(c.err(
            "attributes",
            "needs at least one attribute (e.g. name = \"sex\", values = [\"female\", \"male\"])",
        ));
    }
    let mut offsets = Vec::new();
    let mut demographic_dim = 0;
    for (i, a) in config.attributes.iter().enumerate() {
        if a.values.is_empty() {
            return Err(c.err(
                format!("attributes[{i}].values"),
                "needs at least one value",
            ));
        }
        if let Some(j) = (0..a.values.len()).find(|&j| a.values[..j].contains(&a.values[j])) {
            return Err(c.err(
                format!("attributes[{i}].values[{j}]"),
                format!(
                    "{} is listed twice; give each value once",
                    quoted(&a.values[j])
                ),
            ));
        }
        if let Some(j) = a.values.iter().position(|v| v.trim().is_empty()) {
            return Err(c.err(
                format!("attributes[{i}].values[{j}]"),
                "is empty; give every value a name",
            ));
        }
        if config.attributes[..i].iter().any(|b| b.name == a.name) {
            return Err(c.err(
                format!("attributes[{i}].name"),
                format!("{} is defined twice", quoted(&a.name)),
            ));
        }
        if let Some(w) = &a.weights {
            if w.len() != a.values.len() {
                return Err(c.err(
                    format!("attributes[{i}].weights"),
                    format!(
                        "needs one weight per value ({}), got {}",
                        a.values.len(),
                        w.len()
                    ),
                ));
            }
            for (j, &x) in w.iter().enumerate() {
                if !(x.is_finite() && x > 0.0) {
                    return Err(c.err(
                        format!("attributes[{i}].weights[{j}]"),
                        format!("must be > 0, got {x}"),
                    ));
                }
            }
        }
        offsets.push(demographic_dim);
        demographic_dim += a.values.len();
    }
    Ok((offsets, demographic_dim))
}

/// The embedding's dimensions: d, d_eff and the capture-noise block's size.
fn check_embedding(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    demographic_dim: usize,
) -> Result<(usize, usize, usize), ScenarioError> {
    let dim = config.embedding.dimension;
    let effective_dim = config.embedding.effective_dimension;
    if !(2..=MAX_DIMENSION).contains(&dim) {
        return Err(c.err(
            "embedding.dimension",
            format!("must be in [2, {MAX_DIMENSION}], got {dim}"),
        ));
    }
    if effective_dim < 2 || effective_dim + demographic_dim > dim {
        return Err(c.err(
            "embedding.effective_dimension",
            format!("must be in [2, dimension - {demographic_dim} demographic dims = {}], got {effective_dim}", dim.saturating_sub(demographic_dim)),
        ));
    }
    let noise_dim = dim - demographic_dim - effective_dim;
    Ok((dim, effective_dim, noise_dim))
}

/// The groups with their unit demographic directions, and the cumulative gallery and probe
/// shares.
#[allow(clippy::type_complexity)]
fn check_groups(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    offsets: &[usize],
    demographic_dim: usize,
) -> Result<(Vec<Group>, Vec<f64>, Vec<f64>), ScenarioError> {
    if config.groups.is_empty() || config.groups.len() > 1024 {
        return Err(c.err(
            "groups",
            format!("needs 1 to 1024 groups, got {}", config.groups.len()),
        ));
    }
    let mut groups = Vec::new();
    for (i, g) in config.groups.iter().enumerate() {
        let field = |f: &str| format!("groups[{i}].{f}");
        if g.name.trim().is_empty() {
            return Err(c.err(field("name"), "is empty; give every group a name"));
        }
        if let Some(h) = config.groups[..i]
            .iter()
            .position(|h| h.attributes == g.attributes)
        {
            return Err(c.err(
                field("attributes"),
                format!(
                    "are those of groups[{h}] ({}); two groups need different attribute values",
                    quoted(&config.groups[h].name)
                ),
            ));
        }
        if config.groups[..i].iter().any(|h| h.name == g.name) {
            return Err(c.err(
                field("name"),
                format!("{} is used by another group", quoted(&g.name)),
            ));
        }
        let mut direction = vec![0.0; demographic_dim];
        for name in g.attributes.keys() {
            if !config.attributes.iter().any(|a| &a.name == name) {
                return Err(c.err(
                    field("attributes"),
                    format!(
                        "unknown attribute {}; attributes are: {}",
                        quoted(name),
                        config
                            .attributes
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        for (a, attr) in config.attributes.iter().enumerate() {
            let Some(value) = g.attributes.get(&attr.name) else {
                return Err(c.err(
                    field("attributes"),
                    format!("gives no value for attribute {}", quoted(&attr.name)),
                ));
            };
            let Some(j) = attr.values.iter().position(|v| v == value) else {
                return Err(c.err(
                    field(&format!("attributes.{}", attr.name)),
                    format!(
                        "{} is not one of: {}",
                        quoted(value),
                        attr.values.join(", ")
                    ),
                ));
            };
            direction[offsets[a] + j] = attr.weights.as_ref().map_or(1.0, |w| w[j]);
        }
        let norm = direction.iter().map(|x| x * x).sum::<f64>().sqrt();
        direction.iter_mut().for_each(|x| *x /= norm);
        c.range(&field("gallery_share"), g.gallery_share, 0.0, 1.0, false)?;
        c.range(&field("probe_share"), g.probe_share, 0.0, 1.0, false)?;
        c.range(&field("rho"), g.rho, 0.0, 1.0, true)?;
        if let Some(k) = g.rho_concentration {
            if !(k.is_finite() && k > 0.0) {
                return Err(c.err(field("rho_concentration"), format!("must be > 0, got {k}")));
            }
            if g.rho == 0.0 {
                return Err(c.err(
                    field("rho_concentration"),
                    "needs rho > 0 (rho varies around its mean rho)",
                ));
            }
        }
        groups.push(Group {
            name: g.name.clone(),
            direction,
            gallery_share: g.gallery_share,
            probe_share: g.probe_share,
            rho: g.rho,
            rho_concentration: g.rho_concentration,
        });
    }
    let gallery_group_cumulative = c.shares(
        "groups[*].gallery_share",
        &groups.iter().map(|g| g.gallery_share).collect::<Vec<_>>(),
    )?;
    let probe_group_cumulative = c.shares(
        "groups[*].probe_share",
        &groups.iter().map(|g| g.probe_share).collect::<Vec<_>>(),
    )?;
    Ok((groups, gallery_group_cumulative, probe_group_cumulative))
}

/// The capture conditions, and which of them the gallery and the probes use.
fn check_captures(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    [demographic_dim, effective_dim, noise_dim]: [usize; 3],
) -> Result<(Vec<Capture>, usize, usize), ScenarioError> {
    if config.captures.is_empty() {
        return Err(c.err(
            "captures",
            "needs at least one capture condition, e.g. [captures.cctv] noise = 0.6",
        ));
    }
    let mut captures = Vec::new();
    for (name, cap) in &config.captures {
        c.range(&format!("captures.{name}.noise"), cap.noise, 0.0, 1.0, true)?;
        let noise_max = cap.noise_max.unwrap_or(cap.noise);
        c.range(
            &format!("captures.{name}.noise_max"),
            noise_max,
            cap.noise,
            1.0,
            true,
        )?;
        captures.push(Capture {
            name: name.clone(),
            noise_min: cap.noise,
            noise_max,
        });
    }
    let capture_index = |field: &str, name: &str| {
        captures
            .iter()
            .position(|cap| cap.name == name)
            .ok_or_else(|| {
                c.err(
                    field,
                    format!(
                        "{} is not a capture condition; defined: {}",
                        quoted(name),
                        captures
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    };
    let gallery_capture = capture_index("gallery.capture", &config.gallery.capture)?;
    let probe_capture = capture_index("probes.capture", &config.probes.capture)?;
    let noisy = [gallery_capture, probe_capture]
        .iter()
        .any(|&i| captures[i].noise_max > 0.0);
    if noisy && noise_dim < 2 {
        return Err(c.err("embedding.dimension", format!("leaves {noise_dim} dims for capture noise; with noise > 0 it must be at least demographic dims ({demographic_dim}) + effective_dimension ({effective_dim}) + 2")));
    }
    Ok((captures, gallery_capture, probe_capture))
}

/// The gallery's size and identity classes, with the classes' cumulative shares.
fn check_gallery(
    c: &Checker<'_>,
    config: &ScenarioConfig,
) -> Result<(Vec<IdentityClass>, Vec<f64>), ScenarioError> {
    let gallery = &config.gallery;
    if !(1..=1_000_000_000_000).contains(&gallery.detections) {
        return Err(c.err(
            "gallery.detections",
            format!("must be in [1, 1e12], got {}", gallery.detections),
        ));
    }
    if gallery.identity_classes.is_empty() {
        return Err(c.err("gallery.identity_classes", "needs at least one class"));
    }
    let mut identity_classes = Vec::new();
    for (i, class) in gallery.identity_classes.iter().enumerate() {
        let field = |f: &str| format!("gallery.identity_classes[{i}].{f}");
        c.range(&field("share"), class.share, 0.0, 1.0, false)?;
        c.range(
            &field("mean_detections"),
            class.mean_detections,
            1.0,
            100_000.0,
            false,
        )?;
        if class.distribution == CountDistribution::Fixed && class.mean_detections.fract() != 0.0 {
            return Err(c.err(
                field("mean_detections"),
                format!(
                    "must be a whole number with distribution = \"fixed\", got {}",
                    class.mean_detections
                ),
            ));
        }
        identity_classes.push(IdentityClass {
            label: class.label.clone(),
            mean_detections: class.mean_detections,
            distribution: class.distribution,
        });
    }
    let class_cumulative = c.shares(
        "gallery.identity_classes[*].share",
        &gallery
            .identity_classes
            .iter()
            .map(|k| k.share)
            .collect::<Vec<_>>(),
    )?;
    Ok((identity_classes, class_cumulative))
}

/// The probes (mated ones need enrolled identities of their group) and the candidate list.
fn check_probes_and_search(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    groups: &[Group],
) -> Result<(), ScenarioError> {
    let probes = &config.probes;
    let n_probes = u64::from(probes.mated) + u64::from(probes.non_mated);
    if n_probes == 0 || n_probes > 1_000_000 {
        return Err(c.err(
            "probes",
            format!("mated + non_mated must be in [1, 1000000], got {n_probes}"),
        ));
    }
    if probes.mated > 0 {
        for (i, g) in groups.iter().enumerate() {
            if g.probe_share > 0.0 && g.gallery_share == 0.0 {
                return Err(c.err(format!("groups[{i}].gallery_share"), "is 0 but the group has mated probes (probe_share > 0): a mated probe needs enrolled identities of its group"));
            }
        }
    }

    // Search.
    let k = config.search.candidate_list_length;
    if !(1..=1000).contains(&k) {
        return Err(c.err(
            "search.candidate_list_length",
            format!("must be in [1, 1000], got {k}"),
        ));
    }
    Ok(())
}

/// The thresholds (raw, and percent through each mapping), ascending, and the headline's index.
fn check_thresholds(
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
                origin: format!("{percent} % via {}", mapping.formula()),
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

/// The published figures a report compares with.
fn check_published(
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
fn check_analysis(c: &Checker<'_>, config: &ScenarioConfig) -> Result<(), ScenarioError> {
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
fn check_tail(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    effective_dim: usize,
) -> Result<Option<super::Tail>, ScenarioError> {
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
            Some(super::Tail {
                share: t.lookalike_share,
                groups: t.lookalike_groups,
                closeness: t.closeness,
            })
        }
    };
    Ok(tail)
}

/// The alternative tails a report shows its conclusions under.
fn check_report_tails(
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
            .is_some_and(|m| !super::BUNDLED.iter().any(|b| b.name == m))
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

/// Label of a raw threshold: two decimals when they are exact ("0.50"), else the shortest
/// exact form ("0.301"), so distinct thresholds never share a label.
pub(super) fn raw_label(score: f64) -> String {
    let two = format!("{score:.2}");
    if two.parse::<f64>() == Ok(score) {
        two
    } else {
        format!("{score}")
    }
}
