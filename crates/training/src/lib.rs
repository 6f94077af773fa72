//! The `training` stage (METHOD.md section 5): candle trains the masked MLPs on MNIST.
//!
//! - [`device`]: `cpu`, `cuda` or `metal`, with a clear error for a backend the build lacks;
//! - [`batches`]: the seeded order of training examples, epoch by epoch;
//! - [`masked_mlp`]: the MLP as candle variables, built from `glh-model`'s initialisation, with
//!   the forward pass on `w ⊙ m`;
//! - [`train`]: Adam on cross-entropy, with the loss of every step and test evaluations;
//! - [`settings`]: [`TrainingSettings`], the `[training]` table;
//! - [`stage`]: the `training` jobs ([`stage::TrainingJob`], [`stage::TrainingStage`]) and
//!   their `history` and `summary` tables.

pub mod batches;
pub mod device;
pub mod masked_mlp;
pub mod settings;
pub mod stage;
pub mod train;

pub use masked_mlp::MaskedMlp;
pub use settings::TrainingSettings;
pub use train::{History, MnistTensors, train};
