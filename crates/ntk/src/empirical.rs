//! The empirical NTK of a finite masked MLP in NTK parameterisation (METHOD.md section 4).
//!
//! The network is `z_l = sqrt(sigma_w^2 / n_{l-1}) (V_l ⊙ M_l) h_{l-1}`, `h_l = relu(z_l)`, no
//! biases, `V ~ N(0, 1)`, and the kernel is the mean over the 10 logits of the inner product of
//! their gradients with respect to the kept entries of V. Layer l contributes
//!
//! ```text
//! (sigma_w^2 / n_{l-1}) sum_i [sum_o delta^o_i(a) delta^o_i(b)] [sum_j M_ij h_j(a) h_j(b)]
//! ```
//!
//! with `delta^o = d f_o / d z_l`: the second bracket is `M_l @ (h(a) ⊙ h(b))`, one matrix
//! product per chunk of pairs, so no Jacobian is ever formed and memory is bounded by the chunk
//! (the deltas of all layers take `sum_l n_l x 10 N` numbers). ReLU'(0) = 0.
//!
//! Weight draw t is `glh_model::ntk_init::standard_normal_weights` (the stream
//! `ntk/empirical/draw-t` of the run seed, layer by layer, row-major).

use crate::chain::mask_matrix;
use crate::pairs::{CHUNK, pair_products, symmetric_from_pairs, upper_pairs};
use crate::products::{LayerProduct, dense_product};
use faer::Mat;
use glh_model::LayerMask;
use glh_model::ntk_init::standard_normal_weights;
use rayon::prelude::*;

/// The weights `V_l ~ N(0, 1)` of draw `draw`, one matrix per layer in the masks' shapes
/// (`glh_model::ntk_init`: draw 0 is the network the training stage trains in NTK
/// parameterisation).
pub fn draw_weights(masks: &[LayerMask], seed: u64, draw: u32) -> Vec<Mat<f64>> {
    let shapes: Vec<(usize, usize)> = masks.iter().map(|m| (m.rows(), m.cols())).collect();
    standard_normal_weights(&shapes, seed, draw)
        .into_iter()
        .zip(&shapes)
        .map(|(values, &(rows, cols))| Mat::from_fn(rows, cols, |r, c| values[r * cols + c]))
        .collect()
}

/// The empirical NTK averaged over `draws` weight draws, on the columns of `x` (`d x N`).
pub fn empirical_ntk(
    masks: &[LayerMask],
    x: &Mat<f64>,
    sigma_w2: f64,
    draws: u32,
    seed: u64,
) -> Mat<f64> {
    assert!(draws > 0, "at least one weight draw");
    let mut sum = Mat::<f64>::zeros(x.ncols(), x.ncols());
    for draw in 0..draws {
        let v = draw_weights(masks, seed, draw);
        sum += empirical_ntk_of(masks, &v, x, sigma_w2);
    }
    sum * faer::Scale(1.0 / f64::from(draws))
}

/// What the kernels of one network need: the masks as 0/1 matrices, every layer's input
/// `h[l]` (`h[0] = x`) and, per output o, `deltas[o][l] = d f_o / d z_(l+1)`.
struct Passes {
    m: Vec<Mat<f64>>,
    h: Vec<Mat<f64>>,
    deltas: Vec<Vec<Mat<f64>>>,
}

impl Passes {
    /// The masks as layer products, built once for every chunk's products: sparse below
    /// [`crate::products::SPARSE_BELOW_DENSITY`], as the mask-level chain's layers are.
    fn mask_layers(&self) -> Vec<LayerProduct<'_>> {
        self.m.iter().map(LayerProduct::new).collect()
    }
}

fn forward_backward(masks: &[LayerMask], v: &[Mat<f64>], x: &Mat<f64>, sigma_w2: f64) -> Passes {
    let depth = masks.len();
    let n = x.ncols();
    let m: Vec<Mat<f64>> = masks.iter().map(mask_matrix).collect();
    let w: Vec<Mat<f64>> = v
        .iter()
        .zip(&m)
        .map(|(v, m)| {
            let scale = (sigma_w2 / m.ncols() as f64).sqrt();
            Mat::from_fn(m.nrows(), m.ncols(), |r, c| scale * v[(r, c)] * m[(r, c)])
        })
        .collect();
    // Forward: h[l] is the input of layer l + 1; z[l] its pre-activation.
    let mut h = vec![x.clone()];
    let mut z = Vec::with_capacity(depth);
    for l in 0..depth {
        let pre = dense_product(w[l].as_ref(), h[l].as_ref(), 1.0);
        if l + 1 < depth {
            h.push(Mat::from_fn(pre.nrows(), n, |i, a| pre[(i, a)].max(0.0)));
        }
        z.push(pre);
    }
    // Backward, one output at a time (in parallel): deltas[o][l] = d f_o / d z_{l+1}.
    let outputs = masks[depth - 1].rows();
    let deltas: Vec<Vec<Mat<f64>>> = (0..outputs)
        .into_par_iter()
        .map(|o| {
            let mut per_layer = vec![Mat::from_fn(outputs, n, |i, _| f64::from(u8::from(i == o)))];
            for l in (0..depth - 1).rev() {
                let back = dense_product(
                    w[l + 1].transpose(),
                    per_layer.last().unwrap().as_ref(),
                    1.0,
                );
                let gated = Mat::from_fn(back.nrows(), n, |i, a| {
                    if z[l][(i, a)] > 0.0 {
                        back[(i, a)]
                    } else {
                        0.0
                    }
                });
                per_layer.push(gated);
            }
            per_layer.reverse();
            per_layer
        })
        .collect();
    Passes { m, h, deltas }
}

