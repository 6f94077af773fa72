//! The `dynamics` stage: one job per gradient-descent training run compares its observed loss
//! curve with the curves its kernels predict (`curves.parquet`) and scores each prediction
//! (`errors.parquet`).
//!
//! Its inputs are the training run (observed curve and initial residual), the data run whose
//! kernel images it trained on, and the masks runs of every seed of its configuration (its own
//! mask, and the seed-averaged graphon of the `graphon` kernel). The kernels are computed here
//! from the mask and the seed, never read back from another stage: the empirical kernel is of
//! draw 0 of the NTK weights, which is exactly the network the training stage trained.

use crate::prediction::{
    KernelPrediction, curve_error, predicted_losses, relative_area, stable_learning_rate,
};
use crate::settings::{DynamicsSettings, PredictingKernel};
use arrow::array::{ArrayRef, Float64Array, StringArray, UInt32Array};
use faer::Mat;
use glh_artifacts::config::Sweep;
use glh_artifacts::parquet_io::concat_columns;
use glh_artifacts::schemas::{
    DYNAMICS_CURVES, DYNAMICS_ERRORS, TRAINING_HISTORY, TRAINING_OUTPUTS,
};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::DataSettings;
use glh_data::mnist::{CLASSES, PIXELS};
use glh_data::stage::{Subset, SubsetsJob, subset_images};
use glh_masks::stage::{MasksJob, read_mask, run_columns};
use glh_model::LayerMask;
use glh_model::backprop::examples_as_columns;
use glh_ntk::GraphonChain;
use glh_ntk::configuration::configuration_chain;
use glh_ntk::empirical::{draw_weights, empirical_ntk_full};
use glh_ntk::recursion::graphon_ntk_per_output;
use glh_training::TrainingSettings;
use glh_training::settings::{Loss, Optimizer, Parameterisation};
use glh_training::stage::{RecordedOutputs, TrainingJob, read_history, read_outputs};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The stage's name.
pub const STAGE: &str = "dynamics";
/// Bumped whenever the stage's outputs for the same parameters change.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct DynamicsParams<'a> {
    settings: &'a DynamicsSettings,
    /// Which of the configuration's masks runs (inputs after the training and data runs) is
    /// the trained network's.
    own: usize,
}

/// The job of the training run `training` whose network is `configuration[own]`'s, trained on
/// the kernel images of `data`.
pub fn job_spec(
    settings: &DynamicsSettings,
    training: InputRef,
    data: InputRef,
    configuration: &[InputRef],
    own: usize,
) -> JobSpec {
    let mut inputs = vec![training, data];
    inputs.extend(configuration.iter().cloned());
    JobSpec::new(STAGE, VERSION, &DynamicsParams { settings, own }, inputs)
}

/// Refuses training settings outside the NTK regime, naming the field.
pub fn check_regime(training: &TrainingSettings, source_name: &str) -> Result<()> {
    let wrong = [
        (
            training.parameterisation != Parameterisation::Ntk,
            "training.parameterisation",
            "\"ntk\"",
        ),
        (training.loss != Loss::Mse, "training.loss", "\"mse\""),
        (
            training.optimizer != Optimizer::Gd,
            "training.optimizer",
            "\"gd\"",
        ),
    ];
    for (is_wrong, field, want) in wrong {
        if is_wrong {
            let msg = format!(
                "must be {want}: [dynamics] predicts gradient descent in the NTK regime \
                 (parameterisation = \"ntk\", loss = \"mse\", optimizer = \"gd\")"
            );
            return Err(Error::config(source_name, field, msg));
        }
    }
    Ok(())
}

fn unsupported(what: &str) -> impl Fn(String) -> Error + '_ {
    move |e| Error::Unsupported(format!("dynamics, {what}: {e}"))
}

