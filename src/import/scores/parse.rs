//! The layouts' rows into checked rows, and the per-probe checks after the last row.

use super::state::{Row, has_bit};
use super::*;
use crate::format::quoted as q;
use crate::import::metadata::Role;

fn parse_flag(text: &str, column: &str) -> Result<bool, (String, String)> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        _ => Err((
            format!("bad `{column}` flag"),
            format!(
                "`{column}` is {}; allowed: 0, 1, true, false (in any case)",
                crate::format::quoted(text.trim())
            ),
        )),
    }
}

fn parse_score(text: &str) -> Result<f64, (String, String)> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err((
            "score not finite".into(),
            format!("score {} is not a finite number", q(text.trim())),
        )),
        Err(_) => Err((
            "score not a number".into(),
            format!("score {} is not a number", q(text.trim())),
        )),
    }
}

/// The columns of a CSV score file or candidate list: the required ones (`idx`, in the order
/// the format lists them), `mated` if present, the group columns, and the number of fields.
struct CsvColumns {
    idx: Vec<usize>,
    mated: Option<usize>,
    groups: Vec<usize>,
    fields: usize,
}

/// One CSV record as a row, or why it is bad (kind, message).
fn csv_row<'r>(
    format: ScoreFormat,
    record: &'r csv::StringRecord,
    c: &CsvColumns,
) -> Result<Row<'r>, (String, String)> {
    let idx = &c.idx;
    let csv = format == ScoreFormat::Csv;
    let score = parse_score(&record[idx[if csv { 2 } else { 3 }]])?;
    let mated = match (format, c.mated) {
        (ScoreFormat::Csv, _) => Some(parse_flag(&record[idx[3]], "mated")?),
        (_, Some(m)) => Some(parse_flag(&record[m], "mated")?),
        (_, None) => None,
    };
    let (rank, enrolled) = if format == ScoreFormat::Candidates {
        let text = record[idx[1]].trim();
        let rank = text
            .parse::<u64>()
            .ok()
            .filter(|r| (1..=1 << 24).contains(r))
            .ok_or_else(|| {
                (
                    "bad rank".to_string(),
                    format!("rank {} is not an integer from 1 to 16777216", q(text)),
                )
            })?;
        (Some(rank), Some(parse_flag(&record[idx[4]], "enrolled")?))
    } else {
        (None, None)
    };
    let group = (!c.groups.is_empty()).then(|| {
        c.groups
            .iter()
            .map(|&i| record[i].trim())
            .collect::<Vec<_>>()
            .join(" / ")
    });
    let gallery = if csv {
        &record[idx[1]]
    } else {
        &record[idx[2]]
    };
    Ok(Row {
        probe: record[idx[0]].trim(),
        gallery: gallery.trim(),
        score,
        mated,
        subject: None,
        claimed: None,
        group,
        rank,
        enrolled,
    })
}

