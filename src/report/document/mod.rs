//! The report as a format-free document: headings, paragraphs, lists, tables and figures,
//! built from the results. `markdown` and `html` each turn it into bytes.
//!
//! Sections, in order: summary in plain language; the question and the scenario; method;
//! results; what this does and does not show; how to reproduce; references. Every number goes
//! through `format`, and every estimate is printed beside its interval.

pub mod evaluation;
mod results;
mod summary;

use crate::estimate::{Estimate, ProbeRecord, SliceEstimates};
use crate::format::{count, mean, percent, rate, share};
use crate::report::results::Results;
use crate::scenario::Scenario;
use results::results;
use summary::summary;

/// One block of the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Block {
    /// A heading of level 1-3.
    Heading(u8, String),
    /// A paragraph of plain text.
    Paragraph(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with a header row.
    Table {
        /// Column names.
        header: Vec<String>,
        /// Rows of cells.
        rows: Vec<Vec<String>>,
    },
    /// A figure: an SVG file of the bundle, with its caption.
    Figure {
        /// Path in the bundle, e.g. `plots/det.svg`.
        path: String,
        /// Caption.
        caption: String,
    },
    /// Preformatted text (commands, formulas).
    Code(String),
}

/// A whole report.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Title.
    pub title: String,
    /// Blocks in order.
    pub blocks: Vec<Block>,
}

/// A figure to place in the results section.
#[derive(Clone, Debug)]
pub struct FigureRef {
    /// Path in the bundle.
    pub path: String,
    /// Caption.
    pub caption: String,
}

/// Adds the figure whose path ends with `name`, if the bundle has one.
pub(super) fn push_figure(b: &mut Vec<Block>, figures: &[FigureRef], name: &str) {
    if let Some(f) = figures.iter().find(|f| f.path.ends_with(name)) {
        b.push(Block::Figure {
            path: f.path.clone(),
            caption: f.caption.clone(),
        });
    }
}

/// What the document is built from.
pub struct ReportInput<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The results.
    pub results: &'a Results<'a>,
    /// One record per search.
    pub records: &'a [ProbeRecord],
    /// Figures, in the order they appear.
    pub figures: &'a [FigureRef],
    /// (path, SHA-256) of every data file the report rests on.
    pub hashes: &'a [(String, String)],
}

fn with_ci(e: &Estimate, f: fn(f64) -> String) -> String {
    let flag = if e.few_events { " †" } else { "" };
    format!("{} [{}, {}]{flag}", f(e.value), f(e.lower), f(e.upper))
}

fn cell(e: &Option<Estimate>, f: fn(f64) -> String) -> String {
    e.as_ref().map_or("-".into(), |e| with_ci(e, f))
}

/// "97.8 (95 % interval 94.2 to 101.2)".
fn spoken(e: &Estimate, f: fn(f64) -> String, level: &str) -> String {
    if e.events == 0 {
        format!(
            "{} (at most {} at {level} confidence)",
            f(e.value),
            f(e.upper)
        )
    } else {
        format!(
            "{} ({level} interval {} to {})",
            f(e.value),
            f(e.lower),
            f(e.upper)
        )
    }
}

/// Builds the report.
pub fn build(input: &ReportInput<'_>) -> Document {
    let mut b = Vec::new();
    let s = input.scenario;
    let title = format!("falsematch report: {}", s.config().name);
    summary(input, &mut b);
    question(input, &mut b);
    method(input, &mut b);
    results(input, &mut b);
    limits(input, &mut b);
    reproduce(input, &mut b);
    references(input, &mut b);
    Document { title, blocks: b }
}

fn level_words(s: &Scenario) -> String {
    crate::format::level(s.config().analysis.confidence_level)
}

fn all<'a>(input: &ReportInput<'a>) -> &'a SliceEstimates {
    &input.results.estimates.slices[0]
}

