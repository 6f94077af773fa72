//! What the `glh` binary's test files share: running it as a user would, the checks of its
//! outcome, and the inputs the hostile tests build (Random masks, edge lists, FIFOs).

// Each test file is its own crate and uses a part of these.
#![allow(dead_code)]

use arrow::array::{ArrayRef, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

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

/// The command's standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit code 0.
pub fn assert_ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
}

/// Exit code `code` and exactly one `error:` line on stderr containing every needle.
pub fn assert_error(out: &Output, code: i32, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// The arguments of a Random masks run (no data needed) at width 24, sparsity 0.5, depth 3.
pub const RANDOM_MASK: [&str; 9] = [
    "masks",
    "--method",
    "random",
    "--width",
    "24",
    "--sparsity",
    "0.5",
    "--depth",
    "3",
];

/// A Random masks run ([`RANDOM_MASK`]) with `seed`; its directory.
pub fn random_masks(root: &Path, seed: &str) -> PathBuf {
    let out = glh(root, &[&RANDOM_MASK[..], &["--seed", seed]].concat());
    assert_ok(&out);
    PathBuf::from(
        stdout(&out)
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap(),
    )
}

/// The key of a run directory.
pub fn key_of(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

/// Writes an edge list with one row per `(layer, row, col, n_rows, n_cols)`.
pub fn edge_list(path: &Path, rows: &[[u64; 5]]) {
    let names = ["layer", "row", "col", "n_rows", "n_cols"];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::UInt64, false))
            .collect::<Vec<_>>(),
    ));
    let columns: Vec<ArrayRef> = (0..5)
        .map(|c| Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r[c]))) as ArrayRef)
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let file = fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}
