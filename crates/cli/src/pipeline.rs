//! The pipeline runner: expands a pipeline file into stage jobs, orders them by dependency, and
//! runs what is not cached, independent jobs in parallel.
//!
//! Jobs run on one rayon pool of `--jobs` threads. A stage that parallelises inside a job uses
//! the same pool (rayon's work stealing), so the machine's cores are never oversubscribed.

use crate::progress;
use glh_artifacts::config::{
    DataSettings, GraphonsSettings, MasksSettings, NtkSettings, Pipeline, PruneMethod, Scope,
    TrainingSettings,
};
use glh_artifacts::store::{InputRef, JobStatus};
use glh_artifacts::{ArtifactStore, Error, JobOutcome, JobSpec, Result};
use glh_graphons::stage::GroupMember;
use glh_masks::stage::MaskPoint;
use rayon::prelude::*;
use std::time::Instant;

/// What one job computes.
#[derive(Clone, Debug)]
pub enum JobKind {
    /// The data stage's subsets of one seed.
    DataSubsets {
        /// The data settings of the pipeline.
        settings: DataSettings,
        /// The run seed.
        seed: u64,
    },
    /// The masks of one sweep point.
    Masks {
        /// The masks settings of the pipeline.
        settings: MasksSettings,
        /// The data settings (scoring batch of SNIP and GraSP).
        data: DataSettings,
        /// The sweep point.
        point: MaskPoint,
    },
    /// The histograms and degree profiles of one masks run.
    Graphons {
        /// The graphons settings of the pipeline.
        settings: GraphonsSettings,
        /// The masks run.
        masks: glh_artifacts::store::InputRef,
        /// Its sweep point.
        point: MaskPoint,
        /// Its ranking scope.
        scope: Scope,
    },
    /// The convergence table of one (method, depth, sparsity) over widths and seeds.
    Convergence {
        /// The graphons settings of the pipeline.
        settings: GraphonsSettings,
        /// The histogram runs of the group.
        members: Vec<GroupMember>,
        /// A point of the group (method, depth, sparsity).
        point: MaskPoint,
        /// The ranking scope.
        scope: Scope,
    },
    /// Training of one masks run's network.
    Training {
        /// The training settings of the pipeline.
        settings: TrainingSettings,
        /// The data settings (normalisation, MNIST directory).
        data: DataSettings,
        /// The masks run.
        masks: glh_artifacts::store::InputRef,
        /// Its sweep point.
        point: MaskPoint,
        /// Its ranking scope.
        scope: Scope,
    },
    /// The kernels, spectra and metrics of one masks run.
    Ntk {
        /// The ntk settings of the pipeline.
        settings: NtkSettings,
        /// The data settings (kernel subset).
        data: DataSettings,
        /// The masks run.
        masks: glh_artifacts::store::InputRef,
        /// Its sweep point.
        point: MaskPoint,
        /// Its ranking scope.
        scope: Scope,
    },
}

/// One job of a plan.
#[derive(Clone, Debug)]
pub struct PlannedJob {
    /// What it computes.
    pub kind: JobKind,
    /// Its stage run (and so its cache key).
    pub spec: JobSpec,
    /// A short human label, `seed=0` for instance.
    pub label: String,
    /// Indices (in the plan) of the jobs whose artifacts it reads.
    pub depends_on: Vec<usize>,
}

