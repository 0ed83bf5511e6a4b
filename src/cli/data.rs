//! `search` and `evaluate`: imported embeddings and score files.

use super::*;
use falsematch::quantize::Precision;

pub(super) fn search(args: SearchArgs) -> anyhow::Result<()> {
    use falsematch::pipeline::search_files::{SearchRequest, checked_thresholds, search_files};
    use falsematch::report::search::{CANDIDATES_HEADER, COUNTS_HEADER};
    checked_thresholds(&args.thresholds)?;
    // Refuse an output that would overwrite an input or a foreign file, before any work.
    let mut inputs = vec![args.gallery.as_path(), args.probes.as_path()];
    inputs.extend(args.gallery_groups.as_deref());
    let csv = args.out.extension().is_some_and(|e| e == "csv");
    let stem = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let counts_path = args.out.with_file_name(format!("{stem}-counts.csv"));
    if csv {
        check_file_target(&args.out, &inputs, OwnFile::Csv(CANDIDATES_HEADER))?;
        check_file_target(&counts_path, &inputs, OwnFile::Csv(COUNTS_HEADER))?;
    } else {
        check_file_target(&args.out, &inputs, OwnFile::Json)?;
    }
    let (g_rows, cols) = falsematch::import::npy::npy_shape(&args.gallery)?;
    let (p_rows, _) = falsematch::import::npy::npy_shape(&args.probes)?;
    // The gallery streams through in blocks (at most three of raw float64 rows, the quantized
    // block and its tiles); its groups and the probes stay in memory.
    refuse_beyond_memory(
        &args.gallery.display().to_string(),
        2.0 * p_rows as f64 * cols as f64 * 2.0
            + 2.0 * g_rows as f64
            + 8.0 * falsematch::pipeline::run::DEFAULT_READ_BLOCK_BYTES as f64
            + 16.0 * 1_048_576.0,
        "search with fewer probes, or split them and search each part",
    )?;
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: progress_bar(!args.quiet),
        ..RunOptions::default()
    };
    let found = search_files(
        &SearchRequest {
            gallery: &args.gallery,
            probes: &args.probes,
            gallery_groups: args.gallery_groups.as_deref(),
            k: usize::from(args.k),
            thresholds: &args.thresholds,
            precision: Precision::from(args.precision),
        },
        &options,
    )?;
    if csv {
        let (candidates, counts) = report::search::csv(&found);
        report::write_file(&args.out, &candidates)?;
        report::write_file(&counts_path, &counts)?;
    } else {
        report::write_file(&args.out, &report::search::json(&found))?;
    }
    if !args.quiet {
        eprintln!(
            "falsematch: searched {} probes against {} gallery rows of {} dims in {} (rows normalized to unit length on load); wrote {}",
            found.probes.rows,
            found.gallery.rows,
            found.gallery.dimension,
            found.precision.name(),
            args.out.display()
        );
        eprintln!(
            "falsematch: timings: searching {1:.3} s; reading, hashing and quantizing, where not overlapped with the search, {0:.3} s",
            found.seconds.0, found.seconds.1
        );
    }
    Ok(())
}

pub(super) fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    use falsematch::pipeline::evaluate::{EvaluationRecord, InputFile};
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
        .or(args.genuine.as_ref())
        .expect("clap requires --embeddings, --scores or --genuine");
    let out_dir = args.out.clone().unwrap_or_else(|| {
        let stem = main_input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "data".into());
        PathBuf::from("falsematch-out").join(format!("evaluate-{stem}"))
    });
    report::check_target(&out_dir)?;
    let mut inputs = Vec::new();
    let (kind, format) = match (
        &args.embeddings,
        &args.scores,
        &args.genuine,
        &args.impostor,
    ) {
        (_, _, Some(g), Some(i)) => {
            inputs.push(InputFile::of("genuine", g)?);
            inputs.push(InputFile::of("impostor", i)?);
            ("pairs", None)
        }
        (Some(e), ..) => {
            // The int16 copy of every row, plus gallery and probe copies of it.
            let (rows, cols) = falsematch::import::npy::npy_shape(e)?;
            refuse_beyond_memory(
                &e.display().to_string(),
                rows as f64 * cols as f64 * 4.0 + 16.0 * 1_048_576.0,
                "use fewer or shorter embeddings, or a machine with more memory",
            )?;
            inputs.push(InputFile::of("embeddings", e)?);
            ("embeddings", None)
        }
        (None, Some(s), ..) => {
            inputs.push(InputFile::of("scores", s)?);
            let format = args.format.as_deref().and_then(|f| {
                falsematch::import::scores::ScoreFormat::ALL
                    .iter()
                    .find(|(n, _)| *n == f)
                    .map(|x| x.1)
            });
            ("scores", format)
        }
        (None, None, ..) => unreachable!("clap requires one input"),
    };
    if let Some(m) = &args.metadata {
        inputs.push(InputFile::of("metadata", m)?);
    }
    let record = EvaluationRecord {
        kind: kind.into(),
        inputs: inputs.into_iter().map(|i| i.seen_from(&out_dir)).collect(),
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
        max_seconds: args.max_time,
        progress: progress_bar(!args.quiet),
        ..RunOptions::default()
    };
    let started = std::time::Instant::now();
    let evaluation = record.evaluate(run.clone())?;
    let subject = report::Subject::evaluation(&record, &evaluation);
    let bundle = args.png.apply(report::build(&subject)?)?;
    let provenance = report::provenance(
        run.threads.unwrap_or_else(rayon::current_num_threads),
        run.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    let summary = (!args.quiet).then(|| subject.summary());
    write_bundle(&out_dir, &bundle, &provenance, summary)
}
