//! The NTK regime through the pipeline: the dynamics stage's curves start where the observed
//! one does, and an unstable learning rate is refused with an error naming the field, leaving
//! no dynamics run behind.

use glh_artifacts::Error;
use glh_tests::{load_pipeline, run_pipeline};
use polars::prelude::*;

fn scan(root: &std::path::Path, table: &str) -> DataFrame {
    let glob = format!("{}/dynamics/*/{table}.parquet", root.display());
    LazyFrame::scan_parquet(PlRefPath::new(glob.as_str()), Default::default())
        .unwrap()
        .collect()
        .unwrap()
}

#[test]
fn predicted_curves_start_at_the_observed_loss_and_have_every_step() {
    let pipeline = load_pipeline("smoke-dynamics.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let steps = pipeline.training.as_ref().unwrap().steps;
    let curves = scan(root.path(), "curves");
    let runs = pipeline.sweep.methods.len() * pipeline.sweep.widths.len() * 2;
    // Observed plus three kernels, T + 1 steps each, per run.
    assert_eq!(curves.height(), runs * 4 * (steps as usize + 1));
    let start = curves
        .lazy()
        .filter(col("step").eq(lit(0u32)))
        .group_by([col("method"), col("width"), col("seed")])
        .agg([
            col("loss").min().alias("low"),
            col("loss").max().alias("high"),
        ])
        .collect()
        .unwrap();
    assert_eq!(start.height(), runs);
    let (low, high) = (
        start.column("low").unwrap().f64().unwrap(),
        start.column("high").unwrap().f64().unwrap(),
    );
    for i in 0..runs {
        let (l, h) = (low.get(i).unwrap(), high.get(i).unwrap());
        // The history's f32 loss against the f64 residual's: rounding only.
        assert!(h - l <= 1e-5 * h, "run {i}: L_0 from {l} to {h}");
    }
    let errors = scan(root.path(), "errors");
    assert_eq!(errors.height(), runs * 3);
    let stable = errors
        .column("stable_learning_rate")
        .unwrap()
        .f64()
        .unwrap();
    let eta = pipeline.training.as_ref().unwrap().learning_rate;
    assert!(stable.into_no_null_iter().all(|s| s > eta));
}

#[test]
fn an_unstable_learning_rate_is_refused_naming_the_field() {
    let mut pipeline = load_pipeline("smoke-dynamics.toml");
    // Stable runs first, for the smallest bound 2N / l_1 over every run and kernel.
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let errors = scan(root.path(), "errors");
    let bound = errors
        .column("stable_learning_rate")
        .unwrap()
        .f64()
        .unwrap()
        .min()
        .unwrap();
    for eta in [1.5 * bound, 1e6] {
        pipeline.training.as_mut().unwrap().learning_rate = eta;
        let err = run_pipeline(&pipeline, root.path(), false).unwrap_err();
        assert!(
            matches!(&err, Error::Config { .. }) && err.to_string().contains("learning_rate"),
            "{err}"
        );
    }
    // Runs whose own bound is above 1.5 x the smallest one are stable and may be published;
    // no published run has a rate at or above its bound.
    let errors = scan(root.path(), "errors");
    let rate = errors.column("learning_rate").unwrap().f64().unwrap();
    let stable = errors
        .column("stable_learning_rate")
        .unwrap()
        .f64()
        .unwrap();
    assert!(
        rate.into_no_null_iter()
            .zip(stable.into_no_null_iter())
            .all(|(r, s)| r < s)
    );
    assert!(errors.height() >= 3 * 8);
}
