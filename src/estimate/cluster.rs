//! Two-way cluster variances: comparisons that share a search or a gallery identity are
//! correlated (one person seen 20 times in an archive; one probe searched against the whole
//! gallery), so counts of false candidates are overdispersed against binomial and Poisson
//! variances. The variance here allows for both kinds of sharing at once, from the integer
//! cluster sums of [`crate::tally`].
//!
//! ```text
//! S = sum_{p in P} sum_{i in H'} Y_pi          Y_pi: detections of identity i >= T for search p
//! fitted  mu_pi = m_i f_{g(p) h(i)}             f: a per-comparison rate (estimated, or a null)
//! V_probe = n/(n-1) sum_p (X_p - sum_i mu_pi)^2        X_p = sum_i Y_pi      (searches)
//! V_id    = sum_i (E_i - sum_p mu_pi)^2                E_i = sum_p Y_pi      (identities)
//! V_cell  = sum_{p,i} (Y_pi - mu_pi)^2                                       (both)
//! V(S)    = V_probe + V_id - V_cell, at least max(V_probe, V_id)   (Cameron, Gelbach, Miller 2011)
//! ```
//!
//! Each sum expands into sums the kernel tallies exactly (sum_i E_i^2, sum_i m_i E_i,
//! sum_i m_i^2, sum_{p,i} Y_pi^2), so nothing per identity is kept. Distinct people are the same
//! with Y_pi in {0, 1} and m_i = 1. Replicate galleries are independent: their variances add.
//!
//! For a count per search (SEL, people) the rate is pooled over gallery groups, and over probe
//! groups when all searches are counted together ([`Clustering::pooled_rates`]): groups are
//! drawn at random per identity and per search, so the spread between them is part of the
//! count's sampling variance, and the interval covers the scenario's value, not only that of
//! an archive with the realized mix of groups. A per-comparison rate of one group pair keeps
//! its own fitted rate: its denominator already follows the realized mix.
//!
//! From the variance, a design effect `deff = V / (binomial or Poisson variance)`, never below 1;
//! intervals then use the exact binomial or Poisson interval on the effective counts
//! `events / deff` (Korn and Graubard 1998 for proportions; the same scaling for counts). A row
//! resting on fewer than 30 events takes at least the design effect of the nearest lower
//! threshold with 30 or more (few events say little about their own dispersion); with none,
//! the size-biased mean detections per identity sum m_i^2 / sum m_i, the largest cluster effect
//! identity sharing can have.

use super::{ProbeRecord, ReplicateOutcome};
use crate::tally::ClusterSums;

/// Detections (each entry) or distinct people (each identity once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// False candidate detections.
    Detections,
    /// Distinct false candidate people.
    People,
}

/// One replicate's data for a slice of non-mated searches.
pub struct ReplicateSlice<'a> {
    /// The slice's non-mated searches of this replicate.
    pub searches: Vec<&'a ProbeRecord>,
    /// The replicate's cluster sums.
    pub sums: &'a ClusterSums,
    /// Gallery entries per group.
    pub entries: &'a [u64],
    /// Gallery identities per group.
    pub identities: &'a [u64],
    /// The cluster-sum slice index: the probe group, or the number of groups for all searches.
    pub slice: usize,
}

