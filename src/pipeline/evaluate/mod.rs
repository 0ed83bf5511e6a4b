//! Evaluating imported data with the same estimates as a simulated run.
//!
//! ```text
//! embeddings: E.npy + M.csv -> gallery rows ordered by subject (first appearance), probes in
//!             file order, mates by subject -> the simulator's kernel and tallies -> records
//!             -> estimate (as a simulated run, without the closed forms)
//! scores:     S (+ M.csv) -> per-probe summaries -> estimate::slice (1:N)
//!                         -> sorted genuine/impostor streams -> verification (1:1)
//! pairs:      G + I (pyeer's two files) -> sorted genuine/impostor streams -> verification
//!             (1:1 only: without ids there are no searches, so no 1:N estimates)
//! ```
//!
//! Invariants: an imported search goes through the same estimate code as a simulated one
//! (tests/import.rs checks that exported synthetic data gives the synthetic run's estimates);
//! nothing here writes files.

mod record;

pub use record::{CONVENTIONS, EvaluationConventions, EvaluationRecord, InputFile};

/// The note every evaluation of score files carries on how scores are read.
const SCORES_AS_GIVEN: &str = "Scores are used as given: higher means more alike, and a comparison is a match (a candidate) when score >= threshold.";

use crate::estimate::fairness::{FairnessRow, GroupRates};
use crate::estimate::verification::{VerificationSlice, verification};
use crate::estimate::{Estimates, Plan, ReplicateOutcome, Search, estimate, records, slice};
use crate::import::ImportError;
use crate::import::metadata::{Metadata, Role};
use crate::import::scores::{
    ScoreData, ScoreFormat, ScoreOptions, ScoredProbe, Skipped, read_pairs, read_scores,
};
use crate::pipeline::run::{RunError, RunOptions, search_gallery};
use crate::scenario::Threshold;
use crate::search::{Mate, ProbeSet, dot};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Why an evaluation failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// Bad input.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// A bad embedding file.
    #[error(transparent)]
    Embeddings(#[from] crate::import::npy::EmbeddingError),
    /// The search could not run.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The bootstrap would take longer than allowed.
    #[error(
        "the bootstrap of {searches} searches would take roughly {seconds:.0} s at the reference machine's speed, more than --max-time {limit:.0} s; lower --bootstrap-draws, or raise --max-time"
    )]
    TooLong {
        /// Searches.
        searches: u64,
        /// Estimated seconds.
        seconds: f64,
        /// The limit.
        limit: f64,
    },
}

/// Refuses an evaluation whose bootstrap would exceed `o.run.max_seconds`.
fn check_time(o: &EvaluateOptions, searches: u64, groups: usize) -> Result<(), EvaluateError> {
    let threads = o.run.threads.unwrap_or_else(rayon::current_num_threads);
    let seconds = crate::pipeline::work::bootstrap_seconds(
        o.bootstrap_draws,
        searches,
        o.thresholds.len(),
        1 + groups,
        threads,
    );
    match o.run.max_seconds {
        Some(limit) if seconds > limit => Err(EvaluateError::TooLong {
            searches,
            seconds,
            limit,
        }),
        _ => Ok(()),
    }
}

/// How to evaluate (besides the input files).
#[derive(Clone, Debug)]
pub struct EvaluateOptions {
    /// Raw score thresholds, ascending, distinct.
    pub thresholds: Vec<f64>,
    /// Index of the headline threshold.
    pub headline: usize,
    /// Candidate list length K.
    pub k: usize,
    /// Target FMRs for 1:1 operating points.
    pub targets: Vec<f64>,
    /// Confidence level of intervals.
    pub confidence_level: f64,
    /// Subject-bootstrap draws.
    pub bootstrap_draws: u32,
    /// Seed of the bootstrap streams.
    pub seed: u64,
    /// Score-file layout (None: detect).
    pub format: Option<ScoreFormat>,
    /// Count bad rows instead of stopping.
    pub skip_bad_rows: bool,
    /// 1:1 scores held in memory before spilling.
    pub spill_budget: usize,
    /// Threads, tiles, progress.
    pub run: RunOptions,
}

