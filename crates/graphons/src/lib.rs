//! The `graphons` stage (METHOD.md section 3): from masks to step graphons.
//!
//! This first part holds the numerical core; the stage (artifacts, CLI, pipelines, edge-list
//! input) comes with the rest of issue #4.
//!
//! - [`sas`]: degree sorting of a bipartite mask and its K_r x K_c SAS density histogram with
//!   exact block boundaries for any width;
//! - [`step`]: step graphons on equal blocks, the L2 distance between step graphons of any sizes
//!   and the exact cut-norm distance of two K-block step graphons;
//! - [`sampling`]: masks sampled from a known graphon `W(u, v)`, for tests and graphon-guided
//!   pruning.

pub mod sampling;
pub mod sas;
pub mod step;

pub use step::StepGraphon;
