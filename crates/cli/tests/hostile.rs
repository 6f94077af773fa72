//! The `glh` binary against the defects of issue #14, one test each: damaged and moved
//! artifacts, reports over damaged runs, gc beside live processes, hostile pipeline names and
//! sizes, a failing stdout, edge lists that do not chain, and one exit code per kind of failure.
//! Each failed on 7e3bb95 (the test names the item).

mod common;

use common::{
    RANDOM_MASK, assert_error, assert_ok, edge_list, glh, key_of, random_masks, repo_root, stderr,
    stdout,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x10;
    fs::write(path, bytes).unwrap();
}

fn ls_line(root: &Path, key: &str) -> String {
    let out = glh(root, &["ls"]);
    assert_ok(&out);
    stdout(&out)
        .lines()
        .find(|l| l.contains(key))
        .unwrap_or_else(|| panic!("{key} not listed"))
        .to_string()
}

#[test]
fn item_2_a_damaged_artifact_is_never_served_and_is_recomputed() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let dir = random_masks(r, "0");
    let key = key_of(&dir);
    let table = dir.join("masks.parquet");
    let good = fs::read(&table).unwrap();

    // A flipped byte keeps the size: `glh ls` (sizes) cannot see it, everything that reads does.
    flip_byte(&table, good.len() / 2);
    assert_error(
        &glh(r, &["verify"]),
        2,
        &[&key, "1 damaged run (listed above)"],
    );
    let out = glh(r, &["verify"]);
    assert!(stdout(&out).contains("SHA-256"), "{}", stdout(&out));
    let outside = tempfile::tempdir().unwrap();
    let edges = outside.path().join("edges.parquet");
    let export = ["masks", "export", &key, "--out", edges.to_str().unwrap()];
    assert_error(&glh(r, &export), 2, &[&key, "damaged run", "SHA-256"]);
    assert_error(&glh(r, &["graphons", "--masks", &key]), 2, &["damaged run"]);
    assert!(!edges.exists());

    // The next run of the same configuration sets the copy aside and computes it again.
    let out = glh(r, &[&RANDOM_MASK[..], &["--seed", "0"]].concat());
    assert_ok(&out);
    assert!(stdout(&out).starts_with("repaired"), "{}", stdout(&out));
    assert_eq!(fs::read(&table).unwrap(), good);
    let aside: Vec<PathBuf> = fs::read_dir(r.join("masks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| key_of(p).starts_with(".damaged-"))
        .collect();
    assert_eq!(aside.len(), 1, "kept, not deleted");
    assert_ne!(fs::read(aside[0].join("masks.parquet")).unwrap(), good);
    assert!(ls_line(r, ".damaged-").contains("set-aside"));
    assert_ok(&glh(r, &["verify"]));
    assert_ok(&glh(r, &export));

    // A folder of the root that is no stage (a user's copy of a run) is skipped, not damaged.
    let copy = r.join("backup").join(&key);
    fs::create_dir_all(&copy).unwrap();
    fs::write(copy.join("masks.parquet"), b"not ours").unwrap();
    let out = glh(r, &["verify"]);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("not a stage of this store"),
        "{}",
        stdout(&out)
    );
    fs::remove_dir_all(r.join("backup")).unwrap();

    // A truncated or deleted table is damaged in the listing itself.
    fs::write(&table, &good[..good.len() / 3]).unwrap();
    assert!(ls_line(r, &key).contains("damaged"));
    fs::remove_file(&table).unwrap();
    assert!(ls_line(r, &key).contains("masks.parquet is missing"));
    // `glh gc --damaged` removes what was set aside, and only that.
    let out = glh(r, &["gc", "--damaged"]);
    assert_ok(&out);
    assert!(!aside[0].exists());
    assert!(dir.exists());
}