/// The data behind an evaluation, in numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// "embeddings" or "scores".
    pub kind: String,
    /// Score-file layout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<ScoreFormat>,
    /// Data rows read (embeddings, or score rows).
    pub rows: u64,
    /// Embedding dimension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimension: Option<usize>,
    /// Gallery entries.
    pub gallery_entries: u64,
    /// Distinct gallery subjects, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gallery_subjects: Option<u64>,
    /// Searches kept for 1:N.
    pub probes: u64,
    /// Mated searches.
    pub mated_probes: u64,
    /// Non-mated searches.
    pub non_mated_probes: u64,
    /// Longest candidate list (candidate-list files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_list_length: Option<u64>,
}

/// Everything an evaluation produced, before any file is written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The data, in numbers.
    pub data: DataSummary,
    /// Groups, thresholds, K, intervals.
    pub plan: Plan,
    /// 1:N estimates (as for a simulated run).
    pub estimates: Estimates,
    /// 1:1 estimates, when the data hold every comparison's score.
    pub verification: Vec<VerificationSlice>,
    /// Rows skipped and probes excluded.
    pub skipped: Skipped,
    /// What the reader should know about these numbers.
    pub notes: Vec<String>,
}

fn plan(groups: Vec<String>, candidate_groups: Vec<String>, o: &EvaluateOptions) -> Plan {
    Plan {
        groups,
        candidate_groups,
        thresholds: o.thresholds.iter().map(|&t| Threshold::raw(t)).collect(),
        headline: o.headline,
        k: o.k,
        confidence_level: o.confidence_level,
        bootstrap_draws: o.bootstrap_draws,
        seed: o.seed,
    }
}

