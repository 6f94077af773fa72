//! The scoring rules of METHOD.md section 2 behind one small trait. Larger scores are kept.

use crate::methods::KeySettings;
use crate::select::ScoreRows;
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

    /// The same scores as the selection reads them, row by row. By default `score`'s table; a
    /// scorer whose rows are cheap to recompute overrides it so that a round holds no buffer
    /// of every score (SynFlow, a hundred rounds).
    fn score_rows<'a>(
        &'a self,
        net: &'a Mlp,
        mask: &'a Mask,
        data: Option<&'a ScoringData>,
    ) -> Box<dyn ScoreRows + 'a> {
        Box::new(self.score(net, mask, data))
    }
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
/// backward sums of the absolute weights. A round computes these two vectors per layer (two
/// passes over the weights) and the selection recomputes each score from them when it reads a
/// row: `|w| m * (delta[r] h[c])`, a few operations on bytes it must read anyway (the f32
/// weight and the mask flag), where a table of every score would be written and read again.
/// Every sum runs in a fixed order, so the scores do not depend on the thread count.
pub struct SynflowScorer {
    /// Rounds of the exponential schedule.
    pub rounds: usize,
}

/// SynFlow's vectors of one round: what its scores are computed from.
struct SynflowRound<'a> {
    net: &'a Mlp,
    mask: &'a Mask,
    /// `inputs[l]`: the input of layer l on the all-ones image, `h_{l-1}`.
    inputs: Vec<Vec<f64>>,
    /// `deltas[l]`: `dR` by the output of layer l.
    deltas: Vec<Vec<f64>>,
}

/// `|w|` where the mask keeps `w`, else 0: the weight of SynFlow's linearised network. Exact
/// (f32 to f64 and `abs` are), +0.0 for a pruned weight as `|w| * 0` would give.
#[inline(always)]
fn masked_abs(w: f32, kept: bool) -> f64 {
    f64::from_bits(f64::from(w).abs().to_bits() & 0u64.wrapping_sub(u64::from(kept)))
}

/// Rows of the forward pass summed together: independent sums in flight hide the latency of
/// each one's additions, which run in column order as one row's sum alone would.
const FORWARD_ROWS: usize = 8;

/// `sum_c |w[j, c]| m[j, c] x[c]` for `R` consecutive rows of `w` and `m` (row length
/// `x.len()`). Each row's sum starts at zero and adds its columns in order, as
/// `Iterator::sum` would (no product is -0.0: both factors are >= +0).
fn masked_row_sums<const R: usize>(w: &[f32], m: &[bool], x: &[f64]) -> [f64; R] {
    let cols = x.len();
    let w: [&[f32]; R] = std::array::from_fn(|j| &w[j * cols..(j + 1) * cols]);
    let m: [&[bool]; R] = std::array::from_fn(|j| &m[j * cols..(j + 1) * cols]);
    let mut sums = [0.0f64; R];
    for (c, &x) in x.iter().enumerate() {
        for j in 0..R {
            sums[j] += masked_abs(w[j][c], m[j][c]) * x;
        }
    }
    sums
}

