//! Eigenvalues of a kernel matrix and the spectral metrics of METHOD.md section 4.
//!
//! The eigensolver is faer's symmetric one, run sequentially (so the values do not depend on
//! the thread count) on the lower triangle. Eigenvalues below zero are numerical noise of a
//! positive semi-definite kernel: they are counted and reported, kept in the spectrum table,
//! and enter the trace and the energies as they are; the entropy of the effective rank uses the
//! positive part only (`ln` of a negative share is undefined), the condition number is infinite
//! when the smallest eigenvalue is not positive, and the decay exponent fits only positive
//! eigenvalues among the first N/2.

use arrow::array::{Float64Array, RecordBatch, UInt32Array};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{ComputeEigenvectors, self_adjoint_evd, self_adjoint_evd_scratch};
use faer::{Mat, Par};
use glh_artifacts::Columns;
use glh_artifacts::parquet_io::column;

/// Refuses a kernel with an entry that is not finite (its scale `sigma_w^2` to the depth's
/// power overflowed f64): nothing is published from it. `field` names the setting to lower.
pub fn require_finite(k: &Mat<f64>, what: &str, field: &str) -> Result<(), glh_artifacts::Error> {
    let finite = (0..k.ncols()).all(|j| k.col(j).iter().all(|v| v.is_finite()));
    if finite {
        return Ok(());
    }
    Err(glh_artifacts::Error::config(
        "kernel settings",
        field,
        format!(
            "the {what} kernel has entries that are not finite in f64; nothing was published: \
             lower `{field}`"
        ),
    ))
}

/// All eigenvalues of the symmetric matrix `k`, largest first.
pub fn eigenvalues_descending(k: &Mat<f64>) -> Result<Vec<f64>, String> {
    let n = k.nrows();
    assert_eq!(n, k.ncols(), "a square matrix");
    let mut s = Diag::<f64>::zeros(n);
    let scratch =
        self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::No, Par::Seq, Default::default());
    self_adjoint_evd(
        k.as_ref(),
        s.as_mut(),
        None,
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|e| format!("the eigensolver did not converge: {e:?}"))?;
    let mut values: Vec<f64> = s.column_vector().iter().copied().collect();
    values.reverse();
    Ok(values)
}

