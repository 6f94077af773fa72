//! Benchmarks of the data stage: loading and verifying a split, and drawing subsets.

use criterion::{Criterion, criterion_group, criterion_main};
use glh_benches::mnist_dir;
use glh_data::{MnistSplit, Normalisation, Split};
#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

use std::hint::black_box;

fn load(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
    let mut group = c.benchmark_group("mnist");
    group.sample_size(10);
    group.bench_function("load_verify_train", |b| {
        b.iter(|| MnistSplit::load(black_box(&mnist_dir()), Split::Train).unwrap())
    });
    let train = MnistSplit::load(&mnist_dir(), Split::Train).unwrap();
    let norm = Normalisation {
        standardise: true,
        mean: 0.1307,
        std: 0.3081,
    };
    let batch: Vec<u32> = (0..128).map(|i| i * 397).collect();
    group.bench_function("inputs_batch_128", |b| {
        b.iter(|| train.inputs(black_box(&batch), &norm))
    });
    group.bench_function("balanced_subset_200", |b| {
        b.iter(|| {
            let mut rng = glh_artifacts::seeding::stream(0, "bench");
            glh_data::subsets::balanced_subset(&train.labels, 10, 20, &mut rng).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, load);
criterion_main!(benches);
