//! Magnitude's layer densities in closed form (issue #28, item 3): what a Magnitude mask keeps
//! per layer at any width, and where that tends as the width grows, without drawing a mask.
//!
//! Layer l's weights are i.i.d. `U(-a_l, a_l)` with `a_l = 1/sqrt(fan_in_l)`
//! (`glh_model::mlp::init_bound`), so `|w|` is `U(0, a_l)`, and keeping every weight with
//! `|w| > t` keeps the fraction `p_l(t) = max(0, 1 - t / a_l)` of layer l. Global ranking keeps
//! the top `D N` of the `N` ranked weights, so by the law of large numbers (the fluctuations are
//! `O(1 / sqrt(N_l))`) the threshold t solves
//!
//! ```text
//! sum_l N_l max(0, 1 - t / a_l) = D sum_l N_l,
//! ```
//!
//! whose left side is continuous, piecewise linear and falling in t: over the active layers A
//! (those with `a_l > t`), `t = (sum_A N_l - D N) / sum_A (N_l / a_l)`. Layer-wise ranking keeps
//! D of every ranked layer; a dense classifier keeps all of its own.
//!
//! As n grows at a fixed input size and class count, the `n^2` weights of the hidden layers
//! outnumber the rest and share one `a = n^(-1/2)`: `t sqrt(n) -> 1 - D`, so every ranked layer
//! of fan-in n tends to D while the input layer, whose `a = input^(-1/2)` does not shrink, tends
//! to 1 ([`limit_layer_densities`]). The approach is slow: about `1 / n` for the hidden layers
//! and `1 / sqrt(n)` for the input layer. At L = 4 and 80% on MNIST the hidden layers keep
//! 0.455, 0.148 and 0.158 at n = 250, 2000 and 4000 (the unit tests' golden values), against a
//! limit of 0.2.

use glh_artifacts::config::{Classifier, Scope};
use glh_model::Architecture;
use glh_model::mlp::init_bound;

/// The expected fraction of each layer's weights that Magnitude keeps in `arch` at `density`
/// (of the ranked layers), input layer first.
pub fn layer_densities(
    arch: &Architecture,
    density: f64,
    scope: Scope,
    classifier: Classifier,
) -> Vec<f64> {
    let shapes = arch.shapes();
    let ranked = classifier.masked_layers(shapes.len() as u32) as usize;
    // (weights N_l, bound a_l) of the ranked layers.
    let layers: Vec<(f64, f64)> = shapes[..ranked]
        .iter()
        // In f64: at the limit width a layer has 2^80 weights.
        .map(|&(rows, cols)| (rows as f64 * cols as f64, init_bound(cols)))
        .collect();
    let kept_of_ranked: Vec<f64> = match scope {
        Scope::Layerwise => vec![density; ranked],
        Scope::Global => {
            let t = global_threshold(&layers, density);
            layers
                .iter()
                .map(|&(_, a)| (1.0 - t / a).max(0.0))
                .collect()
        }
    };
    let dense = shapes.len() - ranked;
    kept_of_ranked
        .into_iter()
        .chain(std::iter::repeat_n(1.0, dense))
        .collect()
}

/// The limit of [`layer_densities`] as the width grows at a fixed input size and class count:
/// under global ranking, D for every ranked layer of fan-in n and 1 for the input layer, once
/// a ranked hidden-to-hidden layer exists (`None` without one: at L = 2 every ranked layer has
/// about n weights, and the limit depends on the input and class counts); layer-wise, D for every
/// ranked layer; 1 for a dense classifier.
pub fn limit_layer_densities(
    depth: usize,
    density: f64,
    scope: Scope,
    classifier: Classifier,
) -> Option<Vec<f64>> {
    let ranked = classifier.masked_layers(depth as u32) as usize;
    // Layers 1..ranked-1 of the ranked ones have fan-in n; with ranked >= 2 and a layer l with
    // 1 <= l < depth - 1 among them, that layer is n x n.
    let hidden_ranked = (1..ranked).any(|l| l < depth - 1);
    let ranked_limit = |l: usize| match scope {
        Scope::Layerwise => density,
        Scope::Global if l == 0 => 1.0,
        Scope::Global => density,
    };
    (scope == Scope::Layerwise || hidden_ranked).then(|| {
        (0..depth)
            .map(|l| if l < ranked { ranked_limit(l) } else { 1.0 })
            .collect()
    })
}

