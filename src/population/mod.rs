//! The reference population model of MODEL.md sections 3-4, generated entry by entry from the seed.
//!
//! ```text
//! blocks of R^d:  [ demographic D | identity d_eff | capture noise d - D - d_eff ]
//! identity i in g:  t_i = sqrt(rho_i) u_g  (+)  sqrt(1 - rho_i) xi_i        xi_i uniform unit in the identity block
//! capture of i:     x   = sqrt(1 - s^2) t_i  (+)  s eta                      eta uniform unit in the noise block
//! stored:           q   = round(32767 x)  as int16                           (see `search` for the score)
//! ```
//!
//! The gallery is identity-major: identity 0's detections first, then identity 1's, and so on,
//! until exactly `gallery.detections` entries (the last identity is cut short if needed).
//! Identities are grouped in fixed blocks of [`IDENTITY_BLOCK`]; the [`GalleryLayout`] stores one
//! offset per block, so memory is O(N / 256) and any range of blocks (a *tile*) can be generated on
//! its own, by any thread, in any order, with the same bits.
//!
//! Draw order inside an identity's stream: class, count, group, rho, [with look-alikes: whether
//! the person has look-alikes, and which centre], xi. Inside a capture's stream: noise level,
//! eta. Changing either order changes every result (a value-stability test pins them).
//!
//! Look-alikes (`[tail]`): a share lambda of people sit near one of K shared centres nu_c
//! (each drawn from its own stream), `xi = sqrt(kappa) nu_c + sqrt(1 - kappa) zeta` with zeta
//! uniform orthogonal to nu_c. xi is still uniform on the sphere, so strangers who do not share
//! a centre score as before; two who do have identity cosine `kappa + (1 - kappa) c'`, c' the
//! cosine of two random directions in d_eff - 1 dims.

mod probes;
mod screened;

pub use probes::{NoEnrolledIdentity, draw_probes};
pub use screened::{Screen, ScreenShortfall};

use crate::quantize::{quantize, quantize_scaled_into};
use crate::rng::{Domain, Stream, StreamKey};
use crate::scenario::{CountDistribution, Scenario};
use crate::search::Tile;
use ndarray::Array2;
use rayon::prelude::*;

/// Identities per layout block (a fixed part of the generation scheme, not a tuning knob).
pub const IDENTITY_BLOCK: u64 = 256;
/// An identity's template, before capture.
#[derive(Clone, Debug)]
pub struct Template {
    /// Group index.
    pub group: u16,
    /// Concentration of this identity.
    pub rho: f64,
    /// Unit direction in the identity block (d_eff components).
    pub xi: Vec<f64>,
}

/// The model of one replicate: the scenario plus the keys of its random streams.
#[derive(Clone, Debug)]
pub struct Population<'a> {
    scenario: &'a Scenario,
    gallery_identity: StreamKey,
    gallery_capture: StreamKey,
    probe_identity: StreamKey,
    probe_capture: StreamKey,
    centre: StreamKey,
}

