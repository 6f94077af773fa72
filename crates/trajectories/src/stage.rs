//! The `trajectories` stage: one job per training run under a mask schedule, reading the masks
//! that run trained under (its `masks.parquet`) and the kernel images of its seed, writing
//! `layers.parquet`, `histograms.parquet` and `metrics.parquet` (schemas `TRAJECTORY_*`).
//!
//! The key covers the settings, the training run and the data run of the kernel images; the
//! run columns are the training run's masks run's, read from its manifest.

use crate::convergence::{CheckpointRow, RunCheckpoint, RunTrajectory, convergence_rows};
use crate::settings::TrajectorySettings;
use crate::trajectory::{CheckpointView, trajectory};
use arrow::array::{BooleanArray, Float64Array, StringArray, UInt32Array, UInt64Array};
use glh_artifacts::config::Sweep;
use glh_artifacts::parquet_io::column;
use glh_artifacts::schemas::{
    TRAJECTORY_CONVERGENCE, TRAJECTORY_HISTOGRAMS, TRAJECTORY_LAYERS, TRAJECTORY_METRICS,
};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::DataSettings;
use glh_data::mnist::PIXELS;
use glh_data::stage::{Subset, SubsetsJob, subset_images};
use glh_graphons::StepGraphon;
use glh_masks::stage::{MasksJob, read_schedule_masks, run_columns_of_seed};
use glh_model::backprop::examples_as_columns;
use glh_training::TrainingSettings;
use glh_training::stage::{TrainingJob, leading};
use serde::Serialize;
use std::collections::BTreeMap;

/// The stage's name.
pub const STAGE: &str = "trajectories";
/// Bumped whenever the stage's outputs for the same parameters change.
pub const VERSION: u32 = 1;
/// Bumped whenever a configuration's convergence table changes for the same inputs. 2: the
/// shapes' columns (`shape_noise_floor`, `moved_shape_sq_distance` and its interval).
pub const CONVERGENCE_VERSION: u32 = 2;

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

/// The job that pools one scheduled configuration's trajectories (every width and seed of one
/// method, depth and starting sparsity) into its convergence table: the one door to a
/// trajectories convergence run.
#[derive(Clone, Debug)]
pub struct TrajectoryConvergenceJob {
    members: Vec<InputRef>,
    spec: JobSpec,
}

impl TrajectoryConvergenceJob {
    /// The convergence of the trajectories runs `members` (their order does not matter).
    pub fn of(members: &[&TrajectoryJob]) -> Self {
        let mut inputs: Vec<InputRef> = members.iter().map(|m| m.spec().as_input()).collect();
        inputs.sort_by(|a, b| a.key.cmp(&b.key));
        TrajectoryConvergenceJob {
            spec: JobSpec::new(STAGE, CONVERGENCE_VERSION, &"convergence", inputs.clone()),
            members: inputs,
        }
    }
}

/// The identity columns a configuration's members share.
#[derive(Clone, Debug, PartialEq)]
struct Identity {
    method: String,
    depth: u32,
    sparsity: f64,
    scope: String,
    schedule: String,
}

