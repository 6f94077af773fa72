//! The layer products of the recursion, `alpha W [rhs]` for one chunk of pairs: faer's dense
//! GEMM, or, for a layer that is mostly zeros, a sparse product that visits only the nonzeros.
//!
//! At the mask level (K = n) a layer is a 0/1 mask; at 80-95% sparsity a dense product spends
//! 80-95% of its multiply-adds on zeros. The sparse route stores the layer's rows as lists of
//! nonzero columns and sums, for every output position, the rows of the (transposed)
//! right-hand side at those columns, in strips of [`STRIP`] pairs held in registers. Which
//! route a layer takes depends on its fraction of nonzeros only ([`SPARSE_BELOW_DENSITY`]),
//! never on the machine or the thread count, so a kernel's bits do not either.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// A layer whose fraction of nonzero entries is below this is multiplied as sparse. Measured
/// by `cargo bench -p glh-benches --bench ntk -- layer_product` (a 1024 x 1024 mask times
/// 1024 x 512, one thread, AMD EPYC with AVX2, 2026-12-06): dense 27-32 ms at any density;
/// sparse 4.4 ms at density 0.05, 15.4 ms at 0.2, 33.9 ms at 0.5, 51.6 ms at 0.8, linear in
/// between, so the two cross near 0.42.
pub const SPARSE_BELOW_DENSITY: f64 = 0.4;

/// Pairs per strip of the sparse product: 32 f64 accumulators are eight AVX2 registers, and a
/// strip of the right-hand side (32 x 1024 f64, 256 KiB) stays in a core's L2 cache.
pub const STRIP: usize = 32;

/// One layer `W` (`rows x cols`), ready to multiply chunks of pairs.
pub enum LayerProduct<'a> {
    /// faer's GEMM on the dense matrix.
    Dense(DenseLayer<'a>),
    /// Only the nonzeros, row by row.
    Sparse(SparseRows),
}

/// Rows of a dense layer are padded to a multiple of this (zeros) before faer multiplies it.
pub const PADDED_ROWS: usize = 16;

/// A dense layer for faer's GEMM, with its rows padded by zeros to a multiple of
/// [`PADDED_ROWS`] when they are not one already.
///
/// Why: a faer matrix of, say, 10 rows is stored with 16 rows per column, and the last six
/// are never written. The AVX-512 f64 microkernel that multiplies such a matrix without
/// packing it (`..._load_m16_n8`) loads whole 16-row columns, padding included, and discards
/// the extra products. When the allocator hands back memory whose old bits read as subnormal
/// doubles, each such multiply takes a microcode assist: the 10-row output layer of a K = 64
/// kernel then took more time than all its other products (profile, issue #30; a process that
/// had run the data and masks stages first was 3x slower). A view of the first `rows` rows of a
/// matrix whose padding is zeros gives the same products, to the bit, at full speed.
pub struct DenseLayer<'a> {
    layer: MatRef<'a, f64>,
    padded: Option<Mat<f64>>,
}

impl<'a> DenseLayer<'a> {
    /// `w`, padded if its row count is not a multiple of [`PADDED_ROWS`].
    pub fn new(w: MatRef<'a, f64>) -> Self {
        let rows = w.nrows();
        let padded = (!rows.is_multiple_of(PADDED_ROWS)).then(|| {
            let tall = rows.next_multiple_of(PADDED_ROWS);
            Mat::from_fn(
                tall,
                w.ncols(),
                |i, j| if i < rows { w[(i, j)] } else { 0.0 },
            )
        });
        DenseLayer { layer: w, padded }
    }

    /// The layer itself (positions x positions of the previous layer).
    pub fn matrix(&self) -> MatRef<'a, f64> {
        self.layer
    }

    /// `alpha W rhs` into `out` (every entry written), sequential.
    pub fn product_into(&self, rhs: MatRef<'_, f64>, out: MatMut<'_, f64>, alpha: f64) {
        let w = match &self.padded {
            Some(padded) => padded.as_ref().subrows(0, self.layer.nrows()),
            None => self.layer,
        };
        matmul(out, Accum::Replace, w, rhs, alpha, Par::Seq);
    }

    /// `alpha W rhs`, sequential.
    pub fn product(&self, rhs: MatRef<'_, f64>, alpha: f64) -> Mat<f64> {
        let mut out = Mat::zeros(self.layer.nrows(), rhs.ncols());
        self.product_into(rhs, out.as_mut(), alpha);
        out
    }
}

/// A matrix in compressed sparse rows: row i's nonzeros are `columns[offsets[i]..offsets[i+1]]`
/// with `values[...]`, in increasing column order (which fixes the summation order).
pub struct SparseRows {
    rows: usize,
    cols: usize,
    offsets: Vec<usize>,
    columns: Vec<usize>,
    values: Vec<f64>,
}

