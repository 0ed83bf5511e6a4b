//! Criterion benches of the search kernel, tile generation and tally merging.
//!
//! Bench IDs carry their parameters: `score_rows/<kernel>/d512/n4096` is one probe against a
//! tile of 4096 entries of 512 dims; throughput is in comparisons per second.
//! Run: `cargo bench --bench kernel`; latest figures in `benches/README.md`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use falsematch::pipeline::run::DEFAULT_TILE_ENTRIES;
use falsematch::population::{GalleryLayout, Population, Screen, draw_probes};
use falsematch::quantize::Precision;
use falsematch::scenario::Scenario;
use falsematch::search::int8::{BLOCK_ROWS, PROBE_BLOCK, Packed8, Probes8, score_block};
use falsematch::search::{
    BLOCKED_CHUNK_BYTES, Kernel, ProbeSet, Thresholds, blocked16, search_tile,
};
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

fn block_kernels(c: &mut Criterion) {
    // The blocked kernels alone, in the search's loop order: 96 probes (8 probe blocks)
    // against a tile, one chunk of packed rows at a time (`BLOCKED_CHUNK_BYTES`, as
    // the search). Compare with `peak`.
    let mut group = c.benchmark_group("score_block");
    let (dim, m) = (512usize, 96u32);
    let s = scenario(dim, DEFAULT_TILE_ENTRIES, m);
    let pop = Population::new(&s, 0);
    let layout = GalleryLayout::build(&pop);
    let tile = layout.generate(&pop, 0..layout.n_blocks());
    let int16 = falsematch::population::draw_probes(&pop, &layout, 0)
        .unwrap()
        .embeddings;
    let rows = tile.embeddings.as_slice().unwrap();
    let probes8 = Probes8::of(&int16);
    let packed8 = Packed8::pack(rows, dim);
    let probes16 = blocked16::Probes16::of(&int16);
    let packed16 = blocked16::Packed16::pack(rows, dim);
    // (format, blocks, rows per block, blocks per chunk, the kernel's call)
    type Score<'a> = Box<dyn Fn(Kernel, std::ops::Range<usize>, usize, &mut [i32], usize) + 'a>;
    let formats: [(&str, usize, usize, usize, Score<'_>); 2] = [
        (
            "int8",
            packed8.blocks(),
            BLOCK_ROWS,
            packed8.chunk_blocks(BLOCKED_CHUNK_BYTES),
            Box::new(|k, b, first, out: &mut [i32], stride| {
                score_block(k, &packed8, b, &probes8, first, out, stride)
            }),
        ),
        (
            "int16",
            packed16.blocks(),
            blocked16::BLOCK_ROWS,
            packed16.chunk_blocks(BLOCKED_CHUNK_BYTES),
            Box::new(|k, b, first, out: &mut [i32], stride| {
                blocked16::score_block(k, &packed16, b, &probes16, first, out, stride)
            }),
        ),
    ];
    for (name, blocks, block_rows, chunk, score) in &formats {
        let stride = chunk * block_rows;
        let mut out = vec![0i32; PROBE_BLOCK * stride];
        group.throughput(Throughput::Elements(
            (blocks * block_rows) as u64 * u64::from(m),
        ));
        for kernel in Kernel::available() {
            group.bench_function(
                BenchmarkId::new(
                    format!("{kernel:?}/{name}"),
                    format!("d{dim}/m{m}/n{}", blocks * block_rows),
                ),
                |b| {
                    b.iter(|| {
                        for b0 in (0..*blocks).step_by(*chunk) {
                            let b1 = (b0 + chunk).min(*blocks);
                            for first in (0..m as usize).step_by(PROBE_BLOCK) {
                                score(kernel, b0..b1, first, &mut out, stride);
                            }
                        }
                        black_box(out[0])
                    })
                },
            );
        }
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
    // The AVX2 kernels' arithmetic: 12 independent `vpmaddwd` + `vpaddd` chains (as in both
    // blocked kernels) with no loads; each multiply reads its own chain, so none can be
    // hoisted out of the loop. Throughput in multiply-adds (16 per instruction).
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        use std::arch::x86_64::*;
        #[target_feature(enable = "avx2")]
        fn madd_chains(iterations: u32) -> i32 {
            let mut acc = [black_box(_mm256_set1_epi16(3)); 12];
            let y = black_box(_mm256_set1_epi16(-2));
            for _ in 0..iterations {
                for a in acc.iter_mut() {
                    *a = _mm256_add_epi32(y, _mm256_madd_epi16(*a, y));
                }
            }
            let mut lanes = [0i32; 8];
            let sum = acc
                .iter()
                .fold(_mm256_setzero_si256(), |s, &a| _mm256_add_epi32(s, a));
            // SAFETY: `lanes` is 32 bytes, one 256-bit store.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sum) };
            lanes[0]
        }
        let mut group = c.benchmark_group("peak");
        let iterations = 10_000u32;
        group.throughput(Throughput::Elements(u64::from(iterations) * 12 * 16));
        group.bench_function(BenchmarkId::new("vpmaddwd", "ymm/chains12"), |b| {
            // SAFETY: the CPU has AVX2 (checked above).
            b.iter(|| unsafe { madd_chains(black_box(iterations)) })
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

/// Generation then search of one tile, per gallery entry, by generator 1 and generator 2
/// (screened), with 250 probes and the lowest threshold at 0.50 (moscow-citywide's searches).
fn screened_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate_search");
    for dim in [128usize, 512] {
        for generator in [1u32, 2] {
            let text = format!(
                "name = \"bench-screened\"\n[embedding]\ndimension = {dim}\neffective_dimension = 13\n\
                 [[attributes]]\nname = \"sex\"\nvalues = [\"female\", \"male\"]\n\
                 [[groups]]\nname = \"female\"\nattributes = {{ sex = \"female\" }}\ngallery_share = 0.5\nprobe_share = 0.0\nrho = 0.2\n\
                 [[groups]]\nname = \"male\"\nattributes = {{ sex = \"male\" }}\ngallery_share = 0.5\nprobe_share = 1.0\nrho = 0.05\n\
                 [captures.cctv]\nnoise = 0.645\n[gallery]\ndetections = 1_000_000\ncapture = \"cctv\"\n\
                 [probes]\nnon_mated = 250\ncapture = \"cctv\"\n[search]\ncandidate_list_length = 20\ngenerator = {generator}\n\
                 [thresholds]\nraw = [0.50, 0.55, 0.60]\n"
            );
            let s = Scenario::from_toml(&text, "bench.toml").expect("bench scenario is valid");
            let pop = Population::new(&s, 0);
            let layout = GalleryLayout::build(&pop);
            let probes = draw_probes(&pop, &layout, 0).expect("non-mated probes only");
            let thresholds = Thresholds::new(s.thresholds().iter().map(|t| t.score));
            let screen = Screen::new(&pop, &probes, &thresholds);
            let first = layout.tiles(DEFAULT_TILE_ENTRIES)[0].clone();
            let n =
                layout.block_start[first.end as usize] - layout.block_start[first.start as usize];
            let mates = vec![0usize; probes.group.len()];
            let mut scores = Vec::new();
            group.throughput(Throughput::Elements(n));
            group.bench_function(
                BenchmarkId::new(format!("generator{generator}"), format!("d{dim}/m250/n{n}")),
                |b| {
                    b.iter(|| {
                        let tile = if generator == 2 {
                            screen.generate(&pop, &layout, first.clone())
                        } else {
                            layout.generate(&pop, first.clone())
                        };
                        let mut tally = Tally::new(20, thresholds.q.len(), 2, &mates);
                        search_tile(&tile, &probes, &thresholds, &mut tally, &mut scores);
                        tally
                    })
                },
            );
        }
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
    targets = kernels, search, block_kernels, peak, generation, screened_generation, merging
}
criterion_main!(benches);
