//! The simulation beside the closed forms of the model, with a verdict that can fail.
//!
//! The closed forms ([`crate::closed_form::search`]) are exact for any per-identity rho,
//! per-capture noise and number of detections per identity, given the gallery's realized
//! entries and identity sizes; so every run is checked. Each row compares an observed count
//! with its closed-form expectation under the variance the model implies for it (detections
//! of one identity match together: Y_i ~ Binomial(m_i, q(c)) given the template cosine c), or
//! the data's two-way cluster variance around the closed-form rates ([`super::cluster`]) if
//! that is larger (it also sees per-identity rho):
//!
//! ```text
//! FMR (g, h, T):   events ~ effective Binomial(n/D, p0) of the n = n_g N_h comparisons
//! SEL, people:     count  ~ effective Poisson(E0/D)                D = design effect >= 1
//! FPIR:            searches with a candidate ~ Binomial(n_g, FPIR0) (searches independent)
//! p = two-sided exact tail probability;  z = sign(observed - expected) Phi^-1(1 - p/2)
//! verdict: agrees when max |z| <= Phi^-1(1 - (1 - 0.95^(1/m))/2)  (Sidak, m rows tested)
//! ```
//!
//! With that bound, a correct simulation is called "disagrees" in 5 % of runs at most, and a
//! bias of a few standard errors in any one row fails the check.

use super::cluster::{Clustering, Unit, design_effect};
use super::{ProbeRecord, ReplicateOutcome};
use crate::closed_form::pair_law;

use crate::closed_form::search::{ProbeNode, search_count_moments, search_expectations};
use crate::scenario::Scenario;
use crate::special::{beta_inc, gamma_inc, normal_quantile};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One comparison of a simulated count with its closed form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosedFormRow {
    /// `fmr` (per comparison), `fpir`, `sel` (detections per search) or `sel_people`.
    pub metric: String,
    /// Threshold label.
    pub threshold: String,
    /// Probe group.
    pub probe_group: String,
    /// Gallery group (FMR rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gallery_group: Option<String>,
    /// The closed-form value of the metric.
    pub closed_form: f64,
    /// The simulated value.
    pub simulated: f64,
    /// The observed count behind it (events, candidates or searches with a candidate).
    pub observed: u64,
    /// Its closed-form expectation.
    pub expected: f64,
    /// The design effect its test allows for (1: none).
    pub design_effect: f64,
    /// Two-sided exact p-value.
    pub p_value: f64,
    /// The p-value as a signed standard normal deviate.
    pub z: f64,
}

/// What the check concludes, in numbers and in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// True when no row differs by more than chance allows over all rows tested.
    pub agrees: bool,
    /// Rows tested (rows that could show a difference).
    pub rows_tested: usize,
    /// Simulated comparisons behind the FMR rows.
    pub comparisons: u64,
    /// The largest |z|.
    pub largest_abs_z: f64,
    /// The |z| that chance exceeds in 5 % of runs over that many rows (Sidak).
    pub critical_abs_z: f64,
    /// The largest |z| chance gives in half of the runs (its median).
    pub typical_largest_abs_z: f64,
    /// The verdict in a sentence.
    pub text: String,
}

/// The closed-form comparison of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosedFormCheck {
    /// What was compared and how.
    pub note: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Every row, by threshold, probe group, metric.
    pub rows: Vec<ClosedFormRow>,
}

/// The |z| that the largest of `m` independent standard normal |z| exceeds with probability
/// `alpha`.
fn sidak(m: usize, alpha: f64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let per_row = 1.0 - (1.0 - alpha).powf(1.0 / m as f64);
    normal_quantile(1.0 - per_row / 2.0)
}

/// A two-sided p-value as a signed z.
fn z_of(p: f64, above: bool) -> f64 {
    let z = normal_quantile(1.0 - (p / 2.0).max(1e-300)).clamp(0.0, 38.0);
    if above { z } else { -z }
}

