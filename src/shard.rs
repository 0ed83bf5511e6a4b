//! Partial runs: the tallies of some of the gallery's identity blocks, per replicate. One type
//! serves three uses: a shard's output (`run --shard i/n --out PART`), the checkpoint a long run
//! writes after each batch of tiles (`run --resume` continues from it), and the input of
//! `merge`. Because tallies are integers merged exactly, how the blocks were split, in what
//! order and on which machines, cannot change a bit of the result.
//!
//! ```text
//! shard i of n, replicate r:  blocks [floor(B i / n), floor(B (i + 1) / n))   B = blocks of r
//! part file (JSON):  format, version, scenario (name, SHA-256, text), seed, shard,
//!                    per replicate: blocks done (sorted ranges) + the merged tally
//! merge:  for each replicate, the parts' block ranges must tile [0, B) exactly
//! ```

use crate::tally::Tally;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The format name written in every part file.
pub const FORMAT: &str = "falsematch-partial-run";

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// 0-based index.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// The whole gallery.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `i/n` (0 <= i < n <= 100000).
    ///
    /// # Errors
    /// A message saying what is allowed.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad =
            || format!("`{text}` is not a shard: give i/n with 0 <= i < n <= 100000, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > 100_000 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// This shard's identity blocks out of `n_blocks`.
    pub fn blocks(&self, n_blocks: u64) -> Range<u64> {
        let at = |i: u32| (u128::from(n_blocks) * u128::from(i) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// One replicate's finished blocks and their tally.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicatePart {
    /// Replicate index.
    pub replicate: u32,
    /// Finished identity blocks, as sorted, disjoint, non-adjacent [start, end) ranges.
    pub blocks: Vec<(u64, u64)>,
    /// The tally of those blocks.
    pub tally: Tally,
}

impl ReplicatePart {
    /// Records blocks `range` as finished.
    pub fn add_blocks(&mut self, range: Range<u64>) {
        self.blocks.push((range.start, range.end));
        self.blocks.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.blocks.len());
        for &(a, b) in &self.blocks {
            match merged.last_mut() {
                Some(last) if last.1 >= a => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.blocks = merged;
    }

    /// The parts of `range` not finished yet.
    pub fn missing(&self, range: Range<u64>) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut at = range.start;
        for &(a, b) in &self.blocks {
            if b <= at || a >= range.end {
                continue;
            }
            if a > at {
                out.push(at..a);
            }
            at = at.max(b);
        }
        if at < range.end {
            out.push(at..range.end);
        }
        out
    }
}

/// The recorded scenario of a part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartScenario {
    /// Scenario name.
    pub name: String,
    /// SHA-256 of the text.
    pub sha256: String,
    /// The scenario file, verbatim (empty for in-memory runs that are never written).
    pub text: String,
}

/// A partial run: a shard's output, or a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialRun {
    /// Always [`FORMAT`].
    pub format: String,
    /// falsematch version that wrote it.
    pub version: String,
    /// The scenario.
    pub scenario: PartScenario,
    /// The seed.
    pub seed: u64,
    /// Which shard.
    pub shard: Shard,
    /// Replicates started, in order.
    pub replicates: Vec<ReplicatePart>,
}

impl PartialRun {
    /// An empty part of `scenario` (with its text) for `shard`.
    pub fn new(scenario: &crate::scenario::Scenario, text: &str, shard: Shard) -> Self {
        Self {
            format: FORMAT.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario: PartScenario {
                name: scenario.config.name.clone(),
                sha256: scenario.text_sha256.clone(),
                text: text.into(),
            },
            seed: scenario.seed(),
            shard,
            replicates: Vec::new(),
        }
    }

    /// The JSON bytes (compact, newline-terminated).
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).expect("tallies serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Parses a part file's bytes; `file` names it in errors.
    ///
    /// # Errors
    /// A message naming the file when it is not a falsematch part of this version.
    pub fn from_json(bytes: &[u8], file: &str) -> Result<Self, String> {
        let part: PartialRun = serde_json::from_slice(bytes)
            .map_err(|e| format!("{file}: not a falsematch part file ({e})"))?;
        if part.format != FORMAT {
            return Err(format!("{file}: not a falsematch part file"));
        }
        if part.version != env!("CARGO_PKG_VERSION") {
            return Err(format!(
                "{file}: written by falsematch {}, this is {}; use the same version for every part",
                part.version,
                env!("CARGO_PKG_VERSION")
            ));
        }
        Ok(part)
    }

    /// Checks that this part belongs to `scenario` (text SHA-256 and seed) and `shard`.
    ///
    /// # Errors
    /// A message saying what differs.
    pub fn check(
        &self,
        scenario: &crate::scenario::Scenario,
        shard: Shard,
        file: &str,
    ) -> Result<(), String> {
        if self.scenario.sha256 != scenario.text_sha256 || self.seed != scenario.seed() {
            return Err(format!(
                "{file}: belongs to another scenario or seed ({} seed {}); remove it or run without --resume",
                self.scenario.name, self.seed
            ));
        }
        if self.shard != shard {
            return Err(format!(
                "{file}: is shard {}/{}, not {}/{}",
                self.shard.index, self.shard.count, shard.index, shard.count
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_tile_the_blocks() {
        for n_blocks in [0u64, 1, 7, 100, 1001] {
            for count in 1u32..9 {
                let mut at = 0;
                for index in 0..count {
                    let r = Shard { index, count }.blocks(n_blocks);
                    assert_eq!(r.start, at);
                    at = r.end;
                }
                assert_eq!(at, n_blocks);
            }
        }
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(
                Shard::parse(bad).unwrap_err().contains("is not a shard"),
                "{bad}"
            );
        }
    }

    #[test]
    fn finished_blocks_merge_and_the_rest_is_missing() {
        let mut p = ReplicatePart {
            replicate: 0,
            blocks: Vec::new(),
            tally: Tally::new(1, 1, 1, &[]),
        };
        p.add_blocks(4..6);
        p.add_blocks(0..2);
        p.add_blocks(2..3);
        assert_eq!(p.blocks, vec![(0, 3), (4, 6)]);
        assert_eq!(p.missing(0..10), vec![3..4, 6..10]);
        assert_eq!(p.missing(4..6), Vec::<Range<u64>>::new());
        assert_eq!(p.missing(5..8), vec![6..8]);
    }
}
