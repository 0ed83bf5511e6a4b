//! The command line: argument types (clap derive) and the commands they run.
//!
//! `main.rs` only calls [`main`] and maps its result to an exit code; everything here is
//! library code that tests can reach.
//!
//! Invariants: a scenario is loaded and validated, and the run's size checked, before any output
//! folder is touched; the bundle is rendered in memory and written atomically, so bad input or
//! an interrupted run never leaves a partial output behind.
//!
//! ```text
//! mod.rs      Cli, Command, the dispatch, and what several commands share (bundle writing,
//!             memory checks)
//! args.rs     the arguments of each command and their parsers
//! runs.rs     run (whole, sharded, resumed), merge, verify, export
//! data.rs     search and evaluate on imported data
//! model.rs    calibrate, sweep, infer
//! ```

mod args;
mod data;
mod model;
mod runs;

pub use args::*;
use data::{evaluate, search};
use model::{calibrate, infer, sweep};
use runs::{export, merge, run, verify};

use clap::{Parser, Subcommand};
use falsematch::format::count;
use falsematch::pipeline::run::{Batches, DEFAULT_TILE_ENTRIES, RunOptions, simulate};
use falsematch::pipeline::work::work_estimate;
use falsematch::report::{self, Verdict};
use falsematch::scenario::{BUNDLED, DEFAULT_SCENARIO, Scenario};
use std::io::Write;
use std::path::PathBuf;

/// A run's batches unless `--checkpoint-every` says otherwise: 64 tiles first (an early
/// checkpoint), then twice as many each time up to 4,096. Every batch starts fresh tallies,
/// merges them and waits for its slowest tile: batches of 64 tiles throughout cost about 5 %
/// (benches/README.md).
const DEFAULT_BATCHES: Batches = Batches {
    first: 64,
    largest: 4096,
};
/// Without `--checkpoint-every`, a checkpoint is skipped when the last one is younger than
/// this: at city scale 64 tiles take 0.4 s, and a checkpoint every 64 tiles made a 52-minute
/// run write 3.8 GB (benches/README.md).
const MIN_CHECKPOINT_SPACING: std::time::Duration = std::time::Duration::from_secs(30);

const RUN_EXAMPLES: &str = "Examples:
  falsematch run                                   run the bundled default (kaganskikh-2019)
  falsematch run closed-form-check --threads 2     a bundled scenario, by name
  falsematch run my-scenario.toml --out results/ --seed 7 --quiet";

const VERIFY_EXAMPLES: &str = "Examples:
  falsematch verify reports/kaganskikh-2019        re-run a committed report and compare it
  falsematch verify falsematch-out/my-scenario --quiet";

const SEARCH_EXAMPLES: &str = "Examples:
  falsematch search --gallery gallery.npy --probes probes.npy --k 10 --thresholds 0.3,0.4,0.5
  falsematch search --gallery g.npy --gallery-groups g.csv --probes p.npy --out hits.csv";

const EVALUATE_EXAMPLES: &str = "Examples:
  falsematch evaluate --embeddings faces.npy --metadata faces.csv --thresholds 0.3,0.4,0.5
  falsematch evaluate --scores scores.csv --target-fmr 0.001,0.0001 --out my-report
  falsematch evaluate --scores dev.scores --format bob4 --skip-bad-rows
  falsematch evaluate --scores lists.csv --metadata ids.csv --k 5";

const CALIBRATE_EXAMPLES: &str = "Examples:
  falsematch calibrate closed-form-check --threshold 0.5 --fmr female=6e-3 --fmr male=3e-3 --out cal.toml --check
  falsematch calibrate closed-form-check --threshold 0.5 --fmr male=1.05e-4 --second male@0.45=1.01e-3 \\
      --genuine-mean 0.584 --out calibrated.toml
  falsematch calibrate lfw-facenet --point everyone@0.45=1e-2 --point everyone@0.529=3e-3 \\
      --point everyone@0.59=1e-3 --genuine-mean 0.632 --out fitted.toml";

const INFER_EXAMPLES: &str = "Examples:
  falsematch infer --candidates 238 --archive 4.2e5..8.4e6 --gallery moscow=1.6e9 \\
      --watchlist 1000 --passers-per-day 2.5e6 --scenario kaganskikh-2019";

const SWEEP_EXAMPLES: &str = "Examples:
  falsematch sweep closed-form-check --sizes 1e3..1e9 --simulate-up-to 1e5 --out sweep/
  falsematch sweep moscow-citywide --sizes 1e4..2.8e9 --per-decade 3";

const MERGE_EXAMPLES: &str = "Examples:
  falsematch run moscow-citywide --shard 0/3 --out parts/0.json    (and 1/3, 2/3, anywhere)
  falsematch merge parts/0.json parts/1.json parts/2.json --out moscow-report";

