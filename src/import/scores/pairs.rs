//! pyeer's two-file layout: one file of genuine scores and one of impostor scores, a score
//! per line in the line's last field (fields split at whitespace or commas, as pyeer's
//! `geteerinf -g GENUINE -i IMPOSTOR` reads them). Without probe or gallery ids the files give
//! 1:1 rates only.
//!
//! Invariants: a line is checked completely before its score is kept; blank lines are
//! skipped silently (pyeer does too); every error names the file and line.

use super::Skipped;
use crate::import::ImportError;
use crate::import::spill::Spill;
use std::io::BufRead;
use std::path::Path;

/// The scores of the two files.
pub struct PairScores {
    /// Non-blank lines read in both files (skipped ones included).
    pub rows: u64,
    /// Lines skipped with `--skip-bad-rows`.
    pub skipped: Skipped,
    /// The scores.
    pub spill: Spill,
    /// The genuine stream of `spill`.
    pub genuine: usize,
    /// The impostor stream of `spill`.
    pub impostor: usize,
}

/// The score in a line's last field, or why there is none.
fn parse_line(line: &str) -> Result<f64, (String, String)> {
    let last = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .rfind(|f| !f.is_empty())
        .unwrap_or("");
    match last.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err((
            "score not finite".into(),
            format!("the score `{last}` is not a finite number"),
        )),
        Err(_) => Err((
            "score not a number".into(),
            format!(
                "the last field `{last}` is not a number; each line holds one score in its last field (pyeer's layout: one score per line)"
            ),
        )),
    }
}

/// Reads the genuine and the impostor file into sorted-on-demand score streams.
///
/// # Errors
/// [`ImportError`] naming the file and line of the first bad line (unless `skip_bad_rows`),
/// an unreadable file, or a file without any score.
pub fn read_pairs(
    genuine: &Path,
    impostor: &Path,
    skip_bad_rows: bool,
    spill_budget: usize,
) -> Result<PairScores, ImportError> {
    let mut spill = Spill::new(2, spill_budget);
    let mut rows = 0u64;
    let mut skipped = Skipped::default();
    for (stream, path) in [genuine, impostor].into_iter().enumerate() {
        let file = path.display().to_string();
        let io_err = |e: &dyn std::fmt::Display| ImportError::File {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        };
        if path.is_dir() {
            return Err(ImportError::File {
                file,
                message: "is a directory; give a file of scores, one per line".into(),
            });
        }
        let reader = std::io::BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(path).map_err(|e| io_err(&e))?,
        );
        let mut kept = 0u64;
        for (number, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| io_err(&e))?;
            let line = if number == 0 {
                crate::import::strip_bom(&line)
            } else {
                &line
            };
            if line.trim().is_empty() {
                continue;
            }
            rows += 1;
            match parse_line(line) {
                Ok(x) => {
                    spill.push(stream, x).map_err(|e| io_err(&e))?;
                    kept += 1;
                }
                Err((reason, message)) if skip_bad_rows => {
                    skipped.skip(&format!("{file} line {}", number + 1), reason, &message);
                }
                Err((_, message)) => {
                    return Err(ImportError::Row {
                        file,
                        line: number as u64 + 1,
                        message,
                    });
                }
            }
        }
        if kept == 0 {
            return Err(ImportError::File {
                file,
                message: "holds no score; give one score per line".into(),
            });
        }
    }
    spill.finish();
    Ok(PairScores {
        rows,
        skipped,
        spill,
        genuine: 0,
        impostor: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_field_is_the_score() {
        assert_eq!(parse_line("0.5"), Ok(0.5));
        assert_eq!(parse_line("a b -0.25"), Ok(-0.25));
        assert_eq!(parse_line("x,y,1e-3,"), Ok(1e-3));
        assert!(parse_line("score").unwrap_err().1.contains("`score`"));
        assert!(parse_line("1 NaN").unwrap_err().1.contains("not a finite"));
    }
}
