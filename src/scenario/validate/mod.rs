//! Range and consistency checks: [`ScenarioConfig`] -> [`Scenario`].
//!
//! Each check names the field by its path and states the allowed range. The limits keep every
//! later step inside its arithmetic guarantees (for example d <= 4096 keeps the exact int16
//! dot product inside i32, see `search`).

mod report;
mod thresholds;

use super::{
    Capture, CountDistribution, Group, IdentityClass, Scenario, ScenarioConfig, ScenarioError,
};
use crate::format::quoted;
use report::{check_analysis, check_published, check_report_tails, check_tail};
use thresholds::check_thresholds;
pub(super) use thresholds::raw_label;

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
    check_generator(&c, &config, &captures[gallery_capture], noise_dim)?;
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

/// `[search] generator`: 1, or 2 (screened) where its envelope holds: int16 scores, one
/// capture noise level for the whole gallery, and a noise block of at least 3 dimensions.
fn check_generator(
    c: &Checker<'_>,
    config: &ScenarioConfig,
    gallery: &Capture,
    noise_dim: usize,
) -> Result<(), ScenarioError> {
    let search = &config.search;
    match search.generator {
        1 => Ok(()),
        2 if search.precision != crate::quantize::Precision::Int16 => Err(c.err(
            "search.generator",
            "2 (screened) needs search.precision = \"int16\" (its bound on the quantized score is the int16 one)",
        )),
        2 if !gallery.is_fixed() => Err(c.err(
            "search.generator",
            format!(
                "2 (screened) needs one capture noise level for the gallery; captures.{}.noise_max is set (use generator 1)",
                gallery.name
            ),
        )),
        2 if noise_dim < 3 => Err(c.err(
            "search.generator",
            format!("2 (screened) needs a noise block of at least 3 dimensions, this scenario has {noise_dim}"),
        )),
        2 => Ok(()),
        g => Err(c.err("search.generator", format!("must be 1 or 2, got {g}"))),
    }
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
    if config.seed > MAX_SEED {
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
