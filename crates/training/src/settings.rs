//! Settings of the `training` stage (METHOD.md section 5): the doc, the default and the
//! validation of each field in one place; `glh train`'s flags take their defaults from here.
//!
//! Two regimes share the stage. The default is the paper's: standard parameterisation, mean
//! cross-entropy, Adam on mini-batches of all of MNIST. The NTK regime (`parameterisation =
//! "ntk"`, `loss = "mse"`, `optimizer = "gd"`) is where the Graphon NTK's prediction of the
//! whole loss curve holds: full-batch gradient descent on the data stage's kernel images. The
//! fields the NTK regime added are left out of the cache key at their defaults, so the keys of
//! every run made before them are unchanged.

use crate::adam::AdamParams;
use crate::device::Device;
use crate::schedule::MaskSchedule;
use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// Adam's learning rate, by default.
pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;
/// Examples per step, by default.
pub const DEFAULT_BATCH_SIZE: u32 = 128;
/// The most optimiser steps a run takes: a million Adam steps of E3's network take about a day
/// on 2 cores, and the history of every step is held in memory.
pub const MAX_STEPS: u32 = 1_000_000;

/// Optimiser steps, by default.
pub const DEFAULT_STEPS: u32 = 200;
/// Steps between test-set evaluations, by default.
pub const DEFAULT_EVAL_EVERY: u32 = 20;
/// The training loss whose first crossing is reported, by default.
pub const DEFAULT_LOSS_THRESHOLD: f64 = 0.5;

/// How the network's weights are parameterised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Parameterisation {
    /// The masks run's own initialisation `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`, with biases
    /// (METHOD.md section 1): the weights the masks were scored on.
    #[default]
    Standard,
    /// METHOD.md section 4's network: `N(0, 1)` weights `V` (draw 0 of the ntk stage's stream),
    /// scaled by `sqrt(sigma_w^2 / full fan-in)`, masked, no biases; gradient descent acts on V.
    Ntk,
}

/// The training loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Loss {
    /// Mean cross-entropy of the logits against the labels.
    #[default]
    #[value(alias = "cross-entropy")]
    CrossEntropy,
    /// Squared error on one-hot targets, `sum over examples and outputs of (f - y)^2 / (2 N)`
    /// for N examples: the loss of the kernel regime's linear dynamics.
    Mse,
}

/// The optimiser, and with it the data each step sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam on mini-batches of `batch_size` from all of MNIST's training set.
    #[default]
    Adam,
    /// Full-batch gradient descent on the data stage's kernel images of the run seed (the
    /// images the kernels are computed on); `batch_size` and Adam's fields are not used.
    Gd,
}

impl Optimizer {
    /// The name in settings and tables.
    pub fn name(self) -> &'static str {
        match self {
            Optimizer::Adam => "adam",
            Optimizer::Gd => "gd",
        }
    }
}

/// sigma_w^2 of the NTK parameterisation, by default (the ntk stage's).
pub const DEFAULT_SIGMA_W2: f64 = 2.0;

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_default_sigma_w2(value: &f64) -> bool {
    *value == DEFAULT_SIGMA_W2
}

/// Settings of the training stage (METHOD.md section 5): by default Adam on cross-entropy, on
/// the masked MLP from the masks run's own initialisation; or the NTK regime (see the module).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingSettings {
    /// `standard` (the masks run's initialisation, with biases) or `ntk` (N(0, 1) weights
    /// scaled by sqrt(sigma_w^2 / fan_in), no biases; needs `optimizer = "gd"`).
    #[serde(skip_serializing_if = "is_default")]
    pub parameterisation: Parameterisation,
    /// `cross_entropy` or `mse` (squared error on one-hot targets, halved, per example).
    #[serde(skip_serializing_if = "is_default")]
    pub loss: Loss,
    /// `adam` (mini-batches of MNIST) or `gd` (full-batch gradient descent on the kernel images).
    #[serde(skip_serializing_if = "is_default")]
    pub optimizer: Optimizer,
    /// sigma_w^2 of the NTK parameterisation (used only with `parameterisation = "ntk"`).
    #[serde(skip_serializing_if = "is_default_sigma_w2")]
    pub sigma_w2: f64,
    /// Steps (updates done) after which the outputs on the training images are written to
    /// `outputs.parquet`, besides 0 and the last step, which always are (`gd` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_steps: Vec<u32>,
    /// The learning rate (Adam's, or gradient descent's eta on the parameters V).
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
    pub device: Device,
    /// `[training.schedule]`: how the mask changes during training (`rule = "imp"`, `"set"`
    /// or `"rigl"` with their settings; `static`, the default, keeps the masks run's mask).
    #[serde(skip_serializing_if = "MaskSchedule::is_static")]
    pub schedule: MaskSchedule,
}

