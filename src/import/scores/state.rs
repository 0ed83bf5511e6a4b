//! The reader's state: one row checked completely, then applied; bad rows counted or
//! reported.

use super::*;
use crate::format::quoted as q;
use crate::import::metadata::Role;

/// A parsed row, before it changes anything.
pub(super) struct Row<'a> {
    pub(super) probe: &'a str,
    pub(super) gallery: &'a str,
    pub(super) score: f64,
    pub(super) mated: Option<bool>,
    /// bob: the probe's real id and the claimed id.
    pub(super) subject: Option<&'a str>,
    pub(super) claimed: Option<&'a str>,
    pub(super) group: Option<String>,
    pub(super) rank: Option<u64>,
    pub(super) enrolled: Option<bool>,
}

/// One probe's summary while its rows arrive.
#[derive(Default)]
pub(super) struct ProbeState {
    pub(super) id: String,
    pub(super) first_line: u64,
    pub(super) group: u16,
    pub(super) subject: Option<String>,
    pub(super) enrolled: Option<bool>,
    pub(super) seen: Vec<u64>,
    pub(super) ranks: Vec<u64>,
    pub(super) rows: u64,
    pub(super) mate_best: Option<f64>,
    pub(super) max_nonmate: Option<f64>,
    pub(super) min_score: f64,
    pub(super) top: Vec<f64>,
    pub(super) buckets: Vec<u64>,
}

fn bit(bits: &mut Vec<u64>, i: usize) -> bool {
    if bits.len() <= i / 64 {
        bits.resize(i / 64 + 1, 0);
    }
    let was = bits[i / 64] >> (i % 64) & 1 == 1;
    bits[i / 64] |= 1 << (i % 64);
    was
}

pub(super) fn has_bit(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

pub(super) struct Reader<'m> {
    pub(super) file: String,
    pub(super) format: ScoreFormat,
    pub(super) metadata: Option<&'m Metadata>,
    pub(super) thresholds: Vec<f64>,
    pub(super) k: usize,
    pub(super) skip: bool,
    pub(super) skipped: Skipped,
    pub(super) probe_ix: HashMap<String, u32>,
    pub(super) probes: Vec<ProbeState>,
    pub(super) gallery_ix: HashMap<String, u32>,
    pub(super) probe_groups: Vec<String>,
    pub(super) candidate_groups: Vec<String>,
    pub(super) group_ix: HashMap<String, u16>,
    pub(super) spill: Spill,
    pub(super) streams: Vec<(usize, usize)>,
    pub(super) rows: u64,
    pub(super) per_gallery: bool,
    /// Non-mate rows per gallery id and threshold bucket (with `per_gallery`).
    pub(super) gallery_buckets: Vec<u64>,
}

impl Reader<'_> {
    pub(super) fn add_streams(&mut self) {
        let genuine = self.spill.add_stream();
        let impostor = self.spill.add_stream();
        self.streams.push((genuine, impostor));
    }

    /// Records a bad row: an error, or a count with `--skip-bad-rows`.
    pub(super) fn bad(
        &mut self,
        line: u64,
        (reason, message): (String, String),
    ) -> Result<(), ImportError> {
        if !self.skip {
            return Err(ImportError::Row {
                file: self.file.clone(),
                line,
                message,
            });
        }
        self.skipped.skip(&format!("line {line}"), reason, &message);
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
    pub(super) fn row(&mut self, line: u64, row: Row<'_>) -> Result<(), ImportError> {
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
                    |id: &str, role: Role| -> Result<&crate::import::metadata::MetaRow, (String, String)> {
                        let r = meta.by_id.get(id).map(|&i| &meta.rows[i]).ok_or_else(|| {
                            (
                                "id not in the metadata".to_string(),
                                format!("id {} is not in {}", q(id), meta.file),
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
                                    "id {} is not a {want} row in {} (line {})",
                                    q(id),
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
                            "mated is {} but the metadata gives subjects {} (probe {}) and {} (gallery {})",
                            u8::from(flag),
                            q(&p.subject),
                            q(row.probe),
                            q(&g.subject),
                            q(row.gallery)
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
                        "probe {} is in group {} here but {} on line {}",
                        q(row.probe),
                        q(&self.probe_groups[group as usize]),
                        q(&self.probe_groups[state.group as usize]),
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
                        "probe {} has real_id {} here but {} on line {}",
                        q(row.probe),
                        q(b),
                        q(a),
                        state.first_line
                    ),
                ));
            }
            if let (Some(a), Some(b)) = (state.enrolled, row.enrolled)
                && a != b
            {
                return Err((
                    "enrolled flag changes within a probe".into(),
                    format!(
                        "probe {} has enrolled = {} here but {} on line {}",
                        q(row.probe),
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
                    "probe {} is marked not enrolled but this candidate is its mate",
                    q(row.probe)
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
                        "probe {} and gallery {} were already compared",
                        q(row.probe),
                        q(row.gallery)
                    ),
                ));
            }
            if let Some(rank) = row.rank
                && has_bit(&self.probes[p].ranks, rank as usize)
            {
                return Err((
                    "duplicate rank".into(),
                    format!("probe {} already has rank {rank}", q(row.probe)),
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
                if self.per_gallery {
                    let at = gallery * n_t + b;
                    if self.gallery_buckets.len() <= at {
                        self.gallery_buckets.resize((gallery + 1) * n_t, 0);
                    }
                    self.gallery_buckets[at] += 1;
                }
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
