//! The `trajectories` stage: one job per training run under a mask schedule, reading the masks
//! that run trained under (its `masks.parquet`) and the kernel images of its seed, writing
//! `layers.parquet`, `histograms.parquet` and `metrics.parquet` (schemas `TRAJECTORY_*`).
//!
//! The key covers the settings, the training run and the data run of the kernel images; the
//! run columns are the training run's masks run's, read from its manifest.

use crate::settings::TrajectorySettings;
use crate::trajectory::{CheckpointView, trajectory};
use arrow::array::{Float64Array, StringArray, UInt32Array, UInt64Array};
use glh_artifacts::config::Sweep;
use glh_artifacts::schemas::{TRAJECTORY_HISTOGRAMS, TRAJECTORY_LAYERS, TRAJECTORY_METRICS};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::DataSettings;
use glh_data::mnist::PIXELS;
use glh_data::stage::{Subset, SubsetsJob, subset_images};
use glh_masks::stage::{read_schedule_masks, run_columns_of_seed};
use glh_model::backprop::examples_as_columns;
use glh_training::TrainingSettings;
use glh_training::stage::{TrainingJob, leading};
use serde::Serialize;

/// The stage's name.
pub const STAGE: &str = "trajectories";
/// Bumped whenever the stage's outputs for the same parameters change.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct TrajectoryParams<'a> {
    settings: &'a TrajectorySettings,
}

/// The job that follows one scheduled training run's masks: the one door to a trajectories run.
#[derive(Clone, Debug)]
pub struct TrajectoryJob {
    settings: TrajectorySettings,
    training_settings: TrainingSettings,
    data: DataSettings,
    training: InputRef,
    masks: InputRef,
    seed: u64,
    images: SubsetsJob,
    spec: JobSpec,
}

impl TrajectoryJob {
    /// The trajectory of `training`'s masks; an error for a run without a mask schedule.
    pub fn of(settings: &TrajectorySettings, training: &TrainingJob) -> Result<Self> {
        if training.settings().schedule.is_static() {
            return Err(Error::config(
                "trajectories settings",
                "training.schedule",
                "a trajectory follows a run whose mask changes: give `[training.schedule]` a \
                 `rule` (imp, set or rigl)",
            ));
        }
        let images = SubsetsJob::new(training.data(), training.seed())?;
        let inputs = vec![training.spec().as_input(), images.spec().as_input()];
        Ok(TrajectoryJob {
            spec: JobSpec::new(STAGE, VERSION, &TrajectoryParams { settings }, inputs),
            settings: settings.clone(),
            training_settings: training.settings().clone(),
            data: training.data().clone(),
            training: training.spec().as_input(),
            masks: training.masks().clone(),
            seed: training.seed(),
            images,
        })
    }

    /// The data job of its kernel images.
    pub fn images_job(&self) -> &SubsetsJob {
        &self.images
    }

    /// The training run it follows.
    pub fn training(&self) -> &InputRef {
        &self.training
    }
}

impl Job for TrajectoryJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        let labels = run_columns_of_seed(store, &self.masks, self.seed, "a trajectories job")?;
        store.run(&self.spec, force, |writer| {
            let checkpoints = read_schedule_masks(store, &self.training)?;
            let weights: u64 = checkpoints[0]
                .mask
                .layers()
                .iter()
                .map(|l| (l.rows() * l.cols()) as u64)
                .sum();
            let what = format!("the {} masks of a training run", checkpoints.len());
            let bytes = glh_artifacts::memory::product(&[weights, checkpoints.len() as u64, 2]);
            glh_artifacts::memory::check("memory", "training.schedule", &what, bytes)?;
            let images = subset_images(store, &self.data, self.seed, Subset::Kernel)?;
            let x = examples_as_columns(&images.pixels, PIXELS);
            let s = &self.settings;
            let views = trajectory(&checkpoints, s.k as usize, s.cut, &x, s.sigma_w2, self.seed)
                .map_err(|e| Error::Unsupported(format!("trajectories: {e}")))?;
            for v in &views {
                if !v.metrics.trace.is_finite() {
                    let msg = format!("the kernel of checkpoint {} is not finite", v.checkpoint);
                    return Err(Error::config(
                        "trajectories settings",
                        "trajectories.sigma_w2",
                        msg,
                    ));
                }
            }
            let lead = Lead {
                labels: &labels,
                training: &self.training_settings,
            };
            writer.write_table(&TRAJECTORY_LAYERS, layer_columns(&lead, &views)?)?;
            writer.write_table(&TRAJECTORY_HISTOGRAMS, histogram_columns(&lead, &views)?)?;
            writer.write_table(
                &TRAJECTORY_METRICS,
                metric_columns(&lead, s, x.ncols(), &views)?,
            )
        })
    }
}

/// What leads every row: the training run's columns and its schedule.
struct Lead<'a> {
    labels: &'a RunColumns,
    training: &'a TrainingSettings,
}

