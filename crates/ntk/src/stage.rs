//! The `ntk` stage: for one masks run, the dense, mask-level, histogram-level and (optionally)
//! empirical NTK on the data stage's kernel subset, their spectra and spectral metrics.
//!
//! A job's inputs are the masks run and the data run of the same seed; its parameters are the
//! [`NtkSettings`]. It writes `kernels.parquet` (every matrix in full), `spectra.parquet` and
//! `metrics.parquet` (schemas in `glh_artifacts::schemas`). An edge list (masks from any tool)
//! is a job too, keyed by the file's SHA-256 and the data run.

use crate::alignment::{kernel_target_alignment, predicted_loss_ratio};
use crate::chain::GraphonChain;
use crate::empirical::empirical_ntk;
use crate::recursion::graphon_ntks;
use crate::settings::NtkSettings;
use crate::spectrum::SpectralMetrics;
use crate::views::{ViewedKernel, kernel_views};
use arrow::array::{Float64Array, StringArray, UInt32Array};
use faer::Mat;
use glh_artifacts::config::{KernelKind, KernelView, Sweep};
use glh_artifacts::parquet_io::column;
use glh_artifacts::schemas::{NTK_KERNELS, NTK_METRICS, NTK_SPECTRA};
use glh_artifacts::store::InputRef;
use glh_artifacts::{
    ArtifactStore, ArtifactWriter, Columns, Error, Job, JobOutcome, JobSpec, Plan, Result,
    RunColumns, Stage,
};
use glh_data::mnist::{CLASSES, PIXELS};
use glh_data::stage::{Subset, SubsetImages, SubsetsJob, subset_images};
use glh_data::{DataSettings, Normalisation};
pub use glh_graphons::stage::MaskSource;
use glh_masks::stage::{MasksJob, external_run_columns, run_columns, run_columns_of_seed};
use glh_model::LayerMask;
use glh_model::backprop::examples_as_columns;
use serde::Serialize;
use std::path::Path;

/// The stage's name.
pub const STAGE: &str = "ntk";
/// Bumped whenever the stage's outputs for the same parameters change. 2: the metrics table
/// adds the paper's effective rank (`effective_rank_trace`, trace / l_1) beside ours (renamed
/// `effective_rank_entropy`) and the absolute scale (`top1_eigenvalue`, `top5_sum`).
///
/// 3: the metrics gain `kernel_target_alignment`, `predicted_steps` and
/// `predicted_loss_ratio` (`crate::alignment`), E3's bridge to the dynamics of issue #17; the
/// kernels and spectra are unchanged. 4: the metrics gain the `view` column (a row per kernel
/// and view: as is, centred, top removed, `crate::views`) and `top_eigvec_mean_image_cos`;
/// the spectra come from the decomposition with eigenvectors (last-bit differences).
/// 5: the recursion's arc-cosine is vectorised (`relu::arc_cosine`, within 1 ulp of libm's)
/// and layers below `products::SPARSE_BELOW_DENSITY` are multiplied as sparse, in another
/// summation order: kernels differ from version 4 in their last bits (relative 1e-13 or less,
/// held by the brute-force twin of `tests/kernels.rs`).
/// 6: the moments' arc-cosine and sine are polynomials with one square root and no division
/// (`relu::arc_cosine_and_sine`, within 2 ulp) and the first layer is summed around the
/// inputs' baseline where most pixels are blank (`input_layer`): last-bit differences again
/// (relative 1e-13 or less, the same twin).
/// 7: the empirical kernel's mask products take the sparse route below
/// `products::SPARSE_BELOW_DENSITY`, as the mask-level kernel's do (2 to 4 times faster at 70%
/// to 90% sparsity): empirical kernels differ from version 6 in their last bits (the twin of
/// `tests/kernels.rs` holds them); the other kernels are unchanged.
pub const VERSION: u32 = 7;

#[derive(Serialize)]
struct NtkParams<'a> {
    settings: &'a NtkSettings,
    /// The kernel images' pixels (the data run names only which images).
    #[serde(flatten)]
    normalisation: Normalisation,
    /// For a file: its bytes' hash, not its path (a stored run is an input).
    #[serde(flatten)]
    source: glh_graphons::stage::SourceKey,
}

/// One kernel matrix and what it integrates over.
#[derive(Clone, Debug)]
pub struct NamedKernel {
    /// Dense, mask-level, histogram-level or empirical.
    pub kind: KernelKind,
    /// Positions per hidden layer (1, K, or n).
    pub blocks: u32,
    /// The `N x N` matrix.
    pub matrix: Mat<f64>,
}

