//! The registry of every Parquet table the stages write: the contract readers rely on.
//!
//! Conventions of all tables: tidy long form (one fact per row), no nulls, and the run's
//! parameters repeated as leading columns so that one glob over many runs is already a tidy
//! table. ARCHITECTURE.md's schema section is generated from this registry (`glh schema
//! --format markdown`) and a test keeps the two equal.

use crate::Columns;
use crate::config::{PruneMethod, Scope, Width};
use crate::schema::{Column, ColumnType, TableSchema};
use arrow::array::{Float64Array, StringArray, UInt32Array, UInt64Array};

/// `data/<key>/subsets.parquet`: the seeded, class-balanced subsets of MNIST used downstream.
pub const DATA_SUBSETS: TableSchema = TableSchema {
    stage: "data",
    name: "subsets",
    row: "image chosen for a subset",
    stored: true,
    columns: &[
        Column {
            name: "seed",
            dtype: ColumnType::UInt64,
            doc: "run seed the subsets were drawn with",
        },
        Column {
            name: "scoring_per_class",
            dtype: ColumnType::UInt32,
            doc: "images per class in the `scoring` subset (run parameter)",
        },
        Column {
            name: "kernel_per_class",
            dtype: ColumnType::UInt32,
            doc: "images per class in the `kernel` subset (run parameter)",
        },
        Column {
            name: "subset",
            dtype: ColumnType::String,
            doc: "`scoring` (the SNIP/GraSP batch) or `kernel` (the NTK data set)",
        },
        Column {
            name: "split",
            dtype: ColumnType::String,
            doc: "MNIST split the image is taken from (`train`)",
        },
        Column {
            name: "position",
            dtype: ColumnType::UInt32,
            doc: "0-based position in the subset; subsets are ordered by label, then index",
        },
        Column {
            name: "index",
            dtype: ColumnType::UInt32,
            doc: "0-based row of the image in its MNIST split file",
        },
        Column {
            name: "label",
            dtype: ColumnType::UInt8,
            doc: "the digit, 0 to 9",
        },
    ],
};

/// Declares a column.
const fn col(name: &'static str, dtype: ColumnType, doc: &'static str) -> Column {
    Column { name, dtype, doc }
}

/// The run parameters of a masks run, then `$rest`: they lead every per-run table.
macro_rules! run_columns {
    ($($rest:expr),* $(,)?) => {
        &[
            col("method", ColumnType::String, "pruning method: random, magnitude, snip, grasp or synflow, or a control: `shuffled:<method>` (its mask, each layer's kept entries placed uniformly at random) or `rewired:<method>` (its mask, each layer's graph randomised by degree-preserving swaps), or a design: `graphon:<method>` (its per-layer kept counts placed by the target graphon of `[masks.graphon]`); `external` for an edge list"),
            col("depth", ColumnType::UInt32, "number of Linear layers L"),
            col("width", ColumnType::UInt32, "hidden width n (edge list: output size of layer 1)"),
            col("sparsity", ColumnType::Float64, "fraction of weights removed, over all layers"),
            col("density", ColumnType::Float64, "fraction of weights kept, `1 - sparsity`"),
            col("scope", ColumnType::String, "ranking scope: global or layerwise; `external` for an edge list"),
            col("seed", ColumnType::UInt64, "run seed (initialisation, scoring batch, ties); 0 for an edge list"),
            $($rest),*
        ]
    };
}

/// The values of [`run_columns!`]: which network a per-run table is of. Every stage that
/// writes them derives them from its masks input (`glh_masks::stage::run_columns`), never from
/// what its caller says, so a run's bytes follow from its key.
#[derive(Clone, Debug, PartialEq)]
pub struct RunColumns {
    /// The pruning method; `None` for masks read from an edge list (`external`).
    pub method: Option<PruneMethod>,
    /// Number of Linear layers L (an edge list may have a single layer).
    pub depth: u32,
    /// Hidden width n (edge list: the output size of layer 1).
    pub width: Width,
    /// Fraction of weights removed, over all layers.
    pub sparsity: f64,
    /// The ranking scope; `None` for an edge list.
    pub scope: Option<Scope>,
    /// Run seed (0 for an edge list).
    pub seed: u64,
}

impl RunColumns {
    /// The method as written in the `method` column.
    pub fn method_name(&self) -> &'static str {
        self.method.map_or("external", PruneMethod::name)
    }

    /// The scope as written in the `scope` column.
    pub fn scope_name(&self) -> &'static str {
        self.scope.map_or("external", Scope::name)
    }

    /// The seven run columns, each repeated `n` times.
    pub fn columns(&self, n: usize) -> Columns {
        Columns::new()
            .with("method", StringArray::from(vec![self.method_name(); n]))
            .with("depth", UInt32Array::from(vec![self.depth; n]))
            .with("width", UInt32Array::from(vec![self.width.get(); n]))
            .with("sparsity", Float64Array::from(vec![self.sparsity; n]))
            .with("density", Float64Array::from(vec![1.0 - self.sparsity; n]))
            .with("scope", StringArray::from(vec![self.scope_name(); n]))
            .with("seed", UInt64Array::from(vec![self.seed; n]))
    }
}

/// The run parameters and the layer's identity that lead every masks table.
macro_rules! mask_layer_columns {
    ($($rest:expr),* $(,)?) => {
        run_columns![
            col("layer", ColumnType::UInt32, "layer index l, 1 = input layer, L = classifier"),
            col("n_rows", ColumnType::UInt32, "the layer's output size (mask rows)"),
            col("n_cols", ColumnType::UInt32, "the layer's input size (mask columns)"),
            $($rest),*
        ]
    };
}

/// The run parameters, the ntk settings and the kernel's identity that lead every ntk table.
macro_rules! kernel_columns {
    ($($rest:expr),* $(,)?) => {
        run_columns![
            col("sigma_w2", ColumnType::Float64, "sigma_w^2 of the NTK parameterisation (setting)"),
            col("histogram_k", ColumnType::UInt32, "blocks K per hidden layer of the histogram kernel (setting; capped by the width)"),
            col("empirical_draws", ColumnType::UInt32, "weight draws averaged by the empirical kernel (setting; 0: not computed)"),
            col("kernel", ColumnType::String, "`dense` (W = 1, the standard NTK), `mask` (mask-level Graphon NTK), `histogram` (K-block SAS Graphon NTK) or `empirical` (finite network)"),
            col("n_points", ColumnType::UInt32, "N, the number of kernel data points (the data stage's `kernel` subset)"),
            $($rest),*
        ]
    };
}

