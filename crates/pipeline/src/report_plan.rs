//! What a report needs of a pipeline: [`experiment`] turns a parsed pipeline file into the
//! report's [`Experiment`], with the exact runs its plan names and those of its dense baseline.
//! The command line and the end-to-end tests both report through it, so the tests check the
//! adapter `glh report` uses.

use crate::{Pipeline, plan};
use glh_artifacts::Result;
use glh_reporting::experiment::PlannedRuns;
use glh_reporting::{DynamicsRuns, Experiment, GraphonKernelRuns, GraphonsRuns};

/// The runs of `pipeline`'s plan, by stage and key.
pub fn planned_runs(pipeline: &Pipeline) -> Result<PlannedRuns> {
    let mut runs = PlannedRuns::new();
    for job in plan(pipeline)?.jobs() {
        runs.insert(job.stage(), job.key());
    }
    Ok(runs)
}

/// The report's view of `pipeline`: its name, sweep, settings, stages and planned runs.
pub fn experiment(pipeline: &Pipeline) -> Result<Experiment> {
    let mut dense = pipeline.clone();
    dense.sweep = glh_reporting::tables::dense_baseline(&pipeline.sweep);
    Ok(Experiment {
        name: pipeline.name.clone(),
        description: pipeline.description.clone(),
        sweep: pipeline.sweep.clone(),
        runs: planned_runs(pipeline)?,
        dense_runs: planned_runs(&dense)?,
        settings_toml: pipeline.to_toml()?,
        graphons: pipeline.graphons.as_ref().map(|g| GraphonsRuns {
            k: g.k,
            rescale: g.rescale,
        }),
        ntk: pipeline.ntk.is_some(),
        graphon_ntk: pipeline.graphon_ntk.as_ref().map(|g| GraphonKernelRuns {
            k: g.k,
            kernel_size: g.kernel_size,
            first_sigma_w2: g.sigma_w2[0],
        }),
        training: pipeline.training.is_some(),
        dynamics: pipeline
            .dynamics
            .as_ref()
            .zip(pipeline.training.as_ref())
            .map(|(_, t)| DynamicsRuns {
                learning_rate: t.learning_rate,
                steps: t.steps,
                sigma_w2: t.sigma_w2,
            }),
    })
}
