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

use crate::quantize::{Precision, threshold_q};
use crate::tally::{Candidate, ClusterSums, ProbeTally, Tally};
use ndarray::Array2;

pub mod blocked16;
mod int16;
pub mod int8;
mod probes;

pub use int16::{Kernel, dot};
pub use probes::{Mate, ProbeSet};

/// What the kernel needs to know about thresholds, precomputed once.
#[derive(Clone, Debug)]
pub struct Thresholds {
    /// Integer thresholds, ascending.
    pub q: Vec<i32>,
}

impl Thresholds {
    /// The integer thresholds of scores given in ascending order (a scenario's
    /// `thresholds()` scores).
    pub fn new(scores: impl IntoIterator<Item = f64>) -> Self {
        Self {
            q: scores.into_iter().map(threshold_q).collect(),
        }
    }

    /// Index of the highest threshold that `score` reaches, if any.
    #[inline]
    fn bucket(&self, score: i32) -> Option<usize> {
        self.q.partition_point(|&t| t <= score).checked_sub(1)
    }
}

/// Gallery entries of a tile, generated.
#[derive(Clone, Debug)]
pub struct Tile {
    /// Gallery index of the first entry.
    pub first_entry: u64,
    /// Quantized embeddings, one row per entry.
    pub embeddings: Array2<i16>,
    /// Identity of each entry.
    pub identity: Vec<u64>,
    /// Group of each entry.
    pub group: Vec<u16>,
    /// Identities of the tile per group (identities with at least one entry).
    pub identities_per_group: Vec<u64>,
}

impl Tile {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.identity.len()
    }

    /// True when the tile has no entry.
    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
    }
}

/// Bytes of gallery rows scored against every probe before moving on (fits in L1/L2, so each
/// row is read from memory once per tile, not once per probe).
const CHUNK_BYTES: usize = 32 * 1024;

/// The int8 path's chunk of packed rows (fits in L2 with the probes; each kernel panel of 32
/// rows is reused from L1 by a whole block of probes).
const CHUNK_BYTES_INT8: usize = 64 * 1024;

/// The blocked int16 path's chunk of packed rows.
const CHUNK_BYTES_INT16: usize = 32 * 1024;

/// A probe's progress through a tile: the identity whose detections are being read, with its
/// group and best non-mate score so far (flushed into the distinct-people counts and the
/// cluster sums when the identity ends).
type Current = Option<(u64, u16, i32)>;

/// Per tile: each gallery identity's counts summed over the non-mated searches of each probe
/// group (a *slot*), for the two-way cluster sums of [`crate::tally::ClusterSums`]; plus each
/// probe's per-threshold-bucket count of the identity it is reading.
struct IdentityCounts {
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
}

