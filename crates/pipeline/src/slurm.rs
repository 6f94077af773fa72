//! The Slurm executor: the plan's jobs that are not cached, as Slurm job arrays.
//!
//! The pending jobs are cut into levels (a job's level is one more than that of the deepest
//! pending job it reads), and each level into one array per stage (split further at the
//! cluster's array limit). Every array task runs exactly one job with `glh job`, against the same
//! artifact root; an array waits for the arrays holding its jobs' inputs with
//! `--dependency=afterok`, and `--kill-on-invalid-dep=yes` cancels it when one of them fails.
//! Nothing is scheduled by us: Slurm orders, places and retries; the artifact store's atomic
//! publish makes concurrent tasks safe, and the cache makes a resubmission run only what is
//! missing.

use crate::cluster::{SlurmResources, SlurmSettings};
use crate::pipeline::Pipeline;
use crate::progress::Progress;
use crate::sweeps::{self, ArrayRecord, Queue, SweepRecord, TaskRecord, TaskState};
use glh_artifacts::store::{RunState, Verify};
use glh_artifacts::{ArtifactStore, Error, Plan, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How to submit.
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// Resources and limits: the pipeline's `[slurm]` table with the flags applied.
    pub settings: SlurmSettings,
    /// The `glh` binary the tasks run (it must be visible from the compute nodes).
    pub glh: PathBuf,
    /// Write the scripts, do not submit.
    pub dry_run: bool,
    /// Recompute complete jobs too (every task gets `--force`).
    pub force: bool,
}

/// One array before submission: plan indices of its jobs and the arrays it waits for.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayPlan {
    /// `<level>-<stage>[.<part>]`.
    pub name: String,
    /// Its level.
    pub level: usize,
    /// Its stage.
    pub stage: &'static str,
    /// Indices into the plan.
    pub jobs: Vec<usize>,
    /// Indices of earlier arrays that hold an input of one of its jobs.
    pub depends_on: Vec<usize>,
}

/// Groups the pending jobs (`pending[i]`) of `plan` into arrays, in an order where every array
/// comes after those it waits for. Inputs that are not pending are complete and impose nothing.
pub fn arrays(plan: &Plan, pending: &[bool], array_limit: usize) -> Vec<ArrayPlan> {
    let level = plan.levels(|d| pending[d]);
    let mut arrays: Vec<ArrayPlan> = Vec::new();
    let mut array_of = vec![usize::MAX; plan.len()];
    let max_level = (0..plan.len())
        .filter(|&i| pending[i])
        .map(|i| level[i])
        .max();
    for l in 0..max_level.map_or(0, |m| m + 1) {
        // Stages in plan order, so that arrays come out data, masks, graphons, ...
        let mut stages: Vec<&'static str> = Vec::new();
        for i in (0..plan.len()).filter(|&i| pending[i] && level[i] == l) {
            if !stages.contains(&plan[i].stage()) {
                stages.push(plan[i].stage());
            }
        }
        for stage in stages {
            let jobs: Vec<usize> = (0..plan.len())
                .filter(|&i| pending[i] && level[i] == l && plan[i].stage() == stage)
                .collect();
            let parts = jobs.chunks(array_limit.max(1)).count();
            for (part, chunk) in jobs.chunks(array_limit.max(1)).enumerate() {
                let name = if parts == 1 {
                    format!("{l}-{stage}")
                } else {
                    format!("{l}-{stage}.{part}")
                };
                let mut depends_on: Vec<usize> = chunk
                    .iter()
                    .flat_map(|&i| plan[i].depends_on.iter())
                    .filter(|&&d| pending[d])
                    .map(|&d| array_of[d])
                    .collect();
                depends_on.sort_unstable();
                depends_on.dedup();
                for &i in chunk {
                    array_of[i] = arrays.len();
                }
                arrays.push(ArrayPlan {
                    name,
                    level: l,
                    stage,
                    jobs: chunk.to_vec(),
                    depends_on,
                });
            }
        }
    }
    arrays
}