fn question(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let c = &s.config();
    b.push(Block::Heading(1, "2. The question and the scenario".into()));
    b.push(Block::Paragraph(format!(
        "Scenario \"{}\": {}",
        c.name, c.description
    )));
    let mut rows = vec![
        vec![
            "archive size".into(),
            format!("{} detections", count(c.gallery.detections)),
            "faces found in camera frames; one person can appear many times".into(),
        ],
        vec![
            "independent archives".into(),
            c.replicates.to_string(),
            "each with its own people and its own searches".into(),
        ],
        vec![
            "searches per archive".into(),
            format!("{} non-mated, {} mated", c.probes.non_mated, c.probes.mated),
            "non-mated: the person searched for is not in the archive; mated: they are".into(),
        ],
    ];
    for class in &c.gallery.identity_classes {
        rows.push(vec![
            format!("people seen: {}", class.label),
            format!(
                "{} of people; detections per person: {} on average",
                share(class.share),
                class.mean_detections
            ),
            "how often a person appears in the archive".into(),
        ]);
    }
    for (g, group) in s.groups().iter().enumerate() {
        let varies = group.rho_concentration.map_or(String::new(), |k| {
            format!(", varying per person (Beta concentration {k})")
        });
        rows.push(vec![
            format!("group: {}", group.name),
            format!("{} of the archive, {} of searches; concentration {}{varies}", share(group.gallery_share), share(group.probe_share), group.rho),
            if g == 0 { "concentration: how alike faces of this group look to the algorithm (0: no more than strangers)".into() } else { String::new() },
        ]);
    }
    // The group directions: how much each attribute separates groups (an assumption).
    if c.attributes.len() > 1 || s.groups().len() > 1 {
        let weights: Vec<String> = c
            .attributes
            .iter()
            .map(|a| {
                let w = a.weights.clone().unwrap_or(vec![1.0; a.values.len()]);
                format!(
                    "{} {}",
                    a.name,
                    w.iter()
                        .map(|x| format!("{x}"))
                        .collect::<Vec<_>>()
                        .join("/")
                )
            })
            .collect();
        let mut cosines = Vec::new();
        for (i, a) in s.groups().iter().enumerate() {
            for bgrp in s.groups().iter().skip(i + 1) {
                let cos: f64 = a
                    .direction
                    .iter()
                    .zip(&bgrp.direction)
                    .map(|(x, y)| x * y)
                    .sum();
                cosines.push(format!("{} / {}: {cos:.2}", a.name, bgrp.name));
            }
        }
        rows.push(vec![
            "attribute weights".into(),
            weights.join("; "),
            format!(
                "how much each attribute sets groups apart (ASSUMED): the group directions then have cosines {}",
                cosines.join(", ")
            ),
        ]);
    }
    for (label, idx) in [
        ("archive capture", s.gallery_capture()),
        ("search photo capture", s.probe_capture()),
    ] {
        let cap = &s.captures()[idx];
        let level = if cap.is_fixed() {
            format!("{}", cap.noise_min)
        } else {
            format!("{} to {}", cap.noise_min, cap.noise_max)
        };
        rows.push(vec![
            format!("{label}: {}", cap.name),
            format!("capture noise {level}"),
            "capture quality: 0 is a perfect photo".into(),
        ]);
    }
    rows.push(vec![
        "impostor tail".into(),
        input.results.tail.clone(),
        "how often strangers score high: look-alikes and a spread of look-alikeness make the tail heavier than the plain model's".into(),
    ]);
    rows.push(vec![
        "genuine score".into(),
        format!("{:.3} on average", input.results.model.genuine_mean),
        "two captures of the same person score this on average".into(),
    ]);
    rows.push(vec![
        "effective dimension".into(),
        format!(
            "{} (of {} embedding dimensions)",
            s.effective_dim(),
            s.dim()
        ),
        "the algorithm's discriminative capacity".into(),
    ]);
    for t in s.thresholds() {
        rows.push(vec![
            format!("threshold {}", t.label),
            format!("score {:.4}", t.score),
            t.origin.clone(),
        ]);
    }
    rows.push(vec![
        "seed".into(),
        c.seed.to_string(),
        "every random draw follows from it".into(),
    ]);
    b.push(Block::Table {
        header: vec!["parameter".into(), "value".into(), "in plain words".into()],
        rows,
    });
    if !c.sources.is_empty() {
        b.push(Block::Paragraph("Sources of the figures:".into()));
        b.push(Block::List(c.sources.clone()));
    }
    if !c.assumptions.is_empty() {
        b.push(Block::Paragraph(
            "Assumptions (not in the public record; vary them to see how conclusions move):".into(),
        ));
        b.push(Block::List(c.assumptions.clone()));
    }
}

