//! The screened generator (`[search] generator = 2`): the same law as generator 1, without
//! drawing the capture noise of detections that no probe can see.
//!
//! A gallery capture is `x = sqrt(1 - s^2) t_i (+) s eta` with the noise direction `eta`
//! uniform on the unit sphere of the noise block (n dimensions). Quantized, probe j's integer
//! score splits by blocks into a part that the identity fixes and a noise part:
//!
//! ```text
//! score_j = A_ij + N_j,    A_ij = q_head(x) . q_head(p_j)          (demographic and identity blocks)
//!                          N_j  = q(s eta) . Q_j                    (noise block, Q_j = q_noise(p_j))
//! q(s eta) = 32767 s eta + delta, |delta_k| <= 1/2   =>   N_j <= 32767 s |Q_j| (eta . u_j) + E_j,
//!                                                        u_j = Q_j / |Q_j|,  E_j = sum_k |Q_jk| / 2
//! ```
//!
//! So a detection can reach probe j's screening score `t_j` (the lowest threshold, or the
//! lowest score of the probe's mate, whichever is lower) only if eta lies in the cap
//! `eta . u_j >= z_ij = (t_j - A_ij - E_j) / (32767 s |Q_j|)`. Outside the union U of these
//! caps a detection scores below `t_j` for every probe: it enters no count, no candidate list
//! and no mate's rank, and it is never drawn. The cosine of a uniform direction with a fixed
//! one has `(1 + c) / 2 ~ Beta((n - 1) / 2, (n - 1) / 2)`, so each cap's share of the sphere
//! is a Beta tail `S(z)`.
//!
//! Per identity (its template drawn exactly as in generator 1), each cap is widened to a grid
//! point `w_ij <= z_ij` (steps of 1/4096; caps beyond the point `w_far`, where all probes'
//! caps together cover a share 1e-4 of the sphere, are widened to `w_far`) and
//! `Q_i = sum_j S(w_ij)`. Each detection is then drawn, exactly, as a uniform direction
//! restricted to the union of the widened caps, or not at all:
//!
//! 1. with probability `Q_i` it is *proposed*: cap j is chosen with probability `S(w_ij) / Q_i`
//!    and eta drawn uniformly in it (the cosine from the cap's law, the rest uniform on the
//!    orthogonal sphere);
//! 2. a proposal is kept with probability `1 / c(eta)`, c the number of widened caps that hold
//!    eta.
//!
//! A detection is then kept with eta in any set B with probability
//! `sum_j integral over B and cap j of dsigma / c = sigma(B and U)`: eta's law restricted to
//! U, and "not drawn" has the probability of eta outside U. Identities where `Q_i >= 1/4`,
//! and the mates of mated probes, are drawn in full, as in generator 1. The membership counts
//! use the integer scores the search computes anyway (the bound above decides all but a thin
//! band, where the floating-point cosine decides).
//!
//! What this cannot give: a probe's top-K list, or its highest non-mate score, when fewer
//! than K non-mate detections reach its screening score. The run checks this at the end and
//! fails rather than report a list with holes ([`ScreenShortfall`]).

use super::{GalleryLayout, IDENTITY_BLOCK, Population};
use crate::rng::Stream;
use crate::search::{Kernel, ProbeSet, Sparse, Thresholds, Tile};
use crate::tally::Tally;
use ndarray::Array2;

/// Grid steps per unit of cosine for the widened caps (a power of two: grid points are exact).
const GRID: f64 = 4096.0;
/// Share of the sphere that the caps widened to `w_far` may cover together, per detection.
const FAR_SHARE: f64 = 1e-4;
/// An identity whose caps cover this share of the sphere or more is drawn in full.
const FULL_SHARE: f64 = 0.25;

/// A probe that generator 2 could not complete: fewer than K non-mate detections reached its
/// screening score, so its candidate list (or highest non-mate score) would have holes.
#[derive(Debug, thiserror::Error)]
#[error(
    "replicate {replicate}, probe {probe}: generator 2 (screened) draws only detections that can score {screening:.4} or more for a probe, and this probe's candidate list of {k} is not filled by them ({found} found); run this scenario with [search] generator = 1"
)]
pub struct ScreenShortfall {
    /// Replicate.
    pub replicate: u32,
    /// Probe index.
    pub probe: usize,
    /// The probe's screening score.
    pub screening: f64,
    /// Candidate list length.
    pub k: usize,
    /// Candidates found at or above the screening score.
    pub found: usize,
}