/// The columns of a mask stored row by row, after the leading columns of `$leading!` and
/// `$head`: the masks stage's `masks` table and the training stage's scheduled `masks`.
macro_rules! mask_row_columns {
    ($leading:ident; $($head:expr),* $(,)?) => {
        $leading![
            $($head,)*
            col("layer", ColumnType::UInt32, "layer index l, 1 = input layer, L = classifier"),
            col("n_rows", ColumnType::UInt32, "the layer's output size (mask rows)"),
            col("n_cols", ColumnType::UInt32, "the layer's input size (mask columns)"),
            col("row", ColumnType::UInt32, "0-based output neuron"),
            col("degree", ColumnType::UInt32, "kept weights in the row"),
            col(
                "bits",
                ColumnType::Binary,
                "the row's mask, `ceil(n_cols / 8)` bytes: column c is bit `c % 8` (least significant first) of byte `c / 8`; 1 = kept"
            ),
        ]
    };
}

/// `masks/<key>/masks.parquet`: the masks of one run, one row per layer and output neuron.
pub const MASKS_ROWS: TableSchema = TableSchema {
    stage: "masks",
    name: "masks",
    row: "output neuron (mask row) of a layer",
    stored: true,
    columns: mask_row_columns![run_columns;],
};

/// `masks/<key>/layers.parquet`: per-layer summary of a run's masks.
pub const MASKS_LAYERS: TableSchema = TableSchema {
    stage: "masks",
    name: "layers",
    row: "layer of a run",
    stored: true,
    columns: mask_layer_columns![
        col("kept", ColumnType::UInt64, "kept weights"),
        col(
            "layer_density",
            ColumnType::Float64,
            "kept / (n_rows n_cols)"
        ),
    ],
};

/// The edge list of `glh masks export --format edges`, and the mask input format of the
/// graphons stage for masks made by other tools (written by anything: pyarrow, polars).
pub const EDGE_LIST: TableSchema = TableSchema {
    stage: "masks",
    name: "edges",
    row: "kept weight",
    stored: false,
    columns: &[
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer",
        ),
        col("row", ColumnType::UInt32, "0-based output neuron"),
        col("col", ColumnType::UInt32, "0-based input neuron"),
        col("n_rows", ColumnType::UInt32, "the layer's output size"),
        col("n_cols", ColumnType::UInt32, "the layer's input size"),
    ],
};

/// A design's target as a table of block densities per layer (`target = "table"` of
/// `[masks.graphon]`, `glh masks --target table --table FILE`; issue #32), written by anything
/// (pyarrow, polars; integer columns of any type): layer l's K_r x K_c blocks, K_r the largest
/// `row_block` + 1, every block once. A graphons run's `histograms.parquet` is one (its extra
/// columns are ignored).
pub const TARGET_TABLE: TableSchema = TableSchema {
    stage: "masks",
    name: "target_table",
    row: "block of a layer's target",
    stored: false,
    columns: &[
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer",
        ),
        col(
            "row_block",
            ColumnType::UInt32,
            "0-based row block; block r spans outputs u in [r / K_r, (r + 1) / K_r)",
        ),
        col(
            "col_block",
            ColumnType::UInt32,
            "0-based column block; block c spans inputs v in [c / K_c, (c + 1) / K_c)",
        ),
        col(
            "block_density",
            ColumnType::Float64,
            "the target's shape on the block, in [0, 1] (scaled by the layer's kept count)",
        ),
    ],
};

/// `graphons/<key>/histograms.parquet`: the SAS density histogram of every layer of one mask.
pub const GRAPHON_HISTOGRAMS: TableSchema = TableSchema {
    stage: "graphons",
    name: "histograms",
    row: "block of a layer's SAS histogram",
    stored: true,
    columns: mask_layer_columns![
        col(
            "k_rows",
            ColumnType::UInt32,
            "row blocks of this layer's histogram, min(K, n_rows)"
        ),
        col(
            "k_cols",
            ColumnType::UInt32,
            "column blocks, min(K, n_cols)"
        ),
        col(
            "row_block",
            ColumnType::UInt32,
            "0-based row block; block 0 holds the highest-degree rows"
        ),
        col(
            "col_block",
            ColumnType::UInt32,
            "0-based column block; block 0 holds the highest-degree columns"
        ),
        col(
            "block_density",
            ColumnType::Float64,
            "fraction of kept weights in the block, in [0, 1]"
        ),
        col(
            "layer_density",
            ColumnType::Float64,
            "the layer's density p, kept weights / (n_rows n_cols): block_density / layer_density is the histogram rescaled to integrate to 1 (the sparse regime's H / p)"
        ),
    ],
};

/// `graphons/<key>/hidden_neurons.parquet`: the hidden neurons a mask cuts off, per hidden
/// layer. Hidden layer h holds the outputs of Linear layer h and the inputs of layer h + 1; a
/// neuron with no kept weight in, or none out, is removed from the network.
pub const GRAPHON_HIDDEN_NEURONS: TableSchema = TableSchema {
    stage: "graphons",
    name: "hidden_neurons",
    row: "hidden layer of a mask",
    stored: true,
    columns: run_columns![
        col(
            "hidden_layer",
            ColumnType::UInt32,
            "h in 1..L-1: the outputs of Linear layer h, the inputs of layer h + 1"
        ),
        col(
            "neurons",
            ColumnType::UInt32,
            "neurons in the hidden layer (the width n)"
        ),
        col(
            "without_inputs",
            ColumnType::UInt32,
            "neurons with no kept weight in (zero row degree in layer h)"
        ),
        col(
            "without_outputs",
            ColumnType::UInt32,
            "neurons with no kept weight out (zero column degree in layer h + 1)"
        ),
        col(
            "removed",
            ColumnType::UInt32,
            "neurons with no kept weight in or none out"
        ),
        col("removed_fraction", ColumnType::Float64, "removed / neurons"),
    ],
};

