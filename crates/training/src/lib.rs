//! The `training` stage (METHOD.md section 5): candle trains the masked MLPs on MNIST.
//!
//! - [`device`]: `cpu`, `cuda` or `metal`, with a clear error for a backend the build lacks;
//! - [`batches`]: the seeded order of training examples, epoch by epoch;
//! - [`masked_mlp`]: the pruned MLP as candle tensors, built from `glh-model`'s initialisation
//!   and kept pruned, with its backward pass written out (no autograd graph);
//! - [`products`]: the matrix products (faer's f32 product on the CPU, candle's elsewhere);
//! - [`sparse`]: the sparse route of a mostly pruned network on the CPU (only its kept weights);
//! - [`adam`]: Adam fused into one in-place pass per parameter (tensor ops off the CPU);
//! - [`train`]: Adam on mini-batches, and full-batch gradient descent on the kernel images (the
//!   NTK regime, with the outputs on those images), with the loss of every step and test
//!   evaluations;
//! - [`settings`]: [`TrainingSettings`], the `[training]` table;
//! - [`stage`]: the `training` jobs ([`stage::TrainingJob`], [`stage::TrainingStage`]) and
//!   their `history` and `summary` tables.

pub mod adam;
pub mod batches;
pub mod device;
pub mod masked_mlp;
pub mod products;
pub mod schedule;
pub mod settings;
pub mod sparse;
pub mod stage;
pub mod train;

pub use adam::AdamParams;
pub use device::Device;
pub use masked_mlp::MaskedMlp;
pub use settings::{Loss, Optimizer, Parameterisation, TrainingSettings};
pub use train::{History, MnistTensors, Outputs, Trained, train, train_full_batch};
