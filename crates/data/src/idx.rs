//! The IDX file format of MNIST: a big-endian header (`0x00 0x00 <type> <ndims>`, then one u32
//! per dimension) followed by the values. Only unsigned bytes (type `0x08`) occur in MNIST and
//! only they are supported. Files may be gzip-compressed; the gzip magic decides.

use flate2::read::GzDecoder;
use glh_artifacts::{Error, Result};
use std::io::Read;
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const TYPE_U8: u8 = 0x08;

/// A decoded IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The dimensions, outermost first (`[60000, 28, 28]` for training images).
    pub dims: Vec<usize>,
    /// The values in row-major order.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The IDX magic number: `0x08` type byte and the number of dimensions.
    pub fn magic(&self) -> u32 {
        (u32::from(TYPE_U8) << 8) | self.dims.len() as u32
    }
}

/// Reads a file's bytes, decompressing it when it is gzip.
pub fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let raw = glh_artifacts::files::read_input(path, "MNIST file")?;
    if raw.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(raw.len() * 5);
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::input(path, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw.into())
    }
}

/// Decodes IDX bytes (already decompressed); `path` names the file in errors.
pub fn decode_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let bad = |msg: String| Error::input(path, msg);
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(
            "not an IDX file (the first two bytes must be zero)".into()
        ));
    }
    if bytes[2] != TYPE_U8 {
        return Err(bad(format!(
            "IDX value type 0x{:02x} is not supported (expected 0x08, unsigned bytes)",
            bytes[2]
        )));
    }
    let ndims = usize::from(bytes[3]);
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(bad(format!(
            "truncated IDX header ({ndims} dimensions declared)"
        )));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().product::<usize>();
    let found = bytes.len() - header;
    if found != expected {
        return Err(bad(format!(
            "IDX shape {dims:?} needs {expected} values, the file holds {found}"
        )));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn decodes_raw_and_gzip_alike() {
        let bytes = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("a-idx2-ubyte");
        let gz = dir.path().join("a-idx2-ubyte.gz");
        std::fs::write(&raw, &bytes).unwrap();
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&bytes).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        for path in [raw, gz] {
            let arr = decode_idx(&read_maybe_gzip(&path).unwrap(), &path).unwrap();
            assert_eq!(arr.dims, vec![2, 3]);
            assert_eq!(arr.data, vec![1, 2, 3, 4, 5, 6]);
            assert_eq!(arr.magic(), 2050);
        }
    }

    #[test]
    fn rejects_malformed_files_with_one_line() {
        let p = Path::new("x.idx");
        let cases = [
            (vec![1, 0, 8, 1], "not an IDX file"),
            (
                idx_bytes(&[3], &[1, 2]),
                "IDX shape [3] needs 3 values, the file holds 2",
            ),
            (
                vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                "IDX value type 0x0d",
            ),
            (vec![0, 0, 8, 2, 0, 0], "truncated IDX header"),
        ];
        for (bytes, expected) in cases {
            let err = decode_idx(&bytes, p).unwrap_err().to_string();
            assert!(err.starts_with(&format!("x.idx: {expected}")), "{err}");
            assert_eq!(err.lines().count(), 1);
        }
    }
}
