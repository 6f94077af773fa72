//! The paper's E3 kernel: the Graphon NTK of a configuration's seed-averaged graphon, against
//! the mask-level kernel of finite masks drawn from it (agreement up to O(1/sqrt(n))), the exact
//! sigma_w^2 scaling of a bias-free ReLU network, and the `graphon_ntk` job end to end.

use faer::Mat;
use glh_artifacts::ArtifactStore;
use glh_artifacts::Job;
use glh_artifacts::config::{Depth, KernelView, PruneMethod, Sparsity, Width};
use glh_artifacts::parquet_io::read_table;
use glh_artifacts::schemas::{GRAPHON_NTK_METRICS, GRAPHON_NTK_SEED_METRICS};
use glh_artifacts::store::InputRef;
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::stage::MaskPoint;
use glh_model::LayerMask;
use glh_ntk::chain::GraphonChain;
use glh_ntk::configuration::{configuration_chain, draw_masks};
use glh_ntk::recursion::{exact_sigma_w2_rescale, graphon_ntk};
use glh_ntk::settings::GraphonNtkSettings;
use glh_ntk::stage::relative_error;
use rand::RngExt;
use std::path::Path;

fn inputs(d: usize, n: usize, seed: u64) -> Mat<f64> {
    let mut rng = glh_artifacts::seeding::stream(seed, "test/inputs");
    let values: Vec<f64> = (0..d * n)
        .map(|_| rng.random_range(-1.0..1.0) + 0.3)
        .collect();
    Mat::from_fn(d, n, |i, j| values[j * d + i])
}

/// Masks whose keep probability grows along both sides (a graded graphon, like SNIP's).
fn graded_masks(shapes: &[(usize, usize)], seed: u64) -> Vec<LayerMask> {
    let mut rng = glh_artifacts::seeding::stream(seed, "test/graded");
    shapes
        .iter()
        .map(|&(rows, cols)| {
            let keep = (0..rows * cols)
                .map(|i| {
                    let (u, v) = (
                        (i / cols) as f64 / rows as f64,
                        (i % cols) as f64 / cols as f64,
                    );
                    rng.random::<f64>() < 0.1 + 0.8 * u * v
                })
                .collect();
            LayerMask::new(rows, cols, keep).unwrap()
        })
        .collect()
}

#[test]
fn the_kernel_of_a_drawn_mask_tends_to_the_graphon_kernel_like_one_over_sqrt_n() {
    // The input layer's fan-in stays d while n grows: each neuron's own Bernoulli draw over the
    // d pixels leaves a bias of order 1/d in the nonlinear recursion that no width removes, so
    // d is MNIST's 784 here (the paper's setting), where it is far below the 1/sqrt(n) term.
    let shapes = [(48, 784), (48, 48), (3, 48)];
    let runs: Vec<Vec<LayerMask>> = (0..2).map(|s| graded_masks(&shapes, s)).collect();
    let chain = configuration_chain(&runs, 6).unwrap();
    let x = inputs(784, 12, 1);
    let graphon = graphon_ntk(&chain, &x, 2.0);
    let error = |width: usize| -> f64 {
        // Mean over three draws: one draw's error fluctuates.
        (0..3)
            .map(|seed| {
                let drawn = GraphonChain::of_masks(&draw_masks(&chain, width, seed, None)).unwrap();
                relative_error(&graphon_ntk(&drawn, &x, 2.0), &graphon)
            })
            .sum::<f64>()
            / 3.0
    };
    let (small, large) = (error(60), error(960));
    // 16 times the width: 1/sqrt(n) predicts a quarter of the error (measured: 0.0326 at
    // n = 60, 0.0058 at n = 960); allow up to a third.
    assert!(large < small / 3.0, "n = 60: {small}, n = 960: {large}");
    assert!(large < 0.01, "n = 960: {large}");
    eprintln!("relative error of the drawn mask's kernel: n = 60: {small:.4}, n = 960: {large:.4}");
}