/// Everything the screened generator needs about the probes of one replicate.
#[derive(Clone, Debug)]
pub struct Screen {
    m: usize,
    head_dim: usize,
    noise_dim: usize,
    /// Probes' demographic and identity blocks, `[d * m + j]`.
    head: Vec<i32>,
    /// Probe rows, for scoring proposals.
    probes: Array2<i16>,
    /// `t_j - E_j` (t_j the probe's screening score), and `1 / (32767 s |Q_j|)`, per probe.
    offset: Vec<f64>,
    inv_scale: Vec<f64>,
    /// `E_j * inv_scale_j`: the half-width of the band where the integer score leaves
    /// membership of a cap open.
    band: Vec<f64>,
    /// Below this identity score a probe's cap is surely widened to `w_far`.
    near_from: Vec<i64>,
    /// Unit noise directions `u_j`, `[j * n + k]`.
    u: Vec<f64>,
    /// Gallery capture noise.
    level: f64,
    /// Cap shares `S(-1 + i / GRID)` for `i` in `0..=far`.
    share: Vec<f64>,
    far: usize,
    /// Mates of mated probes, sorted.
    mates: Vec<u64>,
    /// Some probe has no noise at all: every identity is drawn in full.
    all_full: bool,
}

/// How one identity is drawn.
enum Plan {
    /// Every detection, as generator 1 draws it.
    Full,
    /// Each detection proposed with probability `q`.
    Screen { q: f64, near_share: f64 },
}

/// A proposed detection awaiting its membership count.
struct Proposal {
    row: usize,
    slot: usize,
    cap: usize,
    keep: f64,
}

/// The rows a tile has drawn so far (in full or proposed), with each row's identity, group
/// and gallery entry.
#[derive(Default)]
struct Drawn {
    rows: Vec<i16>,
    identity: Vec<u64>,
    group: Vec<u16>,
    entry: Vec<u64>,
}

impl Drawn {
    fn push(&mut self, row: &[i16], identity: u64, group: u16, entry: u64) {
        self.rows.extend_from_slice(row);
        self.identity.push(identity);
        self.group.push(group);
        self.entry.push(entry);
    }
}

/// One screened identity's caps: its identity scores and the probes whose caps are not at
/// `w_far` (probe, grid index), ascending.
struct Caps {
    a: Vec<i32>,
    near: Vec<(usize, usize)>,
}

impl Screen {
    /// The screen of a replicate's probes at `thresholds`.
    pub fn new(population: &Population<'_>, probes: &ProbeSet, thresholds: &Thresholds) -> Self {
        let s = population.scenario();
        let m = probes.embeddings.nrows();
        let head_dim = s.demographic_dim() + s.effective_dim();
        let noise_dim = s.noise_dim();
        let level = s.captures()[s.gallery_capture()].noise_min;
        let t_min = thresholds.q.first().copied().unwrap_or(i32::MAX);
        let mut head = vec![0i32; head_dim * m];
        let mut u = vec![0.0; m * noise_dim];
        let (mut offset, mut inv_scale, mut band) = (vec![], vec![], vec![]);
        let mut all_full = false;
        for (j, row) in probes.embeddings.rows().into_iter().enumerate() {
            let row = row.as_slice().expect("contiguous row");
            for (d, &q) in row[..head_dim].iter().enumerate() {
                head[d * m + j] = i32::from(q);
            }
            let t = Self::screening_score(t_min, probes.mate[j].as_ref());
            let noise = &row[head_dim..];
            let norm = noise
                .iter()
                .map(|&q| f64::from(q).powi(2))
                .sum::<f64>()
                .sqrt();
            // The bound on the rounding term, with room for the floating-point products.
            let e =
                noise.iter().map(|&q| f64::from(q).abs()).sum::<f64>() * 0.5 * (1.0 + 1e-9) + 1.0;
            let scale = crate::quantize::QUANT_SCALE * level * norm;
            if norm == 0.0 || scale == 0.0 {
                all_full = true;
            } else {
                for (o, &q) in u[j * noise_dim..(j + 1) * noise_dim].iter_mut().zip(noise) {
                    *o = f64::from(q) / norm;
                }
            }
            // (Infinite where scale is 0, and then unused: every identity is drawn in full.)
            offset.push(f64::from(t) - e);
            inv_scale.push(1.0 / scale);
            band.push(e / scale);
        }
        let a = (noise_dim as f64 - 1.0) / 2.0;
        let mut share = Vec::new();
        let mut far = 0;
        for i in 0..(2.0 * GRID) as usize {
            let w = -1.0 + i as f64 / GRID;
            let sh = crate::special::beta_inc(a, a, (1.0 + w) / 2.0).1;
            share.push(sh);
            far = i;
            if m as f64 * sh <= FAR_SHARE {
                break;
            }
        }
        let w_far = -1.0 + far as f64 / GRID;
        // z >= w_far + 2 / GRID surely floors to `far` or beyond.
        let near_from: Vec<i64> = (0..m)
            .map(|j| (offset[j] - (w_far + 2.0 / GRID) / inv_scale[j]).floor() as i64)
            .collect();
        let mut mates: Vec<u64> = probes.mate.iter().flatten().map(|m| m.identity).collect();
        mates.sort_unstable();
        mates.dedup();
        Self {
            m,
            head_dim,
            noise_dim,
            head,
            probes: probes.embeddings.clone(),
            offset,
            inv_scale,
            band,
            near_from,
            u,
            level,
            share,
            far,
            mates,
            all_full,
        }
    }