/// The empirical NTK of one network with weights `v` (the masks' shapes) on the columns of `x`.
pub fn empirical_ntk_of(
    masks: &[LayerMask],
    v: &[Mat<f64>],
    x: &Mat<f64>,
    sigma_w2: f64,
) -> Mat<f64> {
    let depth = masks.len();
    let n = x.ncols();
    let passes = forward_backward(masks, v, x, sigma_w2);
    let layers = passes.mask_layers();
    let Passes { m, h, deltas } = &passes;
    let outputs = deltas.len();
    let pairs = upper_pairs(n);
    let values: Vec<f64> = pairs
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let mut k = vec![0.0; chunk.len()];
            for l in 0..depth {
                let ones = vec![1.0; h[l].nrows()];
                let t = layers[l].product(pair_products(&h[l], chunk, &ones).as_ref(), 1.0);
                let scale = sigma_w2 / m[l].ncols() as f64 / outputs as f64;
                // dd[:, p] = sum_o delta^o(a) ⊙ delta^o(b), column slices for contiguous access.
                let mut dd = Mat::<f64>::zeros(t.nrows(), chunk.len());
                for d in deltas {
                    for (p, &(a, b)) in chunk.iter().enumerate() {
                        let (da, db) = (d[l].col_as_slice(a), d[l].col_as_slice(b));
                        for ((s, x), y) in dd.col_as_slice_mut(p).iter_mut().zip(da).zip(db) {
                            *s += x * y;
                        }
                    }
                }
                for (p, k_p) in k.iter_mut().enumerate() {
                    let dot: f64 = dd
                        .col_as_slice(p)
                        .iter()
                        .zip(t.col_as_slice(p))
                        .map(|(x, y)| x * y)
                        .sum();
                    *k_p += scale * dot;
                }
            }
            k
        })
        .collect();
    symmetric_from_pairs(n, &pairs, &values)
}

/// The full empirical NTK of one network with weights `v` on the columns of `x`, cross-output
/// terms included: the `(O N) x (O N)` matrix whose entry `(o N + a, o' N + b)` is
/// `<d f_o(x_a) / dV, d f_o'(x_b) / dV>` over the kept weights, for O outputs and N points
/// (output-major, so the diagonal blocks are each output's own kernel and their mean is
/// [`empirical_ntk_of`]). Layer l contributes `(sigma_w^2 / n_(l-1)) sum_i delta^o_i(a)
/// delta^o'_i(b) [M_l (h(a) ⊙ h(b))]_i`.
pub fn empirical_ntk_full(
    masks: &[LayerMask],
    v: &[Mat<f64>],
    x: &Mat<f64>,
    sigma_w2: f64,
) -> Mat<f64> {
    let depth = masks.len();
    let n = x.ncols();
    let passes = forward_backward(masks, v, x, sigma_w2);
    let layers = passes.mask_layers();
    let Passes { m, h, deltas } = &passes;
    let outputs = deltas.len();
    let pairs = upper_pairs(n);
    // Per chunk, per pair, the O x O block (row-major: o * O + o').
    let blocks: Vec<Vec<f64>> = pairs
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let mut out = vec![vec![0.0; outputs * outputs]; chunk.len()];
            for l in 0..depth {
                let ones = vec![1.0; h[l].nrows()];
                let t = layers[l].product(pair_products(&h[l], chunk, &ones).as_ref(), 1.0);
                let scale = sigma_w2 / m[l].ncols() as f64;
                let mut weighted = vec![0.0; t.nrows()];
                for (p, &(a, b)) in chunk.iter().enumerate() {
                    let t_p = t.col_as_slice(p);
                    for (o, d_o) in deltas.iter().enumerate() {
                        for ((w, x), y) in weighted.iter_mut().zip(d_o[l].col_as_slice(a)).zip(t_p)
                        {
                            *w = x * y;
                        }
                        for (o2, d_o2) in deltas.iter().enumerate() {
                            let dot: f64 = weighted
                                .iter()
                                .zip(d_o2[l].col_as_slice(b))
                                .map(|(x, y)| x * y)
                                .sum();
                            out[p][o * outputs + o2] += scale * dot;
                        }
                    }
                }
            }
            out
        })
        .collect();
    let mut k = Mat::zeros(outputs * n, outputs * n);
    for (&(a, b), block) in pairs.iter().zip(&blocks) {
        for o in 0..outputs {
            for o2 in 0..outputs {
                let value = block[o * outputs + o2];
                k[(o * n + a, o2 * n + b)] = value;
                k[(o2 * n + b, o * n + a)] = value;
            }
        }
    }
    k
}

/// Floating-point operations of the pair products of one draw (as counted for GFLOP/s).
pub fn empirical_ntk_flops(masks: &[LayerMask], n_points: usize) -> f64 {
    let pairs = (n_points * (n_points + 1) / 2) as f64;
    masks
        .iter()
        .map(|m| 2.0 * (m.rows() * m.cols()) as f64 * pairs)
        .sum()
}