/// Evaluates embeddings (`.npy`, one row per metadata row) with their metadata.
///
/// # Errors
/// [`EvaluateError`] naming the file and row or line.
pub fn evaluate_embeddings(
    embeddings: &Path,
    metadata: &Path,
    o: &EvaluateOptions,
) -> Result<Evaluation, EvaluateError> {
    let meta = Metadata::read(metadata)?;
    let all = crate::import::npy::read_npy(embeddings)?;
    let file_err = |file: &Path, message: String| ImportError::File {
        file: file.display().to_string(),
        message,
    };
    if all.nrows() != meta.rows.len() {
        return Err(file_err(
            metadata,
            format!(
                "{} rows, but {} has {}; give one metadata row per embedding, in the same order",
                meta.rows.len(),
                embeddings.display(),
                all.nrows()
            ),
        )
        .into());
    }
    // Gallery: subject-major (subjects in order of first appearance), rows in file order.
    let mut subject_id: HashMap<&str, u64> = HashMap::new();
    let mut gallery_rows: Vec<(u64, usize)> = Vec::new();
    for (i, r) in meta.rows.iter().enumerate() {
        if r.role == Role::Gallery {
            let next = subject_id.len() as u64;
            let id = *subject_id.entry(r.subject.as_str()).or_insert(next);
            gallery_rows.push((id, i));
        }
    }
    gallery_rows.sort_unstable();
    let probe_rows: Vec<usize> = (0..meta.rows.len())
        .filter(|&i| meta.rows[i].role == Role::Probe)
        .collect();
    if gallery_rows.is_empty() || probe_rows.is_empty() {
        return Err(file_err(
            metadata,
            "needs at least one `gallery` row and one `probe` row".into(),
        )
        .into());
    }
    let dim = all.ncols();
    let take = |rows: &mut dyn Iterator<Item = usize>| {
        let rows: Vec<usize> = rows.collect();
        let mut out = ndarray::Array2::<i16>::zeros((rows.len(), dim));
        for (j, &i) in rows.iter().enumerate() {
            out.row_mut(j).assign(&all.row(i));
        }
        out
    };
    let gallery = take(&mut gallery_rows.iter().map(|&(_, i)| i));
    let identity: Vec<u64> = gallery_rows.iter().map(|&(id, _)| id).collect();
    let groups: Vec<u16> = gallery_rows
        .iter()
        .map(|&(_, i)| meta.rows[i].group)
        .collect();
    let mut entries_of: HashMap<u64, Vec<u64>> = HashMap::new();
    for (e, &id) in identity.iter().enumerate() {
        entries_of.entry(id).or_default().push(e as u64);
    }
    let probes = take(&mut probe_rows.iter().copied());
    let mate: Vec<Option<Mate>> = probe_rows
        .iter()
        .enumerate()
        .map(|(p, &i)| {
            let id = *subject_id.get(meta.rows[i].subject.as_str())?;
            let probe = probes.row(p);
            let probe = probe.as_slice().expect("standard layout");
            Some(Mate {
                identity: id,
                detections: entries_of[&id]
                    .iter()
                    .map(|&e| {
                        let row = gallery.row(e as usize);
                        (e, dot(row.as_slice().expect("standard layout"), probe))
                    })
                    .collect(),
            })
        })
        .collect();
    let probe_set = ProbeSet {
        embeddings: probes,
        group: probe_rows.iter().map(|&i| meta.rows[i].group).collect(),
        mate,
        int8: None,
        cluster_sums: true,
    };
    let plan = plan(meta.groups.clone(), meta.groups.clone(), o);
    let thresholds = plan.kernel_thresholds();
    let n_groups = plan.n_groups();
    let tally = search_gallery(
        &gallery,
        &identity,
        &groups,
        n_groups,
        &probe_set,
        o.k,
        &thresholds,
        &o.run,
    )?;
    let outcome = ReplicateOutcome {
        replicate: 0,
        entries: gallery.nrows() as u64,
        identities: subject_id.len() as u64,
        probe_group: probe_set.group,
        mate: probe_set.mate,
        tally,
    };
    let records = records(&outcome, thresholds.q.len(), n_groups);
    check_time(o, records.len() as u64, n_groups)?;
    let mated = records.iter().filter(|r| r.mate.is_some()).count() as u64;
    let estimates = estimate(&plan, None, std::slice::from_ref(&outcome), &records);
    Ok(Evaluation {
        data: DataSummary {
            kind: "embeddings".into(),
            format: None,
            rows: meta.rows.len() as u64,
            dimension: Some(dim),
            gallery_entries: gallery.nrows() as u64,
            gallery_subjects: Some(subject_id.len() as u64),
            probes: records.len() as u64,
            mated_probes: mated,
            non_mated_probes: records.len() as u64 - mated,
            candidate_list_length: None,
        },
        plan,
        estimates,
        verification: Vec::new(),
        skipped: Skipped::default(),
        notes: vec![
            format!("Every embedding was divided by its length and rounded to 16-bit integers (scale 32767), as simulated embeddings are; scores are exact integer dot products, so the score resolution is 9.3e-10 and the quantization error at most {:.1e} at d = {dim}.", 0.5 * (dim as f64).sqrt() / 32767.0),
            "A gallery subject's detections are all of its gallery rows; a probe is mated when its subject has a gallery row. A mate's rank counts every non-mate scoring at least as high (ties against the mate).".into(),
            "1:1 rates per group pair are the cross-group table (FMR) and the fairness table (FMR, FNMR); the full impostor score distribution is not kept, so EER and 1:1 DET need a score file (--scores).".into(),
        ],
    })
}

/// A search from a score file, for the estimates.
struct Imported<'a> {
    probe: &'a ScoredProbe,
    thresholds: &'a [f64],
    n_groups: usize,
}

impl Search for Imported<'_> {
    fn mated(&self) -> bool {
        self.probe.mated
    }
    fn reaches(&self, t: usize) -> bool {
        self.probe
            .max_nonmate
            .is_some_and(|m| m >= self.thresholds[t])
    }
    fn false_candidates(&self, t: usize) -> &[u64] {
        &self.probe.counts[t * self.n_groups..(t + 1) * self.n_groups]
    }
    fn false_people(&self, _t: usize) -> Option<&[u64]> {
        None
    }
    fn misses(&self, r: u64, t: usize) -> bool {
        self.misses_at_score(r, self.thresholds[t])
    }
    fn mate_rank(&self) -> Option<u64> {
        self.probe.mate_rank
    }
    fn max_nonmate(&self) -> Option<f64> {
        self.probe.max_nonmate
    }
    fn misses_at_score(&self, r: u64, score: f64) -> bool {
        self.probe.mated
            && !(self.probe.mate_best.is_some_and(|b| b >= score)
                && self.probe.mate_rank.is_some_and(|rank| rank <= r))
    }
    fn counts_complete(&self, t: usize) -> bool {
        self.probe.complete[t]
    }
}

