//! The pruning methods, as the masks stage sees them: whether a method reads the scoring batch,
//! which of its settings enter a run's key, and how it prunes. The stage asks these questions
//! of [`method_for`]'s answer and of nothing else, so the key, the planned data job and the
//! batch the method reads cannot disagree.
//!
//! A scoring rule is a [`Scorer`] (`crate::scorers`) pruned by the one loop of `crate::prune`;
//! a method that is not a score (the shuffled and rewired controls, the graphon designs)
//! implements [`PruningMethod`] in its own file here. Adding a method is its variant in
//! `glh_artifacts::config::PruneMethod`, its file and its arm in [`method_for`].

mod designed;
mod rewired;
mod shuffled;

pub use designed::{
    BlockTable, Shape, draw_layer, grid_positions, inclusion_probabilities, layer_positions,
};
pub use rewired::{SWAPS_PER_EDGE, rewire};
pub use shuffled::uniform_subset;

use crate::prune::prune;
use crate::scorers::{
    GraspScorer, MagnitudeScorer, RandomScorer, Scorer, ScoringData, SnipScorer, SynflowScorer,
};
use crate::settings::MasksSettings;
use glh_artifacts::config::{Classifier, PruneMethod, Scope};
use glh_artifacts::seeding::stream;
use glh_model::{LayerMask, Mask, Mlp};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::collections::BTreeMap;

/// A method's own settings that enter the masks key, by name (flattened into the key's
/// parameters; settings a method does not read stay out of its key).
pub type KeySettings = BTreeMap<&'static str, Value>;

/// How much to keep and how: what every method is given.
#[derive(Clone, Copy, Debug)]
pub struct Pruning {
    /// Fraction of weights kept.
    pub density: f64,
    /// Global or layer-wise ranking.
    pub scope: Scope,
    /// The run seed (initialisation, scoring batch, controls' draws).
    pub seed: u64,
    /// Seed of the order that breaks ties between equal scores.
    pub tie_seed: u64,
    /// Accept a layer that keeps no weight.
    pub allow_empty_layers: bool,
    /// Whether the classifier is pruned or left dense.
    pub classifier: Classifier,
}

/// A pruning method.
pub trait PruningMethod: Sync {
    /// Whether it reads the scoring batch: sets the key's data input, the planned data job
    /// and whether the batch is loaded.
    fn needs_data(&self) -> bool;

    /// Whether it places the input layer's pixels by their variance over the training images
    /// (the graphon designs): the stage then loads that order into the scoring data.
    fn needs_pixel_order(&self) -> bool {
        false
    }

    /// The graphons run whose histograms it draws from (a design with a histogram target):
    /// the stage then loads them into the scoring data ([`ScoringData::histograms`]).
    fn target_histograms(&self) -> Option<&str> {
        None
    }

    /// Its settings that enter the run's key.
    fn key_settings(&self) -> KeySettings;

    /// The mask of `net` (`data` is the scoring batch when [`Self::needs_data`]);
    /// `on_round(e, rounds, mask)` sees every round's mask.
    fn prune(
        &self,
        net: &Mlp,
        data: Option<&ScoringData>,
        how: &Pruning,
        on_round: &mut dyn FnMut(usize, usize, &Mask),
    ) -> Result<Mask, String>;
}

/// The method of `method` with the stage's settings.
pub fn method_for(
    method: PruneMethod,
    settings: &MasksSettings,
    seed: u64,
) -> Box<dyn PruningMethod> {
    let scored = |scorer: Box<dyn Scorer>| -> Box<dyn PruningMethod> { Box::new(Scored(scorer)) };
    match method {
        PruneMethod::Random => scored(Box::new(RandomScorer { seed })),
        PruneMethod::Magnitude => scored(Box::new(MagnitudeScorer)),
        PruneMethod::Snip => scored(Box::new(SnipScorer)),
        PruneMethod::Grasp => scored(Box::new(GraspScorer {
            temperature: settings.grasp_temperature,
        })),
        PruneMethod::Synflow => scored(Box::new(SynflowScorer {
            rounds: settings.synflow_rounds as usize,
        })),
        PruneMethod::Shuffled(base) => Box::new(Control {
            base: method_for(*base, settings, seed),
            stream: "masks/shuffled",
            redraw: shuffled::shuffle,
        }),
        PruneMethod::Rewired(base) => Box::new(Control {
            base: method_for(*base, settings, seed),
            stream: "masks/rewired",
            redraw: rewired::rewire_layer,
        }),
        PruneMethod::Graphon(source) => Box::new(designed::Designed {
            source: method_for(*source, settings, seed),
            target: settings.graphon.first().clone(),
        }),
    }
}

/// A control: its base method's mask with every layer redrawn by `redraw`, from the stream
/// `stream` of the run seed (layers in order). It reads the scoring batch and keys the settings
/// its base does: its name (`shuffled:snip`) is in the key already, and the base's settings are
/// what its mask depends on.
struct Control {
    base: Box<dyn PruningMethod>,
    stream: &'static str,
    redraw: fn(&LayerMask, &mut ChaCha8Rng) -> LayerMask,
}

impl PruningMethod for Control {
    fn needs_data(&self) -> bool {
        self.base.needs_data()
    }

    fn key_settings(&self) -> KeySettings {
        self.base.key_settings()
    }

    fn prune(
        &self,
        net: &Mlp,
        data: Option<&ScoringData>,
        how: &Pruning,
        on_round: &mut dyn FnMut(usize, usize, &Mask),
    ) -> Result<Mask, String> {
        let mask = self.base.prune(net, data, how, on_round)?;
        let mut rng = stream(how.seed, self.stream);
        let layers = mask
            .layers()
            .iter()
            .map(|layer| (self.redraw)(layer, &mut rng))
            .collect();
        Mask::from_layers(&net.arch, layers)
    }
}

/// A scoring rule, pruned by the one loop of `crate::prune`.
struct Scored(Box<dyn Scorer>);

impl PruningMethod for Scored {
    fn needs_data(&self) -> bool {
        self.0.needs_data()
    }

    fn key_settings(&self) -> KeySettings {
        self.0.key_settings()
    }

    fn prune(
        &self,
        net: &Mlp,
        data: Option<&ScoringData>,
        how: &Pruning,
        on_round: &mut dyn FnMut(usize, usize, &Mask),
    ) -> Result<Mask, String> {
        prune(self.0.as_ref(), net, data, how, on_round)
    }
}
