//! Fitting the model to a score file, and checking the fit out of sample.
//!
//! ```text
//! read 1:  every impostor score (sorted, spilled to disk past a budget), every genuine score
//!          -> genuine mean m, impostor mean, n impostor comparisons
//! levels:  FMR 1e-2, 4.64e-3, 2.15e-3, 1e-3, ... (three per decade)
//!          fit levels down to --fit-down-to; held-out levels below it while n x level >= 10
//!          threshold of a level L = the ceil(L n)-th highest impostor score
//! read 2:  per search and per gallery id, its non-mate comparisons at or above each threshold
//!          -> observed FMR R = sum of counts / sum of comparisons N, with a Clopper-Pearson
//!             interval on the effective count events / deff: comparisons that share a search or
//!             a gallery face are correlated, so (Cameron, Gelbach, Miller 2011)
//!               V = V_search + V_gallery - V_cell, at least max(V_search, V_gallery)
//!               V_search = sum over searches (c_i - R n_i)^2 x S/(S-1), V_gallery likewise,
//!               V_cell = sum over comparisons (y - R)^2,   deff = V / (N R (1 - R)) >= 1
//!             and a threshold with fewer than 30 events takes at least the design effect of
//!             the nearest lower one with 30 or more (as in estimate::cluster)
//! fit:     the fit levels as operating points of one group (fit::fit, least squares on log FMR)
//!          with m and, when the model can reach it, the impostor mean
//! check:   at each held-out threshold, the fitted model's FMR against the observed interval
//! ```
//!
//! The data are one population: their ROC is fitted as the group named (default: the
//! scenario's first), and the fitted rho and spread are given to every group of the scenario.
//! A score file does not say which gallery ids are one person, so several photos of one
//! person count as several gallery clusters: the interval is then somewhat too narrow.

use super::fit::{OperatingPoint, fit};
use super::{CalibrateError, Calibration, err};
use crate::estimate::interval::clopper_pearson_real;
use crate::import::metadata::Metadata;
use crate::import::scores::{ScoreOptions, read_scores};
use crate::scenario::{Scenario, ScenarioConfig};
use serde::Serialize;
use std::path::Path;

/// How to fit a score file.
#[derive(Clone, Debug)]
pub struct ScoreFitOptions {
    /// How to read the file.
    pub read: ScoreOptions,
    /// The group whose parameters are fitted (None: the scenario's first).
    pub group: Option<String>,
    /// The lowest FMR fitted; levels below it are held out.
    pub fit_down_to: f64,
    /// Confidence level of the observed intervals.
    pub level: f64,
}

/// The highest FMR level fitted.
pub const FIRST_LEVEL: f64 = 1e-2;
/// FMR levels per decade.
pub const LEVELS_PER_DECADE: u32 = 3;
/// Fewest expected impostor comparisons at or above the lowest fitted level.
pub const MIN_FIT_EVENTS: f64 = 25.0;
/// Fewest impostor comparisons at or above a held-out threshold.
pub const MIN_HELD_OUT_EVENTS: f64 = 10.0;

/// One threshold: the observed FMR with its interval, and the fitted model's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObservedPoint {
    /// Threshold (a score of the file).
    pub threshold: f64,
    /// Non-mate comparisons at or above it.
    pub events: u64,
    /// Non-mate comparisons.
    pub trials: u64,
    /// events / trials.
    pub fmr: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end.
    pub upper: f64,
    /// Design effect of the searches (1: comparisons independent).
    pub design_effect: f64,
    /// The fitted model's FMR there.
    pub predicted: f64,
}

impl ObservedPoint {
    /// True when the fitted model's FMR lies in the observed interval.
    pub fn inside(&self) -> bool {
        self.lower <= self.predicted && self.predicted <= self.upper
    }
}

/// What a score file gave and how the fit did on it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScoreFit {
    /// The file.
    pub file: String,
    /// Searches (probes) with non-mate comparisons.
    pub searches: u64,
    /// Genuine comparisons.
    pub genuine: u64,
    /// Impostor comparisons.
    pub impostor: u64,
    /// Mean genuine score.
    pub genuine_mean: f64,
    /// Mean impostor score.
    pub impostor_mean: f64,
    /// True when the impostor mean was fitted too (the model reaches only means in (0, m)).
    pub impostor_mean_fitted: bool,
    /// The fitted levels.
    pub fitted: Vec<ObservedPoint>,
    /// The held-out levels, further out.
    pub held_out: Vec<ObservedPoint>,
    /// Confidence level of the intervals.
    pub level: f64,
}

