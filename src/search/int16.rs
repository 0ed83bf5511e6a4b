//! The int16 number format's kernels: exact i32 dot products of int16 embeddings, on AVX-512BW,
//! AVX2 or portable code, chosen at run time (see the parent module for the arithmetic).

/// Plain exact dot product, for the few components a vector loop leaves over.
#[inline(always)]
fn dot_scalar(a: &[i16], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .fold(0i32, i32::wrapping_add)
}

/// Exact integer dot product of two quantized embeddings (portable code; the compiler
/// vectorizes it for whatever instruction set the calling function is compiled for).
#[inline(always)]
pub fn dot(a: &[i16], b: &[i16]) -> i32 {
    // Sixteen independent lanes let the compiler vectorize; wrapping adds are exact here
    // because no partial sum can leave i32 (see the module docs).
    let mut lanes = [0i32; 16];
    let chunks_a = a.chunks_exact(16);
    let chunks_b = b.chunks_exact(16);
    let tail = dot_scalar(chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for l in 0..16 {
            lanes[l] = lanes[l].wrapping_add(i32::from(ca[l]) * i32::from(cb[l]));
        }
    }
    lanes.iter().fold(tail, |acc, &x| acc.wrapping_add(x))
}

#[inline(always)]
fn score_rows_generic(rows: &[i16], dim: usize, probe: &[i16], out: &mut Vec<i32>) {
    out.clear();
    out.extend(rows.chunks_exact(dim).map(|row| dot(row, probe)));
}

/// An instruction-set path of the scoring loop. Every path computes the same exact integers;
/// they differ only in speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Baseline instructions of the target (SSE2 on x86-64).
    Portable,
    /// AVX2 (x86-64).
    Avx2,
    /// AVX-512 F + BW (x86-64).
    Avx512,
}

impl Kernel {
    /// The fastest path this CPU supports (detected once). `FALSEMATCH_KERNEL=NAME` (portable,
    /// avx2, avx512) forces a path the CPU has; results never depend on it.
    pub fn detect() -> Kernel {
        static KERNEL: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *KERNEL.get_or_init(|| {
            let available = Kernel::available();
            if let Ok(name) = std::env::var("FALSEMATCH_KERNEL")
                && let Some(k) = available
                    .iter()
                    .find(|k| format!("{k:?}").eq_ignore_ascii_case(&name))
            {
                return *k;
            }
            available.into_iter().last().unwrap_or(Kernel::Portable)
        })
    }

    /// Every path this CPU can run, slowest first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
            {
                kernels.push(Kernel::Avx512);
            }
        }
        kernels
    }

    /// Scores `probe` against every row of `rows` (row-major, `dim` columns) into `out`.
    /// A path the CPU lacks falls back to the portable one.
    pub fn score_rows(self, rows: &[i16], dim: usize, probe: &[i16], out: &mut Vec<i32>) {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Kernel::Avx512
                    if std::is_x86_feature_detected!("avx512f")
                        && std::is_x86_feature_detected!("avx512bw") =>
                {
                    // SAFETY: the CPU supports the features the function is compiled for.
                    return unsafe { x86::score_rows_avx512(rows, dim, probe, out) };
                }
                Kernel::Avx2 if std::is_x86_feature_detected!("avx2") => {
                    // SAFETY: as above.
                    return unsafe { x86::score_rows_avx2(rows, dim, probe, out) };
                }
                _ => {}
            }
        }
        score_rows_generic(rows, dim, probe, out);
    }
}

