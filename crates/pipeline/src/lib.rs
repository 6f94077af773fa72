//! graphon-lab's pipelines: a pipeline file ([`pipeline`]) becomes a [`Plan`] of stage jobs
//! ([`plan`]), which the local executor ([`local`]) runs on a thread pool or the Slurm executor
//! ([`slurm`]) submits as job arrays, recorded as sweeps ([`sweeps`]) with their resources
//! ([`cluster`]); [`report_plan`] gives the report a pipeline's exact planned runs.
//!
//! Nothing here knows a stage: each stage crate implements [`glh_artifacts::Stage`] (how its
//! jobs are planned) and [`glh_artifacts::Job`] (its key and how it runs); the executors order
//! jobs by their dependencies and call [`Job::run`]. Progress goes through the [`Progress`]
//! trait, which the command line draws; this library draws nothing.

pub mod cluster;
pub mod local;
pub mod pipeline;
pub mod progress;
pub mod report_plan;
pub mod slurm;
pub mod sweeps;

pub use glh_artifacts::{Job, JobId, Plan, PlannedJob, Stage};
pub use local::{ExecOptions, JobReport, execute, execute_job, execute_one};
pub use pipeline::Pipeline;
pub use progress::{Progress, Silent};

use glh_artifacts::Result;

/// The jobs of `pipeline`: each of its stages, in pipeline order, adds its jobs after those it
/// reads.
pub fn plan(pipeline: &Pipeline) -> Result<Plan> {
    let mut plan = Plan::new();
    for stage in pipeline.stages() {
        stage.plan(&pipeline.sweep, &mut plan)?;
    }
    Ok(plan)
}