/// Expands a pipeline into jobs, in an order where every job comes after its dependencies.
pub fn plan(pipeline: &Pipeline) -> Result<Vec<PlannedJob>> {
    let sweep = &pipeline.sweep;
    let data = pipeline.data.clone().unwrap_or_default();
    let masks_need_data = pipeline.masks.is_some()
        && sweep
            .methods
            .iter()
            .any(|m| matches!(m, PruneMethod::Snip | PruneMethod::Grasp));
    let mut jobs = Vec::new();
    let mut data_job = std::collections::BTreeMap::new();
    let ntk_needs_data = pipeline.ntk.is_some() && pipeline.masks.is_some();
    if pipeline.data.is_some() || masks_need_data || ntk_needs_data {
        for &seed in &sweep.seeds {
            data_job.insert(seed, jobs.len());
            jobs.push(PlannedJob {
                spec: glh_data::stage::job_spec(&data, seed)?,
                kind: JobKind::DataSubsets {
                    settings: data.clone(),
                    seed,
                },
                label: format!("seed={seed}"),
                depends_on: vec![],
            });
        }
    }
    if let Some(settings) = &pipeline.masks {
        for &method in &sweep.methods {
            for &depth in &sweep.depths {
                for &width in &sweep.widths {
                    for &sparsity in &sweep.sparsities {
                        for &seed in &sweep.seeds {
                            let point = MaskPoint {
                                method,
                                width,
                                sparsity,
                                depth,
                                seed,
                            };
                            let spec = glh_masks::stage::job_spec(settings, &data, &point)?;
                            let depends_on = if spec.inputs.is_empty() {
                                vec![]
                            } else {
                                vec![data_job[&seed]]
                            };
                            jobs.push(PlannedJob {
                                spec,
                                kind: JobKind::Masks {
                                    settings: settings.clone(),
                                    data: data.clone(),
                                    point,
                                },
                                label: format!(
                                    "{method} L={depth} n={width} s={} seed={seed}",
                                    sparsity.value()
                                ),
                                depends_on,
                            });
                        }
                    }
                }
            }
        }
    }
    if let (Some(graphons), Some(masks)) = (&pipeline.graphons, &pipeline.masks) {
        plan_graphons(&mut jobs, graphons, masks.scope);
    }
    if let (Some(ntk), Some(masks)) = (&pipeline.ntk, &pipeline.masks) {
        plan_ntk(&mut jobs, ntk, &data, masks.scope, &data_job)?;
    }
    if let (Some(training), Some(masks)) = (&pipeline.training, &pipeline.masks) {
        plan_training(&mut jobs, training, &data, masks.scope)?;
    }
    Ok(jobs)
}

/// The masks jobs of a plan, with their sweep points.
fn masks_jobs(jobs: &[PlannedJob]) -> Vec<(usize, MaskPoint)> {
    jobs.iter()
        .enumerate()
        .filter_map(|(i, j)| match &j.kind {
            JobKind::Masks { point, .. } => Some((i, *point)),
            _ => None,
        })
        .collect()
}

/// Adds one job per masks job: `make` turns the masks run and its sweep point into the job's
/// spec, kind and the plan indices it reads besides that masks job; labels are
/// `<prefix> <masks label>`.
fn add_per_masks_job(
    jobs: &mut Vec<PlannedJob>,
    prefix: &str,
    mut make: impl FnMut(InputRef, MaskPoint) -> Result<(JobSpec, JobKind, Vec<usize>)>,
) -> Result<()> {
    for (i, point) in masks_jobs(jobs) {
        let (spec, kind, also_reads) = make(jobs[i].spec.as_input(), point)?;
        let label = format!("{prefix} {}", jobs[i].label);
        let mut depends_on = vec![i];
        depends_on.extend(also_reads);
        jobs.push(PlannedJob {
            spec,
            kind,
            label,
            depends_on,
        });
    }
    Ok(())
}

/// Adds a training job per masks job.
fn plan_training(
    jobs: &mut Vec<PlannedJob>,
    settings: &TrainingSettings,
    data: &DataSettings,
    scope: Scope,
) -> Result<()> {
    add_per_masks_job(jobs, "train", |masks, point| {
        let spec = glh_training::stage::job_spec(settings, data, masks.clone())?;
        let kind = JobKind::Training {
            settings: settings.clone(),
            data: data.clone(),
            masks,
            point,
            scope,
        };
        Ok((spec, kind, vec![]))
    })
}

/// Adds a kernel job per masks job; it reads the masks run and the data run of its seed.
fn plan_ntk(
    jobs: &mut Vec<PlannedJob>,
    settings: &NtkSettings,
    data: &DataSettings,
    scope: Scope,
    data_job: &std::collections::BTreeMap<u64, usize>,
) -> Result<()> {
    add_per_masks_job(jobs, "kernels", |masks, point| {
        let spec = glh_ntk::stage::job_spec(settings, data, masks.clone(), point.seed)?;
        let kind = JobKind::Ntk {
            settings: settings.clone(),
            data: data.clone(),
            masks,
            point,
            scope,
        };
        Ok((spec, kind, vec![data_job[&point.seed]]))
    })
}

