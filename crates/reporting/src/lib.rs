//! The `reporting` stage: reads the artifacts with polars and writes the paper's figures
//! (plotters, PNG and SVG) and a report (Markdown and self-contained HTML) with the claims of
//! METHOD.md section 6 checked against our numbers.
//!
//! - [`experiment`]: what the report knows of an experiment (name, sweep, stages, settings,
//!   and the runs its plan names: the only runs the report reads);
//! - [`tables`]: lazy scans of a table in the planned runs, and filters on a sweep's values;
//! - [`stats`]: Pearson, Spearman and bootstrap percentile intervals;
//! - [`figures`]: heat-map grids and line/scatter charts with an embedded font;
//! - [`claims`]: the claims as typed [`claims::Claim`]s with a [`claims::Verdict`], each a
//!   function of a polars frame, tested on synthetic frames;
//! - [`paper_e3`]: the paper's E3 claims (a) to (e), each one statistic with a seed-bootstrap
//!   interval, under the paper's graphon kernel and our mask-level kernel;
//! - [`dynamics`]: E4's claims (ours): the mask-level Graphon NTK predicts gradient descent,
//!   better with width, and the kernels rank the methods' speeds;
//! - [`document`]: the report's blocks, rendered to Markdown and HTML;
//! - [`report`]: the report's frame (title, per-experiment sections, the claims table) and its
//!   atomic write; `sections` holds one module per section (graphons, ntk, training,
//!   dynamics).

pub mod claims;
pub mod document;
pub mod dynamics;
pub mod experiment;
pub mod figures;
pub mod paper_e3;
pub mod report;
mod sections;
pub mod stats;
pub mod tables;

pub use experiment::{DynamicsRuns, Experiment, GraphonKernelRuns, GraphonsRuns};
pub use report::{ReportOutput, ReportSettings, write_report};