impl<'a> Population<'a> {
    /// The population of replicate `replicate`.
    pub fn new(scenario: &'a Scenario, replicate: u32) -> Self {
        let key = |d| StreamKey::new(scenario.seed(), u64::from(replicate), d);
        Self {
            scenario,
            gallery_identity: key(Domain::GalleryIdentity),
            gallery_capture: key(Domain::GalleryCapture),
            probe_identity: key(Domain::ProbeIdentity),
            probe_capture: key(Domain::ProbeCapture),
            centre: key(Domain::Centre),
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &'a Scenario {
        self.scenario
    }

    /// Draws class and detection count (the first draws of an identity's stream).
    fn draw_count(&self, rng: &mut Stream) -> u64 {
        let s = self.scenario;
        let class = &s.identity_classes()[rng.categorical(s.class_cumulative())];
        match class.distribution {
            CountDistribution::Fixed => class.mean_detections as u64,
            CountDistribution::Geometric => rng.geometric(class.mean_detections),
        }
    }

    /// Detections of gallery identity `i` before the gallery is cut at N.
    pub fn gallery_count(&self, i: u64) -> u64 {
        self.draw_count(&mut self.gallery_identity.stream(i))
    }

    /// Detection count and group of gallery identity `i`, without its template.
    pub fn gallery_header(&self, i: u64) -> (u64, u16) {
        let mut rng = self.gallery_identity.stream(i);
        let count = self.draw_count(&mut rng);
        let group = rng.categorical(self.scenario.gallery_group_cumulative()) as u16;
        (count, group)
    }

    /// Detection count and template of gallery identity `i`.
    pub fn gallery_identity(&self, i: u64) -> (u64, Template) {
        let mut rng = self.gallery_identity.stream(i);
        let count = self.draw_count(&mut rng);
        let group = rng.categorical(self.scenario.gallery_group_cumulative()) as u16;
        (count, self.draw_template(&mut rng, group))
    }

    /// Detection count and template of gallery identity `i`, with the rest of its stream (the
    /// screened generator draws on from where the template ends).
    pub(crate) fn gallery_identity_stream(&self, i: u64) -> (u64, Template, Stream) {
        let mut rng = self.gallery_identity.stream(i);
        let count = self.draw_count(&mut rng);
        let group = rng.categorical(self.scenario.gallery_group_cumulative()) as u16;
        let template = self.draw_template(&mut rng, group);
        (count, template, rng)
    }

    /// The stream of gallery detection `entry`.
    pub(crate) fn gallery_capture_stream(&self, entry: u64) -> Stream {
        self.gallery_capture.stream(entry)
    }

    /// Template of non-mated probe identity `j`, of group `group`.
    pub fn probe_identity(&self, j: u64, group: u16) -> Template {
        self.draw_template(&mut self.probe_identity.stream(j), group)
    }

    fn draw_template(&self, rng: &mut Stream, group: u16) -> Template {
        let g = &self.scenario.groups()[group as usize];
        let rho = match g.rho_concentration {
            Some(k) => rng.beta(g.rho * k, (1.0 - g.rho) * k).min(1.0 - 1e-12),
            None => g.rho,
        };
        let mut xi = vec![0.0; self.scenario.effective_dim()];
        match self.scenario.tail() {
            // A person with look-alikes sits near a shared centre nu:
            // xi = sqrt(kappa) nu + sqrt(1 - kappa) zeta, zeta uniform orthogonal to nu.
            Some(tail) if rng.uniform() < tail.share => {
                let c = rng.below(tail.groups);
                let mut nu = vec![0.0; xi.len()];
                self.centre.stream(c).unit_vector(&mut nu);
                rng.unit_vector(&mut xi);
                let along: f64 = xi.iter().zip(&nu).map(|(a, b)| a * b).sum();
                xi.iter_mut().zip(&nu).for_each(|(x, n)| *x -= along * n);
                let norm = xi.iter().map(|x| x * x).sum::<f64>().sqrt();
                let (a, b) = (tail.closeness.sqrt(), (1.0 - tail.closeness).sqrt());
                xi.iter_mut()
                    .zip(&nu)
                    .for_each(|(x, n)| *x = a * n + b * *x / norm);
            }
            _ => rng.unit_vector(&mut xi),
        }
        Template { group, rho, xi }
    }

    /// Writes the quantized embedding of one capture of `template` into `out` (length d).
    /// `gallery` selects the gallery's capture condition and stream, else the probes'.
    pub fn capture(
        &self,
        template: &Template,
        gallery: bool,
        index: u64,
        out: &mut [i16],
        noise: &mut [f64],
    ) {
        let s = self.scenario;
        let (key, condition) = if gallery {
            (&self.gallery_capture, &s.captures()[s.gallery_capture()])
        } else {
            (&self.probe_capture, &s.captures()[s.probe_capture()])
        };
        let mut rng = key.bulk(index);
        let level =
            condition.noise_min + (condition.noise_max - condition.noise_min) * rng.uniform();
        if level > 0.0 && s.noise_dim() > 0 {
            rng.unit_vector(noise);
        }
        self.fill_row(template, level, noise, out);
    }

    /// Writes the quantized embedding of a capture of `template` at noise `level` with noise
    /// direction `noise` (unit, `noise_dim` components; unused when `level` is 0).
    pub(crate) fn fill_row(&self, template: &Template, level: f64, noise: &[f64], out: &mut [i16]) {
        let s = self.scenario;
        let (head, noise_block) = out.split_at_mut(s.demographic_dim() + s.effective_dim());
        self.fill_head(template, level, head);
        if level > 0.0 && !noise_block.is_empty() {
            quantize_scaled_into(noise, level, noise_block);
        } else {
            noise_block.fill(0);
        }
    }

    /// Writes the demographic and identity blocks of a capture of `template` at noise `level`
    /// (the first `demographic_dim + effective_dim` components of its row).
    pub(crate) fn fill_head(&self, template: &Template, level: f64, out: &mut [i16]) {
        let s = self.scenario;
        let signal = (1.0 - level * level).sqrt();
        let (demographic, identity) = out.split_at_mut(s.demographic_dim());
        let a = signal * template.rho.sqrt();
        for (o, u) in demographic
            .iter_mut()
            .zip(&s.groups()[template.group as usize].direction)
        {
            *o = quantize(a * u);
        }
        let b = signal * (1.0 - template.rho).sqrt();
        for (o, x) in identity.iter_mut().zip(&template.xi) {
            *o = quantize(b * x);
        }
    }

    /// Generates the gallery entries of identities `[first_identity, end_identity)`, whose first
    /// detection is gallery entry `first_entry`, cut at `layout.detections`.
    pub fn generate(
        &self,
        first_identity: u64,
        end_identity: u64,
        first_entry: u64,
        layout: &GalleryLayout,
    ) -> Tile {
        let s = self.scenario;
        let mut identity = Vec::new();
        let mut group = Vec::new();
        let mut identities_per_group = vec![0u64; s.n_groups()];
        let mut templates = Vec::new();
        let mut entry = first_entry;
        for i in first_identity..end_identity.min(layout.identities) {
            if entry >= layout.detections {
                break;
            }
            let (count, template) = self.gallery_identity(i);
            let count = count.min(layout.detections - entry);
            identities_per_group[template.group as usize] += 1;
            for _ in 0..count {
                identity.push(i);
                group.push(template.group);
            }
            entry += count;
            templates.push((count, template));
        }
        let mut embeddings = Array2::<i16>::zeros((identity.len(), s.dim()));
        let mut noise = vec![0.0; s.noise_dim()];
        let mut row = 0;
        let mut entry = first_entry;
        for (count, template) in &templates {
            for _ in 0..*count {
                let out = embeddings
                    .row_mut(row)
                    .into_slice()
                    .expect("rows of a standard-layout array are contiguous");
                self.capture(template, true, entry, out, &mut noise);
                row += 1;
                entry += 1;
            }
        }
        Tile {
            first_entry,
            embeddings,
            identity,
            group,
            identities_per_group,
            sparse: None,
        }
    }
}

/// Where each block of identities starts in the gallery.
#[derive(Clone, Debug)]
pub struct GalleryLayout {
    /// Gallery entries N.
    pub detections: u64,
    /// Identities with at least one entry.
    pub identities: u64,
    /// `block_start[b]` is the first entry of block b; one more element closes the last block.
    pub block_start: Vec<u64>,
}

impl GalleryLayout {
    /// Counts every identity's detections (in parallel, by block) until N entries are reached.
    pub fn build(population: &Population<'_>) -> Self {
        Self::build_reporting(population, crate::progress::report(&None))
    }