impl Lead<'_> {
    /// The leading columns of `n` rows of checkpoint `view`.
    fn columns(&self, view: &CheckpointView, n: usize) -> Columns {
        let t = self.training;
        leading(self.labels, t, t.batch_size, n)
            .with(
                "schedule",
                StringArray::from(vec![t.schedule.rule().name(); n]),
            )
            .with("checkpoint", UInt32Array::from(vec![view.checkpoint; n]))
            .with("step", UInt32Array::from(vec![view.step; n]))
    }
}

fn layer_columns(lead: &Lead<'_>, views: &[CheckpointView]) -> Result<Columns> {
    let parts = views.iter().map(|v| {
        let n = v.layers.len();
        let f = |get: fn(&crate::trajectory::LayerMove) -> f64| {
            Float64Array::from_iter_values(v.layers.iter().map(get))
        };
        let cut = |get: fn(&crate::trajectory::LayerMove) -> Option<f64>| {
            Float64Array::from_iter_values(v.layers.iter().map(|l| get(l).unwrap_or(f64::NAN)))
        };
        let shape = |get: fn(&glh_graphons::StepGraphon) -> usize| {
            UInt32Array::from_iter_values(v.histograms.iter().map(|h| get(h) as u32))
        };
        lead.columns(v, n)
            .with("layer", UInt32Array::from_iter_values(1..=n as u32))
            .with(
                "n_rows",
                UInt32Array::from_iter_values(v.layers.iter().map(|l| l.n_rows)),
            )
            .with(
                "n_cols",
                UInt32Array::from_iter_values(v.layers.iter().map(|l| l.n_cols)),
            )
            .with(
                "kept",
                UInt64Array::from_iter_values(v.layers.iter().map(|l| l.kept as u64)),
            )
            .with("layer_density", f(|l| l.layer_density))
            .with("changed_from_previous", f(|l| l.changed_from_previous))
            .with("changed_from_start", f(|l| l.changed_from_start))
            .with("k_rows", shape(|h| h.rows))
            .with("k_cols", shape(|h| h.cols))
            .with("frobenius_to_previous", f(|l| l.frobenius_to_previous))
            .with("frobenius_to_start", f(|l| l.frobenius_to_start))
            .with(
                "cut_low_to_previous",
                cut(|l| l.cut_to_previous.map(|c| c.low)),
            )
            .with(
                "cut_high_to_previous",
                cut(|l| l.cut_to_previous.map(|c| c.high)),
            )
            .with("cut_low_to_start", cut(|l| l.cut_to_start.map(|c| c.low)))
            .with("cut_high_to_start", cut(|l| l.cut_to_start.map(|c| c.high)))
    });
    Columns::concat(parts.collect())
}

fn histogram_columns(lead: &Lead<'_>, views: &[CheckpointView]) -> Result<Columns> {
    let parts = views.iter().flat_map(|v| {
        v.histograms.iter().enumerate().map(move |(l, h)| {
            let cells = h.rows * h.cols;
            lead.columns(v, cells)
                .with("layer", UInt32Array::from(vec![l as u32 + 1; cells]))
                .with("k_rows", UInt32Array::from(vec![h.rows as u32; cells]))
                .with("k_cols", UInt32Array::from(vec![h.cols as u32; cells]))
                .with(
                    "row_block",
                    UInt32Array::from_iter_values((0..cells).map(|i| (i / h.cols) as u32)),
                )
                .with(
                    "col_block",
                    UInt32Array::from_iter_values((0..cells).map(|i| (i % h.cols) as u32)),
                )
                .with("block_density", Float64Array::from(h.values.clone()))
        })
    });
    Columns::concat(parts.collect())
}

fn metric_columns(
    lead: &Lead<'_>,
    settings: &TrajectorySettings,
    n_points: usize,
    views: &[CheckpointView],
) -> Result<Columns> {
    let parts = views.iter().map(|v| {
        let mut columns = lead
            .columns(v, 1)
            .with("n_points", UInt32Array::from(vec![n_points as u32]))
            .with("sigma_w2", Float64Array::from(vec![settings.sigma_w2]))
            .with("histogram_k", UInt32Array::from(vec![settings.k]));
        v.metrics.add_columns(&mut columns);
        columns
    });
    Columns::concat(parts.collect())
}

/// The `[trajectories]` table: a trajectory job per training job of the plan whose settings
/// have a mask schedule, after it and the data job of its kernel images.
#[derive(Clone, Debug)]
pub struct TrajectoryStage {
    /// The stage's settings.
    pub settings: TrajectorySettings,
}

impl Stage for TrajectoryStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        let trainings: Vec<(usize, TrainingJob, String)> = plan
            .jobs_of::<TrainingJob>()
            .into_iter()
            .filter(|(_, job)| !job.settings().schedule.is_static())
            .map(|(id, job)| {
                let label = plan.jobs()[id].label.replacen("train", "trajectory", 1);
                (id, job.clone(), label)
            })
            .collect();
        for (id, training, label) in trainings {
            let job = TrajectoryJob::of(&self.settings, &training)?;
            let images = job.images_job().clone();
            let data_id = plan.ensure(images.clone(), images.label());
            plan.push(job, label, vec![id, data_id]);
        }
        Ok(())
    }
}