/// Multiply-add kernels: `madd` multiplies adjacent int16 pairs and adds each pair into one
/// int32 lane (at most 2 * 32767^2 < 2^31, exact), then lanes accumulate with exact int32 adds.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    fn dot_avx2(a: &[i16], b: &[i16]) -> i32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_si256();
        let mut acc1 = _mm256_setzero_si256();
        let mut i = 0;
        // SAFETY (all loads): i + 32 <= n (or i + 16 <= n) keeps every 16-lane load in bounds.
        while i + 32 <= n {
            unsafe {
                let x0 = _mm256_loadu_si256(pa.add(i) as *const __m256i);
                let y0 = _mm256_loadu_si256(pb.add(i) as *const __m256i);
                let x1 = _mm256_loadu_si256(pa.add(i + 16) as *const __m256i);
                let y1 = _mm256_loadu_si256(pb.add(i + 16) as *const __m256i);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
                acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
            }
            i += 32;
        }
        if i + 16 <= n {
            unsafe {
                let x = _mm256_loadu_si256(pa.add(i) as *const __m256i);
                let y = _mm256_loadu_si256(pb.add(i) as *const __m256i);
                acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, y));
            }
            i += 16;
        }
        let acc = _mm256_add_epi32(acc0, acc1);
        let mut lanes = [0i32; 8];
        // SAFETY: `lanes` is 32 bytes, the size of one 256-bit store.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc) };
        lanes
            .iter()
            .fold(super::dot_scalar(&a[i..n], &b[i..n]), |s, &x| {
                s.wrapping_add(x)
            })
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    fn dot_avx512(a: &[i16], b: &[i16]) -> i32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_si512();
        let mut acc1 = _mm512_setzero_si512();
        let mut i = 0;
        // SAFETY (all loads): i + 64 <= n (or i + 32 <= n) keeps every 32-lane load in bounds.
        while i + 64 <= n {
            unsafe {
                let x0 = _mm512_loadu_si512(pa.add(i) as *const __m512i);
                let y0 = _mm512_loadu_si512(pb.add(i) as *const __m512i);
                let x1 = _mm512_loadu_si512(pa.add(i + 32) as *const __m512i);
                let y1 = _mm512_loadu_si512(pb.add(i + 32) as *const __m512i);
                acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x0, y0));
                acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(x1, y1));
            }
            i += 64;
        }
        if i + 32 <= n {
            unsafe {
                let x = _mm512_loadu_si512(pa.add(i) as *const __m512i);
                let y = _mm512_loadu_si512(pb.add(i) as *const __m512i);
                acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x, y));
            }
            i += 32;
        }
        let mut lanes = [0i32; 16];
        // SAFETY: `lanes` is 64 bytes, the size of one 512-bit store.
        unsafe {
            _mm512_storeu_si512(
                lanes.as_mut_ptr() as *mut __m512i,
                _mm512_add_epi32(acc0, acc1),
            )
        };
        lanes
            .iter()
            .fold(super::dot_scalar(&a[i..n], &b[i..n]), |s, &x| {
                s.wrapping_add(x)
            })
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn score_rows_avx2(rows: &[i16], dim: usize, probe: &[i16], out: &mut Vec<i32>) {
        out.clear();
        out.extend(rows.chunks_exact(dim).map(|row| dot_avx2(row, probe)));
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn score_rows_avx512(rows: &[i16], dim: usize, probe: &[i16], out: &mut Vec<i32>) {
        out.clear();
        out.extend(rows.chunks_exact(dim).map(|row| dot_avx512(row, probe)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_path_gives_the_same_integers() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as i64 % 4000 - 2000) as i16
        };
        // Dimensions with and without a tail past the last full vector.
        for (dim, n_rows) in [(77, 40), (77, 41), (512, 9), (128, 3), (32, 6)] {
            let mut rows: Vec<i16> = (0..dim * n_rows).map(|_| next()).collect();
            let mut probe: Vec<i16> = (0..dim).map(|_| next()).collect();
            // The extreme a unit vector allows: a score of 32767^2.
            rows[0] = 32767;
            rows[1..dim].iter_mut().for_each(|x| *x = 0);
            probe[0] = 32767;
            probe[1..].iter_mut().for_each(|x| *x = 0);
            let mut reference = Vec::new();
            Kernel::Portable.score_rows(&rows, dim, &probe, &mut reference);
            let exact: Vec<i32> = rows
                .chunks(dim)
                .map(|r| {
                    r.iter()
                        .zip(&probe)
                        .map(|(&a, &b)| i32::from(a) * i32::from(b))
                        .sum()
                })
                .collect();
            assert_eq!(reference, exact, "d {dim}");
            assert_eq!(reference[0], 32767 * 32767);
            for kernel in Kernel::available() {
                let mut out = Vec::new();
                kernel.score_rows(&rows, dim, &probe, &mut out);
                assert_eq!(out, reference, "{kernel:?}, d {dim}, {n_rows} rows");
            }
        }
    }
}
