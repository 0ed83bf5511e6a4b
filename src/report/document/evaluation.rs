//! The report of an evaluation of imported data: summary; the data; method; results (1:N, then
//! 1:1, then differences between groups); what this does and does not show; how to reproduce.

use super::results::{fairness_blocks, threshold_table};
use super::{Block, Document, FigureRef, cell, push_figure, spoken, with_ci};
use crate::estimate::ThresholdRow;
use crate::estimate::verification::VerificationSlice;
use crate::format::{count, level, mean, rate};
use crate::pipeline::evaluate::Evaluation;
use crate::pipeline::evaluate::{CONVENTIONS, EvaluationRecord};

/// Builds the report of an evaluation.
pub fn build(
    record: &EvaluationRecord,
    e: &Evaluation,
    figures: &[FigureRef],
    hashes: &[(String, String)],
) -> Document {
    let mut b = Vec::new();
    let lv = level(e.plan.confidence_level);
    let h = e.plan.headline;
    let source = record
        .inputs
        .iter()
        .map(|i| format!("`{}`", i.path))
        .collect::<Vec<_>>()
        .join(" and ");
    b.push(Block::Heading(1, "1. Summary".into()));
    let mut summary = match e.estimates.slices.first() {
        Some(overall) => searches_summary(e, &source, &overall.thresholds[h]),
        None => comparisons_summary(e, &source),
    };
    if let Some(eer) = e.verification.first().and_then(|v| v.eer.as_ref()) {
        summary.push(format!(
            "Comparing one pair at a time (1:1), the equal error rate is {} at threshold {}.",
            rate(eer.eer),
            eer.threshold
        ));
    }
    b.push(Block::List(summary));

    data_section(record, e, &mut b);

    b.push(Block::Heading(1, "3. Method".into()));
    // The 1:N definitions only where there are searches (not for pyeer's two files).
    let mut method: Vec<String> = Vec::new();
    if !e.estimates.slices.is_empty() {
        method.extend([
            "FPIR(T): share of non-mated searches returning at least one candidate scoring >= T."
                .into(),
            "SEL(T): false candidates (gallery entries >= T) per non-mated search.".into(),
            format!(
                "FNIR(R, T): share of mated searches whose mate ranks below R or scores below T (R = 1 and R = K = {}).",
                e.plan.k
            ),
        ]);
    }
    method.extend([
        "FMR(T) and FNMR(T): shares of impostor comparisons scoring >= T and of genuine comparisons scoring < T.".into(),
        format!("Candidates and matches: {}.", CONVENTIONS.candidate_rule),
        format!("Ties: {}.", CONVENTIONS.ties),
        format!("Threshold for a target FMR: {}.", CONVENTIONS.target_fmr),
        format!("EER: {}.", CONVENTIONS.eer),
        format!("Intervals ({lv}): {}.", CONVENTIONS.intervals),
    ]);
    b.push(Block::List(method));
    b.push(Block::List(e.notes.clone()));

    results_section(e, figures, &mut b);
    closing_sections(record, &source, hashes, b)
}

/// The summary of an evaluation with searches (1:N): what was searched, then FPIR, SEL and
/// FNIR at the headline threshold.
fn searches_summary(e: &Evaluation, source: &str, row: &ThresholdRow) -> Vec<String> {
    let lv = level(e.plan.confidence_level);
    let headline = &e.plan.thresholds[e.plan.headline];
    let mut summary = vec![format!(
        "{} searches from {source} against a gallery of {} entries{}: {} mated (the person is in the gallery) and {} non-mated.",
        count(e.data.probes),
        count(e.data.gallery_entries),
        e.data
            .gallery_subjects
            .map_or(String::new(), |s| format!(" ({} people)", count(s))),
        count(e.data.mated_probes),
        count(e.data.non_mated_probes)
    )];
    if let Some(fpir) = &row.fpir {
        summary.push(format!(
            "At threshold {}, a search for someone not in the gallery returned at least one candidate in {} of searches (FPIR {}).",
            headline.label,
            crate::format::percent(fpir.value),
            spoken(fpir, rate, &lv)
        ));
    }
    if let Some(sel) = &row.sel {
        summary.push(format!(
            "Such a search returned {} false candidates on average (SEL).",
            spoken(sel, mean, &lv)
        ));
    }
    if let Some(fnir) = &row.fnir_rank_k {
        summary.push(format!(
            "A search for someone in the gallery missed them in the top {} at that threshold in {} of searches (FNIR {}).",
            e.plan.k,
            crate::format::percent(fnir.value),
            spoken(fnir, rate, &lv)
        ));
    }
    summary
}

