//! The int16 format's blocked kernel: a block of probes against a panel of gallery rows, for
//! CPUs with AVX2 or AVX-512.
//!
//! Gallery rows are packed in blocks of [`BLOCK_ROWS`] rows; within a block, for each pair of
//! components, 16 lanes of two 16-bit values (one lane per row). One `vpmaddwd` against a
//! probe's pair, broadcast, adds two products into each row's sum, so each lane holds a
//! whole row's dot product and no horizontal reduction is needed. On AVX2, six probes times
//! the two 8-row halves of a block keep 12 accumulators in registers; on AVX-512, twelve
//! probes times a panel of two blocks keep 24 (with VNNI, one `vpdpwssd` does the
//! multiply-add and the sum). Each gallery vector loaded serves six or twelve probes.
//!
//! The integers are those of [`super::dot`]: every product pair fits in i32 (2 x 32767^2 <
//! 2^31) and the sums wrap exactly as the other paths' do, so the results do not depend on
//! the path (module docs of `search`).

use super::Kernel;
use super::int8::PROBE_BLOCK;
use ndarray::Array2;

/// Rows of one packed block (one 512-bit vector of 32-bit lanes, two 256-bit ones).
pub const BLOCK_ROWS: usize = 16;
/// Blocks scored together by one pass of the fast kernel (its register block).
const PANEL_BLOCKS: usize = 2;
/// Probes per pass of the fast kernel.
const PASS_PROBES: usize = 6;

/// Components per row once padded to whole pairs.
fn padded(dim: usize) -> usize {
    dim.div_ceil(2) * 2
}

/// The probes of an int16 search for the blocked kernel: rows padded to whole pairs, and to
/// whole probe blocks with zero rows.
#[derive(Clone, Debug)]
pub struct Probes16 {
    /// Probes (without padding).
    pub len: usize,
    /// Components per row, padded to a multiple of 2.
    width: usize,
    /// Rows of `width` values, `len` rounded up to [`PROBE_BLOCK`] rows.
    data: Vec<i16>,
}

impl Probes16 {
    /// The padded copy of int16 probe rows.
    pub fn of(embeddings: &Array2<i16>) -> Self {
        let (len, dim) = embeddings.dim();
        let width = padded(dim);
        let mut data = vec![0i16; len.div_ceil(PROBE_BLOCK) * PROBE_BLOCK * width];
        for (p, row) in embeddings.rows().into_iter().enumerate() {
            data[p * width..p * width + dim]
                .iter_mut()
                .zip(row)
                .for_each(|(o, &x)| *o = x);
        }
        Self { len, width, data }
    }
}

/// Gallery rows packed for the blocked kernel.
#[derive(Clone, Debug)]
pub struct Packed16 {
    /// Rows (without padding).
    pub len: usize,
    /// Pairs of components per row.
    pairs: usize,
    /// Blocks, padded to whole panels with zero rows.
    blocks: usize,
    /// `blocks * pairs * 16` values.
    data: Vec<i16>,
}

/// [`Packed16::pack`] of a block of [`BLOCK_ROWS`] whole rows of even `dim`: the same
/// interleaving, one vector (a pair from each row) at a time, without per-element checks.
fn pack_full_block(block: &[i16], dim: usize, out: &mut [i16]) {
    let pairs = dim / 2;
    let rows: [&[[i16; 2]]; BLOCK_ROWS] =
        std::array::from_fn(|lane| block[lane * dim..(lane + 1) * dim].as_chunks::<2>().0);
    for (k, v) in out.chunks_exact_mut(2 * BLOCK_ROWS).take(pairs).enumerate() {
        let v: &mut [[i16; 2]] = v.as_chunks_mut::<2>().0;
        for (slot, row) in v.iter_mut().zip(&rows) {
            *slot = row[k];
        }
    }
}

