//! The search: probes against gallery tiles, consumed straight into tallies.
//!
//! ```text
//! score(p, x) = (q_p . q_x) / 32767^2        q = int16 quantized embedding, dot product in i32
//! candidate   <=> score >= T                 <=> q_p . q_x >= t_q, t_q the least integer with t_q / 32767^2 >= T
//! ```
//!
//! The dot product is exact integer arithmetic: every |q_i| <= 32767, and by Cauchy-Schwarz the
//! sum (and every partial sum, in any order) is at most (32767 + sqrt(d)/2)^2 < 2^31 for
//! d <= 4096. So the same inputs give the same integer on every CPU, with any vector width and
//! any summation order. Score resolution: 1/32767^2 = 9.3e-10 per unit; quantization moves a
//! score by at most 0.5 sqrt(d) / 32767 (3.5e-4 at d = 512), typically 1.3e-5.
//!
//! Invariants: the kernel never allocates per comparison; mate detections are excluded from
//! every non-mate count; ties count against the mate (pessimistic rank).

use crate::population::{GalleryLayout, Population, QUANT_SCALE, Tile};
use crate::rng::{Domain, StreamKey};
use crate::scenario::Scenario;
use crate::tally::{Candidate, ProbeTally, Tally};
use ndarray::Array2;

/// Exact integer dot product of two quantized embeddings.
#[inline]
pub fn dot(a: &[i16], b: &[i16]) -> i32 {
    // Eight independent lanes let the compiler vectorize; wrapping adds are exact here because
    // no partial sum can leave i32 (see the module docs).
    let mut lanes = [0i32; 16];
    let chunks_a = a.chunks_exact(16);
    let chunks_b = b.chunks_exact(16);
    let tail: i32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .fold(0i32, i32::wrapping_add);
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for l in 0..16 {
            lanes[l] = lanes[l].wrapping_add(i32::from(ca[l]) * i32::from(cb[l]));
        }
    }
    lanes.iter().fold(tail, |acc, &x| acc.wrapping_add(x))
}

/// The score value of an integer score.
pub fn score_value(q: i32) -> f64 {
    f64::from(q) / (QUANT_SCALE * QUANT_SCALE)
}

/// The least integer score whose value is >= `threshold`.
pub fn threshold_q(threshold: f64) -> i32 {
    let scale2 = QUANT_SCALE * QUANT_SCALE;
    let mut q = (threshold * scale2).ceil().clamp(-(scale2 + 1.0), scale2 + 1.0) as i32;
    while score_value(q - 1) >= threshold {
        q -= 1;
    }
    while score_value(q) < threshold {
        q += 1;
    }
    q
}

/// A mated probe's subject: the enrolled identity and its detections.
#[derive(Clone, Debug)]
pub struct Mate {
    /// Gallery identity.
    pub identity: u64,
    /// (gallery entry, integer score) of every detection of the identity, by entry.
    pub detections: Vec<(u64, i32)>,
}

/// The probes of one replicate.
#[derive(Clone, Debug)]
pub struct ProbeSet {
    /// Quantized probe embeddings, one row per probe: mated probes first, then non-mated.
    pub embeddings: Array2<i16>,
    /// Group of each probe.
    pub group: Vec<u16>,
    /// The mate of each mated probe (`None` for non-mated probes).
    pub mate: Vec<Option<Mate>>,
}

/// A mated probe's group has no enrolled identity in this replicate's gallery.
#[derive(Debug, thiserror::Error)]
#[error("replicate {replicate}: the gallery has no identity of group `{group}` to be the subject of a mated probe; raise gallery.detections or the group's gallery_share")]
pub struct NoEnrolledIdentity {
    /// Replicate.
    pub replicate: u32,
    /// Group name.
    pub group: String,
}

