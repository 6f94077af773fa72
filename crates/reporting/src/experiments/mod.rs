//! The report's claims by experiment: each module holds one experiment's claims as functions
//! of the frames its sections read, each tested on a synthetic frame where it holds and one
//! where it fails.
//!
//! - [`e1`]: convergence of the masks' graphons with width (the paper's E1, and our sparse
//!   regime);
//! - [`e2`]: the Graphon NTK of pruned masks: the `c^L` law and energy concentration;
//! - [`e3`]: the spectra against training speed: ours (top-5 energy predicts speed) and the
//!   paper's claims (a) to (e) ([`e3::paper`]);
//! - [`e4`] (ours): the mask-level Graphon NTK predicts gradient descent, better with width,
//!   and the kernels rank the methods' speeds;
//! - [`e5`] (ours): designs drawn from a chosen graphon against the methods. (The
//!   within-family claim of `pipelines/e5-spectra.toml` is E3's rule,
//!   [`e3::loss_falls_with`], on the family's runs.)
//! - [`e6`] (ours): masks that change during training (IMP, SET, RigL): do they converge with
//!   width at every checkpoint, and does their graphon move beyond noise?

pub mod e1;
pub mod e2;
pub mod e3;
pub mod e4;
pub mod e5;
pub mod e6;