impl Packed16 {
    /// Packs int16 rows (row-major, `dim` columns).
    pub fn pack(rows: &[i16], dim: usize) -> Self {
        let dim = dim.max(1);
        let len = rows.len() / dim;
        let pairs = padded(dim) / 2;
        let blocks = len.div_ceil(BLOCK_ROWS * PANEL_BLOCKS) * PANEL_BLOCKS;
        let mut data = vec![0i16; blocks * pairs * 2 * BLOCK_ROWS];
        // A block at a time: pair k of the block's row `lane` goes to lane `lane` of vector k.
        for (b, block) in rows.chunks(dim * BLOCK_ROWS).enumerate() {
            let out = &mut data[b * pairs * 2 * BLOCK_ROWS..(b + 1) * pairs * 2 * BLOCK_ROWS];
            if dim.is_multiple_of(2) && block.len() == dim * BLOCK_ROWS {
                pack_full_block(block, dim, out);
                continue;
            }
            for (lane, row) in block.chunks_exact(dim).enumerate() {
                for (k, two) in row.chunks(2).enumerate() {
                    let at = (k * BLOCK_ROWS + lane) * 2;
                    out[at] = two[0];
                    out[at + 1] = two.get(1).copied().unwrap_or(0);
                }
            }
        }
        Self {
            len,
            pairs,
            blocks,
            data,
        }
    }

    /// Blocks per chunk of about `bytes` (whole panels).
    pub fn chunk_blocks(&self, bytes: usize) -> usize {
        let panel = PANEL_BLOCKS * self.pairs * 4 * BLOCK_ROWS;
        (bytes / panel.max(1)).max(1) * PANEL_BLOCKS
    }

    /// Number of blocks, padding included (a multiple of the panel).
    pub fn blocks(&self) -> usize {
        self.blocks
    }
}

/// Scores probes `first_probe..first_probe + PROBE_BLOCK` against blocks `blocks` (a whole
/// number of panels) into `out`: probe `i` of the block, row `r` of the range at
/// `out[i * stride + r]`. The scores are exact dot products, as [`super::dot`] gives them.
pub fn score_block(
    kernel: Kernel,
    gallery: &Packed16,
    blocks: std::ops::Range<usize>,
    probes: &Probes16,
    first_probe: usize,
    out: &mut [i32],
    stride: usize,
) {
    assert_eq!(
        gallery.pairs * 2,
        probes.width,
        "gallery and probes differ in width"
    );
    assert!(blocks.end <= gallery.blocks && blocks.len().is_multiple_of(PANEL_BLOCKS));
    assert!((first_probe + PROBE_BLOCK) * probes.width <= probes.data.len());
    assert!(out.len() >= (PROBE_BLOCK - 1) * stride + blocks.len() * BLOCK_ROWS);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY (all three): the CPU has the features the function is compiled for; the
        // asserts above are the bounds its loads and stores rely on.
        if kernel == Kernel::Avx512 && crate::cpu::avx512() {
            if super::int8::vnni_available() {
                return unsafe {
                    x86::score_block_vnni(gallery, blocks, probes, first_probe, out, stride)
                };
            }
            return unsafe {
                x86::score_block_avx512(gallery, blocks, probes, first_probe, out, stride)
            };
        }
        if kernel != Kernel::Portable && crate::cpu::avx2() {
            return unsafe {
                x86::score_block_avx2(gallery, blocks, probes, first_probe, out, stride)
            };
        }
    }
    let _ = kernel;
    score_block_portable(gallery, blocks, probes, first_probe, out, stride);
}

