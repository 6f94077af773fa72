//! `graphon_lab._native`: the stage libraries behind the Python package `graphon_lab` (issue
//! #31). Each function converts numpy arrays to the libraries' types, calls one library
//! function with the GIL released, and converts back: nothing here computes what a stage
//! computes, so a number from Python is the number `glh` writes.
//!
//! Conventions (the package's stubs repeat them): a mask is a 2-D `bool` array `(n_out, n_in)`,
//! rows are a layer's outputs; a network is a list of masks, input layer first; images are
//! rows of `x`, `(N, d)` float64. The package's Python layer turns what people hand it (any
//! dtype, torch tensors) into these before calling here. Errors are `ValueError` for bad input
//! (the CLI's exit code 2) and `RuntimeError` for the rest, with the CLI's one-line message.

use faer::Mat;
use glh_artifacts::config::{Depth, PruneMethod, Scope, Sparsity, Width};
use glh_artifacts::{ArtifactStore, Error};
use glh_data::DataSettings;
use glh_graphons::sas::{degree_profile as side_profile, sas_histogram as layer_histogram};
use glh_graphons::step::StepGraphon;
use glh_masks::MasksSettings;
use glh_masks::stage::{MaskPoint, compute_mask};
use glh_model::LayerMask;
use glh_ntk::chain::GraphonChain;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A library error as the Python exception of its kind.
fn py_error(e: Error) -> PyErr {
    if e.is_bad_input() {
        PyValueError::new_err(e.to_string())
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

/// Bad input named by what was wrong.
fn bad(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// A numpy `bool` matrix as a layer mask (copied: the library owns its flags).
fn layer_mask(array: &PyReadonlyArray2<'_, bool>, what: &str) -> PyResult<LayerMask> {
    let [rows, cols] = [array.shape()[0], array.shape()[1]];
    if rows == 0 || cols == 0 {
        return Err(bad(format!(
            "{what} is {rows}x{cols}: a layer needs a neuron on each side"
        )));
    }
    let flags: Vec<bool> = array.as_array().iter().copied().collect();
    Ok(LayerMask::new(rows, cols, flags).expect("rows * cols flags"))
}

/// A network's masks, input layer first.
fn network(masks: &[PyReadonlyArray2<'_, bool>]) -> PyResult<Vec<LayerMask>> {
    if masks.is_empty() {
        return Err(bad("masks: give at least one layer"));
    }
    masks
        .iter()
        .enumerate()
        .map(|(l, m)| layer_mask(m, &format!("masks[{l}]")))
        .collect()
}

/// A histogram (`(K_r, K_c)` float64 in [0, 1]) as a step graphon.
fn step_graphon(array: &PyReadonlyArray2<'_, f64>, what: &str) -> PyResult<StepGraphon> {
    let [rows, cols] = [array.shape()[0], array.shape()[1]];
    let values: Vec<f64> = array.as_array().iter().copied().collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!("{what} has a value that is not finite")));
    }
    StepGraphon::new(rows, cols, values).ok_or_else(|| {
        bad(format!(
            "{what} is {rows}x{cols}: a histogram needs a block"
        ))
    })
}

/// Images as the kernels take them: `(N, d)` rows to a `d x N` matrix.
fn images(x: &PyReadonlyArray2<'_, f64>) -> PyResult<Mat<f64>> {
    let x = x.as_array();
    let (n, d) = x.dim();
    if n == 0 || d == 0 || x.iter().any(|v| !v.is_finite()) {
        return Err(bad(format!("x is {n}x{d}: give finite images as rows")));
    }
    Ok(Mat::from_fn(d, n, |i, j| x[[j, i]]))
}

/// A kernel matrix as a numpy array.
fn kernel_array<'py>(py: Python<'py>, k: &Mat<f64>) -> Bound<'py, PyArray2<f64>> {
    let rows: Vec<Vec<f64>> = (0..k.nrows())
        .map(|i| (0..k.ncols()).map(|j| k[(i, j)]).collect())
        .collect();
    PyArray2::from_vec2(py, &rows).expect("rows of one length")
}

/// The `(min(k, n_out), min(k, n_in))` SAS histogram of one mask, as the graphons stage
/// computes it: each side in descending degree order (ties by index), cut into blocks at
/// `floor(a n / K)`, each block's fraction of kept weights.
#[pyfunction]
fn sas_histogram<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray2<'py, bool>,
    k: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    if k == 0 {
        return Err(bad("k must be at least 1"));
    }
    let layer = layer_mask(&mask, "mask")?;
    let (kr, kc) = (k.min(layer.rows()), k.min(layer.cols()));
    let h = py.detach(|| layer_histogram(&layer, kr, kc)).map_err(bad)?;
    let values =
        numpy::ndarray::Array2::from_shape_vec((kr, kc), h.values).expect("k_rows * k_cols values");
    Ok(values.into_pyarray(py))
}