/// One member's trajectory and identity, from its `layers` and `histograms` tables.
fn read_member(store: &ArtifactStore, input: &InputRef) -> Result<(Identity, RunTrajectory)> {
    let layers = store.read_run_table(input, &TRAJECTORY_LAYERS)?;
    let histograms = store.read_run_table(input, &TRAJECTORY_HISTOGRAMS)?;
    let path = store.table_path(input, &TRAJECTORY_LAYERS);
    if layers.num_rows() == 0 {
        return Err(Error::input(path, "no rows"));
    }
    let text = |name: &str| column::<StringArray>(&layers, name).value(0).to_string();
    let identity = Identity {
        method: text("method"),
        depth: column::<UInt32Array>(&layers, "depth").value(0),
        sparsity: column::<Float64Array>(&layers, "sparsity").value(0),
        scope: text("scope"),
        schedule: text("schedule"),
    };
    let (width, seed) = (
        column::<UInt32Array>(&layers, "width").value(0),
        column::<UInt64Array>(&layers, "seed").value(0),
    );
    let mut checkpoints: Vec<RunCheckpoint> = Vec::new();
    let (checkpoint, step) = (
        column::<UInt32Array>(&layers, "checkpoint"),
        column::<UInt32Array>(&layers, "step"),
    );
    let (kept, n_rows, n_cols) = (
        column::<UInt64Array>(&layers, "kept"),
        column::<UInt32Array>(&layers, "n_rows"),
        column::<UInt32Array>(&layers, "n_cols"),
    );
    let density = column::<Float64Array>(&layers, "layer_density");
    let changed = column::<Float64Array>(&layers, "changed_from_start");
    for r in 0..layers.num_rows() {
        let c = checkpoint.value(r) as usize;
        if c == checkpoints.len() {
            checkpoints.push(RunCheckpoint {
                step: step.value(r),
                histograms: Vec::new(),
                layer_density: Vec::new(),
                kept: Vec::new(),
                changed_from_start: Vec::new(),
            });
        } else if c + 1 != checkpoints.len() {
            return Err(Error::input(
                &path,
                format!("row {r}: checkpoints out of order"),
            ));
        }
        let last = checkpoints.last_mut().expect("pushed above");
        last.layer_density.push(density.value(r));
        last.kept.push((
            kept.value(r),
            u64::from(n_rows.value(r)) * u64::from(n_cols.value(r)),
        ));
        last.changed_from_start.push(changed.value(r));
    }
    // Histograms: rows by checkpoint, layer, then block, as written.
    let path = store.table_path(input, &TRAJECTORY_HISTOGRAMS);
    let (hc, hl) = (
        column::<UInt32Array>(&histograms, "checkpoint"),
        column::<UInt32Array>(&histograms, "layer"),
    );
    let (kr, kc) = (
        column::<UInt32Array>(&histograms, "k_rows"),
        column::<UInt32Array>(&histograms, "k_cols"),
    );
    let values = column::<Float64Array>(&histograms, "block_density");
    let mut r = 0;
    while r < histograms.num_rows() {
        let (c, l) = (hc.value(r) as usize, hl.value(r) as usize);
        let cells = (kr.value(r) * kc.value(r)) as usize;
        let Some(target) = checkpoints.get_mut(c) else {
            return Err(Error::input(
                &path,
                format!("row {r}: checkpoint {c} has no layers row"),
            ));
        };
        if l != target.histograms.len() + 1 || r + cells > histograms.num_rows() {
            return Err(Error::input(&path, format!("row {r}: layers out of order")));
        }
        let block: Vec<f64> = (r..r + cells).map(|i| values.value(i)).collect();
        let grid = StepGraphon::new(kr.value(r) as usize, kc.value(r) as usize, block)
            .ok_or_else(|| Error::input(&path, format!("row {r}: an empty histogram")))?;
        target.histograms.push(grid);
        r += cells;
    }
    Ok((
        identity,
        RunTrajectory {
            width,
            seed,
            checkpoints,
        },
    ))
}

impl Job for TrajectoryConvergenceJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        store.run(&self.spec, force, |writer| {
            let mut identity: Option<Identity> = None;
            let mut runs = Vec::with_capacity(self.members.len());
            for member in &self.members {
                let (own, run) = read_member(store, member)?;
                if identity.as_ref().is_some_and(|i| *i != own) {
                    return Err(Error::Unsupported(format!(
                        "bug: the trajectories run {} is of another configuration than the first",
                        member.key
                    )));
                }
                identity = Some(own);
                runs.push(run);
            }
            let identity = identity.ok_or_else(|| {
                Error::Unsupported("bug: a convergence job without members".into())
            })?;
            let rows = convergence_rows(&runs)
                .map_err(|e| Error::Unsupported(format!("trajectories: {e}")))?;
            writer.write_table(
                &TRAJECTORY_CONVERGENCE,
                convergence_columns(&identity, &rows),
            )
        })
    }
}

