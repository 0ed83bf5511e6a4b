//! Metadata CSV files: read or refused with a one-line error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    if let Err(e) = falsematch::import::metadata::Metadata::read(file.path()) {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
});
