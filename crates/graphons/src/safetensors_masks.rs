//! Masks from a safetensors file (issue #31): how `torch.nn.utils.prune`, Wanda, SparseGPT and
//! our own `glh masks export --format safetensors` leave a pruned network. Layer `p`'s mask is
//! the tensor `p.weight_mask` if the file has one, else the nonzero pattern of a 2-D `p.weight`;
//! any dtype, nonzero = kept (a float's -0.0 is zero). The layers are taken in the order the
//! caller names them, else every such layer in natural name order (`2` before `10`), and the
//! order is reported, since nothing in the file says which layer feeds which.

use glh_artifacts::{Error, Result};
use glh_model::LayerMask;
use safetensors::{Dtype, SafeTensors};
use std::cmp::Ordering;
use std::path::Path;

const MASK_SUFFIX: &str = ".weight_mask";
const WEIGHT_SUFFIX: &str = ".weight";

/// The layer names (prefixes `p` of `p.weight_mask` / `p.weight`) of the safetensors `bytes`
/// read from `path`: `chosen` if given (each must be a layer of the file), else all of them in
/// natural order.
pub fn safetensors_layer_names(
    path: &Path,
    bytes: &[u8],
    chosen: Option<&[String]>,
) -> Result<Vec<String>> {
    let file = parse(path, bytes)?;
    let layers = mask_tensors(&file);
    match chosen {
        Some(names) => {
            if names.is_empty() {
                return Err(Error::input(path, "--layers names no layer"));
            }
            for name in names {
                if !layers.iter().any(|(p, _)| p == name) {
                    let known: Vec<&str> = layers.iter().map(|(p, _)| p.as_str()).collect();
                    let msg = format!("no layer `{name}` (its layers: {})", known.join(", "));
                    return Err(Error::input(path, msg));
                }
            }
            Ok(names.to_vec())
        }
        None if layers.is_empty() => Err(Error::input(
            path,
            "no `*.weight_mask` tensor and no 2-D `*.weight` tensor",
        )),
        None => Ok(layers.into_iter().map(|(p, _)| p).collect()),
    }
}

/// The masks of `layers` (as [`safetensors_layer_names`] gives them) in the safetensors
/// `bytes` read from `path`, in that order.
pub fn decode_safetensors_masks(
    path: &Path,
    bytes: &[u8],
    layers: &[String],
) -> Result<Vec<LayerMask>> {
    let file = parse(path, bytes)?;
    let tensors = mask_tensors(&file);
    layers
        .iter()
        .map(|name| {
            let (_, tensor) = tensors
                .iter()
                .find(|(p, _)| p == name)
                .ok_or_else(|| Error::input(path, format!("no layer `{name}`")))?;
            let view = file
                .tensor(tensor)
                .map_err(|e| Error::input(path, format!("{tensor}: {e}")))?;
            let [rows, cols] = match view.shape() {
                &[rows, cols] if rows > 0 && cols > 0 => [rows, cols],
                shape => {
                    let msg = format!("{tensor} has shape {shape:?}, not a 2-D layer");
                    return Err(Error::input(path, msg));
                }
            };
            let keep = nonzero(view.dtype(), view.data())
                .map_err(|e| Error::input(path, format!("{tensor}: {e}")))?;
            LayerMask::new(rows, cols, keep)
                .ok_or_else(|| Error::input(path, format!("{tensor}: data of another shape")))
        })
        .collect()
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes)
        .map_err(|e| Error::input(path, format!("not a readable safetensors file: {e}")))
}

/// Each layer prefix with the tensor its mask comes from, in natural name order.
fn mask_tensors(file: &SafeTensors<'_>) -> Vec<(String, String)> {
    let names = file.names();
    let mut layers: Vec<(String, String)> = Vec::new();
    for name in &names {
        if let Some(prefix) = name.strip_suffix(MASK_SUFFIX) {
            layers.push((prefix.to_string(), name.to_string()));
        }
    }
    for name in &names {
        let Some(prefix) = name.strip_suffix(WEIGHT_SUFFIX) else {
            continue;
        };
        let is_matrix = file.tensor(name).is_ok_and(|t| t.shape().len() == 2);
        if is_matrix && !layers.iter().any(|(p, _)| p == prefix) {
            layers.push((prefix.to_string(), name.to_string()));
        }
    }
    layers.sort_by(|a, b| natural_order(&a.0, &b.0));
    layers
}

/// `a` against `b` with runs of digits compared as numbers: `layers.2` before `layers.10`.
pub fn natural_order(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(&rb) {
        let order = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// Whether each element of a tensor's little-endian `data` is nonzero.
fn nonzero(dtype: Dtype, data: &[u8]) -> std::result::Result<Vec<bool>, String> {
    // Floats: every bit but the sign (so -0.0 is zero); integers and booleans: any bit.
    let (size, magnitude_mask): (usize, u64) = match dtype {
        Dtype::BOOL | Dtype::U8 | Dtype::I8 => (1, 0xff),
        Dtype::U16 | Dtype::I16 => (2, 0xffff),
        Dtype::F16 | Dtype::BF16 => (2, 0x7fff),
        Dtype::U32 | Dtype::I32 => (4, 0xffff_ffff),
        Dtype::F32 => (4, 0x7fff_ffff),
        Dtype::U64 | Dtype::I64 => (8, u64::MAX),
        Dtype::F64 => (8, 0x7fff_ffff_ffff_ffff),
        other => return Err(format!("dtype {other:?} is not read as a mask")),
    };
    Ok(data
        .chunks_exact(size)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..size].copy_from_slice(chunk);
            u64::from_le_bytes(word) & magnitude_mask != 0
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names = vec!["layers.10", "layers.2", "fc", "layers.1", "0", "10", "2"];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            ["0", "2", "10", "fc", "layers.1", "layers.2", "layers.10"]
        );
    }

    #[test]
    fn negative_zero_is_zero_and_nan_is_kept() {
        let f32s: Vec<u8> = [0.0f32, -0.0, 1e-30, f32::NAN, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            nonzero(Dtype::F32, &f32s).unwrap(),
            [false, false, true, true, true]
        );
        // bf16 -0.0 is 0x8000; the integer 0x8000 (i16 -32768) is not zero.
        assert_eq!(
            nonzero(Dtype::BF16, &[0x00, 0x80, 0x80, 0x3f]).unwrap(),
            [false, true]
        );
        assert_eq!(nonzero(Dtype::I16, &[0x00, 0x80]).unwrap(), [true]);
    }
}
