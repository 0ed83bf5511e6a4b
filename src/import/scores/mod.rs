//! Score files, read in one streaming pass into per-probe summaries (1:N) and sorted genuine
//! and impostor score streams (1:1).
//!
//! ```text
//! csv         probe_id,gallery_id,score,mated[,GROUP...]      header required; mated 0/1
//! bob4        claimed_id real_id test_label score             whitespace, no header
//! bob5        claimed_id model_label real_id test_label score
//! candidates  probe_id,rank,gallery_id,score,enrolled[,mated][,GROUP...]
//!             (a NIST 1:N candidate list: the top L per search, and whether the probe's
//!             subject is enrolled)
//! pairs       two files, genuine and impostor scores, one per line in its last field
//!             (pyeer's layout; 1:1 only: no ids, so no searches)
//! ```
//!
//! In bob's formats the probe is `test_label`, the gallery entry is `model_label` (5 columns)
//! or `claimed_id` (4), and a comparison is genuine when `claimed_id == real_id`. GROUP columns
//! are attributes of the probe; with a metadata file, ids are looked up in it instead.
//!
//! Memory: per probe, its top-K non-mate scores and per-threshold counts, plus one bit per
//! comparison (duplicate detection); the 1:1 scores go through [`Spill`]. Nothing holds the
//! rows themselves.
//!
//! Invariants: a row is checked completely before it changes any state, so a skipped row
//! (`--skip-bad-rows`) leaves no trace but its count; every error names the file and line.

mod pairs;
mod parse;
mod state;

pub use pairs::{PairScores, read_pairs};

use super::ImportError;
use super::metadata::Metadata;
use super::spill::Spill;
use serde::Serialize;
use state::Reader;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// A score file's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreFormat {
    /// `probe_id,gallery_id,score,mated[,group...]`.
    Csv,
    /// bob's 4-column format.
    Bob4,
    /// bob's 5-column format.
    Bob5,
    /// A candidate list: `probe_id,rank,gallery_id,score,enrolled[,mated][,group...]`.
    Candidates,
}

impl ScoreFormat {
    /// Every format, by name.
    pub const ALL: [(&'static str, ScoreFormat); 4] = [
        ("csv", ScoreFormat::Csv),
        ("bob4", ScoreFormat::Bob4),
        ("bob5", ScoreFormat::Bob5),
        ("candidates", ScoreFormat::Candidates),
    ];

    /// The format's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("csv", |(n, _)| n)
    }

    /// True for formats holding every comparison (not only a candidate list).
    pub fn is_full(self) -> bool {
        self != ScoreFormat::Candidates
    }

    fn detect(first_line: &str) -> Option<Self> {
        let fields: Vec<&str> = first_line.split(',').map(str::trim).collect();
        if fields.contains(&"probe_id") {
            return Some(if fields.contains(&"rank") {
                ScoreFormat::Candidates
            } else {
                ScoreFormat::Csv
            });
        }
        match first_line.split_whitespace().count() {
            4 => Some(ScoreFormat::Bob4),
            5 => Some(ScoreFormat::Bob5),
            _ => None,
        }
    }
}

/// How to read a score file.
#[derive(Clone, Debug)]
pub struct ScoreOptions {
    /// The layout (None: detect from the first line).
    pub format: Option<ScoreFormat>,
    /// Count and report bad rows instead of stopping at the first.
    pub skip_bad_rows: bool,
    /// 1:1 scores held in memory before spilling to temporary files.
    pub spill_budget: usize,
    /// Also count each gallery id's non-mate rows at or above each threshold
    /// ([`ScoreData::gallery_counts`]; memory: gallery ids x thresholds).
    pub per_gallery: bool,
}

impl Default for ScoreOptions {
    /// Layout detected, stop at the first bad row, the default spill budget, no per-gallery
    /// counts.
    fn default() -> Self {
        ScoreOptions {
            format: None,
            skip_bad_rows: false,
            spill_budget: crate::import::spill::DEFAULT_BUDGET_KEYS,
            per_gallery: false,
        }
    }
}

/// How many rows were skipped for one reason.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ReasonCount {
    /// The reason.
    pub reason: String,
    /// Rows.
    pub rows: u64,
}

/// A probe left out of the 1:N estimates.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ExcludedProbe {
    /// Probe id.
    pub probe: String,
    /// Why.
    pub reason: String,
}

/// What `--skip-bad-rows` left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Skipped {
    /// Rows skipped.
    pub rows: u64,
    /// Rows per reason, by reason.
    pub by_reason: Vec<ReasonCount>,
    /// The first few, as "line N: message".
    pub examples: Vec<String>,
    /// Probes left out of 1:N (their valid rows still count for 1:1).
    pub excluded_probes: Vec<ExcludedProbe>,
}

/// How many skipped rows are listed by line.
const MAX_EXAMPLES: usize = 20;

impl Skipped {
    /// Counts one skipped row for `reason` (kept sorted by reason) and lists it as
    /// "`at`: `message`" among the first [`MAX_EXAMPLES`].
    fn skip(&mut self, at: &str, reason: String, message: &str) {
        self.rows += 1;
        match self
            .by_reason
            .binary_search_by(|r| r.reason.as_str().cmp(&reason))
        {
            Ok(i) => self.by_reason[i].rows += 1,
            Err(i) => self.by_reason.insert(i, ReasonCount { reason, rows: 1 }),
        }
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(format!("{at}: {message}"));
        }
    }
}

