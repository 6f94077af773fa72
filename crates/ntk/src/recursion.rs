//! The Graphon NTK recursion (METHOD.md section 4) on any [`GraphonChain`], as matrix products.
//!
//! For a chunk of data pairs p = (a, b), every layer's `Sigma_l(u; a, b)` and `Theta_l(u; a, b)`
//! are `positions x pairs` matrices, and the integrals over v are one product with the layer:
//!
//! ```text
//! Sigma_1           = sigma_w^2 W_1 [mu_0 ⊙ (x_a ⊙ x_b)]
//! [Sigma' | Dot]    = sigma_w^2 W_{l+1} [mu_l ⊙ E_l | mu_l ⊙ Edot_l ⊙ Theta_l]
//! Theta_{l+1}       = Sigma' + Dot
//! Theta(a, b)       = sum_u mu_L(u) Theta_L(u; a, b)
//! ```
//!
//! `E_l`, `Edot_l` of a pair need the variances `Sigma_l(u; a, a)` and `Sigma_l(u; b, b)`, so a
//! first pass runs the N diagonal pairs and keeps them; the second pass runs all N(N+1)/2 pairs
//! `a <= b` in fixed chunks, in parallel, each with sequential products (see [`crate::pairs`]).
//! Cost: `2 sum_l rows_l cols_l` flops per pair, twice for hidden layers (E and Edot Theta).

use crate::chain::GraphonChain;
use crate::input_layer::InputLayer;
use crate::pairs::{
    CHUNK, diagonal_pairs, matrix, matrix_mut, prefix_mut, symmetric_from_pairs, upper_pairs,
};
use crate::products::LayerProduct;
use crate::relu::relu_moments_of_positions;
use faer::{Mat, MatMut, MatRef};
use rayon::prelude::*;
use std::cell::RefCell;

/// What one chunk of pairs yields.
struct ChunkOutput {
    /// `Theta_L(u; a, b)`: one row per output position u, one column per pair.
    theta: Mat<f64>,
    /// `Sigma_l(.; a, b)` for the hidden layers l = 1..L-1 (kept in the diagonal pass only).
    hidden_sigma: Vec<Mat<f64>>,
}

/// The buffers a chunk's recursion writes into, reused from chunk to chunk by one worker.
///
/// Why: a fresh zeroed matrix per layer and chunk, and element-by-element copies of the next
/// `Sigma` and `Theta`, cost about a tenth of a K = 64 kernel (profile, issue #30). Every entry
/// a chunk reads is written by that chunk first, so reuse never changes a bit.
#[derive(Default)]
struct Workspace {
    /// `mu_0 ⊙ x_a ⊙ x_b`, input positions x pairs (the pair-products route of the first
    /// layer).
    inputs: Vec<f64>,
    /// `[mu_l ⊙ E_l | mu_l ⊙ Edot_l ⊙ Theta_l]`, positions x 2 pairs.
    rhs: Vec<f64>,
    /// The layer's product of `rhs`, next positions x 2 pairs.
    out: Vec<f64>,
    /// `Sigma_l` and `Theta_l`, positions x pairs.
    sigma: Vec<f64>,
    theta: Vec<f64>,
    /// The first layer of several chains at once ([`graphon_ntks`]), their positions stacked x
    /// pairs.
    stacked: Vec<f64>,
}

thread_local! {
    /// Each worker thread's [`Workspace`], kept from chunk to chunk and kernel to kernel (a few
    /// MB a thread). Per thread, not per rayon split (`map_init`), which would allocate afresh
    /// for every split. `propagate` starts no parallel work, so the borrow never nests.
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// What every chunk of one kernel shares: the chain, its layers' products and the inputs.
struct Recursion<'a> {
    chain: &'a GraphonChain,
    input: InputLayer<'a>,
    layers: &'a [LayerProduct<'a>],
    x: &'a Mat<f64>,
    sigma_w2: f64,
}

