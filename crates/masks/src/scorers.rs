//! The scoring rules of METHOD.md section 2 behind one small trait. Larger scores are kept.

use crate::methods::KeySettings;
use faer::Mat;
use glh_artifacts::seeding::stream;
use glh_model::backprop::{
    Network64, backprop, hessian_vector_product_at, loss_gradient, weight_gradients,
};
use glh_model::mlp::unit_f64;
use glh_model::{Mask, Mlp};
use rand_chacha::rand_core::Rng;
use rayon::prelude::*;

/// The scoring batch of the data-dependent methods.
#[derive(Clone, Debug)]
pub struct ScoringData {
    /// Inputs, `(784, batch)`, normalised as the run's data settings say.
    pub x: Mat<f64>,
    /// Labels, one per column of `x`.
    pub labels: Vec<u8>,
    /// The input pixels by their variance over the training images, most variable first, for
    /// the methods that ask ([`crate::PruningMethod::needs_pixel_order`]); `None` otherwise.
    pub pixel_order: Option<Vec<usize>>,
    /// A design's per-layer target tables, input layer first: a histogram target's graphons
    /// run ([`crate::PruningMethod::target_histograms`]) or a table target's file; `None`
    /// otherwise.
    pub histograms: Option<Vec<crate::methods::BlockTable>>,
}

/// A pruning score.
pub trait Scorer: Sync {
    /// How many prune-and-rescore rounds the method runs (1 for single-shot methods).
    fn rounds(&self) -> usize {
        1
    }

    /// Whether the method needs the scoring batch.
    fn needs_data(&self) -> bool {
        false
    }

    /// Its settings that enter the run's key (none by default).
    fn key_settings(&self) -> KeySettings {
        KeySettings::new()
    }

    /// The score of every weight of `net` under the current `mask`, layer by layer, row-major.
    /// Weights the mask has pruned may get any score: they are never candidates again.
    fn score(&self, net: &Mlp, mask: &Mask, data: Option<&ScoringData>) -> Vec<Vec<f64>>;
}

/// I.i.d. uniform scores from the stream `masks/random` of the seed.
pub struct RandomScorer {
    /// Run seed.
    pub seed: u64,
}

impl Scorer for RandomScorer {
    fn score(&self, net: &Mlp, _: &Mask, _: Option<&ScoringData>) -> Vec<Vec<f64>> {
        let mut rng = stream(self.seed, "masks/random");
        net.layers
            .iter()
            .map(|l| {
                (0..l.weight.len())
                    .map(|_| unit_f64(rng.next_u64()))
                    .collect()
            })
            .collect()
    }
}

/// `|w|`.
pub struct MagnitudeScorer;

impl Scorer for MagnitudeScorer {
    fn score(&self, net: &Mlp, _: &Mask, _: Option<&ScoringData>) -> Vec<Vec<f64>> {
        net.layers
            .iter()
            .map(|l| l.weight.iter().map(|&w| f64::from(w).abs()).collect())
            .collect()
    }
}

fn data_of<'a>(data: Option<&'a ScoringData>, method: &str) -> &'a ScoringData {
    data.unwrap_or_else(|| panic!("bug: {method} scored without its scoring batch"))
}

/// Rows of a layer per parallel task of [`gradient_times_weight`].
const SCORE_ROWS: usize = 32;

/// `f(g ⊙ w)` per layer, row-major (the mask's order). The matrices are column-major, so each
/// task takes a block of rows and walks it column by column: reads run down columns, and the
/// block's rows of the output stay in cache while it fills.
fn gradient_times_weight(
    net: &Network64,
    grads: &[Mat<f64>],
    f: impl Fn(f64) -> f64 + Sync,
) -> Vec<Vec<f64>> {
    net.weights
        .iter()
        .zip(grads)
        .map(|(w, g)| {
            let cols = w.ncols();
            let mut out = vec![0.0; w.nrows() * cols];
            out.par_chunks_mut(SCORE_ROWS * cols)
                .enumerate()
                .for_each(|(b, block)| {
                    let first = b * SCORE_ROWS;
                    for c in 0..cols {
                        for (i, r) in (first..first + block.len() / cols).enumerate() {
                            block[i * cols + c] = f(g[(r, c)] * w[(r, c)]);
                        }
                    }
                });
            out
        })
        .collect()
}

/// SNIP: `|g ⊙ w|`, g the gradient of the mean cross-entropy on the scoring batch.
pub struct SnipScorer;

impl Scorer for SnipScorer {
    fn needs_data(&self) -> bool {
        true
    }

    fn score(&self, net: &Mlp, mask: &Mask, data: Option<&ScoringData>) -> Vec<Vec<f64>> {
        let data = data_of(data, "snip");
        let net64 = Network64::masked(net, mask);
        let (_, grads) = loss_gradient(&net64, &data.x, &data.labels, 1.0);
        gradient_times_weight(&net64, &grads, f64::abs)
    }
}