#[test]
fn sigma_w2_only_scales_a_bias_free_relu_kernel_by_its_power_l() {
    // Sigma_l and Theta_l are homogeneous of degree l in sigma_w^2 (ReLU, no biases), so the
    // kernel at 2 is 2^L times the kernel at 1, to the bit: the graphon_ntk stage derives one
    // from the other instead of running the recursion twice.
    let shapes = [(20, 8), (20, 20), (20, 20), (3, 20)];
    let chain = configuration_chain(&[graded_masks(&shapes, 4)], 5).unwrap();
    let x = inputs(8, 10, 2);
    let one = graphon_ntk(&chain, &x, 1.0);
    for (from, to) in [(1.0, 2.0), (2.0, 1.0), (0.5, 4.0), (3.0, 6.0)] {
        let factor = exact_sigma_w2_rescale(from, to, 4).unwrap();
        let computed = graphon_ntk(&chain, &x, to);
        let derived = &graphon_ntk(&chain, &x, from) * faer::Scale(factor);
        assert_eq!(bits(&computed), bits(&derived), "{from} -> {to}");
    }
    assert_eq!(exact_sigma_w2_rescale(1.0, 2.0, 4), Some(16.0));
    // A ratio that is no power of two rescales only approximately: the recursion runs again.
    assert_eq!(exact_sigma_w2_rescale(1.0, 1.5, 4), None);
    assert_eq!(exact_sigma_w2_rescale(1.0, 3.0, 4), None);
    let rescaled = &one * faer::Scale(1.5f64.powi(4));
    assert!(relative_error(&graphon_ntk(&chain, &x, 1.5), &rescaled) < 1e-14);
}

/// The bit patterns of a matrix's entries, column by column.
fn bits(m: &Mat<f64>) -> Vec<u64> {
    (0..m.ncols())
        .flat_map(|j| m.col_as_slice(j).iter().map(|v| v.to_bits()))
        .collect()
}

fn mnist() -> DataSettings {
    DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    }
}

/// Random masks runs (n = 16, L = 3, 80%) of the given seeds, in `store`.
fn random_masks_runs(store: &ArtifactStore, data: &DataSettings, seeds: &[u64]) -> Vec<InputRef> {
    seeds
        .iter()
        .map(|&seed| {
            let point = MaskPoint {
                method: PruneMethod::Random,
                width: Width::try_from(16).unwrap(),
                sparsity: Sparsity::try_from(0.8).unwrap(),
                depth: Depth::try_from(3).unwrap(),
                seed,
            };
            glh_masks::stage::MasksJob::new(&MasksSettings::default(), data, point)
                .unwrap()
                .run(store, false, &mut |_, _| {})
                .unwrap()
                .as_input()
        })
        .collect()
}

/// A String column of a table.
fn string_column(table: &arrow::record_batch::RecordBatch, name: &str) -> Vec<String> {
    let column = table
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .unwrap();
    column.iter().map(|v| v.unwrap().to_string()).collect()
}

/// A Float64 column of a table.
fn f64_column(table: &arrow::record_batch::RecordBatch, name: &str) -> Vec<f64> {
    table
        .column_by_name(name)
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::Float64Array>()
        .unwrap()
        .values()
        .to_vec()
}

#[test]
fn each_seed_kernel_is_the_kernel_of_a_configuration_of_that_seed_alone() {
    // Two independent paths to one number: the seed kernels of a two-seed job, and the pooled
    // graphon kernel of a one-seed job on each seed (whose graphon is that seed's own).
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = mnist();
    let masks = random_masks_runs(&store, &data, &[0, 1]);
    let settings = GraphonNtkSettings {
        k: 4,
        kernel_size: 23,
        seed_kernels: true,
        ..GraphonNtkSettings::default()
    };
    let both = glh_ntk::graphon_stage::GraphonNtkJob::new(&settings, &data, masks.clone())
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    let seeds = read_table(
        &both.dir.join("seed_metrics.parquet"),
        &GRAPHON_NTK_SEED_METRICS,
    )
    .unwrap()
    .batch;
    let seed_column = seeds
        .column_by_name("seed")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .unwrap()
        .values()
        .to_vec();
    // Per seed: the graphon and the shared-order kernel, each in three views.
    let per_seed = 2 * KernelView::ALL.len();
    assert_eq!(seed_column, [[0; 6], [1; 6]].concat());
    assert_eq!(
        f64_column(&seeds, "sigma_w2"),
        [1.0; 12],
        "the first sigma_w^2 only"
    );
    let identity = |t: &arrow::record_batch::RecordBatch, r: usize| {
        (
            string_column(t, "kernel")[r].clone(),
            string_column(t, "view")[r].clone(),
        )
    };
    let pooled_trace = f64_column(
        &read_table(&both.dir.join("metrics.parquet"), &GRAPHON_NTK_METRICS)
            .unwrap()
            .batch,
        "trace",
    )[0];
    for (seed, input) in masks.iter().enumerate() {
        let alone = glh_ntk::graphon_stage::GraphonNtkJob::new(
            &GraphonNtkSettings {
                seed_kernels: false,
                ..settings.clone()
            },
            &data,
            vec![input.clone()],
        )
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
        let metrics = read_table(&alone.dir.join("metrics.parquet"), &GRAPHON_NTK_METRICS)
            .unwrap()
            .batch;
        // The alone job's rows at the first sigma_w^2 are the seed's rows, in the same order.
        for i in 0..per_seed {
            let row = seed * per_seed + i;
            assert_eq!(identity(&seeds, row), identity(&metrics, i));
            for name in ["trace", "top5_energy", "effective_rank_trace", "ratio_1_2"] {
                assert_eq!(
                    f64_column(&seeds, name)[row],
                    f64_column(&metrics, name)[i],
                    "{name}"
                );
            }
        }
        let row = seed * per_seed;
        // A seed's graphon is not the pooled one (independent masks).
        assert_ne!(f64_column(&seeds, "trace")[row], pooled_trace);
        let empty = read_table(
            &alone.dir.join("seed_metrics.parquet"),
            &GRAPHON_NTK_SEED_METRICS,
        )
        .unwrap()
        .batch;
        assert_eq!(empty.num_rows(), 0, "no seed kernels unless asked");
    }
}

