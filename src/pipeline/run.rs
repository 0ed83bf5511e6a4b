//! One run: for each replicate, lay out the gallery, make the probes, search every tile in
//! parallel, merge the integer tallies, then estimate.
//!
//! ```text
//! Scenario -> per replicate: GalleryLayout + ProbeSet -> tiles (parallel: generate, search, tally)
//!          -> Tally (merged) -> ProbeRecords -> Estimates
//! ```
//!
//! Invariants: memory is O(tile x threads + probes + N / 256), never O(N x d); tiles may be
//! processed in any order by any number of threads and the tallies are the same integers;
//! nothing here writes files.

use crate::estimate::{Estimates, Plan, ProbeRecord, ReplicateOutcome, estimate, records};
use crate::pipeline::shard::{PartialRun, ReplicatePart, Shard};
use crate::population::NoEnrolledIdentity;
use crate::population::{GalleryLayout, Population, Screen, ScreenShortfall};
use crate::progress::{Progress, ProgressSink, report};
use crate::scenario::Scenario;
use crate::search::{ProbeSet, Thresholds, Tile, search_tile};
use crate::tally::Tally;
use rayon::prelude::*;

/// Default tile size, in gallery entries.
pub const DEFAULT_TILE_ENTRIES: u64 = 4096;

/// How to run (never changes results).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads (None: one per core).
    pub threads: Option<usize>,
    /// Gallery entries per tile (rounded to whole identity blocks).
    pub tile_entries: u64,
    /// Where progress is reported (None: nowhere).
    pub progress: ProgressSink,
    /// Process tiles in reverse order (tests use it to show order does not matter).
    pub reverse_tiles: bool,
    /// Refuse work estimated to take longer than this many seconds (evaluations check their
    /// bootstrap once the number of searches is known).
    pub max_seconds: Option<f64>,
    /// Bytes of an imported gallery file read per block, rounded to whole tiles (`search`
    /// streams its gallery; results do not depend on it, tests shrink it to show so).
    pub read_block_bytes: usize,
}

/// [`RunOptions::read_block_bytes`] unless told otherwise: 64 MiB.
pub const DEFAULT_READ_BLOCK_BYTES: usize = 64 << 20;

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            threads: None,
            tile_entries: DEFAULT_TILE_ENTRIES,
            progress: None,
            reverse_tiles: false,
            max_seconds: None,
            read_block_bytes: DEFAULT_READ_BLOCK_BYTES,
        }
    }
}

/// Why a run failed after its scenario was validated.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A mated probe found no enrolled identity of its group.
    #[error(transparent)]
    NoEnrolledIdentity(#[from] NoEnrolledIdentity),
    /// Parts to merge do not cover the gallery exactly once: `blocks` of `replicate` are in no
    /// part (`twice` false) or in two (`twice` true).
    #[error("replicate {replicate}: identity blocks {}..{} are in {}", blocks.start, blocks.end, if *twice { "two parts; give each shard once" } else { "no part; a shard is missing or unfinished" })]
    Coverage {
        /// The replicate.
        replicate: u32,
        /// The identity blocks concerned.
        blocks: std::ops::Range<u64>,
        /// True when the blocks are in two parts, false when in none.
        twice: bool,
    },
    /// A checkpoint could not be written.
    #[error("cannot write the checkpoint: {0}")]
    Checkpoint(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A part or checkpoint read back holds counts its blocks cannot hold.
    #[error("{}/{}{}: {message}", shard.index, shard.count, if *.checkpoint { " (checkpoint)" } else { "" })]
    Part {
        /// The part's shard.
        shard: Shard,
        /// True for a checkpoint being resumed, false for a part being merged.
        checkpoint: bool,
        /// What is impossible.
        message: String,
    },
    /// The screened generator could not fill a probe's candidate list.
    #[error(transparent)]
    Screened(#[from] ScreenShortfall),
    /// `export` of a scenario whose generator does not draw every detection.
    #[error(
        "export writes every detection of the gallery, and generator {generator} (screened) draws only those some search can see: set [search] generator = 1 to export this scenario (the same law, other draws)"
    )]
    NotExportable {
        /// The scenario's generator.
        generator: u32,
    },
    /// The worker pool could not start.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads {
        /// Requested threads.
        threads: usize,
        /// Why.
        message: String,
    },
}

