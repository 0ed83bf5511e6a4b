//! From one replicate's tally to one record per search: cumulative counts per threshold, the
//! mate's pessimistic rank, and the candidate list.
//!
//! ```text
//! count at threshold t  = sum over buckets k >= t
//! rank of a mate detection m = 1 + #(non-mates scoring >= s_m)
//!                              + #(other mate detections ahead of m in the candidate order)
//! rank of the mate (identity) = 1 + #(non-mates scoring >= the best mate score)
//! ```

use crate::quantize::score_value;
use crate::search::Mate;
use crate::tally::{Candidate, Tally};
use serde::{Deserialize, Serialize};

/// What a replicate's run hands to estimation.
#[derive(Clone, Debug)]
pub struct ReplicateOutcome {
    /// Replicate index.
    pub replicate: u32,
    /// Gallery entries N.
    pub entries: u64,
    /// Gallery identities.
    pub identities: u64,
    /// Group of each probe.
    pub probe_group: Vec<u16>,
    /// Mate of each probe (None for non-mated).
    pub mate: Vec<Option<Mate>>,
    /// The merged tally.
    pub tally: Tally,
}

/// One mate detection of a mated search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MateDetection {
    /// Gallery entry.
    pub entry: u64,
    /// Score.
    pub score: f64,
    /// Pessimistic rank in the full candidate order.
    pub rank: u64,
}

/// The mate of a mated search.
#[derive(Clone, Debug, PartialEq)]
pub struct MateRecord {
    /// Gallery identity.
    pub identity: u64,
    /// Best integer score over the identity's detections.
    pub best_score: i32,
    /// Pessimistic rank of the identity (its best detection).
    pub rank: u64,
    /// Every detection of the identity.
    pub detections: Vec<MateDetection>,
}

/// One search, as estimation sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeRecord {
    /// Replicate.
    pub replicate: u32,
    /// Probe index within the replicate.
    pub probe: u32,
    /// Probe group.
    pub group: u16,
    /// Highest non-mate integer score.
    pub max_nonmate: i32,
    /// Non-mate entries at or above threshold t, by candidate group: `det[t * G + h]`.
    pub det: Vec<u64>,
    /// Distinct non-mate identities at or above threshold t, by group.
    pub ppl: Vec<u64>,
    /// Sum over non-mate identities of (their detections at or above threshold t)^2, by group.
    pub sq: Vec<u64>,
    /// The mate, for a mated search.
    pub mate: Option<MateRecord>,
    /// Top-K candidates.
    pub candidates: Vec<Candidate>,
}

impl ProbeRecord {
    /// Non-mate entries at or above threshold t (all groups).
    pub fn false_candidates(&self, t: usize, n_groups: usize) -> u64 {
        self.det[t * n_groups..(t + 1) * n_groups].iter().sum()
    }

    /// Distinct non-mate identities at or above threshold t (all groups).
    pub fn false_people(&self, t: usize, n_groups: usize) -> u64 {
        self.ppl[t * n_groups..(t + 1) * n_groups].iter().sum()
    }

    /// True when this mated search misses its mate within rank `r` at integer threshold `q`.
    pub fn misses(&self, r: u64, q: i32) -> bool {
        self.mate
            .as_ref()
            .is_some_and(|m| m.rank > r || m.best_score < q)
    }
}

fn cumulate(buckets: &[u64], n_thresholds: usize, n_groups: usize) -> Vec<u64> {
    let mut out = buckets.to_vec();
    for t in (0..n_thresholds.saturating_sub(1)).rev() {
        for h in 0..n_groups {
            out[t * n_groups + h] += out[(t + 1) * n_groups + h];
        }
    }
    out
}

/// Turns a replicate's tally into one record per search.
pub fn records(
    outcome: &ReplicateOutcome,
    n_thresholds: usize,
    n_groups: usize,
) -> Vec<ProbeRecord> {
    outcome
        .tally
        .probes
        .iter()
        .enumerate()
        .map(|(p, t)| {
            let mate = outcome.mate[p].as_ref().map(|m| {
                let det = &m.detections;
                let ahead = |i: usize| {
                    det.iter()
                        .enumerate()
                        .filter(|&(j, d)| {
                            j != i && (d.1 > det[i].1 || (d.1 == det[i].1 && d.0 < det[i].0))
                        })
                        .count() as u64
                };
                let detections: Vec<MateDetection> = det
                    .iter()
                    .enumerate()
                    .map(|(i, &(entry, score))| MateDetection {
                        entry,
                        score: score_value(score),
                        rank: 1 + t.beaten[i] + ahead(i),
                    })
                    .collect();
                let best = (0..det.len())
                    .max_by(|&a, &b| det[a].1.cmp(&det[b].1).then(det[b].0.cmp(&det[a].0)))
                    .expect("an enrolled identity has at least one detection");
                MateRecord {
                    identity: m.identity,
                    best_score: det[best].1,
                    rank: 1 + t.beaten[best],
                    detections,
                }
            });
            ProbeRecord {
                replicate: outcome.replicate,
                probe: p as u32,
                group: outcome.probe_group[p],
                max_nonmate: t.max_nonmate,
                det: cumulate(&t.det, n_thresholds, n_groups),
                ppl: cumulate(&t.ppl, n_thresholds, n_groups),
                sq: t.sq.clone(),
                mate,
                candidates: t.top.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::ProbeTally;

    #[test]
    fn counts_cumulate_and_mate_ranks_are_pessimistic() {
        // 2 thresholds x 2 groups; buckets: highest passed threshold.
        let mut t = ProbeTally::new(2, 2, 2);
        t.det = vec![3, 1, 2, 0];
        t.ppl = vec![1, 1, 1, 0];
        t.beaten = vec![4, 0];
        t.max_nonmate = 90;
        let outcome = ReplicateOutcome {
            replicate: 0,
            entries: 100,
            identities: 50,
            probe_group: vec![1],
            mate: vec![Some(Mate {
                identity: 7,
                detections: vec![(10, 50), (11, 95)],
            })],
            tally: Tally {
                k: 5,
                probes: vec![t],
                entries_per_group: vec![50, 50],
                identities_per_group: vec![25, 25],
                clusters: crate::tally::ClusterSums::new(2, 2),
            },
        };
        let r = &records(&outcome, 2, 2)[0];
        assert_eq!(r.det, vec![5, 1, 2, 0]);
        assert_eq!(r.false_candidates(0, 2), 6);
        assert_eq!(r.false_people(1, 2), 1);
        let m = r.mate.as_ref().unwrap();
        assert_eq!(m.best_score, 95);
        assert_eq!(m.rank, 1);
        // Detection 10 scores 50: 4 non-mates and the other mate detection are ahead of it.
        assert_eq!(m.detections[0].rank, 6);
        assert!(!r.misses(1, 95));
        assert!(r.misses(1, 96));
    }
}
