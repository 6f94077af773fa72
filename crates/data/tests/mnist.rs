//! The reader against the real MNIST files and the facts in data/mnist/README.md.

use glh_artifacts::store::JobStatus;
use glh_artifacts::{ArtifactStore, Job};
use glh_data::DataSettings;
use glh_data::stage::{Subset, SubsetsJob, read_subset};
use glh_data::{MnistSplit, Normalisation, Split};
use std::path::{Path, PathBuf};

fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist")
}

#[test]
fn label_counts_and_first_labels_match_the_readme() {
    let train = MnistSplit::load(&mnist_dir(), Split::Train).unwrap();
    let test = MnistSplit::load(&mnist_dir(), Split::Test).unwrap();
    assert_eq!(train.len(), 60_000);
    assert_eq!(test.len(), 10_000);
    assert_eq!(train.labels[0], 5);
    assert_eq!(test.labels[0], 7);
    assert_eq!(
        train.label_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(test.label_counts().iter().sum::<usize>(), 10_000);
}

#[test]
fn training_pixels_have_the_standard_mean_and_std() {
    // The constants of METHOD.md section 1 are the training set's own statistics.
    let train = MnistSplit::load(&mnist_dir(), Split::Train).unwrap();
    let n = train.images.len() as f64;
    let mean = train
        .images
        .iter()
        .map(|&p| f64::from(p) / 255.0)
        .sum::<f64>()
        / n;
    let var = train
        .images
        .iter()
        .map(|&p| (f64::from(p) / 255.0 - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!((mean - 0.1307).abs() < 5e-5, "{mean}");
    assert!((var.sqrt() - 0.3081).abs() < 5e-5, "{}", var.sqrt());

    let norm = Normalisation::from(&DataSettings::default());
    let all: Vec<u32> = (0..train.len() as u32).collect();
    let x = train.inputs(&all, &norm);
    let m = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    assert!(m.abs() < 1e-3, "standardised mean {m}");
}

#[test]
fn the_data_stage_writes_balanced_subsets_once() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let settings = DataSettings {
        dir: mnist_dir(),
        scoring_per_class: 10,
        kernel_per_class: 20,
        ..DataSettings::default()
    };
    let first = SubsetsJob::new(&settings, 3)
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    assert_eq!(first.status, JobStatus::Computed);
    assert_eq!(first.manifest.files[0].rows, 300);
    let again = SubsetsJob::new(&settings, 3)
        .unwrap()
        .run(&store, false, &mut |_, _| {})
        .unwrap();
    assert_eq!(again.status, JobStatus::Cached);

    let spec = SubsetsJob::new(&settings, 3).unwrap().spec().clone();
    let train = MnistSplit::load(&mnist_dir(), Split::Train).unwrap();
    for (subset, per_class) in [(Subset::Scoring, 10), (Subset::Kernel, 20)] {
        let indices = read_subset(&store, &spec.as_input(), subset).unwrap();
        assert_eq!(indices.len(), per_class * 10);
        let labels: Vec<u8> = indices.iter().map(|&i| train.labels[i as usize]).collect();
        for class in 0..10u8 {
            assert_eq!(labels.iter().filter(|&&l| l == class).count(), per_class);
        }
    }
    let other_seed = SubsetsJob::new(&settings, 4).unwrap().spec().clone();
    assert_ne!(spec.key(), other_seed.key());
}

#[test]
fn too_large_a_subset_is_a_config_error() {
    let root = tempfile::tempdir().unwrap();
    let settings = DataSettings {
        dir: mnist_dir(),
        kernel_per_class: 6000,
        ..DataSettings::default()
    };
    let err = SubsetsJob::new(&settings, 0)
        .unwrap()
        .run(&ArtifactStore::new(root.path()), false, &mut |_, _| {})
        .unwrap_err();
    assert!(err.is_bad_input());
    assert_eq!(
        err.to_string(),
        "data settings: `data.kernel_per_class`: class 0 has 5923 images, fewer than the 6000 asked for"
    );
    assert!(
        std::fs::read_dir(root.path().join("data"))
            .unwrap()
            .next()
            .is_none()
    );
}
