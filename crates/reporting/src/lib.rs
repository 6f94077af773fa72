//! The `reporting` stage: reads the artifacts with polars and writes the paper's figures
//! (plotters, PNG and SVG) and a report (Markdown and self-contained HTML) with the claims of
//! METHOD.md section 6 checked against our numbers.
//!
//! - [`tables`]: lazy scans of every complete run's table, restricted to a pipeline's sweep;
//! - [`stats`]: Pearson, Spearman and bootstrap percentile intervals;
//! - [`figures`]: heat-map grids and line/scatter charts with an embedded font;
//! - [`document`]: the report's blocks, rendered to Markdown and HTML;
//! - [`report`]: the sections per pipeline and the claims table.

pub mod document;
pub mod figures;
pub mod report;
pub mod stats;
pub mod tables;

pub use report::{ReportOutput, ReportSettings, write_report};
