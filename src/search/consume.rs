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

/// Working memory of the branch-free counts, reused across chunks.
#[derive(Default)]
pub(super) struct Scratch {
    bucket: Vec<u32>,
    row: Vec<u32>,
    hist: Vec<u32>,
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

    /// Offers every entry reaching the K-th score to the top-K list (no mate among them).
    #[inline]
    fn offer_all(&self, first: usize, scores: &[i32], kth: &mut i32, t: &mut ProbeTally) {
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
    /// their own identity and no mate: thresholds passed counted as a vector over the chunk,
    /// the entries passing any compacted without branches, then a histogram of those in four
    /// interleaved copies (no chain through one memory slot). Compiled for AVX-512 or AVX2
    /// where the CPU has it (integer operations only, so the counts are the same).
    fn count_singles(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
    ) {
        #[cfg(target_arch = "x86_64")]
        if avx512() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { self.count_singles_avx512(first, scores, t, scratch) };
        }
        #[cfg(target_arch = "x86_64")]
        if avx2() {
            // SAFETY: as above.
            return unsafe { self.count_singles_avx2(first, scores, t, scratch) };
        }
        self.count_singles_generic(first, scores, t, scratch);
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
    ) {
        self.count_singles_generic(first, scores, t, scratch);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn count_singles_avx2(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
    ) {
        self.count_singles_generic(first, scores, t, scratch);
    }

    #[inline(always)]
    fn count_singles_generic(
        &self,
        first: usize,
        scores: &[i32],
        t: &mut ProbeTally,
        scratch: &mut Scratch,
    ) {
        let g = self.n_groups;
        let nt = self.thresholds.q.len();
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
        // Compact (bucket, group) keys of the entries past the lowest threshold, with their
        // rows.
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
        let slots = (nt + 1) * g;
        let hist = &mut scratch.hist;
        hist.clear();
        hist.resize(4 * slots, 0);
        for (j, &k) in key[..passing].iter().enumerate() {
            hist[(j & 3) * slots + k as usize] += 1;
        }
        for b in 1..=nt {
            for h in 0..g {
                let c: u32 = (0..4).map(|w| hist[w * slots + b * g + h]).sum();
                t.det[(b - 1) * g + h] += u64::from(c);
                t.ppl[(b - 1) * g + h] += u64::from(c);
            }
        }
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
                // so both counts take the same branch-free histogram.
                self.flush(p, current.take(), t, counts);
                t.max_nonmate = t.max_nonmate.max(chunk_max);
                if chunk_max >= kth {
                    self.offer_all(first, scores, &mut kth, t);
                }
                if chunk_max >= self.t_min {
                    self.count_singles(first, scores, t, scratch);
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
