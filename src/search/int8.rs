//! The int8 number format: a faster search that keeps the bit-for-bit promise but trades
//! resolution.
//!
//! ```text
//! f(x)   = max_i |q_i| / 127                 q = the int16 quantized embedding (round(32767 x))
//! Q_i    = round(q_i / f(x))                 in [-127, 127], ties away from zero (integer arithmetic)
//! s(p,x) = round_even(f32(Q_p . Q_x) * f(p) * f(x))     in the int16 path's units (32767^2 = 1.0)
//! ```
//!
//! The dot product of two int8 vectors is exact in i32 (at most 127^2 d). The rescaling is two
//! IEEE single-precision multiplications in a fixed order and one round-to-nearest-even, which
//! give the same bits on every CPU and in every vector width, so int8 results are as
//! reproducible as int16 ones. Only the resolution changes: each component moves by at most
//! f(x)/2 (in int16 units), so for unit vectors a score moves by at most about
//! `sqrt(d) max|x_i| / 127` and typically by `max|x_i| / (127 sqrt(6))` (about 5e-4 for random
//! directions at d = 512). Scores keep the int16 path's integer units, so thresholds, tallies
//! and reports are shared.
//!
//! The fast path (AVX-512 VNNI `vpdpbusd`) multiplies unsigned bytes by signed bytes: gallery
//! components are stored as `Q + 128` and the dot product corrected by `128 sum(Q_p)`, exactly.
//! Gallery rows are packed in blocks of 16 rows, four components of each row per 32-bit lane,
//! so one instruction adds four products into each of 16 rows' sums and no horizontal
//! reduction is needed. CPUs with AVX2 but without VNNI widen the same bytes to 16 bits and
//! multiply pairs (`vpmaddwd`, two products per 32-bit lane, exact) against the probes' 16-bit
//! copy, adding the two half-sums of each row once per panel. The portable path computes the
//! same integers from the same layout.

use super::Kernel;
use ndarray::Array2;

/// Rows of one packed block (one 512-bit vector of 32-bit lanes).
pub const BLOCK_ROWS: usize = 16;
/// Probes scored together by one call of the fast kernel (its register block).
pub const PROBE_BLOCK: usize = 12;
/// Blocks scored together by one call of the fast kernel (its register block).
const PANEL_BLOCKS: usize = 2;
/// The offset that makes a signed component an unsigned byte.
const OFFSET: i32 = 128;

/// Requantizes one int16 row to int8 into `out` (same length or longer; the rest is zeroed) and
/// returns its factor f = max |q| / 127 (0 for the zero vector).
#[inline(always)]
pub fn requantize(row: &[i16], out: &mut [i8]) -> f32 {
    let m = row.iter().map(|&q| i32::from(q).abs()).max().unwrap_or(0);
    out.fill(0);
    if m == 0 {
        return 0.0;
    }
    let inv_m = 1.0 / f64::from(m);
    for (o, &q) in out.iter_mut().zip(row) {
        let num = i32::from(q) * 127;
        *o = (num.signum() * round_quotient(num.abs(), m, inv_m)) as i8;
    }
    m as f32 / 127.0
}

/// round(n / m) for 0 <= n <= 127 m, ties up: the same integer as `(2n + m) / (2m)`, without
/// an integer division the compiler cannot vectorize. The estimate from the reciprocal is off
/// by at most one (its error is below 1e-13), and the integer test `(2r - 1) m <= 2n <
/// (2r + 1) m` puts it right.
#[inline(always)]
fn round_quotient(n: i32, m: i32, inv_m: f64) -> i32 {
    // SAFETY: 0 <= n inv_m + 0.5 <= 127.5 + 1e-13, finite and far inside i32.
    let r = unsafe { (f64::from(n) * inv_m + 0.5).to_int_unchecked::<i32>() };
    let (n2, lo, hi) = (2 * n, (2 * r - 1) * m, (2 * r + 1) * m);
    r + i32::from(n2 >= hi) - i32::from(n2 < lo)
}

/// The score of an int8 dot product, in the int16 path's integer units.
#[inline(always)]
pub fn rescale(dot: i32, f_probe: f32, f_row: f32) -> i32 {
    ((dot as f32) * f_probe * f_row).round_ties_even() as i32
}

