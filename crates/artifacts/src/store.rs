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
//!
//! Nothing published is trusted blindly. A run is *verified* against its manifest (see
//! [`Verify`]): the manifest names its own stage and key, its parameters and inputs give that
//! key, and every file it lists is there with the size and SHA-256 it recorded. Listing checks
//! sizes (fast at any store size); serving a run from cache, reading it as an input and
//! `glh verify` check hashes. A damaged run is never served: [`ArtifactStore::run`] renames it
//! to `.damaged-<key>-…` (nothing is deleted) and computes it again.

use crate::key::{ArtifactKey, canonical_json, params_value, sha256_hex};
use crate::parquet_io::{encode_table, read_table_bytes};
use crate::{Columns, Error, PRODUCER, Result, TableSchema};
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
const DAMAGED_PREFIX: &str = ".damaged-";

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
    /// Size in bytes (absent in manifests written before sizes were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
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
    /// The stored copy was damaged: it was set aside (see [`JobOutcome::set_aside`]) and the
    /// artifact computed and published again.
    Repaired,
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JobStatus::Cached => "cached",
            JobStatus::Computed => "computed",
            JobStatus::Repaired => "repaired",
        })
    }
}

/// How thoroughly a run directory is checked against its manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// The manifest (its stage, key, and the key its parameters give) and each file's presence
    /// and size: what listing does, fast at any store size.
    Sizes,
    /// Everything [`Verify::Sizes`] checks, and each file's SHA-256: what serving from cache,
    /// reading an input and `glh verify` do.
    Hashes,
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
    /// Where the damaged copy this run replaced was moved, and why it was damaged
    /// ([`JobStatus::Repaired`] only).
    pub set_aside: Option<(PathBuf, String)>,
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
    /// A published run that passed verification.
    Complete(Box<Manifest>),
    /// A temporary or superseded directory of a run that is not in progress (interrupted);
    /// never read, removed by `glh gc`.
    Incomplete,
    /// A temporary or superseded directory of a process that is still running on this host,
    /// or of another host (whose processes this one cannot see); `glh gc` leaves it.
    InProgress(String),
    /// A directory named like a key that failed verification (the reason); never read.
    Damaged(String),
    /// A damaged run that `glh run` moved aside before recomputing it; never read, kept until
    /// `glh gc --damaged`.
    SetAside,
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

    /// All rows of `table` in the complete run `input`, its schema checked (what every
    /// stage's `read_*` function of its own artifacts starts with). The file's bytes are
    /// checked against the run's manifest (size and SHA-256) before they are decoded.
    pub fn read_run_table(
        &self,
        input: &InputRef,
        table: &TableSchema,
    ) -> Result<arrow::record_batch::RecordBatch> {
        let dir = self.run_dir(&input.stage, &input.key);
        let path = self.table_path(input, table);
        let damaged = |why: String| Error::input(&dir, damaged_message(&why));
        let manifest = check_manifest(&dir, &input.stage, input.key.as_str()).map_err(damaged)?;
        let entry = manifest
            .files
            .iter()
            .find(|f| f.file == table.file_name())
            .ok_or_else(|| damaged(format!("its manifest lists no {}", table.file_name())))?;
        let bytes = read_regular(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => damaged(format!("{} is missing", entry.file)),
            _ => Error::read(&path, &e),
        })?;
        check_bytes(entry, &bytes).map_err(damaged)?;
        Ok(read_table_bytes(&path, bytes.into(), table)?.batch)
    }

    /// [`ArtifactStore::read_run_table`] for a table that only some runs of a stage write (a
    /// scheduled run's masks, a gradient-descent run's outputs): a run without the file is an
    /// input error naming the file with `absent`, the reason such a run lacks it, rather than
    /// a damaged run.
    pub fn read_optional_run_table(
        &self,
        input: &InputRef,
        table: &TableSchema,
        absent: &str,
    ) -> Result<arrow::record_batch::RecordBatch> {
        let path = self.table_path(input, table);
        if !path.exists() {
            return Err(Error::input(path, absent));
        }
        self.read_run_table(input, table)
    }

    /// The manifest of the complete run `key` of `stage`, if there is one; its files are
    /// verified by hash, and a damaged run is an error (it is never read).
    pub fn find(&self, stage: &str, key: &ArtifactKey) -> Result<Option<Manifest>> {
        self.find_with(stage, key, Verify::Hashes)
    }

    /// [`ArtifactStore::find`] verified with `verify`: [`Verify::Sizes`] serves a reader that
    /// needs only the manifest, since [`ArtifactStore::read_run_table`] hashes each table it
    /// reads anyway.
    pub fn find_with(
        &self,
        stage: &str,
        key: &ArtifactKey,
        verify: Verify,
    ) -> Result<Option<Manifest>> {
        match self.state(stage, key, verify)? {
            RunState::Missing => Ok(None),
            RunState::Complete(m) => Ok(Some(*m)),
            RunState::Damaged(why) => Err(Error::input(
                self.run_dir(stage, key),
                damaged_message(&why),
            )),
        }
    }

    /// What the directory of the run `key` of `stage` holds, verified with `verify`: for a
    /// caller that asks whether a run is complete and must treat a damaged one as not
    /// complete rather than fail (a submission, a sweep's progress).
    pub fn state(&self, stage: &str, key: &ArtifactKey, verify: Verify) -> Result<RunState> {
        let dir = self.run_dir(stage, key);
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RunState::Missing),
            Err(e) => Err(Error::read(&dir, &e)),
            Ok(_) => Ok(match check_run(&dir, stage, key.as_str(), verify) {
                Ok(m) => RunState::Complete(Box::new(m)),
                Err(why) => RunState::Damaged(why),
            }),
        }
    }

    /// Runs `compute` for `spec` unless a complete artifact exists (or `force` is set), and
    /// publishes what it writes atomically. On error nothing is left behind. A damaged stored
    /// copy is moved aside (renamed `.damaged-<key>-…`, never deleted) and the run computed again.
    pub fn run<F>(&self, spec: &JobSpec, force: bool, compute: F) -> Result<JobOutcome>
    where
        F: FnOnce(&mut ArtifactWriter) -> Result<()>,
    {
        let key = spec.key();
        let dir = self.run_dir(spec.stage, &key);
        let mut set_aside = None;
        match self.state(spec.stage, &key, Verify::Hashes)? {
            RunState::Complete(manifest) if !force => {
                return Ok(JobOutcome {
                    status: JobStatus::Cached,
                    dir,
                    manifest: *manifest,
                    set_aside: None,
                });
            }
            RunState::Damaged(why) => {
                let aside = self.set_aside(spec.stage, &key)?;
                set_aside = aside.map(|path| (path, why));
            }
            _ => {}
        }
        let mut writer = ArtifactWriter::begin(self, spec.clone(), key)?;
        compute(&mut writer)?;
        let mut outcome = writer.publish(force)?;
        if set_aside.is_some() && outcome.status == JobStatus::Computed {
            outcome.status = JobStatus::Repaired;
            outcome.set_aside = set_aside;
        }
        Ok(outcome)
    }

    /// Moves the damaged run `key` of `stage` out of the way; `None` if another process
    /// already did.
    fn set_aside(&self, stage: &str, key: &ArtifactKey) -> Result<Option<PathBuf>> {
        let dir = self.run_dir(stage, key);
        let aside = self
            .root
            .join(stage)
            .join(format!("{DAMAGED_PREFIX}{key}-{}", unique_suffix()));
        match fs::rename(&dir, &aside) {
            Ok(()) => Ok(Some(aside)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::output(&dir, e)),
        }
    }

    /// Every run directory under the root, stage by stage, sorted by path, each verified
    /// with `verify`.
    pub fn entries_with(&self, verify: Verify) -> Result<Vec<StoreEntry>> {
        let mut out = Vec::new();
        for stage_dir in sorted_subdirs(&self.root)? {
            let stage = file_name(&stage_dir);
            if stage.starts_with('.') {
                continue;
            }
            out.extend(self.stage_entries(&stage, verify)?);
        }
        Ok(out)
    }

    /// [`ArtifactStore::entries_with`] at [`Verify::Sizes`]: what `glh ls` shows.
    pub fn entries(&self) -> Result<Vec<StoreEntry>> {
        self.entries_with(Verify::Sizes)
    }

    /// The run directories of one stage, sorted by path, each verified with `verify`.
    pub fn stage_entries(&self, stage: &str, verify: Verify) -> Result<Vec<StoreEntry>> {
        let mut out = Vec::new();
        for dir in sorted_subdirs(&self.root.join(stage))? {
            let name = file_name(&dir);
            let state = if name.starts_with(DAMAGED_PREFIX) {
                EntryState::SetAside
            } else if name.starts_with(TMP_PREFIX) || name.starts_with(OLD_PREFIX) {
                match writer_of(&name) {
                    Writer::Dead => EntryState::Incomplete,
                    Writer::Alive(why) => EntryState::InProgress(why),
                }
            } else if ArtifactKey::parse(&name).is_some() {
                match check_run(&dir, stage, &name, verify) {
                    Ok(m) => EntryState::Complete(Box::new(m)),
                    Err(why) => EntryState::Damaged(why),
                }
            } else {
                continue;
            };
            out.push(StoreEntry {
                stage: stage.to_string(),
                dir,
                state,
            });
        }
        Ok(out)
    }

    /// Removes the directories left by interrupted runs (and, with `damaged`, the damaged
    /// runs `glh run` set aside); returns what was removed. A temporary directory whose
    /// process still runs on this host, or that another host wrote, is left alone.
    pub fn remove_incomplete(&self, damaged: bool) -> Result<Vec<PathBuf>> {
        let mut removed = Vec::new();
        for entry in self.entries()? {
            let remove = match entry.state {
                EntryState::Incomplete => true,
                EntryState::SetAside => damaged,
                _ => false,
            };
            if remove {
                fs::remove_dir_all(&entry.dir).map_err(|e| Error::output(&entry.dir, e))?;
                removed.push(entry.dir);
            }
        }
        Ok(removed)
    }
}