/// Everything an array's script needs to know beyond its tasks.
pub struct ScriptContext<'a> {
    /// The sweep's id (in job names and comments).
    pub sweep_id: &'a str,
    /// The sweep directory (absolute): logs and the frozen pipeline live there.
    pub sweep_dir: &'a Path,
    /// The artifact root (absolute).
    pub root: &'a Path,
    /// The directory relative paths of the pipeline resolve against (absolute).
    pub workdir: &'a Path,
    /// The `glh` binary.
    pub glh: &'a Path,
    /// Pass `--force` to every task.
    pub force: bool,
    /// `%N` of `--array`.
    pub max_parallel: Option<u32>,
}

/// The `sbatch` script of one array: its resources as `#SBATCH` lines, its jobs as a bash
/// array, and one `glh job` call for the task's entry.
pub fn render_script(
    ctx: &ScriptContext,
    array: &ArrayRecord,
    resources: &SlurmResources,
) -> String {
    let n = array.tasks.len();
    let throttle = ctx
        .max_parallel
        .map(|m| format!("%{m}"))
        .unwrap_or_default();
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# graphon-lab sweep {}: array {} ({} `{}` job{}, level {}).\n",
        ctx.sweep_id,
        array.name,
        n,
        array.stage,
        if n == 1 { "" } else { "s" },
        array.level
    ));
    s.push_str(
        "# Task i runs job i of the list below with `glh job`. A job publishes its artifact\n\
         # atomically, so a failed or cancelled task leaves nothing that looks complete, and a\n\
         # resubmission (`glh run ... --executor slurm` again) submits only what is missing.\n",
    );
    let mut directive = |d: String| s.push_str(&format!("#SBATCH {d}\n"));
    directive(format!("--job-name=glh-{}-{}", ctx.sweep_id, array.name));
    directive(format!("--array=0-{}{throttle}", n - 1));
    let logs = ctx
        .sweep_dir
        .join("logs")
        .join(format!("{}.%a.log", array.name));
    directive(format!("--output={}", directive_path(&logs)));
    directive(format!("--chdir={}", directive_path(ctx.workdir)));
    directive("--ntasks=1".to_string());
    if let Some(p) = &resources.partition {
        directive(format!("--partition={p}"));
    }
    if let Some(t) = &resources.time {
        directive(format!("--time={t}"));
    }
    if let Some(m) = &resources.mem {
        directive(format!("--mem={m}"));
    }
    if let Some(c) = resources.cpus_per_task {
        directive(format!("--cpus-per-task={c}"));
    }
    for arg in &resources.sbatch_args {
        directive(arg.clone());
    }
    s.push_str("\nset -euo pipefail\n\njobs=(\n");
    for (i, task) in array.tasks.iter().enumerate() {
        s.push_str(&format!("  {}  # {i}: {}\n", task.id(), task.label));
    }
    s.push_str(")\n\n");
    s.push_str(&format!(
        "exec {} --artifacts {} job {} \\\n  --job \"${{jobs[$SLURM_ARRAY_TASK_ID]}}\" \
         --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"{}\n",
        shell_quote(&ctx.glh.display().to_string()),
        shell_quote(&ctx.root.display().to_string()),
        shell_quote(&ctx.sweep_dir.join("pipeline.toml").display().to_string()),
        if ctx.force { " --force" } else { "" }
    ));
    s
}

/// `submit.sh`: the `sbatch` calls of the sweep, for submitting a dry run by hand.
pub fn render_submit_script(sweep_id: &str, arrays: &[ArrayRecord]) -> String {
    let mut s = format!(
        "#!/usr/bin/env bash\n# Submits sweep {sweep_id}: what `glh run --executor slurm` does \
         without --dry-run\n# (it also records the job ids, so that `glh ls` can follow the \
         sweep).\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n"
    );
    for (i, array) in arrays.iter().enumerate() {
        let deps: Vec<String> = array
            .depends_on
            .iter()
            .map(|d| format!("${{a{d}%%;*}}"))
            .collect();
        let dependency = if deps.is_empty() {
            String::new()
        } else {
            format!(" --dependency=afterok:{}", deps.join(":"))
        };
        s.push_str(&format!(
            "a{i}=$(sbatch --parsable --kill-on-invalid-dep=yes{dependency} {})\n",
            array.script
        ));
    }
    s.push_str("echo \"submitted: ");
    let ids: Vec<String> = (0..arrays.len())
        .map(|i| format!("${{a{i}%%;*}}"))
        .collect();
    s.push_str(&ids.join(" "));
    s.push_str("\"\n");
    s
}

