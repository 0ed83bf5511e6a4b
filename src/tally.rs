//! Tallies: what the search kernel counts, as plain integers that merge associatively and
//! commutatively across tiles, threads and shards.
//!
//! ```text
//! per probe p:   max non-mate score                      (max)
//!                det[k][h]  non-mate entries of group h whose highest passed threshold is k   (sum)
//!                ppl[k][h]  distinct non-mate identities of group h, by their best score      (sum)
//!                top-K candidates, ordered by (score desc, gallery index asc)                 (merge)
//!                beaten[m]  non-mate entries scoring >= mate detection m                      (sum)
//!                sq[t][h]   sum over identities i of group h of Y_pi(t)^2                      (sum)
//! per gallery:   entries and identities per group                                              (sum)
//! clusters:      per non-mated probe group g (and all of them), threshold t, gallery group h:
//!                sum_i E_ig(t)^2, sum_i m_i E_ig(t), sum_i P_ig(t)^2;  per h: sum_i m_i^2     (sum)
//!
//! Y_pi(t) = detections of gallery identity i scoring >= T_t against probe p
//! E_ig(t) = sum of Y_pi(t) over the non-mated probes p of group g;  m_i = detections of i
//! P_ig(t) = non-mated probes of group g for which identity i has a detection >= T_t
//! ```
//!
//! Counts at threshold t are the sums of buckets k >= t ("bucket by highest passed threshold"),
//! so a score is tallied once, not once per threshold. The sums of squares are what a
//! two-way cluster variance (searches x gallery identities) needs; squares do not bucket, so
//! they are kept per threshold. Because every merge is exact, the order in which tiles are
//! processed cannot change a single bit.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// One entry of a candidate list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Integer score (see `search::score_value`).
    pub score: i32,
    /// Gallery index of the entry.
    pub entry: u64,
    /// Identity of the entry.
    pub identity: u64,
    /// Group index of the entry.
    pub group: u16,
    /// True when the entry is a detection of the probe's own subject.
    pub mate: bool,
}

impl Candidate {
    /// Candidate-list order: higher score first, ties broken by lower gallery index.
    pub fn rank_order(&self, other: &Self) -> Ordering {
        other
            .score
            .cmp(&self.score)
            .then(self.entry.cmp(&other.entry))
    }
}

/// What one probe's searches have counted so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTally {
    /// Highest non-mate score seen (`i32::MIN` before any).
    pub max_nonmate: i32,
    /// Non-mate entries by (highest passed threshold, candidate group), row-major.
    pub det: Vec<u64>,
    /// Distinct non-mate identities by (highest threshold passed by their best entry, group).
    pub ppl: Vec<u64>,
    /// The best K entries so far, in candidate-list order.
    pub top: Vec<Candidate>,
    /// For each mate detection (in the order of `search::Mate::detections`), non-mate entries
    /// scoring at or above it.
    pub beaten: Vec<u64>,
    /// Sum over non-mate identities of (their detections at or above threshold t)^2, by
    /// (threshold, candidate group), row-major; cumulative in t (not bucketed).
    pub sq: Vec<u64>,
}

impl ProbeTally {
    /// An empty tally for `n_thresholds` x `n_groups` buckets and `n_mates` mate detections.
    pub fn new(n_thresholds: usize, n_groups: usize, n_mates: usize) -> Self {
        Self {
            max_nonmate: i32::MIN,
            det: vec![0; n_thresholds * n_groups],
            ppl: vec![0; n_thresholds * n_groups],
            top: Vec::new(),
            beaten: vec![0; n_mates],
            sq: vec![0; n_thresholds * n_groups],
        }
    }

    /// Offers a candidate to the top-K list.
    #[inline]
    pub fn offer(&mut self, candidate: Candidate, k: usize) {
        if self.top.len() == k {
            match self.top.last() {
                Some(last) if candidate.rank_order(last) == Ordering::Less => {}
                _ => return,
            }
        }
        let at = self
            .top
            .partition_point(|c| c.rank_order(&candidate) == Ordering::Less);
        self.top.insert(at, candidate);
        self.top.truncate(k);
    }

    /// Adds another tally of the same probe.
    pub fn merge(&mut self, other: &ProbeTally, k: usize) {
        self.max_nonmate = self.max_nonmate.max(other.max_nonmate);
        add(&mut self.det, &other.det);
        add(&mut self.ppl, &other.ppl);
        add(&mut self.beaten, &other.beaten);
        add(&mut self.sq, &other.sq);
        for c in &other.top {
            self.offer(*c, k);
        }
    }
}

