//! Shared inputs of the criterion benchmarks (`just bench`): where the repository's data is.

use std::path::{Path, PathBuf};

/// The repository's MNIST directory.
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist")
}
