//! What the executors report while they work: the [`Progress`] trait, which a front end (the
//! command line's progress bars) implements; [`Silent`] reports nothing.
//!
//! Jobs run in parallel, so every method takes `&self` and an implementation must be `Sync`.

use glh_artifacts::{JobId, PlannedJob};

/// Receives the executors' progress. Every method has an empty default.
pub trait Progress: Sync {
    /// A run of `total` jobs starts (the local executor) or a sweep of `total` Slurm tasks is
    /// followed (`--wait`).
    fn started(&self, _total: usize) {}

    /// Job `id` starts.
    fn job_started(&self, _id: JobId, _job: &PlannedJob) {}

    /// Job `id` has done `done` of `total` of its units (its `Job::progress_unit`).
    fn job_advanced(&self, _id: JobId, _job: &PlannedJob, _done: usize, _total: usize) {}

    /// Job `id` ended, successfully or not.
    fn job_finished(&self, _id: JobId, _job: &PlannedJob) {}

    /// A followed Slurm sweep has `done` tasks done; `status` says what the others do.
    fn sweep_polled(&self, _done: usize, _status: &str) {}

    /// The run or the followed sweep ended; `ok` is false when it ends with an error.
    fn finished(&self, _ok: bool) {}
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
