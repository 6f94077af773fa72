//! The mask schedules (issue #33) on real MNIST runs of a small network: exact per-layer kept
//! counts at every checkpoint, IMP's masks nesting with exact global counts, pruned weights
//! exactly 0 and grown weights starting at 0, RigL's dense gradient on the sparse route equal
//! to the dense route's, and bit-identical runs for 1 and 2 threads.

use candle_core::{Device, Tensor};
use glh_data::DataSettings;
use glh_data::mnist::{CLASSES, PIXELS};
use glh_model::{Architecture, LayerMask, Mask, Mlp};
use glh_training::schedule::{
    ImpSettings, LayerDensities, MaskSchedule, RiglSettings, SetSettings, moved_count,
};
use glh_training::sparse::ProductRoute;
use glh_training::{MaskedMlp, MnistTensors, Trained, TrainingSettings, train};
use std::path::Path;
use std::sync::OnceLock;

fn mnist() -> &'static MnistTensors {
    static DATA: OnceLock<MnistTensors> = OnceLock::new();
    DATA.get_or_init(|| {
        let data = DataSettings {
            dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
            ..DataSettings::default()
        };
        MnistTensors::load(&data, &Device::Cpu).unwrap()
    })
}

fn arch() -> Architecture {
    Architecture::mlp(PIXELS, 48, 3, CLASSES)
}

/// A mask keeping `keep_of_ten` in ten weights of every layer, by a fixed hash of the position.
fn mask(keep_of_ten: usize) -> Mask {
    mask_of_hashes(0, keep_of_ten)
}

/// A mask keeping the weights whose hash `(7919 i + 13) mod 10` is in `lo..hi`.
fn mask_of_hashes(lo: usize, hi: usize) -> Mask {
    let arch = arch();
    let layers = arch
        .shapes()
        .iter()
        .map(|&(r, c)| {
            let keep = (0..r * c).map(|i| (lo..hi).contains(&((i * 7919 + 13) % 10)));
            LayerMask::new(r, c, keep.collect()).unwrap()
        })
        .collect();
    Mask::from_layers(&arch, layers).unwrap()
}

fn run(schedule: MaskSchedule, start: &Mask, steps: u32, threads: usize) -> (Trained, MaskedMlp) {
    let settings = TrainingSettings {
        steps,
        eval_every: 10,
        schedule,
        ..TrainingSettings::default()
    };
    settings.validate("test").unwrap();
    let mlp = Mlp::init(arch(), 4);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let mut model = MaskedMlp::new(&mlp, start, &Device::Cpu).unwrap();
        let trained = train(&mut model, mnist(), &settings, 11, &mut |_, _| {}).unwrap();
        (trained, model)
    })
}

fn kept_per_layer(mask: &Mask) -> Vec<usize> {
    mask.layers().iter().map(LayerMask::kept).collect()
}

/// Every weight outside the model's mask is exactly 0.
fn assert_pruned_are_zero(model: &MaskedMlp) {
    for (w, m) in model.weights().unwrap().iter().zip(model.mask().layers()) {
        for (v, &k) in w.iter().zip(m.as_slice()) {
            assert!(k || v.to_bits() == 0, "a pruned weight is {v}");
        }
    }
}

fn set(every: u32) -> MaskSchedule {
    MaskSchedule::Set(SetSettings {
        every,
        fraction: 0.3,
    })
}

fn rigl(every: u32, densities: LayerDensities) -> MaskSchedule {
    MaskSchedule::Rigl(RiglSettings {
        every,
        densities,
        ..RiglSettings::default()
    })
}

