//! Submitted sweeps: the record the Slurm executor keeps of each submission, and the state of
//! every job in it as `glh ls` shows it.
//!
//! A sweep lives in `<root>/.sweeps/<id>/`: `sweep.json` (this module's [`SweepRecord`]), the
//! frozen `pipeline.toml` the tasks read, one `sbatch` script per array, `submit.sh`, and
//! `logs/<array>.<task>.log`. The state of a job is never stored: it is read off the artifact
//! store (complete or not) and Slurm's queue (`squeue`), so it cannot go stale.

use glh_artifacts::ArtifactStore;
use glh_artifacts::store::{RunState, Verify};
use glh_artifacts::{ArtifactKey, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory of the sweeps under the artifact root (hidden: it holds no artifacts).
pub const SWEEPS_DIR: &str = ".sweeps";
/// The record's file name inside a sweep directory.
pub const RECORD: &str = "sweep.json";

/// One job of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Its stage.
    pub stage: String,
    /// Its key.
    pub key: ArtifactKey,
    /// A short human label (`random L=4 n=100 s=0.8 seed=0`).
    pub label: String,
}

impl TaskRecord {
    /// `stage/key`, how `glh job --job` names it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.stage, self.key)
    }
}

/// One Slurm job array.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArrayRecord {
    /// File stem of its script and logs: `<level>-<stage>[.<part>]`.
    pub name: String,
    /// Its level: one more than the deepest array it waits for.
    pub level: usize,
    /// The stage of all its tasks.
    pub stage: String,
    /// Its `sbatch` script, relative to the sweep directory.
    pub script: String,
    /// Indices of the arrays it waits for (`--dependency=afterok`).
    pub depends_on: Vec<usize>,
    /// Slurm's job id, once submitted.
    pub slurm_job_id: Option<String>,
    /// Its tasks; task `i` is array index `i`.
    pub tasks: Vec<TaskRecord>,
}

/// What a sweep directory's `sweep.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// `<pipeline name>-<UTC time>`, its directory name.
    pub id: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline file it was planned from.
    pub source: PathBuf,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
    /// Whether it was submitted (false for `--dry-run`).
    pub submitted: bool,
    /// The arrays, in submission order.
    pub arrays: Vec<ArrayRecord>,
    /// Jobs already complete when it was planned, so not submitted.
    pub cached: Vec<TaskRecord>,
}

impl SweepRecord {
    /// The log file of task `task` of array `array`.
    pub fn log_path(sweep_dir: &Path, array: &ArrayRecord, task: usize) -> PathBuf {
        sweep_dir
            .join("logs")
            .join(format!("{}.{task}.log", array.name))
    }

    /// Writes `sweep.json` into `dir` atomically (a reader never sees half a record).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("record serialises") + "\n";
        write_atomically(&dir.join(RECORD), json.as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| Error::output(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::output(path, e))
}

/// The sweeps under `store`'s root, oldest first, with their directories.
pub fn read_sweeps(store: &ArtifactStore) -> Result<Vec<(PathBuf, SweepRecord)>> {
    let root = store.root().join(SWEEPS_DIR);
    let read = match fs::read_dir(&root) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(&root, &e)),
    };
    let mut dirs: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(RECORD).is_file())
        .collect();
    dirs.sort();
    let mut sweeps = Vec::new();
    for dir in dirs {
        let path = dir.join(RECORD);
        let text = fs::read_to_string(&path).map_err(|e| Error::read(&path, &e))?;
        let record: SweepRecord = serde_json::from_str(&text)
            .map_err(|e| Error::input(&path, format!("invalid sweep record: {e}")))?;
        sweeps.push((dir, record));
    }
    Ok(sweeps)
}

/// Slurm's view of the jobs: the state of every queued array task, by `<job id>_<index>`.
#[derive(Clone, Debug)]
pub enum Queue {
    /// `squeue` answered.
    Listed(HashMap<String, String>),
    /// `squeue` could not be run; why.
    Unavailable(String),
}

