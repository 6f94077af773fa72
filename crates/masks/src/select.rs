//! From scores to a mask: keep exactly `round(density * total)` weights with the largest
//! scores, among those the current mask still keeps.
//!
//! Global scope ranks all layers together (total = all weights); layer-wise scope ranks each
//! layer alone (total = the layer's weights). Ties at the threshold are broken by a seeded
//! pseudo-random order (a SplitMix64 hash of the tie seed and the weight's global index), so
//! counts are exact and the result depends only on the seed.
//!
//! The scores arrive row by row ([`ScoreRows`]) and are turned into integer order keys as they
//! are read, three times per group (histogram, bucket, flags). An iterative method's hundred
//! rounds are passes over every weight; SynFlow recomputes a row from bytes it reads anyway
//! (the f32 weight and the mask flag) instead of writing a buffer of every score and key and
//! reading it back (profile and timings: issue #30's note).

use glh_artifacts::config::{Classifier, Scope};
use glh_model::{LayerMask, Mask};
use rayon::prelude::*;

/// The SplitMix64 finaliser: a bijection of u64 with good avalanche.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Maps a non-NaN f64 to a u64 of the same order, with -0.0 and 0.0 on one key: integer
/// comparisons select several times faster than float ones on millions of scores. Branch-free
/// (a negative float's bits are all flipped, a positive one's sign bit set), so that a row of
/// them vectorises.
#[inline(always)]
fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    let negative = ((bits as i64) >> 63) as u64;
    bits ^ (negative | 1 << 63)
}

/// Scores as the selection reads them: one row of one layer at a time.
///
/// A scorer may hand over a table of every score, or compute a row when asked from a few
/// vectors (SynFlow: two per layer), so that an iterative method's round never writes or reads
/// a buffer of every score. The selection reads each row three times (histogram, bucket, flags),
/// so a row must come out the same each time.
pub trait ScoreRows: Sync {
    /// Writes the scores of row `row` of layer `layer` into `out`, whose length is the layer's
    /// column count. Weights the mask has pruned may get any score.
    fn row_scores(&self, layer: usize, row: usize, out: &mut [f64]);

    /// Whether the scores have the shapes of `mask`'s layers (a table can be of the wrong size;
    /// scores computed from the network have its shapes by construction).
    fn fits(&self, _mask: &Mask) -> bool {
        true
    }
}

/// A table of every score, layer by layer, row-major.
impl ScoreRows for Vec<Vec<f64>> {
    fn row_scores(&self, layer: usize, row: usize, out: &mut [f64]) {
        let cols = out.len();
        out.copy_from_slice(&self[layer][row * cols..(row + 1) * cols]);
    }

    fn fits(&self, mask: &Mask) -> bool {
        self.len() == mask.layers().len()
            && self
                .iter()
                .zip(mask.layers())
                .all(|(s, m)| s.len() == m.as_slice().len())
    }
}

/// Rows per parallel task: about 2^20 weights, so that a task's histogram (2^16 counters) is
/// cheap beside its rows, and a layer of 2000 x 2000 still splits into four tasks.
fn rows_per_task(cols: usize) -> usize {
    ((1usize << 20) / cols.max(1)).max(1)
}

/// One row's order keys, 0 for a pruned weight (0 is the key of no float), and whether a kept
/// weight's score is NaN; compiled for the widest vectors the CPU has
/// ([`glh_model::simd::dispatch`]): a round of an iterative method turns every weight's score
/// into a key three times.
struct RowKeys<'a> {
    scores: &'a [f64],
    kept: &'a [bool],
    keys: &'a mut [u64],
}

impl pulp::WithSimd for RowKeys<'_> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> bool {
        let mut nan = 0u64;
        for ((key, &s), &k) in self.keys.iter_mut().zip(self.scores).zip(self.kept) {
            // Branch-free: as masks thin out, kept and pruned weights alternate at random.
            let kept = 0u64.wrapping_sub(u64::from(k));
            nan |= kept & u64::from(s.is_nan());
            *key = order_key(s) & kept;
        }
        nan != 0
    }
}