/// The kernels of one set of masks on the columns of `x` (`784 x N`): dense, mask-level,
/// histogram-level and, with `empirical_draws > 0`, empirical (weights from `seed`).
pub fn compute_kernels(
    masks: &[LayerMask],
    x: &Mat<f64>,
    settings: &NtkSettings,
    seed: u64,
) -> Result<Vec<NamedKernel>> {
    let unsupported = |e: String| Error::Unsupported(format!("ntk: {e}"));
    let depth = masks.len();
    let width = masks[0].rows() as u32;
    let k = settings.histogram_k as usize;
    let s2 = settings.sigma_w2;
    let dense = GraphonChain::dense(x.nrows(), depth);
    let mask_level = GraphonChain::of_masks(masks).map_err(unsupported)?;
    let histogram = GraphonChain::of_histograms(masks, k).map_err(unsupported)?;
    // One call, so that the first layers that can share a pass over the pairs do
    // (`graphon_ntks`; each kernel the same bits as its own `graphon_ntk`).
    let [dense, mask, histogram]: [Mat<f64>; 3] =
        graphon_ntks(&[&dense, &mask_level, &histogram], x, s2)
            .try_into()
            .expect("a kernel per chain");
    let mut kernels = vec![
        NamedKernel {
            kind: KernelKind::Dense,
            blocks: 1,
            matrix: dense,
        },
        NamedKernel {
            kind: KernelKind::Mask,
            blocks: width,
            matrix: mask,
        },
        NamedKernel {
            kind: KernelKind::Histogram,
            blocks: (k as u32).min(width),
            matrix: histogram,
        },
    ];
    if settings.empirical_draws > 0 {
        kernels.push(NamedKernel {
            kind: KernelKind::Empirical,
            blocks: width,
            matrix: empirical_ntk(masks, x, s2, settings.empirical_draws, seed),
        });
    }
    Ok(kernels)
}

/// `||a - b||_F / ||b||_F`.
pub fn relative_error(a: &Mat<f64>, b: &Mat<f64>) -> f64 {
    (a - b).norm_l2() / b.norm_l2()
}

/// The product over layers of their densities (`c^L` when every layer has density c).
pub fn density_product(masks: &[LayerMask]) -> f64 {
    masks
        .iter()
        .map(|m| m.kept() as f64 / (m.rows() * m.cols()) as f64)
        .product()
}

/// Bytes per kernel entry in [`memory_estimate`]: the f64 matrix, its rows of
/// `kernels.parquet` (about twenty 8-byte columns, built in parts and concatenated) and the
/// eigensolver's workspace, rounded up.
const BYTES_PER_KERNEL_ENTRY: u64 = 512;
/// f64 matrices of `positions x CHUNK` a thread holds while it runs one chunk of pairs.
const CHUNK_MATRICES: u64 = 8;

/// An upper sketch of the memory an ntk job needs (see `glh_artifacts::memory`) for masks of
/// `shapes` (rows, cols per layer) on `images` kernel images: the mask chain as f64 matrices
/// (twice, for the empirical kernel's weights), the hidden layers' diagonal variances, each
/// thread's chunk of pair products, and [`BYTES_PER_KERNEL_ENTRY`] per entry of each kernel.
pub fn memory_estimate(shapes: &[(u64, u64)], images: u64, settings: &NtkSettings) -> u64 {
    use glh_artifacts::memory::product;
    let weights = shapes
        .iter()
        .fold(0u64, |acc, &(r, c)| acc.saturating_add(product(&[r, c])));
    let widest = shapes.iter().map(|&(r, _)| r).max().unwrap_or(0);
    let kernels = 3 + u64::from(settings.empirical_draws > 0);
    let threads = rayon::current_num_threads() as u64;
    product(&[weights, 16])
        .saturating_add(product(&[shapes.len() as u64, widest, images, 8]))
        .saturating_add(product(&[
            threads,
            crate::pairs::CHUNK as u64,
            widest,
            CHUNK_MATRICES,
            8,
        ]))
        .saturating_add(product(&[kernels, images, images, BYTES_PER_KERNEL_ENTRY]))
}

