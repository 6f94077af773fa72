//! The invariants of METHOD.md section 2, each checked against an independent truth: counts,
//! nesting, SynFlow's conservation law, SNIP's mask-gradient identity by finite differences,
//! GraSP's sign by brute force, the zero-pixel fact on real MNIST, and determinism.

use faer::Mat;
use glh_artifacts::ArtifactStore;
use glh_artifacts::Job;
use glh_artifacts::config::{Classifier, Depth, PruneMethod, Scope, Sparsity, Width};
use glh_artifacts::seeding::stream;
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::export::export_edges;
use glh_masks::methods::{Pruning, method_for};
use glh_masks::scorers::{GraspScorer, SnipScorer, SynflowScorer};
use glh_masks::select::select_mask;
use glh_masks::settings::GraphonTarget;
use glh_masks::stage::{MaskPoint, compute_mask, read_mask, scoring_data};
use glh_masks::{Scorer, ScoringData, prune};
use glh_model::backprop::{Network64, backward, forward, loss_gradient, weight_gradients};
use glh_model::mlp::unit_f64;
use glh_model::{Architecture, Mask, Mlp};
use rand_chacha::rand_core::Rng;
use std::path::{Path, PathBuf};

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

fn tiny_arch() -> Architecture {
    Architecture {
        input: 12,
        width: 8,
        depth: 3,
        classes: 4,
    }
}

fn synthetic_data(arch: &Architecture, batch: usize, seed: u64) -> ScoringData {
    let mut rng = stream(seed, "test/data");
    ScoringData {
        x: Mat::from_fn(arch.input, batch, |_, _| {
            2.0 * unit_f64(rng.next_u64()) - 0.7
        }),
        labels: (0..batch).map(|j| (j % arch.classes) as u8).collect(),
        // The designs' input order: the inputs reversed, so that it is not the identity.
        pixel_order: Some((0..arch.input).rev().collect()),
        histograms: None,
    }
}

fn point(method: PruneMethod, width: u32, sparsity: f64, depth: u32, seed: u64) -> MaskPoint {
    MaskPoint {
        method,
        width: Width::try_from(u64::from(width)).unwrap(),
        sparsity: Sparsity::try_from(sparsity).unwrap(),
        depth: Depth::try_from(u64::from(depth)).unwrap(),
        seed,
    }
}

#[test]
fn every_method_keeps_an_exact_count_in_both_scopes() {
    let arch = tiny_arch();
    let net = Mlp::init(arch, 3);
    let data = synthetic_data(&arch, 16, 3);
    let settings = MasksSettings {
        synflow_rounds: 10,
        ..MasksSettings::default()
    };
    for method in PruneMethod::ALL {
        let pruning = method_for(method, &settings, 3);
        for density in [0.5, 0.2, 0.07] {
            let how = |scope| Pruning {
                density,
                scope,
                seed: 3,
                tie_seed: 9,
                allow_empty_layers: true,
                classifier: Classifier::Pruned,
            };
            let m = pruning
                .prune(&net, Some(&data), &how(Scope::Global), &mut |_, _, _| {})
                .unwrap();
            assert_eq!(
                m.kept(),
                (density * arch.weight_count() as f64).round() as usize,
                "{method} {density}"
            );
            let m = pruning
                .prune(&net, Some(&data), &how(Scope::Layerwise), &mut |_, _, _| {})
                .unwrap();
            for layer in m.layers() {
                let n = (layer.rows() * layer.cols()) as f64;
                assert_eq!(
                    layer.kept(),
                    (density * n).round() as usize,
                    "{method} {density} layerwise"
                );
            }
        }
    }
}

