//! Float rows to int16, as `search` and `evaluate` read them from `.npy` files:
//!
//! ```text
//! row  -> x / |x|  (|x|: the f64 sum of squares in index order, then its square root)
//!      -> round(32767 x / |x|) as int16   (one IEEE division per value, ties away from zero)
//! ```
//!
//! [`quantize_row_generic`] is that definition, one row at a time; [`quantize_rows`] gives the
//! same bits faster (eight rows' sums side by side, a multiplication by 1 / |x| with the
//! division redone near ties) and is what the readers use.

use crate::quantize::{QUANT_SCALE, quantize, round_half_away};

/// Rows normalized together by [`quantize_rows`]: one f64 sum of squares per row, each in
/// index order, run side by side (lanes of one vector) instead of one long dependency chain.
pub(super) const QUANTIZE_ROWS: usize = 8;

/// Normalizes and quantizes up to [`QUANTIZE_ROWS`] little-endian float rows (`width` 4 or 8
/// bytes per value, `cols` values each) into `target`; returns the first row that is zero,
/// NaN or infinite (every other row is quantized all the same). Every row gets exactly the
/// bits [`quantize_row_generic`] gives it: its f64 sum of squares in index order, and the
/// integer of one IEEE division per value (see [`TIE_MARGIN`]). Compiled for AVX-512 or
/// AVX2 where the CPU has it (the same basic operations in the same order, so the same bits).
pub(super) fn quantize_rows(
    raw: &[u8],
    width: usize,
    cols: usize,
    target: &mut [i16],
    scratch: &mut Vec<f64>,
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx512() {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { quantize_rows_avx512(raw, width, cols, target, scratch) };
    }
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx2() {
        // SAFETY: as above.
        return unsafe { quantize_rows_avx2(raw, width, cols, target, scratch) };
    }
    quantize_rows_generic(raw, width, cols, target, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn quantize_rows_avx2(
    raw: &[u8],
    width: usize,
    cols: usize,
    target: &mut [i16],
    scratch: &mut Vec<f64>,
) -> Option<usize> {
    quantize_rows_generic(raw, width, cols, target, scratch)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn quantize_rows_avx512(
    raw: &[u8],
    width: usize,
    cols: usize,
    target: &mut [i16],
    scratch: &mut Vec<f64>,
) -> Option<usize> {
    quantize_rows_generic(raw, width, cols, target, scratch)
}

#[inline(always)]
fn quantize_rows_generic(
    raw: &[u8],
    width: usize,
    cols: usize,
    target: &mut [i16],
    scratch: &mut Vec<f64>,
) -> Option<usize> {
    let row_bytes = cols * width;
    let rows = raw.len() / row_bytes;
    if rows < QUANTIZE_ROWS {
        scratch.resize(cols, 0.0);
        let mut bad = None;
        for (r, (raw, target)) in raw
            .chunks_exact(row_bytes)
            .zip(target.chunks_exact_mut(cols))
            .enumerate()
        {
            if !quantize_row_generic(raw, width, target, scratch) {
                bad = bad.or(Some(r));
            }
        }
        return bad;
    }
    scratch.resize(cols * QUANTIZE_ROWS, 0.0);
    for (r, row) in scratch.chunks_exact_mut(cols).enumerate() {
        decode(&raw[r * row_bytes..(r + 1) * row_bytes], width, row);
    }
    // Each row's sum in index order, the rows side by side (independent chains).
    let rows: [&[f64]; QUANTIZE_ROWS] = std::array::from_fn(|r| &scratch[r * cols..(r + 1) * cols]);
    let mut sums = [0f64; QUANTIZE_ROWS];
    for k in 0..cols {
        for (s, row) in sums.iter_mut().zip(&rows) {
            *s += row[k] * row[k];
        }
    }
    let mut bad = None;
    for (r, (sum, row)) in sums.iter().zip(&rows).enumerate() {
        let norm = sum.sqrt();
        if !norm.is_finite() || norm == 0.0 {
            bad = bad.or(Some(r));
            continue;
        }
        quantize_scaled(row, norm, &mut target[r * cols..(r + 1) * cols]);
    }
    bad
}

/// `quantize(v / norm)` for every value of `row` (|v| <= norm), with one multiplication by
/// `1 / norm` in place of each division: the scaled product is within 2^-51 x 32767 + 2^-38
/// < 3e-11 of the scaled quotient, so it rounds to the same integer unless it lies within
/// [`TIE_MARGIN`] of a half-integer; such a row is done again with the divisions.
#[inline(always)]
fn quantize_scaled(row: &[f64], norm: f64, target: &mut [i16]) {
    let inv = 1.0 / norm;
    let mut near_tie = false;
    for (t, v) in target.iter_mut().zip(row) {
        let x = v * inv * QUANT_SCALE;
        let q = round_half_away(x);
        near_tie |= (x - f64::from(q)).abs() > 0.5 - TIE_MARGIN;
        *t = q as i16;
    }
    if near_tie {
        for (t, v) in target.iter_mut().zip(row) {
            *t = quantize(v / norm);
        }
    }
}

/// How close to a half-integer a scaled value computed with `1 / norm` must come for
/// [`quantize_rows`] to divide instead (over 30 times the largest difference the two can
/// have).
const TIE_MARGIN: f64 = 1e-9;

/// Decodes a little-endian float row (`width` 4 or 8 bytes per value) into `row`.
#[inline(always)]
fn decode(raw: &[u8], width: usize, row: &mut [f64]) {
    if width == 4 {
        for (v, b) in row.iter_mut().zip(raw.chunks_exact(4)) {
            *v = f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
    } else {
        for (v, b) in row.iter_mut().zip(raw.chunks_exact(8)) {
            *v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
    }
}

/// Normalizes one little-endian float row (`width` 4 or 8 bytes per value, decoded into the
/// scratch `row`) and quantizes it into `target`; false for a zero, NaN or infinite row: the
/// definition [`quantize_rows`] reproduces for several rows at a time.
#[inline(always)]
fn quantize_row_generic(raw: &[u8], width: usize, target: &mut [i16], row: &mut [f64]) -> bool {
    decode(raw, width, row);
    // Sum of squares in index order (part of the reproducibility contract).
    let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
    if !norm.is_finite() || norm == 0.0 {
        return false;
    }
    for (t, v) in target.iter_mut().zip(row.iter()) {
        *t = quantize(v / norm);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Multiplying by 1 / norm gives the integers of the divisions, near half-integers too:
    /// values built to scale to within rounding of k + 1/2, where the two differ about one
    /// time in eight without the fallback.
    #[test]
    fn the_reciprocal_gives_the_integers_of_the_division_at_ties() {
        for norm in [0.61, 1.0, 1.7, 2.9, 1234.5] {
            let row: Vec<f64> = (0..4000)
                .map(|i| {
                    let k = (i * 8191 % 32767) as f64;
                    let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                    sign * (k + 0.5) / QUANT_SCALE * norm
                })
                .filter(|v: &f64| v.abs() <= norm)
                .collect();
            let want: Vec<i16> = row.iter().map(|v| quantize(v / norm)).collect();
            let mut got = vec![0i16; row.len()];
            quantize_scaled(&row, norm, &mut got);
            assert_eq!(got, want, "norm {norm}");
            // And away from ties, where no fallback is taken.
            let row: Vec<f64> = row.iter().map(|v| v * 0.999).collect();
            let want: Vec<i16> = row.iter().map(|v| quantize(v / norm)).collect();
            quantize_scaled(&row, norm, &mut got);
            assert_eq!(got, want, "norm {norm}");
        }
    }

    /// Rows normalized side by side get exactly the bits of the row-by-row definition, in
    /// float32 and float64, for whole groups of rows and a short tail, with the first bad
    /// row (zero, NaN, infinite) named, on the dispatched kernel and the generic code.
    #[test]
    fn rows_normalized_together_have_the_bits_of_one_row_at_a_time() {
        let cols = 37;
        for width in [4usize, 8] {
            for rows in [QUANTIZE_ROWS, 3] {
                for bad_row in [None, Some(0), Some(rows - 1)] {
                    let mut raw = Vec::new();
                    for r in 0..rows {
                        for k in 0..cols {
                            let v = ((r * 131 + k * 17) % 23) as f64 / 7.0 - 1.5 + 1e-3 * k as f64;
                            let v = match bad_row {
                                Some(b) if b == r && k == 3 => f64::NAN,
                                _ => v,
                            };
                            if width == 4 {
                                raw.extend((v as f32).to_le_bytes());
                            } else {
                                raw.extend(v.to_le_bytes());
                            }
                        }
                    }
                    let row_bytes = cols * width;
                    let mut want = vec![0i16; rows * cols];
                    let mut scratch = vec![0f64; cols];
                    let good: Vec<bool> = (0..rows)
                        .map(|r| {
                            quantize_row_generic(
                                &raw[r * row_bytes..(r + 1) * row_bytes],
                                width,
                                &mut want[r * cols..(r + 1) * cols],
                                &mut scratch,
                            )
                        })
                        .collect();
                    let want_bad = good.iter().position(|&g| !g);
                    assert_eq!(want_bad, bad_row);
                    for generic in [false, true] {
                        let mut got = vec![0i16; rows * cols];
                        let mut scratch = Vec::new();
                        let bad = if generic {
                            quantize_rows_generic(&raw, width, cols, &mut got, &mut scratch)
                        } else {
                            quantize_rows(&raw, width, cols, &mut got, &mut scratch)
                        };
                        assert_eq!(bad, bad_row, "width {width}, rows {rows}");
                        for r in (0..rows).filter(|&r| Some(r) != bad_row) {
                            assert_eq!(
                                got[r * cols..(r + 1) * cols],
                                want[r * cols..(r + 1) * cols],
                                "width {width}, rows {rows}, row {r}"
                            );
                        }
                    }
                }
            }
        }
    }
}