const EXPORT_EXAMPLES: &str = "Examples:
  falsematch export closed-form-check --out data/    write data/embeddings.npy and data/metadata.csv
  falsematch evaluate --embeddings data/embeddings.npy --metadata data/metadata.csv";

const SCENARIOS_EXAMPLES: &str = "Examples:
  falsematch scenarios                             list bundled scenarios";

const COMPLETIONS_EXAMPLES: &str = "Examples:
  falsematch completions bash > ~/.local/share/bash-completion/completions/falsematch
  falsematch completions zsh > ~/.zfunc/_falsematch";

const MAN_EXAMPLES: &str = "Examples:
  falsematch man > ~/.local/share/man/man1/falsematch.1 && man falsematch";

/// falsematch: how often does one-to-many face search name the wrong person?
#[derive(Debug, Parser)]
#[command(
    name = "falsematch",
    version,
    about,
    after_help = "Examples:
  falsematch                        run the bundled default scenario (same as `falsematch run`)
  falsematch run SCENARIO.toml      run a scenario file and write a report folder
  falsematch verify DIR             re-run the scenario of a report folder and compare every file
  falsematch scenarios              list bundled scenarios"
)]
pub struct Cli {
    /// The command (default: `run` on the bundled default scenario).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate the searches of a scenario and write a report folder.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Re-run the scenario recorded in a report folder; print `reproduced` (exit 0) or the
    /// first differing file (exit 1).
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Search imported embeddings (.npy, one per row): top-K candidates and, per probe, the
    /// number of gallery entries at or above each threshold, in total and per gallery group.
    #[command(after_help = SEARCH_EXAMPLES)]
    Search(SearchArgs),
    /// Solve the model's parameters (rho per group, effective dimension, capture noise) from
    /// published operating points with the closed forms, and write the calibrated scenario.
    #[command(after_help = CALIBRATE_EXAMPLES)]
    Calibrate(CalibrateArgs),
    /// From an observed number of false candidates to the false match rates consistent with
    /// it, what they imply for other galleries, and the other-sex share under a model.
    #[command(after_help = INFER_EXAMPLES)]
    Infer(InferArgs),
    /// FPIR and SEL against gallery size at each threshold: the closed forms at every size,
    /// simulation where it can be enumerated, and their agreement where both run.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(SweepArgs),
    /// Combine the part files of a sharded run into the report an unsharded run writes (the
    /// same bytes).
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Evaluate your own data (embeddings with metadata, or a score file) and write the same
    /// report folder as a simulated run, with the inputs recorded by SHA-256.
    #[command(after_help = EVALUATE_EXAMPLES)]
    Evaluate(EvaluateArgs),
    /// Write a scenario's simulated gallery and probes (first replicate) as embeddings.npy and
    /// metadata.csv, for other tools or for `falsematch evaluate`.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),
    /// List the bundled scenarios.
    #[command(after_help = SCENARIOS_EXAMPLES)]
    Scenarios,
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell) to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    #[command(after_help = MAN_EXAMPLES)]
    Man,
}

/// Runs a parsed command line; returns the process exit code (0 ok, 1 a check failed).
///
/// # Errors
/// Any error of the command, with context; the binary prints it and exits with code 2.
pub fn main(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        None => run(RunArgs {
            tile_size: DEFAULT_TILE_ENTRIES,
            ..RunArgs::default()
        })
        .map(|()| 0),
        Some(Command::Run(args)) => run(args).map(|()| 0),
        Some(Command::Verify(args)) => verify(args),
        Some(Command::Search(args)) => search(args).map(|()| 0),
        Some(Command::Evaluate(args)) => evaluate(args).map(|()| 0),
        Some(Command::Export(args)) => export(args).map(|()| 0),
        Some(Command::Merge(args)) => merge(args).map(|()| 0),
        Some(Command::Calibrate(args)) => calibrate(args).map(|()| 0),
        Some(Command::Infer(args)) => infer(args).map(|()| 0),
        Some(Command::Sweep(args)) => sweep(args).map(|()| 0),
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "falsematch", &mut std::io::stdout());
            Ok(0)
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(0)
        }
        Some(Command::Scenarios) => {
            let mut stdout = std::io::stdout().lock();
            let width = BUNDLED.iter().map(|b| b.name.len()).max().unwrap_or(0);
            for b in BUNDLED {
                let default = if b.name == DEFAULT_SCENARIO {
                    " (default)"
                } else {
                    ""
                };
                writeln!(stdout, "{:<width$}  {}{default}", b.name, b.description())?;
            }
            Ok(0)
        }
    }
}