/// Exact dot product of two int8 vectors.
#[inline(always)]
pub fn dot8(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Components per row once padded to whole 32-bit lanes.
fn padded(dim: usize) -> usize {
    dim.div_ceil(4) * 4
}

/// The probes of a search in int8, padded to whole probe blocks with zero rows.
#[derive(Clone, Debug)]
pub struct Probes8 {
    /// Probes (without padding).
    pub len: usize,
    /// Components per row, padded to a multiple of 4.
    width: usize,
    /// Int8 rows, `width` each, `len` rounded up to [`PROBE_BLOCK`] rows.
    data: Vec<i8>,
    /// The same values widened to 16 bits (the AVX2 kernel's multiplier).
    wide: Vec<i16>,
    /// The same values by panel, for the VNNI kernel: for each block of [`PROBE_BLOCK`]
    /// probes and each group of four components, the block's four bytes side by side
    /// (`[block][quad][probe of the block][4]`), so one pointer and constant offsets reach
    /// every broadcast of a step.
    panels: Vec<i8>,
    /// Factor of each row.
    factor: Vec<f32>,
    /// `128 sum(Q)` of each row: what the unsigned gallery bytes add.
    correction: Vec<i32>,
}

impl Probes8 {
    /// The int8 form of int16 probe rows.
    pub fn of(embeddings: &Array2<i16>) -> Self {
        let (len, dim) = embeddings.dim();
        let width = padded(dim);
        let rows = len.div_ceil(PROBE_BLOCK) * PROBE_BLOCK;
        let mut data = vec![0i8; rows * width];
        let mut factor = vec![0f32; rows];
        let mut correction = vec![0i32; rows];
        for (p, row) in embeddings.rows().into_iter().enumerate() {
            let out = &mut data[p * width..(p + 1) * width];
            factor[p] = requantize(row.as_slice().expect("standard layout"), out);
            correction[p] = OFFSET * out.iter().map(|&x| i32::from(x)).sum::<i32>();
        }
        let wide = data.iter().map(|&x| i16::from(x)).collect();
        let quads = width / 4;
        let mut panels = vec![0i8; rows * width];
        for (p, row) in data.chunks_exact(width).enumerate() {
            let (block, i) = (p / PROBE_BLOCK, p % PROBE_BLOCK);
            for (k, quad) in row.chunks_exact(4).enumerate() {
                let at = ((block * quads + k) * PROBE_BLOCK + i) * 4;
                panels[at..at + 4].copy_from_slice(quad);
            }
        }
        Self {
            len,
            width,
            data,
            wide,
            panels,
            factor,
            correction,
        }
    }

    /// Row `p` in int8 (padded) and its factor.
    pub fn row(&self, p: usize) -> (&[i8], f32) {
        (
            &self.data[p * self.width..(p + 1) * self.width],
            self.factor[p],
        )
    }

    /// The score of probe `p` against one int16 gallery row, as the kernel computes it.
    pub fn score(&self, p: usize, row: &[i16]) -> i32 {
        let mut q = vec![0i8; self.width];
        let f = requantize(row, &mut q);
        let (probe, fp) = self.row(p);
        rescale(dot8(probe, &q), fp, f)
    }
}

/// Gallery rows in int8, packed for the kernel: blocks of [`BLOCK_ROWS`] rows; within a block,
/// for each group of four components, 16 lanes of four unsigned bytes (`Q + 128`).
#[derive(Clone, Debug)]
pub struct Packed8 {
    /// Rows (without padding).
    pub len: usize,
    /// Groups of four components per row.
    quads: usize,
    /// Blocks, padded to whole kernel panels with zero rows.
    blocks: usize,
    /// `blocks * quads * 64` bytes.
    data: Vec<u8>,
    /// Factor of each row, `blocks * 16` (0 for padding).
    factor: Vec<f32>,
}

impl Packed8 {
    /// Packs int16 rows (row-major, `dim` columns). Compiled for AVX-512 or AVX2 where the CPU has it
    /// (integer and exact conversions only, so the bytes are the same).
    pub fn pack(rows: &[i16], dim: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx512() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { Self::pack_avx512(rows, dim) };
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2() {
            // SAFETY: as above.
            return unsafe { Self::pack_avx2(rows, dim) };
        }
        Self::pack_generic(rows, dim)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn pack_avx2(rows: &[i16], dim: usize) -> Self {
        Self::pack_generic(rows, dim)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    fn pack_avx512(rows: &[i16], dim: usize) -> Self {
        Self::pack_generic(rows, dim)
    }

    #[inline(always)]
    fn pack_generic(rows: &[i16], dim: usize) -> Self {
        let len = rows.len() / dim.max(1);
        let width = padded(dim);
        let quads = width / 4;
        let blocks = len.div_ceil(BLOCK_ROWS * PANEL_BLOCKS) * PANEL_BLOCKS;
        let mut data = vec![OFFSET as u8; blocks * quads * 64];
        let mut factor = vec![0f32; blocks * BLOCK_ROWS];
        let mut q = vec![0i8; width];
        for (r, row) in rows.chunks_exact(dim.max(1)).enumerate() {
            factor[r] = requantize(row, &mut q);
            let (block, lane) = (r / BLOCK_ROWS, r % BLOCK_ROWS);
            let base = block * quads * 64 + lane * 4;
            for (k, four) in q.chunks_exact(4).enumerate() {
                // Four offset bytes at once: adding 128 to a signed byte flips its top bit.
                let word = u32::from_le_bytes([
                    four[0] as u8,
                    four[1] as u8,
                    four[2] as u8,
                    four[3] as u8,
                ]) ^ 0x8080_8080;
                data[base + k * 64..base + k * 64 + 4].copy_from_slice(&word.to_le_bytes());
            }
        }
        Self {
            len,
            quads,
            blocks,
            data,
            factor,
        }
    }

    /// Blocks per chunk of about `bytes` (whole kernel panels).
    pub fn chunk_blocks(&self, bytes: usize) -> usize {
        let panel = PANEL_BLOCKS * self.quads * 64;
        (bytes / panel.max(1)).max(1) * PANEL_BLOCKS
    }

    /// Number of blocks, padding included (a multiple of the panel).
    pub fn blocks(&self) -> usize {
        self.blocks
    }
}

/// Scores probes `first_probe..first_probe + PROBE_BLOCK` against blocks `blocks` (a whole
/// number of panels) into `out`: probe `i` of the block, row `r` of the range at
/// `out[i * stride + r]`.
pub fn score_block(
    kernel: Kernel,
    gallery: &Packed8,
    blocks: std::ops::Range<usize>,
    probes: &Probes8,
    first_probe: usize,
    out: &mut [i32],
    stride: usize,
) {
    assert_eq!(
        gallery.quads * 4,
        probes.width,
        "gallery and probes differ in width"
    );
    assert!(blocks.end <= gallery.blocks && blocks.len().is_multiple_of(PANEL_BLOCKS));
    assert!(
        first_probe.is_multiple_of(PROBE_BLOCK) && first_probe + PROBE_BLOCK <= probes.factor.len()
    );
    assert!(out.len() >= (PROBE_BLOCK - 1) * stride + blocks.len() * BLOCK_ROWS);
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 && vnni_available() {
        // SAFETY: the CPU has the features the function is compiled for; the asserts above
        // are the bounds its loads and stores rely on.
        return unsafe { x86::score_block_vnni(gallery, blocks, probes, first_probe, out, stride) };
    }
    #[cfg(target_arch = "x86_64")]
    if matches!(kernel, Kernel::Avx2 | Kernel::Avx512) && crate::cpu::avx2() {
        // SAFETY: as above.
        return unsafe { x86::score_block_avx2(gallery, blocks, probes, first_probe, out, stride) };
    }
    let _ = kernel;
    score_block_portable(gallery, blocks, probes, first_probe, out, stride);
}

/// True when this CPU has AVX-512 VNNI (with F and BW).
pub fn vnni_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The portable kernel: the same integers from the same layout, one row block at a time.
fn score_block_portable(
    gallery: &Packed8,
    blocks: std::ops::Range<usize>,
    probes: &Probes8,
    first_probe: usize,
    out: &mut [i32],
    stride: usize,
) {
    let quads = gallery.quads;
    for (bi, b) in blocks.enumerate() {
        let g = &gallery.data[b * quads * 64..(b + 1) * quads * 64];
        let fx = &gallery.factor[b * BLOCK_ROWS..(b + 1) * BLOCK_ROWS];
        for i in 0..PROBE_BLOCK {
            let p = first_probe + i;
            let (probe, fp) = probes.row(p);
            let mut acc = [0i32; BLOCK_ROWS];
            for (four_g, four_p) in g.chunks_exact(64).zip(probe.chunks_exact(4)) {
                for (lane, a) in acc.iter_mut().enumerate() {
                    let bytes = &four_g[lane * 4..lane * 4 + 4];
                    *a += bytes
                        .iter()
                        .zip(four_p)
                        .map(|(&u, &s)| i32::from(u) * i32::from(s))
                        .sum::<i32>();
                }
            }
            let row_out = &mut out[i * stride + bi * BLOCK_ROWS..][..BLOCK_ROWS];
            for ((o, &a), &f) in row_out.iter_mut().zip(&acc).zip(fx) {
                *o = rescale(a - probes.correction[p], fp, f);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK_ROWS, PANEL_BLOCKS, PROBE_BLOCK, Packed8, Probes8};
    use std::arch::x86_64::*;

    /// Probes per pass of the AVX2 kernel (12 accumulators of 16 registers).
    const AVX2_PROBES: usize = 6;

    /// The AVX2 kernel: per pass, 6 probes x 8 rows in 12 accumulators. Each step widens 32
    /// gallery bytes (8 rows x 4 components) to two vectors of 16-bit values and multiplies
    /// them by four 16-bit components of each probe, broadcast; `vpmaddwd` adds the products
    /// in pairs, so each row's sum is split over two lanes until the pass ends. Every product
    /// and sum is an exact integer (at most 255 x 127 x 4096 in magnitude), so the result is
    /// the VNNI kernel's.
    #[target_feature(enable = "avx2")]
    pub(super) fn score_block_avx2(
        gallery: &Packed8,
        blocks: std::ops::Range<usize>,
        probes: &Probes8,
        first_probe: usize,
        out: &mut [i32],
        stride: usize,
    ) {
        let quads = gallery.quads;
        let width = probes.width;
        let first_block = blocks.start;
        for block in blocks {
            for half in 0..BLOCK_ROWS / 8 {
                let g = gallery.data[block * quads * 64 + half * 32..].as_ptr();
                let row0 = (block - first_block) * BLOCK_ROWS + half * 8;
                let fx = &gallery.factor[block * BLOCK_ROWS + half * 8..][..8];
                for pass in (0..PROBE_BLOCK).step_by(AVX2_PROBES) {
                    let pr = probes.wide[(first_probe + pass) * width..].as_ptr();
                    let mut acc = [[_mm256_setzero_si256(); 2]; AVX2_PROBES];
                    for k in 0..quads {
                        // SAFETY: quad k of the block holds 64 bytes from `g + 64 k - 32 half`,
                        // and each probe row of the pass holds `width = 4 quads` values.
                        unsafe {
                            let x0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(
                                g.add(k * 64) as *const __m128i
                            ));
                            let x1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(
                                g.add(k * 64 + 16) as *const __m128i
                            ));
                            for (i, a) in acc.iter_mut().enumerate() {
                                let s = _mm256_set1_epi64x(
                                    (pr.add(i * width + 4 * k) as *const i64).read_unaligned(),
                                );
                                a[0] = _mm256_add_epi32(a[0], _mm256_madd_epi16(x0, s));
                                a[1] = _mm256_add_epi32(a[1], _mm256_madd_epi16(x1, s));
                            }
                        }
                    }
                    for (i, a) in acc.iter().enumerate() {
                        let p = first_probe + pass + i;
                        let at = (pass + i) * stride + row0;
                        let dst = &mut out[at..at + 8];
                        // Rows 0, 1, 4, 5 | 2, 3, 6, 7 after the pairwise sums; the 64-bit
                        // permutation puts them in order.
                        let v = _mm256_permute4x64_epi64::<0xD8>(_mm256_hadd_epi32(a[0], a[1]));
                        let f = _mm256_mul_ps(
                            _mm256_mul_ps(
                                _mm256_cvtepi32_ps(_mm256_sub_epi32(
                                    v,
                                    _mm256_set1_epi32(probes.correction[p]),
                                )),
                                _mm256_set1_ps(probes.factor[p]),
                            ),
                            // SAFETY: `fx` is 8 elements, one 256-bit load.
                            unsafe { _mm256_loadu_ps(fx.as_ptr()) },
                        );
                        // SAFETY: `dst` is 8 elements, one 256-bit store.
                        unsafe {
                            _mm256_storeu_si256(
                                dst.as_mut_ptr() as *mut __m256i,
                                _mm256_cvtps_epi32(f),
                            );
                        }
                    }
                }
            }
        }
    }

    /// The fast kernel: per panel, 12 probes x 32 rows in 24 accumulators; each step loads
    /// two vectors of gallery bytes and broadcasts four bytes of each probe, all twelve from
    /// one pointer into the probes' panels (constant offsets: no address arithmetic per
    /// probe).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn score_block_vnni(
        gallery: &Packed8,
        blocks: std::ops::Range<usize>,
        probes: &Probes8,
        first_probe: usize,
        out: &mut [i32],
        stride: usize,
    ) {
        let quads = gallery.quads;
        let width = probes.width;
        let first_block = blocks.start;
        let pr = probes.panels[first_probe * width..].as_ptr();
        for b in blocks.step_by(PANEL_BLOCKS) {
            let g0 = gallery.data[b * quads * 64..].as_ptr();
            let mut acc = [[_mm512_setzero_si512(); PANEL_BLOCKS]; PROBE_BLOCK];
            for k in 0..quads {
                // SAFETY: blocks b and b + 1 hold `quads` vectors each (b + 2 <= blocks), and
                // the probe block's panel holds `quads` steps of PROBE_BLOCK x 4 bytes.
                unsafe {
                    let x0 = _mm512_loadu_si512(g0.add(k * 64) as *const __m512i);
                    let x1 = _mm512_loadu_si512(g0.add((quads + k) * 64) as *const __m512i);
                    let step = pr.add(k * PROBE_BLOCK * 4);
                    for (i, a) in acc.iter_mut().enumerate() {
                        let s = _mm512_set1_epi32((step.add(i * 4) as *const i32).read_unaligned());
                        a[0] = _mm512_dpbusd_epi32(a[0], x0, s);
                        a[1] = _mm512_dpbusd_epi32(a[1], x1, s);
                    }
                }
            }
            for (i, a) in acc.iter().enumerate() {
                let p = first_probe + i;
                let correction = _mm512_set1_epi32(probes.correction[p]);
                let fp = _mm512_set1_ps(probes.factor[p]);
                for (h, &v) in a.iter().enumerate() {
                    let block = b + h;
                    let fx = &gallery.factor[block * BLOCK_ROWS..(block + 1) * BLOCK_ROWS];
                    let at = i * stride + (block - first_block) * BLOCK_ROWS;
                    let dst = &mut out[at..at + BLOCK_ROWS];
                    // SAFETY: `fx` and `dst` are 16 elements, one 512-bit load or store.
                    unsafe {
                        let f = _mm512_mul_ps(
                            _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(v, correction)), fp),
                            _mm512_loadu_ps(fx.as_ptr()),
                        );
                        _mm512_storeu_si512(
                            dst.as_mut_ptr() as *mut __m512i,
                            _mm512_cvtps_epi32(f),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(seed: u64, n: usize, dim: usize) -> Vec<i16> {
        let mut state = seed;
        (0..n * dim)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as i64 % 6001 - 3000) as i16
            })
            .collect()
    }

    #[test]
    fn the_float_quotient_is_the_integer_one() {
        for m in [1, 2, 3, 127, 128, 255, 1000, 4097, 32766, 32767] {
            for n in 0..=127 * m {
                let r = round_quotient(n, m, 1.0 / f64::from(m));
                assert_eq!(r, (2 * n + m) / (2 * m), "{n} / {m}");
            }
        }
    }

    #[test]
    fn requantize_rounds_to_the_nearest_step() {
        let mut q = [0i8; 5];
        let f = requantize(&[254, -127, 1, 0, -254], &mut q);
        assert_eq!(q, [127, -64, 1, 0, -127]);
        assert_eq!(f, 2.0);
        assert_eq!(requantize(&[0, 0], &mut q), 0.0);
        assert_eq!(q, [0; 5]);
    }

    #[test]
    fn every_path_gives_the_same_scores_as_the_pair_formula() {
        // Dimensions with and without a partial group of four; rows past a whole block.
        for (dim, n_rows, n_probes) in [(77, 40, 13), (512, 33, 12), (128, 70, 25), (3, 5, 1)] {
            let g = rows(7, n_rows, dim);
            let p = rows(11, n_probes, dim);
            let probes = Probes8::of(&Array2::from_shape_vec((n_probes, dim), p.clone()).unwrap());
            let packed = Packed8::pack(&g, dim);
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
                |i, r| probes.score(i, &g[r * dim..(r + 1) * dim]),
                &format!("d {dim}"),
            );
            // The int8 score stays near the exact int16 one.
            let (probe, _) = (p.chunks(dim).next().unwrap(), ());
            for row in g.chunks(dim) {
                let exact = f64::from(super::super::dot(row, probe));
                let approx = f64::from(probes.score(0, row));
                let m = |v: &[i16]| v.iter().map(|&x| f64::from(x).abs()).fold(0.0, f64::max);
                let norm = |v: &[i16]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
                let bound = 0.5
                    * (m(row) / 127.0 * norm(probe) + m(probe) / 127.0 * norm(row))
                    * (dim as f64).sqrt()
                    + 0.25 * m(row) * m(probe) / 127.0_f64.powi(2) * dim as f64
                    + 2e-7 * approx.abs()
                    + 1.0;
                assert!((exact - approx).abs() <= bound, "{exact} {approx} {bound}");
            }
        }
    }
}