/// One side's degree profile as a numpy vector.
type Profile<'py> = Bound<'py, PyArray1<f64>>;

/// The SAS histogram of a convolution's mask `(out, in, kh, kw)` as its channel graph: output
/// channel r reads input channel c with weight the kept fraction of their `kh x kw` kernel;
/// `(min(k, out), min(k, in))` blocks of kept fractions (`graphons::sas::count_sas_histogram`).
#[pyfunction]
fn channel_sas_histogram<'py>(
    py: Python<'py>,
    mask: numpy::PyReadonlyArray4<'py, bool>,
    k: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (out, inputs, kh, kw) = mask.as_array().dim();
    if out == 0 || inputs == 0 || kh * kw == 0 {
        return Err(bad(format!(
            "the convolution mask is {out}x{inputs}x{kh}x{kw}"
        )));
    }
    if k == 0 {
        return Err(bad("k must be at least 1"));
    }
    let taps = u32::try_from(kh * kw).map_err(|_| bad("a kernel of more than 2^32 taps"))?;
    let view = mask.as_array();
    let counts: Vec<u32> = view
        .outer_iter()
        .flat_map(|row| {
            row.outer_iter()
                .map(|kernel| kernel.iter().map(|&b| u32::from(b)).sum())
                .collect::<Vec<u32>>()
        })
        .collect();
    let (kr, kc) = (k.min(out), k.min(inputs));
    let h = py
        .detach(|| glh_graphons::sas::count_sas_histogram(&counts, (out, inputs), taps, (kr, kc)))
        .map_err(bad)?;
    let values =
        numpy::ndarray::Array2::from_shape_vec((kr, kc), h.values).expect("k_rows * k_cols values");
    Ok(values.into_pyarray(py))
}

/// The degree profiles of one mask: `(rows, cols)`, each side's degrees in descending order
/// divided by the other side's size (the `normalised_degree` of `degrees.parquet`).
#[pyfunction]
fn degree_profile<'py>(
    py: Python<'py>,
    mask: PyReadonlyArray2<'py, bool>,
) -> PyResult<(Profile<'py>, Profile<'py>)> {
    let layer = layer_mask(&mask, "mask")?;
    let rows = side_profile(&layer.row_degrees(), layer.cols());
    let cols = side_profile(&layer.col_degrees(), layer.rows());
    Ok((rows.into_pyarray(py), cols.into_pyarray(py)))
}

/// The paper's distance between two histograms on one grid: `||H1 - H2||_F`.
#[pyfunction]
fn frobenius_distance(
    h1: PyReadonlyArray2<'_, f64>,
    h2: PyReadonlyArray2<'_, f64>,
) -> PyResult<f64> {
    let (a, b) = (step_graphon(&h1, "h1")?, step_graphon(&h2, "h2")?);
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return Err(bad(format!(
            "h1 is {}x{}, h2 {}x{}: the Frobenius distance needs one grid (l2_distance takes two)",
            a.rows, a.cols, b.rows, b.cols
        )));
    }
    Ok(glh_graphons::step::frobenius_distance(&a, &b))
}

/// The L2 distance of two step graphons, exact on their common refinement (any two grids).
#[pyfunction]
fn l2_distance(h1: PyReadonlyArray2<'_, f64>, h2: PyReadonlyArray2<'_, f64>) -> PyResult<f64> {
    let (a, b) = (step_graphon(&h1, "h1")?, step_graphon(&h2, "h2")?);
    Ok(glh_graphons::step::l2_distance(&a, &b))
}

/// The cut distance of two histograms on one grid as `(low, high)`: equal (exact) up to the
/// graphons stage's exact block count, otherwise the certified interval (a local search seeded
/// by `seed` attains `low`, a dual solution certifies `high`).
#[pyfunction]
#[pyo3(signature = (h1, h2, seed = 0))]
fn cut_distance(
    py: Python<'_>,
    h1: PyReadonlyArray2<'_, f64>,
    h2: PyReadonlyArray2<'_, f64>,
    seed: u64,
) -> PyResult<(f64, f64)> {
    let (a, b) = (step_graphon(&h1, "h1")?, step_graphon(&h2, "h2")?);
    let interval = py
        .detach(|| glh_graphons::cut_bounds::cut_interval(&a, &b, seed))
        .map_err(bad)?;
    Ok((interval.low, interval.high))
}