/// GraSP: `w ⊙ (H g)`, with the loss at temperature T, `g = dL/dw` and H its exact Hessian
/// (R-operator). As in the GraSP reference code, g and the product range over the weights only.
/// The whole scoring batch is used at once (the reference code accumulates it in two halves to
/// save memory, which scales g and Hg by positive constants and so ranks the weights alike).
pub struct GraspScorer {
    /// Temperature dividing the logits.
    pub temperature: f64,
}

impl Scorer for GraspScorer {
    fn needs_data(&self) -> bool {
        true
    }

    fn key_settings(&self) -> KeySettings {
        KeySettings::from([("grasp_temperature", self.temperature.into())])
    }

    fn score(&self, net: &Mlp, mask: &Mask, data: Option<&ScoringData>) -> Vec<Vec<f64>> {
        let data = data_of(data, "grasp");
        let net64 = Network64::masked(net, mask);
        // One forward and backward pass serves both the gradient and H g.
        let passes = backprop(&net64, &data.x, &data.labels, self.temperature);
        let g = weight_gradients(&passes.acts, &passes.deltas);
        let hg = hessian_vector_product_at(&net64, &passes, &g);
        gradient_times_weight(&net64, &hg, |v| v)
    }
}

/// SynFlow: on the network with every parameter replaced by its absolute value, fed one
/// all-ones input, `R = sum of outputs` and the score is `|dR/dw ⊙ w|`, in f64.
///
/// All parameters are non-negative, so every ReLU passes its input and the network is linear:
/// `dR/dW_l[r, c] = delta_l[r] h_{l-1}[c]`, with `h` the forward activations and `delta` the
/// backward sums of the absolute weights. Computed with matrix-vector loops, O(weights) per
/// round; rows run in parallel, each summed in a fixed order, so the scores do not depend on the
/// thread count.
pub struct SynflowScorer {
    /// Rounds of the exponential schedule.
    pub rounds: usize,
}

impl Scorer for SynflowScorer {
    fn rounds(&self) -> usize {
        self.rounds
    }

    fn key_settings(&self) -> KeySettings {
        KeySettings::from([("synflow_rounds", self.rounds.into())])
    }

    fn score(&self, net: &Mlp, mask: &Mask, _: Option<&ScoringData>) -> Vec<Vec<f64>> {
        // |w| ⊙ m per layer, row-major.
        let abs: Vec<Vec<f64>> = net
            .layers
            .iter()
            .zip(mask.layers())
            .map(|(layer, m)| {
                layer
                    .weight
                    .par_iter()
                    .zip(m.as_slice().par_iter())
                    .map(|(&w, &k)| f64::from(w).abs() * f64::from(u8::from(k)))
                    .collect()
            })
            .collect();
        // Forward: h_0 = 1, h_l = |W_l| h_{l-1} + |b_l| (all non-negative: ReLU is the identity).
        let mut h = vec![vec![1.0f64; net.arch.input]];
        for (l, layer) in net.layers.iter().enumerate() {
            let out: Vec<f64> = abs[l]
                .par_chunks_exact(layer.cols)
                .zip(layer.bias.par_iter())
                .map(|(row, &b)| {
                    row.iter().zip(&h[l]).map(|(w, x)| w * x).sum::<f64>() + f64::from(b).abs()
                })
                .collect();
            h.push(out);
        }
        // Backward: delta_L = 1, delta_{l-1} = |W_l|^T delta_l.
        let depth = net.layers.len();
        let mut delta = vec![Vec::new(); depth];
        delta[depth - 1] = vec![1.0f64; net.layers[depth - 1].rows];
        for l in (1..depth).rev() {
            // Column blocks in parallel, rows in order within each: a fixed summation order.
            let cols = net.layers[l].cols;
            let mut back = vec![0.0f64; cols];
            back.par_chunks_mut(256)
                .enumerate()
                .for_each(|(block, out)| {
                    let (start, len) = (block * 256, out.len());
                    for (row, &d) in abs[l].chunks_exact(cols).zip(&delta[l]) {
                        for (b, w) in out.iter_mut().zip(&row[start..start + len]) {
                            *b += w * d;
                        }
                    }
                });
            delta[l - 1] = back;
        }
        // Scores: delta_l[r] h_{l-1}[c] |w_rc|.
        abs.into_iter()
            .enumerate()
            .map(|(l, mut a)| {
                let cols = net.layers[l].cols;
                a.par_chunks_exact_mut(cols)
                    .zip(delta[l].par_iter())
                    .for_each(|(row, &d)| {
                        for (w, x) in row.iter_mut().zip(&h[l]) {
                            *w *= d * x;
                        }
                    });
                a
            })
            .collect()
    }
}