/// What a run produced, before any file is written.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// Per replicate: gallery facts, probes' mates and the merged tally.
    pub outcomes: Vec<ReplicateOutcome>,
    /// One record per search.
    pub records: Vec<ProbeRecord>,
    /// Everything estimated.
    pub estimates: Estimates,
}

/// How a run's tiles are cut into batches, each ended by a call to `on_batch` (a checkpoint).
/// Never changes results: the tallies of any cut merge to the same integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batches {
    /// Tiles in each replicate's first batch.
    pub first: usize,
    /// Each later batch has twice the tiles of the one before, up to this many.
    pub largest: usize,
}

impl Batches {
    /// The whole shard in one batch (no checkpoint before the end).
    pub const WHOLE: Self = Self {
        first: usize::MAX,
        largest: usize::MAX,
    };

    /// `tiles` tiles in every batch.
    pub fn every(tiles: usize) -> Self {
        Self {
            first: tiles,
            largest: tiles,
        }
    }

    /// `tiles` cut into batches.
    fn cut<T>(self, mut tiles: &[T]) -> Vec<&[T]> {
        let mut size = self.first.max(1);
        let largest = self.largest.max(size);
        let mut out = Vec::new();
        while !tiles.is_empty() {
            let (batch, rest) = tiles.split_at(size.min(tiles.len()));
            out.push(batch);
            tiles = rest;
            size = size.saturating_mul(2).min(largest);
        }
        out
    }
}

/// Runs the scenario.
///
/// # Errors
/// [`RunError`] when the worker pool cannot start or a mated probe has no enrolled identity.
pub fn simulate(scenario: &Scenario, options: &RunOptions) -> Result<RunOutput, RunError> {
    let part = simulate_part(
        scenario,
        options,
        PartialRun::new(scenario, "", Shard::WHOLE),
        Batches::WHOLE,
        &mut |_| Ok(()),
    )?;
    thread_pool(options)?.install(|| finish(scenario, &[part]))
}