/// Runs `pairs` through every layer. `variances[l - 1]` holds `Sigma_l(u; a, a)` in column a
/// for the hidden layers; `None` in the diagonal pass, where each pair is its own variance.
/// `first`, when given, is the chain's first layer for these pairs already (its rows of a
/// stacked product, [`graphon_ntks`]); otherwise the chain's own input layer computes it.
fn propagate(
    recursion: &Recursion,
    pairs: &[(usize, usize)],
    variances: Option<&[Mat<f64>]>,
    first: Option<MatRef<'_, f64>>,
    ws: &mut Workspace,
) -> ChunkOutput {
    let Recursion {
        chain,
        ref input,
        layers,
        x,
        sigma_w2,
    } = *recursion;
    let measures = chain.measures();
    let c = pairs.len();
    let mut rows = layers[0].rows();
    match first {
        Some(first) => matrix_mut(&mut ws.sigma, rows, c).copy_from(first),
        None => input.product_into(
            x,
            pairs,
            matrix_mut(&mut ws.sigma, rows, c),
            sigma_w2,
            &mut ws.inputs,
        ),
    }
    prefix_mut(&mut ws.theta, rows * c).copy_from_slice(&ws.sigma[..rows * c]);
    let mut hidden_sigma = Vec::new();
    for l in 1..chain.depth() {
        let mu = &measures[l];
        let (sigma, theta) = (&ws.sigma[..rows * c], &ws.theta[..rows * c]);
        let mut rhs = matrix_mut(&mut ws.rhs, rows, 2 * c);
        for (p, &(a, b)) in pairs.iter().enumerate() {
            // A diagonal pair is its own variance, so that rho is exactly 1: acos is
            // ill-conditioned there and a last-bit difference would move Edot by ~1e-9.
            let (q_a, q_b) = match variances {
                Some(v) if a != b => (v[l - 1].col_as_slice(a), v[l - 1].col_as_slice(b)),
                _ => (column(sigma, rows, p), column(sigma, rows, p)),
            };
            let (e, dot) = two_columns_mut(rhs.as_mut(), p, c + p);
            let (s, t) = (column(sigma, rows, p), column(theta, rows, p));
            relu_moments_of_positions((q_a, q_b, s, t), mu, e, dot);
        }
        if variances.is_none() {
            hidden_sigma.push(matrix(&ws.sigma, rows, c).to_owned());
        }
        let next = layers[l].rows();
        layers[l].product_into(
            matrix(&ws.rhs, rows, 2 * c),
            matrix_mut(&mut ws.out, next, 2 * c),
            sigma_w2,
        );
        // Column-major: the first c columns of `out` are W E, the next sigma, and the last c
        // are W (Edot Theta). The buffers trade places instead of copying the next sigma:
        // `sigma` is the prefix of what was `out` (`out` is written whole before it is read).
        std::mem::swap(&mut ws.sigma, &mut ws.out);
        let (next_sigma, dot) = ws.sigma[..2 * next * c].split_at(next * c);
        let next_theta = prefix_mut(&mut ws.theta, next * c);
        for ((t, &s), &d) in next_theta.iter_mut().zip(next_sigma).zip(dot) {
            *t = s + d;
        }
        rows = next;
    }
    ChunkOutput {
        theta: matrix(&ws.theta, rows, c).to_owned(),
        hidden_sigma,
    }
}

/// Column `p` of a column-major matrix of `rows` rows held in `m`.
fn column(m: &[f64], rows: usize, p: usize) -> &[f64] {
    &m[p * rows..(p + 1) * rows]
}

/// Columns `i < j` of `m`, both mutable.
fn two_columns_mut(m: MatMut<'_, f64>, i: usize, j: usize) -> (&mut [f64], &mut [f64]) {
    fn column(c: faer::ColMut<'_, f64>) -> &mut [f64] {
        c.try_as_col_major_mut()
            .expect("a column-major matrix's columns are contiguous")
            .as_slice_mut()
    }
    let (left, right) = m.split_at_col_mut(j);
    let (left, right) = (left.col_mut(i), right.col_mut(0));
    (column(left), column(right))
}

