//! Typed, validated settings: the sweep of an experiment and the settings of each stage.
//!
//! A value that passes through these types is valid: a [`Sparsity`] lies in `[0, 1)`, a
//! [`Width`] is at least 1, a [`Depth`] at least 2. The same parsers serve pipeline files and
//! command-line flags, so both report a bad value with the same words. A pipeline file is
//! strict: an unknown key is an error, never silently ignored.

use crate::cluster::SlurmSettings;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A pruning-at-initialisation method (METHOD.md section 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PruneMethod {
    /// I.i.d. random scores.
    Random,
    /// `|w|`.
    Magnitude,
    /// `|g ⊙ w|` (Lee et al. 2019).
    Snip,
    /// `w ⊙ Hg` (Wang et al. 2020).
    Grasp,
    /// Iterative synaptic flow, data-free (Tanaka et al. 2020).
    Synflow,
}

impl PruneMethod {
    /// Every method, in a fixed order.
    pub const ALL: [PruneMethod; 5] = [
        PruneMethod::Random,
        PruneMethod::Magnitude,
        PruneMethod::Snip,
        PruneMethod::Grasp,
        PruneMethod::Synflow,
    ];
    /// Their names, as written in configs and on the command line.
    pub const NAMES: [&'static str; 5] = ["random", "magnitude", "snip", "grasp", "synflow"];

    /// The method's name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

impl fmt::Display for PruneMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PruneMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown method `{s}`, expected one of: {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

/// The fraction of weights removed, in `[0, 1)`; density is `1 - sparsity`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Sparsity(f64);

impl Sparsity {
    /// The sparsity.
    pub fn value(self) -> f64 {
        self.0
    }
    /// The fraction of weights kept, `1 - sparsity`.
    pub fn density(self) -> f64 {
        1.0 - self.0
    }
}

impl TryFrom<f64> for Sparsity {
    type Error = String;
    fn try_from(s: f64) -> Result<Self, String> {
        if (0.0..1.0).contains(&s) {
            Ok(Sparsity(s))
        } else {
            Err(format!(
                "sparsity must be in [0, 1) (the fraction of weights removed), got {s}"
            ))
        }
    }
}

impl From<Sparsity> for f64 {
    fn from(s: Sparsity) -> f64 {
        s.0
    }
}

impl FromStr for Sparsity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("sparsity must be a number in [0, 1), got `{s}`"))?;
        Sparsity::try_from(v)
    }
}

/// Declares a validated positive integer setting with its lower bound and error message.
macro_rules! bounded_count {
    ($(#[$doc:meta])* $name:ident, $min:expr, $what:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "u64", into = "u32")]
        pub struct $name(u32);

        impl $name {
            /// The smallest accepted value.
            pub const MIN: u32 = $min;
            /// The value.
            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl TryFrom<u64> for $name {
            type Error = String;
            fn try_from(v: u64) -> Result<Self, String> {
                match u32::try_from(v) {
                    Ok(v) if v >= $min => Ok($name(v)),
                    _ => Err(format!("{} must be an integer of at least {}, got {}", $what, $min, v)),
                }
            }
        }

        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let v: u64 = s.trim().parse().map_err(|_| {
                    format!("{} must be an integer of at least {}, got `{}`", $what, $min, s)
                })?;
                $name::try_from(v)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

bounded_count!(
    /// The hidden width n of an MLP (every hidden layer has n neurons).
    Width,
    1,
    "width"
);
bounded_count!(
    /// The number L of Linear layers of an MLP (`784 -> n -> ... -> n -> 10`); at least 2, so
    /// that there is a hidden layer.
    Depth,
    2,
    "depth"
);

/// The grid of an experiment: every stage job is one point of it (or of the part it uses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Pruning methods.
    pub methods: Vec<PruneMethod>,
    /// Hidden widths n.
    pub widths: Vec<Width>,
    /// Sparsities (fractions removed).
    pub sparsities: Vec<Sparsity>,
    /// Depths L (number of Linear layers).
    pub depths: Vec<Depth>,
    /// Run seeds; each seed is one independent run of every setting.
    pub seeds: Vec<u64>,
}

/// Settings of the MNIST data and of the data stage (METHOD.md section 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSettings {
    /// Directory of the four MNIST IDX files (gzip or raw) and their SHA256SUMS.
    pub dir: PathBuf,
    /// Scale pixels to [0, 1], then standardise them with `mean` and `std`; when false, pixels
    /// stay in [0, 1].
    pub standardise: bool,
    /// Mean subtracted by the standardisation.
    pub mean: f64,
    /// Standard deviation divided by the standardisation.
    pub std: f64,
    /// Images per class in the scoring batch of SNIP and GraSP.
    pub scoring_per_class: u32,
    /// Images per class in the kernel data set of the ntk stage.
    pub kernel_per_class: u32,
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings {
            dir: PathBuf::from("data/mnist"),
            standardise: true,
            mean: 0.1307,
            std: 0.3081,
            scoring_per_class: 10,
            kernel_per_class: 20,
        }
    }
}

impl DataSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if !(self.std > 0.0 && self.std.is_finite()) {
            let msg = format!("must be a positive number, got {}", self.std);
            return Err(Error::config(source_name, "data.std", msg));
        }
        if !self.mean.is_finite() {
            let msg = format!("must be a finite number, got {}", self.mean);
            return Err(Error::config(source_name, "data.mean", msg));
        }
        for (field, v) in [
            ("data.scoring_per_class", self.scoring_per_class),
            ("data.kernel_per_class", self.kernel_per_class),
        ] {
            if v == 0 {
                return Err(Error::config(source_name, field, "must be at least 1"));
            }
        }
        Ok(())
    }
}

