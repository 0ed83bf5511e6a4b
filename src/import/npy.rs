//! Imported embeddings: NumPy `.npy` matrices of float32 or float64, one embedding per row,
//! read in blocks (hashed on the way), normalized to unit length row by row and quantized like
//! simulated ones.
//!
//! ```text
//! .npy = "\x93NUMPY" major minor | header length (u16, or u32 from version 2) | header dict
//!        { 'descr': '<f4' | '<f8', 'fortran_order': False, 'shape': (rows, dims) } | data
//! row  -> x / |x|  (sum of squares in f64, in index order)  -> round(32767 x) as int16
//!         (the rows' arithmetic: `import::normalize`)
//! ```
//!
//! Invariants: the whole float matrix is never held in memory (at most three blocks of it,
//! see [`read_npy_blocks`]); every error names the file and, for bad values, the row.

use super::normalize::{QUANTIZE_ROWS, quantize_rows};
use ndarray::Array2;
use std::io::{BufReader, Read};
use std::path::Path;

/// Why an embedding file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct EmbeddingError {
    /// The file.
    pub file: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

fn err(file: &Path, message: impl Into<String>) -> EmbeddingError {
    EmbeddingError {
        file: file.display().to_string(),
        message: message.into(),
    }
}

/// The value of `key` in a NumPy header dict, up to the next top-level comma or brace.
fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// A reader that hashes every byte it passes on.
struct Hashing<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
        }
    }

    /// The SHA-256 of everything read, in lowercase hex.
    fn hex(self) -> String {
        use sha2::Digest;
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// An open `.npy` file after its header: the reader at the first data byte (hashing what it
/// reads), rows, columns, bytes per value.
type OpenNpy = (BufReader<Hashing<std::fs::File>>, usize, usize, usize);

fn open_npy(path: &Path) -> Result<OpenNpy, EmbeddingError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let mut r = BufReader::with_capacity(1 << 20, Hashing::new(file));
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)
        .map_err(|_| err(path, "not a .npy file (too short)"))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(err(
            path,
            "not a .npy file (no NumPy magic); save embeddings with numpy.save",
        ));
    }
    if !matches!(magic[6], 1..=3) || magic[7] != 0 {
        return Err(err(
            path,
            format!(
                ".npy format version {}.{} is not supported; use version 1.0, 2.0 or 3.0 (numpy.save)",
                magic[6], magic[7]
            ),
        ));
    }
    let header_len = if magic[6] == 1 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b)
            .map_err(|_| err(path, "truncated header"))?;
        usize::from(u16::from_le_bytes(b))
    } else {
        let mut b = [0u8; 4];
        r.read_exact(&mut b)
            .map_err(|_| err(path, "truncated header"))?;
        u32::from_le_bytes(b) as usize
    };
    let mut header = vec![0u8; header_len];
    r.read_exact(&mut header)
        .map_err(|_| err(path, "truncated header"))?;
    let header = String::from_utf8_lossy(&header).into_owned();
    let descr = header_value(&header, "descr").ok_or_else(|| err(path, "header has no 'descr'"))?;
    let width = match descr.trim_matches(['\'', '"']) {
        "<f4" => 4,
        "<f8" => 8,
        big @ (">f4" | ">f8") => {
            return Err(err(
                path,
                format!(
                    "dtype {big} is big-endian, which is not supported; save with array.astype('<f4')"
                ),
            ));
        }
        other => {
            return Err(err(
                path,
                format!(
                    "dtype {} is not supported; use float32 ('<f4') or float64 ('<f8')",
                    crate::format::quoted(other)
                ),
            ));
        }
    };
    if header_value(&header, "fortran_order") != Some("False") {
        return Err(err(
            path,
            "Fortran-ordered arrays are not supported; save with numpy.ascontiguousarray",
        ));
    }
    let shape = header_value(&header, "shape").ok_or_else(|| err(path, "header has no 'shape'"))?;
    let dims: Vec<usize> = shape
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| err(path, format!("bad shape {}", crate::format::quoted(shape))))
        })
        .collect::<Result<_, _>>()?;
    let [rows, cols] = dims[..] else {
        return Err(err(
            path,
            format!(
                "shape {} is not 2-D; one embedding per row is expected",
                crate::format::quoted(shape)
            ),
        ));
    };
    if rows == 0 || cols == 0 || cols > crate::scenario::MAX_DIMENSION {
        return Err(err(
            path,
            format!(
                "shape ({rows}, {cols}): need at least one row and 1 to {} columns",
                crate::scenario::MAX_DIMENSION
            ),
        ));
    }
    // The header must describe the data exactly: no short file, no bytes after the data.
    let offset = 8 + if magic[6] == 1 { 2 } else { 4 } + header_len as u64;
    let file_bytes = std::fs::metadata(path)
        .map_err(|e| err(path, format!("cannot read: {e}")))?
        .len();
    let data_bytes = file_bytes.saturating_sub(offset);
    let expected = (rows as u64)
        .checked_mul(cols as u64)
        .and_then(|v| v.checked_mul(width as u64));
    if expected != Some(data_bytes) {
        return Err(err(
            path,
            format!(
                "the header promises {rows} x {cols} values of {width} bytes ({}), but the file holds {data_bytes} bytes of data; the file is truncated, has bytes after the data, or its header is wrong",
                expected.map_or_else(
                    || "more than 2^64 bytes".to_string(),
                    |e| format!("{e} bytes")
                )
            ),
        ));
    }
    Ok((r, rows, cols, width))
}

