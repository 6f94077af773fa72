//! The `training` stage: one job per masks run trains its network and writes
//! `history.parquet` (every step's batch loss, the test set every `eval_every` steps) and
//! `summary.parquet` (one row); a gradient-descent run (the NTK regime) also writes
//! `outputs.parquet`, the network's outputs on its training images after some steps. Wall time
//! is in the run's `manifest.json`, not in the Parquet files, which stay byte-identical for the
//! same key.
//!
//! The key covers the settings (device included: GPU kernels round differently), the
//! normalisation, the MNIST checksums and the masks run, and for gradient descent the data run
//! whose kernel images it trains on; the network is rebuilt from the masks run's seed, never
//! stored twice.

use crate::masked_mlp::MaskedMlp;
use crate::schedule::{LayerDensities, MaskSchedule, erk_counts, rebalance};
use crate::settings::{Optimizer, Parameterisation, TrainingSettings};
use crate::train::{Evaluation, History, MnistTensors, Outputs, train, train_full_batch};
use arrow::array::{Float64Array, StringArray, UInt32Array};
use glh_artifacts::config::Sweep;
use glh_artifacts::schemas::{
    TRAINING_HISTORY, TRAINING_MASKS, TRAINING_OUTPUTS, TRAINING_SUMMARY,
};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::stage::{Subset, SubsetImages, SubsetsJob, subset_images};
use glh_data::{DataSettings, Normalisation};
use glh_masks::stage::{MasksJob, mask_row_columns, read_mask, run_columns, run_columns_of_seed};
use glh_model::ntk_init::ntk_mlp;
use glh_model::{Mask, MaskCheckpoint, Mlp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// The stage's name.
pub const STAGE: &str = "training";
/// Bumped whenever the stage's outputs for the same parameters change.
///
/// 2: the backward pass is written out, Adam fused and the CPU products are faer's
/// (`masked_mlp`, `adam`, `products`) instead of candle's autograd, candle-nn's `AdamW` and
/// candle's matmul; ReLU's derivative at 0 is 0 (it was 1). Gradients round differently (the
/// step still matches an f64 hand computation to 2e-7), so loss curves move at float
/// precision: an E3 SNIP run at 80% by at most 2.7e-4 in test loss, 2.6e-3 in batch loss.
///
/// 3: a network whose mask keeps less than a quarter of its weights trains on the sparse route
/// (`sparse`: only the kept weights, in strips of 64 examples, with `mul_add`), whose sums
/// round differently: an E3 SNIP run (seed 0) moves by at most 5.2e-3 in batch loss and 9.2e-4
/// in test loss at 80%, 1.6e-3 and 3.6e-4 at 90%, 2.2e-5 and 2.7e-6 at 95%. Denser networks
/// keep their bytes (test evaluations in row blocks and the backward product on faer give the
/// same bits, checked).
pub const VERSION: u32 = 3;

#[derive(Serialize)]
struct TrainingParams<'a> {
    settings: &'a TrainingSettings,
    #[serde(flatten)]
    normalisation: Normalisation,
    mnist_sha256: BTreeMap<String, String>,
}

/// The run that trains the network of the masks run `masks` (gradient descent trains on the
/// kernel images of `images`, the data run of that masks run's seed, an input of its key).
fn training_spec(
    settings: &TrainingSettings,
    data: &DataSettings,
    masks: InputRef,
    images: Option<&SubsetsJob>,
) -> Result<JobSpec> {
    let params = TrainingParams {
        settings,
        normalisation: Normalisation::from(data),
        mnist_sha256: glh_data::mnist::read_checksums(&data.dir)?,
    };
    let mut inputs = vec![masks];
    inputs.extend(images.map(|job| job.spec().as_input()));
    Ok(JobSpec::new(STAGE, VERSION, &params, inputs))
}

fn candle_error(e: candle_core::Error) -> Error {
    Error::Unsupported(format!("training: {e}"))
}

