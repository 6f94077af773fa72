//! The views of a kernel matrix that the metrics tables report beside the kernel itself
//! (METHOD.md section 8): the kernel with its mean component removed (`H K H`), and with its
//! top eigenpair removed (`K - l_1 v_1 v_1^T`), and, for each, which component its top
//! eigenvector is.
//!
//! Why: on standardised images every input shares the mean image, and the top eigenvalue of an
//! NTK follows that shared component; energy concentration and the spectral gap then measure
//! the data more than the mask. A metric that still separates the methods once that component
//! is gone sees the masks.
//!
//! The top eigenvector's identity is its absolute cosine, over the kernel images, with the
//! vector of each image's projection on their mean image, `m_a = x_a . xbar`: near 1 when the
//! top component is the shared mean image. A cosine, not a correlation: `m` is mostly its
//! constant part (`sum m = N |xbar|^2`), and a top eigenvector that moves every output together
//! is exactly that component.

use crate::spectrum::{SpectralMetrics, eigen_ascending, spectral_metrics};
use arrow::array::{Float64Array, StringArray};
use faer::Mat;
use glh_artifacts::Columns;
use glh_artifacts::config::KernelView;

/// One view of a kernel: its matrix, spectrum and metrics.
#[derive(Clone, Debug)]
pub struct ViewedKernel {
    /// Which view.
    pub view: KernelView,
    /// The view's matrix.
    pub matrix: Mat<f64>,
    /// Its eigenvalues, largest first (`l_2 .. l_N` of the kernel for `top_removed`).
    pub eigenvalues: Vec<f64>,
    /// Their spectral metrics.
    pub metrics: SpectralMetrics,
    /// |cos| of its top eigenvector with the images' projections on their mean image.
    pub top_eigvec_mean_image_cos: f64,
}

impl ViewedKernel {
    /// Adds `view`, the spectral metrics and `top_eigvec_mean_image_cos` as one-row columns.
    pub fn add_columns(&self, columns: &mut Columns) {
        columns.add("view", StringArray::from(vec![self.view.name()]));
        self.metrics.add_columns(columns);
        columns.add(
            "top_eigvec_mean_image_cos",
            Float64Array::from(vec![self.top_eigvec_mean_image_cos]),
        );
    }
}

/// The projection of every image (column of `x`, `d x N`) on their mean image: what a top
/// eigenvector is correlated with in [`kernel_views`].
pub fn mean_image_projections(x: &Mat<f64>) -> Vec<f64> {
    let (d, n) = (x.nrows(), x.ncols());
    let mean: Vec<f64> = (0..d)
        .map(|i| (0..n).map(|a| x[(i, a)]).sum::<f64>() / n as f64)
        .collect();
    (0..n)
        .map(|a| {
            x.col_as_slice(a)
                .iter()
                .zip(&mean)
                .map(|(p, m)| p * m)
                .sum()
        })
        .collect()
}

/// The eigenvalues of the symmetric `k`, largest first, and the eigenvectors of its `top`
/// largest, largest first (the views read no others).
fn leading_eigenpairs(k: &Mat<f64>, top: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>), String> {
    let (values, vectors) = eigen_ascending(k)?;
    let n = values.len();
    let leading = (1..=top)
        .map(|j| vectors.col_as_slice(n - j).to_vec())
        .collect();
    Ok((values.into_iter().rev().collect(), leading))
}

/// `|a . b| / (|a| |b|)`; NaN when either is zero.
fn abs_cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>();
    (dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()).abs()
}

/// `H K H` with `H = I - 11^T / N`: every entry less its row mean and column mean, plus the
/// grand mean.
pub fn centred(k: &Mat<f64>) -> Mat<f64> {
    let n = k.nrows();
    let row_mean: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| k[(i, j)]).sum::<f64>() / n as f64)
        .collect();
    let grand = row_mean.iter().sum::<f64>() / n as f64;
    // K is symmetric: its column means are its row means. Symmetrised so that the result is
    // exactly symmetric whatever the rounding.
    Mat::from_fn(n, n, |i, j| {
        let a = k[(i, j)] - row_mean[i] - row_mean[j] + grand;
        let b = k[(j, i)] - row_mean[j] - row_mean[i] + grand;
        0.5 * (a + b)
    })
}

