//! The metadata CSV that says who each embedding (or score-file id) is.
//!
//! ```text
//! subject,role[,id][,capture][,GROUP COLUMN...]
//! alice,gallery,img001.jpg,cctv,F,40-60      one row per embedding, in the .npy's row order
//! ```
//!
//! `role` is `gallery` or `probe`. Every other column is a demographic attribute; a row's group
//! is its attribute values joined by " / " (one group "all" without attribute columns). A probe
//! is mated when its subject has at least one gallery row.

use super::ImportError;
use std::collections::HashMap;
use std::path::Path;

/// Gallery or probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Enrolled in the gallery.
    Gallery,
    /// Searched against the gallery.
    Probe,
}

/// One metadata row.
#[derive(Clone, Debug, PartialEq)]
pub struct MetaRow {
    /// 1-based line in the file.
    pub line: u64,
    /// The `id` column, if present.
    pub id: Option<String>,
    /// Subject (person).
    pub subject: String,
    /// Gallery or probe.
    pub role: Role,
    /// Index into [`Metadata::groups`].
    pub group: u16,
    /// The `capture` column, if present.
    pub capture: Option<String>,
}

/// A validated metadata file.
#[derive(Clone, Debug)]
pub struct Metadata {
    /// The file, as given.
    pub file: String,
    /// Attribute columns, in file order.
    pub group_columns: Vec<String>,
    /// Group labels, sorted (so reordering rows never reorders a report).
    pub groups: Vec<String>,
    /// Rows in file order.
    pub rows: Vec<MetaRow>,
    /// Row index by id (when the file has an `id` column).
    pub by_id: HashMap<String, usize>,
}

const RESERVED: [&str; 4] = ["subject", "role", "id", "capture"];

impl Metadata {
    /// Reads and validates a metadata CSV.
    ///
    /// # Errors
    /// [`ImportError`] naming the file and line: unreadable, no `subject` or `role` column, an
    /// empty subject, a role other than `gallery`/`probe`, a duplicate id, a malformed row.
    pub fn read(path: &Path) -> Result<Self, ImportError> {
        let file = path.display().to_string();
        let fail = |message: String| ImportError::File {
            file: file.clone(),
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .map_err(|e| fail(format!("cannot read: {e}")))?;
        let header = reader
            .headers()
            .map_err(|e| fail(format!("cannot read the header: {e}")))?
            .clone();
        super::check_columns(&file, &header)?;
        let column = |name: &str| header.iter().position(|h| h.trim() == name);
        let subject = column("subject").ok_or_else(|| {
            fail("no `subject` column in the header; the columns are subject, role (gallery or probe), optional id and capture, and any group columns".into())
        })?;
        let role = column("role").ok_or_else(|| {
            fail("no `role` column in the header (values: gallery, probe)".into())
        })?;
        let id = column("id");
        let capture = column("capture");
        let group_idx: Vec<usize> = (0..header.len())
            .filter(|&i| !RESERVED.contains(&header[i].trim()))
            .collect();
        let mut meta = Metadata {
            file: file.clone(),
            group_columns: group_idx
                .iter()
                .map(|&i| header[i].trim().to_string())
                .collect(),
            groups: Vec::new(),
            rows: Vec::new(),
            by_id: HashMap::new(),
        };
        let mut group_index: HashMap<String, u16> = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| fail(format!("malformed CSV: {e}")))?;
            let line = record.position().map_or(0, |p| p.line());
            let row_err = |message: String| ImportError::Row {
                file: file.clone(),
                line,
                message,
            };
            if record.len() != header.len() {
                return Err(row_err(format!(
                    "{} fields, but the header has {}",
                    record.len(),
                    header.len()
                )));
            }
            let subject = record[subject].trim();
            if subject.is_empty() {
                return Err(row_err("empty `subject`".into()));
            }
            let role = match record[role].trim() {
                "gallery" => Role::Gallery,
                "probe" => Role::Probe,
                other => {
                    return Err(row_err(format!(
                        "`role` is {}; allowed: gallery, probe",
                        crate::format::quoted(other)
                    )));
                }
            };
            if let Some(&i) = group_idx.iter().find(|&&i| record[i].trim().is_empty()) {
                return Err(row_err(format!(
                    "empty value in group column {}; give every row its group",
                    crate::format::quoted(header[i].trim())
                )));
            }
            let label = if group_idx.is_empty() {
                "all".to_string()
            } else {
                group_idx
                    .iter()
                    .map(|&i| record[i].trim())
                    .collect::<Vec<_>>()
                    .join(" / ")
            };
            let next = meta.groups.len();
            let group = match group_index.get(&label) {
                Some(&g) => g,
                None => {
                    if next >= usize::from(u16::MAX) {
                        return Err(row_err(format!("more than {} groups", u16::MAX)));
                    }
                    group_index.insert(label.clone(), next as u16);
                    meta.groups.push(label);
                    next as u16
                }
            };
            let id = id.map(|i| record[i].trim().to_string());
            if let Some(id) = &id {
                if id.is_empty() {
                    return Err(row_err("empty `id`".into()));
                }
                if let Some(&first) = meta.by_id.get(id) {
                    return Err(row_err(format!(
                        "duplicate id {} (first on line {})",
                        crate::format::quoted(id),
                        meta.rows[first].line
                    )));
                }
                meta.by_id.insert(id.clone(), meta.rows.len());
            }
            meta.rows.push(MetaRow {
                line,
                id,
                subject: subject.to_string(),
                role,
                group,
                capture: capture.map(|c| record[c].trim().to_string()),
            });
        }
        if meta.rows.is_empty() {
            return Err(fail("no rows after the header".into()));
        }
        let (groups, new_index) = sorted_labels(&meta.groups);
        meta.groups = groups;
        for r in &mut meta.rows {
            r.group = new_index[r.group as usize];
        }
        Ok(meta)
    }

    /// Subjects with at least one gallery row.
    pub fn enrolled(&self) -> std::collections::HashSet<&str> {
        self.rows
            .iter()
            .filter(|r| r.role == Role::Gallery)
            .map(|r| r.subject.as_str())
            .collect()
    }
}

/// Labels sorted, and the new index of each old one.
pub(crate) fn sorted_labels(labels: &[String]) -> (Vec<String>, Vec<u16>) {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].cmp(&labels[b]));
    let mut new_index = vec![0u16; labels.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new as u16;
    }
    (
        order.iter().map(|&o| labels[o].clone()).collect(),
        new_index,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Metadata, ImportError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, text).unwrap();
        Metadata::read(&path)
    }

    #[test]
    fn groups_join_attribute_columns() {
        let m = read("subject,role,sex,age\na,gallery,F,old\nb,probe,M,young\nc,probe,F,old\n")
            .unwrap();
        assert_eq!(m.group_columns, vec!["sex", "age"]);
        assert_eq!(m.groups, vec!["F / old", "M / young"]);
        assert_eq!(m.rows[2].group, 0);
        assert_eq!(m.rows[1].role, Role::Probe);
        assert_eq!(m.rows[1].line, 3);
    }

    #[test]
    fn bad_rows_name_the_line() {
        let e = read("subject,role\na,gallery\nb,suspect\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("m.csv:3: `role` is `suspect`; allowed: gallery, probe"),
            "{e}"
        );
        let e = read("subject,role,id\na,gallery,x\nb,probe,x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3: duplicate id `x` (first on line 2)"), "{e}");
        let e = read("subject,role\na,gallery,extra\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":2: 3 fields, but the header has 2"), "{e}");
        let e = read("who,role\n").unwrap_err().to_string();
        assert!(e.contains("no `subject` column"), "{e}");
    }
}