/// Trains the network of the masks run `job.masks` and writes its tables, unless cached (or
/// `force`); `on_step(done, total)` follows the steps. The network starts from the masks run's
/// own initialisation: its seed, like the run columns, is read from that run's manifest.
fn run_training(
    store: &ArtifactStore,
    job: &TrainingJob,
    force: bool,
    on_step: &mut dyn FnMut(usize, usize),
) -> Result<JobOutcome> {
    let (settings, data, masks) = (&job.settings, &job.data, &job.masks);
    let labels = run_columns_of_seed(store, masks, job.seed, "a training job")?;
    let device = settings.device.open()?;
    store.run(&job.spec, force, |writer| {
        let examples = match settings.optimizer {
            Optimizer::Adam => u64::from(settings.batch_size),
            Optimizer::Gd => u64::from(data.kernel_per_class) * glh_data::mnist::CLASSES as u64,
        };
        let what = format!(
            "training width {} and depth {} with batches of {examples}",
            labels.width, labels.depth
        );
        let checkpoints = settings.schedule.checkpoints(settings.steps) as u64;
        let bytes =
            memory_estimate(u64::from(labels.width.get()), labels.depth, examples).saturating_add(
                checkpoint_bytes(u64::from(labels.width.get()), labels.depth, checkpoints),
            );
        glh_artifacts::memory::check("memory", "width", &what, bytes)?;
        let (arch, mask) = read_mask(store, masks)?;
        let tensors = mnist_on(data, settings.device.name(), &device)?;
        let mut model = match settings.parameterisation {
            Parameterisation::Standard => {
                let mlp = Mlp::init(arch, labels.seed);
                let mask = starting_mask(&settings.schedule, &mlp, &mask, labels.seed);
                MaskedMlp::new(&mlp, &mask, &device).map(|m| m.with_loss(settings.loss))
            }
            Parameterisation::Ntk => MaskedMlp::ntk(
                &ntk_mlp(arch, labels.seed, settings.sigma_w2),
                &mask,
                &device,
                settings.sigma_w2,
                settings.loss,
            ),
        }
        .map_err(candle_error)?;
        let history = match settings.optimizer {
            Optimizer::Adam => {
                if settings.batch_size as usize > tensors.train_len() {
                    let msg = format!(
                        "{} is larger than the training set of {} ({} images)",
                        settings.batch_size,
                        data.dir.display(),
                        tensors.train_len()
                    );
                    return Err(Error::config("training settings", "batch_size", msg));
                }
                let trained = train(&mut model, &tensors, settings, labels.seed, on_step)
                    .map_err(candle_error)?;
                check_finite(settings, &trained.history, &[])?;
                if !trained.checkpoints.is_empty() {
                    writer.write_table(
                        &TRAINING_MASKS,
                        checkpoint_columns(&labels, settings, &trained.checkpoints)?,
                    )?;
                }
                trained.history
            }
            Optimizer::Gd => {
                let images = subset_images(store, data, labels.seed, Subset::Kernel)?;
                let n = images.indices.len();
                let x = candle_core::Tensor::from_slice(
                    &images.pixels,
                    (n, glh_data::mnist::PIXELS),
                    &device,
                );
                let labels_of: Vec<u32> = images.labels.iter().map(|&l| u32::from(l)).collect();
                let y = candle_core::Tensor::from_slice(&labels_of, n, &device);
                let (x, y) = (x.map_err(candle_error)?, y.map_err(candle_error)?);
                let (history, outputs) =
                    train_full_batch(&mut model, &x, &y, &tensors, settings, on_step)?;
                check_finite(settings, &history, &outputs)?;
                writer.write_table(
                    &TRAINING_OUTPUTS,
                    outputs_columns(&labels, settings, &images, &outputs)?,
                )?;
                history
            }
        };
        writer.write_table(
            &TRAINING_HISTORY,
            history_columns(&labels, settings, examples as u32, &history)?,
        )?;
        writer.write_table(
            &TRAINING_SUMMARY,
            summary_columns(&labels, settings, examples as u32, &history),
        )
    })
}