impl ReplicateSlice<'_> {
    fn n_groups(&self) -> usize {
        self.entries.len()
    }

    /// Searches of probe group `g`.
    fn searches_of(&self, g: usize) -> u64 {
        self.searches
            .iter()
            .filter(|r| r.group as usize == g)
            .count() as u64
    }

    /// Per search p and group h, the count X_ph at threshold `t`.
    fn count(&self, r: &ProbeRecord, unit: Unit, t: usize, h: usize) -> u64 {
        let g = self.n_groups();
        match unit {
            Unit::Detections => r.det[t * g + h],
            Unit::People => r.ppl[t * g + h],
        }
    }

    /// The size of gallery group h: entries, or identities.
    fn size(&self, unit: Unit, h: usize) -> f64 {
        match unit {
            Unit::Detections => self.entries[h] as f64,
            Unit::People => self.identities[h] as f64,
        }
    }

    /// sum_i m_i^2 over identities of group h (identities for people).
    fn size_sq(&self, unit: Unit, h: usize) -> f64 {
        match unit {
            Unit::Detections => self.sums.size_sq[h] as f64,
            Unit::People => self.identities[h] as f64,
        }
    }

    /// sum_i E_is^2 and sum_i m_i E_is for cluster slice s.
    fn identity_sums(&self, unit: Unit, s: usize, t: usize, h: usize, g_total: f64) -> (f64, f64) {
        let c = self.sums.cell(s, t, h);
        match unit {
            Unit::Detections => (
                self.sums.detections_sq[c] as f64,
                self.sums.detections_by_size[c] as f64,
            ),
            // For people m_i = 1, so sum_i m_i E_i is the total count of the slice.
            Unit::People => (self.sums.people_sq[c] as f64, g_total),
        }
    }

    /// The two-way variance of the slice's total count at threshold `t` over gallery groups
    /// `groups`, around the fitted per-comparison rates `rate[g][h]`.
    pub fn variance(&self, unit: Unit, t: usize, groups: &[usize], rate: &[Vec<f64>]) -> f64 {
        let n_g = self.n_groups();
        let n = self.searches.len() as f64;
        if n == 0.0 {
            return 0.0;
        }
        // Searches.
        let mut v_probe = 0.0;
        for r in &self.searches {
            let g = r.group as usize;
            let (x, mu) = groups.iter().fold((0.0, 0.0), |(x, mu), &h| {
                (
                    x + self.count(r, unit, t, h) as f64,
                    mu + self.size(unit, h) * rate[g][h],
                )
            });
            v_probe += (x - mu) * (x - mu);
        }
        if n > 1.0 {
            v_probe *= n / (n - 1.0);
        }
        // Probe groups present in the slice, with their searches and totals.
        let present: Vec<(usize, f64)> = (0..n_g)
            .map(|g| (g, self.searches_of(g) as f64))
            .filter(|&(_, n_g)| n_g > 0.0)
            .collect();
        let total = |g: Option<usize>, h: usize| -> f64 {
            self.searches
                .iter()
                .filter(|r| g.is_none_or(|g| r.group as usize == g))
                .map(|r| self.count(r, unit, t, h) as f64)
                .sum()
        };
        let mut v_id = 0.0;
        let mut v_cell = 0.0;
        for &h in groups {
            let m2 = self.size_sq(unit, h);
            // Identities, over the whole slice: fitted E_i = m_i c_h.
            let c_h: f64 = present
                .iter()
                .map(|&(g, searches)| searches * rate[g][h])
                .sum();
            let (e_sq, me) = self.identity_sums(unit, self.slice, t, h, total(None, h));
            v_id += e_sq - 2.0 * c_h * me + c_h * c_h * m2;
            // Cells, per probe group.
            for &(g, searches) in &present {
                let f = rate[g][h];
                let cell_sq: f64 = self
                    .searches
                    .iter()
                    .filter(|r| r.group as usize == g)
                    .map(|r| match unit {
                        Unit::Detections => r.sq[t * n_g + h] as f64,
                        Unit::People => self.count(r, unit, t, h) as f64,
                    })
                    .sum();
                let (_, me_g) = self.identity_sums(unit, g, t, h, total(Some(g), h));
                v_cell += cell_sq - 2.0 * f * me_g + searches * f * f * m2;
            }
        }
        (v_probe + v_id - v_cell).max(v_probe).max(v_id).max(0.0)
    }
}

/// A run's replicates and searches, for cluster variances of any slice.
#[derive(Clone, Copy)]
pub struct Clustering<'a> {
    /// The replicates' outcomes (tallies with cluster sums).
    pub outcomes: &'a [ReplicateOutcome],
    /// One record per search.
    pub records: &'a [ProbeRecord],
    /// Groups (probe and gallery).
    pub n_groups: usize,
}

/// A row resting on fewer events than this takes a design effect from elsewhere.
pub const MIN_EVENTS_FOR_DISPERSION: u64 = 30;

impl<'a> Clustering<'a> {
    fn view(&self, outcome: &'a ReplicateOutcome, slice: Option<usize>) -> ReplicateSlice<'a> {
        ReplicateSlice {
            searches: self
                .records
                .iter()
                .filter(|r| {
                    r.replicate == outcome.replicate
                        && r.mate.is_none()
                        && slice.is_none_or(|g| r.group as usize == g)
                })
                .collect(),
            sums: &outcome.tally.clusters,
            entries: &outcome.tally.entries_per_group,
            identities: &outcome.tally.identities_per_group,
            slice: slice.unwrap_or(self.n_groups),
        }
    }

    fn replicates(&self, replicate: Option<u32>) -> impl Iterator<Item = &'a ReplicateOutcome> {
        self.outcomes
            .iter()
            .filter(move |o| replicate.is_none_or(|r| o.replicate == r))
    }

