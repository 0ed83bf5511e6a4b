//! The crate's error: every way a library call can fail, one matchable variant per layer,
//! each carrying the layer's own error (which names the file, field or line and says what is
//! allowed). Functions return their layer's error; `?` lifts it into [`Error`] for a caller
//! that drives several layers (a program embedding falsematch, the binary).

/// Any falsematch error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario could not be read or is invalid.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// An imported score or metadata file is unusable.
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// An imported embeddings file is unusable.
    #[error(transparent)]
    Embeddings(#[from] crate::import::npy::EmbeddingError),
    /// A run failed after its scenario was validated.
    #[error(transparent)]
    Run(#[from] crate::pipeline::run::RunError),
    /// A shard is not `i/n`.
    #[error(transparent)]
    Shard(#[from] crate::pipeline::shard::BadShard),
    /// The environment names no usable shard (`--shard-from-env`).
    #[error(transparent)]
    ShardEnv(#[from] crate::pipeline::shard::ShardEnvError),
    /// A part file or checkpoint is unusable.
    #[error(transparent)]
    Part(#[from] crate::pipeline::shard::PartError),
    /// A checkpoint cannot be used or its folder created.
    #[error(transparent)]
    Checkpoint(#[from] crate::pipeline::checkpoint::CheckpointError),
    /// A search of imported embeddings failed.
    #[error(transparent)]
    Search(#[from] crate::pipeline::search_files::SearchError),
    /// An inference cannot be made.
    #[error(transparent)]
    Infer(#[from] crate::pipeline::infer::InferError),
    /// An evaluation of imported data failed.
    #[error(transparent)]
    Evaluate(#[from] crate::pipeline::evaluate::EvaluateError),
    /// A sweep failed.
    #[error(transparent)]
    Sweep(#[from] crate::pipeline::sweep::SweepError),
    /// Calibration failed.
    #[error(transparent)]
    Calibrate(#[from] crate::pipeline::calibrate::CalibrateError),
    /// A report could not be rendered.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// An output could not be written (nothing half-written is left).
    #[error(transparent)]
    Write(#[from] crate::report::WriteError),
    /// A bundle could not be verified.
    #[error(transparent)]
    Verify(#[from] crate::report::VerifyError),
}

/// A result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layer_error_lifts_into_a_matchable_variant_with_its_message() {
        fn load() -> Result<crate::scenario::Scenario> {
            Ok(crate::scenario::Scenario::from_toml("name = ", "bad.toml")?)
        }
        let err = load().unwrap_err();
        assert!(matches!(err, Error::Scenario(_)), "{err:?}");
        assert!(err.to_string().starts_with("bad.toml:1:"), "{err}");
        let shard: Result<_> = crate::pipeline::shard::Shard::parse("3/3").map_err(Error::from);
        assert!(matches!(shard, Err(Error::Shard(_))));
    }
}