    /// As [`GalleryLayout::build`], advancing `progress` by the detections laid out (a
    /// city-sized gallery takes tens of seconds).
    pub fn build_reporting(
        population: &Population<'_>,
        progress: &dyn crate::progress::Progress,
    ) -> Self {
        let detections = population.scenario.config().gallery.detections;
        let mut block_start = vec![0u64];
        let mut total = 0u64;
        let mut next_block = 0u64;
        let s = population.scenario;
        let mean_count: f64 = s
            .identity_classes()
            .iter()
            .zip(s.config().gallery.identity_classes.iter())
            .map(|(c, raw)| c.mean_detections * raw.share)
            .sum();
        let expected_blocks = detections as f64 / (mean_count * IDENTITY_BLOCK as f64);
        let batch = (expected_blocks * 1.05).ceil().clamp(1.0, 512.0) as u64;
        while total < detections {
            let sums: Vec<u64> = (next_block..next_block + batch)
                .into_par_iter()
                .map(|b| {
                    (b * IDENTITY_BLOCK..(b + 1) * IDENTITY_BLOCK)
                        .map(|i| population.gallery_count(i))
                        .sum()
                })
                .collect();
            let before = total;
            for sum in sums {
                if total >= detections {
                    break;
                }
                total = (total + sum).min(detections);
                block_start.push(total);
                next_block += 1;
            }
            progress.advance(total - before);
        }
        // Identities of the last block that still have entries.
        let last_block = block_start.len() as u64 - 2;
        let mut entry = block_start[last_block as usize];
        let mut identities = last_block * IDENTITY_BLOCK;
        while entry < detections {
            entry += population.gallery_count(identities);
            identities += 1;
        }
        Self {
            detections,
            identities,
            block_start,
        }
    }

    /// Number of identity blocks.
    pub fn n_blocks(&self) -> u64 {
        self.block_start.len() as u64 - 1
    }

