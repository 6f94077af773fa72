//! Settings of the `training` stage (METHOD.md section 5): the doc, the default and the
//! validation of each field in one place; `glh train`'s flags take their defaults from here.

use crate::adam::AdamParams;
use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// Adam's learning rate, by default.
pub const DEFAULT_LEARNING_RATE: f64 = 1e-3;
/// Examples per step, by default.
pub const DEFAULT_BATCH_SIZE: u32 = 128;
/// Optimiser steps, by default.
pub const DEFAULT_STEPS: u32 = 200;
/// Steps between test-set evaluations, by default.
pub const DEFAULT_EVAL_EVERY: u32 = 20;
/// The training loss whose first crossing is reported, by default.
pub const DEFAULT_LOSS_THRESHOLD: f64 = 0.5;
/// The device, by default.
pub const DEFAULT_DEVICE: &str = "cpu";

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
            learning_rate: DEFAULT_LEARNING_RATE,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            batch_size: DEFAULT_BATCH_SIZE,
            steps: DEFAULT_STEPS,
            eval_every: DEFAULT_EVAL_EVERY,
            loss_threshold: DEFAULT_LOSS_THRESHOLD,
            device: DEFAULT_DEVICE.to_string(),
        }
    }
}

impl TrainingSettings {
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
        if !["cpu", "cuda", "metal"].contains(&self.device.as_str()) {
            let msg = format!("must be cpu, cuda or metal, got `{}`", self.device);
            return Err(Error::config(source_name, "training.device", msg));
        }
        Ok(())
    }
}