/// Two-sided exact p of observing `k` (effective, real) events of `n` (effective) trials at
/// rate `p`.
fn binomial_p(k: f64, n: f64, p: f64) -> f64 {
    if p <= 0.0 {
        return if k > 0.0 { 0.0 } else { 1.0 };
    }
    if p >= 1.0 {
        return if k < n { 0.0 } else { 1.0 };
    }
    // P(X >= k) = I_p(k, n - k + 1);  P(X <= k) = 1 - I_p(k + 1, n - k).
    let upper = if k <= 0.0 {
        1.0
    } else {
        beta_inc(k, (n - k + 1.0).max(1e-9), p).0
    };
    let lower = if k >= n {
        1.0
    } else {
        beta_inc(k + 1.0, (n - k).max(1e-9), p).1
    };
    (2.0 * upper.min(lower)).min(1.0)
}

/// Two-sided exact p of observing `k` (effective, real) events with Poisson mean `mean`.
fn poisson_p(k: f64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return if k > 0.0 { 0.0 } else { 1.0 };
    }
    // P(X >= k) = P(k, mean) (lower regularized gamma); P(X <= k) = Q(k + 1, mean).
    let upper = if k <= 0.0 { 1.0 } else { gamma_inc(k, mean).0 };
    let lower = gamma_inc(k + 1.0, mean).1;
    (2.0 * upper.min(lower)).min(1.0)
}

/// Per (probe group, threshold): per gallery group, the probe nodes (FMR and hit probabilities
/// for the identity sizes in `sizes[h]`).
type Nodes = Vec<Vec<ProbeNode>>;

/// Compares the simulated FMR, FPIR, SEL and distinct people with the closed forms.
pub fn closed_form_check(
    scenario: &Scenario,
    outcomes: &[ReplicateOutcome],
    records: &[ProbeRecord],
    clustering: &Clustering<'_>,
) -> ClosedFormCheck {
    let n_g = scenario.n_groups();
    let n_t = scenario.thresholds().len();
    // Identity sizes present in any replicate, per gallery group.
    let sizes: Vec<Vec<u64>> = (0..n_g)
        .map(|h| {
            let mut s: Vec<u64> = outcomes
                .iter()
                .flat_map(|o| o.tally.clusters.sizes[h].keys().copied())
                .collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let probe_groups: Vec<usize> = (0..n_g)
        .filter(|&g| {
            records
                .iter()
                .any(|r| r.mate.is_none() && r.group as usize == g)
        })
        .collect();
    // The closed forms: one integral family per (probe group, threshold, gallery group).
    let jobs: Vec<(usize, usize, usize)> = probe_groups
        .iter()
        .flat_map(|&g| (0..n_t).flat_map(move |t| (0..n_g).map(move |h| (g, t, h))))
        .collect();
    let computed: Vec<Vec<ProbeNode>> = jobs
        .par_iter()
        .map(|&(g, t, h)| {
            pair_law(scenario, g, h).per_probe(scenario.thresholds()[t].score, &sizes[h])
        })
        .collect();
    let nodes_of = |g: usize, t: usize| -> Nodes {
        (0..n_g)
            .map(|h| {
                let at = jobs.iter().position(|&j| j == (g, t, h)).expect("computed");
                computed[at].clone()
            })
            .collect()
    };
    let mut rows = Vec::new();
    let mut comparisons = 0u64;
    let ctx = Context {
        scenario,
        outcomes,
        records,
        clustering,
        sizes: &sizes,
    };
    for &g in &probe_groups {
        for t in 0..n_t {
            let nodes = nodes_of(g, t);
            let fmr0: Vec<f64> = nodes
                .iter()
                .map(|n| n.iter().map(|k| k.weight * k.fmr).sum())
                .collect();
            let mut rate0 = vec![vec![0.0; n_g]; n_g];
            rate0[g] = fmr0.clone();
            let at = At {
                g,
                t,
                nodes: &nodes,
                rate0: &rate0,
                label: &scenario.thresholds()[t].label,
                group: &scenario.groups()[g].name,
            };
            fmr_rows(&ctx, &at, &mut rows, &mut comparisons);
            search_rows(&ctx, &at, &mut rows);
        }
    }
    let verdict = verdict(&rows, comparisons);
    ClosedFormCheck {
        note: "closed forms of the model (datasets/MODEL.md section 4) given each replicate's realized gallery: exact for fixed or Beta-distributed rho, fixed or uniform capture noise, and any number of detections per identity; each row is an exact two-sided test whose variance allows for repeated sightings of one person and for one probe meeting the whole gallery (two-way cluster design effect); the verdict allows for the number of rows (Sidak, 5 %)".into(),
        verdict,
        rows,
    }
}

/// What every row of the check reads: the scenario, the simulated searches and the cluster
/// sums, and the identity sizes present per gallery group.
struct Context<'a> {
    scenario: &'a Scenario,
    outcomes: &'a [ReplicateOutcome],
    records: &'a [ProbeRecord],
    clustering: &'a Clustering<'a>,
    sizes: &'a [Vec<u64>],
}

/// One (probe group, threshold) of the check, with its closed-form nodes and FMR matrix.
struct At<'a> {
    g: usize,
    t: usize,
    nodes: &'a Nodes,
    rate0: &'a [Vec<f64>],
    /// The threshold's label and the probe group's name, for the rows.
    label: &'a str,
    group: &'a str,
}

