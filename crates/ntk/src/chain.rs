//! Layer graphons as step functions: what the Graphon NTK recursion integrates over.
//!
//! A chain for an L-layer network has L + 1 sets of positions: the d input pixels (layer 0),
//! the hidden layers, and the outputs (layer L). Positions carry a measure (the width of their
//! interval in [0, 1]; each set sums to 1), and `layers[l]` holds `W_{l+1}` as a dense
//! `positions(l + 1) x positions(l)` matrix of connection probabilities. Integrals become
//! `sum_v W(u, v) mu(v) f(v)`, exact for step graphons.
//!
//! - [`GraphonChain::of_masks`]: the mask-level chain, one position per neuron (K = n);
//! - [`GraphonChain::of_histograms`]: K-block SAS histograms with ONE neuron order per hidden
//!   layer, shared by the mask entering it and the mask leaving it ([`shared_hidden_order`]);
//! - [`GraphonChain::constant`]: `W = c` everywhere (c = 1 is the dense standard NTK).
//!
//! The input layer always keeps its d pixel positions and the output layer its 10 outputs.

use faer::Mat;
use glh_graphons::sas::{block_bounds, block_means, blocks_of};
use glh_model::LayerMask;

/// Step graphons of every layer, with the measures of every set of positions.
#[derive(Clone, Debug)]
pub struct GraphonChain {
    layers: Vec<Mat<f64>>,
    measures: Vec<Vec<f64>>,
}

/// `1/n` repeated `n` times.
fn uniform(n: usize) -> Vec<f64> {
    vec![1.0 / n as f64; n]
}

/// A mask as a 0/1 matrix.
pub fn mask_matrix(mask: &LayerMask) -> Mat<f64> {
    let cols = mask.cols();
    Mat::from_fn(mask.rows(), cols, |r, c| {
        f64::from(u8::from(mask.as_slice()[r * cols + c]))
    })
}

impl GraphonChain {
    /// A chain from layer matrices and position measures; checks shapes, values in [0, 1],
    /// and measures that are positive and sum to 1.
    pub fn new(layers: Vec<Mat<f64>>, measures: Vec<Vec<f64>>) -> Result<Self, String> {
        if layers.is_empty() || measures.len() != layers.len() + 1 {
            return Err(format!(
                "{} layers need {} measures, got {}",
                layers.len(),
                layers.len() + 1,
                measures.len()
            ));
        }
        for (l, w) in layers.iter().enumerate() {
            let shape = (measures[l + 1].len(), measures[l].len());
            if (w.nrows(), w.ncols()) != shape {
                return Err(format!(
                    "layer {} is {}x{}, its positions are {}x{}",
                    l + 1,
                    w.nrows(),
                    w.ncols(),
                    shape.0,
                    shape.1
                ));
            }
            let in_range =
                (0..w.ncols()).all(|c| w.col_as_slice(c).iter().all(|v| (0.0..=1.0).contains(v)));
            if !in_range {
                return Err(format!("layer {} has a value outside [0, 1]", l + 1));
            }
        }
        for (l, mu) in measures.iter().enumerate() {
            let sum: f64 = mu.iter().sum();
            if mu.iter().any(|&m| m <= 0.0 || !m.is_finite()) || (sum - 1.0).abs() > 1e-9 {
                return Err(format!(
                    "the measure of positions {l} must be positive and sum to 1 (sums to {sum})"
                ));
            }
        }
        Ok(GraphonChain { layers, measures })
    }

    /// `W_l = c` for every layer: `depth` layers on `input_dim` pixels with one position per
    /// hidden layer and output. `c = 1` is the dense standard NTK.
    pub fn constant(input_dim: usize, depth: usize, c: f64) -> Self {
        let mut layers = vec![Mat::from_fn(1, input_dim, |_, _| c)];
        layers.extend((1..depth).map(|_| Mat::from_fn(1, 1, |_, _| c)));
        let mut measures = vec![uniform(input_dim)];
        measures.extend((0..depth).map(|_| vec![1.0]));
        GraphonChain::new(layers, measures).expect("a constant chain is valid")
    }

    /// The dense standard NTK's chain (`W = 1`).
    pub fn dense(input_dim: usize, depth: usize) -> Self {
        Self::constant(input_dim, depth, 1.0)
    }

    /// The mask-level chain: the step graphon of the masks themselves (K = n).
    pub fn of_masks(masks: &[LayerMask]) -> Result<Self, String> {
        check_chained(masks)?;
        let mut measures = vec![uniform(masks[0].cols())];
        measures.extend(masks.iter().map(|m| uniform(m.rows())));
        GraphonChain::new(masks.iter().map(mask_matrix).collect(), measures)
    }

