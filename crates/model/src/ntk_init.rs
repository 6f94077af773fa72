//! The network of the NTK parameterisation (METHOD.md section 4), as one seeded draw.
//!
//! `z_l = sqrt(sigma_w^2 / n_(l-1)) (V_l ⊙ M_l) h_(l-1)` with `V_l ~ N(0, 1)` and no biases; the
//! scale uses the layer's full fan-in `n_(l-1)`, not its kept inputs. The trainable parameters
//! are the `V`: gradient descent on them at learning rate `eta` is gradient descent on the
//! effective weights `W_l = sqrt(sigma_w^2 / n_(l-1)) V_l` at learning rate
//! `eta sigma_w^2 / n_(l-1)` ([`layer_scale`]).
//!
//! Draw `t` of seed s is the stream `ntk/empirical/draw-t` of s, layer by layer, row-major,
//! `StandardNormal` f64 samples. The ntk stage's empirical kernel averages draws 0, 1, ...; the
//! training stage's NTK-parameterised network is draw 0, so the empirical kernel of draw 0 is
//! exactly the kernel of the network that trains.

use crate::mlp::{Architecture, Linear, Mlp};
use glh_artifacts::seeding::stream;
use rand::RngExt;
use rand_distr::StandardNormal;

/// The `N(0, 1)` weights `V_l` of draw `draw` for layers of `shapes` (`(rows, cols)`, input
/// layer first), each row-major.
pub fn standard_normal_weights(shapes: &[(usize, usize)], seed: u64, draw: u32) -> Vec<Vec<f64>> {
    let mut rng = stream(seed, &format!("ntk/empirical/draw-{draw}"));
    shapes
        .iter()
        .map(|&(rows, cols)| {
            (0..rows * cols)
                .map(|_| rng.sample(StandardNormal))
                .collect()
        })
        .collect()
}

/// `sqrt(sigma_w^2 / fan_in)`: the factor between a layer's `V` and its effective weights.
pub fn layer_scale(sigma_w2: f64, fan_in: usize) -> f64 {
    (sigma_w2 / fan_in as f64).sqrt()
}

/// The NTK-parameterised network of `seed` (draw 0) as an [`Mlp`] of effective weights
/// `f32(layer_scale * V)` with zero biases. Masking is the caller's (training keeps pruned
/// entries at 0).
pub fn ntk_mlp(arch: Architecture, seed: u64, sigma_w2: f64) -> Mlp {
    let shapes = arch.shapes();
    let layers = standard_normal_weights(&shapes, seed, 0)
        .into_iter()
        .zip(&shapes)
        .map(|(v, &(rows, cols))| {
            let scale = layer_scale(sigma_w2, cols);
            Linear {
                rows,
                cols,
                weight: v.iter().map(|&v| (scale * v) as f32).collect(),
                bias: vec![0.0; rows],
            }
        })
        .collect();
    Mlp { arch, layers }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_standard_normals() {
        let shapes = [(40, 30), (20, 40)];
        let a = standard_normal_weights(&shapes, 3, 0);
        assert_eq!(a, standard_normal_weights(&shapes, 3, 0));
        assert_ne!(a, standard_normal_weights(&shapes, 3, 1));
        assert_eq!((a[0].len(), a[1].len()), (1200, 800));
        // 2000 N(0, 1) draws: mean within 4 sd (0.09), variance within 4 sd (0.13) of 1.
        let all: Vec<f64> = a.concat();
        let mean = all.iter().sum::<f64>() / all.len() as f64;
        let var = all.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / all.len() as f64;
        assert!(
            mean.abs() < 0.09 && (var - 1.0).abs() < 0.13,
            "{mean} {var}"
        );
    }

    #[test]
    fn ntk_mlp_scales_draw_0_by_the_full_fan_in() {
        let arch = Architecture::mlp(784, 8, 3, 10);
        let net = ntk_mlp(arch, 5, 2.0);
        let v = standard_normal_weights(&arch.shapes(), 5, 0);
        for (layer, v) in net.layers.iter().zip(&v) {
            let s = (2.0 / layer.cols as f64).sqrt();
            assert!(layer.bias.iter().all(|&b| b == 0.0));
            assert!(
                layer
                    .weight
                    .iter()
                    .zip(v)
                    .all(|(&w, &v)| w == (s * v) as f32)
            );
        }
    }
}
