//! The `ntk` stage (METHOD.md section 4): the Graphon NTK of pruned MLPs, the empirical NTK of
//! finite masked networks, and their spectra. Everything is f64.
//!
//! - [`relu`]: the arc-cosine closed forms `E[relu(a) relu(b)]` and `E[relu'(a) relu'(b)]`;
//! - [`pairs`]: the unordered data pairs `a <= b` a kernel is evaluated on, in chunks;
//! - [`chain`]: layer graphons as step functions with position measures: the mask-level chain
//!   (K = n), the histogram-level chain (K-block SAS with one shared neuron order per hidden
//!   layer), and constant chains (W = 1 is the dense standard NTK);
//! - [`recursion`]: the Graphon NTK recursion on any chain, as blocked matrix products;
//! - [`input_layer`]: the recursion's first layer, by pair products or around the inputs'
//!   baseline (most of an image is background);
//! - [`empirical`]: the empirical NTK of a masked network in NTK parameterisation, layer by layer;
//! - [`linearised`]: the loss curve linearised gradient descent follows under a kernel;
//! - [`alignment`]: a kernel against the labels: kernel-target alignment and the loss it
//!   predicts after T steps at a trace-normalised rate;
//! - [`spectrum`]: eigenvalues (faer) and the spectral metrics, the paper's and ours;
//! - [`views`]: the centred and top-removed views of a kernel, and which component its top
//!   eigenvector is;
//! - [`configuration`]: a configuration's seed-averaged K-block graphon (the paper's E3
//!   kernel), and finite masks drawn from it;
//! - [`design`]: the kernel of a `graphon:<method>` design from its graphon alone, and the
//!   search over a target family's parameter for a spectral criterion;
//! - [`design_stage`]: the `design` jobs (a pipeline's `[design]` table), one search per sweep
//!   point, whose choice the point's designs are drawn at;
//! - [`settings`]: [`NtkSettings`], the `[ntk]` table, and [`settings::GraphonNtkSettings`],
//!   the `[graphon_ntk]` table;
//! - [`stage`]: the `ntk` jobs ([`stage::KernelsJob`], [`stage::NtkStage`]) and their three
//!   tables;
//! - [`graphon_stage`]: the `graphon_ntk` jobs, one per configuration over its seeds.

pub mod alignment;
pub mod chain;
pub mod configuration;
pub mod design;
pub mod design_stage;
pub mod empirical;
pub mod graphon_stage;
pub mod input_layer;
pub mod linearised;
pub mod pairs;
pub mod products;
pub mod recursion;
pub mod relu;
pub mod settings;
pub mod spectrum;
pub mod stage;
pub mod views;

pub use chain::GraphonChain;
pub use recursion::graphon_ntk;
pub use settings::NtkSettings;
