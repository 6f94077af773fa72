//! The `glh` binary against the defects of issue #26 (found by a hostile pass on e7b7c64), one
//! test per defect or class: keys that miss a setting, reports that mix in runs or leave some
//! out silently, diverged runs published, outputs written over devices, FIFOs and the store,
//! numbers that size allocations unchecked, and Slurm scripts a path could break. Each failed on
//! e7b7c64 (the test names the item). The report's own cases (a variant pipeline in the same
//! store, duplicate names, `.` and `..` as `--out`) are in `tests/report.rs`; the generic key
//! completeness test is `tests/keys.rs`.

mod common;

use common::{assert_error, assert_ok, edge_list, glh, key_of, mkfifo, random_masks, stderr};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Exit code 2 and one `error:` line on stderr containing every needle.
fn assert_refused(out: &Output, needles: &[&str]) {
    assert_error(out, 2, needles);
}

/// The key of a Random masks run with `seed`.
fn random_mask_key(root: &Path, seed: &str) -> String {
    key_of(&random_masks(root, seed))
}

#[test]
fn item_2_the_kernels_key_covers_the_pixels_normalisation() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("artifacts");
    // One sweep point whose kernels are taken of standardised pixels, then of [0, 1] pixels,
    // then with another mean: three kernels runs, where e7b7c64 kept one for all three.
    for (name, data) in [
        ("standardised", "standardise = true"),
        ("raw", "standardise = false"),
        ("shifted", "standardise = true\nmean = 0.5"),
    ] {
        let path = root.path().join(format!("{name}.toml"));
        fs::write(
            &path,
            format!(
                "name = \"{name}\"\n[sweep]\nmethods = [\"random\"]\nwidths = [16]\n\
                 sparsities = [0.5]\ndepths = [3]\nseeds = [0]\n[data]\n{data}\n\
                 kernel_per_class = 2\n[masks]\n[ntk]\nhistogram_k = 4\n"
            ),
        )
        .unwrap();
        assert_ok(&glh(&store, &["run", path.to_str().unwrap()]));
    }
    let kernels = fs::read_dir(store.join("ntk")).unwrap().count();
    assert_eq!(kernels, 3, "one key served several normalisations");
    // The masks (Random: no data) are one run for all three.
    assert_eq!(fs::read_dir(store.join("masks")).unwrap().count(), 1);
}

#[test]
fn item_3_an_edge_list_is_parsed_from_the_bytes_its_key_hashed() {
    let root = tempfile::tempdir().unwrap();
    let good = root.path().join("good.parquet");
    edge_list(&good, &[[1, 0, 0, 2, 3], [2, 1, 1, 4, 2]]);
    let bytes = glh_graphons::stage::read_edge_list_bytes(&good).unwrap();
    // Replace the file after it was read: the decoded masks are the bytes', not the new file's.
    edge_list(&good, &[[1, 0, 0, 5, 5]]);
    let layers = glh_graphons::stage::decode_edge_list(&good, bytes).unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!((layers[1].rows(), layers[1].cols()), (4, 2));
}

#[test]
fn item_4_a_report_missing_planned_runs_is_refused_unless_partial() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("artifacts");
    let pipeline = root.path().join("p.toml");
    fs::write(
        &pipeline,
        "name = \"tiny\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8, 16]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0, 1]\n[masks]\n[graphons]\nk = 4\n",
    )
    .unwrap();
    let p = pipeline.to_str().unwrap();
    assert_ok(&glh(&store, &["run", p]));
    let out = root.path().join("report");
    let o = out.to_str().unwrap();
    assert_ok(&glh(
        &store,
        &["report", p, "--out", o, "--bootstrap", "100"],
    ));
    // Seeds 0..5 of a store holding 0 and 1: refused, naming the missing runs.
    let partial = [
        "report",
        p,
        "--out",
        o,
        "--seeds",
        "5",
        "--bootstrap",
        "100",
    ];
    assert_refused(
        &glh(&store, &partial),
        &["are missing (first: ", "--allow-partial"],
    );
    let out_allowed = glh(&store, &[&partial[..], &["--allow-partial"]].concat());
    assert_ok(&out_allowed);
    let md = fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("**Partial report**"), "{md}");
    // A report of a store that does not exist neither runs nor creates it.
    let nowhere = root.path().join("nowhere");
    assert_refused(
        &glh(&nowhere, &["report", p, "--out", o]),
        &["no artifact store here"],
    );
    assert!(!nowhere.exists());
}

