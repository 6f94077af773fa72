//! The `graphon_ntk` stage: the paper's E3 kernel (METHOD.md section 7). One job per
//! configuration (method, depth, width, sparsity) reads the masks runs of all its seeds, joins
//! their seed-averaged K-block histograms into the configuration's graphon
//! ([`crate::configuration`]), and writes the spectrum and metrics of its Graphon NTK on
//! `kernel_size` MNIST training images at each `sigma_w2`, and those of the shared-order
//! variant of the graphon; with `draw_masks`, also those of the mask-level kernel of one finite
//! mask drawn from the graphon (the paper's text); with `seed_kernels`, also the metrics of the
//! kernels of each seed's own graphon (`seed_metrics`), whose spread over seeds gives the
//! report its seed-bootstrap intervals. Every metric is given in three views
//! ([`crate::views`]).
//!
//! Its inputs are the masks runs; the kernel images are drawn here from MNIST (their
//! checksums and the normalisation are in the key), so no data job is needed.

use crate::chain::GraphonChain;
use crate::configuration::{configuration_chain, draw_masks, shared_order_chain};
use crate::recursion::{exact_sigma_w2_rescale, graphon_ntk, graphon_ntks};
use crate::settings::GraphonNtkSettings;
use crate::stage::{mlp_shapes, relative_error};
use crate::views::{ViewedKernel, kernel_views};
use arrow::array::{Float64Array, StringArray, UInt32Array, UInt64Array};
use faer::Mat;
use glh_artifacts::config::{KernelKind, KernelView, Sweep};
use glh_artifacts::schemas::{GRAPHON_NTK_METRICS, GRAPHON_NTK_SEED_METRICS, GRAPHON_NTK_SPECTRA};
use glh_artifacts::seeding::stream;
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result, RunColumns, Stage,
};
use glh_data::DataSettings;
use glh_data::mnist::{CLASSES, MnistSplit, Normalisation, PIXELS, Split, read_checksums};
use glh_data::subsets::sized_subset;
use glh_masks::stage::{Configuration, MasksJob, read_mask, run_columns};
use glh_model::LayerMask;
use glh_model::backprop::examples_as_columns;
use serde::Serialize;
use std::collections::BTreeMap;

/// The stage's name.
pub const STAGE: &str = "graphon_ntk";
/// Bumped whenever the stage's outputs for the same parameters change.
/// Version 2: `seed_kernels` and the `seed_metrics` table. 3: the `shared_order` kernel beside
/// `graphon` (and `drawn`), the metrics in three views (`view`, `crate::views`) with
/// `top_eigvec_mean_image_cos`, and `seed_metrics` for every kernel (its `kernel` column); a
/// drawn kernel per seed draws from that seed's own graphon with that seed's own streams.
/// 4: the recursion of ntk version 5 (vectorised arc-cosine, sparse products for sparse
/// layers: last-bit differences); the kernel at a second sigma_w^2 is the first one rescaled
/// where that is exact (`recursion::exact_sigma_w2_rescale`, same bits as computing it).
/// 5: the recursion of ntk version 6 (polynomial moments, the first layer around the inputs'
/// baseline: last-bit differences).
pub const VERSION: u32 = 5;

#[derive(Serialize)]
struct GraphonNtkParams<'a> {
    settings: &'a GraphonNtkSettings,
    #[serde(flatten)]
    normalisation: Normalisation,
    mnist_sha256: BTreeMap<String, String>,
}

/// The run of the masks runs `masks` (one configuration, all its seeds, in seed order).
fn graphon_ntk_spec(
    settings: &GraphonNtkSettings,
    data: &DataSettings,
    masks: Vec<InputRef>,
) -> Result<JobSpec> {
    let params = GraphonNtkParams {
        settings,
        normalisation: Normalisation::from(data),
        mnist_sha256: read_checksums(&data.dir)?,
    };
    Ok(JobSpec::new(STAGE, VERSION, &params, masks))
}

