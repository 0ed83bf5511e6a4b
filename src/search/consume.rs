//! Consuming a probe's scores into its tally: top-K, threshold buckets by group, distinct
//! people, the mate's rank, and each identity's counts for the cluster sums. Scores arrive a
//! chunk of tile rows at a time, from whichever kernel computed them.

use super::*;
use crate::tally::{Candidate, ClusterSums, ProbeTally};

/// A probe's progress through a tile: the identity whose detections are being read, with its
/// group and best non-mate score so far (flushed into the distinct-people counts and the
/// cluster sums when the identity ends).
pub(super) type Current = Option<(u64, u16, i32)>;

/// Per tile: each gallery identity's counts summed over the non-mated searches of each probe
/// group (a *slot*), for the two-way cluster sums of [`crate::tally::ClusterSums`]; plus each
/// probe's per-threshold-bucket count of the identity it is reading.
pub(super) struct IdentityCounts {
    /// First identity of the tile.
    first: u64,
    /// Thresholds.
    n_t: usize,
    /// The slot of each probe: its group's index among the groups with non-mated probes
    /// (None for mated probes).
    slot_of_probe: Vec<Option<usize>>,
    /// The group of each slot.
    slot_group: Vec<usize>,
    /// E: detections at or above threshold t, `[(local * slots + slot) * T + t]`.
    detections: Vec<u32>,
    /// P: searches returning the identity at threshold t, same layout.
    searches: Vec<u32>,
    /// Per probe, the current identity's detections by highest passed threshold: `[p * T + b]`.
    buckets: Vec<u32>,
    /// [`ProbeSet::cluster_sums`]: when false, no slots, no cells, and nothing is summed.
    enabled: bool,
}

impl IdentityCounts {
    pub(super) fn new(tile: &Tile, probes: &ProbeSet, n_t: usize, n_groups: usize) -> Self {
        let mut slot_of_group = vec![None; n_groups];
        let mut slot_group = Vec::new();
        let slot_of_probe = probes
            .group
            .iter()
            .zip(&probes.mate)
            .map(|(&g, m)| {
                if m.is_some() || !probes.cluster_sums {
                    return None;
                }
                let g = usize::from(g);
                Some(*slot_of_group[g].get_or_insert_with(|| {
                    slot_group.push(g);
                    slot_group.len() - 1
                }))
            })
            .collect();
        let span = match &tile.sparse {
            Some(s) => s
                .identities
                .first()
                .map(|f| f.0)
                .zip(s.identities.last().map(|l| l.0)),
            None => tile
                .identity
                .first()
                .copied()
                .zip(tile.identity.last().copied()),
        };
        let (first, locals) = span.map_or((0, 0), |(f, l)| (f, (l - f + 1) as usize));
        let cells = locals * slot_group.len() * n_t;
        Self {
            first,
            n_t,
            slot_of_probe,
            slot_group,
            detections: vec![0; cells],
            searches: vec![0; cells],
            buckets: vec![0; probes.group.len() * n_t],
            enabled: probes.cluster_sums,
        }
    }

    /// Where the counts of `identity` for the slot of probe `p` start, if `p` is non-mated.
    #[inline]
    fn at(&self, p: usize, identity: u64) -> Option<usize> {
        self.slot_of_probe[p].map(|slot| {
            ((identity - self.first) as usize * self.slot_group.len() + slot) * self.n_t
        })
    }

