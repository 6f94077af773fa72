//! Settings of the `dynamics` stage: which kernels predict, and the graphon's resolution.

use glh_artifacts::config::KernelKind;
use glh_artifacts::{Error, Result};
use serde::{Deserialize, Serialize};

/// A kernel that predicts a gradient-descent curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PredictingKernel {
    /// The trained network's own NTK at initialisation (same weights), all `10N x 10N` entries
    /// with the cross-output terms; its gap to the observed curve is the kernel's drift.
    Empirical,
    /// The mask-level Graphon NTK of the network's mask (K = n), one block per output.
    Mask,
    /// The Graphon NTK of the configuration's graphon (the seed-averaged K-block SAS graphon
    /// of all seeds' masks of the same method, depth, width and sparsity), one block per output.
    Graphon,
}

impl PredictingKernel {
    /// The kernel it is, as the kernel tables name it.
    pub fn kind(self) -> KernelKind {
        match self {
            PredictingKernel::Empirical => KernelKind::Empirical,
            PredictingKernel::Mask => KernelKind::Mask,
            PredictingKernel::Graphon => KernelKind::Graphon,
        }
    }

    /// The name in settings and tables: its [`KernelKind`]'s.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }
}

/// Blocks per hidden side of the configuration graphon, by default (the paper's K).
pub const DEFAULT_GRAPHON_K: u32 = 64;

/// The `[dynamics]` table. It needs a `[training]` table in the NTK regime
/// (`parameterisation = "ntk"`, `loss = "mse"`, `optimizer = "gd"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicsSettings {
    /// The kernels whose predictions are compared with the observed curve.
    pub kernels: Vec<PredictingKernel>,
    /// Blocks K per hidden side of the configuration graphon (`graphon` kernel).
    pub graphon_k: u32,
}

impl Default for DynamicsSettings {
    fn default() -> Self {
        DynamicsSettings {
            kernels: vec![
                PredictingKernel::Empirical,
                PredictingKernel::Mask,
                PredictingKernel::Graphon,
            ],
            graphon_k: DEFAULT_GRAPHON_K,
        }
    }
}

impl DynamicsSettings {
    /// Checks the fields that types alone cannot.
    pub fn validate(&self, source_name: &str) -> Result<()> {
        if self.kernels.is_empty() {
            return Err(Error::config(
                source_name,
                "dynamics.kernels",
                "name at least one of empirical, mask, graphon",
            ));
        }
        let mut sorted = self.kernels.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.kernels.len() {
            return Err(Error::config(
                source_name,
                "dynamics.kernels",
                "a kernel is listed twice",
            ));
        }
        if self.graphon_k == 0 {
            return Err(Error::config(
                source_name,
                "dynamics.graphon_k",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
