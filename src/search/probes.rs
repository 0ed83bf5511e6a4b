//! The probes of a search: quantized embeddings, their groups, and each mated probe's
//! enrolled identity with its detections' scores (drawn by `population::draw_probes` in a
//! simulation, read from files in an evaluation).

use super::*;

/// A mated probe's subject: the enrolled identity and its detections.
#[derive(Clone, Debug)]
pub struct Mate {
    /// Gallery identity.
    pub identity: u64,
    /// (gallery entry, integer score) of every detection of the identity, by entry.
    pub detections: Vec<(u64, i32)>,
}

/// The probes of one replicate.
#[derive(Clone, Debug)]
pub struct ProbeSet {
    /// Quantized probe embeddings, one row per probe: mated probes first, then non-mated.
    pub embeddings: Array2<i16>,
    /// Group of each probe.
    pub group: Vec<u16>,
    /// The mate of each mated probe (`None` for non-mated probes).
    pub mate: Vec<Option<Mate>>,
    /// The probes in int8, when the search uses that format.
    pub int8: Option<int8::Probes8>,
    /// Whether the search keeps what design effects need: each probe's sums of squared
    /// per-identity counts and the per-identity cluster sums of the tally. True by default;
    /// a search of imported embeddings, which reports only candidates and counts, turns it
    /// off and saves their cost (those parts of its tally stay zero).
    pub cluster_sums: bool,
}

impl ProbeSet {
    /// Probes in the given number format (mate detections as given: score them with
    /// [`ProbeSet::score`]).
    pub fn new(
        embeddings: Array2<i16>,
        group: Vec<u16>,
        mate: Vec<Option<Mate>>,
        precision: Precision,
    ) -> Self {
        let int8 = (precision == Precision::Int8).then(|| int8::Probes8::of(&embeddings));
        Self {
            embeddings,
            group,
            mate,
            int8,
            cluster_sums: true,
        }
    }

    /// The score of probe `p` against one gallery row, exactly as the search computes it.
    pub fn score(&self, p: usize, row: &[i16]) -> i32 {
        match &self.int8 {
            Some(probes) => probes.score(p, row),
            None => dot(
                row,
                self.embeddings.row(p).as_slice().expect("contiguous row"),
            ),
        }
    }

    /// Number of mate detections of each probe (0 for non-mated probes).
    pub fn mate_counts(&self) -> Vec<usize> {
        self.mate
            .iter()
            .map(|m| m.as_ref().map_or(0, |m| m.detections.len()))
            .collect()
    }
}