/// The summary of an evaluation of genuine and impostor scores without ids (1:1 only): what
/// was compared, then FMR and FNMR at the headline threshold.
fn comparisons_summary(e: &Evaluation, source: &str) -> Vec<String> {
    let lv = level(e.plan.confidence_level);
    let headline = &e.plan.thresholds[e.plan.headline];
    let mut summary = Vec::new();
    if let Some(all) = e.verification.first() {
        summary.push(format!(
            "{} genuine comparisons (two images of one person) and {} impostor comparisons (of two people) from {source}; without ids there are no searches, so only one-to-one rates are given.",
            count(all.genuine),
            count(all.impostor)
        ));
        let row = &all.thresholds[e.plan.headline];
        if let (Some(fmr), Some(fnmr)) = (&row.fmr, &row.fnmr) {
            summary.push(format!(
                "At threshold {}, two different people were taken for one in {} of comparisons (FMR {}), and two images of one person were not matched in {} (FNMR {}).",
                headline.label,
                crate::format::percent(fmr.value),
                spoken(fmr, rate, &lv),
                crate::format::percent(fnmr.value),
                spoken(fnmr, rate, &lv)
            ));
        }
    }
    summary
}

/// Sections 5 and 6: what the numbers do not show, and how to reproduce them.
fn closing_sections(
    record: &EvaluationRecord,
    source: &str,
    hashes: &[(String, String)],
    mut b: Vec<Block>,
) -> Document {
    b.push(Block::Heading(
        1,
        "5. What this does and does not show".into(),
    ));
    b.push(Block::List(vec![
        "These are the error rates of these searches on this data. They generalize to another gallery or population only as far as the data represent it.".into(),
        "Intervals describe sampling variation among the probes and comparisons observed; they do not cover a different camera, model version, threshold setting or population.".into(),
        "Groups are as labelled in the input; a group with few searches has wide intervals, and a rate resting on fewer than 30 events is marked †.".into(),
    ]));

    b.push(Block::Heading(1, "6. How to reproduce".into()));
    b.push(Block::Paragraph(
        "From the folder the paths above are relative to, the same version of falsematch (`cargo install --path .` in its source folder puts it on the PATH) gives the same bytes; `falsematch verify` finds the inputs from any folder, through their paths from this one, and checks every input's SHA-256 first:".into(),
    ));
    b.push(Block::Code(format!(
        "{} --out DIR\nfalsematch verify THIS-FOLDER",
        record.command()
    )));
    b.push(Block::Paragraph(
        "SHA-256 of the files this report rests on:".into(),
    ));
    b.push(Block::Table {
        header: vec!["file".into(), "SHA-256".into()],
        rows: hashes
            .iter()
            .map(|(p, h)| vec![p.clone(), h.clone()])
            .collect(),
    });
    Document {
        title: format!("falsematch evaluation: {source}"),
        blocks: b,
    }
}

/// Section 2: the input files by SHA-256, what was read, and what was skipped.
fn data_section(record: &EvaluationRecord, e: &Evaluation, b: &mut Vec<Block>) {
    b.push(Block::Heading(1, "2. The data".into()));
    b.push(Block::Table {
        header: vec![
            "role".into(),
            "file".into(),
            "bytes".into(),
            "SHA-256".into(),
        ],
        rows: record
            .inputs
            .iter()
            .map(|i| {
                vec![
                    i.role.clone(),
                    i.path.clone(),
                    count(i.bytes),
                    i.sha256.clone(),
                ]
            })
            .collect(),
    });
    let mut facts = vec![format!("{} data rows read", count(e.data.rows))];
    if let Some(f) = e.data.format {
        facts.push(format!("score-file layout: {}", f.name()));
    }
    if let Some(d) = e.data.dimension {
        facts.push(format!("embedding dimension: {d}"));
    }
    if let Some(l) = e.data.candidate_list_length {
        facts.push(format!("candidate lists of up to {l} entries"));
    }
    facts.push(format!("probe groups: {}", e.plan.groups.join(", ")));
    b.push(Block::List(facts));
    let skipped = &e.skipped;
    if skipped.rows > 0 || !skipped.excluded_probes.is_empty() {
        b.push(Block::Paragraph(format!(
            "With --skip-bad-rows, {} row(s) were skipped and {} probe(s) left out of the 1:N estimates (their valid rows still count for 1:1):",
            count(skipped.rows),
            count(skipped.excluded_probes.len() as u64)
        )));
        let mut items: Vec<String> = skipped
            .by_reason
            .iter()
            .map(|r| format!("{}: {} rows", r.reason, count(r.rows)))
            .collect();
        items.extend(skipped.examples.iter().cloned());
        items.extend(
            skipped
                .excluded_probes
                .iter()
                .take(20)
                .map(|p| format!("left out: {}", p.reason)),
        );
        b.push(Block::List(items));
    } else {
        b.push(Block::Paragraph(
            "Every row was read and used; no probe was left out.".into(),
        ));
    }
}