/// What a key's directory holds (see [`ArtifactStore::state`]).
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// No such directory.
    Missing,
    /// A run that passed verification.
    Complete(Box<Manifest>),
    /// A run that failed verification (the reason); never read.
    Damaged(String),
}

/// The one sentence every damaged-run error ends with.
fn damaged_message(why: &str) -> String {
    format!(
        "damaged run ({why}); it is never read: `glh run` sets it aside and computes it again, \
         `glh verify` lists every damaged run"
    )
}

/// The manifest of `dir`, checked to be the run `key` of `stage`: it says so itself, and its
/// parameters and inputs give that key (so neither a moved directory nor an edited manifest
/// passes).
fn check_manifest(dir: &Path, stage: &str, key: &str) -> std::result::Result<Manifest, String> {
    let manifest = read_manifest(dir).map_err(|e| match e {
        Error::Input { path, message } if message == "file not found" => {
            format!("{} is missing", file_name(&path))
        }
        other => other.to_string(),
    })?;
    if manifest.stage != stage || manifest.key.as_str() != key {
        return Err(format!(
            "its manifest is of {}/{}, not of {stage}/{key}: the directory was renamed or moved",
            manifest.stage, manifest.key
        ));
    }
    let input_keys: Vec<ArtifactKey> = manifest.inputs.iter().map(|i| i.key.clone()).collect();
    let recomputed =
        ArtifactKey::compute(stage, manifest.stage_version, &manifest.params, &input_keys);
    if recomputed != manifest.key {
        return Err(format!(
            "its manifest's parameters and inputs give key {recomputed}, not {key}: the manifest \
             was edited"
        ));
    }
    Ok(manifest)
}

