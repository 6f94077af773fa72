//! A kernel against the labels of its images: two scale-free numbers that read the whole
//! spectrum and its alignment with the targets, as predictors of early training speed.
//!
//! - `kernel_target_alignment = <K, Y Y^T>_F / (|K|_F |Y Y^T|_F)` with Y the one-hot labels
//!   (Cristianini et al. 2001): 1 when K is a multiple of the same-class indicator.
//! - `predicted_loss_ratio`: `L_T / L_0` of linearised gradient descent (`crate::linearised`)
//!   from `f_0 = 0` (the infinite-width output's mean, so `r_0 = -Y`) at the rate normalised by
//!   the kernel's trace, `eta = N / trace(K)`, so that `eta l_i / N = l_i / trace` is each mode's
//!   share: `sum_i (1 - l_i / tr)^(2T) |u_i^T Y|^2 / |Y|^2`. It does not depend on K's scale,
//!   only on how the spectrum is spread and how the labels sit in it; smaller is faster.

use crate::linearised::{KernelPrediction, predicted_losses};
use faer::Mat;

/// `<K, Y Y^T> / (|K| |Y Y^T|)` for one-hot labels (`(Y Y^T)_ab = 1` when a and b share a class).
pub fn kernel_target_alignment(k: &Mat<f64>, labels: &[u8]) -> f64 {
    let n = labels.len();
    assert_eq!((k.nrows(), k.ncols()), (n, n), "one label per kernel row");
    let mut inner = 0.0;
    let mut same = 0usize;
    for a in 0..n {
        for b in 0..n {
            if labels[a] == labels[b] {
                inner += k[(a, b)];
                same += 1;
            }
        }
    }
    inner / (k.norm_l2() * (same as f64).sqrt())
}

/// `L_T / L_0` of linearised gradient descent from zero output at `eta = N / trace(K)`, over the
/// one-hot targets of `labels` (classes `0..classes`).
pub fn predicted_loss_ratio(
    k: &Mat<f64>,
    labels: &[u8],
    classes: usize,
    steps: u32,
) -> Result<f64, String> {
    let n = labels.len();
    let trace: f64 = (0..n).map(|i| k[(i, i)]).sum();
    if trace.is_nan() || trace <= 0.0 {
        return Err(format!("a kernel of trace {trace} predicts no descent"));
    }
    let eta = n as f64 / trace;
    let targets: Vec<Vec<f64>> = (0..classes)
        .map(|c| {
            labels
                .iter()
                .map(|&l| -f64::from(u8::from(usize::from(l) == c)))
                .collect()
        })
        .collect();
    let columns: Vec<&[f64]> = targets.iter().map(Vec::as_slice).collect();
    let block = KernelPrediction::of_residuals(k, &columns)?;
    let losses = predicted_losses(&[block], eta, n, steps);
    Ok(losses[steps as usize] / losses[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_class(labels: &[u8]) -> Mat<f64> {
        Mat::from_fn(labels.len(), labels.len(), |a, b| {
            f64::from(u8::from(labels[a] == labels[b]))
        })
    }

    #[test]
    fn alignment_of_closed_forms() {
        let labels = [0u8, 0, 1, 2, 2, 2];
        // K = c Y Y^T is perfectly aligned, whatever c.
        let k = same_class(&labels) * faer::Scale(3.0);
        assert!((kernel_target_alignment(&k, &labels) - 1.0).abs() < 1e-15);
        // K = I: <I, YY^T> = N, |I| = sqrt(N), |YY^T| = sqrt(sum n_c^2) = sqrt(4 + 1 + 9).
        let identity = Mat::<f64>::identity(6, 6);
        let want = 6.0 / (6f64.sqrt() * 14f64.sqrt());
        assert!((kernel_target_alignment(&identity, &labels) - want).abs() < 1e-15);
    }

    #[test]
    fn predicted_ratio_of_closed_forms() {
        let labels = [0u8, 0, 1, 2, 2, 2];
        let steps = 7;
        // K = I: every mode has share 1/N, so the ratio is (1 - 1/N)^(2T).
        let identity = Mat::<f64>::identity(6, 6);
        let got = predicted_loss_ratio(&identity, &labels, 3, steps).unwrap();
        assert!((got - (1.0 - 1.0 / 6.0f64).powi(14)).abs() < 1e-12, "{got}");
        // K = c Y Y^T: class c's indicator is an eigenvector of eigenvalue n_c, the trace is
        // c N, so the ratio is sum_c n_c (1 - n_c / N)^(2T) / N, for any c.
        let k = same_class(&labels) * faer::Scale(0.3);
        let want: f64 = [2.0f64, 1.0, 3.0]
            .iter()
            .map(|&nc| nc * (1.0 - nc / 6.0).powi(14))
            .sum::<f64>()
            / 6.0;
        let got = predicted_loss_ratio(&k, &labels, 3, steps).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}
