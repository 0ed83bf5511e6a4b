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

/// Tiles searched between two checkpoints of a run, unless `--checkpoint-every` says otherwise.
const DEFAULT_CHECKPOINT_TILES: u64 = 64;

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
  falsematch calibrate closed-form-check --threshold 0.5 --fmr women=3e-4 --fmr men=1e-4 --out cal.toml --check
  falsematch calibrate my.toml --threshold 0.5 --fmr white=1.05e-4 --second white@0.45=1.01e-3 \\
      --genuine-mean 0.584 --out calibrated.toml";

const INFER_EXAMPLES: &str = "Examples:
  falsematch infer --candidates 238 --archive 4.2e5..8.4e6 --gallery moscow=1.6e9 \\
      --watchlist 1000 --passers-per-day 2.5e6 --scenario kaganskikh-2019";

const SWEEP_EXAMPLES: &str = "Examples:
  falsematch sweep closed-form-check --sizes 1e3..1e9 --simulate-up-to 1e5 --out sweep/
  falsematch sweep my.toml --sizes 1e4..2.8e9 --per-decade 3";

const MERGE_EXAMPLES: &str = "Examples:
  falsematch run city.toml --shard 0/3 --out parts/0.json    (and 1/3, 2/3, anywhere)
  falsematch merge parts/0.json parts/1.json parts/2.json --out city-report";

const EXPORT_EXAMPLES: &str = "Examples:
  falsematch export closed-form-check --out data/    write data/embeddings.npy and data/metadata.csv
  falsematch evaluate --embeddings data/embeddings.npy --metadata data/metadata.csv";

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
}

/// Arguments of `falsematch export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Scenario file (.toml) or bundled scenario name [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Output folder [default: falsematch-out/export-SCENARIO-NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed replacing the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Arguments of `falsematch evaluate`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["embeddings", "scores"])))]
pub struct EvaluateArgs {
    /// Embeddings: a 2-D float32/float64 .npy file, one row per metadata row (needs --metadata).
    #[arg(long, requires = "metadata")]
    pub embeddings: Option<PathBuf>,
    /// A score file: csv (`probe_id,gallery_id,score,mated` and group columns), bob4, bob5, or
    /// a candidate list (`probe_id,rank,gallery_id,score,enrolled`, optional `mated`, groups).
    #[arg(long, conflicts_with = "embeddings")]
    pub scores: Option<PathBuf>,
    /// Metadata CSV: subject, role (gallery/probe), optional id and capture, group columns.
    /// One row per embedding; with --scores, an `id` column naming probe and gallery ids.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Score-file layout [default: detected from the first line].
    #[arg(long, value_parser = ["csv", "bob4", "bob5", "candidates"])]
    pub format: Option<String>,
    /// Score thresholds, comma-separated (a score >= T is a candidate / a match).
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.4,0.5,0.6")]
    pub thresholds: Vec<f64>,
    /// The threshold the summary leads with (one of --thresholds) [default: the middle one].
    #[arg(long)]
    pub headline: Option<f64>,
    /// Candidate list length K.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub k: u16,
    /// Target false match rates for 1:1 operating points (score files), comma-separated.
    #[arg(
        long = "target-fmr",
        value_delimiter = ',',
        default_value = "0.01,0.001,0.0001"
    )]
    pub target_fmr: Vec<f64>,
    /// Confidence level of every interval.
    #[arg(long, default_value_t = 0.95)]
    pub confidence_level: f64,
    /// Subject-bootstrap draws for FPIR and SEL intervals (0: none).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub bootstrap_draws: u32,
    /// Seed of the bootstrap streams.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Count and report bad rows (and leave out probes that cannot be searched) instead of
    /// stopping at the first.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Output folder [default: falsematch-out/evaluate-FILE-STEM].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress bar and no summary; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `falsematch search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Gallery embeddings: a 2-D float32 or float64 .npy file, one row per entry.
    #[arg(long)]
    pub gallery: PathBuf,
    /// Probe embeddings: a .npy file with the gallery's number of columns.
    #[arg(long)]
    pub probes: PathBuf,
    /// CSV with a `group` column, one row per gallery entry, in order.
    #[arg(long)]
    pub gallery_groups: Option<PathBuf>,
    /// Candidate list length.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub k: u16,
    /// Score thresholds (cosine), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.4,0.5")]
    pub thresholds: Vec<f64>,
    /// Output: .json (candidates and counts), or .csv (candidates; counts beside it in
    /// NAME-counts.csv).
    #[arg(long, default_value = "search-results.json")]
    pub out: PathBuf,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
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
    /// Compute only shard i of n (0-based) and write its tallies to --out (a part file, for
    /// `falsematch merge`) instead of a report.
    #[arg(long, value_parser = crate::shard::Shard::parse)]
    pub shard: Option<crate::shard::Shard>,
    /// Continue from the checkpoint an interrupted run left (OUT.checkpoint.json), if any.
    #[arg(long)]
    pub resume: bool,
    /// Tiles searched between checkpoints. Results do not depend on it.
    #[arg(long, default_value_t = DEFAULT_CHECKPOINT_TILES, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub checkpoint_every: u64,
    /// Refuse to start when the run needs more memory than this (e.g. 512M, 8G)
    /// [default: 90 % of the memory available].
    #[arg(long, value_parser = parse_bytes)]
    pub max_memory: Option<f64>,
}