fn method(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let a = &s.config().analysis;
    b.push(Block::Heading(1, "3. Method".into()));
    b.push(Block::Paragraph(
        "Faces are represented as unit vectors (embeddings) and compared by their cosine, the score: higher means more alike. Each simulated person has a template made of a part shared by their demographic group and a part of their own; each camera frame or photo mixes the template with capture noise. This is the reference population model of the falsematch design notes:".into(),
    ));
    b.push(Block::Code(
        "template of person i in group g:  t_i = sqrt(rho_g) u_g + sqrt(1 - rho_g) xi_i\ncapture (frame, photo):            x   = sqrt(1 - s^2) t_i + s eta\nscore of two captures:             x_a . x_b     (candidate when score >= T)".into(),
    ));
    b.push(Block::List(vec![
        "FPIR (false positive identification rate): share of searches for someone not in the archive that return at least one candidate.".into(),
        "SEL (selectivity): average number of false candidates such a search returns; counted as detections and as distinct people.".into(),
        format!("FNIR (false negative identification rate): share of searches for someone in the archive whose best detection is not within the top {} (or rank 1) or scores below the threshold.", s.k()),
        "FMR (false match rate): share of comparisons between two different people that score at or above the threshold.".into(),
        "A candidate is any detection whose score is greater than or equal to the threshold. Candidate lists break ties by archive position; a mate's rank counts every non-mate scoring at or above it (ties count against the mate).".into(),
        format!(
            "Intervals ({}): comparisons that share a person are not independent (one person seen 20 times in the archive brings 20 detections at once; one searched face meets the whole archive), so counts of false candidates vary more than binomial or Poisson counts. Their variance is computed allowing for both kinds of sharing at once (a two-way cluster variance over searches and archive identities; for counts per search it is taken around one rate pooled over groups, since each person's group is itself a random draw, so the interval also allows for the archive's mix of groups), and turned into a design effect D, the variance over the binomial or Poisson one (at least 1): FMR gets the exact Clopper-Pearson interval of the effective counts events/D in trials/D (Korn and Graubard), false candidates per search the exact Poisson interval of the effective count, scaled back; a row with fewer than 30 events takes the design effect of the nearest lower threshold with 30 or more (or the size-biased detections per person when there is none). FPIR, a share of independent searches, gets the exact Clopper-Pearson interval (a rule-of-3 bound when nothing was seen){}. {} independent archives show how much results move from one archive to another. An estimate resting on fewer than 30 events is marked †.",
            crate::format::level(a.confidence_level),
            if a.bootstrap_draws > 0 {
                format!(
                    "; a percentile bootstrap of {} resamples over searched people is recorded beside FPIR and SEL in results.json",
                    a.bootstrap_draws
                )
            } else {
                String::new()
            },
            s.config().replicates
        ),
        format!("Scores are computed exactly on embeddings quantized to 16 bits; quantization moves a score by at most {:.1e}.", input.results.conventions.max_quantization_error),
    ]));
}

fn limits(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    b.push(Block::Heading(
        1,
        "5. What this does and does not show".into(),
    ));
    let items = vec![
        "The searches are simulated over synthetic faces. They show what an algorithm with these statistics does at this scale, not what a particular vendor's system did; its parameters are set from published figures where they exist and are stated as assumptions where they do not.".into(),
        "The model's false matches come from faces that resemble each other by chance and from shared group traits; it has no relatives, twins or duplicate records, so its far tail is lighter than real systems'. Rates far below the thresholds that produced events should be read as lower bounds.".into(),
        "A vendor's \"confidence %\" is not a probability. How it maps to a score is an assumption; results are shown under each stated mapping.".into(),
        "Intervals allow for the two ways comparisons share a person: one person seen many times in the archive, and one searched face compared with the whole archive (a two-way cluster variance; see Method). They cover the model's truth about 95 % of the time in the coverage study of the test suite. They do not cover the uncertainty of the assumptions themselves: the table below shows that.".into(),
    ];
    b.push(Block::List(items));
    sensitivity_section(&input.results.sensitivity, b);
    if let Some(tails) = &input.results.tails {
        tails_section(tails, b);
    }
    match &input.results.estimates.closed_form {
        Some(check) if check.rows.is_empty() => b.push(Block::Paragraph(
            "No closed-form cross-check: there are no non-mated searches to compare.".into(),
        )),
        Some(check) => closed_form_section(check, s, b),
        None => {}
    }
}

