//! The compute device named in the settings.

use candle_core::Device;
use glh_artifacts::{Error, Result};

/// The device `name` (`cpu`, `cuda` or `metal`); a backend this build was compiled without is
/// a configuration error naming the cargo feature to enable.
pub fn device(name: &str) -> Result<Device> {
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
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Device::new_cuda(0).map_err(failed),
        "cuda" => Err(missing("cuda")),
        "metal" if cfg!(feature = "metal") => Device::new_metal(0).map_err(failed),
        "metal" => Err(missing("metal")),
        other => Err(Error::config(
            "settings",
            "training.device",
            format!("must be cpu, cuda or metal, got `{other}`"),
        )),
    }
}
