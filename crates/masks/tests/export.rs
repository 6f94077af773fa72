//! The exports read back by an independent reader: the `safetensors` crate (PyTorch's format)
//! finds the initial weights, masks and biases of the stored run, and the exact images SNIP
//! scored on; two exports are byte-identical; a run without data has no scoring batch.

use glh_artifacts::ArtifactStore;
use glh_artifacts::Job;
use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::export::{export_safetensors, export_scoring_batch};
use glh_masks::stage::{MaskPoint, read_mask, scoring_data};
use glh_model::Mlp;
use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn safetensors_export_holds_the_pruned_network_and_its_scoring_batch() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path().join("artifacts"));
    let data = DataSettings {
        dir: mnist_dir(),
        ..DataSettings::default()
    };
    let point = |method| MaskPoint {
        method,
        width: Width::try_from(24).unwrap(),
        sparsity: Sparsity::try_from(0.8).unwrap(),
        depth: Depth::try_from(3).unwrap(),
        seed: 4,
    };
    let run = |method| {
        glh_masks::stage::MasksJob::new(&MasksSettings::default(), &data, point(method))
            .unwrap()
            .run(&store, false, &mut |_, _| {})
            .unwrap()
            .as_input()
    };
    let snip = run(PruneMethod::Snip);
    let (arch, mask) = read_mask(&store, &snip).unwrap();
    let mlp = Mlp::init(arch, 4);

    let out = root.path().join("snip.safetensors");
    assert_eq!(
        export_safetensors(&store, &snip, &out).unwrap(),
        mask.kept()
    );
    let bytes = std::fs::read(&out).unwrap();
    let again = root.path().join("again.safetensors");
    export_safetensors(&store, &snip, &again).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&again).unwrap(),
        "byte-identical exports"
    );

    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.len(), 3 * arch.depth);
    for (l, (layer, m)) in mlp.layers.iter().zip(mask.layers()).enumerate() {
        let module = 2 * l;
        let weight = file.tensor(&format!("{module}.weight_orig")).unwrap();
        assert_eq!(
            (weight.dtype(), weight.shape()),
            (Dtype::F32, &[layer.rows, layer.cols][..])
        );
        assert_eq!(
            f32s(weight.data()),
            layer.weight,
            "layer {}: unpruned initial weights",
            l + 1
        );
        let flags = f32s(
            file.tensor(&format!("{module}.weight_mask"))
                .unwrap()
                .data(),
        );
        let want: Vec<f32> = m
            .as_slice()
            .iter()
            .map(|&k| if k { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(flags, want);
        assert_eq!(
            f32s(file.tensor(&format!("{module}.bias")).unwrap().data()),
            layer.bias
        );
    }
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let metadata = metadata.metadata().clone().unwrap();
    assert_eq!(metadata["method"], "snip");
    assert_eq!(metadata["glh.source"], format!("masks/{}", snip.key));

    // The scoring batch is the scorer's own input, in f32.
    let batch_path = root.path().join("batch.safetensors");
    assert_eq!(
        export_scoring_batch(&store, &snip, &mnist_dir(), &batch_path).unwrap(),
        100
    );
    let batch_bytes = std::fs::read(&batch_path).unwrap();
    let batch = SafeTensors::deserialize(&batch_bytes).unwrap();
    let scored = scoring_data(&store, &data, 4, false).unwrap();
    let x = f32s(batch.tensor("x").unwrap().data());
    for i in 0..100 {
        for p in 0..784 {
            assert_eq!(
                f64::from(x[i * 784 + p]),
                scored.x[(p, i)],
                "image {i} pixel {p}"
            );
        }
    }
    let y: Vec<u8> = batch
        .tensor("y")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as u8)
        .collect();
    assert_eq!(y, scored.labels);

    // SynFlow scores without data: no batch, no file, an error naming the run's manifest.
    let synflow = run(PruneMethod::Synflow);
    let none = root.path().join("none.safetensors");
    let err = export_scoring_batch(&store, &synflow, &mnist_dir(), &none).unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    assert!(!none.exists());
}
