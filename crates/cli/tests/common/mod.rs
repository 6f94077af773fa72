//! What the `glh` binary's test files share: running it as a user would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root, where `glh` runs (pipelines and data/mnist are relative to it).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `glh` in the repository root with a private artifact root.
pub fn glh(artifacts: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_glh"))
        .current_dir(repo_root())
        .arg("--artifacts")
        .arg(artifacts)
        .args(args)
        .output()
        .unwrap()
}

/// The command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