/// How scores are ranked into a mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// All weight matrices ranked together (METHOD.md's default).
    Global,
    /// Each layer keeps the same fraction of its own weights.
    Layerwise,
}

impl Scope {
    /// The name written in configs and artifacts.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Global => "global",
            Scope::Layerwise => "layerwise",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "global" => Ok(Scope::Global),
            "layerwise" => Ok(Scope::Layerwise),
            _ => Err(format!(
                "unknown scope `{s}`, expected one of: global, layerwise"
            )),
        }
    }
}

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
}

impl Default for MasksSettings {
    fn default() -> Self {
        MasksSettings {
            scope: Scope::Global,
            synflow_rounds: 100,
            grasp_temperature: 200.0,
            allow_empty_layers: false,
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

/// Settings of the graphons stage (METHOD.md section 3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphonsSettings {
    /// Histogram blocks K per side (capped by a layer's size); at most 24, the largest K whose
    /// exact cut distance stays fast.
    pub k: u32,
}

impl Default for GraphonsSettings {
    fn default() -> Self {
        GraphonsSettings { k: 20 }
    }
}

impl GraphonsSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if !(1..=24).contains(&self.k) {
            let msg = format!(
                "must be in 1..=24 (the exact cut distance enumerates 2^K sets), got {}",
                self.k
            );
            return Err(Error::config(source_name, "graphons.k", msg));
        }
        Ok(())
    }
}

/// Settings of the ntk stage (METHOD.md section 4). Every ntk job computes the dense standard
/// NTK, the mask-level and the histogram-level Graphon NTK, and the empirical NTK when
/// `empirical_draws > 0`, on the data stage's kernel subset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NtkSettings {
    /// `sigma_w^2` of the NTK parameterisation **[our default: 2, the ReLU-preserving value]**.
    pub sigma_w2: f64,
    /// Blocks K per hidden layer of the histogram-level kernel (capped by the width).
    pub histogram_k: u32,
    /// Weight draws averaged by the empirical NTK; 0 skips it.
    pub empirical_draws: u32,
}

impl Default for NtkSettings {
    fn default() -> Self {
        NtkSettings {
            sigma_w2: 2.0,
            histogram_k: 64,
            empirical_draws: 0,
        }
    }
}

impl NtkSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if !(self.sigma_w2 > 0.0 && self.sigma_w2.is_finite()) {
            let msg = format!("must be a positive number, got {}", self.sigma_w2);
            return Err(Error::config(source_name, "ntk.sigma_w2", msg));
        }
        if self.histogram_k == 0 {
            let msg = "must be at least 1";
            return Err(Error::config(source_name, "ntk.histogram_k", msg));
        }
        if self.empirical_draws > 1000 {
            let msg = format!("must be at most 1000, got {}", self.empirical_draws);
            return Err(Error::config(source_name, "ntk.empirical_draws", msg));
        }
        Ok(())
    }
}

/// Settings of the training stage (METHOD.md section 5): Adam on cross-entropy, on the masked
/// MLP from the masks run's own initialisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSettings {
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's epsilon.
    pub eps: f64,
    /// Decoupled weight decay (AdamW); 0 is Adam.
    pub weight_decay: f64,
    /// Examples per step.
    pub batch_size: u32,
    /// Optimiser steps.
    pub steps: u32,
    /// Steps between evaluations on the test set (also evaluated before step 1 and at the end).
    pub eval_every: u32,
    /// Training loss whose first crossing is reported as `steps_to_threshold`.
    pub loss_threshold: f64,
    /// `cpu`, `cuda` or `metal` (the latter two need a build with that cargo feature).
    pub device: String,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            batch_size: 128,
            steps: 200,
            eval_every: 20,
            loss_threshold: 0.5,
            device: "cpu".to_string(),
        }
    }
}

