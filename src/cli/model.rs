//! `calibrate`, `sweep` and `infer`: the model's closed forms put to work.

use super::*;

pub(super) fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (scenario, _) = Scenario::load(name)?;
    // Refuse an output that would overwrite the input scenario or a foreign file, before any work.
    let mut inputs = vec![std::path::Path::new(name)];
    inputs.extend(args.scores.as_deref());
    inputs.extend(args.metadata.as_deref());
    inputs.extend(args.embeddings.as_deref());
    let from_data = args.scores.is_some() || args.embeddings.is_some();
    if !from_data && (args.metadata.is_some() || args.group.is_some()) {
        anyhow::bail!("--metadata and --group go with --scores or --embeddings");
    }
    check_file_target(&args.out, &inputs, OwnFile::CalibratedToml)?;
    let (config, calibration, score_fit) =
        fit_from_args(&args, &scenario, from_data).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let mut text = falsematch::pipeline::calibrate::to_toml(&config, name, &calibration)?;
    if let Some(fit) = &score_fit {
        text = falsematch::pipeline::calibrate::score_fit_header(fit) + &text;
    }
    let out_name = args.out.display().to_string();
    // The written file must load: validate it before writing.
    let calibrated = Scenario::from_toml(&text, &out_name)?;
    report::write_file(&args.out, text.as_bytes())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "Calibrated {name}: {}", calibration.summary())?;
    let simulated = if args.check {
        let options = RunOptions {
            threads: args.threads.map(usize::from),
            progress: progress_bar(!args.quiet),
            ..RunOptions::default()
        };
        Some(falsematch::pipeline::calibrate::check(
            &calibrated,
            &calibration,
            &simulate(&calibrated, &options)?,
        ))
    } else {
        None
    };
    write!(stdout, "{}", calibration.table(simulated.as_deref()))?;
    if let Some(fit) = &score_fit {
        writeln!(
            stdout,
            "\n{}",
            falsematch::pipeline::calibrate::score_fit_table(fit)
        )?;
    }
    writeln!(stdout, "\nWrote {out_name}")?;
    Ok(())
}

/// The calibration the arguments ask for: a fit to a score file or embeddings (with its
/// score fit), targets at one threshold (and a second point), or operating points.
fn fit_from_args(
    args: &CalibrateArgs,
    scenario: &Scenario,
    from_data: bool,
) -> Result<
    (
        falsematch::scenario::ScenarioConfig,
        falsematch::pipeline::calibrate::Calibration,
        Option<falsematch::pipeline::calibrate::ScoreFit>,
    ),
    falsematch::pipeline::calibrate::CalibrateError,
