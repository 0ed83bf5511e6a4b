//! Section 4 of the report: results overall, by mapping, by group (with the differential
//! summaries), who the false candidates are, mated searches, and archive-to-archive spread.

use super::{Block, ReportInput, all, cell, level_words, push_figure, with_ci};
use crate::estimate::ThresholdRow;
use crate::format::{count, mean, rate, share};

pub(super) fn threshold_table(rows: &[ThresholdRow], k: usize) -> Block {
    Block::Table {
        header: vec![
            "threshold".into(),
            "score".into(),
            "FPIR".into(),
            "SEL (detections)".into(),
            "SEL (people)".into(),
            "FNIR rank 1".into(),
            format!("FNIR rank {k}"),
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    r.threshold.clone(),
                    format!("{:.3}", r.score),
                    cell(&r.fpir, rate),
                    cell(&r.sel, mean),
                    cell(&r.sel_people, mean),
                    cell(&r.fnir_rank_1, rate),
                    cell(&r.fnir_rank_k, rate),
                ]
            })
            .collect(),
    }
}

pub(super) fn results(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let e = &*input.results.estimates;
    let overall = all(input);
    let headline = &s.thresholds()[s.headline()];
    b.push(Block::Heading(1, "4. Results".into()));
    b.push(Block::Heading(2, "All searches".into()));
    b.push(Block::Paragraph(format!(
        "{} non-mated and {} mated searches over all archives. Values with their {} intervals; † marks fewer than 30 events.",
        count(overall.non_mated_searches),
        count(overall.mated_searches),
        level_words(s)
    )));
    b.push(threshold_table(&overall.thresholds, s.k()));
    push_figure(b, input.figures, "fpir_sel.svg");
    published(input, b);
    percent_settings(input, b);
    if e.slices.len() > 1 {
        b.push(Block::Heading(
            2,
            format!("By probe group, at {}", headline.label),
        ));
        b.push(Block::Table {
            header: vec![
                "probe group".into(),
                "non-mated".into(),
                "mated".into(),
                "FPIR".into(),
                "SEL (detections)".into(),
                "SEL (people)".into(),
                format!("FNIR rank {}", s.k()),
            ],
            rows: e
                .slices
                .iter()
                .map(|sl| {
                    let r = &sl.thresholds[s.headline()];
                    vec![
                        sl.probe_group.clone(),
                        count(sl.non_mated_searches),
                        count(sl.mated_searches),
                        cell(&r.fpir, rate),
                        cell(&r.sel, mean),
                        cell(&r.sel_people, mean),
                        cell(&r.fnir_rank_k, rate),
                    ]
                })
                .collect(),
        });
        push_figure(b, input.figures, "groups.svg");
    }
    fairness(input, b);
    false_candidates(input, b);
    push_figure(b, input.figures, "cross_group.svg");
    push_figure(b, input.figures, "false_candidates_per_search.svg");
    if overall.mated_searches > 0 {
        b.push(Block::Heading(
            2,
            "Searches for someone in the archive".into(),
        ));
        let ranks = [1, 5, s.k()]
            .into_iter()
            .filter(|&r| r <= s.k())
            .collect::<std::collections::BTreeSet<_>>();
        b.push(Block::Table {
            header: vec!["rank".into(), "identification rate (no threshold)".into()],
            rows: ranks
                .iter()
                .map(|&r| vec![r.to_string(), with_ci(&overall.cmc[r - 1], rate)])
                .collect(),
        });
        push_figure(b, input.figures, "det.svg");
    }
    b.push(Block::Heading(2, "From one archive to another".into()));
    b.push(Block::Table {
        header: vec![
            "archive".into(),
            "detections".into(),
            "people".into(),
            format!("FPIR at {}", headline.label),
            format!("SEL at {}", headline.label),
        ],
        rows: e
            .replicates
            .iter()
            .map(|r| {
                let t = &r.thresholds[s.headline()];
                vec![
                    (r.replicate + 1).to_string(),
                    count(r.entries),
                    count(r.identities),
                    cell(&t.fpir, rate),
                    cell(&t.sel, mean),
                ]
            })
            .collect(),
    });
}