impl IdentityCounts {
    fn new(tile: &Tile, probes: &ProbeSet, n_t: usize, n_groups: usize) -> Self {
        let mut slot_of_group = vec![None; n_groups];
        let mut slot_group = Vec::new();
        let slot_of_probe = probes
            .group
            .iter()
            .zip(&probes.mate)
            .map(|(&g, m)| {
                if m.is_some() {
                    return None;
                }
                let g = usize::from(g);
                Some(*slot_of_group[g].get_or_insert_with(|| {
                    slot_group.push(g);
                    slot_group.len() - 1
                }))
            })
            .collect();
        let first = tile.identity.first().copied().unwrap_or(0);
        let locals = tile
            .identity
            .last()
            .map_or(0, |&l| (l - first + 1) as usize);
        let cells = locals * slot_group.len() * n_t;
        Self {
            first,
            n_t,
            slot_of_probe,
            slot_group,
            detections: vec![0; cells],
            searches: vec![0; cells],
            buckets: vec![0; probes.group.len() * n_t],
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
    fn finish(&self, tile: &Tile, sums: &mut ClusterSums) {
        let n_g = sums.size_sq.len();
        let slots = self.slot_group.len();
        let mut all = vec![(0u64, 0u64); self.n_t];
        let mut j = 0;
        while j < tile.len() {
            let identity = tile.identity[j];
            let h = usize::from(tile.group[j]);
            let start = j;
            while j < tile.len() && tile.identity[j] == identity {
                j += 1;
            }
            let m = (j - start) as u64;
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

/// Scores a block of probes (from the first given) against a range of packed row blocks,
/// writing probe `i`'s scores at `out[i * stride..]`.
type BlockScorer<'a> = dyn Fn(std::ops::Range<usize>, usize, &mut [i32], usize) + 'a;

/// Searches every probe against one tile and adds the counts to `tally`.
pub fn search_tile(
    tile: &Tile,
    probes: &ProbeSet,
    thresholds: &Thresholds,
    tally: &mut Tally,
    scores: &mut Vec<i32>,
) {
    let n_groups = tally.entries_per_group.len();
    for &g in &tile.group {
        tally.entries_per_group[g as usize] += 1;
    }
    for (a, b) in tally
        .identities_per_group
        .iter_mut()
        .zip(&tile.identities_per_group)
    {
        *a += b;
    }
    let k = tally.k;
    let kernel = Kernel::detect();
    let rows = tile
        .embeddings
        .as_slice()
        .expect("tiles are standard-layout arrays");
    let dim = tile.embeddings.ncols();
    let ctx = Context {
        tile,
        thresholds,
        t_min: thresholds.q.first().copied().unwrap_or(i32::MAX),
        n_groups,
        k,
    };
    let mut current: Vec<Current> = vec![None; tally.probes.len()];
    let mut counts = IdentityCounts::new(tile, probes, thresholds.q.len(), n_groups);
    let mut scratch = Scratch::default();
    // Per probe, once per tile: its mate's identity and lowest mate score (none: sentinels that
    // no entry reaches).
    let mates: Vec<MateKey> = probes
        .mate
        .iter()
        .map(|m| MateKey {
            mate: m.as_ref(),
            identity: m.as_ref().map_or(u64::MAX, |m| m.identity),
            min_score: m
                .as_ref()
                .and_then(|m| m.detections.iter().map(|d| d.1).min())
                .unwrap_or(i32::MAX),
        })
        .collect();
    // A block of probes against a chunk of packed rows, then each probe's scores consumed
    // while they are in cache.
    let mut blocked = |blocks: usize,
                       block_rows: usize,
                       chunk_blocks: usize,
                       n_probes: usize,
                       score: &BlockScorer| {
        let stride = chunk_blocks * block_rows;
        scores.resize(int8::PROBE_BLOCK * stride, 0);
        for b0 in (0..blocks).step_by(chunk_blocks) {
            let b1 = (b0 + chunk_blocks).min(blocks);
            let chunk_start = b0 * block_rows;
            let chunk_len = (b1 * block_rows).min(tile.len()) - chunk_start;
            let single = singles(&tile.identity, chunk_start..chunk_start + chunk_len);
            for first in (0..n_probes).step_by(int8::PROBE_BLOCK) {
                score(b0..b1, first, scores, stride);
                for i in 0..int8::PROBE_BLOCK.min(n_probes - first) {
                    let p = first + i;
                    ctx.consume(
                        chunk_start,
                        &scores[i * stride..i * stride + chunk_len],
                        &mates[p],
                        (p, &mut current[p]),
                        &mut tally.probes[p],
                        single,
                        &mut counts,
                        &mut scratch,
                    );
                }
            }
        }
    };
    if let Some(probes8) = &probes.int8 {
        let packed = int8::Packed8::pack(rows, dim);
        blocked(
            packed.blocks(),
            int8::BLOCK_ROWS,
            packed.chunk_blocks(CHUNK_BYTES_INT8),
            probes8.len,
            &|b, first, out, stride| {
                int8::score_block(kernel, &packed, b, probes8, first, out, stride);
            },
        );
    } else if kernel == Kernel::Avx2 {
        let packed = blocked16::Packed16::pack(rows, dim);
        let probes16 = blocked16::Probes16::of(&probes.embeddings);
        blocked(
            packed.blocks(),
            blocked16::BLOCK_ROWS,
            packed.chunk_blocks(CHUNK_BYTES_INT16),
            probes16.len,
            &|b, first, out, stride| {
                blocked16::score_block(kernel, &packed, b, &probes16, first, out, stride);
            },
        );
    } else {
        let chunk_rows = (CHUNK_BYTES / (2 * dim.max(1))).max(8);
        for chunk_start in (0..tile.len()).step_by(chunk_rows) {
            let chunk_end = (chunk_start + chunk_rows).min(tile.len());
            let chunk = &rows[chunk_start * dim..chunk_end * dim];
            let single = singles(&tile.identity, chunk_start..chunk_end);
            for (p, probe_tally) in tally.probes.iter_mut().enumerate() {
                let probe = probes.embeddings.row(p);
                kernel.score_rows(
                    chunk,
                    dim,
                    probe.as_slice().expect("contiguous row"),
                    scores,
                );
                ctx.consume(
                    chunk_start,
                    scores,
                    &mates[p],
                    (p, &mut current[p]),
                    probe_tally,
                    single,
                    &mut counts,
                    &mut scratch,
                );
            }
        }
    }
    for (p, (c, t)) in current.into_iter().zip(&mut tally.probes).enumerate() {
        ctx.flush(p, c, t, &mut counts);
    }
    counts.finish(tile, &mut tally.clusters);
}

/// Working memory of the branch-free counts, reused across chunks.
#[derive(Default)]
struct Scratch {
    bucket: Vec<u32>,
    row: Vec<u32>,
    hist: Vec<u32>,
}

/// True when the CPU has AVX-512 F, BW and VL (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
    })
}

/// True when the CPU has AVX2 (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx2"))
}

/// True when every row of `range` is its own identity in the tile.
fn singles(identity: &[u64], range: std::ops::Range<usize>) -> bool {
    let (start, end) = (range.start, range.end);
    (start.max(1)..end.min(identity.len()) + usize::from(end < identity.len()))
        .all(|j| identity[j] != identity[j - 1])
}

/// A probe's mate, as the consuming loop needs it.
struct MateKey<'a> {
    mate: Option<&'a Mate>,
    identity: u64,
    min_score: i32,
}