/// Adds a histogram job per masks job and a convergence job per (method, depth, sparsity).
fn plan_graphons(jobs: &mut Vec<PlannedJob>, settings: &GraphonsSettings, scope: Scope) {
    type GroupKey = (PruneMethod, u32, u64);
    let mut groups: std::collections::BTreeMap<GroupKey, Vec<(usize, GroupMember)>> =
        Default::default();
    let mut group_points = std::collections::BTreeMap::new();
    for (i, point) in masks_jobs(jobs) {
        let masks = jobs[i].spec.as_input();
        let spec = glh_graphons::stage::job_spec(settings, masks.clone());
        let member = GroupMember {
            histograms: spec.as_input(),
            width: point.width.get(),
            seed: point.seed,
        };
        let label = format!("histograms {}", jobs[i].label);
        jobs.push(PlannedJob {
            spec,
            kind: JobKind::Graphons {
                settings: settings.clone(),
                masks,
                point,
                scope,
            },
            label,
            depends_on: vec![i],
        });
        let key = (
            point.method,
            point.depth.get(),
            point.sparsity.value().to_bits(),
        );
        groups
            .entry(key)
            .or_default()
            .push((jobs.len() - 1, member));
        group_points.insert(key, point);
    }
    for (key, members) in groups {
        let point = group_points[&key];
        let (depends_on, members): (Vec<usize>, Vec<GroupMember>) = members.into_iter().unzip();
        jobs.push(PlannedJob {
            spec: glh_graphons::stage::convergence_spec(settings, &members),
            label: format!(
                "{} L={} s={}",
                point.method,
                point.depth,
                point.sparsity.value()
            ),
            kind: JobKind::Convergence {
                settings: settings.clone(),
                members,
                point,
                scope,
            },
            depends_on,
        });
    }
}