/// `graphons/<key>/degrees.parquet`: the degree profile of every layer of one mask.
pub const GRAPHON_DEGREES: TableSchema = TableSchema {
    stage: "graphons",
    name: "degrees",
    row: "neuron of a layer, in degree order",
    stored: true,
    columns: mask_layer_columns![
        col(
            "side",
            ColumnType::String,
            "`row` (output neurons) or `col` (input neurons)"
        ),
        col(
            "rank",
            ColumnType::UInt32,
            "0-based position in descending degree order (ties by index)"
        ),
        col(
            "position",
            ColumnType::Float64,
            "(rank + 0.5) / count, the neuron's place in [0, 1]"
        ),
        col("degree", ColumnType::UInt32, "kept weights of the neuron"),
        col(
            "normalised_degree",
            ColumnType::Float64,
            "degree / size of the other side, in [0, 1]"
        ),
    ],
};

/// `convergence/<key>/convergence.parquet`: distance of each width's histograms to the reference.
pub const CONVERGENCE: TableSchema = TableSchema {
    stage: "convergence",
    name: "convergence",
    row: "method, depth, level (sparsity or density law), layer and width",
    stored: true,
    columns: &[
        col("method", ColumnType::String, "pruning method"),
        col("depth", ColumnType::UInt32, "number of Linear layers L"),
        col(
            "sparsity",
            ColumnType::Float64,
            "fraction of weights removed at this width (the level's sparsity there)",
        ),
        col(
            "density",
            ColumnType::Float64,
            "fraction of weights kept at this width",
        ),
        col(
            "density_c",
            ColumnType::Float64,
            "the group's density law density(n) = density_c n^(-density_a); a fixed sparsity s is density_c = 1 - s",
        ),
        col(
            "density_a",
            ColumnType::Float64,
            "the law's exponent: 0 for a fixed sparsity, > 0 in the sparse regime",
        ),
        col(
            "scope",
            ColumnType::String,
            "ranking scope: global or layerwise",
        ),
        col(
            "k",
            ColumnType::UInt32,
            "histogram blocks K per side (capped by the layer's size)",
        ),
        col(
            "rescale",
            ColumnType::String,
            "`none`: histograms compared as they are; `layer_density`: each divided by its layer's density first (H / p)",
        ),
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer",
        ),
        col(
            "hidden",
            ColumnType::Boolean,
            "true for hidden-to-hidden layers (2..L-1), the only ones the paper analyses",
        ),
        col("width", ColumnType::UInt32, "hidden width n"),
        col(
            "reference_width",
            ColumnType::UInt32,
            "the largest width, whose seed-averaged histogram is the reference",
        ),
        col("seeds", ColumnType::UInt32, "number of seeds averaged"),
        col(
            "frobenius_mean",
            ColumnType::Float64,
            "mean over seeds of ||H_n - H_ref||_F, unnormalised (the paper's distance)",
        ),
        col(
            "frobenius_sd",
            ColumnType::Float64,
            "sample standard deviation of the Frobenius distance over seeds (0 for one seed)",
        ),
        col(
            "l2_mean",
            ColumnType::Float64,
            "mean over seeds of the L2 distance of the step graphons, ||H_n - H_ref||_F / K (ours)",
        ),
        col(
            "l2_sd",
            ColumnType::Float64,
            "sample standard deviation of the L2 distance over seeds (0 for one seed)",
        ),
        col(
            "cut_low_mean",
            ColumnType::Float64,
            "mean over seeds of a lower bound of the cut distance to H_ref (exact if K <= 24)",
        ),
        col(
            "cut_low_sd",
            ColumnType::Float64,
            "sample standard deviation of the cut distance's lower bound over seeds",
        ),
        col(
            "cut_high_mean",
            ColumnType::Float64,
            "mean over seeds of a certified upper bound of the cut distance (exact if K <= 24)",
        ),
        col(
            "cut_high_sd",
            ColumnType::Float64,
            "sample standard deviation of the cut distance's upper bound over seeds",
        ),
        col(
            "noise_floor",
            ColumnType::Float64,
            "mean over pairs of seeds at this width of the Frobenius distance between their histograms (NaN with one seed): the distance that noise alone gives",
        ),
        col(
            "expected_sq_distance",
            ColumnType::Float64,
            "unbiased estimate of the squared Frobenius distance between the expected histograms at this width and at the reference width: the squared distance of the seed means less each side's seed variance over its seeds; may be negative (a difference below the noise); NaN at the reference width or with one seed",
        ),
        col(
            "expected_sq_distance_low",
            ColumnType::Float64,
            "2.5% end of its seed-bootstrap interval (each side's seeds resampled, 1000 resamples, spread placed at the estimate)",
        ),
        col(
            "expected_sq_distance_high",
            ColumnType::Float64,
            "97.5% end of that interval",
        ),
        col(
            "previous_width",
            ColumnType::UInt32,
            "the group's next smaller width, this width's previous link in the Cauchy chain (0 at the smallest width)",
        ),
        col(
            "successive_sq_distance",
            ColumnType::Float64,
            "unbiased estimate of the squared Frobenius distance between the expected histograms at this width and at previous_width (the same estimator as expected_sq_distance); may be negative; NaN at the smallest width or with one seed",
        ),
        col(
            "successive_sq_distance_low",
            ColumnType::Float64,
            "2.5% end of its seed-bootstrap interval",
        ),
        col(
            "successive_sq_distance_high",
            ColumnType::Float64,
            "97.5% end of that interval",
        ),
    ],
};

/// `ntk/<key>/kernels.parquet`: every kernel matrix of one masks run, in full (both triangles).
pub const NTK_KERNELS: TableSchema = TableSchema {
    stage: "ntk",
    name: "kernels",
    row: "kernel and ordered pair of data points (i, j)",
    stored: true,
    columns: kernel_columns![
        col(
            "i",
            ColumnType::UInt32,
            "row of the kernel matrix, 0-based position in the kernel subset"
        ),
        col(
            "j",
            ColumnType::UInt32,
            "column of the kernel matrix, 0-based position in the kernel subset"
        ),
        col(
            "image_i",
            ColumnType::UInt32,
            "MNIST training-set index of data point i"
        ),
        col(
            "image_j",
            ColumnType::UInt32,
            "MNIST training-set index of data point j"
        ),
        col(
            "value",
            ColumnType::Float64,
            "Theta(x_i, x_j), averaged over the 10 outputs"
        ),
    ],
};

/// `ntk/<key>/spectra.parquet`: all eigenvalues of every kernel of one masks run.
pub const NTK_SPECTRA: TableSchema = TableSchema {
    stage: "ntk",
    name: "spectra",
    row: "kernel and eigenvalue",
    stored: true,
    columns: kernel_columns![
        col("rank", ColumnType::UInt32, "1 = largest eigenvalue"),
        col(
            "eigenvalue",
            ColumnType::Float64,
            "eigenvalue of the N x N kernel (f64 symmetric solver; may be slightly negative)"
        ),
    ],
};

