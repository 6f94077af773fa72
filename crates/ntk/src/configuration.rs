//! The graphon of a configuration (METHOD.md section 7, "graphon-generated masks"): what the
//! paper's E3 computes its Graphon NTK on, and finite masks drawn from it.
//!
//! A configuration is (method, depth, width, sparsity); its graphon is the seed-averaged K-block
//! histogram of every layer of its masks. A hidden side is sorted by degree (descending, ties by
//! index: rows by in-degree, columns by out-degree, as the SAS histogram does), so consecutive
//! layers are joined by degree rank: position u of layer l's output side is position u of layer
//! l + 1's input side. The input layer keeps its 784 pixel identities (one column per pixel) and
//! the output layer its 10 classes (one row per class), since pixels and classes are not
//! exchangeable. The chain's measures are the blocks' shares of the width.
//!
//! Joining by degree rank is our reconstruction of the paper's text, and it breaks the chain:
//! a neuron's in-degree rank and its out-degree rank differ. [`shared_order_chain`] is the
//! variant with one order per hidden layer for both of its sides; the report reads E3's
//! claims under both, and under the mask-level kernel of masks drawn from the graphon
//! ([`draw_masks`]), the protocol as the paper's text describes it.

use crate::chain::GraphonChain;
use faer::Mat;
use glh_artifacts::seeding::stream;
use glh_graphons::sas::{block_bounds, block_means, blocks_of, degree_order};
use glh_model::LayerMask;
use rand::RngExt;

/// The block of every position of one side of a layer: the identity for pixels and classes,
/// `min(k, n)` degree-sorted blocks otherwise.
fn side_blocks(degrees: Vec<usize>, k: usize, keep_identity: bool) -> Vec<usize> {
    if keep_identity {
        (0..degrees.len()).collect()
    } else {
        blocks_of(&degree_order(&degrees), k.min(degrees.len()))
    }
}

/// The configuration graphon of the masks of several seeds (`runs[seed][layer]`, all of one
/// architecture) with `k` blocks per hidden side.
pub fn configuration_chain(runs: &[Vec<LayerMask>], k: usize) -> Result<GraphonChain, String> {
    let first = runs
        .first()
        .ok_or("a configuration needs at least one run")?;
    if k == 0 {
        return Err("a histogram needs at least one block".into());
    }
    let shapes: Vec<(usize, usize)> = first.iter().map(|m| (m.rows(), m.cols())).collect();
    if let Some(i) = runs.iter().position(|r| {
        r.iter()
            .map(|m| (m.rows(), m.cols()))
            .ne(shapes.iter().copied())
    }) {
        return Err(format!("run {i} has other layer shapes than run 0"));
    }
    let depth = shapes.len();
    let mut layers: Vec<Mat<f64>> = Vec::with_capacity(depth);
    for l in 0..depth {
        let (rows, cols) = shapes[l];
        let (kr, kc) = (
            if l + 1 == depth { rows } else { k.min(rows) },
            if l == 0 { cols } else { k.min(cols) },
        );
        let mut sum = vec![0.0; kr * kc];
        for run in runs {
            let mask = &run[l];
            let row_block = side_blocks(mask.row_degrees(), k, l + 1 == depth);
            let col_block = side_blocks(mask.col_degrees(), k, l == 0);
            for (s, v) in sum
                .iter_mut()
                .zip(block_means(mask, &row_block, kr, &col_block, kc))
            {
                *s += v;
            }
        }
        let count = runs.len() as f64;
        layers.push(Mat::from_fn(kr, kc, |a, b| sum[a * kc + b] / count));
    }
    let block_shares = |n: usize, k: usize| -> Vec<f64> {
        block_bounds(n, k)
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / n as f64)
            .collect()
    };
    let mut measures = vec![vec![1.0 / shapes[0].1 as f64; shapes[0].1]];
    for &(rows, _) in &shapes[..depth - 1] {
        measures.push(block_shares(rows, k.min(rows)));
    }
    measures.push(vec![1.0 / shapes[depth - 1].0 as f64; shapes[depth - 1].0]);
    GraphonChain::new(layers, measures)
}

/// The shared-order variant of [`configuration_chain`]: each run's histogram chain with one
/// order per hidden layer for both of its sides ([`GraphonChain::of_histograms`], as the ntk
/// stage's histogram kernel), averaged over the runs position by position. Consecutive layers
/// stay joined neuron to neuron, which the per-side degree sort of [`configuration_chain`]
/// gives up.
pub fn shared_order_chain(runs: &[Vec<LayerMask>], k: usize) -> Result<GraphonChain, String> {
    let chains: Vec<GraphonChain> = runs
        .iter()
        .map(|run| GraphonChain::of_histograms(run, k))
        .collect::<Result<_, _>>()?;
    let first = chains
        .first()
        .ok_or("a configuration needs at least one run")?;
    if let Some(i) = chains.iter().position(|c| c.measures() != first.measures()) {
        return Err(format!("run {i} has other layer shapes than run 0"));
    }
    let count = chains.len() as f64;
    let layers = (0..first.depth())
        .map(|l| {
            let w = &first.layers()[l];
            Mat::from_fn(w.nrows(), w.ncols(), |a, b| {
                chains.iter().map(|c| c.layers()[l][(a, b)]).sum::<f64>() / count
            })
        })
        .collect();
    GraphonChain::new(layers, first.measures().to_vec())
}