impl TrainingSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        let positive = [
            ("training.learning_rate", self.learning_rate),
            ("training.eps", self.eps),
            ("training.loss_threshold", self.loss_threshold),
        ];
        for (field, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                let msg = format!("must be a positive number, got {v}");
                return Err(Error::config(source_name, field, msg));
            }
        }
        for (field, v) in [
            ("training.beta1", self.beta1),
            ("training.beta2", self.beta2),
        ] {
            if !(0.0..1.0).contains(&v) {
                let msg = format!("must be in [0, 1), got {v}");
                return Err(Error::config(source_name, field, msg));
            }
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            let msg = format!("must be a number >= 0, got {}", self.weight_decay);
            return Err(Error::config(source_name, "training.weight_decay", msg));
        }
        for (field, v) in [
            ("training.batch_size", self.batch_size),
            ("training.steps", self.steps),
            ("training.eval_every", self.eval_every),
        ] {
            if v == 0 {
                return Err(Error::config(source_name, field, "must be at least 1"));
            }
        }
        if !["cpu", "cuda", "metal"].contains(&self.device.as_str()) {
            let msg = format!("must be cpu, cuda or metal, got `{}`", self.device);
            return Err(Error::config(source_name, "training.device", msg));
        }
        Ok(())
    }
}

/// An experiment: a sweep and the settings of the stages it runs. A stage runs when its table
/// is present.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Short name of the experiment (used in reports).
    pub name: String,
    /// One sentence on what it shows.
    #[serde(default)]
    pub description: String,
    /// The grid.
    pub sweep: Sweep,
    /// The data stage (class-balanced subsets); present to run it.
    pub data: Option<DataSettings>,
    /// The masks stage; present to run it.
    pub masks: Option<MasksSettings>,
    /// The graphons stage (histograms of every mask, and their convergence); needs `masks`.
    pub graphons: Option<GraphonsSettings>,
    /// The ntk stage (kernels, spectra and metrics of every mask); needs `masks`.
    pub ntk: Option<NtkSettings>,
    /// The training stage (Adam on MNIST from each mask's initialisation); needs `masks`.
    pub training: Option<TrainingSettings>,
    /// Where `glh run --executor slurm` submits the jobs (not part of any cache key).
    pub slurm: Option<SlurmSettings>,
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, &e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates pipeline TOML; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Self> {
        let pipeline: Pipeline =
            toml::from_str(text).map_err(|e| toml_error(&e, text, source_name))?;
        pipeline.validate(source_name)?;
        Ok(pipeline)
    }

    fn validate(&self, source_name: &str) -> Result<()> {
        let s = &self.sweep;
        let lists: [(&str, Vec<String>); 5] = [
            (
                "sweep.methods",
                s.methods.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.widths",
                s.widths.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.sparsities",
                s.sparsities.iter().map(|v| v.value().to_string()).collect(),
            ),
            (
                "sweep.depths",
                s.depths.iter().map(|v| v.to_string()).collect(),
            ),
            (
                "sweep.seeds",
                s.seeds.iter().map(|v| v.to_string()).collect(),
            ),
        ];
        for (field, values) in lists {
            if values.is_empty() {
                return Err(Error::config(
                    source_name,
                    field,
                    "must list at least one value",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if values[..i].contains(v) {
                    let msg = format!("{v} is listed twice");
                    return Err(Error::config(source_name, field, msg));
                }
            }
        }
        if let Some(data) = &self.data {
            data.validate(source_name)?;
        }
        if let Some(masks) = &self.masks {
            masks.validate(source_name)?;
        }
        if let Some(graphons) = &self.graphons {
            graphons.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: histograms are taken of the sweep's masks";
                return Err(Error::config(source_name, "graphons", msg));
            }
        }
        if let Some(training) = &self.training {
            training.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: the sweep's masks are what is trained";
                return Err(Error::config(source_name, "training", msg));
            }
        }
        if let Some(slurm) = &self.slurm {
            slurm.validate(source_name)?;
        }
        if let Some(ntk) = &self.ntk {
            ntk.validate(source_name)?;
            if self.masks.is_none() {
                let msg = "needs a [masks] table: kernels are taken of the sweep's masks";
                return Err(Error::config(source_name, "ntk", msg));
            }
        }
        Ok(())
    }
}

