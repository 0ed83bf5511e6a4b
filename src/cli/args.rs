//! The arguments of each command (clap derive) and their parsers.

use super::*;

/// Arguments of `falsematch export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Scenario file (.toml) or bundled scenario name [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Output folder [default: falsematch-out/export-SCENARIO-NAME].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed replacing the scenario's (0 to 2^63 - 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=falsematch::scenario::MAX_SEED))]
    pub seed: Option<u64>,
}

/// `--png`, for the commands that write a report folder.
#[derive(Debug, Default, clap::Args)]
pub struct PngArg {
    /// Also write a PNG copy of every figure (plots/NAME.png, at twice the SVG's size) for
    /// slides and word processors; the manifest lists them and verify makes them again.
    #[arg(long = "png")]
    pub on: bool,
}

impl PngArg {
    /// The bundle, with PNG copies of its figures when asked.
    pub fn apply(&self, bundle: report::Bundle) -> anyhow::Result<report::Bundle> {
        Ok(if self.on {
            bundle.with_png_copies()?
        } else {
            bundle
        })
    }
}

/// Arguments of `falsematch evaluate`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["embeddings", "scores", "genuine"])))]
pub struct EvaluateArgs {
    /// Embeddings: a 2-D float32/float64 .npy file, one row per metadata row (needs --metadata).
    #[arg(long, requires = "metadata")]
    pub embeddings: Option<PathBuf>,
    /// A score file: csv (`probe_id,gallery_id,score,mated` and group columns), bob4, bob5, or
    /// a candidate list (`probe_id,rank,gallery_id,score,enrolled`, optional `mated`, groups).
    #[arg(long, conflicts_with = "embeddings")]
    pub scores: Option<PathBuf>,
    /// Genuine scores, one per line in the line's last field (pyeer's layout, with
    /// --impostor): 1:1 rates only, since the files name no probe or gallery.
    #[arg(long, requires = "impostor", conflicts_with_all = ["embeddings", "scores", "metadata", "format"])]
    pub genuine: Option<PathBuf>,
    /// Impostor scores, one per line in the line's last field (pyeer's layout, with --genuine).
    #[arg(long, requires = "genuine")]
    pub impostor: Option<PathBuf>,
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
    /// Seed of the bootstrap streams (0 to 2^63 - 1).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(..=falsematch::scenario::MAX_SEED))]
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
    /// Refuse an evaluation whose bootstrap is estimated to take longer, e.g. 90s, 30m, 2h
    /// (checked once the number of searches is known, before the estimates).
    #[arg(long, value_parser = parse_duration)]
    pub max_time: Option<f64>,
    /// No progress bar and no summary; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub png: PngArg,
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
    /// Number format: int16 (exact to 9.3e-10) or int8 (half the memory; about twice as fast
    /// with AVX-512 VNNI, no faster on AVX2 CPUs; at d = 512 scores move by about 5e-4
    /// typically, up to about 2e-3). Both give the same bits on every CPU and thread count.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Int16)]
    pub precision: PrecisionArg,
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
    /// Seed replacing the scenario's (0 to 2^63 - 1).
    #[arg(long, value_parser = clap::value_parser!(u64).range(..=falsematch::scenario::MAX_SEED))]
    pub seed: Option<u64>,
    /// Gallery entries per tile. Results do not depend on it.
    #[arg(long, default_value_t = DEFAULT_TILE_ENTRIES, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub tile_size: u64,
    /// No progress bar and no summary; errors are still printed.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub png: PngArg,
    /// Compute only shard i of n (0-based) and write its tallies to --out (a part file, for
    /// `falsematch merge`) instead of a report.
    #[arg(long, value_parser = falsematch::pipeline::shard::Shard::parse)]
    pub shard: Option<falsematch::pipeline::shard::Shard>,
    /// Take the shard from a cluster's job array: Slurm's SLURM_ARRAY_TASK_ID of
    /// SLURM_ARRAY_TASK_COUNT, or a Kubernetes Indexed Job's JOB_COMPLETION_INDEX of
    /// --shard-count.
    #[arg(long, conflicts_with = "shard")]
    pub shard_from_env: bool,
    /// The number of shards, for --shard-from-env where the environment does not say it
    /// (Kubernetes: the Job's completions).
    #[arg(long, requires = "shard_from_env", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub shard_count: Option<u32>,
    /// Continue from the checkpoint an interrupted run left (OUT.checkpoint.json), if any.
    #[arg(long)]
    pub resume: bool,
    /// Tiles searched between checkpoints [default: 64 tiles first, then twice as many each
    /// time up to 4,096, with at most one checkpoint every 30 s after the first]. Given, every
    /// that many tiles. Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub checkpoint_every: Option<u64>,
    /// Refuse to start when the run needs more memory than this (e.g. 512M, 8G)
    /// [default: 90 % of the memory available].
    #[arg(long, value_parser = parse_bytes)]
    pub max_memory: Option<f64>,
    /// Refuse to start a run estimated to take longer, e.g. 90s, 30m, 2h, 1d (the estimate
    /// covers the search, the bootstrap and the closed forms, at the reference machine's
    /// speed).
    #[arg(long, value_parser = parse_duration)]
    pub max_time: Option<f64>,
}