/// Evaluates a score file (optionally with metadata naming its ids).
///
/// # Errors
/// [`EvaluateError`] naming the file and line of bad input.
pub fn evaluate_scores(
    scores: &Path,
    metadata: Option<&Path>,
    o: &EvaluateOptions,
) -> Result<Evaluation, EvaluateError> {
    let meta = metadata.map(Metadata::read).transpose()?;
    let data = read_scores(
        scores,
        meta.as_ref(),
        &o.thresholds,
        o.k,
        &ScoreOptions {
            format: o.format,
            skip_bad_rows: o.skip_bad_rows,
            spill_budget: o.spill_budget,
            ..ScoreOptions::default()
        },
    )?;
    check_time(o, data.probes.len() as u64, data.probe_groups.len())?;
    let plan = plan(data.probe_groups.clone(), data.candidate_groups.clone(), o);
    let n_h = plan.candidate_groups.len();
    let searches: Vec<Imported<'_>> = data
        .probes
        .iter()
        .map(|probe| Imported {
            probe,
            thresholds: &o.thresholds,
            n_groups: n_h,
        })
        .collect();
    let per_group = plan.groups.len() > 1;
    let mut slices = vec![slice(&plan, "all", &searches, 0, None)];
    if per_group {
        for (g, name) in plan.groups.iter().enumerate() {
            let members: Vec<Imported<'_>> = searches
                .iter()
                .filter(|s| s.probe.group as usize == g)
                .map(|s| Imported { ..*s })
                .collect();
            if !members.is_empty() {
                slices.push(slice(&plan, name, &members, g as u64 + 1, None));
            }
        }
    }
    let verification = verification_slices(&data, &plan, o).map_err(read_back(scores))?;
    let fairness = fairness_rows(&plan, &slices, &verification);
    let mut notes = vec![
        format!("{SCORES_AS_GIVEN} Ranks are recomputed from the scores, pessimistically: a mate's rank counts every non-mate scoring at least as high."),
        "Selectivity counts rows (gallery entries), not people: a score file does not say which gallery entries are the same person.".to_string(),
    ];
    if let Some(l) = data.list_length {
        notes.push(format!(
            "The file holds candidate lists (up to {l} per search), not every comparison: FPIR and FNIR up to rank {l} are exact, SEL is given only at thresholds no full list reaches with its last candidate, and 1:1 rates (FMR, FNMR, EER) cannot be computed."
        ));
    }
    let mated = data.probes.iter().filter(|p| p.mated).count() as u64;
    Ok(Evaluation {
        data: DataSummary {
            kind: "scores".into(),
            format: Some(data.format),
            rows: data.rows,
            dimension: None,
            gallery_entries: data.gallery_ids,
            gallery_subjects: None,
            probes: data.probes.len() as u64,
            mated_probes: mated,
            non_mated_probes: data.probes.len() as u64 - mated,
            candidate_list_length: data.list_length,
        },
        estimates: Estimates {
            slices,
            cross_group: Vec::new(),
            replicates: Vec::new(),
            closed_form: None,
            fairness,
            published: Vec::new(),
        },
        plan,
        verification,
        skipped: data.skipped,
        notes,
    })
}

/// The error of a spilled score stream (from the input `file`) that cannot be read back.
fn read_back(file: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |e| ImportError::File {
        file: file.display().to_string(),
        message: format!("cannot read back a temporary file: {e}"),
    }
}