/// Calls `$table!` with `$lead`, the spectral-metric columns (`glh_ntk::spectrum`'s
/// `SpectralMetrics`, written and read by these names) and `$rest`.
macro_rules! spectral_metric_columns {
    ($table:ident; [$($lead:expr),* $(,)?]; [$($rest:expr),* $(,)?]) => {
        $table![
            $($lead,)*
            col("trace", ColumnType::Float64, "sum of the eigenvalues"),
            col("top1_eigenvalue", ColumnType::Float64, "l_1, the largest eigenvalue (absolute scale)"),
            col("top5_sum", ColumnType::Float64, "sum of the 5 largest eigenvalues (absolute scale)"),
            col("top1_energy", ColumnType::Float64, "l_1 / sum l"),
            col("top5_energy", ColumnType::Float64, "sum of the 5 largest eigenvalues / sum l (the paper's energy concentration)"),
            col("top10_energy", ColumnType::Float64, "sum of the 10 largest eigenvalues / sum l"),
            col("effective_rank_entropy", ColumnType::Float64, "exp(-sum p ln p), p = positive eigenvalues / their sum (ours)"),
            col("effective_rank_trace", ColumnType::Float64, "sum l / l_1 (the paper's effective rank)"),
            col("ratio_1_2", ColumnType::Float64, "l_1 / l_2 (the paper's spectral gap)"),
            col("condition_number", ColumnType::Float64, "l_1 / l_N; +inf when l_N <= 0"),
            col("decay_exponent", ColumnType::Float64, "least-squares slope of ln l_i on ln i over the positive l_i, i <= N/2 (the paper's decay rate alpha is minus this)"),
            col("negative_count", ColumnType::UInt32, "eigenvalues below zero (numerical noise, reported)"),
            col("min_eigenvalue", ColumnType::Float64, "l_N (0 up to rounding for the centred view, whose null space holds the constant vector)"),
            $($rest),*
        ]
    };
}

/// [`spectral_metric_columns!`] of one view of a kernel: the metrics tables of both kernel
/// stages share them.
macro_rules! with_spectral_columns {
    ($table:ident; [$($lead:expr),* $(,)?]; [$($rest:expr),* $(,)?]) => {
        spectral_metric_columns!($table; [
            $($lead,)*
            col("view", ColumnType::String, "`as_is` (the kernel K), `centred` (H K H, H = I - 11^T/N: its mean component removed) or `top_removed` (K - l_1 v_1 v_1^T; spectrum l_2..l_N); every metric of the row is of that matrix"),
        ]; [
            col("top_eigvec_mean_image_cos", ColumnType::Float64, "|cosine| over the kernel images between the view's top eigenvector and the vector of each image's projection x_a . xbar on their mean image xbar: near 1 when the top component is the shared mean image"),
            $($rest),*
        ])
    };
}

/// The columns as they are, for a table that leads with none of the shared groups.
macro_rules! plain_columns {
    ($($column:expr),* $(,)?) => {
        &[$($column),*]
    };
}

/// `ntk/<key>/metrics.parquet`: the spectral metrics of every kernel of one masks run, in
/// each view (`glh_artifacts::config::KernelView`).
pub const NTK_METRICS: TableSchema = TableSchema {
    stage: "ntk",
    name: "metrics",
    row: "kernel",
    stored: true,
    columns: with_spectral_columns!(kernel_columns; [
        col(
            "blocks",
            ColumnType::UInt32,
            "positions per hidden layer the kernel integrates over: 1 (dense), K (histogram), n (mask, empirical)"
        ),
    ]; [
        col(
            "density_product",
            ColumnType::Float64,
            "product over layers of the layer densities (c^L for uniform density c)"
        ),
        col(
            "trace_ratio_to_dense",
            ColumnType::Float64,
            "trace / trace of the dense kernel in the same view; the c^L law predicts density_product (as_is)"
        ),
        col(
            "rel_error_to_scaled_dense",
            ColumnType::Float64,
            "||K - density_product K_dense||_F / ||density_product K_dense||_F, both in the row's view"
        ),
        col(
            "rel_error_to_mask",
            ColumnType::Float64,
            "||K - K_mask||_F / ||K_mask||_F, both in the row's view (0 for the mask kernel itself)"
        ),
        col(
            "kernel_target_alignment",
            ColumnType::Float64,
            "<K, Y Y^T> / (|K| |Y Y^T|) with Y the one-hot labels of the kernel images and K in the row's view (centred: the centred alignment)"
        ),
        col(
            "predicted_steps",
            ColumnType::UInt32,
            "T of predicted_loss_ratio (setting)"
        ),
        col(
            "predicted_loss_ratio",
            ColumnType::Float64,
            "L_T / L_0 of linearised gradient descent from zero output on the one-hot labels at eta = N / trace (scale-free; smaller is faster)"
        ),
    ]),
};

/// A configuration of the graphon_ntk stage: what leads its tables, before their own columns.
macro_rules! configuration_columns {
    ($($rest:expr),* $(,)?) => {
        &[
            col("method", ColumnType::String, "pruning method"),
            col("depth", ColumnType::UInt32, "number of Linear layers L"),
            col("width", ColumnType::UInt32, "hidden width n"),
            col("sparsity", ColumnType::Float64, "fraction of weights removed, over all layers"),
            col("density", ColumnType::Float64, "fraction of weights kept, `1 - sparsity`"),
            col("scope", ColumnType::String, "ranking scope: global or layerwise"),
            $($rest),*
        ]
    };
}

/// The configuration, the settings and the kernel's identity that lead every graphon_ntk
/// table: one kernel of a configuration's graphon (all its seeds' masks averaged).
macro_rules! graphon_kernel_columns {
    ($($rest:expr),* $(,)?) => {
        configuration_columns![
            col("seeds", ColumnType::UInt32, "masks runs (seeds) whose histograms were averaged into the graphon"),
            col("k", ColumnType::UInt32, "blocks K per hidden layer of the graphon (capped by the width)"),
            col("n_points", ColumnType::UInt32, "N, the kernel's MNIST training images (setting kernel_size)"),
            col("sigma_w2", ColumnType::Float64, "sigma_w^2 of the NTK parameterisation (the paper's 1 or our 2)"),
            col("kernel", ColumnType::String, "`graphon` (the recursion on the seed-averaged K-block graphon, each hidden side sorted by its own degree: our reconstruction), `shared_order` (the same with one order per hidden layer for both its sides) or `drawn` (the mask-level kernel of one finite mask drawn from the graphon at the masks' width: the paper's text)"),
            $($rest),*
        ]
    };
}

