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
use arrow::array::{Float64Array, StringArray, UInt32Array};
use faer::Mat;
use glh_artifacts::config::Sweep;
use glh_artifacts::schemas::{
    DYNAMICS_CURVES, DYNAMICS_ERRORS, TRAINING_HISTORY, TRAINING_OUTPUTS,
};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::DataSettings;
use glh_data::mnist::{CLASSES, PIXELS};
use glh_data::stage::{Subset, SubsetsJob, subset_images};
use glh_masks::stage::{Configuration, MasksJob, read_mask, run_columns};
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

/// The stage's name.
pub const STAGE: &str = "dynamics";
/// Bumped whenever the stage's outputs for the same parameters change.
/// Version 2: the Graphon NTK recursion of ntk version 6 (polynomial moments, the first layer
/// around the pixels' baseline): predicted curves differ in their last bits.
/// Version 3: the empirical kernel multiplies a mask below
/// `glh_ntk::products::SPARSE_BELOW_DENSITY` as sparse (ntk version 7): last bits again.
pub const VERSION: u32 = 3;

#[derive(Serialize)]
struct DynamicsParams<'a> {
    settings: &'a DynamicsSettings,
    /// Which of the configuration's masks runs (inputs after the training and data runs) is
    /// the trained network's.
    own: usize,
}

