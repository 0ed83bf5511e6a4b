//! Inverse inference: from an observed count of false candidates back to the per-comparison
//! false match rate that can have produced it, and forward again to other galleries; and, under
//! a scenario's model, which share of false candidates is of the other sex.
//!
//! ```text
//! k false candidates in S searches of an archive of N entries, comparisons independent:
//!     k ~ Poisson(S N FMR)          exact interval for the mean: [G^-1(a/2; k), G^-1(1-a/2; k+1)]
//!     FMR in [G^-1(a/2; k) / (S N_max),  G^-1(1-a/2; k+1) / (S N_min)]     (N in [N_min, N_max])
//! elsewhere, a gallery of M entries:  false candidates per search = FMR M,  FPIR = 1 - e^(-FMR M)
//! watchlist of W people, P passers-by a day:  false alerts a day = P (1 - (1 - FMR)^W)
//! other-sex share for a probe of group g:  sum_{h other sex} N_h FMR_gh(T) / sum_h N_h FMR_gh(T)
//!
//! overdispersed (the honest default): one search's false candidates are not Poisson: one
//! look-alike seen 20 times brings 20 detections. Under a scenario's model, at the threshold T
//! where one search of an archive of N entries expects k/S of them, their variance is D times
//! their mean (D from the closed form of `closed_form::search_count_law`), and the total of S
//! searches is negative binomial with mean S mu and variance D S mu:
//!     P(K <= k) = I_{1/D}(S mu / (D - 1), k + 1)     solved for mu at a/2 and 1 - a/2
//! ```

use crate::closed_form::{pair_model, search_count_law};
use crate::estimate::interval::poisson_exact;
use crate::scenario::Scenario;
use serde::Serialize;

/// The false match rates consistent with an observation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FmrInterval {
    /// Observed false candidates.
    pub candidates: u64,
    /// Searches they came from.
    pub searches: u64,
    /// Smallest and largest archive size considered.
    pub archive: (f64, f64),
    /// Confidence level.
    pub level: f64,
    /// k / (S N_max): the point estimate at the largest archive.
    pub point_low: f64,
    /// k / (S N_min): the point estimate at the smallest archive.
    pub point_high: f64,
    /// Lower end of the interval (the largest archive, the exact Poisson lower bound).
    pub lower: f64,
    /// Upper end (the smallest archive, the exact Poisson upper bound).
    pub upper: f64,
}

/// The interval of per-comparison FMR consistent with `candidates` false candidates in
/// `searches` searches of an archive of between `archive.0` and `archive.1` entries.
pub fn fmr_interval(
    candidates: u64,
    searches: u64,
    archive: (f64, f64),
    level: f64,
) -> FmrInterval {
    let b = poisson_exact(candidates, 1, level);
    let s = searches as f64;
    FmrInterval {
        candidates,
        searches,
        archive,
        level,
        point_low: candidates as f64 / (s * archive.1),
        point_high: candidates as f64 / (s * archive.0),
        lower: b.lower / (s * archive.1),
        upper: b.upper / (s * archive.0),
    }
}

/// The interval at one end of the archive range under a scenario's dispersion.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DispersedEnd {
    /// Archive entries N.
    pub entries: f64,
    /// The threshold at which one search of N entries expects the observed count per search.
    pub threshold: f64,
    /// Variance over mean of one search's false candidates there.
    pub dispersion: f64,
    /// Negative binomial interval of the per-search mean.
    pub mean_lower: f64,
    /// Upper end.
    pub mean_upper: f64,
}

/// The false match rates consistent with an observation when one search's false candidates
/// are as dispersed as a scenario's model makes them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DispersedInterval {
    /// The scenario whose model gives the dispersion.
    pub scenario: String,
    /// The probe group.
    pub probe_group: String,
    /// At the smallest and the largest archive.
    pub ends: Vec<DispersedEnd>,
    /// Lower end of the FMR interval (the largest archive).
    pub lower: f64,
    /// Upper end (the smallest archive).
    pub upper: f64,
}