    /// The histogram-level chain: every hidden layer's neurons are put in the order of
    /// [`shared_hidden_order`] and cut into `min(k, n)` blocks by `floor(a n / K)`; each layer's
    /// graphon is the block average of its mask under the orders of its two sides. Pixels and
    /// outputs stay one position each. With `k >= n` it is the mask-level chain, permuted.
    pub fn of_histograms(masks: &[LayerMask], k: usize) -> Result<Self, String> {
        check_chained(masks)?;
        if k == 0 {
            return Err("a histogram needs at least one block".to_string());
        }
        let depth = masks.len();
        // blocks[l], sizes[l]: block of every position of layer l, and the number of blocks.
        let mut blocks = vec![(0..masks[0].cols()).collect::<Vec<_>>()];
        let mut measures = vec![uniform(masks[0].cols())];
        for h in 1..depth {
            let n = masks[h - 1].rows();
            let kh = k.min(n);
            blocks.push(blocks_of(&shared_hidden_order(masks, h), kh));
            let bounds = block_bounds(n, kh);
            measures.push(
                bounds
                    .windows(2)
                    .map(|w| (w[1] - w[0]) as f64 / n as f64)
                    .collect(),
            );
        }
        blocks.push((0..masks[depth - 1].rows()).collect());
        measures.push(uniform(masks[depth - 1].rows()));
        let layers = masks
            .iter()
            .enumerate()
            .map(|(l, m)| {
                let (kr, kc) = (measures[l + 1].len(), measures[l].len());
                let values = block_means(m, &blocks[l + 1], kr, &blocks[l], kc);
                Mat::from_fn(kr, kc, |a, b| values[a * kc + b])
            })
            .collect();
        GraphonChain::new(layers, measures)
    }

    /// Number of layers L.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// `W_l` for l = 1..=L as `layers()[l - 1]`.
    pub fn layers(&self) -> &[Mat<f64>] {
        &self.layers
    }

    /// The measures of positions 0 (pixels) to L (outputs).
    pub fn measures(&self) -> &[Vec<f64>] {
        &self.measures
    }
}

/// The order of hidden layer `h` (1-based, `1..depth`) shared by mask h (rows) and mask h + 1
/// (columns): descending by `in-degree / fan-in + out-degree / fan-out`, the neuron's kept
/// fraction of incoming plus outgoing weights, ties by index. Both masks are thus sorted by one
/// key that sees both sides, which keeps the chain `W_h(u, v) W_{h+1}(w, u)` aligned.
pub fn shared_hidden_order(masks: &[LayerMask], h: usize) -> Vec<usize> {
    let (into, out_of) = (&masks[h - 1], &masks[h]);
    let rows_in = into.row_degrees();
    let cols_out = out_of.col_degrees();
    let key: Vec<f64> = rows_in
        .iter()
        .zip(&cols_out)
        .map(|(&a, &b)| a as f64 / into.cols() as f64 + b as f64 / out_of.rows() as f64)
        .collect();
    let mut order: Vec<usize> = (0..key.len()).collect();
    order.sort_by(|&i, &j| key[j].total_cmp(&key[i]).then(i.cmp(&j)));
    order
}

fn check_chained(masks: &[LayerMask]) -> Result<(), String> {
    if masks.is_empty() {
        return Err("no layers".to_string());
    }
    for (l, pair) in masks.windows(2).enumerate() {
        if pair[1].cols() != pair[0].rows() {
            return Err(format!(
                "layer {} has {} inputs but layer {} has {} outputs",
                l + 2,
                pair[1].cols(),
                l + 1,
                pair[0].rows()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_chain_shapes_and_measures() {
        let masks = vec![
            LayerMask::full(5, 3),
            LayerMask::full(5, 5),
            LayerMask::full(2, 5),
        ];
        let chain = GraphonChain::of_histograms(&masks, 2).unwrap();
        let shapes: Vec<_> = chain
            .layers()
            .iter()
            .map(|w| (w.nrows(), w.ncols()))
            .collect();
        assert_eq!(shapes, vec![(2, 3), (2, 2), (2, 2)]);
        assert_eq!(chain.measures()[1], vec![0.4, 0.6]);
        assert!(GraphonChain::of_histograms(&masks[..1], 0).is_err());
        assert!(GraphonChain::of_masks(&[LayerMask::full(2, 3), LayerMask::full(1, 3)]).is_err());
    }

    #[test]
    fn shared_order_sees_both_sides() {
        // In-degree fractions 1, 1/2, 0; out-degree fractions 0, 0, 1: keys 1, 1/2, 1, so
        // neuron 2 (no inputs, all outputs) comes before neuron 1.
        let into = LayerMask::new(3, 2, vec![true, true, true, false, false, false]).unwrap();
        let out_of = LayerMask::new(2, 3, vec![false, false, true, false, false, true]).unwrap();
        assert_eq!(shared_hidden_order(&[into, out_of], 1), vec![0, 2, 1]);
    }
}
