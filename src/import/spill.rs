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
//! budget of a few keys against an unbounded one); temporary files vanish when dropped.

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

    /// The scores of stream `s` in ascending order (the stream is emptied).
    ///
    /// # Errors
    /// When a run cannot be written.
    pub fn sorted(&mut self, s: usize) -> io::Result<Sorted> {
        let stream = &mut self.streams[s];
        let mut buffer = std::mem::take(&mut stream.buffer);
        self.buffered -= buffer.len();
        buffer.sort_unstable();
        let runs = std::mem::take(&mut stream.runs);
        if runs.is_empty() {
            return Ok(Sorted(Inner::Memory(buffer.into_iter())));
        }
        let mut readers: Vec<RunReader> = runs
            .into_iter()
            .map(|f| RunReader::File(BufReader::with_capacity(1 << 16, f)))
            .collect();
        readers.push(RunReader::Memory(buffer.into_iter()));
        let mut heap = BinaryHeap::new();
        for (i, r) in readers.iter_mut().enumerate() {
            if let Some(k) = r.next_key()? {
                heap.push(Reverse((k, i)));
            }
        }
        Ok(Sorted(Inner::Merge { readers, heap }))
    }
}

enum RunReader {
    File(BufReader<File>),
    Memory(std::vec::IntoIter<u64>),
}

impl RunReader {
    fn next_key(&mut self) -> io::Result<Option<u64>> {
        match self {
            RunReader::Memory(it) => Ok(it.next()),
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

/// Scores in ascending order.
pub struct Sorted(Inner);

enum Inner {
    /// Everything fit in memory.
    Memory(std::vec::IntoIter<u64>),
    /// A k-way merge of sorted runs: one reader per run, and the smallest pending key of each.
    Merge {
        readers: Vec<RunReader>,
        heap: BinaryHeap<Reverse<(u64, usize)>>,
    },
}

impl Iterator for Sorted {
    type Item = io::Result<f64>;

    fn next(&mut self) -> Option<io::Result<f64>> {
        match &mut self.0 {
            Inner::Memory(it) => it.next().map(|k| Ok(value(k))),
            Inner::Merge { readers, heap } => {
                let Reverse((k, i)) = heap.pop()?;
                match readers[i].next_key() {
                    Ok(Some(next)) => heap.push(Reverse((next, i))),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
                Some(Ok(value(k)))
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
            for s in 0..2 {
                let a: Vec<f64> = small.sorted(s).unwrap().map(Result::unwrap).collect();
                let b: Vec<f64> = large.sorted(s).unwrap().map(Result::unwrap).collect();
                prop_assert!(a.windows(2).all(|w| w[0] <= w[1]));
                prop_assert_eq!(a, b);
            }
        }
    }
}
