//! Scenario files: validated or refused with a one-line error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = falsematch::scenario::Scenario::from_toml(text, "fuzz.toml") {
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }
});
