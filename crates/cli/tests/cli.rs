//! The `glh` binary as a user meets it: exit codes, one-line errors, data verification, and
//! interrupted runs that never leave an artifact listed as complete.

mod common;

use common::{glh, repo_root, stderr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Asserts exit code 2 and exactly one `error:` line on stderr containing `needle`.
fn assert_bad_input(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_one_line_and_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let masks = |extra: &[&str]| {
        let mut args = vec![
            "masks",
            "--method",
            "snip",
            "--width",
            "500",
            "--sparsity",
            "0.8",
        ];
        args.extend_from_slice(extra);
        glh(r, &args)
    };
    assert_bad_input(
        &glh(
            r,
            &[
                "masks",
                "--method",
                "prune",
                "--width",
                "5",
                "--sparsity",
                "0.5",
            ],
        ),
        "invalid value 'prune' for '--method <METHOD>' [possible values: random, magnitude, snip, grasp, synflow, shuffled:random,",
    );
    assert_bad_input(&masks(&["--sparsity", "1.0"]), "sparsity must be in [0, 1)");
    assert_bad_input(
        &masks(&["--sparsity", "-0.1"]),
        "sparsity must be in [0, 1)",
    );
    assert_bad_input(
        &masks(&["--width", "0"]),
        "width must be an integer of at least 1, got 0",
    );
    assert_bad_input(
        &masks(&["--depth", "1"]),
        "depth must be an integer of at least 2",
    );
    assert_bad_input(
        &glh(r, &["masks", "--method", "snip"]),
        "required arguments were not provided: --width",
    );
    assert_bad_input(
        &glh(r, &["frobnicate"]),
        "unrecognized subcommand 'frobnicate'",
    );
    assert_bad_input(
        &glh(r, &["run", "pipelines/does-not-exist.toml"]),
        "pipelines/does-not-exist.toml: file not found",
    );
    // A mask schedule's flag that its rule does not read, and a bad value of one it does:
    // refused before the masks run is looked up.
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--masks", "0123456789abcdef"];
        args.extend_from_slice(extra);
        glh(r, &args)
    };
    assert_bad_input(
        &train(&["--schedule", "set", "--end", "0.5"]),
        "`--end`: is read by --schedule rigl only, not by --schedule set",
    );
    assert_bad_input(
        &train(&["--levels", "3"]),
        "`--levels`: is read by --schedule imp only, not by --schedule static",
    );
    assert_bad_input(
        &train(&["--schedule", "rigl", "--update-fraction", "1.5"]),
        "`training.schedule.fraction`: must be in (0, 1), got 1.5",
    );
    assert_bad_input(
        &train(&["--schedule", "imp", "--rewind-step", "200"]),
        "`training.schedule.rewind_step`: must be below the steps of a level (200), got 200",
    );
}

#[test]
fn bad_pipeline_files_are_one_line_and_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(repo_root().join("pipelines/smoke.toml")).unwrap();
    let cases = [
        (smoke.replace("[sweep]", "[sweep"), "smoke-bad.toml:"),
        (
            smoke.replace("sparsities = [0.8]", "sparsities = [1.2]"),
            "`sweep.sparsities`: sparsity must be in [0, 1)",
        ),
        (
            smoke.replace("widths = [16, 32]", "widths = [0]"),
            "`sweep.widths`: width must be an integer of at least 1",
        ),
        (
            smoke.replace("\"snip\"", "\"snap\""),
            "`sweep.methods`: unknown method `snap`",
        ),
        (
            smoke.replace("seeds = [0, 1]", "seeds = []"),
            "`sweep.seeds`: must list at least one value",
        ),
        (
            smoke.replace("kernel_per_class = 4", "kernel_per_klass = 4"),
            "`data.kernel_per_klass`: unknown field",
        ),
        (
            smoke.replace("dir = \"data/mnist\"", "dir = \"no/such/dir\""),
            "no/such/dir/SHA256SUMS: file not found",
        ),
    ];
    for (text, needle) in cases {
        let path = root.path().join("smoke-bad.toml");
        std::fs::write(&path, text).unwrap();
        let out = glh(
            &root.path().join("artifacts"),
            &["run", path.to_str().unwrap()],
        );
        assert_bad_input(&out, needle);
        assert!(
            !root.path().join("artifacts/data").exists()
                || std::fs::read_dir(root.path().join("artifacts/data"))
                    .unwrap()
                    .next()
                    .is_none(),
            "nothing half-written"
        );
    }
}

