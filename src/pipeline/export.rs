//! Writing a scenario's simulated gallery and probes as files (`falsematch export`), so other
//! tools can search the same data and `falsematch evaluate` can read it back.
//!
//! ```text
//! embeddings.npy   float32, gallery rows (entry order) then probe rows; value = q / 32767 of
//!                  the simulator's int16 embedding, so reading back reproduces q exactly
//! metadata.csv     subject,role,id,group
//!                  gallery: g<identity>, gallery, e<entry>, group
//!                  probes:  g<identity> (mated) or p<probe> (not enrolled), probe, q<probe>, group
//! ```
//!
//! Invariants: `falsematch evaluate` on these files gives the estimates of `falsematch run` on
//! the scenario's first replicate (tests/import.rs).

use crate::import::npy::npy_bytes;
use crate::pipeline::run::RunError;
use crate::population::{GalleryLayout, Population};
use crate::quantize::QUANT_SCALE;
use crate::scenario::Scenario;

/// The exported files: (embeddings.npy bytes, metadata.csv bytes).
pub type Exported = (Vec<u8>, Vec<u8>);

/// Largest export, in float32 values (2 GiB).
pub const MAX_EXPORT_VALUES: u64 = 1 << 29;

/// Exports replicate 0 of a scenario.
///
/// # Errors
/// [`RunError`] when a mated probe has no enrolled identity of its group, or the scenario
/// uses generator 2 (which never draws most detections, so no file can hold its gallery).
pub fn export(scenario: &Scenario) -> Result<Exported, RunError> {
    if scenario.config().search.generator != 1 {
        return Err(RunError::NotExportable {
            generator: scenario.config().search.generator,
        });
    }
    let population = Population::new(scenario, 0);
    let layout = GalleryLayout::build(&population);
    let probes = crate::population::draw_probes(&population, &layout, 0)?;
    let d = scenario.dim();
    let n_probes = probes.embeddings.nrows();
    let rows = layout.detections as usize + n_probes;
    let mut data: Vec<f32> = Vec::with_capacity(rows * d);
    let mut meta = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let write = |w: &mut csv::Writer<Vec<u8>>, r: [&str; 4]| {
        w.write_record(r)
            .expect("writing CSV to memory cannot fail")
    };
    write(&mut meta, ["subject", "role", "id", "group"]);
    let scale = QUANT_SCALE as f32;
    for blocks in layout.tiles(crate::pipeline::run::DEFAULT_TILE_ENTRIES) {
        let tile = layout.generate(&population, blocks);
        data.extend(tile.embeddings.iter().map(|&q| f32::from(q) / scale));
        for j in 0..tile.len() {
            write(
                &mut meta,
                [
                    &format!("g{}", tile.identity[j]),
                    "gallery",
                    &format!("e{}", tile.first_entry + j as u64),
                    &scenario.groups()[tile.group[j] as usize].name,
                ],
            );
        }
    }
    data.extend(probes.embeddings.iter().map(|&q| f32::from(q) / scale));
    for p in 0..n_probes {
        let subject = probes.mate[p]
            .as_ref()
            .map_or(format!("p{p}"), |m| format!("g{}", m.identity));
        write(
            &mut meta,
            [
                &subject,
                "probe",
                &format!("q{p}"),
                &scenario.groups()[probes.group[p] as usize].name,
            ],
        );
    }
    Ok((
        npy_bytes(rows, d, &data),
        meta.into_inner()
            .expect("writing CSV to memory cannot fail"),
    ))
}
