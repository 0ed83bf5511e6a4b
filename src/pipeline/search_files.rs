//! `search` on imported embeddings: every probe row of one `.npy` file against every gallery
//! row of another, normalized and quantized on load, scored by the same kernel as a
//! simulation; the top-K candidates of each probe and, per threshold, how many gallery rows
//! reach it, in total and per gallery group.

use crate::import::npy::{
    EmbeddingError, npy_shape, read_groups, read_npy_blocks, read_npy_hashed,
};
use crate::pipeline::run::{RunError, RunOptions, Workers, thread_pool, tile_from};
use crate::progress::report;
use crate::quantize::{Precision, score_value, threshold_q};
use crate::search::{ProbeSet, Thresholds};
use crate::tally::Tally;
use std::path::Path;

/// What to search.
#[derive(Clone, Debug)]
pub struct SearchRequest<'a> {
    /// Gallery embeddings (`.npy`, one row per entry).
    pub gallery: &'a Path,
    /// Probe embeddings (`.npy`, same dimension).
    pub probes: &'a Path,
    /// One group label per gallery row (CSV with a `group` column), if any.
    pub gallery_groups: Option<&'a Path>,
    /// Candidates kept per probe.
    pub k: usize,
    /// Score thresholds, any order (duplicates allowed).
    pub thresholds: &'a [f64],
    /// The number format.
    pub precision: Precision,
}

/// A file read: its shape and SHA-256.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    /// Rows.
    pub rows: usize,
    /// Columns (dimension).
    pub dimension: usize,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// One candidate of a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// 0-based gallery row.
    pub gallery_index: u64,
    /// Score, clamped to [-1, 1] (quantization can put a self-match a little above 1).
    pub score: f64,
    /// Index into [`SearchResults::groups`].
    pub group: usize,
}

/// One probe's candidates and counts.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeHits {
    /// Candidates, best first.
    pub candidates: Vec<Hit>,
    /// Per threshold (ascending) and gallery group: gallery rows scoring at or above it.
    pub counts: Vec<Vec<u64>>,
}

/// What a search of imported embeddings found.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchResults {
    /// The gallery file.
    pub gallery: FileFacts,
    /// The probe file.
    pub probes: FileFacts,
    /// Gallery groups ("all" when none were given).
    pub groups: Vec<String>,
    /// Candidates kept per probe.
    pub k: usize,
    /// Thresholds, ascending and distinct.
    pub thresholds: Vec<f64>,
    /// The number format.
    pub precision: Precision,
    /// One per probe row, in file order.
    pub results: Vec<ProbeHits>,
    /// Seconds reading, hashing and quantizing; seconds searching (not part of any output
    /// file).
    pub seconds: (f64, f64),
}

/// Why a search of imported embeddings failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A threshold is not a score in [-1, 1] (its 1-based position and value).
    #[error("--thresholds: value {position} ({value}) must be a score in [-1, 1]")]
    Threshold {
        /// 1-based position in the list.
        position: usize,
        /// The value.
        value: f64,
    },
    /// An embeddings or groups file is unusable.
    #[error(transparent)]
    Embeddings(#[from] EmbeddingError),
    /// Gallery and probes differ in dimension.
    #[error(
        "{probes}: {probe_dim} columns, but {gallery} has {gallery_dim}; gallery and probes must come from the same model"
    )]
    Dimensions {
        /// The probe file.
        probes: String,
        /// Its columns.
        probe_dim: usize,
        /// The gallery file.
        gallery: String,
        /// Its columns.
        gallery_dim: usize,
    },
    /// The worker pool could not start.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The thresholds of a request, checked, ascending and distinct.
///
/// # Errors
/// [`SearchError::Threshold`] for a value outside [-1, 1].
pub fn checked_thresholds(thresholds: &[f64]) -> Result<Vec<f64>, SearchError> {
    if let Some((i, &value)) = thresholds
        .iter()
        .enumerate()
        .find(|(_, t)| !(t.is_finite() && (-1.0..=1.0).contains(*t)))
    {
        return Err(SearchError::Threshold {
            position: i + 1,
            value,
        });
    }
    let mut scores = thresholds.to_vec();
    scores.sort_by(f64::total_cmp);
    scores.dedup();
    Ok(scores)
}

