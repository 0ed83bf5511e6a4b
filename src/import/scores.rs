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

use super::ImportError;
use super::metadata::{Metadata, Role};
use super::spill::Spill;
use serde::Serialize;
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
}

/// How many rows were skipped for one reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReasonCount {
    /// The reason.
    pub reason: String,
    /// Rows.
    pub rows: u64,
}

/// A probe left out of the 1:N estimates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExcludedProbe {
    /// Probe id.
    pub probe: String,
    /// Why.
    pub reason: String,
}

/// What `--skip-bad-rows` left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
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
}

/// A parsed row, before it changes anything.
struct Row<'a> {
    probe: &'a str,
    gallery: &'a str,
    score: f64,
    mated: Option<bool>,
    /// bob: the probe's real id and the claimed id.
    subject: Option<&'a str>,
    claimed: Option<&'a str>,
    group: Option<String>,
    rank: Option<u64>,
    enrolled: Option<bool>,
}

#[derive(Default)]
struct ProbeState {
    id: String,
    first_line: u64,
    group: u16,
    subject: Option<String>,
    enrolled: Option<bool>,
    seen: Vec<u64>,
    ranks: Vec<u64>,
    rows: u64,
    mate_best: Option<f64>,
    max_nonmate: Option<f64>,
    min_score: f64,
    top: Vec<f64>,
    buckets: Vec<u64>,
}

fn bit(bits: &mut Vec<u64>, i: usize) -> bool {
    if bits.len() <= i / 64 {
        bits.resize(i / 64 + 1, 0);
    }
    let was = bits[i / 64] >> (i % 64) & 1 == 1;
    bits[i / 64] |= 1 << (i % 64);
    was
}

fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

fn parse_flag(text: &str, column: &str) -> Result<bool, (String, String)> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err((
            format!("bad `{column}` flag"),
            format!("`{column}` is `{other}`; allowed: 0, 1, true, false"),
        )),
    }
}

fn parse_score(text: &str) -> Result<f64, (String, String)> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err((
            "score not finite".into(),
            format!("score `{}` is not a finite number", text.trim()),
        )),
        Err(_) => Err((
            "score not a number".into(),
            format!("score `{}` is not a number", text.trim()),
        )),
    }
}

struct Reader<'m> {
    file: String,
    format: ScoreFormat,
    metadata: Option<&'m Metadata>,
    thresholds: Vec<f64>,
    k: usize,
    skip: bool,
    skipped: Skipped,
    reasons: HashMap<String, u64>,
    probe_ix: HashMap<String, u32>,
    probes: Vec<ProbeState>,
    gallery_ix: HashMap<String, u32>,
    probe_groups: Vec<String>,
    candidate_groups: Vec<String>,
    group_ix: HashMap<String, u16>,
    spill: Spill,
    streams: Vec<(usize, usize)>,
    rows: u64,
}