fn convergence_columns(identity: &Identity, rows: &[CheckpointRow]) -> Columns {
    let n = rows.len();
    let f = |get: fn(&CheckpointRow) -> f64| Float64Array::from_iter_values(rows.iter().map(get));
    let u = |get: fn(&CheckpointRow) -> u32| UInt32Array::from_iter_values(rows.iter().map(get));
    Columns::new()
        .with(
            "method",
            StringArray::from(vec![identity.method.as_str(); n]),
        )
        .with("depth", UInt32Array::from(vec![identity.depth; n]))
        .with("sparsity", Float64Array::from(vec![identity.sparsity; n]))
        .with("scope", StringArray::from(vec![identity.scope.as_str(); n]))
        .with(
            "schedule",
            StringArray::from(vec![identity.schedule.as_str(); n]),
        )
        .with("checkpoint", u(|r| r.checkpoint))
        .with("step", u(|r| r.step))
        .with("layer", u(|r| r.layer))
        .with(
            "hidden",
            BooleanArray::from_iter(rows.iter().map(|r| Some(r.hidden))),
        )
        .with("width", u(|r| r.width))
        .with("seeds", u(|r| r.seeds))
        .with("layer_density", f(|r| r.layer_density))
        .with("sparsity_now", f(|r| r.sparsity_now))
        .with("changed_from_start", f(|r| r.changed_from_start))
        .with("noise_floor", f(|r| r.noise_floor))
        .with("structure", f(|r| r.structure))
        .with("previous_width", u(|r| r.previous_width))
        .with("successive_sq_distance", f(|r| r.successive.0))
        .with("successive_sq_distance_low", f(|r| r.successive.1))
        .with("successive_sq_distance_high", f(|r| r.successive.2))
        .with("moved_sq_distance", f(|r| r.moved.0))
        .with("moved_sq_distance_low", f(|r| r.moved.1))
        .with("moved_sq_distance_high", f(|r| r.moved.2))
        .with("shape_noise_floor", f(|r| r.shape_noise_floor))
        .with("moved_shape_sq_distance", f(|r| r.moved_shape.0))
        .with("moved_shape_sq_distance_low", f(|r| r.moved_shape.1))
        .with("moved_shape_sq_distance_high", f(|r| r.moved_shape.2))
}

/// The `[trajectories]` table: a trajectory job per training job of the plan whose settings
/// have a mask schedule, after it and the data job of its kernel images; then one convergence
/// job per configuration (the masks' method, depth and level, with a design's target), after
/// its members.
#[derive(Clone, Debug)]
pub struct TrajectoryStage {
    /// The stage's settings.
    pub settings: TrajectorySettings,
}

impl Stage for TrajectoryStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        let configurations: BTreeMap<String, _> = plan
            .jobs_of::<MasksJob>()
            .into_iter()
            .map(|(_, job)| {
                let mut c = job.configuration();
                c.width = 0;
                (job.spec().key().to_string(), c)
            })
            .collect();
        let trainings: Vec<(usize, TrainingJob, String)> = plan
            .jobs_of::<TrainingJob>()
            .into_iter()
            .filter(|(_, job)| !job.settings().schedule.is_static())
            .map(|(id, job)| {
                let label = plan.jobs()[id].label.replacen("train", "trajectory", 1);
                (id, job.clone(), label)
            })
            .collect();
        let mut groups: BTreeMap<_, Vec<(usize, TrajectoryJob)>> = BTreeMap::new();
        for (id, training, label) in trainings {
            let job = TrajectoryJob::of(&self.settings, &training)?;
            let images = job.images_job().clone();
            let data_id = plan.ensure(images.clone(), images.label());
            let configuration = configurations
                .get(&training.masks().key.to_string())
                .cloned();
            let job_id = plan.push(job.clone(), label, vec![id, data_id]);
            groups.entry(configuration).or_default().push((job_id, job));
        }
        for (configuration, members) in groups {
            let jobs: Vec<&TrajectoryJob> = members.iter().map(|(_, j)| j).collect();
            let label = match &configuration {
                Some(c) => format!(
                    "trajectories convergence {} L={} s={}",
                    c.method,
                    c.depth,
                    f64::from_bits(c.sparsity_bits)
                ),
                None => "trajectories convergence".to_string(),
            };
            let after = members.iter().map(|(id, _)| *id).collect();
            plan.push(TrajectoryConvergenceJob::of(&jobs), label, after);
        }
        Ok(())
    }
}