impl ScoreFit {
    /// Held-out points whose interval holds the fitted model's FMR.
    pub fn held_out_inside(&self) -> usize {
        self.held_out.iter().filter(|p| p.inside()).count()
    }
}

/// The most comparisons `fit_embeddings` scores (each becomes a row of a temporary score
/// file, about 40 bytes).
pub const MAX_EMBEDDING_COMPARISONS: u64 = 50_000_000;

/// Writes every probe-gallery comparison of embeddings (`.npy`, one row per metadata row) as a
/// csv score file (`probe_id,gallery_id,score,mated`): ids from the metadata's `id` column (else
/// `row<N>`, N from 1), scores the dot products of the normalized, quantized rows (as the
/// search kernel scores them), mated when the two rows have one subject.
///
/// # Errors
/// [`CalibrateError`] naming the file when it cannot be read, the rows do not match, there are
/// no probes or gallery rows, or the comparisons exceed [`MAX_EMBEDDING_COMPARISONS`].
pub fn embeddings_to_scores(
    embeddings: &Path,
    metadata: &Metadata,
    out: &mut impl std::io::Write,
) -> Result<u64, CalibrateError> {
    use crate::import::metadata::Role;
    let all = crate::import::npy::read_npy(embeddings)?;
    if all.nrows() != metadata.rows.len() {
        return Err(err(format!(
            "{}: {} rows, but {} has {}; give one metadata row per embedding, in the same order",
            crate::format::quoted(&metadata.file),
            metadata.rows.len(),
            crate::format::quoted(&embeddings.display().to_string()),
            all.nrows()
        )));
    }
    let rows = |role: Role| -> Vec<usize> {
        (0..metadata.rows.len())
            .filter(|&i| metadata.rows[i].role == role)
            .collect()
    };
    let (gallery, probes) = (rows(Role::Gallery), rows(Role::Probe));
    let comparisons = gallery.len() as u64 * probes.len() as u64;
    if comparisons == 0 {
        return Err(err(format!(
            "{}: needs gallery and probe rows",
            crate::format::quoted(&metadata.file)
        )));
    }
    if comparisons > MAX_EMBEDDING_COMPARISONS {
        return Err(err(format!(
            "{}: {} probes x {} gallery rows = {comparisons} comparisons, more than the {MAX_EMBEDDING_COMPARISONS} calibrate scores from embeddings; fit a sample, or give a score file (--scores)",
            crate::format::quoted(&embeddings.display().to_string()),
            probes.len(),
            gallery.len()
        )));
    }
    let id = |i: usize| -> String {
        metadata.rows[i]
            .id
            .clone()
            .unwrap_or_else(|| format!("row{}", i + 1))
    };
    let scale = crate::quantize::QUANT_SCALE * crate::quantize::QUANT_SCALE;
    let io = |source: std::io::Error| CalibrateError::TemporaryFile {
        what: "cannot write a temporary score file".into(),
        source,
    };
    writeln!(out, "probe_id,gallery_id,score,mated").map_err(io)?;
    for &p in &probes {
        let probe = all.row(p);
        let probe_id = id(p);
        for &g in &gallery {
            let dot: i64 = probe
                .iter()
                .zip(all.row(g).iter())
                .map(|(&a, &b)| i64::from(a) * i64::from(b))
                .sum();
            writeln!(
                out,
                "{probe_id},{},{:.9},{}",
                id(g),
                dot as f64 / scale,
                u8::from(metadata.rows[p].subject == metadata.rows[g].subject)
            )
            .map_err(io)?;
        }
    }
    Ok(comparisons)
}

