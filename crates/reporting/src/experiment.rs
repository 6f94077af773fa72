//! What the report needs to know of an experiment: its name, its sweep, its settings as text,
//! which stages it ran and the exact runs its plan names ([`PlannedRuns`]). `glh-pipeline`
//! builds it from a pipeline file (`glh_pipeline::report_plan`), so the report depends on no
//! stage crate and no pipeline code.

use glh_artifacts::ArtifactKey;
use glh_artifacts::config::{Classifier, Level, PruneMethod, Rescale, Sweep};
use std::collections::{BTreeMap, BTreeSet};

/// Stage runs named by their stage and key: the jobs of a plan. The report reads these runs
/// and no others, so a store shared with other pipelines (other settings at the same sweep
/// points) never changes a report's numbers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlannedRuns(BTreeMap<String, BTreeSet<ArtifactKey>>);

impl PlannedRuns {
    /// No runs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the run `key` of `stage`.
    pub fn insert(&mut self, stage: &str, key: ArtifactKey) {
        self.0.entry(stage.to_string()).or_default().insert(key);
    }

    /// The keys of `stage`, in key order.
    pub fn keys(&self, stage: &str) -> impl Iterator<Item = &ArtifactKey> {
        self.0.get(stage).into_iter().flatten()
    }

    /// Every `(stage, key)`, stage by stage.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArtifactKey)> {
        self.0
            .iter()
            .flat_map(|(stage, keys)| keys.iter().map(move |k| (stage.as_str(), k)))
    }

    /// The number of runs.
    pub fn len(&self) -> usize {
        self.0.values().map(BTreeSet::len).sum()
    }

    /// Whether there is no run.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` of `stage` is one of these runs.
    pub fn contains(&self, stage: &str, key: &ArtifactKey) -> bool {
        self.0.get(stage).is_some_and(|keys| keys.contains(key))
    }

    /// Adds every run of `other`.
    pub fn extend(&mut self, other: &PlannedRuns) {
        for (stage, key) in other.iter() {
            self.insert(stage, key.clone());
        }
    }

    /// The runs of `self` that `other` holds too.
    pub fn intersection(&self, other: &PlannedRuns) -> PlannedRuns {
        let mut out = PlannedRuns::new();
        for (stage, key) in self.iter().filter(|(s, k)| other.contains(s, k)) {
            out.insert(stage, key.clone());
        }
        out
    }
}

/// One reported experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct Experiment {
    /// Its short name (section titles, figure directories).
    pub name: String,
    /// One sentence on what it shows.
    pub description: String,
    /// Its sweep: sections split and label the runs by it.
    pub sweep: Sweep,
    /// The runs its plan names: the report reads these and no others, and refuses to report
    /// while one is missing (unless asked for a partial report).
    pub runs: PlannedRuns,
    /// The runs of its dense baseline: the same plan at sparsity 0 with Random (so every mask
    /// is full) at its widths, depths and seeds. Read only where another reported pipeline
    /// plans them too (`pipelines/e3-dense.toml` for E3, `e4-dense.toml` for E4).
    pub dense_runs: PlannedRuns,
    /// Its settings as TOML, shown under its section title.
    pub settings_toml: String,
    /// Whether its masks prune the classifier or leave it dense (`[masks] classifier`): how
    /// many layers the c^L law counts.
    pub classifier: Classifier,
    /// The layer densities its methods' masks have in closed form, per sweep point (global
    /// Magnitude's: `glh_masks::magnitude_law`), drawn beside the measured ones.
    pub layer_density_laws: Vec<LayerDensityLaw>,
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
    /// Its training runs under a mask schedule and it has a `[trajectories]` table (E6): the
    /// trajectories section reports it instead of E3's training sections.
    pub trajectories: bool,
    /// The target of every planned run that reads a design's masks (its own masks run, its
    /// kernels, its training): with several `[[masks.graphon]]` targets, runs of one design
    /// share their run columns and differ by this alone.
    pub design_targets: DesignTargets,
}

/// The targets of a plan's design runs, by key (a key names its stage too).
pub type DesignTargets = BTreeMap<ArtifactKey, DesignTarget>;

/// The target graphon a design run was drawn from (issue #32).
#[derive(Clone, Debug, PartialEq)]
pub struct DesignTarget {
    /// How the masks stage labels it: `constant`, `power(beta=2)`, `block(rows=..,cols=..)`.
    pub label: String,
    /// The power family's exponent beta, for a power target (`None` for another target).
    pub power_beta: Option<f64>,
}

impl Experiment {
    /// Whether its designs were drawn from more than one target (a family sweep, such as
    /// `pipelines/e5-spectra.toml`): the sections that pool a method's runs by run columns
    /// leave its designs to the design section.
    pub fn sweeps_design_targets(&self) -> bool {
        let mut labels = self.design_targets.values().map(|t| &t.label);
        labels
            .next()
            .is_some_and(|first| labels.any(|other| other != first))
    }
}

/// The layer densities a method's masks have in closed form at one (depth, level, width), and
/// their limit as the width grows.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerDensityLaw {
    /// The method.
    pub method: PruneMethod,
    /// Linear layers L.
    pub depth: u32,
    /// The sweep level.
    pub level: Level,
    /// Hidden width n.
    pub width: u32,
    /// The expected kept fraction of each layer, input layer first.
    pub densities: Vec<f64>,
    /// Their limit as n grows (`None` where it is not known in closed form).
    pub limit: Option<Vec<f64>>,
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
