//! The short plain-text summary `falsematch run` and `falsematch evaluate` print: gallery
//! size, thresholds, FPIR and selectivity per threshold with intervals, and (runs) who the
//! false candidates are or (evaluations) the 1:1 error rates.
//!
//! A view over [`ResultsFile`]: it computes nothing, it only formats (through `format`), so a
//! bundle's summary can be printed again from its `results.json`.

use crate::format::{count, mean, rate, share, with_interval};
use crate::report::results::{Results, ResultsFile};
use std::fmt::Write;

/// Renders the summary of either kind of results.
pub fn render(results: &ResultsFile<'_>) -> String {
    match results {
        ResultsFile::Run(r) => run(r),
        ResultsFile::Evaluation(e) => evaluation(&e.outcome),
    }
}

/// The summary of an evaluation of imported data.
fn evaluation(e: &crate::pipeline::evaluate::Evaluation) -> String {
    let mut out = String::new();
    let d = &e.data;
    let _ = writeln!(
        out,
        "falsematch {} - evaluation of {} ({} rows)",
        env!("CARGO_PKG_VERSION"),
        d.kind,
        count(d.rows)
    );
    let est = |x: &Option<crate::estimate::Estimate>, f: fn(f64) -> String| {
        x.as_ref().map_or("-".to_string(), |x| {
            with_interval(x.value, x.lower, x.upper, f)
        })
    };
    let Some(all) = e.estimates.slices.first() else {
        // Genuine and impostor scores without ids: 1:1 only.
        if let Some(v) = e.verification.first() {
            let _ = writeln!(
                out,
                "Comparisons: {} genuine, {} impostor (no ids, so no searches: 1:1 rates only).",
                count(v.genuine),
                count(v.impostor)
            );
            let _ = writeln!(out, "\n{:<12} {:<27} FNMR", "threshold", "FMR");
            for row in &v.thresholds {
                let _ = writeln!(
                    out,
                    "{:<12} {:<27} {}",
                    row.threshold,
                    est(&row.fmr, rate),
                    est(&row.fnmr, rate)
                );
            }
        }
        eer_line(e, &mut out);
        return out;
    };
    let _ = writeln!(
        out,
        "Gallery: {} entries. Searches: {} non-mated, {} mated. A candidate is any entry scoring >= the threshold.",
        count(d.gallery_entries),
        count(all.non_mated_searches),
        count(all.mated_searches)
    );
    if e.skipped.rows > 0 || !e.skipped.excluded_probes.is_empty() {
        let _ = writeln!(
            out,
            "Skipped {} bad rows; left {} probes out of 1:N (see the report's section 2).",
            count(e.skipped.rows),
            count(e.skipped.excluded_probes.len() as u64)
        );
    }
    let _ = writeln!(
        out,
        "\n{:<12} {:<27} {:<30} {:<27} FNMR (1:1)",
        "threshold", "FPIR", "SEL (false candidates)", "FNIR rank K"
    );
    for (t, row) in all.thresholds.iter().enumerate() {
        let fnmr = e
            .verification
            .first()
            .map_or("-".to_string(), |v| est(&v.thresholds[t].fnmr, rate));
        let _ = writeln!(
            out,
            "{:<12} {:<27} {:<30} {:<27} {}",
            row.threshold,
            est(&row.fpir, rate),
            est(&row.sel, mean),
            est(&row.fnir_rank_k, rate),
            fnmr
        );
    }
    eer_line(e, &mut out);
    out
}

/// The 1:1 equal error rate, when the data give one.
fn eer_line(e: &crate::pipeline::evaluate::Evaluation, out: &mut String) {
    if let Some(eer) = e.verification.first().and_then(|v| v.eer.as_ref()) {
        let _ = writeln!(
            out,
            "\n1:1 EER {} at threshold {} (bob.measure's convention).",
            rate(eer.eer),
            eer.threshold
        );
    }
}

/// The summary of a run.
fn run(results: &Results<'_>) -> String {
    let mut out = String::new();
    let s = &*results.scenario;
    let e = &*results.estimates;
    let all = &e.slices[0];
    let _ = writeln!(
        out,
        "falsematch {} - scenario {} (seed {})",
        results.tool.version, s.name, s.seed
    );
    if !s.description.is_empty() {
        let _ = writeln!(out, "{}", s.description);
    }
    let entries: u64 =
        e.replicates.iter().map(|r| r.entries).sum::<u64>() / e.replicates.len().max(1) as u64;
    let identities: u64 =
        e.replicates.iter().map(|r| r.identities).sum::<u64>() / e.replicates.len().max(1) as u64;
    let _ = writeln!(
        out,
        "\nGallery: {} detections of about {} people, {} replicate gallery(ies). Searches: {} non-mated (subject not in the gallery), {} mated.",
        count(entries),
        count(identities),
        e.replicates.len(),
        count(all.non_mated_searches),
        count(all.mated_searches)
    );
    let _ = writeln!(
        out,
        "A candidate is any detection scoring >= the threshold. {:.0} % intervals: FPIR and FNIR Clopper-Pearson; SEL exact Poisson with the design effect of repeated sightings and of the archive's random mix of groups (two-way cluster variance over searches and archive identities).\n",
        100.0 * results.conventions.confidence_level
    );
    let _ = writeln!(
        out,
        "{:<24} {:>7}  {:<27} {:<30} {:<26} FNIR (top {})",
        "threshold",
        "score",
        "FPIR",
        "SEL (false detections)",
        "SEL (distinct people)",
        s.search.candidate_list_length
    );
    for row in &all.thresholds {
        let est = |x: &Option<crate::estimate::Estimate>, f: fn(f64) -> String| {
            x.as_ref().map_or("-".to_string(), |x| {
                with_interval(x.value, x.lower, x.upper, f)
            })
        };
        let _ = writeln!(
            out,
            "{:<24} {:>7.3}  {:<27} {:<30} {:<26} {}",
            row.threshold,
            row.score,
            est(&row.fpir, rate),
            est(&row.sel, mean),
            est(&row.sel_people, mean),
            est(&row.fnir_rank_k, rate)
        );
    }
    if all.non_mated_searches > 0 {
        let _ = writeln!(
            out,
            "\nWho the false candidates are (share of false detections in non-mated searches):"
        );
        let groups: Vec<&str> = all.thresholds[0]
            .false_candidates
            .iter()
            .map(|c| c.group.as_str())
            .collect();
        let _ = write!(out, "{:<24}", "threshold");
        for g in &groups {
            let _ = write!(out, " {g:>16}");
        }
        let _ = writeln!(out);
        for row in &all.thresholds {
            let _ = write!(out, "{:<24}", row.threshold);
            let total: u64 = row.false_candidates.iter().map(|c| c.detections).sum();
            for c in &row.false_candidates {
                let cell = if total == 0 {
                    "-".to_string()
                } else {
                    share(c.share)
                };
                let _ = write!(out, " {cell:>16}");
            }
            let _ = writeln!(out);
        }
    }
    if let Some(check) = e.closed_form.as_ref().filter(|c| !c.rows.is_empty()) {
        let _ = writeln!(out, "\nClosed-form check: {}.", check.verdict.text);
    }
    out
}