/// Arguments of `falsematch calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Scenario file (.toml) or bundled scenario name to calibrate [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Threshold (cosine) of the per-group targets.
    #[arg(long)]
    pub threshold: f64,
    /// Target within-group false match rate at --threshold, as GROUP=RATE (repeatable).
    #[arg(long = "fmr", value_parser = parse_group_rate, required = true)]
    pub fmr: Vec<(String, f64)>,
    /// A second operating point of one group, GROUP@THRESHOLD=RATE: pins the effective dimension.
    #[arg(long, value_parser = parse_second_point)]
    pub second: Option<(String, f64, f64)>,
    /// Mean genuine score of two captures of one person: pins the capture noise.
    #[arg(long)]
    pub genuine_mean: Option<f64>,
    /// Where to write the calibrated scenario.
    #[arg(long)]
    pub out: PathBuf,
    /// Then run the calibrated scenario and set each target beside the simulated rate.
    #[arg(long)]
    pub check: bool,
    /// Worker threads for --check [default: one per core].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_group_rate(text: &str) -> Result<(String, f64), String> {
    let (g, r) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}`: give GROUP=RATE, e.g. women=1e-4"))?;
    let rate: f64 = r
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: the rate `{r}` is not a number"))?;
    Ok((g.trim().to_string(), rate))
}

fn parse_second_point(text: &str) -> Result<(String, f64, f64), String> {
    let bad = || format!("`{text}`: give GROUP@THRESHOLD=RATE, e.g. men@0.45=1e-3");
    let (g, rest) = text.rsplit_once('@').ok_or_else(bad)?;
    let (t, r) = rest.split_once('=').ok_or_else(bad)?;
    Ok((
        g.trim().to_string(),
        t.trim().parse().map_err(|_| bad())?,
        r.trim().parse().map_err(|_| bad())?,
    ))
}

/// Arguments of `falsematch infer`.
#[derive(Debug, clap::Args)]
pub struct InferArgs {
    /// Observed false candidates (e.g. 238).
    #[arg(long)]
    pub candidates: u64,
    /// Archive size searched, in detections: N, or a range LOW..HIGH (e.g. 4.2e5..8.4e6).
    #[arg(long, value_parser = parse_range)]
    pub archive: (f64, f64),
    /// Number of searches the candidates came from.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub searches: u64,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub confidence_level: f64,
    /// Another gallery to carry the rate to, NAME=ENTRIES (repeatable).
    #[arg(long = "gallery", value_parser = parse_group_rate)]
    pub galleries: Vec<(String, f64)>,
    /// A live watchlist of this many people ...
    #[arg(long, requires = "passers_per_day")]
    pub watchlist: Option<f64>,
    /// ... passed by this many faces a day.
    #[arg(long, requires = "watchlist")]
    pub passers_per_day: Option<f64>,
    /// A scenario whose model gives the share of false candidates of the other sex.
    #[arg(long)]
    pub scenario: Option<String>,
    /// The probe's group in --scenario [default: the first group with probes].
    #[arg(long, requires = "scenario")]
    pub probe_group: Option<String>,
    /// The attribute whose other values count as "other" [default: sex].
    #[arg(long, default_value = "sex")]
    pub attribute: String,
    /// Thresholds of the other-sex table.
    #[arg(long, value_delimiter = ',', default_value = "0.3,0.4,0.5,0.6,0.7")]
    pub thresholds: Vec<f64>,
    /// Capture noise levels of the other-sex table (both captures) [default: the scenario's,
    /// 0.3 and 0.75].
    #[arg(long, value_delimiter = ',')]
    pub noise: Vec<f64>,
    /// Also write everything as JSON.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("`{text}`: give N or LOW..HIGH with 0 < LOW <= HIGH, e.g. 4.2e5..8.4e6");
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let a: f64 = a.trim().parse().map_err(|_| bad())?;
    let b: f64 = b.trim().parse().map_err(|_| bad())?;
    if !(a.is_finite() && b.is_finite() && a > 0.0 && a <= b) {
        return Err(bad());
    }
    Ok((a, b))
}

/// Arguments of `falsematch sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Scenario file (.toml) or bundled scenario name [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Gallery sizes, LOW..HIGH entries (log grid).
    #[arg(long, value_parser = parse_range, default_value = "1e3..1e10")]
    pub sizes: (f64, f64),
    /// Sizes per factor of 10.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub per_decade: u32,
    /// Simulate sizes up to this many entries; above it only the analytic mode runs.
    #[arg(long, default_value_t = 1e6)]
    pub simulate_up_to: f64,
    /// Output folder (sweep.csv, sweep.svg, sweep.md) [default: falsematch-out/sweep-NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads [default: one per core]. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// No progress and no table on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `falsematch merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Part files written by `falsematch run --shard i/n --out PART`, one per shard.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output folder [default: falsematch-out/SCENARIO-NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No summary; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Parses a size such as 512M, 8G, 1.5T or a plain number of bytes.
fn parse_bytes(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], t[i..].to_ascii_uppercase()),
        None => (t, String::new()),
    };
    let scale = match unit.trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}`: give a size like 512M, 8G or 1.5T")),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x * scale),
        _ => Err(format!("`{text}`: give a size like 512M, 8G or 1.5T")),
    }
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
            checkpoint_every: DEFAULT_CHECKPOINT_TILES,
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
    let shard = args.shard.unwrap_or(crate::shard::Shard::WHOLE);
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let base = PathBuf::from("falsematch-out").join(&scenario.config.name);
        match args.shard {
            Some(s) => base.with_file_name(format!(
                "{}.part-{}-of-{}.json",
                scenario.config.name, s.index, s.count
            )),
            None => base,
        }
    });
    // Refuse an unusable output before the run, not after it.
    if args.shard.is_some() {
        check_part_target(&out_dir)?;
    } else {
        report::check_target(&out_dir)?;
    }
    let work = work_estimate(&scenario, &options);
    let mib = |bytes: f64| count((bytes / (1u64 << 20) as f64).ceil() as u64);
    let advice = "lower probes.mated + probes.non_mated, the number of thresholds or groups, --threads, or --tile-size";
    match args.max_memory {
        Some(limit) if work.memory_bytes > limit => anyhow::bail!(
            "{name}: this run needs about {} MiB of memory but --max-memory is {} MiB; {advice}, or raise --max-memory",
            mib(work.memory_bytes),
            mib(limit)
        ),
        Some(_) => {}
        None => refuse_beyond_memory(name, work.memory_bytes, advice)?,
    }
    if !args.quiet {
        eprintln!(
            "falsematch: {} comparisons ({} replicate(s) x {} searches x {} detections{}), about {} MiB of memory, roughly {} s on {} thread(s) at the reference machine's speed",
            count(work.comparisons as u64),
            scenario.config.replicates,
            scenario.n_probes(),
            count(scenario.config.gallery.detections),
            if shard.count > 1 {
                format!("; this shard: about 1/{} of it", shard.count)
            } else {
                String::new()
            },
            mib(work.memory_bytes),
            count((work.seconds / f64::from(shard.count)).ceil() as u64),
            work.threads
        );
    }
    let started = std::time::Instant::now();
    let checkpoint = checkpoint_path(&out_dir);
    if let Some(parent) = checkpoint.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", parent.display()))?;
    }
    let mut part = crate::shard::PartialRun::new(&scenario, &text, shard);
    if args.resume {
        match std::fs::read(&checkpoint) {
            Ok(bytes) => {
                let file = checkpoint.display().to_string();
                let saved = crate::shard::PartialRun::from_json(&bytes, &file)
                    .map_err(anyhow::Error::msg)?;
                saved
                    .check(&scenario, shard, &file)
                    .map_err(anyhow::Error::msg)?;
                if !args.quiet {
                    eprintln!("falsematch: resuming from {file}");
                }
                part = saved;
            }
            Err(_) if !args.quiet => eprintln!(
                "falsematch: no checkpoint at {}; starting from the beginning",
                checkpoint.display()
            ),
            Err(_) => {}
        }
    }
    let abort_after: Option<u64> = std::env::var("FALSEMATCH_ABORT_AFTER_CHECKPOINTS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut written = 0u64;
    let mut save = |p: &crate::shard::PartialRun| -> Result<(), crate::run::RunError> {
        report::write_file(&checkpoint, &p.to_json()).map_err(|e| {
            crate::run::RunError::Checkpoint(format!("cannot write the checkpoint: {e}"))
        })?;
        written += 1;
        if abort_after == Some(written) {
            // Test hook: a crash right after a checkpoint (tests/shard.rs).
            std::process::abort();
        }
        Ok(())
    };
    let part = crate::run::simulate_part(
        &scenario,
        &options,
        part,
        args.checkpoint_every as usize,
        &mut save,
    )?;
    if args.shard.is_some() {
        report::write_file(&out_dir, &part.to_json())?;
        let _ = std::fs::remove_file(&checkpoint);
        if !args.quiet {
            eprintln!(
                "falsematch: wrote shard {}/{} to {}; combine the shards with `falsematch merge`",
                shard.index,
                shard.count,
                out_dir.display()
            );
        }
        return Ok(());
    }
    let output = crate::run::finish(&scenario, &[part])?;
    let _ = std::fs::remove_file(&checkpoint);
    let results = crate::results::Results::new(&scenario, &output);
    let bundle = report::build(&scenario, &text, &results, &output.records)?;
    let provenance = report::provenance(
        work.threads,
        options.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| crate::summary::render(&results));
    write_bundle(&out_dir, &bundle, &provenance, summary)
}

fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: !args.quiet,
        ..RunOptions::default()
    };
    let verdict = report::verify(&args.dir, |recorded| match recorded {
        report::Recorded::Scenario(scenario, text) => {
            let output = simulate(scenario, &options)?;
            let results = crate::results::Results::new(scenario, &output);
            Ok(report::build(scenario, text, &results, &output.records)?)
        }
        report::Recorded::Evaluation(record) => {
            let evaluation = record.evaluate(options.clone())?;
            Ok(report::evaluation::build(record, &evaluation)?)
        }
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

fn search(args: SearchArgs) -> anyhow::Result<()> {
    use crate::search::{Thresholds, score_value, threshold_q};
    for (i, t) in args.thresholds.iter().enumerate() {
        if !(t.is_finite() && (-1.0..=1.0).contains(t)) {
            anyhow::bail!(
                "--thresholds: value {} ({t}) must be a score in [-1, 1]",
                i + 1
            );
        }
    }
    let mut scores = args.thresholds.clone();
    scores.sort_by(f64::total_cmp);
    scores.dedup();
    let (g_rows, cols) = crate::embeddings::npy_shape(&args.gallery)?;
    let (p_rows, _) = crate::embeddings::npy_shape(&args.probes)?;
    refuse_beyond_memory(
        &args.gallery.display().to_string(),
        ((g_rows + 2 * p_rows) * cols * 2) as f64 + 16.0 * 1_048_576.0,
        "search a smaller gallery, or split it and merge the candidate lists",
    )?;
    let gallery = crate::embeddings::read_npy(&args.gallery)?;
    let probes = crate::embeddings::read_npy(&args.probes)?;
    if probes.ncols() != gallery.ncols() {
        anyhow::bail!(
            "{}: {} columns, but {} has {}; gallery and probes must come from the same model",
            args.probes.display(),
            probes.ncols(),
            args.gallery.display(),
            gallery.ncols()
        );
    }
    let (names, groups) = match &args.gallery_groups {
        Some(path) => crate::embeddings::read_groups(path, gallery.nrows())?,
        None => (vec!["all".to_string()], vec![0; gallery.nrows()]),
    };
    let thresholds = Thresholds {
        q: scores.iter().map(|&t| threshold_q(t)).collect(),
    };
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: !args.quiet,
        ..RunOptions::default()
    };
    let k = usize::from(args.k);
    let tally = crate::run::search_embeddings(
        &gallery,
        &groups,
        names.len(),
        &probes,
        k,
        &thresholds,
        &options,
    )?;
    let g = names.len();
    // Counts at each threshold: sums of the buckets at or above it.
    let counts =
        |det: &[u64], t: usize, h: usize| (t..scores.len()).map(|b| det[b * g + h]).sum::<u64>();
    let csv = args.out.extension().is_some_and(|e| e == "csv");
    if csv {
        let mut cand = csv::Writer::from_writer(Vec::new());
        cand.write_record(["probe", "rank", "gallery_index", "score", "group"])?;
        let mut cnt = csv::Writer::from_writer(Vec::new());
        cnt.write_record(["probe", "threshold", "group", "count"])?;
        for (p, t) in tally.probes.iter().enumerate() {
            for (r, c) in t.top.iter().enumerate() {
                cand.write_record([
                    p.to_string(),
                    (r + 1).to_string(),
                    c.entry.to_string(),
                    score_value(c.score).to_string(),
                    names[c.group as usize].clone(),
                ])?;
            }
            for (i, score) in scores.iter().enumerate() {
                let total: u64 = (0..g).map(|h| counts(&t.det, i, h)).sum();
                cnt.write_record([
                    p.to_string(),
                    score.to_string(),
                    "all".into(),
                    total.to_string(),
                ])?;
                if g > 1 {
                    for (h, name) in names.iter().enumerate() {
                        cnt.write_record([
                            p.to_string(),
                            score.to_string(),
                            name.clone(),
                            counts(&t.det, i, h).to_string(),
                        ])?;
                    }
                }
            }
        }
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let counts_path = args.out.with_file_name(format!("{stem}-counts.csv"));
        report::write_file(&args.out, &cand.into_inner()?)?;
        report::write_file(&counts_path, &cnt.into_inner()?)?;
    } else {
        let results: Vec<serde_json::Value> = tally
            .probes
            .iter()
            .enumerate()
            .map(|(p, t)| {
                serde_json::json!({
                    "probe": p,
                    "candidates": t.top.iter().enumerate().map(|(r, c)| serde_json::json!({"rank": r + 1, "gallery_index": c.entry, "score": score_value(c.score), "group": names[c.group as usize]})).collect::<Vec<_>>(),
                    "counts": scores.iter().enumerate().map(|(i, s)| serde_json::json!({"threshold": s, "total": (0..g).map(|h| counts(&t.det, i, h)).sum::<u64>(), "by_group": (0..g).map(|h| counts(&t.det, i, h)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "tool": {"name": "falsematch", "version": env!("CARGO_PKG_VERSION")},
            "gallery": {"rows": gallery.nrows(), "dimension": gallery.ncols(), "sha256": crate::embeddings::sha256_file(&args.gallery)?},
            "probes": {"rows": probes.nrows(), "sha256": crate::embeddings::sha256_file(&args.probes)?},
            "normalized": "every row divided by its L2 norm on load",
            "score": "cosine of int16-quantized unit embeddings (round(32767 x)), exact integer dot product divided by 32767^2; candidates break ties by lower gallery index",
            "k": k,
            "thresholds": scores,
            "groups": names,
            "results": results,
        });
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        report::write_file(&args.out, &bytes)?;
    }
    if !args.quiet {
        eprintln!(
            "falsematch: searched {} probes against {} gallery rows of {} dims (rows normalized to unit length on load); wrote {}",
            probes.nrows(),
            gallery.nrows(),
            gallery.ncols(),
            args.out.display()
        );
    }
    Ok(())
}

fn export(args: ExportArgs) -> anyhow::Result<()> {
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (mut scenario, _) = Scenario::load(name)?;
    if let Some(seed) = args.seed {
        scenario.set_seed(seed);
    }
    let values =
        (scenario.config.gallery.detections + scenario.n_probes() as u64) * scenario.dim as u64;
    if values > crate::import::export::MAX_EXPORT_VALUES {
        anyhow::bail!(
            "{name}: the export would hold {} float32 values ({} MiB), more than the {} MiB allowed; lower gallery.detections",
            count(values),
            count((values * 4) >> 20),
            count((crate::import::export::MAX_EXPORT_VALUES * 4) >> 20)
        );
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("falsematch-out").join(format!("export-{}", scenario.config.name))
    });
    let (npy, csv) = crate::import::export::export(&scenario)?;
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", out.display()))?;
    report::write_file(&out.join("embeddings.npy"), &npy)?;
    report::write_file(&out.join("metadata.csv"), &csv)?;
    eprintln!(
        "falsematch: wrote {} and {} ({} gallery entries and {} probes of scenario {}, seed {})",
        out.join("embeddings.npy").display(),
        out.join("metadata.csv").display(),
        count(scenario.config.gallery.detections),
        count(scenario.n_probes() as u64),
        scenario.config.name,
        scenario.seed()
    );
    Ok(())
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    use crate::report::evaluation::{EvaluationRecord, InputFile};
    let mut thresholds = args.thresholds.clone();
    for (i, t) in thresholds.iter().enumerate() {
        if !t.is_finite() || (args.embeddings.is_some() && !(-1.0..=1.0).contains(t)) {
            anyhow::bail!(
                "--thresholds: value {} ({t}) must be a finite score{}",
                i + 1,
                if args.embeddings.is_some() {
                    " in [-1, 1] (cosine)"
                } else {
                    ""
                }
            );
        }
    }
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    for (i, t) in args.target_fmr.iter().enumerate() {
        if !(0.0..=1.0).contains(t) {
            anyhow::bail!(
                "--target-fmr: value {} ({t}) must be a rate in [0, 1]",
                i + 1
            );
        }
    }
    if !(args.confidence_level > 0.5 && args.confidence_level < 1.0) {
        anyhow::bail!(
            "--confidence-level: {} must be in (0.5, 1), e.g. 0.95",
            args.confidence_level
        );
    }
    let headline = match args.headline {
        Some(h) => thresholds.iter().position(|&t| t == h).ok_or_else(|| {
            anyhow::anyhow!(
                "--headline: {h} is not one of --thresholds ({})",
                args.thresholds
                    .iter()
                    .map(f64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })?,
        None => thresholds.len() / 2,
    };
    let main_input = args
        .embeddings
        .as_ref()
        .or(args.scores.as_ref())
        .expect("clap requires --embeddings or --scores");
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let stem = main_input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into());
        PathBuf::from("falsematch-out").join(format!("evaluate-{stem}"))
    });
    report::check_target(&out_dir)?;
    let mut inputs = Vec::new();
    let (kind, format) = match (&args.embeddings, &args.scores) {
        (Some(e), _) => {
            // The int16 copy of every row, plus gallery and probe copies of it.
            let (rows, cols) = crate::embeddings::npy_shape(e)?;
            refuse_beyond_memory(
                &e.display().to_string(),
                (rows * cols * 2 * 2) as f64 + 16.0 * 1_048_576.0,
                "use fewer or shorter embeddings, or a machine with more memory",
            )?;
            inputs.push(InputFile::of("embeddings", e)?);
            ("embeddings", None)
        }
        (None, Some(s)) => {
            inputs.push(InputFile::of("scores", s)?);
            let format = args.format.as_deref().and_then(|f| {
                crate::import::scores::ScoreFormat::ALL
                    .iter()
                    .find(|(n, _)| *n == f)
                    .map(|x| x.1)
            });
            ("scores", format)
        }
        (None, None) => unreachable!("clap requires one input"),
    };
    if let Some(m) = &args.metadata {
        inputs.push(InputFile::of("metadata", m)?);
    }
    let record = EvaluationRecord {
        kind: kind.into(),
        inputs,
        format,
        headline: thresholds[headline],
        thresholds,
        k: usize::from(args.k),
        targets: args.target_fmr.clone(),
        skip_bad_rows: args.skip_bad_rows,
        confidence_level: args.confidence_level,
        bootstrap_draws: args.bootstrap_draws,
        seed: args.seed,
    };
    let run = RunOptions {
        threads: args.threads.map(usize::from),
        progress: !args.quiet,
        ..RunOptions::default()
    };
    let started = std::time::Instant::now();
    let evaluation = record.evaluate(run.clone())?;
    let bundle = report::evaluation::build(&record, &evaluation)?;
    let provenance = report::provenance(
        run.threads.unwrap_or_else(rayon::current_num_threads),
        run.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| crate::summary::render_evaluation(&evaluation));
    write_bundle(&out_dir, &bundle, &provenance, summary)
}

/// Writes a bundle, then prints its summary (None: quiet).
fn write_bundle(
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

/// Where a run into `out` keeps its checkpoint: `OUT.checkpoint.json` beside it.
fn checkpoint_path(out: &std::path::Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    out.with_file_name(format!("{name}.checkpoint.json"))
}

/// A shard's output may replace only a part file.
fn check_part_target(path: &std::path::Path) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!(
            "{}: is a folder; --out of a shard is a part file, e.g. parts/0.json",
            path.display()
        );
    }
    if path.exists() {
        let bytes = std::fs::read(path)?;
        if crate::shard::PartialRun::from_json(&bytes, "").is_err() {
            anyhow::bail!(
                "{}: exists and is not a falsematch part file; choose another --out or remove it",
                path.display()
            );
        }
    }
    Ok(())
}

fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    use crate::calibrate::{GroupTarget, SecondPoint, Targets};
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (scenario, _) = Scenario::load(name)?;
    let targets = Targets {
        threshold: args.threshold,
        groups: args
            .fmr
            .iter()
            .map(|(group, fmr)| GroupTarget {
                group: group.clone(),
                fmr: *fmr,
            })
            .collect(),
        second: args
            .second
            .as_ref()
            .map(|(group, threshold, fmr)| SecondPoint {
                group: group.clone(),
                threshold: *threshold,
                fmr: *fmr,
            }),
        genuine_mean: args.genuine_mean,
    };
    let (config, calibration) = crate::calibrate::calibrate(&scenario, &targets)
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let text = crate::calibrate::to_toml(&config, name, &calibration)?;
    let out_name = args.out.display().to_string();
    // The written file must load: validate it before writing.
    let calibrated = Scenario::from_toml(&text, &out_name)?;
    report::write_file(&args.out, text.as_bytes())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "Calibrated {name}: effective dimension {}, capture noise {:.4} (probe) / {:.4} (gallery), rho {}",
        calibration.effective_dim,
        calibration.noise.0,
        calibration.noise.1,
        calibration
            .rho
            .iter()
            .map(|(g, r)| format!("{g} = {r:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    let simulated = if args.check {
        let options = RunOptions {
            threads: args.threads.map(usize::from),
            progress: !args.quiet,
            ..RunOptions::default()
        };
        Some(crate::calibrate::check(
            &calibrated,
            &calibration,
            &simulate(&calibrated, &options)?,
        ))
    } else {
        None
    };
    writeln!(
        stdout,
        "\n{:<34} {:>12} {:>16}{}",
        "target",
        "value",
        "closed form",
        if simulated.is_some() {
            "  simulated [95 % interval]            z"
        } else {
            ""
        }
    )?;
    for (i, r) in calibration.rows.iter().enumerate() {
        let sim = simulated
            .as_ref()
            .and_then(|s| s.get(i).cloned().flatten())
            .map_or(String::new(), |c| {
                format!(
                    "  {:<36} {:>5.2}",
                    format!("{:.4e} [{:.3e}, {:.3e}]", c.value, c.lower, c.upper),
                    c.z
                )
            });
        writeln!(
            stdout,
            "{:<34} {:>12.4e} {:>16.4e}{sim}",
            r.target, r.value, r.closed_form
        )?;
    }
    writeln!(stdout, "\nWrote {out_name}")?;
    Ok(())
}

fn infer(args: InferArgs) -> anyhow::Result<()> {
    use crate::format::rate;
    let big = |x: f64| count(x.round() as u64);
    if !(args.confidence_level > 0.5 && args.confidence_level < 1.0) {
        anyhow::bail!(
            "--confidence-level: {} must be in (0.5, 1)",
            args.confidence_level
        );
    }
    let interval = crate::infer::fmr_interval(
        args.candidates,
        args.searches,
        args.archive,
        args.confidence_level,
    );
    let lv = crate::format::level(args.confidence_level);
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "{} false candidates in {} search(es) of an archive of {} to {} detections:",
        count(args.candidates),
        count(args.searches),
        big(args.archive.0),
        big(args.archive.1)
    );
    let _ = writeln!(
        out,
        "  per-comparison false match rate {} to {} (point estimates), {lv} interval {} to {}",
        rate(interval.point_low),
        rate(interval.point_high),
        rate(interval.lower),
        rate(interval.upper)
    );
    let elsewhere: Vec<crate::infer::Elsewhere> = args
        .galleries
        .iter()
        .map(|(name, n)| crate::infer::elsewhere(&interval, name, *n))
        .collect();
    for e in &elsewhere {
        let _ = writeln!(
            out,
            "  {} ({} detections): {} to {} false candidates per search, FPIR {} to {}",
            e.name,
            big(e.entries),
            crate::format::mean(e.false_candidates.0),
            crate::format::mean(e.false_candidates.1),
            rate(e.fpir.0),
            rate(e.fpir.1)
        );
    }
    let watch = args
        .watchlist
        .zip(args.passers_per_day)
        .map(|(w, p)| crate::infer::watchlist(&interval, w, p));
    if let Some(w) = &watch {
        let _ = writeln!(
            out,
            "  watchlist of {} people, {} faces a day: {} to {} false alerts a day",
            big(w.size),
            big(w.passers_per_day),
            crate::format::mean(w.false_alerts_per_day.0),
            crate::format::mean(w.false_alerts_per_day.1)
        );
    }
    let mut shares = Vec::new();
    if let Some(name) = &args.scenario {
        let (scenario, _) = Scenario::load(name)?;
        let g = match &args.probe_group {
            Some(pg) => scenario
                .groups
                .iter()
                .position(|g| &g.name == pg)
                .ok_or_else(|| anyhow::anyhow!("--probe-group: no group `{pg}` in {name}"))?,
            None => scenario
                .groups
                .iter()
                .position(|g| g.probe_share > 0.0)
                .unwrap_or(0),
        };
        let own = scenario.config.groups[g]
            .attributes
            .get(&args.attribute)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--attribute: group `{}` of {name} has no attribute `{}`",
                    scenario.groups[g].name,
                    args.attribute
                )
            })?
            .clone();
        let base = scenario.captures[scenario.gallery_capture].noise_min;
        let noise: Vec<f64> = if args.noise.is_empty() {
            let mut n = vec![0.3, base, 0.75];
            n.sort_by(f64::total_cmp);
            n.dedup();
            n
        } else {
            args.noise.clone()
        };
        for s in &noise {
            if !(0.0..1.0).contains(s) {
                anyhow::bail!("--noise: {s} must be in [0, 1)");
            }
        }
        let _ = writeln!(
            out,
            "\nUnder {name}'s model, the share of a {} probe's false candidates whose {} is not {own}:",
            scenario.groups[g].name, args.attribute
        );
        let _ = write!(out, "  {:<12}", "threshold");
        for s in &noise {
            let _ = write!(out, " {:>14}", format!("noise {s}"));
        }
        let _ = writeln!(out);
        for &t in &args.thresholds {
            let _ = write!(out, "  {t:<12}");
            for &s in &noise {
                let share = crate::infer::other_share(&scenario, g, &args.attribute, t, Some(s));
                shares.push(serde_json::json!({"threshold": t, "noise": s, "share": share}));
                let _ = write!(
                    out,
                    " {:>14}",
                    share.map_or("-".into(), crate::format::percent)
                );
            }
            let _ = writeln!(out);
        }
    }
    print!("{out}");
    if let Some(path) = &args.out {
        let doc = serde_json::json!({
            "tool": {"name": "falsematch", "version": env!("CARGO_PKG_VERSION")},
            "fmr": interval,
            "elsewhere": elsewhere,
            "watchlist": watch,
            "other_share": shares,
            "model": "k ~ Poisson(searches x archive x FMR), comparisons independent; elsewhere: FMR x M false candidates per search, FPIR 1 - exp(-FMR M); watchlist: passers x (1 - (1 - FMR)^W) alerts a day",
        });
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        report::write_file(path, &bytes)?;
    }
    Ok(())
}

fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    use crate::format::{mean, rate};
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (scenario, _) = Scenario::load(name)?;
    let sizes = crate::sweep::sizes(args.sizes.0, args.sizes.1, args.per_decade);
    let limit = args.simulate_up_to.max(0.0) as u64;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("falsematch-out").join(format!("sweep-{}", scenario.config.name))
    });
    if out.is_file() {
        anyhow::bail!("{}: is a file; --out is a folder", out.display());
    }
    let simulated: u64 = sizes.iter().filter(|&&n| n <= limit).sum();
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: false,
        ..RunOptions::default()
    };
    let biggest = crate::sweep::resized(
        &scenario,
        sizes
            .iter()
            .copied()
            .filter(|&n| n <= limit)
            .max()
            .unwrap_or(1),
    )?;
    refuse_beyond_memory(
        name,
        work_estimate(&biggest, &options).memory_bytes,
        "lower --simulate-up-to",
    )?;
    if !args.quiet {
        eprintln!(
            "falsematch: {} sizes from {} to {}; simulating {} of them ({} comparisons){}",
            sizes.len(),
            count(sizes[0]),
            count(*sizes.last().unwrap_or(&0)),
            sizes.iter().filter(|&&n| n <= limit).count(),
            count(simulated * scenario.n_probes() as u64 * u64::from(scenario.config.replicates)),
            if scenario.has_closed_form_fmr() {
                ""
            } else {
                "; no analytic mode: this scenario has per-identity rho or varying capture noise"
            }
        );
    }
    let quiet = args.quiet;
    let rows = crate::sweep::sweep(&scenario, &sizes, limit, &options, &mut |n| {
        if !quiet {
            eprintln!("falsematch: N = {}", count(n));
        }
    })?;
    // sweep.csv
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    csv.write_record([
        "entries",
        "threshold",
        "score",
        "analytic_fpir",
        "analytic_sel",
        "fpir",
        "fpir_lower",
        "fpir_upper",
        "sel",
        "sel_lower",
        "sel_upper",
        "z_fpir",
        "z_sel",
    ])?;
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in &rows {
        let e = |x: &Option<crate::estimate::Estimate>,
                 f: fn(&crate::estimate::Estimate) -> f64| {
            opt(x.as_ref().map(f))
        };
        csv.write_record([
            r.entries.to_string(),
            r.threshold.clone(),
            r.score.to_string(),
            opt(r.analytic_fpir),
            opt(r.analytic_sel),
            e(&r.fpir, |e| e.value),
            e(&r.fpir, |e| e.lower),
            e(&r.fpir, |e| e.upper),
            e(&r.sel, |e| e.value),
            e(&r.sel, |e| e.lower),
            e(&r.sel, |e| e.upper),
            opt(r.z_fpir),
            opt(r.z_sel),
        ])?;
    }
    // sweep.svg
    let series =
        |analytic: fn(&crate::sweep::SweepRow) -> Option<f64>,
         sim: fn(&crate::sweep::SweepRow) -> Option<&crate::estimate::Estimate>| {
            scenario
                .thresholds
                .iter()
                .map(|t| crate::report::plots::SweepSeries {
                    label: t.label.clone(),
                    analytic: rows
                        .iter()
                        .filter(|r| r.threshold == t.label)
                        .filter_map(|r| analytic(r).map(|v| (r.entries as f64, v)))
                        .collect(),
                    simulated: rows
                        .iter()
                        .filter(|r| r.threshold == t.label)
                        .filter_map(|r| {
                            sim(r).map(|e| crate::report::plots::IntervalPoint {
                                x: r.entries as f64,
                                value: e.value,
                                lower: e.lower,
                                upper: e.upper,
                            })
                        })
                        .collect(),
                })
                .collect::<Vec<_>>()
        };
    let svg = crate::report::plots::sweep(
        &series(|r| r.analytic_fpir, |r| r.fpir.as_ref()),
        &series(|r| r.analytic_sel, |r| r.sel.as_ref()),
    )?;
    // sweep.md
    let mut md = format!(
        "# Sweep of {} over gallery size\n\nFPIR and SEL (false candidates per search) against the number of gallery entries N. Analytic: the closed forms (SEL exact in expectation; FPIR assumes detections match independently, exact with one detection per identity{}). Simulated: `falsematch run` of the scenario resized to N, with 95 % intervals. z: standardized difference where both ran.\n\n",
        scenario.config.name,
        if scenario.is_closed_form_regime() {
            ""
        } else {
            "; here people have several detections, which match together, so the analytic FPIR overstates it and gets no z"
        }
    );
    md.push_str("| N | threshold | analytic FPIR | simulated FPIR | z | analytic SEL | simulated SEL | z |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let cell = |x: &Option<crate::estimate::Estimate>, f: fn(f64) -> String| {
        x.as_ref().map_or("-".to_string(), |e| {
            crate::format::with_interval(e.value, e.lower, e.upper, f)
        })
    };
    let z = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:+.2}"));
    for r in &rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            count(r.entries),
            r.threshold,
            r.analytic_fpir.map_or("-".into(), rate),
            cell(&r.fpir, rate),
            z(r.z_fpir),
            r.analytic_sel.map_or("-".into(), mean),
            cell(&r.sel, mean),
            z(r.z_sel)
        ));
    }
    let worst = rows
        .iter()
        .flat_map(|r| [r.z_fpir, r.z_sel])
        .flatten()
        .fold(0.0f64, |a, z| a.max(z.abs()));
    md.push_str(&format!(
        "\nLargest |z| where both ran: {worst:.2}.\n\n![sweep](sweep.svg)\n"
    ));
    std::fs::create_dir_all(&out)
        .map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", out.display()))?;
    report::write_file(&out.join("sweep.csv"), &csv.into_inner()?)?;
    report::write_file(&out.join("sweep.svg"), svg.as_bytes())?;
    report::write_file(&out.join("sweep.md"), md.as_bytes())?;
    if !args.quiet {
        print!("{md}");
        println!("\nWrote {} (sweep.md, sweep.csv, sweep.svg)", out.display());
    }
    Ok(())
}

fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for path in &args.parts {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{file}: cannot read: {e}"))?;
        parts.push((
            file.clone(),
            crate::shard::PartialRun::from_json(&bytes, &file).map_err(anyhow::Error::msg)?,
        ));
    }
    let (first_file, first) = &parts[0];
    let count = first.shard.count;
    let mut seen = vec![None::<&str>; count as usize];
    for (file, p) in &parts {
        if p.scenario.sha256 != first.scenario.sha256 || p.seed != first.seed {
            anyhow::bail!(
                "{file}: is from scenario {} seed {}, but {first_file} is from {} seed {}; merge parts of one run",
                p.scenario.name,
                p.seed,
                first.scenario.name,
                first.seed
            );
        }
        if p.shard.count != count {
            anyhow::bail!(
                "{file}: is one of {} shards, but {first_file} is one of {count}",
                p.shard.count
            );
        }
        if let Some(other) = seen[p.shard.index as usize] {
            anyhow::bail!(
                "{file}: shard {}/{count} is also {other}; give each shard once",
                p.shard.index
            );
        }
        seen[p.shard.index as usize] = Some(file);
    }
    if let Some(missing) = seen.iter().position(Option::is_none) {
        anyhow::bail!("shard {missing}/{count} is missing; give all {count} part files");
    }
    if first.scenario.text.is_empty() {
        anyhow::bail!("{first_file}: records no scenario text");
    }
    let text = first.scenario.text.clone();
    let mut scenario = Scenario::from_toml(
        &text,
        &format!("{first_file} (scenario recorded in the part)"),
    )?;
    scenario.set_seed(first.seed);
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("falsematch-out").join(&scenario.config.name));
    report::check_target(&out_dir)?;
    let started = std::time::Instant::now();
    let parts: Vec<crate::shard::PartialRun> = parts.into_iter().map(|(_, p)| p).collect();
    let output = crate::run::finish(&scenario, &parts)?;
    let results = crate::results::Results::new(&scenario, &output);
    let bundle = report::build(&scenario, &text, &results, &output.records)?;
    let provenance = report::provenance(
        rayon::current_num_threads(),
        0,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| crate::summary::render(&results));
    write_bundle(&out_dir, &bundle, &provenance, summary)
}

/// Refuses work needing more than 90 % of the memory available, saying what to change.
fn refuse_beyond_memory(what: &str, bytes: f64, advice: &str) -> anyhow::Result<()> {
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
fn available_memory_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}
