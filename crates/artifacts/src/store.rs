//! The artifact store: one directory per stage run, published atomically.
//!
//! Layout: `<root>/<stage>/<key>/` holds the run's Parquet tables and its `manifest.json`.
//! A run is built in a hidden temporary directory beside its target
//! (`<root>/<stage>/.tmp-<key>-<host>-<pid>-<n>-<ns>`), every file and the directory are
//! fsynced, and only then is the directory renamed to `<key>`. Rename is atomic on a POSIX
//! filesystem, so:
//!
//! - a directory named by a key is always complete (a crash, Ctrl-C, `scancel` or a node failure
//!   leaves only a `.tmp-*` directory, which `glh ls` shows as incomplete and `glh gc` removes);
//! - two processes computing the same key at once both build privately; the first rename wins,
//!   the second finds the target present and discards its own copy (the bytes are equal anyway,
//!   since a run is a pure function of its key).
//!
//! On a filesystem shared by many hosts (NFS v3/v4, Lustre, GPFS, BeeGFS, CephFS: what Slurm
//! clusters mount), the same guarantees rest on four properties these filesystems provide:
//!
//! 1. `mkdir` is exclusive, and the temporary name carries the host name, so no two writers
//!    ever share a temporary directory;
//! 2. `rename` of a directory inside one directory is a single server-side operation: other
//!    hosts see either no `<key>` or the complete one, never a part (the temporary directory
//!    sits beside its target, so the rename never crosses filesystems);
//! 3. `rename` onto an existing non-empty directory fails, so the first publisher wins; a loser
//!    (or an NFS client whose retransmitted rename reports a failure that in fact succeeded)
//!    finds the manifest present and reports the run as cached;
//! 4. close-to-open consistency: every file is fsynced before the rename, so a host that opens
//!    the published files afterwards reads their final bytes.
//!
//! What it does not rely on: file locks (often disabled on NFS), clocks agreeing across hosts,
//! or a lookup of a just-published directory succeeding at once on another host (NFS may cache
//! "not found" for up to its attribute timeout; `glh job` waits for inputs under Slurm).

use crate::key::{ArtifactKey, canonical_json, params_value, sha256_hex};
use crate::parquet_io::{encode_table, read_table};
use crate::{Error, PRODUCER, Result, TableSchema};
use arrow::array::ArrayRef;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

/// Name of the manifest file inside a run directory.
pub const MANIFEST: &str = "manifest.json";
const TMP_PREFIX: &str = ".tmp-";
const OLD_PREFIX: &str = ".old-";

/// A reference to an input artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// The stage that produced it.
    pub stage: String,
    /// Its key.
    pub key: ArtifactKey,
}

/// What a stage run is: everything its key is computed from.
#[derive(Clone, Debug)]
pub struct JobSpec {
    /// The stage name (its directory under the artifact root).
    pub stage: &'static str,
    /// The stage's version: bumped whenever its outputs for the same parameters change.
    pub version: u32,
    /// The run's parameters, every one that can change the output.
    pub params: Value,
    /// The artifacts it reads, in a fixed order.
    pub inputs: Vec<InputRef>,
}

impl JobSpec {
    /// A job of `stage` with typed parameters.
    pub fn new<P: Serialize>(
        stage: &'static str,
        version: u32,
        params: &P,
        inputs: Vec<InputRef>,
    ) -> Self {
        JobSpec {
            stage,
            version,
            params: params_value(params),
            inputs,
        }
    }

    /// The run's cache key.
    pub fn key(&self) -> ArtifactKey {
        let input_keys: Vec<ArtifactKey> = self.inputs.iter().map(|i| i.key.clone()).collect();
        ArtifactKey::compute(self.stage, self.version, &self.params, &input_keys)
    }

    /// This run as the input of a later one.
    pub fn as_input(&self) -> InputRef {
        InputRef {
            stage: self.stage.to_string(),
            key: self.key(),
        }
    }
}

/// One Parquet file of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name inside the run directory.
    pub file: String,
    /// The table schema it follows (see ARCHITECTURE.md).
    pub table: String,
    /// Number of rows.
    pub rows: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// `manifest.json`: what a run is, what it wrote, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The stage.
    pub stage: String,
    /// The stage's version.
    pub stage_version: u32,
    /// The run's key (its directory name).
    pub key: ArtifactKey,
    /// The parameters the key was computed from.
    pub params: Value,
    /// The input artifacts.
    pub inputs: Vec<InputRef>,
    /// The Parquet files, in the order they were written.
    pub files: Vec<FileEntry>,
    /// The graphon-lab version that wrote it.
    pub producer: String,
    /// When the computation started (RFC 3339, UTC).
    pub started_at: String,
    /// How long the computation took, in seconds.
    pub wall_seconds: f64,
}

