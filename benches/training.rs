//! Benchmarks of the training stage on the CPU, for E3's network: the 784 -> 1024 -> 1024 ->
//! 1024 -> 10 MLP (L = 4) at sparsity 80% (Random mask), batches of 128, exactly as `glh train`
//! runs it.
//!
//! - `train_step_n1024_L4_b128`: one Adam step (forward, hand-written backward, fused Adam),
//!   masked and dense (masking costs nothing here: weights are kept pruned), and its parts;
//! - `test_eval_n1024_L4`: one evaluation on MNIST's 10,000 test images;
//! - `e3_run_n1024_L4`: one whole E3 run, 200 steps with the test set every 20 (`train`);
//! - `route_n1024_L4_b128`: a forward and backward pass on the dense and on the sparse route
//!   at densities 0.05 to 0.5 (masks of that density in every layer), which sets
//!   `glh_training::sparse::SPARSE_BELOW_DENSITY`;
//! - `mask_update_n1024_L4_b128`: one SET and one RigL mask update (issue #33) beside the
//!   masked Adam step, at 80% and 95%.
//!
//! `just bench-torch` runs these beside PyTorch twins on the same weights and prints the ratios.
//! With `GLH_BENCH_DEVICE=cuda` (a build with this crate's `cuda` feature, as
//! `scripts/gpu-check.sh` runs it) they run on the first CUDA GPU, under group names ending in
//! `_cuda`.

use candle_core::Tensor;
use criterion::{Criterion, criterion_group, criterion_main};
use glh_data::mnist::{CLASSES, PIXELS};
use glh_model::{Architecture, LayerMask, Mask, Mlp};
use glh_training::sparse::ProductRoute;
use glh_training::{MaskedMlp, MnistTensors, TrainingSettings, train};
use std::time::Duration;

#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

/// The first 128 training images and labels, as the first batch of a run would hold them.
fn first_batch(data: &MnistTensors) -> (Tensor, Tensor) {
    (
        data.train_x.narrow(0, 0, 128).unwrap(),
        data.train_y.narrow(0, 0, 128).unwrap(),
    )
}

/// The device named by `GLH_BENCH_DEVICE` (`cpu`, `cuda` or `metal`; `cpu` when unset), and
/// the suffix its benchmark groups carry (none on the CPU).
fn bench_device() -> (candle_core::Device, String) {
    let name = std::env::var("GLH_BENCH_DEVICE").unwrap_or_else(|_| "cpu".to_string());
    let device: glh_training::Device =
        serde_json::from_value(serde_json::Value::String(name.clone()))
            .unwrap_or_else(|_| panic!("GLH_BENCH_DEVICE must be cpu, cuda or metal, got {name}"));
    let suffix = match device {
        glh_training::Device::Cpu => String::new(),
        other => format!("_{other}"),
    };
    (device.open().unwrap(), suffix)
}

