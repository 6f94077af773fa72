//! The `masks` stage: pruning MLPs at initialisation (METHOD.md section 2).
//!
//! - [`scorers`]: the [`Scorer`] trait and its five methods (Random, Magnitude, SNIP, GraSP with
//!   an exact Hessian-gradient product, SynFlow in f64);
//! - [`methods`]: what the stage asks of a method ([`PruningMethod`]: its scoring batch, its
//!   key settings, its mask) and [`method_for`], the one registry; the shuffled control;
//! - [`select`]: scores to a mask with an exact kept count, global or layer-wise, ties broken by
//!   a seeded order;
//! - [`prune`]: the one pruning loop, single-shot or iterative (SynFlow's exponential schedule);
//! - [`packing`]: the bit layout of mask rows in Parquet;
//! - [`magnitude_law`]: Magnitude's layer densities in closed form at any width and in the
//!   wide limit, from the initial weights' law (no mask drawn);
//! - [`settings`]: [`MasksSettings`], the `[masks]` table;
//! - [`stage`]: the stage's jobs ([`stage::MasksJob`], [`stage::MasksStage`]), its `masks` and
//!   `layers` tables, and reading masks back;
//! - [`export`]: a stored mask as a Parquet edge list (any tool) or as the pruned network in
//!   safetensors (PyTorch, named as `torch.nn.utils.prune` names it), with its scoring batch.

pub mod export;
pub mod magnitude_law;
pub mod methods;
pub mod packing;
pub mod prune;
pub mod scorers;
pub mod select;
pub mod settings;
pub mod stage;

pub use methods::{PruningMethod, method_for};
pub use prune::prune;
pub use scorers::{Scorer, ScoringData};
pub use settings::MasksSettings;
