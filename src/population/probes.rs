//! The searches of a replicate: probe captures drawn from the population, and each mated
//! probe's scores against its enrolled identity's detections.

use super::{GalleryLayout, Population};
use crate::rng::{Domain, StreamKey};
use crate::search::{Mate, ProbeSet};
use ndarray::Array2;

/// A mated probe's group has no enrolled identity in this replicate's gallery.
#[derive(Debug, thiserror::Error)]
#[error(
    "replicate {replicate}: the gallery has no identity of group `{group}` to be the subject of a mated probe; raise gallery.detections or the group's gallery_share"
)]
pub struct NoEnrolledIdentity {
    /// Replicate.
    pub replicate: u32,
    /// Group name.
    pub group: String,
}

/// Generates the probes of a replicate and scores each mated probe against its mate.
///
/// # Errors
/// [`NoEnrolledIdentity`] when a mated probe's group has no identity in the gallery.
pub fn draw_probes(
    population: &Population<'_>,
    layout: &GalleryLayout,
    replicate: u32,
) -> Result<ProbeSet, NoEnrolledIdentity> {
    let s = population.scenario();
    let n_mated = u64::from(s.config().probes.mated);
    let n = s.n_probes();
    let choice = StreamKey::new(s.seed(), u64::from(replicate), Domain::ProbeChoice);
    let mut embeddings = Array2::<i16>::zeros((n, s.dim()));
    let mut group = Vec::with_capacity(n);
    let mut mate = Vec::with_capacity(n);
    let mut noise = vec![0.0; s.noise_dim()];
    for p in 0..n as u64 {
        let mut rng = choice.stream(p);
        let g = rng.categorical(s.probe_group_cumulative()) as u16;
        let template = if p < n_mated {
            // Draw enrolled identities until one of the probe's group; give up after far
            // more tries than the group's gallery share makes plausible.
            let max_tries = 1000 + (1000.0 / s.groups()[g as usize].gallery_share.max(1e-9)) as u64;
            let identity = (0..max_tries)
                .map(|_| rng.below(layout.identities))
                .find(|&i| population.gallery_header(i).1 == g)
                .ok_or_else(|| NoEnrolledIdentity {
                    replicate,
                    group: s.groups()[g as usize].name.clone(),
                })?;
            mate.push(Some(Mate {
                identity,
                detections: Vec::new(),
            }));
            population.gallery_identity(identity).1
        } else {
            mate.push(None);
            population.probe_identity(p - n_mated, g)
        };
        let row = embeddings
            .row_mut(p as usize)
            .into_slice()
            .expect("contiguous row");
        population.capture(&template, false, p, row, &mut noise);
        group.push(g);
    }
    let mut set = ProbeSet::new(embeddings, group, mate, s.config().search.precision);
    for p in 0..set.mate.len() {
        if let Some(identity) = set.mate[p].as_ref().map(|m| m.identity) {
            let tile = layout.generate_identity(population, identity);
            let detections = tile
                .embeddings
                .rows()
                .into_iter()
                .enumerate()
                .map(|(j, row)| {
                    let row = row.as_slice().expect("contiguous row");
                    (tile.first_entry + j as u64, set.score(p, row))
                })
                .collect();
            if let Some(m) = set.mate[p].as_mut() {
                m.detections = detections;
            }
        }
    }
    Ok(set)
}