/// The exact interval of the per-search mean mu from `k` events in `searches` searches whose
/// total is negative binomial with variance `dispersion` times its mean (Poisson when the
/// dispersion is 1).
pub fn negative_binomial_mean(k: u64, searches: u64, dispersion: f64, level: f64) -> (f64, f64) {
    let s = searches as f64;
    if dispersion <= 1.0 + 1e-9 {
        let b = poisson_exact(k, searches, level);
        return (b.lower, b.upper);
    }
    let alpha = 1.0 - level;
    let p = 1.0 / dispersion;
    let kf = k as f64;
    // P(K <= k | mu) and P(K >= k | mu), with r = S mu / (D - 1).
    let at_most = |mu: f64| crate::special::beta_inc(s * mu / (dispersion - 1.0), kf + 1.0, p).0;
    let at_least = |mu: f64| {
        if k == 0 {
            1.0
        } else {
            crate::special::beta_inc(kf, s * mu / (dispersion - 1.0), 1.0 - p).0
        }
    };
    // Bisection on ln mu; P(K <= k) falls and P(K >= k) rises as mu grows.
    let solve = |f: &dyn Fn(f64) -> f64, target: f64, rising: bool| {
        libm::exp(crate::special::bisect(-40.0, 40.0, 200, |ln_mu| {
            (f(libm::exp(ln_mu)) < target) == rising
        }))
    };
    let upper = solve(&at_most, alpha / 2.0, false);
    let lower = if k == 0 {
        0.0
    } else {
        solve(&at_least, alpha / 2.0, true)
    };
    (lower, upper)
}

/// The FMR interval of `interval`'s observation under the dispersion of one search's false
/// candidates in `scenario`'s model, for a probe of group `probe_group`.
pub fn dispersed_interval(
    interval: &FmrInterval,
    scenario: &Scenario,
    probe_group: usize,
) -> DispersedInterval {
    let per_search = (interval.candidates as f64).max(0.5) / interval.searches as f64;
    let ends: Vec<DispersedEnd> = [interval.archive.0, interval.archive.1]
        .iter()
        .map(|&n| {
            // The threshold at which one search expects the observed count (mean falls with T).
            let threshold = crate::special::bisect(-1.0, 1.0, 40, |t| {
                search_count_law(scenario, probe_group, n, t).0 > per_search
            });
            let (mean, var) = search_count_law(scenario, probe_group, n, threshold);
            let dispersion = if mean > 0.0 {
                (var / mean).max(1.0)
            } else {
                1.0
            };
            let (mean_lower, mean_upper) = negative_binomial_mean(
                interval.candidates,
                interval.searches,
                dispersion,
                interval.level,
            );
            DispersedEnd {
                entries: n,
                threshold,
                dispersion,
                mean_lower,
                mean_upper,
            }
        })
        .collect();
    DispersedInterval {
        scenario: scenario.config().name.clone(),
        probe_group: scenario.groups()[probe_group].name.clone(),
        lower: ends[1].mean_lower / ends[1].entries,
        upper: ends[0].mean_upper / ends[0].entries,
        ends,
    }
}

/// What a rate implies for a gallery of `entries` entries searched once.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Elsewhere {
    /// Name of the gallery.
    pub name: String,
    /// Entries M.
    pub entries: f64,
    /// Expected false candidates per search, at the interval's ends.
    pub false_candidates: (f64, f64),
    /// FPIR = 1 - exp(-FMR M), at the interval's ends.
    pub fpir: (f64, f64),
}

/// The interval carried to a gallery of `entries` entries.
pub fn elsewhere(interval: &FmrInterval, name: &str, entries: f64) -> Elsewhere {
    let fpir = |fmr: f64| -libm::expm1(-fmr * entries);
    Elsewhere {
        name: name.into(),
        entries,
        false_candidates: (interval.lower * entries, interval.upper * entries),
        fpir: (fpir(interval.lower), fpir(interval.upper)),
    }
}

