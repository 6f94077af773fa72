//! Total-variation smoothing of histograms for pictures (Chambolle 2004), never for distances.
//!
//! `tv_smooth` solves the ROF problem `min_u TV(u) + ||u - f||^2 / (2 lambda)` on the K_r x K_c
//! grid with Chambolle's projection algorithm: `p <- (p + tau grad(div p - f/lambda)) / (1 + tau
//! |grad(div p - f/lambda)|)`, `u = f - lambda div p`, with forward differences, their negative
//! adjoint as divergence, and `tau = 1/8` (the step the paper proves convergent). The mean of `f`
//! is preserved exactly (the divergence sums to zero), and `lambda = 0` returns `f`.

use crate::step::StepGraphon;

/// Chambolle's step size, at the bound `tau <= 1/8` of his convergence theorem.
const TAU: f64 = 0.125;

fn divergence(px: &[f64], py: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut d = vec![0.0; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            let k = i * cols + j;
            let x = if i + 1 < rows { px[k] } else { 0.0 } - if i > 0 { px[k - cols] } else { 0.0 };
            let y = if j + 1 < cols { py[k] } else { 0.0 } - if j > 0 { py[k - 1] } else { 0.0 };
            d[k] = x + y;
        }
    }
    d
}

/// The histogram smoothed with weight `lambda` (in density units; 0 = none) after `iterations`
/// steps of Chambolle's algorithm.
pub fn tv_smooth(h: &StepGraphon, lambda: f64, iterations: usize) -> StepGraphon {
    if lambda <= 0.0 {
        return h.clone();
    }
    let (rows, cols) = (h.rows, h.cols);
    let n = rows * cols;
    let (mut px, mut py) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..iterations {
        let div = divergence(&px, &py, rows, cols);
        let g: Vec<f64> = div
            .iter()
            .zip(&h.values)
            .map(|(d, f)| d - f / lambda)
            .collect();
        for i in 0..rows {
            for j in 0..cols {
                let k = i * cols + j;
                let gx = if i + 1 < rows {
                    g[k + cols] - g[k]
                } else {
                    0.0
                };
                let gy = if j + 1 < cols { g[k + 1] - g[k] } else { 0.0 };
                let norm = 1.0 + TAU * (gx * gx + gy * gy).sqrt();
                px[k] = (px[k] + TAU * gx) / norm;
                py[k] = (py[k] + TAU * gy) / norm;
            }
        }
    }
    let div = divergence(&px, &py, rows, cols);
    let values = h
        .values
        .iter()
        .zip(&div)
        .map(|(f, d)| f - lambda * d)
        .collect();
    StepGraphon::new(rows, cols, values).expect("same grid")
}

/// The isotropic total variation of a grid, with forward differences.
pub fn total_variation(h: &StepGraphon) -> f64 {
    let (rows, cols) = (h.rows, h.cols);
    let mut tv = 0.0;
    for i in 0..rows {
        for j in 0..cols {
            let gx = if i + 1 < rows {
                h.get(i + 1, j) - h.get(i, j)
            } else {
                0.0
            };
            let gy = if j + 1 < cols {
                h.get(i, j + 1) - h.get(i, j)
            } else {
                0.0
            };
            tv += (gx * gx + gy * gy).sqrt();
        }
    }
    tv
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_artifacts::seeding::stream;
    use glh_model::mlp::unit_f64;
    use rand_chacha::rand_core::Rng;

    fn noisy(k: usize) -> StepGraphon {
        let mut rng = stream(1, "test");
        let values = (0..k * k)
            .map(|i| {
                let (a, b) = (i / k, i % k);
                let step = if a < k / 2 && b < k / 2 { 0.8 } else { 0.2 };
                step + 0.1 * (unit_f64(rng.next_u64()) - 0.5)
            })
            .collect();
        StepGraphon::new(k, k, values).unwrap()
    }

    fn mean(h: &StepGraphon) -> f64 {
        h.values.iter().sum::<f64>() / h.values.len() as f64
    }

    #[test]
    fn zero_weight_and_constants_are_fixed_points() {
        let h = noisy(10);
        assert_eq!(tv_smooth(&h, 0.0, 100), h);
        let c = StepGraphon::new(6, 4, vec![0.3; 24]).unwrap();
        let s = tv_smooth(&c, 0.5, 200);
        assert!(s.values.iter().all(|v| (v - 0.3).abs() < 1e-12));
    }

    #[test]
    fn smoothing_lowers_total_variation_and_keeps_mean_and_range() {
        let h = noisy(20);
        let (lo, hi) = h
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut previous = total_variation(&h);
        for lambda in [0.01, 0.05, 0.2] {
            let s = tv_smooth(&h, lambda, 300);
            let tv = total_variation(&s);
            assert!(
                tv < previous,
                "lambda {lambda}: TV {tv} not below {previous}"
            );
            previous = tv;
            assert!((mean(&s) - mean(&h)).abs() < 1e-12, "the mean is preserved");
            assert!(
                s.values.iter().all(|&v| v >= lo - 1e-9 && v <= hi + 1e-9),
                "maximum principle"
            );
        }
        // A very large weight flattens the picture to its mean.
        let flat = tv_smooth(&h, 1e3, 5000);
        assert!(flat.values.iter().all(|v| (v - mean(&h)).abs() < 1e-2));
    }
}