#[test]
fn a_graphon_ntk_job_writes_both_kernels_at_both_sigmas() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = mnist();
    let masks = random_masks_runs(&store, &data, &[0, 1]);
    let settings = GraphonNtkSettings {
        k: 4,
        kernel_size: 23,
        draw_masks: true,
        ..GraphonNtkSettings::default()
    };
    let out = glh_ntk::graphon_stage::GraphonNtkJob::new(&settings, &data, masks.clone())
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    let table = read_table(&out.dir.join("metrics.parquet"), &GRAPHON_NTK_METRICS)
        .unwrap()
        .batch;
    // Each sigma_w^2, then each kernel, then each view.
    let kinds = ["graphon", "shared_order", "drawn"];
    let views = KernelView::ALL.map(|v| v.name().to_string());
    let (kernel, view, sigma) = (
        string_column(&table, "kernel"),
        string_column(&table, "view"),
        f64_column(&table, "sigma_w2"),
    );
    let mut want = Vec::new();
    for s in [1.0, 2.0] {
        for k in kinds {
            for v in &views {
                want.push((k.to_string(), v.clone(), s));
            }
        }
    }
    let got: Vec<(String, String, f64)> = (0..table.num_rows())
        .map(|r| (kernel[r].clone(), view[r].clone(), sigma[r]))
        .collect();
    assert_eq!(got, want);
    let f = |name: &str, r: usize| f64_column(&table, name)[r];
    let per_sigma = kinds.len() * views.len();
    for (r, name) in kernel.iter().enumerate() {
        let is_graphon = name == "graphon";
        assert_eq!(f("rel_error_to_graphon", r) == 0.0, is_graphon, "row {r}");
        // Every view scales with the kernel: sigma_w^2 = 2 gives 2^3 times the trace at
        // depth 3, the same effective rank.
        if r < per_sigma {
            let twice = r + per_sigma;
            assert!((f("trace", twice) / f("trace", r) - 8.0).abs() < 1e-9);
            assert!((f("effective_rank_trace", twice) - f("effective_rank_trace", r)).abs() < 1e-9);
        }
    }
    // The centred view has the constant vector in its null space; the top-removed view's
    // trace is the kernel's less its top eigenvalue.
    assert!(f("min_eigenvalue", 1).abs() < 1e-9 * f("top1_eigenvalue", 1));
    let removed = f("trace", 0) - f("top1_eigenvalue", 0);
    assert!((f("trace", 2) - removed).abs() < 1e-9 * f("trace", 0));
    let n_points = table
        .column_by_name("n_points")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow::array::UInt32Array>()
        .unwrap()
        .value(0);
    assert_eq!(n_points, 23);
    // Cached the second time, and a masks run of another configuration is refused by name.
    let again = glh_ntk::graphon_stage::GraphonNtkJob::new(&settings, &data, masks.clone())
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    assert_eq!(again.status.to_string(), "cached");
}
