//! 1:1 (verification) metrics from sorted genuine and impostor scores, in one merged pass.
//!
//! ```text
//! FMR(t)  = #{impostor scores >= t} / #impostor        (a comparison matches when score >= t)
//! FNMR(t) = #{genuine scores  <  t} / #genuine
//! threshold for a target FMR: the lowest impostor score t with FMR(t) <= target (never the
//!     nearest); when even the highest impostor score gives FMR > target, the next float above
//!     it (FMR = 0)                                              -- bob.measure far_threshold
//! EER: over t in {every distinct score} and +inf, the t minimizing |FMR(t) - FNMR(t)| (exact
//!     integer comparison; ties go to the higher threshold, except +inf and any t at which one
//!     class is already wholly below, which must be strictly better); EER = (FMR + FNMR) / 2
//!     there                                                          -- bob.measure eer
//! DET: (FMR, FNMR) at distinct scores, thinned to points at least 0.02 apart on the
//!     normal-deviate scale (the first and last always kept)
//! ```
//!
//! Conventions where the reference libraries differ: pyeer takes the EER from the first
//! threshold where FMR <= FNMR and its predecessor (the one with the lower FMR + FNMR); its
//! value can differ from bob.measure's when the curves cross between scores. falsematch
//! follows bob.measure, and tests/parity.rs checks that against bob.measure's own output.

use super::interval::Estimate;
use crate::scenario::Threshold;
use crate::special::normal_quantile;
use serde::{Deserialize, Serialize};
use std::io;

/// FMR and FNMR at one named threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationRow {
    /// Threshold label.
    pub threshold: String,
    /// Raw score threshold.
    pub score: f64,
    /// FMR (None without impostor scores).
    pub fmr: Option<Estimate>,
    /// FNMR (None without genuine scores).
    pub fnmr: Option<Estimate>,
}

/// The operating point for a target FMR.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    /// Target FMR.
    pub target: f64,
    /// The threshold: FMR there is at most the target.
    pub threshold: f64,
    /// FMR at the threshold.
    pub fmr: Estimate,
    /// FNMR at the threshold (None without genuine scores).
    pub fnmr: Option<Estimate>,
}

/// The equal error rate, bob.measure's convention.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Eer {
    /// (FMR + FNMR) / 2 at the threshold.
    pub eer: f64,
    /// Threshold: a candidate is accepted when score >= threshold.
    pub threshold: f64,
    /// FMR there.
    pub fmr: f64,
    /// FNMR there.
    pub fnmr: f64,
}

/// One DET point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatePoint {
    /// Threshold.
    pub score: f64,
    /// FMR at it.
    pub fmr: f64,
    /// FNMR at it.
    pub fnmr: f64,
}

/// Verification metrics for one slice (all comparisons, or one probe group).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationSlice {
    /// "all" or the probe group.
    pub probe_group: String,
    /// Genuine (mated) comparisons.
    pub genuine: u64,
    /// Impostor (non-mated) comparisons.
    pub impostor: u64,
    /// FMR and FNMR at each named threshold, ascending.
    pub thresholds: Vec<VerificationRow>,
    /// Operating points for target FMRs, in the order asked.
    pub target_fmr: Vec<TargetRow>,
    /// EER, when both classes have scores.
    pub eer: Option<Eer>,
    /// DET points, ascending threshold.
    pub det: Vec<RatePoint>,
}

/// Minimum distance on the normal-deviate scale between kept DET points.
const DET_SPACING: f64 = 0.02;

/// Best EER candidate so far: |FMR - FNMR| numerator over n_imp x n_gen, threshold, counts.
struct EerCandidate {
    gap: u128,
    threshold: f64,
    false_matches: u64,
    false_non_matches: u64,
}

/// The EER and DET curve as a merge of the two score streams passes each distinct score.
struct Curves {
    n_gen: u64,
    n_imp: u64,
    /// Best EER candidate so far.
    best: Option<EerCandidate>,
    /// DET points kept so far, and the probits of the last one.
    det: Vec<RatePoint>,
    last_kept: (f64, f64),
}

