//! `search` and `evaluate`: imported embeddings and score files.

use super::*;
use falsematch::quantize::Precision;

/// The header of `search`'s candidate CSV.
const CANDIDATES_HEADER: &str = "probe,rank,gallery_index,score,group";
/// The header of `search`'s per-threshold counts CSV.
const COUNTS_HEADER: &str = "probe,threshold,group,count";

pub(super) fn search(args: SearchArgs) -> anyhow::Result<()> {
    use falsematch::quantize::{score_value, threshold_q};
    use falsematch::search::Thresholds;
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
    // Refuse an output that would overwrite an input or a foreign file, before any work.
    let mut inputs = vec![args.gallery.as_path(), args.probes.as_path()];
    inputs.extend(args.gallery_groups.as_deref());
    if args.out.extension().is_some_and(|e| e == "csv") {
        let stem = args
            .out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let counts_path = args.out.with_file_name(format!("{stem}-counts.csv"));
        check_file_target(&args.out, &inputs, OwnFile::Csv(CANDIDATES_HEADER))?;
        check_file_target(&counts_path, &inputs, OwnFile::Csv(COUNTS_HEADER))?;
    } else {
        check_file_target(&args.out, &inputs, OwnFile::Json)?;
    }
    let (g_rows, cols) = falsematch::import::npy::npy_shape(&args.gallery)?;
    let (p_rows, _) = falsematch::import::npy::npy_shape(&args.probes)?;
    refuse_beyond_memory(
        &args.gallery.display().to_string(),
        (g_rows as f64 + 2.0 * p_rows as f64) * cols as f64 * 2.0 + 16.0 * 1_048_576.0,
        "search a smaller gallery, or split it and merge the candidate lists",
    )?;
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        progress: progress_bar(!args.quiet),
        ..RunOptions::default()
    };
    let started = std::time::Instant::now();
    let (gallery, gallery_sha) = falsematch::pipeline::run::thread_pool(&options)?
        .install(|| falsematch::import::npy::read_npy_hashed(&args.gallery))?;
    let (probes, probes_sha) = falsematch::import::npy::read_npy_hashed(&args.probes)?;
    let read_secs = started.elapsed().as_secs_f64();
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
        Some(path) => falsematch::import::npy::read_groups(path, gallery.nrows())?,
        None => (vec!["all".to_string()], vec![0; gallery.nrows()]),
    };
    let thresholds = Thresholds {
        q: scores.iter().map(|&t| threshold_q(t)).collect(),
    };
    let k = usize::from(args.k);
    let started = std::time::Instant::now();
    let tally = falsematch::pipeline::run::search_embeddings(
        &gallery,
        &groups,
        names.len(),
        &probes,
        k,
        &thresholds,
        Precision::from(args.precision),
        &options,
    )?;
    let search_secs = started.elapsed().as_secs_f64();
    let g = names.len();
    // Counts at each threshold: sums of the buckets at or above it.
    let counts =
        |det: &[u64], t: usize, h: usize| (t..scores.len()).map(|b| det[b * g + h]).sum::<u64>();
    let csv = args.out.extension().is_some_and(|e| e == "csv");
    if csv {
        let mut cand = csv::Writer::from_writer(Vec::new());
        cand.write_record(CANDIDATES_HEADER.split(','))?;
        let mut cnt = csv::Writer::from_writer(Vec::new());
        cnt.write_record(COUNTS_HEADER.split(','))?;
        for (p, t) in tally.probes.iter().enumerate() {
            for (r, c) in t.top.iter().enumerate() {
                cand.write_record([
                    p.to_string(),
                    (r + 1).to_string(),
                    c.entry.to_string(),
                    score_value(c.score).clamp(-1.0, 1.0).to_string(),
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
                    "candidates": t.top.iter().enumerate().map(|(r, c)| serde_json::json!({"rank": r + 1, "gallery_index": c.entry, "score": score_value(c.score).clamp(-1.0, 1.0), "group": names[c.group as usize]})).collect::<Vec<_>>(),
                    "counts": scores.iter().enumerate().map(|(i, s)| serde_json::json!({"threshold": s, "total": (0..g).map(|h| counts(&t.det, i, h)).sum::<u64>(), "by_group": (0..g).map(|h| counts(&t.det, i, h)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "tool": {"name": "falsematch", "version": env!("CARGO_PKG_VERSION")},
            "gallery": {"rows": gallery.nrows(), "dimension": gallery.ncols(), "sha256": gallery_sha},
            "probes": {"rows": probes.nrows(), "sha256": probes_sha},
            "normalized": "every row divided by its L2 norm on load",
            "score": format!("{}; reported scores are clamped to [-1, 1] (quantization can put a self-match a little above 1), thresholds compare the unclamped integers; candidates break ties by lower gallery index", Precision::from(args.precision).convention()),
            "precision": Precision::from(args.precision),
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
            "falsematch: searched {} probes against {} gallery rows of {} dims in {} (rows normalized to unit length on load); wrote {}",
            probes.nrows(),
            gallery.nrows(),
            gallery.ncols(),
            Precision::from(args.precision).name(),
            args.out.display()
        );
        eprintln!(
            "falsematch: timings: reading, hashing and quantizing {read_secs:.3} s; searching {search_secs:.3} s"
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
            let (rows, cols) = falsematch::import::npy::npy_shape(e)?;
            refuse_beyond_memory(
                &e.display().to_string(),
                rows as f64 * cols as f64 * 4.0 + 16.0 * 1_048_576.0,
                "use fewer or shorter embeddings, or a machine with more memory",
            )?;
            inputs.push(InputFile::of("embeddings", e)?);
            ("embeddings", None)
        }
        (None, Some(s)) => {
            inputs.push(InputFile::of("scores", s)?);
            let format = args.format.as_deref().and_then(|f| {
                falsematch::import::scores::ScoreFormat::ALL
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
    let bundle = report::evaluation::build(&record, &evaluation)?;
    let provenance = report::provenance(
        run.threads.unwrap_or_else(rayon::current_num_threads),
        run.tile_entries,
        started.elapsed().as_secs_f64(),
    );
    let summary =
        (!args.quiet).then(|| falsematch::report::summary::render_evaluation(&evaluation));
    write_bundle(&out_dir, &bundle, &provenance, summary)
}