impl Default for TrainingSettings {
    fn default() -> Self {
        TrainingSettings {
            learning_rate: DEFAULT_LEARNING_RATE,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            batch_size: DEFAULT_BATCH_SIZE,
            steps: DEFAULT_STEPS,
            eval_every: DEFAULT_EVAL_EVERY,
            loss_threshold: DEFAULT_LOSS_THRESHOLD,
            device: Device::default(),
            parameterisation: Parameterisation::default(),
            loss: Loss::default(),
            optimizer: Optimizer::default(),
            sigma_w2: DEFAULT_SIGMA_W2,
            output_steps: Vec::new(),
            schedule: MaskSchedule::default(),
        }
    }
}

impl TrainingSettings {
    /// The steps whose outputs a `gd` run writes: 0, `output_steps` and the last, ascending.
    pub fn recorded_output_steps(&self) -> Vec<u32> {
        let mut steps = vec![0, self.steps];
        steps.extend(&self.output_steps);
        steps.sort_unstable();
        steps.dedup();
        steps
    }

    /// Adam's hyper-parameters.
    pub fn adam(&self) -> AdamParams {
        AdamParams {
            lr: self.learning_rate,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

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
        // Training computes in f32: a value must survive the conversion (1e-320 is 0 in f32,
        // 1e39 is infinite), and stay a normal number so that it does not lose its digits.
        for (field, v) in [
            ("training.learning_rate", self.learning_rate),
            ("training.eps", self.eps),
            ("training.sigma_w2", self.sigma_w2),
        ] {
            let single = v as f32;
            if v > 0.0 && !(single.is_normal() && single.is_finite()) {
                let msg = format!(
                    "{v:e} is outside f32's normal range ({:e} to {:e}), in which training computes",
                    f32::MIN_POSITIVE,
                    f32::MAX
                );
                return Err(Error::config(source_name, field, msg));
            }
        }
        if self.weight_decay > f64::from(f32::MAX) {
            let msg = format!(
                "{} is infinite in f32, in which training computes",
                self.weight_decay
            );
            return Err(Error::config(source_name, "training.weight_decay", msg));
        }
        if self.steps > MAX_STEPS {
            let msg = format!(
                "must be at most {MAX_STEPS} (its history is held in memory), got {}",
                self.steps
            );
            return Err(Error::config(source_name, "training.steps", msg));
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
        let train_images = glh_data::mnist::Split::Train.image_count();
        if self.batch_size as usize > train_images {
            let msg = format!(
                "{} is larger than MNIST's training set ({train_images} images): a batch draws \
                 distinct images of one epoch",
                self.batch_size
            );
            return Err(Error::config(source_name, "training.batch_size", msg));
        }
        if !(self.sigma_w2 > 0.0 && self.sigma_w2.is_finite()) {
            let msg = format!("must be a positive number, got {}", self.sigma_w2);
            return Err(Error::config(source_name, "training.sigma_w2", msg));
        }
        if self.parameterisation == Parameterisation::Ntk && self.optimizer != Optimizer::Gd {
            let msg = "`ntk` trains with `optimizer = \"gd\"` only: Adam's step does not scale \
                       with the parameterisation, so it would not be the NTK regime";
            return Err(Error::config(source_name, "training.parameterisation", msg));
        }
        if !self.output_steps.is_empty() && self.optimizer != Optimizer::Gd {
            let msg = "outputs are recorded on the kernel images, which only `optimizer = \"gd\"` \
                       trains on";
            return Err(Error::config(source_name, "training.output_steps", msg));
        }
        if let Some(&s) = self.output_steps.iter().find(|&&s| s > self.steps) {
            let msg = format!("step {s} is after the last step ({})", self.steps);
            return Err(Error::config(source_name, "training.output_steps", msg));
        }
        if !self.schedule.is_static() && self.optimizer != Optimizer::Adam {
            let msg = "a mask schedule trains with `optimizer = \"adam\"` on mini-batches, as \
                       IMP, SET and RigL were published";
            return Err(Error::config(source_name, "training.schedule.rule", msg));
        }
        self.schedule.validate(source_name, self.steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    /// Every closed set is spelled the same in a pipeline file and on the command line.
    #[test]
    fn closed_sets_are_spelled_alike_in_toml_and_on_the_command_line() {
        fn same<T: ValueEnum + Serialize>() {
            for v in T::value_variants() {
                let toml_name = serde_json::to_value(v).unwrap();
                let cli_name = v.to_possible_value().unwrap().get_name().to_string();
                assert_eq!(toml_name, serde_json::Value::String(cli_name));
            }
        }
        same::<Parameterisation>();
        same::<Loss>();
        same::<Optimizer>();
        same::<Device>();
        assert_eq!(
            Loss::from_str("cross-entropy", false),
            Ok(Loss::CrossEntropy)
        );
        assert_eq!(Device::from_str("cuda", false), Ok(Device::Cuda));
        assert!(Device::from_str("gpu", false).is_err());
        let bad: Result<TrainingSettings, _> = toml::from_str("device = \"gpu\"");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("unknown variant `gpu`")
        );
    }
}
