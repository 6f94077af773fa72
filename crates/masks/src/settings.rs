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
    /// The target graphon of the `graphon:<method>` designs (`[masks.graphon]`).
    pub graphon: GraphonTarget,
}

/// The target graphon of a design (`graphon:<method>`; issue #32), the `[masks.graphon]` table:
/// `target = "constant"`, `target = "power"` with `beta`, or `target = "block"` with `rows` and
/// `cols`. Positions run from 0 to 1: a hidden neuron i of n sits at `(i + 1/2) / n`, the same on
/// both sides of its layer; classes in index order; pixels by their variance over the training
/// images, most variable first. Each layer keeps its source method's count exactly, so a
/// target is a shape: its scale is solved by the count (`crate::methods` documents the draw).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case", deny_unknown_fields)]
pub enum GraphonTarget {
    /// `W(u, v) = p`: the kept entries uniform in each layer (in law, the shuffled control).
    #[default]
    Constant,
    /// `W(u, v) = min(1, c ((1 - u)(1 - v))^beta)`, c set by the layer's kept count: beta = 0 is
    /// constant; larger beta piles the kept weights onto the first neurons and pixels.
    Power {
        /// The exponent, at least 0.
        beta: f64,
    },
    /// A dense top-left block, `W = 1` on `[0, rows) x [0, cols)`, and the rest at the one
    /// floor density the kept count leaves (SynFlow-like); a count smaller than the block
    /// spreads uniformly over the block alone.
    Block {
        /// The block's share of the rows (the layer's outputs), in (0, 1].
        rows: f64,
        /// The block's share of the columns (the layer's inputs), in (0, 1].
        cols: f64,
    },
}

impl GraphonTarget {
    /// Its `target` name, as written in `[masks.graphon]` and in keys.
    pub fn name(self) -> &'static str {
        match self {
            GraphonTarget::Constant => "constant",
            GraphonTarget::Power { .. } => "power",
            GraphonTarget::Block { .. } => "block",
        }
    }

    /// Checks the fields that types alone cannot.
    fn validate(&self, source_name: &str) -> Result<()> {
        let bad = |field: &str, msg: String| Err(Error::config(source_name, field, msg));
        match *self {
            GraphonTarget::Constant => Ok(()),
            GraphonTarget::Power { beta } if !(beta >= 0.0 && beta.is_finite()) => bad(
                "masks.graphon.beta",
                format!("must be a number >= 0, got {beta}"),
            ),
            GraphonTarget::Block { rows, cols } => {
                for (field, share) in [("rows", rows), ("cols", cols)] {
                    if !(share > 0.0 && share <= 1.0) {
                        return bad(
                            &format!("masks.graphon.{field}"),
                            format!("must be in (0, 1] (a share of the layer's side), got {share}"),
                        );
                    }
                }
                Ok(())
            }
            GraphonTarget::Power { .. } => Ok(()),
        }
    }
}

impl Default for MasksSettings {
    fn default() -> Self {
        MasksSettings {
            scope: Scope::Global,
            synflow_rounds: DEFAULT_SYNFLOW_ROUNDS,
            grasp_temperature: DEFAULT_GRASP_TEMPERATURE,
            allow_empty_layers: false,
            classifier: Classifier::Pruned,
            graphon: GraphonTarget::Constant,
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
        self.graphon.validate(source_name)
    }
}
