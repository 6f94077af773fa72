//! The recursion's first layer, `Sigma_1(.; a, b) = alpha W_1 [mu_0 ⊙ x_a ⊙ x_b]`, for a chunk
//! of pairs: as a product of the pair products (any input), or around the inputs' baseline.
//!
//! Why a second route: at K = 64 the first layer is two thirds of the kernel's multiply-adds
//! (`K x d` against `K x K` for a hidden layer, d = 784), yet most of an image is background.
//! MNIST standardised puts every blank pixel at one value c (`-mean / std`), 81% of the
//! entries. Writing `x = c + y`, with y zero wherever the pixel is blank,
//!
//! ```text
//! sum_v W(u, v) mu(v) x_a(v) x_b(v) =   sum_{v: y_a(v) y_b(v) != 0} W(u, v) mu(v) y_a(v) y_b(v)
//!                                     + c (g_a(u) + g_b(u)) + c^2 r(u),
//! g_a = W (mu ⊙ y_a),  r = W mu,
//! ```
//!
//! so a pair costs its shared foreground pixels (about a tenth of d for two digits) times the
//! positions, plus `g` and `r` computed once per kernel. The two routes agree to rounding
//! (tests); which one a kernel takes depends on its inputs and layer only
//! ([`InputLayer::new`]), never on the machine or the thread count.

use crate::pairs::{matrix_mut, pair_products_into};
use crate::products::LayerProduct;
use faer::{Mat, MatMut, MatRef};

/// Positions per block of the centred route: 32 f64 accumulators are four AVX-512 or eight
/// AVX2 registers, and a block of the layer (32 x d f64, 200 KiB at d = 784) stays in L2.
const BLOCK: usize = 32;

/// The centred route is taken when the baseline is at least this share of the inputs' entries:
/// a pair then costs at most a quarter of the dense product's multiply-adds (shared foreground
/// below (1/2)^2 of d), which pays for the sparse loop's lower rate.
pub const CENTRED_FROM_BASELINE_SHARE: f64 = 0.5;

/// How the first layer is multiplied.
pub enum InputLayer<'a> {
    /// `W_1` times the pair products `mu_0 ⊙ x_a ⊙ x_b`, formed densely ([`crate::pairs`]).
    PairProducts {
        layer: &'a LayerProduct<'a>,
        measure: &'a [f64],
    },
    /// Around the baseline (module docs).
    Centred(Box<Centred<'a>>),
}

/// The centred route's precomputed parts.
pub struct Centred<'a> {
    /// `W_1`, positions x inputs, column-major: column v is contiguous.
    layer: MatRef<'a, f64>,
    /// The baseline c.
    baseline: f64,
    /// `y = x - c`, inputs x points (exact: x and c are f32 values widened to f64 in practice,
    /// and any difference is rounded once).
    deviations: Mat<f64>,
    /// Every point's foreground inputs `v` (y nonzero) in increasing order with `mu(v) y(v)`.
    foreground: Columns,
    /// `g_a = W (mu ⊙ y_a)`, positions x points.
    g: Mat<f64>,
    /// `c^2 r = c^2 W mu`, per position.
    baseline_term: Vec<f64>,
}

impl<'a> InputLayer<'a> {
    /// The centred route when `layer` is dense and the most frequent value of `x` (inputs x
    /// points) covers at least [`CENTRED_FROM_BASELINE_SHARE`] of its entries; a sparse layer
    /// (the mask level at high sparsity) already skips its zeros and keeps the pair products.
    pub fn new(layer: &'a LayerProduct<'a>, measure: &'a [f64], x: &Mat<f64>) -> Self {
        match layer {
            LayerProduct::Dense(dense) => match baseline_of(x) {
                Some((c, count))
                    if count as f64
                        >= CENTRED_FROM_BASELINE_SHARE * (x.nrows() * x.ncols()) as f64 =>
                {
                    InputLayer::Centred(Box::new(Centred::new(dense.matrix(), measure, x, c)))
                }
                _ => InputLayer::PairProducts { layer, measure },
            },
            LayerProduct::Sparse(_) => InputLayer::PairProducts { layer, measure },
        }
    }

    /// Whether this is the centred route.
    pub fn is_centred(&self) -> bool {
        matches!(self, InputLayer::Centred(_))
    }