/// A finite mask drawn from `chain` at hidden width `width`: each hidden position's block is
/// cut into its share of the `width` neurons (`floor(a n / K)`, as histograms cut them), every
/// weight is kept with probability `W(block(r), block(c))` independently, and then the kept
/// count of each layer is made exactly its expected count, rounded, by removing kept weights
/// or adding weights of positive probability, uniformly at random. Seeded by `seed`, streams
/// `ntk/graphon_draw/layer<l>` for a configuration's pooled graphon (`run = None`) and
/// `ntk/graphon_draw/seed<s>/layer<l>` for the graphon of masks run `s` alone, so that the
/// draws of different runs' graphons are independent (common random numbers would hide the
/// draw's own noise from a seed bootstrap).
///
/// Its mask-level kernel tends to the graphon kernel like 1/sqrt(n) only while the input
/// layer's fan-in is large too: each neuron's own draw over the d pixels leaves a bias of order
/// 1/d in the nonlinear recursion (small for MNIST's 784; a test measures both).
pub fn draw_masks(
    chain: &GraphonChain,
    width: usize,
    seed: u64,
    run: Option<u64>,
) -> Vec<LayerMask> {
    let prefix = match run {
        None => "ntk/graphon_draw".to_string(),
        Some(s) => format!("ntk/graphon_draw/seed{s}"),
    };
    let depth = chain.depth();
    // The block of every neuron of each set of positions: pixels and classes are themselves.
    let neuron_blocks: Vec<Vec<usize>> = chain
        .measures()
        .iter()
        .enumerate()
        .map(|(l, mu)| {
            if l == 0 || l == depth {
                (0..mu.len()).collect()
            } else {
                let bounds = block_bounds(width, mu.len());
                (0..width)
                    .map(|i| bounds.partition_point(|&b| b <= i) - 1)
                    .collect()
            }
        })
        .collect();
    chain
        .layers()
        .iter()
        .enumerate()
        .map(|(l, w)| {
            let (rows, cols) = (&neuron_blocks[l + 1], &neuron_blocks[l]);
            let mut rng = stream(seed, &format!("{prefix}/layer{}", l + 1));
            let p = |r: usize, c: usize| w[(rows[r], cols[c])];
            let mut keep = Vec::with_capacity(rows.len() * cols.len());
            let mut expected = 0.0;
            for r in 0..rows.len() {
                for c in 0..cols.len() {
                    expected += p(r, c);
                    keep.push(rng.random::<f64>() < p(r, c));
                }
            }
            let target = expected.round() as usize;
            let kept: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
            if kept.len() > target {
                let extra = kept.len() - target;
                set_at_random(&mut keep, kept, extra, false, &mut rng);
            } else {
                let open: Vec<usize> = (0..keep.len())
                    .filter(|&i| !keep[i] && p(i / cols.len(), i % cols.len()) > 0.0)
                    .collect();
                let missing = (target - kept.len()).min(open.len());
                set_at_random(&mut keep, open, missing, true, &mut rng);
            }
            LayerMask::new(rows.len(), cols.len(), keep).expect("rows x cols flags")
        })
        .collect()
}