/// How to execute a plan.
#[derive(Clone, Copy, Debug)]
pub struct ExecOptions {
    /// Recompute complete artifacts.
    pub force: bool,
    /// Threads of the job pool.
    pub jobs: usize,
    /// Hide progress bars.
    pub quiet: bool,
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

/// Runs `plan` level by level (a job's level is one more than its deepest dependency's).
pub fn execute(
    store: &ArtifactStore,
    plan: &[PlannedJob],
    options: ExecOptions,
) -> Result<Vec<JobReport>> {
    let pool = job_pool(options.jobs)?;
    let levels = levels(plan);
    let multi = progress::multi(options.quiet);
    let bar = multi.add(progress::bar(plan.len() as u64, "jobs", options.quiet));
    let mut reports: Vec<Option<JobReport>> = vec![None; plan.len()];
    for level in levels {
        let results: Vec<(usize, Result<JobOutcome>)> = pool.install(|| {
            level
                .par_iter()
                .map(|&i| {
                    let job = &plan[i];
                    bar.set_message(format!("{} {}", job.spec.stage, job.label));
                    let result = run_job(store, job, options.force, &multi);
                    bar.inc(1);
                    (i, result)
                })
                .collect()
        });
        for (i, result) in results {
            let outcome = result.inspect_err(|_| bar.abandon())?;
            reports[i] = Some(JobReport {
                stage: plan[i].spec.stage,
                label: plan[i].label.clone(),
                outcome,
            });
        }
    }
    bar.finish_and_clear();
    Ok(reports
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect())
}

/// Runs the one job `plan[index]` on a pool of `threads` threads, after checking that every
/// artifact it reads is complete: what a Slurm array task does (`glh job`).
pub fn execute_one(
    store: &ArtifactStore,
    plan: &[PlannedJob],
    index: usize,
    options: ExecOptions,
) -> Result<JobOutcome> {
    let job = &plan[index];
    // Under Slurm an input was published by another node moments ago, and a network
    // filesystem may cache "not found" for up to its attribute timeout (NFS: 60 s): wait for it.
    let patience = if std::env::var_os("SLURM_JOB_ID").is_some() {
        std::time::Duration::from_secs(90)
    } else {
        std::time::Duration::ZERO
    };
    for &d in &job.depends_on {
        let input = &plan[d];
        let waited = Instant::now();
        while store.find(input.spec.stage, &input.spec.key())?.is_none() {
            if waited.elapsed() >= patience {
                return Err(Error::Unsupported(format!(
                    "{}/{} ({}), an input of this job, is not complete: the job that makes it \
                     failed or has not run",
                    input.spec.stage,
                    input.spec.key(),
                    input.label
                )));
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    }
    let pool = job_pool(options.jobs)?;
    let multi = progress::multi(options.quiet);
    pool.install(|| run_job(store, job, options.force, &multi))
}

/// The pool jobs run on; stages that parallelise inside a job share its threads.
fn job_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("glh-job-{i}"))
        .build()
        .map_err(|e| Error::Unsupported(format!("cannot start the job pool: {e}")))
}

/// Runs one job; an iterative pruning job shows its rounds on a bar of its own under the
/// jobs bar while it runs.
fn run_job(
    store: &ArtifactStore,
    job: &PlannedJob,
    force: bool,
    multi: &indicatif::MultiProgress,
) -> Result<JobOutcome> {
    match &job.kind {
        JobKind::DataSubsets { settings, seed } => {
            glh_data::stage::run(store, settings, *seed, force)
        }
        JobKind::Masks {
            settings,
            data,
            point,
        } => {
            let mut bar = progress::JobBar::new(multi, &job.label, "rounds");
            glh_masks::stage::run(store, settings, data, point, force, &mut |e, rounds, _| {
                if rounds > 1 {
                    bar.set(e, rounds);
                }
            })
        }
        JobKind::Graphons {
            settings,
            masks,
            point,
            scope,
        } => glh_graphons::stage::run(store, settings, masks.clone(), point, *scope, force),
        JobKind::Convergence {
            settings,
            members,
            point,
            scope,
        } => glh_graphons::stage::run_convergence(store, settings, members, point, *scope, force),
        JobKind::Training {
            settings,
            data,
            masks,
            point,
            scope,
        } => {
            let mut bar = progress::JobBar::new(multi, &job.label, "steps");
            glh_training::stage::run(
                store,
                settings,
                data,
                masks.clone(),
                point,
                *scope,
                force,
                &mut |done, total| bar.set(done, total),
            )
        }
        JobKind::Ntk {
            settings,
            data,
            masks,
            point,
            scope,
        } => glh_ntk::stage::run(store, settings, data, masks.clone(), point, *scope, force),
    }
}

/// Groups job indices into levels that can run in parallel.
fn levels(plan: &[PlannedJob]) -> Vec<Vec<usize>> {
    let mut depth = vec![0usize; plan.len()];
    for (i, job) in plan.iter().enumerate() {
        depth[i] = job
            .depends_on
            .iter()
            .map(|&d| depth[d] + 1)
            .max()
            .unwrap_or(0);
    }
    let max = depth.iter().copied().max().map_or(0, |d| d + 1);
    (0..max)
        .map(|level| (0..plan.len()).filter(|&i| depth[i] == level).collect())
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
    let computed = reports
        .iter()
        .filter(|r| r.outcome.status == JobStatus::Computed)
        .count();
    out.push_str(&format!(
        "{} jobs: {computed} computed, {} cached, in {:.1} s; outputs under {}/\n",
        reports.len(),
        reports.len() - computed,
        elapsed.elapsed().as_secs_f64(),
        store.root().display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(depends_on: Vec<usize>) -> PlannedJob {
        PlannedJob {
            kind: JobKind::DataSubsets {
                settings: DataSettings::default(),
                seed: 0,
            },
            spec: JobSpec::new("t", 1, &json!({}), Vec::<InputRef>::new()),
            label: String::new(),
            depends_on,
        }
    }

    #[test]
    fn levels_follow_dependencies() {
        let plan = vec![
            job(vec![]),
            job(vec![0]),
            job(vec![]),
            job(vec![1, 2]),
            job(vec![0]),
        ];
        assert_eq!(levels(&plan), vec![vec![0, 2], vec![1, 4], vec![3]]);
        assert!(levels(&[]).is_empty());
    }
}