/// One exact test: the closed-form and simulated values, the counts, the design effect and
/// the two-sided p-value.
struct Test {
    closed: f64,
    simulated: f64,
    observed: u64,
    expected: f64,
    deff: f64,
    p: f64,
}

impl At<'_> {
    /// A row of the check; z is the p-value as a signed normal deviate (0 when p = 1).
    fn row(&self, metric: &str, gallery: Option<String>, test: Test) -> ClosedFormRow {
        ClosedFormRow {
            metric: metric.into(),
            threshold: self.label.to_string(),
            probe_group: self.group.to_string(),
            gallery_group: gallery,
            closed_form: test.closed,
            simulated: test.simulated,
            observed: test.observed,
            expected: test.expected,
            design_effect: test.deff,
            p_value: test.p,
            z: if test.p >= 1.0 {
                0.0
            } else {
                z_of(test.p, test.observed as f64 > test.expected)
            },
        }
    }
}

/// The FMR rows of one (probe group, threshold): one per gallery group with comparisons.
fn fmr_rows(ctx: &Context<'_>, at: &At<'_>, rows: &mut Vec<ClosedFormRow>, comparisons: &mut u64) {
    let Context {
        scenario,
        outcomes,
        records,
        clustering,
        ..
    } = *ctx;
    let (g, t, nodes, rate0) = (at.g, at.t, at.nodes, at.rate0);
    let n_g = scenario.n_groups();
    let fmr0: Vec<f64> = rate0[g].clone();
    for h in 0..n_g {
        let (events, trials) = outcomes.iter().fold((0u64, 0u64), |(e, n), o| {
            let searches = searches_of(records, o.replicate, g);
            let events: u64 = searches.iter().map(|r| r.det[t * n_g + h]).sum();
            (
                e + events,
                n + searches.len() as u64 * o.tally.entries_per_group[h],
            )
        });
        if trials == 0 {
            continue;
        }
        // The same comparisons stand behind every threshold's row: counted once.
        if t == 0 {
            *comparisons += trials;
        }
        let p0 = fmr0[h];
        // The variance the model implies (exact, whatever the events), or the data's
        // two-way cluster variance around the closed-form rates if larger.
        let v_model: f64 = outcomes
            .iter()
            .map(|o| {
                let k = searches_of(records, o.replicate, g).len() as f64;
                let mut entries = vec![0.0; n_g];
                let mut size_sq = vec![0.0; n_g];
                entries[h] = o.tally.entries_per_group[h] as f64;
                size_sq[h] = o.tally.clusters.size_sq[h] as f64;
                k * search_count_moments(nodes, &entries, &size_sq).1
            })
            .sum();
        let v = clustering.variance(Unit::Detections, t, Some(g), &[h], None, rate0);
        let deff = design_effect(v.max(v_model), trials as f64 * p0 * (1.0 - p0));
        let p = binomial_p(events as f64 / deff, trials as f64 / deff, p0);
        rows.push(at.row(
            "fmr",
            Some(scenario.groups()[h].name.clone()),
            Test {
                closed: p0,
                simulated: events as f64 / trials as f64,
                observed: events,
                expected: trials as f64 * p0,
                deff,
                p,
            },
        ));
    }
}

