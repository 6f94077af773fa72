//! A run's identity comes from its inputs: a downstream job is built from its upstream job, so
//! it takes the masks run's own seed; and a job whose published run has another key than the
//! one it was planned under is refused by the executor.

use glh_artifacts::{ArtifactStore, Job, Plan};
use glh_masks::stage::MasksJob;
use glh_ntk::stage::KernelsJob;
use glh_pipeline::{ExecOptions, Silent};
use glh_tests::load_pipeline;

#[test]
fn a_downstream_job_takes_its_masks_runs_seed_and_a_misplanned_key_is_refused() {
    let pipeline = load_pipeline("smoke.toml");
    let data = pipeline.data.clone().unwrap();
    let ntk = pipeline.ntk.clone().unwrap();
    let plan = glh_pipeline::plan(&pipeline).unwrap();
    let (masks_id, masks) = plan
        .jobs_of::<MasksJob>()
        .into_iter()
        .find(|(_, j)| j.point().seed == 0)
        .unwrap();
    let masks_input = masks.spec().as_input();
    let label = plan[masks_id].label.clone();

    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let options = ExecOptions {
        force: false,
        jobs: 1,
    };
    // The kernels of the seed-0 masks job read the seed-0 kernel images: nothing to pass.
    let kernels = KernelsJob::of(&ntk, &data, masks).unwrap();
    assert_eq!(kernels.data_job().seed(), 0);
    // A plan of the masks job, its data job and `kernels` after both.
    let plan_with = |kernels: &mut dyn FnMut(&mut Plan, usize, usize)| {
        let mut plan = Plan::new();
        let m = plan.push(masks.clone(), label.clone(), vec![]);
        let subsets = glh_data::stage::SubsetsJob::new(&data, 0).unwrap();
        let d = plan.push(subsets, "subsets", vec![m]);
        kernels(&mut plan, m, d);
        plan
    };
    let run = |plan: Plan| glh_pipeline::execute(&store, &plan, options, &Silent);
    // A job whose spec names another run than the one its `run` publishes (here: the seed-1
    // kernels' key) is a bug in its stage: the executor refuses it rather than cache it.
    let seed_1 = plan
        .jobs_of::<MasksJob>()
        .into_iter()
        .find(|(_, j)| j.point().seed == 1)
        .map(|(_, j)| KernelsJob::of(&ntk, &data, j).unwrap())
        .unwrap();
    let misplanned = Misplanned(kernels.clone(), seed_1.spec().clone());
    let mut misplanned = Some(misplanned);
    let err = run(plan_with(&mut |plan, m, d| {
        plan.push(misplanned.take().unwrap(), "kernels", vec![m, d]);
    }))
    .unwrap_err()
    .to_string();
    assert!(err.contains("planned as key"), "{err}");
    let reports = run(plan_with(&mut |plan, m, d| {
        plan.push(kernels.clone(), "kernels", vec![m, d]);
    }))
    .unwrap();
    // A stored masks run's kernels read its seed from its manifest: the same job.
    let source = glh_ntk::stage::MaskSource::Stored(masks_input.clone());
    let stored = KernelsJob::of_source(&store, &ntk, &data, source, 99).unwrap();
    assert_eq!(stored.spec().key(), kernels.spec().key());
    let kernels = &reports.last().unwrap().outcome;
    let metrics = glh_ntk::stage::read_metrics(&store, &kernels.as_input()).unwrap();
    assert!(!metrics.is_empty());
    let manifest = store
        .find("masks", &masks_input.key)
        .unwrap()
        .expect("the masks run is complete");
    assert_eq!(manifest.params["seed"], 0);
}

/// A job that says one run and computes another.
#[derive(Debug)]
struct Misplanned(KernelsJob, glh_artifacts::JobSpec);

impl Job for Misplanned {
    fn spec(&self) -> &glh_artifacts::JobSpec {
        &self.1
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> glh_artifacts::Result<glh_artifacts::JobOutcome> {
        self.0.run(store, force, progress)
    }
}