    /// Per-comparison rates `f[g][h]` at threshold `t`, pooled over replicates: count over
    /// (non-mated searches of group g) x (entries, or identities, of group h).
    pub fn rates(&self, unit: Unit, t: usize) -> Vec<Vec<f64>> {
        let g = self.n_groups;
        let mut count = vec![vec![0.0; g]; g];
        let mut trials = vec![vec![0.0; g]; g];
        for o in self.outcomes {
            let view = self.view(o, None);
            for r in &view.searches {
                for h in 0..g {
                    count[r.group as usize][h] += view.count(r, unit, t, h) as f64;
                    trials[r.group as usize][h] += view.size(unit, h);
                }
            }
        }
        count
            .iter()
            .zip(&trials)
            .map(|(c, n)| {
                c.iter()
                    .zip(n)
                    .map(|(&c, &n)| if n > 0.0 { c / n } else { 0.0 })
                    .collect()
            })
            .collect()
    }

    /// Per-comparison rates pooled over gallery groups (one rate per probe group, the same
    /// against every gallery group), and over probe groups too when `slice` is None: the mean
    /// model of a count per search whose gallery identities' groups (and, over all searches,
    /// whose probes' groups) are random draws. Centred on it, the identities' term of the
    /// variance keeps the spread between gallery groups, which a different realized mix of
    /// groups would move: the count's variance over archives drawn from the scenario, not
    /// only over archives with this archive's mix.
    pub fn pooled_rates(&self, unit: Unit, t: usize, slice: Option<usize>) -> Vec<Vec<f64>> {
        let g = self.n_groups;
        let (mut count, mut trials) = (vec![0.0; g], vec![0.0; g]);
        for o in self.outcomes {
            let view = self.view(o, None);
            for r in &view.searches {
                let row = match slice {
                    Some(_) => r.group as usize,
                    None => 0,
                };
                for h in 0..g {
                    count[row] += view.count(r, unit, t, h) as f64;
                    trials[row] += view.size(unit, h);
                }
            }
        }
        let rate = |row: usize| {
            if trials[row] > 0.0 {
                count[row] / trials[row]
            } else {
                0.0
            }
        };
        (0..g)
            .map(|row| vec![rate(if slice.is_some() { row } else { 0 }); g])
            .collect()
    }

    /// The variance of the total count at threshold `t` of the searches of `slice` (a probe
    /// group, or None for all) over gallery groups `groups`, summed over the replicates (or
    /// only `replicate`), around the rates `rate`.
    pub fn variance(
        &self,
        unit: Unit,
        t: usize,
        slice: Option<usize>,
        groups: &[usize],
        replicate: Option<u32>,
        rate: &[Vec<f64>],
    ) -> f64 {
        self.replicates(replicate)
            .map(|o| self.view(o, slice).variance(unit, t, groups, rate))
            .sum()
    }

    /// The largest design effect sharing identities can give a count of `groups`: the
    /// size-biased mean detections per identity, sum m_i^2 / sum m_i (1 for people).
    pub fn largest_cluster_effect(
        &self,
        unit: Unit,
        groups: &[usize],
        replicate: Option<u32>,
    ) -> f64 {
        if unit == Unit::People {
            return 1.0;
        }
        let (m2, m) = self.replicates(replicate).fold((0.0, 0.0), |(a, b), o| {
            groups.iter().fold((a, b), |(a, b), &h| {
                (
                    a + o.tally.clusters.size_sq[h] as f64,
                    b + o.tally.entries_per_group[h] as f64,
                )
            })
        });
        if m > 0.0 { (m2 / m).max(1.0) } else { 1.0 }
    }