/// A live watchlist: false alerts a day at the interval's ends.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Watchlist {
    /// People on the watchlist W.
    pub size: f64,
    /// Passers-by (faces captured) a day P.
    pub passers_per_day: f64,
    /// False alerts a day, P (1 - (1 - FMR)^W), at the interval's ends.
    pub false_alerts_per_day: (f64, f64),
}

/// The interval carried to a watchlist of `size` people and `passers_per_day` faces a day.
pub fn watchlist(interval: &FmrInterval, size: f64, passers_per_day: f64) -> Watchlist {
    let alerts = |fmr: f64| passers_per_day * -libm::expm1(size * libm::log1p(-fmr));
    Watchlist {
        size,
        passers_per_day,
        false_alerts_per_day: (alerts(interval.lower), alerts(interval.upper)),
    }
}

/// The share of a probe's expected false candidates that fall on groups whose `attribute`
/// differs from the probe group's, at `threshold`, with both captures at noise `noise`
/// (None: the scenario's). Gallery groups weigh by their gallery share. None when the probe
/// group has no such attribute or no false candidate is expected.
pub fn other_share(
    scenario: &Scenario,
    probe_group: usize,
    attribute: &str,
    threshold: f64,
    noise: Option<f64>,
) -> Option<f64> {
    let value = |g: usize| scenario.config().groups[g].attributes.get(attribute);
    let own = value(probe_group)?;
    let (mut other, mut all) = (0.0, 0.0);
    for h in 0..scenario.n_groups() {
        let mut m = pair_model(scenario, probe_group, h);
        if let Some(s) = noise {
            m.noise_a = s;
            m.noise_b = s;
        }
        let expected = scenario.groups()[h].gallery_share * m.fmr(threshold);
        all += expected;
        if value(h) != Some(own) {
            other += expected;
        }
    }
    (all > 0.0).then(|| other / all)
}

/// What `infer` is asked.
#[derive(Clone, Debug, PartialEq)]
pub struct InferRequest {
    /// Observed false candidates.
    pub candidates: u64,
    /// Searches they came from.
    pub searches: u64,
    /// The archive size, smallest and largest (detections).
    pub archive: (f64, f64),
    /// Confidence level, in (0.5, 1).
    pub confidence_level: f64,
    /// Other galleries (name, detections) to carry the rate to.
    pub galleries: Vec<(String, f64)>,
    /// A watchlist (people, faces passing a day) to carry the rate to.
    pub watchlist: Option<(f64, f64)>,
    /// The probe group of the model (None: the first group with probes).
    pub probe_group: Option<String>,
    /// Compute other-attribute shares under the model (the scenario was given explicitly).
    pub shares: bool,
    /// The attribute whose other values the shares count.
    pub attribute: String,
    /// Thresholds of the share table.
    pub thresholds: Vec<f64>,
    /// Capture noises of the share table (empty: 0.3, the scenario's and 0.75).
    pub noise: Vec<f64>,
}

/// One cell of the other-attribute share table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShareCell {
    /// Score threshold.
    pub threshold: f64,
    /// Capture noise of gallery and probes.
    pub noise: f64,
    /// Share of the expected false candidates of another attribute value (None: none
    /// expected).
    pub share: Option<f64>,
}

/// The other-attribute share table under the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Shares {
    /// The probe group.
    pub probe_group: String,
    /// The attribute and the probe group's value of it.
    pub attribute: String,
    /// The probe group's value of `attribute`.
    pub own: String,
    /// Capture noises (columns).
    pub noise: Vec<f64>,
    /// Thresholds (rows).
    pub thresholds: Vec<f64>,
    /// Cells, row by row.
    pub cells: Vec<ShareCell>,
}