#[test]
fn item_3_a_report_over_a_damaged_run_fails_naming_it() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pipeline = r.join("p.toml");
    fs::write(
        &pipeline,
        "name = \"tiny\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8, 16]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0, 1]\n[masks]\n[graphons]\nk = 4\n",
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    assert_ok(&glh(r, &["run", p]));
    let outside = tempfile::tempdir().unwrap();
    let out_dir = outside.path().join("report");
    let report = ["report", p, "--out", out_dir.to_str().unwrap()];
    assert_ok(&glh(r, &report));
    let histograms = fs::read_dir(r.join("graphons"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.join("histograms.parquet").is_file())
        .unwrap();
    flip_byte(&histograms.join("histograms.parquet"), 100);
    assert_error(&glh(r, &report), 2, &[&key_of(&histograms), "damaged run"]);
    // The previous report is still there; a rerun repairs the run and the report succeeds.
    assert!(out_dir.join("report.md").is_file());
    let out = glh(r, &["run", p]);
    assert_ok(&out);
    assert!(stdout(&out).contains("1 repaired"), "{}", stdout(&out));
    assert_ok(&glh(r, &report));
}

#[test]
fn item_2_a_slurm_submission_resubmits_a_damaged_run() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pipeline = r.join("p.toml");
    fs::write(
        &pipeline,
        "name = \"one\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0, 1]\n[masks]\n",
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    assert_ok(&glh(r, &["run", p]));
    let dry = ["run", p, "--executor", "slurm", "--dry-run"];
    let out = glh(r, &dry);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("0 jobs in 0 arrays, 2 cached"),
        "{}",
        stdout(&out)
    );
    let damaged = fs::read_dir(r.join("masks"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let table = damaged.join("masks.parquet");
    flip_byte(&table, fs::metadata(&table).unwrap().len() as usize / 2);
    // Submitted again (its task repairs it), not an error and not skipped as cached.
    let out = glh(r, &dry);
    assert_ok(&out);
    assert!(
        stdout(&out).contains("1 jobs in 1 arrays, 1 cached"),
        "{}",
        stdout(&out)
    );
    // And `glh ls --sweeps` lists it without failing.
    assert_ok(&glh(r, &["ls", "--sweeps"]));
}

#[test]
fn item_5_a_run_directory_is_the_key_its_manifest_names() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let (zero, one) = (random_masks(r, "0"), random_masks(r, "1"));
    let swap = r.join("masks/swap");
    fs::rename(&zero, &swap).unwrap();
    fs::rename(&one, &zero).unwrap();
    fs::rename(&swap, &one).unwrap();
    assert!(ls_line(r, &key_of(&zero)).contains("renamed or moved"));
    assert_error(
        &glh(r, &["graphons", "--masks", &key_of(&zero)]),
        2,
        &["renamed or moved"],
    );
    // Rerunning seed 0 repairs it with seed 0's mask, never seed 1's.
    let out = glh(r, &[&RANDOM_MASK[..], &["--seed", "0"]].concat());
    assert!(stdout(&out).starts_with("repaired"), "{}", stdout(&out));
    let manifest = fs::read_to_string(zero.join("manifest.json")).unwrap();
    assert!(manifest.contains("\"seed\": 0"), "{manifest}");
}

/// This host's name as the store writes it into temporary directory names.
fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[test]
fn item_6_gc_leaves_the_work_of_a_live_process() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    random_masks(r, "0");
    let mut live = Command::new("sleep").arg("60").spawn().unwrap();
    let stage = r.join("masks");
    let running = stage.join(format!(
        ".tmp-0123456789abcdef-{}-{}-0-1",
        host(),
        live.id()
    ));
    let killed = stage.join(format!(".tmp-0123456789abcdef-{}-4294967295-0-1", host()));
    fs::create_dir(&running).unwrap();
    fs::create_dir(&killed).unwrap();
    let listing = stdout(&glh(r, &["ls"]));
    for state in ["running", "incomplete"] {
        assert!(
            listing
                .lines()
                .any(|l| l.contains(".tmp-0123456789ab") && l.contains(state)),
            "{listing}"
        );
    }
    let out = glh(r, &["gc"]);
    assert_ok(&out);
    assert!(running.is_dir(), "a live process's directory was removed");
    assert!(!killed.exists());
    assert!(
        stdout(&out).contains("1 directories removed, 1 of runs in progress kept"),
        "{}",
        stdout(&out)
    );
    live.kill().unwrap();
    live.wait().unwrap();
    assert_ok(&glh(r, &["gc"]));
    assert!(!running.exists(), "its process has exited: abandoned");

    // A report killed before it finished leaves a record that gc follows.
    let tmp = r.join(format!(".tmp-report-{}-4294967295-0-1", host()));
    fs::create_dir(&tmp).unwrap();
    fs::create_dir_all(r.join(".reports-in-progress")).unwrap();
    let record = r.join(format!(".reports-in-progress/{}-4294967295-0-1", host()));
    fs::write(&record, tmp.to_str().unwrap()).unwrap();
    assert_ok(&glh(r, &["gc"]));
    assert!(!tmp.exists() && !record.exists());
}