/// Refuses a path the generated scripts could not hold safely: a control character (a newline
/// would end an `#SBATCH` line and start a shell command) or a double quote (it would end the
/// quoted `#SBATCH` value). Everything else is quoted where it is written.
fn check_script_path(field: &str, path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if let Some(c) = text.chars().find(|&c| c.is_control() || c == '"') {
        return Err(Error::config(
            "command line",
            field,
            format!(
                "the path {text:?} holds {c:?}, which the Slurm scripts cannot quote; use a \
                 path without control characters or double quotes"
            ),
        ));
    }
    Ok(())
}

/// A path as an `#SBATCH` value: double-quoted when it holds blanks (sbatch splits on them).
fn directive_path(path: &Path) -> String {
    let s = path.display().to_string();
    if s.contains(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// Quotes `s` for bash when it needs it.
fn shell_quote(s: &str) -> String {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b));
    if plain && !s.is_empty() {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Plans `pipeline` onto Slurm: writes the sweep directory, and unless `dry_run` submits its
/// arrays ([`wait_for`] follows them to the end). Returns the sweep's directory and record.
pub fn submit(
    store: &ArtifactStore,
    pipeline: &Pipeline,
    source: &Path,
    plan: &Plan,
    options: &SlurmOptions,
) -> Result<(PathBuf, SweepRecord)> {
    let pending: Vec<bool> = plan
        .jobs()
        .iter()
        .map(|job| -> Result<bool> {
            // A damaged run is submitted too: its task sets it aside and computes it again.
            let state = store.state(job.stage(), &job.key(), Verify::Hashes)?;
            Ok(options.force || !matches!(state, RunState::Complete(_)))
        })
        .collect::<Result<_>>()?;
    let task = |i: usize| TaskRecord {
        stage: plan[i].stage().to_string(),
        key: plan[i].key(),
        label: plan[i].label.clone(),
    };
    let planned = arrays(plan, &pending, options.settings.array_limit as usize);
    let record_arrays: Vec<ArrayRecord> = planned
        .iter()
        .map(|a| ArrayRecord {
            name: a.name.clone(),
            level: a.level,
            stage: a.stage.to_string(),
            script: format!("{}.sbatch", a.name),
            depends_on: a.depends_on.clone(),
            slurm_job_id: None,
            tasks: a.jobs.iter().map(|&i| task(i)).collect(),
        })
        .collect();
    let cached: Vec<TaskRecord> = (0..plan.len()).filter(|&i| !pending[i]).map(task).collect();

    let workdir = std::env::current_dir().map_err(|e| Error::output(".", e))?;
    for (field, path) in [
        ("--artifacts", store.root()),
        ("the working directory", workdir.as_path()),
        ("--glh-bin", options.glh.as_path()),
    ] {
        check_script_path(field, path)?;
    }
    fs::create_dir_all(store.root()).map_err(|e| Error::output(store.root(), e))?;
    let root = absolute(store.root())?;
    let created = std::time::SystemTime::now();
    let created_at = humantime::format_rfc3339_seconds(created).to_string();
    let stamp: String = created_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let sweeps_dir = root.join(sweeps::SWEEPS_DIR);
    fs::create_dir_all(&sweeps_dir).map_err(|e| Error::output(&sweeps_dir, e))?;
    let (id, dir) = fresh_sweep_dir(&sweeps_dir, &format!("{}-{stamp}", pipeline.name))?;
    let mut record = SweepRecord {
        id: id.clone(),
        pipeline: pipeline.name.clone(),
        source: source.to_path_buf(),
        created_at,
        submitted: false,
        arrays: record_arrays,
        cached,
    };
    let written = write_sweep(&dir, &root, &workdir, pipeline, plan, &record, options);
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&dir);
        return Err(e);
    }
    if options.dry_run || record.arrays.is_empty() {
        return Ok((dir, record));
    }
    if let Err(e) = submit_arrays(&dir, &mut record) {
        let submitted: Vec<String> = record
            .arrays
            .iter()
            .filter_map(|a| a.slurm_job_id.clone())
            .collect();
        if !submitted.is_empty() {
            let _ = Command::new("scancel").args(&submitted).status();
        }
        let _ = fs::remove_dir_all(&dir);
        let cancelled = if submitted.is_empty() {
            String::new()
        } else {
            format!(
                " (cancelled the arrays already submitted: {})",
                submitted.join(" ")
            )
        };
        return Err(Error::Unsupported(format!("{e}{cancelled}")));
    }
    Ok((dir, record))
}

