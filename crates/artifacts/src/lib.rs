//! The shared contract of every graphon-lab stage.
//!
//! This crate owns what two stages must agree on and nothing else:
//!
//! - [`config`]: the validated values several stages share (the sweep and its axes: methods,
//!   widths, depths, sparsities, scopes) and one-line TOML errors;
//! - [`job`]: the [`Job`] and [`Stage`] traits and the [`Plan`] that the executors run;
//! - [`schemas`]: the schema of every Parquet table a stage writes, column by column, with docs,
//!   and [`RunColumns`], the values of the run columns that lead them;
//! - [`key`]: canonical parameters and the content-addressed cache key of a stage run;
//! - [`store`]: the artifact store (`<root>/<stage>/<key>/`), with atomic publication and a
//!   `manifest.json` per run;
//! - [`columns`]: a table's columns by name, placed by the writer under the schema's names;
//! - [`parquet_io`]: writing tables (zstd, key-value metadata, deterministic bytes) and reading
//!   them back with schema validation;
//! - [`seeding`]: the seeded ChaCha streams, one per purpose, that all randomness comes from;
//! - [`memory`]: the memory limit, and the check a job's estimate passes before it allocates;
//! - [`files`]: a user's input files (regular files only, read once) and output files (one
//!   safe writer).
//!
//! It never computes anything numerical and never depends on a stage crate: each stage's
//! settings live in that stage.

pub mod columns;
pub mod config;
pub mod error;
pub mod files;
pub mod job;
pub mod key;
pub mod memory;
pub mod parquet_io;
pub mod schema;
pub mod schemas;
pub mod seeding;
pub mod store;

pub use columns::Columns;
pub use error::{Error, Result};
pub use job::{Job, JobId, Plan, PlannedJob, Stage};
pub use key::ArtifactKey;
pub use schema::{Column, ColumnType, TableSchema};
pub use schemas::RunColumns;
pub use store::{ArtifactStore, ArtifactWriter, JobOutcome, JobSpec, Manifest};

/// The version of the graphon-lab code that produced an artifact (written into manifests).
pub const PRODUCER: &str = concat!("graphon-lab ", env!("CARGO_PKG_VERSION"));