impl Reader<'_> {
    fn add_streams(&mut self) {
        let genuine = self.spill.add_stream();
        let impostor = self.spill.add_stream();
        self.streams.push((genuine, impostor));
    }

    /// Records a bad row: an error, or a count with `--skip-bad-rows`.
    fn bad(&mut self, line: u64, (reason, message): (String, String)) -> Result<(), ImportError> {
        if !self.skip {
            return Err(ImportError::Row {
                file: self.file.clone(),
                line,
                message,
            });
        }
        self.skipped.rows += 1;
        *self.reasons.entry(reason).or_default() += 1;
        if self.skipped.examples.len() < MAX_EXAMPLES {
            self.skipped
                .examples
                .push(format!("line {line}: {message}"));
        }
        Ok(())
    }

    fn group_of(&mut self, label: &str) -> Result<u16, (String, String)> {
        if let Some(&g) = self.group_ix.get(label) {
            return Ok(g);
        }
        let g = self.probe_groups.len();
        if g >= usize::from(u16::MAX) {
            return Err((
                "too many groups".into(),
                format!("more than {} groups", u16::MAX),
            ));
        }
        self.group_ix.insert(label.to_string(), g as u16);
        self.probe_groups.push(label.to_string());
        self.add_streams();
        Ok(g as u16)
    }

    /// Checks a row completely, then applies it.
    fn row(&mut self, line: u64, row: Row<'_>) -> Result<(), ImportError> {
        match self.check(&row) {
            Ok(checked) => self.apply(line, &row, checked),
            Err(e) => self.bad(line, e),
        }
    }

    /// (probe index or None for a new probe, group, candidate group, mated, gallery index)
    #[allow(clippy::type_complexity)]
    fn check(
        &mut self,
        row: &Row<'_>,
    ) -> Result<(Option<usize>, u16, u16, bool, usize), (String, String)> {
        let (group, candidate_group, mated) = match self.metadata {
            Some(meta) => {
                let lookup =
                    |id: &str, role: Role| -> Result<&super::metadata::MetaRow, (String, String)> {
                        let r = meta.by_id.get(id).map(|&i| &meta.rows[i]).ok_or_else(|| {
                            (
                                "id not in the metadata".to_string(),
                                format!("id `{id}` is not in {}", meta.file),
                            )
                        })?;
                        if r.role != role {
                            let want = if role == Role::Probe {
                                "probe"
                            } else {
                                "gallery"
                            };
                            return Err((
                                "id has the wrong role".to_string(),
                                format!(
                                    "id `{id}` is not a {want} row in {} (line {})",
                                    meta.file, r.line
                                ),
                            ));
                        }
                        Ok(r)
                    };
                let p = lookup(row.probe, Role::Probe)?;
                let g = lookup(row.gallery, Role::Gallery)?;
                let mated = p.subject == g.subject;
                if let Some(flag) = row.mated
                    && flag != mated
                {
                    return Err((
                        "mated flag contradicts the metadata".into(),
                        format!(
                            "mated is {} but the metadata gives subjects `{}` (probe `{}`) and `{}` (gallery `{}`)",
                            u8::from(flag),
                            p.subject,
                            row.probe,
                            g.subject,
                            row.gallery
                        ),
                    ));
                }
                (p.group, g.group, mated)
            }
            None => {
                let label = row.group.clone().unwrap_or_else(|| "all".into());
                let group = self.group_of(&label)?;
                let mated = match (row.mated, row.subject) {
                    (Some(m), _) => m,
                    (None, Some(real)) => row.claimed == Some(real),
                    (None, None) => false,
                };
                (group, 0, mated)
            }
        };
        let existing = self.probe_ix.get(row.probe).map(|&i| i as usize);
        if let Some(p) = existing {
            let state = &self.probes[p];
            if state.group != group {
                return Err((
                    "group changes within a probe".into(),
                    format!(
                        "probe `{}` is in group `{}` here but `{}` on line {}",
                        row.probe,
                        self.probe_groups[group as usize],
                        self.probe_groups[state.group as usize],
                        state.first_line
                    ),
                ));
            }
            if let (Some(a), Some(b)) = (&state.subject, row.subject)
                && a != b
            {
                return Err((
                    "subject changes within a probe".into(),
                    format!(
                        "probe `{}` has real_id `{b}` here but `{a}` on line {}",
                        row.probe, state.first_line
                    ),
                ));
            }
            if let (Some(a), Some(b)) = (state.enrolled, row.enrolled)
                && a != b
            {
                return Err((
                    "enrolled flag changes within a probe".into(),
                    format!(
                        "probe `{}` has enrolled = {} here but {} on line {}",
                        row.probe,
                        u8::from(b),
                        u8::from(a),
                        state.first_line
                    ),
                ));
            }
        }
        if row.enrolled == Some(false) && mated {
            return Err((
                "mated row of a probe not enrolled".into(),
                format!(
                    "probe `{}` is marked not enrolled but this candidate is its mate",
                    row.probe
                ),
            ));
        }
        let gallery = match self.gallery_ix.get(row.gallery) {
            Some(&g) => g as usize,
            None => self.gallery_ix.len(),
        };
        if let Some(p) = existing {
            if has_bit(&self.probes[p].seen, gallery) {
                return Err((
                    "duplicate pair".into(),
                    format!(
                        "probe `{}` and gallery `{}` were already compared",
                        row.probe, row.gallery
                    ),
                ));
            }
            if let Some(rank) = row.rank
                && has_bit(&self.probes[p].ranks, rank as usize)
            {
                return Err((
                    "duplicate rank".into(),
                    format!("probe `{}` already has rank {rank}", row.probe),
                ));
            }
        }
        Ok((existing, group, candidate_group, mated, gallery))
    }

    fn apply(
        &mut self,
        line: u64,
        row: &Row<'_>,
        (existing, group, candidate_group, mated, gallery): (Option<usize>, u16, u16, bool, usize),
    ) -> Result<(), ImportError> {
        if gallery == self.gallery_ix.len() {
            self.gallery_ix
                .insert(row.gallery.to_string(), gallery as u32);
        }
        let n_t = self.thresholds.len();
        let n_h = self.candidate_groups.len();
        let p = match existing {
            Some(p) => p,
            None => {
                self.probe_ix
                    .insert(row.probe.to_string(), self.probes.len() as u32);
                self.probes.push(ProbeState {
                    id: row.probe.to_string(),
                    first_line: line,
                    group,
                    subject: row.subject.map(str::to_string),
                    enrolled: row.enrolled,
                    buckets: vec![0; n_t * n_h],
                    min_score: f64::INFINITY,
                    ..ProbeState::default()
                });
                self.probes.len() - 1
            }
        };
        let k = self.k;
        let candidates = self.format == ScoreFormat::Candidates;
        let state = &mut self.probes[p];
        bit(&mut state.seen, gallery);
        if let Some(rank) = row.rank {
            bit(&mut state.ranks, rank as usize);
        }
        state.rows += 1;
        state.min_score = state.min_score.min(row.score);
        if mated {
            state.mate_best = Some(state.mate_best.map_or(row.score, |b| b.max(row.score)));
        } else {
            state.max_nonmate = Some(state.max_nonmate.map_or(row.score, |b| b.max(row.score)));
            let at = state.top.partition_point(|&x| x >= row.score);
            if candidates || at < k {
                state.top.insert(at, row.score);
                if !candidates {
                    state.top.truncate(k);
                }
            }
            if let Some(b) = self
                .thresholds
                .partition_point(|&t| t <= row.score)
                .checked_sub(1)
            {
                state.buckets[b * n_h + candidate_group as usize] += 1;
            }
        }
        if self.format.is_full() {
            let (genuine, impostor) = self.streams[group as usize];
            self.spill
                .push(if mated { genuine } else { impostor }, row.score)
                .map_err(|e| ImportError::File {
                    file: self.file.clone(),
                    message: format!("cannot write a temporary file: {e}"),
                })?;
        }
        Ok(())
    }
}

