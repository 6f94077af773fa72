//! How wide the certified cut-distance interval is at the paper's K = 64 on real masks: for
//! every seed-0 masks run of a store, the K = 64 SAS histogram of each hidden-to-hidden layer,
//! and the interval between it and the same method's largest width (issue #15's measurement).
//!
//! ```sh
//! glh run pipelines/e1.toml --artifacts /tmp/e1
//! cargo run --release -p glh-graphons --example cut_interval_width -- /tmp/e1
//! ```

use glh_artifacts::store::{EntryState, InputRef, Verify};
use glh_artifacts::{ArtifactStore, Result};
use glh_graphons::cut_bounds::cut_interval;
use glh_graphons::sas::sas_histogram;
use glh_graphons::step::StepGraphon;
use glh_masks::stage::{read_mask, read_point};
use std::collections::BTreeMap;
use std::time::Instant;

const K: usize = 64;

fn main() -> Result<()> {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "artifacts".into());
    let store = ArtifactStore::new(&root);
    // (method, depth, sparsity) -> width -> hidden layer -> histogram.
    type Histograms = BTreeMap<u32, BTreeMap<usize, StepGraphon>>;
    let mut groups: BTreeMap<(String, u32, String), Histograms> = BTreeMap::new();
    for entry in store.stage_entries("masks", Verify::Sizes)? {
        let EntryState::Complete(manifest) = entry.state else {
            continue;
        };
        let input = InputRef {
            stage: manifest.stage.clone(),
            key: manifest.key.clone(),
        };
        let (point, _) = read_point(&store, &input)?;
        if point.seed != 0 {
            continue;
        }
        let (_, mask) = read_mask(&store, &input)?;
        let layers = mask.layers();
        let mut hidden = BTreeMap::new();
        for (l, layer) in layers.iter().enumerate().take(layers.len() - 1).skip(1) {
            let k = K.min(layer.rows()).min(layer.cols());
            hidden.insert(l + 1, sas_histogram(layer, k, k).expect("k fits"));
        }
        groups
            .entry((
                point.method.to_string(),
                point.depth.get(),
                point.sparsity.value().to_string(),
            ))
            .or_default()
            .insert(point.width.get(), hidden);
    }
    println!("method   depth sparsity layer width    cut_low   cut_high  high/low  seconds");
    for ((method, depth, sparsity), by_width) in &groups {
        let (&reference, reference_layers) = by_width.last_key_value().expect("a width");
        for (&width, layers) in by_width.range(..reference) {
            for (layer, h) in layers {
                let h_ref = &reference_layers[layer];
                if (h.rows, h.cols) != (h_ref.rows, h_ref.cols) {
                    continue;
                }
                let clock = Instant::now();
                let i = cut_interval(h, h_ref, 0).expect("one grid");
                println!(
                    "{method:<8} {depth:>5} {sparsity:>8} {layer:>5} {width:>5} {:>10.6} {:>10.6} {:>9.4} {:>8.3}",
                    i.low,
                    i.high,
                    i.high / i.low,
                    clock.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(())
}