/// The mask-level Graphon NTK of a network on the rows of `x`: `(N, N)`, the ntk stage's
/// `mask` kernel (one position per neuron, bias-free ReLU, weights of variance `sigma_w2 / fan-in`).
#[pyfunction]
#[pyo3(signature = (masks, x, sigma_w2 = 1.0))]
fn graphon_ntk<'py>(
    py: Python<'py>,
    masks: Vec<PyReadonlyArray2<'py, bool>>,
    x: PyReadonlyArray2<'py, f64>,
    sigma_w2: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (layers, x) = kernel_inputs(&masks, &x, sigma_w2)?;
    graphon_kernel(py, GraphonChain::of_masks(&layers), &x, sigma_w2)
}

/// The Graphon NTK of the network's K-block SAS histograms (one shared neuron order per hidden
/// layer), the ntk stage's `histogram` kernel: `(N, N)`.
#[pyfunction]
#[pyo3(signature = (masks, x, k, sigma_w2 = 1.0))]
fn histogram_ntk<'py>(
    py: Python<'py>,
    masks: Vec<PyReadonlyArray2<'py, bool>>,
    x: PyReadonlyArray2<'py, f64>,
    k: usize,
    sigma_w2: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (layers, x) = kernel_inputs(&masks, &x, sigma_w2)?;
    graphon_kernel(py, GraphonChain::of_histograms(&layers, k), &x, sigma_w2)
}

/// The empirical NTK `(N, N)` of the finite masked network on the rows of `x`, averaged over
/// `draws` N(0, 1) weight draws from `seed` (NTK parameterisation, bias-free ReLU), as `glh
/// ntk`'s `empirical` kernel: it approaches `graphon_ntk` as the width grows.
#[pyfunction]
#[pyo3(signature = (masks, x, draws = 1, seed = 0, sigma_w2 = 1.0))]
fn empirical_ntk<'py>(
    py: Python<'py>,
    masks: Vec<PyReadonlyArray2<'py, bool>>,
    x: PyReadonlyArray2<'py, f64>,
    draws: u32,
    seed: u64,
    sigma_w2: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (layers, x) = kernel_inputs(&masks, &x, sigma_w2)?;
    // The chain checks that the layers feed each other.
    GraphonChain::of_masks(&layers).map_err(bad)?;
    if draws == 0 {
        return Err(bad("draws must be at least 1"));
    }
    let k = py.detach(|| glh_ntk::empirical::empirical_ntk(&layers, &x, sigma_w2, draws, seed));
    Ok(kernel_array(py, &k))
}

/// A kernel's network and images, checked: the images' dimension against the first layer's
/// inputs, and a usable sigma_w^2.
fn kernel_inputs(
    masks: &[PyReadonlyArray2<'_, bool>],
    x: &PyReadonlyArray2<'_, f64>,
    sigma_w2: f64,
) -> PyResult<(Vec<LayerMask>, Mat<f64>)> {
    let layers = network(masks)?;
    let x = images(x)?;
    check_inputs(&layers, &x, sigma_w2)?;
    Ok((layers, x))
}

/// The Graphon NTK of `chain` (or why there is none) on the columns of `x`, the GIL released.
fn graphon_kernel<'py>(
    py: Python<'py>,
    chain: Result<GraphonChain, String>,
    x: &Mat<f64>,
    sigma_w2: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let chain = chain.map_err(bad)?;
    let k = py.detach(|| glh_ntk::recursion::graphon_ntk(&chain, x, sigma_w2));
    Ok(kernel_array(py, &k))
}

/// The images' dimension against the first layer's inputs, and a usable sigma_w^2.
fn check_inputs(layers: &[LayerMask], x: &Mat<f64>, sigma_w2: f64) -> PyResult<()> {
    if x.nrows() != layers[0].cols() {
        return Err(bad(format!(
            "x has {} features per image, masks[0] {} inputs",
            x.nrows(),
            layers[0].cols()
        )));
    }
    if !(sigma_w2 > 0.0 && sigma_w2.is_finite()) {
        return Err(bad(format!(
            "sigma_w2 must be a positive number, got {sigma_w2}"
        )));
    }
    Ok(())
}

