//! `calibrate`, `sweep` and `infer`: the model's closed forms put to work.

use super::*;

pub(super) fn calibrate(args: CalibrateArgs) -> anyhow::Result<()> {
    use falsematch::pipeline::calibrate::{GroupTarget, OperatingPoint, SecondPoint, Targets};
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
                    &scenario,
                    scores,
                    metadata.as_ref(),
                    &options,
                )
            }
            (None, Some(embeddings), Some(metadata)) => {
                falsematch::pipeline::calibrate::fit_embeddings(
                    &scenario, embeddings, metadata, &options,
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
            anyhow::bail!(
                "give --threshold T with --fmr GROUP=RATE, or operating points --point GROUP@T=FMR"
            );
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
        falsematch::pipeline::calibrate::calibrate(&scenario, &targets)
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
            &scenario,
            &points,
            args.genuine_mean,
            args.impostor_mean,
            args.spread,
        )
    }
    .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
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
    writeln!(
        stdout,
        "\n{:<34} {:>12} {:>16} {:>7}{}",
        "target",
        "value",
        "closed form",
        "ratio",
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
            "{:<34} {:>12.4e} {:>16.4e} {:>7.3}{sim}",
            r.target,
            r.value,
            r.closed_form,
            r.closed_form / r.value
        )?;
    }
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

pub(super) fn infer(args: InferArgs) -> anyhow::Result<()> {
    use falsematch::format::rate;
    let big = |x: f64| count(x.round() as u64);
    if let Some(path) = &args.out {
        // Refuse an output that would overwrite the scenario or a foreign file, before any work.
        let inputs: Vec<&std::path::Path> =
            args.scenario.iter().map(std::path::Path::new).collect();
        check_file_target(path, &inputs, OwnFile::Json)?;
    }
    if !(args.confidence_level > 0.5 && args.confidence_level < 1.0) {
        anyhow::bail!(
            "--confidence-level: {} must be in (0.5, 1)",
            args.confidence_level
        );
    }
    let interval = falsematch::pipeline::infer::fmr_interval(
        args.candidates,
        args.searches,
        args.archive,
        args.confidence_level,
    );
    // The dispersion of one search's false candidates comes from a scenario's model: the one
    // given, or the bundled default.
    let model_name = args.scenario.as_deref().unwrap_or(DEFAULT_SCENARIO);
    let (model, _) = Scenario::load(model_name)?;
    let g = match &args.probe_group {
        Some(pg) => model
            .groups
            .iter()
            .position(|g| &g.name == pg)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--probe-group: no group {} in {model_name}",
                    falsematch::format::quoted(pg)
                )
            })?,
        None => model
            .groups
            .iter()
            .position(|g| g.probe_share > 0.0)
            .unwrap_or(0),
    };
    let dispersed = falsematch::pipeline::infer::dispersed_interval(&interval, &model, g);
    let lv = falsematch::format::level(args.confidence_level);
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
        "  per-comparison false match rate {} to {} (point estimates)",
        rate(interval.point_low),
        rate(interval.point_high),
    );
    let _ = writeln!(
        out,
        "  {lv} interval {} to {}: one search's false candidates as dispersed as under {}'s model (the default)",
        rate(dispersed.lower),
        rate(dispersed.upper),
        dispersed.scenario
    );
    for e in &dispersed.ends {
        let _ = writeln!(
            out,
            "    at {} detections: the model expects this many at a threshold of {:.3}, where one search's count has {:.1} times the variance of a Poisson count; per-search mean {} to {}",
            big(e.entries),
            e.threshold,
            e.dispersion,
            falsematch::format::mean(e.mean_lower),
            falsematch::format::mean(e.mean_upper)
        );
    }
    let poisson = falsematch::estimate::interval::poisson_exact(
        args.candidates,
        args.searches,
        args.confidence_level,
    );
    let _ = writeln!(
        out,
        "  {lv} interval {} to {} if every comparison matched independently (Poisson; per-search mean {} to {}): too narrow when people are seen several times",
        rate(interval.lower),
        rate(interval.upper),
        falsematch::format::mean(poisson.lower),
        falsematch::format::mean(poisson.upper)
    );
    // Carried elsewhere with the honest interval.
    let honest = falsematch::pipeline::infer::FmrInterval {
        lower: dispersed.lower,
        upper: dispersed.upper,
        ..interval.clone()
    };
    let elsewhere: Vec<falsematch::pipeline::infer::Elsewhere> = args
        .galleries
        .iter()
        .map(|(name, n)| falsematch::pipeline::infer::elsewhere(&honest, name, *n))
        .collect();
    for e in &elsewhere {
        let _ = writeln!(
            out,
            "  {} ({} detections): {} to {} false candidates per search, FPIR {} to {}",
            e.name,
            big(e.entries),
            falsematch::format::mean(e.false_candidates.0),
            falsematch::format::mean(e.false_candidates.1),
            rate(e.fpir.0),
            rate(e.fpir.1)
        );
    }
    let watch = args
        .watchlist
        .zip(args.passers_per_day)
        .map(|(w, p)| falsematch::pipeline::infer::watchlist(&honest, w, p));
    if let Some(w) = &watch {
        let _ = writeln!(
            out,
            "  watchlist of {} people, {} faces a day: {} to {} false alerts a day",
            big(w.size),
            big(w.passers_per_day),
            falsematch::format::mean(w.false_alerts_per_day.0),
            falsematch::format::mean(w.false_alerts_per_day.1)
        );
    }
    let mut shares = Vec::new();
    if let Some(name) = &args.scenario {
        let scenario = &model;
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
                let share = falsematch::pipeline::infer::other_share(
                    scenario,
                    g,
                    &args.attribute,
                    t,
                    Some(s),
                );
                shares.push(serde_json::json!({"threshold": t, "noise": s, "share": share}));
                let _ = write!(
                    out,
                    " {:>14}",
                    share.map_or("-".into(), falsematch::format::percent)
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
            "fmr_dispersed": dispersed,
            "elsewhere": elsewhere,
            "watchlist": watch,
            "other_share": shares,
            "model": "fmr: k ~ Poisson(searches x archive x FMR), comparisons independent; fmr_dispersed (the default, used below): k ~ negative binomial with the variance over mean of one search's count under the scenario's model at the threshold where it expects k per search; elsewhere: FMR x M false candidates per search, FPIR 1 - exp(-FMR M); watchlist: passers x (1 - (1 - FMR)^W) alerts a day",
        });
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        report::write_file(path, &bytes)?;
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
        PathBuf::from("falsematch-out").join(format!("sweep-{}", scenario.config.name))
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
            count(simulated * scenario.n_probes() as u64 * u64::from(scenario.config.replicates)),
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
    let bundle = report::sweep::sweep_bundle(&scenario, &text, &settings, &rows)?;
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
