//! Linearised gradient descent: the loss curve a kernel predicts.
//!
//! Full-batch gradient descent at rate eta on `L = |r|^2 / (2N)`, with `r = f - y` the
//! residual on N points (all outputs stacked), moves the parameters by `-(eta / N) J^T r`; to
//! first order in eta the residual then moves by `-(eta / N) J J^T r = -(eta / N) K r`, so
//!
//! ```text
//! r_t = (I - (eta / N) K)^t r_0,   L_t = |r_t|^2 / (2N) = sum_i (1 - eta l_i / N)^(2t) c_i^2 / (2N)
//! ```
//!
//! with `K = sum_i l_i u_i u_i^T` and `c_i = u_i . r_0`. A kernel that is block-diagonal over
//! the outputs (the infinite-width limit) is a [`KernelPrediction`] per block, whose curves
//! add. The dynamics stage compares these curves with trained networks; the ntk stage reads one
//! number of them per kernel ([`crate::alignment`]).
//!
//! Everything is f64; the eigensolver is faer's, sequential, so curves do not depend on threads.

use crate::spectrum::eigen_ascending;
use faer::Mat;

/// One kernel's eigendecomposition, projected on a residual.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelPrediction {
    /// Eigenvalues, ascending (faer's order).
    eigenvalues: Vec<f64>,
    /// `c_i^2`: the squared projection of the initial residual on each eigenvector.
    energies: Vec<f64>,
}

impl KernelPrediction {
    /// The prediction of symmetric `kernel` for the initial residual `r0` (one entry per row).
    pub fn new(kernel: &Mat<f64>, r0: &[f64]) -> Result<Self, String> {
        Self::of_residuals(kernel, &[r0])
    }

    /// The prediction of `kernel` for several residuals that evolve under it independently
    /// (one per output of the same kernel): one eigendecomposition, their squared projections
    /// added, so the curve is the sum of theirs.
    pub fn of_residuals(kernel: &Mat<f64>, residuals: &[&[f64]]) -> Result<Self, String> {
        let m = kernel.nrows();
        if let Some(r) = residuals
            .iter()
            .find(|r| kernel.ncols() != m || r.len() != m)
        {
            return Err(format!(
                "a {}x{} kernel and a residual of {}",
                m,
                kernel.ncols(),
                r.len()
            ));
        }
        let (eigenvalues, u) = eigen_ascending(kernel)?;
        let energies = (0..m)
            .map(|i| {
                residuals
                    .iter()
                    .map(|r| {
                        let c: f64 = u.col_as_slice(i).iter().zip(*r).map(|(a, b)| a * b).sum();
                        c * c
                    })
                    .sum()
            })
            .collect();
        Ok(KernelPrediction {
            eigenvalues,
            energies,
        })
    }

    /// The largest eigenvalue `l_1`.
    pub fn top_eigenvalue(&self) -> f64 {
        self.eigenvalues.last().copied().unwrap_or(0.0)
    }

    /// The trace of the kernel (the sum of its eigenvalues).
    pub fn trace(&self) -> f64 {
        self.eigenvalues.iter().sum()
    }

    /// `|r_t|^2` for `t = 0..=steps` at rate `eta` on `n_points` points.
    pub fn squared_residuals(&self, eta: f64, n_points: usize, steps: u32) -> Vec<f64> {
        let factors: Vec<f64> = self
            .eigenvalues
            .iter()
            .map(|l| (1.0 - eta * l / n_points as f64).powi(2))
            .collect();
        let mut decay = vec![1.0; factors.len()];
        (0..=steps)
            .map(|t| {
                if t > 0 {
                    decay.iter_mut().zip(&factors).for_each(|(d, f)| *d *= f);
                }
                decay.iter().zip(&self.energies).map(|(d, e)| d * e).sum()
            })
            .collect()
    }
}

/// The predicted losses `L_t = sum_blocks |r_t|^2 / (2N)`, `t = 0..=steps`, of independent
/// blocks of a kernel (one for a full kernel, one per output for a block-diagonal one).
pub fn predicted_losses(
    blocks: &[KernelPrediction],
    eta: f64,
    n_points: usize,
    steps: u32,
) -> Vec<f64> {
    let mut losses = vec![0.0; steps as usize + 1];
    for block in blocks {
        for (l, r2) in losses
            .iter_mut()
            .zip(block.squared_residuals(eta, n_points, steps))
        {
            *l += r2 / (2 * n_points) as f64;
        }
    }
    losses
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A diagonal kernel's curve is the closed form, term by term.
    #[test]
    fn diagonal_kernel_gives_the_closed_form() {
        let k = Mat::from_fn(3, 3, |i, j| if i == j { [4.0, 1.0, 0.0][i] } else { 0.0 });
        let r0 = [1.0, 2.0, 3.0];
        let p = KernelPrediction::new(&k, &r0).unwrap();
        let (eta, n) = (0.5, 2);
        let got = predicted_losses(std::slice::from_ref(&p), eta, n, 3);
        for (t, g) in got.iter().enumerate() {
            let want = ((1.0f64 - 1.0).powi(2 * t as i32) * 1.0
                + (1.0f64 - 0.25).powi(2 * t as i32) * 4.0
                + 9.0)
                / 4.0;
            assert!((g - want).abs() < 1e-12, "t={t}: {g} vs {want}");
        }
        assert_eq!(p.top_eigenvalue(), 4.0);
    }

    /// `K` at `eta` and `c K` at `eta / c` predict the same curve.
    #[test]
    fn scaling_the_kernel_and_the_rate_inversely_gives_the_same_curve() {
        let b = Mat::from_fn(5, 5, |i, j| ((i * 7 + j * 3) % 5) as f64 / 5.0 - 0.4);
        let k = &b * b.transpose() + Mat::<f64>::identity(5, 5);
        let r0 = [0.3, -1.0, 0.5, 2.0, -0.7];
        let c = 7.5;
        let base = predicted_losses(&[KernelPrediction::new(&k, &r0).unwrap()], 0.4, 5, 50);
        let scaled_kernel = &k * faer::Scale(c);
        let scaled = predicted_losses(
            &[KernelPrediction::new(&scaled_kernel, &r0).unwrap()],
            0.4 / c,
            5,
            50,
        );
        for (a, b) in base.iter().zip(&scaled) {
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
        }
    }

    /// The eigen route equals iterating `r <- (I - eta K / N) r` directly.
    #[test]
    fn matches_the_iterated_residual() {
        let b = Mat::from_fn(6, 6, |i, j| ((i * 5 + j * 11) % 7) as f64 / 7.0 - 0.3);
        let k = &b * b.transpose();
        let r0: Vec<f64> = (0..6).map(|i| i as f64 - 2.5).collect();
        let (eta, n, steps) = (0.3, 3, 20);
        let got = predicted_losses(&[KernelPrediction::new(&k, &r0).unwrap()], eta, n, steps);
        let mut r = r0.clone();
        for (t, g) in got.iter().enumerate() {
            let want = r.iter().map(|v| v * v).sum::<f64>() / (2 * n) as f64;
            assert!((g - want).abs() < 1e-12 * want.max(1.0), "t={t}");
            let kr: Vec<f64> = (0..6)
                .map(|i| (0..6).map(|j| k[(i, j)] * r[j]).sum())
                .collect();
            r.iter_mut()
                .zip(&kr)
                .for_each(|(v, kv)| *v -= eta / n as f64 * kv);
        }
    }
}
