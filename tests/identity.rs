//! A run's identity comes from its inputs: a downstream job planned with a seed that is not its
//! masks run's is refused by the executor, since the run it makes (from the masks run's own
//! seed) does not have the key it was planned under.

use glh_artifacts::{ArtifactStore, Job, Plan};
use glh_masks::stage::MasksJob;
use glh_ntk::stage::KernelsJob;
use glh_pipeline::{ExecOptions, Silent};
use glh_tests::load_pipeline;

#[test]
fn a_job_planned_with_another_seed_than_its_masks_run_is_refused() {
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
    let run = |seed: u64| {
        let mut wrong = Plan::new();
        let m = wrong.push(masks.clone(), label.clone(), vec![]);
        let subsets = glh_data::stage::SubsetsJob::new(&data, seed).unwrap();
        let d = wrong.push(subsets, "subsets", vec![]);
        let kernels = KernelsJob::new(&ntk, &data, masks_input.clone(), seed).unwrap();
        wrong.push(kernels, "kernels", vec![m, d]);
        glh_pipeline::execute(&store, &wrong, options, &Silent)
    };
    // Seed 1 is not the masks run's seed 0: the kernels it makes are keyed by seed 0's data.
    let err = run(1).unwrap_err().to_string();
    assert!(err.contains("planned as key"), "{err}");
    // With the masks run's own seed the plan runs: the kernels are keyed by what they hold.
    let reports = run(0).unwrap();
    let kernels = &reports.last().unwrap().outcome;
    let metrics = glh_ntk::stage::read_metrics(&store, &kernels.as_input()).unwrap();
    assert!(!metrics.is_empty());
    let manifest = store
        .find("masks", &masks_input.key)
        .unwrap()
        .expect("the masks run is complete");
    assert_eq!(manifest.params["seed"], 0);
}