/// Refuses to publish a run that diverged: every loss and accuracy of `history` and every
/// recorded output must be finite (a NaN run, once cached, would enter every later
/// correlation). Checked after the last update too, which no in-loop check sees.
fn check_finite(settings: &TrainingSettings, history: &History, outputs: &[Outputs]) -> Result<()> {
    let evaluations = history.train.iter().map(|e| ("training", e));
    let bad = evaluations
        .chain(history.test.iter().map(|e| ("test", e)))
        .find(|(_, e)| !(e.loss.is_finite() && e.accuracy.is_finite()));
    let output = outputs
        .iter()
        .find(|o| o.values.iter().any(|v| !v.is_finite()));
    let at = match (bad, output) {
        (Some((split, e)), _) => format!("the {split} loss is {} at step {}", e.loss, e.step),
        (None, Some(o)) => format!("an output is not finite after step {}", o.step),
        (None, None) => return Ok(()),
    };
    let msg = format!(
        "training diverged ({at}); nothing was published: choose a smaller learning rate than \
         {}",
        settings.learning_rate
    );
    Err(Error::config("training settings", "learning_rate", msg))
}

/// Bytes per weight in [`memory_estimate`]: the f32 weight and Adam's two moments (one
/// `(3, ..)` tensor), the u8 mask, the gradient, and (off the CPU) the temporaries of the
/// tensor-op Adam step, rounded up.
const BYTES_PER_WEIGHT: u64 = 48;
/// Bytes per example and neuron: f32 activations, pre-activations and their gradients.
const BYTES_PER_ACTIVATION: u64 = 32;

/// An upper sketch of the memory a training job needs (see `glh_artifacts::memory`): the
/// MNIST tensors, [`BYTES_PER_WEIGHT`] per weight, and [`BYTES_PER_ACTIVATION`] per neuron
/// for each example of a batch and of the test set (evaluated in one pass).
pub fn memory_estimate(width: u64, depth: u32, batch_size: u64) -> u64 {
    use glh_artifacts::memory::product;
    let pixels = glh_data::mnist::PIXELS as u64;
    let classes = glh_data::mnist::CLASSES as u64;
    let weights = glh_model::mlp::weight_count(pixels, width, u64::from(depth), classes);
    let neurons = product(&[width, u64::from(depth)]);
    let test = glh_data::mnist::Split::Test.image_count() as u64;
    let mnist = product(&[70_000, pixels + 1, 4]);
    let examples = test.saturating_add(batch_size);
    mnist
        .saturating_add(product(&[weights, BYTES_PER_WEIGHT]))
        .saturating_add(product(&[examples, neurons, BYTES_PER_ACTIVATION]))
}

/// The bytes a scheduled run's masks take until they are written: a byte per weight per
/// checkpoint (`Mask` holds booleans), and as much again for the host copies of the weights,
/// the dense gradient and the flags an update makes.
fn checkpoint_bytes(width: u64, depth: u32, checkpoints: u64) -> u64 {
    let weights = glh_model::mlp::weight_count(
        glh_data::mnist::PIXELS as u64,
        width,
        u64::from(depth),
        glh_data::mnist::CLASSES as u64,
    );
    let per_update = glh_artifacts::memory::product(&[weights, 4 * 4]);
    glh_artifacts::memory::product(&[weights, checkpoints]).saturating_add(per_update)
}

/// The mask a run starts from: the masks run's, or for RigL with ERK densities that mask
/// rebalanced to ERK's per-layer counts at its total (a layer above drops its smallest initial
/// weights, one below grows random positions, stream `training/schedule`, at their initial
/// values).
pub fn starting_mask(schedule: &MaskSchedule, mlp: &Mlp, mask: &Mask, seed: u64) -> Mask {
    match schedule {
        MaskSchedule::Rigl(r) if r.densities == LayerDensities::Erk => {
            let shapes: Vec<(usize, usize)> =
                mask.layers().iter().map(|l| (l.rows(), l.cols())).collect();
            let counts = erk_counts(&shapes, mask.kept());
            let weights: Vec<Vec<f32>> = mlp.layers.iter().map(|l| l.weight.clone()).collect();
            // ERK's draws come first in the stream; the run's own updates use a fresh one.
            let mut rng = glh_artifacts::seeding::stream(seed, "training/schedule/erk");
            rebalance(mask, &weights, &counts, &mut rng).0
        }
        _ => mask.clone(),
    }
}

