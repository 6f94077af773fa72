//! Benchmarks of the ntk stage on E3's shapes: a Random mask at n = 1024, L = 4, sparsity 80%,
//! and the N = 200 kernel images of seed 0.
//!
//! - `mask_level`: the mask-level Graphon NTK (K = n); its throughput is in flop/s (counted by
//!   `graphon_ntk_flops`, matrix products only);
//! - `gemm_same_shape`: one plain f64 product `(n x n) @ (n x N(N+1)/2)` with faer on all
//!   threads, the rate the mask-level kernel's products are measured against (target: half);
//! - `histogram_k64`: the histogram-level kernel at K = 64;
//! - `empirical_1_draw`: the empirical NTK of one weight draw.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use glh_data::mnist::PIXELS;
use glh_data::stage::{Subset, subset_images};
use glh_ntk::chain::GraphonChain;
use glh_ntk::empirical::{empirical_ntk, empirical_ntk_flops};
use glh_ntk::recursion::{graphon_ntk, graphon_ntk_flops};
use std::time::Duration;

#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

fn ntk(c: &mut Criterion) {
    glh_benches::keep_freed_memory();
    let (_root, store, data) = glh_benches::scratch_store();
    let mask = glh_benches::random_mask_1024(&store, &data);
    let images = subset_images(&store, &data, 0, Subset::Kernel).unwrap();
    let n_points = images.indices.len();
    let x = glh_model::backprop::examples_as_columns(&images.pixels, PIXELS);
    let layers = mask.layers();

    let mut group = c.benchmark_group("ntk_n1024_N200_L4");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));

    let chain = GraphonChain::of_masks(layers).unwrap();
    group.throughput(Throughput::Elements(
        graphon_ntk_flops(&chain, n_points) as u64
    ));
    group.bench_function("mask_level", |b| b.iter(|| graphon_ntk(&chain, &x, 2.0)));

    let pairs = n_points * (n_points + 1) / 2;
    let (a, rhs) = (
        Mat::from_fn(1024, 1024, |i, j| ((i * 7 + j * 3) % 5) as f64),
        Mat::from_fn(1024, pairs, |i, j| ((i + j) % 11) as f64 * 0.1),
    );
    let mut out = Mat::<f64>::zeros(1024, pairs);
    group.throughput(Throughput::Elements(2 * 1024 * 1024 * pairs as u64));
    group.bench_function("gemm_same_shape", |b| {
        b.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                a.as_ref(),
                rhs.as_ref(),
                1.0,
                Par::rayon(0),
            )
        })
    });

    let histogram = GraphonChain::of_histograms(layers, 64).unwrap();
    group.throughput(Throughput::Elements(
        graphon_ntk_flops(&histogram, n_points) as u64,
    ));
    group.bench_function("histogram_k64", |b| {
        b.iter(|| graphon_ntk(&histogram, &x, 2.0))
    });

    group.throughput(Throughput::Elements(
        empirical_ntk_flops(layers, n_points) as u64
    ));
    group.bench_function("empirical_1_draw", |b| {
        b.iter(|| empirical_ntk(layers, &x, 2.0, 1, 0))
    });
    group.finish();
}

criterion_group!(benches, ntk);
criterion_main!(benches);