/// [`fit_scores`] on every probe-gallery comparison of embeddings with their metadata (scored
/// into a temporary file by [`embeddings_to_scores`], removed afterwards).
///
/// # Errors
/// As [`embeddings_to_scores`] and [`fit_scores`].
pub fn fit_embeddings(
    scenario: &Scenario,
    embeddings: &Path,
    metadata: &Path,
    o: &ScoreFitOptions,
) -> Result<(ScenarioConfig, Calibration, ScoreFit), CalibrateError> {
    let meta = Metadata::read(metadata)?;
    let mut file = tempfile::Builder::new()
        .prefix(".falsematch-scores-")
        .suffix(".csv")
        .tempfile()
        .map_err(|source| CalibrateError::TemporaryFile {
            what: "cannot create a temporary score file".into(),
            source,
        })?;
    {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file.as_file_mut());
        embeddings_to_scores(embeddings, &meta, &mut out)?;
        std::io::Write::flush(&mut out).map_err(|source| CalibrateError::TemporaryFile {
            what: "cannot write a temporary score file".into(),
            source,
        })?;
    }
    let options = ScoreFitOptions {
        read: ScoreOptions {
            format: Some(crate::import::scores::ScoreFormat::Csv),
            ..o.read.clone()
        },
        ..o.clone()
    };
    let shown = embeddings.display().to_string();
    let temporary = file.path().display().to_string();
    let (config, calibration, mut fit) = fit_scores(scenario, file.path(), None, &options)
        .map_err(|e| e.renamed(&temporary, &shown))?;
    fit.file = shown;
    Ok((config, calibration, fit))
}

/// FMR level `i`: 1e-2 x 10^(-i/3).
fn level_at(i: u32) -> f64 {
    FIRST_LEVEL * 10f64.powf(-f64::from(i) / f64::from(LEVELS_PER_DECADE))
}

/// Fits `scenario` to the score file at `path` and checks the fit on held-out thresholds.
///
/// # Errors
/// [`CalibrateError`] when the file cannot be read (naming file and line), holds candidate
/// lists only, has no genuine scores, too few impostor scores for `fit_down_to`, or when the fit
/// fails.
pub fn fit_scores(
    scenario: &Scenario,
    path: &Path,
    metadata: Option<&Metadata>,
    o: &ScoreFitOptions,
) -> Result<(ScenarioConfig, Calibration, ScoreFit), CalibrateError> {
    let file = path.display().to_string();
    if !(o.fit_down_to > 0.0 && o.fit_down_to <= FIRST_LEVEL) {
        return Err(err(format!(
            "--fit-down-to must be in (0, {FIRST_LEVEL}], got {}",
            o.fit_down_to
        )));
    }
    let group = match &o.group {
        Some(g) => {
            if !scenario.groups().iter().any(|x| &x.name == g) {
                return Err(err(format!(
                    "no group {} in scenario {}",
                    crate::format::quoted(g),
                    scenario.config().name
                )));
            }
            g.clone()
        }
        None => scenario.groups()[0].name.clone(),
    };
    let Streams {
        n_gen,
        n_imp,
        genuine_mean,
        impostor_mean,
        levels,
        values,
    } = read_streams(path, metadata, o, &file)?;
    // Distinct thresholds, ascending, each with its role (a tie keeps the fitted role).
    let mut thresholds: Vec<(f64, bool)> = values
        .iter()
        .zip(&levels)
        .map(|(&t, &(_, fitted))| (t, fitted))
        .collect();
    thresholds.sort_by(|a, b| a.0.total_cmp(&b.0));
    thresholds.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 |= b.1;
            true
        } else {
            false
        }
    });
    let (observed, n_searches) = observe_thresholds(path, metadata, o, &thresholds)?;
    let points: Vec<OperatingPoint> = observed
        .iter()
        .zip(&thresholds)
        .filter(|(p, t)| t.1 && p.events > 0)
        .map(|(p, _)| OperatingPoint {
            group: group.clone(),
            threshold: p.threshold,
            fmr: p.fmr,
        })
        .collect();
    if points.len() < 2 {
        return Err(err(format!(
            "{}: the impostor scores give fewer than two distinct fitted thresholds (ties): give more comparisons",
            crate::format::quoted(&file)
        )));
    }
    let noise = (1.0 - genuine_mean.clamp(1e-6, 1.0 - 1e-6)).sqrt();
    let mean_reachable = impostor_mean > 0.0 && impostor_mean < 1.0 - noise * noise;
    let (mut config, mut calibration) = fit(
        scenario,
        &points,
        Some(genuine_mean),
        mean_reachable.then_some(impostor_mean),
        true,
    )?;
    // The data are one population: every group gets the fitted rho and spread.
    let g = config
        .groups
        .iter()
        .position(|x| x.name == group)
        .expect("checked above");
    let (rho, spread) = (config.groups[g].rho, config.groups[g].rho_concentration);
    for x in &mut config.groups {
        x.rho = rho;
        x.rho_concentration = spread;
    }
    calibration.rho = config
        .groups
        .iter()
        .map(|x| (x.name.clone(), rho))
        .collect();
    let fitted = Scenario::from_config(config.clone(), "the fitted scenario")?;
    let g = fitted
        .groups()
        .iter()
        .position(|x| x.name == group)
        .expect("the fitted scenario keeps its groups");
    let observed: Vec<ObservedPoint> = observed
        .into_iter()
        .map(|mut p| {
            p.predicted = crate::closed_form::pair_law(&fitted, g, g).fmr(p.threshold);
            p
        })
        .collect();
    let (fitted_points, held_out): (Vec<_>, Vec<_>) = observed
        .into_iter()
        .zip(&thresholds)
        .partition(|(_, t)| t.1);
    Ok((
        config,
        calibration,
        ScoreFit {
            file,
            searches: n_searches,
            genuine: n_gen,
            impostor: n_imp,
            genuine_mean,
            impostor_mean,
            impostor_mean_fitted: mean_reachable,
            fitted: fitted_points.into_iter().map(|p| p.0).collect(),
            held_out: held_out.into_iter().map(|p| p.0).collect(),
            level: o.level,
        },
    ))
}