/// `graphon_ntk/<key>/spectra.parquet`: all eigenvalues of every kernel of one configuration.
pub const GRAPHON_NTK_SPECTRA: TableSchema = TableSchema {
    stage: "graphon_ntk",
    name: "spectra",
    row: "kernel, sigma_w^2 and eigenvalue",
    stored: true,
    columns: graphon_kernel_columns![
        col("rank", ColumnType::UInt32, "1 = largest eigenvalue"),
        col(
            "eigenvalue",
            ColumnType::Float64,
            "eigenvalue of the N x N kernel (f64 symmetric solver; may be slightly negative)"
        ),
    ],
};

/// `graphon_ntk/<key>/metrics.parquet`: the spectral metrics of every kernel of one
/// configuration.
pub const GRAPHON_NTK_METRICS: TableSchema = TableSchema {
    stage: "graphon_ntk",
    name: "metrics",
    row: "kernel and sigma_w^2",
    stored: true,
    columns: with_spectral_columns!(graphon_kernel_columns; []; [
        col(
            "rel_error_to_graphon",
            ColumnType::Float64,
            "||K - K_graphon||_F / ||K_graphon||_F, both in the row's view, at the same sigma_w^2 (0 for the graphon kernel)"
        ),
    ]),
};

/// The configuration and settings that lead the graphon_ntk `seed_metrics` table: the kernel
/// of one seed's own graphon (that seed's masks alone), for seed-bootstrap intervals.
macro_rules! seed_graphon_columns {
    ($($rest:expr),* $(,)?) => {
        configuration_columns![
            col("seed", ColumnType::UInt64, "the masks run (seed) whose histograms alone make this graphon"),
            col("k", ColumnType::UInt32, "blocks K per hidden layer of the graphon (capped by the width)"),
            col("n_points", ColumnType::UInt32, "N, the kernel's MNIST training images (setting kernel_size)"),
            col("sigma_w2", ColumnType::Float64, "sigma_w^2 of the NTK parameterisation: the first of the setting's list"),
            col("kernel", ColumnType::String, "`graphon`, `shared_order` or `drawn`, as in `metrics`, of this seed's own graphon"),
            $($rest),*
        ]
    };
}

/// `graphon_ntk/<key>/seed_metrics.parquet`: the spectral metrics of the Graphon NTK of each
/// seed's own graphon (setting `seed_kernels`; no rows without it).
pub const GRAPHON_NTK_SEED_METRICS: TableSchema = TableSchema {
    stage: "graphon_ntk",
    name: "seed_metrics",
    row: "seed",
    stored: true,
    columns: with_spectral_columns!(seed_graphon_columns; []; []),
};

/// The run parameters and the training settings that lead every training table.
macro_rules! training_columns {
    ($($rest:expr),* $(,)?) => {
        run_columns![
            col("learning_rate", ColumnType::Float64, "the optimiser's learning rate (setting; gradient descent's eta on the NTK parameters)"),
            col("batch_size", ColumnType::UInt32, "examples per step (setting; gradient descent: all N kernel images)"),
            col("steps", ColumnType::UInt32, "optimiser steps of the run (setting)"),
            col("device", ColumnType::String, "cpu, cuda or metal"),
            $($rest),*
        ]
    };
}

/// `training/<key>/history.parquet`: the loss curves of one training run.
pub const TRAINING_HISTORY: TableSchema = TableSchema {
    stage: "training",
    name: "history",
    row: "evaluation: a training step's batch, or the test set after a step",
    stored: true,
    columns: training_columns![
        col(
            "step",
            ColumnType::UInt32,
            "`train`: the step (1-based) whose batch the loss is of, before its update; `test`: updates done (0 = at initialisation)"
        ),
        col(
            "split",
            ColumnType::String,
            "`train` (the step's mini-batch; gradient descent: the N kernel images) or `test` (all 10,000 test images)"
        ),
        col(
            "loss",
            ColumnType::Float64,
            "the training loss (setting): mean cross-entropy, or squared error on one-hot targets summed over outputs, / (2 N)"
        ),
        col(
            "accuracy",
            ColumnType::Float64,
            "fraction of correct argmax predictions"
        ),
    ],
};

/// `training/<key>/summary.parquet`: one row per training run.
pub const TRAINING_SUMMARY: TableSchema = TableSchema {
    stage: "training",
    name: "summary",
    row: "training run",
    stored: true,
    columns: training_columns![
        col(
            "final_train_loss",
            ColumnType::Float64,
            "training loss of the last step's batch"
        ),
        col(
            "final_test_loss",
            ColumnType::Float64,
            "test loss after the last step"
        ),
        col(
            "final_test_accuracy",
            ColumnType::Float64,
            "test accuracy after the last step"
        ),
        col(
            "train_loss_at_50",
            ColumnType::Float64,
            "training loss of step 50's batch (NaN if the run is shorter)"
        ),
        col(
            "train_loss_at_100",
            ColumnType::Float64,
            "training loss of step 100's batch (NaN if the run is shorter)"
        ),
        col(
            "mean_train_loss",
            ColumnType::Float64,
            "mean training loss over all steps (area under the curve / steps: early speed)"
        ),
        col(
            "loss_threshold",
            ColumnType::Float64,
            "the threshold of `steps_to_threshold` (setting)"
        ),
        col(
            "steps_to_threshold",
            ColumnType::UInt32,
            "first step whose training loss is <= loss_threshold; 0 if none"
        ),
    ],
};

/// `training/<key>/outputs.parquet`: the outputs of a gradient-descent run on its training
/// images (the data stage's kernel subset) after some steps.
pub const TRAINING_OUTPUTS: TableSchema = TableSchema {
    stage: "training",
    name: "outputs",
    row: "recorded step, training image and output (gradient-descent runs only)",
    stored: true,
    columns: training_columns![
        col(
            "step",
            ColumnType::UInt32,
            "updates done (0 = at initialisation; always 0 and the last step, and the setting output_steps)"
        ),
        col(
            "position",
            ColumnType::UInt32,
            "0-based position of the image in the kernel subset (the kernel's row)"
        ),
        col(
            "image",
            ColumnType::UInt32,
            "MNIST training-set index of the image"
        ),
        col("label", ColumnType::UInt32, "the image's digit"),
        col("output", ColumnType::UInt32, "the network output k, 0 to 9"),
        col("value", ColumnType::Float64, "f_k(x) (f32, widened)"),
        col(
            "target",
            ColumnType::Float64,
            "the one-hot target y_k: 1 if k is the label, else 0"
        ),
    ],
};