/// What an existing single-file output must look like before falsematch replaces it.
#[derive(Clone, Copy, Debug)]
pub(super) enum OwnFile {
    /// JSON with `"tool": {"name": "falsematch", ...}` (search, infer).
    Json,
    /// A CSV whose first line is exactly this header (search).
    Csv(&'static str),
    /// A scenario written by `falsematch calibrate`.
    CalibratedToml,
}

/// Refuses a single-file output that is one of the command's own inputs, or an existing file
/// that falsematch did not write (one rule for search, calibrate and infer; devices such as
/// /dev/null are written in place and always allowed).
pub(super) fn check_file_target(
    out: &std::path::Path,
    inputs: &[&std::path::Path],
    own: OwnFile,
) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::metadata(out) else {
        return Ok(());
    };
    if !meta.is_file() && !meta.is_dir() {
        return Ok(());
    }
    let same = |input: &std::path::Path| match (out.canonicalize(), input.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(input) = inputs.iter().find(|i| same(i)) {
        anyhow::bail!(
            "{}: is an input of this command ({}); choose another --out",
            out.display(),
            input.display()
        );
    }
    if meta.is_dir() {
        anyhow::bail!("{}: is a folder; --out names a file here", out.display());
    }
    if std::fs::symlink_metadata(out).is_ok_and(|m| m.file_type().is_symlink()) {
        anyhow::bail!(
            "{}: is a symbolic link; give the file it points to as --out",
            out.display()
        );
    }
    // Our outputs are small; a large file is not one of them.
    let bytes = if meta.len() <= 256 << 20 {
        std::fs::read(out).unwrap_or_default()
    } else {
        Vec::new()
    };
    let ours = match own {
        OwnFile::Json => {
            #[derive(serde::Deserialize)]
            struct Tool {
                name: String,
            }
            #[derive(serde::Deserialize)]
            struct Doc {
                tool: Tool,
            }
            serde_json::from_slice::<Doc>(&bytes).is_ok_and(|d| d.tool.name == "falsematch")
        }
        OwnFile::Csv(header) => bytes
            .split(|&b| b == b'\n')
            .next()
            .is_some_and(|line| line.strip_suffix(b"\r").unwrap_or(line) == header.as_bytes()),
        OwnFile::CalibratedToml => bytes.starts_with(b"# Calibrated by falsematch "),
    };
    if ours {
        Ok(())
    } else {
        anyhow::bail!(
            "{}: exists and was not written by falsematch; choose another --out or remove it",
            out.display()
        )
    }
}

/// Writes a bundle, then prints its summary (None: quiet).
pub(super) fn write_bundle(
    out_dir: &std::path::Path,
    bundle: &report::Bundle,
    provenance: &[u8],
    summary: Option<String>,
) -> anyhow::Result<()> {
    report::write(out_dir, bundle, provenance)?;
    if let Some(summary) = summary {
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{summary}")?;
        writeln!(
            stdout,
            "\nWrote {} (report.html, report.md, results.json, tables/, plots/, manifest.json)",
            out_dir.display()
        )?;
    }
    Ok(())
}

/// Refuses work needing more than 90 % of the memory available, saying what to change.
pub(super) fn refuse_beyond_memory(what: &str, bytes: f64, advice: &str) -> anyhow::Result<()> {
    let mib = |bytes: f64| count((bytes / (1u64 << 20) as f64).ceil() as u64);
    match available_memory_bytes() {
        Some(available) if bytes > 0.9 * available => anyhow::bail!(
            "{what}: this run needs about {} MiB of memory but {} MiB are available; {advice}",
            mib(bytes),
            mib(available)
        ),
        _ => Ok(()),
    }
}

/// Memory the system can give a new process (Linux: MemAvailable), if known.
pub(super) fn available_memory_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// The progress bar of a command: on stderr when `shown` and stderr is a terminal, otherwise
/// nowhere.
fn progress_bar(shown: bool) -> falsematch::progress::ProgressSink {
    use std::io::IsTerminal;
    if !shown || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    // {prefix} is the unit (tiles, detections); the rate is a whole number with separators and
    // the ETA in hours, minutes and seconds, as the start-up estimate is printed.
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {prefix} ({percent} %, {rate}/s), eta {eta_precise}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&falsematch::format::count(state.per_sec().round() as u64));
        },
    );
    bar.set_style(style);
    Some(std::sync::Arc::new(Bar(bar)))
}

/// An `indicatif` bar as a library [`Progress`](falsematch::progress::Progress) receiver.
struct Bar(indicatif::ProgressBar);

impl falsematch::progress::Progress for Bar {
    fn stage(&self, message: &str) {
        self.0.set_message(message.to_string());
        // Redraw while a stage reports nothing (laying out a city-sized gallery takes a
        // minute), so the clock moves and the bar does not look frozen.
        self.0
            .enable_steady_tick(std::time::Duration::from_millis(500));
    }
    fn set_unit(&self, unit: &str) {
        self.0.set_prefix(unit.to_string());
    }
    fn set_length(&self, units: u64) {
        // A new length starts a new kind of work (laying out, then searching): its rate and
        // ETA must not average in the one before.
        self.0.set_position(0);
        self.0.set_length(units);
        self.0.reset_eta();
    }
    fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn advance(&self, units: u64) {
        self.0.inc(units);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
