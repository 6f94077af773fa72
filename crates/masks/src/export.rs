//! Masks in the formats other tools read: a Parquet edge list (any tool) and safetensors
//! (PyTorch), each written atomically.
//!
//! The safetensors file is the pruned network as `torch.nn.utils.prune` leaves it: for the
//! `nn.Sequential(Linear, ReLU, ..., Linear)` of METHOD.md section 1, module `2(l - 1)` holds
//! layer l's initial weight as `weight_orig` (f32, `(out, in)`, unpruned values), its 0/1 mask as
//! `weight_mask` (f32) and its `bias`. After `prune.identity(linear, "weight")` on every Linear,
//! `load_state_dict` takes the file as it is. The bytes are ours, not the `safetensors` crate's:
//! its header is built from hash maps, so two exports of one run would differ; ours sorts names
//! and is byte-identical (tested, and read back with the `safetensors` crate).

use crate::stage::{read_manifest, read_mask, read_point};
use arrow::array::UInt32Array;
use glh_artifacts::parquet_io::encode_table;
use glh_artifacts::schemas::EDGE_LIST;
use glh_artifacts::store::InputRef;
use glh_artifacts::{ArtifactStore, Columns, Error, Result};
use glh_data::mnist::{MnistSplit, Normalisation, Split};
use glh_model::{Mask, Mlp};
use std::collections::BTreeMap;
use std::path::Path;

/// Writes `bytes` to the user's file `out` through the one safe writer
/// ([`glh_artifacts::files::write_output`]): a regular file outside the store, replaced
/// atomically, so a failure leaves nothing and a device, a FIFO or a run is never replaced.
fn write_atomically(store: &ArtifactStore, out: &Path, bytes: &[u8]) -> Result<()> {
    glh_artifacts::files::write_output(out, store.root(), bytes)
}

/// Writes `mask` as an edge list (`layer`, `row`, `col`, `n_rows`, `n_cols`, one row per kept
/// weight) to `out`, atomically; returns the number of edges.
pub fn export_edges(
    store: &ArtifactStore,
    mask: &Mask,
    source: &InputRef,
    out: &Path,
) -> Result<usize> {
    let (mut layer, mut row, mut col, mut n_rows, mut n_cols) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (l, m) in mask.layers().iter().enumerate() {
        for r in 0..m.rows() {
            for c in 0..m.cols() {
                if m.get(r, c) {
                    layer.push(l as u32 + 1);
                    row.push(r as u32);
                    col.push(c as u32);
                    n_rows.push(m.rows() as u32);
                    n_cols.push(m.cols() as u32);
                }
            }
        }
    }
    let edges = layer.len();
    let columns = Columns::new()
        .with("layer", UInt32Array::from(layer))
        .with("row", UInt32Array::from(row))
        .with("col", UInt32Array::from(col))
        .with("n_rows", UInt32Array::from(n_rows))
        .with("n_cols", UInt32Array::from(n_cols));
    let metadata = vec![
        ("glh.table".to_string(), EDGE_LIST.name.to_string()),
        (
            "glh.source".to_string(),
            format!("{}/{}", source.stage, source.key),
        ),
    ];
    let (bytes, _) = encode_table(&EDGE_LIST, columns, &metadata)?;
    write_atomically(store, out, &bytes)?;
    Ok(edges)
}

/// A safetensors element type (the two these exports use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafeDtype {
    /// 32-bit float.
    F32,
    /// 64-bit signed integer (PyTorch's label type).
    I64,
}

impl SafeDtype {
    fn name(self) -> &'static str {
        match self {
            SafeDtype::F32 => "F32",
            SafeDtype::I64 => "I64",
        }
    }
}

/// One tensor of a safetensors file: element type, shape and little-endian bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct SafeTensor {
    /// Element type.
    pub dtype: SafeDtype,
    /// Shape, outermost first.
    pub shape: Vec<usize>,
    /// The elements, little-endian, row-major.
    pub bytes: Vec<u8>,
}

impl SafeTensor {
    /// An f32 tensor.
    pub fn f32(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        SafeTensor {
            dtype: SafeDtype::F32,
            shape,
            bytes,
        }
    }

    /// An i64 tensor.
    pub fn i64(shape: Vec<usize>, values: &[i64]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        SafeTensor {
            dtype: SafeDtype::I64,
            shape,
            bytes,
        }
    }
}

/// The safetensors encoding of `tensors` with string `metadata`: an 8-byte little-endian header
/// length, a JSON header (names sorted, `__metadata__` among them, padded with spaces to a
/// multiple of 8), then each tensor's bytes in name order.
pub fn safetensors_bytes(
    tensors: &BTreeMap<String, SafeTensor>,
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0;
    for (name, t) in tensors {
        let end = offset + t.bytes.len();
        header.insert(
            name.clone(),
            serde_json::json!({
                "dtype": t.dtype.name(),
                "shape": t.shape,
                "data_offsets": [offset, end],
            }),
        );
        offset = end;
    }
    // serde_json's map is a BTreeMap (no `preserve_order` feature): keys come out sorted.
    let mut json = serde_json::Value::Object(header).to_string().into_bytes();
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + json.len() + offset);
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&json);
    for t in tensors.values() {
        bytes.extend_from_slice(&t.bytes);
    }
    bytes
}