    /// A probe's screening score: the lowest threshold, or its mate's lowest score if lower.
    pub fn screening_score(t_min: i32, mate: Option<&crate::search::Mate>) -> i32 {
        mate.and_then(|m| m.detections.iter().map(|d| d.1).min())
            .map_or(t_min, |lowest| lowest.min(t_min))
    }

    /// Refuses a finished replicate whose candidate lists the screen cannot have filled.
    ///
    /// # Errors
    /// [`ScreenShortfall`] for the first probe whose K-th candidate or highest non-mate score
    /// lies below its screening score.
    pub fn check(
        replicate: u32,
        probes: &ProbeSet,
        thresholds: &Thresholds,
        tally: &Tally,
    ) -> Result<(), ScreenShortfall> {
        let t_min = thresholds.q.first().copied().unwrap_or(i32::MAX);
        for (p, t) in tally.probes.iter().enumerate() {
            let screening = Self::screening_score(t_min, probes.mate[p].as_ref());
            let found = t.top.iter().filter(|c| c.score >= screening).count();
            if found < tally.k || t.max_nonmate < screening {
                return Err(ScreenShortfall {
                    replicate,
                    probe: p,
                    screening: crate::quantize::score_value(screening),
                    k: tally.k,
                    found,
                });
            }
        }
        Ok(())
    }

    /// The grid index of probe j's widened cap for an identity scoring `a` on it.
    #[inline]
    fn cap(&self, j: usize, a: i32) -> usize {
        let z = (self.offset[j] - f64::from(a)) * self.inv_scale[j] - 1e-9;
        let i = ((z + 1.0) * GRID).floor();
        if i <= 0.0 {
            0
        } else {
            (i as usize).min(self.far)
        }
    }

    /// The cosine of grid index `i`.
    #[inline]
    fn cosine(i: usize) -> f64 {
        -1.0 + i as f64 / GRID
    }

    /// Scores the identity's head on every probe into `caps.a`, and chooses how to draw it.
    fn plan(&self, i: u64, head: &[i16], caps: &mut Caps) -> Plan {
        if self.all_full || self.mates.binary_search(&i).is_ok() {
            return Plan::Full;
        }
        let m = self.m;
        caps.a.clear();
        caps.a.resize(m, 0);
        head_scores(head, &self.head, &mut caps.a);
        caps.near.clear();
        let mut near_share = 0.0;
        for j in 0..m {
            if i64::from(caps.a[j]) >= self.near_from[j] {
                let c = self.cap(j, caps.a[j]);
                if c < self.far {
                    caps.near.push((j, c));
                    near_share += self.share[c];
                }
            }
        }
        let q = near_share + (m - caps.near.len()) as f64 * self.share[self.far];
        if q >= FULL_SHARE {
            Plan::Full
        } else {
            Plan::Screen { q, near_share }
        }
    }