#[test]
fn set_and_rigl_keep_every_layer_s_count_and_move_the_structure() {
    // 80% sparse (the sparse route) and 50% (the dense route).
    for keep in [2, 5] {
        let start = mask(keep);
        for schedule in [set(10), rigl(10, LayerDensities::Start)] {
            let (trained, model) = run(schedule.clone(), &start, 40, 2);
            let checkpoints = &trained.checkpoints;
            assert_eq!(checkpoints.len(), schedule.checkpoints(40));
            assert_eq!(checkpoints[0].mask, start);
            let steps: Vec<u32> = checkpoints.iter().map(|c| c.step).collect();
            let expected = match schedule {
                MaskSchedule::Set(_) => vec![0, 10, 20, 30],
                _ => vec![0, 10, 20],
            };
            assert_eq!(steps, expected, "{schedule:?}");
            for pair in checkpoints.windows(2) {
                assert_eq!(kept_per_layer(&pair[1].mask), kept_per_layer(&start));
                // The first update moves a sizeable part of every layer (RigL's 0.3 decays).
                let changed: usize = pair[0]
                    .mask
                    .layers()
                    .iter()
                    .zip(pair[1].mask.layers())
                    .map(|(a, b)| {
                        let flags = a.as_slice().iter().zip(b.as_slice());
                        flags.filter(|(x, y)| x != y).count()
                    })
                    .sum();
                assert!(changed > 0, "{schedule:?} at step {}", pair[1].step);
                assert!(changed <= 2 * moved_count(0.3, start.kept()) + 2 * start.layers().len());
            }
            assert_eq!(model.mask(), &checkpoints.last().unwrap().mask);
            assert_pruned_are_zero(&model);
            assert_eq!(trained.history.train.len(), 40);
        }
    }
}