/// Whether a run was computed now or found complete in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// The artifact was already complete; nothing was computed.
    Cached,
    /// The artifact was computed and published by this call.
    Computed,
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobStatus::Cached => "cached",
            JobStatus::Computed => "computed",
        })
    }
}

/// The result of [`ArtifactStore::run`].
#[derive(Clone, Debug)]
pub struct JobOutcome {
    /// Cached or computed.
    pub status: JobStatus,
    /// The run directory.
    pub dir: PathBuf,
    /// The run's manifest.
    pub manifest: Manifest,
}

impl JobOutcome {
    /// This run as the input of a later one (or of a `read_*` function).
    pub fn as_input(&self) -> InputRef {
        InputRef {
            stage: self.manifest.stage.clone(),
            key: self.manifest.key.clone(),
        }
    }
}

/// State of a directory found under the artifact root.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryState {
    /// A published run with a readable manifest.
    Complete(Box<Manifest>),
    /// A temporary or superseded directory (an interrupted or concurrent run); never read.
    Incomplete,
    /// A directory named like a key whose manifest is missing or unreadable (tampered with).
    Damaged(String),
}

/// A directory found under the artifact root.
#[derive(Clone, Debug)]
pub struct StoreEntry {
    /// Stage directory name.
    pub stage: String,
    /// The directory.
    pub dir: PathBuf,
    /// Its state.
    pub state: EntryState,
}

/// The artifact store rooted at one directory.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    root: PathBuf,
}

impl ArtifactStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ArtifactStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of the run `key` of `stage`.
    pub fn run_dir(&self, stage: &str, key: &ArtifactKey) -> PathBuf {
        self.root.join(stage).join(key.as_str())
    }

    /// The path of `table` in the run `input`.
    pub fn table_path(&self, input: &InputRef, table: &TableSchema) -> PathBuf {
        self.run_dir(&input.stage, &input.key)
            .join(table.file_name())
    }

    /// All rows of `table` in the run `input`, its schema checked (what every stage's
    /// `read_*` function of its own artifacts starts with).
    pub fn read_run_table(
        &self,
        input: &InputRef,
        table: &TableSchema,
    ) -> Result<arrow::record_batch::RecordBatch> {
        Ok(read_table(&self.table_path(input, table), table)?.batch)
    }

    /// The manifest of the complete run `key` of `stage`, if there is one.
    pub fn find(&self, stage: &str, key: &ArtifactKey) -> Result<Option<Manifest>> {
        let dir = self.run_dir(stage, key);
        if !dir.is_dir() {
            return Ok(None);
        }
        read_manifest(&dir).map(Some)
    }

    /// Runs `compute` for `spec` unless a complete artifact exists (or `force` is set), and
    /// publishes what it writes atomically. On error nothing is left behind.
    pub fn run<F>(&self, spec: &JobSpec, force: bool, compute: F) -> Result<JobOutcome>
    where
        F: FnOnce(&mut ArtifactWriter) -> Result<()>,
    {
        let key = spec.key();
        let dir = self.run_dir(spec.stage, &key);
        if !force && let Some(manifest) = self.find(spec.stage, &key)? {
            return Ok(JobOutcome {
                status: JobStatus::Cached,
                dir,
                manifest,
            });
        }
        let mut writer = ArtifactWriter::begin(self, spec.clone(), key)?;
        compute(&mut writer)?;
        writer.publish(force)
    }

    /// Every run directory under the root, stage by stage, sorted by path.
    pub fn entries(&self) -> Result<Vec<StoreEntry>> {
        let mut out = Vec::new();
        for stage_dir in sorted_subdirs(&self.root)? {
            let stage = file_name(&stage_dir);
            if stage.starts_with('.') {
                continue;
            }
            for dir in sorted_subdirs(&stage_dir)? {
                let name = file_name(&dir);
                let state = if name.starts_with(TMP_PREFIX) || name.starts_with(OLD_PREFIX) {
                    EntryState::Incomplete
                } else if ArtifactKey::parse(&name).is_some() {
                    match read_manifest(&dir) {
                        Ok(m) => EntryState::Complete(Box::new(m)),
                        Err(e) => EntryState::Damaged(e.to_string()),
                    }
                } else {
                    continue;
                };
                out.push(StoreEntry {
                    stage: stage.clone(),
                    dir,
                    state,
                });
            }
        }
        Ok(out)
    }

    /// Removes the directories left by interrupted runs; returns what was removed.
    ///
    /// Only safe while no other process writes to this root (a running job's temporary
    /// directory looks the same as an abandoned one).
    pub fn remove_incomplete(&self) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for entry in self.entries()? {
            if entry.state == EntryState::Incomplete {
                fs::remove_dir_all(&entry.dir).map_err(|e| Error::output(&entry.dir, e))?;
                removed.push(entry.dir);
            }
        }
        Ok(removed)
    }
}