/// The three views of the symmetric kernel `k` on the images `x` (columns, `d x N`, N >= 3), in
/// [`KernelView::ALL`]'s order. Costs two eigendecompositions with vectors (of `K` and `H K H`).
pub fn kernel_views(k: &Mat<f64>, x: &Mat<f64>) -> Result<Vec<ViewedKernel>, String> {
    let n = k.nrows();
    assert!(
        n >= 3,
        "the top-removed view needs at least two eigenvalues"
    );
    let projections = mean_image_projections(x);
    let cos_of = |vector: &[f64]| abs_cosine(vector, &projections);

    let (values, vectors) = leading_eigenpairs(k, 2)?;
    let v1 = &vectors[0];
    let top_removed = Mat::from_fn(n, n, |i, j| k[(i, j)] - values[0] * v1[i] * v1[j]);
    let as_is = ViewedKernel {
        view: KernelView::AsIs,
        matrix: k.clone(),
        metrics: spectral_metrics(&values),
        top_eigvec_mean_image_cos: cos_of(&vectors[0]),
        eigenvalues: values.clone(),
    };
    let removed = ViewedKernel {
        view: KernelView::TopRemoved,
        matrix: top_removed,
        metrics: spectral_metrics(&values[1..]),
        top_eigvec_mean_image_cos: cos_of(&vectors[1]),
        eigenvalues: values[1..].to_vec(),
    };
    let hkh = centred(k);
    let (c_values, c_vectors) = leading_eigenpairs(&hkh, 1)?;
    let centred_view = ViewedKernel {
        view: KernelView::Centred,
        matrix: hkh,
        metrics: spectral_metrics(&c_values),
        top_eigvec_mean_image_cos: cos_of(&c_vectors[0]),
        eigenvalues: c_values,
    };
    Ok(vec![as_is, centred_view, removed])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `sum_i l_i q_i q_i^T` for orthonormal `q_i` (columns of `q`).
    fn from_eigenpairs(q: &Mat<f64>, l: &[f64]) -> Mat<f64> {
        let n = q.nrows();
        Mat::from_fn(n, n, |i, j| {
            l.iter()
                .enumerate()
                .map(|(c, &lc)| lc * q[(i, c)] * q[(j, c)])
                .sum()
        })
    }

    /// An orthonormal basis whose first vector is the constant one: the normalised DCT-II.
    fn dct_basis(n: usize) -> Mat<f64> {
        Mat::from_fn(n, n, |i, k| {
            let norm = if k == 0 { 1.0 } else { 2.0f64.sqrt() } / (n as f64).sqrt();
            norm * (std::f64::consts::PI * (i as f64 + 0.5) * k as f64 / n as f64).cos()
        })
    }

    #[test]
    fn centring_removes_exactly_the_constant_component() {
        // K = 10 11^T/N + sum_{k>=1} l_k q_k q_k^T with q_k orthogonal to 1: H K H drops the
        // constant eigenpair and keeps every other one; the top-removed view does the same here.
        let n = 12;
        let q = dct_basis(n);
        let l: Vec<f64> = (0..n)
            .map(|k| if k == 0 { 10.0 } else { 1.0 / k as f64 })
            .collect();
        let k = from_eigenpairs(&q, &l);
        // One-pixel images 1 + 0.3 q_1(a): mean image 1, projections m = 1 + 0.3 q_1, so
        // |m|^2 = n + 0.09, cos(1/sqrt(n), m) = sqrt(n / (n + 0.09)), cos(q_1, m) = 0.3 / |m|.
        let x = Mat::from_fn(1, n, |_, a| 1.0 + 0.3 * q[(a, 1)]);
        let views = kernel_views(&k, &x).unwrap();
        let names: Vec<KernelView> = views.iter().map(|v| v.view).collect();
        assert_eq!(names, KernelView::ALL);
        let rest = &l[1..];
        let centred_values = &views[1].eigenvalues;
        for (got, want) in centred_values.iter().zip(rest) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert!(
            centred_values[n - 1].abs() < 1e-12,
            "the constant direction's 0"
        );
        assert_eq!(views[2].eigenvalues.len(), n - 1);
        for (got, want) in views[2].eigenvalues.iter().zip(rest) {
            assert!((got - want).abs() < 1e-12);
        }
        // The top-removed matrix is K less its top eigenpair: here the centred matrix.
        for i in 0..n {
            for j in 0..n {
                assert!((views[2].matrix[(i, j)] - views[1].matrix[(i, j)]).abs() < 1e-12);
            }
        }
        let norm_m = (n as f64 + 0.09).sqrt();
        let cos = |v: &ViewedKernel| v.top_eigvec_mean_image_cos;
        assert!((cos(&views[0]) - (n as f64).sqrt() / norm_m).abs() < 1e-12);
        assert!((cos(&views[1]) - 0.3 / norm_m).abs() < 1e-12);
        assert!((cos(&views[2]) - 0.3 / norm_m).abs() < 1e-12);
        assert!((views[0].metrics.trace - l.iter().sum::<f64>()).abs() < 1e-12);
        assert!((views[1].metrics.trace - rest.iter().sum::<f64>()).abs() < 1e-12);
    }

    #[test]
    fn a_top_component_along_the_mean_image_is_named() {
        // Identical images: m is constant. A constant top eigenvector has cosine 1, one
        // orthogonal to the constant has cosine 0.
        let n = 16;
        let q = dct_basis(n);
        let x = Mat::from_fn(3, n, |r, _| r as f64 + 1.0);
        let spectrum = |top: usize| -> Vec<f64> {
            (0..n)
                .map(|k| if k == top { 50.0 } else { 1.0 / (k + 2) as f64 })
                .collect()
        };
        let views = kernel_views(&from_eigenpairs(&q, &spectrum(0)), &x).unwrap();
        assert!((views[0].top_eigvec_mean_image_cos - 1.0).abs() < 1e-12);
        let views = kernel_views(&from_eigenpairs(&q, &spectrum(5)), &x).unwrap();
        assert!(views[0].top_eigvec_mean_image_cos < 1e-12);
    }

    #[test]
    fn centred_is_h_k_h() {
        // Against the product with H written out.
        let n = 7;
        let k = Mat::from_fn(n, n, |i, j| ((i * j) as f64).cos() + (i + j) as f64);
        let k = Mat::from_fn(n, n, |i, j| k[(i, j)] + k[(j, i)]);
        let h = Mat::from_fn(n, n, |i, j| f64::from(u8::from(i == j)) - 1.0 / n as f64);
        let hkh = &h * &k * &h;
        let got = centred(&k);
        for i in 0..n {
            for j in 0..n {
                assert!((got[(i, j)] - hkh[(i, j)]).abs() < 1e-12);
            }
        }
    }
}