/// Refuses a kernel job that would not fit in memory.
/// Refuses an edge list that is not an MNIST network, `784 -> ... -> 10`: the kernel's data are
/// MNIST images and its output the mean over the 10 class rows.
fn check_mnist_shape(layers: &[LayerMask], path: &Path) -> Result<()> {
    let (first, last) = (&layers[0], &layers[layers.len() - 1]);
    if first.cols() != PIXELS || last.rows() != CLASSES {
        return Err(Error::input(
            path,
            format!(
                "the network is {} -> ... -> {}; the kernel needs an MNIST network, {PIXELS} -> \
                 ... -> {CLASSES} (layer 1's n_cols, the last layer's n_rows)",
                first.cols(),
                last.rows()
            ),
        ));
    }
    Ok(())
}

fn check_memory(shapes: &[(u64, u64)], data: &DataSettings, settings: &NtkSettings) -> Result<()> {
    let images = glh_artifacts::memory::product(&[
        glh_data::mnist::CLASSES as u64,
        u64::from(data.kernel_per_class),
    ]);
    let what = format!(
        "computing the kernels of {images} images through {} layers of up to {} neurons",
        shapes.len(),
        shapes.iter().map(|s| s.0).max().unwrap_or(0)
    );
    let bytes = memory_estimate(shapes, images, settings);
    glh_artifacts::memory::check("memory", "kernel_per_class", &what, bytes)
}

/// The (rows, cols) of each layer of an MLP `784 -> width -> ... -> 10` of `depth` layers.
pub fn mlp_shapes(width: u64, depth: u32) -> Vec<(u64, u64)> {
    let pixels = PIXELS as u64;
    let classes = glh_data::mnist::CLASSES as u64;
    (0..depth)
        .map(|l| {
            let cols = if l == 0 { pixels } else { width };
            let rows = if l + 1 == depth { classes } else { width };
            (rows, cols)
        })
        .collect()
}

/// The job that computes one mask's kernels, spectra and metrics on the kernel subset of a
/// data seed: the one door to an ntk run.
#[derive(Clone, Debug)]
pub struct KernelsJob {
    settings: NtkSettings,
    data: SubsetsJob,
    data_settings: DataSettings,
    source: MaskSource,
    spec: JobSpec,
}

impl KernelsJob {
    fn with_source(
        settings: &NtkSettings,
        data: &DataSettings,
        source: MaskSource,
        seed: u64,
    ) -> Result<Self> {
        let data_job = SubsetsJob::new(data, seed)?;
        let params = NtkParams {
            settings,
            normalisation: Normalisation::from(data),
            source: source.key(),
        };
        let mut inputs: Vec<InputRef> = source.input().into_iter().cloned().collect();
        inputs.push(data_job.spec().as_input());
        Ok(KernelsJob {
            spec: JobSpec::new(STAGE, VERSION, &params, inputs),
            settings: settings.clone(),
            data: data_job,
            data_settings: data.clone(),
            source,
        })
    }

    /// The kernels of the masks `masks` will write, on the kernel subset of its seed.
    pub fn of(settings: &NtkSettings, data: &DataSettings, masks: &MasksJob) -> Result<Self> {
        let source = MaskSource::Stored(masks.spec().as_input());
        Self::with_source(settings, data, source, masks.point().seed)
    }

    /// The kernels of the masks in `source` on the kernel subset of a seed: a stored masks
    /// run's own (read from its manifest), or `edge_list_seed` for an edge list.
    pub fn of_source(
        store: &ArtifactStore,
        settings: &NtkSettings,
        data: &DataSettings,
        source: MaskSource,
        edge_list_seed: u64,
    ) -> Result<Self> {
        let seed = match source.masks_run() {
            Some(masks) => run_columns(store, masks)?.seed,
            None => edge_list_seed,
        };
        Self::with_source(settings, data, source, seed)
    }

    /// The data job of its kernel images.
    pub fn data_job(&self) -> &SubsetsJob {
        &self.data
    }
}

impl Job for KernelsJob {
    fn spec(&self) -> &JobSpec {
        &self.spec
    }