/// `Theta(a, b) = sum_u mu_L(u) Theta_L(u; a, b)` of each pair (column) of `theta`.
fn output_mean(theta: &Mat<f64>, mu_out: &[f64]) -> Vec<f64> {
    (0..theta.ncols())
        .map(|p| {
            theta
                .col_as_slice(p)
                .iter()
                .zip(mu_out)
                .map(|(t, m)| t * m)
                .sum()
        })
        .collect()
}

/// The Graphon NTK `Theta(x_a, x_b)` of `chain` on the columns of `x` (`d x N`), an `N x N`
/// symmetric matrix: the mean of the output positions' kernels under their measure.
/// Deterministic for any number of threads.
pub fn graphon_ntk(chain: &GraphonChain, x: &Mat<f64>, sigma_w2: f64) -> Mat<f64> {
    let layers = layer_products(chain, x);
    kernel_of(&Recursion::new(chain, &layers, x, sigma_w2))
}

/// [`graphon_ntk`] of a recursion built already.
fn kernel_of(recursion: &Recursion) -> Mat<f64> {
    let chain = recursion.chain;
    let mu_out = &chain.measures()[chain.depth()];
    let (pairs, chunks) = output_kernels_by_chunk(recursion);
    let values: Vec<f64> = chunks
        .iter()
        .flat_map(|theta| output_mean(theta, mu_out))
        .collect();
    symmetric_from_pairs(recursion.x.ncols(), &pairs, &values)
}

/// The kernel of every output position u, `Theta_L(u; x_a, x_b)`, on the columns of `x`: one
/// `N x N` matrix per output (for the mask-level chain, per output neuron; the infinite-width
/// NTK of a network is block-diagonal over its outputs, with these blocks). Their mean under
/// the output measure is [`graphon_ntk`], to the bit.
pub fn graphon_ntk_per_output(chain: &GraphonChain, x: &Mat<f64>, sigma_w2: f64) -> Vec<Mat<f64>> {
    let outputs = chain.measures()[chain.depth()].len();
    let layers = layer_products(chain, x);
    let (pairs, chunks) = output_kernels_by_chunk(&Recursion::new(chain, &layers, x, sigma_w2));
    (0..outputs)
        .map(|u| {
            let values: Vec<f64> = chunks
                .iter()
                .flat_map(|theta| (0..theta.ncols()).map(move |p| theta[(u, p)]))
                .collect();
            symmetric_from_pairs(x.ncols(), &pairs, &values)
        })
        .collect()
}

/// The pairs `a <= b` and, per chunk of them, `Theta_L(u; a, b)` (outputs x pairs).
fn output_kernels_by_chunk(recursion: &Recursion) -> (Vec<(usize, usize)>, Vec<Mat<f64>>) {
    let variances = hidden_variances(recursion);
    // Pass 2: every pair a <= b.
    let pairs = upper_pairs(recursion.x.ncols());
    let thetas: Vec<Mat<f64>> = pairs
        .par_chunks(CHUNK)
        .map(|chunk| {
            WORKSPACE
                .with_borrow_mut(|ws| propagate(recursion, chunk, Some(&variances), None, ws).theta)
        })
        .collect();
    (pairs, thetas)
}

/// Every layer of `chain` ready to multiply, after checking it takes `x`'s rows as inputs.
fn layer_products<'a>(chain: &'a GraphonChain, x: &Mat<f64>) -> Vec<LayerProduct<'a>> {
    assert_eq!(
        x.nrows(),
        chain.measures()[0].len(),
        "one row per input position"
    );
    chain.layers().iter().map(LayerProduct::new).collect()
}

impl<'a> Recursion<'a> {
    fn new(
        chain: &'a GraphonChain,
        layers: &'a [LayerProduct<'a>],
        x: &'a Mat<f64>,
        sigma_w2: f64,
    ) -> Self {
        Recursion {
            chain,
            input: InputLayer::new(&layers[0], &chain.measures()[0], x),
            layers,
            x,
            sigma_w2,
        }
    }
}