/// The run parameters and the gradient-descent settings that lead every dynamics table.
macro_rules! dynamics_columns {
    ($($rest:expr),* $(,)?) => {
        run_columns![
            col("learning_rate", ColumnType::Float64, "gradient descent's eta on the NTK parameters (training setting)"),
            col("steps", ColumnType::UInt32, "gradient-descent steps T (training setting)"),
            col("sigma_w2", ColumnType::Float64, "sigma_w^2 of the NTK parameterisation (training setting)"),
            col("n_points", ColumnType::UInt32, "N, the training images (the data stage's kernel subset)"),
            $($rest),*
        ]
    };
}

/// `training/<key>/masks.parquet`: every mask a run under a mask schedule (`[training.schedule]`:
/// IMP, SET, RigL; issue #33) trained under, one row per checkpoint, layer and output neuron; the
/// run columns are the starting masks run's. Absent for `static` runs.
pub const TRAINING_MASKS: TableSchema = TableSchema {
    stage: "training",
    name: "masks",
    row: "output neuron (mask row) of a layer at a checkpoint",
    stored: true,
    columns: mask_row_columns![
        training_columns;
        col(
            "schedule",
            ColumnType::String,
            "the mask schedule: `imp`, `set` or `rigl`"
        ),
        col(
            "checkpoint",
            ColumnType::UInt32,
            "0 for the mask the run starts from, i after the i-th update (SET, RigL) or at level i (IMP)"
        ),
        col(
            "step",
            ColumnType::UInt32,
            "optimiser steps done when the mask took effect (IMP's levels numbered on, as in `history`)"
        ),
    ],
};

/// The leading columns of every trajectories table: the training run's, its schedule and the
/// checkpoint.
macro_rules! trajectory_columns {
    ($($rest:expr),* $(,)?) => {
        training_columns![
            col("schedule", ColumnType::String, "the training run's mask schedule: `imp`, `set` or `rigl`"),
            col("checkpoint", ColumnType::UInt32, "0 for the mask the run starts from, i after the i-th update (SET, RigL) or at level i (IMP)"),
            col("step", ColumnType::UInt32, "optimiser steps done when the checkpoint's mask took effect (IMP's levels numbered on)"),
            $($rest),*
        ]
    };
}

/// `trajectories/<key>/layers.parquet`: how each layer of a scheduled training run's mask moved
/// from checkpoint to checkpoint (issue #33). Distances are between the checkpoints' SAS
/// histograms of this one run (the paper's Frobenius; the cut distance as a certified
/// interval); the seed-averaged, bias-corrected distances are the report's.
pub const TRAJECTORY_LAYERS: TableSchema = TableSchema {
    stage: "trajectories",
    name: "layers",
    row: "layer of a checkpoint's mask",
    stored: true,
    columns: trajectory_columns![
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer, L = classifier"
        ),
        col(
            "n_rows",
            ColumnType::UInt32,
            "the layer's output size (mask rows)"
        ),
        col(
            "n_cols",
            ColumnType::UInt32,
            "the layer's input size (mask columns)"
        ),
        col(
            "kept",
            ColumnType::UInt64,
            "kept weights of the layer at the checkpoint"
        ),
        col(
            "layer_density",
            ColumnType::Float64,
            "kept / (n_rows n_cols)"
        ),
        col(
            "changed_from_previous",
            ColumnType::Float64,
            "fraction of the previous checkpoint's kept weights of the layer that this one does not keep (0 at checkpoint 0)"
        ),
        col(
            "changed_from_start",
            ColumnType::Float64,
            "fraction of checkpoint 0's kept weights of the layer that this one does not keep"
        ),
        col(
            "k_rows",
            ColumnType::UInt32,
            "histogram blocks on the output side, min(K, n_rows)"
        ),
        col(
            "k_cols",
            ColumnType::UInt32,
            "histogram blocks on the input side, min(K, n_cols)"
        ),
        col(
            "frobenius_to_previous",
            ColumnType::Float64,
            "||H_t - H_(t-1)||_F of the layer's SAS histograms (0 at checkpoint 0)"
        ),
        col(
            "frobenius_to_start",
            ColumnType::Float64,
            "||H_t - H_0||_F of the layer's SAS histograms"
        ),
        col(
            "cut_low_to_previous",
            ColumnType::Float64,
            "the cut distance to the previous checkpoint's histogram is at least this (NaN when `cut = false`)"
        ),
        col(
            "cut_high_to_previous",
            ColumnType::Float64,
            "... and at most this (certified; equal to the low end where K <= 24)"
        ),
        col(
            "cut_low_to_start",
            ColumnType::Float64,
            "the cut distance to checkpoint 0's histogram is at least this (NaN when `cut = false`)"
        ),
        col(
            "cut_high_to_start",
            ColumnType::Float64,
            "... and at most this"
        ),
    ],
};

/// `trajectories/<key>/histograms.parquet`: the SAS histogram of every layer of every checkpoint
/// of a scheduled training run.
pub const TRAJECTORY_HISTOGRAMS: TableSchema = TableSchema {
    stage: "trajectories",
    name: "histograms",
    row: "block of a layer's histogram at a checkpoint",
    stored: true,
    columns: trajectory_columns![
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer, L = classifier"
        ),
        col(
            "k_rows",
            ColumnType::UInt32,
            "blocks on the output side, min(K, n_rows)"
        ),
        col(
            "k_cols",
            ColumnType::UInt32,
            "blocks on the input side, min(K, n_cols)"
        ),
        col(
            "row_block",
            ColumnType::UInt32,
            "0-based block of output neurons, in descending degree order"
        ),
        col(
            "col_block",
            ColumnType::UInt32,
            "0-based block of input neurons, in descending degree order"
        ),
        col(
            "block_density",
            ColumnType::Float64,
            "fraction of the block's entries kept"
        ),
    ],
};