    /// Computes and writes the kernels, unless cached (or `force`). A stored mask's run
    /// columns come from its manifest; an edge list's are `external`.
    fn run(
        &self,
        store: &ArtifactStore,
        force: bool,
        _progress: &mut dyn FnMut(usize, usize),
    ) -> Result<JobOutcome> {
        let (settings, data, seed) = (&self.settings, &self.data_settings, self.data.seed());
        store.run(&self.spec, force, |writer| match &self.source {
            MaskSource::Stored(masks) | MaskSource::Checkpoint { masks, .. } => {
                let start = run_columns_of_seed(store, masks, seed, "a kernels job")?;
                // The subset first: more images than a class has is the real cause, not memory.
                let images = subset_images(store, data, seed, Subset::Kernel)?;
                let shapes = mlp_shapes(u64::from(start.width.get()), start.depth);
                check_memory(&shapes, data, settings)?;
                let layers = self.source.layers(store)?;
                let labels = self.source.own_run_columns(start, &layers);
                write_run(writer, settings, &layers, &images, &labels, seed)
            }
            MaskSource::EdgeList(path, _) | MaskSource::Safetensors(path, ..) => {
                let layers = self.source.layers(store)?;
                check_mnist_shape(&layers, path)?;
                let shapes: Vec<(u64, u64)> = layers
                    .iter()
                    .map(|m| (m.rows() as u64, m.cols() as u64))
                    .collect();
                let images = subset_images(store, data, seed, Subset::Kernel)?;
                check_memory(&shapes, data, settings)?;
                let labels = external_run_columns(&layers, path)?;
                write_run(writer, settings, &layers, &images, &labels, seed)
            }
        })
    }
}

/// The `[ntk]` table: a kernels job per masks job of the plan, after that masks job and the
/// data job of its seed (the kernel subset).
#[derive(Clone, Debug)]
pub struct NtkStage {
    /// The stage's settings.
    pub settings: NtkSettings,
    /// The pipeline's data settings (the kernel subset).
    pub data: DataSettings,
}

impl Stage for NtkStage {
    fn plan(&self, _sweep: &Sweep, plan: &mut Plan) -> Result<()> {
        let masks: Vec<(usize, MasksJob)> = plan
            .jobs_of::<MasksJob>()
            .into_iter()
            .map(|(id, job)| (id, job.clone()))
            .collect();
        for (id, masks_job) in masks {
            let job = KernelsJob::of(&self.settings, &self.data, &masks_job)?;
            let data = job.data_job().clone();
            let data_id = plan.ensure(data.clone(), data.label());
            plan.push(
                job,
                format!("kernels {}", masks_job.label()),
                vec![id, data_id],
            );
        }
        Ok(())
    }
}

