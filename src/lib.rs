//! falsematch: measures how often one-to-many face search names the wrong person.
//!
//! The crate simulates 1:N identification over synthetic embedding galleries drawn from the
//! reference population model, counts false candidates in exact integer tallies, and turns them
//! into FPIR, selectivity, FNIR, CMC and DET estimates with intervals, overall and per
//! demographic group. See the README's Architecture section for the data flow:
//!
//! ```text
//! scenario -> population -> search (tiles) -> tally -> estimate -> results / summary
//! ```

#![warn(missing_docs)]

pub mod calibrate;
pub mod cli;
pub mod closed_form;
pub mod embeddings;
pub mod estimate;
pub mod format;
pub mod import;
pub mod infer;
pub mod population;
pub mod report;
pub mod results;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod search;
pub mod shard;
pub mod special;
pub mod summary;
pub mod sweep;
pub mod tally;
