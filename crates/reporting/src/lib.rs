//! The `reporting` stage: reads the artifacts with polars and writes the paper's figures
//! (plotters, PNG and SVG) and a report (Markdown and self-contained HTML) with the claims of
//! METHOD.md section 6 checked against our numbers.
//!
//! - [`experiment`]: what the report knows of an experiment (name, sweep, stages, settings,
//!   and the runs its plan names: the only runs the report reads);
//! - [`tables`]: lazy scans of a table in the planned runs, and filters on a sweep's values;
//! - [`stats`]: Pearson, Spearman and bootstrap percentile intervals;
//! - [`figures`]: heat-map grids and line/scatter charts with an embedded font;
//! - [`claims`]: the claims' vocabulary: [`claims::Claim`], [`claims::Statement`],
//!   [`claims::Verdict`];
//! - [`experiments`]: each experiment's claims (E1 to E4), functions of polars frames, each
//!   tested on a frame where it holds and one where it fails;
//! - [`document`]: the report's blocks, rendered to Markdown and HTML;
//! - [`report`]: the report's frame (title, per-experiment sections, the claims table) and its
//!   atomic write; `sections` holds one module per section (graphons, ntk, training,
//!   dynamics).

pub mod claims;
pub mod document;
pub mod experiment;
pub mod experiments;
pub mod figures;
pub mod report;
mod sections;
pub mod stats;
pub mod tables;

pub use experiment::{DynamicsRuns, Experiment, GraphonKernelRuns, GraphonsRuns};
pub use report::{ReportOutput, ReportSettings, write_report};