/// `masks.parquet` of a scheduled run: every checkpoint's mask, row by row.
fn checkpoint_columns(
    labels: &RunColumns,
    settings: &TrainingSettings,
    checkpoints: &[MaskCheckpoint],
) -> Result<Columns> {
    let schedule = settings.schedule.rule().name();
    let parts = checkpoints.iter().map(|c| {
        mask_row_columns(&c.mask, |n| {
            leading(labels, settings, settings.batch_size, n)
                .with("schedule", StringArray::from(vec![schedule; n]))
                .with("checkpoint", UInt32Array::from(vec![c.checkpoint; n]))
                .with("step", UInt32Array::from(vec![c.step; n]))
        })
    });
    Columns::concat(parts.collect())
}

/// MNIST on `device`, loaded once per process and data settings: a sweep's jobs share it
/// instead of decoding 70,000 images each.
fn mnist_on(
    data: &DataSettings,
    device_name: &str,
    device: &candle_core::Device,
) -> Result<Arc<MnistTensors>> {
    type Loaded = (String, Arc<MnistTensors>);
    static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);
    let id = format!(
        "{}|{}|{}|{}|{device_name}",
        data.dir.display(),
        data.standardise,
        data.mean,
        data.std
    );
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((key, tensors)) = loaded.as_ref()
        && *key == id
    {
        return Ok(Arc::clone(tensors));
    }
    let tensors = Arc::new(MnistTensors::load(data, device)?);
    *loaded = Some((id, Arc::clone(&tensors)));
    Ok(tensors)
}

/// The leading columns of every training table (`training_columns!`): the run columns, the
/// learning rate, the examples per step, the steps and the device, repeated `n` times.
pub fn leading(
    labels: &RunColumns,
    settings: &TrainingSettings,
    batch_size: u32,
    n: usize,
) -> Columns {
    labels
        .columns(n)
        .with(
            "learning_rate",
            Float64Array::from(vec![settings.learning_rate; n]),
        )
        .with("batch_size", UInt32Array::from(vec![batch_size; n]))
        .with("steps", UInt32Array::from(vec![settings.steps; n]))
        .with("device", StringArray::from(vec![settings.device.name(); n]))
}

fn history_columns(
    labels: &RunColumns,
    settings: &TrainingSettings,
    batch_size: u32,
    history: &History,
) -> Result<Columns> {
    let part = |split: &str, rows: &[Evaluation]| {
        let n = rows.len();
        leading(labels, settings, batch_size, n)
            .with(
                "step",
                UInt32Array::from_iter_values(rows.iter().map(|e| e.step)),
            )
            .with("split", StringArray::from(vec![split; n]))
            .with(
                "loss",
                Float64Array::from_iter_values(rows.iter().map(|e| e.loss)),
            )
            .with(
                "accuracy",
                Float64Array::from_iter_values(rows.iter().map(|e| e.accuracy)),
            )
    };
    Columns::concat(vec![
        part("train", &history.train),
        part("test", &history.test),
    ])
}

fn summary_columns(
    labels: &RunColumns,
    settings: &TrainingSettings,
    batch_size: u32,
    history: &History,
) -> Columns {
    let s = history.summary(settings.loss_threshold);
    let one = |v: f64| Float64Array::from(vec![v]);
    leading(labels, settings, batch_size, 1)
        .with("final_train_loss", one(s.final_train_loss))
        .with("final_test_loss", one(s.final_test_loss))
        .with("final_test_accuracy", one(s.final_test_accuracy))
        .with("train_loss_at_50", one(s.train_loss_at_50))
        .with("train_loss_at_100", one(s.train_loss_at_100))
        .with("mean_train_loss", one(s.mean_train_loss))
        .with("loss_threshold", one(settings.loss_threshold))
        .with(
            "steps_to_threshold",
            UInt32Array::from(vec![s.steps_to_threshold]),
        )
}