/// The FPIR, SEL and distinct-people rows of one (probe group, threshold), from each
/// replicate's realized gallery.
fn search_rows(ctx: &Context<'_>, at: &At<'_>, rows: &mut Vec<ClosedFormRow>) {
    let Context {
        scenario,
        outcomes,
        records,
        clustering,
        sizes,
    } = *ctx;
    let (g, t, nodes, rate0) = (at.g, at.t, at.nodes, at.rate0);
    let n_g = scenario.n_groups();
    let threshold = &scenario.thresholds()[t];
    let all: Vec<usize> = (0..n_g).collect();
    let (mut hits, mut total, mut people, mut n) = (0u64, 0u64, 0u64, 0u64);
    let (mut e_fpir, mut e_sel, mut e_people) = (0.0, 0.0, 0.0);
    let (mut v_sel, mut v_people) = (0.0, 0.0);
    let (mut v_sel_model, mut v_people_model) = (0.0, 0.0);
    for o in outcomes {
        let searches = searches_of(records, o.replicate, g);
        if searches.is_empty() {
            continue;
        }
        let k = searches.len() as u64;
        let c = &o.tally.clusters;
        let identities: Vec<Vec<f64>> = (0..n_g)
            .map(|h| {
                sizes[h]
                    .iter()
                    .map(|m| c.sizes[h].get(m).copied().unwrap_or(0) as f64)
                    .collect()
            })
            .collect();
        let (f, s, p) = search_expectations(nodes, sizes, &identities, &o.tally.entries_per_group);
        e_fpir += k as f64 * f;
        e_sel += k as f64 * s;
        e_people += k as f64 * p;
        n += k;
        let q = crate::quantize::threshold_q(threshold.score);
        hits += searches.iter().filter(|r| r.max_nonmate >= q).count() as u64;
        total += searches
            .iter()
            .map(|r| r.false_candidates(t, n_g))
            .sum::<u64>();
        people += searches.iter().map(|r| r.false_people(t, n_g)).sum::<u64>();
        v_sel += clustering.variance(Unit::Detections, t, Some(g), &all, Some(o.replicate), rate0);
        let entries: Vec<f64> = o
            .tally
            .entries_per_group
            .iter()
            .map(|&x| x as f64)
            .collect();
        let size_sq: Vec<f64> = c.size_sq.iter().map(|&x| x as f64).collect();
        v_sel_model += k as f64 * search_count_moments(nodes, &entries, &size_sq).1;
        v_people_model += k as f64 * people_variance(nodes, &identities);
        // People rates of this replicate: expected people per identity of group h.
        let mut people0 = vec![vec![0.0; n_g]; n_g];
        for h in 0..n_g {
            let ids = o.tally.identities_per_group[h] as f64;
            if ids > 0.0 {
                people0[g][h] = nodes[h]
                    .iter()
                    .map(|node| {
                        node.weight
                            * node
                                .hits
                                .iter()
                                .zip(&identities[h])
                                .map(|(hit, &n)| hit * n)
                                .sum::<f64>()
                    })
                    .sum::<f64>()
                    / ids;
            }
        }
        v_people +=
            clustering.variance(Unit::People, t, Some(g), &all, Some(o.replicate), &people0);
    }
    if n == 0 {
        return;
    }
    let nf = n as f64;
    let fpir0 = e_fpir / nf;
    rows.push(at.row(
        "fpir",
        None,
        Test {
            closed: fpir0,
            simulated: hits as f64 / nf,
            observed: hits,
            expected: e_fpir,
            deff: 1.0,
            p: binomial_p(hits as f64, nf, fpir0),
        },
    ));
    let deff = design_effect(v_sel.max(v_sel_model), e_sel);
    rows.push(at.row(
        "sel",
        None,
        Test {
            closed: e_sel / nf,
            simulated: total as f64 / nf,
            observed: total,
            expected: e_sel,
            deff,
            p: poisson_p(total as f64 / deff, e_sel / deff),
        },
    ));
    let deff = design_effect(v_people.max(v_people_model), e_people);
    rows.push(at.row(
        "sel_people",
        None,
        Test {
            closed: e_people / nf,
            simulated: people as f64 / nf,
            observed: people,
            expected: e_people,
            deff,
            p: poisson_p(people as f64 / deff, e_people / deff),
        },
    ));
}

