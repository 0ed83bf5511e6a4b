//! Section 1 of a run's report, for a lay reader: the key number first, who the false
//! candidates are, the vendor's settings in words beside the observed figures, the miss rate,
//! and the conclusion that rests most on an assumption.

use super::*;

/// Section 1, for a lay reader: at most five plain bullets, the key number first (false
/// detections per search at the headline threshold), then who the false candidates are, the
/// vendor's percent settings in words beside any published figure, how often a person in the
/// archive is missed (the same rank K as the printed summary), and the conclusion that
/// depends most on an assumption. How it was simulated follows in one sentence.
pub(super) fn summary(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let e = &*input.results.estimates;
    let lv = level_words(s);
    let overall = all(input);
    let reps = &e.replicates;
    let entries = reps.iter().map(|r| r.entries).sum::<u64>() / reps.len().max(1) as u64;
    let people = reps.iter().map(|r| r.identities).sum::<u64>() / reps.len().max(1) as u64;
    let who = s
        .config()
        .report
        .search_description
        .clone()
        .unwrap_or_else(|| "A search for someone who is not in the archive".into());
    let who = lowercase_first(who.trim_end_matches('.'));
    // A description with a comma inside ("A search like X, by Y") needs one after it too.
    let who = if who.contains(", ") {
        format!("{who},")
    } else {
        who
    };
    let headline = &overall.thresholds[s.headline()];
    let mut bullets = Vec::new();
    if let (Some(sel), Some(ppl), Some(fpir)) =
        (&headline.sel, &headline.sel_people, &headline.fpir)
    {
        bullets.push(format!(
            "At a threshold of {}, {who} returns on average {} false candidates (camera detections of other people), showing {} different people. {} of such searches return at least one ({lv} interval {} to {}).",
            headline.threshold,
            spoken(sel, mean, &lv),
            spoken(ppl, mean, &lv),
            capitalize(&percent(fpir.value)),
            percent(fpir.lower),
            percent(fpir.upper)
        ));
    }
    let total: u64 = headline.false_candidates.iter().map(|c| c.detections).sum();
    if total > 0 && headline.false_candidates.len() > 1 {
        let parts: Vec<String> = headline
            .false_candidates
            .iter()
            .filter(|c| c.share >= 0.001)
            .map(|c| format!("{} are {}", share(c.share), c.group))
            .collect();
        bullets.push(format!(
            "Who they are: of the false candidates at {}, {}.",
            headline.threshold,
            parts.join(", ")
        ));
    }
    if let Some(text) = settings_in_words(input) {
        bullets.push(text);
    }
    if let Some(fnir) = &headline.fnir_rank_k {
        bullets.push(format!(
            "When the person searched for is in the archive, the search misses them (not among the top {} candidates, or scoring below {}) in {} of searches ({lv} interval {} to {}).",
            s.k(),
            headline.threshold,
            percent(fnir.value),
            percent(fnir.lower),
            percent(fnir.upper)
        ));
    }
    let sens = &input.results.sensitivity;
    if let Some(d) = sens.dependence.first() {
        let mut text = format!(
            "The conclusion that rests most on an assumption: {} at {} ranges from {} to {} over the plausible settings of the {} ({} at this scenario's setting; section 5).",
            d.conclusion,
            sens.threshold,
            mean(d.range.0),
            mean(d.range.1),
            d.assumption,
            mean(sens.base.sel)
        );
        if let Some(change) = input.results.tails.as_ref().and_then(|t| t.changes.first()) {
            text += &format!(
                " The shape of the impostor tail matters as much: {}",
                lowercase_first(change)
            );
        }
        bullets.push(text);
    }
    b.push(Block::Heading(1, "1. Summary".into()));
    b.push(Block::List(bullets));
    b.push(Block::Paragraph(format!(
        "How: {} such searches were simulated against each of {} independent archive(s) of {} camera detections (about {} different people) of synthetic faces whose statistics are set from the public record ({}). The sections below give every figure with its interval, the method, and which conclusion rests on which assumption.",
        count(overall.non_mated_searches / reps.len().max(1) as u64),
        reps.len(),
        count(entries),
        count(people),
        input.results.tail
    )));
}

/// The vendor's percent settings in words, each with what a search returns there, and the
/// published figures beside them (the observed figure first), as one bullet.
fn settings_in_words(input: &ReportInput<'_>) -> Option<String> {
    let s = input.scenario;
    let lv = level_words(s);
    let overall = all(input);
    let mut readings = Vec::new();
    for (t, row) in overall.thresholds.iter().enumerate() {
        let threshold = &s.thresholds()[t];
        if threshold.origin == "raw score" {
            continue;
        }
        if let Some(sel) = &row.sel {
            readings.push(format!(
                "{} (a score of {:.2}): {}",
                threshold.origin,
                row.score,
                spoken(sel, mean, &lv)
            ));
        }
    }
    // Published figures (not those the scenario was fitted to), one sentence per figure with
    // its verdict at each threshold it is set beside.
    let mut published: Vec<(String, Vec<String>)> = Vec::new();
    for p in input
        .results
        .estimates
        .published
        .iter()
        .filter(|p| p.role != "calibration")
    {
        let reading = s
            .thresholds()
            .iter()
            .find(|t| t.label == p.threshold)
            .map_or(p.threshold.clone(), |t| {
                if t.origin == "raw score" {
                    format!("a threshold of {}", t.label)
                } else {
                    t.origin.clone()
                }
            });
        let verdict = match p.consistent {
            Some(true) => format!("consistent with {reading}"),
            Some(false) => format!("not consistent with {reading}"),
            None => format!("not comparable at {reading}"),
        };
        let figure = format!("{} ({})", p.label, p.source);
        match published.iter_mut().find(|(f, _)| *f == figure) {
            Some((_, verdicts)) => verdicts.push(verdict),
            None => published.push((figure, vec![verdict])),
        }
    }
    let published: Vec<String> = published
        .into_iter()
        .map(|(figure, verdicts)| format!("{figure}: under this model, {}", verdicts.join("; ")))
        .collect();
    if readings.is_empty() && published.is_empty() {
        return None;
    }
    let mut text = String::new();
    if !readings.is_empty() {
        text += &format!(
            "The vendor's percent setting depends on how it is read. False candidates per search: {}.",
            readings.join("; ")
        );
    }
    if !published.is_empty() {
        text += &format!(" Observed: {}.", published.join(". "));
    }
    Some(text.trim_start().to_string())
}

/// "A search like ..." -> "a search like ...".
fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
