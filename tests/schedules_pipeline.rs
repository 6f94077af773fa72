//! Masks that change during training through the pipeline (`smoke-schedules`: RigL from Random
//! and SNIP masks, then each run's trajectory), read back with polars as a user would: every
//! run records its masks at the planned steps, every layer keeps its kept count at every
//! checkpoint, checkpoint 0 has moved nowhere, and each checkpoint has one kernel row.

use glh_tests::{load_pipeline, run_pipeline};
use polars::prelude::*;

fn scan(root: &std::path::Path, stage: &str, table: &str) -> DataFrame {
    let glob = format!("{}/{stage}/*/{table}.parquet", root.display());
    LazyFrame::scan_parquet(PlRefPath::new(glob.as_str()), Default::default())
        .unwrap()
        .collect()
        .unwrap()
}

#[test]
fn rigl_runs_record_their_masks_and_their_trajectories() {
    let pipeline = load_pipeline("smoke-schedules.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let training = pipeline.training.as_ref().unwrap();
    let update_steps = training.schedule.update_steps(training.steps);
    let checkpoints = update_steps.len() + 1;
    let sweep = &pipeline.sweep;
    let runs = sweep.methods.len() * sweep.widths.len() * sweep.seeds.len();
    let depth = usize::from(sweep.depths[0].get() as u16);

    let layers = scan(root.path(), "trajectories", "layers");
    assert_eq!(layers.height(), runs * checkpoints * depth);
    // The planned steps, in every run.
    let steps = layers
        .clone()
        .lazy()
        .select([col("step").unique().sort(Default::default())])
        .collect()
        .unwrap();
    let mut expected = vec![0u32];
    expected.extend(&update_steps);
    let found: Vec<u32> = steps
        .column("step")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(found, expected);
    // Exact counts: one kept count per run and layer over all checkpoints.
    let counts = layers
        .clone()
        .lazy()
        .group_by([col("method"), col("width"), col("seed"), col("layer")])
        .agg([col("kept").n_unique().alias("counts")])
        .collect()
        .unwrap();
    assert_eq!(counts.height(), runs * depth);
    assert!(
        counts
            .column("counts")
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .all(|c| c == 1)
    );
    // Checkpoint 0 is where each run starts; later ones moved, by less than RigL's alpha.
    let start = layers
        .clone()
        .lazy()
        .filter(col("checkpoint").eq(lit(0u32)))
        .select([
            col("frobenius_to_start").max().alias("f"),
            col("changed_from_start").max().alias("c"),
            col("cut_high_to_start").max().alias("cut"),
        ])
        .collect()
        .unwrap();
    for name in ["f", "c", "cut"] {
        assert_eq!(
            start.column(name).unwrap().f64().unwrap().get(0),
            Some(0.0),
            "{name}"
        );
    }
    let moved = layers
        .lazy()
        .filter(col("checkpoint").eq(lit(1u32)))
        .select([
            col("changed_from_previous").min().alias("low"),
            col("changed_from_previous").max().alias("high"),
        ])
        .collect()
        .unwrap();
    let (low, high) = (
        moved.column("low").unwrap().f64().unwrap().get(0).unwrap(),
        moved.column("high").unwrap().f64().unwrap().get(0).unwrap(),
    );
    assert!(
        low >= 0.0 && high > 0.0 && high <= 0.3 + 1e-9,
        "{low} {high}"
    );

    let metrics = scan(root.path(), "trajectories", "metrics");
    assert_eq!(metrics.height(), runs * checkpoints);
    let histograms = scan(root.path(), "trajectories", "histograms");
    let k = pipeline.trajectories.as_ref().unwrap().k;
    assert!(
        histograms
            .column("k_rows")
            .unwrap()
            .u32()
            .unwrap()
            .into_no_null_iter()
            .all(|r| r <= k)
    );
    // The training runs' own masks tables hold every checkpoint's rows.
    let masks = scan(root.path(), "training", "masks");
    let rows_per_mask: usize = sweep
        .widths
        .iter()
        .map(|w| (depth - 1) * w.get() as usize + 10)
        .sum::<usize>()
        * sweep.methods.len()
        * sweep.seeds.len();
    assert_eq!(masks.height(), rows_per_mask * checkpoints);
}

#[test]
fn a_trajectories_table_without_a_schedule_is_refused_naming_it() {
    let text =
        std::fs::read_to_string(glh_tests::repo_root().join("pipelines/smoke-schedules.toml"))
            .unwrap();
    let without = text.replace("rule = \"rigl\"", "rule = \"static\"");
    let err = glh_pipeline::Pipeline::from_toml(&without, "x.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.toml") && err.contains("trajectories"),
        "{err}"
    );
}

#[test]
fn a_checkpoint_is_a_mask_source_like_any_other() {
    use glh_artifacts::store::InputRef;
    use glh_artifacts::{ArtifactStore, Job};
    use glh_graphons::stage::{HistogramsJob, MaskSource, read_histograms};
    use glh_training::stage::TrainingJob;

    let pipeline = load_pipeline("smoke-schedules.toml");
    let root = tempfile::tempdir().unwrap();
    run_pipeline(&pipeline, root.path(), false).unwrap();
    let store = ArtifactStore::new(root.path());
    let plan = glh_pipeline::plan(&pipeline).unwrap();
    let (_, training) = plan.jobs_of::<TrainingJob>().into_iter().next().unwrap();
    let run = training.spec().as_input();
    let checkpoints = glh_masks::stage::read_schedule_masks(&store, &run).unwrap();
    let settings = glh_graphons::GraphonsSettings {
        k: 4,
        ..Default::default()
    };
    let histograms_of = |source: MaskSource| {
        let done = HistogramsJob::new(&settings, source)
            .run(&store, false, &mut |_, _| {})
            .unwrap();
        let input = InputRef {
            stage: "graphons".into(),
            key: done.manifest.key,
        };
        read_histograms(&store, &input).unwrap()
    };
    // Checkpoint 0 is the masks run it started from: the same histograms as that run's.
    let start = MaskSource::checkpoint(&store, run.clone(), 0).unwrap();
    assert_eq!(
        histograms_of(start),
        histograms_of(MaskSource::Stored(training.masks().clone()))
    );
    // A later checkpoint gets its own key and its own histograms.
    let last = (checkpoints.len() - 1) as u32;
    let later = MaskSource::checkpoint(&store, run.clone(), last).unwrap();
    assert_ne!(
        HistogramsJob::new(&settings, later.clone()).spec().key(),
        HistogramsJob::new(
            &settings,
            MaskSource::checkpoint(&store, run.clone(), 0).unwrap()
        )
        .spec()
        .key()
    );
    assert_ne!(
        histograms_of(later),
        histograms_of(MaskSource::Stored(training.masks().clone()))
    );
    // A checkpoint the run did not record is refused, naming its file.
    let err = MaskSource::checkpoint(&store, run, last + 1)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("masks.parquet") && err.contains("was not recorded"),
        "{err}"
    );
}