/// The variance of one search's count of distinct false candidate people: given the probe,
/// identities are independent Bernoulli(hit_m); plus the variance over probe nodes.
fn people_variance(nodes: &[Vec<ProbeNode>], identities: &[Vec<f64>]) -> f64 {
    let n_probe = nodes.first().map_or(0, Vec::len);
    let (mut mean, mut second) = (0.0, 0.0);
    for k in 0..n_probe {
        let w = nodes[0][k].weight;
        let (mut m, mut v) = (0.0, 0.0);
        for (h, group) in nodes.iter().enumerate() {
            for (hit, &n) in group[k].hits.iter().zip(&identities[h]) {
                m += n * hit;
                v += n * hit * (1.0 - hit);
            }
        }
        mean += w * m;
        second += w * (v + m * m);
    }
    (second - mean * mean).max(0.0)
}

/// The non-mated searches of probe group `g` in `replicate`.
fn searches_of(records: &[ProbeRecord], replicate: u32, g: usize) -> Vec<&ProbeRecord> {
    records
        .iter()
        .filter(|r| r.replicate == replicate && r.mate.is_none() && r.group as usize == g)
        .collect()
}

/// The verdict over the rows that could show a difference.
fn verdict(rows: &[ClosedFormRow], comparisons: u64) -> Verdict {
    let tested: Vec<&ClosedFormRow> = rows
        .iter()
        .filter(|r| r.expected > 0.0 || r.observed > 0)
        .collect();
    let m = tested.len();
    let largest = tested.iter().fold(0.0f64, |a, r| a.max(r.z.abs()));
    let critical = sidak(m, 0.05);
    let typical = sidak(m, 0.5);
    let agrees = largest <= critical;
    let text = if m == 0 {
        "nothing to compare: no row has an expected or observed event".to_string()
    } else {
        format!(
            "{}: the largest |z| over {m} rows ({} simulated comparisons) is {largest:.2}; by chance alone the largest of {m} |z| is about {typical:.2}, and above {critical:.2} in 5 % of runs",
            if agrees {
                "agrees with the closed forms"
            } else {
                "DISAGREES with the closed forms"
            },
            crate::format::count(comparisons)
        )
    };
    Verdict {
        agrees,
        rows_tested: m,
        comparisons,
        largest_abs_z: largest,
        critical_abs_z: critical,
        typical_largest_abs_z: typical,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tests_and_the_sidak_bound() {
        // 5 events when 5 are expected: nothing unusual; 30 when 5 are: very unusual.
        assert!(poisson_p(5.0, 5.0) > 0.5);
        assert!(poisson_p(30.0, 5.0) < 1e-9);
        assert!(poisson_p(0.0, 5.0) < 0.02);
        assert!((binomial_p(50.0, 100.0, 0.5) - 1.0).abs() < 1e-12);
        assert!(binomial_p(80.0, 100.0, 0.5) < 1e-8);
        // Sidak: one row at 5 % is 1.96; 35 rows about 3.2.
        assert!((sidak(1, 0.05) - 1.959_963_985).abs() < 1e-6);
        assert!((sidak(35, 0.05) - 3.19).abs() < 0.02);
        assert!(z_of(0.05, true) > 1.95 && z_of(0.05, false) < -1.95);
    }
}
