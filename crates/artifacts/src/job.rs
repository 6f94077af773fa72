//! The contract between a stage and the executors: a [`Job`] is one stage run with its cache
//! key and a way to compute it; a [`Stage`] plans its jobs into a [`Plan`] from the sweep and
//! the jobs planned before it.
//!
//! The executors (`glh-pipeline`) know nothing of any stage: they order a plan's jobs by their
//! dependencies and call [`Job::run`]. A new stage or job kind is an impl of these two traits in
//! its own crate, and a table in the pipeline file.

use crate::config::Sweep;
use crate::store::{JobOutcome, JobSpec};
use crate::{ArtifactKey, ArtifactStore, Result};
use std::any::Any;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

/// One stage run: everything it computes from is in its [`JobSpec`], so its key names its
/// bytes.
pub trait Job: Any + Debug + Send + Sync {
    /// The stage run (and so the cache key) this job computes.
    fn spec(&self) -> &JobSpec;

    /// What its progress counts (`rounds`, `steps`), for the executor's bar; `None` for jobs
    /// that report no progress.
    fn progress_unit(&self) -> Option<&'static str> {
        None
    }

    /// Computes the run and publishes it in `store`, unless it is complete there (or `force`);
    /// `progress(done, total)` follows its inner work.
    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome>;
}

/// A pipeline table's stage: plans its jobs from the sweep and what is already in the plan.
pub trait Stage {
    /// Adds this stage's jobs to `plan`. Jobs that read another job's artifact find it with
    /// [`Plan::jobs_of`] (or add it with [`Plan::ensure`]) and list it in their dependencies.
    fn plan(&self, sweep: &Sweep, plan: &mut Plan) -> Result<()>;
}

/// Index of a job in its [`Plan`].
pub type JobId = usize;

/// One job of a plan, with what the executors need besides the job itself.
#[derive(Clone, Debug)]
pub struct PlannedJob {
    /// What it computes.
    pub job: Arc<dyn Job>,
    /// A short human label (`snip L=3 n=16 s=0.8 seed=0`).
    pub label: String,
    /// The jobs whose artifacts it reads; each comes earlier in the plan.
    pub depends_on: Vec<JobId>,
}

impl PlannedJob {
    /// The job's stage run.
    pub fn spec(&self) -> &JobSpec {
        self.job.spec()
    }

    /// Its stage.
    pub fn stage(&self) -> &'static str {
        self.job.spec().stage
    }

    /// Its cache key.
    pub fn key(&self) -> ArtifactKey {
        self.job.spec().key()
    }
}

/// Jobs in an order where every job comes after those it depends on; one job per key.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    jobs: Vec<PlannedJob>,
    by_key: HashMap<(&'static str, ArtifactKey), JobId>,
}

impl Plan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `job`, which reads the artifacts of `depends_on` (earlier jobs), and returns its id;
    /// a job whose stage run is already planned is not added twice (its id is returned).
    pub fn push(
        &mut self,
        job: impl Job,
        label: impl Into<String>,
        depends_on: Vec<JobId>,
    ) -> JobId {
        let id = (job.spec().stage, job.spec().key());
        if let Some(&existing) = self.by_key.get(&id) {
            return existing;
        }
        assert!(
            depends_on.iter().all(|&d| d < self.jobs.len()),
            "a job depends only on earlier jobs"
        );
        self.jobs.push(PlannedJob {
            job: Arc::new(job),
            label: label.into(),
            depends_on,
        });
        self.by_key.insert(id, self.jobs.len() - 1);
        self.jobs.len() - 1
    }

    /// The id of the job that computes `job`'s stage run, adding it (with no dependencies) if
    /// the plan has none yet: how a stage reads an upstream run that the pipeline may or may not
    /// have planned already.
    pub fn ensure(&mut self, job: impl Job, label: impl Into<String>) -> JobId {
        self.push(job, label, vec![])
    }

    /// The planned jobs of concrete type `T`, with their ids, in plan order.
    pub fn jobs_of<T: Job>(&self) -> Vec<(JobId, &T)> {
        self.jobs
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let job: &dyn Any = p.job.as_ref();
                job.downcast_ref::<T>().map(|t| (i, t))
            })
            .collect()
    }

    /// Every job, in plan order.
    pub fn jobs(&self) -> &[PlannedJob] {
        &self.jobs
    }

    /// The number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the plan has no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    /// The dependency level of every job: 0 for a job that reads no planned job, else one more
    /// than the deepest job it reads among those `counts(job)` keeps (the local executor counts
    /// every job; the Slurm executor only those still to run, since complete ones impose no
    /// wait).
    pub fn levels(&self, counts: impl Fn(JobId) -> bool) -> Vec<usize> {
        let mut level = vec![0usize; self.jobs.len()];
        for (i, job) in self.jobs.iter().enumerate() {
            level[i] = job
                .depends_on
                .iter()
                .filter(|&&d| counts(d))
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
        }
        level
    }
}

impl std::ops::Index<JobId> for Plan {
    type Output = PlannedJob;
    fn index(&self, id: JobId) -> &PlannedJob {
        &self.jobs[id]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug)]
    struct Fake(JobSpec);

    impl Fake {
        fn new(stage: &'static str, n: u64) -> Self {
            Fake(JobSpec::new(stage, 1, &json!({ "n": n }), vec![]))
        }
    }

    impl Job for Fake {
        fn spec(&self) -> &JobSpec {
            &self.0
        }
        fn run(
            &self,
            _: &ArtifactStore,
            _: bool,
            _: &mut dyn FnMut(usize, usize),
        ) -> Result<JobOutcome> {
            unreachable!("not run in these tests")
        }
    }

    #[test]
    fn a_stage_run_is_planned_once() {
        let mut plan = Plan::new();
        let a = plan.push(Fake::new("a", 0), "a0", vec![]);
        let b = plan.push(Fake::new("b", 0), "b0", vec![a]);
        assert_eq!(plan.ensure(Fake::new("a", 0), "again"), a);
        assert_eq!(plan.push(Fake::new("b", 0), "again", vec![]), b);
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[b].label, "b0");
        assert_eq!(plan.jobs_of::<Fake>().len(), 2);
    }

    #[test]
    fn levels_follow_dependencies() {
        let mut plan = Plan::new();
        let j0 = plan.push(Fake::new("t", 0), "", vec![]);
        let j1 = plan.push(Fake::new("t", 1), "", vec![j0]);
        let j2 = plan.push(Fake::new("t", 2), "", vec![]);
        plan.push(Fake::new("t", 3), "", vec![j1, j2]);
        plan.push(Fake::new("t", 4), "", vec![j0]);
        assert_eq!(plan.levels(|_| true), vec![0, 1, 0, 2, 1]);
        // Job 0 complete: what read it no longer waits.
        assert_eq!(plan.levels(|d| d != j0), vec![0, 0, 0, 1, 0]);
        assert!(Plan::new().levels(|_| true).is_empty());
    }
}