/// Searches the blocks of `part`'s shard that `part` has not finished yet in `batches`,
/// calling `on_batch` with the part after each batch (a checkpoint). Returns the finished
/// part.
///
/// # Errors
/// [`RunError`] when the worker pool cannot start, a mated probe has no enrolled identity, or
/// `on_batch` fails.
pub fn simulate_part(
    scenario: &Scenario,
    options: &RunOptions,
    mut part: PartialRun,
    batches: Batches,
    on_batch: &mut dyn FnMut(&PartialRun) -> Result<(), RunError>,
) -> Result<PartialRun, RunError> {
    let pool = thread_pool(options)?;
    let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
    let n_thresholds = thresholds.q.len();
    let n_groups = scenario.n_groups();
    let replicates = scenario.config().replicates;
    let bar = report(&options.progress);
    for replicate in 0..replicates {
        let population = Population::new(scenario, replicate);
        bar.stage(&format!(
            "replicate {}/{replicates}: laying out gallery",
            replicate + 1
        ));
        // The first replicate's layout shows its own progress, in detections; a later one
        // leaves the run's tile count on display.
        let layout = if replicate == 0 {
            bar.set_unit("detections");
            bar.set_length(scenario.config().gallery.detections);
            pool.install(|| GalleryLayout::build_reporting(&population, bar))
        } else {
            pool.install(|| GalleryLayout::build(&population))
        };
        let shard_blocks = part.shard.blocks(layout.n_blocks());
        let probes = crate::population::draw_probes(&population, &layout, replicate)?;
        let mate_counts = probes.mate_counts();
        let screen = (scenario.config().search.generator == 2)
            .then(|| Screen::new(&population, &probes, &thresholds));
        if let Some(resumed) = part.replicates.iter().find(|r| r.replicate == replicate) {
            check_part(
                scenario,
                resumed,
                part.shard,
                true,
                &layout,
                &thresholds,
                &mate_counts,
            )?;
        }
        if part.replicates.iter().all(|r| r.replicate != replicate) {
            part.replicates.push(ReplicatePart {
                replicate,
                blocks: Vec::new(),
                tally: Tally::new(scenario.k(), n_thresholds, n_groups, &[]),
            });
        }
        let at = part
            .replicates
            .iter()
            .position(|r| r.replicate == replicate)
            .expect("pushed above");
        let missing = part.replicates[at].missing(shard_blocks.clone());
        let mut tiles: Vec<std::ops::Range<u64>> = missing
            .into_iter()
            .flat_map(|m| layout.tiles_in(m, options.tile_entries))
            .collect();
        if options.reverse_tiles {
            tiles.reverse();
        }
        bar.stage(&format!("replicate {}/{replicates}", replicate + 1));
        if replicate == 0 {
            let all = layout
                .tiles_in(shard_blocks.clone(), options.tile_entries)
                .len();
            bar.set_unit("tiles");
            bar.set_length(all as u64 * u64::from(replicates));
            bar.set_position((all - tiles.len()) as u64);
        }
        if tiles.is_empty() {
            continue;
        }
        let empty = || Tally::new(scenario.k(), n_thresholds, n_groups, &mate_counts);
        if part.replicates[at].blocks.is_empty() {
            part.replicates[at].tally = empty();
        }
        for batch in batches.cut(&tiles) {
            let tally = pool.install(|| {
                search_tiles(
                    batch,
                    |blocks| match &screen {
                        Some(screen) => screen.generate(&population, &layout, blocks.clone()),
                        None => layout.generate(&population, blocks.clone()),
                    },
                    &probes,
                    &thresholds,
                    empty,
                    bar,
                )
            });
            let r = &mut part.replicates[at];
            r.tally = std::mem::replace(&mut r.tally, empty()).merge(tally);
            for tile in batch {
                r.add_blocks(tile.clone());
            }
            on_batch(&part)?;
        }
    }
    bar.finish();
    Ok(part)
}

/// Combines complete parts (one per shard, or one for the whole run) into the run's output.
///
/// # Errors
/// [`RunError::Coverage`] when the parts do not cover every block of every replicate exactly
/// once; [`RunError::NoEnrolledIdentity`] as for a run.
pub fn finish(scenario: &Scenario, parts: &[PartialRun]) -> Result<RunOutput, RunError> {
    let n_thresholds = scenario.thresholds().len();
    let n_groups = scenario.n_groups();
    let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
    let mut outcomes = Vec::new();
    for replicate in 0..scenario.config().replicates {
        let population = Population::new(scenario, replicate);
        let layout = GalleryLayout::build(&population);
        let probes = crate::population::draw_probes(&population, &layout, replicate)?;
        let mate_counts = probes.mate_counts();
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        let mut tally: Option<Tally> = None;
        for (shard, r) in parts
            .iter()
            .flat_map(|p| p.replicates.iter().map(move |r| (p.shard, r)))
            .filter(|(_, r)| r.replicate == replicate && !r.blocks.is_empty())
        {
            check_part(
                scenario,
                r,
                shard,
                false,
                &layout,
                &thresholds,
                &mate_counts,
            )?;
            pieces.extend(&r.blocks);
            tally = Some(match tally {
                None => r.tally.clone(),
                Some(t) => t.merge(r.tally.clone()),
            });
        }
        pieces.sort_unstable();
        let mut at = 0;
        for &(a, b) in &pieces {
            if a != at {
                return Err(RunError::Coverage {
                    replicate,
                    blocks: if a > at { at..a } else { a..at.min(b) },
                    twice: a < at,
                });
            }
            at = b;
        }
        if at != layout.n_blocks() {
            return Err(RunError::Coverage {
                replicate,
                blocks: at..layout.n_blocks(),
                twice: false,
            });
        }
        let tally =
            tally.unwrap_or_else(|| Tally::new(scenario.k(), n_thresholds, n_groups, &mate_counts));
        if scenario.config().search.generator == 2 {
            Screen::check(replicate, &probes, &thresholds, &tally)?;
        }
        outcomes.push(ReplicateOutcome {
            replicate,
            entries: layout.detections,
            identities: layout.identities,
            probe_group: probes.group,
            mate: probes.mate,
            tally,
        });
    }
    let records: Vec<ProbeRecord> = outcomes
        .iter()
        .flat_map(|o| records(o, n_thresholds, n_groups))
        .collect();
    let estimates = estimate(&Plan::of(scenario), Some(scenario), &outcomes, &records);
    Ok(RunOutput {
        outcomes,
        records,
        estimates,
    })
}