    /// The centred route for `layer` (dense, positions x inputs) on `x`, for a caller that
    /// knows [`InputLayer::new`] chose it for `x` (the stacked first layers of
    /// `recursion::graphon_ntks`).
    ///
    /// # Panics
    /// If `x` is empty.
    pub fn centred(layer: MatRef<'a, f64>, measure: &'a [f64], x: &Mat<f64>) -> Self {
        let (c, _) = baseline_of(x).expect("inputs with a baseline");
        InputLayer::Centred(Box::new(Centred::new(layer, measure, x, c)))
    }

    /// `alpha W_1 [mu_0 ⊙ x_a ⊙ x_b]` of every pair into `out` (positions x pairs, every entry
    /// written); `scratch` holds the pair products on the first route.
    pub fn product_into(
        &self,
        x: &Mat<f64>,
        pairs: &[(usize, usize)],
        out: MatMut<'_, f64>,
        alpha: f64,
        scratch: &mut Vec<f64>,
    ) {
        match self {
            InputLayer::PairProducts { layer, measure } => {
                let mut inputs = matrix_mut(scratch, x.nrows(), pairs.len());
                pair_products_into(x, pairs, measure, inputs.as_mut());
                layer.product_into(inputs.as_ref(), out, alpha);
            }
            InputLayer::Centred(centred) => centred.product_into(pairs, out, alpha),
        }
    }
}

/// The most frequent value of `x` and its count (the smallest such value on a tie), `None`
/// for an empty matrix.
fn baseline_of(x: &Mat<f64>) -> Option<(f64, usize)> {
    let mut bits: Vec<u64> = (0..x.ncols())
        .flat_map(|j| x.col_as_slice(j).iter().map(|v| v.to_bits()))
        .collect();
    bits.sort_unstable();
    let mut best: Option<(u64, usize)> = None;
    for run in bits.chunk_by(|a, b| a == b) {
        let better = match best {
            None => true,
            Some((value, count)) => {
                run.len() > count
                    || (run.len() == count && f64::from_bits(run[0]) < f64::from_bits(value))
            }
        };
        if better {
            best = Some((run[0], run.len()));
        }
    }
    best.map(|(value, count)| (f64::from_bits(value), count))
}

/// Lists of `(input v, weight)` terms, one per column, flattened: column j's terms are
/// `terms[offsets[j]..offsets[j + 1]]`.
struct Columns {
    offsets: Vec<usize>,
    terms: Vec<(u32, f64)>,
}

impl Columns {
    fn new() -> Self {
        Columns {
            offsets: vec![0],
            terms: Vec::new(),
        }
    }

    fn push(&mut self, terms: impl Iterator<Item = (u32, f64)>) {
        self.terms.extend(terms);
        self.offsets.push(self.terms.len());
    }