#[test]
fn item_5_diverged_runs_are_refused_not_published() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let masks = random_mask_key(r, "0");
    let before = fs::read_dir(r).unwrap().count();
    // Gradient descent that blows up at its last update (no loss is computed after it).
    let gd = [
        "train",
        "--masks",
        &masks,
        "--parameterisation",
        "ntk",
        "--loss",
        "mse",
        "--optimizer",
        "gd",
        "--kernel-per-class",
        "2",
        "--steps",
        "2",
        "--learning-rate",
        "1e6",
    ];
    assert_refused(&glh(r, &gd), &["learning_rate", "diverged"]);
    // Adam at an absurd rate.
    let adam = [
        "train",
        "--masks",
        &masks,
        "--steps",
        "3",
        "--learning-rate",
        "1e30",
    ];
    assert_refused(&glh(r, &adam), &["learning_rate"]);
    // Nothing was published.
    assert!(!r.join("training").exists() || fs::read_dir(r.join("training")).unwrap().count() == 0);
    assert!(fs::read_dir(r).unwrap().count() <= before + 2);
    // Values that are 0 or infinite in f32, in which training computes.
    let pipeline = r.join("eps.toml");
    fs::write(
        &pipeline,
        "name = \"eps\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0]\n[masks]\n[training]\neps = 1e-320\n",
    )
    .unwrap();
    assert_refused(
        &glh(r, &["run", pipeline.to_str().unwrap()]),
        &["training.eps", "f32"],
    );
    // A kernel whose scale overflows f64 is refused, naming the setting.
    let huge = r.join("huge.toml");
    fs::write(
        &huge,
        "name = \"huge\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0]\n[data]\nkernel_per_class = 2\n[masks]\n[ntk]\n\
         sigma_w2 = 1e200\nhistogram_k = 2\n",
    )
    .unwrap();
    assert_refused(
        &glh(r, &["run", huge.to_str().unwrap()]),
        &["ntk.sigma_w2", "not finite"],
    );
    assert!(!r.join("ntk").exists() || fs::read_dir(r.join("ntk")).unwrap().count() == 0);
    // One masks run named twice is one seed, not two.
    let twice = [
        "graphon-ntk",
        "--masks",
        &masks,
        "--masks",
        &masks,
        "--kernel-size",
        "20",
    ];
    assert_refused(&glh(r, &twice), &["seed 0"]);
}

#[test]
fn item_7_an_export_writes_only_over_a_regular_file_outside_the_store() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path().join("artifacts");
    let masks = random_mask_key(&r, "0");
    let outside = tempfile::tempdir().unwrap();
    let fifo = outside.path().join("fifo");
    mkfifo(&fifo);
    let dir = outside.path().join("a-directory");
    fs::create_dir_all(&dir).unwrap();
    let inside = r.join("masks").join(&masks).join("masks.parquet");
    let before = fs::read(&inside).unwrap();
    for (out, needle) in [
        (PathBuf::from("/dev/null"), "a device"),
        (fifo.clone(), "a FIFO"),
        (dir.clone(), "a directory"),
        (inside.clone(), "inside the artifact store"),
        (r.join("edges.parquet"), "inside the artifact store"),
    ] {
        let export = ["masks", "export", &masks, "--out", out.to_str().unwrap()];
        assert_refused(&glh(&r, &export), &[needle]);
    }
    assert_eq!(fs::read(&inside).unwrap(), before);
    assert!(!r.join("edges.parquet").exists());
    // A user's file named like the old temporary survives an export beside it.
    let out = outside.path().join("edges.parquet");
    let users = outside.path().join("edges.parquet.tmp");
    fs::write(&users, b"mine").unwrap();
    assert_ok(&glh(
        &r,
        &["masks", "export", &masks, "--out", out.to_str().unwrap()],
    ));
    assert_eq!(fs::read(&users).unwrap(), b"mine");
    assert!(out.is_file());
}

