//! The masked MLP shared by the masks, ntk and training stages.
//!
//! - [`mlp`]: the architecture `784 -> n -> ... -> n -> 10` (L Linear layers, ReLU, biases) and
//!   its seeded initialisation `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (METHOD.md section 1). The
//!   canonical weights are `f32`, the precision training uses; every other consumer promotes them
//!   exactly to `f64`.
//! - [`ntk_init`]: the network of the NTK parameterisation (METHOD.md section 4): `N(0, 1)`
//!   weights from a seeded stream, scaled by `sigma_w / sqrt(full fan-in)`, no biases; the one
//!   draw the ntk stage's empirical kernel and the training stage's gradient descent share.
//! - [`mask`]: the validated binary mask of a network (0/1 only, shapes checked at construction).
//! - [`backprop`]: the network's math in `f64` on `w ⊙ m`: forward pass, gradients, and the exact
//!   Hessian-vector product (Pearlmutter's R-operator), all sequential so that results do not
//!   depend on the number of threads.
//! - [`simd`]: the runtime dispatch to AVX-512 (else pulp's AVX2 or scalar code) that the ntk
//!   and training stages' elementwise kernels share, so one CPU check decides for both.
//!
//! It owns no scoring rule, kernel or optimiser.

pub mod backprop;
pub mod mask;
pub mod mlp;
pub mod ntk_init;
pub mod simd;

pub use mask::{LayerMask, Mask, MaskCheckpoint};
pub use mlp::{Architecture, Linear, Mlp};