/// Pass 1: the variances of every hidden layer, column a = `Sigma_l(.; a, a)`.
fn hidden_variances(recursion: &Recursion) -> Vec<Mat<f64>> {
    let chain = recursion.chain;
    let n = recursion.x.ncols();
    let diagonal = diagonal_pairs(n);
    let chunks: Vec<ChunkOutput> = diagonal
        .par_chunks(CHUNK)
        .map(|pairs| WORKSPACE.with_borrow_mut(|ws| propagate(recursion, pairs, None, None, ws)))
        .collect();
    (0..chain.depth() - 1)
        .map(|h| {
            let rows = chain.measures()[h + 1].len();
            let mut v = Mat::zeros(rows, n);
            for (i, chunk) in chunks.iter().enumerate() {
                let part = &chunk.hidden_sigma[h];
                for j in 0..part.ncols() {
                    v.col_as_slice_mut(i * CHUNK + j)
                        .copy_from_slice(part.col_as_slice(j));
                }
            }
            v
        })
        .collect()
}

/// The Graphon NTK of each of `chains` on the columns of `x`, each the same to the bit as
/// [`graphon_ntk`] of that chain.
///
/// Why: the first layer of a K = 64 kernel on MNIST takes the centred route
/// ([`crate::input_layer`]), and there finding each pair's shared foreground pixels cost more
/// than the layer's multiply-adds (profile of a graphon_ntk job, issue #30). The chains whose
/// first layers take that route with the same input measure (a configuration's graphon, its
/// shared-order variant and every seed's own) share one pass per chunk: their first layers
/// stacked, each pair's shared foreground found once. Each row of the stacked product is
/// computed exactly as in its own chain's (the centred route sums a row over the pair's terms
/// in the same order whatever rows lie beside it), and everything after the first layer is the
/// chain's own recursion. Any other chain is computed alone.
pub fn graphon_ntks(chains: &[&GraphonChain], x: &Mat<f64>, sigma_w2: f64) -> Vec<Mat<f64>> {
    let layers: Vec<Vec<LayerProduct>> = chains.iter().map(|c| layer_products(c, x)).collect();
    let recursions: Vec<Recursion> = chains
        .iter()
        .zip(&layers)
        .map(|(chain, layers)| Recursion::new(chain, layers, x, sigma_w2))
        .collect();
    let measure = |i: usize| &chains[i].measures()[0];
    let centred: Vec<usize> = (0..chains.len())
        .filter(|&i| recursions[i].input.is_centred())
        .collect();
    let stacked: Vec<usize> = centred
        .iter()
        .copied()
        .filter(|&i| measure(i) == measure(centred[0]))
        .collect();
    let mut kernels: Vec<Option<Mat<f64>>> = (0..chains.len()).map(|_| None).collect();
    if stacked.len() > 1 {
        for (i, kernel) in stacked.iter().zip(stacked_kernels(&recursions, &stacked)) {
            kernels[*i] = Some(kernel);
        }
    }
    // The others from the recursions built above (their layers are not built twice).
    kernels
        .into_iter()
        .zip(&recursions)
        .map(|(kernel, recursion)| kernel.unwrap_or_else(|| kernel_of(recursion)))
        .collect()
}