/// The run directory `dir` verified as the run `key` of `stage` (see [`Verify`]); the reason
/// it is damaged otherwise.
fn check_run(
    dir: &Path,
    stage: &str,
    key: &str,
    verify: Verify,
) -> std::result::Result<Manifest, String> {
    let manifest = check_manifest(dir, stage, key)?;
    for entry in &manifest.files {
        let path = dir.join(&entry.file);
        let why = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::InvalidInput => format!("{} is not a regular file", entry.file),
            _ => format!("{} is missing", entry.file),
        };
        match verify {
            Verify::Sizes => check_size(entry, regular_metadata(&path).map_err(why)?.len())?,
            Verify::Hashes => check_bytes(entry, &read_regular(&path).map_err(why)?)?,
        }
    }
    Ok(manifest)
}

fn check_size(entry: &FileEntry, len: u64) -> std::result::Result<(), String> {
    match entry.bytes {
        Some(expected) if expected != len => Err(format!(
            "{} has {len} bytes, its manifest recorded {expected}",
            entry.file
        )),
        _ => Ok(()),
    }
}

/// `bytes` against the size and SHA-256 `entry` recorded.
fn check_bytes(entry: &FileEntry, bytes: &[u8]) -> std::result::Result<(), String> {
    check_size(entry, bytes.len() as u64)?;
    if sha256_hex(bytes) != entry.sha256 {
        return Err(format!(
            "{}'s SHA-256 is not the one its manifest recorded: its bytes changed",
            entry.file
        ));
    }
    Ok(())
}

