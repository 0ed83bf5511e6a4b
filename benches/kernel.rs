//! Criterion benches of the search kernel, tile generation and tally merging.
//!
//! Bench IDs carry their parameters: `score_rows/<kernel>/d512/n4096` is one probe against a
//! tile of 4096 entries of 512 dims; throughput is in comparisons per second.
//! Run: `cargo bench --bench kernel`; latest figures in `benches/README.md`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use falsematch::pipeline::run::DEFAULT_TILE_ENTRIES;
use falsematch::population::{GalleryLayout, Population};
use falsematch::quantize::Precision;
use falsematch::scenario::Scenario;
use falsematch::search::int8::{BLOCK_ROWS, PROBE_BLOCK, Packed8, Probes8, score_block};
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
        let probes = falsematch::population::draw_probes(&pop, &layout, 0).unwrap();
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
    // One tile against 64 probes: scoring plus every tally (top-10, 8 thresholds, groups), in
    // each number format.
    let mut group = c.benchmark_group("search_tile");
    let (dim, m) = (512usize, 64u32);
    let s = scenario(dim, DEFAULT_TILE_ENTRIES, m);
    let pop = Population::new(&s, 0);
    let layout = GalleryLayout::build(&pop);
    let tile = layout.generate(&pop, 0..layout.n_blocks());
    let int16 = falsematch::population::draw_probes(&pop, &layout, 0).unwrap();
    let thresholds = Thresholds::new(s.thresholds().iter().map(|t| t.score));
    group.throughput(Throughput::Elements(tile.len() as u64 * u64::from(m)));
    let mut scores = Vec::new();
    for precision in [Precision::Int16, Precision::Int8] {
        let probes = ProbeSet::new(
            int16.embeddings.clone(),
            int16.group.clone(),
            int16.mate.clone(),
            precision,
        );
        group.bench_function(
            BenchmarkId::new(
                format!("{:?}/{}", Kernel::detect(), precision.name()),
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
    }
    group.finish();
}

fn int8_kernel(c: &mut Criterion) {
    // The int8 kernel alone, in the search's loop order: 96 probes (8 register blocks) against
    // a tile, one 64 KB chunk of packed rows at a time. Compare with `peak/vpdpbusd`.
    let mut group = c.benchmark_group("score_block");
    let (dim, m) = (512usize, 96u32);
    let s = scenario(dim, DEFAULT_TILE_ENTRIES, m);
    let pop = Population::new(&s, 0);
    let layout = GalleryLayout::build(&pop);
    let tile = layout.generate(&pop, 0..layout.n_blocks());
    let probes = Probes8::of(
        &falsematch::population::draw_probes(&pop, &layout, 0)
            .unwrap()
            .embeddings,
    );
    let packed = Packed8::pack(tile.embeddings.as_slice().unwrap(), dim);
    let chunk = packed.chunk_blocks(64 * 1024);
    let stride = chunk * BLOCK_ROWS;
    let mut out = vec![0i32; PROBE_BLOCK * stride];
    group.throughput(Throughput::Elements(
        (packed.blocks() * BLOCK_ROWS) as u64 * u64::from(m),
    ));
    for kernel in Kernel::available() {
        group.bench_function(
            BenchmarkId::new(
                format!("{kernel:?}/int8"),
                format!("d{dim}/m{m}/n{}", packed.blocks() * BLOCK_ROWS),
            ),
            |b| {
                b.iter(|| {
                    for b0 in (0..packed.blocks()).step_by(chunk) {
                        let b1 = (b0 + chunk).min(packed.blocks());
                        for first in (0..m as usize).step_by(PROBE_BLOCK) {
                            score_block(kernel, &packed, b0..b1, &probes, first, &mut out, stride);
                        }
                    }
                    black_box(out[0])
                })
            },
        );
    }
    group.finish();
}

/// The arithmetic peak of the int8 format on one core: independent `vpdpbusd` chains (24, as
/// in the kernel) with no loads. Throughput in multiply-adds (64 per instruction).
fn peak(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    if falsematch::search::int8::vnni_available() {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
        fn chains(iterations: u32) -> i32 {
            let mut acc = [_mm512_setzero_si512(); 24];
            let x = black_box(_mm512_set1_epi8(3));
            let y = black_box(_mm512_set1_epi8(-2));
            for _ in 0..iterations {
                for a in acc.iter_mut() {
                    *a = _mm512_dpbusd_epi32(*a, x, y);
                }
            }
            let mut lanes = [0i32; 16];
            let sum = acc
                .iter()
                .fold(_mm512_setzero_si512(), |s, &a| _mm512_add_epi32(s, a));
            // SAFETY: `lanes` is 64 bytes, one 512-bit store.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr() as *mut __m512i, sum) };
            lanes[0]
        }
        let mut group = c.benchmark_group("peak");
        let iterations = 10_000u32;
        group.throughput(Throughput::Elements(u64::from(iterations) * 24 * 64));
        group.bench_function(BenchmarkId::new("vpdpbusd", "zmm/chains24"), |b| {
            // SAFETY: the CPU has the features (checked above).
            b.iter(|| unsafe { chains(black_box(iterations)) })
        });
        group.finish();
    }
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
    targets = kernels, search, int8_kernel, peak, generation, merging
}
criterion_main!(benches);