/// A new directory `<base>` (or `<base>-2`, ...) under `sweeps_dir`; returns its name and path.
fn fresh_sweep_dir(sweeps_dir: &Path, base: &str) -> Result<(String, PathBuf)> {
    for n in 1.. {
        let id = if n == 1 {
            base.to_string()
        } else {
            format!("{base}-{n}")
        };
        let dir = sweeps_dir.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::output(&dir, e)),
        }
    }
    unreachable!("some suffix is free")
}

/// Writes the frozen pipeline, the scripts, `submit.sh`, `logs/` and `sweep.json`.
fn write_sweep(
    dir: &Path,
    root: &Path,
    workdir: &Path,
    pipeline: &Pipeline,
    plan: &Plan,
    record: &SweepRecord,
    options: &SlurmOptions,
) -> Result<()> {
    // The tasks re-plan from this copy, so a later edit of the original file cannot change
    // what a queued task runs; it must plan to exactly the same jobs.
    let frozen = toml::to_string(pipeline)
        .map_err(|e| Error::Unsupported(format!("cannot write the pipeline as TOML: {e}")))?;
    let frozen = format!(
        "# The pipeline of sweep {} as submitted (from {}); its tasks read this copy.\n{frozen}",
        record.id,
        record.source.display()
    );
    let frozen_path = dir.join("pipeline.toml");
    fs::write(&frozen_path, &frozen).map_err(|e| Error::output(&frozen_path, e))?;
    let replanned = crate::plan(&Pipeline::from_file(&frozen_path)?)?;
    let keys = |p: &Plan| p.jobs().iter().map(|j| j.key()).collect::<Vec<_>>();
    if keys(&replanned) != keys(plan) {
        return Err(Error::Unsupported(format!(
            "{}: the frozen pipeline plans other jobs than the original (a bug)",
            frozen_path.display()
        )));
    }
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).map_err(|e| Error::output(&logs, e))?;
    let glh = absolute(&options.glh)?;
    let ctx = ScriptContext {
        sweep_id: &record.id,
        sweep_dir: dir,
        root,
        workdir,
        glh: &glh,
        force: options.force,
        max_parallel: options.settings.max_parallel,
    };
    for array in &record.arrays {
        let script = render_script(&ctx, array, &options.settings.resources(&array.stage));
        let path = dir.join(&array.script);
        fs::write(&path, script).map_err(|e| Error::output(&path, e))?;
    }
    let submit = dir.join("submit.sh");
    fs::write(&submit, render_submit_script(&record.id, &record.arrays))
        .map_err(|e| Error::output(&submit, e))?;
    record.write(dir)
}