/// `outputs.parquet`: one row per recorded step, training image and output.
fn outputs_columns(
    labels: &RunColumns,
    settings: &TrainingSettings,
    images: &SubsetImages,
    outputs: &[Outputs],
) -> Result<Columns> {
    let n = images.indices.len();
    let classes = glh_data::mnist::CLASSES;
    let parts: Vec<Columns> = outputs
        .iter()
        .map(|o| {
            let rows = n * classes;
            let position = (0..n as u32).flat_map(|i| std::iter::repeat_n(i, classes));
            let image = images
                .indices
                .iter()
                .flat_map(|&i| std::iter::repeat_n(i, classes));
            let label = images
                .labels
                .iter()
                .flat_map(|&l| std::iter::repeat_n(u32::from(l), classes));
            let output = (0..n).flat_map(|_| 0..classes as u32);
            let target = images
                .labels
                .iter()
                .flat_map(|&l| (0..classes).map(move |k| f64::from(u8::from(usize::from(l) == k))));
            leading(labels, settings, n as u32, rows)
                .with("step", UInt32Array::from(vec![o.step; rows]))
                .with("position", UInt32Array::from_iter_values(position))
                .with("image", UInt32Array::from_iter_values(image))
                .with("label", UInt32Array::from_iter_values(label))
                .with("output", UInt32Array::from_iter_values(output))
                .with(
                    "value",
                    Float64Array::from_iter_values(o.values.iter().map(|&v| f64::from(v))),
                )
                .with("target", Float64Array::from_iter_values(target))
        })
        .collect();
    Columns::concat(parts)
}

/// The job that trains one masks run's network: the one door to a training run.
#[derive(Clone, Debug)]
pub struct TrainingJob {
    settings: TrainingSettings,
    data: DataSettings,
    masks: InputRef,
    /// The masks run's seed (its network's initialisation, and gd's kernel images).
    seed: u64,
    /// For gradient descent: the data job of its kernel images.
    images: Option<SubsetsJob>,
    spec: JobSpec,
}

impl TrainingJob {
    fn with_masks(
        settings: &TrainingSettings,
        data: &DataSettings,
        masks: InputRef,
        seed: u64,
    ) -> Result<Self> {
        let images = match settings.optimizer {
            Optimizer::Gd => Some(SubsetsJob::new(data, seed)?),
            Optimizer::Adam => None,
        };
        Ok(TrainingJob {
            spec: training_spec(settings, data, masks.clone(), images.as_ref())?,
            settings: settings.clone(),
            data: data.clone(),
            masks,
            seed,
            images,
        })
    }

    /// The training of the network `masks` will prune.
    pub fn of(settings: &TrainingSettings, data: &DataSettings, masks: &MasksJob) -> Result<Self> {
        Self::with_masks(settings, data, masks.spec().as_input(), masks.point().seed)
    }

    /// The training of the stored masks run `masks` (its seed read from its manifest).
    pub fn of_stored(
        store: &ArtifactStore,
        settings: &TrainingSettings,
        data: &DataSettings,
        masks: InputRef,
    ) -> Result<Self> {
        let seed = run_columns(store, &masks)?.seed;
        Self::with_masks(settings, data, masks, seed)
    }
}

impl TrainingJob {
    /// Its settings.
    pub fn settings(&self) -> &TrainingSettings {
        &self.settings
    }

    /// Its data settings (MNIST, normalisation, the kernel images of gd).
    pub fn data(&self) -> &DataSettings {
        &self.data
    }

    /// For gradient descent, the data job of its kernel images (an input of its key).
    pub fn images_job(&self) -> Option<&SubsetsJob> {
        self.images.as_ref()
    }

    /// The masks run whose network it trains.
    pub fn masks(&self) -> &InputRef {
        &self.masks
    }

    /// That masks run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl Job for TrainingJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn progress_unit(&self) -> Option<&'static str> {
        Some("steps")
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        run_training(store, self, force, progress)
    }
}

/// The `[training]` table: a training job per masks job of the plan.
#[derive(Clone, Debug)]
pub struct TrainingStage {
    /// The stage's settings.
    pub settings: TrainingSettings,
    /// The pipeline's data settings (normalisation, MNIST directory).
    pub data: DataSettings,
}

impl Stage for TrainingStage {
    fn plan(&self, sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        // Only the sweep's trained seeds: kernels may take more seeds than training.
        let trained = sweep.trained();
        let masks: Vec<(usize, MasksJob)> = plan
            .jobs_of::<MasksJob>()
            .into_iter()
            .filter(|(_, job)| trained.contains(&job.point().seed))
            .map(|(id, job)| (id, job.clone()))
            .collect();
        for (id, masks_job) in masks {
            let job = TrainingJob::of(&self.settings, &self.data, &masks_job)?;
            let mut after = vec![id];
            if let Some(images) = job.images_job() {
                after.push(plan.ensure(images.clone(), images.label()));
            }
            plan.push(job, format!("train {}", masks_job.label()), after);
        }
        Ok(())
    }
}

