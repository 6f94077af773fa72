//! Settings of the `masks` stage (METHOD.md section 2): the doc, the default and the validation
//! of each field in one place; `glh masks`'s flags take their defaults from here.

use glh_artifacts::config::{Classifier, Scope};
use glh_artifacts::{ArtifactKey, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// The target graphon of the `graphon:<method>` designs: the `[masks.graphon]` table, or
    /// several (`[[masks.graphon]]`), each drawn by its own masks job.
    pub graphon: GraphonTargets,
}

/// The designs' targets: one (`[masks.graphon]`, the table `glh masks` builds from its flags)
/// or several (`[[masks.graphon]]`, an array of such tables: a pipeline then draws each design
/// of its sweep once per target, one masks job each, and its report tells them apart by
/// target). Never empty; written back as it was read (a table for one, an array for several).
#[derive(Clone, Debug, PartialEq)]
pub struct GraphonTargets(Vec<GraphonTarget>);

impl GraphonTargets {
    /// Its targets, in file order.
    pub fn all(&self) -> &[GraphonTarget] {
        &self.0
    }

    /// The target of a job that draws one: the first (a job's settings hold one target, see
    /// [`MasksSettings::with_target`]).
    pub fn first(&self) -> &GraphonTarget {
        &self.0[0]
    }
}

impl Default for GraphonTargets {
    fn default() -> Self {
        GraphonTarget::Constant.into()
    }
}

impl From<GraphonTarget> for GraphonTargets {
    fn from(target: GraphonTarget) -> Self {
        GraphonTargets(vec![target])
    }
}

impl Serialize for GraphonTargets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => one.serialize(s),
            several => several.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for GraphonTargets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        // Read as a value first, so that a bad field is reported by the target's own message
        // (an untagged enum would only say that no variant matched).
        let value = serde_json::Value::deserialize(d)?;
        let targets = if value.is_array() {
            Vec::<GraphonTarget>::deserialize(value).map_err(D::Error::custom)?
        } else {
            vec![GraphonTarget::deserialize(value).map_err(D::Error::custom)?]
        };
        if targets.is_empty() {
            return Err(D::Error::custom("masks.graphon: give at least one target"));
        }
        Ok(GraphonTargets(targets))
    }
}

/// The target graphon of a design (`graphon:<method>`; issue #32), the `[masks.graphon]` table:
/// `target = "constant"`, `target = "power"` with `beta`, `target = "block"` with `rows` and
/// `cols`, `target = "histogram"` with `graphons`, or `target = "table"` with `file`. Positions run from 0 to 1: a hidden neuron i of n sits at `(i + 1/2) / n`, the same on
/// both sides of its layer; classes in index order; pixels by their variance over the training
/// images, most variable first. Each layer keeps its source method's count exactly, so a
/// target is a shape: its scale is solved by the count (`crate::methods` documents the draw).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// Layer l's SAS histogram in a stored graphons run (`glh graphons`, or a pipeline's
    /// `[graphons]`; of any masks run or edge list, at any width), as a step graphon over its
    /// blocks in degree order: `W = min(1, c H_l(u, v))`, so a method's limit at one width can be
    /// drawn at another. The run must have one histogram per layer of the design's network.
    Histogram {
        /// The graphons run's key (`glh ls graphons` lists them).
        graphons: String,
    },
    /// Layer l's block densities in a Parquet file (`glh schema` documents `target_table`:
    /// `layer`, `row_block`, `col_block`, `block_density`), drawn as `histogram` draws a stored
    /// run's: a graphon from anywhere (a paper's figure, another library's estimate). The file
    /// is read once, when the job is planned; its bytes' SHA-256, not its path, enter the key.
    Table {
        /// The Parquet file (relative to the directory `glh` runs in).
        file: PathBuf,
    },
}

impl GraphonTarget {
    /// Its `target` name, as written in `[masks.graphon]` and in keys.
    pub fn name(&self) -> &'static str {
        match self {
            GraphonTarget::Constant => "constant",
            GraphonTarget::Power { .. } => "power",
            GraphonTarget::Block { .. } => "block",
            GraphonTarget::Histogram { .. } => "histogram",
            GraphonTarget::Table { .. } => "table",
        }
    }

    /// `constant`, `power(beta=2)`, `block(rows=0.25,cols=0.5)`: how labels and the report name
    /// a target.
    pub fn label(&self) -> String {
        match self {
            GraphonTarget::Constant => "constant".into(),
            GraphonTarget::Power { beta } => format!("power(beta={beta})"),
            GraphonTarget::Block { rows, cols } => format!("block(rows={rows},cols={cols})"),
            GraphonTarget::Histogram { graphons } => format!("histogram({graphons})"),
            GraphonTarget::Table { file } => format!("table({})", file.display()),
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
            GraphonTarget::Histogram { ref graphons } if ArtifactKey::parse(graphons).is_none() => {
                bad(
                    "masks.graphon.graphons",
                    format!("`{graphons}` is not a run key (16 hexadecimal digits)"),
                )
            }
            GraphonTarget::Table { ref file } if file.as_os_str().is_empty() => bad(
                "masks.graphon.file",
                "name the Parquet file of the target's block densities".into(),
            ),
            GraphonTarget::Power { .. }
            | GraphonTarget::Histogram { .. }
            | GraphonTarget::Table { .. } => Ok(()),
        }
    }
}

/// A family of design targets with one parameter: what a design search (`glh design`, the
/// `[design]` stage) searches over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// `power` with the parameter as beta (>= 0).
    Power,
    /// `block` with the parameter as the block's share of both sides, in (0, 1].
    Block,
}

impl Family {
    /// The target at `parameter`.
    pub fn target(self, parameter: f64) -> GraphonTarget {
        match self {
            Family::Power => GraphonTarget::Power { beta: parameter },
            Family::Block => GraphonTarget::Block {
                rows: parameter,
                cols: parameter,
            },
        }
    }

    /// Its default grid.
    pub fn default_grid(self) -> Vec<f64> {
        match self {
            Family::Power => vec![0.0, 0.5, 1.0, 2.0, 4.0, 8.0],
            Family::Block => vec![0.05, 0.1, 0.2, 0.4, 0.7, 1.0],
        }
    }

    /// Its name, as `--family` and the `design_points` table spell it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Power => "power",
            Family::Block => "block",
        }
    }

    /// Its parameter's name: `beta`, or `share` (of each side, the block's).
    pub fn parameter_name(self) -> &'static str {
        match self {
            Family::Power => "beta",
            Family::Block => "share",
        }
    }

    /// The family named `name` (`power`, `block`), as tables spell it.
    pub fn from_name(name: &str) -> Option<Family> {
        [Family::Power, Family::Block]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Whether `parameter` is in its domain.
    pub fn admits(self, parameter: f64) -> bool {
        match self {
            Family::Power => parameter >= 0.0 && parameter.is_finite(),
            Family::Block => parameter > 0.0 && parameter <= 1.0,
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
            graphon: GraphonTargets::default(),
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
        self.graphon
            .all()
            .iter()
            .try_for_each(|t| t.validate(source_name))
    }

    /// These settings with the one design target `target`: a masks job's.
    pub fn with_target(&self, target: GraphonTarget) -> MasksSettings {
        MasksSettings {
            graphon: target.into(),
            ..self.clone()
        }
    }
}