#[test]
fn a_dense_classifier_keeps_every_weight_and_the_others_keep_the_density() {
    let arch = tiny_arch();
    let net = Mlp::init(arch, 3);
    let data = synthetic_data(&arch, 16, 3);
    let settings = MasksSettings {
        synflow_rounds: 10,
        ..MasksSettings::default()
    };
    let shapes = arch.shapes();
    let (classifier, masked) = shapes.split_last().unwrap();
    let masked_total: usize = masked.iter().map(|(r, c)| r * c).sum();
    for method in PruneMethod::ALL {
        let pruning = method_for(method, &settings, 3);
        for (density, scope) in [(0.2, Scope::Global), (0.07, Scope::Layerwise)] {
            let how = Pruning {
                density,
                scope,
                seed: 3,
                tie_seed: 9,
                allow_empty_layers: true,
                classifier: Classifier::Dense,
            };
            let m = pruning
                .prune(&net, Some(&data), &how, &mut |_, _, _| {})
                .unwrap();
            let (last, others) = m.layers().split_last().unwrap();
            assert_eq!(last.kept(), classifier.0 * classifier.1, "{method}");
            let kept: usize = others.iter().map(|l| l.kept()).sum();
            match scope {
                Scope::Global => assert_eq!(
                    kept,
                    (density * masked_total as f64).round() as usize,
                    "{method}"
                ),
                Scope::Layerwise => {
                    for layer in others {
                        let n = (layer.rows() * layer.cols()) as f64;
                        assert_eq!(layer.kept(), (density * n).round() as usize, "{method}");
                    }
                }
            }
        }
    }
}

#[test]
fn synflow_rounds_nest_and_follow_the_exponential_schedule() {
    let arch = tiny_arch();
    let net = Mlp::init(arch, 4);
    let scorer = SynflowScorer { rounds: 20 };
    let mut history: Vec<Mask> = Vec::new();
    let density = 0.1;
    let how = Pruning {
        density,
        scope: Scope::Global,
        seed: 0,
        tie_seed: 1,
        allow_empty_layers: true,
        classifier: Classifier::Pruned,
    };
    prune(&scorer, &net, None, &how, &mut |_, _, m| {
        history.push(m.clone())
    })
    .unwrap();
    assert_eq!(history.len(), 20);
    let total = arch.weight_count() as f64;
    for (e, m) in history.iter().enumerate() {
        let target = if e == 19 {
            density
        } else {
            density.powf((e + 1) as f64 / 20.0)
        };
        assert_eq!(m.kept(), (target * total).round() as usize);
        if e > 0 {
            assert!(
                m.is_subset_of(&history[e - 1]),
                "round {} is not inside round {e}",
                e + 1
            );
        }
    }
}

#[test]
fn synflow_conserves_the_score_sum_per_layer_without_biases() {
    // SynFlow paper, Theorem 2: for a bias-free ReLU net every layer's scores sum to R.
    let arch = Architecture {
        input: 30,
        width: 20,
        depth: 4,
        classes: 5,
    };
    let net = Mlp::init(arch, 8).without_biases();
    for mask in [
        Mask::full(&arch),
        prune(
            &SynflowScorer { rounds: 5 },
            &net,
            None,
            &Pruning {
                density: 0.3,
                scope: Scope::Global,
                seed: 0,
                tie_seed: 2,
                allow_empty_layers: false,
                classifier: Classifier::Pruned,
            },
            &mut |_, _, _| {},
        )
        .unwrap(),
    ] {
        let scores = SynflowScorer { rounds: 1 }.score(&net, &mask, None);
        let sums: Vec<f64> = scores
            .iter()
            .zip(mask.layers())
            .map(|(s, m)| {
                s.iter()
                    .zip(m.as_slice())
                    .filter(|p| *p.1)
                    .map(|p| p.0)
                    .sum()
            })
            .collect();
        for s in &sums {
            assert!((s / sums[0] - 1.0).abs() < 1e-12, "{sums:?}");
        }
    }
}

#[test]
fn synflow_scores_equal_the_linearised_networks_gradient_times_the_weight() {
    // The independent twin: R = 1^T f(1) on the network of absolute parameters, differentiated
    // by the model's general backprop (faer products, ReLU gates) instead of SynFlow's own
    // two vectors per layer; the score is |w| dR/dw. Checked under a mask of several rounds, so
    // pruned weights must drop out of both passes.
    let arch = Architecture {
        input: 30,
        width: 20,
        depth: 4,
        classes: 5,
    };
    let net = Mlp::init(arch, 9);
    let how = Pruning {
        density: 0.4,
        scope: Scope::Global,
        seed: 0,
        tie_seed: 3,
        allow_empty_layers: false,
        classifier: Classifier::Pruned,
    };
    let mask = prune(
        &SynflowScorer { rounds: 4 },
        &net,
        None,
        &how,
        &mut |_, _, _| {},
    )
    .unwrap();
    let mut absolute = net.clone();
    for layer in &mut absolute.layers {
        layer.weight.iter_mut().for_each(|w| *w = w.abs());
        layer.bias.iter_mut().for_each(|b| *b = b.abs());
    }
    let linear = Network64::masked(&absolute, &mask);
    let acts = forward(&linear, &Mat::from_fn(arch.input, 1, |_, _| 1.0));
    let deltas = backward(&linear, &acts, Mat::from_fn(arch.classes, 1, |_, _| 1.0));
    let gradients = weight_gradients(&acts, &deltas);
    let scores = SynflowScorer { rounds: 1 }.score(&net, &mask, None);
    for (l, ((s, g), m)) in scores.iter().zip(&gradients).zip(mask.layers()).enumerate() {
        for (i, (&score, &kept)) in s.iter().zip(m.as_slice()).enumerate() {
            let (r, c) = (i / m.cols(), i % m.cols());
            let expected = if kept {
                f64::from(net.layers[l].weight[i]).abs() * g[(r, c)]
            } else {
                0.0
            };
            assert!(
                (score - expected).abs() <= 1e-12 * expected.abs(),
                "layer {l} ({r}, {c}): {score} vs {expected}"
            );
        }
    }
}

