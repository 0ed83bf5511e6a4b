//! Partial runs: the tallies of some of the gallery's identity blocks, per replicate. One type
//! serves three uses: a shard's output (`run --shard i/n --out PART`), the checkpoint a long run
//! writes after each batch of tiles (`run --resume` continues from it), and the input of
//! `merge`. Because tallies are integers merged exactly, how the blocks were split, in what
//! order and on which machines, cannot change a bit of the result.
//!
//! ```text
//! shard i of n, replicate r:  blocks [floor(B i / n), floor(B (i + 1) / n))   B = blocks of r
//! part file (JSON):  format, version, scenario (name, SHA-256, text), seed, shard,
//!                    per replicate: blocks done (sorted ranges) + the merged tally,
//!                    digest = SHA-256 of the canonical JSON of all of the above
//! merge:  for each replicate, the parts' block ranges must tile [0, B) exactly
//! ```
//!
//! Invariants: nothing read back is trusted. A part whose digest does not match its content,
//! whose recorded scenario text does not match its SHA-256, whose blocks leave its shard or
//! overlap, or whose counts are impossible for those blocks (more entries than the blocks
//! hold, more candidates than K, a probe missing, a maximum score outside its threshold
//! bucket) is refused with a message naming the file, so a resumed or merged run can only
//! give the uninterrupted run's bytes. The digest catches corruption and hand edits; a
//! deliberate forger can recompute it, and only `verify` (a full re-run) answers that.

use crate::tally::Tally;
use serde::{Deserialize, Serialize};
use std::ops::Range;

mod env;

pub use env::ShardEnvError;