/// Whether the process that named a temporary directory may still be writing it.
enum Writer {
    /// It ran on this host and has exited: the directory is abandoned.
    Dead,
    /// It still runs here, or ran on another host, or the name does not tell (the reason).
    Alive(String),
}

/// Whether the temporary directory (or record) `name`, ending in a [`unique_suffix`], was left
/// by a process of this host that has exited: safe to remove.
pub fn abandoned(name: &str) -> bool {
    matches!(writer_of(name), Writer::Dead)
}

/// Reads `<prefix><key>-<host>-<pid>-<n>-<ns>` (see [`unique_suffix`]).
fn writer_of(name: &str) -> Writer {
    let mut fields = name.rsplitn(4, '-');
    let (_nanos, _n, pid) = (fields.next(), fields.next(), fields.next());
    let rest = fields.next().unwrap_or("");
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
        return Writer::Alive("its name does not say which process writes it".into());
    };
    let host = rest.rsplit_once('-').map_or(rest, |(_, h)| h);
    if host != host_name() {
        return Writer::Alive(format!(
            "written by host {host}, whose processes this host cannot see"
        ));
    }
    if process_alive(pid) {
        Writer::Alive(format!("process {pid} is still writing it"))
    } else {
        Writer::Dead
    }
}

/// Whether process `pid` exists on this host. Where that cannot be told (no `/proc`), it is
/// assumed to, so that nothing in use is ever removed.
pub fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
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
    pub fn write_table(&mut self, schema: &TableSchema, columns: Columns) -> Result<()> {
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
            bytes: Some(bytes.len() as u64),
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
            set_aside: None,
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
    let bytes = read_regular(&path).map_err(|e| Error::read(&path, &e))?;
    let text =
        String::from_utf8(bytes).map_err(|_| Error::input(&path, "invalid manifest: not UTF-8"))?;
    serde_json::from_str(&text).map_err(|e| Error::input(&path, format!("invalid manifest: {e}")))
}

/// The metadata of `path` if it is a regular file (not followed through a link); anything
/// else, a FIFO above all (reading one blocks forever), is an `InvalidInput` error.
fn regular_metadata(path: &Path) -> std::io::Result<fs::Metadata> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(meta)
}

