//! The `graphons` stage (METHOD.md section 3): from masks to step graphons.
//!
//! - [`sas`]: degree sorting of a bipartite mask and its K_r x K_c SAS density histogram with
//!   exact block boundaries for any width;
//! - [`step`]: step graphons on equal blocks, the L2 distance between step graphons of any sizes
//!   and the exact cut-norm distance of two K-block step graphons;
//! - [`sampling`]: masks sampled from a known graphon `W(u, v)`, for tests and graphon-guided
//!   pruning;
//! - [`noise`]: the noise floor of a histogram distance (seed to seed) and the bias-corrected
//!   squared distance between expected histograms, with a seed-bootstrap interval;
//! - [`smoothing`]: total-variation smoothing (Chambolle) of histograms for pictures;
//! - [`settings`]: [`GraphonsSettings`], the `[graphons]` table;
//! - [`stage`]: the `graphons` jobs (histograms and degree profiles of one masks run) and the
//!   `convergence` jobs (distances to the largest width's seed-averaged histogram).

pub mod cut_bounds;
pub mod noise;
pub mod safetensors_masks;
pub mod sampling;
pub mod sas;
pub mod settings;
pub mod smoothing;
pub mod stage;
pub mod step;

pub use settings::GraphonsSettings;
pub use step::StepGraphon;