/// The run columns shared by a configuration's masks runs, and each run's seed: an error
/// unless they agree on everything but the seed, and their seeds are distinct.
fn configuration_columns(
    store: &ArtifactStore,
    masks: &[InputRef],
) -> Result<(RunColumns, Vec<u64>)> {
    let mut shared: Option<RunColumns> = None;
    let mut seeds = Vec::with_capacity(masks.len());
    for input in masks {
        let run = run_columns(store, input)?;
        let seed = run.seed;
        if let Some(first) = &shared {
            let same = (
                first.method,
                first.depth,
                first.width,
                first.sparsity,
                first.scope,
            ) == (run.method, run.depth, run.width, run.sparsity, run.scope);
            if !same {
                let dir = store.run_dir(&input.stage, &input.key);
                let msg = "its masks run differs from the configuration's in method, depth, \
                           width, sparsity or scope";
                return Err(Error::input(dir, msg));
            }
        } else {
            shared = Some(run);
        }
        if seeds.contains(&seed) {
            // The same run twice (or two runs of one seed) would count one seed as two.
            let dir = store.run_dir(&input.stage, &input.key);
            let msg = format!(
                "a second masks run of seed {seed} in one configuration; each seed's run enters once"
            );
            return Err(Error::input(dir, msg));
        }
        seeds.push(seed);
    }
    let shared =
        shared.ok_or_else(|| Error::Unsupported("a configuration has no masks runs".into()))?;
    Ok((shared, seeds))
}

/// The kernel images: `size` MNIST training images drawn by `seed`, as columns (`784 x N`).
pub fn kernel_images(data: &DataSettings, size: u32, seed: u64) -> Result<Mat<f64>> {
    let train = MnistSplit::load(&data.dir, Split::Train)?;
    kernel_images_of(&train, data, size, seed).map(|(x, _)| x)
}

/// [`kernel_images`] and their labels, from the training split `train`, already loaded (for a
/// caller that reads more of it).
pub fn kernel_images_of(
    train: &MnistSplit,
    data: &DataSettings,
    size: u32,
    seed: u64,
) -> Result<(Mat<f64>, Vec<u8>)> {
    let mut rng = stream(seed, "data/graphon_kernel_set");
    let indices = sized_subset(&train.labels, CLASSES, size as usize, &mut rng).map_err(|e| {
        Error::config(
            "graphon_ntk settings",
            "graphon_ntk.kernel_size",
            e.to_string(),
        )
    })?;
    let pixels = train.inputs(&indices, &Normalisation::from(data));
    Ok((
        examples_as_columns(&pixels, PIXELS),
        train.labels_of(&indices),
    ))
}

/// An upper sketch of a job's memory: the chain, each kernel and its eigensolver workspace,
/// and the drawn masks' chain when asked, for a configuration of `seeds` masks runs.
fn memory_estimate(settings: &GraphonNtkSettings, shapes: &[(u64, u64)], seeds: u64) -> u64 {
    use glh_artifacts::memory::product;
    let n = u64::from(settings.kernel_size);
    // Every kernel at the first sigma_w^2 (up to three per graphon: the pooled one and, with
    // seed kernels, each seed's), with its pairs' values while it is computed: 1.5 N x N
    // each. Then, one graphon's (up to) three kernels at a time: their three views, the
    // eigenvectors and the eigensolver's workspace, six N x N f64 matrices each.
    let graphons = if settings.seed_kernels { 1 + seeds } else { 1 };
    let kernels = (3 * graphons * 3).div_ceil(2) + 3 * 6;
    let drawn: u64 = if settings.draw_masks {
        shapes
            .iter()
            .fold(0, |acc, &(r, c)| acc.saturating_add(product(&[r, c, 16])))
    } else {
        0
    };
    product(&[kernels, n, n, 8]).saturating_add(drawn)
}

