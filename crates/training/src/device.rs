//! The compute device a training run uses: a closed set, spelled `cpu`, `cuda` and `metal` in
//! pipeline files, on the command line and in the `device` column.

use glh_artifacts::{Error, Result};

/// Runs candle's element-wise CPU ops on the calling thread, unless `CANDLE_NUM_THREADS` says
/// otherwise (a process calls this first: `glh`'s `main`, each benchmark).
///
/// Why: candle keeps a private pool (one thread fewer than the cores) whose worker spins 25,000
/// times after every op, outside the job pool that the local executor sizes to the cores. Two
/// E3 training runs side by side took 24.5 s with it and 18.2 s without (one alone: 10.7 s and
/// 9.6 s). The products, a step's work, run on faer inside the job pool. The bytes do not
/// change (checked on E3 runs): candle's element-wise ops are per element.
///
/// # Safety
/// Sets an environment variable: call it before the process starts any other thread.
pub unsafe fn candle_ops_on_the_calling_thread() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: the caller guarantees no other thread exists yet.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") }
    }
}
use serde::{Deserialize, Serialize};

/// Where a network trains. Part of the training key: f32 products differ across backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Device {
    /// This machine's CPU (faer's f32 products on rayon).
    #[default]
    Cpu,
    /// The first CUDA GPU (a build with the `cuda` feature).
    Cuda,
    /// The first Metal GPU (a build with the `metal` feature).
    Metal,
}

impl Device {
    /// The name in settings and tables.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::Metal => "metal",
        }
    }

    /// candle's device; a backend this build was compiled without is a configuration error
    /// naming the cargo feature to enable.
    pub fn open(self) -> Result<candle_core::Device> {
        let name = self.name();
        let missing = |feature: &str| {
            Error::config(
                "settings",
                "training.device",
                format!(
                    "`{name}` needs a build with the `{feature}` feature \
                     (cargo build --release -p glh-cli --features {feature})"
                ),
            )
        };
        let failed = |e: candle_core::Error| Error::Unsupported(format!("cannot open {name}: {e}"));
        match self {
            Device::Cpu => Ok(candle_core::Device::Cpu),
            Device::Cuda if cfg!(feature = "cuda") => {
                candle_core::Device::new_cuda(0).map_err(failed)
            }
            Device::Cuda => Err(missing("cuda")),
            Device::Metal if cfg!(feature = "metal") => {
                candle_core::Device::new_metal(0).map_err(failed)
            }
            Device::Metal => Err(missing("metal")),
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