impl<'a> SynflowRound<'a> {
    fn new(net: &'a Mlp, mask: &'a Mask) -> Self {
        // Forward: h_0 = 1, h_l = |W_l| h_{l-1} + |b_l| (all non-negative: ReLU is the identity).
        let mut inputs = vec![vec![1.0f64; net.arch.input]];
        for (layer, m) in net.layers.iter().zip(mask.layers()) {
            let (cols, h) = (layer.cols, inputs.last().expect("the input"));
            let mut out = vec![0.0f64; layer.rows];
            out.par_chunks_mut(FORWARD_ROWS)
                .zip(layer.weight.par_chunks(FORWARD_ROWS * cols))
                .zip(m.as_slice().par_chunks(FORWARD_ROWS * cols))
                .zip(layer.bias.par_chunks(FORWARD_ROWS))
                .for_each(|(((out, w), m), b)| {
                    if out.len() == FORWARD_ROWS {
                        out.copy_from_slice(&masked_row_sums::<FORWARD_ROWS>(w, m, h));
                    } else {
                        for (o, (w, m)) in out.iter_mut().zip(w.chunks(cols).zip(m.chunks(cols))) {
                            *o = masked_row_sums::<1>(w, m, h)[0];
                        }
                    }
                    for (o, &b) in out.iter_mut().zip(b) {
                        *o += f64::from(b).abs();
                    }
                });
            inputs.push(out);
        }
        inputs.pop(); // the network's output: no layer reads it
        // Backward: delta_L = 1, delta_{l-1} = |W_l|^T delta_l.
        let depth = net.layers.len();
        let mut deltas = vec![Vec::new(); depth];
        deltas[depth - 1] = vec![1.0f64; net.layers[depth - 1].rows];
        for l in (1..depth).rev() {
            // Column blocks in parallel, rows in order within each: a fixed summation order.
            let (layer, m) = (&net.layers[l], mask.layers()[l].as_slice());
            let cols = layer.cols;
            let mut back = vec![0.0f64; cols];
            back.par_chunks_mut(256)
                .enumerate()
                .for_each(|(block, out)| {
                    glh_model::simd::dispatch(BackwardBlock {
                        weight: &layer.weight,
                        kept: m,
                        cols,
                        start: block * 256,
                        deltas: &deltas[l],
                        out,
                    })
                });
            deltas[l - 1] = back;
        }
        SynflowRound {
            net,
            mask,
            inputs,
            deltas,
        }
    }
}

impl ScoreRows for SynflowRound<'_> {
    fn row_scores(&self, layer: usize, row: usize, out: &mut [f64]) {
        let at = row * out.len()..(row + 1) * out.len();
        glh_model::simd::dispatch(ScoreRow {
            weight: &self.net.layers[layer].weight[at.clone()],
            kept: &self.mask.layers()[layer].as_slice()[at],
            inputs: &self.inputs[layer],
            delta: self.deltas[layer][row],
            out,
        })
    }
}

/// `out[c] += |w[r, c]| m[r, c] delta[r]` over the rows r in order, for the columns
/// `start..start + out.len()`: one column block of SynFlow's backward pass, compiled for the
/// widest vectors ([`glh_model::simd::dispatch`]; one lane per column, the same arithmetic).
struct BackwardBlock<'a> {
    weight: &'a [f32],
    kept: &'a [bool],
    cols: usize,
    start: usize,
    deltas: &'a [f64],
    out: &'a mut [f64],
}

impl pulp::WithSimd for BackwardBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let len = self.out.len();
        for (r, &d) in self.deltas.iter().enumerate() {
            let at = r * self.cols + self.start..r * self.cols + self.start + len;
            let (w, m) = (&self.weight[at.clone()], &self.kept[at]);
            for ((b, &w), &k) in self.out.iter_mut().zip(w).zip(m) {
                *b += masked_abs(w, k) * d;
            }
        }
    }
}

/// One row's scores `|w[c]| m[c] (delta h[c])`, compiled for the widest vectors.
struct ScoreRow<'a> {
    weight: &'a [f32],
    kept: &'a [bool],
    inputs: &'a [f64],
    delta: f64,
    out: &'a mut [f64],
}

impl pulp::WithSimd for ScoreRow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let d = self.delta;
        let pairs = self.weight.iter().zip(self.kept).zip(self.inputs);
        for (s, ((&w, &k), &x)) in self.out.iter_mut().zip(pairs) {
            *s = masked_abs(w, k) * (d * x);
        }
    }
}

impl Scorer for SynflowScorer {
    fn rounds(&self) -> usize {
        self.rounds
    }

    fn key_settings(&self) -> KeySettings {
        KeySettings::from([("synflow_rounds", self.rounds.into())])
    }

    fn score(&self, net: &Mlp, mask: &Mask, _: Option<&ScoringData>) -> Vec<Vec<f64>> {
        let round = SynflowRound::new(net, mask);
        net.layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let mut scores = vec![0.0f64; layer.rows * layer.cols];
                scores
                    .par_chunks_mut(layer.cols)
                    .enumerate()
                    .for_each(|(r, row)| round.row_scores(l, r, row));
                scores
            })
            .collect()
    }

    fn score_rows<'a>(
        &'a self,
        net: &'a Mlp,
        mask: &'a Mask,
        _: Option<&'a ScoringData>,
    ) -> Box<dyn ScoreRows + 'a> {
        Box::new(SynflowRound::new(net, mask))
    }
}