#[test]
fn masks_runs_one_configuration_and_exports_its_edges() {
    let root = tempfile::tempdir().unwrap();
    let snip_40 = [
        "masks",
        "--method",
        "snip",
        "--width",
        "40",
        "--sparsity",
        "0.8",
        "--depth",
        "3",
        "--seed",
        "1",
    ];
    let out = glh(root.path(), &snip_40);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let total = 784 * 40 + 40 * 40 + 10 * 40;
    let kept = (0.2f64 * total as f64).round() as usize;
    assert!(
        stdout.contains(&format!("all {:>21}", kept))
            || stdout
                .lines()
                .any(|l| l.starts_with("  all") && l.trim_end().ends_with(&kept.to_string())),
        "{stdout}"
    );
    let dir = stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    // Exports go outside the artifact store (a path inside it is refused).
    let outside = tempfile::tempdir().unwrap();
    let edges = outside.path().join("edges.parquet");
    let out = glh(
        root.path(),
        &["masks", "export", &dir, "--out", edges.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap(),
        kept.to_string()
    );
    // The pruned network for PyTorch, with its scoring batch; a file already there is replaced
    // whole.
    let net = outside.path().join("net.safetensors");
    let batch = outside.path().join("batch.safetensors");
    std::fs::write(&net, b"stale").unwrap();
    let out = glh(
        root.path(),
        &[
            "masks",
            "export",
            &dir,
            "--format",
            "safetensors",
            "--out",
            net.to_str().unwrap(),
            "--scoring-batch",
            batch.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("100 scoring images"), "{stdout}");
    assert!(stdout.contains(&format!("{kept} kept weights")), "{stdout}");
    let header = std::fs::read(&net).unwrap();
    let len = u64::from_le_bytes(header[..8].try_into().unwrap()) as usize;
    let json = String::from_utf8_lossy(&header[8..8 + len]).into_owned();
    assert!(
        json.contains("\"4.weight_mask\"") && json.contains("\"0.weight_orig\""),
        "{json}"
    );
    assert!(batch.exists());
    let out = glh(
        root.path(),
        &["graphons", "--edges", edges.to_str().unwrap(), "--k", "10"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_edges = String::from_utf8_lossy(&out.stdout).into_owned();
    let key = dir.rsplit('/').next().unwrap();
    let out = glh(root.path(), &["graphons", "--masks", key, "--k", "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_masks = String::from_utf8_lossy(&out.stdout).into_owned();
    // Same histograms either way (the artifacts differ only in their run labels).
    assert_eq!(
        from_edges.lines().skip(1).collect::<Vec<_>>(),
        from_masks.lines().skip(1).collect::<Vec<_>>()
    );
    assert_eq!(from_masks.lines().count(), 4, "{from_masks}");
    assert_bad_input(
        &glh(root.path(), &["graphons", "--masks", key, "--k", "257"]),
        "257 is not in 1..=256",
    );
    assert_bad_input(
        &glh(root.path(), &["graphons"]),
        "required arguments were not provided",
    );
    let again = glh(root.path(), &snip_40);
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("cached"));

    // Kernels of the stored run and of its edge list (same data seed) agree line for line.
    let ntk_args = [
        "--kernel-per-class",
        "3",
        "--empirical-draws",
        "1",
        "--histogram-k",
        "8",
    ];
    let out = glh(
        root.path(),
        &[&["ntk", "--masks", key][..], &ntk_args].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_masks = String::from_utf8_lossy(&out.stdout).into_owned();
    let edges_args = ["ntk", "--edges", edges.to_str().unwrap(), "--seed", "1"];
    let out = glh(root.path(), &[&edges_args[..], &ntk_args].concat());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_edges = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        from_edges.lines().skip(1).collect::<Vec<_>>(),
        from_masks.lines().skip(1).collect::<Vec<_>>()
    );
    let kernels: Vec<&str> = from_masks
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(kernels, ["dense", "mask", "histogram", "empirical"]);
    assert_bad_input(
        &glh(root.path(), &["ntk", "--masks", key, "--sigma-w2", "0"]),
        "`ntk.sigma_w2`: must be a positive number",
    );
    assert_bad_input(
        &glh(root.path(), &["ntk", "--masks", "not-a-key"]),
        "is neither a masks run directory nor a key",
    );

    // A short training run of the same mask, and a device this build does not have.
    let out = glh(
        root.path(),
        &["train", "--masks", key, "--steps", "6", "--eval-every", "3"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let steps: Vec<&str> = stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next())
        .take(3)
        .collect();
    assert_eq!(steps, ["0", "3", "6"], "{stdout}");
    if !cfg!(feature = "cuda") {
        assert_bad_input(
            &glh(root.path(), &["train", "--masks", key, "--device", "cuda"]),
            "needs a build with the `cuda` feature",
        );
    }
    assert_bad_input(
        &glh(
            root.path(),
            &["train", "--masks", key, "--learning-rate", "0"],
        ),
        "`training.learning_rate`: must be a positive number",
    );
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    // The pipe's read end is closed before glh starts, so its first write fails with EPIPE,
    // deterministically (like `glh schema | head -0`).
    let root = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_glh"))
        .current_dir(repo_root())
        .args(["--artifacts", root.path().to_str().unwrap(), "schema"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(101), "no panic");
}

#[test]
fn help_teaches_and_exits_0() {
    let root = tempfile::tempdir().unwrap();
    let out = glh(root.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "data -> masks -> graphons",
        "glh run pipelines/smoke.toml",
        "Exit codes",
    ] {
        assert!(text.contains(needle), "help lacks {needle:?}");
    }
    let out = glh(root.path(), &["masks", "--help"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Fraction of weights removed, in [0, 1)")
    );
}

/// A copy of data/mnist in a temporary directory, to corrupt.
fn mnist_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo_root().join("data/mnist")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

#[test]
fn data_verify_passes_and_fails_on_one_corrupt_byte() {
    let root = tempfile::tempdir().unwrap();
    let out = glh(root.path(), &["data", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count(),
        4
    );

    // Flip one byte of the label payload inside the gzip stream: the gzip CRC or our checksum
    // must catch it, either way in one line that names the file.
    let copy = mnist_copy();
    let labels = copy.path().join("t10k-labels-idx1-ubyte.gz");
    let mut bytes = std::fs::read(&labels).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&labels, bytes).unwrap();
    let out = glh(
        root.path(),
        &[
            "data",
            "verify",
            "--data-dir",
            copy.path().to_str().unwrap(),
        ],
    );
    assert_bad_input(&out, "t10k-labels-idx1-ubyte.gz: ");

    // A raw file whose bytes differ by one from the real data fails on the checksum itself.
    let copy = mnist_copy();
    let gz = copy.path().join("t10k-labels-idx1-ubyte.gz");
    let mut raw = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()),
        &mut raw,
    )
    .unwrap();
    *raw.last_mut().unwrap() ^= 0x01;
    std::fs::remove_file(&gz).unwrap();
    std::fs::write(copy.path().join("t10k-labels-idx1-ubyte"), raw).unwrap();
    let out = glh(
        root.path(),
        &[
            "data",
            "verify",
            "--data-dir",
            copy.path().to_str().unwrap(),
        ],
    );
    assert_bad_input(
        &out,
        "t10k-labels-idx1-ubyte: SHA-256 of the decompressed bytes is ",
    );

    let copy = mnist_copy();
    std::fs::remove_file(copy.path().join("train-images-idx3-ubyte.gz")).unwrap();
    let out = glh(
        root.path(),
        &[
            "data",
            "verify",
            "--data-dir",
            copy.path().to_str().unwrap(),
        ],
    );
    assert_bad_input(
        &out,
        "train-images-idx3-ubyte.gz: file not found (expected the gzip IDX file",
    );
}

fn complete_parquet_bytes(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for stage in std::fs::read_dir(root).unwrap().flatten() {
        for run in std::fs::read_dir(stage.path()).unwrap().flatten() {
            let name = run.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            for f in std::fs::read_dir(run.path()).unwrap().flatten() {
                if f.path().extension().is_some_and(|e| e == "parquet") {
                    out.push((
                        format!("{name}/{}", f.file_name().to_string_lossy()),
                        std::fs::read(f.path()).unwrap(),
                    ));
                }
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_killed_run_resumes_to_the_same_artifacts() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = std::fs::read_to_string(repo_root().join("pipelines/smoke.toml")).unwrap();
    let pipeline = dir.path().join("many.toml");
    std::fs::write(
        &pipeline,
        smoke.replace("seeds = [0, 1]", "seeds = [0, 1, 2, 3, 4, 5, 6, 7]"),
    )
    .unwrap();
    let pipeline = pipeline.to_str().unwrap();

    let reference = dir.path().join("reference");
    let out = glh(&reference, &["--quiet", "run", pipeline]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    for delay_ms in [150, 600, 1500] {
        let killed = dir.path().join(format!("killed-{delay_ms}"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_glh"))
            .current_dir(repo_root())
            .args([
                "--quiet",
                "--artifacts",
                killed.to_str().unwrap(),
                "run",
                "--jobs",
                "1",
                pipeline,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL: no destructor runs.
        child.wait().unwrap();

        // Whatever the kill interrupted, `glh ls` lists nothing broken as complete.
        let ls = glh(&killed, &["ls"]);
        let listing = String::from_utf8_lossy(&ls.stdout).into_owned();
        for line in listing.lines().skip(1) {
            assert!(
                line.contains(" complete ") || line.contains(" incomplete "),
                "{line}"
            );
        }
        let out = glh(&killed, &["--quiet", "run", pipeline]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(
            complete_parquet_bytes(&killed),
            complete_parquet_bytes(&reference),
            "after a kill at {delay_ms} ms"
        );
        let out = glh(&killed, &["gc"]);
        assert_eq!(out.status.code(), Some(0));
        let ls = String::from_utf8_lossy(&glh(&killed, &["ls"]).stdout).into_owned();
        // 8 data runs, 4 methods x 2 widths x 8 seeds masks runs, as many histogram, kernel and
        // training runs, two convergence runs per method (the histograms and their shapes), and
        // one graphon kernel run per method and width.
        assert_eq!(
            ls.lines().filter(|l| l.contains(" complete ")).count(),
            8 + 4 * (4 * 2 * 8) + 4 * 2 + 4 * 2,
            "{ls}"
        );
        assert!(!ls.contains("incomplete"), "{ls}");
    }
}

/// The directory and the `sweep.json` of the one sweep under `root`.
fn only_sweep(root: &Path) -> (PathBuf, serde_json::Value) {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root.join(".sweeps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let text = std::fs::read_to_string(dirs[0].join("sweep.json")).unwrap();
    (dirs[0].clone(), serde_json::from_str(&text).unwrap())
}

#[test]
fn slurm_dry_run_scripts_run_task_by_task_give_the_local_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local");
    let out = glh(&local, &["--quiet", "run", "pipelines/smoke.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let root = dir.path().join("slurm");
    let out = glh(
        &root,
        &[
            "run",
            "pipelines/smoke.toml",
            "--executor",
            "slurm",
            "--dry-run",
            "--partition",
            "debug",
            "--time",
            "10:00",
            "--sbatch-arg=--qos=short",
            "--seeds",
            "2",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(summary.contains("0 cached (not submitted)"), "{summary}");
    assert!(summary.contains("dry run: scripts in"), "{summary}");

    // Play Slurm: every array in submission order, every task with its SLURM_ARRAY_TASK_ID.
    // The scripts' `#SBATCH` lines are comments to bash; what runs is the scripts' own code.
    let (sweep, record) = only_sweep(&root);
    let arrays = record["arrays"].as_array().unwrap();
    let stages: Vec<&str> = arrays
        .iter()
        .map(|a| a["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages.first(), Some(&"data"), "{stages:?}");
    assert_eq!(stages.last(), Some(&"convergence"), "{stages:?}");
    let mut tasks = 0;
    for array in arrays {
        let script = sweep.join(array["script"].as_str().unwrap());
        let text = std::fs::read_to_string(&script).unwrap();
        for line in [
            "#SBATCH --partition=debug",
            "#SBATCH --time=10:00",
            "#SBATCH --qos=short",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in {text}");
        }
        for i in 0..array["tasks"].as_array().unwrap().len() {
            let out = Command::new("bash")
                .arg(&script)
                .current_dir(repo_root())
                .env("SLURM_ARRAY_TASK_ID", i.to_string())
                .env_remove("SLURM_JOB_ID")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                script.display(),
                stderr(&out)
            );
            tasks += 1;
        }
    }
    assert_eq!(tasks, 82, "smoke plans 82 jobs");
    assert_eq!(
        complete_parquet_bytes(&root),
        complete_parquet_bytes(&local)
    );

    let ls = glh(&root, &["ls", "--sweeps"]);
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    assert!(ls.contains("(dry run, 82 jobs in"), "{ls}");
    assert!(ls.contains(": 82 done"), "{ls}");

    // A second dry run finds everything complete and writes no arrays.
    let out = glh(
        &root,
        &[
            "run",
            "pipelines/smoke.toml",
            "--executor",
            "slurm",
            "--dry-run",
        ],
    );
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        summary.contains(": 0 jobs in 0 arrays, 82 cached"),
        "{summary}"
    );
}

#[test]
fn slurm_flags_and_jobs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a");
    let smoke = "pipelines/smoke.toml";
    assert_bad_input(
        &glh(&root, &["run", smoke, "--partition", "cpu"]),
        "command line: `--partition`: applies to --executor slurm only",
    );
    assert_bad_input(
        &glh(
            &root,
            &["run", smoke, "--executor", "slurm", "--time", "1h"],
        ),
        "command line: `--time`: must be a Slurm time limit",
    );
    assert_bad_input(
        &glh(&root, &["run", smoke, "--seeds", "3..1"]),
        "the seed range `3..1` is empty",
    );
    assert_bad_input(
        &glh(&root, &["job", smoke, "--job", "masks/0123456789abcdef"]),
        "pipelines/smoke.toml: its plan has no job `masks/0123456789abcdef`",
    );
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(repo_root().join(smoke)).unwrap();
    std::fs::write(&bad, format!("{text}\n[slurm]\nmem = \"4GB\"\n")).unwrap();
    assert_bad_input(
        &glh(
            &root,
            &["run", bad.to_str().unwrap(), "--executor", "slurm"],
        ),
        "`slurm.mem`: must be a whole number with an optional unit",
    );

    // Without sbatch: exit 1, one line, and no sweep directory left behind.
    let out = Command::new(env!("CARGO_BIN_EXE_glh"))
        .current_dir(repo_root())
        .env("PATH", "/nonexistent")
        .args([
            "--artifacts",
            root.to_str().unwrap(),
            "run",
            smoke,
            "--executor",
            "slurm",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot run sbatch"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let left = std::fs::read_dir(root.join(".sweeps")).unwrap().count();
    assert_eq!(left, 0, "a failed submission left a sweep directory");

    // A job whose input is missing refuses to run and names it.
    let plan_dry = glh(&root, &["run", smoke, "--executor", "slurm", "--dry-run"]);
    assert_eq!(plan_dry.status.code(), Some(0), "{}", stderr(&plan_dry));
    let (_, record) = only_sweep(&root);
    let graphons = record["arrays"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["stage"] == "graphons")
        .unwrap();
    let task = &graphons["tasks"][0];
    let id = format!("graphons/{}", task["key"].as_str().unwrap());
    let out = glh(&root, &["job", smoke, "--job", &id]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("an input of this job, is not complete"),
        "{err}"
    );
}

#[test]
fn graphon_ntk_takes_one_configurations_seeds_and_refuses_a_mixed_set() {
    let root = tempfile::tempdir().unwrap();
    let masks = |width: &str, seed: &str| -> String {
        let out = glh(
            root.path(),
            &[
                "masks",
                "--method",
                "random",
                "--width",
                width,
                "--sparsity",
                "0.8",
                "--depth",
                "3",
                "--seed",
                seed,
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let dir = stdout.split_whitespace().nth(1).unwrap().to_string();
        dir.rsplit('/').next().unwrap().to_string()
    };
    let (a, b, wide) = (masks("16", "0"), masks("16", "1"), masks("24", "0"));
    let args = |keys: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "graphon-ntk",
            "--k",
            "4",
            "--kernel-size",
            "30",
            "--draw-masks",
        ]
        .map(String::from)
        .to_vec();
        for k in keys {
            v.extend(["--masks".to_string(), k.to_string()]);
        }
        v
    };
    let run = |keys: &[&str]| {
        let a = args(keys);
        glh(
            root.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let out = run(&[&a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Header, then graphon, shared_order and drawn at sigma_w^2 = 1 and 2.
    assert_eq!(stdout.lines().count(), 2 + 6, "{stdout}");
    assert!(
        stdout.lines().nth(3).unwrap().starts_with("shared_order"),
        "{stdout}"
    );
    assert!(
        stdout.lines().nth(4).unwrap().starts_with("drawn"),
        "{stdout}"
    );
    // Masks of two widths are two configurations, not one.
    assert_bad_input(&run(&[&a, &wide]), "differs from the configuration's");
    assert_bad_input(
        &glh(
            root.path(),
            &["graphon-ntk", "--masks", &a, "--sigma-w2", "0"],
        ),
        "graphon_ntk.sigma_w2",
    );
}

#[test]
fn design_searches_a_family_on_a_profile_and_masks_draw_its_designs() {
    let root = tempfile::tempdir().unwrap();
    // A design at SynFlow's density profile: its layers keep SynFlow's counts.
    let masks = |method: &str, extra: &[&str]| -> (String, String) {
        let mut a = vec![
            "masks",
            "--method",
            method,
            "--width",
            "16",
            "--sparsity",
            "0.8",
            "--depth",
            "3",
            "--synflow-rounds",
            "5",
        ];
        a.extend_from_slice(extra);
        let out = glh(root.path(), &a);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let dir = stdout.split_whitespace().nth(1).unwrap().to_string();
        (dir.rsplit('/').next().unwrap().to_string(), stdout)
    };
    let (synflow, source_table) = masks("synflow", &[]);
    let (_, design_table) = masks("graphon:synflow", &["--target", "power", "--beta", "2"]);
    let kept = |table: &str| -> Vec<String> {
        table
            .lines()
            .skip(2)
            .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(kept(&source_table), kept(&design_table));
    // A search on that profile and one on a uniform profile: every point printed, then the best.
    let search = |extra: &[&str]| {
        let mut a = vec!["design", "--k", "4", "--kernel-size", "20"];
        a.extend_from_slice(extra);
        glh(root.path(), &a)
    };
    for profile in [
        vec!["--masks", synflow.as_str()],
        vec!["--sparsity", "0.9", "--width", "16", "--depth", "3"],
    ] {
        let out = search(&[profile.as_slice(), &["--refinements", "2"]].concat());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        // Header, six grid points, two refinements, the best.
        assert_eq!(stdout.lines().count(), 1 + 6 + 2 + 1, "{stdout}");
        assert!(
            stdout
                .lines()
                .last()
                .unwrap()
                .starts_with("best: power beta = "),
            "{stdout}"
        );
    }
    // --density is the sparsity's complement: the same search.
    let by_density = search(&["--density", "0.1", "--width", "16", "--depth", "3"]);
    let by_sparsity = search(&["--sparsity", "0.9", "--width", "16", "--depth", "3"]);
    assert_eq!(
        by_density.stdout,
        by_sparsity.stdout,
        "{}",
        stderr(&by_density)
    );
    // Two families: each grid and its refinements, the best over both.
    let both = search(&[
        "--sparsity",
        "0.9",
        "--family",
        "power,block",
        "--refinements",
        "2",
    ]);
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    let stdout = String::from_utf8_lossy(&both.stdout).into_owned();
    assert_eq!(stdout.lines().count(), 1 + 2 * (6 + 2) + 1, "{stdout}");
    let first_word = |l: &str| l.split_whitespace().next().unwrap_or("").to_string();
    assert_eq!(
        stdout.lines().filter(|l| first_word(l) == "block").count(),
        8
    );
    assert_bad_input(
        &search(&[
            "--sparsity",
            "0.9",
            "--family",
            "power,block",
            "--grid",
            "0.5,1",
        ]),
        "is one family's",
    );
    // --out: the points as a Parquet table, never over a directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("points.parquet");
    let out_arg = out.to_str().unwrap();
    let written = search(&["--sparsity", "0.9", "--refinements", "0", "--out", out_arg]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let dir = elsewhere.path().to_str().unwrap();
    assert_bad_input(
        &search(&["--sparsity", "0.9", "--out", dir]),
        "is a directory",
    );
    assert_bad_input(
        &search(&["--sparsity", "0.9", "--refinements", "1"]),
        "must be 0 or at least 2",
    );
    assert_bad_input(
        &search(&[
            "--sparsity",
            "0.9",
            "--family",
            "block",
            "--grid",
            "0.5,1.5",
        ]),
        "share must be in (0, 1], got 1.5",
    );
}