/// The eigenvalues (ascending, faer's order) and eigenvectors (column i for eigenvalue i) of
/// the symmetric `k`; sequential, so the same for any thread count.
pub fn eigen_ascending(k: &Mat<f64>) -> Result<(Vec<f64>, Mat<f64>), String> {
    let n = k.nrows();
    assert_eq!(n, k.ncols(), "a square matrix");
    let mut s = Diag::<f64>::zeros(n);
    let mut u = Mat::<f64>::zeros(n, n);
    let scratch =
        self_adjoint_evd_scratch::<f64>(n, ComputeEigenvectors::Yes, Par::Seq, Default::default());
    self_adjoint_evd(
        k.as_ref(),
        s.as_mut(),
        Some(u.as_mut()),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .map_err(|e| format!("the eigensolver did not converge: {e:?}"))?;
    Ok((s.column_vector().iter().copied().collect(), u))
}

/// The spectral metrics of one kernel. The paper's four (its section 6) are `top5_energy`,
/// `effective_rank_trace`, `ratio_1_2` (the spectral gap) and `decay_exponent` (its alpha is
/// minus this slope); `effective_rank_entropy` is ours. The absolute scale (`trace`,
/// `top1_eigenvalue`, `top5_sum`) sets how fast gradient descent moves at a fixed learning rate.
#[derive(Clone, Debug, PartialEq)]
pub struct SpectralMetrics {
    /// `sum l_i`, the kernel's trace.
    pub trace: f64,
    /// `l_1`, the largest eigenvalue.
    pub top1_eigenvalue: f64,
    /// `sum_{i<=5} l_i`.
    pub top5_sum: f64,
    /// `l_1 / sum l`.
    pub top1_energy: f64,
    /// `sum_{i<=5} l_i / sum l`.
    pub top5_energy: f64,
    /// `sum_{i<=10} l_i / sum l`.
    pub top10_energy: f64,
    /// `exp(-sum p_i ln p_i)` with `p_i = max(l_i, 0) / sum max(l, 0)` (ours).
    pub effective_rank_entropy: f64,
    /// `sum l / l_1` (the paper's effective rank).
    pub effective_rank_trace: f64,
    /// `l_1 / l_2`.
    pub ratio_1_2: f64,
    /// `l_1 / l_N`; infinite when `l_N <= 0`.
    pub condition_number: f64,
    /// Least-squares slope of `ln l_i` on `ln i` over the positive `l_i` with `i <= N/2`.
    pub decay_exponent: f64,
    /// Eigenvalues below zero.
    pub negative_count: u32,
    /// `l_N`, the smallest eigenvalue.
    pub min_eigenvalue: f64,
}

/// The metrics' columns, each named as its field: the one list the writers of the metrics
/// tables (ntk, graphon_ntk) and their reader use. A new metric is a field, its formula in
/// [`spectral_metrics`], its name here and its column in the schemas' `with_spectral_columns!`.
macro_rules! metric_columns {
    (f64: $($float:ident),* ; u32: $($count:ident),*) => {
        impl SpectralMetrics {
            /// Adds each metric as a one-row column of its name.
            pub fn add_columns(&self, columns: &mut Columns) {
                $(columns.add(stringify!($float), Float64Array::from(vec![self.$float]));)*
                $(columns.add(stringify!($count), UInt32Array::from(vec![self.$count]));)*
            }

            /// Every metric by its column name: the real-valued ones, then the counts.
            pub fn items(&self) -> (Vec<(&'static str, f64)>, Vec<(&'static str, u32)>) {
                (
                    vec![$((stringify!($float), self.$float)),*],
                    vec![$((stringify!($count), self.$count)),*],
                )
            }

            /// The metrics of row `r` of a metrics table, read by name.
            pub fn read(batch: &RecordBatch, r: usize) -> Self {
                SpectralMetrics {
                    $($float: column::<Float64Array>(batch, stringify!($float)).value(r),)*
                    $($count: column::<UInt32Array>(batch, stringify!($count)).value(r),)*
                }
            }
        }
    };
}

metric_columns!(
    f64: trace, top1_eigenvalue, top5_sum, top1_energy, top5_energy, top10_energy,
        effective_rank_entropy, effective_rank_trace, ratio_1_2, condition_number,
        decay_exponent, min_eigenvalue;
    u32: negative_count
);

/// The metrics of the eigenvalues `l` (largest first, at least two).
pub fn spectral_metrics(l: &[f64]) -> SpectralMetrics {
    assert!(l.len() >= 2, "at least two eigenvalues");
    assert!(
        l.windows(2).all(|w| w[0] >= w[1]),
        "eigenvalues largest first"
    );
    let trace: f64 = l.iter().sum();
    let top = |k: usize| l.iter().take(k).sum::<f64>() / trace;
    let positive_sum: f64 = l.iter().filter(|&&v| v > 0.0).sum();
    let entropy: f64 = l
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| {
            let p = v / positive_sum;
            -p * p.ln()
        })
        .sum();
    let last = *l.last().expect("non-empty");
    let fit: Vec<(f64, f64)> = l[..l.len() / 2]
        .iter()
        .enumerate()
        .filter(|&(_, &v)| v > 0.0)
        .map(|(i, &v)| (((i + 1) as f64).ln(), v.ln()))
        .collect();
    SpectralMetrics {
        trace,
        top1_eigenvalue: l[0],
        top5_sum: l.iter().take(5).sum(),
        top1_energy: top(1),
        top5_energy: top(5),
        top10_energy: top(10),
        effective_rank_entropy: entropy.exp(),
        effective_rank_trace: trace / l[0],
        ratio_1_2: l[0] / l[1],
        condition_number: if last > 0.0 {
            l[0] / last
        } else {
            f64::INFINITY
        },
        decay_exponent: least_squares_slope(&fit),
        negative_count: l.iter().filter(|&&v| v < 0.0).count() as u32,
        min_eigenvalue: last,
    }
}