/// Turns a TOML error into one line: `file:line:col: `table.key`: message`.
fn toml_error(err: &toml::de::Error, text: &str, source_name: &str) -> Error {
    let message = err.message().trim().replace('\n', " ");
    let Some(span) = err.span() else {
        return Error::config(source_name, "(file)", message);
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Error::config(
        format!("{source_name}:{line}:{column}"),
        field_at(text, span.start),
        message,
    )
}

/// The dotted name of the key whose line contains byte `offset`, found from the nearest
/// `[table]` header above it (good enough for the flat files we write; `(file)` otherwise).
fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let table = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    if line.starts_with('[') {
        return line
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_string();
    }
    let key = line.split('=').next().unwrap_or("").trim();
    match (table, key.is_empty()) {
        (_, true) => "(file)".to_string(),
        (Some(t), false) => format!("{t}.{key}"),
        (None, false) => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[sweep]
methods = ["random", "snip"]
widths = [16, 32]
sparsities = [0.8]
depths = [4]
seeds = [0, 1]

[data]
scoring_per_class = 2
"#;

    fn err(text: &str) -> String {
        Pipeline::from_toml(text, "p.toml").unwrap_err().to_string()
    }

    #[test]
    fn parses_a_pipeline_with_defaults() {
        let p = Pipeline::from_toml(GOOD, "p.toml").unwrap();
        assert_eq!(
            p.sweep.methods,
            vec![PruneMethod::Random, PruneMethod::Snip]
        );
        assert_eq!(p.sweep.sparsities[0].density(), 1.0 - 0.8);
        let data = p.data.unwrap();
        assert_eq!(data.scoring_per_class, 2);
        assert_eq!(data.kernel_per_class, 20);
        assert!(data.standardise);
    }

    #[test]
    fn bad_values_name_file_line_and_field() {
        assert_eq!(
            err(&GOOD.replace("[0.8]", "[1.5]")),
            "p.toml:6:14: `sweep.sparsities`: sparsity must be in [0, 1) (the fraction of weights removed), got 1.5"
        );
        assert_eq!(
            err(&GOOD.replace("[16, 32]", "[0, 32]")),
            "p.toml:5:10: `sweep.widths`: width must be an integer of at least 1, got 0"
        );
        let unknown = err(&GOOD.replace("\"snip\"", "\"snipp\""));
        assert!(
            unknown.starts_with("p.toml:4:22: `sweep.methods`: unknown variant `snipp`"),
            "{unknown}"
        );
        let typo = err(&GOOD.replace("widths", "widht"));
        assert!(
            typo.starts_with("p.toml:5:1: `sweep.widht`: unknown field `widht`"),
            "{typo}"
        );
        let section = err(&format!("{GOOD}\n[maskz]\nx = 1\n"));
        assert!(
            section.contains("`maskz`: unknown field `maskz`"),
            "{section}"
        );
        assert_eq!(
            err(&GOOD.replace("seeds = [0, 1]", "seeds = [1, 1]")),
            "p.toml: `sweep.seeds`: 1 is listed twice"
        );
        assert_eq!(
            err(&GOOD.replace("scoring_per_class = 2", "scoring_per_class = 0")),
            "p.toml: `data.scoring_per_class`: must be at least 1"
        );
        let malformed = err("name = \"t\"\n[sweep\n");
        assert!(malformed.starts_with("p.toml:2:"), "{malformed}");
        for e in [malformed, unknown, typo] {
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn command_line_parsers_share_the_rules() {
        assert_eq!("0.8".parse::<Sparsity>().unwrap().value(), 0.8);
        assert!("1".parse::<Sparsity>().is_err());
        assert!("-0.1".parse::<Sparsity>().is_err());
        assert!("NaN".parse::<Sparsity>().is_err());
        assert!("0".parse::<Width>().is_err());
        assert_eq!("2000".parse::<Width>().unwrap().get(), 2000);
        assert!("1".parse::<Depth>().is_err());
        assert_eq!("grasp".parse::<PruneMethod>().unwrap(), PruneMethod::Grasp);
        assert_eq!(
            "prune".parse::<PruneMethod>().unwrap_err(),
            "unknown method `prune`, expected one of: random, magnitude, snip, grasp, synflow"
        );
        for m in PruneMethod::ALL {
            assert_eq!(m.name().parse::<PruneMethod>().unwrap(), m);
        }
    }
}
