//! `run` (whole, sharded, resumed from a checkpoint), `merge`, `verify` and `export`.

use super::*;

pub(super) fn run(args: RunArgs) -> anyhow::Result<()> {
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

pub(super) fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
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

pub(super) fn export(args: ExportArgs) -> anyhow::Result<()> {
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

pub(super) fn merge(args: MergeArgs) -> anyhow::Result<()> {
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