/// One search, summarized from its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredProbe {
    /// Probe id.
    pub id: String,
    /// Probe group (index into the probe groups).
    pub group: u16,
    /// True when the probe's subject is enrolled.
    pub mated: bool,
    /// Highest non-mate score.
    pub max_nonmate: Option<f64>,
    /// Best mate score (None: no mate row, e.g. the mate is not on a candidate list).
    pub mate_best: Option<f64>,
    /// Pessimistic mate rank: 1 + non-mates scoring >= the best mate score; `top_capacity + 1`
    /// stands for "beyond the ranks kept".
    pub mate_rank: Option<u64>,
    /// Non-mate rows at or above threshold t, by candidate group: `counts[t * H + h]`.
    pub counts: Vec<u64>,
    /// Per threshold: false when the counts may be incomplete (a full candidate list whose
    /// lowest score still reaches the threshold).
    pub complete: Vec<bool>,
}

/// Everything a score file gave.
pub struct ScoreData {
    /// The layout read.
    pub format: ScoreFormat,
    /// Data rows read (skipped ones included).
    pub rows: u64,
    /// What was skipped or excluded.
    pub skipped: Skipped,
    /// Distinct gallery ids.
    pub gallery_ids: u64,
    /// Probe groups.
    pub probe_groups: Vec<String>,
    /// Candidate (gallery) groups.
    pub candidate_groups: Vec<String>,
    /// Searches kept for 1:N, in order of first appearance.
    pub probes: Vec<ScoredProbe>,
    /// Longest candidate list (candidate lists only).
    pub list_length: Option<u64>,
    /// The 1:1 scores: the (genuine, impostor) streams of each probe group.
    pub streams: Vec<(usize, usize)>,
    /// The spilled 1:1 scores.
    pub spill: Spill,
    /// With [`ScoreOptions::per_gallery`]: non-mate rows of each gallery id (in order of first
    /// appearance) at or above each threshold, `gallery_counts[gallery * T + t]`; else empty.
    /// Rows of searches excluded from 1:N are counted too.
    pub gallery_counts: Vec<u64>,
}

/// Reads a score file in one pass: `thresholds` (ascending) for the 1:N counts, `k` the ranks
/// kept per search, `metadata` to look ids up.
///
/// # Errors
/// [`ImportError`] naming the file and line of the first bad row (unless skipping), an
/// unknown layout, missing columns, or a probe that cannot be searched 1:N.
pub fn read_scores(
    path: &Path,
    metadata: Option<&Metadata>,
    thresholds: &[f64],
    k: usize,
    options: &ScoreOptions,
) -> Result<ScoreData, ImportError> {
    let file = path.display().to_string();
    if path.is_dir() {
        return Err(ImportError::File {
            file,
            message: "is a directory; give a score file".into(),
        });
    }
    let format = match options.format {
        Some(f) => f,
        None => {
            let f = std::fs::File::open(path).map_err(|e| ImportError::File {
                file: file.clone(),
                message: format!("cannot read: {e}"),
            })?;
            let mut first = String::new();
            std::io::BufReader::new(f)
                .read_line(&mut first)
                .map_err(|e| ImportError::File {
                    file: file.clone(),
                    message: format!("cannot read: {e}"),
                })?;
            if first.trim().is_empty() {
                return Err(ImportError::File {
                    file,
                    message: "is empty".into(),
                });
            }
            ScoreFormat::detect(crate::import::strip_bom(&first)).ok_or_else(|| ImportError::File {
                file: file.clone(),
                message: "cannot tell the layout from the first line: expected a CSV header with probe_id (csv, candidates) or 4 or 5 whitespace-separated fields (bob4, bob5); or give --format".into(),
            })?
        }
    };
    let mut reader = Reader {
        file,
        format,
        metadata,
        thresholds: thresholds.to_vec(),
        k,
        skip: options.skip_bad_rows,
        skipped: Skipped::default(),
        probe_ix: HashMap::new(),
        probes: Vec::new(),
        gallery_ix: HashMap::new(),
        probe_groups: Vec::new(),
        candidate_groups: vec!["all".into()],
        group_ix: HashMap::new(),
        spill: Spill::new(0, options.spill_budget),
        streams: Vec::new(),
        rows: 0,
        per_gallery: options.per_gallery,
        gallery_buckets: Vec::new(),
    };
    if let Some(meta) = metadata {
        reader.probe_groups = meta.groups.clone();
        reader.candidate_groups = meta.groups.clone();
        for _ in &meta.groups {
            reader.add_streams();
        }
        if meta.rows.iter().any(|r| r.id.is_none()) {
            return Err(ImportError::File {
                file: meta.file.clone(),
                message: "no `id` column: with --scores, the metadata names each probe_id and gallery_id in an `id` column".into(),
            });
        }
    }
    reader.read_rows(path)?;
    if reader.probes.is_empty() {
        return Err(ImportError::File {
            file: reader.file.clone(),
            message: "no usable rows".into(),
        });
    }
    reader.finish()
}