/// Builds one run in its temporary directory; see [`ArtifactStore::run`].
#[derive(Debug)]
pub struct ArtifactWriter {
    spec: JobSpec,
    key: ArtifactKey,
    stage_dir: PathBuf,
    tmp: PathBuf,
    files: Vec<FileEntry>,
    started_at: SystemTime,
    clock: Instant,
    published: bool,
}

impl ArtifactWriter {
    fn begin(store: &ArtifactStore, spec: JobSpec, key: ArtifactKey) -> Result<Self> {
        let stage_dir = store.root.join(spec.stage);
        fs::create_dir_all(&stage_dir).map_err(|e| Error::output(&stage_dir, e))?;
        let tmp = stage_dir.join(format!("{TMP_PREFIX}{key}-{}", unique_suffix()));
        fs::create_dir(&tmp).map_err(|e| Error::output(&tmp, e))?;
        Ok(ArtifactWriter {
            spec,
            key,
            stage_dir,
            tmp,
            files: Vec::new(),
            started_at: SystemTime::now(),
            clock: Instant::now(),
            published: false,
        })
    }

    /// The key of the run being written.
    pub fn key(&self) -> &ArtifactKey {
        &self.key
    }

    /// The run's parameters.
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// Writes one table (`<schema.name>.parquet`) into the run.
    pub fn write_table(&mut self, schema: &TableSchema, columns: Vec<ArrayRef>) -> Result<()> {
        let metadata = vec![
            ("glh.stage".to_string(), self.spec.stage.to_string()),
            (
                "glh.stage_version".to_string(),
                self.spec.version.to_string(),
            ),
            ("glh.key".to_string(), self.key.to_string()),
            ("glh.params".to_string(), canonical_json(&self.spec.params)),
            (
                "glh.inputs".to_string(),
                serde_json::to_string(&self.spec.inputs).expect("inputs serialise"),
            ),
            ("glh.table".to_string(), schema.name.to_string()),
        ];
        let (bytes, rows) = encode_table(schema, columns, &metadata)?;
        let file = schema.file_name();
        write_synced(&self.tmp.join(&file), &bytes)?;
        self.files.push(FileEntry {
            file,
            table: schema.name.to_string(),
            rows: rows as u64,
            sha256: sha256_hex(&bytes),
        });
        Ok(())
    }

    fn publish(mut self, force: bool) -> Result<JobOutcome> {
        let manifest = Manifest {
            stage: self.spec.stage.to_string(),
            stage_version: self.spec.version,
            key: self.key.clone(),
            params: self.spec.params.clone(),
            inputs: self.spec.inputs.clone(),
            files: self.files.clone(),
            producer: PRODUCER.to_string(),
            started_at: humantime::format_rfc3339_seconds(self.started_at).to_string(),
            wall_seconds: self.clock.elapsed().as_secs_f64(),
        };
        let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
        write_synced(&self.tmp.join(MANIFEST), json.as_bytes())?;
        sync_dir(&self.tmp)?;

        let target = self.stage_dir.join(self.key.as_str());
        let mut superseded = None;
        if force && target.exists() {
            let old = self
                .stage_dir
                .join(format!("{OLD_PREFIX}{}-{}", self.key, unique_suffix()));
            match fs::rename(&target, &old) {
                Ok(()) => superseded = Some(old),
                // Another process replaced or removed it meanwhile: fine, we publish below.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::output(&target, e)),
            }
        }
        let status = match fs::rename(&self.tmp, &target) {
            Ok(()) => {
                self.published = true;
                JobStatus::Computed
            }
            // A concurrent run of the same key published first: its bytes equal ours.
            Err(_) if target.join(MANIFEST).is_file() => JobStatus::Cached,
            Err(e) => return Err(Error::output(&target, e)),
        };
        sync_dir(&self.stage_dir)?;
        if let Some(old) = superseded {
            fs::remove_dir_all(&old).map_err(|e| Error::output(&old, e))?;
        }
        let manifest = if status == JobStatus::Computed {
            manifest
        } else {
            read_manifest(&target)?
        };
        Ok(JobOutcome {
            status,
            dir: target,
            manifest,
        })
    }
}

impl Drop for ArtifactWriter {
    fn drop(&mut self) {
        if !self.published {
            // Best effort: an error or an unpublished duplicate leaves nothing behind.
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// The manifest of the run directory `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| Error::read(&path, &e))?;
    serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("invalid manifest: {e}")))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::output(path, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| Error::output(path, e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::output(dir, e))
}

fn sorted_subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(dir, &e)),
    };
    let mut dirs: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A suffix unique among the temporary directories of all processes on all hosts sharing a