    /// Design effects of a slice's mean count (detections or people per search) at every
    /// threshold, against the Poisson variance, settled for rows with few events.
    pub fn count_design_effects(
        &self,
        unit: Unit,
        slice: Option<usize>,
        replicate: Option<u32>,
        n_thresholds: usize,
    ) -> Vec<f64> {
        let groups: Vec<usize> = (0..self.n_groups).collect();
        let raw: Vec<(f64, u64)> = (0..n_thresholds)
            .map(|t| {
                let total: u64 = self
                    .replicates(replicate)
                    .flat_map(|o| self.view(o, slice).searches)
                    .map(|r| {
                        (0..self.n_groups)
                            .map(|h| match unit {
                                Unit::Detections => r.det[t * self.n_groups + h],
                                Unit::People => r.ppl[t * self.n_groups + h],
                            })
                            .sum::<u64>()
                    })
                    .sum();
                // The groups of the gallery's identities (and of all searches' probes) are
                // random draws: the mean model does not condition on them.
                let rates = self.pooled_rates(unit, t, slice);
                let v = self.variance(unit, t, slice, &groups, replicate, &rates);
                (design_effect(v, total as f64), total)
            })
            .collect();
        settled_design_effects(
            &raw,
            MIN_EVENTS_FOR_DISPERSION,
            self.largest_cluster_effect(unit, &groups, replicate),
        )
    }

    /// Design effects of the per-comparison rate of probe group `g` against gallery group `h`
    /// at every threshold, against the binomial variance, settled for rows with few events.
    pub fn rate_design_effects(&self, g: usize, h: usize, n_thresholds: usize) -> Vec<f64> {
        let raw: Vec<(f64, u64)> = (0..n_thresholds)
            .map(|t| {
                let rate = self.rates(Unit::Detections, t);
                let (events, trials) = self
                    .outcomes
                    .iter()
                    .flat_map(|o| {
                        let view = self.view(o, Some(g));
                        let n = view.searches.len() as u64;
                        let events: u64 = view
                            .searches
                            .iter()
                            .map(|r| r.det[t * self.n_groups + h])
                            .sum();
                        std::iter::once((events, n * o.tally.entries_per_group[h]))
                    })
                    .fold((0u64, 0u64), |(a, b), (e, n)| (a + e, b + n));
                let f = rate[g][h];
                let v = self.variance(Unit::Detections, t, Some(g), &[h], None, &rate);
                (design_effect(v, trials as f64 * f * (1.0 - f)), events)
            })
            .collect();
        settled_design_effects(
            &raw,
            MIN_EVENTS_FOR_DISPERSION,
            self.largest_cluster_effect(Unit::Detections, &[h], None),
        )
    }
}

/// The design effect of a count against its reference variance (binomial or Poisson), at
/// least 1.
pub fn design_effect(variance: f64, reference: f64) -> f64 {
    if reference > 0.0 && variance.is_finite() {
        (variance / reference).max(1.0)
    } else {
        1.0
    }
}

