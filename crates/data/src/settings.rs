//! Settings of the MNIST data and of the `data` stage: the doc, the default and the validation
//! of each field in one place. Other stages read them too (normalisation, subset sizes), and
//! `glh`'s flags take their defaults from here.

use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where `glh` looks for MNIST unless told otherwise (relative to the directory it runs in).
pub const DEFAULT_DIR: &str = "data/mnist";
/// Images per class in the SNIP/GraSP scoring batch, by default.
pub const DEFAULT_SCORING_PER_CLASS: u32 = 10;
/// Images per class in the kernel data set, by default.
pub const DEFAULT_KERNEL_PER_CLASS: u32 = 20;

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
            dir: PathBuf::from(DEFAULT_DIR),
            standardise: true,
            mean: 0.1307,
            std: 0.3081,
            scoring_per_class: DEFAULT_SCORING_PER_CLASS,
            kernel_per_class: DEFAULT_KERNEL_PER_CLASS,
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
