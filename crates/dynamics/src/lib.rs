//! The `dynamics` stage: does the Graphon NTK predict training? It compares the loss curve of
//! full-batch gradient descent in the NTK regime (the training stage with `parameterisation =
//! "ntk"`, `loss = "mse"`, `optimizer = "gd"`) with the curves linearised gradient descent
//! predicts under three kernels: the network's own empirical NTK at initialisation, the
//! mask-level Graphon NTK of its mask, and the Graphon NTK of its configuration's graphon.
//!
//! - [`prediction`]: the stability bound `2N / l_1`, the curve error and the relative area of
//!   the curve `L_t = |(I - eta K / N)^t r_0|^2 / (2N)` (`glh_ntk::linearised`, re-exported);
//! - [`settings`]: [`DynamicsSettings`], the `[dynamics]` table;
//! - [`stage`]: the `dynamics` jobs ([`stage::DynamicsJob`], [`stage::DynamicsStage`]) and their
//!   `curves` and `errors` tables.
//!
//! It computes no kernel formula or curve of its own (those are `glh-ntk`'s) and trains nothing
//! (that is `glh-training`'s).

pub mod prediction;
pub mod settings;
pub mod stage;

pub use settings::{DynamicsSettings, PredictingKernel};