impl Queue {
    /// Asks `squeue` for this user's jobs, one line per array task.
    pub fn read() -> Queue {
        let out = Command::new("squeue")
            .args(["--me", "--noheader", "--array", "--format=%i|%T"])
            .output();
        match out {
            Ok(out) if out.status.success() => {
                Queue::Listed(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
            }
            Ok(out) => Queue::Unavailable(format!(
                "squeue failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Queue::Unavailable(format!("cannot run squeue: {e}")),
        }
    }
}

/// `123_4|RUNNING` lines into a map; a pending array not yet split shows as `123_[5-9]`, which
/// is expanded.
pub fn parse_squeue(text: &str) -> HashMap<String, String> {
    let mut states = HashMap::new();
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once('|') else {
            continue;
        };
        let state = state.trim().to_string();
        match id.split_once("_[") {
            Some((job, ranges)) => {
                let ranges = ranges.trim_end_matches(']');
                let ranges = ranges.split('%').next().unwrap_or("");
                for range in ranges.split(',') {
                    let (a, b) = range.split_once('-').unwrap_or((range, range));
                    if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                        for i in a..=b {
                            states.insert(format!("{job}_{i}"), state.clone());
                        }
                    }
                }
            }
            None => {
                states.insert(id.to_string(), state);
            }
        }
    }
    states
}

/// Where one job of a sweep stands.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskState {
    /// Its artifact is complete.
    Done,
    /// Its artifact was complete before the sweep was submitted.
    Cached,
    /// Queued, not started (Slurm's state, e.g. `PENDING`).
    Pending(String),
    /// Running.
    Running,
    /// Not in the queue and not complete: failed, cancelled, or never started because a job it
    /// waits for failed.
    Failed {
        /// Its log file.
        log: PathBuf,
        /// The last line of the log, if it has one.
        last_line: Option<String>,
    },
    /// Written with `--dry-run`, never submitted.
    NotSubmitted,
    /// Not complete, and the queue could not be read.
    Unknown,
}

impl TaskState {
    /// The one-word name `glh ls` prints.
    pub fn word(&self) -> &'static str {
        match self {
            TaskState::Done => "done",
            TaskState::Cached => "cached",
            TaskState::Pending(_) => "pending",
            TaskState::Running => "running",
            TaskState::Failed { .. } => "failed",
            TaskState::NotSubmitted => "unsubmitted",
            TaskState::Unknown => "unknown",
        }
    }
}

/// The state of every job of `record`: the queue is read before the store, so that a task that
/// finishes in between is seen complete rather than failed.
pub fn task_states(
    store: &ArtifactStore,
    dir: &Path,
    record: &SweepRecord,
    queue: &Queue,
) -> Result<Vec<(TaskRecord, TaskState)>> {
    // Sizes, as `glh ls` checks them: a damaged run is not complete, and listing stays fast.
    let complete = |t: &TaskRecord| -> Result<bool> {
        let state = store.state(&t.stage, &t.key, Verify::Sizes)?;
        Ok(matches!(state, RunState::Complete(_)))
    };
    let mut out: Vec<(TaskRecord, TaskState)> = record
        .cached
        .iter()
        .map(|t| (t.clone(), TaskState::Cached))
        .collect();
    for array in &record.arrays {
        for (i, task) in array.tasks.iter().enumerate() {
            let queued = match (&array.slurm_job_id, queue) {
                (Some(job), Queue::Listed(states)) => states.get(&format!("{job}_{i}")),
                _ => None,
            };
            let state = match queued {
                Some(s) if s == "RUNNING" || s == "COMPLETING" || s == "CONFIGURING" => {
                    TaskState::Running
                }
                Some(s) => TaskState::Pending(s.clone()),
                None if complete(task)? => TaskState::Done,
                None if !record.submitted => TaskState::NotSubmitted,
                None if matches!(queue, Queue::Unavailable(_)) => TaskState::Unknown,
                None => {
                    let log = SweepRecord::log_path(dir, array, i);
                    let last_line = fs::read_to_string(&log).ok().and_then(|text| {
                        text.lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .map(|l| l.trim().to_string())
                    });
                    TaskState::Failed { log, last_line }
                }
            };
            out.push((task.clone(), state));
        }
    }
    Ok(out)
}