/// Everything `infer` concludes from one observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Inference {
    /// The question.
    pub request: InferRequest,
    /// The model's scenario name.
    pub model: String,
    /// Exact Poisson interval (comparisons independent).
    pub fmr: FmrInterval,
    /// Negative binomial interval under the model's dispersion (the default).
    pub dispersed: DispersedInterval,
    /// Exact Poisson interval of the per-search mean.
    pub poisson_mean: (f64, f64),
    /// Carried to other galleries (with the dispersed interval).
    pub elsewhere: Vec<Elsewhere>,
    /// Carried to a watchlist.
    pub watchlist: Option<Watchlist>,
    /// Other-attribute shares, when asked.
    pub shares: Option<Shares>,
}

/// How `infer` describes its model in its JSON output.
pub const INFER_MODEL: &str = "fmr: k ~ Poisson(searches x archive x FMR), comparisons independent; fmr_dispersed (the default, used below): k ~ negative binomial with the variance over mean of one search's count under the scenario's model at the threshold where it expects k per search; elsewhere: FMR x M false candidates per search, FPIR 1 - exp(-FMR M); watchlist: passers x (1 - (1 - FMR)^W) alerts a day";

/// Why an inference cannot be made (the option named, and what is allowed).
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// An option is out of range or names nothing in the model.
    #[error("{option}: {message}")]
    Option {
        /// The option, as on the command line.
        option: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// Infers the FMR behind `request`'s observation under `model` (a scenario named
/// `model_name`), and carries it to other galleries, a watchlist and, when asked, the
/// other-attribute shares.
///
/// # Errors
/// [`InferError`] when the confidence level or a noise is out of range, or the probe group
/// or attribute is not in the model.
pub fn infer(
    request: &InferRequest,
    model: &Scenario,
    model_name: &str,
) -> Result<Inference, InferError> {
    let bad = |option, message: String| InferError::Option { option, message };
    let level = request.confidence_level;
    if !(level > 0.5 && level < 1.0) {
        return Err(bad(
            "--confidence-level",
            format!("{level} must be in (0.5, 1)"),
        ));
    }
    let fmr = fmr_interval(request.candidates, request.searches, request.archive, level);
    let g = match &request.probe_group {
        Some(pg) => model
            .groups()
            .iter()
            .position(|g| &g.name == pg)
            .ok_or_else(|| {
                bad(
                    "--probe-group",
                    format!("no group {} in {model_name}", crate::format::quoted(pg)),
                )
            })?,
        None => model
            .groups()
            .iter()
            .position(|g| g.probe_share > 0.0)
            .unwrap_or(0),
    };
    let dispersed = dispersed_interval(&fmr, model, g);
    let poisson = poisson_exact(request.candidates, request.searches, level);
    // Carried elsewhere with the honest interval.
    let honest = FmrInterval {
        lower: dispersed.lower,
        upper: dispersed.upper,
        ..fmr.clone()
    };
    let elsewhere = request
        .galleries
        .iter()
        .map(|(name, n)| self::elsewhere(&honest, name, *n))
        .collect();
    let watchlist = request
        .watchlist
        .map(|(w, p)| self::watchlist(&honest, w, p));
    let shares = if request.shares {
        Some(shares(request, model, model_name, g)?)
    } else {
        None
    };
    Ok(Inference {
        request: request.clone(),
        model: model_name.to_string(),
        fmr,
        dispersed,
        poisson_mean: (poisson.lower, poisson.upper),
        elsewhere,
        watchlist,
        shares,
    })
}

/// The other-attribute share table for probe group `g`.
fn shares(
    request: &InferRequest,
    model: &Scenario,
    model_name: &str,
    g: usize,
) -> Result<Shares, InferError> {
    let own = model.config().groups[g]
        .attributes
        .get(&request.attribute)
        .ok_or_else(|| InferError::Option {
            option: "--attribute",
            message: format!(
                "group `{}` of {model_name} has no attribute `{}`",
                model.groups()[g].name,
                request.attribute
            ),
        })?
        .clone();
    let base = model.captures()[model.gallery_capture()].noise_min;
    let noise: Vec<f64> = if request.noise.is_empty() {
        let mut n = vec![0.3, base, 0.75];
        n.sort_by(f64::total_cmp);
        n.dedup();
        n
    } else {
        request.noise.clone()
    };
    if let Some(s) = noise.iter().find(|s| !(0.0..1.0).contains(*s)) {
        return Err(InferError::Option {
            option: "--noise",
            message: format!("{s} must be in [0, 1)"),
        });
    }
    let cells = request
        .thresholds
        .iter()
        .flat_map(|&t| noise.iter().map(move |&s| (t, s)))
        .map(|(threshold, s)| ShareCell {
            threshold,
            noise: s,
            share: other_share(model, g, &request.attribute, threshold, Some(s)),
        })
        .collect();
    Ok(Shares {
        probe_group: model.groups()[g].name.clone(),
        attribute: request.attribute.clone(),
        own,
        noise,
        thresholds: request.thresholds.clone(),
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journalists_238_candidates() {
        // Reference: scipy.stats.chi2.ppf(0.025, 476) / 2 = 208.7211519342406 and
        // chi2.ppf(0.975, 478) / 2 = 270.2360615167453 (the exact Poisson interval for 238).
        let i = fmr_interval(238, 1, (1e6, 4e6), 0.95);
        assert!(
            (i.lower * 4e6 / 208.7211519342406 - 1.0).abs() < 1e-9,
            "{i:?}"
        );
        assert!(
            (i.upper * 1e6 / 270.2360615167453 - 1.0).abs() < 1e-9,
            "{i:?}"
        );
        assert_eq!(i.point_high, 238e-6);
        assert_eq!(i.point_low, 238.0 / 4e6);
        let e = elsewhere(&i, "city", 1e9);
        assert!((e.false_candidates.1 - i.upper * 1e9).abs() < 1e-6);
        assert!(e.fpir.0 > 0.999_999 && e.fpir.1 <= 1.0);
        // Zero observed: the upper bound is -ln(0.025) = 3.6888794541139354 (chi2.ppf(0.975, 2)/2).
        let z = fmr_interval(0, 10, (1e3, 1e3), 0.95);
        assert_eq!(z.lower, 0.0);
        assert!((z.upper * 1e4 / 3.6888794541139354 - 1.0).abs() < 1e-9);
        let w = watchlist(&z, 1000.0, 1e5);
        let expect = 1e5 * (1.0 - (1.0 - z.upper).powf(1000.0));
        assert!((w.false_alerts_per_day.1 / expect - 1.0).abs() < 1e-9);
    }

    #[test]
    fn other_sex_share_weighs_groups_by_gallery_share_and_fmr() {
        let text = r#"
name = "two"
[embedding]
dimension = 64
effective_dimension = 12
[[attributes]]
name = "sex"
values = ["female", "male"]
[[groups]]
name = "women"
attributes = { sex = "female" }
gallery_share = 0.5
probe_share = 0.0
rho = 0.3
[[groups]]
name = "men"
attributes = { sex = "male" }
gallery_share = 0.5
probe_share = 1.0
rho = 0.1
[captures.cctv]
noise = 0.3
[gallery]
detections = 100
capture = "cctv"
[probes]
mated = 0
non_mated = 1
capture = "cctv"
[thresholds]
raw = [0.4]
"#;
        let s = Scenario::from_toml(text, "two.toml").unwrap();
        let share = other_share(&s, 1, "sex", 0.4, None).unwrap();
        let f = |h| pair_model(&s, 1, h).fmr(0.4);
        assert!((share - f(0) / (f(0) + f(1))).abs() < 1e-12);
        // Orthogonal group directions: at a high threshold, cross-sex pairs lose more.
        assert!(other_share(&s, 1, "sex", 0.6, None).unwrap() < share);
        assert!(other_share(&s, 1, "age", 0.4, None).is_none());
    }
}