/// The pruned network of a masks run as `torch.nn.utils.prune` names it (see the module
/// comment), with the run's identity as metadata.
pub fn pruned_network(
    store: &ArtifactStore,
    input: &InputRef,
) -> Result<BTreeMap<String, SafeTensor>> {
    let (point, _) = read_point(store, input)?;
    let (arch, mask) = read_mask(store, input)?;
    let mlp = Mlp::init(arch, point.seed);
    let mut tensors = BTreeMap::new();
    for (l, (layer, m)) in mlp.layers.iter().zip(mask.layers()).enumerate() {
        let module = 2 * l;
        let shape = vec![layer.rows, layer.cols];
        let flags: Vec<f32> = m
            .as_slice()
            .iter()
            .map(|&k| f32::from(u8::from(k)))
            .collect();
        tensors.insert(
            format!("{module}.weight_orig"),
            SafeTensor::f32(shape.clone(), &layer.weight),
        );
        tensors.insert(
            format!("{module}.weight_mask"),
            SafeTensor::f32(shape, &flags),
        );
        tensors.insert(
            format!("{module}.bias"),
            SafeTensor::f32(vec![layer.rows], &layer.bias),
        );
    }
    Ok(tensors)
}

/// The metadata of an export of `input`: the run's key and point.
fn run_metadata(store: &ArtifactStore, input: &InputRef) -> Result<BTreeMap<String, String>> {
    let (point, scope) = read_point(store, input)?;
    Ok(BTreeMap::from([
        (
            "glh.source".to_string(),
            format!("{}/{}", input.stage, input.key),
        ),
        ("method".to_string(), point.method.to_string()),
        ("width".to_string(), point.width.get().to_string()),
        ("depth".to_string(), point.depth.get().to_string()),
        ("sparsity".to_string(), point.sparsity.value().to_string()),
        ("scope".to_string(), scope.name().to_string()),
        ("seed".to_string(), point.seed.to_string()),
        (
            "layout".to_string(),
            "torch.nn.Sequential(Linear, ReLU, ..., Linear); module 2(l-1) is layer l: \
             weight_orig, weight_mask, bias as torch.nn.utils.prune leaves them"
                .to_string(),
        ),
    ]))
}

/// Writes the pruned network of the masks run `input` as safetensors to `out`, atomically;
/// returns the number of kept weights.
pub fn export_safetensors(store: &ArtifactStore, input: &InputRef, out: &Path) -> Result<usize> {
    let tensors = pruned_network(store, input)?;
    let kept = tensors
        .iter()
        .filter(|(name, _)| name.ends_with(".weight_mask"))
        .flat_map(|(_, t)| t.bytes.chunks_exact(4))
        .filter(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) == 1.0)
        .count();
    write_atomically(
        store,
        out,
        &safetensors_bytes(&tensors, &run_metadata(store, input)?),
    )?;
    Ok(kept)
}

/// The scoring batch a SNIP or GraSP masks run was scored on: `x` (f32, `(images, 784)`,
/// normalised as the run normalised it) and `y` (i64 labels), read from the run's data input
/// and the MNIST files in `mnist_dir`.
pub fn scoring_batch(
    store: &ArtifactStore,
    input: &InputRef,
    mnist_dir: &Path,
) -> Result<BTreeMap<String, SafeTensor>> {
    #[derive(serde::Deserialize)]
    struct Stored {
        normalisation: Option<Normalisation>,
    }
    let (stored, manifest, path): (Stored, _, _) = read_manifest(store, input)?;
    let (Some(norm), Some(data)) = (stored.normalisation, manifest.inputs.first()) else {
        let (point, _) = read_point(store, input)?;
        return Err(Error::input(
            &path,
            format!(
                "a {} mask was pruned without data; only SNIP and GraSP runs have a scoring batch",
                point.method
            ),
        ));
    };
    let indices = glh_data::stage::read_subset(store, data, glh_data::stage::Subset::Scoring)?;
    let train = MnistSplit::load(mnist_dir, Split::Train)?;
    let pixels = train.inputs(&indices, &norm);
    let labels: Vec<i64> = indices
        .iter()
        .map(|&i| i64::from(train.labels[i as usize]))
        .collect();
    let n = indices.len();
    Ok(BTreeMap::from([
        (
            "x".to_string(),
            SafeTensor::f32(vec![n, glh_data::mnist::PIXELS], &pixels),
        ),
        ("y".to_string(), SafeTensor::i64(vec![n], &labels)),
    ]))
}

/// Writes [`scoring_batch`] as safetensors to `out`, atomically; returns the number of images.
pub fn export_scoring_batch(
    store: &ArtifactStore,
    input: &InputRef,
    mnist_dir: &Path,
    out: &Path,
) -> Result<usize> {
    let batch = scoring_batch(store, input, mnist_dir)?;
    let images = batch["y"].shape[0];
    write_atomically(
        store,
        out,
        &safetensors_bytes(&batch, &run_metadata(store, input)?),
    )?;
    Ok(images)
}