#[test]
fn snip_equals_the_mask_gradient_by_finite_differences() {
    // SNIP's score is |dL/dm| at m = 1; dL/dm_ij = g_ij w_ij by the chain rule. Check the
    // identity against central differences of L in m, computed by scaling single weights.
    let arch = tiny_arch();
    let net = Mlp::init(arch, 5);
    let data = synthetic_data(&arch, 8, 5);
    let full = Mask::full(&arch);
    let snip = SnipScorer.score(&net, &full, Some(&data));
    let base = Network64::masked(&net, &full);
    let h = 1e-6;
    for (l, layer_scores) in snip.iter().enumerate() {
        let cols = base.weights[l].ncols();
        for (r, c) in [(0, 0), (1, 3), (2, 5)] {
            let loss_at = |m: f64| {
                let mut n = base.clone();
                n.weights[l][(r, c)] *= m;
                loss_gradient(&n, &data.x, &data.labels, 1.0).0
            };
            let fd = (loss_at(1.0 + h) - loss_at(1.0 - h)) / (2.0 * h);
            let score = layer_scores[r * cols + c];
            assert!(
                (fd.abs() - score).abs() < 1e-8 * (1.0 + score),
                "layer {l} ({r},{c}): {fd} vs {score}"
            );
        }
    }
}

#[test]
fn grasp_keeps_the_subset_of_largest_total_score() {
    // Brute force over every subset of the size kept: none has a larger sum of w ⊙ Hg.
    let arch = Architecture {
        input: 3,
        width: 2,
        depth: 2,
        classes: 2,
    };
    let net = Mlp::init(arch, 6);
    let data = synthetic_data(&arch, 6, 6);
    let scorer = GraspScorer { temperature: 200.0 };
    let full = Mask::full(&arch);
    let scores: Vec<f64> = scorer.score(&net, &full, Some(&data)).concat();
    let n = scores.len();
    assert_eq!(n, 10);
    let k = 4;
    let kept = select_mask(
        &scorer.score(&net, &full, Some(&data)),
        &full,
        k as f64 / n as f64,
        Scope::Global,
        Classifier::Pruned,
        0,
    )
    .unwrap();
    let flags: Vec<bool> = kept
        .layers()
        .iter()
        .flat_map(|m| m.as_slice().to_vec())
        .collect();
    let ours: f64 = flags
        .iter()
        .zip(&scores)
        .filter(|p| *p.0)
        .map(|p| p.1)
        .sum();
    let best = (0u32..1 << n)
        .filter(|s| s.count_ones() as usize == k)
        .map(|s| {
            (0..n)
                .filter(|i| s >> i & 1 == 1)
                .map(|i| scores[i])
                .sum::<f64>()
        })
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(ours, best);
    assert!(
        scores.iter().any(|&s| s < 0.0) && scores.iter().any(|&s| s > 0.0),
        "signed scores: {scores:?}"
    );
}

#[test]
fn random_layer_densities_match_the_global_density() {
    let store_root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(store_root.path());
    let p = point(PruneMethod::Random, 200, 0.8, 4, 1);
    let mask = compute_mask(
        &store,
        &MasksSettings::default(),
        &DataSettings::default(),
        &p,
        None,
        &mut |_, _, _| {},
    )
    .unwrap();
    for layer in mask.layers() {
        let n = (layer.rows() * layer.cols()) as f64;
        let sd = (0.2 * 0.8 / n).sqrt();
        let density = layer.kept() as f64 / n;
        assert!(
            (density - 0.2).abs() < 4.0 * sd,
            "{density} vs 0.2 (sd {sd})"
        );
    }
}