/// Refuses a part's replicate whose blocks or counts its gallery layout cannot hold.
fn check_part(
    scenario: &Scenario,
    part: &ReplicatePart,
    shard: Shard,
    checkpoint: bool,
    layout: &GalleryLayout,
    thresholds: &Thresholds,
    mates: &[usize],
) -> Result<(), RunError> {
    let bounds = crate::pipeline::shard::PartBounds {
        k: scenario.k(),
        thresholds_q: &thresholds.q,
        n_groups: scenario.n_groups(),
        mates,
        block_start: &layout.block_start,
        identities_per_block: crate::population::IDENTITY_BLOCK,
        shard_blocks: shard.blocks(layout.n_blocks()),
    };
    part.check(&bounds).map_err(|message| RunError::Part {
        shard,
        checkpoint,
        message,
    })
}

/// The worker pool of a run (`--threads`, or one worker per core).
pub fn thread_pool(options: &RunOptions) -> Result<rayon::ThreadPool, RunError> {
    let mut builder = rayon::ThreadPoolBuilder::new();
    if let Some(threads) = options.threads {
        builder = builder.num_threads(threads);
    }
    builder.build().map_err(|e| RunError::Threads {
        threads: options.threads.unwrap_or(0),
        message: e.to_string(),
    })
}