impl Curves {
    fn new(n_gen: u64, n_imp: u64) -> Self {
        Self {
            n_gen,
            n_imp,
            best: None,
            det: Vec::new(),
            last_kept: (f64::NAN, f64::NAN),
        }
    }

    /// Both streams are non-empty (otherwise there is no EER and no DET).
    fn both(&self) -> bool {
        self.n_gen > 0 && self.n_imp > 0
    }

    /// Offers `threshold` with `fm` false matches and `fnm` false non-matches as the EER
    /// threshold: kept if |FMR - FNMR| is smaller (or equal, unless `strict`).
    fn offer(&mut self, threshold: f64, fm: u64, fnm: u64, strict: bool) {
        if !self.both() {
            return;
        }
        let gap = (u128::from(fm) * u128::from(self.n_gen))
            .abs_diff(u128::from(fnm) * u128::from(self.n_imp));
        let better = match &self.best {
            None => true,
            Some(b) => gap < b.gap || (!strict && gap == b.gap),
        };
        if better {
            self.best = Some(EerCandidate {
                gap,
                threshold,
                false_matches: fm,
                false_non_matches: fnm,
            });
        }
    }

    /// Keeps the DET point at `score` if it moves at least `DET_SPACING` in probit on either
    /// axis from the last one kept.
    fn det_point(&mut self, score: f64, fm: u64, fnm: u64) {
        if !self.both() {
            return;
        }
        let probit = |events: u64, n: u64| {
            let n = n.max(1) as f64;
            normal_quantile((events as f64).clamp(0.5, n - 0.5) / n)
        };
        let p = (probit(fm, self.n_imp), probit(fnm, self.n_gen));
        if self.det.is_empty()
            || (p.0 - self.last_kept.0).abs() >= DET_SPACING
            || (p.1 - self.last_kept.1).abs() >= DET_SPACING
        {
            self.det.push(RatePoint {
                score,
                fmr: fm as f64 / self.n_imp as f64,
                fnmr: fnm as f64 / self.n_gen as f64,
            });
            self.last_kept = p;
        }
    }

    /// Past the highest score: FMR 0 and FNMR 1, as a DET point and an EER candidate.
    fn beyond(&mut self, max_score: f64) {
        if !self.both() {
            return;
        }
        let beyond = max_score.next_up();
        if self
            .det
            .last()
            .is_some_and(|p| p.fmr != 0.0 || p.fnmr != 1.0)
        {
            self.det.push(RatePoint {
                score: beyond,
                fmr: 0.0,
                fnmr: 1.0,
            });
        }
        self.offer(beyond, 0, self.n_gen, true);
    }
}