impl Reader<'_> {
    /// Reads every data row.
    pub(super) fn read_rows(&mut self, path: &Path) -> Result<(), ImportError> {
        match self.format {
            ScoreFormat::Bob4 => self.read_bob_rows(path, 4),
            ScoreFormat::Bob5 => self.read_bob_rows(path, 5),
            ScoreFormat::Csv | ScoreFormat::Candidates => self.read_csv_rows(path),
        }
    }

    /// Reads the rows of a bob.measure four- or five-column file (`n` fields).
    fn read_bob_rows(&mut self, path: &Path, n: usize) -> Result<(), ImportError> {
        let io_err = |file: &str, e: &dyn std::fmt::Display| ImportError::File {
            file: file.to_string(),
            message: format!("cannot read: {e}"),
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
            if number == 1 {
                // A byte-order mark is not part of the first claimed id.
                line = crate::import::strip_bom(&line).to_string();
            }
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
        Ok(())
    }

    /// Reads the rows of a CSV score file or candidate list.
    fn read_csv_rows(&mut self, path: &Path) -> Result<(), ImportError> {
        let io_err = |file: &str, e: &dyn std::fmt::Display| ImportError::File {
            file: file.to_string(),
            message: format!("cannot read: {e}"),
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| io_err(&self.file, &e))?;
        let header = reader
            .headers()
            .map_err(|e| io_err(&self.file, &e))?
            .clone();
        crate::import::check_columns(&self.file, &header)?;
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
        let group_cols: Vec<usize> = (0..header.len()).filter(|i| !known.contains(i)).collect();
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
        if self.format == ScoreFormat::Candidates && mated_col.is_none() && self.metadata.is_none()
        {
            return Err(ImportError::File {
                file: self.file.clone(),
                message: "a candidate list needs a `mated` column or a metadata file (--metadata) to tell which candidate is the probe's mate".into(),
            });
        }
        let columns = CsvColumns {
            idx,
            mated: mated_col,
            groups: group_cols,
            fields: header.len(),
        };
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
            if record.len() != columns.fields {
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
            let row = match csv_row(self.format, &record, &columns) {
                Ok(row) => row,
                Err(e) => {
                    self.bad(line, e)?;
                    continue;
                }
            };
            self.row(line, row)?;
        }
        Ok(())
    }

    /// The probes left out of 1:N (by index, with the reason): metadata probes without rows
    /// (recorded only), searches missing comparisons or ranks. Without --skip-bad-rows the
    /// first one is an error.
    fn incomplete_probes(&mut self, n_gallery: u64) -> Result<Vec<(usize, String)>, ImportError> {
        let mut excluded: Vec<(usize, String)> = Vec::new();
        if let Some(meta) = self.metadata {
            for r in meta.rows.iter().filter(|r| r.role == Role::Probe) {
                let id = r.id.as_deref().unwrap_or_default();
                if !self.probe_ix.contains_key(id) {
                    let message = format!("probe {} (metadata line {}) has no rows", q(id), r.line);
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
        for (i, p) in self.probes.iter().enumerate() {
            let problem = if self.format.is_full() && p.rows != n_gallery {
                Some(format!(
                    "probe {} (first row on line {}) has scores against {} of the {n_gallery} gallery ids; 1:N needs every comparison",
                    q(&p.id),
                    p.first_line,
                    p.rows
                ))
            } else if self.format == ScoreFormat::Candidates
                && (1..=p.rows).any(|r| !has_bit(&p.ranks, r as usize))
            {
                Some(format!(
                    "probe {} (first row on line {}): its {} candidates do not have ranks 1 to {}",
                    q(&p.id),
                    p.first_line,
                    p.rows,
                    p.rows
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
        Ok(excluded)
    }

    /// A probe's summary as a search: cumulative counts per threshold, its mate's rank, and
    /// whether each count is complete (a candidate list cut above the threshold is not).
    fn scored(&self, p: &super::state::ProbeState, full_length: u64) -> ScoredProbe {
        let n_t = self.thresholds.len();
        let n_h = self.candidate_groups.len();
        let k = self.k as u64;
        let candidates = self.format == ScoreFormat::Candidates;

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
    }

    /// Per-probe checks after the last row; the searches that stay in 1:N.
    pub(super) fn finish(mut self) -> Result<ScoreData, ImportError> {
        let n_gallery = match self.metadata {
            Some(meta) => meta.rows.iter().filter(|r| r.role == Role::Gallery).count() as u64,
            None => self.gallery_ix.len() as u64,
        };
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
        let excluded = self.incomplete_probes(n_gallery)?;
        let n_t = self.thresholds.len();
        let full_length = list_length.unwrap_or(0);
        let probes: Vec<ScoredProbe> = self
            .probes
            .iter()
            .enumerate()
            .filter(|(i, _)| !excluded.iter().any(|(j, _)| j == i))
            .map(|(_, p)| self.scored(p, full_length))
            .collect();
        self.spill.finish();
        // Groups in sorted order, as metadata groups are.
        let (probe_groups, new_index) = crate::import::metadata::sorted_labels(&self.probe_groups);
        let mut probes: Vec<ScoredProbe> = probes;
        for p in &mut probes {
            p.group = new_index[p.group as usize];
        }
        // Searches in the order of their ids, not of the file's rows: the bootstrap resamples
        // them by position, so the same data in another row order gives the same bytes.
        probes.sort_by(|a, b| a.id.cmp(&b.id));
        self.skipped
            .excluded_probes
            .sort_by(|a, b| a.probe.cmp(&b.probe));
        let mut streams = vec![(0, 0); self.streams.len()];
        for (old, &s) in self.streams.iter().enumerate() {
            streams[new_index[old] as usize] = s;
        }
        let mut gallery_counts = std::mem::take(&mut self.gallery_buckets);
        if self.per_gallery && n_t > 0 {
            gallery_counts.resize(self.gallery_ix.len() * n_t, 0);
            for row in gallery_counts.chunks_mut(n_t) {
                for t in (0..n_t - 1).rev() {
                    row[t] += row[t + 1];
                }
            }
        }
        Ok(ScoreData {
            gallery_counts,
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