/// Which conclusion rests on which assumption: a sentence per conclusion, then the table.
fn sensitivity_section(sens: &crate::estimate::sensitivity::Sensitivity, b: &mut Vec<Block>) {
    b.push(Block::Heading(
        2,
        "Which conclusion rests on which assumption".into(),
    ));
    b.push(Block::Paragraph(format!(
        "Each assumption below was varied alone over the range shown, and the headline conclusions recomputed at the threshold {} with the model's exact formulas (what a simulation would estimate, without its sampling noise). The conclusions move far more with some assumptions than their intervals do with sampling:",
        sens.threshold
    )));
    let value = |name: &str, x: f64| {
        if name.contains("share") || name == "FPIR" {
            if name == "FPIR" { rate(x) } else { percent(x) }
        } else {
            mean(x)
        }
    };
    let base_of = |name: &str| -> Option<f64> {
        let c = &sens.base;
        match name {
            "FPIR" => Some(c.fpir),
            n if n.starts_with("false candidate detections") => Some(c.sel),
            n if n.starts_with("distinct") => Some(c.people),
            _ => c.other_sex_share,
        }
    };
    b.push(Block::List(
        sens.dependence
            .iter()
            .map(|d| {
                format!(
                    "{} ({} here) rests most on the {}: from {} to {} over the range tried.",
                    capitalize(&d.conclusion),
                    base_of(&d.conclusion).map_or("-".into(), |x| value(&d.conclusion, x)),
                    d.assumption,
                    value(&d.conclusion, d.range.0),
                    value(&d.conclusion, d.range.1)
                )
            })
            .collect(),
    ));
    let cell =
        |low: &Option<crate::estimate::sensitivity::Conclusions>,
         high: &Option<crate::estimate::sensitivity::Conclusions>,
         f: &dyn Fn(&crate::estimate::sensitivity::Conclusions) -> Option<String>| {
            match (low.as_ref().and_then(f), high.as_ref().and_then(f)) {
                (Some(a), Some(b)) => format!("{a} to {b}"),
                _ => "-".into(),
            }
        };
    let with_share = sens.base.other_sex_share.is_some();
    let mut header = vec![
        "assumption".into(),
        "as assumed".into(),
        "tried (low, high)".into(),
        "detections per search".into(),
        "people per search".into(),
        "FPIR".into(),
    ];
    if with_share {
        header.push("other-sex share".into());
    }
    let mut rows = vec![{
        let c = &sens.base;
        let mut r = vec![
            "(as assumed)".into(),
            String::new(),
            String::new(),
            mean(c.sel),
            mean(c.people),
            rate(c.fpir),
        ];
        if with_share {
            r.push(c.other_sex_share.map_or("-".into(), percent));
        }
        r
    }];
    for row in &sens.rows {
        let mut r = vec![
            row.assumption.clone(),
            row.base.clone(),
            format!("{}, {}", row.settings.0, row.settings.1),
            cell(&row.low, &row.high, &|c| Some(mean(c.sel))),
            cell(&row.low, &row.high, &|c| Some(mean(c.people))),
            cell(&row.low, &row.high, &|c| Some(rate(c.fpir))),
        ];
        if with_share {
            r.push(cell(&row.low, &row.high, &|c| {
                c.other_sex_share.map(percent)
            }));
        }
        rows.push(r);
    }
    b.push(Block::Table { header, rows });
}