#[test]
fn item_7_a_pipeline_name_is_one_plain_path_component() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let pipeline = r.join("p.toml");
    for (name, needle) in [
        ("../../x", "is not a plain name"),
        ("", "must not be empty"),
        ("a/b", "is not a plain name"),
        (".hidden", "is not a plain name"),
    ] {
        fs::write(
            &pipeline,
            format!(
                "name = \"{name}\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\n\
                 sparsities = [0.5]\ndepths = [3]\nseeds = [0]\n[masks]\n"
            ),
        )
        .unwrap();
        let p = pipeline.to_str().unwrap();
        assert_error(&glh(r, &["run", p]), 2, &["p.toml", "`name`", needle]);
        let out = r.join("out");
        assert_error(
            &glh(r, &["report", p, "--out", out.to_str().unwrap()]),
            2,
            &[needle],
        );
        assert!(!out.exists());
    }
    assert!(!r.parent().unwrap().join("x").exists());
}

#[test]
fn item_9_a_batch_larger_than_the_training_set_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let key = key_of(&random_masks(r, "0"));
    assert_error(
        &glh(r, &["train", "--masks", &key, "--batch-size", "60001"]),
        2,
        &[
            "training.batch_size",
            "larger than MNIST's training set (60000 images)",
        ],
    );
    let pipeline = r.join("p.toml");
    fs::write(
        &pipeline,
        "name = \"t\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0]\n[masks]\n[training]\nbatch_size = 100000\n",
    )
    .unwrap();
    assert_error(
        &glh(r, &["run", pipeline.to_str().unwrap()]),
        2,
        &["p.toml", "training.batch_size"],
    );
}

