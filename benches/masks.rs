//! Benchmarks of the masks stage: one mask of each method at widths 1000 and 2000 (L = 4,
//! sparsity 80%), scored and selected exactly as `glh masks` does, without writing.
//!
//! Targets (issue #3): SynFlow (100 rounds) at width 2000 under 10 s, SNIP or GraSP under 3 s.

use criterion::{Criterion, criterion_group, criterion_main};
use glh_artifacts::ArtifactStore;
use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
use glh_benches::mnist_dir;
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::stage::{MaskPoint, compute_mask};
#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

use std::time::Duration;

fn masks(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: mnist_dir(),
        ..DataSettings::default()
    };
    let settings = MasksSettings::default();
    let mut group = c.benchmark_group("mask_L4_s0.8");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for width in [1000u64, 2000] {
        for method in [
            PruneMethod::Random,
            PruneMethod::Snip,
            PruneMethod::Grasp,
            PruneMethod::Synflow,
        ] {
            let point = MaskPoint {
                method,
                width: Width::try_from(width).unwrap(),
                sparsity: Sparsity::try_from(0.8).unwrap(),
                depth: Depth::try_from(4).unwrap(),
                seed: 0,
            };
            group.bench_function(format!("{method}/n={width}"), |b| {
                b.iter(|| {
                    compute_mask(&store, &settings, &data, &point, &mut |_, _, _| {}).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, masks);
criterion_main!(benches);