#[test]
fn item_8_numbers_that_size_allocations_are_bounded() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let masks = random_mask_key(r, "0");
    let pipeline = |name: &str, tables: &str| {
        let path = r.join(format!("{name}.toml"));
        fs::write(
            &path,
            format!(
                "name = \"{name}\"\n[sweep]\nmethods = [\"random\"]\nwidths = [8]\n\
                 sparsities = [0.5]\ndepths = [3]\nseeds = [0]\n[masks]\n{tables}"
            ),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let steps = pipeline("steps", "[ntk]\npredicted_steps = 4294967295\n");
    assert_refused(&glh(r, &["run", &steps]), &["ntk.predicted_steps"]);
    let cpus = pipeline("cpus", "[slurm]\ncpus_per_task = 4294967295\n");
    assert_refused(&glh(r, &["run", &cpus]), &["cpus_per_task", "1 to 256"]);
    assert_refused(
        &glh(r, &["train", "--masks", &masks, "--steps", "4294967295"]),
        &["training.steps", "at most"],
    );
    for args in [
        &["run", &steps, "-j", "5000"][..],
        &["report", &steps, "--bootstrap", "4294967295"][..],
    ] {
        let out = glh(r, args);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    // An edge list of many one-edge layers is refused by its layer count before it is sized.
    let deep = r.join("deep.parquet");
    let edges: Vec<[u64; 5]> = (1..=2000).map(|l| [l, 0, 0, 1, 1]).collect();
    edge_list(&deep, &edges);
    assert_refused(
        &glh(r, &["graphons", "--edges", deep.to_str().unwrap()]),
        &["2000 layers", "at most 1024"],
    );
    // Ten million rows in a few kilobytes: refused from the file's metadata, before decoding.
    let long = r.join("long.parquet");
    let edges = vec![[1, 0, 0, 1, 1]; 10_000_000];
    edge_list(&long, &edges);
    assert!(fs::metadata(&long).unwrap().len() < 1 << 20);
    let limited = [
        "--memory-limit",
        "400M",
        "graphons",
        "--edges",
        long.to_str().unwrap(),
    ];
    assert_refused(&glh(r, &limited), &["10000000 rows", "400.0 MiB"]);
    // A FIFO as an input is refused, not read (reading it would block forever): an edge list,
    // a pipeline file, and a table inside a run of the store.
    let fifo = r.join("edges-fifo");
    mkfifo(&fifo);
    assert_refused(
        &glh(r, &["graphons", "--edges", fifo.to_str().unwrap()]),
        &["regular file", "FIFO"],
    );
    assert_refused(&glh(r, &["run", fifo.to_str().unwrap()]), &["FIFO"]);
    let table = r.join("masks").join(&masks).join("masks.parquet");
    fs::remove_file(&table).unwrap();
    mkfifo(&table);
    assert_refused(&glh(r, &["verify"]), &["1 damaged run"]);
    assert_refused(
        &glh(r, &["graphons", "--masks", &masks]),
        &["not a regular file"],
    );
}

#[test]
fn item_9_a_histogram_grid_that_would_differ_between_widths_is_refused_when_planned() {
    let root = tempfile::tempdir().unwrap();
    let path = root.path().join("k.toml");
    fs::write(
        &path,
        "name = \"k\"\n[sweep]\nmethods = [\"random\"]\nwidths = [48, 96]\nsparsities = [0.5]\n\
         depths = [3]\nseeds = [0]\n[masks]\n[graphons]\nk = 64\n",
    )
    .unwrap();
    let out = glh(root.path(), &["run", path.to_str().unwrap()]);
    assert_refused(&out, &["graphons.k", "at most 48"]);
    assert!(!root.path().join("masks").exists(), "nothing ran");
}

#[test]
fn item_10_a_control_character_in_a_script_path_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("art\nifacts");
    let out = glh(
        &store,
        &[
            "run",
            "pipelines/smoke.toml",
            "--executor",
            "slurm",
            "--dry-run",
        ],
    );
    assert_refused(&out, &["--artifacts", "control characters"]);
    assert!(!store.exists());
}

#[test]
fn item_11_an_edge_list_that_is_not_an_mnist_network_gets_no_kernel() {
    let root = tempfile::tempdir().unwrap();
    let edges = root.path().join("e.parquet");
    // 784 -> 4 -> 3: three outputs, not MNIST's ten classes.
    edge_list(&edges, &[[1, 0, 0, 4, 784], [2, 0, 0, 3, 4]]);
    let out = glh(
        &root.path().join("artifacts"),
        &[
            "ntk",
            "--edges",
            edges.to_str().unwrap(),
            "--kernel-per-class",
            "2",
        ],
    );
    assert_refused(&out, &["784 -> ... -> 3", "MNIST network"]);
}
