//! ChaCha8, sixteen blocks at a time, for the streams that draw hundreds of numbers each (a
//! capture's noise direction takes about 500 draws at d = 512).
//!
//! The same generator as `rand_chacha`'s `ChaCha8Rng` (djb's ChaCha with 8 rounds, a 64-bit
//! block counter and a 64-bit stream id), written so that the compiler vectorizes it across
//! blocks: state word `i` of the sixteen blocks is one row `x[i]` of sixteen lanes, so every
//! step of a quarter round is one vector operation (one 512-bit register with AVX-512, two
//! 256-bit ones with AVX2). The words are the same on every CPU and in every build (integer
//! additions, xors and rotations only), and the tests compare them with `rand_chacha`'s.
//!
//! ```text
//! state of block b:  "expand 32-byte k" | key (8 words) | counter + b (2 words) | stream (2 words)
//! block:             state + 8 rounds of state (4 column and 4 diagonal double rounds)
//! draw s (64 bits):  words 2p, 2p + 1 of block s / 8, p = s % 8  (lower word first)
//! ```
//!
//! The draws of a refill are stored pair-major, draw `s` at [`slot`]`(s)`, which is how the
//! rows come out of the rounds (no transposition).

/// Blocks per refill.
pub(super) const BLOCKS: usize = 16;
/// 64-bit draws per refill (eight per 64-byte block).
pub(super) const DRAWS: usize = 8 * BLOCKS;

/// Where draw `s` (0..DRAWS) of a refill is stored.
#[inline(always)]
pub(super) fn slot(s: usize) -> usize {
    ((s & 7) << 4) | (s >> 3)
}