/// The observed losses `L_t`, `t = 0..=T`: the history's step t + 1 for t < T (its loss before
/// update t + 1) and the recorded outputs after T updates.
fn observed_losses(
    store: &ArtifactStore,
    training: &InputRef,
    outputs: &RecordedOutputs,
    steps: u32,
) -> Result<Vec<f64>> {
    let history = read_history(store, training)?;
    let n = outputs.n_points;
    let last = outputs.residual(steps).ok_or_else(|| {
        Error::input(
            store.table_path(training, &TRAINING_OUTPUTS),
            format!("no outputs after step {steps}, the run's last"),
        )
    })?;
    let mut losses: Vec<f64> = history.train.iter().map(|e| e.loss).collect();
    if losses.len() != steps as usize {
        return Err(Error::input(
            store.table_path(training, &TRAINING_HISTORY),
            format!(
                "{} training steps, but the settings say {steps}",
                losses.len()
            ),
        ));
    }
    losses.push(last.iter().map(|r| r * r).sum::<f64>() / (2 * n) as f64);
    Ok(losses)
}

/// What one kernel predicts for one run.
struct Predicted {
    kernel: PredictingKernel,
    losses: Vec<f64>,
    top_eigenvalue: f64,
    trace: f64,
    stable_learning_rate: f64,
}

/// The per-output blocks of a block-diagonal kernel, each with its output's residual column.
fn block_predictions(blocks: &[Mat<f64>], r0: &[f64], n: usize) -> Result<Vec<KernelPrediction>> {
    blocks
        .iter()
        .enumerate()
        .map(|(k, block)| {
            let column: Vec<f64> = (0..n).map(|a| r0[a * CLASSES + k]).collect();
            KernelPrediction::new(block, &column).map_err(unsupported("a kernel"))
        })
        .collect()
}