    /// Draws one proposal's noise direction into `eta` from the entry's stream: the cap
    /// (with probability `S(w_j) / q`), the cosine, the rest of the direction. Returns the
    /// cap's probe and the uniform that decides keeping it.
    fn propose(
        &self,
        rng: &mut Stream,
        caps: &Caps,
        q: f64,
        near_share: f64,
        eta: &mut [f64],
    ) -> (usize, f64) {
        let v = rng.uniform() * q;
        let (j, c) = if v < near_share {
            let mut left = v;
            let mut pick = *caps.near.last().expect("near_share > 0 has a near cap");
            for &(j, c) in &caps.near {
                if left < self.share[c] {
                    pick = (j, c);
                    break;
                }
                left -= self.share[c];
            }
            pick
        } else {
            let far_count = self.m - caps.near.len();
            let k = (((v - near_share) / self.share[self.far]) as usize).min(far_count - 1);
            (kth_outside(&caps.near, k), self.far)
        };
        let cosine = cap_cosine(rng, self.noise_dim, Self::cosine(c));
        let u = &self.u[j * self.noise_dim..(j + 1) * self.noise_dim];
        rng.unit_vector(eta);
        let along: f64 = eta.iter().zip(u).map(|(e, u)| e * u).sum();
        eta.iter_mut().zip(u).for_each(|(e, u)| *e -= along * u);
        let norm = eta.iter().map(|e| e * e).sum::<f64>().sqrt();
        let side = (1.0 - cosine * cosine).max(0.0).sqrt() / norm;
        eta.iter_mut()
            .zip(u)
            .for_each(|(e, u)| *e = cosine * u + side * *e);
        (j, rng.uniform())
    }

    /// Generates the tile of a range of identity blocks: every identity's template and size,
    /// and the rows of the detections drawn (see the module docs).
    pub fn generate(
        &self,
        population: &Population<'_>,
        layout: &GalleryLayout,
        blocks: std::ops::Range<u64>,
    ) -> Tile {
        let s = population.scenario();
        let (dim, n_groups) = (s.dim(), s.n_groups());
        let first_entry = layout.block_start[blocks.start as usize];
        let mut drawn = Drawn::default();
        let mut sparse = Sparse {
            entry: Vec::new(),
            entries_per_group: vec![0; n_groups],
            identities: Vec::new(),
        };
        let mut identities_per_group = vec![0u64; n_groups];
        let mut row = vec![0i16; dim];
        let mut noise = vec![0.0; s.noise_dim()];
        let mut proposals: Vec<Proposal> = Vec::new();
        let mut slots: Vec<Caps> = Vec::new();
        let mut etas: Vec<f64> = Vec::new();
        let mut caps = Caps {
            a: Vec::new(),
            near: Vec::new(),
        };
        let mut e = first_entry;
        for i in blocks.start * IDENTITY_BLOCK..(blocks.end * IDENTITY_BLOCK).min(layout.identities)
        {
            if e >= layout.detections {
                break;
            }
            let (count, template, mut rng) = population.gallery_identity_stream(i);
            let count = count.min(layout.detections - e);
            let g = template.group;
            sparse.identities.push((i, g, count));
            sparse.entries_per_group[usize::from(g)] += count;
            identities_per_group[usize::from(g)] += 1;
            population.fill_head(&template, self.level, &mut row[..self.head_dim]);
            match self.plan(i, &row[..self.head_dim], &mut caps) {
                Plan::Full => {
                    for d in 0..count {
                        population.capture(&template, true, e + d, &mut row, &mut noise);
                        drawn.push(&row, i, g, e + d);
                    }
                }
                Plan::Screen { q, near_share } => {
                    let mut slot = None;
                    for d in 0..count {
                        if rng.uniform() >= q {
                            continue;
                        }
                        let mut stream = population.gallery_capture_stream(e + d);
                        let (cap, keep) =
                            self.propose(&mut stream, &caps, q, near_share, &mut noise);
                        population.fill_row(&template, self.level, &noise, &mut row);
                        let slot = *slot.get_or_insert_with(|| {
                            slots.push(Caps {
                                a: caps.a.clone(),
                                near: caps.near.clone(),
                            });
                            slots.len() - 1
                        });
                        proposals.push(Proposal {
                            row: drawn.entry.len(),
                            slot,
                            cap,
                            keep,
                        });
                        etas.extend_from_slice(&noise);
                        drawn.push(&row, i, g, e + d);
                    }
                }
            }
            e += count;
        }
        let kept = self.keep(&drawn.rows, dim, &proposals, &slots, &etas);
        let mut out = Vec::with_capacity(drawn.rows.len());
        let (mut ids, mut groups) = (Vec::new(), Vec::new());
        for (r, keep) in kept.iter().enumerate() {
            if *keep {
                out.extend_from_slice(&drawn.rows[r * dim..(r + 1) * dim]);
                ids.push(drawn.identity[r]);
                groups.push(drawn.group[r]);
                sparse.entry.push(drawn.entry[r]);
            }
        }
        Tile {
            first_entry,
            embeddings: Array2::from_shape_vec((ids.len(), dim), out)
                .expect("rows of the tile's dimension"),
            identity: ids,
            group: groups,
            identities_per_group,
            sparse: Some(sparse),
        }
    }