/// What the first read of a score file gives: the genuine and impostor counts and means, and
/// the impostor score at each FMR level (`levels`: the level and whether it is fitted, not
/// held out).
struct Streams {
    n_gen: u64,
    n_imp: u64,
    genuine_mean: f64,
    impostor_mean: f64,
    levels: Vec<(f64, bool)>,
    values: Vec<f64>,
}

/// Read 1 of a score fit: the sorted genuine and impostor streams.
fn read_streams(
    path: &Path,
    metadata: Option<&Metadata>,
    o: &ScoreFitOptions,
    file: &str,
) -> Result<Streams, CalibrateError> {
    let io_err = |source: std::io::Error| CalibrateError::TemporaryFile {
        what: format!(
            "{}: cannot read back a temporary file",
            crate::format::quoted(file)
        ),
        source,
    };
    let data = read_scores(path, metadata, &[], 1, &o.read)?;
    if !data.format.is_full() {
        return Err(err(format!(
            "{}: holds candidate lists, not every comparison; fitting a ROC needs every impostor score (csv, bob4 or bob5)",
            crate::format::quoted(file)
        )));
    }
    let genuine_streams: Vec<usize> = data.streams.iter().map(|s| s.0).collect();
    let impostor_streams: Vec<usize> = data.streams.iter().map(|s| s.1).collect();
    let n_gen: u64 = genuine_streams.iter().map(|&s| data.spill.len(s)).sum();
    let n_imp: u64 = impostor_streams.iter().map(|&s| data.spill.len(s)).sum();
    if n_gen == 0 {
        return Err(err(format!(
            "{}: no genuine (mated) comparisons: the genuine mean pins the capture noise",
            crate::format::quoted(file)
        )));
    }
    if (n_imp as f64) * o.fit_down_to < MIN_FIT_EVENTS {
        return Err(err(format!(
            "{}: {n_imp} impostor comparisons are too few to fit FMR down to {:e}: that needs at least {:.0} (or a higher --fit-down-to)",
            crate::format::quoted(file),
            o.fit_down_to,
            (MIN_FIT_EVENTS / o.fit_down_to).ceil()
        )));
    }
    let mut genuine_sum = 0.0;
    for x in data.spill.sorted(&genuine_streams).map_err(io_err)? {
        genuine_sum += x.map_err(io_err)?;
    }
    let genuine_mean = genuine_sum / n_gen as f64;
    // The levels and the rank of each one's threshold in ascending order.
    let mut levels: Vec<(f64, bool)> = Vec::new();
    for i in 0.. {
        let l = level_at(i);
        let fitted = l >= o.fit_down_to * (1.0 - 1e-9);
        if !fitted && l * (n_imp as f64) < MIN_HELD_OUT_EVENTS {
            break;
        }
        levels.push((l, fitted));
    }
    let ranks: Vec<u64> = levels
        .iter()
        .map(|&(l, _)| n_imp - ((l * n_imp as f64).ceil() as u64).clamp(1, n_imp))
        .collect();
    let mut values = vec![0.0; ranks.len()];
    let mut impostor_sum = 0.0;
    for (i, x) in data
        .spill
        .sorted(&impostor_streams)
        .map_err(io_err)?
        .enumerate()
    {
        let x = x.map_err(io_err)?;
        impostor_sum += x;
        for (r, v) in ranks.iter().zip(values.iter_mut()) {
            if *r == i as u64 {
                *v = x;
            }
        }
    }
    let impostor_mean = impostor_sum / n_imp as f64;
    drop(data);
    Ok(Streams {
        n_gen,
        n_imp,
        genuine_mean,
        impostor_mean,
        levels,
        values,
    })
}

