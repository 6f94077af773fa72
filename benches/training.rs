//! Benchmark of one training step of the training stage: Adam on cross-entropy for the
//! 784 -> 1024 -> 1024 -> 1024 -> 10 MLP (L = 4) at sparsity 80% (Random mask), batch 128, on
//! the CPU, exactly as `glh train` runs it (forward on w ⊙ m, backward, AdamW with no decay).
//! A second case is the dense network, for the cost of masking.

use candle_core::{Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use criterion::{Criterion, criterion_group, criterion_main};
use glh_model::{Architecture, Mask, Mlp};
use glh_training::MaskedMlp;
use std::time::Duration;

#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

fn training_step(c: &mut Criterion) {
    let (_root, store, data) = glh_benches::scratch_store();
    let pruned = glh_benches::random_mask_1024(&store, &data);
    let arch = Architecture::mnist(1024, 4);
    let mlp = Mlp::init(arch, 0);
    let device = Device::Cpu;
    let x = Tensor::from_vec(
        (0..128 * 784)
            .map(|i| ((i * 37) % 255) as f32 / 255.0)
            .collect::<Vec<f32>>(),
        (128, 784),
        &device,
    )
    .unwrap();
    let y = Tensor::from_vec(
        (0..128u32).map(|i| i % 10).collect::<Vec<u32>>(),
        128,
        &device,
    )
    .unwrap();
    let mut group = c.benchmark_group("train_step_n1024_L4_b128");
    group.sample_size(20);
    group.warm_up_time(Duration::from_millis(500));
    for (name, mask) in [("random_s0.8", pruned), ("dense", Mask::full(&arch))] {
        let model = MaskedMlp::new(&mlp, &mask, &device).unwrap();
        let params = ParamsAdamW {
            weight_decay: 0.0,
            ..ParamsAdamW::default()
        };
        let mut opt = AdamW::new(model.vars(), params).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let (loss, _) = model.loss_and_accuracy(&x, &y).unwrap();
                opt.backward_step(&loss).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, training_step);
criterion_main!(benches);