/// Computes and writes the predictions for one training run, unless cached (or `force`).
#[allow(clippy::too_many_arguments)]
pub fn run(
    store: &ArtifactStore,
    settings: &DynamicsSettings,
    training_settings: &TrainingSettings,
    data: &DataSettings,
    training: InputRef,
    data_run: InputRef,
    configuration: &[InputRef],
    own: usize,
    force: bool,
) -> Result<JobOutcome> {
    check_regime(training_settings, "training settings")?;
    let spec = job_spec(settings, training.clone(), data_run, configuration, own);
    store.run(&spec, force, |writer| {
        let labels = run_columns(store, &configuration[own])?;
        let n_images = u64::from(data.kernel_per_class) * CLASSES as u64;
        let bytes = memory_estimate(u64::from(labels.width.get()), labels.depth, n_images);
        let what = format!(
            "the {} x {} empirical NTK of a width-{} network",
            n_images * CLASSES as u64,
            n_images * CLASSES as u64,
            labels.width
        );
        glh_artifacts::memory::check("memory", "data.kernel_per_class", &what, bytes)?;
        let steps = training_settings.steps;
        let eta = training_settings.learning_rate;
        let sigma_w2 = training_settings.sigma_w2;
        let recorded = read_outputs(store, &training)?;
        let observed = observed_losses(store, &training, &recorded, steps)?;
        let r0 = recorded.residual(0).expect("step 0 is always recorded");
        let images = subset_images(store, data, labels.seed, Subset::Kernel)?;
        let n = images.indices.len();
        if images.indices != recorded.images {
            return Err(Error::input(
                store.table_path(&training, &TRAINING_OUTPUTS),
                "trained on other images than the data run's kernel set",
            ));
        }
        let x = examples_as_columns(&images.pixels, PIXELS);
        // Every seed's masks of the configuration (the graphon kernel averages them); this run's
        // own is one of them.
        let runs: Vec<Vec<LayerMask>> = configuration
            .iter()
            .map(|m| read_mask(store, m).map(|(_, mask)| mask.layers().to_vec()))
            .collect::<Result<_>>()?;
        let masks = &runs[own];
        let mut predictions = Vec::new();
        for &kernel in &settings.kernels {
            let blocks = match kernel {
                PredictingKernel::Empirical => {
                    let v = draw_weights(masks, labels.seed, 0);
                    let full = empirical_ntk_full(masks, &v, &x, sigma_w2);
                    // Output-major, as the kernel's rows are.
                    let r: Vec<f64> = (0..CLASSES * n)
                        .map(|row| r0[(row % n) * CLASSES + row / n])
                        .collect();
                    vec![KernelPrediction::new(&full, &r).map_err(unsupported("empirical"))?]
                }
                PredictingKernel::Mask => {
                    let chain = GraphonChain::of_masks(masks).map_err(unsupported("mask"))?;
                    block_predictions(&graphon_ntk_per_output(&chain, &x, sigma_w2), &r0, n)?
                }
                PredictingKernel::Graphon => {
                    let chain = configuration_chain(&runs, settings.graphon_k as usize)
                        .map_err(unsupported("graphon"))?;
                    block_predictions(&graphon_ntk_per_output(&chain, &x, sigma_w2), &r0, n)?
                }
            };
            let stable = stable_learning_rate(&blocks, n);
            if eta >= stable {
                let msg = format!(
                    "{eta} is unstable for {} L={} n={} s={} seed={}: gradient descent on its {} \
                     kernel needs eta < 2N / l_1 = {stable:.4}; choose one rate below every \
                     run's bound",
                    labels.method_name(),
                    labels.depth,
                    labels.width,
                    labels.sparsity,
                    labels.seed,
                    kernel.name()
                );
                return Err(Error::config(
                    "training settings",
                    "training.learning_rate",
                    msg,
                ));
            }
            predictions.push(Predicted {
                kernel,
                losses: predicted_losses(&blocks, eta, n, steps),
                top_eigenvalue: blocks
                    .iter()
                    .map(KernelPrediction::top_eigenvalue)
                    .fold(f64::NEG_INFINITY, f64::max),
                trace: blocks.iter().map(KernelPrediction::trace).sum(),
                stable_learning_rate: stable,
            });
        }
        let leading = |rows: usize| leading_columns(&labels, training_settings, n, rows);
        let curve = |source: &str, losses: &[f64]| -> Vec<ArrayRef> {
            let mut columns = leading(losses.len());
            columns.extend([
                Arc::new(UInt32Array::from_iter_values(0..losses.len() as u32)) as ArrayRef,
                Arc::new(StringArray::from(vec![source; losses.len()])),
                Arc::new(Float64Array::from(losses.to_vec())),
            ]);
            columns
        };
        let mut curves = vec![curve("observed", &observed)];
        curves.extend(
            predictions
                .iter()
                .map(|p| curve(p.kernel.name(), &p.losses)),
        );
        writer.write_table(&DYNAMICS_CURVES, concat_columns(&curves))?;
        let errors: Vec<Vec<ArrayRef>> = predictions
            .iter()
            .map(|p| {
                let mut columns = leading(1);
                columns.push(Arc::new(StringArray::from(vec![p.kernel.name()])) as ArrayRef);
                columns.extend(
                    [
                        curve_error(&observed, &p.losses),
                        *observed.last().expect("T + 1 losses"),
                        *p.losses.last().expect("T + 1 losses"),
                        relative_area(&observed),
                        relative_area(&p.losses),
                        p.top_eigenvalue,
                        p.trace,
                        p.stable_learning_rate,
                    ]
                    .map(|v| Arc::new(Float64Array::from(vec![v])) as ArrayRef),
                );
                columns
            })
            .collect();
        writer.write_table(&DYNAMICS_ERRORS, concat_columns(&errors))
    })
}

fn leading_columns(
    labels: &RunColumns,
    training: &TrainingSettings,
    n_points: usize,
    rows: usize,
) -> Vec<ArrayRef> {
    let mut columns = labels.columns(rows);
    columns.extend([
        Arc::new(Float64Array::from(vec![training.learning_rate; rows])) as ArrayRef,
        Arc::new(UInt32Array::from(vec![training.steps; rows])),
        Arc::new(Float64Array::from(vec![training.sigma_w2; rows])),
        Arc::new(UInt32Array::from(vec![n_points as u32; rows])),
    ]);
    columns
}

