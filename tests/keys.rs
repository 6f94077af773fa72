//! Cache keys are complete, and only as wide as the output: for every stage, every setting that
//! reaches a job is perturbed one at a time, the pipeline is run into a fresh store, and each
//! job's key is compared with the baseline's beside its tables' contents (decoded, so the
//! `glh.*` metadata that names the key does not count):
//!
//! - contents changed, key the same: a hole (one key would serve two outputs); fails;
//! - key changed, contents the same, and no input's contents changed: the setting forks a key it
//!   does not affect; fails.
//!
//! Every leaf of every stage table of the pipeline file must be perturbed here or exempted with
//! its reason, so a new setting cannot escape the test. The sweep's fields are not settings
//! (they name the jobs), and `[slurm]` is covered by its own check (no key changes).

use arrow::array::ArrayRef;
use glh_artifacts::ArtifactStore;
use glh_pipeline::{ExecOptions, Pipeline, Silent};
use glh_tests::repo_root;
use std::collections::{BTreeMap, BTreeSet};

/// Adam training beside every stage but dynamics (which needs gradient descent): four methods
/// and a graphon design, two widths (so convergence jobs exist), one depth and seed, everything
/// written out.
const WITH_ADAM: &str = r#"
name = "keys"
[sweep]
methods = ["random", "snip", "grasp", "synflow", "graphon:snip"]
widths = [16, 24]
sparsities = [0.8]
depths = [3]
seeds = [0]
[data]
dir = "DATA"
standardise = true
mean = 0.1307
std = 0.3081
scoring_per_class = 2
kernel_per_class = 2
[masks]
scope = "global"
synflow_rounds = 4
grasp_temperature = 200.0
allow_empty_layers = false
classifier = "pruned"
[graphons]
k = 4
rescale = "none"
[ntk]
sigma_w2 = 2.0
histogram_k = 4
empirical_draws = 1
predicted_steps = 50
[graphon_ntk]
k = 4
sigma_w2 = [1.0, 2.0]
kernel_size = 20
kernel_seed = 0
draw_masks = true
seed_kernels = true
[training]
learning_rate = 1e-3
beta1 = 0.9
beta2 = 0.999
eps = 1e-8
weight_decay = 0.0
batch_size = 16
steps = 4
eval_every = 2
loss_threshold = 2.0
device = "cpu"
[slurm]
time = "0:10:00"
"#;

/// Gradient descent in the NTK regime and the dynamics stage.
const WITH_GD: &str = r#"
name = "keys-gd"
[sweep]
methods = ["random", "snip"]
widths = [16]
sparsities = [0.8]
depths = [3]
seeds = [0]
[data]
dir = "DATA"
scoring_per_class = 2
kernel_per_class = 2
[masks]
scope = "global"
[training]
parameterisation = "ntk"
loss = "mse"
optimizer = "gd"
learning_rate = 0.2
sigma_w2 = 2.0
steps = 6
eval_every = 3
output_steps = [2]
[dynamics]
kernels = ["empirical", "mask", "graphon"]
graphon_k = 4
"#;

/// One perturbation: a pipeline (`WITH_ADAM` or `WITH_GD`), a field and its new TOML value.
type Perturbation = (&'static str, &'static str, &'static str, &'static str);

