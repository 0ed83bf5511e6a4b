//! `run` (whole, sharded, resumed from a checkpoint), `merge`, `verify` and `export`.

use super::*;

pub(super) fn run(mut args: RunArgs) -> anyhow::Result<()> {
    if args.shard_from_env {
        args.shard = Some(falsematch::pipeline::shard::Shard::from_env(
            |name| std::env::var(name).ok(),
            args.shard_count,
        )?);
    }
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (mut scenario, text) = Scenario::load(name)?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed)?;
    }
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        tile_entries: args.tile_size,
        progress: progress_bar(!args.quiet),
        max_seconds: args.max_time,
        ..RunOptions::default()
    };
    let shard = args
        .shard
        .unwrap_or(falsematch::pipeline::shard::Shard::WHOLE);
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let base = PathBuf::from("falsematch-out").join(&scenario.config().name);
        match args.shard {
            Some(s) => base.with_file_name(format!(
                "{}.part-{}-of-{}.json",
                scenario.config().name,
                s.index,
                s.count
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
    let work = check_size(&args, name, &scenario, &options, shard)?;
    let started = std::time::Instant::now();
    use falsematch::pipeline::checkpoint::{self, Start};
    let checkpoint = checkpoint::checkpoint_path(&out_dir);
    let checkpoint_name = checkpoint.display().to_string();
    let (part, start) = checkpoint::start(&checkpoint, args.resume, &scenario, &text, shard)?;
    if !args.quiet {
        match start {
            Start::Resumed => eprintln!("falsematch: resuming from {checkpoint_name}"),
            Start::NoCheckpoint => eprintln!(
                "falsematch: no checkpoint at {checkpoint_name}; starting from the beginning"
            ),
            Start::Fresh => {}
        }
    }
    say_how_to_resume_when_interrupted(checkpoint.clone());
    let hooks = AbortHooks::from_env();
    let mut written = 0u64;
    // Given --checkpoint-every, every batch is saved; by default at most one every
    // MIN_CHECKPOINT_SPACING (the first at once), so city-scale runs do not spend their time
    // rewriting checkpoints.
    let spacing = if args.checkpoint_every.is_some() {
        std::time::Duration::ZERO
    } else {
        MIN_CHECKPOINT_SPACING
    };
    let mut last_saved: Option<std::time::Instant> = None;
    let mut save = |p: &falsematch::pipeline::shard::PartialRun| -> Result<(), falsematch::pipeline::run::RunError> {
        if last_saved.is_some_and(|t| t.elapsed() < spacing) {
            return Ok(());
        }
        last_saved = Some(std::time::Instant::now());
        written += 1;
        let bytes = p.to_json();
        if hooks.in_write == Some(written) {
            // Test hook: a crash half-way through writing a checkpoint (tests/shard.rs).
            let partial = falsematch::atomic::partial_sibling(&checkpoint);
            let _ = std::fs::write(&partial, &bytes[..bytes.len() / 2]);
            std::process::abort();
        }
        checkpoint::save_bytes(&checkpoint, &bytes)?;
        if hooks.after_write == Some(written) {
            // Test hook: a crash right after a checkpoint (tests/shard.rs).
            std::process::abort();
        }
        Ok(())
    };
    let outcome = falsematch::pipeline::run::simulate_part(
        &scenario,
        &options,
        part,
        args.checkpoint_every
            .map_or(DEFAULT_BATCHES, |n| Batches::every(n as usize)),
        &mut save,
    );
    let part = match outcome {
        Ok(part) => part,
        Err(falsematch::pipeline::run::RunError::Part { message, .. }) => {
            anyhow::bail!(
                "{checkpoint_name}: {message}; the checkpoint cannot be trusted: remove it and run without --resume"
            )
        }
        Err(e) => {
            // The failure is in the scenario, so a checkpoint of it could never be finished.
            let _ = std::fs::remove_file(&checkpoint);
            return Err(e.into());
        }
    };
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
    let output = falsematch::pipeline::run::finish(&scenario, &[part]);
    // Finished or not (generator 2 failing its end-of-run check fails again on resume), the
    // checkpoint has served.
    let _ = std::fs::remove_file(&checkpoint);
    let output = output?;
    let subject = report::Subject::run(&scenario, &text, &output);
    let bundle = args.png.apply(report::build(&subject)?)?;
    let provenance = report::provenance(
        work.threads,
        options.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| subject.summary());
    write_bundle(&out_dir, &bundle, &provenance, summary)
}

pub(super) fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: progress_bar(!args.quiet),
        ..RunOptions::default()
    };
    let verdict = report::verify(&args.dir, |recorded| match recorded {
        report::Recorded::Scenario(scenario, text) => {
            let output = simulate(scenario, &options)?;
            Ok(report::build(&report::Subject::run(
                scenario, text, &output,
            ))?)
        }
        report::Recorded::Evaluation(record) => {
            let evaluation = record.evaluate(options.clone())?;
            Ok(report::build(&report::Subject::evaluation(
                record,
                &evaluation,
            ))?)
        }
        report::Recorded::Sweep(scenario, text, settings) => {
            let rows = falsematch::pipeline::sweep::sweep(
                scenario,
                &settings.sizes(),
                settings.simulate_up_to,
                &RunOptions {
                    progress: None,
                    ..options.clone()
                },
                &mut |_| {},
            )?;
            Ok(report::sweep::sweep_bundle(
                scenario, text, settings, &rows,
            )?)
        }
        report::Recorded::Export(scenario, text) => {
            let (npy, csv) = falsematch::pipeline::export::export(scenario)?;
            Ok(report::sweep::export_bundle(scenario, text, npy, csv))
        }
    })?;
    let mut stdout = std::io::stdout().lock();
    match verdict {
        Verdict::Reproduced(notes) => {
            writeln!(stdout, "reproduced")?;
            for note in notes {
                writeln!(stdout, "note: {note}")?;
            }
            Ok(0)
        }
        Verdict::Differs(what) => {
            writeln!(stdout, "not reproduced: {what}")?;
            Ok(1)
        }
    }
}