/// Arguments of `falsematch calibrate`.
#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Scenario file (.toml) or bundled scenario name to calibrate [default: kaganskikh-2019].
    pub scenario: Option<String>,
    /// Threshold (cosine) of the per-group targets.
    #[arg(long, requires = "fmr")]
    pub threshold: Option<f64>,
    /// Target within-group false match rate at --threshold, as GROUP=RATE (repeatable).
    #[arg(long = "fmr", value_parser = parse_group_rate, requires = "threshold")]
    pub fmr: Vec<(String, f64)>,
    /// An operating point of one group, GROUP@THRESHOLD=FMR (repeatable, any number per group):
    /// every parameter is then fitted at once by least squares on log FMR.
    #[arg(long = "point", value_parser = parse_second_point)]
    pub points: Vec<(String, f64, f64)>,
    /// Also fit the spread of rho within groups (the heaviness of the tail); on by default when
    /// a group has three or more points.
    #[arg(long)]
    pub spread: bool,
    /// A second operating point of one group, GROUP@THRESHOLD=RATE: pins the effective dimension.
    #[arg(long, value_parser = parse_second_point)]
    pub second: Option<(String, f64, f64)>,
    /// Mean genuine score of two captures of one person: pins the capture noise.
    #[arg(long)]
    pub genuine_mean: Option<f64>,
    /// Mean impostor score of two people of one group (with --point: fitted with the points).
    #[arg(long)]
    pub impostor_mean: Option<f64>,
    /// A score file (csv, bob4 or bob5: every comparison) whose ROC to fit: FMR levels from 1e-2
    /// down to --fit-down-to are fitted, levels further out are held out and predicted.
    #[arg(long, conflicts_with_all = ["threshold", "fmr", "points", "second", "genuine_mean", "impostor_mean"])]
    pub scores: Option<PathBuf>,
    /// Embeddings (`.npy`, one row per --metadata row) whose ROC to fit, as with --scores: every
    /// probe is compared with every gallery row.
    #[arg(long, requires = "metadata", conflicts_with_all = ["scores", "threshold", "fmr", "points", "second", "genuine_mean", "impostor_mean"])]
    pub embeddings: Option<PathBuf>,
    /// With --scores: metadata CSV with an `id` column naming probe and gallery ids; with
    /// --embeddings: subject, role and optional id of each row.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// With --scores: the layout [default: detected from the first line].
    #[arg(long, requires = "scores", value_parser = ["csv", "bob4", "bob5"])]
    pub format: Option<String>,
    /// With --scores or --embeddings: the lowest FMR fitted; the levels below it are held out.
    #[arg(long, default_value_t = 1e-3)]
    pub fit_down_to: f64,
    /// With --scores or --embeddings: the group fitted [default: the scenario's first]; every
    /// group gets its rho and spread.
    #[arg(long)]
    pub group: Option<String>,
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

pub(super) fn parse_group_rate(text: &str) -> Result<(String, f64), String> {
    let (g, r) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}`: give GROUP=RATE, e.g. women=1e-4"))?;
    let rate: f64 = r
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: the rate `{r}` is not a number"))?;
    Ok((g.trim().to_string(), rate))
}

pub(super) fn parse_second_point(text: &str) -> Result<(String, f64, f64), String> {
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
    /// The attribute whose other values count as "other".
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

pub(super) fn parse_range(text: &str) -> Result<(f64, f64), String> {
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
    /// Refuse to start a sweep estimated to take longer, e.g. 90s, 30m, 2h.
    #[arg(long, value_parser = parse_duration)]
    pub max_time: Option<f64>,
    /// No progress and no table on stdout.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub png: PngArg,
}

/// Parses a duration such as 90s, 30m, 2h, 1d or a plain number of seconds.
pub(super) fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("`{t}`: give a duration such as 90s, 30m, 2h or 1d")),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x * scale),
        _ => Err(format!(
            "`{t}`: give a positive duration such as 90s, 30m, 2h or 1d"
        )),
    }
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
    #[command(flatten)]
    pub png: PngArg,
}

/// Parses a size such as 512M, 8G, 1.5T or a plain number of bytes.
pub(super) fn parse_bytes(text: &str) -> Result<f64, String> {
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

/// `--precision`: the library's [`Precision`](falsematch::quantize::Precision) as a clap value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionArg {
    /// int16 components, exact i32 dot products (the default; resolution 9.3e-10).
    Int16,
    /// int8 components with a per-vector scale: half the memory, about twice as fast with
    /// AVX-512 VNNI (no faster on AVX2 CPUs); at d = 512 scores move by about 5e-4 typically
    /// and by up to about 2e-3 (1.9e-3 seen over 10^7 candidates).
    Int8,
}

impl From<PrecisionArg> for falsematch::quantize::Precision {
    fn from(arg: PrecisionArg) -> Self {
        match arg {
            PrecisionArg::Int16 => Self::Int16,
            PrecisionArg::Int8 => Self::Int8,
        }
    }
}