/// What each "confidence %" threshold means under each mapping.
fn percent_settings(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let overall = all(input);
    let percent: Vec<(usize, &ThresholdRow)> = overall
        .thresholds
        .iter()
        .enumerate()
        .filter(|(t, _)| s.thresholds()[*t].origin != "raw score")
        .collect();
    if !percent.is_empty() {
        b.push(Block::Heading(
            2,
            "What a \"confidence %\" setting means under each mapping".into(),
        ));
        b.push(Block::Paragraph(
            "A vendor's percentage is not a probability, and how it maps to a score is not public. The same setting under each stated mapping:".into(),
        ));
        b.push(Block::Table {
            header: vec![
                "setting".into(),
                "read as".into(),
                "score".into(),
                "FPIR".into(),
                "SEL (detections)".into(),
                "SEL (people)".into(),
                format!("FNIR rank {}", s.k()),
            ],
            rows: percent
                .iter()
                .map(|(t, r)| {
                    let origin = &s.thresholds()[*t].origin;
                    let (setting, mapping) = origin
                        .split_once(" read as ")
                        .unwrap_or((origin.as_str(), ""));
                    vec![
                        setting.to_string(),
                        mapping.to_string(),
                        format!("{:.3}", r.score),
                        cell(&r.fpir, rate),
                        cell(&r.sel, mean),
                        cell(&r.sel_people, mean),
                        cell(&r.fnir_rank_k, rate),
                    ]
                })
                .collect(),
        });
    }
}

/// Who the false candidates are: shares by group per threshold, and the cross-group FMR at the
/// headline threshold.
fn false_candidates(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let e = &*input.results.estimates;
    let overall = all(input);
    b.push(Block::Heading(2, "Who the false candidates are".into()));
    b.push(Block::Paragraph("Share of false candidate detections by group, in searches for someone not in the archive, and the distinct people behind them (summed over searches).".into()));
    let groups: Vec<String> = s.groups().iter().map(|g| g.name.clone()).collect();
    let mut header = vec!["threshold".into()];
    header.extend(groups.iter().cloned());
    header.push("detections".into());
    header.push("people".into());
    b.push(Block::Table {
        header,
        rows: overall
            .thresholds
            .iter()
            .map(|r| {
                let total: u64 = r.false_candidates.iter().map(|c| c.detections).sum();
                let people: u64 = r.false_candidates.iter().map(|c| c.people).sum();
                let mut row = vec![r.threshold.clone()];
                row.extend(r.false_candidates.iter().map(|c| {
                    if total == 0 {
                        "-".into()
                    } else {
                        share(c.share)
                    }
                }));
                row.push(count(total));
                row.push(count(people));
                row
            })
            .collect(),
    });
    if let Some(table) = e.cross_group.get(s.headline()) {
        b.push(Block::Paragraph(format!(
            "False match rate per comparison by probe group and candidate group at {}:",
            table.threshold
        )));
        b.push(Block::Table {
            header: vec![
                "probe group".into(),
                "candidate group".into(),
                "FMR".into(),
                "false candidates".into(),
                "comparisons".into(),
            ],
            rows: table
                .cells
                .iter()
                .map(|c| {
                    vec![
                        c.probe_group.clone(),
                        c.candidate_group.clone(),
                        with_ci(&c.fmr, rate),
                        count(c.fmr.events),
                        count(c.fmr.trials),
                    ]
                })
                .collect(),
        });
    }
}

/// Published figures beside the simulation, when the scenario names any.
fn published(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let p = &input.results.estimates.published;
    if p.is_empty() {
        return;
    }
    let lv = level_words(input.scenario);
    let alpha = format!(
        "{}",
        ((1.0 - input.scenario.config().analysis.confidence_level) * 1e6).round() / 1e6
    );
    b.push(Block::Heading(2, "Against the public record".into()));
    b.push(Block::Paragraph(format!(
        "Each published figure beside what this scenario gives at the corresponding threshold, with {lv} intervals. A published count gets its own exact interval (a published rate without its counts is taken as exact, which makes the comparison stricter than it should be). z is the difference between the published and the simulated figure over their combined standard error (the published figure's sampling error at the simulated value, and the simulation's); \"consistent\" means its two-sided p-value is at least {alpha}. A figure the scenario was calibrated on agrees by construction and tests nothing; only the checks could have come out otherwise."
    )));
    let value = |metric: &str, x: f64| if metric == "sel" { mean(x) } else { rate(x) };
    b.push(Block::Table {
        header: vec![
            "published".into(),
            "threshold".into(),
            "published value".into(),
            "simulated".into(),
            "closed form".into(),
            "z".into(),
            "consistent".into(),
            "source".into(),
        ],
        rows: p
            .iter()
            .map(|c| {
                let f: fn(f64) -> String = if c.metric == "sel" { mean } else { rate };
                let metric = match c.metric.as_str() {
                    "hit_share" => "share of searches returning anyone",
                    "fnir" => "FNIR",
                    "sel" => "SEL",
                    _ => "FPIR",
                };
                vec![
                    format!(
                        "{} ({metric}; {})",
                        c.label,
                        if c.role == "calibration" {
                            "used to calibrate: agrees by construction"
                        } else {
                            "check"
                        }
                    ),
                    c.threshold.clone(),
                    match c.published_interval {
                        Some(i) => format!(
                            "{} [{}, {}]",
                            value(&c.metric, c.published),
                            f(i.lower),
                            f(i.upper)
                        ),
                        None => value(&c.metric, c.published),
                    },
                    c.simulated.as_ref().map_or("-".into(), |e| with_ci(e, f)),
                    c.closed_form.map_or("-".into(), f),
                    c.z.map_or("-".into(), |z| format!("{z:+.2}")),
                    match (c.consistent, c.role.as_str()) {
                        (Some(true), "calibration") => "yes (by construction)".into(),
                        (Some(true), _) => "yes".into(),
                        (Some(false), _) => "NO".into(),
                        (None, _) => "-".into(),
                    },
                    c.source.clone(),
                ]
            })
            .collect(),
    });
}

