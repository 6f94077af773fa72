//! The four MNIST files, verified against `SHA256SUMS`, and their pixels as model inputs.
//!
//! `SHA256SUMS` lists the SHA-256 of each file's *decompressed* bytes, so the check holds
//! whatever gzip settings produced the archive, and a raw (uncompressed) file passes too.

use crate::idx::{IdxArray, decode_idx, read_maybe_gzip};
use crate::settings::DataSettings;
use glh_artifacts::key::sha256_hex;
use glh_artifacts::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Number of pixels of one image (28 x 28).
pub const PIXELS: usize = 28 * 28;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Name of the checksum file inside the MNIST directory.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// A split of MNIST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images.
    Test,
}

impl Split {
    /// `train` or `test`, as written in artifacts.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// The number of images.
    pub fn image_count(self) -> usize {
        match self {
            Split::Train => 60_000,
            Split::Test => 10_000,
        }
    }

    fn file_stems(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
            Split::Test => ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
        }
    }
}

/// One MNIST file that passed its checksum.
#[derive(Clone, Debug)]
pub struct VerifiedFile {
    /// Where it was found (`.gz` or raw).
    pub path: PathBuf,
    /// SHA-256 of its decompressed bytes.
    pub sha256: String,
    /// Its IDX shape.
    pub dims: Vec<usize>,
}

/// The expected checksums, read from `<dir>/SHA256SUMS` (`<hex>  <name>` per line).
pub fn read_checksums(dir: &Path) -> Result<BTreeMap<String, String>> {
    let path = dir.join(CHECKSUMS);
    let bytes = glh_artifacts::files::read_input(&path, "checksum file")?;
    let text = String::from_utf8_lossy(&bytes);
    let mut sums = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(hash), Some(name), None)
                if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                let name = name.trim_start_matches('*');
                sums.insert(name.to_string(), hash.to_ascii_lowercase());
            }
            _ => {
                let msg = format!("line {}: expected `<sha256 hex>  <file name>`", i + 1);
                return Err(Error::input(&path, msg));
            }
        }
    }
    for split in [Split::Train, Split::Test] {
        let (images, labels) = split.file_stems();
        for stem in [images, labels] {
            if !sums.contains_key(stem) {
                return Err(Error::input(&path, format!("no checksum for `{stem}`")));
            }
        }
    }
    Ok(sums)
}

/// Reads, checks and decodes one MNIST file: `<stem>.gz`, or `<stem>` when not compressed.
fn load_verified(
    dir: &Path,
    stem: &str,
    sums: &BTreeMap<String, String>,
) -> Result<(VerifiedFile, IdxArray)> {
    let gz = dir.join(format!("{stem}.gz"));
    let raw = dir.join(stem);
    let path = match (gz.is_file(), raw.is_file()) {
        (true, _) => gz,
        (false, true) => raw,
        (false, false) => {
            let msg = format!(
                "file not found (expected the gzip IDX file `{stem}.gz`, or `{stem}` uncompressed)"
            );
            return Err(Error::input(&gz, msg));
        }
    };
    let bytes = read_maybe_gzip(&path)?;
    let sha256 = sha256_hex(&bytes);
    let expected = &sums[stem];
    if &sha256 != expected {
        let msg = format!(
            "SHA-256 of the decompressed bytes is {sha256}, expected {expected} (from {})",
            dir.join(CHECKSUMS).display()
        );
        return Err(Error::input(&path, msg));
    }
    let array = decode_idx(&bytes, &path)?;
    Ok((
        VerifiedFile {
            path,
            sha256,
            dims: array.dims.clone(),
        },
        array,
    ))
}

/// Verifies all four files of `dir` against its `SHA256SUMS` and their expected shapes.
pub fn verify(dir: &Path) -> Result<Vec<VerifiedFile>> {
    let mut files = Vec::new();
    for split in [Split::Train, Split::Test] {
        let loaded = MnistSplit::load_with_files(dir, split)?;
        files.extend(loaded.1);
    }
    Ok(files)
}

/// How raw pixels become model inputs: scaled to [0, 1], then standardised if asked. It reads
/// back from a manifest whether or not the mean and std were written (see its `Serialize`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
pub struct Normalisation {
    /// Whether to standardise after scaling.
    pub standardise: bool,
    /// Mean subtracted when standardising.
    #[serde(default)]
    pub mean: f64,
    /// Standard deviation divided when standardising.
    #[serde(default)]
    pub std: f64,
}

impl From<&DataSettings> for Normalisation {
    fn from(s: &DataSettings) -> Self {
        Normalisation {
            standardise: s.standardise,
            mean: s.mean,
            std: s.std,
        }
    }
}

/// In a cache key, a normalisation is what it does to the pixels: `{"standardise": false}` when
/// pixels stay in [0, 1] (the mean and std it would use then change nothing, so they do not fork
/// the key), and `{"standardise": true, "mean": m, "std": s}` otherwise. Every stage whose
/// output depends on the pixels puts this in its key, so that one key never serves two
/// normalisations.
impl serde::Serialize for Normalisation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let fields = if self.standardise { 3 } else { 1 };
        let mut s = serializer.serialize_struct("Normalisation", fields)?;
        s.serialize_field("standardise", &self.standardise)?;
        if self.standardise {
            s.serialize_field("mean", &self.mean)?;
            s.serialize_field("std", &self.std)?;
        }
        s.end()
    }
}