/// Sets `count` of the flags at `candidates`, chosen uniformly (a partial Fisher-Yates), to
/// `value`.
fn set_at_random(
    keep: &mut [bool],
    mut candidates: Vec<usize>,
    count: usize,
    value: bool,
    rng: &mut rand_chacha::ChaCha8Rng,
) {
    for i in 0..count {
        let j = rng.random_range(i..candidates.len());
        candidates.swap(i, j);
        keep[candidates[i]] = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_masks(shapes: &[(usize, usize)], density: f64, seed: u64) -> Vec<LayerMask> {
        let mut rng = stream(seed, "test");
        shapes
            .iter()
            .map(|&(r, c)| {
                LayerMask::new(
                    r,
                    c,
                    (0..r * c).map(|_| rng.random::<f64>() < density).collect(),
                )
                .unwrap()
            })
            .collect()
    }

    #[test]
    fn the_configuration_graphon_averages_seeds_and_keeps_pixels_and_classes() {
        let shapes = [(12, 5), (12, 12), (3, 12)];
        let runs: Vec<Vec<LayerMask>> = (0..3).map(|s| random_masks(&shapes, 0.4, s)).collect();
        let chain = configuration_chain(&runs, 4).unwrap();
        let dims: Vec<(usize, usize)> = chain
            .layers()
            .iter()
            .map(|w| (w.nrows(), w.ncols()))
            .collect();
        assert_eq!(dims, [(4, 5), (4, 4), (3, 4)]);
        assert_eq!(chain.measures()[0], vec![0.2; 5]);
        assert_eq!(chain.measures()[1], vec![0.25; 4]);
        assert_eq!(chain.measures()[3], vec![1.0 / 3.0; 3]);
        // Block means preserve the kept count: the graphon's integral is the mean density.
        for (l, w) in chain.layers().iter().enumerate() {
            let (mu_out, mu_in) = (&chain.measures()[l + 1], &chain.measures()[l]);
            let integral: f64 = (0..w.nrows())
                .flat_map(|a| (0..w.ncols()).map(move |b| (a, b)))
                .map(|(a, b)| w[(a, b)] * mu_out[a] * mu_in[b])
                .sum();
            let mean: f64 = runs
                .iter()
                .map(|r| r[l].kept() as f64 / (shapes[l].0 * shapes[l].1) as f64)
                .sum::<f64>()
                / 3.0;
            assert!((integral - mean).abs() < 1e-12, "layer {}", l + 1);
        }
        // Hidden sides are sorted: the first row block is the densest.
        let w = &chain.layers()[1];
        let row_mean = |a: usize| (0..4).map(|b| w[(a, b)]).sum::<f64>();
        assert!(row_mean(0) >= row_mean(3));
        // One run's chain is that run's block means, unaveraged.
        let one = configuration_chain(&runs[..1], 12).unwrap();
        assert_eq!(one.layers()[0].nrows(), 12);
        assert!(configuration_chain(&[], 4).is_err());
    }

    #[test]
    fn the_shared_order_graphon_averages_each_runs_histogram_chain() {
        let shapes = [(12, 5), (12, 12), (3, 12)];
        let runs: Vec<Vec<LayerMask>> = (0..3).map(|s| random_masks(&shapes, 0.4, s)).collect();
        let chain = shared_order_chain(&runs, 4).unwrap();
        let own: Vec<GraphonChain> = runs
            .iter()
            .map(|r| GraphonChain::of_histograms(r, 4).unwrap())
            .collect();
        assert_eq!(chain.measures(), own[0].measures());
        for l in 0..3 {
            let w = &chain.layers()[l];
            for a in 0..w.nrows() {
                for b in 0..w.ncols() {
                    let mean = own.iter().map(|c| c.layers()[l][(a, b)]).sum::<f64>() / 3.0;
                    assert!((w[(a, b)] - mean).abs() < 1e-15);
                }
            }
        }
        // One run with K = n is that run's mask, permuted: the same kept count per layer.
        let one = shared_order_chain(&runs[..1], 12).unwrap();
        let kept: f64 = one.layers()[1]
            .col_iter()
            .flat_map(|c| c.iter().copied())
            .sum();
        assert_eq!(kept, runs[0][1].kept() as f64);
        assert!(shared_order_chain(&[], 4).is_err());
    }

    #[test]
    fn a_drawn_mask_keeps_the_expected_count_and_follows_the_graphon() {
        let shapes = [(16, 6), (16, 16), (2, 16)];
        let runs: Vec<Vec<LayerMask>> = (0..2).map(|s| random_masks(&shapes, 0.3, s)).collect();
        let chain = configuration_chain(&runs, 4).unwrap();
        let drawn = draw_masks(&chain, 400, 7, None);
        assert_eq!(drawn.len(), 3);
        assert_eq!((drawn[1].rows(), drawn[1].cols()), (400, 400));
        assert_eq!((drawn[0].cols(), drawn[2].rows()), (6, 2));
        for (l, w) in chain.layers().iter().enumerate() {
            let (mu_out, mu_in) = (&chain.measures()[l + 1], &chain.measures()[l]);
            let cells = (drawn[l].rows() * drawn[l].cols()) as f64;
            let expected: f64 = (0..w.nrows())
                .flat_map(|a| (0..w.ncols()).map(move |b| (a, b)))
                .map(|(a, b)| w[(a, b)] * mu_out[a] * mu_in[b] * cells)
                .sum();
            assert_eq!(
                drawn[l].kept(),
                expected.round() as usize,
                "layer {}",
                l + 1
            );
        }
        // The same seed draws the same masks; another seed others.
        assert_eq!(draw_masks(&chain, 400, 7, None), drawn);
        assert_ne!(draw_masks(&chain, 400, 8, None), drawn);
        // A run's own graphon draws from its own streams: the same chain drawn for runs 0 and
        // 1 gives other masks than the pooled draw and than each other, at the same kept count.
        let run0 = draw_masks(&chain, 400, 7, Some(0));
        let run1 = draw_masks(&chain, 400, 7, Some(1));
        assert_ne!(run0, drawn);
        assert_ne!(run0, run1);
        for l in 0..3 {
            assert_eq!(run0[l].kept(), drawn[l].kept());
        }
    }
}
