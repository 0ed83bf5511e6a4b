//! Integration tests: one binary, one module per concern.

mod architecture;
mod calibrate;
mod cli;
mod closed_form;
mod coverage;
mod determinism;
mod figures;
mod fuzzed;
mod import;
mod outputs;
mod parity;
mod properties;
mod readme;
mod report;
mod screened;
mod search;
mod shard;
mod support;
mod tail;