fn opt(x: Option<f64>, f: fn(f64) -> String) -> String {
    x.map_or("-".into(), f)
}

fn ratio(x: f64) -> String {
    format!("{x:.2}")
}

fn fairness(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    if let Some(row) = input.results.estimates.fairness.get(s.headline()) {
        fairness_blocks(row, s.k(), b);
    }
}

/// The per-group rates at one threshold and their differential summaries.
pub(super) fn fairness_blocks(
    row: &crate::estimate::fairness::FairnessRow,
    k: usize,
    b: &mut Vec<Block>,
) {
    b.push(Block::Heading(
        2,
        format!("Differences between groups at {}", row.threshold),
    ));
    if row.groups.len() < 2 {
        b.push(Block::Paragraph(
            "All searches come from one probe group, so there is no difference between groups to summarise; the cross-group matrix below shows how false candidates fall on other groups.".into(),
        ));
        return;
    }
    b.push(Block::Paragraph("The rates of each probe group at the common threshold, then summaries of how far apart they are. Each summary is shown with the rates it rests on; \"-\" means it is undefined (a zero rate in a ratio).".into()));
    b.push(Block::Table {
        header: vec![
            "probe group".into(),
            "FPIR".into(),
            "SEL".into(),
            format!("FNIR rank {k}"),
            "FMR".into(),
            "FNMR".into(),
        ],
        rows: row
            .groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    opt(g.fpir, rate),
                    opt(g.sel, mean),
                    opt(g.fnir, rate),
                    opt(g.fmr, rate),
                    opt(g.fnmr, rate),
                ]
            })
            .collect(),
    });
    let d = |name: &str, x: &crate::estimate::fairness::Disparity| {
        vec![
            name.to_string(),
            opt(x.max_over_geomean, ratio),
            opt(x.max_over_min, ratio),
            opt(x.max_minus_min, rate),
            opt(x.gini, ratio),
        ]
    };
    b.push(Block::Table {
        header: vec![
            "rate".into(),
            "max / geometric mean".into(),
            "max / min".into(),
            "max - min".into(),
            "Gini".into(),
        ],
        rows: vec![
            d("FPIR", &row.fpir),
            d("SEL", &row.sel),
            d("FNIR", &row.fnir),
            d("FMR", &row.fmr),
            d("FNMR", &row.fnmr),
        ],
    });
    b.push(Block::Table {
        header: vec![
            "summary (alpha = weight of false positives)".into(),
            "identification (FPIR, FNIR)".into(),
            "verification (FMR, FNMR)".into(),
        ],
        rows: vec![
            vec![
                format!("GARBE, alpha {}", row.alpha),
                opt(row.garbe_identification, ratio),
                opt(row.garbe_verification, ratio),
            ],
            vec![
                format!("FDR, alpha {} (1 = equal)", row.alpha),
                opt(row.fdr_identification, ratio),
                opt(row.fdr_verification, ratio),
            ],
            vec![
                format!("inequity rate, alpha {} (1 = equal)", row.alpha),
                opt(row.inequity_rate_identification, ratio),
                opt(row.inequity_rate_verification, ratio),
            ],
        ],
    });
    if !row.threshold_shift.is_empty() {
        b.push(Block::Paragraph(format!(
            "Thresholds that would give every group the within-group false match rate of the best-treated group at {} (from the closed form):",
            row.threshold
        )));
        b.push(Block::Table {
            header: vec![
                "probe group".into(),
                format!("within-group FMR at {}", row.threshold),
                "equalizing threshold".into(),
                "shift".into(),
            ],
            rows: row
                .threshold_shift
                .iter()
                .map(|t| {
                    vec![
                        t.group.clone(),
                        rate(t.within_group_fmr),
                        format!("{:.4}", t.threshold),
                        format!("{:+.4}", t.shift),
                    ]
                })
                .collect(),
        });
    }
}