> {
    use falsematch::pipeline::calibrate::{GroupTarget, OperatingPoint, SecondPoint, Targets};
    let mut score_fit = None;
    let (config, calibration) = if from_data {
        let options = falsematch::pipeline::calibrate::ScoreFitOptions {
            read: falsematch::import::scores::ScoreOptions {
                format: args.format.as_deref().and_then(|f| {
                    falsematch::import::scores::ScoreFormat::ALL
                        .iter()
                        .find(|(n, _)| *n == f)
                        .map(|x| x.1)
                }),
                ..falsematch::import::scores::ScoreOptions::default()
            },
            group: args.group.clone(),
            fit_down_to: args.fit_down_to,
            level: 0.95,
        };
        match (&args.scores, &args.embeddings, &args.metadata) {
            (Some(scores), _, metadata) => {
                let metadata = metadata
                    .as_deref()
                    .map(falsematch::import::metadata::Metadata::read)
                    .transpose()?;
                falsematch::pipeline::calibrate::fit_scores(
                    scenario,
                    scores,
                    metadata.as_ref(),
                    &options,
                )
            }
            (None, Some(embeddings), Some(metadata)) => {
                falsematch::pipeline::calibrate::fit_embeddings(
                    scenario, embeddings, metadata, &options,
                )
            }
            _ => unreachable!("clap: --embeddings requires --metadata"),
        }
        .map(|(config, calibration, fit)| {
            score_fit = Some(fit);
            (config, calibration)
        })
    } else if args.points.is_empty() && !args.spread && args.impostor_mean.is_none() {
        let Some(threshold) = args.threshold else {
            return Err(falsematch::pipeline::calibrate::CalibrateError::Input(
                "give --threshold T with --fmr GROUP=RATE, or operating points --point GROUP@T=FMR"
                    .into(),
            ));
        };
        let targets = Targets {
            threshold,
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
        falsematch::pipeline::calibrate::calibrate(scenario, &targets)
    } else {
        // Every point at once: --fmr and --second are points too.
        let mut points: Vec<OperatingPoint> = args
            .points
            .iter()
            .chain(&args.second)
            .map(|(group, threshold, fmr)| OperatingPoint {
                group: group.clone(),
                threshold: *threshold,
                fmr: *fmr,
            })
            .collect();
        if let Some(t) = args.threshold {
            points.extend(args.fmr.iter().map(|(group, fmr)| OperatingPoint {
                group: group.clone(),
                threshold: t,
                fmr: *fmr,
            }));
        }
        falsematch::pipeline::calibrate::fit(
            scenario,
            &points,
            args.genuine_mean,
            args.impostor_mean,
            args.spread,
        )
    }?;
    Ok((config, calibration, score_fit))
}

pub(super) fn infer(args: InferArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.out {
        // Refuse an output that would overwrite the scenario or a foreign file, before any work.
        let inputs: Vec<&std::path::Path> =
            args.scenario.iter().map(std::path::Path::new).collect();
        check_file_target(path, &inputs, OwnFile::Json)?;
    }
    let request = falsematch::pipeline::infer::InferRequest {
        candidates: args.candidates,
        searches: args.searches,
        archive: args.archive,
        confidence_level: args.confidence_level,
        galleries: args.galleries.clone(),
        watchlist: args.watchlist.zip(args.passers_per_day),
        probe_group: args.probe_group.clone(),
        shares: args.scenario.is_some(),
        attribute: args.attribute.clone(),
        thresholds: args.thresholds.clone(),
        noise: args.noise.clone(),
    };
    // The dispersion of one search's false candidates comes from a scenario's model: the one
    // given, or the bundled default.
    let model_name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (model, _) = Scenario::load(model_name)?;
    let inference = falsematch::pipeline::infer::infer(&request, &model, model_name)?;
    print!("{}", report::infer::text(&inference));
    if let Some(path) = &args.out {
        report::write_file(path, &report::infer::json(&inference))?;
    }
    Ok(())
}

pub(super) fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    let name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (scenario, text) = Scenario::load(name)?;
    let settings = report::sweep::SweepSettings {
        from: args.sizes.0,
        to: args.sizes.1,
        per_decade: args.per_decade,
        simulate_up_to: args.simulate_up_to.max(0.0) as u64,
    };
    let sizes = settings.sizes();
    let limit = settings.simulate_up_to;
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("falsematch-out").join(format!("sweep-{}", scenario.config().name))
    });
    // Refuse an unusable output before the sweep, not after it.
    report::check_target(&out)?;
    let simulated: u64 = sizes.iter().filter(|&&n| n <= limit).sum();
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: None,
        ..RunOptions::default()
    };
    let biggest = falsematch::pipeline::sweep::resized(
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
    if let Some(limit) = args.max_time {
        let mut seconds = 0.0;
        for &n in &sizes {
            if n <= settings.simulate_up_to {
                seconds += work_estimate(
                    &falsematch::pipeline::sweep::resized(&scenario, n)?,
                    &options,
                )
                .seconds;
            }
        }
        if seconds > limit {
            anyhow::bail!(
                "{name}: this sweep would take roughly {} s at the reference machine's speed, more than --max-time {} s; lower --simulate-up-to, or raise --max-time",
                count(seconds.ceil() as u64),
                count(limit.ceil() as u64)
            );
        }
    }
    if !args.quiet {
        eprintln!(
            "falsematch: {} sizes from {} to {}; simulating {} of them ({} comparisons){}",
            sizes.len(),
            count(sizes[0]),
            count(*sizes.last().unwrap_or(&0)),
            sizes.iter().filter(|&&n| n <= limit).count(),
            count(simulated * scenario.n_probes() as u64 * u64::from(scenario.config().replicates)),
            if scenario.has_closed_form_fmr() {
                ""
            } else {
                "; no analytic mode: this scenario has per-identity rho or varying capture noise"
            }
        );
    }
    let started = std::time::Instant::now();
    let quiet = args.quiet;
    let rows = falsematch::pipeline::sweep::sweep(&scenario, &sizes, limit, &options, &mut |n| {
        if !quiet {
            eprintln!("falsematch: N = {}", count(n));
        }
    })?;
    let bundle = args.png.apply(report::sweep::sweep_bundle(
        &scenario, &text, &settings, &rows,
    )?)?;
    let provenance = report::provenance(
        rayon::current_num_threads(),
        options.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    report::write(&out, &bundle, &provenance)?;
    if !args.quiet {
        print!("{}", report::sweep::markdown(&scenario, &rows));
        println!(
            "\nWrote {} (sweep.md, sweep.csv, sweep.svg, manifest.json)",
            out.display()
        );
    }
    Ok(())
}