/// Evaluates pyeer's two files, genuine and impostor scores (1:1 only).
///
/// # Errors
/// [`EvaluateError`] naming the file and line of bad input.
pub fn evaluate_pairs(
    genuine: &Path,
    impostor: &Path,
    o: &EvaluateOptions,
) -> Result<Evaluation, EvaluateError> {
    let data = read_pairs(genuine, impostor, o.skip_bad_rows, o.spill_budget)?;
    let plan = plan(vec!["all".into()], vec!["all".into()], o);
    let slice = verification(
        "all",
        data.spill
            .sorted(&[data.genuine])
            .map_err(read_back(genuine))?,
        data.spill.len(data.genuine),
        data.spill
            .sorted(&[data.impostor])
            .map_err(read_back(impostor))?,
        data.spill.len(data.impostor),
        &plan.thresholds,
        &o.targets,
        plan.confidence_level,
    )
    .map_err(read_back(genuine))?;
    Ok(Evaluation {
        data: DataSummary {
            kind: "pairs".into(),
            format: None,
            rows: data.rows,
            dimension: None,
            gallery_entries: 0,
            gallery_subjects: None,
            probes: 0,
            mated_probes: 0,
            non_mated_probes: 0,
            candidate_list_length: None,
        },
        estimates: Estimates::default(),
        plan,
        verification: vec![slice],
        skipped: data.skipped,
        notes: vec![
            SCORES_AS_GIVEN.into(),
            "The two files hold scores without ids (pyeer's layout), so there are no searches: only 1:1 rates (FMR, FNMR, EER) are given, not FPIR, SEL, FNIR or a CMC; for those, give a score file with probe and gallery ids (--scores).".into(),
            "Without ids, the intervals treat every comparison as independent; when one person appears in many comparisons (as in every all-against-all protocol), the true uncertainty is larger than these intervals say.".into(),
        ],
    })
}

fn verification_slices(
    data: &ScoreData,
    plan: &Plan,
    o: &EvaluateOptions,
) -> std::io::Result<Vec<VerificationSlice>> {
    if !data.format.is_full() {
        return Ok(Vec::new());
    }
    let one = |name: &str, groups: &[usize]| {
        let genuine: Vec<usize> = groups.iter().map(|&g| data.streams[g].0).collect();
        let impostor: Vec<usize> = groups.iter().map(|&g| data.streams[g].1).collect();
        let count = |s: &[usize]| s.iter().map(|&i| data.spill.len(i)).sum::<u64>();
        verification(
            name,
            data.spill.sorted(&genuine)?,
            count(&genuine),
            data.spill.sorted(&impostor)?,
            count(&impostor),
            &plan.thresholds,
            &o.targets,
            plan.confidence_level,
        )
    };
    let all: Vec<usize> = (0..data.streams.len()).collect();
    let mut out = vec![one("all", &all)?];
    if plan.groups.len() > 1 {
        for (g, name) in plan.groups.iter().enumerate() {
            let slice = one(name, &[g])?;
            if slice.genuine + slice.impostor > 0 {
                out.push(slice);
            }
        }
    }
    Ok(out)
}

/// Per-group rates and their summaries at every threshold: identification from the slices,
/// verification from the 1:1 slices.
fn fairness_rows(
    plan: &Plan,
    slices: &[crate::estimate::SliceEstimates],
    verification: &[VerificationSlice],
) -> Vec<FairnessRow> {
    plan.thresholds
        .iter()
        .enumerate()
        .map(|(t, threshold)| {
            let rates = slices
                .iter()
                .skip(1)
                .map(|s| {
                    let row = &s.thresholds[t];
                    let v = verification
                        .iter()
                        .skip(1)
                        .find(|v| v.probe_group == s.probe_group)
                        .map(|v| &v.thresholds[t]);
                    GroupRates {
                        group: s.probe_group.clone(),
                        fpir: row.fpir.as_ref().map(|e| e.value),
                        sel: row.sel.as_ref().map(|e| e.value),
                        fnir: row.fnir_rank_k.as_ref().map(|e| e.value),
                        fmr: v.and_then(|v| v.fmr.as_ref().map(|e| e.value)),
                        fnmr: v.and_then(|v| v.fnmr.as_ref().map(|e| e.value)),
                    }
                })
                .collect();
            FairnessRow::new(threshold.label.clone(), threshold.score, rates)
        })
        .collect()
}