/// The history of the training run `input`: train rows, then test rows, as stored.
pub fn read_history(store: &ArtifactStore, input: &InputRef) -> Result<History> {
    use glh_artifacts::parquet_io::column;
    let batch = store.read_run_table(input, &TRAINING_HISTORY)?;
    let step: &UInt32Array = column(&batch, "step");
    let split: &StringArray = column(&batch, "split");
    let loss: &Float64Array = column(&batch, "loss");
    let accuracy: &Float64Array = column(&batch, "accuracy");
    let mut history = History::default();
    for r in 0..batch.num_rows() {
        let e = Evaluation {
            step: step.value(r),
            loss: loss.value(r),
            accuracy: accuracy.value(r),
        };
        match split.value(r) {
            "train" => history.train.push(e),
            _ => history.test.push(e),
        }
    }
    Ok(history)
}

/// The outputs a gradient-descent run recorded on its training images.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedOutputs {
    /// Number of training images N.
    pub n_points: usize,
    /// MNIST training-set index of each image, by position.
    pub images: Vec<u32>,
    /// `N x 10` one-hot targets, row-major.
    pub targets: Vec<f64>,
    /// Per recorded step (ascending), the `N x 10` outputs, row-major.
    pub outputs: Vec<(u32, Vec<f64>)>,
}

impl RecordedOutputs {
    /// The residual `f - y` after `step` updates, if recorded.
    pub fn residual(&self, step: u32) -> Option<Vec<f64>> {
        let (_, values) = self.outputs.iter().find(|(s, _)| *s == step)?;
        Some(
            values
                .iter()
                .zip(&self.targets)
                .map(|(f, y)| f - y)
                .collect(),
        )
    }
}

/// The outputs of the gradient-descent training run `input` (an error naming the file for a
/// run without them, such as an Adam run).
pub fn read_outputs(store: &ArtifactStore, input: &InputRef) -> Result<RecordedOutputs> {
    use glh_artifacts::parquet_io::column;
    let batch = store.read_optional_run_table(
        input,
        &TRAINING_OUTPUTS,
        "no outputs: only a gradient-descent run (`optimizer = \"gd\"`) records them",
    )?;
    let path = store.table_path(input, &TRAINING_OUTPUTS); // named in errors below
    let step: &UInt32Array = column(&batch, "step");
    let position: &UInt32Array = column(&batch, "position");
    let image: &UInt32Array = column(&batch, "image");
    let output: &UInt32Array = column(&batch, "output");
    let value: &Float64Array = column(&batch, "value");
    let target: &Float64Array = column(&batch, "target");
    let classes = glh_data::mnist::CLASSES;
    let n_points = (0..batch.num_rows())
        .map(|r| position.value(r) as usize + 1)
        .max()
        .unwrap_or(0);
    let mut recorded = RecordedOutputs {
        n_points,
        images: vec![0; n_points],
        targets: vec![0.0; n_points * classes],
        outputs: Vec::new(),
    };
    for r in 0..batch.num_rows() {
        let s = step.value(r);
        if recorded.outputs.last().is_none_or(|(last, _)| *last != s) {
            recorded
                .outputs
                .push((s, vec![f64::NAN; n_points * classes]));
        }
        let (i, k) = (position.value(r) as usize, output.value(r) as usize);
        if k >= classes {
            return Err(Error::input(path, format!("output {k} is not a class")));
        }
        recorded.images[i] = image.value(r);
        recorded.targets[i * classes + k] = target.value(r);
        recorded.outputs.last_mut().expect("pushed above").1[i * classes + k] = value.value(r);
    }
    if recorded
        .outputs
        .iter()
        .any(|(_, v)| v.iter().any(|x| x.is_nan()))
    {
        return Err(Error::input(path, "a recorded step misses some outputs"));
    }
    Ok(recorded)
}
