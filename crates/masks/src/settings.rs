//! Settings of the `masks` stage (METHOD.md section 2): the doc, the default and the validation
//! of each field in one place; `glh masks`'s flags take their defaults from here.

use glh_artifacts::config::{Classifier, Scope};
use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// Rounds of SynFlow's schedule, by default (Tanaka et al.'s 100).
pub const DEFAULT_SYNFLOW_ROUNDS: u32 = 100;
/// GraSP's temperature, by default (Wang et al.'s 200).
pub const DEFAULT_GRASP_TEMPERATURE: f64 = 200.0;

/// Settings of the masks stage (METHOD.md section 2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MasksSettings {
    /// Rank all layers together (`global`) or each layer alone (`layerwise`).
    pub scope: Scope,
    /// Rounds of SynFlow's exponential schedule (density `d^(e/E)` after round e).
    pub synflow_rounds: u32,
    /// Temperature T dividing the logits in GraSP's loss.
    pub grasp_temperature: f64,
    /// Accept a mask that removes every weight of a layer (otherwise an error).
    pub allow_empty_layers: bool,
    /// `pruned` (default): every Linear layer is masked; `dense`: the classifier keeps all
    /// its weights and the sparsity applies to the other layers.
    pub classifier: Classifier,
}

impl Default for MasksSettings {
    fn default() -> Self {
        MasksSettings {
            scope: Scope::Global,
            synflow_rounds: DEFAULT_SYNFLOW_ROUNDS,
            grasp_temperature: DEFAULT_GRASP_TEMPERATURE,
            allow_empty_layers: false,
            classifier: Classifier::Pruned,
        }
    }
}

impl MasksSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if self.synflow_rounds == 0 {
            return Err(Error::config(
                source_name,
                "masks.synflow_rounds",
                "must be at least 1",
            ));
        }
        if !(self.grasp_temperature > 0.0 && self.grasp_temperature.is_finite()) {
            let msg = format!("must be a positive number, got {}", self.grasp_temperature);
            return Err(Error::config(source_name, "masks.grasp_temperature", msg));
        }
        Ok(())
    }
}
