//! Score files in every layout (detected and forced, stopping at the first bad row and
//! skipping bad rows): read or refused with a one-line error, never a panic.
#![no_main]
use falsematch::import::scores::{ScoreFormat, ScoreOptions, read_scores};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    let formats = std::iter::once(None).chain(ScoreFormat::ALL.iter().map(|f| Some(f.1)));
    for format in formats {
        for skip_bad_rows in [false, true] {
            let options = ScoreOptions {
                format,
                skip_bad_rows,
                spill_budget: 64,
                per_gallery: skip_bad_rows,
            };
            if let Err(e) = read_scores(file.path(), None, &[0.3, 0.5], 3, &options) {
                assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
});
