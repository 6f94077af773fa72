//! `torch-fixtures OUT`: everything the PyTorch twins of `just bench-torch` read, so that they
//! run on the very weights, masks and batches our benchmarks use.
//!
//! - `mnist.safetensors`: MNIST normalised as `glh` normalises it (`train_x`, `test_x` f32;
//!   `train_y`, `test_y` i64);
//! - `batches.safetensors`: `order` (i64, `(200, 128)`), the batches of an E3 run of seed 0;
//! - `<method>_n<width>_s<sparsity>.safetensors` (+ `_batch` for SNIP and GraSP): each masks
//!   run as `glh masks export --format safetensors` writes it (our mask is its `weight_mask`);
//! - `ours_e3_run.json`: the losses of our E3 run of the Random mask (n = 1024, 80%, seed 0),
//!   to compare PyTorch's curve with.

use candle_core::Device;
use glh_artifacts::ArtifactStore;
use glh_artifacts::Job;
use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
use glh_data::mnist::{MnistSplit, Normalisation, Split};
use glh_masks::MasksSettings;
use glh_masks::export::{SafeTensor, export_safetensors, export_scoring_batch, safetensors_bytes};
use glh_masks::stage::MaskPoint;
use glh_model::Mlp;
use glh_training::batches::batch_order;
use glh_training::{MaskedMlp, MnistTensors, TrainingSettings, train};
use std::collections::BTreeMap;
use std::path::Path;

#[global_allocator]
static ALLOC: glh_benches::Allocator = glh_benches::Allocator {};

/// The masks runs the twins score or train: (method, width, sparsity).
const RUNS: &[(PruneMethod, u32, f64)] = &[
    (PruneMethod::Random, 1024, 0.8),
    (PruneMethod::Grasp, 1024, 0.5),
    (PruneMethod::Snip, 1024, 0.5),
    (PruneMethod::Snip, 1000, 0.8),
    (PruneMethod::Grasp, 1000, 0.8),
    (PruneMethod::Synflow, 1000, 0.8),
    (PruneMethod::Snip, 2000, 0.8),
    (PruneMethod::Grasp, 2000, 0.8),
    (PruneMethod::Synflow, 2000, 0.8),
];

fn write(path: &Path, tensors: BTreeMap<String, SafeTensor>) {
    std::fs::write(path, safetensors_bytes(&tensors, &BTreeMap::new()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn mnist(out: &Path, dir: &Path) {
    let norm = Normalisation::from(&glh_data::DataSettings::default());
    let mut tensors = BTreeMap::new();
    for (split, name) in [(Split::Train, "train"), (Split::Test, "test")] {
        let set = MnistSplit::load(dir, split).expect("MNIST");
        let all: Vec<u32> = (0..set.len() as u32).collect();
        let x = set.inputs(&all, &norm);
        let y: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
        tensors.insert(
            format!("{name}_x"),
            SafeTensor::f32(vec![set.len(), 784], &x),
        );
        tensors.insert(format!("{name}_y"), SafeTensor::i64(vec![set.len()], &y));
    }
    write(&out.join("mnist.safetensors"), tensors);
}

fn main() {
    glh_benches::set_up_as_glh();
    let out = std::env::args().nth(1).expect("usage: torch-fixtures OUT");
    let out = Path::new(&out);
    std::fs::create_dir_all(out).expect("the output directory");
    let data = glh_data::DataSettings {
        dir: glh_benches::mnist_dir(),
        ..glh_data::DataSettings::default()
    };
    let store = ArtifactStore::new(out.join("store"));
    mnist(out, &data.dir);

    let settings = TrainingSettings::default();
    let order: Vec<i64> = batch_order(60_000, 128, settings.steps as usize, 0)
        .into_iter()
        .flatten()
        .map(i64::from)
        .collect();
    let shape = vec![settings.steps as usize, 128];
    write(
        &out.join("batches.safetensors"),
        BTreeMap::from([("order".to_string(), SafeTensor::i64(shape, &order))]),
    );

    for &(method, width, sparsity) in RUNS {
        let point = MaskPoint {
            method,
            width: Width::try_from(u64::from(width)).unwrap(),
            sparsity: Sparsity::try_from(sparsity).unwrap(),
            depth: Depth::try_from(4).unwrap(),
            seed: 0,
        };
        let run = glh_masks::stage::MasksJob::new(&MasksSettings::default(), &data, point)
            .unwrap()
            .run(&store, false, &mut |_, _| {})
            .expect("a masks run")
            .as_input();
        let name = format!("{method}_n{width}_s{sparsity}");
        export_safetensors(&store, &run, &out.join(format!("{name}.safetensors"))).unwrap();
        if matches!(method, PruneMethod::Snip | PruneMethod::Grasp) {
            let batch = out.join(format!("{name}_batch.safetensors"));
            export_scoring_batch(&store, &run, &data.dir, &batch).unwrap();
        }
        eprintln!("{name}");
        if (method, width) == (PruneMethod::Random, 1024) {
            let (arch, mask) = glh_masks::stage::read_mask(&store, &run).unwrap();
            let tensors = MnistTensors::load(&data, &Device::Cpu).unwrap();
            let mut model = MaskedMlp::new(&Mlp::init(arch, 0), &mask, &Device::Cpu).unwrap();
            let history = train(&mut model, &tensors, &settings, 0, &mut |_, _| {})
                .unwrap()
                .history;
            let losses = |e: &[glh_training::train::Evaluation]| -> Vec<(u32, f64, f64)> {
                e.iter().map(|e| (e.step, e.loss, e.accuracy)).collect()
            };
            let json = serde_json::json!({
                "train": losses(&history.train),
                "test": losses(&history.test),
            });
            std::fs::write(out.join("ours_e3_run.json"), json.to_string()).unwrap();
        }
    }
}
