//! The local executor: runs a plan's jobs level by level (a job's level is one more than its
//! deepest dependency's), the jobs of one level in parallel, skipping complete ones.
//!
//! Jobs run on one rayon pool of `jobs` threads. A stage that parallelises inside a job uses
//! the same pool (rayon's work stealing), so the machine's cores are never oversubscribed.

use crate::progress::Progress;
use glh_artifacts::store::JobStatus;
use glh_artifacts::{
    ArtifactKey, ArtifactStore, Error, Job, JobId, JobOutcome, Plan, PlannedJob, Result,
};
use rayon::prelude::*;
use std::time::{Duration, Instant};

/// How to execute a plan.
#[derive(Clone, Copy, Debug)]
pub struct ExecOptions {
    /// Recompute complete artifacts.
    pub force: bool,
    /// Threads of the job pool.
    pub jobs: usize,
}

/// One executed job.
#[derive(Clone, Debug)]
pub struct JobReport {
    /// The stage.
    pub stage: &'static str,
    /// The job's label.
    pub label: String,
    /// What happened.
    pub outcome: JobOutcome,
}

/// Runs every job of `plan`, in dependency order; stops at the first failing level.
pub fn execute(
    store: &ArtifactStore,
    plan: &Plan,
    options: ExecOptions,
    progress: &dyn Progress,
) -> Result<Vec<JobReport>> {
    let pool = job_pool(options.jobs)?;
    progress.started(plan.len());
    let mut reports: Vec<Option<JobReport>> = vec![None; plan.len()];
    for level in levels(plan) {
        let results: Vec<(JobId, Result<JobOutcome>)> = pool.install(|| {
            level
                .par_iter()
                .map(|&id| (id, run_planned(store, plan, id, options.force, progress)))
                .collect()
        });
        for (id, result) in results {
            let outcome = result.inspect_err(|_| progress.finished(false))?;
            reports[id] = Some(JobReport {
                stage: plan[id].stage(),
                label: plan[id].label.clone(),
                outcome,
            });
        }
    }
    progress.finished(true);
    Ok(reports
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect())
}

/// Runs the one job `id` of `plan` on a pool of `options.jobs` threads, after checking that
/// every artifact it reads is complete: what a Slurm array task does (`glh job`).
pub fn execute_one(
    store: &ArtifactStore,
    plan: &Plan,
    id: JobId,
    options: ExecOptions,
    progress: &dyn Progress,
) -> Result<JobOutcome> {
    // Under Slurm an input was published by another node moments ago, and a network
    // filesystem may cache "not found" for up to its attribute timeout (NFS: 60 s): wait for it.
    let patience = if std::env::var_os("SLURM_JOB_ID").is_some() {
        Duration::from_secs(90)
    } else {
        Duration::ZERO
    };
    for &d in &plan[id].depends_on {
        let input = &plan[d];
        let waited = Instant::now();
        while store.find(input.stage(), &input.key())?.is_none() {
            if waited.elapsed() >= patience {
                return Err(Error::Unsupported(format!(
                    "{}/{} ({}), an input of this job, is not complete: the job that makes it \
                     failed or has not run",
                    input.stage(),
                    input.key(),
                    input.label
                )));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    let pool = job_pool(options.jobs)?;
    progress.started(1);
    let outcome = pool.install(|| run_planned(store, plan, id, options.force, progress));
    progress.finished(outcome.is_ok());
    outcome
}

/// Runs one job built outside a plan (what a stage command, `glh masks` or `glh ntk`, does)
/// on a pool of `threads` threads, through the same [`Job::run`] and key check as a planned
/// job; `progress(done, total)` follows its inner work.
pub fn execute_job(
    store: &ArtifactStore,
    job: &dyn Job,
    force: bool,
    threads: usize,
    progress: &mut (dyn FnMut(usize, usize) + Send),
) -> Result<JobOutcome> {
    let outcome = job_pool(threads)?.install(|| job.run(store, force, progress))?;
    check_key(&outcome, job.spec().stage, &job.spec().key(), "the command")?;
    Ok(outcome)
}

/// Checks that the run `outcome` published is the one keyed before it ran: a stage derives a
/// run's identity from its inputs, so a mismatch is a bug in that stage's job, never something
/// to cache.
fn check_key(outcome: &JobOutcome, stage: &str, key: &ArtifactKey, label: &str) -> Result<()> {
    if outcome.manifest.key != *key {
        return Err(Error::Unsupported(format!(
            "{stage} ({label}): planned as key {key} but ran as {} (a bug in the stage's job)",
            outcome.manifest.key
        )));
    }
    Ok(())
}

/// The pool jobs run on; stages that parallelise inside a job share its threads.
fn job_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("glh-job-{i}"))
        .build()
        .map_err(|e| Error::Unsupported(format!("cannot start the job pool: {e}")))
}

/// Runs job `id`, reporting it to `progress`, and checks that the run it published is the one
/// the plan keyed: a stage derives a run's identity from its inputs, so a mismatch is a bug in
/// that stage's planning, never something to cache.
fn run_planned(
    store: &ArtifactStore,
    plan: &Plan,
    id: JobId,
    force: bool,
    progress: &dyn Progress,
) -> Result<JobOutcome> {
    let planned: &PlannedJob = &plan[id];
    progress.job_started(id, planned);
    let outcome = planned.job.run(store, force, &mut |done, total| {
        progress.job_advanced(id, planned, done, total)
    });
    progress.job_finished(id, planned);
    let outcome = outcome?;
    check_key(&outcome, planned.stage(), &planned.key(), &planned.label)?;
    Ok(outcome)
}

/// The plan's job ids grouped by level; the jobs of one level can run in parallel.
pub fn levels(plan: &Plan) -> Vec<Vec<JobId>> {
    let level = plan.levels(|_| true);
    let max = level.iter().copied().max().map_or(0, |d| d + 1);
    (0..max)
        .map(|l| (0..plan.len()).filter(|&i| level[i] == l).collect())
        .collect()
}

/// The run's summary: one line per job, then the totals.
pub fn summary(store: &ArtifactStore, reports: &[JobReport], elapsed: Instant) -> String {
    let mut out = format!("{:<10} {:<36} {:<9} artifact\n", "stage", "job", "status");
    for r in reports {
        out.push_str(&format!(
            "{:<10} {:<36} {:<9} {}\n",
            r.stage,
            r.label,
            r.outcome.status.to_string(),
            r.outcome.dir.display()
        ));
    }
    let count = |status| {
        reports
            .iter()
            .filter(|r| r.outcome.status == status)
            .count()
    };
    let (computed, repaired) = (count(JobStatus::Computed), count(JobStatus::Repaired));
    for r in reports {
        if let Some((aside, why)) = &r.outcome.set_aside {
            out.push_str(&format!(
                "repaired {}: the stored copy was damaged ({why}); it is kept in {}\n",
                r.outcome.dir.display(),
                aside.display()
            ));
        }
    }
    let repaired_note = if repaired > 0 {
        format!("{repaired} repaired, ")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{} jobs: {computed} computed, {repaired_note}{} cached, in {:.1} s; outputs under {}/\n",
        reports.len(),
        reports.len() - computed - repaired,
        elapsed.elapsed().as_secs_f64(),
        store.root().display()
    ));
    out
}