fn add(a: &mut [u64], b: &[u64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// Everything one replicate's search has counted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Candidate list length K.
    pub k: usize,
    /// One tally per probe.
    pub probes: Vec<ProbeTally>,
    /// Gallery entries per group.
    pub entries_per_group: Vec<u64>,
    /// Gallery identities per group.
    pub identities_per_group: Vec<u64>,
    /// Sums over gallery identities for the two-way cluster variance.
    pub clusters: ClusterSums,
}

/// Sums over gallery identities of their counts across non-mated searches, for the two-way
/// (searches x identities) cluster variance. Slices s are the probe groups, then all non-mated
/// probes (s = G); cells are indexed `(s * T + t) * G + h`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSums {
    /// sum_i E_is(t)^2: identity i's detections at or above threshold t, summed over the
    /// slice's non-mated searches, squared.
    pub detections_sq: Vec<u64>,
    /// sum_i m_i E_is(t), m_i the detections of identity i.
    pub detections_by_size: Vec<u64>,
    /// sum_i P_is(t)^2: the slice's non-mated searches that return identity i, squared.
    pub people_sq: Vec<u64>,
    /// sum_i m_i^2 per gallery group.
    pub size_sq: Vec<u64>,
    /// Per gallery group, identities by their number of detections m (m -> identities).
    pub sizes: Vec<std::collections::BTreeMap<u64, u64>>,
}

impl ClusterSums {
    /// Empty sums for `n_thresholds` thresholds and `n_groups` groups.
    pub fn new(n_thresholds: usize, n_groups: usize) -> Self {
        let cells = (n_groups + 1) * n_thresholds * n_groups;
        Self {
            detections_sq: vec![0; cells],
            detections_by_size: vec![0; cells],
            people_sq: vec![0; cells],
            size_sq: vec![0; n_groups],
            sizes: vec![std::collections::BTreeMap::new(); n_groups],
        }
    }

    /// The index of (slice, threshold, gallery group).
    pub fn cell(&self, slice: usize, t: usize, h: usize) -> usize {
        let g = self.size_sq.len();
        let n_t = self.detections_sq.len() / ((g + 1) * g).max(1);
        (slice * n_t + t) * g + h
    }

    fn merge(&mut self, other: &ClusterSums) {
        add(&mut self.detections_sq, &other.detections_sq);
        add(&mut self.detections_by_size, &other.detections_by_size);
        add(&mut self.people_sq, &other.people_sq);
        add(&mut self.size_sq, &other.size_sq);
        for (a, b) in self.sizes.iter_mut().zip(&other.sizes) {
            for (&m, &n) in b {
                *a.entry(m).or_insert(0) += n;
            }
        }
    }
}

impl Tally {
    /// An empty tally; `mates[p]` is the number of mate detections of probe p.
    pub fn new(k: usize, n_thresholds: usize, n_groups: usize, mates: &[usize]) -> Self {
        Self {
            k,
            probes: mates
                .iter()
                .map(|&m| ProbeTally::new(n_thresholds, n_groups, m))
                .collect(),
            entries_per_group: vec![0; n_groups],
            identities_per_group: vec![0; n_groups],
            clusters: ClusterSums::new(n_thresholds, n_groups),
        }
    }

    /// Adds another tally of the same replicate (other tiles).
    pub fn merge(mut self, other: Tally) -> Tally {
        for (a, b) in self.probes.iter_mut().zip(&other.probes) {
            a.merge(b, self.k);
        }
        add(&mut self.entries_per_group, &other.entries_per_group);
        add(&mut self.identities_per_group, &other.identities_per_group);
        self.clusters.merge(&other.clusters);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn candidate(score: i32, entry: u64) -> Candidate {
        Candidate {
            score,
            entry,
            identity: entry / 2,
            group: 0,
            mate: false,
        }
    }

    proptest! {
        #[test]
        fn top_k_is_the_k_best_in_any_order(scores in proptest::collection::vec(-50i32..50, 0..80), k in 1usize..12, split in 0usize..80) {
            let all: Vec<Candidate> = scores.iter().enumerate().map(|(i, &s)| candidate(s, i as u64)).collect();
            let mut expected = all.clone();
            expected.sort_by(|a, b| a.rank_order(b));
            expected.truncate(k);

            let mut one = ProbeTally::new(1, 1, 0);
            all.iter().for_each(|c| one.offer(*c, k));
            prop_assert_eq!(&one.top, &expected);

            // Two halves merged, in either order, give the same list.
            let split = split.min(all.len());
            let mut a = ProbeTally::new(1, 1, 0);
            let mut b = ProbeTally::new(1, 1, 0);
            all[..split].iter().rev().for_each(|c| a.offer(*c, k));
            all[split..].iter().for_each(|c| b.offer(*c, k));
            let mut ab = a.clone();
            ab.merge(&b, k);
            let mut ba = b.clone();
            ba.merge(&a, k);
            prop_assert_eq!(&ab.top, &expected);
            prop_assert_eq!(ab, ba);
        }
    }

    #[test]
    fn ties_are_broken_by_gallery_index() {
        let mut t = ProbeTally::new(1, 1, 0);
        for e in [9, 3, 7] {
            t.offer(candidate(10, e), 2);
        }
        assert_eq!(
            t.top.iter().map(|c| c.entry).collect::<Vec<_>>(),
            vec![3, 7]
        );
    }
}
