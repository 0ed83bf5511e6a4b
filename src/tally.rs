//! Tallies: what the search kernel counts, as plain integers that merge associatively and
//! commutatively across tiles, threads and shards.
//!
//! ```text
//! per probe p:   max non-mate score                      (max)
//!                det[k][h]  non-mate entries of group h whose highest passed threshold is k   (sum)
//!                ppl[k][h]  distinct non-mate identities of group h, by their best score      (sum)
//!                top-K candidates, ordered by (score desc, gallery index asc)                 (merge)
//!                beaten[m]  non-mate entries scoring >= mate detection m                      (sum)
//! per gallery:   entries and identities per group                                              (sum)
//! ```
//!
//! Counts at threshold t are the sums of buckets k >= t ("bucket by highest passed threshold"),
//! so a score is tallied once, not once per threshold. Because every merge is exact, the order
//! in which tiles are processed cannot change a single bit.

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
        }
    }

    /// Adds another tally of the same replicate (other tiles).
    pub fn merge(mut self, other: Tally) -> Tally {
        for (a, b) in self.probes.iter_mut().zip(&other.probes) {
            a.merge(b, self.k);
        }
        add(&mut self.entries_per_group, &other.entries_per_group);
        add(&mut self.identities_per_group, &other.identities_per_group);
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