/// The run of the training run `training` whose network is `configuration[own]`'s, trained on
/// the kernel images of `data`.
fn dynamics_spec(
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
fn run_dynamics(store: &ArtifactStore, job: &DynamicsJob, force: bool) -> Result<JobOutcome> {
    let (settings, training_settings) = (&job.settings, &job.training_settings);
    let (data, configuration, own) = (&job.data, &job.configuration, job.own);
    let training = &job.training;
    check_regime(training_settings, "training settings")?;
    store.run(&job.spec, force, |writer| {
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
        let recorded = read_outputs(store, training)?;
        let observed = observed_losses(store, training, &recorded, steps)?;
        let r0 = recorded.residual(0).expect("step 0 is always recorded");
        let images = subset_images(store, data, labels.seed, Subset::Kernel)?;
        let n = images.indices.len();
        if images.indices != recorded.images {
            return Err(Error::input(
                store.table_path(training, &TRAINING_OUTPUTS),
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
        let curve = |source: &str, losses: &[f64]| -> Columns {
            leading(losses.len())
                .with(
                    "step",
                    UInt32Array::from_iter_values(0..losses.len() as u32),
                )
                .with("source", StringArray::from(vec![source; losses.len()]))
                .with("loss", Float64Array::from(losses.to_vec()))
        };
        let mut curves = vec![curve("observed", &observed)];
        curves.extend(
            predictions
                .iter()
                .map(|p| curve(p.kernel.name(), &p.losses)),
        );
        writer.write_table(&DYNAMICS_CURVES, Columns::concat(curves)?)?;
        let one = |v: f64| Float64Array::from(vec![v]);
        let errors: Vec<Columns> = predictions
            .iter()
            .map(|p| {
                let last = |losses: &[f64]| *losses.last().expect("T + 1 losses");
                leading(1)
                    .with("kernel", StringArray::from(vec![p.kernel.name()]))
                    .with("curve_error", one(curve_error(&observed, &p.losses)))
                    .with("observed_final", one(last(&observed)))
                    .with("predicted_final", one(last(&p.losses)))
                    .with("observed_area", one(relative_area(&observed)))
                    .with("predicted_area", one(relative_area(&p.losses)))
                    .with("top_eigenvalue", one(p.top_eigenvalue))
                    .with("trace", one(p.trace))
                    .with("stable_learning_rate", one(p.stable_learning_rate))
            })
            .collect();
        writer.write_table(&DYNAMICS_ERRORS, Columns::concat(errors)?)
    })
}

fn leading_columns(
    labels: &RunColumns,
    training: &TrainingSettings,
    n_points: usize,
    rows: usize,
) -> Columns {
    labels
        .columns(rows)
        .with(
            "learning_rate",
            Float64Array::from(vec![training.learning_rate; rows]),
        )
        .with("steps", UInt32Array::from(vec![training.steps; rows]))
        .with(
            "sigma_w2",
            Float64Array::from(vec![training.sigma_w2; rows]),
        )
        .with("n_points", UInt32Array::from(vec![n_points as u32; rows]))
}

/// An upper sketch of a dynamics job's memory: the network's f64 weights, masks and effective
/// weights, its activations and the ten outputs' backward passes over N images, and the
/// `10N x 10N` empirical kernel with its eigenvectors and the solver's workspace.
pub fn memory_estimate(width: u64, depth: u32, images: u64) -> u64 {
    use glh_artifacts::memory::product;
    let pixels = PIXELS as u64;
    let classes = CLASSES as u64;
    let weights = glh_model::mlp::weight_count(pixels, width, u64::from(depth), classes);
    let activations = product(&[width, u64::from(depth), images, classes + 2]);
    let side = product(&[images, classes]);
    product(&[weights, 4 * 8])
        .saturating_add(product(&[activations, 8]))
        .saturating_add(product(&[side, side, 4 * 8]))
}

/// The job that predicts one training run's curve: the one door to a dynamics run. Built from
/// the training job it reads, so its learning rate, steps, sigma_w^2 and images are that
/// run's.
#[derive(Clone, Debug)]
pub struct DynamicsJob {
    settings: DynamicsSettings,
    training_settings: TrainingSettings,
    data: DataSettings,
    training: InputRef,
    /// The data job of the kernel images the training run trained on.
    images: SubsetsJob,
    configuration: Vec<InputRef>,
    own: usize,
    spec: JobSpec,
}

impl DynamicsJob {
    /// The prediction of `training`'s curve, whose network is `configuration[own]`'s (the
    /// configuration's masks runs in seed order).
    pub fn of(
        settings: &DynamicsSettings,
        training: &TrainingJob,
        configuration: Vec<InputRef>,
        own: usize,
    ) -> Result<Self> {
        if configuration.get(own) != Some(training.masks()) {
            return Err(Error::Unsupported(
                "bug: a dynamics job's own masks run is not its training run's".into(),
            ));
        }
        // The kernel images its training run trained on (gd's), or, for a training outside the
        // NTK regime (refused when the job runs), those of the same seed.
        let images = match training.images_job() {
            Some(images) => images.clone(),
            None => SubsetsJob::new(training.data(), training.seed())?,
        };
        let training_input = training.spec().as_input();
        Ok(DynamicsJob {
            spec: dynamics_spec(
                settings,
                training_input.clone(),
                images.spec().as_input(),
                &configuration,
                own,
            ),
            images,
            settings: settings.clone(),
            training_settings: training.settings().clone(),
            data: training.data().clone(),
            training: training_input,
            configuration,
            own,
        })
    }
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
        run_dynamics(store, self, force)
    }
}

/// The `[dynamics]` table: a dynamics job per training job of the plan.
#[derive(Clone, Debug)]
pub struct DynamicsStage {
    /// The stage's settings (the training and data settings are each training job's).
    pub settings: DynamicsSettings,
}

impl Stage for DynamicsStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        // Masks jobs by configuration, sorted by seed.
        let mut configurations: BTreeMap<Configuration, Vec<(u64, usize, InputRef)>> =
            BTreeMap::new();
        for (id, job) in plan.jobs_of::<MasksJob>() {
            let p = job.point();
            configurations
                .entry(job.configuration())
                .or_default()
                .push((p.seed, id, job.spec().as_input()));
        }
        // (id, training job, this job's label).
        let trainings: Vec<(usize, TrainingJob, String)> = plan
            .jobs_of::<TrainingJob>()
            .into_iter()
            .map(|(id, job)| {
                let label = plan.jobs()[id].label.replacen("train", "dynamics", 1);
                (id, job.clone(), label)
            })
            .collect();
        for members in configurations.values_mut() {
            members.sort_by_key(|m| m.0);
            let inputs: Vec<InputRef> = members.iter().map(|m| m.2.clone()).collect();
            for (own, (_, _, masks_input)) in members.iter().enumerate() {
                let Some((training_id, training, label)) =
                    trainings.iter().find(|t| t.1.masks() == masks_input)
                else {
                    continue;
                };
                let job = DynamicsJob::of(&self.settings, training, inputs.clone(), own)?;
                let data_id = plan.ensure(job.images.clone(), job.images.label());
                let mut after = vec![*training_id, data_id];
                after.extend(members.iter().map(|m| m.1));
                plan.push(job, label.clone(), after);
            }
        }
        Ok(())
    }
}