/// The bytes of `path` if it is a regular file ([`regular_metadata`]); anything else is never
/// opened.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    regular_metadata(path)?;
    fs::read(path)
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
/// root: the host name, the process id, a per-process counter, and the clock's nanoseconds
/// (`<host>-<pid>-<n>-<ns>`; [`abandoned`] reads it back).
pub fn unique_suffix() -> String {
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
        w.write_table(
            &TABLE,
            Columns::new().with("n", UInt32Array::from(vec![1, 2, 3])),
        )
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
        // Simulate a kill: the process dies before publishing and runs no destructor, and its
        // pid is gone (a pid above the kernel's pid_max stands for it).
        let tmp = writer.tmp.clone();
        std::mem::forget(writer);
        let name = file_name(&tmp);
        let pid = std::process::id().to_string();
        let dead = name.replace(&format!("-{pid}-"), "-4294967295-");
        fs::rename(&tmp, tmp.with_file_name(dead)).unwrap();
        let entries = store.entries().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].state, EntryState::Incomplete);
        assert!(store.find("test", &spec(0).key()).unwrap().is_none());
        // The rerun computes and publishes; gc then removes the leftover.
        let rerun = store.run(&spec(0), false, write_numbers).unwrap();
        assert_eq!(rerun.status, JobStatus::Computed);
        assert_eq!(store.remove_incomplete(false).unwrap().len(), 1);
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
    fn an_optional_table_a_run_lacks_is_an_input_error_with_its_reason() {
        const OTHER: TableSchema = TableSchema {
            name: "others",
            ..TABLE
        };
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let input = store
            .run(&spec(0), false, write_numbers)
            .unwrap()
            .as_input();
        let read = store.read_optional_run_table(&input, &TABLE, "not written");
        assert_eq!(read.unwrap().num_rows(), 3);
        let err = store
            .read_optional_run_table(&input, &OTHER, "only some runs write others")
            .unwrap_err();
        assert!(err.is_bad_input());
        let message = err.to_string();
        assert!(message.contains("others.parquet"), "{message}");
        assert!(message.contains("only some runs write others"), "{message}");
        assert!(!message.contains("damaged"), "{message}");
    }

    #[test]
    fn a_run_without_its_manifest_is_damaged_not_trusted() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let out = store.run(&spec(0), false, write_numbers).unwrap();
        fs::remove_file(out.dir.join(MANIFEST)).unwrap();
        let entries = store.entries().unwrap();
        assert!(matches!(entries[0].state, EntryState::Damaged(_)));
        let err = store.find("test", &spec(0).key()).unwrap_err().to_string();
        assert!(err.contains("manifest.json is missing"), "{err}");
    }

    /// Damages the one published run of `spec(0)` with `damage`, then checks that listing (or,
    /// with `hashes_only`, only hash verification) sees it, that it is never served, and that
    /// the next run sets it aside, keeps its bytes, and publishes a good copy.
    fn damaged_run_is_set_aside_and_recomputed(damage: impl Fn(&Path), hashes_only: bool) {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let good = store.run(&spec(0), false, write_numbers).unwrap();
        let table = good.dir.join("numbers.parquet");
        let good_bytes = fs::read(&table).unwrap();
        damage(&good.dir);
        let listed = &store.entries().unwrap()[0].state;
        assert_eq!(
            matches!(listed, EntryState::Damaged(_)),
            !hashes_only,
            "{listed:?}"
        );
        let verified = &store.entries_with(Verify::Hashes).unwrap()[0].state;
        assert!(matches!(verified, EntryState::Damaged(_)), "{verified:?}");
        assert!(store.find("test", &spec(0).key()).is_err());
        let input = good.as_input();
        let err = store
            .read_run_table(&input, &TABLE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged run"), "{err}");

        let damaged_bytes = fs::read(&table).ok();
        let rerun = store.run(&spec(0), false, write_numbers).unwrap();
        assert_eq!(rerun.status, JobStatus::Repaired);
        assert_eq!(fs::read(&table).unwrap(), good_bytes);
        let (aside, why) = rerun.set_aside.clone().unwrap();
        assert!(!why.is_empty());
        assert_eq!(fs::read(aside.join("numbers.parquet")).ok(), damaged_bytes);
        let states: Vec<_> = store
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| e.state)
            .collect();
        assert!(
            matches!(states[..], [EntryState::SetAside, EntryState::Complete(_)]),
            "{states:?}"
        );
        assert_eq!(store.read_run_table(&input, &TABLE).unwrap().num_rows(), 3);
        // gc keeps what was set aside unless asked.
        assert!(store.remove_incomplete(false).unwrap().is_empty());
        assert_eq!(store.remove_incomplete(true).unwrap(), vec![aside]);
    }

    #[test]
    fn a_flipped_byte_is_found_by_its_hash() {
        damaged_run_is_set_aside_and_recomputed(
            |dir| {
                let path = dir.join("numbers.parquet");
                let mut bytes = fs::read(&path).unwrap();
                bytes[40] ^= 0x01;
                fs::write(&path, bytes).unwrap();
            },
            true,
        );
    }

    #[test]
    fn a_truncated_or_deleted_table_is_found_by_listing() {
        damaged_run_is_set_aside_and_recomputed(
            |dir| {
                let path = dir.join("numbers.parquet");
                let bytes = fs::read(&path).unwrap();
                fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
            },
            false,
        );
        damaged_run_is_set_aside_and_recomputed(
            |dir| fs::remove_file(dir.join("numbers.parquet")).unwrap(),
            false,
        );
    }

    #[test]
    fn an_edited_manifest_is_found_by_its_key() {
        damaged_run_is_set_aside_and_recomputed(
            |dir| {
                let path = dir.join(MANIFEST);
                let text = fs::read_to_string(&path).unwrap();
                fs::write(&path, text.replace("\"seed\": 0", "\"seed\": 1")).unwrap();
            },
            false,
        );
    }

    #[test]
    fn a_renamed_run_directory_is_not_the_run_it_names() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        let zero = store.run(&spec(0), false, write_numbers).unwrap();
        let one = store.run(&spec(1), false, write_numbers).unwrap();
        // Swap the two directories, as a user tidying up by hand might.
        let tmp = root.path().join("test/swap");
        fs::rename(&zero.dir, &tmp).unwrap();
        fs::rename(&one.dir, &zero.dir).unwrap();
        fs::rename(&tmp, &one.dir).unwrap();
        for e in store.entries().unwrap() {
            let EntryState::Damaged(why) = e.state else {
                panic!("{e:?}")
            };
            assert!(why.contains("renamed or moved"), "{why}");
        }
        let err = store.find("test", &spec(0).key()).unwrap_err().to_string();
        assert!(err.contains("renamed or moved"), "{err}");
    }

    #[test]
    fn gc_leaves_the_temporary_directory_of_a_live_process() {
        let root = tempfile::tempdir().unwrap();
        let store = ArtifactStore::new(root.path());
        // This process is alive: its writer's directory is in progress, not abandoned.
        let writer = ArtifactWriter::begin(&store, spec(0), spec(0).key()).unwrap();
        let entries = store.entries().unwrap();
        assert!(
            matches!(&entries[0].state, EntryState::InProgress(why) if why.contains("still writing")),
            "{entries:?}"
        );
        assert!(store.remove_incomplete(true).unwrap().is_empty());
        assert!(writer.tmp.is_dir());
        // The same name with a pid that cannot exist (above the kernel's pid_max) is abandoned;
        // another host's is left alone.
        let stage = root.path().join("test");
        let dead = format!(
            ".tmp-{}-{}-4294967295-0-000000001",
            spec(0).key(),
            host_name()
        );
        let foreign = format!(".tmp-{}-otherhost-1-0-000000001", spec(0).key());
        fs::create_dir(stage.join(&dead)).unwrap();
        fs::create_dir(stage.join(&foreign)).unwrap();
        assert_eq!(
            store.remove_incomplete(false).unwrap(),
            vec![stage.join(&dead)]
        );
        assert!(stage.join(&foreign).is_dir());
        drop(writer);
    }
}
