//! The masked MLP shared by the masks, ntk and training stages (issue #3).
//!
//! It will own the L-layer network `784 -> n -> ... -> n -> 10` (ReLU, biases), its seeded
//! initialisation `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` (METHOD.md section 1), and the forward
//! pass on `w ⊙ m`. It will not own scoring, kernels or optimisers. Empty until then.
