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

#[cfg(target_arch = "x86_64")]
use crate::cpu::{avx2, avx512};
use crate::quantize::{Precision, threshold_q};
use crate::tally::Tally;
use ndarray::Array2;

pub mod blocked16;
mod consume;
mod int16;
pub mod int8;
mod probes;

pub use int16::{Kernel, dot};
pub use probes::{Mate, ProbeSet};

use consume::{Context, Current, IdentityCounts, MateKey, Scratch, singles};

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
    /// Set when the rows are only some of the tile's entries (the screened generator): the
    /// rest score below every probe's lowest threshold, so no count can see them.
    pub sparse: Option<Sparse>,
}

/// What a sparse tile says about the entries it does not hold.
#[derive(Clone, Debug, Default)]
pub struct Sparse {
    /// Gallery index of each row (ascending).
    pub entry: Vec<u64>,
    /// Entries of the whole tile per group.
    pub entries_per_group: Vec<u64>,
    /// Every identity of the tile, held or not: (identity, group, detections in the tile),
    /// by identity.
    pub identities: Vec<(u64, u16, u64)>,
}

impl Tile {
    /// Gallery index of row `j`.
    #[inline]
    pub fn entry(&self, j: usize) -> u64 {
        match &self.sparse {
            Some(s) => s.entry[j],
            None => self.first_entry + j as u64,
        }
    }

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

/// The blocked kernels' chunk of packed rows, int8 and int16 alike (fits in L2 with the
/// probes; each kernel panel of 32 rows is reused from L1 by a whole block of probes).
/// Larger chunks mean fewer, longer passes of the score consumption per probe, whose fixed
/// cost per pass dominated at 32 and 64 KB (benches/README.md, 2026-12-07).
pub const BLOCKED_CHUNK_BYTES: usize = 256 * 1024;

/// Scores a block of probes (from the first given) against a range of packed row blocks,
/// writing probe `i`'s scores at `out[i * stride..]`.
type BlockScorer<'a> = dyn Fn(std::ops::Range<usize>, usize, &mut [i32], usize) + 'a;

/// Adds a tile's entries and identities per group to the tally's sizes.
fn add_tile_sizes(tile: &Tile, tally: &mut Tally) {
    match &tile.sparse {
        Some(sparse) => {
            for (a, b) in tally
                .entries_per_group
                .iter_mut()
                .zip(&sparse.entries_per_group)
            {
                *a += b;
            }
        }
        None => {
            for &g in &tile.group {
                tally.entries_per_group[g as usize] += 1;
            }
        }
    }
    for (a, b) in tally
        .identities_per_group
        .iter_mut()
        .zip(&tile.identities_per_group)
    {
        *a += b;
    }
}

/// Searches every probe against one tile and adds the counts to `tally`.
pub fn search_tile(
    tile: &Tile,
    probes: &ProbeSet,
    thresholds: &Thresholds,
    tally: &mut Tally,
    scores: &mut Vec<i32>,
) {
    let n_groups = tally.entries_per_group.len();
    add_tile_sizes(tile, tally);
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
            packed.chunk_blocks(BLOCKED_CHUNK_BYTES),
            probes8.len,
            &|b, first, out, stride| {
                int8::score_block(kernel, &packed, b, probes8, first, out, stride);
            },
        );
    } else if kernel != Kernel::Portable {
        let packed = blocked16::Packed16::pack(rows, dim);
        let probes16 = blocked16::Probes16::of(&probes.embeddings);
        blocked(
            packed.blocks(),
            blocked16::BLOCK_ROWS,
            packed.chunk_blocks(BLOCKED_CHUNK_BYTES),
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
