//! The network's math in f64 on `w ⊙ m`: forward pass, gradients, and the exact
//! Hessian-vector product.
//!
//! Conventions: activations are `(features, batch)` matrices, one column per example; layer l
//! computes `z_l = W_l h_{l-1} + b_l`, hidden layers apply ReLU, the last layer gives logits. The
//! ReLU derivative at exactly 0 is 0 (PyTorch's convention). The loss is the mean over the batch
//! of the cross-entropy of `softmax(z_L / T)` with temperature T (T = 1 for SNIP, 200 for GraSP).
//!
//! Products run on rayon over a fixed partition ([`matmul_blocked`]): the output's longer side
//! is cut into blocks of [`PRODUCT_BLOCK`], each a sequential faer product. faer's own parallel
//! product blocks by thread count, and the scores must not depend on it, or masks would depend on
//! `--jobs`; a fixed partition cannot. Each output entry is the same sum in the same order as in
//! one sequential product (tested to the bit).

use crate::{Mask, Mlp};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

/// An MLP's effective parameters in f64.
#[derive(Clone, Debug)]
pub struct Network64 {
    /// `W_l`, shape `(out, in)`.
    pub weights: Vec<Mat<f64>>,
    /// `b_l`.
    pub biases: Vec<Vec<f64>>,
}

impl Network64 {
    /// `W_l = w_l ⊙ m_l` and the biases, promoted exactly to f64.
    pub fn masked(mlp: &Mlp, mask: &Mask) -> Self {
        Self::build(mlp, mask, |x| x)
    }

    fn build(mlp: &Mlp, mask: &Mask, f: impl Fn(f64) -> f64 + Copy + Sync) -> Self {
        let weights = mlp
            .layers
            .iter()
            .zip(mask.layers())
            .map(|(layer, m)| {
                // Row-major f32 into column-major f64: blocks of columns in parallel, each read
                // row by row in runs of the block's width (a tiled transpose, not a strided one).
                let keep = m.as_slice();
                let mut w = Mat::zeros(layer.rows, layer.cols);
                w.as_mut()
                    .par_col_chunks_mut(PRODUCT_BLOCK)
                    .enumerate()
                    .for_each(|(b, mut block)| {
                        let first = b * PRODUCT_BLOCK;
                        for r in 0..layer.rows {
                            let row = r * layer.cols + first;
                            for j in 0..block.ncols() {
                                if keep[row + j] {
                                    block[(r, j)] = f(f64::from(layer.weight[row + j]));
                                }
                            }
                        }
                    });
                w
            })
            .collect();
        let biases = mlp
            .layers
            .iter()
            .map(|l| l.bias.iter().map(|&b| f(f64::from(b))).collect())
            .collect();
        Network64 { weights, biases }
    }

