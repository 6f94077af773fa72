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
}

impl Default for NtkSettings {
    fn default() -> Self {
        NtkSettings {
            sigma_w2: DEFAULT_SIGMA_W2,
            histogram_k: DEFAULT_HISTOGRAM_K,
            empirical_draws: DEFAULT_EMPIRICAL_DRAWS,
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
