//! Memory bounds: a job estimates the memory it will need before it allocates, and is refused
//! with that estimate and the limit when it would not fit, instead of aborting on a failed
//! allocation part way through.
//!
//! The limit is, in order: what [`set_limit`] set (`glh --memory-limit`), the environment
//! variable `GLH_MEMORY_LIMIT`, and otherwise the memory this process may use: the machine's
//! memory (`MemTotal`), or its cgroup's `memory.max` where that is lower (how Slurm enforces
//! `--mem`). Estimates are upper-bound sketches of each job's largest buffers (documented where
//! each stage computes them), not measurements: they exist to turn a hopeless request into a
//! clear error, so they err on the generous side.

use crate::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that sets the limit when `--memory-limit` is not given.
pub const ENV: &str = "GLH_MEMORY_LIMIT";

/// 0: not set by [`set_limit`].
static OVERRIDE: AtomicU64 = AtomicU64::new(0);

/// The memory limit and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
    /// `--memory-limit`, `GLH_MEMORY_LIMIT` or `this machine's memory`.
    pub source: String,
}

/// Sets the limit for this process (what `glh --memory-limit` does).
pub fn set_limit(bytes: u64) {
    OVERRIDE.store(bytes, Ordering::Relaxed);
}

/// The limit in force; see the module documentation.
pub fn limit() -> Result<Limit> {
    let set = OVERRIDE.load(Ordering::Relaxed);
    if set > 0 {
        return Ok(Limit {
            bytes: set,
            source: "--memory-limit".into(),
        });
    }
    if let Ok(text) = std::env::var(ENV) {
        let bytes = parse_size(&text).map_err(|e| Error::config("environment", ENV, e))?;
        return Ok(Limit {
            bytes,
            source: ENV.into(),
        });
    }
    Ok(Limit {
        bytes: machine_memory(),
        source: "this machine's memory; set --memory-limit or GLH_MEMORY_LIMIT".into(),
    })
}

/// What a `glh` process holds besides a job's own buffers: MNIST decoded (47 MB of pixels,
/// and their float copies where a stage converts them), the allocator's arenas, the binary.
/// Added to every estimate: measured, an ntk job's kernels of 200 images took 286 MiB at peak
/// when its own buffers came to 32 MiB.
pub const PROCESS_BASE: u64 = 256 << 20;

/// Refuses `what` when [`PROCESS_BASE`] plus its estimated `bytes` exceed the limit: a
/// one-line config error naming `field` of `source_name`, the setting to lower.
pub fn check(source_name: &str, field: &str, what: &str, bytes: u64) -> Result<()> {
    let bytes = bytes.saturating_add(PROCESS_BASE);
    let limit = limit()?;
    if bytes <= limit.bytes {
        return Ok(());
    }
    Err(Error::config(
        source_name,
        field,
        format!(
            "{what} needs about {} of memory (an estimate), more than the limit of {} ({})",
            human(bytes),
            human(limit.bytes),
            limit.source
        ),
    ))
}

/// `a * b * ...` in bytes, saturating: an estimate of an absurd request must not overflow into
/// a small number.
pub fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, &f| acc.saturating_mul(f))
}

/// Parses a size: bytes, or a number with a suffix K, M, G or T (powers of 1024; `KiB`, `GB`
/// and lower case are accepted too), e.g. `16G`, `512MiB`, `1.5T`.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("expected a size such as 16G, 512M or 1000000000 (bytes), got `{text}`");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1u64,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = value * scale as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// A size for people: `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `MemTotal`, lowered to the cgroup's `memory.max` where one is set; 16 GiB where neither
/// can be read (not Linux).
fn machine_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map(|kib| kib * 1024)
        });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    match (total, cgroup) {
        (Some(t), Some(c)) => t.min(c),
        (Some(t), None) => t,
        (None, Some(c)) => c,
        (None, None) => 16 << 30,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("16G").unwrap(), 16 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5t").unwrap(), 3 << 39);
        assert_eq!(parse_size(" 2 GB ").unwrap(), 2 << 30);
        for bad in ["", "G", "-1G", "16X", "0", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 29), "1.5 GiB");
    }

    #[test]
    fn products_saturate() {
        assert_eq!(product(&[u64::MAX, 2]), u64::MAX);
        assert_eq!(product(&[3, 4]), 12);
        assert!(machine_memory() > 0);
    }
}