/// Section 4: 1:N per probe group with the CMC and figures, 1:1, and group differences.
fn results_section(e: &Evaluation, figures: &[FigureRef], b: &mut Vec<Block>) {
    let h = e.plan.headline;
    b.push(Block::Heading(1, "4. Results".into()));
    if let Some(overall) = e.estimates.slices.first() {
        searches_results(e, overall, figures, b);
    }
    if !e.verification.is_empty() {
        b.push(Block::Heading(2, "One comparison at a time (1:1)".into()));
        verification_tables(&e.verification, b);
        push_figure(b, figures, "verification_det.svg");
    }
    if let Some(row) = e.estimates.fairness.get(h)
        && row.groups.len() > 1
    {
        fairness_blocks(row, e.plan.k, b);
    }
}

/// The 1:N part of section 4: per probe group, the CMC and the figures.
fn searches_results(
    e: &Evaluation,
    overall: &crate::estimate::SliceEstimates,
    figures: &[FigureRef],
    b: &mut Vec<Block>,
) {
    b.push(Block::Heading(
        2,
        "One search against the whole gallery (1:N)".into(),
    ));
    for s in &e.estimates.slices {
        b.push(Block::Paragraph(format!(
            "Probe group {}: {} non-mated and {} mated searches. † marks fewer than 30 events; - means not available.",
            s.probe_group,
            count(s.non_mated_searches),
            count(s.mated_searches)
        )));
        b.push(threshold_table(&s.thresholds, e.plan.k));
    }
    if !overall.cmc.is_empty() {
        b.push(Block::Table {
            header: vec!["rank".into(), "identification rate (CMC)".into()],
            rows: overall
                .cmc
                .iter()
                .enumerate()
                .map(|(r, est)| vec![(r + 1).to_string(), with_ci(est, rate)])
                .collect(),
        });
    }
    push_figure(b, figures, "det.svg");
    push_figure(b, figures, "groups.svg");
    push_figure(b, figures, "cross_group.svg");
}

fn verification_tables(slices: &[VerificationSlice], b: &mut Vec<Block>) {
    for s in slices {
        b.push(Block::Paragraph(format!(
            "Probe group {}: {} genuine and {} impostor comparisons.",
            s.probe_group,
            count(s.genuine),
            count(s.impostor)
        )));
        b.push(Block::Table {
            header: vec![
                "threshold".into(),
                "score".into(),
                "FMR".into(),
                "FNMR".into(),
            ],
            rows: s
                .thresholds
                .iter()
                .map(|r| {
                    vec![
                        r.threshold.clone(),
                        r.score.to_string(),
                        cell(&r.fmr, rate),
                        cell(&r.fnmr, rate),
                    ]
                })
                .collect(),
        });
        let mut rows: Vec<Vec<String>> = s
            .target_fmr
            .iter()
            .map(|t| {
                vec![
                    format!("FMR <= {}", rate(t.target)),
                    t.threshold.to_string(),
                    with_ci(&t.fmr, rate),
                    cell(&t.fnmr, rate),
                ]
            })
            .collect();
        if let Some(eer) = &s.eer {
            rows.push(vec![
                format!("EER {}", rate(eer.eer)),
                eer.threshold.to_string(),
                rate(eer.fmr),
                rate(eer.fnmr),
            ]);
        }
        if !rows.is_empty() {
            b.push(Block::Table {
                header: vec![
                    "operating point".into(),
                    "threshold".into(),
                    "FMR".into(),
                    "FNMR".into(),
                ],
                rows,
            });
        }
    }
}