/// root: the host name, the process id, a per-process counter, and the clock's nanoseconds.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{n}-{nanos:09}", host_name(), std::process::id())
}

/// This host's name as a file-name-safe string (`host` where the kernel does not tell).
fn host_name() -> String {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let safe: String = name
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if safe.is_empty() {
        "host".to_string()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, ColumnType};
    use arrow::array::UInt32Array;
    use serde_json::json;
    use std::sync::Arc;

    const TABLE: TableSchema = TableSchema {
        stage: "test",
        name: "numbers",
        row: "number",
        stored: true,
        columns: &[Column {
            name: "n",
            dtype: ColumnType::UInt32,
            doc: "n",
        }],
    };

    fn spec(seed: u64) -> JobSpec {
        JobSpec::new("test", 1, &json!({"seed": seed}), vec![])
    }

    fn write_numbers(w: &mut ArtifactWriter) -> Result<()> {
        w.write_table(&TABLE, vec![Arc::new(UInt32Array::from(vec![1, 2, 3]))])
    }

    #[test]
    fn second_run_is_cached_and_force_recomputes() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let first = store.run(&spec(0), false, write_numbers).unwrap();
        assert_eq!(first.status, JobStatus::Computed);
        assert_eq!(first.manifest.files[0].rows, 3);
        let second = store
            .run(&spec(0), false, |_| panic!("a cached run must not compute"))
            .unwrap();
        assert_eq!(second.status, JobStatus::Cached);
        assert_eq!(second.manifest.key, first.manifest.key);
        let forced = store.run(&spec(0), true, write_numbers).unwrap();
        assert_eq!(forced.status, JobStatus::Computed);
        assert_eq!(forced.manifest.files, first.manifest.files);
        let entries = store.entries().unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
    }

    #[test]
    fn a_failed_run_leaves_nothing_behind() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let err = store
            .run(&spec(0), false, |w| {
                write_numbers(w)?;
                Err(Error::Unsupported("boom".into()))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert!(store.entries().unwrap().is_empty());
        assert!(store.find("test", &spec(0).key()).unwrap().is_none());
    }

    #[test]
    fn an_interrupted_run_is_never_complete() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let mut writer = ArtifactWriter::begin(&store, spec(0), spec(0).key()).unwrap();
        write_numbers(&mut writer).unwrap();
        // Simulate a kill: the process dies before publishing and runs no destructor.
        std::mem::forget(writer);
        let entries = store.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].state, EntryState::Incomplete);
        assert!(store.find("test", &spec(0).key()).unwrap().is_none());
        // The rerun computes and publishes; gc then removes the leftover.
        let rerun = store.run(&spec(0), false, write_numbers).unwrap();
        assert_eq!(rerun.status, JobStatus::Computed);
        assert_eq!(store.remove_incomplete().unwrap().len(), 1);
        let entries = store.entries().unwrap();
        assert!(matches!(
            entries[..],
            [StoreEntry {
                state: EntryState::Complete(_),
                ..
            }]
        ));
    }

    #[test]
    fn concurrent_runs_of_one_key_publish_once() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let barrier = std::sync::Barrier::new(8);
        let outcomes: Vec<JobOutcome> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        let mut writer =
                            ArtifactWriter::begin(&store, spec(7), spec(7).key()).unwrap();
                        write_numbers(&mut writer).unwrap();
                        barrier.wait();
                        writer.publish(false).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let computed = outcomes
            .iter()
            .filter(|o| o.status == JobStatus::Computed)
            .count();
        assert_eq!(computed, 1);
        let entries = store.entries().unwrap();
        assert_eq!(entries.len(), 1, "{entries:?}");
        let bytes = fs::read(outcomes[0].dir.join("numbers.parquet")).unwrap();
        assert_eq!(sha256_hex(&bytes), outcomes[0].manifest.files[0].sha256);
    }

    #[test]
    fn same_run_same_bytes_in_two_roots() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let run = |root: &Path| {
            let out = ArtifactStore::new(root)
                .run(&spec(3), false, write_numbers)
                .unwrap();
            fs::read(out.dir.join("numbers.parquet")).unwrap()
        };
        assert_eq!(run(a.path()), run(b.path()));
    }

    #[test]
    fn a_damaged_run_is_reported_not_trusted() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let out = store.run(&spec(0), false, write_numbers).unwrap();
        fs::remove_file(out.dir.join(MANIFEST)).unwrap();
        let entries = store.entries().unwrap();
        assert!(matches!(entries[0].state, EntryState::Damaged(_)));
        let err = store.find("test", &spec(0).key()).unwrap_err().to_string();
        assert!(err.contains("manifest.json: file not found"), "{err}");
    }
}