/// One row's flags `key > threshold`, and the counts of keys above and at the threshold
/// (compiled for the widest vectors; the rare rows with ties are searched again for them).
struct RowFlags<'a> {
    keys: &'a [u64],
    threshold: u64,
    flags: &'a mut [bool],
}

impl pulp::WithSimd for RowFlags<'_> {
    type Output = (usize, usize);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> (usize, usize) {
        let (mut above, mut tied) = (0usize, 0usize);
        for (flag, &key) in self.flags.iter_mut().zip(self.keys) {
            *flag = key > self.threshold;
            above += usize::from(key > self.threshold);
            tied += usize::from(key == self.threshold);
        }
        (above, tied)
    }
}

/// Buckets of the radix select: the keys' top 16 bits.
const BUCKETS: usize = 1 << 16;

/// Spare counters after the buckets, where the pruned weights' keys (0) are counted in turn:
/// most keys of a thinned mask are 0, and one counter incremented over and over waits on its
/// own last store at every step.
const SPARE_COUNTERS: usize = 8;

/// Adds one row's keys to `histogram` (`BUCKETS + SPARE_COUNTERS` counters).
fn count_keys(histogram: &mut [usize], keys: &[u64]) {
    for (j, &key) in keys.iter().enumerate() {
        let counter = if key == 0 {
            BUCKETS + j % SPARE_COUNTERS
        } else {
            (key >> 48) as usize
        };
        histogram[counter] += 1;
    }
}

/// Runs `visit(row, keys)` over the rows `rows` of layer `layer`, keys as [`RowKeys`] makes
/// them; returns whether a kept score was NaN.
fn visit_row_keys(
    source: &dyn ScoreRows,
    layer: usize,
    current: &LayerMask,
    rows: std::ops::Range<usize>,
    mut visit: impl FnMut(usize, &[u64]),
) -> bool {
    let cols = current.cols();
    let (mut scores, mut keys) = (vec![0.0f64; cols], vec![0u64; cols]);
    let mut nan = false;
    for row in rows {
        let kept = &current.as_slice()[row * cols..(row + 1) * cols];
        source.row_scores(layer, row, &mut scores);
        nan |= glh_model::simd::dispatch(RowKeys {
            scores: &scores,
            kept,
            keys: &mut keys,
        });
        visit(row, &keys);
    }
    nan
}