/// Read 2 of a score fit: per search, the comparisons at or above each threshold (and all of
/// them, below every score), and the observed FMR at each threshold with its two-way cluster
/// interval. Returns the points and the number of searches.
fn observe_thresholds(
    path: &Path,
    metadata: Option<&Metadata>,
    o: &ScoreFitOptions,
    thresholds: &[(f64, bool)],
) -> Result<(Vec<ObservedPoint>, u64), CalibrateError> {
    let mut cut = vec![f64::MIN];
    cut.extend(thresholds.iter().map(|t| t.0));
    let read = ScoreOptions {
        per_gallery: true,
        ..o.read.clone()
    };
    let per_search = read_scores(path, metadata, &cut, 1, &read)?;
    let n_h = per_search.candidate_groups.len();
    let count = |p: &crate::import::scores::ScoredProbe, t: usize| -> u64 {
        p.counts[t * n_h..(t + 1) * n_h].iter().sum()
    };
    let searches: Vec<(u64, Vec<u64>)> = per_search
        .probes
        .iter()
        .map(|p| {
            (
                count(p, 0),
                (1..cut.len()).map(|t| count(p, t)).collect::<Vec<u64>>(),
            )
        })
        .filter(|(n, _)| *n > 0)
        .collect();
    let galleries: Vec<(u64, Vec<u64>)> = per_search
        .gallery_counts
        .chunks(cut.len())
        .map(|row| (row[0], row[1..].to_vec()))
        .filter(|(n, _)| *n > 0)
        .collect();
    let raw: Vec<(f64, u64)> = (0..thresholds.len())
        .map(|t| two_way_design_effect(&searches, &galleries, t))
        .collect();
    let fallback = raw.iter().map(|r| r.0).fold(1.0, f64::max);
    let settled = crate::estimate::cluster::settled_design_effects(
        &raw,
        crate::estimate::cluster::MIN_EVENTS_FOR_DISPERSION,
        fallback,
    );
    let observed: Vec<ObservedPoint> = (0..thresholds.len())
        .map(|t| observe(&searches, t, thresholds[t].0, settled[t], o.level))
        .collect();
    Ok((observed, searches.len() as u64))
}

/// Sum over clusters of (c - R n)^2, scaled by S / (S - 1) for S clusters.
fn cluster_sum(clusters: &[(u64, Vec<u64>)], t: usize, rate: f64) -> f64 {
    let s = clusters.len() as f64;
    clusters
        .iter()
        .map(|c| (c.1[t] as f64 - rate * c.0 as f64).powi(2))
        .sum::<f64>()
        * s
        / (s - 1.0).max(1.0)
}

/// The two-way design effect of the FMR at threshold `t` (raw: before settling), and its
/// event count.
fn two_way_design_effect(
    searches: &[(u64, Vec<u64>)],
    galleries: &[(u64, Vec<u64>)],
    t: usize,
) -> (f64, u64) {
    let trials: u64 = searches.iter().map(|s| s.0).sum();
    let events: u64 = searches.iter().map(|s| s.1[t]).sum();
    let (n, e) = (trials as f64, events as f64);
    let r = e / n;
    let v_search = cluster_sum(searches, t, r);
    let v_gallery = cluster_sum(galleries, t, r);
    let v_cell = e * (1.0 - r).powi(2) + (n - e) * r * r;
    let v = (v_search + v_gallery - v_cell).max(v_search.max(v_gallery));
    (
        crate::estimate::cluster::design_effect(v, n * r * (1.0 - r)),
        events,
    )
}

