//! Number formats: how a unit embedding is stored (int16, round(32767 x)), how the int8 path
//! requantizes it ([`Precision`]), and how a score threshold becomes the least integer score
//! that reaches it. Every layer that compares a score with a threshold goes through
//! [`threshold_q`] and [`score_value`], so they all agree to the last integer.
//!
//! ```text
//! stored component     q = round(32767 x)            ties away from zero
//! score value          s = Q / 32767^2               Q the exact integer dot product
//! threshold t          least Q with Q / 32767^2 >= t
//! ```

use serde::{Deserialize, Serialize};

/// Quantization scale: a component x in [-1, 1] is stored as round(32767 x).
pub const QUANT_SCALE: f64 = 32767.0;

/// round(x) with ties away from zero, as `f64::round`, for finite |x| < 2^31 - 1: the same
/// integer without a library call or a branch, so the loop vectorizes (x - trunc(x) is exact
/// in binary floating point). Beyond that range (callers pass |x| <= 32767) it saturates, and
/// NaN gives -(2^31 - 2).
#[inline(always)]
pub(crate) fn round_half_away(x: f64) -> i32 {
    const LIMIT: f64 = 2147483646.0;
    // max/min return the other operand for NaN, so `x` is a number in range after this
    // (`clamp` would pass NaN through, and `to_int_unchecked` of NaN is undefined).
    #[allow(clippy::manual_clamp)]
    let x = x.max(-LIMIT).min(LIMIT);
    // SAFETY: finite and inside i32 (clamped above).
    let t = unsafe { x.to_int_unchecked::<i32>() };
    let frac = x - f64::from(t);
    t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)
}

/// The int16 quantization of one component of a unit vector: round(32767 x), ties away from
/// zero (`f64::round`), for |x| <= 1.
#[inline(always)]
pub fn quantize(x: f64) -> i16 {
    round_half_away(x * QUANT_SCALE) as i16
}

/// `out[k] = quantize(scale * values[k])` for every k: the same integers, eight or four at a
/// time where the CPU has AVX-512 or AVX2 (a capture's noise block is hundreds of
/// components, quantized once per gallery detection).
pub fn quantize_scaled_into(values: &[f64], scale: f64, out: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::avx512() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { quantize_scaled_avx512(values, scale, out) };
        }
        if crate::cpu::avx2() {
            // SAFETY: as above.
            return unsafe { quantize_scaled_avx2(values, scale, out) };
        }
    }
    quantize_scaled_generic(values, scale, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn quantize_scaled_avx512(values: &[f64], scale: f64, out: &mut [i16]) {
    quantize_scaled_generic(values, scale, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn quantize_scaled_avx2(values: &[f64], scale: f64, out: &mut [i16]) {
    quantize_scaled_generic(values, scale, out);
}

#[inline(always)]
fn quantize_scaled_generic(values: &[f64], scale: f64, out: &mut [i16]) {
    for (o, v) in out.iter_mut().zip(values) {
        *o = quantize(scale * v);
    }
}

/// The number format of a search: every path of a format gives the same integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// int16 components, exact i32 dot products (the default; resolution 9.3e-10).
    #[default]
    Int16,
    /// int8 components with a per-vector scale: half the memory, about twice as fast with
    /// AVX-512 VNNI (no faster on AVX2 CPUs); at d = 512 scores move by about 5e-4 typically
    /// and by up to about 2e-3 (1.9e-3 seen over 10^7 candidates).
    Int8,
}

impl Precision {
    /// True for the default format (left out of serialized scenarios, so that their bytes do
    /// not change).
    pub fn is_default(&self) -> bool {
        *self == Precision::Int16
    }

    /// The name used in scenarios and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int16 => "int16",
            Precision::Int8 => "int8",
        }
    }

    /// How scores are computed, for reports.
    pub fn convention(self) -> &'static str {
        match self {
            Precision::Int16 => {
                "cosine of int16-quantized unit embeddings (round(32767 x)), exact integer dot product divided by 32767^2"
            }
            Precision::Int8 => {
                "cosine of int8-requantized unit embeddings: q = round(32767 x), f = max|q|/127, Q = round(q/f); score = round_even(f32(Q_p . Q_x) f_p f_x) / 32767^2 (exact int8 dot product, two IEEE single-precision multiplications)"
            }
        }
    }

    /// The largest score change quantization can cause for unit vectors of dimension `d`.
    pub fn max_quantization_error(self, d: usize) -> f64 {
        let d = d as f64;
        let int16 = 0.5 * d.sqrt() / QUANT_SCALE;
        match self {
            Precision::Int16 => int16,
            // Each component moves by at most f/2 <= 1/254 (plus the int16 step): through
            // Cauchy-Schwarz, 2 sqrt(d)/254 + d/254^2.
            Precision::Int8 => int16 + 2.0 * d.sqrt() / 254.0 + d / (254.0 * 254.0),
        }
    }
}

