//! Criterion benches of the search kernel, tile generation and tally merging.
//!
//! Bench IDs carry their parameters: `score_rows/<kernel>/d512/n4096` is one probe against a
//! tile of 4096 entries of 512 dims; throughput is in comparisons per second.
//! Run: `cargo bench --bench kernel`; latest figures in `benches/README.md`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use falsematch::population::{GalleryLayout, Population};
use falsematch::run::DEFAULT_TILE_ENTRIES;
use falsematch::scenario::Scenario;
use falsematch::search::{Kernel, ProbeSet, Thresholds, search_tile};
use falsematch::tally::Tally;
use std::hint::black_box;

fn scenario(dim: usize, detections: u64, non_mated: u32) -> Scenario {
    let text = format!(
        r#"
name = "bench"
[embedding]
dimension = {dim}
effective_dimension = 13
[[attributes]]
name = "sex"
values = ["female", "male"]
[[groups]]
name = "female"
attributes = {{ sex = "female" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.2
[[groups]]
name = "male"
attributes = {{ sex = "male" }}
gallery_share = 0.5
probe_share = 0.5
rho = 0.05
[captures.cctv]
noise = 0.645
[gallery]
detections = {detections}
capture = "cctv"
[probes]
non_mated = {non_mated}
capture = "cctv"
[search]
candidate_list_length = 10
[thresholds]
raw = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.67]
"#
    );
    Scenario::from_toml(&text, "bench.toml").expect("bench scenario is valid")
}

fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("score_rows");
    for dim in [128usize, 512] {
        let s = scenario(dim, DEFAULT_TILE_ENTRIES, 1);
        let pop = Population::new(&s, 0);
        let layout = GalleryLayout::build(&pop);
        let tile = layout.generate(&pop, 0..layout.n_blocks());
        let probes = ProbeSet::build(&pop, &layout, 0).unwrap();
        let rows = tile.embeddings.as_slice().unwrap();
        let probe = probes.embeddings.row(0).to_vec();
        group.throughput(Throughput::Elements(tile.len() as u64));
        for kernel in Kernel::available() {
            let mut out = Vec::new();
            group.bench_function(
                BenchmarkId::new(format!("{kernel:?}"), format!("d{dim}/n{}", tile.len())),
                |b| b.iter(|| kernel.score_rows(black_box(rows), dim, black_box(&probe), &mut out)),
            );
        }
    }
    group.finish();
}

fn search(c: &mut Criterion) {
    // One tile against 64 probes: scoring plus every tally (top-10, 8 thresholds, groups).
    let mut group = c.benchmark_group("search_tile");
    let (dim, m) = (512usize, 64u32);
    let s = scenario(dim, DEFAULT_TILE_ENTRIES, m);
    let pop = Population::new(&s, 0);
    let layout = GalleryLayout::build(&pop);
    let tile = layout.generate(&pop, 0..layout.n_blocks());
    let probes = ProbeSet::build(&pop, &layout, 0).unwrap();
    let thresholds = Thresholds::of(&s);
    group.throughput(Throughput::Elements(tile.len() as u64 * u64::from(m)));
    let mut scores = Vec::new();
    group.bench_function(
        BenchmarkId::new(
            format!("{:?}", Kernel::detect()),
            format!("d{dim}/m{m}/n{}", tile.len()),
        ),
        |b| {
            b.iter(|| {
                let mut tally = Tally::new(10, thresholds.q.len(), 2, &probes.mate_counts());
                search_tile(&tile, &probes, &thresholds, &mut tally, &mut scores);
                tally
            })
        },
    );
    group.finish();
}

fn generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate_tile");
    for dim in [128usize, 512] {
        let s = scenario(dim, 1_000_000, 1);
        let pop = Population::new(&s, 0);
        let layout = GalleryLayout::build(&pop);
        let tiles = layout.tiles(DEFAULT_TILE_ENTRIES);
        let first = tiles[0].clone();
        let n = layout.block_start[first.end as usize] - layout.block_start[first.start as usize];
        group.throughput(Throughput::Elements(n));
        group.bench_function(BenchmarkId::new("entries", format!("d{dim}/n{n}")), |b| {
            b.iter(|| layout.generate(&pop, first.clone()))
        });
    }
    group.finish();
}

fn merging(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge_tally");
    let (m, t, g, k) = (1000usize, 8usize, 24usize, 10usize);
    let mates = vec![0usize; m];
    let mut a = Tally::new(k, t, g, &mates);
    let b = Tally::new(k, t, g, &mates);
    for p in &mut a.probes {
        p.det
            .iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = i as u64);
    }
    group.throughput(Throughput::Elements(m as u64));
    group.bench_function(
        BenchmarkId::new("probes", format!("m{m}/t{t}/g{g}/k{k}")),
        |bench| bench.iter(|| a.clone().merge(b.clone())),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = kernels, search, generation, merging
}
criterion_main!(benches);
