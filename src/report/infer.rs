//! `infer`'s output: the printed text and the JSON document, from one typed
//! [`Inference`].

use crate::format::{count, level, mean, percent, rate};
use crate::pipeline::infer::{INFER_MODEL, Inference};
use std::fmt::Write as _;

/// A large count, rounded, with thousands separators.
fn big(x: f64) -> String {
    count(x.round() as u64)
}

/// The text `falsematch infer` prints.
pub fn text(inf: &Inference) -> String {
    let r = &inf.request;
    let lv = level(r.confidence_level);
    let (interval, dispersed) = (&inf.fmr, &inf.dispersed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} false candidates in {} search(es) of an archive of {} to {} detections:",
        count(r.candidates),
        count(r.searches),
        big(r.archive.0),
        big(r.archive.1)
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
            mean(e.mean_lower),
            mean(e.mean_upper)
        );
    }
    let _ = writeln!(
        out,
        "  {lv} interval {} to {} if every comparison matched independently (Poisson; per-search mean {} to {}): too narrow when people are seen several times",
        rate(interval.lower),
        rate(interval.upper),
        mean(inf.poisson_mean.0),
        mean(inf.poisson_mean.1)
    );
    for e in &inf.elsewhere {
        let _ = writeln!(
            out,
            "  {} ({} detections): {} to {} false candidates per search, FPIR {} to {}",
            e.name,
            big(e.entries),
            mean(e.false_candidates.0),
            mean(e.false_candidates.1),
            rate(e.fpir.0),
            rate(e.fpir.1)
        );
    }
    if let Some(w) = &inf.watchlist {
        let _ = writeln!(
            out,
            "  watchlist of {} people, {} faces a day: {} to {} false alerts a day",
            big(w.size),
            big(w.passers_per_day),
            mean(w.false_alerts_per_day.0),
            mean(w.false_alerts_per_day.1)
        );
    }
    if let Some(s) = &inf.shares {
        let _ = writeln!(
            out,
            "\nUnder {}'s model, the share of a {} probe's false candidates whose {} is not {}:",
            inf.model, s.probe_group, s.attribute, s.own
        );
        let _ = write!(out, "  {:<12}", "threshold");
        for n in &s.noise {
            let _ = write!(out, " {:>14}", format!("noise {n}"));
        }
        let _ = writeln!(out);
        for (row, t) in s.cells.chunks(s.noise.len().max(1)).zip(&s.thresholds) {
            let _ = write!(out, "  {t:<12}");
            for c in row {
                let _ = write!(out, " {:>14}", c.share.map_or("-".into(), percent));
            }
            let _ = writeln!(out);
        }
    }
    out
}

/// The JSON document `falsematch infer --out` writes.
pub fn json(inf: &Inference) -> Vec<u8> {
    let doc = serde_json::json!({
        "tool": {"name": "falsematch", "version": env!("CARGO_PKG_VERSION")},
        "fmr": inf.fmr,
        "fmr_dispersed": inf.dispersed,
        "elsewhere": inf.elsewhere,
        "watchlist": inf.watchlist,
        "other_share": inf.shares.as_ref().map_or(&[][..], |s| &s.cells[..]),
        "model": INFER_MODEL,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("an inference serializes");
    bytes.push(b'\n');
    bytes
}