/// The spectral metrics of a symmetric kernel, named as the columns of `metrics.parquet`.
#[pyfunction]
fn spectral_metrics<'py>(
    py: Python<'py>,
    kernel: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let k = kernel.as_array();
    let (n, m) = k.dim();
    if n != m || n < 2 {
        return Err(bad(format!(
            "the kernel is {n}x{m}: give a square matrix of at least 2x2"
        )));
    }
    let k = Mat::from_fn(n, n, |i, j| k[[i, j]]);
    glh_ntk::spectrum::require_finite(&k, "the kernel", "kernel").map_err(py_error)?;
    let eigenvalues = py
        .detach(|| glh_ntk::spectrum::eigenvalues_descending(&k))
        .map_err(bad)?;
    let metrics = glh_ntk::spectrum::spectral_metrics(&eigenvalues);
    let out = PyDict::new(py);
    let (reals, counts) = metrics.items();
    for (name, value) in reals {
        out.set_item(name, value)?;
    }
    for (name, value) in counts {
        out.set_item(name, value)?;
    }
    Ok(out)
}

/// The masks `glh masks` computes for one configuration, the same bits: an MNIST MLP (784
/// inputs, `depth - 1` hidden layers of `width`, 10 outputs) initialised from `seed`, pruned
/// by `method` to `sparsity` (SynFlow in `synflow_rounds` rounds, GraSP's logits divided by
/// `grasp_temperature`, as `[masks]` sets them; `None`: its defaults). SNIP, GraSP and the designs read MNIST from `data_dir`; their
/// scoring batch is cached in the artifact store `store` (a temporary one when `None`).
#[pyfunction]
#[pyo3(signature = (method, width, sparsity, depth = 4, seed = 0, scope = "global", synflow_rounds = None, grasp_temperature = None, data_dir = PathBuf::from("data/mnist"), store = None))]
#[allow(clippy::too_many_arguments)]
fn prune<'py>(
    py: Python<'py>,
    method: &str,
    width: u64,
    sparsity: f64,
    depth: u64,
    seed: u64,
    scope: &str,
    synflow_rounds: Option<u32>,
    grasp_temperature: Option<f64>,
    data_dir: PathBuf,
    store: Option<PathBuf>,
) -> PyResult<Vec<Bound<'py, PyArray2<bool>>>> {
    let point = MaskPoint {
        method: method.parse::<PruneMethod>().map_err(bad)?,
        width: Width::try_from(width).map_err(|e| bad(format!("width: {e}")))?,
        sparsity: Sparsity::try_from(sparsity).map_err(|e| bad(format!("sparsity: {e}")))?,
        depth: Depth::try_from(depth).map_err(|e| bad(format!("depth: {e}")))?,
        seed,
    };
    let settings = MasksSettings {
        scope: scope.parse::<Scope>().map_err(bad)?,
        synflow_rounds: synflow_rounds.unwrap_or(glh_masks::settings::DEFAULT_SYNFLOW_ROUNDS),
        grasp_temperature: grasp_temperature
            .unwrap_or(glh_masks::settings::DEFAULT_GRASP_TEMPERATURE),
        ..MasksSettings::default()
    };
    settings.validate("prune").map_err(py_error)?;
    let data = DataSettings {
        dir: data_dir,
        ..DataSettings::default()
    };
    let mask = py.detach(|| -> glh_artifacts::Result<_> {
        let scratch;
        let root = match store {
            Some(root) => root,
            None => {
                scratch = tempfile::tempdir().map_err(|e| Error::read(std::env::temp_dir(), &e))?;
                scratch.path().to_path_buf()
            }
        };
        let store = ArtifactStore::new(&root);
        compute_mask(&store, &settings, &data, &point, None, &mut |_, _, _| {})
    });
    let mask = mask.map_err(py_error)?;
    Ok(mask.layers().iter().map(|l| mask_array(py, l)).collect())
}

/// The masks of a safetensors file as `(name, mask)` pairs, input layer first: layer p's mask
/// is `p.weight_mask`, else the nonzero pattern of a 2-D `p.weight`; `layers` names them in
/// order (their prefixes), else every one in natural name order (`glh graphons --safetensors`).
#[pyfunction]
#[pyo3(signature = (path, layers = None))]
fn read_safetensors<'py>(
    py: Python<'py>,
    path: PathBuf,
    layers: Option<Vec<String>>,
) -> PyResult<Vec<(String, Bound<'py, PyArray2<bool>>)>> {
    use glh_graphons::safetensors_masks::{decode_safetensors_masks, safetensors_layer_names};
    let read = py.detach(|| -> glh_artifacts::Result<_> {
        let bytes = glh_artifacts::files::read_input(&path, "safetensors file")?;
        let names = safetensors_layer_names(&path, &bytes, layers.as_deref())?;
        let masks = decode_safetensors_masks(&path, &bytes, &names)?;
        Ok(names.into_iter().zip(masks).collect::<Vec<_>>())
    });
    Ok(read
        .map_err(py_error)?
        .into_iter()
        .map(|(name, mask)| (name, mask_array(py, &mask)))
        .collect())
}