    /// Number of layers L.
    pub fn depth(&self) -> usize {
        self.weights.len()
    }
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct Activations {
    /// `h_{l-1}`, the input of layer l (`inputs[0]` is the data).
    pub inputs: Vec<Mat<f64>>,
    /// `z_l`, the pre-activations of layer l (`pre[L-1]` are the logits).
    pub pre: Vec<Mat<f64>>,
}

impl Activations {
    /// The logits `z_L`.
    pub fn logits(&self) -> &Mat<f64> {
        self.pre.last().expect("at least one layer")
    }
}

/// Examples stored one per row (`examples x features`, row-major f32, as the data stage
/// delivers images) as the `(features, batch)` f64 matrix the network math takes.
pub fn examples_as_columns(rows: &[f32], features: usize) -> Mat<f64> {
    assert_eq!(rows.len() % features, 0, "whole examples");
    Mat::from_fn(features, rows.len() / features, |i, j| {
        f64::from(rows[j * features + i])
    })
}

/// `a b`, sequentially.
pub fn matmul_seq(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut c = Mat::zeros(a.nrows(), b.ncols());
    matmul(c.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
    c
}

/// Output rows or columns per task of [`matmul_blocked`].
pub const PRODUCT_BLOCK: usize = 128;

/// `a b` on rayon: the output's longer side in blocks of [`PRODUCT_BLOCK`] rows (of `a`) or
/// columns (of `b`), each block a sequential product. The partition depends on the shapes only.
pub fn matmul_blocked(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut c = Mat::zeros(a.nrows(), b.ncols());
    if c.nrows() >= c.ncols() {
        c.as_mut()
            .par_row_chunks_mut(PRODUCT_BLOCK)
            .enumerate()
            .for_each(|(i, block)| {
                let rows = a.subrows(i * PRODUCT_BLOCK, block.nrows());
                matmul(block, Accum::Replace, rows, b, 1.0, Par::Seq);
            });
    } else {
        c.as_mut()
            .par_col_chunks_mut(PRODUCT_BLOCK)
            .enumerate()
            .for_each(|(i, block)| {
                let cols = b.subcols(i * PRODUCT_BLOCK, block.ncols());
                matmul(block, Accum::Replace, a, cols, 1.0, Par::Seq);
            });
    }
    c
}

fn relu_grad(z: f64) -> f64 {
    if z > 0.0 { 1.0 } else { 0.0 }
}

/// The forward pass on `x` of shape `(input, batch)`.
pub fn forward(net: &Network64, x: &Mat<f64>) -> Activations {
    let depth = net.depth();
    let mut inputs = vec![x.clone()];
    let mut pre = Vec::with_capacity(depth);
    for l in 0..depth {
        let mut z = matmul_blocked(net.weights[l].as_ref(), inputs[l].as_ref());
        let b = &net.biases[l];
        for j in 0..z.ncols() {
            for (i, bi) in b.iter().enumerate() {
                z[(i, j)] += bi;
            }
        }
        if l + 1 < depth {
            inputs.push(Mat::from_fn(z.nrows(), z.ncols(), |i, j| {
                z[(i, j)].max(0.0)
            }));
        }
        pre.push(z);
    }
    Activations { inputs, pre }
}

/// Column-wise `softmax(z / T)`.
fn softmax(logits: &Mat<f64>, temperature: f64) -> Mat<f64> {
    let mut p = Mat::zeros(logits.nrows(), logits.ncols());
    for j in 0..logits.ncols() {
        let max = (0..logits.nrows())
            .map(|i| logits[(i, j)] / temperature)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for i in 0..logits.nrows() {
            let e = (logits[(i, j)] / temperature - max).exp();
            p[(i, j)] = e;
            sum += e;
        }
        for i in 0..logits.nrows() {
            p[(i, j)] /= sum;
        }
    }
    p
}

/// Mean cross-entropy of `softmax(z / T)` against `labels`, and its gradient with respect to
/// the logits, `(softmax(z / T) - onehot) / (T B)`.
pub fn cross_entropy(logits: &Mat<f64>, labels: &[u8], temperature: f64) -> (f64, Mat<f64>) {
    let batch = logits.ncols();
    assert_eq!(labels.len(), batch, "one label per example");
    let p = softmax(logits, temperature);
    let loss = -(0..batch)
        .map(|j| p[(usize::from(labels[j]), j)].ln())
        .sum::<f64>()
        / batch as f64;
    let scale = 1.0 / (temperature * batch as f64);
    let delta = Mat::from_fn(p.nrows(), batch, |i, j| {
        let y = if i == usize::from(labels[j]) {
            1.0
        } else {
            0.0
        };
        (p[(i, j)] - y) * scale
    });
    (loss, delta)
}

/// Back-propagates `delta_out = dF/dz_L` and returns `dF/dz_l` for every layer.
pub fn backward(net: &Network64, acts: &Activations, delta_out: Mat<f64>) -> Vec<Mat<f64>> {
    let depth = net.depth();
    let mut deltas = vec![Mat::zeros(0, 0); depth];
    deltas[depth - 1] = delta_out;
    for l in (0..depth - 1).rev() {
        let back = matmul_blocked(
            net.weights[l + 1].as_ref().transpose(),
            deltas[l + 1].as_ref(),
        );
        let z = &acts.pre[l];
        deltas[l] = Mat::from_fn(back.nrows(), back.ncols(), |i, j| {
            back[(i, j)] * relu_grad(z[(i, j)])
        });
    }
    deltas
}

/// `dF/dW_l = delta_l h_{l-1}^T` for every layer.
pub fn weight_gradients(acts: &Activations, deltas: &[Mat<f64>]) -> Vec<Mat<f64>> {
    deltas
        .iter()
        .zip(&acts.inputs)
        .map(|(d, h)| matmul_blocked(d.as_ref(), h.as_ref().transpose()))
        .collect()
}

/// A forward and a backward pass: what the gradient and the Hessian-vector product share.
#[derive(Clone, Debug)]
pub struct Backprop {
    /// The loss at temperature T.
    pub loss: f64,
    /// The temperature T.
    pub temperature: f64,
    /// The forward pass.
    pub acts: Activations,
    /// `dL/dz_l` for every layer.
    pub deltas: Vec<Mat<f64>>,
}

/// The forward and backward passes of the loss on `(x, labels)` at temperature T.
pub fn backprop(net: &Network64, x: &Mat<f64>, labels: &[u8], temperature: f64) -> Backprop {
    let acts = forward(net, x);
    let (loss, delta) = cross_entropy(acts.logits(), labels, temperature);
    let deltas = backward(net, &acts, delta);
    Backprop {
        loss,
        temperature,
        acts,
        deltas,
    }
}

/// The loss on `(x, labels)` at temperature T and its gradient with respect to every `W_l`.
pub fn loss_gradient(
    net: &Network64,
    x: &Mat<f64>,
    labels: &[u8],
    temperature: f64,
) -> (f64, Vec<Mat<f64>>) {
    let passes = backprop(net, x, labels, temperature);
    (passes.loss, weight_gradients(&passes.acts, &passes.deltas))
}

/// The exact Hessian-vector product `H v` of the loss with respect to the weights, for a
/// direction `v` over the weights (biases held fixed), by Pearlmutter's R-operator
/// (forward-over-reverse): one forward pass of `R{z_l} = V_l h_{l-1} + W_l R{h_{l-1}}`, then one
/// backward pass of `R{delta}`, then `R{dL/dW_l} = R{delta_l} h_{l-1}^T + delta_l R{h_{l-1}}^T`.
/// ReLU's second derivative is zero almost everywhere, so it adds no term.
pub fn hessian_vector_product(
    net: &Network64,
    x: &Mat<f64>,
    labels: &[u8],
    temperature: f64,
    v: &[Mat<f64>],
) -> Vec<Mat<f64>> {
    hessian_vector_product_at(net, &backprop(net, x, labels, temperature), v)
}

/// [`hessian_vector_product`] at passes already made (GraSP's gradient made them).
pub fn hessian_vector_product_at(
    net: &Network64,
    passes: &Backprop,
    v: &[Mat<f64>],
) -> Vec<Mat<f64>> {
    let depth = net.depth();
    assert_eq!(v.len(), depth, "one direction per layer");
    let (acts, deltas, temperature) = (&passes.acts, &passes.deltas, passes.temperature);
    let x = &acts.inputs[0];

    // Forward R pass: r_inputs[l] = R{h_{l-1}}, r_pre[l] = R{z_l}.
    let mut r_inputs = vec![Mat::zeros(x.nrows(), x.ncols())];
    let mut r_pre = Vec::with_capacity(depth);
    for l in 0..depth {
        let mut rz = matmul_blocked(v[l].as_ref(), acts.inputs[l].as_ref());
        if l > 0 {
            rz += matmul_blocked(net.weights[l].as_ref(), r_inputs[l].as_ref());
        }
        if l + 1 < depth {
            let z = &acts.pre[l];
            r_inputs.push(Mat::from_fn(rz.nrows(), rz.ncols(), |i, j| {
                rz[(i, j)] * relu_grad(z[(i, j)])
            }));
        }
        r_pre.push(rz);
    }

    // Output: delta_L = (p - y) / (T B), so R{delta_L} = J_softmax R{z_L} / (T^2 B), where
    // J u = p ⊙ u - p (p · u) column by column.
    let logits = acts.logits();
    let p = softmax(logits, temperature);
    let rz = &r_pre[depth - 1];
    let scale = 1.0 / (temperature * temperature * logits.ncols() as f64);
    let mut r_delta_out = Mat::zeros(p.nrows(), p.ncols());
    for j in 0..p.ncols() {
        let dot: f64 = (0..p.nrows()).map(|i| p[(i, j)] * rz[(i, j)]).sum();
        for i in 0..p.nrows() {
            r_delta_out[(i, j)] = p[(i, j)] * (rz[(i, j)] - dot) * scale;
        }
    }

    // Backward pass of R{delta}, beside the deltas of the passes.
    let mut r_deltas = vec![Mat::zeros(0, 0); depth];
    r_deltas[depth - 1] = r_delta_out;
    for l in (0..depth - 1).rev() {
        let mut back = matmul_blocked(v[l + 1].as_ref().transpose(), deltas[l + 1].as_ref());
        back += matmul_blocked(
            net.weights[l + 1].as_ref().transpose(),
            r_deltas[l + 1].as_ref(),
        );
        let z = &acts.pre[l];
        r_deltas[l] = Mat::from_fn(back.nrows(), back.ncols(), |i, j| {
            back[(i, j)] * relu_grad(z[(i, j)])
        });
    }

    (0..depth)
        .map(|l| {
            let mut hv = matmul_blocked(r_deltas[l].as_ref(), acts.inputs[l].as_ref().transpose());
            if l > 0 {
                hv += matmul_blocked(deltas[l].as_ref(), r_inputs[l].as_ref().transpose());
            }
            hv
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Architecture;
    use glh_artifacts::seeding::stream;
    use rand_chacha::rand_core::Rng;

    #[test]
    fn blocked_products_equal_one_sequential_product_to_the_bit() {
        // The shapes of scoring at widths 1000 and 2000 with 100 images, as the passes take them:
        // W x (rows split), W^T delta (rows split), delta h^T (columns split), and odd sizes.
        let mut rng = stream(11, "test/blocked");
        let mut random = |r: usize, c: usize| {
            Mat::from_fn(r, c, |_, _| crate::mlp::unit_f64(rng.next_u64()) - 0.5)
        };
        for (m, k, n) in [
            (1000, 784, 100),
            (2000, 2000, 100),
            (784, 1000, 100),
            (1000, 100, 784),
            (2000, 100, 2000),
            (10, 2000, 100),
            (300, 7, 129),
        ] {
            let (a, b) = (random(m, k), random(k, n));
            let (want, got) = (
                matmul_seq(a.as_ref(), b.as_ref()),
                matmul_blocked(a.as_ref(), b.as_ref()),
            );
            let differ = (0..m)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .filter(|&(i, j)| want[(i, j)].to_bits() != got[(i, j)].to_bits())
                .count();
            assert_eq!(differ, 0, "{m}x{k}x{n}");
            // Transposed operands, as the backward pass and the weight gradient take them.
            let (at, bt) = (random(k, m), random(n, k));
            let want = matmul_seq(at.as_ref().transpose(), bt.as_ref().transpose());
            let got = matmul_blocked(at.as_ref().transpose(), bt.as_ref().transpose());
            assert!(want == got, "{m}x{k}x{n} transposed");
        }
    }

    /// A tiny net `6 -> 5 -> 4 -> 3` with random data, in f64.
    fn tiny() -> (Network64, Mat<f64>, Vec<u8>) {
        let arch = Architecture {
            input: 6,
            width: 5,
            depth: 3,
            classes: 3,
        };
        let mlp = Mlp::init(arch, 11);
        let net = Network64::masked(&mlp, &Mask::full(&arch));
        let mut rng = stream(5, "test");
        let x = Mat::from_fn(6, 4, |_, _| {
            crate::mlp::unit_f64(rng.next_u64()) * 2.0 - 0.5
        });
        (net, x, vec![0, 2, 1, 2])
    }

    fn perturbed(net: &Network64, v: &[Mat<f64>], eps: f64) -> Network64 {
        let mut out = net.clone();
        for (w, d) in out.weights.iter_mut().zip(v) {
            *w += Mat::from_fn(d.nrows(), d.ncols(), |i, j| eps * d[(i, j)]);
        }
        out
    }

    fn rel_err(a: &[Mat<f64>], b: &[Mat<f64>]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for (x, y) in a.iter().zip(b) {
            for j in 0..x.ncols() {
                for i in 0..x.nrows() {
                    num += (x[(i, j)] - y[(i, j)]).powi(2);
                    den += y[(i, j)].powi(2);
                }
            }
        }
        (num / den).sqrt()
    }

    #[test]
    fn gradient_matches_central_differences() {
        let (net, x, y) = tiny();
        let (_, grads) = loss_gradient(&net, &x, &y, 1.0);
        let h = 1e-6;
        for l in 0..net.depth() {
            for (i, j) in [(0, 0), (1, 2), (2, 3)] {
                let mut e = net
                    .weights
                    .iter()
                    .map(|w| Mat::zeros(w.nrows(), w.ncols()))
                    .collect::<Vec<_>>();
                e[l][(i, j)] = 1.0;
                let up = loss_gradient(&perturbed(&net, &e, h), &x, &y, 1.0).0;
                let down = loss_gradient(&perturbed(&net, &e, -h), &x, &y, 1.0).0;
                let fd = (up - down) / (2.0 * h);
                assert!(
                    (fd - grads[l][(i, j)]).abs() < 1e-8,
                    "layer {l} ({i},{j}): {fd} vs {}",
                    grads[l][(i, j)]
                );
            }
        }
    }

    #[test]
    fn hessian_vector_product_matches_central_differences_of_gradients() {
        // METHOD.md: GraSP's Hg must be exact; checked in f64 against (g(w + eps v) -
        // g(w - eps v)) / (2 eps) at a smooth point (no ReLU input near 0), both temperatures.
        let (net, x, y) = tiny();
        let acts = forward(&net, &x);
        let min_abs = acts.pre[..net.depth() - 1]
            .iter()
            .flat_map(|z| {
                (0..z.ncols()).flat_map(move |j| (0..z.nrows()).map(move |i| z[(i, j)].abs()))
            })
            .fold(f64::INFINITY, f64::min);
        assert!(min_abs > 1e-4, "test point must be away from ReLU kinks");
        for temperature in [1.0, 200.0] {
            let (_, g) = loss_gradient(&net, &x, &y, temperature);
            let hv = hessian_vector_product(&net, &x, &y, temperature, &g);
            let eps = 1e-5 / g.iter().map(|m| m.norm_l2()).fold(0.0, f64::max);
            let up = loss_gradient(&perturbed(&net, &g, eps), &x, &y, temperature).1;
            let down = loss_gradient(&perturbed(&net, &g, -eps), &x, &y, temperature).1;
            let fd: Vec<Mat<f64>> = up
                .iter()
                .zip(&down)
                .map(|(a, b)| {
                    Mat::from_fn(a.nrows(), a.ncols(), |i, j| {
                        (a[(i, j)] - b[(i, j)]) / (2.0 * eps)
                    })
                })
                .collect();
            let err = rel_err(&hv, &fd);
            assert!(err < 1e-6, "T = {temperature}: relative error {err}");
        }
    }
}