/// The kernels of `recursions[members]`, whose first layers all take the centred route with
/// one input measure, with those first layers as one stacked product per chunk.
fn stacked_kernels(recursions: &[Recursion], members: &[usize]) -> Vec<Mat<f64>> {
    let first = &recursions[members[0]];
    let (x, sigma_w2) = (first.x, first.sigma_w2);
    let rows: Vec<usize> = members
        .iter()
        .map(|&i| recursions[i].layers[0].rows())
        .collect();
    let offsets: Vec<usize> = rows
        .iter()
        .scan(0, |start, &r| {
            let at = *start;
            *start += r;
            Some(at)
        })
        .collect();
    let total: usize = rows.iter().sum();
    let inputs = x.nrows();
    let mut stacked_layer = Mat::<f64>::zeros(total, inputs);
    for (&i, &offset) in members.iter().zip(&offsets) {
        let w = &recursions[i].chain.layers()[0];
        stacked_layer
            .as_mut()
            .submatrix_mut(offset, 0, w.nrows(), inputs)
            .copy_from(w);
    }
    let measure = &first.chain.measures()[0];
    let input = InputLayer::centred(stacked_layer.as_ref(), measure, x);
    let variances: Vec<Vec<Mat<f64>>> = members
        .iter()
        .map(|&i| hidden_variances(&recursions[i]))
        .collect();
    let pairs = upper_pairs(x.ncols());
    // Per chunk, each member's kernel values (the output measure's mean of Theta_L).
    let values: Vec<Vec<Vec<f64>>> = pairs
        .par_chunks(CHUNK)
        .map(|chunk| {
            WORKSPACE.with_borrow_mut(|ws| {
                let c = chunk.len();
                let mut stacked = std::mem::take(&mut ws.stacked);
                input.product_into(
                    x,
                    chunk,
                    matrix_mut(&mut stacked, total, c),
                    sigma_w2,
                    &mut ws.inputs,
                );
                let out = members
                    .iter()
                    .enumerate()
                    .map(|(m, &i)| {
                        let recursion = &recursions[i];
                        let own_rows = matrix(&stacked, total, c).subrows(offsets[m], rows[m]);
                        let theta =
                            propagate(recursion, chunk, Some(&variances[m]), Some(own_rows), ws)
                                .theta;
                        output_mean(&theta, &recursion.chain.measures()[recursion.chain.depth()])
                    })
                    .collect();
                ws.stacked = stacked;
                out
            })
        })
        .collect();
    let mut by_member: Vec<Vec<f64>> = vec![Vec::with_capacity(pairs.len()); members.len()];
    for chunk in values {
        for (member, part) in by_member.iter_mut().zip(chunk) {
            member.extend(part);
        }
    }
    by_member
        .iter()
        .map(|member| symmetric_from_pairs(x.ncols(), &pairs, member))
        .collect()
}

/// The factor `(to / from)^L` that turns the kernel at `sigma_w2 = from` into the kernel at
/// `sigma_w2 = to`, when that rescaling reproduces the recursion's bytes: `Sigma_l` and
/// `Theta_l` are homogeneous of degree l in sigma_w^2 (ReLU, no biases), and when `to / from`
/// is a power of two every step of the recursion (products, square roots, the correlation)
/// scales exactly, so `graphon_ntk(chain, x, to)` is `factor * graphon_ntk(chain, x, from)` to
/// the bit. `None` for any other ratio (the rescaled kernel would differ in its last bits), and
/// where the factor or the kernel's values could leave the normal range.
pub fn exact_sigma_w2_rescale(from: f64, to: f64, depth: usize) -> Option<f64> {
    let ratio = to / from;
    let exponent = ratio.log2().round();
    let is_power_of_two = ratio.is_normal() && ratio == exponent.exp2() && from * ratio == to;
    let factor = ratio.powi(i32::try_from(depth).ok()?);
    // Far from the ends of the exponent range, no scaled value can overflow or go subnormal.
    (is_power_of_two && factor.is_normal() && factor.log2().abs() < 256.0).then_some(factor)
}

/// Floating-point operations of the matrix products of [`graphon_ntk`] on N points (what the
/// GFLOP/s figures count; the elementwise arc-cosine work is not included).
pub fn graphon_ntk_flops(chain: &GraphonChain, n_points: usize) -> f64 {
    let pairs = (n_points * (n_points + 1) / 2 + n_points) as f64;
    let per_pair: f64 = chain
        .layers()
        .iter()
        .enumerate()
        .map(|(l, w)| {
            let passes = if l == 0 { 1.0 } else { 2.0 };
            2.0 * passes * (w.nrows() * w.ncols()) as f64
        })
        .sum();
    pairs * per_pair
}
