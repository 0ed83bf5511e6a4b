//! `search`'s output files from one typed
//! [`SearchResults`]: a JSON document, or two
//! CSV files (candidates; counts per threshold and group).

use crate::pipeline::search_files::SearchResults;
use serde::Serialize;

/// The header of the candidate CSV.
pub const CANDIDATES_HEADER: &str = "probe,rank,gallery_index,score,group";
/// The header of the per-threshold counts CSV.
pub const COUNTS_HEADER: &str = "probe,threshold,group,count";

/// The JSON document (keys in alphabetical order, as it has always been written).
pub fn json(s: &SearchResults) -> Vec<u8> {
    #[derive(Serialize)]
    struct Facts<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        dimension: Option<usize>,
        rows: usize,
        sha256: &'a str,
    }
    #[derive(Serialize)]
    struct Candidate<'a> {
        gallery_index: u64,
        group: &'a str,
        rank: usize,
        score: f64,
    }
    #[derive(Serialize)]
    struct Count {
        by_group: Vec<u64>,
        threshold: f64,
        total: u64,
    }
    #[derive(Serialize)]
    struct Probe<'a> {
        candidates: Vec<Candidate<'a>>,
        counts: Vec<Count>,
        probe: usize,
    }
    #[derive(Serialize)]
    struct Tool {
        name: &'static str,
        version: &'static str,
    }
    #[derive(Serialize)]
    struct Doc<'a> {
        gallery: Facts<'a>,
        groups: &'a [String],
        k: usize,
        normalized: &'static str,
        precision: crate::quantize::Precision,
        probes: Facts<'a>,
        results: Vec<Probe<'a>>,
        score: String,
        thresholds: &'a [f64],
        tool: Tool,
    }
    let doc = Doc {
        gallery: Facts {
            dimension: Some(s.gallery.dimension),
            rows: s.gallery.rows,
            sha256: &s.gallery.sha256,
        },
        groups: &s.groups,
        k: s.k,
        normalized: "every row divided by its L2 norm on load",
        precision: s.precision,
        probes: Facts {
            dimension: None,
            rows: s.probes.rows,
            sha256: &s.probes.sha256,
        },
        results: s
            .results
            .iter()
            .enumerate()
            .map(|(p, r)| Probe {
                candidates: r
                    .candidates
                    .iter()
                    .map(|c| Candidate {
                        gallery_index: c.gallery_index,
                        group: &s.groups[c.group],
                        rank: c.rank,
                        score: c.score,
                    })
                    .collect(),
                counts: s
                    .thresholds
                    .iter()
                    .zip(&r.counts)
                    .map(|(&threshold, by_group)| Count {
                        by_group: by_group.clone(),
                        threshold,
                        total: by_group.iter().sum(),
                    })
                    .collect(),
                probe: p,
            })
            .collect(),
        score: format!(
            "{}; reported scores are clamped to [-1, 1] (quantization can put a self-match a little above 1), thresholds compare the unclamped integers; candidates break ties by lower gallery index",
            s.precision.convention()
        ),
        thresholds: &s.thresholds,
        tool: Tool {
            name: "falsematch",
            version: env!("CARGO_PKG_VERSION"),
        },
    };
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("search results serialize");
    bytes.push(b'\n');
    bytes
}

/// The candidate CSV and the counts CSV (a row for all groups, then one per group when there
/// are several), each written by one CSV writer.
pub fn csv(s: &SearchResults) -> (Vec<u8>, Vec<u8>) {
    const IN_MEMORY: &str = "writing CSV to memory cannot fail";
    let mut cand = csv::Writer::from_writer(Vec::new());
    cand.write_record(CANDIDATES_HEADER.split(','))
        .expect(IN_MEMORY);
    let mut cnt = csv::Writer::from_writer(Vec::new());
    cnt.write_record(COUNTS_HEADER.split(',')).expect(IN_MEMORY);
    for (p, r) in s.results.iter().enumerate() {
        for c in &r.candidates {
            cand.write_record([
                p.to_string(),
                c.rank.to_string(),
                c.gallery_index.to_string(),
                c.score.to_string(),
                s.groups[c.group].clone(),
            ])
            .expect(IN_MEMORY);
        }
        for (score, by_group) in s.thresholds.iter().zip(&r.counts) {
            let (p, score) = (p.to_string(), score.to_string());
            let total: u64 = by_group.iter().sum();
            cnt.write_record([&p, &score, "all", &total.to_string()])
                .expect(IN_MEMORY);
            if s.groups.len() > 1 {
                for (name, n) in s.groups.iter().zip(by_group) {
                    cnt.write_record([&p, &score, name, &n.to_string()])
                        .expect(IN_MEMORY);
                }
            }
        }
    }
    (
        cand.into_inner().expect(IN_MEMORY),
        cnt.into_inner().expect(IN_MEMORY),
    )
}
