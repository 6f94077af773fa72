//! The masked MLP shared by the masks, ntk and training stages.
//!
//! - [`mlp`]: the architecture `784 -> n -> ... -> n -> 10` (L Linear layers, ReLU, biases) and
//!   its seeded initialisation `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (METHOD.md section 1). The
//!   canonical weights are `f32`, the precision training uses; every other consumer promotes them
//!   exactly to `f64`.
//! - [`mask`]: the validated binary mask of a network (0/1 only, shapes checked at construction).
//! - [`backprop`]: the network's math in `f64` on `w ⊙ m`: forward pass, gradients, and the exact
//!   Hessian-vector product (Pearlmutter's R-operator), all sequential so that results do not
//!   depend on the number of threads.
//!
//! It owns no scoring rule, kernel or optimiser.

pub mod backprop;
pub mod mask;
pub mod mlp;

pub use mask::{LayerMask, Mask};
pub use mlp::{Architecture, Linear, Mlp};