    fn column(&self, j: usize) -> &[(u32, f64)] {
        &self.terms[self.offsets[j]..self.offsets[j + 1]]
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

impl<'a> Centred<'a> {
    fn new(layer: MatRef<'a, f64>, measure: &[f64], x: &Mat<f64>, baseline: f64) -> Self {
        assert_eq!(layer.ncols(), x.nrows(), "one layer column per input");
        let deviations = Mat::from_fn(x.nrows(), x.ncols(), |v, a| x[(v, a)] - baseline);
        let mut foreground = Columns::new();
        for a in 0..x.ncols() {
            let y = deviations.col_as_slice(a);
            foreground.push(
                y.iter()
                    .zip(measure)
                    .enumerate()
                    .filter(|(_, (y, _))| **y != 0.0)
                    .map(|(v, (y, mu))| (v as u32, mu * y)),
            );
        }
        let rows = layer.nrows();
        let mut g = Mat::zeros(rows, x.ncols());
        weighted_column_sums(layer, &foreground, g.as_mut());
        let mut all = Columns::new();
        all.push(measure.iter().enumerate().map(|(v, &mu)| (v as u32, mu)));
        let mut r = Mat::zeros(rows, 1);
        weighted_column_sums(layer, &all, r.as_mut());
        let square = baseline * baseline;
        Centred {
            layer,
            baseline,
            deviations,
            foreground,
            g,
            baseline_term: r.col_as_slice(0).iter().map(|r| square * r).collect(),
        }
    }

    /// Every pair's column of `alpha W_1 [mu_0 ⊙ x_a ⊙ x_b]`.
    fn product_into(&self, pairs: &[(usize, usize)], mut out: MatMut<'_, f64>, alpha: f64) {
        assert_eq!(
            (out.nrows(), out.ncols()),
            (self.layer.nrows(), pairs.len())
        );
        // Each pair's shared foreground: `(v, mu(v) y_a(v) y_b(v))`, v increasing. Written
        // without a branch (every term of a's foreground is stored, and kept by advancing past
        // it only where b's deviation is nonzero): about half are kept, so a branch would be
        // mispredicted half the time.
        let mut shared = Columns::new();
        let mut len = 0;
        for &(a, b) in pairs {
            let y_b = self.deviations.col_as_slice(b);
            let foreground = self.foreground.column(a);
            shared.terms.resize(len + foreground.len(), (0, 0.0));
            for &(v, weighted) in foreground {
                let y = y_b[v as usize];
                shared.terms[len] = (v, weighted * y);
                len += usize::from(y != 0.0);
            }
            shared.offsets.push(len);
        }
        shared.terms.truncate(len);
        weighted_column_sums(self.layer, &shared, out.as_mut());
        let c = self.baseline;
        for (p, &(a, b)) in pairs.iter().enumerate() {
            let (g_a, g_b) = (self.g.col_as_slice(a), self.g.col_as_slice(b));
            let column = out.as_mut().col_mut(p).try_as_col_major_mut();
            let column = column.expect("a column-major matrix's columns are contiguous");
            let terms = g_a.iter().zip(g_b).zip(&self.baseline_term);
            for (o, ((g_a, g_b), r)) in column.as_slice_mut().iter_mut().zip(terms) {
                *o = alpha * (((*o + c * g_a) + c * g_b) + r);
            }
        }
    }
}

/// `out[:, j] = sum_k z_k W[:, v_k]` over column j's terms `(v_k, z_k)`, summed in their
/// order. Blocks of [`BLOCK`] positions are the outer loop and are held in registers, so one
/// block of the layer serves every column while it is in cache.
fn weighted_column_sums(layer: MatRef<'_, f64>, columns: &Columns, out: MatMut<'_, f64>) {
    assert_eq!((out.nrows(), out.ncols()), (layer.nrows(), columns.len()));
    glh_model::simd::dispatch(WeightedColumnSums {
        layer,
        columns,
        out,
    });
}

/// [`weighted_column_sums`] as a pulp operation, compiled for the widest SIMD the CPU has; the
/// arithmetic (a multiply, then an add, per term) is the same on every path.
struct WeightedColumnSums<'a> {
    layer: MatRef<'a, f64>,
    columns: &'a Columns,
    out: MatMut<'a, f64>,
}

impl pulp::WithSimd for WeightedColumnSums<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            layer,
            columns,
            mut out,
        } = self;
        let rows = layer.nrows();
        let full = rows / BLOCK;
        for i in 0..full {
            for j in 0..columns.len() {
                let mut acc = [0.0f64; BLOCK];
                for &(v, z) in columns.column(j) {
                    let column = layer
                        .col(v as usize)
                        .try_as_col_major()
                        .expect("a column-major layer")
                        .as_slice();
                    let block: &[f64; BLOCK] = column[i * BLOCK..(i + 1) * BLOCK]
                        .try_into()
                        .expect("a block of BLOCK positions");
                    for (a, &w) in acc.iter_mut().zip(block) {
                        *a += w * z;
                    }
                }
                let out_column = out.as_mut().col_mut(j).try_as_col_major_mut();
                let out_column =
                    out_column.expect("a column-major matrix's columns are contiguous");
                out_column.as_slice_mut()[i * BLOCK..(i + 1) * BLOCK].copy_from_slice(&acc);
            }
        }
        for u in full * BLOCK..rows {
            for j in 0..columns.len() {
                let mut acc = 0.0;
                for &(v, z) in columns.column(j) {
                    acc += layer[(u, v as usize)] * z;
                }
                out[(u, j)] = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pairs::upper_pairs;
    use crate::products::DenseLayer;

    /// Digit-like inputs: each point's entries are the baseline except a band of foreground.
    fn inputs(d: usize, n: usize, baseline: f64) -> Mat<f64> {
        Mat::from_fn(d, n, |v, a| {
            let h = (v * 7919 + a * 104_729 + 13) % 100;
            if h < 20 {
                baseline + 0.05 + (h as f64) * 0.13
            } else {
                baseline
            }
        })
    }

    fn layer(rows: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(rows, d, |u, v| ((u * 31 + v * 17) % 29) as f64 / 29.0)
    }

    #[test]
    fn the_baseline_is_the_most_frequent_value() {
        let x = inputs(50, 9, -0.42);
        let (c, count) = baseline_of(&x).unwrap();
        assert_eq!(c, -0.42);
        let brute = (0..9)
            .flat_map(|a| x.col_as_slice(a).to_vec())
            .filter(|&v| v == -0.42)
            .count();
        assert_eq!(count, brute);
        // A tie goes to the smaller value.
        let tie = Mat::from_fn(2, 1, |v, _| if v == 0 { 3.0 } else { 1.0 });
        assert_eq!(baseline_of(&tie), Some((1.0, 1)));
    }

    #[test]
    fn the_centred_route_matches_the_brute_force_sum_to_rounding() {
        // 70 positions: two full blocks and a partial one.
        let (rows, d, n) = (70, 97, 12);
        let x = inputs(d, n, -0.4242);
        let w = layer(rows, d);
        let mu: Vec<f64> = (0..d)
            .map(|v| (1.0 + (v % 3) as f64) / (2.0 * d as f64))
            .collect();
        let product = LayerProduct::Dense(DenseLayer::new(w.as_ref()));
        let route = InputLayer::new(&product, &mu, &x);
        assert!(matches!(route, InputLayer::Centred(_)));
        let pairs = upper_pairs(n);
        let mut got = Mat::zeros(rows, pairs.len());
        route.product_into(&x, &pairs, got.as_mut(), 2.0, &mut Vec::new());
        for (p, &(a, b)) in pairs.iter().enumerate() {
            for u in 0..rows {
                let terms = (0..d).map(|v| w[(u, v)] * mu[v] * x[(v, a)] * x[(v, b)]);
                let want = 2.0 * terms.clone().sum::<f64>();
                // Rounding is relative to the terms' magnitudes: their signs cancel.
                let magnitude = 2.0 * terms.map(f64::abs).sum::<f64>();
                let error = (got[(u, p)] - want).abs() / magnitude;
                assert!(error < 1e-14, "({u}, {a}, {b}): {} vs {want}", got[(u, p)]);
            }
        }
    }

    #[test]
    fn the_two_routes_agree_to_rounding_and_scale_exactly() {
        let (rows, d, n) = (64, 200, 10);
        let x = inputs(d, n, -0.4242);
        let w = layer(rows, d);
        let mu = vec![1.0 / d as f64; d];
        let product = LayerProduct::Dense(DenseLayer::new(w.as_ref()));
        let centred = InputLayer::new(&product, &mu, &x);
        let dense = InputLayer::PairProducts {
            layer: &product,
            measure: &mu,
        };
        let pairs = upper_pairs(n);
        let run = |route: &InputLayer, alpha| {
            let mut out = Mat::zeros(rows, pairs.len());
            route.product_into(&x, &pairs, out.as_mut(), alpha, &mut Vec::new());
            out
        };
        let (a, b) = (run(&centred, 1.0), run(&dense, 1.0));
        let error = (&a - &b).norm_l2() / b.norm_l2();
        assert!(error < 1e-14, "{error}");
        // alpha multiplies once, last: a power of two scales every bit exactly.
        assert_eq!(run(&centred, 4.0), &a * faer::Scale(4.0));
    }

    #[test]
    fn the_route_follows_the_baseline_share_and_the_layer() {
        let w = layer(8, 30);
        let mu = vec![1.0 / 30.0; 30];
        let dense = LayerProduct::Dense(DenseLayer::new(w.as_ref()));
        // A fifth of the entries off the baseline: centred.
        assert!(matches!(
            InputLayer::new(&dense, &mu, &inputs(30, 6, 0.0)),
            InputLayer::Centred(_)
        ));
        // No repeated value: pair products.
        let distinct = Mat::from_fn(30, 6, |v, a| (v * 6 + a) as f64);
        assert!(matches!(
            InputLayer::new(&dense, &mu, &distinct),
            InputLayer::PairProducts { .. }
        ));
        // A sparse layer keeps its own route.
        let mask = Mat::from_fn(8, 30, |u, v| f64::from(u8::from((u + v) % 10 == 0)));
        let sparse = LayerProduct::new(&mask);
        assert!(matches!(
            InputLayer::new(&sparse, &mu, &inputs(30, 6, 0.0)),
            InputLayer::PairProducts { .. }
        ));
    }
}