impl Normalisation {
    /// The model input for raw pixel value `p` (0..=255), computed in f64 and rounded once.
    pub fn apply(&self, p: u8) -> f32 {
        let x = f64::from(p) / 255.0;
        if self.standardise {
            ((x - self.mean) / self.std) as f32
        } else {
            x as f32
        }
    }

    /// The 256-entry lookup table of [`Normalisation::apply`].
    pub fn table(&self) -> [f32; 256] {
        std::array::from_fn(|p| self.apply(p as u8))
    }
}

/// One split of MNIST in memory, verified.
#[derive(Clone, Debug)]
pub struct MnistSplit {
    /// Which split.
    pub split: Split,
    /// Raw pixels, image after image, `PIXELS` bytes each, row-major.
    pub images: Vec<u8>,
    /// Labels, 0 to 9.
    pub labels: Vec<u8>,
}

impl MnistSplit {
    /// Loads and verifies one split from `dir`.
    pub fn load(dir: &Path, split: Split) -> Result<Self> {
        Self::load_with_files(dir, split).map(|(s, _)| s)
    }

    fn load_with_files(dir: &Path, split: Split) -> Result<(Self, Vec<VerifiedFile>)> {
        let sums = read_checksums(dir)?;
        let (image_stem, label_stem) = split.file_stems();
        let (image_file, images) = load_verified(dir, image_stem, &sums)?;
        let (label_file, labels) = load_verified(dir, label_stem, &sums)?;
        let n = split.image_count();
        if images.dims != [n, 28, 28] {
            let msg = format!("expected shape [{n}, 28, 28], found {:?}", images.dims);
            return Err(Error::input(&image_file.path, msg));
        }
        if labels.dims != [n] {
            let msg = format!("expected shape [{n}], found {:?}", labels.dims);
            return Err(Error::input(&label_file.path, msg));
        }
        if let Some(bad) = labels.data.iter().find(|&&l| usize::from(l) >= CLASSES) {
            return Err(Error::input(
                &label_file.path,
                format!("label {bad} is not a digit"),
            ));
        }
        let split = MnistSplit {
            split,
            images: images.data,
            labels: labels.data,
        };
        Ok((split, vec![image_file, label_file]))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Raw pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Images `indices` as model inputs, a row-major `indices.len() x 784` matrix.
    pub fn inputs(&self, indices: &[u32], norm: &Normalisation) -> Vec<f32> {
        let table = norm.table();
        // Sized up front: collecting the flattened images grew the 188 MB of the training
        // split by doubling, copying it and zeroing fresh pages each time.
        let mut inputs = Vec::with_capacity(indices.len() * PIXELS);
        for &i in indices {
            inputs.extend(
                self.image(i as usize)
                    .iter()
                    .map(|&p| table[usize::from(p)]),
            );
        }
        inputs
    }

    /// The labels of images `indices`.
    pub fn labels_of(&self, indices: &[u32]) -> Vec<u8> {
        indices.iter().map(|&i| self.labels[i as usize]).collect()
    }

    /// The pixel indices (row-major, 0 to 783) by their variance over the split's images,
    /// largest first, ties by index. Exact: `n^2 var = n sum x^2 - (sum x)^2` in integers, so
    /// the order never depends on rounding (a normalisation is affine and increasing, so it
    /// orders the pixels the same way).
    pub fn pixels_by_variance(&self) -> Vec<usize> {
        let n = self.len() as u128;
        let (mut sums, mut squares) = (vec![0u64; PIXELS], vec![0u64; PIXELS]);
        for image in self.images.chunks_exact(PIXELS) {
            for ((s, q), &p) in sums.iter_mut().zip(&mut squares).zip(image) {
                *s += u64::from(p);
                *q += u64::from(p) * u64::from(p);
            }
        }
        let spread: Vec<u128> = sums
            .iter()
            .zip(&squares)
            .map(|(&s, &q)| n * u128::from(q) - u128::from(s) * u128::from(s))
            .collect();
        let mut order: Vec<usize> = (0..PIXELS).collect();
        order.sort_by(|&a, &b| spread[b].cmp(&spread[a]).then(a.cmp(&b)));
        order
    }

    /// How many images of each digit the split holds.
    pub fn label_counts(&self) -> [usize; CLASSES] {
        let mut counts = [0; CLASSES];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_by_variance_puts_the_varying_pixels_first() {
        // Pixel 5 takes 0 and 200, pixel 3 takes 0 and 100, pixel 700 is 7 in both images,
        // every other pixel is 0: the two varying pixels lead, then index order.
        let mut images = vec![0u8; 2 * PIXELS];
        images[PIXELS + 5] = 200;
        images[PIXELS + 3] = 100;
        images[700] = 7;
        images[PIXELS + 700] = 7;
        let split = MnistSplit {
            split: Split::Test,
            images,
            labels: vec![0, 1],
        };
        let order = split.pixels_by_variance();
        assert_eq!(&order[..4], &[5, 3, 0, 1]);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..PIXELS).collect::<Vec<_>>());
    }

    #[test]
    fn standardisation_maps_the_mean_to_zero() {
        let norm = Normalisation {
            standardise: true,
            mean: 0.1307,
            std: 0.3081,
        };
        assert_eq!(norm.apply(0), (-0.1307f64 / 0.3081) as f32);
        assert!(
            (norm.apply(0) + 0.424).abs() < 1e-3,
            "METHOD.md: a zero pixel becomes -0.424"
        );
        let raw = Normalisation {
            standardise: false,
            ..norm
        };
        assert_eq!(raw.apply(0), 0.0);
        assert_eq!(raw.apply(255), 1.0);
    }
}