    /// Splits the blocks into tiles of about `tile_entries` entries each (at least one block).
    pub fn tiles(&self, tile_entries: u64) -> Vec<std::ops::Range<u64>> {
        self.tiles_in(0..self.n_blocks(), tile_entries)
    }

    /// Splits the blocks of `blocks` into tiles of about `tile_entries` entries each.
    pub fn tiles_in(
        &self,
        blocks: std::ops::Range<u64>,
        tile_entries: u64,
    ) -> Vec<std::ops::Range<u64>> {
        let mut tiles = Vec::new();
        let mut start = blocks.start;
        while start < blocks.end {
            let mut end = start + 1;
            while end < blocks.end
                && self.block_start[end as usize + 1] - self.block_start[start as usize]
                    <= tile_entries
            {
                end += 1;
            }
            tiles.push(start..end);
            start = end;
        }
        tiles
    }

    /// Generates the entries of a range of blocks.
    pub fn generate(&self, population: &Population<'_>, blocks: std::ops::Range<u64>) -> Tile {
        population.generate(
            blocks.start * IDENTITY_BLOCK,
            blocks.end * IDENTITY_BLOCK,
            self.block_start[blocks.start as usize],
            self,
        )
    }

    /// Generates the entries of identity `i` alone.
    pub fn generate_identity(&self, population: &Population<'_>, i: u64) -> Tile {
        let block = i / IDENTITY_BLOCK;
        let first = block * IDENTITY_BLOCK;
        let offset: u64 = (first..i).map(|j| population.gallery_count(j)).sum();
        population.generate(i, i + 1, self.block_start[block as usize] + offset, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::scenario::Scenario;

    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            r#"
name = "t"
seed = 5
[embedding]
dimension = 40
effective_dimension = 8
[[attributes]]
name = "sex"
values = ["f", "m"]
[[groups]]
name = "f"
attributes = {{ sex = "f" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.2
rho_concentration = 20.0
[[groups]]
name = "m"
attributes = {{ sex = "m" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.1
[captures.cctv]
noise = 0.5
noise_max = 0.7
[gallery]
detections = 3001
capture = "cctv"
{extra}
[probes]
non_mated = 2
capture = "cctv"
[thresholds]
raw = [0.5]
"#
        );
        Scenario::from_toml(&text, "test.toml").unwrap()
    }

    #[test]
    fn embeddings_are_unit_vectors_up_to_quantization() {
        let s = scenario("");
        let pop = Population::new(&s, 0);
        let layout = GalleryLayout::build(&pop);
        let tile = layout.generate(&pop, 0..layout.n_blocks());
        for row in tile.embeddings.rows() {
            let norm2: f64 = row
                .iter()
                .map(|&q| (q as f64 / crate::quantize::QUANT_SCALE).powi(2))
                .sum();
            assert!((norm2 - 1.0).abs() < 1e-3, "{norm2}");
        }
    }

    #[test]
    fn layout_has_exactly_n_entries_and_any_tiling_gives_the_same_entries() {
        let s = scenario(
            "[[gallery.identity_classes]]\nlabel = \"a\"\nshare = 0.7\nmean_detections = 2.0\n[[gallery.identity_classes]]\nlabel = \"b\"\nshare = 0.3\nmean_detections = 9.0\n",
        );
        let pop = Population::new(&s, 0);
        let layout = GalleryLayout::build(&pop);
        assert_eq!(*layout.block_start.last().unwrap(), 3001);
        let whole = layout.generate(&pop, 0..layout.n_blocks());
        assert_eq!(whole.len(), 3001);
        assert_eq!(*whole.identity.last().unwrap() + 1, layout.identities);
        for tile_entries in [1, 700, 5000] {
            let mut rows = Vec::new();
            let mut ids = Vec::new();
            for t in layout.tiles(tile_entries) {
                let tile = layout.generate(&pop, t);
                assert_eq!(tile.first_entry as usize, rows.len() / s.dim());
                rows.extend(tile.embeddings.iter().copied());
                ids.extend(tile.identity);
            }
            assert_eq!(ids, whole.identity);
            assert_eq!(rows, whole.embeddings.iter().copied().collect::<Vec<_>>());
        }
        // One identity alone is the same as inside its block.
        let i = whole.identity[1500];
        let alone = layout.generate_identity(&pop, i);
        let start = alone.first_entry as usize;
        assert_eq!(whole.identity[start], i);
        assert_eq!(alone.embeddings.row(0), whole.embeddings.row(start));
    }
}
