//! The work a command does, from a validated scenario or imported data to a typed result:
//! nothing here parses arguments, draws a bar or writes a report.
//!
//! ```text
//! run        simulate a scenario (whole, or one shard with checkpoints) and estimate
//! shard      parts and checkpoints: what a shard has done, integrity-checked when read back
//! evaluate   estimates from imported embeddings or score files
//! export     a scenario's simulated gallery and probes as .npy files
//! sweep      FPIR and selectivity over gallery sizes, analytic and simulated
//! calibrate  a scenario fitted to published figures, a score file or embeddings
//! infer      what an observed candidate count says about the FMR behind it
//! ```
//!
//! Modules here use everything below them (scenario, population, search, estimate, import)
//! and are used only by `report` and the binary.

pub mod calibrate;
pub mod checkpoint;
pub mod evaluate;
pub mod export;
pub mod infer;
pub mod run;
pub mod search_files;
pub mod shard;
pub mod sweep;
pub mod work;
