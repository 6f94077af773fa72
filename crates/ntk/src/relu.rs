//! The ReLU Gaussian moments of the NTK recursion (the arc-cosine kernel of order 1 and 0).
//!
//! For `(a, b)` centred Gaussian with variances `q_a`, `q_b` and covariance `s`, with
//! `rho = s / sqrt(q_a q_b)` clipped to [-1, 1] and `theta = arccos(rho)`:
//! `E[relu(a) relu(b)] = sqrt(q_a q_b) (sin theta + (pi - theta) cos theta) / (2 pi)` and
//! `E[relu'(a) relu'(b)] = (pi - theta) / (2 pi)`. `sin theta` is evaluated as
//! `sqrt(1 - rho^2)`, so one `acos` per entry.
//!
//! A position with zero variance (no kept input reaches it) has a pre-activation that is
//! exactly 0; both moments are then 0, matching `relu'(0) = 0` of the empirical network.

use std::f64::consts::PI;

/// `(E[relu(a) relu(b)], E[relu'(a) relu'(b)])`.
#[inline]
pub fn relu_moments(q_a: f64, q_b: f64, s: f64) -> (f64, f64) {
    let scale = (q_a * q_b).sqrt();
    if scale <= 0.0 {
        return (0.0, 0.0);
    }
    let rho = (s / scale).clamp(-1.0, 1.0);
    let angle_left = PI - rho.acos();
    let e = scale * ((1.0 - rho * rho).sqrt() + angle_left * rho) / (2.0 * PI);
    (e, angle_left / (2.0 * PI))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagonal_closed_form() {
        // rho = 1: E[relu(a)^2] = q / 2 and E[relu'(a)^2] = 1/2.
        for q in [1e-3, 0.7, 5.0] {
            let (e, edot) = relu_moments(q, q, q);
            assert!((e - q / 2.0).abs() < 1e-15 * q.max(1.0));
            assert_eq!(edot, 0.5);
        }
    }

    #[test]
    fn orthogonal_and_opposite_inputs() {
        // rho = 0: E = sqrt(q q') / (2 pi), Edot = 1/4; rho = -1: both 0.
        let (e, edot) = relu_moments(2.0, 8.0, 0.0);
        assert!((e - 4.0 / (2.0 * PI)).abs() < 1e-15);
        assert!((edot - 0.25).abs() < 1e-15);
        let (e, edot) = relu_moments(1.0, 1.0, -1.0);
        assert!(e.abs() < 1e-15 && edot.abs() < 1e-15);
        assert_eq!(relu_moments(0.0, 1.0, 0.0), (0.0, 0.0));
    }

    #[test]
    fn matches_monte_carlo() {
        // An independent check by a deterministic quasi-Monte-Carlo over a Gaussian pair.
        let (q_a, q_b, s) = (1.5_f64, 0.8, 0.6);
        let (l11, l21) = (q_a.sqrt(), s / q_a.sqrt());
        let l22 = (q_b - l21 * l21).sqrt();
        let grid = 600;
        let (mut e, mut edot, mut w_sum) = (0.0, 0.0, 0.0);
        for i in 0..grid {
            for j in 0..grid {
                let z1 = -6.0 + 12.0 * (i as f64 + 0.5) / grid as f64;
                let z2 = -6.0 + 12.0 * (j as f64 + 0.5) / grid as f64;
                let w = (-(z1 * z1 + z2 * z2) / 2.0).exp();
                let (a, b) = (l11 * z1, l21 * z1 + l22 * z2);
                e += w * a.max(0.0) * b.max(0.0);
                edot += w * f64::from(u8::from(a > 0.0 && b > 0.0));
                w_sum += w;
            }
        }
        let (exact_e, exact_edot) = relu_moments(q_a, q_b, s);
        assert!(
            (e / w_sum - exact_e).abs() < 1e-4,
            "{} vs {exact_e}",
            e / w_sum
        );
        assert!((edot / w_sum - exact_edot).abs() < 5e-3);
    }
}
