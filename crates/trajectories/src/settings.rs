//! Settings of the `trajectories` stage: the histograms' resolution, the cut distance and the
//! checkpoint kernels' sigma_w^2.

use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// The `[trajectories]` table. It needs a `[training]` table with a mask schedule
/// (`[training.schedule]`); a static run has no trajectory and gets no job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrajectorySettings {
    /// Histogram blocks K per side (capped by a layer's size), for the histograms, their
    /// distances and the checkpoints' kernels; at most `glh_graphons::settings::MAX_K`.
    pub k: u32,
    /// Whether to bound the cut distance of each checkpoint to the start and to the previous
    /// one (exact where K <= 24, as at the default K, a certified interval above).
    pub cut: bool,
    /// sigma_w^2 of the checkpoints' histogram Graphon NTK.
    pub sigma_w2: f64,
}

impl Default for TrajectorySettings {
    fn default() -> Self {
        TrajectorySettings {
            k: glh_graphons::settings::DEFAULT_K,
            cut: true,
            sigma_w2: glh_ntk::settings::DEFAULT_SIGMA_W2,
        }
    }
}

impl TrajectorySettings {
    /// Checks the fields that types alone cannot; errors name the field.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        let max = glh_graphons::settings::MAX_K;
        if !(1..=max).contains(&self.k) {
            let msg = format!("must be in 1..={max}, got {}", self.k);
            return Err(Error::config(source_name, "trajectories.k", msg));
        }
        if !(self.sigma_w2 > 0.0 && self.sigma_w2.is_finite()) {
            let msg = format!("must be a positive number, got {}", self.sigma_w2);
            return Err(Error::config(source_name, "trajectories.sigma_w2", msg));
        }
        Ok(())
    }
}