/// The shape (rows, columns) of a `.npy` file, from its header alone.
///
/// # Errors
/// [`EmbeddingError`] as for [`read_npy`]'s header checks.
pub fn npy_shape(path: &Path) -> Result<(usize, usize), EmbeddingError> {
    open_npy(path).map(|(_, rows, cols, _)| (rows, cols))
}

/// Reads a 2-D float32/float64 `.npy` file into unit-length int16 rows.
///
/// # Errors
/// [`EmbeddingError`] naming the file: unreadable, not `.npy`, not a 2-D little-endian float
/// matrix, Fortran order, more than 4096 columns, or a row that is zero, NaN or infinite.
pub fn read_npy(path: &Path) -> Result<Array2<i16>, EmbeddingError> {
    read_npy_hashed(path).map(|(rows, _)| rows)
}

/// [`read_npy`], with the SHA-256 of the whole file computed in the same pass.
///
/// # Errors
/// As [`read_npy`].
pub fn read_npy_hashed(path: &Path) -> Result<(Array2<i16>, String), EmbeddingError> {
    let (rows, cols) = npy_shape(path)?;
    let mut out = Array2::<i16>::zeros((rows, cols));
    // Blocks of about 8 MB of int16 rows.
    let block_rows = ((8 << 20) / (2 * cols)).max(1);
    let sha = read_npy_blocks(path, block_rows, |start, block| {
        out.slice_mut(ndarray::s![start..start + block.nrows(), ..])
            .assign(&block);
        Ok::<(), EmbeddingError>(())
    })?;
    Ok((out, sha))
}

/// Reads a `.npy` file in blocks of `block_rows` rows (the last one shorter), normalizes and
/// quantizes each block's rows (as [`read_npy`] does) and hands them to `consume(first row,
/// rows)` in file order; returns the SHA-256 of the whole file.
///
/// Reading and hashing run on a thread of their own, one block ahead, so they overlap with
/// the quantization (on the current rayon pool) and with whatever `consume` does. At most
/// three blocks of raw bytes and one of quantized rows are held at a time. Rows are
/// independent, so the rows handed on do not depend on the block size. When `consume` or a
/// row fails, reading stops and that error is returned; rows before it may have been
/// consumed.
///
/// # Errors
/// As [`read_npy`] (converted into `E`), or the first error `consume` returns.
pub fn read_npy_blocks<E: From<EmbeddingError>>(
    path: &Path,
    block_rows: usize,
    mut consume: impl FnMut(usize, ndarray::ArrayView2<'_, i16>) -> Result<(), E>,
) -> Result<String, E> {
    use rayon::prelude::*;
    use std::sync::mpsc;
    let (mut r, rows, cols, width) = open_npy(path)?;
    let row_bytes = cols * width;
    let block_rows = block_rows.max(1);
    let truncated = |i: usize| {
        err(
            path,
            format!("truncated: the header promises {rows} rows, data ends at row {i}"),
        )
    };
    std::thread::scope(|scope| {
        // Full blocks go to the consumer (one waiting at most), emptied ones come back.
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<u8>>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let reader = scope.spawn(move || -> Result<Option<String>, EmbeddingError> {
            for start in (0..rows).step_by(block_rows) {
                let mut buf = empty_rx.try_recv().unwrap_or_default();
                buf.resize(block_rows.min(rows - start) * row_bytes, 0);
                r.read_exact(&mut buf).map_err(|_| truncated(start))?;
                if full_tx.send(buf).is_err() {
                    return Ok(None); // the consumer stopped
                }
            }
            drop(full_tx);
            // Whatever follows the data still belongs to the file's hash.
            std::io::copy(&mut r, &mut std::io::sink())
                .map_err(|e| err(path, format!("cannot read: {e}")))?;
            Ok(Some(r.into_inner().hex()))
        });
        let mut quantized = vec![0i16; block_rows.min(rows) * cols];
        let mut consumed = || -> Result<(), E> {
            for (start, raw) in (0..rows).step_by(block_rows).zip(full_rx.iter()) {
                let n = raw.len() / row_bytes;
                let target = &mut quantized[..n * cols];
                let bad = raw
                    .par_chunks(QUANTIZE_ROWS * row_bytes)
                    .zip(target.par_chunks_mut(QUANTIZE_ROWS * cols))
                    .enumerate()
                    .map_init(Vec::new, |scratch, (i, (raw, t))| {
                        quantize_rows(raw, width, cols, t, scratch).map(|r| i * QUANTIZE_ROWS + r)
                    })
                    .flatten()
                    .min();
                if let Some(i) = bad {
                    return Err(err(
                        path,
                        format!(
                            "row {} has a NaN, an infinite value or zero length; every embedding must be a finite non-zero vector",
                            start + i
                        ),
                    )
                    .into());
                }
                let view = ndarray::ArrayView2::from_shape((n, cols), &quantized[..n * cols])
                    .expect("n rows of cols values");
                consume(start, view)?;
                let _ = empty_tx.send(raw);
            }
            Ok(())
        };
        let result = consumed();
        // Stop the reader if the consumer stopped early, then take its verdict.
        drop(full_rx);
        let read = reader.join().expect("the reading thread does not panic");
        result?;
        match read? {
            Some(sha) => Ok(sha),
            None => unreachable!("the reader stops early only when the consumer did"),
        }
    })
}

/// The bytes of a float32 `.npy` file (format version 1) holding `data` as `rows` x `cols`, row
/// major: what `numpy.save` writes for a C-ordered float32 matrix.
pub fn npy_bytes(rows: usize, cols: usize, data: &[f32]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Pad so that magic (6) + version (2) + length (2) + header ends on a 64-byte boundary.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data.iter().flat_map(|v| v.to_le_bytes()));
    bytes
}

