//! Shared inputs of the criterion benchmarks (`just bench`): where the repository's data is,
//! and the global allocator of the `glh` binary (mimalloc), so that the benchmarks time what
//! users run.

use std::path::{Path, PathBuf};

/// The repository's MNIST directory.
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist")
}

/// The allocator `glh` uses; each benchmark binary installs it with
/// `#[global_allocator] static ALLOC: Allocator = Allocator;`.
pub type Allocator = mimalloc::MiMalloc;
