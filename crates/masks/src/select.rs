//! From scores to a mask: keep exactly `round(density * total)` weights with the largest
//! scores, among those the current mask still keeps.
//!
//! Global scope ranks all layers together (total = all weights); layer-wise scope ranks each
//! layer alone (total = the layer's weights). Ties at the threshold are broken by a seeded
//! pseudo-random order (a SplitMix64 hash of the tie seed and the weight's global index), so
//! counts are exact and the result depends only on the seed.

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
/// comparisons select several times faster than float ones on millions of scores.
fn order_key(x: f64) -> u64 {
    let bits = (x + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// Keeps the top weights of `scores` (same shapes as `current`), at `density` of the ranked
/// layers: all of them, or all but the classifier when it is dense (which keeps `current`'s
/// flags, all true for a dense one).
pub fn select_mask(
    scores: &[Vec<f64>],
    current: &Mask,
    density: f64,
    scope: Scope,
    classifier: Classifier,
    tie_seed: u64,
) -> Result<Mask, String> {
    let layers = current.layers();
    if scores.len() != layers.len()
        || scores
            .iter()
            .zip(layers)
            .any(|(s, m)| s.len() != m.as_slice().len())
    {
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
    for group in groups {
        let total: usize = group.iter().map(|&l| layers[l].as_slice().len()).sum();
        let k = (density * total as f64).round() as usize;
        // keys[l][i]: the order key of a candidate's score, 0 for a pruned weight (0 is the key
        // of no float). Computed in parallel chunks; every later step is an exact integer
        // count or comparison, so the result does not depend on the thread count.
        let mut keys: Vec<Vec<u64>> = Vec::with_capacity(group.len());
        for &l in &group {
            let nan = scores[l]
                .par_iter()
                .zip(layers[l].as_slice().par_iter())
                .any(|(s, &kept)| kept && s.is_nan());
            if nan {
                return Err(format!("a score of layer {} is NaN", l + 1));
            }
            keys.push(
                scores[l]
                    .par_iter()
                    .zip(layers[l].as_slice().par_iter())
                    // Branch-free: as masks thin out, kept and pruned weights alternate at random.
                    .map(|(&s, &kept)| order_key(s) & 0u64.wrapping_sub(u64::from(kept)))
                    .collect(),
            );
        }
        // Radix select: a histogram of the keys' top 16 bits finds the bucket that holds the
        // k-th largest key, and only that bucket is searched.
        let mut histogram = keys
            .par_iter()
            .flat_map(|k| k.par_chunks(1 << 20))
            .map(|chunk| {
                let mut h = vec![0usize; 1 << 16];
                for &key in chunk {
                    h[(key >> 48) as usize] += 1;
                }
                h
            })
            .reduce(
                || vec![0usize; 1 << 16],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        // Bucket 0 holds only the pruned weights' sentinel: no float's key starts with 16 zeros
        // (that would be a negative NaN).
        histogram[0] = 0;
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
        let mut in_bucket: Vec<u64> = keys
            .par_iter()
            .flat_map(|k| k.par_iter().copied())
            .filter(|&key| (key >> 48) as usize == bucket)
            .collect();
        let rank = in_bucket.len() - (k - above_bucket);
        let threshold = *in_bucket.select_nth_unstable(rank).1;
        let mut ties: Vec<(u64, usize, usize)> = Vec::new();
        let mut above = 0usize;
        for (&l, layer_keys) in group.iter().zip(&keys) {
            above += keep[l]
                .par_iter_mut()
                .zip(layer_keys.par_iter())
                .map(|(flag, &key)| {
                    *flag = key > threshold;
                    usize::from(*flag)
                })
                .sum::<usize>();
            let tied: Vec<usize> = (0..layer_keys.len())
                .into_par_iter()
                .filter(|&i| layer_keys[i] == threshold)
                .collect();
            for i in tied {
                let key = splitmix64(tie_seed ^ splitmix64(offsets[l] + i as u64));
                ties.push((key, l, i));
            }
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