/// The format name written in every part file.
pub const FORMAT: &str = "falsematch-partial-run-2";

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
    /// [`BadShard`] holding the text, whose message says what is allowed.
    pub fn parse(text: &str) -> Result<Shard, BadShard> {
        let bad = || BadShard(text.to_string());
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

/// A shard that is not `i/n` with 0 <= i < n <= 100000 (the text as given).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a shard: give i/n with 0 <= i < n <= 100000, e.g. 0/4")]
pub struct BadShard(pub String);

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

    /// Checks that this replicate's blocks lie in its shard, and that its tally has the shape
    /// of the scenario and counts that those blocks can hold.
    ///
    /// # Errors
    /// A message saying what is impossible.
    pub fn check(&self, b: &PartBounds<'_>) -> Result<(), String> {
        self.check_blocks(b)?;
        let entries = self.check_counts(b)?;
        self.check_clusters(b)?;
        let t = &self.tally;
        for (p, (probe, &mates)) in t.probes.iter().zip(b.mates).enumerate() {
            self.check_probe(b, p, probe, mates, entries)?;
        }
        Ok(())
    }

    /// The blocks lie in the shard, ascending and without overlap.
    fn check_blocks(&self, b: &PartBounds<'_>) -> Result<(), String> {
        let r = self.replicate;
        let mut last_end = None;
        for &(start, end) in &self.blocks {
            if start >= end || start < b.shard_blocks.start || end > b.shard_blocks.end {
                return Err(format!(
                    "replicate {r}: blocks {start}..{end} are not inside this shard's blocks {}..{}",
                    b.shard_blocks.start, b.shard_blocks.end
                ));
            }
            if last_end.is_some_and(|e| start <= e) {
                return Err(format!(
                    "replicate {r}: block ranges overlap or are out of order at {start}..{end}"
                ));
            }
            last_end = Some(end);
        }
        Ok(())
    }

    /// The tally has the scenario's shape and counts the blocks can hold; returns the entries
    /// the blocks hold.
    fn check_counts(&self, b: &PartBounds<'_>) -> Result<u64, String> {
        let r = self.replicate;
        let t = &self.tally;
        if t.k != b.k
            || t.probes.len() != b.mates.len()
            || t.entries_per_group.len() != b.n_groups
            || t.identities_per_group.len() != b.n_groups
        {
            return Err(format!(
                "replicate {r}: the tally has K = {}, {} probes and {} groups, the scenario {}, {} and {}",
                t.k,
                t.probes.len(),
                t.entries_per_group.len(),
                b.k,
                b.mates.len(),
                b.n_groups
            ));
        }
        let entries: u64 = self
            .blocks
            .iter()
            .map(|&(s, e)| b.block_start[e as usize] - b.block_start[s as usize])
            .sum();
        let max_identities: u64 = self
            .blocks
            .iter()
            .map(|&(s, e)| (e - s) * b.identities_per_block)
            .sum();
        let counted: u64 = t.entries_per_group.iter().sum();
        if counted != entries {
            return Err(format!(
                "replicate {r}: {counted} gallery entries counted, but its blocks hold {entries}"
            ));
        }
        if t.identities_per_group.iter().sum::<u64>() > max_identities.min(entries) {
            return Err(format!(
                "replicate {r}: more identities counted than its blocks can hold"
            ));
        }
        Ok(entries)
    }

    /// The cluster sums: their shape, identity sizes that add up to the counts, and sums of
    /// squares that the counts allow.
    fn check_clusters(&self, b: &PartBounds<'_>) -> Result<(), String> {
        let r = self.replicate;
        let t = &self.tally;
        let cells = b.thresholds_q.len() * b.n_groups;
        let c = &t.clusters;
        let cluster_cells = (b.n_groups + 1) * cells;
        if c.detections_sq.len() != cluster_cells
            || c.detections_by_size.len() != cluster_cells
            || c.people_sq.len() != cluster_cells
            || c.size_sq.len() != b.n_groups
            || c.sizes.len() != b.n_groups
        {
            return Err(format!(
                "replicate {r}: its cluster sums have the wrong shape for this scenario"
            ));
        }
        for h in 0..b.n_groups {
            let (n, m, m2) = c.sizes[h]
                .iter()
                .fold((0u64, 0u64, 0u64), |(n, m, m2), (&k, &v)| {
                    (
                        n.saturating_add(v),
                        m.saturating_add(k.saturating_mul(v)),
                        m2.saturating_add(k.saturating_mul(k).saturating_mul(v)),
                    )
                });
            if c.sizes[h].contains_key(&0)
                || n != t.identities_per_group[h]
                || m != t.entries_per_group[h]
                || m2 != c.size_sq[h]
            {
                return Err(format!(
                    "replicate {r}: its identity sizes of group {h} do not add up to its identities and entries"
                ));
            }
        }
        let n_probes = t.probes.len() as u64;
        for s in 0..=b.n_groups {
            for k in 0..b.thresholds_q.len() {
                for h in 0..b.n_groups {
                    let i = c.cell(s, k, h);
                    // E_i <= n m_i, so sum E_i^2 <= n^2 sum m_i^2 and sum m_i E_i <= n sum m_i^2;
                    // P_i <= n, so sum P_i^2 <= n^2 identities.
                    let n2 = n_probes.saturating_mul(n_probes);
                    if c.detections_sq[i] > n2.saturating_mul(c.size_sq[h])
                        || c.detections_by_size[i] > n_probes.saturating_mul(c.size_sq[h])
                        || c.people_sq[i] > n2.saturating_mul(t.identities_per_group[h])
                    {
                        return Err(format!(
                            "replicate {r}: its cluster sums are larger than its searches and identities allow"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Probe `p`'s counts, maximum non-mate score and candidate list are possible in blocks
    /// holding `entries` entries.
    fn check_probe(
        &self,
        b: &PartBounds<'_>,
        p: usize,
        probe: &crate::tally::ProbeTally,
        mates: usize,
        entries: u64,
    ) -> Result<(), String> {
        let r = self.replicate;
        let t = &self.tally;
        let cells = b.thresholds_q.len() * b.n_groups;
        let inside = |entry: u64| {
            self.blocks.iter().any(|&(s, e)| {
                (b.block_start[s as usize]..b.block_start[e as usize]).contains(&entry)
            })
        };
        let bad = |what: &str| Err(format!("replicate {r}, probe {p}: {what}"));
        if probe.det.len() != cells
            || probe.ppl.len() != cells
            || probe.sq.len() != cells
            || probe.beaten.len() != mates
        {
            return bad("its tally has the wrong number of counts for this scenario");
        }
        let non_mates: u64 = probe.det.iter().sum();
        if non_mates > entries || probe.beaten.iter().any(|&x| x > entries) {
            return bad("more candidates counted than its blocks hold entries");
        }
        for h in 0..b.n_groups {
            let cells = (0..b.thresholds_q.len()).map(|k| k * b.n_groups + h);
            let det: u64 = cells.clone().map(|c| probe.det[c]).sum();
            let ppl: u64 = cells.clone().map(|c| probe.ppl[c]).sum();
            // Squares of cumulative counts: at least the count at that threshold (each
            // count >= 1 squared is >= itself), at most (count)^2.
            let cumulative = |k: usize| -> u64 {
                (k..b.thresholds_q.len())
                    .map(|j| probe.det[j * b.n_groups + h])
                    .sum()
            };
            let squares_possible = (0..b.thresholds_q.len()).all(|k| {
                let x = cumulative(k);
                let sq = probe.sq[k * b.n_groups + h];
                sq >= x && sq <= x.saturating_mul(x)
            });
            if det > t.entries_per_group[h]
                || ppl > t.identities_per_group[h]
                || cells.into_iter().any(|c| probe.ppl[c] > probe.det[c])
                || !squares_possible
            {
                return bad("more candidates of a group counted than the group has");
            }
        }
        // The maximum non-mate score lies in the highest threshold bucket holding one.
        let highest = (0..b.thresholds_q.len())
            .rev()
            .find(|&k| (0..b.n_groups).any(|h| probe.det[k * b.n_groups + h] > 0));
        let m = probe.max_nonmate;
        let consistent = match highest {
            Some(k) => m >= b.thresholds_q[k] && b.thresholds_q.get(k + 1).is_none_or(|&q| m < q),
            None => b.thresholds_q.first().is_none_or(|&q| m < q),
        };
        if !consistent {
            return bad("its highest non-mate score does not agree with its threshold counts");
        }
        if probe.top.len() > b.k
            || probe
                .top
                .windows(2)
                .any(|w| w[0].rank_order(&w[1]) != std::cmp::Ordering::Less)
            || probe
                .top
                .iter()
                .any(|c| !inside(c.entry) || usize::from(c.group) >= b.n_groups)
            || probe
                .top
                .iter()
                .find(|c| !c.mate)
                .is_some_and(|c| c.score != m)
        {
            return bad("its candidate list is not a top-K list of its blocks");
        }
        Ok(())
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
    /// SHA-256 (hex) of the canonical JSON of every field above, with this one empty.
    pub digest: String,
}

/// Why a part file or checkpoint was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PartError {
    /// The file (or a description of the part when it has no file).
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

fn part_error(file: &str, message: impl Into<String>) -> PartError {
    PartError {
        file: file.to_string(),
        message: message.into(),
    }
}

/// What the blocks of one replicate hold, from its gallery layout: everything a part's counts
/// are checked against.
#[derive(Clone, Debug)]
pub struct PartBounds<'a> {
    /// Candidate list length K.
    pub k: usize,
    /// Integer thresholds, ascending.
    pub thresholds_q: &'a [i32],
    /// Groups.
    pub n_groups: usize,
    /// Mate detections of each probe (its length is the number of probes).
    pub mates: &'a [usize],
    /// `block_start[b]` is the first entry of block b, one more closes the last block.
    pub block_start: &'a [u64],
    /// Identities per block at most.
    pub identities_per_block: u64,
    /// The blocks of this part's shard.
    pub shard_blocks: Range<u64>,
}

impl PartialRun {
    /// An empty part of `scenario` (with its text) for `shard`.
    pub fn new(scenario: &crate::scenario::Scenario, text: &str, shard: Shard) -> Self {
        Self {
            format: FORMAT.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            scenario: PartScenario {
                name: scenario.config().name.clone(),
                sha256: scenario.text_sha256().to_string(),
                text: text.into(),
            },
            seed: scenario.seed(),
            shard,
            replicates: Vec::new(),
            digest: String::new(),
        }
    }

    /// SHA-256 of the canonical JSON of every field but the digest.
    fn content_digest(&self) -> String {
        let mut body = self.clone();
        body.digest = String::new();
        crate::scenario::sha256_hex(&serde_json::to_vec(&body).expect("tallies serialize"))
    }

    /// The JSON bytes (compact, newline-terminated), with the digest of the content.
    pub fn to_json(&self) -> Vec<u8> {
        let mut sealed = self.clone();
        sealed.digest = self.content_digest();
        let mut bytes = serde_json::to_vec(&sealed).expect("tallies serialize");
        bytes.push(b'\n');
        bytes
    }

    /// Parses a part file's bytes; `file` names it in errors.
    ///
    /// # Errors
    /// [`PartError`] naming the file when it is not a falsematch part of this version, when its
    /// digest does not match its content (changed or corrupted since it was written), or when
    /// its recorded scenario text does not match the recorded SHA-256.
    pub fn from_json(bytes: &[u8], file: &str) -> Result<Self, PartError> {
        let mut part: PartialRun = serde_json::from_slice(bytes).map_err(|e| {
            part_error(
                file,
                format!("not a falsematch part file or checkpoint ({e})"),
            )
        })?;
        if part.format != FORMAT {
            return Err(part_error(file, "not a falsematch part file or checkpoint"));
        }
        if part.version != env!("CARGO_PKG_VERSION") {
            return Err(part_error(
                file,
                format!(
                    "written by falsematch {}, this is {}; use the same version for every part",
                    part.version,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        let recorded = std::mem::take(&mut part.digest);
        if recorded != part.content_digest() {
            return Err(part_error(
                file,
                "its content does not match its SHA-256 digest: it was changed or corrupted after falsematch wrote it; run that shard again (or, for a checkpoint, remove it and run without --resume)",
            ));
        }
        if !part.scenario.text.is_empty()
            && crate::scenario::sha256_hex(part.scenario.text.as_bytes()) != part.scenario.sha256
        {
            return Err(part_error(
                file,
                "its recorded scenario text does not match its SHA-256",
            ));
        }
        let shard = part.shard;
        if shard.count == 0 || shard.count > 100_000 || shard.index >= shard.count {
            return Err(part_error(
                file,
                format!(
                    "its shard {}/{} is not a shard (0 <= i < n <= 100000)",
                    shard.index, shard.count
                ),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(r) = part.replicates.iter().find(|r| !seen.insert(r.replicate)) {
            return Err(part_error(
                file,
                format!("replicate {} appears twice", r.replicate),
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
    ) -> Result<(), PartError> {
        if self.scenario.sha256 != scenario.text_sha256() || self.seed != scenario.seed() {
            return Err(part_error(
                file,
                format!(
                    "belongs to another scenario or seed ({} seed {}); remove it or run without --resume",
                    self.scenario.name, self.seed
                ),
            ));
        }
        if self.shard != shard {
            return Err(part_error(
                file,
                format!(
                    "is shard {}/{}, not {}/{}",
                    self.shard.index, self.shard.count, shard.index, shard.count
                ),
            ));
        }
        if let Some(r) = self
            .replicates
            .iter()
            .find(|r| r.replicate >= scenario.config().replicates)
        {
            return Err(part_error(
                file,
                format!(
                    "holds replicate {}, but the scenario has {}",
                    r.replicate,
                    scenario.config().replicates
                ),
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
                Shard::parse(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("is not a shard"),
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