fn training_step(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
    let (device, suffix) = bench_device();
    let (_root, store, settings) = glh_benches::scratch_store();
    let pruned = glh_benches::random_mask_1024(&store, &settings);
    let data = MnistTensors::load(&settings, &device).unwrap();
    let arch = Architecture::mlp(PIXELS, 1024, 4, CLASSES);
    let mlp = Mlp::init(arch, 0);
    let adam = TrainingSettings::default().adam();
    let (x, y) = first_batch(&data);
    let mut group = c.benchmark_group(format!("train_step_n1024_L4_b128{suffix}"));
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    // At density 0.5 the step takes the dense route with a masked Adam update (E3's 50-70%).
    let half = mask_of_density(&arch, 0.5);
    for (name, mask) in [
        ("random_s0.8", &pruned),
        ("density_0.5", &half),
        ("dense", &Mask::full(&arch)),
    ] {
        let mut model = MaskedMlp::new(&mlp, mask, &device).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let gradients = model.backward(&x, &y).unwrap();
                model.adam_step(&adam, &gradients).unwrap();
                gradients.loss.to_scalar::<f32>().unwrap()
            })
        });
    }
    // The step's parts, on the pruned net.
    let mut model = MaskedMlp::new(&mlp, &pruned, &device).unwrap();
    group.bench_function("random_s0.8/forward", |b| {
        b.iter(|| model.forward(&x).unwrap())
    });
    group.bench_function("random_s0.8/forward_backward", |b| {
        b.iter(|| model.backward(&x, &y).unwrap())
    });
    let gradients = model.backward(&x, &y).unwrap();
    group.bench_function("random_s0.8/adam", |b| {
        b.iter(|| model.adam_step(&adam, &gradients).unwrap())
    });
    let mut half_model = MaskedMlp::new(&mlp, &half, &device).unwrap();
    let half_gradients = half_model.backward(&x, &y).unwrap();
    group.bench_function("density_0.5/adam", |b| {
        b.iter(|| half_model.adam_step(&adam, &half_gradients).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(format!("test_eval_n1024_L4{suffix}"));
    group.sample_size(10);
    group.bench_function("random_s0.8", |b| {
        b.iter(|| model.loss_and_correct(&data.test_x, &data.test_y).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(format!("e3_run_n1024_L4{suffix}"));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(60));
    let settings = TrainingSettings::default();
    group.bench_function("random_s0.8", |b| {
        b.iter(|| {
            let mut model = MaskedMlp::new(&mlp, &pruned, &device).unwrap();
            train(&mut model, &data, &settings, 0, &mut |_, _| {}).unwrap()
        })
    });
    group.finish();
}

/// A mask keeping about `density` of every layer of `arch`, from a fixed hash of the position.
fn mask_of_density(arch: &Architecture, density: f64) -> Mask {
    let layers = Mask::full(arch)
        .layers()
        .iter()
        .map(|full| {
            let keep = (0..full.rows() * full.cols())
                .map(|i| (i * 2_654_435_761) % 10_000 < (density * 10_000.0) as usize)
                .collect();
            LayerMask::new(full.rows(), full.cols(), keep).unwrap()
        })
        .collect();
    Mask::from_layers(arch, layers).unwrap()
}

fn route(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
    let (_root, _store, settings) = glh_benches::scratch_store();
    let device = candle_core::Device::Cpu;
    let data = MnistTensors::load(&settings, &device).unwrap();
    let arch = Architecture::mlp(PIXELS, 1024, 4, CLASSES);
    let mlp = Mlp::init(arch, 0);
    let (x, y) = first_batch(&data);
    let mut group = c.benchmark_group("route_n1024_L4_b128");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(2));
    for density in [0.5, 0.4, 0.3, 0.2, 0.1, 0.05] {
        let mask = mask_of_density(&arch, density);
        for (name, route) in [
            ("dense", ProductRoute::Dense),
            ("sparse", ProductRoute::Sparse),
        ] {
            let model = MaskedMlp::new(&mlp, &mask, &device)
                .unwrap()
                .with_route(route)
                .unwrap();
            group.bench_function(format!("{name}/density_{density}"), |b| {
                b.iter(|| model.backward(&x, &y).unwrap())
            });
        }
    }
    group.finish();
}

/// The cost of a mask update (issue #33) beside the masked Adam step it interrupts, on E3's
/// network at 80% and 95% (masks of that density in every layer): SET's update (weights to the
/// host, drop and random regrowth per layer, the new mask and Adam state on the device) and
/// RigL's (the same with the dense gradient of the step's batch). A run updating every `delta`
/// steps pays `update / (delta step)` on top of its steps.
fn mask_update(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
    let (_root, _store, settings) = glh_benches::scratch_store();
    let device = candle_core::Device::Cpu;
    let data = MnistTensors::load(&settings, &device).unwrap();
    let arch = Architecture::mlp(PIXELS, 1024, 4, CLASSES);
    let mlp = Mlp::init(arch, 0);
    let adam = TrainingSettings::default().adam();
    let (x, y) = first_batch(&data);
    let mut group = c.benchmark_group("mask_update_n1024_L4_b128");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for density in [0.2, 0.05] {
        let mask = mask_of_density(&arch, density);
        let name = format!("s{}", 1.0 - density);
        let mut model = MaskedMlp::new(&mlp, &mask, &device).unwrap();
        group.bench_function(format!("{name}/adam_step"), |b| {
            b.iter(|| {
                let gradients = model.backward(&x, &y).unwrap();
                model.adam_step(&adam, &gradients).unwrap();
            })
        });
        let mut rng = glh_training::schedule::schedule_stream(0);
        group.bench_function(format!("{name}/set_update"), |b| {
            b.iter(|| glh_training::train::evolve_mask(&mut model, 0.3, None, &mut rng).unwrap())
        });
        // What RigL adds to its update step: the dense gradient (its sparse gradients are the
        // step's own) and the update.
        let gradients = model.backward(&x, &y).unwrap();
        group.bench_function(format!("{name}/rigl_update"), |b| {
            b.iter(|| {
                let dense = glh_training::train::dense_gradient_on_host(&model, &x, &y, &gradients)
                    .unwrap();
                glh_training::train::evolve_mask(&mut model, 0.3, Some(&dense), &mut rng).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, route, training_step, mask_update);
criterion_main!(benches);
