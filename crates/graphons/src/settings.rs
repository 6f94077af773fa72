//! Settings of the `graphons` stage (METHOD.md section 3): the doc, the default and the
//! validation in one place; `glh graphons`'s flags take their defaults from here.

pub use glh_artifacts::config::Rescale;
use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// Histogram blocks K per side, by default.
pub const DEFAULT_K: u32 = 20;
/// The largest K. Up to 24 the cut distance is enumerated exactly (2^K sets); above, it is a
/// certified interval whose certificate is an eigenproblem of size 2K + 2 (milliseconds at the
/// paper's K = 64, a fraction of a second at this bound).
pub const MAX_K: u32 = 256;

/// Settings of the graphons stage (METHOD.md section 3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphonsSettings {
    /// Histogram blocks K per side (capped by a layer's size); at most [`MAX_K`]. The paper
    /// uses 64; the cut distance is exact up to 24 and a certified interval above.
    pub k: u32,
    /// What the convergence jobs compare: the histograms as they are, or each divided by its
    /// layer's density (the sparse regime's normalisation). Histogram runs store both.
    pub rescale: Rescale,
}

impl Default for GraphonsSettings {
    fn default() -> Self {
        GraphonsSettings {
            k: DEFAULT_K,
            rescale: Rescale::None,
        }
    }
}

impl GraphonsSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if !(1..=MAX_K).contains(&self.k) {
            let msg = format!("must be in 1..={MAX_K}, got {}", self.k);
            return Err(Error::config(source_name, "graphons.k", msg));
        }
        Ok(())
    }
}