/// The score value of an integer score.
pub fn score_value(q: i32) -> f64 {
    f64::from(q) / (QUANT_SCALE * QUANT_SCALE)
}

/// The least integer score whose value is >= `threshold`.
pub fn threshold_q(threshold: f64) -> i32 {
    let scale2 = QUANT_SCALE * QUANT_SCALE;
    let mut q = (threshold * scale2)
        .ceil()
        .clamp(-(scale2 + 1.0), scale2 + 1.0) as i32;
    while score_value(q - 1) >= threshold {
        q -= 1;
    }
    while score_value(q) < threshold {
        q += 1;
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_half_away_is_f64_round() {
        let mut x = -32767.5f64;
        while x <= 32767.5 {
            for v in [x, x + 1e-9, x - 1e-9, f64::from_bits(x.to_bits() + 1)] {
                assert_eq!(round_half_away(v), v.round() as i32, "{v}");
            }
            x += 0.25;
        }
    }

    #[test]
    fn quantized_in_bulk_is_quantized_one_by_one() {
        // Values whose products land on and next to half-integers, and the extremes.
        let mut values: Vec<f64> = (0..2000)
            .map(|k| ((k as f64 - 1000.0) + 0.5) / QUANT_SCALE)
            .collect();
        values.extend([1.0, -1.0, 0.0, -0.0, 0.999_999, 1e-300]);
        for scale in [1.0, 0.645, 0.3] {
            let mut out = vec![0i16; values.len()];
            let mut paths = Vec::new();
            quantize_scaled_into(&values, scale, &mut out);
            paths.push(out.clone());
            #[cfg(target_arch = "x86_64")]
            {
                if crate::cpu::avx2() {
                    unsafe { quantize_scaled_avx2(&values, scale, &mut out) };
                    paths.push(out.clone());
                }
                if crate::cpu::avx512() {
                    unsafe { quantize_scaled_avx512(&values, scale, &mut out) };
                    paths.push(out.clone());
                }
            }
            let expected: Vec<i16> = values.iter().map(|v| quantize(scale * v)).collect();
            for path in paths {
                assert_eq!(path, expected, "scale {scale}");
            }
        }
    }

    #[test]
    fn round_half_away_saturates_out_of_range_and_never_panics() {
        assert_eq!(round_half_away(1e300), 2147483646);
        assert_eq!(round_half_away(-1e300), -2147483646);
        assert_eq!(round_half_away(f64::NAN), -2147483646);
        assert_eq!(quantize(1.0), 32767);
        assert_eq!(quantize(-1.0), -32767);
    }

    proptest! {
        #[test]
        fn threshold_q_is_the_least_integer_reaching_the_threshold(t in -1.0f64..=1.0) {
            let q = threshold_q(t);
            prop_assert!(score_value(q) >= t);
            prop_assert!(score_value(q - 1) < t);
        }
    }
}