/// SHA-256 of a file, read in a stream (never whole into memory).
///
/// # Errors
/// [`EmbeddingError`] naming the file when it cannot be read.
pub fn sha256_file(path: &Path) -> Result<String, EmbeddingError> {
    let file = std::fs::File::open(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let mut r = Hashing::new(file);
    std::io::copy(&mut r, &mut std::io::sink())
        .map_err(|e| err(path, format!("cannot read: {e}")))?;
    Ok(r.hex())
}

/// Reads a CSV of group labels, one per gallery row, from its `group` column.
///
/// # Errors
/// [`EmbeddingError`] naming the file (and line) when the column is missing or the row count
/// differs from `rows`.
pub fn read_groups(path: &Path, rows: usize) -> Result<(Vec<String>, Vec<u16>), EmbeddingError> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| err(path, format!("cannot read the header: {e}")))?
        .clone();
    if let Some(name) = crate::import::duplicate_column(headers.iter()) {
        return Err(err(
            path,
            format!("the header names column {name} twice; give every column a distinct name"),
        ));
    }
    let column = headers
        .iter()
        .position(|h| h.trim() == "group")
        .ok_or_else(|| err(path, "no `group` column in the header"))?;
    let mut names: Vec<String> = Vec::new();
    let mut groups = Vec::with_capacity(rows);
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| err(path, format!("line {}: {e}", i + 2)))?;
        let label = record
            .get(column)
            .ok_or_else(|| err(path, format!("line {}: no `group` value", i + 2)))?;
        let index = match names.iter().position(|n| n == label) {
            Some(index) => index,
            None => {
                if names.len() == usize::from(u16::MAX) {
                    return Err(err(
                        path,
                        format!("line {}: more than {} groups", i + 2, u16::MAX),
                    ));
                }
                names.push(label.to_string());
                names.len() - 1
            }
        };
        groups.push(index as u16);
    }
    if groups.len() != rows {
        return Err(err(
            path,
            format!(
                "{} group rows for {rows} gallery embeddings; give one row per embedding, in order",
                groups.len()
            ),
        ));
    }
    Ok((names, groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quantize::QUANT_SCALE;

    fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) {
        std::fs::write(path, npy_bytes(rows, cols, data)).unwrap();
    }

    #[test]
    fn reads_normalizes_and_quantizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.npy");
        write_npy(&path, 2, 3, &[3.0, 4.0, 0.0, 0.0, 0.0, -2.0]);
        let e = read_npy(&path).unwrap();
        assert_eq!(
            e.row(0).to_vec(),
            vec![
                (0.6 * QUANT_SCALE).round() as i16,
                (0.8 * QUANT_SCALE).round() as i16,
                0
            ]
        );
        assert_eq!(e.row(1).to_vec(), vec![0, 0, -32767]);
    }

    #[test]
    fn blocks_of_any_size_give_the_same_rows_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.npy");
        let (rows, cols) = (23, 5);
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| (i as f32 * 0.37).sin() + 0.1)
            .collect();
        write_npy(&path, rows, cols, &data);
        let (whole, sha) = read_npy_hashed(&path).unwrap();
        assert_eq!(sha, sha256_file(&path).unwrap());
        for block_rows in [1, 2, 5, 22, 23, 100] {
            let mut seen = Vec::new();
            let got = read_npy_blocks(&path, block_rows, |start, block| {
                assert_eq!(start, seen.len() / cols);
                assert!(block.nrows() <= block_rows);
                seen.extend(block.iter().copied());
                Ok::<(), EmbeddingError>(())
            })
            .unwrap();
            assert_eq!(got, sha, "block of {block_rows} rows");
            assert_eq!(seen, whole.iter().copied().collect::<Vec<_>>());
        }
        // A consumer's error stops the reading and is what comes back.
        let mut calls = 0;
        let stopped = read_npy_blocks(&path, 4, |start, _| {
            calls += 1;
            if start >= 8 {
                Err(err(&path, "stop here"))
            } else {
                Ok(())
            }
        });
        assert_eq!(stopped.unwrap_err().message, "stop here");
        assert_eq!(calls, 3);
    }

    #[test]
    fn bad_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npy");
        write_npy(&path, 2, 2, &[1.0, 0.0, 0.0, 0.0]);
        let e = read_npy(&path).unwrap_err().to_string();
        assert!(e.contains("bad.npy") && e.contains("row 1"), "{e}");
        write_npy(&path, 1, 2, &[f32::NAN, 1.0]);
        assert!(read_npy(&path).unwrap_err().to_string().contains("row 0"));
        std::fs::write(&path, b"hello").unwrap();
        assert!(
            read_npy(&path)
                .unwrap_err()
                .to_string()
                .contains("not a .npy")
        );
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<i8', 'fortran_order': False, 'shape': (1, 1), }\n";
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        std::fs::write(&path, bytes).unwrap();
        assert!(read_npy(&path).unwrap_err().to_string().contains("<i8"));
        let groups = dir.path().join("g.csv");
        std::fs::write(&groups, "id,group\n0,a\n1,b\n").unwrap();
        assert_eq!(
            read_groups(&groups, 2).unwrap(),
            (vec!["a".to_string(), "b".to_string()], vec![0, 1])
        );
        assert!(
            read_groups(&groups, 3)
                .unwrap_err()
                .to_string()
                .contains("2 group rows for 3")
        );
    }

    /// A `.npy` file with `header` (a dict) and `data` bytes, format version 1.
    fn raw_npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let header = format!("{header}\n");
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }

    #[test]
    fn the_header_must_describe_the_file_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.npy");
        let good = npy_bytes(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        std::fs::write(&path, &good).unwrap();
        assert_eq!(read_npy(&path).unwrap().nrows(), 3);
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "one row short",
                good[..good.len() - 8].to_vec(),
                "the file holds 16 bytes",
            ),
            (
                "a byte short",
                good[..good.len() - 1].to_vec(),
                "holds 23 bytes",
            ),
            (
                "trailing bytes",
                [&good[..], b"junk"].concat(),
                "holds 28 bytes",
            ),
            (
                "a header claiming fewer rows",
                raw_npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                    &good[good.len() - 24..],
                ),
                "promises 2 x 2 values",
            ),
            (
                "2^59 rows",
                raw_npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (576460752303423488, 2), }",
                    &[0; 16],
                ),
                "promises 576460752303423488 x 2",
            ),
            (
                "rows x columns beyond 2^64 bytes",
                raw_npy(
                    "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 4096), }",
                    &[0; 16],
                ),
                "more than 2^64 bytes",
            ),
            (
                "big-endian",
                raw_npy(
                    "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }",
                    &[0; 4],
                ),
                "big-endian",
            ),
            (
                "an unknown format version",
                [b"\x93NUMPY\x09\x00".as_slice(), &good[8..]].concat(),
                "version 9.0 is not supported",
            ),
        ];
        for (what, bytes, fragment) in cases {
            std::fs::write(&path, bytes).unwrap();
            for e in [
                read_npy(&path).unwrap_err().to_string(),
                npy_shape(&path).unwrap_err().to_string(),
            ] {
                assert!(e.contains("e.npy") && e.contains(fragment), "{what}: {e}");
            }
        }
    }
}