/// Keeps the top weights of `scores` (same shapes as `current`), at `density` of the ranked
/// layers: all of them, or all but the classifier when it is dense (which keeps `current`'s
/// flags, all true for a dense one).
///
/// Every step after the scores is an exact integer count or comparison over rows split into
/// tasks, so the result does not depend on the thread count.
pub fn select_mask(
    scores: &dyn ScoreRows,
    current: &Mask,
    density: f64,
    scope: Scope,
    classifier: Classifier,
    tie_seed: u64,
) -> Result<Mask, String> {
    let layers = current.layers();
    if !scores.fits(current) {
        return Err("bug: scores do not have the shapes of the mask".into());
    }
    let mut offsets = Vec::with_capacity(layers.len());
    let mut offset = 0u64;
    for m in layers {
        offsets.push(offset);
        offset += m.as_slice().len() as u64;
    }
    let ranked = classifier.masked_layers(layers.len() as u32) as usize;
    let groups: Vec<Vec<usize>> = match scope {
        Scope::Global => vec![(0..ranked).collect()],
        Scope::Layerwise => (0..ranked).map(|l| vec![l]).collect(),
    };
    let mut keep: Vec<Vec<bool>> = layers
        .iter()
        .enumerate()
        .map(|(l, m)| {
            if l < ranked {
                vec![false; m.as_slice().len()]
            } else {
                m.as_slice().to_vec()
            }
        })
        .collect();
    // The tasks of layer l: rows [t * step, (t + 1) * step), the last one shorter.
    let tasks = |l: usize| {
        let (rows, step) = (layers[l].rows(), rows_per_task(layers[l].cols()));
        (0..rows.div_ceil(step))
            .into_par_iter()
            .map(move |t| t * step..((t + 1) * step).min(rows))
    };
    for group in groups {
        let total: usize = group.iter().map(|&l| layers[l].as_slice().len()).sum();
        let k = (density * total as f64).round() as usize;
        // Radix select: a histogram of the keys' top 16 bits finds the bucket that holds the
        // k-th largest key, and only that bucket is searched.
        let mut histogram = vec![0usize; BUCKETS];
        for &l in &group {
            let (layer_histogram, nan) = tasks(l)
                .map(|rows| {
                    let mut h = vec![0usize; BUCKETS + SPARE_COUNTERS];
                    let nan = visit_row_keys(scores, l, &layers[l], rows, |_, keys| {
                        count_keys(&mut h, keys)
                    });
                    (h, nan)
                })
                .reduce(
                    || (vec![0usize; BUCKETS + SPARE_COUNTERS], false),
                    |(mut a, nan_a), (b, nan_b)| {
                        a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                        (a, nan_a | nan_b)
                    },
                );
            if nan {
                return Err(format!("a score of layer {} is NaN", l + 1));
            }
            histogram
                .iter_mut()
                .zip(layer_histogram)
                .for_each(|(x, y)| *x += y);
        }
        // Bucket 0 is empty: the pruned weights' sentinel went to the spare counters (not
        // summed into `histogram`), and no other key starts with 16 zeros (that would be a
        // negative NaN, refused above).
        let count: usize = histogram.iter().sum();
        if k > count {
            return Err(format!(
                "cannot keep {k} weights: only {count} remain (density {density})"
            ));
        }
        if k == 0 {
            continue;
        }
        let (mut bucket, mut above_bucket) = (histogram.len() - 1, 0usize);
        while above_bucket + histogram[bucket] < k {
            above_bucket += histogram[bucket];
            bucket -= 1;
        }
        let mut in_bucket: Vec<u64> = Vec::with_capacity(histogram[bucket]);
        for &l in &group {
            let found: Vec<Vec<u64>> = tasks(l)
                .map(|rows| {
                    let mut found = Vec::new();
                    visit_row_keys(scores, l, &layers[l], rows, |_, keys| {
                        found.extend(keys.iter().filter(|&&key| (key >> 48) as usize == bucket));
                    });
                    found
                })
                .collect();
            in_bucket.extend(found.into_iter().flatten());
        }
        let rank = in_bucket.len() - (k - above_bucket);
        let threshold = *in_bucket.select_nth_unstable(rank).1;
        // Flags above the threshold, and the weights tied at it, in one more pass.
        let mut ties: Vec<(u64, usize, usize)> = Vec::new();
        let mut above = 0usize;
        for &l in &group {
            let cols = layers[l].cols();
            let step = rows_per_task(cols);
            let (layer_above, layer_ties) = keep[l]
                .par_chunks_mut(step * cols)
                .enumerate()
                .map(|(t, flags)| {
                    let rows = t * step..t * step + flags.len() / cols;
                    let (mut above, mut tied) = (0usize, Vec::new());
                    visit_row_keys(scores, l, &layers[l], rows.clone(), |row, keys| {
                        let row_flags = &mut flags[(row - rows.start) * cols..][..cols];
                        let (row_above, row_tied) = glh_model::simd::dispatch(RowFlags {
                            keys,
                            threshold,
                            flags: row_flags,
                        });
                        above += row_above;
                        if row_tied > 0 {
                            let tied_at = keys.iter().enumerate().filter(|p| *p.1 == threshold);
                            tied.extend(tied_at.map(|(c, _)| row * cols + c));
                        }
                    });
                    (above, tied)
                })
                .reduce(
                    || (0, Vec::new()),
                    |(a, mut ta), (b, tb)| {
                        ta.extend(tb);
                        (a + b, ta)
                    },
                );
            above += layer_above;
            ties.extend(layer_ties.into_iter().map(|i| {
                let key = splitmix64(tie_seed ^ splitmix64(offsets[l] + i as u64));
                (key, l, i)
            }));
        }
        ties.sort_unstable_by_key(|&(key, l, i)| (std::cmp::Reverse(key), l, i));
        for &(_, l, i) in &ties[..k - above] {
            keep[l][i] = true;
        }
    }
    let new_layers = layers
        .iter()
        .zip(keep)
        .map(|(m, k)| LayerMask::new(m.rows(), m.cols(), k).expect("same shape"))
        .collect();
    Ok(current.with_layers(new_layers).expect("same shapes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_model::Architecture;

    fn arch() -> Architecture {
        Architecture {
            input: 7,
            width: 5,
            depth: 3,
            classes: 3,
        }
    }

    fn scores(f: impl Fn(usize, usize) -> f64) -> Vec<Vec<f64>> {
        arch()
            .shapes()
            .iter()
            .enumerate()
            .map(|(l, (r, c))| (0..r * c).map(|i| f(l, i)).collect())
            .collect()
    }

    #[test]
    fn order_keys_sort_like_the_floats() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -1e-300,
            -0.0,
            0.0,
            1e-300,
            1.0,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(order_key(w[0]) <= order_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(order_key(-0.0), order_key(0.0));
        assert!(order_key(-1.0) < order_key(-0.5));
    }

    #[test]
    fn exact_counts_for_both_scopes_even_with_ties() {
        let full = Mask::full(&arch());
        let total = arch().weight_count();
        // Many ties: scores take only 3 values.
        let s = scores(|l, i| ((l * 7 + i) % 3) as f64);
        for density in [0.0, 0.1, 0.33, 0.5, 0.8, 1.0] {
            let m = select_mask(&s, &full, density, Scope::Global, Classifier::Pruned, 1).unwrap();
            assert_eq!(m.kept(), (density * total as f64).round() as usize);
            let m =
                select_mask(&s, &full, density, Scope::Layerwise, Classifier::Pruned, 1).unwrap();
            for layer in m.layers() {
                let n = layer.as_slice().len() as f64;
                assert_eq!(layer.kept(), (density * n).round() as usize);
            }
        }
    }

    #[test]
    fn keeps_the_largest_scores_and_ties_follow_the_seed() {
        let full = Mask::full(&arch());
        let s = scores(|l, i| (l * 100 + i) as f64);
        let m = select_mask(&s, &full, 0.2, Scope::Global, Classifier::Pruned, 0).unwrap();
        let kept_min = m
            .layers()
            .iter()
            .zip(&s)
            .flat_map(|(m, s)| m.as_slice().iter().zip(s).filter(|p| *p.0).map(|p| *p.1))
            .fold(f64::INFINITY, f64::min);
        let dropped_max = m
            .layers()
            .iter()
            .zip(&s)
            .flat_map(|(m, s)| m.as_slice().iter().zip(s).filter(|p| !*p.0).map(|p| *p.1))
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(kept_min > dropped_max);
        let flat = scores(|_, _| 1.0);
        let a = select_mask(&flat, &full, 0.5, Scope::Global, Classifier::Pruned, 1).unwrap();
        assert_eq!(
            a,
            select_mask(&flat, &full, 0.5, Scope::Global, Classifier::Pruned, 1).unwrap()
        );
        assert_ne!(
            a,
            select_mask(&flat, &full, 0.5, Scope::Global, Classifier::Pruned, 2).unwrap()
        );
    }

    #[test]
    fn only_kept_weights_are_candidates() {
        let full = Mask::full(&arch());
        let s = scores(|l, i| (l * 100 + i) as f64);
        let half = select_mask(&s, &full, 0.5, Scope::Global, Classifier::Pruned, 0).unwrap();
        let reversed = scores(|l, i| -((l * 100 + i) as f64));
        let quarter =
            select_mask(&reversed, &half, 0.25, Scope::Global, Classifier::Pruned, 0).unwrap();
        assert!(quarter.is_subset_of(&half));
        assert!(select_mask(&s, &half, 0.6, Scope::Global, Classifier::Pruned, 0).is_err());
        let nan = scores(|_, _| f64::NAN);
        assert!(
            select_mask(&nan, &full, 0.5, Scope::Global, Classifier::Pruned, 0)
                .unwrap_err()
                .contains("NaN")
        );
    }
}
