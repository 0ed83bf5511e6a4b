//! The command line: argument types (clap derive) and the commands they run.
//!
//! `main.rs` only calls [`main`] and maps its result to an exit code; everything here is
//! library code that tests can reach.
//!
//! Invariants: a scenario is loaded and validated, and the run's size checked, before any output
//! folder is touched; the bundle is rendered in memory and written atomically, so bad input or
//! an interrupted run never leaves a partial output behind.

use crate::format::count;
use crate::report::{self, Verdict};
use crate::run::{DEFAULT_TILE_ENTRIES, RunOptions, simulate, work_estimate};
use crate::scenario::{BUNDLED, DEFAULT_SCENARIO, Scenario};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;

const RUN_EXAMPLES: &str = "Examples:
  falsematch run                                   run the bundled default (kaganskikh-2019)
  falsematch run closed-form-check --threads 2     a bundled scenario, by name
  falsematch run my-scenario.toml --out results/ --seed 7 --quiet";

const VERIFY_EXAMPLES: &str = "Examples:
  falsematch verify reports/kaganskikh-2019        re-run a committed report and compare it
  falsematch verify falsematch-out/my-scenario --quiet";

const SCENARIOS_EXAMPLES: &str = "Examples:
  falsematch scenarios                             list bundled scenarios";

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
    /// List the bundled scenarios.
    #[command(after_help = SCENARIOS_EXAMPLES)]
    Scenarios,
}

/// Arguments of `falsematch run`.
#[derive(Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Scenario file (.toml) or bundled scenario name [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Output folder [default: falsematch-out/SCENARIO-NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// Seed replacing the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Gallery entries per tile. Results do not depend on it.
    #[arg(long, default_value_t = DEFAULT_TILE_ENTRIES, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub tile_size: u64,
    /// No progress bar and no summary; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `falsematch verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The report folder.
    pub dir: PathBuf,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
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
        Some(Command::Scenarios) => {
            let mut stdout = std::io::stdout().lock();
            for b in BUNDLED {
                let default = if b.name == DEFAULT_SCENARIO {
                    " (default)"
                } else {
                    ""
                };
                writeln!(stdout, "{:<20} {}{default}", b.name, b.description())?;
            }
            Ok(0)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (mut scenario, text) = Scenario::load(name)?;
    if let Some(seed) = args.seed {
        scenario.set_seed(seed);
    }
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        tile_entries: args.tile_size,
        progress: !args.quiet,
        reverse_tiles: false,
    };
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("falsematch-out").join(&scenario.config.name));
    if out_dir.exists()
        && (!out_dir.is_dir()
            || (std::fs::read_dir(&out_dir)?.next().is_some()
                && !out_dir.join(report::MANIFEST).is_file()))
    {
        anyhow::bail!(
            "{}: exists and is not a falsematch output folder (no manifest.json); choose another --out or remove it",
            out_dir.display()
        );
    }
    let work = work_estimate(&scenario, &options);
    let mib = |bytes: f64| count((bytes / (1u64 << 20) as f64).ceil() as u64);
    if let Some(available) = available_memory_bytes()
        && work.memory_bytes > 0.9 * available
    {
        anyhow::bail!(
            "{name}: this run needs about {} MiB of memory but {} MiB are available; lower probes.mated + probes.non_mated, the number of thresholds or groups, --threads, or --tile-size",
            mib(work.memory_bytes),
            mib(available)
        );
    }
    if !args.quiet {
        eprintln!(
            "falsematch: {} comparisons ({} replicate(s) x {} searches x {} detections), about {} MiB of memory, roughly {} s on {} thread(s) at the reference machine's speed",
            count(work.comparisons as u64),
            scenario.config.replicates,
            scenario.n_probes(),
            count(scenario.config.gallery.detections),
            mib(work.memory_bytes),
            count(work.seconds.ceil() as u64),
            work.threads
        );
    }
    let started = std::time::Instant::now();
    let output = simulate(&scenario, &options)?;
    let bundle = report::build(&scenario, &text, &output)?;
    let provenance = report::provenance(
        work.threads,
        options.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    report::write(&out_dir, &bundle, &provenance)?;
    if !args.quiet {
        let results = crate::results::Results::new(&scenario, &output);
        let mut stdout = std::io::stdout().lock();
        write!(stdout, "{}", crate::summary::render(&results))?;
        writeln!(
            stdout,
            "\nWrote {} (report.html, report.md, results.json, tables/, plots/, manifest.json)",
            out_dir.display()
        )?;
    }
    Ok(())
}

fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: !args.quiet,
        ..RunOptions::default()
    };
    let verdict = report::verify(&args.dir, |scenario, text| {
        let output = simulate(scenario, &options)?;
        Ok(report::build(scenario, text, &output)?)
    })?;
    let mut stdout = std::io::stdout().lock();
    match verdict {
        Verdict::Reproduced => {
            writeln!(stdout, "reproduced")?;
            Ok(0)
        }
        Verdict::Differs(what) => {
            writeln!(stdout, "not reproduced: {what}")?;
            Ok(1)
        }
    }
}

/// Memory the system can give a new process (Linux: MemAvailable), if known.
fn available_memory_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}