/// Submits the arrays in order, recording each job id as it comes.
fn submit_arrays(dir: &Path, record: &mut SweepRecord) -> Result<()> {
    for i in 0..record.arrays.len() {
        let deps: Vec<String> = record.arrays[i]
            .depends_on
            .iter()
            .map(|&d| {
                record.arrays[d]
                    .slurm_job_id
                    .clone()
                    .expect("submitted in order")
            })
            .collect();
        let mut cmd = Command::new("sbatch");
        cmd.current_dir(dir)
            .args(["--parsable", "--kill-on-invalid-dep=yes"]);
        if !deps.is_empty() {
            cmd.arg(format!("--dependency=afterok:{}", deps.join(":")));
        }
        cmd.arg(&record.arrays[i].script);
        let out = cmd.output().map_err(|e| {
            Error::Unsupported(format!(
                "cannot run sbatch ({e}): is this a Slurm login node? (--dry-run writes the \
                 scripts without submitting)"
            ))
        })?;
        if !out.status.success() {
            return Err(Error::Unsupported(format!(
                "sbatch {}: {}",
                dir.join(&record.arrays[i].script).display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let id = stdout.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Unsupported(format!(
                "sbatch {}: unexpected answer `{}`",
                record.arrays[i].script,
                stdout.trim()
            )));
        }
        record.arrays[i].slurm_job_id = Some(id);
        record.submitted = true;
        record.write(dir)?;
    }
    Ok(())
}

/// Follows a submitted sweep until none of its jobs is queued or running, reporting each poll
/// to `progress`; an error if any failed. Returns the seconds it followed the sweep.
pub fn wait_for(
    store: &ArtifactStore,
    dir: &Path,
    record: &SweepRecord,
    progress: &dyn Progress,
) -> Result<f64> {
    let total: usize = record.arrays.iter().map(|a| a.tasks.len()).sum();
    progress.started(total);
    let started = Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        let queue = Queue::read();
        if let Queue::Unavailable(why) = &queue {
            progress.finished(false);
            return Err(Error::Unsupported(why.clone()));
        }
        let states = sweeps::task_states(store, dir, record, &queue)?;
        let count = |w: &str| states.iter().filter(|(_, s)| s.word() == w).count();
        let status = format!(
            "{} running, {} pending, {} failed",
            count("running"),
            count("pending"),
            count("failed")
        );
        progress.sweep_polled(count("done"), &status);
        if count("running") + count("pending") == 0 {
            let failed: Vec<String> = states
                .iter()
                .filter_map(|(t, s)| match s {
                    TaskState::Failed { log, .. } => {
                        Some(format!("{} ({})", t.id(), log.display()))
                    }
                    _ => None,
                })
                .collect();
            progress.finished(failed.is_empty());
            if !failed.is_empty() {
                return Err(Error::Unsupported(format!(
                    "sweep {}: {} of {total} jobs failed or were cancelled, first {}; \
                     `glh ls` lists them, and the same `glh run` resubmits only those",
                    record.id,
                    failed.len(),
                    failed[0]
                )));
            }
            return Ok(started.elapsed().as_secs_f64());
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// `path` made absolute against the current directory (it need not exist).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::output(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::JobSpec;
    use glh_artifacts::store::InputRef;
    use serde_json::json;

    /// A job that only has a key.
    #[derive(Debug)]
    struct Keyed(JobSpec);

    impl glh_artifacts::Job for Keyed {
        fn spec(&self) -> &JobSpec {
            &self.0
        }
        fn run(
            &self,
            _: &ArtifactStore,
            _: bool,
            _: &mut dyn FnMut(usize, usize),
        ) -> Result<glh_artifacts::JobOutcome> {
            unreachable!("never run here")
        }
    }

    fn jobs(list: &[(&'static str, u64, Vec<usize>)]) -> Plan {
        let mut plan = Plan::new();
        for (stage, n, depends_on) in list {
            let spec = JobSpec::new(stage, 1, &json!({ "n": n }), Vec::<InputRef>::new());
            plan.push(Keyed(spec), format!("{stage} {n}"), depends_on.clone());
        }
        plan
    }

    /// data 0, 1; masks 2 (after 0), 3, 4 (after 1); graphons 5 (after 2), 6 (after 4);
    /// convergence 7 (after 5, 6).
    fn plan() -> Plan {
        jobs(&[
            ("data", 0, vec![]),
            ("data", 1, vec![]),
            ("masks", 2, vec![0]),
            ("masks", 3, vec![]),
            ("masks", 4, vec![1]),
            ("graphons", 5, vec![2]),
            ("graphons", 6, vec![4]),
            ("convergence", 7, vec![5, 6]),
        ])
    }

    #[test]
    fn arrays_follow_levels_and_stages() {
        let plan = plan();
        let a = arrays(&plan, &[true; 8], 1000);
        let names: Vec<&str> = a.iter().map(|a| a.name.as_str()).collect();
        // masks 3 reads nothing, so it runs at level 0 beside the data jobs.
        assert_eq!(
            names,
            [
                "0-data",
                "0-masks",
                "1-masks",
                "2-graphons",
                "3-convergence"
            ]
        );
        assert_eq!(a[1].jobs, [3]);
        assert_eq!(a[2].jobs, [2, 4]);
        assert_eq!(a[2].depends_on, [0]);
        assert_eq!(a[3].depends_on, [2]);
        assert_eq!(a[4].depends_on, [3]);
    }

    #[test]
    fn complete_jobs_are_left_out_and_impose_nothing() {
        let plan = plan();
        // The data jobs and masks 2 are complete: masks 4 runs first, graphons 5 at once.
        let pending = [false, false, false, true, true, true, true, true];
        let a = arrays(&plan, &pending, 1000);
        let summary: Vec<(String, Vec<usize>, Vec<usize>)> = a
            .iter()
            .map(|a| (a.name.clone(), a.jobs.clone(), a.depends_on.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("0-masks".to_string(), vec![3, 4], vec![]),
                ("0-graphons".to_string(), vec![5], vec![]),
                ("1-graphons".to_string(), vec![6], vec![0]),
                ("2-convergence".to_string(), vec![7], vec![1, 2]),
            ]
        );
        assert!(arrays(&plan, &[false; 8], 1000).is_empty());
    }

    #[test]
    fn big_levels_are_split_at_the_array_limit() {
        let plan = plan();
        let a = arrays(&plan, &[true; 8], 1);
        let names: Vec<&str> = a.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "0-data.0",
                "0-data.1",
                "0-masks",
                "1-masks.0",
                "1-masks.1",
                "2-graphons.0",
                "2-graphons.1",
                "3-convergence"
            ]
        );
        assert_eq!(a[3].depends_on, [0]);
        assert_eq!(a[4].depends_on, [1]);
        assert_eq!(a[7].depends_on, [5, 6]);
        for array in &a {
            assert_eq!(array.jobs.len(), 1);
        }
    }

    #[test]
    fn scripts_carry_resources_and_jobs() {
        let tasks = vec![
            TaskRecord {
                stage: "masks".into(),
                key: glh_artifacts::ArtifactKey::parse("0123456789abcdef").unwrap(),
                label: "random L=4 n=100 s=0.8 seed=0".into(),
            };
            3
        ];
        let array = ArrayRecord {
            name: "1-masks".into(),
            level: 1,
            stage: "masks".into(),
            script: "1-masks.sbatch".into(),
            depends_on: vec![0],
            slurm_job_id: None,
            tasks,
        };
        let ctx = ScriptContext {
            sweep_id: "e1-x",
            sweep_dir: Path::new("/shared/a/.sweeps/e1-x"),
            root: Path::new("/shared/a"),
            workdir: Path::new("/home/me/graphon lab"),
            glh: Path::new("/opt/glh/bin/glh"),
            force: false,
            max_parallel: Some(50),
        };
        let resources = SlurmResources {
            partition: Some("cpu".into()),
            time: Some("00:30:00".into()),
            mem: Some("4G".into()),
            cpus_per_task: Some(2),
            sbatch_args: vec!["--account=lab".into()],
        };
        let s = render_script(&ctx, &array, &resources);
        for line in [
            "#SBATCH --job-name=glh-e1-x-1-masks",
            "#SBATCH --array=0-2%50",
            "#SBATCH --output=/shared/a/.sweeps/e1-x/logs/1-masks.%a.log",
            "#SBATCH --chdir=\"/home/me/graphon lab\"",
            "#SBATCH --partition=cpu",
            "#SBATCH --time=00:30:00",
            "#SBATCH --mem=4G",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --account=lab",
            "  masks/0123456789abcdef  # 2: random L=4 n=100 s=0.8 seed=0",
            "exec /opt/glh/bin/glh --artifacts /shared/a job /shared/a/.sweeps/e1-x/pipeline.toml \\",
        ] {
            assert!(s.lines().any(|l| l == line), "missing `{line}` in\n{s}");
        }
        let submit = render_submit_script("e1-x", &[array.clone(), array]);
        assert!(submit.contains(
            "a1=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:${a0%%;*} 1-masks.sbatch)"
        ), "{submit}");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/a/b-c_d.toml"), "/a/b-c_d.toml");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