/// Searches every work unit's tile in parallel and merges the tallies: `tile_of` makes the
/// tile of one unit, `empty` an empty tally. One score buffer per worker; integer merges, so
/// the result does not depend on the order or the number of workers.
pub(crate) fn search_tiles<U: Sync>(
    units: &[U],
    tile_of: impl Fn(&U) -> Tile + Sync,
    probes: &ProbeSet,
    thresholds: &Thresholds,
    empty: impl Fn() -> Tally + Sync + Send,
    bar: &dyn Progress,
) -> Tally {
    units
        .par_iter()
        .fold(
            || (empty(), Vec::new()),
            |(mut acc, mut scores), unit| {
                search_tile(&tile_of(unit), probes, thresholds, &mut acc, &mut scores);
                bar.advance(1);
                (acc, scores)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(&empty, Tally::merge)
}

/// One tally and one score buffer per worker of the current pool, kept across tiles and
/// across calls of [`Workers::search`] (`search` on imported files calls it once per block
/// read), so each worker's top-K lists fill once: a fresh tally takes its first K entries
/// and about K ln(m / K) more of the next m, and [`search_tiles`]' fold starts one per piece
/// it splits off. Merged by [`Workers::into_tally`]; integer merges, so the result does not
/// depend on which worker searched which tile, nor on their number. (Runs keep the fold:
/// their batches end in a checkpoint of the merged tally anyway, and there the per-worker
/// tallies measured 0.4 CPU-s less but 0.15 s more wall time on `throughput-1m`.)
pub(crate) struct Workers {
    slots: Vec<std::sync::Mutex<(Tally, Vec<i32>)>>,
}

impl Workers {
    /// Empty tallies for every worker of the current pool.
    pub(crate) fn new(empty: impl Fn() -> Tally) -> Self {
        let slots = (0..rayon::current_num_threads())
            .map(|_| std::sync::Mutex::new((empty(), Vec::new())))
            .collect();
        Self { slots }
    }

    /// Searches every work unit's tile on the current pool, each into its worker's tally.
    pub(crate) fn search<U: Sync>(
        &self,
        units: &[U],
        tile_of: impl Fn(&U) -> Tile + Sync,
        probes: &ProbeSet,
        thresholds: &Thresholds,
        bar: &dyn Progress,
    ) {
        units.par_iter().for_each(|unit| {
            let tile = tile_of(unit);
            // A worker only ever takes its own slot (slot 0 off the pool), and nothing below
            // runs rayon work, so the lock never waits on itself.
            let i = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
            let mut slot = self.slots[i].lock().unwrap_or_else(|e| e.into_inner());
            let (acc, scores) = &mut *slot;
            search_tile(&tile, probes, thresholds, acc, scores);
            drop(slot);
            bar.advance(1);
        });
    }

    /// The merged tally of every worker.
    pub(crate) fn into_tally(self, empty: impl Fn() -> Tally) -> Tally {
        self.slots
            .into_iter()
            .map(|slot| slot.into_inner().unwrap_or_else(|e| e.into_inner()).0)
            .fold(empty(), Tally::merge)
    }
}

/// The tile of gallery `rows`, the first of them entry `first_entry`, with each row's identity
/// (never decreasing) and group.
pub(crate) fn tile_from(
    rows: ndarray::ArrayView2<'_, i16>,
    first_entry: u64,
    identity: &[u64],
    groups: &[u16],
    n_groups: usize,
) -> Tile {
    let mut identities_per_group = vec![0u64; n_groups];
    for (j, (&id, &g)) in identity.iter().zip(groups).enumerate() {
        if j == 0 || id != identity[j - 1] {
            identities_per_group[usize::from(g)] += 1;
        }
    }
    Tile {
        first_entry,
        embeddings: rows.to_owned(),
        identity: identity.to_vec(),
        group: groups.to_vec(),
        identities_per_group,
        sparse: None,
    }
}

/// Searches probes (with their mates, if any) against a gallery laid out identity-major:
/// `identity[i]` never decreases, and `groups[i]` is the group of row i. Tiles end at identity
/// boundaries, so every identity is counted once.
///
/// # Errors
/// [`RunError::Threads`] when the worker pool cannot start.
#[allow(clippy::too_many_arguments)]
pub fn search_gallery(
    gallery: &ndarray::Array2<i16>,
    identity: &[u64],
    groups: &[u16],
    n_groups: usize,
    probes: &ProbeSet,
    k: usize,
    thresholds: &Thresholds,
    options: &RunOptions,
) -> Result<Tally, RunError> {
    let pool = thread_pool(options)?;
    let n = gallery.nrows();
    let tile_rows = (options.tile_entries as usize).max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < n {
        let mut end = (start + tile_rows).min(n);
        while end < n && identity[end] == identity[end - 1] {
            end += 1;
        }
        ranges.push(start..end);
        start = end;
    }
    let bar = report(&options.progress);
    bar.set_unit("tiles");
    bar.set_length(ranges.len() as u64);
    bar.stage("searching");
    let mate_counts = probes.mate_counts();
    let empty = || Tally::new(k, thresholds.q.len(), n_groups, &mate_counts);
    let tile_of = |range: &std::ops::Range<usize>| {
        tile_from(
            gallery.slice(ndarray::s![range.clone(), ..]),
            range.start as u64,
            &identity[range.clone()],
            &groups[range.clone()],
            n_groups,
        )
    };
    let tally = pool.install(|| search_tiles(&ranges, tile_of, probes, thresholds, empty, bar));
    bar.finish();
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::Batches;

    #[test]
    fn batches_grow_to_their_largest_and_cover_every_tile_once() {
        let tiles: Vec<u32> = (0..1000).collect();
        let cut = |b: Batches| b.cut(&tiles);
        let sizes = |b: Batches| cut(b).iter().map(|x| x.len()).collect::<Vec<_>>();
        let growing = Batches {
            first: 64,
            largest: 256,
        };
        assert_eq!(sizes(growing), [64, 128, 256, 256, 256, 40]);
        assert_eq!(cut(growing).concat(), tiles);
        assert_eq!(sizes(Batches::every(300)), [300, 300, 300, 100]);
        assert_eq!(sizes(Batches::every(0)), vec![1; 1000]);
        assert_eq!(sizes(Batches::WHOLE), [1000]);
        assert!(Batches::WHOLE.cut::<u32>(&[]).is_empty());
    }
}
