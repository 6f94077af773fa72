//! What the dynamics stage measures of a prediction: the stability bound `2N / l_1`, the curve
//! error and the relative area. The predicted curve itself is `glh_ntk::linearised`'s
//! (re-exported here).

pub use glh_ntk::linearised::{KernelPrediction, predicted_losses};

/// The largest learning rate gradient descent is stable at under these blocks: `2N / l_1`.
pub fn stable_learning_rate(blocks: &[KernelPrediction], n_points: usize) -> f64 {
    let top = blocks
        .iter()
        .map(KernelPrediction::top_eigenvalue)
        .fold(f64::NEG_INFINITY, f64::max);
    2.0 * n_points as f64 / top
}

/// `max_t |observed_t - predicted_t| / observed_0`: the curve error of a prediction.
pub fn curve_error(observed: &[f64], predicted: &[f64]) -> f64 {
    let scale = observed.first().copied().unwrap_or(f64::NAN);
    observed
        .iter()
        .zip(predicted)
        .map(|(o, p)| (o - p).abs() / scale)
        .fold(0.0, f64::max)
}

/// `mean_t L_t / L_0`: the area under a loss curve relative to its start, which ranks speeds
/// (smaller is faster) without depending on the start.
pub fn relative_area(losses: &[f64]) -> f64 {
    let start = losses.first().copied().unwrap_or(f64::NAN);
    losses.iter().sum::<f64>() / (losses.len() as f64 * start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn stable_rate_is_2n_over_the_top_eigenvalue() {
        let k = Mat::from_fn(3, 3, |i, j| if i == j { [4.0, 1.0, 0.0][i] } else { 0.0 });
        let p = KernelPrediction::new(&k, &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(stable_learning_rate(&[p], 2), 1.0);
    }

    #[test]
    fn curve_error_and_area() {
        assert_eq!(curve_error(&[2.0, 1.0, 0.5], &[2.0, 1.5, 0.5]), 0.25);
        assert_eq!(relative_area(&[2.0, 1.0, 0.0]), 0.5);
    }
}
