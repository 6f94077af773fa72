//! What the report needs to know of an experiment: its name, its sweep, its settings as text
//! and which stages it ran. The command line builds it from a pipeline file, so the report
//! depends on no stage crate and no pipeline code.

use glh_artifacts::config::{Rescale, Sweep};

/// One reported experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Its short name (section titles, figure directories).
    pub name: String,
    /// One sentence on what it shows.
    pub description: String,
    /// Its sweep: the report reads only runs inside it.
    pub sweep: Sweep,
    /// Its settings as TOML, shown under its section title.
    pub settings_toml: String,
    /// Its `[graphons]` table, if it has one (histograms and convergence runs).
    pub graphons: Option<GraphonsRuns>,
    /// It has kernel runs (an `[ntk]` table).
    pub ntk: bool,
    /// Its `[graphon_ntk]` table, if it has one.
    pub graphon_ntk: Option<GraphonKernelRuns>,
    /// It has training runs (a `[training]` table).
    pub training: bool,
    /// Its `[dynamics]` table's runs, if it has one (its training is gradient descent in the
    /// NTK regime, reported by the dynamics section instead of the Adam one).
    pub dynamics: Option<DynamicsRuns>,
}

/// Which dynamics runs an experiment made (its `[training]` settings): the report reads only
/// those.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicsRuns {
    /// Gradient descent's learning rate eta.
    pub learning_rate: f64,
    /// Gradient-descent steps T.
    pub steps: u32,
    /// sigma_w^2 of the NTK parameterisation.
    pub sigma_w2: f64,
}

/// Which histogram and convergence runs an experiment's `[graphons]` table made: the report
/// reads only those, since one store may hold runs of several settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GraphonsRuns {
    /// Histogram blocks K per side.
    pub k: u32,
    /// What its convergence jobs compared: the histograms, or `H / p`.
    pub rescale: Rescale,
}

/// Which graphon kernel runs an experiment's `[graphon_ntk]` table made: the report reads only
/// those.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GraphonKernelRuns {
    /// Blocks K per hidden side (the table's `k` is `min(K, width)`).
    pub k: u32,
    /// Kernel images (the table's `n_points`).
    pub kernel_size: u32,
    /// The first sigma_w^2 of its list: the seed kernels' (`seed_metrics`), and the one the
    /// claims read the pooled kernel at (scale-free metrics do not depend on it).
    pub first_sigma_w2: f64,
}
