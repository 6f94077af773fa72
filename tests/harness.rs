//! Helpers of the end-to-end tests: the repository's paths, the smoke pipeline run in-process
//! into any artifact root, and the Parquet files a root holds.
//!
//! The README's Rust snippet is compiled as a doctest of this crate, so it cannot rot.

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeSnippets;

use glh_artifacts::{ArtifactStore, Result};
use glh_pipeline::{ExecOptions, JobReport, Pipeline, Silent};
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf()
}

/// A pipeline file of `pipelines/`, with its data directory made absolute so that the tests do
/// not depend on the working directory.
pub fn load_pipeline(name: &str) -> Pipeline {
    let path = repo_root().join("pipelines").join(name);
    let mut pipeline = Pipeline::from_file(&path).expect("shipped pipelines are valid");
    if let Some(data) = pipeline.data.as_mut() {
        data.dir = repo_root().join(&data.dir);
    }
    pipeline
}

/// Runs `pipeline` into the artifact root `root`, quietly, on two threads.
pub fn run_pipeline(pipeline: &Pipeline, root: &Path, force: bool) -> Result<Vec<JobReport>> {
    let store = ArtifactStore::new(root);
    let plan = glh_pipeline::plan(pipeline)?;
    let options = ExecOptions { force, jobs: 2 };
    glh_pipeline::execute(&store, &plan, options, &Silent)
}

/// The report's view of `pipeline`, through the adapter `glh report` uses.
pub fn experiment(pipeline: &Pipeline) -> glh_reporting::Experiment {
    glh_pipeline::report_plan::experiment(pipeline).expect("the pipeline plans")
}

/// Every Parquet file under `root` that belongs to a complete run, as paths relative to `root`,
/// sorted.
pub fn parquet_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable").flatten() {
            let path = entry.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    out.sort();
    out
}