/// Counts of each state, in a fixed order, for a one-line summary.
pub fn state_counts(states: &[(TaskRecord, TaskState)]) -> Vec<(&'static str, usize)> {
    let words = [
        "done",
        "cached",
        "running",
        "pending",
        "failed",
        "unsubmitted",
        "unknown",
    ];
    words
        .iter()
        .map(|w| (*w, states.iter().filter(|(_, s)| s.word() == *w).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// `glh ls`'s section on sweeps: one line per sweep, then its failed jobs (or, with
/// `all_jobs`, every job).
pub fn render(
    store: &ArtifactStore,
    sweeps: &[(PathBuf, SweepRecord)],
    queue: &Queue,
    all_jobs: bool,
) -> Result<String> {
    let mut out = String::new();
    // Dry runs need no queue: only say it is unreadable when a submitted sweep needs it.
    if let Queue::Unavailable(why) = queue
        && sweeps.iter().any(|(_, r)| r.submitted)
    {
        out.push_str(&format!("(Slurm's queue unreadable: {why})\n"));
    }
    for (dir, record) in sweeps {
        let states = task_states(store, dir, record, queue)?;
        let counts: Vec<String> = state_counts(&states)
            .iter()
            .map(|(w, n)| format!("{n} {w}"))
            .collect();
        out.push_str(&format!(
            "sweep {}  ({}, {} jobs in {} arrays): {}\n",
            record.id,
            if record.submitted {
                "submitted"
            } else {
                "dry run"
            },
            states.len(),
            record.arrays.len(),
            counts.join(", ")
        ));
        for (task, state) in &states {
            let show = all_jobs || matches!(state, TaskState::Failed { .. });
            if !show {
                continue;
            }
            let detail = match state {
                TaskState::Failed { log, last_line } => format!(
                    "{}: {}",
                    log.display(),
                    last_line
                        .as_deref()
                        .unwrap_or("no log: cancelled, or a job it waits for failed")
                ),
                TaskState::Pending(reason) => reason.clone(),
                _ => String::new(),
            };
            out.push_str(&format!(
                "  {:<11} {:<11} {:<16} {:<40} {}\n",
                state.word(),
                task.stage,
                task.key,
                task.label,
                detail
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::JobSpec;
    use serde_json::json;

    fn spec(n: u64) -> JobSpec {
        JobSpec::new("data", 1, &json!({ "n": n }), vec![])
    }

    fn task(n: u64) -> TaskRecord {
        TaskRecord {
            stage: "data".into(),
            key: spec(n).key(),
            label: format!("n={n}"),
        }
    }

    #[test]
    fn states_come_from_the_queue_then_the_store() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        // Job 2 is complete; job 5 was complete at submission.
        for n in [2, 5] {
            store.run(&spec(n), false, |_| Ok(())).unwrap();
        }
        let dir = root.path().join(SWEEPS_DIR).join("s");
        let array = ArrayRecord {
            name: "0-data".into(),
            level: 0,
            stage: "data".into(),
            script: "0-data.sbatch".into(),
            depends_on: vec![],
            slurm_job_id: Some("7".into()),
            tasks: (0..5).map(task).collect(),
        };
        let mut record = SweepRecord {
            id: "s".into(),
            pipeline: "p".into(),
            source: "p.toml".into(),
            created_at: String::new(),
            submitted: true,
            arrays: vec![array],
            cached: vec![task(5)],
        };
        fs::create_dir_all(dir.join("logs")).unwrap();
        fs::write(
            SweepRecord::log_path(&dir, &record.arrays[0], 3),
            "started\nerror: out of memory\n\n",
        )
        .unwrap();
        let queue = Queue::Listed(parse_squeue("7_0|RUNNING\n7_1|PENDING\n"));
        let states = task_states(&store, &dir, &record, &queue).unwrap();
        let words: Vec<&str> = states.iter().map(|(_, s)| s.word()).collect();
        assert_eq!(
            words,
            ["cached", "running", "pending", "done", "failed", "failed"]
        );
        assert_eq!(
            states[4].1,
            TaskState::Failed {
                log: dir.join("logs/0-data.3.log"),
                last_line: Some("error: out of memory".into()),
            }
        );
        assert!(matches!(
            &states[5].1,
            TaskState::Failed {
                last_line: None,
                ..
            }
        ));
        let counts = state_counts(&states);
        assert_eq!(
            counts,
            [
                ("done", 1),
                ("cached", 1),
                ("running", 1),
                ("pending", 1),
                ("failed", 2)
            ]
        );

        // Without a queue, unfinished jobs are unknown, not failed; a dry run is unsubmitted.
        let unknown = Queue::Unavailable("no squeue".into());
        let states = task_states(&store, &dir, &record, &unknown).unwrap();
        assert_eq!(states[1].1, TaskState::Unknown);
        assert_eq!(states[3].1, TaskState::Done);
        record.submitted = false;
        let states = task_states(&store, &dir, &record, &unknown).unwrap();
        assert_eq!(states[1].1, TaskState::NotSubmitted);
        let text = render(&store, &[(dir.clone(), record)], &unknown, false).unwrap();
        assert!(
            text.starts_with(
                "sweep s  (dry run, 6 jobs in 1 arrays): 1 done, 1 cached, 4 unsubmitted\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn squeue_lines_expand_pending_ranges() {
        let states =
            parse_squeue("12_0|RUNNING\n12_[1-3,7]|PENDING\n13_[0-2%4]|PENDING\n14|PENDING\nbad\n");
        assert_eq!(states["12_0"], "RUNNING");
        for i in [1, 2, 3, 7] {
            assert_eq!(states[&format!("12_{i}")], "PENDING");
        }
        assert!(!states.contains_key("12_4"));
        assert_eq!(states["13_2"], "PENDING");
        assert_eq!(states["14"], "PENDING");
        assert_eq!(states.len(), 9);
    }
}