/// Writes the draws of blocks `counter..counter + 16` of stream `stream` under `key`.
pub(super) fn refill(key: &[u32; 8], stream: u64, counter: u64, out: &mut [u64; DRAWS]) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::cpu::avx512() {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { refill_avx512(key, stream, counter, out) };
        }
        if crate::cpu::avx2() {
            // SAFETY: as above.
            return unsafe { refill_avx2(key, stream, counter, out) };
        }
    }
    refill_generic(key, stream, counter, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn refill_avx512(key: &[u32; 8], stream: u64, counter: u64, out: &mut [u64; DRAWS]) {
    refill_generic(key, stream, counter, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn refill_avx2(key: &[u32; 8], stream: u64, counter: u64, out: &mut [u64; DRAWS]) {
    refill_generic(key, stream, counter, out);
}

type Rows = [[u32; BLOCKS]; 16];

#[inline(always)]
fn refill_generic(key: &[u32; 8], stream: u64, counter: u64, out: &mut [u64; DRAWS]) {
    const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];
    let mut init: Rows = [[0; BLOCKS]; 16];
    for (i, row) in init.iter_mut().enumerate() {
        let word = match i {
            0..4 => SIGMA[i],
            4..12 => key[i - 4],
            14 => stream as u32,
            15 => (stream >> 32) as u32,
            _ => 0,
        };
        *row = [word; BLOCKS];
    }
    let counters: [u64; BLOCKS] = std::array::from_fn(|b| counter.wrapping_add(b as u64));
    init[12] = counters.map(|c| c as u32);
    init[13] = counters.map(|c| (c >> 32) as u32);
    // One named row per state word, so that every row stays in registers (indexing an array
    // of rows by the quarter rounds' word numbers compiled to gathers and scatters).
    let [
        mut x0,
        mut x1,
        mut x2,
        mut x3,
        mut x4,
        mut x5,
        mut x6,
        mut x7,
        mut x8,
        mut x9,
        mut x10,
        mut x11,
        mut x12,
        mut x13,
        mut x14,
        mut x15,
    ] = init;
    for _ in 0..4 {
        quarter(&mut x0, &mut x4, &mut x8, &mut x12);
        quarter(&mut x1, &mut x5, &mut x9, &mut x13);
        quarter(&mut x2, &mut x6, &mut x10, &mut x14);
        quarter(&mut x3, &mut x7, &mut x11, &mut x15);
        quarter(&mut x0, &mut x5, &mut x10, &mut x15);
        quarter(&mut x1, &mut x6, &mut x11, &mut x12);
        quarter(&mut x2, &mut x7, &mut x8, &mut x13);
        quarter(&mut x3, &mut x4, &mut x9, &mut x14);
    }
    let rows = [
        x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15,
    ];
    let (pairs, _) = out.as_chunks_mut::<BLOCKS>();
    // Pair by pair with constant indices: as one loop over p, the compiler vectorized across
    // p, with gathers and scatters.
    pack(&mut pairs[0], &rows, &init, 0);
    pack(&mut pairs[1], &rows, &init, 1);
    pack(&mut pairs[2], &rows, &init, 2);
    pack(&mut pairs[3], &rows, &init, 3);
    pack(&mut pairs[4], &rows, &init, 4);
    pack(&mut pairs[5], &rows, &init, 5);
    pack(&mut pairs[6], &rows, &init, 6);
    pack(&mut pairs[7], &rows, &init, 7);
}

/// Draws of word pair `p` of every block: rows 2p and 2p + 1 after the rounds plus the
/// initial state (the lower word first).
#[inline(always)]
fn pack(out: &mut [u64; BLOCKS], rows: &Rows, init: &Rows, p: usize) {
    let (lo, hi, lo0, hi0) = (
        &rows[2 * p],
        &rows[2 * p + 1],
        &init[2 * p],
        &init[2 * p + 1],
    );
    for b in 0..BLOCKS {
        out[b] =
            u64::from(lo[b].wrapping_add(lo0[b])) | (u64::from(hi[b].wrapping_add(hi0[b])) << 32);
    }
}

/// One ChaCha quarter round on rows a, b, c, d of every block.
#[inline(always)]
fn quarter(
    a: &mut [u32; BLOCKS],
    b: &mut [u32; BLOCKS],
    c: &mut [u32; BLOCKS],
    d: &mut [u32; BLOCKS],
) {
    for l in 0..BLOCKS {
        a[l] = a[l].wrapping_add(b[l]);
        d[l] = (d[l] ^ a[l]).rotate_left(16);
        c[l] = c[l].wrapping_add(d[l]);
        b[l] = (b[l] ^ c[l]).rotate_left(12);
        a[l] = a[l].wrapping_add(b[l]);
        d[l] = (d[l] ^ a[l]).rotate_left(8);
        c[l] = c[l].wrapping_add(d[l]);
        b[l] = (b[l] ^ c[l]).rotate_left(7);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn key_words(seed: &[u8; 32]) -> [u32; 8] {
        std::array::from_fn(|i| u32::from_le_bytes(seed[4 * i..4 * i + 4].try_into().unwrap()))
    }

    /// Every path this CPU has against `rand_chacha`: counters that carry into the high word,
    /// streams with both halves set.
    #[test]
    fn sixteen_blocks_are_rand_chacha_words() {
        let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a);
        let key = key_words(&seed);
        for (stream, counter) in [
            (0u64, 0u64),
            (3, 16),
            (0x1234_5678_9abc_def0, u32::MAX as u64 - 5),
        ] {
            let mut rng = ChaCha8Rng::from_seed(seed);
            rng.set_stream(stream);
            rng.set_word_pos(u128::from(counter) * 16);
            let expected: Vec<u64> = (0..DRAWS).map(|_| rng.next_u64()).collect();
            let mut paths: Vec<(&str, [u64; DRAWS])> = Vec::new();
            let mut out = [0u64; DRAWS];
            refill_generic(&key, stream, counter, &mut out);
            paths.push(("generic", out));
            refill(&key, stream, counter, &mut out);
            paths.push(("dispatched", out));
            #[cfg(target_arch = "x86_64")]
            {
                if crate::cpu::avx512() {
                    unsafe { refill_avx512(&key, stream, counter, &mut out) };
                    paths.push(("avx512", out));
                }
                if crate::cpu::avx2() {
                    unsafe { refill_avx2(&key, stream, counter, &mut out) };
                    paths.push(("avx2", out));
                }
            }
            for (name, out) in paths {
                for (s, e) in expected.iter().enumerate() {
                    assert_eq!(
                        out[slot(s)],
                        *e,
                        "{name}: stream {stream}, counter {counter}, draw {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn slots_are_a_permutation() {
        let mut seen = [false; DRAWS];
        for s in 0..DRAWS {
            assert!(!std::mem::replace(&mut seen[slot(s)], true));
        }
    }
}
