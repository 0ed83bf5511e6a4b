//! falsematch: measures how often one-to-many face search names the wrong person.
//!
//! The crate simulates 1:N identification over synthetic embedding galleries drawn from the
//! reference population model (`datasets/MODEL.md`), counts false candidates in exact integer
//! tallies, and turns them into FPIR, selectivity, FNIR, CMC and DET estimates with intervals,
//! overall and per demographic group. The `falsematch` binary is a thin command line over it.
//!
//! # Layers
//!
//! Each module uses only the ones above it in this list (`tests/architecture.rs` checks it):
//!
//! ```text
//! special, rng, format, tally, progress, quantize,  leaves: maths, streams, numbers, counts,
//! atomic                                            atomic file writes
//! scenario                                          a validated scenario (TOML or bundled)
//! population, closed_form                           the model: identities, captures, laws
//! search                                            tiles scored against probes, into tallies
//! estimate                                          tallies -> rates, intervals, checks
//! import                                            .npy embeddings, metadata, score files
//! pipeline                                          run, shard, evaluate, export, sweep,
//!                                                   calibrate, infer
//! report                                            results.json, tables, plots, pages, bundles
//! error                                             the crate's Error: one variant per layer
//! ```
//!
//! # A run, end to end
//!
//! Load a scenario, simulate it, and write its bundle (results.json, tables, plots, report
//! pages, manifest) atomically to a folder:
//!
//! ```
//! use falsematch::pipeline::run::{RunOptions, simulate};
//! use falsematch::report;
//! use falsematch::scenario::Scenario;
//!
//! let text = r#"
//! name = "doc"
//! seed = 7
//! [embedding]
//! dimension = 64
//! effective_dimension = 12
//! [[attributes]]
//! name = "sex"
//! values = ["female", "male"]
//! [[groups]]
//! name = "female"
//! attributes = { sex = "female" }
//! gallery_share = 0.5
//! probe_share = 0.5
//! rho = 0.2
//! [[groups]]
//! name = "male"
//! attributes = { sex = "male" }
//! gallery_share = 0.5
//! probe_share = 0.5
//! rho = 0.1
//! [captures.cctv]
//! noise = 0.5
//! [gallery]
//! detections = 2000
//! capture = "cctv"
//! [[gallery.identity_classes]]
//! label = "passers-by"
//! share = 1.0
//! mean_detections = 2.0
//! [probes]
//! mated = 10
//! non_mated = 20
//! capture = "cctv"
//! [thresholds]
//! raw = [0.3, 0.4]
//! [analysis]
//! bootstrap_draws = 50
//! "#;
//! let scenario = Scenario::from_toml(text, "doc.toml")?;
//! let output = simulate(&scenario, &RunOptions::default())?;
//! // All searches first, one row per threshold (ascending), from exact integer counts.
//! let all = &output.estimates.slices[0];
//! assert_eq!((all.probe_group.as_str(), all.non_mated_searches), ("all", 20));
//! let fpir: Vec<f64> = all.thresholds.iter().map(|t| t.fpir.as_ref().unwrap().value).collect();
//! assert!(fpir[0] >= fpir[1]);
//!
//! let bundle = report::build(&report::Subject::run(&scenario, text, &output))?;
//! let dir = tempfile::tempdir()?;
//! report::write(&dir.path().join("doc"), &bundle, &report::provenance(1, 4096, 0.0))?;
//! assert!(dir.path().join("doc/report.html").is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod atomic;
pub mod closed_form;
mod cpu;
pub mod error;
pub mod estimate;
pub mod format;
pub mod import;
pub mod pipeline;
pub mod population;
pub mod progress;
pub mod quantize;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod search;
pub mod special;
pub mod tally;

pub use error::{Error, Result};
