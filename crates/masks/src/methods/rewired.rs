//! The rewired control (ours, issue #29): a method's mask with each layer's bipartite graph
//! randomised by double-edge swaps, which keep every row's and every column's degree. It keeps
//! the method's per-layer densities and its neurons' degrees and nothing else of its structure:
//! where `shuffled:<method>` asks whether a graphon is more than a density profile, this asks
//! whether it is more than a degree profile.
//!
//! A swap draws two kept entries `(r1, c1)`, `(r2, c2)` uniformly (stream `masks/rewired` of the
//! run seed) and, when `r1 != r2`, `c1 != c2` and neither `(r1, c2)` nor `(r2, c1)` is kept,
//! replaces them by those two; otherwise the mask stays as it is. The chain is symmetric, so its
//! stationary law is uniform over the masks with the layer's degrees (which swaps connect,
//! Ryser 1957). [`SWAPS_PER_EDGE`] attempts per kept entry are made.
//!
//! What a rewired mask's histogram tends to is the degree sequence's maximum-entropy graphon,
//! `W(u, v) = x(u) y(v) / (1 + x(u) y(v))` with x and y fixed by the degrees (Chatterjee,
//! Diaconis and Sly 2011; the bipartite β-model). For sparse layers it is the rank-1
//! `d(u) d(v) / sum d`; for dense ones it is flatter than rank 1. The unit tests check both.

use super::shuffled::below;
use glh_model::LayerMask;
use rand_chacha::rand_core::Rng;

/// Swap attempts per kept entry of a layer. Measured on the unit test's 400 x 400 two-level mask
/// at 30% density: its sparse block is 0.1026 before, 0.0391, 0.0214, 0.0154, 0.0131 and 0.0122
/// after 1, 2, 3, 5 and 10 attempts per entry, against a limit of 0.0122.
pub const SWAPS_PER_EDGE: usize = 10;

/// `layer` rewired: [`SWAPS_PER_EDGE`] swap attempts per kept entry.
pub(super) fn rewire_layer(layer: &LayerMask, rng: &mut impl Rng) -> LayerMask {
    rewire(layer, SWAPS_PER_EDGE * layer.kept(), rng)
}