/// Searches every probe row against every gallery row.
///
/// # Errors
/// [`SearchError`] when a threshold is out of range, a file cannot be read, the dimensions
/// differ, or the worker pool cannot start.
pub fn search_files(
    request: &SearchRequest<'_>,
    options: &RunOptions,
) -> Result<SearchResults, SearchError> {
    let scores = checked_thresholds(request.thresholds)?;
    let pool = thread_pool(options)?;
    let started = std::time::Instant::now();
    let (probes, probes_sha) = pool.install(|| read_npy_hashed(request.probes))?;
    // The gallery's header alone: its shape is checked before any of its rows is read.
    let (gallery_rows, gallery_dim) = npy_shape(request.gallery)?;
    if probes.ncols() != gallery_dim {
        return Err(SearchError::Dimensions {
            probes: request.probes.display().to_string(),
            probe_dim: probes.ncols(),
            gallery: request.gallery.display().to_string(),
            gallery_dim,
        });
    }
    let (names, groups) = match request.gallery_groups {
        Some(path) => read_groups(path, gallery_rows)?,
        None => (vec!["all".to_string()], vec![0; gallery_rows]),
    };
    let thresholds = Thresholds {
        q: scores.iter().map(|&t| threshold_q(t)).collect(),
    };
    let n_probes = probes.nrows();
    let probe_set = ProbeSet {
        // Only candidates and counts are reported: no design effects.
        cluster_sums: false,
        ..ProbeSet::new(
            probes,
            vec![0; n_probes],
            vec![None; n_probes],
            request.precision,
        )
    };
    // The gallery streams through in blocks of whole tiles (`read_block_bytes` of float32
    // rows): the next block is read and hashed while this one is searched, and memory does
    // not grow with the gallery. Each row is its own identity, so tiles are the same
    // fixed-size ranges whatever the block size, and integer merges make the order irrelevant.
    let tile_rows = (options.tile_entries as usize).max(1);
    let tiles_per_block = (options.read_block_bytes / (tile_rows * gallery_dim * 4)).max(1);
    let bar = report(&options.progress);
    bar.set_unit("tiles");
    bar.set_length(gallery_rows.div_ceil(tile_rows) as u64);
    bar.stage("searching");
    let (n_groups, k) = (names.len(), request.k);
    let mate_counts = probe_set.mate_counts();
    let empty = || Tally::new(k, thresholds.q.len(), n_groups, &mate_counts);
    let mut search_secs = 0.0;
    let workers = pool.install(|| Workers::new(empty));
    let gallery_sha = pool.install(|| {
        read_npy_blocks(
            request.gallery,
            tiles_per_block * tile_rows,
            |start, block| -> Result<(), SearchError> {
                let searching = std::time::Instant::now();
                let identity: Vec<u64> = (start as u64..(start + block.nrows()) as u64).collect();
                let ranges: Vec<_> = (0..block.nrows())
                    .step_by(tile_rows)
                    .map(|r| r..(r + tile_rows).min(block.nrows()))
                    .collect();
                let tile_of = |r: &std::ops::Range<usize>| {
                    tile_from(
                        block.slice(ndarray::s![r.clone(), ..]),
                        (start + r.start) as u64,
                        &identity[r.clone()],
                        &groups[start + r.start..start + r.end],
                        n_groups,
                    )
                };
                workers.search(&ranges, tile_of, &probe_set, &thresholds, bar);
                search_secs += searching.elapsed().as_secs_f64();
                Ok(())
            },
        )
    })?;
    bar.finish();
    let tally = workers.into_tally(empty);
    // Time not spent searching: reading the probes, and the part of reading, hashing and
    // quantizing the gallery that did not overlap with the search.
    let read_secs = started.elapsed().as_secs_f64() - search_secs;
    let g = names.len();
    // Counts at each threshold: sums of the buckets at or above it.
    let counts =
        |det: &[u64], t: usize, h: usize| (t..scores.len()).map(|b| det[b * g + h]).sum::<u64>();
    let results = tally
        .probes
        .iter()
        .map(|t| ProbeHits {
            candidates: t
                .top
                .iter()
                .enumerate()
                .map(|(r, c)| Hit {
                    rank: r + 1,
                    gallery_index: c.entry,
                    score: score_value(c.score).clamp(-1.0, 1.0),
                    group: usize::from(c.group),
                })
                .collect(),
            counts: (0..scores.len())
                .map(|i| (0..g).map(|h| counts(&t.det, i, h)).collect())
                .collect(),
        })
        .collect();
    Ok(SearchResults {
        gallery: FileFacts {
            rows: gallery_rows,
            dimension: gallery_dim,
            sha256: gallery_sha,
        },
        probes: FileFacts {
            rows: n_probes,
            dimension: gallery_dim,
            sha256: probes_sha,
        },
        groups: names,
        k: request.k,
        thresholds: scores,
        precision: request.precision,
        results,
        seconds: (read_secs, search_secs),
    })
}
