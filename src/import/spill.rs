//! Sorted score streams in bounded memory: scores are buffered as order-preserving integer keys;
//! when the buffers of all streams together pass a budget, the largest buffer is sorted and
//! written to an anonymous temporary file (a run). Reading back merges the runs.
//!
//! ```text
//! key(x) = bits(x) ^ (sign ? all ones : sign bit)     (-0.0 taken as +0.0; NaN never enters)
//! memory  <= budget x 8 bytes + one 64 KiB read buffer per run at merge time
//! ```
//!
//! Invariants: the sorted output is the same sequence whatever the budget (a test checks a
//! budget of a few keys against an unbounded one); several streams can be read as one merged
//! stream; temporary files vanish when dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

/// Default budget: keys held in memory over all streams (256 MiB).
pub const DEFAULT_BUDGET_KEYS: usize = 1 << 25;

fn key(x: f64) -> u64 {
    let bits = (if x == 0.0 { 0.0 } else { x }).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Several score streams sharing one memory budget.
#[derive(Debug)]
pub struct Spill {
    streams: Vec<Stream>,
    buffered: usize,
    budget: usize,
}

#[derive(Debug, Default)]
struct Stream {
    buffer: Vec<u64>,
    runs: Vec<File>,
    len: u64,
}

impl Spill {
    /// `streams` empty streams sharing a budget of `budget` keys in memory (at least 1).
    pub fn new(streams: usize, budget: usize) -> Self {
        Self {
            streams: (0..streams).map(|_| Stream::default()).collect(),
            buffered: 0,
            budget: budget.max(1),
        }
    }

    /// Adds a stream; returns its index.
    pub fn add_stream(&mut self) -> usize {
        self.streams.push(Stream::default());
        self.streams.len() - 1
    }

    /// Number of scores pushed to stream `s`.
    pub fn len(&self, s: usize) -> u64 {
        self.streams[s].len
    }

    /// Adds a score (finite, not NaN) to stream `s`.
    ///
    /// # Errors
    /// When a run cannot be written to a temporary file.
    pub fn push(&mut self, s: usize, x: f64) -> io::Result<()> {
        let stream = &mut self.streams[s];
        stream.buffer.push(key(x));
        stream.len += 1;
        self.buffered += 1;
        if self.buffered > self.budget {
            let largest = (0..self.streams.len())
                .max_by_key(|&i| (self.streams[i].buffer.len(), Reverse(i)))
                .unwrap_or(s);
            self.spill(largest)?;
        }
        Ok(())
    }

    fn spill(&mut self, s: usize) -> io::Result<()> {
        let stream = &mut self.streams[s];
        stream.buffer.sort_unstable();
        let mut file = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for k in &stream.buffer {
            file.write_all(&k.to_le_bytes())?;
        }
        let mut file = file.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        stream.runs.push(file);
        self.buffered -= stream.buffer.len();
        stream.buffer = Vec::new();
        Ok(())
    }

    /// Sorts what is still in memory; call once, after the last push.
    pub fn finish(&mut self) {
        for stream in &mut self.streams {
            stream.buffer.sort_unstable();
        }
    }

    /// The scores of `streams` together, in ascending order. Call [`Spill::finish`] first;
    /// read one iterator over a stream at a time (runs share their file cursor).
    ///
    /// # Errors
    /// When a run file cannot be reopened.
    pub fn sorted(&self, streams: &[usize]) -> io::Result<Sorted<'_>> {
        let mut readers = Vec::new();
        for &s in streams {
            let stream = &self.streams[s];
            debug_assert!(stream.buffer.is_sorted(), "Spill::finish was not called");
            for run in &stream.runs {
                let mut file = run.try_clone()?;
                file.rewind()?;
                readers.push(RunReader::File(BufReader::with_capacity(1 << 16, file)));
            }
            readers.push(RunReader::Memory(stream.buffer.iter()));
        }
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(k) = r.next_key()? {
                heap.push(Reverse((k, i)));
            }
        }
        Ok(Sorted { readers, heap })
    }
}

enum RunReader<'a> {
    File(BufReader<File>),
    Memory(std::slice::Iter<'a, u64>),
}

impl RunReader<'_> {
    fn next_key(&mut self) -> io::Result<Option<u64>> {
        match self {
            RunReader::Memory(it) => Ok(it.next().copied()),
            RunReader::File(r) => {
                let mut bytes = [0u8; 8];
                match r.read_exact(&mut bytes) {
                    Ok(()) => Ok(Some(u64::from_le_bytes(bytes))),
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// Scores in ascending order: a k-way merge of sorted runs and in-memory buffers.
pub struct Sorted<'a> {
    readers: Vec<RunReader<'a>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
}

impl Iterator for Sorted<'_> {
    type Item = io::Result<f64>;

    fn next(&mut self) -> Option<io::Result<f64>> {
        let Reverse((k, i)) = self.heap.pop()?;
        match self.readers[i].next_key() {
            Ok(Some(next)) => self.heap.push(Reverse((next, i))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(value(k)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keys_preserve_order(a in proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL, b in proptest::num::f64::ANY) {
            prop_assume!(!b.is_nan());
            prop_assert_eq!(key(a).cmp(&key(b)), a.partial_cmp(&b).unwrap());
            prop_assert_eq!(value(key(a)), if a == 0.0 { 0.0 } else { a });
        }

        #[test]
        fn spilling_gives_the_same_sequence(xs in proptest::collection::vec(-1.0f64..1.0, 0..300), budget in 1usize..20) {
            let mut small = Spill::new(2, budget);
            let mut large = Spill::new(2, 1 << 20);
            for (i, &x) in xs.iter().enumerate() {
                small.push(i % 2, x).unwrap();
                large.push(i % 2, x).unwrap();
            }
            small.finish();
            large.finish();
            for streams in [&[0][..], &[1], &[0, 1]] {
                let a: Vec<f64> = small.sorted(streams).unwrap().map(Result::unwrap).collect();
                let b: Vec<f64> = large.sorted(streams).unwrap().map(Result::unwrap).collect();
                prop_assert!(a.windows(2).all(|w| w[0] <= w[1]));
                prop_assert_eq!(a.len(), streams.iter().map(|&s| small.len(s)).sum::<u64>() as usize);
                prop_assert_eq!(a, b);
            }
        }
    }
}
