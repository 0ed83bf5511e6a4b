//! Invariants over many inputs (proptest).

use crate::support::rich;
use falsematch::estimate::Estimate;
use falsematch::pipeline::run::{RunOptions, simulate};
use falsematch::population::{GalleryLayout, Population};
use falsematch::search::{ProbeSet, Thresholds, search_tile};
use falsematch::tally::Tally;
use proptest::prelude::*;

fn check_rate(e: &Estimate) -> Result<(), TestCaseError> {
    prop_assert!((0.0..=1.0).contains(&e.value), "{e:?}");
    prop_assert!(e.lower <= e.value && e.value <= e.upper, "{e:?}");
    prop_assert!(e.lower >= 0.0 && e.upper <= 1.0, "{e:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn permuting_tiles_changes_no_tally(seed in 0u64..1000, order in any::<u64>()) {
        let scenario = rich(seed);
        let population = Population::new(&scenario, 0);
        let layout = GalleryLayout::build(&population);
        let probes = falsematch::population::draw_probes(&population, &layout, 0).unwrap();
        let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
        let mut tiles = layout.tiles(700);
        let empty = || Tally::new(scenario.k(), thresholds.q.len(), scenario.n_groups(), &probes.mate_counts());
        let fold = |tiles: &[std::ops::Range<u64>]| {
            let mut scores = Vec::new();
            tiles.iter().map(|t| {
                let mut tally = empty();
                search_tile(&layout.generate(&population, t.clone()), &probes, &thresholds, &mut tally, &mut scores);
                tally
            }).fold(empty(), Tally::merge)
        };
        let reference = fold(&tiles);
        // A permutation drawn from `order` (Fisher-Yates with a simple LCG).
        let mut state = order | 1;
        for i in (1..tiles.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            tiles.swap(i, (state >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(fold(&tiles), reference);
    }

    #[test]
    fn rates_are_in_0_1_and_intervals_contain_estimates(seed in 0u64..1000) {
        let scenario = rich(seed);
        let output = simulate(&scenario, &RunOptions::default()).unwrap();
        for slice in &output.estimates.slices {
            for row in &slice.thresholds {
                for e in [&row.fpir, &row.fnir_rank_1, &row.fnir_rank_k].into_iter().flatten() {
                    check_rate(e)?;
                }
                for e in [&row.sel, &row.sel_people].into_iter().flatten() {
                    prop_assert!(e.value >= 0.0 && e.lower <= e.value && e.value <= e.upper, "{e:?}");
                }
                // FNIR at rank K never exceeds FNIR at rank 1.
                if let (Some(a), Some(b)) = (&row.fnir_rank_1, &row.fnir_rank_k) {
                    prop_assert!(b.value <= a.value);
                }
            }
            for e in &slice.cmc {
                check_rate(e)?;
            }
            prop_assert!(slice.cmc.windows(2).all(|w| w[0].value <= w[1].value), "CMC is non-decreasing");
            prop_assert!(slice.det.windows(2).all(|w| w[0].fpir <= w[1].fpir && w[0].fnir >= w[1].fnir), "DET is monotone");
        }
        for table in &output.estimates.cross_group {
            for cell in &table.cells {
                check_rate(&cell.fmr)?;
            }
        }
    }
}

/// Every count of a tile's tally, computed the slow way: each score from `ProbeSet::score`,
/// each identity's detections at each threshold, squared and summed over searches.
fn brute_force_tally(
    scenario: &falsematch::scenario::Scenario,
    tile: &falsematch::search::Tile,
    probes: &ProbeSet,
    thresholds: &Thresholds,
) -> (Vec<Vec<u64>>, falsematch::tally::ClusterSums) {
    let n_t = thresholds.q.len();
    let n_g = scenario.n_groups();
    let mut sums = falsematch::tally::ClusterSums::new(n_t, n_g);
    let mut sq = vec![vec![0u64; n_t * n_g]; probes.group.len()];
    // Identity runs of the tile.
    let mut runs = Vec::new();
    let mut j = 0;
    while j < tile.len() {
        let start = j;
        while j < tile.len() && tile.identity[j] == tile.identity[start] {
            j += 1;
        }
        runs.push(start..j);
    }
    for run in &runs {
        let h = tile.group[run.start] as usize;
        let m = run.len() as u64;
        sums.size_sq[h] += m * m;
        *sums.sizes[h].entry(m).or_insert(0) += 1;
        // E and P per (slice, threshold): slices 0..G by probe group, then G for all.
        let mut e = vec![0u64; (n_g + 1) * n_t];
        let mut z = vec![0u64; (n_g + 1) * n_t];
        for (p, sq_p) in sq.iter_mut().enumerate() {
            let mate = probes.mate[p].as_ref();
            if mate.is_some_and(|m| m.identity == tile.identity[run.start]) {
                continue;
            }
            for t in 0..n_t {
                let y = run
                    .clone()
                    .filter(|&r| {
                        let row = tile.embeddings.row(r);
                        probes.score(p, row.as_slice().unwrap()) >= thresholds.q[t]
                    })
                    .count() as u64;
                sq_p[t * n_g + h] += y * y;
                if mate.is_none() && y > 0 {
                    for s in [probes.group[p] as usize, n_g] {
                        e[s * n_t + t] += y;
                        z[s * n_t + t] += 1;
                    }
                }
            }
        }
        for s in 0..=n_g {
            for t in 0..n_t {
                let c = sums.cell(s, t, h);
                sums.detections_sq[c] += e[s * n_t + t] * e[s * n_t + t];
                sums.detections_by_size[c] += m * e[s * n_t + t];
                sums.people_sq[c] += z[s * n_t + t] * z[s * n_t + t];
            }
        }
    }
    (sq, sums)
}

#[test]
fn cluster_sums_of_the_kernel_are_the_brute_force_ones() {
    // Several detections per identity (the general path) and one each (the branch-free path),
    // in both number formats, with mated and non-mated probes of several groups.
    for (one_each, precision) in [
        (false, "int16"),
        (true, "int16"),
        (false, "int8"),
        (true, "int8"),
    ] {
        let mut text = std::fs::read_to_string(format!(
            "{}/tests/data/small.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        text = text.replace("detections = 5000", "detections = 1500");
        text = text.replace("raw = [0.3, 0.4]", "raw = [0.05, 0.1, 0.3, 0.4]");
        if one_each {
            text = text.replace(
                "mean_detections = 3.0",
                "mean_detections = 1.0\ndistribution = \"fixed\"",
            );
        }
        text.push_str(&format!("[search]\nprecision = \"{precision}\"\n"));
        let scenario = falsematch::scenario::Scenario::from_toml(&text, "t.toml").unwrap();
        let population = Population::new(&scenario, 0);
        let layout = GalleryLayout::build(&population);
        let probes = falsematch::population::draw_probes(&population, &layout, 0).unwrap();
        let thresholds = Thresholds::new(scenario.thresholds().iter().map(|t| t.score));
        for blocks in layout.tiles(600) {
            let tile = layout.generate(&population, blocks);
            let mut tally = Tally::new(
                scenario.k(),
                thresholds.q.len(),
                scenario.n_groups(),
                &probes.mate_counts(),
            );
            search_tile(&tile, &probes, &thresholds, &mut tally, &mut Vec::new());
            let (sq, sums) = brute_force_tally(&scenario, &tile, &probes, &thresholds);
            for (p, t) in tally.probes.iter().enumerate() {
                assert_eq!(t.sq, sq[p], "one each {one_each} {precision}: probe {p}");
            }
            assert_eq!(tally.clusters, sums, "one each {one_each} {precision}");
            assert!(
                sums.detections_sq.iter().any(|&x| x > 0),
                "nothing was counted"
            );
        }
    }
}