/// The observed FMR at threshold `t` over `searches` (comparisons, counts at each threshold),
/// with a Clopper-Pearson interval on the effective count `events / design_effect`.
fn observe(
    searches: &[(u64, Vec<u64>)],
    t: usize,
    threshold: f64,
    design_effect: f64,
    level: f64,
) -> ObservedPoint {
    let trials: u64 = searches.iter().map(|s| s.0).sum();
    let events: u64 = searches.iter().map(|s| s.1[t]).sum();
    let b = clopper_pearson_real(
        events as f64 / design_effect,
        trials as f64 / design_effect,
        level,
    );
    ObservedPoint {
        threshold,
        events,
        trials,
        fmr: events as f64 / trials as f64,
        lower: b.lower,
        upper: b.upper,
        design_effect,
        predicted: f64::NAN,
    }
}

fn point_line(p: &ObservedPoint, held_out: bool) -> String {
    format!(
        "{:>9.4} {:>34} {:>12} {:>8.2} {:>12.3e} {:>7.3}{}",
        p.threshold,
        format!("{:.3e} [{:.3e}, {:.3e}]", p.fmr, p.lower, p.upper),
        crate::format::count(p.events),
        p.design_effect,
        p.predicted,
        p.predicted / p.fmr,
        if held_out {
            if p.inside() { "  inside" } else { "  OUTSIDE" }
        } else {
            ""
        }
    )
}

/// What the data gave, in one sentence.
fn data_sentence(fit: &ScoreFit) -> String {
    format!(
        "{}: {} impostor comparisons in {} searches, {} genuine; genuine mean {:.4}, impostor mean {:.4} ({})",
        fit.file,
        crate::format::count(fit.impostor),
        crate::format::count(fit.searches),
        crate::format::count(fit.genuine),
        fit.genuine_mean,
        fit.impostor_mean,
        if fit.impostor_mean_fitted {
            "fitted too"
        } else {
            "not fitted: the model's impostor mean lies between 0 and the genuine mean"
        }
    )
}

/// The verdict on the held-out thresholds, in one sentence.
fn held_out_sentence(fit: &ScoreFit) -> String {
    if fit.held_out.is_empty() {
        return "No held-out threshold: the data have fewer than 10 impostor scores beyond the fitted levels.".into();
    }
    format!(
        "Held out: {} of {} thresholds beyond the fitted levels hold the fitted model's FMR in their {:.0} % interval (by chance alone, about {:.0} % of them would).",
        fit.held_out_inside(),
        fit.held_out.len(),
        fit.level * 100.0,
        fit.level * 100.0
    )
}

/// The printed fit: every fitted and held-out threshold, observed against the fitted model.
pub fn score_fit_table(fit: &ScoreFit) -> String {
    let mut out = format!(
        "{}\n\n{:>9} {:>34} {:>12} {:>8} {:>12} {:>7}\n",
        data_sentence(fit),
        "threshold",
        format!("observed FMR [{:.0} % interval]", fit.level * 100.0),
        "events",
        "d.effect",
        "fitted model",
        "ratio"
    );
    out.push_str("fitted:\n");
    for p in &fit.fitted {
        out.push_str(&point_line(p, false));
        out.push('\n');
    }
    out.push_str("held out (not fitted, predicted):\n");
    for p in &fit.held_out {
        out.push_str(&point_line(p, true));
        out.push('\n');
    }
    out.push_str(&held_out_sentence(fit));
    out
}

/// Comment lines for the fitted scenario's header.
pub fn score_fit_header(fit: &ScoreFit) -> String {
    let mut out = format!("# Fitted to {}\n", data_sentence(fit));
    for (what, points) in [("fitted", &fit.fitted), ("held out", &fit.held_out)] {
        for p in points {
            out.push_str(&format!(
                "#   {what} at {}: observed FMR {:e} [{:e}, {:e}] ({} events, design effect {:.3}), fitted model {:e}\n",
                p.threshold,
                p.fmr,
                p.lower,
                p.upper,
                p.events,
                p.design_effect,
                p.predicted
            ));
        }
    }
    out.push_str(&format!("# {}\n", held_out_sentence(fit)));
    out
}