const PERTURBATIONS: &[Perturbation] = &[
    ("adam", "data", "standardise", "false"),
    ("adam", "data", "mean", "0.2"),
    ("adam", "data", "std", "0.5"),
    ("adam", "data", "scoring_per_class", "3"),
    ("adam", "data", "kernel_per_class", "3"),
    ("adam", "data", "dir", "DATA_LINK"),
    ("adam", "masks", "scope", "\"layerwise\""),
    ("adam", "masks", "synflow_rounds", "2"),
    ("adam", "masks", "grasp_temperature", "1.0"),
    ("adam", "masks", "allow_empty_layers", "true"),
    ("adam", "masks", "classifier", "\"dense\""),
    (
        "adam",
        "masks",
        "graphon",
        "{ target = \"power\", beta = 2.0 }",
    ),
    ("adam", "graphons", "k", "3"),
    ("adam", "graphons", "rescale", "\"layer_density\""),
    ("adam", "ntk", "sigma_w2", "1.0"),
    ("adam", "ntk", "histogram_k", "3"),
    ("adam", "ntk", "empirical_draws", "2"),
    ("adam", "ntk", "predicted_steps", "7"),
    ("adam", "graphon_ntk", "k", "3"),
    ("adam", "graphon_ntk", "sigma_w2", "[1.0]"),
    ("adam", "graphon_ntk", "kernel_size", "30"),
    ("adam", "graphon_ntk", "kernel_seed", "1"),
    ("adam", "graphon_ntk", "draw_masks", "false"),
    ("adam", "graphon_ntk", "draw_seed", "1"),
    ("adam", "graphon_ntk", "seed_kernels", "false"),
    ("adam", "training", "learning_rate", "0.01"),
    ("adam", "training", "beta1", "0.5"),
    ("adam", "training", "beta2", "0.9"),
    ("adam", "training", "eps", "1e-3"),
    ("adam", "training", "weight_decay", "0.1"),
    ("adam", "training", "batch_size", "8"),
    ("adam", "training", "steps", "3"),
    ("adam", "training", "eval_every", "3"),
    ("adam", "training", "loss_threshold", "2.2"),
    ("adam", "slurm", "time", "\"0:20:00\""),
    ("gd", "data", "standardise", "false"),
    ("gd", "data", "kernel_per_class", "3"),
    ("gd", "training", "learning_rate", "0.1"),
    ("gd", "training", "sigma_w2", "1.0"),
    ("gd", "training", "steps", "5"),
    ("gd", "training", "output_steps", "[3]"),
    ("gd", "dynamics", "kernels", "[\"mask\"]"),
    ("gd", "dynamics", "graphon_k", "3"),
];

/// Settings not perturbed here, each with its reason.
const EXEMPT: &[(&str, &str, &str)] = &[
    (
        "training",
        "device",
        "only the CPU exists on the test machines; the device is a plain key field",
    ),
    (
        "training",
        "parameterisation",
        "each value needs its own optimizer and loss: the two pipelines are its two values",
    ),
    (
        "training",
        "optimizer",
        "as parameterisation: Adam in one pipeline, gradient descent in the other",
    ),
    (
        "training",
        "loss",
        "as parameterisation: cross-entropy in one pipeline, squared error in the other",
    ),
];

/// One job's identity in a plan, its key, its inputs and its tables' decoded contents.
struct Run {
    key: String,
    inputs: Vec<(String, String)>,
    contents: Vec<(String, Vec<ArrayRef>)>,
}

/// The base pipeline `which` (`adam` or `gd`) reading MNIST from `data`.
fn pipeline_text(which: &str, data: &std::path::Path) -> String {
    let text = if which == "adam" { WITH_ADAM } else { WITH_GD };
    text.replace("\"DATA\"", &format!("{:?}", data.display().to_string()))
}

fn perturbed(text: &str, table: &str, field: &str, value: &str) -> String {
    let mut doc: toml::Table = text.parse().expect("the base pipeline is TOML");
    let value: toml::Value = format!("v = {value}")
        .parse::<toml::Table>()
        .expect("a TOML value")["v"]
        .clone();
    doc.get_mut(table)
        .and_then(|t| t.as_table_mut())
        .unwrap_or_else(|| panic!("no [{table}]"))
        .insert(field.to_string(), value);
    toml::to_string(&doc).expect("TOML")
}

/// Runs `text` into a fresh store: per (stage, label), the run's key, inputs and contents.
fn run(text: &str) -> BTreeMap<(String, String), Run> {
    let pipeline = Pipeline::from_toml(text, "keys test").expect("a valid pipeline");
    let plan = glh_pipeline::plan(&pipeline).expect("plans");
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::new(root.path());
    let options = ExecOptions {
        force: false,
        jobs: 2,
    };
    glh_pipeline::execute(&store, &plan, options, &Silent).expect("runs");
    let id = |i: usize| (plan[i].stage().to_string(), plan[i].label.clone());
    let mut runs = BTreeMap::new();
    for (i, job) in plan.jobs().iter().enumerate() {
        let manifest = store
            .find(job.stage(), &job.key())
            .unwrap()
            .expect("complete");
        let mut contents = Vec::new();
        for file in &manifest.files {
            let name = file.file.trim_end_matches(".parquet");
            let schema = glh_artifacts::schemas::find(job.stage(), name).expect("a known table");
            let batch = store
                .read_run_table(&job.spec().as_input(), schema)
                .unwrap();
            contents.push((name.to_string(), batch.columns().to_vec()));
        }
        let previous = runs.insert(
            id(i),
            Run {
                key: job.key().to_string(),
                inputs: job.depends_on.iter().map(|&d| id(d)).collect(),
                contents,
            },
        );
        assert!(previous.is_none(), "two jobs labelled {:?}", id(i));
    }
    runs
}

