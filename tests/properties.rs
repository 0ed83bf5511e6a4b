//! Invariants over many inputs (proptest).

use crate::support::rich;
use falsematch::estimate::Estimate;
use falsematch::population::{GalleryLayout, Population};
use falsematch::run::{RunOptions, simulate};
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
        let probes = ProbeSet::build(&population, &layout, 0).unwrap();
        let thresholds = Thresholds::of(&scenario);
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