/// Computes and writes the graphon kernels of one configuration (the run `spec`), unless
/// cached.
fn run_graphon_ntk(
    store: &ArtifactStore,
    spec: &JobSpec,
    settings: &GraphonNtkSettings,
    data: &DataSettings,
    masks: &[InputRef],
    force: bool,
) -> Result<JobOutcome> {
    store.run(spec, force, |writer| {
        let (labels, seeds) = configuration_columns(store, masks)?;
        // Checked before anything is read: the shapes follow from the masks runs' manifests.
        let shapes = mlp_shapes(u64::from(labels.width.get()), labels.depth);
        let what = format!(
            "graphon kernels of {} images at {} sigma_w^2",
            settings.kernel_size,
            settings.sigma_w2.len()
        );
        glh_artifacts::memory::check(
            "memory",
            "graphon_ntk.kernel_size",
            &what,
            memory_estimate(settings, &shapes, masks.len() as u64),
        )?;
        let runs: Vec<Vec<LayerMask>> = masks
            .iter()
            .map(|m| read_mask(store, m).map(|(_, mask)| mask.layers().to_vec()))
            .collect::<Result<_>>()?;
        let unsupported = |e: String| Error::Unsupported(format!("graphon_ntk: {e}"));
        let k = settings.k as usize;
        let width = labels.width.get() as usize;
        // The kernels of one graphon estimate (all seeds pooled, or one seed's own), in table
        // order: our reconstruction, the shared-order variant and, when asked, the drawn masks.
        // `run`: the seed whose masks alone make the graphon; `None` for the pooled one.
        let chains_of = |runs: &[Vec<LayerMask>],
                         run: Option<u64>|
         -> Result<Vec<(KernelKind, GraphonChain)>> {
            let graphon = configuration_chain(runs, k).map_err(unsupported)?;
            let shared = shared_order_chain(runs, k).map_err(unsupported)?;
            let drawn = if settings.draw_masks {
                let masks = draw_masks(&graphon, width, settings.draw_seed, run);
                Some(GraphonChain::of_masks(&masks).map_err(unsupported)?)
            } else {
                None
            };
            let mut chains = vec![
                (KernelKind::Graphon, graphon),
                (KernelKind::SharedOrder, shared),
            ];
            chains.extend(drawn.map(|d| (KernelKind::Drawn, d)));
            Ok(chains)
        };
        let pooled = chains_of(&runs, None)?;
        let x = kernel_images(data, settings.kernel_size, settings.kernel_seed)?;
        let n = x.ncols();
        let k_used = (settings.k).min(labels.width.get());
        // The configuration's columns, which lead every table (`configuration_columns!`).
        let configuration = |rows: usize| -> Columns {
            Columns::new()
                .with(
                    "method",
                    StringArray::from(vec![labels.method_name(); rows]),
                )
                .with("depth", UInt32Array::from(vec![labels.depth; rows]))
                .with("width", UInt32Array::from(vec![labels.width.get(); rows]))
                .with("sparsity", Float64Array::from(vec![labels.sparsity; rows]))
                .with(
                    "density",
                    Float64Array::from(vec![1.0 - labels.sparsity; rows]),
                )
                .with("scope", StringArray::from(vec![labels.scope_name(); rows]))
                .with("k", UInt32Array::from(vec![k_used; rows]))
                .with("n_points", UInt32Array::from(vec![n as u32; rows]))
        };
        let leading = |kernel: &str, sigma_w2: f64, rows: usize| -> Columns {
            configuration(rows)
                .with("seeds", UInt32Array::from(vec![masks.len() as u32; rows]))
                .with("sigma_w2", Float64Array::from(vec![sigma_w2; rows]))
                .with("kernel", StringArray::from(vec![kernel; rows]))
        };
        // Every kernel of `chains` at `sigma_w2`, in its three views. `at_first` holds them at
        // the first sigma_w^2, computed once; they are rescaled to the others where that gives
        // the recursion's own bytes (`exact_sigma_w2_rescale`: the shipped 1 and 2).
        let first_sigma_w2 = settings.sigma_w2[0];
        let depth = labels.depth as usize;
        // Each seed's own graphon, at the first sigma_w^2 (the scale-free metrics do not
        // depend on it), when asked.
        let own: Vec<(u64, Vec<(KernelKind, GraphonChain)>)> = runs
            .iter()
            .zip(&seeds)
            .filter(|_| settings.seed_kernels)
            .map(|(run, &seed)| Ok((seed, chains_of(std::slice::from_ref(run), Some(seed))?)))
            .collect::<Result<_>>()?;
        // Every kernel at the first sigma_w^2 in one call, pooled first, so that their first
        // layers share one pass over the pairs (`graphon_ntks`).
        let mut at_first = {
            let all: Vec<&GraphonChain> = pooled
                .iter()
                .chain(own.iter().flat_map(|(_, chains)| chains))
                .map(|(_, chain)| chain)
                .collect();
            graphon_ntks(&all, &x, first_sigma_w2).into_iter()
        };
        let pooled_at_first: Vec<Mat<f64>> = at_first.by_ref().take(pooled.len()).collect();
        let viewed = |chains: &[(KernelKind, GraphonChain)],
                      at_first: &[Mat<f64>],
                      sigma_w2: f64,
                      whose: &str|
         -> Result<Vec<(KernelKind, Vec<ViewedKernel>)>> {
            chains
                .iter()
                .zip(at_first)
                .map(|((kind, chain), first)| {
                    let kernel = match exact_sigma_w2_rescale(first_sigma_w2, sigma_w2, depth) {
                        Some(factor) => first * faer::Scale(factor),
                        None => graphon_ntk(chain, &x, sigma_w2),
                    };
                    crate::spectrum::require_finite(&kernel, kind.name(), "graphon_ntk.sigma_w2")?;
                    let views = kernel_views(&kernel, &x).map_err(|e| {
                        Error::Unsupported(format!("{whose}{} kernel: {e}", kind.name()))
                    })?;
                    Ok((*kind, views))
                })
                .collect()
        };
        let (mut spectra, mut metrics) = (Vec::new(), Vec::new());
        for &sigma_w2 in &settings.sigma_w2 {
            let kernels = viewed(&pooled, &pooled_at_first, sigma_w2, "")?;
            let graphon_views = &kernels[0].1;
            for (kind, views) in &kernels {
                let name = kind.name();
                spectra.push(
                    leading(name, sigma_w2, n)
                        .with("rank", UInt32Array::from_iter_values(1..=n as u32))
                        .with(
                            "eigenvalue",
                            Float64Array::from(views[0].eigenvalues.clone()),
                        ),
                );
                for (view, graphon_view) in views.iter().zip(graphon_views) {
                    let mut columns = leading(name, sigma_w2, 1).with(
                        "rel_error_to_graphon",
                        Float64Array::from(vec![relative_error(
                            &view.matrix,
                            &graphon_view.matrix,
                        )]),
                    );
                    view.add_columns(&mut columns);
                    metrics.push(columns);
                }
            }
        }
        // The seeds' own kernels, written even when there are none, so every run has the same
        // tables.
        let mut seed_metrics = Vec::new();
        for &(seed, ref chains) in &own {
            let kernels: Vec<Mat<f64>> = at_first.by_ref().take(chains.len()).collect();
            let whose = format!("seed {seed}'s ");
            for (kind, views) in viewed(chains, &kernels, first_sigma_w2, &whose)? {
                for view in &views {
                    let mut columns = configuration(1)
                        .with("seed", UInt64Array::from(vec![seed]))
                        .with("sigma_w2", Float64Array::from(vec![first_sigma_w2]))
                        .with("kernel", StringArray::from(vec![kind.name()]));
                    view.add_columns(&mut columns);
                    seed_metrics.push(columns);
                }
            }
        }
        writer.write_table(&GRAPHON_NTK_SPECTRA, Columns::concat(spectra)?)?;
        writer.write_table(&GRAPHON_NTK_METRICS, Columns::concat(metrics)?)?;
        let seed_table = if seed_metrics.is_empty() {
            GRAPHON_NTK_SEED_METRICS.empty_columns()
        } else {
            Columns::concat(seed_metrics)?
        };
        writer.write_table(&GRAPHON_NTK_SEED_METRICS, seed_table)
    })
}

