//! The unordered pairs `(a, b)`, `a <= b`, of N data points on which a symmetric kernel is
//! evaluated, cut into fixed chunks.
//!
//! Every kernel here is a sum over positions of per-pair quantities, so pairs are independent
//! columns: a chunk of pairs runs through all layers on its own, memory stays bounded by the
//! chunk, and chunks run in parallel. The chunk size is fixed (never derived from the thread
//! count) and each chunk uses sequential matrix products, so results do not depend on threads.

use faer::{Mat, MatMut, MatRef};

/// Pairs per chunk: wide enough for efficient matrix products (the right-hand side has
/// `2 * CHUNK` columns in the recursion), small enough that a chunk at n = 4096 stays near 64 MB.
pub const CHUNK: usize = 256;

/// The diagonal pairs `(a, a)`, then nothing else.
pub fn diagonal_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n).map(|a| (a, a)).collect()
}

/// All pairs `a <= b`, row by row: `(0,0), (0,1), ..., (1,1), ...`.
pub fn upper_pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n).flat_map(|a| (a..n).map(move |b| (a, b))).collect()
}

/// The `features x pairs.len()` matrix whose column p is `x[:, a_p] ⊙ x[:, b_p]`, each row f
/// multiplied by `weight[f]`.
pub fn pair_products(x: &Mat<f64>, pairs: &[(usize, usize)], weight: &[f64]) -> Mat<f64> {
    let mut out = Mat::zeros(x.nrows(), pairs.len());
    pair_products_into(x, pairs, weight, out.as_mut());
    out
}

/// [`pair_products`] into `out` (`d x pairs`, every entry written).
pub fn pair_products_into(
    x: &Mat<f64>,
    pairs: &[(usize, usize)],
    weight: &[f64],
    mut out: MatMut<'_, f64>,
) {
    assert_eq!(weight.len(), x.nrows());
    assert_eq!((out.nrows(), out.ncols()), (x.nrows(), pairs.len()));
    for (p, &(a, b)) in pairs.iter().enumerate() {
        let (xa, xb) = (x.col_as_slice(a), x.col_as_slice(b));
        let column = out.as_mut().col_mut(p);
        for (((o, &u), &v), &w) in column.iter_mut().zip(xa).zip(xb).zip(weight) {
            *o = w * u * v;
        }
    }
}

/// The first `len` entries of `buffer`, grown if needed: a chunk's buffers are kept from chunk
/// to chunk (`recursion`'s workspace) and viewed at each chunk's size.
pub(crate) fn prefix_mut(buffer: &mut Vec<f64>, len: usize) -> &mut [f64] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// The first `rows * cols` entries of `buffer` (grown if needed) as a column-major matrix.
pub(crate) fn matrix_mut(buffer: &mut Vec<f64>, rows: usize, cols: usize) -> MatMut<'_, f64> {
    MatMut::from_column_major_slice_mut(prefix_mut(buffer, rows * cols), rows, cols)
}

/// The first `rows * cols` entries of `buffer` as a column-major matrix.
pub(crate) fn matrix(buffer: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_column_major_slice(&buffer[..rows * cols], rows, cols)
}

/// The symmetric `n x n` matrix with `values[p]` at `pairs[p]` and its mirror.
pub fn symmetric_from_pairs(n: usize, pairs: &[(usize, usize)], values: &[f64]) -> Mat<f64> {
    let mut k = Mat::zeros(n, n);
    for (&(a, b), &v) in pairs.iter().zip(values) {
        k[(a, b)] = v;
        k[(b, a)] = v;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_cover_the_upper_triangle_once() {
        let p = upper_pairs(4);
        assert_eq!(p.len(), 10);
        assert_eq!(&p[..5], &[(0, 0), (0, 1), (0, 2), (0, 3), (1, 1)]);
        let k = symmetric_from_pairs(4, &p, &(0..10).map(f64::from).collect::<Vec<_>>());
        assert_eq!((k[(1, 0)], k[(0, 1)], k[(3, 3)]), (1.0, 1.0, 9.0));
    }
}