impl Reader<'_> {
    /// Reads every data row.
    fn read_rows(&mut self, path: &Path) -> Result<(), ImportError> {
        let io_err = |file: &str, e: &dyn std::fmt::Display| ImportError::File {
            file: file.to_string(),
            message: format!("cannot read: {e}"),
        };
        match self.format {
            ScoreFormat::Bob4 | ScoreFormat::Bob5 => {
                let n = if self.format == ScoreFormat::Bob4 {
                    4
                } else {
                    5
                };
                let file = std::fs::File::open(path).map_err(|e| io_err(&self.file, &e))?;
                let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
                let mut line = String::new();
                let mut number = 0u64;
                loop {
                    line.clear();
                    let read = reader
                        .read_line(&mut line)
                        .map_err(|e| io_err(&self.file, &e))?;
                    if read == 0 {
                        break;
                    }
                    number += 1;
                    if line.trim().is_empty() || line.trim_start().starts_with('#') {
                        continue;
                    }
                    self.rows += 1;
                    let f: Vec<&str> = line.split_whitespace().collect();
                    if f.len() != n {
                        self.bad(
                            number,
                            (
                                "malformed row".into(),
                                format!(
                                    "{} fields; the {} format has {n}: {}",
                                    f.len(),
                                    self.format.name(),
                                    if n == 4 {
                                        "claimed_id real_id test_label score"
                                    } else {
                                        "claimed_id model_label real_id test_label score"
                                    }
                                ),
                            ),
                        )?;
                        continue;
                    }
                    let score = match parse_score(f[n - 1]) {
                        Ok(s) => s,
                        Err(e) => {
                            self.bad(number, e)?;
                            continue;
                        }
                    };
                    let (gallery, real, probe) = if n == 4 {
                        (f[0], f[1], f[2])
                    } else {
                        (f[1], f[2], f[3])
                    };
                    self.row(
                        number,
                        Row {
                            probe,
                            gallery,
                            score,
                            mated: None,
                            subject: Some(real),
                            claimed: Some(f[0]),
                            group: None,
                            rank: None,
                            enrolled: None,
                        },
                    )?;
                }
            }
            ScoreFormat::Csv | ScoreFormat::Candidates => {
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .from_path(path)
                    .map_err(|e| io_err(&self.file, &e))?;
                let header = reader
                    .headers()
                    .map_err(|e| io_err(&self.file, &e))?
                    .clone();
                let col = |name: &str| header.iter().position(|h| h.trim() == name);
                let required: &[&str] = if self.format == ScoreFormat::Csv {
                    &["probe_id", "gallery_id", "score", "mated"]
                } else {
                    &["probe_id", "rank", "gallery_id", "score", "enrolled"]
                };
                let mut idx = Vec::new();
                for name in required {
                    idx.push(col(name).ok_or_else(|| ImportError::File {
                        file: self.file.clone(),
                        message: format!(
                            "no `{name}` column in the header; the {} format needs {}",
                            self.format.name(),
                            required.join(", ")
                        ),
                    })?);
                }
                let mated_col = col("mated");
                let known: Vec<usize> = idx.iter().copied().chain(mated_col).collect();
                let group_cols: Vec<usize> =
                    (0..header.len()).filter(|i| !known.contains(i)).collect();
                if self.metadata.is_some() && !group_cols.is_empty() {
                    return Err(ImportError::File {
                        file: self.file.clone(),
                        message: format!(
                            "group columns ({}) and a metadata file: give groups in one place",
                            group_cols
                                .iter()
                                .map(|&i| header[i].to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                if self.format == ScoreFormat::Candidates
                    && mated_col.is_none()
                    && self.metadata.is_none()
                {
                    return Err(ImportError::File {
                        file: self.file.clone(),
                        message: "a candidate list needs a `mated` column or a metadata file (--metadata) to tell which candidate is the probe's mate".into(),
                    });
                }
                let mut record = csv::StringRecord::new();
                loop {
                    match reader.read_record(&mut record) {
                        Ok(false) => break,
                        Ok(true) => {}
                        Err(e) => {
                            let line = e.position().map_or(0, |p| p.line());
                            self.rows += 1;
                            self.bad(
                                line,
                                ("malformed row".into(), format!("malformed CSV: {e}")),
                            )?;
                            continue;
                        }
                    }
                    let line = record.position().map_or(0, |p| p.line());
                    self.rows += 1;
                    if record.len() != header.len() {
                        self.bad(
                            line,
                            (
                                "malformed row".into(),
                                format!(
                                    "{} fields, but the header has {}",
                                    record.len(),
                                    header.len()
                                ),
                            ),
                        )?;
                        continue;
                    }
                    let parsed = (|| {
                        let score = parse_score(
                            &record[idx[if self.format == ScoreFormat::Csv {
                                2
                            } else {
                                3
                            }]],
                        )?;
                        let mated = match (self.format, mated_col) {
                            (ScoreFormat::Csv, _) => Some(parse_flag(&record[idx[3]], "mated")?),
                            (_, Some(c)) => Some(parse_flag(&record[c], "mated")?),
                            (_, None) => None,
                        };
                        let (rank, enrolled) = if self.format == ScoreFormat::Candidates {
                            let text = record[idx[1]].trim();
                            let rank = text
                                .parse::<u64>()
                                .ok()
                                .filter(|r| (1..=1 << 24).contains(r))
                                .ok_or_else(|| {
                                    (
                                        "bad rank".to_string(),
                                        format!(
                                            "rank `{text}` is not an integer from 1 to 16777216"
                                        ),
                                    )
                                })?;
                            (Some(rank), Some(parse_flag(&record[idx[4]], "enrolled")?))
                        } else {
                            (None, None)
                        };
                        Ok::<_, (String, String)>((score, mated, rank, enrolled))
                    })();
                    let (score, mated, rank, enrolled) = match parsed {
                        Ok(x) => x,
                        Err(e) => {
                            self.bad(line, e)?;
                            continue;
                        }
                    };
                    let group = (!group_cols.is_empty()).then(|| {
                        group_cols
                            .iter()
                            .map(|&i| record[i].trim())
                            .collect::<Vec<_>>()
                            .join(" / ")
                    });
                    let (probe, gallery) = if self.format == ScoreFormat::Csv {
                        (&record[idx[0]], &record[idx[1]])
                    } else {
                        (&record[idx[0]], &record[idx[2]])
                    };
                    let row = Row {
                        probe: probe.trim(),
                        gallery: gallery.trim(),
                        score,
                        mated,
                        subject: None,
                        claimed: None,
                        group,
                        rank,
                        enrolled,
                    };
                    self.row(line, row)?;
                }
            }
        }
        Ok(())
    }

    /// Per-probe checks after the last row; the searches that stay in 1:N.
    fn finish(mut self) -> Result<ScoreData, ImportError> {
        let n_gallery = match self.metadata {
            Some(meta) => meta.rows.iter().filter(|r| r.role == Role::Gallery).count() as u64,
            None => self.gallery_ix.len() as u64,
        };
        let mut excluded: Vec<(usize, String)> = Vec::new();
        if let Some(meta) = self.metadata {
            for r in meta.rows.iter().filter(|r| r.role == Role::Probe) {
                let id = r.id.as_deref().unwrap_or_default();
                if !self.probe_ix.contains_key(id) {
                    let message = format!("probe `{id}` (metadata line {}) has no rows", r.line);
                    if !self.skip {
                        return Err(ImportError::File {
                            file: self.file.clone(),
                            message,
                        });
                    }
                    self.skipped.excluded_probes.push(ExcludedProbe {
                        probe: id.to_string(),
                        reason: "no rows".into(),
                    });
                }
            }
        }
        let list_length = (self.format == ScoreFormat::Candidates)
            .then(|| self.probes.iter().map(|p| p.rows).max().unwrap_or(0));
        if let Some(length) = list_length
            && (self.k as u64) > length
            && length > 0
        {
            return Err(ImportError::File {
                file: self.file.clone(),
                message: format!(
                    "--k {} is longer than the candidate lists ({length}); lower --k",
                    self.k
                ),
            });
        }
        for (i, p) in self.probes.iter().enumerate() {
            let problem = if self.format.is_full() && p.rows != n_gallery {
                Some(format!(
                    "probe `{}` (first row on line {}) has scores against {} of the {n_gallery} gallery ids; 1:N needs every comparison",
                    p.id, p.first_line, p.rows
                ))
            } else if self.format == ScoreFormat::Candidates
                && (1..=p.rows).any(|r| !has_bit(&p.ranks, r as usize))
            {
                Some(format!(
                    "probe `{}` (first row on line {}): its {} candidates do not have ranks 1 to {}",
                    p.id, p.first_line, p.rows, p.rows
                ))
            } else {
                None
            };
            if let Some(message) = problem {
                if !self.skip {
                    return Err(ImportError::File {
                        file: self.file.clone(),
                        message,
                    });
                }
                excluded.push((i, message));
            }
        }
        for (i, message) in &excluded {
            self.skipped.excluded_probes.push(ExcludedProbe {
                probe: self.probes[*i].id.clone(),
                reason: message.clone(),
            });
        }
        let mut reasons: Vec<ReasonCount> = self
            .reasons
            .iter()
            .map(|(reason, &rows)| ReasonCount {
                reason: reason.clone(),
                rows,
            })
            .collect();
        reasons.sort_by(|a, b| a.reason.cmp(&b.reason));
        self.skipped.by_reason = reasons;
        let n_t = self.thresholds.len();
        let n_h = self.candidate_groups.len();
        let k = self.k as u64;
        let candidates = self.format == ScoreFormat::Candidates;
        let full_length = list_length.unwrap_or(0);
        let probes: Vec<ScoredProbe> = self
            .probes
            .iter()
            .enumerate()
            .filter(|(i, _)| !excluded.iter().any(|(j, _)| j == i))
            .map(|(_, p)| {
                let mated = match (p.enrolled, self.metadata) {
                    (Some(e), _) => e,
                    (None, _) => p.mate_best.is_some(),
                };
                let mut counts = p.buckets.clone();
                for t in (0..n_t.saturating_sub(1)).rev() {
                    for h in 0..n_h {
                        counts[t * n_h + h] += counts[(t + 1) * n_h + h];
                    }
                }
                let capacity = if candidates { p.top.len() as u64 } else { k };
                let mate_rank = p.mate_best.map(|best| {
                    let ahead = p.top.iter().filter(|&&x| x >= best).count() as u64;
                    if !candidates && ahead >= capacity {
                        capacity + 1
                    } else {
                        1 + ahead
                    }
                });
                ScoredProbe {
                    id: p.id.clone(),
                    group: p.group,
                    mated,
                    max_nonmate: p.max_nonmate,
                    mate_best: p.mate_best,
                    mate_rank,
                    counts,
                    complete: self
                        .thresholds
                        .iter()
                        .map(|&t| !(candidates && p.rows == full_length && p.min_score >= t))
                        .collect(),
                }
            })
            .collect();
        self.spill.finish();
        // Groups in sorted order, as metadata groups are.
        let (probe_groups, new_index) = super::metadata::sorted_labels(&self.probe_groups);
        let mut probes: Vec<ScoredProbe> = probes;
        for p in &mut probes {
            p.group = new_index[p.group as usize];
        }
        let mut streams = vec![(0, 0); self.streams.len()];
        for (old, &s) in self.streams.iter().enumerate() {
            streams[new_index[old] as usize] = s;
        }
        Ok(ScoreData {
            format: self.format,
            rows: self.rows,
            skipped: self.skipped,
            gallery_ids: n_gallery,
            probe_groups,
            candidate_groups: self.candidate_groups,
            probes,
            list_length,
            streams,
            spill: self.spill,
        })
    }
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
            ScoreFormat::detect(&first).ok_or_else(|| ImportError::File {
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
        reasons: HashMap::new(),
        probe_ix: HashMap::new(),
        probes: Vec::new(),
        gallery_ix: HashMap::new(),
        probe_groups: Vec::new(),
        candidate_groups: vec!["all".into()],
        group_ix: HashMap::new(),
        spill: Spill::new(0, options.spill_budget),
        streams: Vec::new(),
        rows: 0,
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