#[test]
fn item_10_sizes_are_estimated_before_allocating() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let huge = [
        "masks",
        "--method",
        "random",
        "--width",
        "100000",
        "--sparsity",
        "0.5",
    ];
    assert_error(
        &glh(r, &huge),
        2,
        &[
            "`width`",
            "needs about",
            "more than the limit of",
            "this machine's memory",
        ],
    );
    // The limit is a setting: a small one refuses a small job, naming where it came from.
    assert_error(
        &glh(r, &[&["--memory-limit", "1M"][..], &RANDOM_MASK].concat()),
        2,
        &["limit of 1.0 MiB (--memory-limit)"],
    );
    let env = Command::new(env!("CARGO_BIN_EXE_glh"))
        .current_dir(repo_root())
        .env("GLH_MEMORY_LIMIT", "1M")
        .arg("--artifacts")
        .arg(r)
        .args(RANDOM_MASK)
        .output()
        .unwrap();
    assert_error(&env, 2, &["(GLH_MEMORY_LIMIT)"]);
    assert_error(
        &glh(r, &["--memory-limit", "lots", "ls"]),
        2,
        &["expected a size such as 16G"],
    );
    assert_error(
        &glh(
            r,
            &["run", "pipelines/smoke.toml", "--seeds", "1000000000000"],
        ),
        2,
        &["--seeds", "more than the 100000"],
    );
    let pipeline = r.join("p.toml");
    fs::write(
        &pipeline,
        "name = \"t\"\n[sweep]\nmethods = [\"random\"]\nwidths = [10000000]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0]\n[masks]\n",
    )
    .unwrap();
    assert_error(
        &glh(r, &["run", pipeline.to_str().unwrap()]),
        2,
        &["`width`", "needs about"],
    );
    assert_error(
        &glh(
            r,
            &[
                "masks",
                "--method",
                "random",
                "--width",
                "5000000000",
                "--sparsity",
                "0.5",
            ],
        ),
        2,
        &["width must be at most 4294967295"],
    );
    // An edge list that claims a 2^31 x 2^31 layer.
    let edges = r.join("huge.parquet");
    edge_list(&edges, &[[1, 0, 0, 1 << 31, 1 << 31]]);
    for stage in ["graphons", "ntk"] {
        assert_error(
            &glh(r, &[stage, "--edges", edges.to_str().unwrap()]),
            2,
            &["huge.parquet", "needs about"],
        );
    }
    // Kernels of many images: the data stage refuses more images than a class has, and the
    // kernel estimate refuses what the limit cannot hold.
    let key = key_of(&random_masks(r, "0"));
    assert_error(
        &glh(
            r,
            &["ntk", "--masks", &key, "--kernel-per-class", "1000000"],
        ),
        2,
        &["data.kernel_per_class", "fewer than the 1000000 asked for"],
    );
    assert_error(
        &glh(
            r,
            &[
                "--memory-limit",
                "64M",
                "ntk",
                "--masks",
                &key,
                "--kernel-per-class",
                "500",
            ],
        ),
        2,
        &["`kernel_per_class`", "the kernels of 5000 images"],
    );
}

#[test]
fn item_11_a_failing_stdout_is_an_error_not_a_panic() {
    let root = tempfile::tempdir().unwrap();
    random_masks(root.path(), "0");
    for args in [&["ls"][..], &["schema"], &["--help"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_glh"))
            .current_dir(repo_root())
            .arg("--artifacts")
            .arg(root.path())
            .args(args)
            .stdout(
                fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_error(&out, 1, &["standard output", "No space left on device"]);
    }
}

#[test]
fn item_12_layers_that_do_not_chain_are_refused_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let edges = r.join("unchained.parquet");
    // Layer 1: 784 -> 5 outputs; layer 2 reads 7 inputs.
    edge_list(&edges, &[[1, 0, 0, 5, 784], [2, 0, 0, 10, 7]]);
    for stage in ["graphons", "ntk"] {
        assert_error(
            &glh(r, &[stage, "--edges", edges.to_str().unwrap()]),
            2,
            &[
                "unchained.parquet",
                "layer 2 has 7 inputs",
                "layer 1 has 5 outputs",
            ],
        );
    }
}

#[test]
fn one_exit_code_per_kind_of_failure() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    // An unusable --artifacts path is bad input for every command.
    let file = r.join("a-file");
    fs::write(&file, "").unwrap();
    for args in [
        &["ls"][..],
        &["run", "pipelines/smoke.toml"],
        &["gc"],
        &["verify"],
    ] {
        assert_error(&glh(&file, args), 2, &["--artifacts", "is not a directory"]);
    }
    let below = file.join("store");
    assert_error(
        &glh(&below, &["run", "pipelines/smoke.toml"]),
        2,
        &["cannot be created"],
    );
    // An unknown stage is an error, not an empty list.
    let out = glh(r, &["ls", "--stage", "foo"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("possible values: data, masks"),
        "{}",
        stderr(&out)
    );
    // One flag names the MNIST directory everywhere (`--dir` stays as an alias).
    for cmd in [
        &["data", "verify"][..],
        &["data", "subsets"],
        &["masks"],
        &["ntk"],
        &["train"],
    ] {
        let out = glh(r, &[cmd, &["--help"]].concat());
        assert!(
            stdout(&out).contains("--data-dir <DIR>"),
            "{cmd:?}: {}",
            stdout(&out)
        );
    }
    assert_ok(&glh(r, &["data", "verify", "--dir", "data/mnist"]));
}
