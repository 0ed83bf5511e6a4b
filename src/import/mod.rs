//! Imported data: score files and embeddings with their metadata.
pub mod spill;
