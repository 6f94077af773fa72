//! The shuffled control (ours): a method's mask with each layer's kept entries moved to a
//! uniformly random set of places in that layer, drawn from the stream `masks/shuffled` of the
//! run seed. It keeps the method's per-layer kept counts (hence its per-layer density profile)
//! exactly and nothing else: any structure a graphon of the method shows beyond that profile
//! is gone, which is what the controls of a graphon claim compare against.

use glh_model::LayerMask;
use rand_chacha::rand_core::Rng;

/// `layer` with its kept count placed uniformly at random in it.
pub(super) fn shuffle(layer: &LayerMask, rng: &mut impl Rng) -> LayerMask {
    let mut keep = vec![false; layer.rows() * layer.cols()];
    for i in uniform_subset(keep.len(), layer.kept(), rng) {
        keep[i] = true;
    }
    LayerMask::new(layer.rows(), layer.cols(), keep).expect("rows * cols flags")
}

/// `k` distinct indices below `n`, uniform over the k-subsets: the first k places of a partial
/// Fisher-Yates shuffle of `0..n`, with unbiased bounded draws.
pub fn uniform_subset(n: usize, k: usize, rng: &mut impl Rng) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..k {
        let j = i + below(n - i, rng);
        order.swap(i, j);
    }
    order.truncate(k);
    order
}

/// A uniform draw from `0..bound` (`bound >= 1`): Lemire's multiply-and-reject on 64 bits.
pub(super) fn below(bound: usize, rng: &mut impl Rng) -> usize {
    let bound = bound as u64;
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let product = u128::from(rng.next_u64()) * u128::from(bound);
        if (product as u64) >= threshold {
            return (product >> 64) as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::seeding::stream;

    #[test]
    fn a_subset_has_k_distinct_indices_and_every_index_is_equally_likely() {
        let mut rng = stream(7, "test");
        let (n, k, draws) = (10, 3, 30_000);
        let mut hits = [0u32; 10];
        for _ in 0..draws {
            let mut s = uniform_subset(n, k, &mut rng);
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), k);
            for i in s {
                hits[i] += 1;
            }
        }
        // Each index is in a subset with probability k / n = 0.3: 9000 expected, sd ~ 79.
        for (i, &h) in hits.iter().enumerate() {
            assert!((h as f64 - 9000.0).abs() < 400.0, "index {i}: {h}");
        }
    }

    #[test]
    fn draws_below_a_bound_stay_below_it_and_cover_it() {
        let mut rng = stream(1, "test");
        let mut seen = [false; 5];
        for _ in 0..200 {
            let v = below(5, &mut rng);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(below(1, &mut rng), 0);
    }
}
