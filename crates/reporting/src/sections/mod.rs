//! One module per report section, each an `impl` of the report's builder: what a pipeline's
//! `[graphons]`, `[ntk]`, `[graphon_ntk]` and `[training]` tables call for. The claims' logic is not here but in
//! `crate::claims`; a section reads the frame and hands it over.

mod graphon_ntk;
mod graphons;
mod ntk;
mod training;
