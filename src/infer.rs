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
//! ```

use crate::estimate::interval::poisson_exact;
use crate::estimate::pair_model;
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
    let value = |g: usize| scenario.config.groups[g].attributes.get(attribute);
    let own = value(probe_group)?;
    let (mut other, mut all) = (0.0, 0.0);
    for h in 0..scenario.n_groups() {
        let mut m = pair_model(scenario, probe_group, h);
        if let Some(s) = noise {
            m.noise_a = s;
            m.noise_b = s;
        }
        let expected = scenario.groups[h].gallery_share * m.fmr(threshold);
        all += expected;
        if value(h) != Some(own) {
            other += expected;
        }
    }
    (all > 0.0).then(|| other / all)
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