impl SparseRows {
    /// The nonzeros of `w`.
    pub fn of(w: &Mat<f64>) -> Self {
        let (rows, cols) = (w.nrows(), w.ncols());
        let mut offsets = Vec::with_capacity(rows + 1);
        let (mut columns, mut values) = (Vec::new(), Vec::new());
        offsets.push(0);
        for i in 0..rows {
            for j in 0..cols {
                let v = w[(i, j)];
                if v != 0.0 {
                    columns.push(j);
                    values.push(v);
                }
            }
            offsets.push(columns.len());
        }
        SparseRows {
            rows,
            cols,
            offsets,
            columns,
            values,
        }
    }

    /// Number of nonzero entries.
    pub fn nonzeros(&self) -> usize {
        self.values.len()
    }

    /// `alpha W rhs`, for `rhs` of `cols` rows. Each entry is `alpha (sum_k w_ik rhs_kp)` with
    /// k in increasing order.
    pub fn product(&self, rhs: &Mat<f64>, alpha: f64) -> Mat<f64> {
        let mut out = Mat::<f64>::zeros(self.rows, rhs.ncols());
        self.product_into(rhs.as_ref(), out.as_mut(), alpha);
        out
    }

    /// [`SparseRows::product`] into `out` (`rows x rhs.ncols()`, every entry written).
    pub fn product_into(&self, rhs: MatRef<'_, f64>, mut out: MatMut<'_, f64>, alpha: f64) {
        assert_eq!(
            rhs.nrows(),
            self.cols,
            "one rhs row per column of the layer"
        );
        assert_eq!((out.nrows(), out.ncols()), (self.rows, rhs.ncols()));
        let m = rhs.ncols();
        // One strip of pairs at a time, packed so that row k of the strip is `STRIP`
        // contiguous values and the rows follow each other: a strip is one contiguous block
        // (rhs's own columns are a power-of-two stride apart, which would alias in the cache).
        let mut strip_in = vec![0.0f64; self.cols * STRIP];
        let mut strip_out = vec![0.0f64; self.rows * STRIP];
        for start in (0..m).step_by(STRIP) {
            let len = STRIP.min(m - start);
            for j in 0..len {
                for (k, &v) in rhs.col(start + j).iter().enumerate() {
                    strip_in[k * STRIP + j] = v;
                }
            }
            self.strip_product(&strip_in, &mut strip_out, alpha);
            for j in 0..len {
                for (i, o) in out.as_mut().col_mut(start + j).iter_mut().enumerate() {
                    *o = strip_out[i * STRIP + j];
                }
            }
        }
    }

    /// `strip_out[i] = alpha sum_k w_ik strip_in[k]`, rows of `STRIP` values, in registers.
    fn strip_product(&self, strip_in: &[f64], strip_out: &mut [f64], alpha: f64) {
        glh_model::simd::dispatch(StripProduct {
            layer: self,
            strip_in,
            strip_out,
            alpha,
        });
    }
}

/// One strip's product as a pulp operation, so that its loops are compiled for (and run
/// with) the widest SIMD the CPU has; the arithmetic is the same on every path.
struct StripProduct<'a> {
    layer: &'a SparseRows,
    strip_in: &'a [f64],
    strip_out: &'a mut [f64],
    alpha: f64,
}

impl pulp::WithSimd for StripProduct<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let layer = self.layer;
        let rows_in = self.strip_in.as_chunks::<STRIP>().0;
        let rows_out = self.strip_out.as_chunks_mut::<STRIP>().0;
        for (i, row_out) in rows_out.iter_mut().enumerate() {
            let mut acc = [0.0f64; STRIP];
            let nonzeros = layer.offsets[i]..layer.offsets[i + 1];
            let columns = &layer.columns[nonzeros.clone()];
            for (&k, &w) in columns.iter().zip(&layer.values[nonzeros]) {
                for (a, &x) in acc.iter_mut().zip(&rows_in[k]) {
                    *a += w * x;
                }
            }
            for (o, a) in row_out.iter_mut().zip(acc) {
                *o = self.alpha * a;
            }
        }
    }
}

impl<'a> LayerProduct<'a> {
    /// The route for `w`: sparse when its fraction of nonzeros is below
    /// [`SPARSE_BELOW_DENSITY`].
    pub fn new(w: &'a Mat<f64>) -> Self {
        let entries = (w.nrows() * w.ncols()).max(1) as f64;
        let nonzeros = (0..w.ncols())
            .map(|j| w.col_as_slice(j).iter().filter(|&&v| v != 0.0).count())
            .sum::<usize>() as f64;
        if nonzeros / entries < SPARSE_BELOW_DENSITY {
            LayerProduct::Sparse(SparseRows::of(w))
        } else {
            LayerProduct::Dense(DenseLayer::new(w.as_ref()))
        }
    }