    /// Adds the sums of every identity of the tile to `sums`.
    pub(super) fn finish(&self, tile: &Tile, sums: &mut ClusterSums) {
        if !self.enabled {
            return;
        }
        let n_g = sums.size_sq.len();
        let slots = self.slot_group.len();
        let mut all = vec![(0u64, 0u64); self.n_t];
        for (identity, h, m) in identity_sizes(tile) {
            let h = usize::from(h);
            sums.size_sq[h] += m * m;
            *sums.sizes[h].entry(m).or_insert(0) += 1;
            if slots == 0 {
                continue;
            }
            all.iter_mut().for_each(|a| *a = (0, 0));
            let local = (identity - self.first) as usize;
            for (slot, &g) in self.slot_group.iter().enumerate() {
                let base = (local * slots + slot) * self.n_t;
                for (t, total) in all.iter_mut().enumerate() {
                    let e = u64::from(self.detections[base + t]);
                    let z = u64::from(self.searches[base + t]);
                    if e == 0 {
                        continue;
                    }
                    let c = sums.cell(g, t, h);
                    sums.detections_sq[c] += e * e;
                    sums.detections_by_size[c] += m * e;
                    sums.people_sq[c] += z * z;
                    total.0 += e;
                    total.1 += z;
                }
            }
            for (t, &(e, z)) in all.iter().enumerate() {
                if e > 0 {
                    let c = sums.cell(n_g, t, h);
                    sums.detections_sq[c] += e * e;
                    sums.detections_by_size[c] += m * e;
                    sums.people_sq[c] += z * z;
                }
            }
        }
    }
}

/// Every identity of a tile with its group and its detections in the tile (held rows or not).
fn identity_sizes(tile: &Tile) -> Box<dyn Iterator<Item = (u64, u16, u64)> + '_> {
    if let Some(sparse) = &tile.sparse {
        return Box::new(sparse.identities.iter().copied());
    }
    let mut j = 0;
    Box::new(std::iter::from_fn(move || {
        let identity = *tile.identity.get(j)?;
        let start = j;
        while j < tile.len() && tile.identity[j] == identity {
            j += 1;
        }
        Some((identity, tile.group[start], (j - start) as u64))
    }))
}

/// Scores per piece of the two-groups-at-once counts of `count_singles_generic`: each half
/// of a `u32` sum counts at most this many.
const PAIR_PIECE: usize = 65_535;

/// Scores per block that [`Context::offer_all`] skips at once when none reaches the K-th.
const OFFER_BLOCK: usize = 32;

/// Working memory of the branch-free counts, reused across chunks.
#[derive(Default)]
pub(super) struct Scratch {
    bucket: Vec<u32>,
    row: Vec<u32>,
    above: Vec<u32>,
    weights: Vec<u32>,
}

/// True when every row of `range` is its own identity in the tile.
pub(super) fn singles(identity: &[u64], range: std::ops::Range<usize>) -> bool {
    let (start, end) = (range.start, range.end);
    (start.max(1)..end.min(identity.len()) + usize::from(end < identity.len()))
        .all(|j| identity[j] != identity[j - 1])
}

/// A probe's mate, as the consuming loop needs it.
pub(super) struct MateKey<'a> {
    pub(super) mate: Option<&'a Mate>,
    pub(super) identity: u64,
    pub(super) min_score: i32,
}

/// What consuming scores needs besides the scores.
pub(super) struct Context<'a> {
    pub(super) tile: &'a Tile,
    pub(super) thresholds: &'a Thresholds,
    pub(super) t_min: i32,
    pub(super) n_groups: usize,
    pub(super) k: usize,
}

