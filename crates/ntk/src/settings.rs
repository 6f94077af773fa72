//! Settings of the `ntk` stage (METHOD.md section 4): the doc, the default and the validation
//! of each field in one place; `glh ntk`'s flags take their defaults from here.

use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// `sigma_w^2`, by default: 2, the ReLU-preserving value.
pub const DEFAULT_SIGMA_W2: f64 = 2.0;
/// Blocks K per hidden layer of the histogram-level kernel, by default.
pub const DEFAULT_HISTOGRAM_K: u32 = 64;
/// Weight draws of the empirical NTK, by default (0: not computed).
pub const DEFAULT_EMPIRICAL_DRAWS: u32 = 0;
/// Steps T of the trace-normalised gradient descent whose predicted loss ratio the metrics
/// report, by default (E3's 200 Adam steps).
pub const DEFAULT_PREDICTED_STEPS: u32 = 200;
/// The most empirical draws accepted.
pub const MAX_EMPIRICAL_DRAWS: u32 = 1000;

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
    /// Steps T of the metric `predicted_loss_ratio` (linearised gradient descent at the rate
    /// `N / trace`, see `ntk::alignment`).
    pub predicted_steps: u32,
}

/// The most steps `predicted_loss_ratio` predicts: far past where any kernel's curve has
/// flattened at the rate `N / trace`, and a bound on the curve it holds.
pub const MAX_PREDICTED_STEPS: u32 = 100_000;

impl Default for NtkSettings {
    fn default() -> Self {
        NtkSettings {
            sigma_w2: DEFAULT_SIGMA_W2,
            histogram_k: DEFAULT_HISTOGRAM_K,
            empirical_draws: DEFAULT_EMPIRICAL_DRAWS,
            predicted_steps: DEFAULT_PREDICTED_STEPS,
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
        if !(1..=MAX_PREDICTED_STEPS).contains(&self.predicted_steps) {
            let msg = format!(
                "must be 1 to {MAX_PREDICTED_STEPS} (the predicted curve is held in memory), got {}",
                self.predicted_steps
            );
            return Err(Error::config(source_name, "ntk.predicted_steps", msg));
        }
        if self.empirical_draws > MAX_EMPIRICAL_DRAWS {
            let msg = format!(
                "must be at most {MAX_EMPIRICAL_DRAWS}, got {}",
                self.empirical_draws
            );
            return Err(Error::config(source_name, "ntk.empirical_draws", msg));
        }
        Ok(())
    }
}

/// Blocks K per hidden side of a configuration's graphon, by default (the paper's).
pub const DEFAULT_GRAPHON_K: u32 = 64;
/// Images of the graphon kernel, by default (the paper's 1024).
pub const DEFAULT_KERNEL_SIZE: u32 = 1024;
/// The most images a graphon kernel takes (MNIST's training set).
pub const MAX_KERNEL_SIZE: u32 = 60_000;

/// Settings of the `graphon_ntk` jobs (`[graphon_ntk]`, METHOD.md section 7): the paper's E3
/// kernel, the Graphon NTK of each configuration's seed-averaged K-block graphon on
/// `kernel_size` MNIST training images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphonNtkSettings {
    /// Blocks K per hidden side of the graphon (capped by the width).
    pub k: u32,
    /// The sigma_w^2 values to compute the kernel at: the paper's 1 and our 2 by default, so a
    /// difference between the two readings can be told apart from the change of sigma_w^2.
    pub sigma_w2: Vec<f64>,
    /// Kernel images, as class-balanced as the count allows (`glh_data::subsets::class_counts`:
    /// 1024 is 103 of digits 0 to 3 and 102 of the others).
    pub kernel_size: u32,
    /// Seed of the draw of the kernel images (stream `data/graphon_kernel_set`).
    pub kernel_seed: u64,
    /// Also draw one finite mask from the graphon (stream `ntk/graphon_draw/layer<l>`; with
    /// `seed_kernels`, one from each seed's own graphon too, streams
    /// `ntk/graphon_draw/seed<s>/layer<l>`) and compute its mask-level kernel
    /// (`kernel = "drawn"`), the paper's text, which should agree with the graphon kernel up
    /// to O(1/sqrt(n)). Costs O(n^2) per image pair: ~50 s at n = 1024 and 80% sparsity on 1024
    /// images and 2 cores.
    pub draw_masks: bool,
    /// Seed of the drawn masks.
    pub draw_seed: u64,
    /// Also the Graphon NTK of each seed's own graphon (its masks alone, same K and images),
    /// at the first sigma_w^2 of the list, into `seed_metrics`: the report's seed-bootstrap
    /// intervals for the paper's claims need one value per seed. One more kernel per seed; the
    /// other sigma_w^2 are not repeated, since a bias-free ReLU kernel only scales by
    /// sigma_w^(2L) and every scale-free metric stays the same.
    pub seed_kernels: bool,
}

impl Default for GraphonNtkSettings {
    fn default() -> Self {
        GraphonNtkSettings {
            k: DEFAULT_GRAPHON_K,
            sigma_w2: vec![1.0, 2.0],
            kernel_size: DEFAULT_KERNEL_SIZE,
            kernel_seed: 0,
            draw_masks: false,
            draw_seed: 0,
            seed_kernels: false,
        }
    }
}

impl GraphonNtkSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        let field = |f: &str| format!("graphon_ntk.{f}");
        if self.k == 0 {
            return Err(Error::config(source_name, field("k"), "must be at least 1"));
        }
        if self.sigma_w2.is_empty() {
            let msg = "must list at least one value";
            return Err(Error::config(source_name, field("sigma_w2"), msg));
        }
        if let Some(v) = self.sigma_w2.iter().find(|v| !(**v > 0.0 && v.is_finite())) {
            let msg = format!("must be positive numbers, got {v}");
            return Err(Error::config(source_name, field("sigma_w2"), msg));
        }
        let sigmas = &self.sigma_w2;
        if let Some(i) = (0..sigmas.len()).find(|&i| sigmas[..i].contains(&sigmas[i])) {
            let msg = format!("{} is listed twice", sigmas[i]);
            return Err(Error::config(source_name, field("sigma_w2"), msg));
        }
        if !(2..=MAX_KERNEL_SIZE).contains(&self.kernel_size) {
            let msg = format!(
                "must be in 2..={MAX_KERNEL_SIZE} (MNIST's training images), got {}",
                self.kernel_size
            );
            return Err(Error::config(source_name, field("kernel_size"), msg));
        }
        Ok(())
    }
}
