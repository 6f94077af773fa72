//! Benchmarks of the masks stage: one mask of each method at widths 1000 and 2000 (L = 4,
//! sparsity 80%), scored and selected exactly as `glh masks` does, without writing.
//!
//! - `mask_L4_s0.8`: the whole computation (initialisation, scoring batch, scoring, selection);
//! - `score_select_L4_s0.8`: scoring and selection alone, the network and batch in memory: what
//!   the PyTorch twins of `just bench-torch` time.
//!
//! Targets (issue #3): SynFlow (100 rounds) at width 2000 under 10 s, SNIP or GraSP under 3 s.

use criterion::{Criterion, criterion_group, criterion_main};
use glh_artifacts::ArtifactStore;
use glh_artifacts::config::{Classifier, Depth, PruneMethod, Sparsity, Width};
use glh_artifacts::seeding::stream;
use glh_benches::mnist_dir;
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::methods::{Pruning, method_for};
use glh_masks::stage::{MaskPoint, compute_mask, scoring_data};
use glh_model::Mlp;
use rand_chacha::rand_core::Rng;
#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

use std::time::Duration;

/// E1's configuration of `method` at `width`: L = 4, sparsity 80%, seed 0.
fn e1_point(method: PruneMethod, width: u64) -> MaskPoint {
    MaskPoint {
        method,
        width: Width::try_from(width).unwrap(),
        sparsity: Sparsity::try_from(0.8).unwrap(),
        depth: Depth::try_from(4).unwrap(),
        seed: 0,
    }
}

fn masks(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
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
            let point = e1_point(method, width);
            group.bench_function(format!("{method}/n={width}"), |b| {
                b.iter(|| {
                    compute_mask(&store, &settings, &data, &point, None, &mut |_, _, _| {}).unwrap()
                })
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("score_select_L4_s0.8");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for width in [1000u64, 2000] {
        for method in [PruneMethod::Snip, PruneMethod::Grasp, PruneMethod::Synflow] {
            let point = e1_point(method, width);
            let net = Mlp::init(point.architecture(), 0);
            let pruning = method_for(method, &settings, 0);
            let batch = pruning
                .needs_data()
                .then(|| scoring_data(&store, &data, 0, false).unwrap());
            let how = Pruning {
                density: 0.2,
                scope: settings.scope,
                seed: 0,
                tie_seed: stream(0, "masks/ties").next_u64(),
                allow_empty_layers: false,
                classifier: Classifier::Pruned,
            };
            group.bench_function(format!("{method}/n={width}"), |b| {
                b.iter(|| {
                    pruning
                        .prune(&net, batch.as_ref(), &how, &mut |_, _, _| {})
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, masks);
criterion_main!(benches);
