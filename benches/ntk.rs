//! Benchmarks of the ntk stage on E3's shapes: a Random mask at n = 1024, L = 4, sparsity 80%,
//! and the N = 200 kernel images of seed 0.
//!
//! - `mask_level`: the mask-level Graphon NTK (K = n); its throughput is in flop/s counted by
//!   `graphon_ntk_flops` (the dense products it replaces, so sparse products can exceed the
//!   GEMM rate);
//! - `mask_level_gemm`: faer's f64 GEMM on the same shapes in the same chunks and threads,
//!   with dense layers padded as the kernel's are (`glh_ntk::products::DenseLayer`): the rate
//!   the kernel is measured against (target: 70% or more);
//! - `histogram_k64`, `histogram_k64_gemm`: the same pair at K = 64 (E3's graphon kernel);
//! - `empirical_1_draw`: the empirical NTK of one weight draw.
//!
//! `layer_product_1024` times one chunk's layer product, `1024 x 1024` 0/1 mask times
//! `1024 x 512`, on one thread, dense and sparse at four densities: where the sparse route
//! overtakes the dense one is `products::SPARSE_BELOW_DENSITY`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use faer::Mat;
use glh_data::mnist::PIXELS;
use glh_data::stage::{Subset, subset_images};
use glh_ntk::chain::GraphonChain;
use glh_ntk::empirical::{empirical_ntk, empirical_ntk_flops};
use glh_ntk::pairs::CHUNK;
use glh_ntk::products::{DenseLayer, SparseRows, dense_product};
use glh_ntk::recursion::{graphon_ntk, graphon_ntk_flops};
use rayon::prelude::*;
use std::time::Duration;

#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

fn ntk(c: &mut Criterion) {
    glh_benches::set_up_as_glh();
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

    let rhs = chunk_right_hand_sides(&chain);
    group.bench_function("mask_level_gemm", |b| {
        b.iter(|| products_of_the_recursion(&chain, &rhs, n_points))
    });

    let histogram = GraphonChain::of_histograms(layers, 64).unwrap();
    group.throughput(Throughput::Elements(
        graphon_ntk_flops(&histogram, n_points) as u64,
    ));
    group.bench_function("histogram_k64", |b| {
        b.iter(|| graphon_ntk(&histogram, &x, 2.0))
    });
    let rhs = chunk_right_hand_sides(&histogram);
    group.bench_function("histogram_k64_gemm", |b| {
        b.iter(|| products_of_the_recursion(&histogram, &rhs, n_points))
    });

    group.throughput(Throughput::Elements(
        empirical_ntk_flops(layers, n_points) as u64
    ));
    group.bench_function("empirical_1_draw", |b| {
        b.iter(|| empirical_ntk(layers, &x, 2.0, 1, 0))
    });
    group.finish();
}

/// The right-hand sides of one full chunk's products, layer by layer (`CHUNK` columns for the
/// first layer, `2 CHUNK` for the others), built once so that only products are timed.
fn chunk_right_hand_sides(chain: &GraphonChain) -> Vec<Mat<f64>> {
    chain
        .layers()
        .iter()
        .enumerate()
        .map(|(l, w)| {
            let columns = if l == 0 { CHUNK } else { 2 * CHUNK };
            Mat::from_fn(w.ncols(), columns, |r, p| ((r + p) % 7) as f64)
        })
        .collect()
}

/// faer's dense GEMM on every product the recursion runs on `n_points` points, in its chunks
/// (`CHUNK` pairs, one thread each, chunks in parallel), with the layers as dense matrices and
/// the right-hand sides `rhs` (a last, partial chunk uses their leading columns): what the
/// kernel would cost if products were all it did.
fn products_of_the_recursion(chain: &GraphonChain, rhs: &[Mat<f64>], n_points: usize) -> f64 {
    let pairs = n_points * (n_points + 1) / 2 + n_points;
    let chunks: Vec<usize> = (0..pairs.div_ceil(CHUNK)).collect();
    // Padded as the recursion's dense layers are (`DenseLayer` says why): a 10-row output
    // layer's uninitialised padding would otherwise slow the reference, not the kernel.
    let layers: Vec<DenseLayer> = chain
        .layers()
        .iter()
        .map(|w| DenseLayer::new(w.as_ref()))
        .collect();
    chunks
        .par_iter()
        .map(|&i| {
            let c = CHUNK.min(pairs - i * CHUNK);
            layers
                .iter()
                .zip(rhs)
                .enumerate()
                .map(|(l, (w, rhs))| {
                    let columns = if l == 0 { c } else { 2 * c };
                    let mut out = Mat::zeros(w.matrix().nrows(), columns);
                    w.product_into(rhs.subcols(0, columns), out.as_mut(), 2.0);
                    out[(0, 0)]
                })
                .sum::<f64>()
        })
        .sum()
}

fn layer_product(c: &mut Criterion) {
    let mut group = c.benchmark_group("layer_product_1024");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    let (n, columns) = (1024, 2 * CHUNK);
    let rhs = Mat::from_fn(n, columns, |i, j| ((i + j) % 11) as f64 * 0.1);
    group.throughput(Throughput::Elements((2 * n * n * columns) as u64));
    for density in [0.05, 0.2, 0.5, 0.8] {
        let mask = Mat::from_fn(n, n, |i, j| {
            let h = (i * 7919 + j * 104_729 + 13) % 1000;
            f64::from(u8::from((h as f64) < density * 1000.0))
        });
        let sparse = SparseRows::of(&mask);
        group.bench_function(format!("dense_{density}"), |b| {
            b.iter(|| dense_product(mask.as_ref(), rhs.as_ref(), 2.0))
        });
        group.bench_function(format!("sparse_{density}"), |b| {
            b.iter(|| sparse.product(&rhs, 2.0))
        });
    }
    group.finish();
}

criterion_group!(benches, ntk, layer_product);
criterion_main!(benches);