/// The slope of the least-squares line through `points`; NaN with fewer than two.
fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (
        points.iter().map(|p| p.0).sum::<f64>() / n,
        points.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::matmul::matmul;
    use faer::{Accum, Mat};

    /// `Q diag(l) Q^T` with Q the (orthogonal) normalised DCT-II basis.
    fn with_spectrum(l: &[f64]) -> Mat<f64> {
        let n = l.len();
        let q = Mat::from_fn(n, n, |i, k| {
            let norm = if k == 0 {
                (1.0 / n as f64).sqrt()
            } else {
                (2.0 / n as f64).sqrt()
            };
            norm * (std::f64::consts::PI * (i as f64 + 0.5) * k as f64 / n as f64).cos()
        });
        let ql = Mat::from_fn(n, n, |i, k| q[(i, k)] * l[k]);
        let mut out = Mat::zeros(n, n);
        matmul(
            out.as_mut(),
            Accum::Replace,
            ql.as_ref(),
            q.transpose(),
            1.0,
            Par::Seq,
        );
        out
    }

    #[test]
    fn eigenvalues_of_a_known_spectrum() {
        let l: Vec<f64> = (1..=40).map(|i| (i as f64).powf(-1.5)).collect();
        let got = eigenvalues_descending(&with_spectrum(&l)).unwrap();
        for (a, b) in got.iter().zip(&l) {
            assert!((a - b).abs() < 1e-13, "{a} vs {b}");
        }
    }

    #[test]
    fn power_law_metrics() {
        let l: Vec<f64> = (1..=100).map(|i| 3.0 * (i as f64).powf(-2.0)).collect();
        let m = spectral_metrics(&l);
        assert!((m.decay_exponent + 2.0).abs() < 1e-12);
        assert!((m.ratio_1_2 - 4.0).abs() < 1e-12);
        assert!((m.condition_number - 1e4).abs() < 1e-8);
        let total: f64 = l.iter().sum();
        assert!((m.top1_energy - 3.0 / total).abs() < 1e-15);
        assert!((m.top5_energy - l[..5].iter().sum::<f64>() / total).abs() < 1e-15);
        // The two effective ranks differ on a power law: trace / l_1 = sum i^-2 (about 1.635).
        assert!((m.effective_rank_trace - total / 3.0).abs() < 1e-13);
        assert!(m.effective_rank_entropy > m.effective_rank_trace);
        assert_eq!(m.negative_count, 0);
    }

    #[test]
    fn flat_and_rank_one_spectra() {
        let flat = spectral_metrics(&[2.0; 50]);
        assert!((flat.effective_rank_entropy - 50.0).abs() < 1e-10);
        // trace / l_1: 50 equal eigenvalues give 50 in both readings.
        assert!((flat.effective_rank_trace - 50.0).abs() < 1e-12);
        assert!((flat.top10_energy - 0.2).abs() < 1e-15);
        assert_eq!((flat.ratio_1_2, flat.condition_number), (1.0, 1.0));
        let mut spike = vec![0.0; 20];
        spike[0] = 7.0;
        spike[19] = -1e-14;
        let s = spectral_metrics(&spike);
        assert!((s.effective_rank_entropy - 1.0).abs() < 1e-12);
        assert!((s.effective_rank_trace - (7.0 - 1e-14) / 7.0).abs() < 1e-15);
        assert_eq!((s.top1_eigenvalue, s.top5_sum), (7.0, 7.0));
        assert_eq!((s.negative_count, s.condition_number), (1, f64::INFINITY));
        assert!((s.top1_energy - 7.0 / (7.0 - 1e-14)).abs() < 1e-15);
    }
}