/// The results under other impostor tails, beside the scenario's own.
fn tails_section(tails: &crate::estimate::sensitivity::Tails, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, "Under other impostor tails".into()));
    b.push(Block::Paragraph(
        "How many strangers score high is the assumption the far thresholds rest on most. The same archive and searches under other tails (closed forms, false candidate detections per search and FPIR), each with its parameters:".into(),
    ));
    let mut items = vec![format!("as in the scenario: {}", tails.base.parameters)];
    items.extend(tails.alternatives.iter().map(|a| {
        format!(
            "{}: {}{}",
            a.name,
            a.parameters,
            if a.source.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.source)
            }
        )
    }));
    b.push(Block::List(items));
    let mut header = vec!["threshold".to_string(), "as in the scenario".to_string()];
    header.extend(tails.alternatives.iter().map(|a| a.name.clone()));
    let cell = |r: &(String, f64, f64, f64)| format!("{} (FPIR {})", mean(r.2), rate(r.1));
    let rows = tails
        .base
        .thresholds
        .iter()
        .enumerate()
        .map(|(t, r)| {
            let mut row = vec![r.0.clone(), cell(r)];
            row.extend(tails.alternatives.iter().map(|a| cell(&a.thresholds[t])));
            row
        })
        .collect();
    b.push(Block::Table { header, rows });
    if tails.changes.is_empty() {
        b.push(Block::Paragraph(
            "No conclusion changes by a factor of 10 or more between these tails.".into(),
        ));
    } else {
        b.push(Block::Paragraph("What changes:".into()));
        b.push(Block::List(tails.changes.clone()));
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// The cross-check against the closed forms: the verdict in words, then the rows behind it
/// (those with the largest |z|) and the headline threshold's rows.
fn closed_form_section(
    check: &crate::estimate::ClosedFormCheck,
    s: &crate::scenario::Scenario,
    b: &mut Vec<Block>,
) {
    let v = &check.verdict;
    b.push(Block::Paragraph(format!(
        "Cross-check against the model's exact formulas (closed forms): the simulation {}. Each row is an exact test of a simulated count against its closed-form expectation, with a variance that allows for one person seen several times and for one probe meeting the whole gallery (the design effect); the verdict allows for the number of rows tested.",
        v.text
    )));
    let headline = &s.thresholds()[s.headline()].label;
    let mut shown: Vec<&crate::estimate::ClosedFormRow> = check
        .rows
        .iter()
        .filter(|r| &r.threshold == headline && r.metric != "fmr")
        .collect();
    let mut by_z: Vec<&crate::estimate::ClosedFormRow> = check.rows.iter().collect();
    by_z.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
    for r in by_z.into_iter().take(4) {
        if !shown.contains(&r) {
            shown.push(r);
        }
    }
    let value = |metric: &str, x: f64| {
        if metric.starts_with("sel") {
            mean(x)
        } else {
            rate(x)
        }
    };
    b.push(Block::Table {
        header: vec![
            "metric".into(),
            "threshold".into(),
            "probe group".into(),
            "candidate group".into(),
            "closed form".into(),
            "simulated".into(),
            "observed / expected".into(),
            "design effect".into(),
            "z".into(),
        ],
        rows: shown
            .iter()
            .map(|r| {
                vec![
                    r.metric.clone(),
                    r.threshold.clone(),
                    r.probe_group.clone(),
                    r.gallery_group.clone().unwrap_or_else(|| "all".into()),
                    value(&r.metric, r.closed_form),
                    value(&r.metric, r.simulated),
                    format!("{} / {}", count(r.observed), mean(r.expected)),
                    format!("{:.2}", r.design_effect),
                    format!("{:+.2}", r.z),
                ]
            })
            .collect(),
    });
}

fn reproduce(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    let s = input.scenario;
    let tool = &input.results.tool;
    b.push(Block::Heading(1, "6. How to reproduce".into()));
    b.push(Block::Paragraph(format!(
        "With falsematch {} (the same release; `cargo install --path .` in its source folder puts `falsematch` on the PATH), the run is repeated bit for bit by the first command below, whatever the machine, thread count or CPU; the second re-runs the scenario recorded in this folder and compares every file.",
        tool.version
    )));
    b.push(Block::Code(format!(
        "falsematch run {} --seed {} --out DIR\nfalsematch verify THIS-FOLDER",
        s.config().name,
        s.config().seed
    )));
    let mut rows = vec![vec![
        "scenario (TOML text)".into(),
        input.results.scenario_sha256.to_string(),
    ]];
    rows.extend(input.hashes.iter().map(|(p, h)| vec![p.clone(), h.clone()]));
    b.push(Block::Paragraph("SHA-256 of the scenario and of the files this report rests on (manifest.json lists every file):".into()));
    b.push(Block::Table {
        header: vec!["file".into(), "SHA-256".into()],
        rows,
    });
}

fn references(input: &ReportInput<'_>, b: &mut Vec<Block>) {
    b.push(Block::Heading(1, "7. References".into()));
    let mut items: Vec<String> = input.scenario.config().sources.clone();
    items.extend(
        [
            "P. Grother, M. Ngan, K. Hanaoka: Face Recognition Vendor Test Part 3: Demographic Effects, NIST IR 8280, December 2019.",
            "NIST Face Recognition Technology Evaluation (FRTE) 1:N identification: definitions of FPIR, FNIR and selectivity.",
            "ISO/IEC 19795-1: Biometric performance testing and reporting, Part 1: Principles and framework.",
            "C. J. Clopper, E. S. Pearson: The use of confidence or fiducial limits illustrated in the case of the binomial, Biometrika 26 (1934).",
            "G. Doddington et al.: The NIST speaker recognition evaluation, overview, methodology, systems, results, perspective, Speech Communication 31 (2000): the rule of 30.",
        ]
        .map(String::from),
    );
    b.push(Block::List(items));
}