/// `trajectories/<key>/metrics.parquet`: the spectral metrics of each checkpoint's K-block
/// histogram Graphon NTK (shared hidden order, as the ntk stage's `histogram` kernel) on the
/// kernel images of the run's seed.
pub const TRAJECTORY_METRICS: TableSchema = TableSchema {
    stage: "trajectories",
    name: "metrics",
    row: "checkpoint",
    stored: true,
    columns: spectral_metric_columns!(trajectory_columns; [
        col("n_points", ColumnType::UInt32, "N, the kernel images (the data stage's `kernel` subset of the run's seed)"),
        col("sigma_w2", ColumnType::Float64, "sigma_w^2 of the kernel (setting)"),
        col("histogram_k", ColumnType::UInt32, "blocks K per hidden layer of the kernel's chain (setting; capped by the width)"),
    ]; []),
};

/// `trajectories/<key>/convergence.parquet`: the paper's question at every checkpoint of one
/// scheduled configuration (method, depth and starting sparsity, every width and seed): do the
/// checkpoint's masks converge with width (the Cauchy chain of `graphons::noise`), and has the
/// expected histogram moved from the start beyond noise (the paired bias-corrected distance of
/// each seed's checkpoint to its own start)?
pub const TRAJECTORY_CONVERGENCE: TableSchema = TableSchema {
    stage: "trajectories",
    name: "convergence",
    row: "checkpoint, layer and width of a scheduled configuration",
    stored: true,
    columns: &[
        col(
            "method",
            ColumnType::String,
            "the starting masks' pruning method",
        ),
        col("depth", ColumnType::UInt32, "number of Linear layers L"),
        col(
            "sparsity",
            ColumnType::Float64,
            "the starting masks' sparsity",
        ),
        col(
            "scope",
            ColumnType::String,
            "the starting masks' ranking scope",
        ),
        col(
            "schedule",
            ColumnType::String,
            "the mask schedule: `imp`, `set` or `rigl`",
        ),
        col(
            "checkpoint",
            ColumnType::UInt32,
            "0 for the starting masks, i after the i-th update (SET, RigL) or at level i (IMP)",
        ),
        col(
            "step",
            ColumnType::UInt32,
            "optimiser steps done when the checkpoint's masks took effect",
        ),
        col(
            "layer",
            ColumnType::UInt32,
            "layer index l, 1 = input layer, L = classifier",
        ),
        col(
            "hidden",
            ColumnType::Boolean,
            "both sides of the layer are hidden neurons (2 <= l <= L - 1): the paper's convergence test reads these",
        ),
        col("width", ColumnType::UInt32, "hidden width n"),
        col("seeds", ColumnType::UInt32, "seeds at this width"),
        col(
            "layer_density",
            ColumnType::Float64,
            "the layer's kept fraction at the checkpoint, mean over seeds",
        ),
        col(
            "sparsity_now",
            ColumnType::Float64,
            "the whole mask's sparsity at the checkpoint, mean over seeds (IMP's falls level by level)",
        ),
        col(
            "changed_from_start",
            ColumnType::Float64,
            "fraction of the starting kept weights of the layer not kept at the checkpoint, mean over seeds",
        ),
        col(
            "noise_floor",
            ColumnType::Float64,
            "mean Frobenius distance between two seeds' histograms at this width and checkpoint (NaN with one seed)",
        ),
        col(
            "structure",
            ColumnType::Float64,
            "||Hbar - mean(Hbar)||_F of the seed-mean histogram: 0 for a constant graphon, larger the more structured",
        ),
        col(
            "previous_width",
            ColumnType::UInt32,
            "the next smaller width of the sweep (0 for the smallest)",
        ),
        col(
            "successive_sq_distance",
            ColumnType::Float64,
            "bias-corrected ||mu(n) - mu(previous)||_F^2 between the expected histograms at this checkpoint (NaN for the smallest width or with fewer than two seeds a side)",
        ),
        col(
            "successive_sq_distance_low",
            ColumnType::Float64,
            "its 95% seed-bootstrap interval's lower end",
        ),
        col(
            "successive_sq_distance_high",
            ColumnType::Float64,
            "its upper end",
        ),
        col(
            "moved_sq_distance",
            ColumnType::Float64,
            "paired bias-corrected ||mu(checkpoint) - mu(start)||_F^2 at this width: each seed's checkpoint against its own start (0 at checkpoint 0; NaN with fewer than two seeds)",
        ),
        col(
            "moved_sq_distance_low",
            ColumnType::Float64,
            "its 95% seed-bootstrap interval's lower end (pairs resampled together)",
        ),
        col(
            "moved_sq_distance_high",
            ColumnType::Float64,
            "its upper end",
        ),
        col(
            "shape_noise_floor",
            ColumnType::Float64,
            "noise_floor of the shapes H / p (each seed's histogram divided by its layer density)",
        ),
        col(
            "moved_shape_sq_distance",
            ColumnType::Float64,
            "moved_sq_distance of the shapes H / p: the movement with most of the layer's density change taken out (IMP's densities fall level by level; SET's and RigL's stay, so this is moved_sq_distance / p^2 there); across densities it still holds the change of the SAS sorting slope, about sqrt((1 - p) / (p n)) a cell",
        ),
        col(
            "moved_shape_sq_distance_low",
            ColumnType::Float64,
            "its 95% seed-bootstrap interval's lower end",
        ),
        col(
            "moved_shape_sq_distance_high",
            ColumnType::Float64,
            "its upper end",
        ),
    ],
};

/// `dynamics/<key>/curves.parquet`: the observed gradient-descent loss curve of one training
/// run and the curves its kernels predict.
pub const DYNAMICS_CURVES: TableSchema = TableSchema {
    stage: "dynamics",
    name: "curves",
    row: "step and source (the observed curve, or a kernel's prediction)",
    stored: true,
    columns: dynamics_columns![
        col("step", ColumnType::UInt32, "updates done t, 0 to T"),
        col(
            "source",
            ColumnType::String,
            "`observed` (the trained network), or the kernel that predicts: `empirical` (the network's own NTK at initialisation, all 10N x 10N entries), `mask` (the mask-level Graphon NTK, per output), `graphon` (the configuration's seed-averaged K-block graphon, per output)"
        ),
        col(
            "loss",
            ColumnType::Float64,
            "L_t = |f_t - y|^2 / (2N) over all outputs; predicted: |(I - eta K / N)^t r_0|^2 / (2N) with r_0 the observed initial residual"
        ),
    ],
};