pub(super) fn export(args: ExportArgs) -> anyhow::Result<()> {
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (mut scenario, text) = Scenario::load(name)?;
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed)?;
    }
    let values =
        (scenario.config().gallery.detections + scenario.n_probes() as u64) * scenario.dim() as u64;
    if values > falsematch::pipeline::export::MAX_EXPORT_VALUES {
        anyhow::bail!(
            "{name}: the export would hold {} float32 values ({} MiB), more than the {} MiB allowed; lower gallery.detections",
            count(values),
            count((values * 4) >> 20),
            count((falsematch::pipeline::export::MAX_EXPORT_VALUES * 4) >> 20)
        );
    }
    let out = args.out.unwrap_or_else(|| {
        PathBuf::from("falsematch-out").join(format!("export-{}", scenario.config().name))
    });
    // Refuse an unusable output before the work, not after it.
    report::check_target(&out)?;
    let started = std::time::Instant::now();
    let (npy, csv) = falsematch::pipeline::export::export(&scenario)?;
    let bundle = report::sweep::export_bundle(&scenario, &text, npy, csv);
    let provenance = report::provenance(
        rayon::current_num_threads(),
        0,
        started.elapsed().as_secs_f64(),
    );
    report::write(&out, &bundle, &provenance)?;
    eprintln!(
        "falsematch: wrote {} and {} ({} gallery entries and {} probes of scenario {}, seed {})",
        out.join("embeddings.npy").display(),
        out.join("metadata.csv").display(),
        count(scenario.config().gallery.detections),
        count(scenario.n_probes() as u64),
        scenario.config().name,
        scenario.seed()
    );
    Ok(())
}

/// Crash points for the kill/resume tests: abort right after the N-th checkpoint is written
/// (`FALSEMATCH_ABORT_AFTER_CHECKPOINTS`), or half-way through writing it
/// (`FALSEMATCH_ABORT_IN_CHECKPOINT`).
struct AbortHooks {
    after_write: Option<u64>,
    in_write: Option<u64>,
}

impl AbortHooks {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        Self {
            after_write: var("FALSEMATCH_ABORT_AFTER_CHECKPOINTS"),
            in_write: var("FALSEMATCH_ABORT_IN_CHECKPOINT"),
        }
    }
}