impl ProbeSet {
    /// Generates the probes of a replicate and scores each mated probe against its mate.
    ///
    /// # Errors
    /// [`NoEnrolledIdentity`] when a mated probe's group has no identity in the gallery.
    pub fn build(population: &Population<'_>, layout: &GalleryLayout, replicate: u32) -> Result<Self, NoEnrolledIdentity> {
        let s = population.scenario();
        let n_mated = u64::from(s.config.probes.mated);
        let n = s.n_probes();
        let choice = StreamKey::new(s.seed(), u64::from(replicate), Domain::ProbeChoice);
        let mut embeddings = Array2::<i16>::zeros((n, s.dim));
        let mut group = Vec::with_capacity(n);
        let mut mate = Vec::with_capacity(n);
        let mut noise = vec![0.0; s.noise_dim];
        for p in 0..n as u64 {
            let mut rng = choice.stream(p);
            let g = rng.categorical(&s.probe_group_cumulative) as u16;
            let template = if p < n_mated {
                // Draw enrolled identities until one of the probe's group; give up after far
                // more tries than the group's gallery share makes plausible.
                let max_tries = 1000 + (1000.0 / s.groups[g as usize].gallery_share.max(1e-9)) as u64;
                let identity = (0..max_tries)
                    .map(|_| rng.below(layout.identities))
                    .find(|&i| population.gallery_header(i).1 == g)
                    .ok_or_else(|| NoEnrolledIdentity { replicate, group: s.groups[g as usize].name.clone() })?;
                mate.push(Some(Mate { identity, detections: Vec::new() }));
                population.gallery_identity(identity).1
            } else {
                mate.push(None);
                population.probe_identity(p - n_mated, g)
            };
            let row = embeddings.row_mut(p as usize).into_slice().expect("contiguous row");
            population.capture(&template, false, p, row, &mut noise);
            group.push(g);
        }
        for (p, m) in mate.iter_mut().enumerate() {
            if let Some(m) = m {
                let tile = layout.generate_identity(population, m.identity);
                let probe = embeddings.row(p);
                let probe = probe.as_slice().expect("contiguous row");
                m.detections = tile
                    .embeddings
                    .rows()
                    .into_iter()
                    .enumerate()
                    .map(|(j, row)| (tile.first_entry + j as u64, dot(row.as_slice().expect("contiguous row"), probe)))
                    .collect();
            }
        }
        Ok(Self { embeddings, group, mate })
    }

    /// Number of mate detections of each probe (0 for non-mated probes).
    pub fn mate_counts(&self) -> Vec<usize> {
        self.mate.iter().map(|m| m.as_ref().map_or(0, |m| m.detections.len())).collect()
    }
}

/// What the kernel needs to know about thresholds, precomputed once.
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// Integer thresholds, ascending.
    pub q: Vec<i32>,
}

impl Thresholds {
    /// The integer thresholds of a scenario.
    pub fn of(scenario: &Scenario) -> Self {
        Self { q: scenario.thresholds.iter().map(|t| threshold_q(t.score)).collect() }
    }

    /// Index of the highest threshold that `score` reaches, if any.
    #[inline]
    fn bucket(&self, score: i32) -> Option<usize> {
        self.q.partition_point(|&t| t <= score).checked_sub(1)
    }
}