/// `dynamics/<key>/errors.parquet`: how well each kernel predicts one training run.
pub const DYNAMICS_ERRORS: TableSchema = TableSchema {
    stage: "dynamics",
    name: "errors",
    row: "kernel of a training run",
    stored: true,
    columns: dynamics_columns![
        col(
            "kernel",
            ColumnType::String,
            "`empirical`, `mask` or `graphon` (see curves.source)"
        ),
        col(
            "curve_error",
            ColumnType::Float64,
            "max over t of |L_obs(t) - L_pred(t)| / L_obs(0)"
        ),
        col(
            "observed_final",
            ColumnType::Float64,
            "L_obs(T), the observed loss after T steps"
        ),
        col(
            "predicted_final",
            ColumnType::Float64,
            "L_pred(T), the kernel's predicted loss after T steps"
        ),
        col(
            "observed_area",
            ColumnType::Float64,
            "mean over t = 0..T of L_obs(t) / L_obs(0): smaller is faster"
        ),
        col(
            "predicted_area",
            ColumnType::Float64,
            "mean over t = 0..T of L_pred(t) / L_pred(0)"
        ),
        col(
            "top_eigenvalue",
            ColumnType::Float64,
            "l_1, the kernel's largest eigenvalue (over the outputs' blocks for a per-output kernel)"
        ),
        col(
            "trace",
            ColumnType::Float64,
            "the kernel's trace (all outputs' blocks)"
        ),
        col(
            "stable_learning_rate",
            ColumnType::Float64,
            "2N / l_1: gradient descent on this kernel is stable below it"
        ),
    ],
};

/// The points of `glh design --out`: one row per evaluated parameter of a design search, the
/// Graphon NTK of the design's graphon (no mask drawn) on the kernel images.
pub const DESIGN_POINTS: TableSchema = TableSchema {
    stage: "ntk",
    name: "design_points",
    row: "evaluated parameter of a design search",
    stored: false,
    columns: DESIGN_POINT_COLUMNS,
};

/// A `design` stage run's search (a pipeline's `[design]` table): the `design_points` columns,
/// its chosen point the target its designs are drawn from.
pub const DESIGN_SEARCH: TableSchema = TableSchema {
    stage: "design",
    name: "points",
    row: "evaluated parameter of the run's design search",
    stored: true,
    columns: DESIGN_POINT_COLUMNS,
};

const DESIGN_POINT_COLUMNS: &[Column] = spectral_metric_columns!(plain_columns; [
    col("family", ColumnType::String, "target family searched: `power` (parameter beta) or `block` (parameter: the block's share of both sides)"),
    col("parameter", ColumnType::Float64, "the family's parameter at this point"),
    col("on_grid", ColumnType::Boolean, "from the grid (true) or from the golden-section refinement (false)"),
    col("criterion", ColumnType::String, "what the search optimised: `top5_energy`, `trace` (maximised) or `predicted_loss_ratio` (minimised)"),
    col("chosen", ColumnType::Boolean, "the point the criterion prefers (the first of equals)"),
    col("depth", ColumnType::UInt32, "number of Linear layers L"),
    col("width", ColumnType::UInt32, "hidden width n"),
    col("density", ColumnType::Float64, "fraction of weights kept, over all layers"),
    col("profile", ColumnType::String, "the per-layer kept counts: `uniform` (every layer at the density) or the masks run key they came from"),
    col("k", ColumnType::UInt32, "blocks per hidden side of the design's graphon"),
    col("n_points", ColumnType::UInt32, "kernel images"),
    col("sigma_w2", ColumnType::Float64, "the kernel's sigma_w^2"),
]; [
    col("predicted_loss_ratio", ColumnType::Float64, "L_T / L_0 of linearised gradient descent from zero output at eta = N / trace, T = 200 steps, on the kernel images' one-hot labels"),
]);

/// Every table, in pipeline order.
pub const ALL_TABLES: &[&TableSchema] = &[
    &DATA_SUBSETS,
    &MASKS_ROWS,
    &MASKS_LAYERS,
    &EDGE_LIST,
    &TARGET_TABLE,
    &GRAPHON_HISTOGRAMS,
    &GRAPHON_DEGREES,
    &GRAPHON_HIDDEN_NEURONS,
    &CONVERGENCE,
    &NTK_KERNELS,
    &NTK_SPECTRA,
    &NTK_METRICS,
    &GRAPHON_NTK_SPECTRA,
    &GRAPHON_NTK_METRICS,
    &GRAPHON_NTK_SEED_METRICS,
    &DESIGN_POINTS,
    &DESIGN_SEARCH,
    &TRAINING_HISTORY,
    &TRAINING_SUMMARY,
    &TRAINING_OUTPUTS,
    &TRAINING_MASKS,
    &TRAJECTORY_LAYERS,
    &TRAJECTORY_HISTOGRAMS,
    &TRAJECTORY_METRICS,
    &TRAJECTORY_CONVERGENCE,
    &DYNAMICS_CURVES,
    &DYNAMICS_ERRORS,
];

/// The stage directories of the store, in pipeline order (the stages of [`ALL_TABLES`] that
/// store a table).
pub fn stages() -> Vec<&'static str> {
    let mut stages: Vec<&'static str> = Vec::new();
    for t in ALL_TABLES.iter().filter(|t| t.stored) {
        if !stages.contains(&t.stage) {
            stages.push(t.stage);
        }
    }
    stages
}

/// The table `name` written by `stage`.
pub fn find(stage: &str, name: &str) -> Option<&'static TableSchema> {
    ALL_TABLES
        .iter()
        .copied()
        .find(|t| t.stored && t.stage == stage && t.name == name)
}

/// Every table as Markdown, the text of ARCHITECTURE.md's schema section.
pub fn markdown() -> String {
    ALL_TABLES
        .iter()
        .map(|t| t.markdown())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_unique_and_columns_documented() {
        for (i, t) in ALL_TABLES.iter().enumerate() {
            assert_eq!(find(t.stage, t.name).is_some(), t.stored);
            assert!(
                ALL_TABLES[..i]
                    .iter()
                    .all(|o| (o.stage, o.name) != (t.stage, t.name)),
                "{} listed twice",
                t.name
            );
            for (j, c) in t.columns.iter().enumerate() {
                assert!(!c.doc.is_empty(), "{}.{} has no doc", t.name, c.name);
                assert!(t.columns[..j].iter().all(|o| o.name != c.name));
            }
        }
    }
}