impl Context<'_> {
    /// Adds the counts of probe `p`'s finished identity: its distinct-person count, the
    /// square of its detections at each threshold, and (non-mated probes) its detections and
    /// its being returned, to the identity's sums over searches.
    #[inline]
    pub(super) fn flush(
        &self,
        p: usize,
        current: Current,
        t: &mut ProbeTally,
        counts: &mut IdentityCounts,
    ) {
        let Some((identity, group, best)) = current else {
            return;
        };
        let Some(b) = self.thresholds.bucket(best) else {
            return;
        };
        let g = self.n_groups;
        let h = group as usize;
        t.ppl[b * g + h] += 1;
        let n_t = counts.n_t;
        let at = counts.at(p, identity);
        let buckets = &mut counts.buckets[p * n_t..(p + 1) * n_t];
        if !counts.enabled {
            buckets[..=b].fill(0);
            return;
        }
        let mut y = 0u64;
        for k in (0..=b).rev() {
            y += u64::from(std::mem::take(&mut buckets[k]));
            t.sq[k * g + h] += y * y;
            if let Some(at) = at {
                counts.detections[at + k] += y as u32;
                counts.searches[at + k] += 1;
            }
        }
    }

    /// Offers every entry reaching the K-th score to the top-K list (no mate among them),
    /// skipping blocks of [`OFFER_BLOCK`] scores whose maximum (vectorized) is below it.
    #[inline]
    fn offer_all(&self, first: usize, scores: &[i32], kth: &mut i32, t: &mut ProbeTally) {
        for (block, scores) in scores.chunks(OFFER_BLOCK).enumerate() {
            if scores.iter().copied().max().unwrap_or(i32::MIN) < *kth {
                continue;
            }
            self.offer_block(first + block * OFFER_BLOCK, scores, kth, t);
        }
    }

    /// [`Context::offer_all`] for one block, entry by entry.
    #[inline]
    fn offer_block(&self, first: usize, scores: &[i32], kth: &mut i32, t: &mut ProbeTally) {
        for (offset, &score) in scores.iter().enumerate() {
            if score >= *kth {
                let j = first + offset;
                t.offer(
                    Candidate {
                        score,
                        entry: self.tile.entry(j),
                        identity: self.tile.identity[j],
                        group: self.tile.group[j],
                        mate: false,
                    },
                    self.k,
                );
                if t.top.len() == self.k {
                    *kth = t.top[self.k - 1].score;
                }
            }
        }
    }

    /// Adds entries and people by (highest passed threshold, group), for rows that are each
    /// their own identity and no mate; `listed` keeps the passing entries in `scratch` for
    /// [`Context::count_singles_clusters`] (see `count_singles_generic`). Compiled for AVX-512 or AVX2
    /// where the CPU has it (integer operations only, so the counts are the same).
    fn count_singles(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
        listed: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx512() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { self.count_singles_avx512(first, scores, t, scratch, listed) };
        }
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: as above.
            return unsafe { self.count_singles_avx2(first, scores, t, scratch, listed) };
        }
        self.count_singles_generic(first, scores, t, scratch, listed);
    }

    /// The cluster sums of the entries `count_singles` passed (each its own identity, so
    /// Y = 1 at every threshold it reaches): the squares, and (non-mated probes) the
    /// identity's counts over searches.
    #[inline]
    fn count_singles_clusters(
        &self,
        p: usize,
        first: usize,
        t: &mut ProbeTally,
        counts: &mut IdentityCounts,
        scratch: &Scratch,
    ) {
        let g = self.n_groups;
        for (&key, &j) in scratch.bucket.iter().zip(&scratch.row) {
            let (b, h) = ((key as usize) / g, (key as usize) % g);
            for k in 0..b {
                t.sq[k * g + h] += 1;
            }
            if let Some(at) = counts.at(p, self.tile.identity[first + j as usize]) {
                for k in 0..b {
                    counts.detections[at + k] += 1;
                    counts.searches[at + k] += 1;
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    fn count_singles_avx512(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
        listed: bool,
    ) {
        self.count_singles_generic(first, scores, t, scratch, listed);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn count_singles_avx2(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
        listed: bool,
    ) {
        self.count_singles_generic(first, scores, t, scratch, listed);
    }

    /// The counts of [`Context::count_singles`], by bucket in `scratch.above`, then added. With
    /// `listed` (the cluster sums need each passing entry) the entries past the lowest
    /// threshold are compacted into `scratch` and counted from there; without, each
    /// threshold and pair of groups takes one branch-free sum over the chunk,
    /// `C[t][h] = #{j : s_j >= q_t, group_j = h}` for both groups of the pair, and the
    /// buckets are the differences `C[t] - C[t + 1]`.
    #[inline(always)]
    fn count_singles_generic(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
        listed: bool,
    ) {
        let g = self.n_groups;
        let q = &self.thresholds.q;
        scratch.above.clear();
        scratch.above.resize((q.len() + 1) * g, 0);
        if listed {
            self.passing_singles(first, scores, scratch);
            // Keys are `b * g + h` with b >= 1 thresholds passed: bucket b - 1 of group h.
            for &key in &scratch.bucket {
                scratch.above[key as usize - g] += 1;
            }
        } else {
            // Two groups per pass: weight 1 for the first, 1 << 16 for the second, 0 for the
            // rest, so one masked sum counts both in its halves (pieces of at most 65,535
            // scores: neither half can carry into the other).
            let above = &mut scratch.above;
            let groups = &self.tile.group[first..first + scores.len()];
            let weights = &mut scratch.weights;
            for (c, pair) in (0..g).step_by(2).zip((0u16..).step_by(2)) {
                for (scores, groups) in scores.chunks(PAIR_PIECE).zip(groups.chunks(PAIR_PIECE)) {
                    weights.clear();
                    weights.extend(
                        groups
                            .iter()
                            .map(|&gr| u32::from(gr == pair) | (u32::from(gr == pair + 1) << 16)),
                    );
                    for (b, &q) in q.iter().enumerate() {
                        let both: u32 = scores
                            .iter()
                            .zip(weights.iter())
                            .map(|(&s, &w)| if s >= q { w } else { 0 })
                            .sum();
                        above[b * g + c] += both & 0xffff;
                        if c + 1 < g {
                            above[b * g + c + 1] += both >> 16;
                        }
                    }
                }
            }
            // Counts at or above each threshold to counts by bucket: C[t] - C[t + 1] (C[t + 1]
            // is still a count at or above when it is subtracted).
            for i in 0..q.len() * g {
                above[i] -= above[i + g];
            }
        }
        for (i, &c) in scratch.above[..q.len() * g].iter().enumerate() {
            t.det[i] += u64::from(c);
            t.ppl[i] += u64::from(c);
        }
    }

    /// The entries of a chunk of singles past the lowest threshold, compacted without
    /// branches into `scratch`: `bucket` holds `b * groups + group` (b >= 1 thresholds
    /// passed), `row` the entry's offset in the chunk.
    #[inline(always)]
    fn passing_singles(&self, first: usize, scores: &[i32], scratch: &mut Scratch) {
        let g = self.n_groups;
        let n = scores.len();
        let groups = &self.tile.group[first..first + n];
        let key = &mut scratch.bucket;
        key.clear();
        key.resize(n, 0);
        for &q in &self.thresholds.q {
            for (b, &s) in key.iter_mut().zip(scores) {
                *b += u32::from(s >= q);
            }
        }
        let row = &mut scratch.row;
        row.clear();
        row.resize(n, 0);
        let mut passing = 0;
        for j in 0..n {
            let b = key[j];
            key[passing] = b * g as u32 + u32::from(groups[j]);
            row[passing] = j as u32;
            passing += usize::from(b != 0);
        }
        row.truncate(passing);
        key.truncate(passing);
    }

    /// Tallies the scores of tile rows `first..first + scores.len()` for one probe. `singles`:
    /// every row of the range is its own identity (not shared with a neighbour, in or out of
    /// the range).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn consume(
        &self,
        first: usize,
        scores: &[i32],
        key: &MateKey<'_>,
        (p, current): (usize, &mut Current),
        t: &mut ProbeTally,
        singles: bool,
        counts: &mut IdentityCounts,
        scratch: &mut Scratch,
    ) {
        let (tile, n_groups, k) = (self.tile, self.n_groups, self.k);
        let (mate, mate_identity, mate_min) = (key.mate, key.identity, key.min_score);
        let mut kth = if t.top.len() == k {
            t.top[k - 1].score
        } else {
            i32::MIN
        };
        // Below `interest` an entry changes nothing but the non-mate maximum: not the top-K, no
        // threshold count, no mate rank, and no identity's count (its detections are
        // contiguous, so skipping some of them never splits an identity's tally).
        let interest = |kth: i32| kth.min(self.t_min).min(mate_min);
        let last = first + scores.len() - 1;
        let mate_inside =
            tile.identity[first] <= mate_identity && mate_identity <= tile.identity[last];
        if !mate_inside {
            let chunk_max = scores.iter().copied().max().unwrap_or(i32::MIN);
            if chunk_max < interest(kth) {
                t.max_nonmate = t.max_nonmate.max(chunk_max);
                return;
            }
            if singles && chunk_max < mate_min {
                // One entry per identity, none of them beating a mate: each entry is a person,
                // so both counts take the same branch-free counts.
                self.flush(p, current.take(), t, counts);
                t.max_nonmate = t.max_nonmate.max(chunk_max);
                if chunk_max >= kth {
                    self.offer_all(first, scores, &mut kth, t);
                }
                if chunk_max >= self.t_min {
                    self.count_singles(first, scores, t, scratch, counts.enabled);
                    if counts.enabled {
                        self.count_singles_clusters(p, first, t, counts, scratch);
                    }
                }
                return;
            }
        }
        for (offset, &score) in scores.iter().enumerate() {
            let j = first + offset;
            let identity = tile.identity[j];
            let is_mate = identity == mate_identity;
            if score < interest(kth) {
                if !is_mate {
                    t.max_nonmate = t.max_nonmate.max(score);
                }
                continue;
            }
            let group = tile.group[j];
            if score >= kth {
                t.offer(
                    Candidate {
                        score,
                        entry: tile.entry(j),
                        identity,
                        group,
                        mate: is_mate,
                    },
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
            match current {
                Some((id, _, best)) if *id == identity => *best = (*best).max(score),
                _ => {
                    self.flush(p, current.take(), t, counts);
                    *current = Some((identity, group, score));
                }
            }
            if score >= self.t_min
                && let Some(b) = self.thresholds.bucket(score)
            {
                t.det[b * n_groups + group as usize] += 1;
                counts.buckets[p * counts.n_t + b] += 1;
            }
            if score >= mate_min
                && let Some(m) = mate
            {
                for (beaten, &(_, mate_score)) in t.beaten.iter_mut().zip(&m.detections) {
                    if score >= mate_score {
                        *beaten += 1;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of counting a chunk of singles (the compacted list the cluster sums need,
    /// and the per-threshold counts without it) give each entry's (highest passed threshold,
    /// group) as a lookup entry by entry does, on every kernel's target features, with tied
    /// thresholds and scores right at them; and in a chunk long enough (140,000 scores, most
    /// of them high) that one group's count would overflow its half of a `u32` sum without
    /// the pieces.
    #[test]
    fn both_counts_of_singles_are_the_bucket_of_each_entry() {
        for (n, n_groups, high) in [(517, 3, false), (140_000, 2, true)] {
            check_counts_of_singles(n, n_groups, high);
        }
    }

    fn check_counts_of_singles(n: usize, n_groups: usize, high: bool) {
        let thresholds = Thresholds {
            q: vec![-5, 0, 0, 7, 40],
        };
        let scores: Vec<i32> = (0..n as i64)
            .map(|j| match high {
                true if j % 10 != 0 => 50,
                _ => ((j * 7919 + 13) % 97 - 40) as i32,
            })
            .collect();
        let tile = Tile {
            first_entry: 0,
            embeddings: ndarray::Array2::zeros((n, 1)),
            identity: (0..n as u64).collect(),
            group: (0..n).map(|j| ((j * 31) % 7 % n_groups) as u16).collect(),
            identities_per_group: vec![0; n_groups],
            sparse: None,
        };
        let context = Context {
            tile: &tile,
            thresholds: &thresholds,
            t_min: -5,
            n_groups,
            k: 3,
        };
        let n_t = thresholds.q.len();
        for listed in [false, true] {
            for first in [0, 5] {
                let chunk = &scores[first..];
                let mut want = vec![0u64; n_t * n_groups];
                for (j, &s) in chunk.iter().enumerate() {
                    if let Some(b) = thresholds.bucket(s) {
                        want[b * n_groups + usize::from(tile.group[first + j])] += 1;
                    }
                }
                let mut t = ProbeTally::new(n_t, n_groups, 0);
                let mut scratch = Scratch::default();
                context.count_singles(first, chunk, &mut t, &mut scratch, listed);
                assert_eq!(t.det, want, "listed {listed}, first {first}");
                assert_eq!(t.ppl, want, "listed {listed}, first {first}");
                // The generic code, whatever the dispatch above chose.
                let mut g = ProbeTally::new(n_t, n_groups, 0);
                context.count_singles_generic(first, chunk, &mut g, &mut scratch, listed);
                assert_eq!(g.det, want);
                if listed {
                    let passing = chunk.iter().filter(|&&s| s >= -5).count();
                    assert_eq!(scratch.row.len(), passing);
                }
            }
        }
    }
}