/// Searches every probe against one tile and adds the counts to `tally`.
pub fn search_tile(tile: &Tile, probes: &ProbeSet, thresholds: &Thresholds, tally: &mut Tally, scores: &mut Vec<i32>) {
    let n_groups = tally.entries_per_group.len();
    for &g in &tile.group {
        tally.entries_per_group[g as usize] += 1;
    }
    for (a, b) in tally.identities_per_group.iter_mut().zip(&tile.identities_per_group) {
        *a += b;
    }
    let k = tally.k;
    let t_min = thresholds.q.first().copied().unwrap_or(i32::MAX);
    for (p, probe_tally) in tally.probes.iter_mut().enumerate() {
        let probe = probes.embeddings.row(p);
        let probe = probe.as_slice().expect("contiguous row");
        scores.clear();
        scores.extend(tile.embeddings.rows().into_iter().map(|row| dot(row.as_slice().expect("contiguous row"), probe)));
        let mate = probes.mate[p].as_ref();
        let mate_identity = mate.map_or(u64::MAX, |m| m.identity);
        let mate_min = mate.and_then(|m| m.detections.iter().map(|d| d.1).min()).unwrap_or(i32::MAX);
        consume(tile, scores, mate_identity, mate, mate_min, t_min, thresholds, n_groups, k, probe_tally);
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn consume(
    tile: &Tile,
    scores: &[i32],
    mate_identity: u64,
    mate: Option<&Mate>,
    mate_min: i32,
    t_min: i32,
    thresholds: &Thresholds,
    n_groups: usize,
    k: usize,
    t: &mut ProbeTally,
) {
    // The current identity's best non-mate score, flushed into `ppl` when the identity ends.
    let mut current: Option<(u64, u16, i32)> = None;
    let flush = |current: Option<(u64, u16, i32)>, t: &mut ProbeTally| {
        if let Some((_, group, best)) = current {
            if let Some(b) = thresholds.bucket(best) {
                t.ppl[b * n_groups + group as usize] += 1;
            }
        }
    };
    let mut kth = if t.top.len() == k { t.top[k - 1].score } else { i32::MIN };
    for (j, &score) in scores.iter().enumerate() {
        let identity = tile.identity[j];
        let group = tile.group[j];
        let is_mate = identity == mate_identity;
        if score >= kth {
            t.offer(
                Candidate { score, entry: tile.first_entry + j as u64, identity, group, mate: is_mate },
                k,
            );
            if t.top.len() == k {
                kth = t.top[k - 1].score;
            }
        }
        if is_mate {
            continue;
        }
        t.max_nonmate = t.max_nonmate.max(score);
        match &mut current {
            Some((id, _, best)) if *id == identity => *best = (*best).max(score),
            _ => {
                flush(current, t);
                current = Some((identity, group, score));
            }
        }
        if score >= t_min {
            if let Some(b) = thresholds.bucket(score) {
                t.det[b * n_groups + group as usize] += 1;
            }
        }
        if score >= mate_min {
            if let Some(m) = mate {
                for (beaten, &(_, mate_score)) in t.beaten.iter_mut().zip(&m.detections) {
                    if score >= mate_score {
                        *beaten += 1;
                    }
                }
            }
        }
    }
    flush(current, t);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dot_is_exact(a in proptest::collection::vec(-32767i16..=32767, 0..70), seed in 0u64..1000) {
            let b: Vec<i16> = a.iter().enumerate().map(|(i, &x)| x.wrapping_mul(31).wrapping_add((i as u64 * seed) as i16 ) / 3).collect();
            let exact: i64 = a.iter().zip(&b).map(|(&x, &y)| i64::from(x) * i64::from(y)).sum();
            // Only compare when the exact value fits (the kernel's precondition on unit vectors).
            if exact.abs() < i64::from(i32::MAX) / 2 && a.iter().zip(&b).map(|(&x, &y)| (i64::from(x) * i64::from(y)).abs()).sum::<i64>() < i64::from(i32::MAX) {
                prop_assert_eq!(i64::from(dot(&a, &b)), exact);
            }
        }

        #[test]
        fn threshold_q_is_the_least_integer_reaching_the_threshold(t in -1.0f64..=1.0) {
            let q = threshold_q(t);
            prop_assert!(score_value(q) >= t);
            prop_assert!(score_value(q - 1) < t);
        }
    }

    #[test]
    fn bucket_is_the_highest_passed_threshold() {
        let t = Thresholds { q: vec![10, 20, 20, 30] };
        assert_eq!(t.bucket(9), None);
        assert_eq!(t.bucket(10), Some(0));
        assert_eq!(t.bucket(25), Some(2));
        assert_eq!(t.bucket(30), Some(3));
    }
}