/// The portable kernel: the same integers from the same layout.
fn score_block_portable(
    gallery: &Packed16,
    blocks: std::ops::Range<usize>,
    probes: &Probes16,
    first_probe: usize,
    out: &mut [i32],
    stride: usize,
) {
    let (pairs, width) = (gallery.pairs, probes.width);
    let first_block = blocks.start;
    for b in blocks {
        let g = &gallery.data[b * pairs * 2 * BLOCK_ROWS..(b + 1) * pairs * 2 * BLOCK_ROWS];
        for i in 0..PROBE_BLOCK {
            let p = first_probe + i;
            let probe = &probes.data[p * width..(p + 1) * width];
            let mut acc = [0i32; BLOCK_ROWS];
            for (lanes, two) in g.chunks_exact(2 * BLOCK_ROWS).zip(probe.chunks_exact(2)) {
                for (a, row) in acc.iter_mut().zip(lanes.chunks_exact(2)) {
                    let pair = i32::from(row[0]) * i32::from(two[0])
                        + i32::from(row[1]) * i32::from(two[1]);
                    *a = a.wrapping_add(pair);
                }
            }
            let at = i * stride + (b - first_block) * BLOCK_ROWS;
            out[at..at + BLOCK_ROWS].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK_ROWS, PANEL_BLOCKS, PASS_PROBES, PROBE_BLOCK, Packed16, Probes16};
    use std::arch::x86_64::*;

    /// Per block and pass: 6 probes x 16 rows in 12 accumulators; each step loads the two
    /// halves of one vector of gallery pairs and broadcasts one pair of each probe.
    #[target_feature(enable = "avx2")]
    pub(super) fn score_block_avx2(
        gallery: &Packed16,
        blocks: std::ops::Range<usize>,
        probes: &Probes16,
        first_probe: usize,
        out: &mut [i32],
        stride: usize,
    ) {
        let (pairs, width) = (gallery.pairs, probes.width);
        let first_block = blocks.start;
        for b in blocks {
            let g0 = gallery.data[b * pairs * 2 * BLOCK_ROWS..].as_ptr();
            for pass in (0..PROBE_BLOCK).step_by(PASS_PROBES) {
                let pr = probes.data[(first_probe + pass) * width..].as_ptr();
                let mut acc = [[_mm256_setzero_si256(); 2]; PASS_PROBES];
                for k in 0..pairs {
                    // SAFETY: block b holds `pairs` vectors of 32 values each, and each probe
                    // row of the pass holds `width = 2 pairs` values.
                    unsafe {
                        let x0 = _mm256_loadu_si256(g0.add(k * 32) as *const __m256i);
                        let x1 = _mm256_loadu_si256(g0.add(k * 32 + 16) as *const __m256i);
                        for (i, a) in acc.iter_mut().enumerate() {
                            let s = _mm256_set1_epi32(
                                (pr.add(i * width + 2 * k) as *const i32).read_unaligned(),
                            );
                            a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(x0, s));
                            a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(x1, s));
                        }
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    for (h, &v) in a.iter().enumerate() {
                        let at = (pass + i) * stride + (b - first_block) * BLOCK_ROWS + h * 8;
                        let dst = &mut out[at..at + 8];
                        // SAFETY: `dst` is 8 elements, one 256-bit store.
                        unsafe { _mm256_storeu_si256(dst.as_mut_ptr() as *mut __m256i, v) };
                    }
                }
            }
        }
    }

    /// The AVX-512 kernels, one body: per panel, 12 probes x 32 rows in 24 accumulators;
    /// each step loads one vector of gallery pairs from each of the panel's two blocks and
    /// broadcasts one pair of each probe; `$step(acc, x, s)` adds the pair products. (A macro,
    /// not a generic function: inline assembly on zmm registers needs the target features on
    /// the function that holds it.)
    macro_rules! zmm_kernel {
        ($(#[$doc:meta])* $name:ident, $features:literal, $step:expr) => {
            $(#[$doc])*
            #[target_feature(enable = $features)]
            pub(super) fn $name(
                gallery: &Packed16,
                blocks: std::ops::Range<usize>,
                probes: &Probes16,
                first_probe: usize,
                out: &mut [i32],
                stride: usize,
            ) {
                let (pairs, width) = (gallery.pairs, probes.width);
                let first_block = blocks.start;
                let pr = probes.data[first_probe * width..].as_ptr();
                for b in blocks.step_by(PANEL_BLOCKS) {
                    let g0 = gallery.data[b * pairs * 2 * BLOCK_ROWS..].as_ptr();
                    let mut acc = [[_mm512_setzero_si512(); PANEL_BLOCKS]; PROBE_BLOCK];
                    for k in 0..pairs {
                        // SAFETY: blocks b and b + 1 hold `pairs` vectors of 32 values each
                        // (b + 2 <= blocks), and each probe row of the block holds `width =
                        // 2 pairs` values.
                        unsafe {
                            let x0 = _mm512_loadu_si512(g0.add(k * 32) as *const __m512i);
                            let x1 =
                                _mm512_loadu_si512(g0.add((pairs + k) * 32) as *const __m512i);
                            for (i, a) in acc.iter_mut().enumerate() {
                                let s = _mm512_set1_epi32(
                                    (pr.add(i * width + 2 * k) as *const i32).read_unaligned(),
                                );
                                a[0] = $step(a[0], x0, s);
                                a[1] = $step(a[1], x1, s);
                            }
                        }
                    }
                    for (i, a) in acc.iter().enumerate() {
                        for (h, &v) in a.iter().enumerate() {
                            let at = i * stride + (b + h - first_block) * BLOCK_ROWS;
                            let dst = &mut out[at..at + BLOCK_ROWS];
                            // SAFETY: `dst` is 16 elements, one 512-bit store.
                            unsafe { _mm512_storeu_si512(dst.as_mut_ptr() as *mut __m512i, v) };
                        }
                    }
                }
            }
        };
    }

    zmm_kernel!(
        /// On AVX-512 without VNNI: `vpmaddwd` then `vpaddd`.
        score_block_avx512,
        "avx512f,avx512bw",
        |a, x, s| _mm512_add_epi32(a, _mm512_madd_epi16(x, s))
    );

    zmm_kernel!(
        /// With VNNI: one `vpdpwssd` (the same wrapping integers), written as inline assembly
        /// because the compiler, tuning for generic x86-64, splits the intrinsic back into
        /// `vpmaddwd` + `vpaddd`, two instructions on the same ports, half the rate.
        score_block_vnni,
        "avx512f,avx512bw,avx512vnni",
        |mut a: __m512i, x: __m512i, s: __m512i| {
            // (Inside the body's unsafe block: the function's features include VNNI, and the
            // instruction touches registers only.)
            std::arch::asm!(
                "vpdpwssd {a}, {x}, {s}",
                a = inout(zmm_reg) a,
                x = in(zmm_reg) x,
                s = in(zmm_reg) s,
                options(pure, nomem, nostack),
            );
            a
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_gives_the_exact_dot_products() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as i64 % 65535 - 32767) as i16
        };
        // Odd dimensions (a half pair), rows past whole panels, probes past whole blocks, and
        // the extreme values whose pair sums come closest to i32's range.
        for (dim, n_rows, n_probes) in [(77, 40, 13), (512, 33, 12), (128, 70, 25), (3, 5, 1)] {
            let mut g: Vec<i16> = (0..n_rows * dim).map(|_| next()).collect();
            let mut p: Vec<i16> = (0..n_probes * dim).map(|_| next()).collect();
            g[..2].fill(-32767);
            p[..2].fill(-32767);
            let probes = Probes16::of(&Array2::from_shape_vec((n_probes, dim), p.clone()).unwrap());
            let packed = Packed16::pack(&g, dim);
            let expected = |i: usize, r: usize| {
                super::super::dot(&g[r * dim..(r + 1) * dim], &p[i * dim..(i + 1) * dim])
            };
            crate::search::check_blocked_kernel(
                n_rows,
                n_probes,
                packed.blocks() * BLOCK_ROWS,
                |kernel, first, out, stride| {
                    score_block(
                        kernel,
                        &packed,
                        0..packed.blocks(),
                        &probes,
                        first,
                        out,
                        stride,
                    )
                },
                expected,
                &format!("d {dim}"),
            );
            // The AVX-512 kernel without VNNI, which `score_block` passes over on a VNNI CPU.
            #[cfg(target_arch = "x86_64")]
            if crate::cpu::avx512() {
                crate::search::check_blocked_kernel(
                    n_rows,
                    n_probes,
                    packed.blocks() * BLOCK_ROWS,
                    |_, first, out, stride| {
                        // SAFETY: the CPU has AVX-512 F and BW; whole panels, whole probe
                        // blocks and an output of PROBE_BLOCK strides, as `score_block` checks.
                        unsafe {
                            x86::score_block_avx512(
                                &packed,
                                0..packed.blocks(),
                                &probes,
                                first,
                                out,
                                stride,
                            )
                        }
                    },
                    expected,
                    &format!("d {dim}, AVX-512 without VNNI"),
                );
            }
        }
    }
}
