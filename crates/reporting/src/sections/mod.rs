//! One module per report section, each an `impl` of the report's builder: what a pipeline's
//! `[graphons]`, `[ntk]`, `[graphon_ntk]` and `[training]` tables call for, the per-layer
//! densities of a pipeline without `[graphons]`, the paper's E3 claims of an experiment
//! that trains or computes graphon kernels, its kernels' views, its controls and, for a
//! pipeline that draws a design from several targets, the design family. The claims' logic is not here but in `crate::claims` and
//! `crate::paper_e3`; a section reads the frame and hands it over.

mod controls;
mod designs;
mod dynamics;
mod graphon_ntk;
mod graphons;
mod kernel_views;
mod masks;
mod ntk;
mod paper_e3;
mod training;
mod trajectories;

pub(crate) use paper_e3::side_by_side;