/// An upper sketch of a dynamics job's memory: the network's f64 weights, masks and effective
/// weights, its activations and the ten outputs' backward passes over N images, and the
/// `10N x 10N` empirical kernel with its eigenvectors and the solver's workspace.
pub fn memory_estimate(width: u64, depth: u32, images: u64) -> u64 {
    use glh_artifacts::memory::product;
    let pixels = PIXELS as u64;
    let classes = CLASSES as u64;
    let weights = product(&[pixels, width])
        .saturating_add(product(&[u64::from(depth).saturating_sub(2), width, width]))
        .saturating_add(product(&[width, classes]));
    let activations = product(&[width, u64::from(depth), images, classes + 2]);
    let side = product(&[images, classes]);
    product(&[weights, 4 * 8])
        .saturating_add(product(&[activations, 8]))
        .saturating_add(product(&[side, side, 4 * 8]))
}

/// The job that predicts one training run's curve.
#[derive(Clone, Debug)]
pub struct DynamicsJob {
    settings: DynamicsSettings,
    training_settings: TrainingSettings,
    data: DataSettings,
    training: InputRef,
    data_run: InputRef,
    configuration: Vec<InputRef>,
    own: usize,
    spec: JobSpec,
}

impl Job for DynamicsJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        run(
            store,
            &self.settings,
            &self.training_settings,
            &self.data,
            self.training.clone(),
            self.data_run.clone(),
            &self.configuration,
            self.own,
            force,
        )
    }
}

/// The `[dynamics]` table: a dynamics job per training job of the plan.
#[derive(Clone, Debug)]
pub struct DynamicsStage {
    /// The stage's settings.
    pub settings: DynamicsSettings,
    /// The pipeline's training settings (the NTK regime: checked by [`check_regime`]).
    pub training: TrainingSettings,
    /// The pipeline's data settings.
    pub data: DataSettings,
}

impl Stage for DynamicsStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        // Masks jobs by configuration (method, depth, width, sparsity), sorted by seed.
        type Configuration = (String, u32, u32, u64);
        let mut configurations: BTreeMap<Configuration, Vec<(u64, usize, InputRef)>> =
            BTreeMap::new();
        for (id, job) in plan.jobs_of::<MasksJob>() {
            let p = job.point();
            let key = (
                p.method.name().to_string(),
                p.depth.get(),
                p.width.get(),
                p.sparsity.value().to_bits(),
            );
            configurations
                .entry(key)
                .or_default()
                .push((p.seed, id, job.spec().as_input()));
        }
        // (id, masks input, training input, this job's label).
        let trainings: Vec<(usize, InputRef, InputRef, String)> = plan
            .jobs_of::<TrainingJob>()
            .into_iter()
            .map(|(id, job)| {
                let label = plan.jobs()[id].label.replacen("train", "dynamics", 1);
                (id, job.masks().clone(), job.spec().as_input(), label)
            })
            .collect();
        for members in configurations.values_mut() {
            members.sort_by_key(|m| m.0);
            let inputs: Vec<InputRef> = members.iter().map(|m| m.2.clone()).collect();
            for (own, &(seed, _, ref masks_input)) in members.iter().enumerate() {
                let Some((training_id, _, training_input, label)) =
                    trainings.iter().find(|t| t.1 == *masks_input)
                else {
                    continue;
                };
                let data = SubsetsJob::new(&self.data, seed)?;
                let data_input = data.spec().as_input();
                let data_label = data.label();
                let data_id = plan.ensure(data, data_label);
                let mut after = vec![*training_id, data_id];
                after.extend(members.iter().map(|m| m.1));
                let spec = job_spec(
                    &self.settings,
                    training_input.clone(),
                    data_input.clone(),
                    &inputs,
                    own,
                );
                let job = DynamicsJob {
                    settings: self.settings.clone(),
                    training_settings: self.training.clone(),
                    data: self.data.clone(),
                    training: training_input.clone(),
                    data_run: data_input,
                    configuration: inputs.clone(),
                    own,
                    spec,
                };
                plan.push(job, label.clone(), after);
            }
        }
        Ok(())
    }
}