/// Settings that can change a job's output but do not in these tiny pipelines, so their key
/// change meets equal contents: `allow_empty_layers` matters only where a layer would be
/// emptied, which none is at 80% sparsity here.
const CAN_CHANGE_BUT_DO_NOT_HERE: &[(&str, &str)] = &[("masks", "allow_empty_layers")];

/// The failures of one perturbation against the baseline (empty when its keys are exact).
fn compare(
    what: &str,
    base: &BTreeMap<(String, String), Run>,
    new: &BTreeMap<(String, String), Run>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (id, b) in base {
        let Some(n) = new.get(id) else {
            continue; // the perturbation changed the plan (a job it no longer needs)
        };
        let key_changed = n.key != b.key;
        let contents_changed = n.contents != b.contents;
        // A key inherits a change of an input's key; only a change that starts at this job's
        // own parameters with equal contents is a fork.
        let input_key_changed = n
            .inputs
            .iter()
            .any(|i| !base.contains_key(i) || new[i].key != base[i].key);
        if contents_changed && !key_changed {
            failures.push(format!(
                "{what}: {id:?} changed its output under the same key"
            ));
        }
        if key_changed && !contents_changed && !input_key_changed {
            failures.push(format!("{what}: {id:?} got a new key for identical output"));
        }
    }
    failures
}

#[test]
fn every_setting_changes_a_key_exactly_when_it_changes_the_output() {
    let data = repo_root().join("data/mnist");
    let links = tempfile::tempdir().unwrap();
    let link = links.path().join("mnist-elsewhere");
    std::os::unix::fs::symlink(&data, &link).unwrap();

    // Coverage: every stage setting of the pipeline files is perturbed or exempted.
    let mut covered: BTreeSet<(String, String)> = PERTURBATIONS
        .iter()
        .map(|p| (p.1.to_string(), p.2.to_string()))
        .collect();
    covered.extend(EXEMPT.iter().map(|e| (e.0.to_string(), e.1.to_string())));
    for which in ["adam", "gd"] {
        let text = pipeline_text(which, &data);
        let written = Pipeline::from_toml(&text, "keys test")
            .unwrap()
            .to_toml()
            .unwrap();
        let doc: toml::Table = written.parse().unwrap();
        for (table, fields) in &doc {
            if ["sweep", "slurm"].contains(&table.as_str()) {
                continue;
            }
            let Some(fields) = fields.as_table() else {
                continue; // name, description
            };
            for field in fields.keys() {
                assert!(
                    covered.contains(&(table.clone(), field.clone())),
                    "`{table}.{field}` is neither perturbed nor exempted in tests/keys.rs"
                );
            }
        }
    }

    let mut failures = Vec::new();
    let mut keys_moved = 0;
    for which in ["adam", "gd"] {
        let text = pipeline_text(which, &data);
        let base = run(&text);
        for &(_, table, field, value) in PERTURBATIONS.iter().filter(|p| p.0 == which) {
            let value = &value.replace("DATA_LINK", &format!("{:?}", link.display().to_string()));
            let new = run(&perturbed(&text, table, field, value));
            let what = format!("{which}: {table}.{field} = {value}");
            let found = compare(&what, &base, &new);
            if CAN_CHANGE_BUT_DO_NOT_HERE.contains(&(table, field)) {
                assert!(
                    found
                        .iter()
                        .all(|f| f.contains("new key for identical output")),
                    "{found:?}"
                );
            } else {
                failures.extend(found);
            }
            keys_moved += usize::from(
                new.iter()
                    .any(|(id, n)| base.get(id).is_some_and(|b| b.key != n.key)),
            );
            // Settings that change nothing computed move no key at all.
            if ["dir", "time"].contains(&field) {
                let moved: Vec<_> = new
                    .iter()
                    .filter(|(id, n)| base.get(*id).is_some_and(|b| b.key != n.key))
                    .map(|(id, _)| id.clone())
                    .collect();
                assert!(moved.is_empty(), "{what} moved the keys of {moved:?}");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The test can fail: most perturbations do move keys (all but the two above).
    assert!(keys_moved >= PERTURBATIONS.len() - 2, "{keys_moved}");
}