/// Design effects by threshold, with rows resting on fewer than `min_events` events raised to
/// that of the nearest lower threshold with enough events, or to `fallback` (see the module
/// documentation).
pub fn settled_design_effects(raw: &[(f64, u64)], min_events: u64, fallback: f64) -> Vec<f64> {
    let mut out = Vec::with_capacity(raw.len());
    for (t, &(deff, events)) in raw.iter().enumerate() {
        if events >= min_events {
            out.push(deff);
            continue;
        }
        let reference = raw[..t]
            .iter()
            .rev()
            .find(|x| x.1 >= min_events)
            .map_or(fallback, |x| x.0);
        out.push(deff.max(reference));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sums of an explicit table Y[p][i] (one threshold), as the kernel tallies them.
    fn tallied(
        y: &[Vec<u64>],
        probe_group: &[u16],
        id_group: &[usize],
        m: &[u64],
    ) -> (Vec<ProbeRecord>, ClusterSums) {
        let g = 2;
        let mut sums = ClusterSums::new(1, g);
        let records = y
            .iter()
            .enumerate()
            .map(|(p, row)| {
                let mut det = vec![0; g];
                let mut sq = vec![0; g];
                let mut ppl = vec![0; g];
                for (i, &v) in row.iter().enumerate() {
                    det[id_group[i]] += v;
                    sq[id_group[i]] += v * v;
                    ppl[id_group[i]] += u64::from(v > 0);
                }
                ProbeRecord {
                    replicate: 0,
                    probe: p as u32,
                    group: probe_group[p],
                    max_nonmate: 0,
                    det,
                    ppl,
                    sq,
                    mate: None,
                    candidates: Vec::new(),
                }
            })
            .collect();
        for (i, &h) in id_group.iter().enumerate() {
            sums.size_sq[h] += m[i] * m[i];
            for s in 0..=g {
                let probes = (0..y.len()).filter(|&p| s == g || probe_group[p] as usize == s);
                let (e, z) = probes.fold((0, 0), |(e, z), p| {
                    (e + y[p][i], z + u64::from(y[p][i] > 0))
                });
                let c = sums.cell(s, 0, h);
                sums.detections_sq[c] += e * e;
                sums.detections_by_size[c] += m[i] * e;
                sums.people_sq[c] += z * z;
            }
        }
        (records, sums)
    }

    #[test]
    fn the_variance_is_the_two_way_cluster_variance_of_the_table() {
        let probe_group = [0u16, 0, 1, 0, 1, 1, 0];
        let id_group = [0usize, 1, 0, 0, 1, 1, 0, 1];
        let m = [1u64, 3, 2, 4, 1, 2, 3, 1];
        // A deterministic table with 0 <= Y_pi <= m_i.
        let y: Vec<Vec<u64>> = (0..probe_group.len())
            .map(|p| {
                (0..m.len())
                    .map(|i| ((p * 7 + i * 3 + p * i) % 5) as u64 % (m[i] + 1))
                    .collect()
            })
            .collect();
        let (records, sums) = tallied(&y, &probe_group, &id_group, &m);
        let entries: Vec<u64> = (0..2)
            .map(|h| {
                (0..m.len())
                    .filter(|&i| id_group[i] == h)
                    .map(|i| m[i])
                    .sum()
            })
            .collect();
        let identities: Vec<u64> = (0..2)
            .map(|h| id_group.iter().filter(|&&x| x == h).count() as u64)
            .collect();
        let rate = vec![vec![0.21, 0.35], vec![0.4, 0.15]];
        for (slice, probes) in [(0usize, vec![0usize, 1, 3, 6]), (2, (0..7).collect())] {
            for groups in [vec![0usize], vec![1], vec![0, 1]] {
                for unit in [Unit::Detections, Unit::People] {
                    let value = |p: usize, i: usize| match unit {
                        Unit::Detections => y[p][i] as f64,
                        Unit::People => f64::from(u8::from(y[p][i] > 0)),
                    };
                    let size = |i: usize| match unit {
                        Unit::Detections => m[i] as f64,
                        Unit::People => 1.0,
                    };
                    let ids: Vec<usize> = (0..m.len())
                        .filter(|i| groups.contains(&id_group[*i]))
                        .collect();
                    let resid = |p: usize, i: usize| {
                        value(p, i) - size(i) * rate[probe_group[p] as usize][id_group[i]]
                    };
                    let n = probes.len() as f64;
                    let v_probe: f64 = probes
                        .iter()
                        .map(|&p| ids.iter().map(|&i| resid(p, i)).sum::<f64>().powi(2))
                        .sum::<f64>()
                        * n
                        / (n - 1.0);
                    let v_id: f64 = ids
                        .iter()
                        .map(|&i| probes.iter().map(|&p| resid(p, i)).sum::<f64>().powi(2))
                        .sum();
                    let v_cell: f64 = probes
                        .iter()
                        .flat_map(|&p| ids.iter().map(move |&i| (p, i)))
                        .map(|(p, i)| resid(p, i).powi(2))
                        .sum();
                    let expected = (v_probe + v_id - v_cell).max(v_probe).max(v_id);
                    let view = ReplicateSlice {
                        searches: probes.iter().map(|&p| &records[p]).collect(),
                        sums: &sums,
                        entries: &entries,
                        identities: &identities,
                        slice,
                    };
                    let got = view.variance(unit, 0, &groups, &rate);
                    assert!(
                        (got - expected).abs() < 1e-9 * expected.max(1.0),
                        "{slice} {groups:?} {unit:?}: {got} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn few_events_borrow_the_design_effect_below_them() {
        let raw = [(3.0, 500), (2.0, 40), (1.0, 3), (1.5, 0)];
        assert_eq!(
            settled_design_effects(&raw, 30, 9.0),
            vec![3.0, 2.0, 2.0, 2.0]
        );
        assert_eq!(settled_design_effects(&[(1.0, 0)], 30, 9.0), vec![9.0]);
        assert_eq!(design_effect(0.5, 1.0), 1.0);
        assert_eq!(design_effect(4.0, 0.0), 1.0);
    }
}