/// One row of a graphon_ntk run's `metrics` table.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphonKernelMetrics {
    /// `graphon`, `shared_order` or `drawn`.
    pub kernel: String,
    /// The sigma_w^2 it was computed at.
    pub sigma_w2: f64,
    /// Its spectral metrics.
    pub metrics: crate::spectrum::SpectralMetrics,
    /// Relative Frobenius error to the graphon kernel at the same sigma_w^2.
    pub rel_error_to_graphon: f64,
}

/// The metrics rows of the graphon_ntk run `input` of the kernels as computed (view `as_is`),
/// in table order: one per kernel and sigma_w^2.
pub fn read_metrics(store: &ArtifactStore, input: &InputRef) -> Result<Vec<GraphonKernelMetrics>> {
    use glh_artifacts::parquet_io::column;
    let batch = store.read_run_table(input, &GRAPHON_NTK_METRICS)?;
    let view: &StringArray = column(&batch, "view");
    let kernel: &StringArray = column(&batch, "kernel");
    let sigma: &Float64Array = column(&batch, "sigma_w2");
    let error: &Float64Array = column(&batch, "rel_error_to_graphon");
    Ok((0..batch.num_rows())
        .filter(|&r| view.value(r) == KernelView::AsIs.name())
        .map(|r| GraphonKernelMetrics {
            kernel: kernel.value(r).to_string(),
            sigma_w2: sigma.value(r),
            metrics: crate::spectrum::SpectralMetrics::read(&batch, r),
            rel_error_to_graphon: error.value(r),
        })
        .collect())
}

