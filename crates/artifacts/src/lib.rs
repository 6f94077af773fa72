//! The shared contract of every graphon-lab stage.
//!
//! This crate owns what two stages must agree on and nothing else:
//!
//! - [`config`]: the typed, validated settings of a sweep and of each stage (pipeline files);
//! - [`cluster`]: the settings of the Slurm executor (a pipeline's `[slurm]` table);
//! - [`schemas`]: the schema of every Parquet table a stage writes, column by column, with docs;
//! - [`key`]: canonical parameters and the content-addressed cache key of a stage run;
//! - [`store`]: the artifact store (`<root>/<stage>/<key>/`), with atomic publication and a
//!   `manifest.json` per run;
//! - [`parquet_io`]: writing tables (zstd, key-value metadata, deterministic bytes) and reading
//!   them back with schema validation;
//! - [`seeding`]: the seeded ChaCha streams, one per purpose, that all randomness comes from.
//!
//! It never computes anything numerical and never depends on a stage crate.

pub mod cluster;
pub mod config;
pub mod error;
pub mod key;
pub mod parquet_io;
pub mod schema;
pub mod schemas;
pub mod seeding;
pub mod store;

pub use error::{Error, Result};
pub use key::ArtifactKey;
pub use schema::{Column, ColumnType, TableSchema};
pub use store::{ArtifactStore, ArtifactWriter, JobOutcome, JobSpec, Manifest};

/// The version of the graphon-lab code that produced an artifact (written into manifests).
pub const PRODUCER: &str = concat!("graphon-lab ", env!("CARGO_PKG_VERSION"));