#[test]
fn snip_and_grasp_never_connect_a_pixel_that_is_zero_in_every_scoring_image() {
    let store_root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(store_root.path());
    let data = DataSettings {
        dir: mnist_dir(),
        standardise: false,
        ..DataSettings::default()
    };
    let batch = scoring_data(&store, &data, 0, false).unwrap();
    let dead: Vec<usize> = (0..784)
        .filter(|&i| (0..batch.x.ncols()).all(|j| batch.x[(i, j)] == 0.0))
        .collect();
    assert!(
        dead.len() > 50,
        "MNIST has many always-zero border pixels, found {}",
        dead.len()
    );
    for method in [PruneMethod::Snip, PruneMethod::Grasp] {
        let p = point(method, 64, 0.8, 3, 0);
        let mask = compute_mask(
            &store,
            &MasksSettings::default(),
            &data,
            &p,
            None,
            &mut |_, _, _| {},
        )
        .unwrap();
        let first = &mask.layers()[0];
        for &pixel in &dead {
            assert_eq!(
                first.col_degree(pixel),
                0,
                "{method}: pixel {pixel} is connected"
            );
        }
        let live = (0..784).filter(|&c| first.col_degree(c) > 0).count();
        assert!(live > 0);
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_mask() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data = DataSettings {
        dir: mnist_dir(),
        ..DataSettings::default()
    };
    let settings = MasksSettings {
        synflow_rounds: 5,
        ..MasksSettings::default()
    };
    for method in PruneMethod::ALL {
        let p = point(method, 24, 0.8, 3, 2);
        let run = |root: &Path, p: &MaskPoint| {
            glh_masks::stage::MasksJob::new(&settings, &data, *p)
                .unwrap()
                .run(&ArtifactStore::new(root), false, &mut |_, _| {})
                .unwrap()
        };
        let (x, y) = (run(a.path(), &p), run(b.path(), &p));
        for f in ["masks.parquet", "layers.parquet"] {
            assert_eq!(
                std::fs::read(x.dir.join(f)).unwrap(),
                std::fs::read(y.dir.join(f)).unwrap(),
                "{method} {f}"
            );
        }
        let input = x.as_input();
        let (arch, stored) = read_mask(&ArtifactStore::new(a.path()), &input).unwrap();
        assert_eq!(arch, p.architecture());
        let recomputed = compute_mask(
            &ArtifactStore::new(a.path()),
            &settings,
            &data,
            &p,
            None,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(stored, recomputed, "{method}: the artifact holds the mask");
        // Exports go outside the store (b's root is another store's, not a's).
        let edges = b.path().join(format!("{method}-edges.parquet"));
        assert_eq!(
            export_edges(&ArtifactStore::new(a.path()), &stored, &input, &edges).unwrap(),
            stored.kept()
        );
        // Every method depends on the seed: Random and the tie order directly, the others
        // through the initial weights (and, for SNIP and GraSP, the scoring batch).
        let other = point(method, 24, 0.8, 3, 3);
        let z = compute_mask(
            &ArtifactStore::new(a.path()),
            &settings,
            &data,
            &other,
            None,
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_ne!(z, stored, "{method}: seeds 2 and 3 gave one mask");
    }
}

#[test]
fn masks_do_not_depend_on_the_thread_count() {
    // Scoring and selection run on rayon; every reduction has a fixed order, so one and three
    // threads must give the same masks.
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: mnist_dir(),
        ..DataSettings::default()
    };
    let settings = MasksSettings {
        synflow_rounds: 20,
        ..MasksSettings::default()
    };
    // Width 1100 splits SynFlow's backward pass into five column blocks and the selection's
    // hidden layers into two tasks each (about 2^20 weights a task), so that the parallel
    // reductions themselves are compared.
    for (method, width) in [
        (PruneMethod::Synflow, 150),
        (PruneMethod::Synflow, 1100),
        (PruneMethod::Grasp, 150),
        (PruneMethod::Random, 150),
    ] {
        let p = point(method, width, 0.9, 4, 4);
        let with_threads = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
                .install(|| {
                    compute_mask(&store, &settings, &data, &p, None, &mut |_, _, _| {}).unwrap()
                })
        };
        assert_eq!(with_threads(1), with_threads(3), "{method}");
    }
}

/// The variance of a layer's row degrees.
fn row_degree_variance(layer: &glh_model::LayerMask) -> f64 {
    let d: Vec<f64> = layer.row_degrees().iter().map(|&v| v as f64).collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d.len() as f64
}

/// The global mask at `density` of `method`, SynFlow (20 rounds) or a control built on it, for
/// the network of seed 5 and the run seed `seed`.
fn synflow_family_mask(arch: Architecture, density: f64, method: PruneMethod, seed: u64) -> Mask {
    let settings = MasksSettings {
        synflow_rounds: 20,
        ..MasksSettings::default()
    };
    let how = Pruning {
        density,
        scope: Scope::Global,
        seed,
        tie_seed: 9,
        allow_empty_layers: true,
        classifier: Classifier::Pruned,
    };
    method_for(method, &settings, seed)
        .prune(&Mlp::init(arch, 5), None, &how, &mut |_, _, _| {})
        .unwrap()
}

#[test]
fn shuffled_keeps_each_layers_count_and_nothing_else_of_its_method() {
    let arch = Architecture {
        input: 60,
        width: 60,
        depth: 3,
        classes: 10,
    };
    let synflow = PruneMethod::Synflow;
    let control = PruneMethod::Shuffled(&PruneMethod::Synflow);
    let mask = |method, seed| synflow_family_mask(arch, 0.1, method, seed);
    let (base, shuffled) = (mask(synflow, 5), mask(control, 5));
    for (b, s) in base.layers().iter().zip(shuffled.layers()) {
        assert_eq!(b.kept(), s.kept());
    }
    assert_ne!(base, shuffled);
    assert_eq!(mask(control, 5), shuffled, "one seed, one mask");
    assert_ne!(mask(control, 6), shuffled, "another seed, another mask");
    // The hidden layer: SynFlow concentrates its kept weights on few rows; shuffled, a row's
    // degree is hypergeometric, of variance at most cols p (1 - p) with p the layer's density.
    let (b, s) = (&base.layers()[1], &shuffled.layers()[1]);
    let p = s.density();
    let hypergeometric = s.cols() as f64 * p * (1.0 - p);
    let (vb, vs) = (row_degree_variance(b), row_degree_variance(s));
    assert!(
        vs < 2.0 * hypergeometric,
        "shuffled: {vs} vs {hypergeometric}"
    );
    assert!(
        vb > 2.0 * hypergeometric,
        "synflow {vb} vs {hypergeometric}"
    );
}

#[test]
fn rewiring_keeps_every_neurons_degree_of_the_method_and_nothing_else() {
    let arch = tiny_arch();
    let control = PruneMethod::Rewired(&PruneMethod::Synflow);
    let mask = |method, seed| synflow_family_mask(arch, 0.3, method, seed);
    let (base, rewired) = (mask(PruneMethod::Synflow, 5), mask(control, 5));
    for (b, r) in base.layers().iter().zip(rewired.layers()) {
        assert_eq!(b.row_degrees(), r.row_degrees());
        assert_eq!(b.col_degrees(), r.col_degrees());
    }
    assert_ne!(base, rewired);
    assert_eq!(mask(control, 5), rewired, "one seed, one mask");
    assert_ne!(mask(control, 6), rewired, "another seed, another mask");
}

#[test]
fn a_control_reads_data_and_keys_settings_as_its_method_does() {
    let settings = MasksSettings::default();
    for (i, base) in PruneMethod::SCORED.into_iter().enumerate() {
        for control in [
            PruneMethod::Shuffled(&PruneMethod::SCORED[i]),
            PruneMethod::Rewired(&PruneMethod::SCORED[i]),
        ] {
            let (b, c) = (
                method_for(base, &settings, 0),
                method_for(control, &settings, 0),
            );
            assert_eq!(b.needs_data(), c.needs_data(), "{control}");
            assert_eq!(b.key_settings(), c.key_settings(), "{control}");
        }
    }
    assert!(method_for(PruneMethod::Snip, &settings, 0).needs_data());
    assert!(!method_for(PruneMethod::Synflow, &settings, 0).needs_data());
    let synflow = method_for(PruneMethod::Synflow, &settings, 0).key_settings();
    assert_eq!(
        synflow.keys().copied().collect::<Vec<_>>(),
        ["synflow_rounds"]
    );
}

#[test]
fn a_design_keeps_its_sources_counts_and_places_them_by_its_target() {
    let arch = Architecture {
        input: 60,
        width: 60,
        depth: 3,
        classes: 10,
    };
    let how = Pruning {
        density: 0.1,
        scope: Scope::Global,
        seed: 5,
        tie_seed: 9,
        allow_empty_layers: true,
        classifier: Classifier::Pruned,
    };
    let data = synthetic_data(&arch, 20, 1);
    let mask = |method, graphon| {
        let settings = MasksSettings {
            synflow_rounds: 20,
            graphon: GraphonTarget::into(graphon),
            ..MasksSettings::default()
        };
        method_for(method, &settings, 5)
            .prune(&Mlp::init(arch, 5), Some(&data), &how, &mut |_, _, _| {})
            .unwrap()
    };
    let design = PruneMethod::Graphon(&PruneMethod::Synflow);
    let source = mask(PruneMethod::Synflow, GraphonTarget::Constant);
    let steep = mask(design, GraphonTarget::Power { beta: 3.0 });
    for (s, d) in source.layers().iter().zip(steep.layers()) {
        assert_eq!(s.kept(), d.kept());
    }
    assert_eq!(mask(design, GraphonTarget::Power { beta: 3.0 }), steep);
    // The hidden layer at beta = 3: the first half of the rows (u < 1/2) holds most of it, as
    // the first half of the columns does; the limit share is 1 - 2^-4 of each side's mass.
    let hidden = &steep.layers()[1];
    let first_rows: usize = hidden.row_degrees()[..30].iter().sum();
    let first_cols: usize = hidden.col_degrees()[..30].iter().sum();
    assert!(
        first_rows as f64 > 0.85 * hidden.kept() as f64,
        "{first_rows}"
    );
    assert!(
        first_cols as f64 > 0.85 * hidden.kept() as f64,
        "{first_cols}"
    );
    // The input layer follows the pixel order (the synthetic data's: inputs reversed), so its
    // last columns are the most connected.
    let input = &steep.layers()[0];
    let last: usize = input.col_degrees()[30..].iter().sum();
    assert!(last as f64 > 0.85 * input.kept() as f64, "{last}");
    // A block of a sixth of the rows and a fifth of the columns: full wherever the count covers it.
    let block = mask(
        design,
        GraphonTarget::Block {
            rows: 1.0 / 6.0,
            cols: 0.2,
        },
    );
    let hidden = &block.layers()[1];
    assert!(hidden.kept() >= 10 * 12);
    assert!((0..10).all(|r| (0..12).all(|c| hidden.get(r, c))));
    // Without the pixel order, a design is an error, not a guess.
    let settings = MasksSettings::default();
    let batch_only = ScoringData {
        pixel_order: None,
        ..data.clone()
    };
    let err = method_for(design, &settings, 5)
        .prune(
            &Mlp::init(arch, 5),
            Some(&batch_only),
            &how,
            &mut |_, _, _| {},
        )
        .unwrap_err();
    assert!(err.contains("pixel order"), "{err}");
}

#[test]
fn a_design_reads_data_and_keys_its_target_beside_its_sources_settings() {
    let settings = MasksSettings {
        graphon: GraphonTarget::Power { beta: 2.0 }.into(),
        ..MasksSettings::default()
    };
    let design = method_for(PruneMethod::Graphon(&PruneMethod::Synflow), &settings, 0);
    assert!(design.needs_data() && design.needs_pixel_order());
    let keys = design.key_settings();
    assert_eq!(
        keys.keys().copied().collect::<Vec<_>>(),
        ["graphon_beta", "graphon_target", "synflow_rounds"]
    );
    assert_eq!(keys["graphon_target"], "power");
    assert_eq!(keys["graphon_beta"], 2.0);
    // The names the keys use are the table's (`[masks.graphon] target = "power"`).
    let table = serde_json::to_value(GraphonTarget::Power { beta: 2.0 }).unwrap();
    assert_eq!(table["target"], keys["graphon_target"]);
    // The target stays out of every other method's key.
    assert!(
        !method_for(PruneMethod::Synflow, &settings, 0)
            .key_settings()
            .contains_key("graphon_target")
    );
    assert!(!method_for(PruneMethod::Synflow, &settings, 0).needs_pixel_order());
}