    /// Which rows stay: every row drawn in full, and each proposal with probability
    /// `1 / c(eta)`, c counted from the integer scores where they decide it.
    fn keep(
        &self,
        rows: &[i16],
        dim: usize,
        proposals: &[Proposal],
        slots: &[Caps],
        etas: &[f64],
    ) -> Vec<bool> {
        let n_rows = rows.len() / dim.max(1);
        let mut kept = vec![true; n_rows];
        if proposals.is_empty() {
            return kept;
        }
        // Proposal rows, scored against every probe.
        let mut packed = Vec::with_capacity(proposals.len() * dim);
        for p in proposals {
            packed.extend_from_slice(&rows[p.row * dim..(p.row + 1) * dim]);
        }
        let kernel = Kernel::detect();
        let mut scores = vec![0i32; self.m * proposals.len()];
        let mut out = Vec::new();
        for j in 0..self.m {
            let probe = self.probes.row(j);
            kernel.score_rows(
                &packed,
                dim,
                probe.as_slice().expect("contiguous row"),
                &mut out,
            );
            for (r, &sc) in out.iter().enumerate() {
                scores[r * self.m + j] = sc;
            }
        }
        let n = self.noise_dim;
        for (r, p) in proposals.iter().enumerate() {
            let caps = &slots[p.slot];
            let eta = &etas[r * n..(r + 1) * n];
            let mut count = 1u32;
            let mut near = caps.near.iter().peekable();
            for j in 0..self.m {
                let c = match near.peek() {
                    Some(&&(k, c)) if k == j => {
                        near.next();
                        c
                    }
                    _ => self.far,
                };
                if j == p.cap {
                    continue;
                }
                let w = Self::cosine(c);
                let noise_score = f64::from(scores[r * self.m + j] - caps.a[j]);
                let centre = noise_score * self.inv_scale[j];
                let inside = if centre - self.band[j] >= w {
                    true
                } else if centre + self.band[j] < w {
                    false
                } else {
                    let u = &self.u[j * n..(j + 1) * n];
                    eta.iter().zip(u).map(|(e, u)| e * u).sum::<f64>() >= w
                };
                count += u32::from(inside);
            }
            kept[p.row] = p.keep * f64::from(count) < 1.0;
        }
        kept
    }
}

/// Draws a cosine from the law of `eta . u`, for `eta` uniform on the unit sphere of `n`
/// dimensions and `u` a unit vector, restricted to `[w, 1)`: density proportional to
/// `(1 - c^2)^nu`, `nu = (n - 3) / 2`.
fn cap_cosine(rng: &mut Stream, n: usize, w: f64) -> f64 {
    let n = n as f64;
    let nu = (n - 3.0) / 2.0;
    if nu < 1.0 || w * w * n < 1.0 {
        // Near the equator (or in few dimensions) the cap is a large share: draw the
        // cosine's whole law, (1 + c) / 2 ~ Beta(nu + 1, nu + 1), until it falls inside.
        loop {
            let c = 2.0 * rng.beta(nu + 1.0, nu + 1.0) - 1.0;
            if c >= w {
                return c;
            }
        }
    }
    // The log density is concave: its tangent at w bounds it, so c = w + Exp(lambda)
    // thinned by the ratio is exact.
    let lambda = 2.0 * nu * w / (1.0 - w * w);
    let at_w = nu * libm::log1p(-w * w);
    loop {
        let x = -libm::log(rng.uniform_open()) / lambda;
        let c = w + x;
        if c >= 1.0 {
            continue;
        }
        let ratio = nu * libm::log1p(-c * c) - at_w + lambda * x;
        if libm::log(rng.uniform_open()) <= ratio {
            return c;
        }
    }
}