fn write_run(
    writer: &mut ArtifactWriter,
    settings: &NtkSettings,
    layers: &[LayerMask],
    images: &SubsetImages,
    labels: &RunColumns,
    seed: u64,
) -> Result<()> {
    let x = examples_as_columns(&images.pixels, PIXELS);
    let kernels = compute_kernels(layers, &x, settings, seed)?;
    for kernel in &kernels {
        crate::spectrum::require_finite(&kernel.matrix, kernel.kind.name(), "ntk.sigma_w2")?;
    }
    let n = x.ncols();
    let leading = |kernel: &str, rows: usize| -> Columns {
        labels
            .columns(rows)
            .with(
                "sigma_w2",
                Float64Array::from(vec![settings.sigma_w2; rows]),
            )
            .with(
                "histogram_k",
                UInt32Array::from(vec![settings.histogram_k; rows]),
            )
            .with(
                "empirical_draws",
                UInt32Array::from(vec![settings.empirical_draws; rows]),
            )
            .with("kernel", StringArray::from(vec![kernel; rows]))
            .with("n_points", UInt32Array::from(vec![n as u32; rows]))
    };
    // Every kernel in every view; each view's columns compare it to the same view of the dense
    // and the mask-level kernel.
    let viewed: Vec<Vec<ViewedKernel>> = kernels
        .iter()
        .map(|kernel| {
            kernel_views(&kernel.matrix, &x)
                .map_err(|e| Error::Unsupported(format!("{} kernel: {e}", kernel.kind)))
        })
        .collect::<Result<_>>()?;
    let scale = density_product(layers);
    // The reference each view of a kernel is compared with: that view of the dense kernel,
    // scaled by the density product (views commute with scaling).
    let scaled_dense: Vec<Mat<f64>> = viewed[0]
        .iter()
        .map(|dense| &dense.matrix * faer::Scale(scale))
        .collect();
    let (mut kernel_parts, mut spectrum_parts, mut metric_parts) = (vec![], vec![], vec![]);
    for (kernel, views) in kernels.iter().zip(&viewed) {
        let k = &kernel.matrix;
        let pairs = |f: &dyn Fn(usize, usize) -> u32| {
            UInt32Array::from_iter_values((0..n * n).map(|p| f(p / n, p % n)))
        };
        let columns = leading(kernel.kind.name(), n * n)
            .with("i", pairs(&|i, _| i as u32))
            .with("j", pairs(&|_, j| j as u32))
            .with("image_i", pairs(&|i, _| images.indices[i]))
            .with("image_j", pairs(&|_, j| images.indices[j]))
            .with(
                "value",
                Float64Array::from_iter_values((0..n * n).map(|p| k[(p / n, p % n)])),
            );
        kernel_parts.push(columns);

        let eigenvalues = &views[0].eigenvalues;
        let columns = leading(kernel.kind.name(), n)
            .with("rank", UInt32Array::from_iter_values(1..=n as u32))
            .with("eigenvalue", Float64Array::from(eigenvalues.clone()));
        spectrum_parts.push(columns);

        for (v, view) in views.iter().enumerate() {
            let mask_level = &viewed[1][v].matrix;
            let loss_ratio = predicted_loss_ratio(
                &view.matrix,
                &images.labels,
                glh_data::mnist::CLASSES,
                settings.predicted_steps,
            )
            .map_err(|e| Error::Unsupported(format!("{} kernel: {e}", kernel.kind)))?;
            let one = |v: f64| Float64Array::from(vec![v]);
            let mut columns = leading(kernel.kind.name(), 1)
                .with("blocks", UInt32Array::from(vec![kernel.blocks]))
                .with("density_product", one(scale))
                .with(
                    "trace_ratio_to_dense",
                    one(view.metrics.trace / viewed[0][v].metrics.trace),
                )
                .with(
                    "rel_error_to_scaled_dense",
                    one(relative_error(&view.matrix, &scaled_dense[v])),
                )
                .with(
                    "rel_error_to_mask",
                    one(relative_error(&view.matrix, mask_level)),
                )
                .with(
                    "kernel_target_alignment",
                    one(kernel_target_alignment(&view.matrix, &images.labels)),
                )
                .with(
                    "predicted_steps",
                    UInt32Array::from(vec![settings.predicted_steps]),
                )
                .with("predicted_loss_ratio", one(loss_ratio));
            view.add_columns(&mut columns);
            metric_parts.push(columns);
        }
    }
    writer.write_table(&NTK_KERNELS, Columns::concat(kernel_parts)?)?;
    writer.write_table(&NTK_SPECTRA, Columns::concat(spectrum_parts)?)?;
    writer.write_table(&NTK_METRICS, Columns::concat(metric_parts)?)
}

/// One row of a run's `metrics` table.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelMetrics {
    /// `dense`, `mask`, `histogram` or `empirical`.
    pub kernel: String,
    /// Positions per hidden layer.
    pub blocks: u32,
    /// The spectral metrics.
    pub metrics: SpectralMetrics,
    /// Product of the layer densities.
    pub density_product: f64,
    /// Trace over the dense kernel's trace.
    pub trace_ratio_to_dense: f64,
    /// Relative Frobenius error to `density_product x dense`.
    pub rel_error_to_scaled_dense: f64,
    /// Relative Frobenius error to the mask-level kernel.
    pub rel_error_to_mask: f64,
}

/// The metrics rows of the ntk run `input` of the kernels as computed (view `as_is`), in table
/// order: one per kernel.
pub fn read_metrics(store: &ArtifactStore, input: &InputRef) -> Result<Vec<KernelMetrics>> {
    let batch = store.read_run_table(input, &NTK_METRICS)?;
    let view: &StringArray = column(&batch, "view");
    let f = |name: &str| column::<Float64Array>(&batch, name).values().to_vec();
    let kernel: &StringArray = column(&batch, "kernel");
    let blocks = column::<UInt32Array>(&batch, "blocks").values().to_vec();
    let cols = [
        "density_product",
        "trace_ratio_to_dense",
        "rel_error_to_scaled_dense",
        "rel_error_to_mask",
    ]
    .map(f);
    Ok((0..batch.num_rows())
        .filter(|&r| view.value(r) == KernelView::AsIs.name())
        .map(|r| KernelMetrics {
            kernel: kernel.value(r).to_string(),
            blocks: blocks[r],
            metrics: SpectralMetrics::read(&batch, r),
            density_product: cols[0][r],
            trace_ratio_to_dense: cols[1][r],
            rel_error_to_scaled_dense: cols[2][r],
            rel_error_to_mask: cols[3][r],
        })
        .collect())
}