#[test]
fn scheduled_runs_are_bit_identical_for_one_and_two_threads() {
    let start = mask(2);
    for schedule in [set(10), rigl(10, LayerDensities::Start)] {
        let (a, model_a) = run(schedule.clone(), &start, 25, 1);
        let (b, model_b) = run(schedule, &start, 25, 2);
        assert_eq!(a.checkpoints, b.checkpoints);
        let bits = |t: &Trained| -> Vec<u64> {
            let train = t.history.train.iter().map(|e| e.loss.to_bits());
            train
                .chain(t.history.test.iter().map(|e| e.loss.to_bits()))
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(model_a.weights().unwrap(), model_b.weights().unwrap());
    }
    // A different seed draws SET's regrowth elsewhere: the schedule's stream is the run's.
    let mlp = Mlp::init(arch(), 4);
    let settings = TrainingSettings {
        steps: 15,
        schedule: set(10),
        ..TrainingSettings::default()
    };
    let grown = |seed| {
        let mut model = MaskedMlp::new(&mlp, &start, &Device::Cpu).unwrap();
        let t = train(&mut model, mnist(), &settings, seed, &mut |_, _| {}).unwrap();
        t.checkpoints[1].mask.clone()
    };
    assert_ne!(grown(1), grown(2));
}

#[test]
fn imp_levels_nest_remove_round_q_of_the_kept_and_rewind_to_step_k() {
    let start = Mask::full(&arch());
    let imp = ImpSettings {
        prune_fraction: 0.2,
        levels: 3,
        rewind_step: 5,
    };
    let schedule = MaskSchedule::Imp(imp.clone());
    let (trained, model) = run(schedule.clone(), &start, 20, 2);
    let c = &trained.checkpoints;
    assert_eq!(c.len(), 4);
    // Level i starts after T + (i - 1)(T - k) steps.
    assert_eq!(
        c.iter().map(|c| c.step).collect::<Vec<_>>(),
        vec![0, 20, 35, 50]
    );
    for pair in c.windows(2) {
        assert!(pair[1].mask.is_subset_of(&pair[0].mask));
        let before = pair[0].mask.kept();
        assert_eq!(pair[1].mask.kept(), before - moved_count(0.2, before));
    }
    assert_eq!(trained.history.train.len() as u64, schedule.total_steps(20));
    let steps: Vec<u32> = trained.history.train.iter().map(|e| e.step).collect();
    assert_eq!(steps, (1..=65).collect::<Vec<u32>>());
    // Test evaluations at 0, every 10 steps and at each level's end (20, 35, 50, 65).
    let tests: Vec<u32> = trained.history.test.iter().map(|e| e.step).collect();
    assert_eq!(tests, vec![0, 10, 20, 30, 35, 40, 50, 60, 65]);
    assert_pruned_are_zero(&model);
    // Global magnitude: the layers' densities differ after pruning (they start equal at 1).
    let densities: Vec<f64> = c[3].mask.layers().iter().map(LayerMask::density).collect();
    assert!(
        densities.iter().any(|&d| (d - densities[0]).abs() > 1e-3),
        "{densities:?}"
    );
}

#[test]
fn a_rewind_restores_step_k_under_the_new_mask_with_a_fresh_optimiser() {
    let mlp = Mlp::init(arch(), 4);
    let start = mask(5);
    let mut model = MaskedMlp::new(&mlp, &start, &Device::Cpu).unwrap();
    let snapshot = model.snapshot().unwrap();
    let settings = TrainingSettings {
        steps: 5,
        ..TrainingSettings::default()
    };
    train(&mut model, mnist(), &settings, 1, &mut |_, _| {}).unwrap();
    assert_ne!(model.snapshot().unwrap(), snapshot);
    let smaller = mask(2);
    let inside: Vec<LayerMask> = start
        .layers()
        .iter()
        .zip(smaller.layers())
        .map(|(a, b)| {
            let flags = a.as_slice().iter().zip(b.as_slice()).map(|(&x, &y)| x && y);
            LayerMask::new(a.rows(), a.cols(), flags.collect()).unwrap()
        })
        .collect();
    let inside = start.with_layers(inside).unwrap();
    model.rewind(&snapshot, &inside).unwrap();
    let after = model.snapshot().unwrap();
    assert_eq!(after.biases, snapshot.biases);
    for ((w, s), m) in after
        .weights
        .iter()
        .zip(&snapshot.weights)
        .zip(inside.layers())
    {
        for ((&w, &s), &k) in w.iter().zip(s).zip(m.as_slice()) {
            assert_eq!(w.to_bits(), if k { s.to_bits() } else { 0 });
        }
    }
    for layer in &model.layers {
        let (m, v) = layer.weight.moments().unwrap();
        assert_eq!(
            m.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap(),
            0.0
        );
        assert_eq!(v.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }
}

#[test]
fn set_mask_zeroes_leavers_starts_growers_at_zero_and_keeps_stayers() {
    let mlp = Mlp::init(arch(), 4);
    let (old, new) = (mask_of_hashes(0, 2), mask_of_hashes(1, 6));
    let mut model = MaskedMlp::new(&mlp, &old, &Device::Cpu).unwrap();
    let settings = TrainingSettings {
        steps: 3,
        ..TrainingSettings::default()
    };
    train(&mut model, mnist(), &settings, 1, &mut |_, _| {}).unwrap();
    let before = model.weights().unwrap();
    let moments_before: Vec<(Vec<f32>, Vec<f32>)> = model
        .layers
        .iter()
        .map(|l| {
            let (m, v) = l.weight.moments().unwrap();
            let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            (flat(m), flat(v))
        })
        .collect();
    model.set_mask(&new).unwrap();
    let after = model.weights().unwrap();
    for (l, (a, b)) in old.layers().iter().zip(new.layers()).enumerate() {
        let (m, v) = model.layers[l].weight.moments().unwrap();
        let m = m.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let v = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for i in 0..a.as_slice().len() {
            let (was, is) = (a.as_slice()[i], b.as_slice()[i]);
            if was && is {
                assert_eq!(after[l][i].to_bits(), before[l][i].to_bits());
                assert_eq!(m[i].to_bits(), moments_before[l].0[i].to_bits());
                assert_eq!(v[i].to_bits(), moments_before[l].1[i].to_bits());
            } else {
                assert_eq!((after[l][i], m[i], v[i]), (0.0, 0.0, 0.0), "layer {l}, {i}");
            }
        }
    }
    // The route followed the density from sparse (20% kept) to dense (50%).
    assert!(old.density() < 0.25);
    assert_eq!(model.route(), ProductRoute::Dense);
}

#[test]
fn rigl_s_dense_gradient_on_the_sparse_route_is_the_dense_route_s_gradient() {
    let mlp = Mlp::init(arch(), 4);
    let start = mask(2);
    let sparse = MaskedMlp::new(&mlp, &start, &Device::Cpu).unwrap();
    assert_eq!(sparse.route(), ProductRoute::Sparse);
    let dense = MaskedMlp::new(&mlp, &start, &Device::Cpu)
        .unwrap()
        .with_route(ProductRoute::Dense)
        .unwrap();
    let index = Tensor::arange(0u32, 64, &Device::Cpu).unwrap();
    let x = mnist().train_x.index_select(&index, 0).unwrap();
    let y = mnist().train_y.index_select(&index, 0).unwrap();
    let from_sparse = sparse.dense_weight_gradients(&x, &y).unwrap();
    let from_backward = dense.backward(&x, &y).unwrap();
    for (a, (b, _)) in from_sparse.iter().zip(&from_backward.layers) {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b);
        // Pruned positions have gradients too: that is what RigL grows by.
        assert!(a.iter().filter(|g| **g != 0.0).count() > a.len() / 2);
    }
}

#[test]
fn rigl_with_erk_densities_keeps_erk_s_counts_from_the_start() {
    let mlp = Mlp::init(arch(), 4);
    let start = mask(2);
    let schedule = rigl(10, LayerDensities::Erk);
    let balanced = glh_training::stage::starting_mask(&schedule, &mlp, &start, 11);
    assert_eq!(balanced.kept(), start.kept());
    let shapes: Vec<(usize, usize)> = arch().shapes();
    let erk = glh_training::schedule::erk_counts(&shapes, start.kept());
    assert_eq!(kept_per_layer(&balanced), erk);
    let (trained, _) = run(schedule, &balanced, 25, 2);
    for c in &trained.checkpoints {
        assert_eq!(kept_per_layer(&c.mask), erk);
    }
}

#[test]
fn a_schedule_refuses_gradient_descent_and_names_the_field() {
    let settings = TrainingSettings {
        optimizer: glh_training::Optimizer::Gd,
        schedule: set(10),
        ..TrainingSettings::default()
    };
    let err = settings.validate("e6.toml").unwrap_err().to_string();
    assert!(err.contains("training.schedule.rule"), "{err}");
}

#[test]
fn a_scheduled_training_job_stores_its_masks_and_a_static_key_is_unchanged() {
    use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
    use glh_artifacts::store::InputRef;
    use glh_artifacts::{ArtifactStore, Job};
    use glh_masks::MasksSettings;
    use glh_masks::stage::{MaskPoint, MasksJob};
    use glh_training::stage::TrainingJob;

    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    let point = MaskPoint {
        method: PruneMethod::Random,
        width: Width::try_from(32).unwrap(),
        sparsity: Sparsity::try_from(0.8).unwrap(),
        depth: Depth::try_from(3).unwrap(),
        seed: 2,
    };
    let masks = MasksJob::new(&MasksSettings::default(), &data, point).unwrap();
    masks.run(&store, false, &mut |_, _| {}).unwrap();
    let settings: TrainingSettings =
        toml::from_str("steps = 30\n[schedule]\nrule = \"set\"\nevery = 10").unwrap();
    let job = TrainingJob::of(&settings, &data, &masks).unwrap();
    let done = job.run(&store, false, &mut |_, _| {}).unwrap();
    let run = InputRef {
        stage: "training".into(),
        key: done.manifest.key,
    };
    let stored = glh_masks::stage::read_schedule_masks(&store, &run).unwrap();
    let (_, start) = glh_masks::stage::read_mask(&store, &masks.spec().as_input()).unwrap();
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].mask, start);
    assert_eq!(
        stored.iter().map(|c| c.step).collect::<Vec<_>>(),
        vec![0, 10, 20]
    );
    assert!(stored.windows(2).all(|p| p[0].mask != p[1].mask));
    // Rerunning the same run (forced) writes the same masks.
    job.run(&store, true, &mut |_, _| {}).unwrap();
    assert_eq!(
        glh_masks::stage::read_schedule_masks(&store, &run).unwrap(),
        stored
    );

    // A static run's key leaves the schedule out, so every key made before schedules holds,
    // and it has no masks table (an error naming the file).
    let plain = TrainingSettings {
        steps: 30,
        ..TrainingSettings::default()
    };
    let explicit: TrainingSettings =
        toml::from_str("steps = 30\n[schedule]\nrule = \"static\"").unwrap();
    let key = |s: &TrainingSettings| TrainingJob::of(s, &data, &masks).unwrap().spec().key();
    assert_eq!(key(&plain), key(&explicit));
    assert_ne!(key(&plain), key(&settings));
    let static_run = TrainingJob::of(&plain, &data, &masks).unwrap();
    let done = static_run.run(&store, false, &mut |_, _| {}).unwrap();
    let err = glh_masks::stage::read_schedule_masks(
        &store,
        &InputRef {
            stage: "training".into(),
            key: done.manifest.key,
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("masks.parquet"), "{err}");
}