/// Computes the metrics of one slice from ascending score streams with `n_genuine` and
/// `n_impostor` scores.
///
/// # Errors
/// When a stream cannot be read (its temporary file failed).
#[allow(clippy::too_many_arguments)]
pub fn verification(
    probe_group: &str,
    genuine: impl Iterator<Item = io::Result<f64>>,
    n_genuine: u64,
    impostor: impl Iterator<Item = io::Result<f64>>,
    n_impostor: u64,
    thresholds: &[Threshold],
    targets: &[f64],
    level: f64,
) -> io::Result<VerificationSlice> {
    let (n_gen, n_imp) = (n_genuine, n_impostor);
    let mut gen_it = genuine.peekable();
    let mut imp_it = impostor.peekable();
    let (mut gen_below, mut imp_below) = (0u64, 0u64);
    let mut at_threshold: Vec<(u64, u64)> = Vec::with_capacity(thresholds.len());
    let mut resolved: Vec<Option<(f64, u64, u64)>> = vec![None; targets.len()];
    let mut gen_at_max_impostor = 0u64;
    let mut max_impostor = f64::NEG_INFINITY;
    let mut max_score = f64::NEG_INFINITY;
    let mut curves = Curves::new(n_gen, n_imp);
    loop {
        let g = gen_it
            .peek()
            .map(|r| r.as_ref().map(|&x| x).map_err(|e| e.kind()));
        let i = imp_it
            .peek()
            .map(|r| r.as_ref().map(|&x| x).map_err(|e| e.kind()));
        let (g, i) = match (g, i) {
            (Some(Err(_)), _) => return Err(gen_it.next().and_then(Result::err).expect("error")),
            (_, Some(Err(_))) => return Err(imp_it.next().and_then(Result::err).expect("error")),
            (g, i) => (g.map(Result::unwrap), i.map(Result::unwrap)),
        };
        let v = match (g, i) {
            (None, None) => break,
            (Some(a), None) | (None, Some(a)) => a,
            (Some(a), Some(b)) => a.min(b),
        };
        while at_threshold.len() < thresholds.len() && thresholds[at_threshold.len()].score <= v {
            at_threshold.push((imp_below, gen_below));
        }
        let fm = n_imp - imp_below;
        let fnm = gen_below;
        curves.offer(v, fm, fnm, imp_below == n_imp || gen_below == n_gen);
        let is_impostor = i == Some(v);
        if is_impostor {
            for (r, &target) in resolved.iter_mut().zip(targets) {
                if r.is_none() && fm as f64 / n_imp as f64 <= target {
                    *r = Some((v, fm, fnm));
                }
            }
        }
        curves.det_point(v, fm, fnm);
        while gen_it.next_if(|r| matches!(r, Ok(x) if *x == v)).is_some() {
            gen_below += 1;
        }
        while imp_it.next_if(|r| matches!(r, Ok(x) if *x == v)).is_some() {
            imp_below += 1;
        }
        max_score = v;
        if is_impostor && imp_below == n_imp {
            gen_at_max_impostor = gen_below;
            max_impostor = v;
        }
    }
    while at_threshold.len() < thresholds.len() {
        at_threshold.push((imp_below, gen_below));
    }
    curves.beyond(max_score);
    let Curves { best, det, .. } = curves;
    let fmr_of = |fm: u64| (n_imp > 0).then(|| Estimate::proportion(fm, n_imp, level));
    let fnmr_of = |fnm: u64| (n_gen > 0).then(|| Estimate::proportion(fnm, n_gen, level));
    Ok(VerificationSlice {
        probe_group: probe_group.into(),
        genuine: n_gen,
        impostor: n_imp,
        thresholds: thresholds
            .iter()
            .zip(&at_threshold)
            .map(|(t, &(imp_below, gen_below))| VerificationRow {
                threshold: t.label.clone(),
                score: t.score,
                fmr: fmr_of(n_imp - imp_below),
                fnmr: fnmr_of(gen_below),
            })
            .collect(),
        target_fmr: if n_imp == 0 {
            Vec::new()
        } else {
            targets
                .iter()
                .zip(&resolved)
                .map(|(&target, r)| {
                    let (threshold, fm, fnm) =
                        r.unwrap_or((max_impostor.next_up(), 0, gen_at_max_impostor));
                    TargetRow {
                        target,
                        threshold,
                        fmr: Estimate::proportion(fm, n_imp, level),
                        fnmr: fnmr_of(fnm),
                    }
                })
                .collect()
        },
        eer: best.map(|b| {
            let fmr = b.false_matches as f64 / n_imp as f64;
            let fnmr = b.false_non_matches as f64 / n_gen as f64;
            Eer {
                eer: (fmr + fnmr) / 2.0,
                threshold: b.threshold,
                fmr,
                fnmr,
            }
        }),
        det,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        genuine: &[f64],
        impostor: &[f64],
        thresholds: &[f64],
        targets: &[f64],
    ) -> VerificationSlice {
        let mut g = genuine.to_vec();
        let mut i = impostor.to_vec();
        g.sort_by(f64::total_cmp);
        i.sort_by(f64::total_cmp);
        let named: Vec<Threshold> = thresholds
            .iter()
            .map(|&score| Threshold {
                label: format!("{score}"),
                score,
                origin: "raw".into(),
            })
            .collect();
        verification(
            "all",
            g.into_iter().map(Ok),
            genuine.len() as u64,
            i.into_iter().map(Ok),
            impostor.len() as u64,
            &named,
            targets,
            0.95,
        )
        .unwrap()
    }

    #[test]
    fn hand_computed_rates_targets_and_eer() {
        // Impostors 0.1 0.2 0.3 0.4 0.5, genuine 0.35 0.45 0.6 0.8.
        let s = run(
            &[0.35, 0.45, 0.6, 0.8],
            &[0.1, 0.2, 0.3, 0.4, 0.5],
            &[0.3, 0.45, 0.9],
            &[0.2, 0.1, 0.0],
        );
        let rates: Vec<(u64, u64)> = s
            .thresholds
            .iter()
            .map(|r| {
                (
                    r.fmr.as_ref().unwrap().events,
                    r.fnmr.as_ref().unwrap().events,
                )
            })
            .collect();
        // >= 0.3: impostors 0.3 0.4 0.5; < 0.3: no genuine. >= 0.45: 0.5; < 0.45: 0.35.
        assert_eq!(rates, vec![(3, 0), (1, 1), (0, 4)]);
        // FMR <= 0.2 first at 0.5 (1/5); FMR <= 0.1 only above every impostor.
        assert_eq!(s.target_fmr[0].threshold, 0.5);
        assert_eq!(s.target_fmr[0].fmr.events, 1);
        assert_eq!(s.target_fmr[1].threshold, 0.5f64.next_up());
        assert_eq!(s.target_fmr[1].fmr.events, 0);
        assert_eq!(s.target_fmr[1].fnmr.as_ref().unwrap().events, 2);
        assert_eq!(s.target_fmr[2].threshold, 0.5f64.next_up());
        // |FMR - FNMR| at 0.4: 2/5 vs 1/4 -> 3/20; at 0.45: 1/5 vs 1/4 -> 1/20; at 0.5: 1/5 vs
        // 2/4 -> 6/20. Minimum at 0.45.
        let eer = s.eer.unwrap();
        assert_eq!(eer.threshold, 0.45);
        assert_eq!((eer.fmr, eer.fnmr), (0.2, 0.25));
        assert_eq!(eer.eer, 0.225);
    }

    #[test]
    fn ties_count_on_both_sides_as_bob_measure_does() {
        // A genuine and an impostor both at 0.5: at t = 0.5 the impostor is a false match and
        // the genuine is accepted.
        let s = run(&[0.5, 0.9], &[0.5, 0.1], &[0.5], &[]);
        assert_eq!(s.thresholds[0].fmr.as_ref().unwrap().events, 1);
        assert_eq!(s.thresholds[0].fnmr.as_ref().unwrap().events, 0);
    }

    #[test]
    fn separable_scores_have_zero_eer_and_a_det_reaching_both_ends() {
        let s = run(&[0.8, 0.9], &[0.1, 0.2, 0.3], &[], &[0.0]);
        let eer = s.eer.unwrap();
        assert_eq!((eer.eer, eer.threshold), (0.0, 0.8));
        assert_eq!(s.target_fmr[0].threshold, 0.3f64.next_up());
        assert_eq!(s.target_fmr[0].fnmr.as_ref().unwrap().events, 0);
        assert_eq!(s.det.first().map(|p| (p.fmr, p.fnmr)), Some((1.0, 0.0)));
        assert_eq!(s.det.last().map(|p| (p.fmr, p.fnmr)), Some((0.0, 1.0)));
    }

    #[test]
    fn one_class_only_gives_rates_for_that_class() {
        let s = run(&[], &[0.1, 0.2], &[0.15], &[0.5]);
        assert!(s.eer.is_none() && s.det.is_empty());
        assert_eq!(s.thresholds[0].fmr.as_ref().unwrap().events, 1);
        assert!(s.thresholds[0].fnmr.is_none());
        assert_eq!(s.target_fmr[0].threshold, 0.2);
    }
}