/// A layer mask as a numpy `bool` array `(n_out, n_in)`.
fn mask_array<'py>(py: Python<'py>, layer: &LayerMask) -> Bound<'py, PyArray2<bool>> {
    numpy::ndarray::Array2::from_shape_vec((layer.rows(), layer.cols()), layer.as_slice().to_vec())
        .expect("rows * cols flags")
        .into_pyarray(py)
}

/// The E1 convergence table of masks by width: `masks_by_width[w]` is a list of seeds, each a
/// network (list of masks, input layer first). Each mask's `(min(k, n_out), min(k, n_in))` SAS
/// histogram, divided by its layer's density under `rescale = "layer_density"`, against the
/// largest width's seed mean, as `convergence.parquet`'s rows: a dict of columns.
#[pyfunction]
#[pyo3(signature = (masks_by_width, k = 64, rescale = "none"))]
fn convergence_table<'py>(
    py: Python<'py>,
    masks_by_width: std::collections::BTreeMap<u32, Vec<Vec<PyReadonlyArray2<'py, bool>>>>,
    k: usize,
    rescale: &str,
) -> PyResult<Bound<'py, PyDict>> {
    use glh_graphons::stage::{RowColumn, convergence_row_columns, convergence_rows};
    use std::collections::BTreeMap;
    let rescale = glh_artifacts::config::Rescale::from_name(rescale).ok_or_else(|| {
        bad(format!(
            "rescale must be `none` or `layer_density`, got `{rescale}`"
        ))
    })?;
    if k == 0 {
        return Err(bad("k must be at least 1"));
    }
    let mut networks: BTreeMap<u32, Vec<Vec<LayerMask>>> = BTreeMap::new();
    for (&width, seeds) in &masks_by_width {
        let runs = seeds
            .iter()
            .map(|net| network(net))
            .collect::<PyResult<_>>()?;
        networks.insert(width, runs);
    }
    let depth = networks
        .values()
        .flatten()
        .map(Vec::len)
        .max()
        .ok_or_else(|| bad("masks_by_width: give at least one width and seed"))?;
    let rows = py
        .detach(|| -> Result<_, String> {
            let mut by_width: BTreeMap<u32, Vec<BTreeMap<u32, StepGraphon>>> = BTreeMap::new();
            for (&width, runs) in &networks {
                for net in runs {
                    let mut layers = BTreeMap::new();
                    for (l, mask) in net.iter().enumerate() {
                        let (kr, kc) = (k.min(mask.rows()), k.min(mask.cols()));
                        let mut h = layer_histogram(mask, kr, kc)?;
                        let density = mask.density();
                        h.values
                            .iter_mut()
                            .for_each(|v| *v = rescale.apply(*v, density));
                        layers.insert(l as u32 + 1, h);
                    }
                    by_width.entry(width).or_default().push(layers);
                }
            }
            convergence_rows(&by_width, depth as u32).map_err(|e| e.to_string())
        })
        .map_err(bad)?;
    let out = PyDict::new(py);
    for (name, values) in convergence_row_columns(&rows) {
        match values {
            RowColumn::Counts(v) => out.set_item(name, v)?,
            RowColumn::Flags(v) => out.set_item(name, v)?,
            RowColumn::Reals(v) => out.set_item(name, v)?,
        }
    }
    Ok(out)
}

/// The native half of `graphon_lab`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sas_histogram, m)?)?;
    m.add_function(wrap_pyfunction!(channel_sas_histogram, m)?)?;
    m.add_function(wrap_pyfunction!(degree_profile, m)?)?;
    m.add_function(wrap_pyfunction!(frobenius_distance, m)?)?;
    m.add_function(wrap_pyfunction!(l2_distance, m)?)?;
    m.add_function(wrap_pyfunction!(cut_distance, m)?)?;
    m.add_function(wrap_pyfunction!(convergence_table, m)?)?;
    m.add_function(wrap_pyfunction!(graphon_ntk, m)?)?;
    m.add_function(wrap_pyfunction!(histogram_ntk, m)?)?;
    m.add_function(wrap_pyfunction!(empirical_ntk, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(prune, m)?)?;
    m.add_function(wrap_pyfunction!(read_safetensors, m)?)?;
    Ok(())
}