/// The job that computes one configuration's graphon kernels: the one door to a graphon_ntk
/// run.
#[derive(Clone, Debug)]
pub struct GraphonNtkJob {
    settings: GraphonNtkSettings,
    data: DataSettings,
    masks: Vec<InputRef>,
    spec: JobSpec,
}

impl GraphonNtkJob {
    /// The job of one configuration's masks runs, in seed order.
    pub fn new(
        settings: &GraphonNtkSettings,
        data: &DataSettings,
        masks: Vec<InputRef>,
    ) -> Result<Self> {
        Ok(GraphonNtkJob {
            spec: graphon_ntk_spec(settings, data, masks.clone())?,
            settings: settings.clone(),
            data: data.clone(),
            masks,
        })
    }
}

impl Job for GraphonNtkJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        run_graphon_ntk(
            store,
            &self.spec,
            &self.settings,
            &self.data,
            &self.masks,
            force,
        )
    }
}

/// The `[graphon_ntk]` table: one job per configuration (method, depth, width, sparsity) of
/// the plan's masks jobs, after all its seeds' masks jobs.
#[derive(Clone, Debug)]
pub struct GraphonNtkStage {
    /// The stage's settings.
    pub settings: GraphonNtkSettings,
    /// The pipeline's data settings (MNIST and its normalisation).
    pub data: DataSettings,
}

impl Stage for GraphonNtkStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        // Configuration -> label and (seed, masks job, its artifact).
        type Members = Vec<(u64, usize, InputRef)>;
        let mut groups: BTreeMap<Configuration, (String, Members)> = BTreeMap::new();
        for (id, job) in plan.jobs_of::<MasksJob>() {
            let p = job.point();
            let key = job.configuration();
            let target = key
                .design_target
                .as_ref()
                .map_or(String::new(), |t| format!(" {t}"));
            let label = format!(
                "graphon kernels {}{target} L={} n={} s={}",
                p.method,
                p.depth,
                p.width,
                p.sparsity.value()
            );
            groups
                .entry(key)
                .or_insert_with(|| (label, Vec::new()))
                .1
                .push((p.seed, id, job.spec().as_input()));
        }
        for (label, mut members) in groups.into_values() {
            members.sort_by_key(|m| m.0);
            let depends_on = members.iter().map(|m| m.1).collect();
            let inputs = members.into_iter().map(|m| m.2).collect();
            plan.push(
                GraphonNtkJob::new(&self.settings, &self.data, inputs)?,
                label,
                depends_on,
            );
        }
        Ok(())
    }
}