/// Every probe's head score of one identity: `a[j] = sum_d head[d] * probes[d * m + j]`
/// (exact integers; compiled for AVX2 where the CPU has it and the search uses it, the same
/// sums either way).
fn head_scores(head: &[i16], probes: &[i32], a: &mut [i32]) {
    #[inline(always)]
    fn generic(head: &[i16], probes: &[i32], a: &mut [i32]) {
        let m = a.len();
        for (d, &q) in head.iter().enumerate() {
            let q = i32::from(q);
            for (a, &p) in a.iter_mut().zip(&probes[d * m..(d + 1) * m]) {
                *a += q * p;
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn avx2(head: &[i16], probes: &[i32], a: &mut [i32]) {
        generic(head, probes, a);
    }
    // The search's kernel choice (FALSEMATCH_KERNEL=portable forces the portable code here too).
    #[cfg(target_arch = "x86_64")]
    if Kernel::detect() != Kernel::Portable && crate::cpu::avx2() {
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2(head, probes, a) };
    }
    generic(head, probes, a);
}

/// The `k`-th (from 0) index that is not among the ascending probe indices of `near`.
fn kth_outside(near: &[(usize, usize)], mut k: usize) -> usize {
    let mut j = 0;
    for &(n, _) in near {
        if n <= j + k {
            k -= n - j;
            j = n + 1;
        } else {
            break;
        }
    }
    j + k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Domain, StreamKey};

    #[test]
    fn kth_outside_skips_the_near_probes() {
        let near: Vec<(usize, usize)> = [0, 2, 3, 7].iter().map(|&j| (j, 0)).collect();
        let outside: Vec<usize> = (0..12).filter(|j| ![0, 2, 3, 7].contains(j)).collect();
        for (k, &want) in outside.iter().enumerate() {
            assert_eq!(kth_outside(&near, k), want, "k = {k}");
        }
        assert_eq!(kth_outside(&[], 5), 5);
    }

    #[test]
    fn cap_cosines_follow_the_beta_tail_beyond_the_cap() {
        // Kolmogorov-Smirnov distance between 20,000 draws and the exact law of the cosine
        // given that it is at least w: F(y) = 1 - S(y) / S(w), S the Beta tail. Both branches
        // (whole law rejected near the equator; exponential tangent beyond) and few dimensions.
        let key = StreamKey::new(11, 0, Domain::GalleryCapture);
        for (case, &(n, w)) in [
            (491usize, 0.02),
            (491, 0.1),
            (491, 0.3),
            (20, 0.5),
            (3, 0.2),
        ]
        .iter()
        .enumerate()
        {
            let a = (n as f64 - 1.0) / 2.0;
            let tail = |y: f64| crate::special::beta_inc(a, a, (1.0 + y) / 2.0).1;
            let mut rng = key.stream(case as u64);
            let draws = 20_000;
            let mut c: Vec<f64> = (0..draws).map(|_| cap_cosine(&mut rng, n, w)).collect();
            c.sort_by(f64::total_cmp);
            assert!(c[0] >= w && c[draws - 1] < 1.0);
            let (s_w, mut ks) = (tail(w), 0.0f64);
            for (i, &y) in c.iter().enumerate() {
                let f = 1.0 - tail(y) / s_w;
                ks = ks.max((f - i as f64 / draws as f64).abs());
                ks = ks.max((f - (i + 1) as f64 / draws as f64).abs());
            }
            // 1.95 / sqrt(draws) is the KS test's 0.1 % critical value.
            assert!(
                ks < 1.95 / (draws as f64).sqrt(),
                "n = {n}, w = {w}: KS {ks}"
            );
        }
    }
}