/// `layer` after `attempts` double-edge swap attempts drawn from `rng`.
pub fn rewire(layer: &LayerMask, attempts: usize, rng: &mut impl Rng) -> LayerMask {
    let (rows, cols) = (layer.rows(), layer.cols());
    let mut keep = layer.as_slice().to_vec();
    let mut edges: Vec<(usize, usize)> = (0..rows * cols)
        .filter(|&i| keep[i])
        .map(|i| (i / cols, i % cols))
        .collect();
    if edges.len() >= 2 {
        for _ in 0..attempts {
            let (i, j) = (below(edges.len(), rng), below(edges.len(), rng));
            let ((r1, c1), (r2, c2)) = (edges[i], edges[j]);
            let (a, b) = (r1 * cols + c2, r2 * cols + c1);
            if r1 == r2 || c1 == c2 || keep[a] || keep[b] {
                continue;
            }
            keep[r1 * cols + c1] = false;
            keep[r2 * cols + c2] = false;
            keep[a] = true;
            keep[b] = true;
            edges[i] = (r1, c2);
            edges[j] = (r2, c1);
        }
    }
    LayerMask::new(rows, cols, keep).expect("rows * cols flags")
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::seeding::stream;
    use glh_model::mlp::unit_f64;

    /// A `n x n` mask of the two-level graphon `w` (halves at deterministic positions).
    fn two_level(n: usize, w: [[f64; 2]; 2], seed: u64) -> LayerMask {
        let mut rng = stream(seed, "test/rewired");
        let half = |i: usize| usize::from(2 * i >= n);
        let keep = (0..n * n)
            .map(|e| unit_f64(rng.next_u64()) < w[half(e / n)][half(e % n)])
            .collect();
        LayerMask::new(n, n, keep).unwrap()
    }

    /// The mean of `mask` over each (row half, column half), row-major.
    fn halves(mask: &LayerMask) -> [f64; 4] {
        let n = mask.rows();
        let mut sums = [0.0; 4];
        for (i, &k) in mask.as_slice().iter().enumerate() {
            let (r, c) = (usize::from(2 * (i / n) >= n), usize::from(2 * (i % n) >= n));
            sums[2 * r + c] += f64::from(u8::from(k));
        }
        sums.map(|s| s / (n * n / 4) as f64)
    }

    /// The bipartite β-model of two row and two column halves with mean degrees `d` (as
    /// fractions): `x_a y_b / (1 + x_a y_b)` averaging to `d_a` over b, by fixed-point iteration.
    fn beta_model(d: [f64; 2]) -> [f64; 4] {
        let mut x = [1.0f64; 2];
        for _ in 0..10_000 {
            for a in 0..2 {
                // The symmetric case: y = x. Solve mean_b x_a x_b / (1 + x_a x_b) = d_a for x_a.
                let f = |xa: f64| (0..2).map(|b| xa * x[b] / (1.0 + xa * x[b])).sum::<f64>() / 2.0;
                let (mut lo, mut hi) = (0.0, 1e6);
                for _ in 0..200 {
                    let mid = (lo + hi) / 2.0;
                    if f(mid) < d[a] { lo = mid } else { hi = mid }
                }
                x[a] = (lo + hi) / 2.0;
            }
        }
        let p = |a: usize, b: usize| x[a] * x[b] / (1.0 + x[a] * x[b]);
        [p(0, 0), p(0, 1), p(1, 0), p(1, 1)]
    }

    #[test]
    fn swaps_keep_every_degree_and_move_the_entries() {
        let base = two_level(200, [[0.9, 0.1], [0.1, 0.1]], 1);
        let mut rng = stream(2, "test/rewired");
        let rewired = rewire(&base, SWAPS_PER_EDGE * base.kept(), &mut rng);
        assert_eq!(rewired.row_degrees(), base.row_degrees());
        assert_eq!(rewired.col_degrees(), base.col_degrees());
        let moved = base
            .as_slice()
            .iter()
            .zip(rewired.as_slice())
            .filter(|(a, b)| a != b)
            .count();
        assert!(
            moved > base.kept() / 2,
            "{moved} of {} entries moved",
            base.kept()
        );
        // Nothing to swap: a single entry, or none.
        let one = LayerMask::new(2, 2, vec![true, false, false, false]).unwrap();
        assert_eq!(rewire(&one, 100, &mut rng), one);
    }

    #[test]
    fn a_rewired_mask_tends_to_its_degrees_maximum_entropy_graphon() {
        // Structure beyond the degrees: the top-left block is denser than the degrees alone
        // make it. Row and column halves have degrees 0.5 and 0.1 (mean density 0.3).
        let w = [[0.9, 0.1], [0.1, 0.1]];
        let base = two_level(400, w, 3);
        let mut rng = stream(4, "test/rewired");
        let rewired = rewire(&base, SWAPS_PER_EDGE * base.kept(), &mut rng);
        let (before, after) = (halves(&base), halves(&rewired));
        let limit = beta_model([0.5, 0.1]);
        // Rank 1 would be d_a d_b / mean density: 0.833, 0.167, 0.167, 0.033. The limit is
        // 0.812, 0.188, 0.188, 0.012 (measured after: 0.808, 0.189, 0.189, 0.0122).
        let rank_one = [
            0.5 * 0.5 / 0.3,
            0.5 * 0.1 / 0.3,
            0.1 * 0.5 / 0.3,
            0.1 * 0.1 / 0.3,
        ];
        for c in 0..4 {
            assert!(
                (before[c] - [0.9, 0.1, 0.1, 0.1][c]).abs() < 0.02,
                "{before:?}"
            );
            assert!(
                (after[c] - limit[c]).abs() < 0.006,
                "{after:?} vs {limit:?}"
            );
        }
        // At this density the limit is not rank 1, and the rewired mask follows the limit.
        assert!((limit[3] - rank_one[3]).abs() > 0.02, "{limit:?}");
        assert!((after[3] - rank_one[3]).abs() > 0.02, "{after:?}");
        // Sparse layers: the limit is rank 1 within 5% (0.0832 against 0.0833, 0.0032 against
        // 0.0033).
        let sparse = beta_model([0.05, 0.01]);
        for (a, b) in [(0, 0), (0, 1), (1, 1)] {
            let d = [0.05, 0.01];
            let rank_one = d[a] * d[b] / 0.03;
            assert!(
                (sparse[2 * a + b] - rank_one).abs() < 0.05 * rank_one,
                "{sparse:?}"
            );
        }
    }
}