/// What consuming scores needs besides the scores.
struct Context<'a> {
    tile: &'a Tile,
    thresholds: &'a Thresholds,
    t_min: i32,
    n_groups: usize,
    k: usize,
}

impl Context<'_> {
    /// Adds the counts of probe `p`'s finished identity: its distinct-person count, the
    /// square of its detections at each threshold, and (non-mated probes) its detections and
    /// its being returned, to the identity's sums over searches.
    #[inline]
    fn flush(&self, p: usize, current: Current, t: &mut ProbeTally, counts: &mut IdentityCounts) {
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
                        entry: self.tile.first_entry + j as u64,
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
    fn consume(
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
                    self.count_singles_clusters(p, first, t, counts, scratch);
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
                        entry: tile.first_entry + j as u64,
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

/// For the blocked kernels' tests: scores every probe block of `n_probes` against all
/// `n_rows` rows with every kernel this CPU has (`score(kernel, first probe, out, stride)`,
/// with `stride` row slots per probe), and compares each score with `expected(probe, row)`.
#[cfg(test)]
pub(crate) fn check_blocked_kernel(
    n_rows: usize,
    n_probes: usize,
    stride: usize,
    score: impl Fn(Kernel, usize, &mut [i32], usize),
    expected: impl Fn(usize, usize) -> i32,
    what: &str,
) {
    let want: Vec<Vec<i32>> = (0..n_probes)
        .map(|p| (0..n_rows).map(|r| expected(p, r)).collect())
        .collect();
    for kernel in Kernel::available() {
        for first in (0..n_probes).step_by(int8::PROBE_BLOCK) {
            let mut out = vec![i32::MIN; int8::PROBE_BLOCK * stride];
            score(kernel, first, &mut out, stride);
            for i in 0..int8::PROBE_BLOCK.min(n_probes - first) {
                assert_eq!(
                    &out[i * stride..i * stride + n_rows],
                    &want[first + i][..],
                    "{what}: {kernel:?}, probe {}",
                    first + i
                );
            }
        }
    }
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
    }

    #[test]
    fn bucket_is_the_highest_passed_threshold() {
        let t = Thresholds {
            q: vec![10, 20, 20, 30],
        };
        assert_eq!(t.bucket(9), None);
        assert_eq!(t.bucket(10), Some(0));
        assert_eq!(t.bucket(25), Some(2));
        assert_eq!(t.bucket(30), Some(3));
    }
}
