//! Shared inputs of the criterion benchmarks (`just bench`): where the repository's data is,
//! and the global allocator of the `glh` binary (mimalloc), so that the benchmarks time what
//! users run.

use glh_artifacts::ArtifactStore;
use glh_artifacts::config::{Depth, PruneMethod, Sparsity, Width};
use glh_data::DataSettings;
use glh_masks::MasksSettings;
use glh_masks::stage::{MaskPoint, compute_mask};
use glh_model::Mask;
use std::path::{Path, PathBuf};

/// The repository's MNIST directory.
pub fn mnist_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist")
}

/// The allocator `glh` uses; each benchmark binary installs it with
/// `#[global_allocator] static ALLOC: Allocator = Allocator;`.
pub type Allocator = mimalloc::MiMalloc;

/// Sets the process up as `glh`'s `main` does, so that each benchmark, calling this first,
/// times what users run: mimalloc never hands freed pages back to the kernel
/// (`keep_freed_memory` in crates/cli/src/main.rs, which says why and tests the option's
/// index), and candle's element-wise ops run on the calling thread
/// (`glh_training::device::candle_ops_on_the_calling_thread`).
pub fn set_up_as_glh() {
    // SAFETY: each benchmark's first call, before it starts any thread.
    unsafe { glh_training::device::candle_ops_on_the_calling_thread() };
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets an option value; mimalloc's options may be set at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// A temporary artifact store and the repository's data settings, for benchmarks that need
/// the data stage (the store lives as long as the returned directory).
pub fn scratch_store() -> (tempfile::TempDir, ArtifactStore, DataSettings) {
    let root = tempfile::tempdir().expect("a temporary directory");
    let store = ArtifactStore::new(root.path());
    let data = DataSettings {
        dir: mnist_dir(),
        ..DataSettings::default()
    };
    (root, store, data)
}

/// The Random mask of E3's shape (n = 1024, L = 4, sparsity 80%, seed 0), as `glh masks`
/// computes it.
pub fn random_mask_1024(store: &ArtifactStore, data: &DataSettings) -> Mask {
    let point = MaskPoint {
        method: PruneMethod::Random,
        width: Width::try_from(1024).expect("a width"),
        sparsity: Sparsity::try_from(0.8).expect("a sparsity"),
        depth: Depth::try_from(4).expect("a depth"),
        seed: 0,
    };
    compute_mask(
        store,
        &MasksSettings::default(),
        data,
        &point,
        None,
        &mut |_, _, _| {},
    )
    .expect("Random needs no data")
}