    /// Rows of the layer (positions of its output side).
    pub fn rows(&self) -> usize {
        match self {
            LayerProduct::Dense(dense) => dense.layer.nrows(),
            LayerProduct::Sparse(sparse) => sparse.rows,
        }
    }

    /// `alpha W rhs` into `out` (every entry written), sequential (chunks are what runs in
    /// parallel).
    pub fn product_into(&self, rhs: MatRef<'_, f64>, out: MatMut<'_, f64>, alpha: f64) {
        match self {
            LayerProduct::Dense(dense) => dense.product_into(rhs, out, alpha),
            LayerProduct::Sparse(sparse) => sparse.product_into(rhs, out, alpha),
        }
    }
    /// `alpha W rhs`, sequential.
    pub fn product(&self, rhs: MatRef<'_, f64>, alpha: f64) -> Mat<f64> {
        let mut out = Mat::zeros(self.rows(), rhs.ncols());
        self.product_into(rhs, out.as_mut(), alpha);
        out
    }
}

/// `alpha W rhs` by faer's GEMM on one thread (parallelism comes from chunks and outputs,
/// never from inside a product, so results do not depend on the thread count), with `W`'s rows
/// padded as [`DenseLayer`] does.
pub fn dense_product(w: MatRef<'_, f64>, rhs: MatRef<'_, f64>, alpha: f64) -> Mat<f64> {
    DenseLayer::new(w).product(rhs, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 0/1 matrix of about `density`, from a fixed hash of the position.
    fn mask(rows: usize, cols: usize, density: f64) -> Mat<f64> {
        Mat::from_fn(rows, cols, |i, j| {
            let h = (i * 7919 + j * 104_729 + 13) % 1000;
            f64::from(u8::from((h as f64) < density * 1000.0))
        })
    }

    #[test]
    fn sparse_product_matches_the_brute_force_sum() {
        // 70 pairs: two full strips and a partial one.
        let w = mask(9, 13, 0.3);
        let rhs = Mat::from_fn(13, 70, |i, j| ((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.5);
        let got = SparseRows::of(&w).product(&rhs, 2.0);
        for i in 0..9 {
            for p in 0..70 {
                let mut want = 0.0;
                for k in 0..13 {
                    if w[(i, k)] != 0.0 {
                        want += rhs[(k, p)];
                    }
                }
                assert_eq!(got[(i, p)], 2.0 * want, "({i}, {p})");
            }
        }
    }

    #[test]
    fn sparse_and_dense_routes_agree_to_rounding() {
        let w = Mat::from_fn(40, 50, |i, j| {
            mask(40, 50, 0.2)[(i, j)] * (0.25 + ((i + j) % 3) as f64)
        });
        let rhs = Mat::from_fn(50, 33, |i, j| ((i * 5 + j * 3) % 11) as f64 * 0.1 - 0.4);
        let (dense, sparse) = (
            dense_product(w.as_ref(), rhs.as_ref(), 0.5),
            SparseRows::of(&w).product(&rhs, 0.5),
        );
        let error = (&dense - &sparse).norm_l2() / dense.norm_l2();
        assert!(error < 1e-15, "{error}");
    }

    #[test]
    fn a_padded_layer_gives_the_unpadded_products_bits() {
        // 10 rows (the output layer), padded to 16: the same bits as faer on the matrix itself.
        let w = Mat::from_fn(10, 64, |i, j| ((i * 13 + j * 7) % 17) as f64 / 17.0 - 0.3);
        let rhs = Mat::from_fn(64, 40, |i, j| ((i * 5 + j * 3) % 11) as f64 * 0.1 - 0.4);
        let mut plain = Mat::zeros(10, 40);
        matmul(
            plain.as_mut(),
            Accum::Replace,
            w.as_ref(),
            rhs.as_ref(),
            0.5,
            Par::Seq,
        );
        let layer = DenseLayer::new(w.as_ref());
        assert!(layer.padded.is_some());
        assert_eq!(dense_product(w.as_ref(), rhs.as_ref(), 0.5), plain);
    }

    #[test]
    fn the_route_follows_the_density_only() {
        let sparse = mask(64, 64, 0.2);
        let dense = mask(64, 64, 0.9);
        assert!(matches!(
            LayerProduct::new(&sparse),
            LayerProduct::Sparse(_)
        ));
        assert!(matches!(LayerProduct::new(&dense), LayerProduct::Dense(_)));
        if let LayerProduct::Sparse(rows) = LayerProduct::new(&sparse) {
            let kept = (0..64 * 64)
                .filter(|&e| sparse[(e / 64, e % 64)] != 0.0)
                .count();
            assert_eq!(rows.nonzeros(), kept);
        }
    }
}