/// On Ctrl-C or SIGTERM (Slurm's `scancel`), says where the work done so far is and how to
/// continue it, then exits with code 130. Checkpoints are written atomically, so an
/// interruption never leaves a half-written one.
fn say_how_to_resume_when_interrupted(checkpoint: PathBuf) {
    // A handler that cannot be installed only loses the message.
    let _ = ctrlc::set_handler(move || {
        if checkpoint.is_file() {
            eprintln!(
                "falsematch: interrupted; the work done so far is in {}: run the same command with --resume to continue",
                checkpoint.display()
            );
        } else {
            eprintln!(
                "falsematch: interrupted before the first checkpoint; nothing was saved, so the same command starts from the beginning"
            );
        }
        std::process::exit(130);
    });
}

/// The work of the run, refused when it exceeds --max-memory, the memory available or
/// --max-time, and announced on stderr unless --quiet.
fn check_size(
    args: &RunArgs,
    name: &str,
    scenario: &Scenario,
    options: &RunOptions,
    shard: falsematch::pipeline::shard::Shard,
) -> anyhow::Result<falsematch::pipeline::work::WorkEstimate> {
    let work = work_estimate(scenario, options);
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
    let shard_seconds = work.seconds / f64::from(shard.count);
    if let Some(limit) = args.max_time
        && shard_seconds > limit
    {
        anyhow::bail!(
            "{name}: this run would take roughly {} s on {} thread(s) at the reference machine's speed (search, bootstrap and closed forms), more than --max-time {} s; lower gallery.detections, probes or analysis.bootstrap_draws, split it with --shard, or raise --max-time",
            count(shard_seconds.ceil() as u64),
            work.threads,
            count(limit.ceil() as u64)
        );
    }
    if !args.quiet {
        eprintln!(
            "falsematch: {} comparisons ({} replicate(s) x {} searches x {} detections{}), about {} MiB of memory, roughly {} on {} thread(s) at the reference machine's speed",
            count(work.comparisons as u64),
            scenario.config().replicates,
            scenario.n_probes(),
            count(scenario.config().gallery.detections),
            if shard.count > 1 {
                format!("; this shard: about 1/{} of it", shard.count)
            } else {
                String::new()
            },
            mib(work.memory_bytes),
            duration((work.seconds / f64::from(shard.count)).ceil() as u64),
            work.threads
        );
    }
    Ok(work)
}

/// Seconds as "5,886 s (01:38:06)", the second form as the progress bar's ETA shows it.
fn duration(seconds: u64) -> String {
    if seconds < 60 {
        return format!("{seconds} s");
    }
    format!(
        "{} s ({:02}:{:02}:{:02})",
        count(seconds),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
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
        if falsematch::pipeline::shard::PartialRun::from_json(&bytes, "").is_err() {
            anyhow::bail!(
                "{}: exists and is not a falsematch part file; choose another --out or remove it",
                path.display()
            );
        }
    }
    Ok(())
}

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<()> {
    let mut parts = Vec::new();
    for path in &args.parts {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{file}: cannot read: {e}"))?;
        parts.push((
            file.clone(),
            falsematch::pipeline::shard::PartialRun::from_json(&bytes, &file)?,
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
    let scenario = Scenario::from_toml(
        &text,
        &format!("{first_file} (scenario recorded in the part)"),
    )?
    .with_seed(first.seed)?;
    let out_dir = args
        .out
        .unwrap_or_else(|| PathBuf::from("falsematch-out").join(&scenario.config().name));
    report::check_target(&out_dir)?;
    let started = std::time::Instant::now();
    let files: Vec<String> = parts.iter().map(|(f, _)| f.clone()).collect();
    let parts: Vec<falsematch::pipeline::shard::PartialRun> =
        parts.into_iter().map(|(_, p)| p).collect();
    let output = falsematch::pipeline::run::finish(&scenario, &parts).map_err(|e| match e {
        falsematch::pipeline::run::RunError::Part { shard, message, .. } => {
            let file = parts
                .iter()
                .zip(&files)
                .find(|(p, _)| p.shard == shard)
                .map_or("a part", |(_, f)| f.as_str());
            anyhow::anyhow!("{file}: {message}; this part cannot be trusted: run its shard again")
        }
        other => other.into(),
    })?;
    let subject = report::Subject::run(&scenario, &text, &output);
    let bundle = args.png.apply(report::build(&subject)?)?;
    let provenance = report::provenance(
        rayon::current_num_threads(),
        0,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| subject.summary());
    write_bundle(&out_dir, &bundle, &provenance, summary)
}