/// The t with `sum_l N_l max(0, 1 - t / a_l) = density sum_l N_l` over `layers` = `(N_l, a_l)`.
fn global_threshold(layers: &[(f64, f64)], density: f64) -> f64 {
    let total: f64 = layers.iter().map(|l| l.0).sum();
    let mut by_bound: Vec<(f64, f64)> = layers.to_vec();
    by_bound.sort_by(|x, y| y.1.total_cmp(&x.1));
    // Grow the active set from the widest bound down: with the k widest layers active, t must
    // lie below the k-th bound and at or above the next one.
    let (mut weights, mut weights_over_bound) = (0.0, 0.0);
    for (k, &(n, a)) in by_bound.iter().enumerate() {
        weights += n;
        weights_over_bound += n / a;
        let t = (weights - density * total) / weights_over_bound;
        let next = by_bound.get(k + 1).map_or(0.0, |l| l.1);
        if t >= next && t < a {
            return t.max(0.0);
        }
    }
    // Density 1 keeps everything: the threshold is 0.
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorers::MagnitudeScorer;
    use crate::select::select_mask;
    use crate::{Scorer, prune::prune};
    use glh_model::{Mask, Mlp};

    fn mnist(width: usize, depth: usize) -> Architecture {
        Architecture {
            input: 784,
            width,
            depth,
            classes: 10,
        }
    }

    #[test]
    fn the_kept_weights_add_up_to_the_density() {
        for (arch, density) in [
            (mnist(100, 4), 0.3),
            (mnist(2000, 5), 0.1),
            (mnist(64, 2), 0.5),
        ] {
            for classifier in [Classifier::Pruned, Classifier::Dense] {
                let p = layer_densities(&arch, density, Scope::Global, classifier);
                let shapes = arch.shapes();
                let ranked = classifier.masked_layers(shapes.len() as u32) as usize;
                let (kept, total) = shapes[..ranked]
                    .iter()
                    .zip(&p)
                    .fold((0.0, 0.0), |(k, t), (&(r, c), &p)| {
                        (k + p * (r * c) as f64, t + (r * c) as f64)
                    });
                // (Small widths: the weight counts fit a usize here.)
                assert!(
                    (kept / total - density).abs() < 1e-12,
                    "{arch:?} {classifier:?}"
                );
                assert!(p[ranked..].iter().all(|&d| d == 1.0));
                assert!(p.iter().all(|&d| (0.0..=1.0).contains(&d)));
            }
        }
    }

    #[test]
    fn it_matches_the_masks_magnitude_draws() {
        // A brute-force twin: real initial weights ranked globally. Each layer's kept fraction
        // fluctuates by about sqrt(p (1 - p) / N_l) <= 0.5 / sqrt(12 * 150) = 0.012 around the
        // closed form; allow 0.03.
        let arch = Architecture {
            input: 12,
            width: 150,
            depth: 4,
            classes: 5,
        };
        for seed in 0..3 {
            let net = Mlp::init(arch, seed);
            for density in [0.5, 0.2] {
                let scores = MagnitudeScorer.score(&net, &Mask::full(&arch), None);
                let mask = select_mask(
                    &scores,
                    &Mask::full(&arch),
                    density,
                    Scope::Global,
                    Classifier::Pruned,
                    0,
                )
                .unwrap();
                let predicted = layer_densities(&arch, density, Scope::Global, Classifier::Pruned);
                for (layer, p) in mask.layers().iter().zip(&predicted) {
                    let kept = layer.kept() as f64 / (layer.rows() * layer.cols()) as f64;
                    assert!((kept - p).abs() < 0.03, "seed {seed}: {kept} vs {p}");
                }
            }
        }
        // And through the pruning loop with a dense classifier.
        let net = Mlp::init(arch, 7);
        let how = crate::methods::Pruning {
            density: 0.2,
            scope: Scope::Global,
            seed: 7,
            tie_seed: 0,
            allow_empty_layers: true,
            classifier: Classifier::Dense,
        };
        let mask = prune(&MagnitudeScorer, &net, None, &how, &mut |_, _, _| {}).unwrap();
        let predicted = layer_densities(&arch, 0.2, Scope::Global, Classifier::Dense);
        for (layer, p) in mask.layers().iter().zip(&predicted) {
            let kept = layer.kept() as f64 / (layer.rows() * layer.cols()) as f64;
            assert!((kept - p).abs() < 0.03, "{kept} vs {p}");
        }
    }

    #[test]
    fn the_e1_widths_give_the_golden_values_and_tend_to_the_limit() {
        // Golden values of the module doc (L = 4, 80%, MNIST); the masks of e1-cauchy keep
        // 0.456, 0.147 and 0.157 in layer 2 (mean over 5 seeds).
        let hidden = |n| layer_densities(&mnist(n, 4), 0.2, Scope::Global, Classifier::Pruned)[1];
        for (n, golden) in [(250, 0.455), (2000, 0.148), (4000, 0.158)] {
            assert!((hidden(n) - golden).abs() < 5e-4, "n = {n}: {}", hidden(n));
        }
        // The limit, and the closed form approaching it: the hidden layers about like 1 / n,
        // the input layer like 1 / sqrt(n).
        let limit = limit_layer_densities(4, 0.2, Scope::Global, Classifier::Pruned).unwrap();
        assert_eq!(limit, [1.0, 0.2, 0.2, 0.2]);
        let wide = layer_densities(&mnist(1 << 30, 4), 0.2, Scope::Global, Classifier::Pruned);
        for (l, (got, want)) in wide.iter().zip(&limit).enumerate() {
            let tolerance = if l == 0 { 1e-3 } else { 1e-6 };
            assert!((got - want).abs() < tolerance, "{wide:?}");
        }
        assert_eq!(
            limit_layer_densities(4, 0.2, Scope::Global, Classifier::Dense).unwrap(),
            [1.0, 0.2, 0.2, 1.0]
        );
        assert_eq!(
            limit_layer_densities(3, 0.2, Scope::Global, Classifier::Dense).unwrap(),
            [1.0, 0.2, 1.0]
        );
        assert!(limit_layer_densities(2, 0.2, Scope::Global, Classifier::Pruned).is_none());
        // Layer-wise ranking is the density in every layer at every width.
        let layerwise = layer_densities(&mnist(300, 5), 0.2, Scope::Layerwise, Classifier::Dense);
        assert_eq!(layerwise, [0.2, 0.2, 0.2, 0.2, 1.0]);
    }
}
