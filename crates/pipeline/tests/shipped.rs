//! Every pipeline file under `pipelines/` parses, validates and plans, and the sparse regime's
//! plan is the grid its file describes.

use glh_pipeline::{Pipeline, plan};
use std::path::Path;

/// A shipped pipeline, its data directory made absolute (the tests run in the crate's directory).
fn load(path: &Path) -> Pipeline {
    let mut pipeline = Pipeline::from_file(path).unwrap();
    if let Some(data) = pipeline.data.as_mut() {
        data.dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(&data.dir);
    }
    pipeline
}

fn shipped() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_pipeline_plans() {
    let files = shipped();
    assert!(files.len() >= 6, "{files:?}");
    for path in files {
        let pipeline = load(&path);
        let planned = plan(&pipeline).unwrap();
        assert!(!planned.is_empty(), "{}", path.display());
    }
}

#[test]
fn the_cauchy_chain_doubles_the_width_from_250_to_4000_with_5_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let pipeline = load(&dir.join("e1-cauchy.toml"));
    let sweep = &pipeline.sweep;
    let widths: Vec<u32> = sweep.widths.iter().map(|w| w.get()).collect();
    assert_eq!(widths, [250, 500, 1000, 2000, 4000]);
    assert!(widths.windows(2).all(|w| w[1] == 2 * w[0]), "n, 2n");
    assert_eq!(sweep.seeds.len(), 5);
    let planned = plan(&pipeline).unwrap();
    let count = |stage: &str| jobs_of(&planned, stage);
    // Every E1 method at L = 4, 80%: one convergence group (one chain) per method, each read
    // twice: the histograms, and their shapes H / p.
    assert_eq!(count("masks"), 5 * 5 * 5);
    assert_eq!(count("convergence"), 5 * 2);
}

#[test]
fn the_sparse_regime_plans_one_convergence_group_per_method_and_level() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let pipeline = load(&dir.join("e1-sparse.toml"));
    let planned = plan(&pipeline).unwrap();
    let count = |stage: &str| jobs_of(&planned, stage);
    // 5 methods x 4 widths x 3 seeds per level, but at n = 100 the law's density 2 / 10 is
    // E1's 80%: those 15 masks (and their histograms) are one job for both levels.
    assert_eq!(count("masks"), 5 * 4 * 3 * 2 - 15);
    assert_eq!(count("graphons"), 5 * 4 * 3 * 2 - 15);
    assert_eq!(count("convergence"), 5 * 2);
    let labels: Vec<&str> = planned
        .jobs()
        .iter()
        .filter(|j| j.job.spec().stage == "convergence")
        .map(|j| j.label.as_str())
        .collect();
    assert_eq!(
        labels[..2],
        ["random L=4 sparsity 0.8", "random L=4 density 2 n^-0.5"]
    );
}

/// How many jobs of `stage` a plan holds.
fn jobs_of(planned: &glh_pipeline::Plan, stage: &str) -> usize {
    planned
        .jobs()
        .iter()
        .filter(|j| j.job.spec().stage == stage)
        .count()
}

#[test]
fn kernels_take_every_seed_and_training_the_trained_ones() {
    // E3 with 10 seeds, 3 of them trained: every seed's masks, kernels and graphon kernels
    // (one job per configuration over all 10), training on seeds 0..3 only.
    let mut e3 = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/e3.toml"));
    e3.sweep.seeds = (0..10).collect();
    e3.sweep.trained_seeds = Some(3);
    e3.validate("e3").unwrap();
    let planned = glh_pipeline::plan(&e3).unwrap();
    let configurations = 4 * 6;
    assert_eq!(jobs_of(&planned, "masks"), configurations * 10);
    assert_eq!(jobs_of(&planned, "ntk"), configurations * 10);
    assert_eq!(jobs_of(&planned, "graphon_ntk"), configurations);
    assert_eq!(jobs_of(&planned, "training"), configurations * 3);
    let trained: Vec<u64> = planned
        .jobs()
        .iter()
        .filter(|j| j.job.spec().stage == "training")
        .map(|j| j.label.rsplit("seed=").next().unwrap().parse().unwrap())
        .collect();
    assert!(trained.iter().all(|s| *s < 3), "{trained:?}");
    // `--seeds` raises both: every given seed is trained.
    e3.set_seeds((0..5).collect()).unwrap();
    let planned = glh_pipeline::plan(&e3).unwrap();
    assert_eq!(jobs_of(&planned, "training"), configurations * 5);
    // More trained seeds than seeds is refused by name.
    e3.sweep.trained_seeds = Some(6);
    let err = e3.validate("e3.toml").unwrap_err().to_string();
    assert!(err.contains("`sweep.trained_seeds`"), "{err}");
}
