//! The kernels against independent truths: the standard ReLU NTK recursion written out per
//! pair, closed forms, the `c^L` law, permutation invariance, K = n, a finite-difference
//! Jacobian, and convergence with width.

use faer::Mat;
use glh_graphons::sampling::sample_mask;
use glh_model::LayerMask;
use glh_ntk::chain::GraphonChain;
use glh_ntk::empirical::{draw_weights, empirical_ntk, empirical_ntk_full, empirical_ntk_of};
use glh_ntk::input_layer::InputLayer;
use glh_ntk::products::{LayerProduct, SPARSE_BELOW_DENSITY};
use glh_ntk::recursion::{graphon_ntk, graphon_ntk_per_output, graphon_ntks};
use glh_ntk::spectrum::{eigenvalues_descending, spectral_metrics};
use glh_ntk::stage::relative_error;
use rand::RngExt;
use std::f64::consts::PI;

/// Deterministic pseudo-random inputs in [-1, 1] (plus a positive offset so pairs correlate).
fn inputs(d: usize, n: usize, seed: u64) -> Mat<f64> {
    let mut rng = glh_artifacts::seeding::stream(seed, "test/inputs");
    let values: Vec<f64> = (0..d * n)
        .map(|_| rng.random_range(-1.0..1.0) + 0.3)
        .collect();
    Mat::from_fn(d, n, |i, j| values[j * d + i])
}

/// The standard ReLU NTK (Jacot et al.; neural-tangents with W_std^2 = sigma_w2, b_std = 0) of
/// an L-layer MLP on one pair, written out from the textbook recursion with scalars only.
fn standard_ntk(x: &[f64], y: &[f64], depth: usize, sigma_w2: f64) -> f64 {
    let d = x.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
    let (mut qx, mut qy, mut s) = (
        sigma_w2 * dot(x, x) / d,
        sigma_w2 * dot(y, y) / d,
        sigma_w2 * dot(x, y) / d,
    );
    let mut theta = s;
    for _ in 1..depth {
        // x = y has angle exactly 0 (rounding of s / sqrt(q q) would move acos by ~1e-8).
        let cos = if x == y {
            1.0
        } else {
            (s / (qx * qy).sqrt()).clamp(-1.0, 1.0)
        };
        let angle = cos.acos();
        let k1 = (qx * qy).sqrt() / (2.0 * PI) * (angle.sin() + (PI - angle) * cos);
        let k0 = (PI - angle) / (2.0 * PI);
        // Diagonal variances keep their closed form E[relu(a)^2] = q / 2.
        (qx, qy) = (sigma_w2 * qx / 2.0, sigma_w2 * qy / 2.0);
        s = sigma_w2 * k1;
        theta = s + sigma_w2 * k0 * theta;
    }
    theta
}

fn random_masks(shapes: &[(usize, usize)], density: f64, seed: u64) -> Vec<LayerMask> {
    shapes
        .iter()
        .enumerate()
        .map(|(l, &(r, c))| sample_mask(r, c, |_, _| density, seed * 100 + l as u64))
        .collect()
}

#[test]
fn dense_chain_is_the_standard_relu_ntk() {
    let (d, n) = (11, 6);
    let x = inputs(d, n, 1);
    for (depth, sigma_w2) in [(2, 2.0), (4, 2.0), (5, 1.3)] {
        let k = graphon_ntk(&GraphonChain::dense(d, depth), &x, sigma_w2);
        for a in 0..n {
            for b in 0..n {
                let want = standard_ntk(x.col_as_slice(a), x.col_as_slice(b), depth, sigma_w2);
                assert!(
                    (k[(a, b)] - want).abs() <= 1e-10 * want.abs(),
                    "L={depth} ({a},{b}): {} vs {want}",
                    k[(a, b)]
                );
            }
            // Closed form of the diagonal: Theta_L(x, x) = sum_l (s/2)^(L-1) s |x|^2 / d.
            let norm2: f64 = x.col_as_slice(a).iter().map(|v| v * v).sum();
            let diag = depth as f64 * (sigma_w2 / 2.0).powi(depth as i32 - 1) * sigma_w2 * norm2
                / d as f64;
            assert!((k[(a, a)] - diag).abs() <= 1e-12 * diag);
        }
    }
}

#[test]
fn constant_graphon_is_c_to_the_l_times_dense() {
    let (d, n, depth) = (20, 12, 4);
    let x = inputs(d, n, 2);
    let dense = graphon_ntk(&GraphonChain::dense(d, depth), &x, 2.0);
    let dense_metrics = spectral_metrics(&eigenvalues_descending(&dense).unwrap());
    for c in [0.5, 0.2, 0.1] {
        let k = graphon_ntk(&GraphonChain::constant(d, depth, c), &x, 2.0);
        let scale = c.powi(depth as i32);
        for a in 0..n {
            for b in 0..n {
                assert!((k[(a, b)] - scale * dense[(a, b)]).abs() <= 1e-12 * dense[(a, b)].abs());
            }
        }
        let m = spectral_metrics(&eigenvalues_descending(&k).unwrap());
        assert!((m.trace / dense_metrics.trace - scale).abs() < 1e-12 * scale);
        for (got, want) in [
            (m.top1_energy, dense_metrics.top1_energy),
            (m.top5_energy, dense_metrics.top5_energy),
            (m.top10_energy, dense_metrics.top10_energy),
            (
                m.effective_rank_entropy,
                dense_metrics.effective_rank_entropy,
            ),
            (m.ratio_1_2, dense_metrics.ratio_1_2),
            (m.decay_exponent, dense_metrics.decay_exponent),
        ] {
            assert!((got - want).abs() < 1e-9 * want.abs(), "{got} vs {want}");
        }
    }
}

#[test]
fn mask_level_equals_histogram_level_at_k_equals_n() {
    let masks = random_masks(&[(9, 12), (9, 9), (9, 9), (4, 9)], 0.5, 3);
    let x = inputs(12, 7, 3);
    let mask_level = graphon_ntk(&GraphonChain::of_masks(&masks).unwrap(), &x, 2.0);
    let histogram = graphon_ntk(&GraphonChain::of_histograms(&masks, 9).unwrap(), &x, 2.0);
    assert!(relative_error(&histogram, &mask_level) < 1e-13);
    // Fewer blocks average the masks: a different kernel.
    let coarse = graphon_ntk(&GraphonChain::of_histograms(&masks, 3).unwrap(), &x, 2.0);
    assert!(relative_error(&coarse, &mask_level) > 1e-6);
}

#[test]
fn mask_level_is_invariant_to_permuting_a_hidden_layer() {
    let masks = random_masks(&[(10, 8), (10, 10), (3, 10)], 0.4, 4);
    let x = inputs(8, 6, 4);
    let k = graphon_ntk(&GraphonChain::of_masks(&masks).unwrap(), &x, 2.0);
    // Reverse-and-rotate hidden layer 1: rows of mask 1 and columns of mask 2 together.
    let perm: Vec<usize> = (0..10).map(|i| (13 - i) % 10).collect();
    let m1 = &masks[0];
    let rows: Vec<bool> = perm
        .iter()
        .flat_map(|&r| (0..8).map(move |c| m1.get(r, c)))
        .collect();
    let m2 = &masks[1];
    let cols: Vec<bool> = (0..10)
        .flat_map(|r| perm.iter().map(move |&c| m2.get(r, c)))
        .collect();
    let permuted = vec![
        LayerMask::new(10, 8, rows).unwrap(),
        LayerMask::new(10, 10, cols).unwrap(),
        masks[2].clone(),
    ];
    let kp = graphon_ntk(&GraphonChain::of_masks(&permuted).unwrap(), &x, 2.0);
    assert!(relative_error(&kp, &k) < 1e-13);
    // Permuting only one side breaks the chain and changes the kernel.
    let broken = vec![permuted[0].clone(), masks[1].clone(), masks[2].clone()];
    let kb = graphon_ntk(&GraphonChain::of_masks(&broken).unwrap(), &x, 2.0);
    assert!(relative_error(&kb, &k) > 1e-6);
}

/// The network output `f (outputs x N)` in NTK parameterisation for weights `v`.
fn network_output(masks: &[LayerMask], v: &[Mat<f64>], x: &Mat<f64>, sigma_w2: f64) -> Mat<f64> {
    let mut h = x.clone();
    for (l, (m, w)) in masks.iter().zip(v).enumerate() {
        let scale = (sigma_w2 / m.cols() as f64).sqrt();
        let z = Mat::from_fn(m.rows(), h.ncols(), |i, a| {
            (0..m.cols())
                .filter(|&j| m.get(i, j))
                .map(|j| scale * w[(i, j)] * h[(j, a)])
                .sum::<f64>()
        });
        h = if l + 1 < masks.len() {
            Mat::from_fn(z.nrows(), z.ncols(), |i, a| z[(i, a)].max(0.0))
        } else {
            z
        };
    }
    h
}

#[test]
fn empirical_ntk_equals_a_finite_difference_jacobian_contraction() {
    // Density 0.6 multiplies the masks as dense, 0.25 as sparse (`SPARSE_BELOW_DENSITY`).
    for density in [0.6, 0.25] {
        empirical_ntk_against_finite_differences(density);
    }
}

fn empirical_ntk_against_finite_differences(density: f64) {
    let masks = random_masks(&[(6, 5), (7, 6), (3, 7)], density, 5);
    // Every layer on the route its density names.
    for m in &masks {
        let sparse = (m.kept() as f64) < SPARSE_BELOW_DENSITY * (m.rows() * m.cols()) as f64;
        assert_eq!(
            sparse,
            density < SPARSE_BELOW_DENSITY,
            "{} of {}",
            m.kept(),
            m.cols()
        );
    }
    let x = inputs(5, 4, 5);
    let v = draw_weights(&masks, 9, 0);
    let k = empirical_ntk_of(&masks, &v, &x, 2.0);
    // Explicit Jacobian J[o][a][param] of every output with respect to every kept weight.
    let eps = 1e-6;
    let mut jac: Vec<Vec<Vec<f64>>> = vec![vec![vec![]; 4]; 3];
    for (l, m) in masks.iter().enumerate() {
        for i in 0..m.rows() {
            for j in 0..m.cols() {
                if !m.get(i, j) {
                    continue;
                }
                let mut plus = v.clone();
                plus[l][(i, j)] += eps;
                let mut minus = v.clone();
                minus[l][(i, j)] -= eps;
                let (fp, fm) = (
                    network_output(&masks, &plus, &x, 2.0),
                    network_output(&masks, &minus, &x, 2.0),
                );
                for (o, per_output) in jac.iter_mut().enumerate() {
                    for (a, grads) in per_output.iter_mut().enumerate() {
                        grads.push((fp[(o, a)] - fm[(o, a)]) / (2.0 * eps));
                    }
                }
            }
        }
    }
    for a in 0..4 {
        for b in 0..4 {
            let want: f64 = jac
                .iter()
                .map(|per_output| {
                    per_output[a]
                        .iter()
                        .zip(&per_output[b])
                        .map(|(p, q)| p * q)
                        .sum::<f64>()
                })
                .sum::<f64>()
                / 3.0;
            assert!(
                (k[(a, b)] - want).abs() < 1e-7 * want.abs().max(1e-3),
                "({a},{b}): {} vs {want}",
                k[(a, b)]
            );
        }
    }
}

#[test]
fn random_masks_converge_with_width() {
    // d = 784 inputs as in MNIST; N = 6 points; L = 3; density c = 0.3.
    let (d, depth, c) = (784, 3, 0.3_f64);
    let x = inputs(d, 6, 6);
    let dense = graphon_ntk(&GraphonChain::dense(d, depth), &x, 2.0);
    let scaled = &dense * faer::Scale(c.powi(depth as i32));
    let errors: Vec<(f64, f64)> = [32usize, 128, 512]
        .iter()
        .map(|&n| {
            let masks = random_masks(&[(n, d), (n, n), (10, n)], c, n as u64);
            let mask_level = graphon_ntk(&GraphonChain::of_masks(&masks).unwrap(), &x, 2.0);
            let empirical = empirical_ntk(&masks, &x, 2.0, 2, 7);
            (
                relative_error(&empirical, &mask_level),
                relative_error(&mask_level, &scaled),
            )
        })
        .collect();
    // Empirical around mask-level: ~1/sqrt(n), so a factor ~4 from n = 32 to 512.
    assert!(
        errors[2].0 < errors[0].0 / 2.0 && errors[1].0 < errors[0].0,
        "{errors:?}"
    );
    // Mask-level towards c^L x dense (up to the first layer's fixed d = 784).
    assert!(
        errors[2].1 < errors[0].1 && errors[2].1 < 0.02,
        "{errors:?}"
    );
}

#[test]
fn kernels_do_not_depend_on_the_thread_count() {
    let masks = random_masks(&[(40, 30), (40, 40), (10, 40)], 0.5, 8);
    let x = inputs(30, 30, 8); // 465 pairs: two chunks
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let chain = GraphonChain::of_masks(&masks).unwrap();
            (
                graphon_ntk(&chain, &x, 2.0),
                empirical_ntk(&masks, &x, 2.0, 1, 3),
                graphon_ntk_per_output(&chain, &x, 2.0),
                empirical_ntk_full(&masks, &draw_weights(&masks, 3, 0), &x, 2.0),
            )
        })
    };
    let (one, three) = (run(1), run(3));
    assert!(one.0 == three.0 && one.1 == three.1 && one.2 == three.2 && one.3 == three.3);
}

/// The full empirical kernel against the same finite-difference Jacobian, cross-output terms
/// included, and its diagonal blocks' mean against `empirical_ntk_of`.
#[test]
fn full_empirical_ntk_has_the_jacobians_cross_output_terms() {
    let masks = random_masks(&[(6, 5), (7, 6), (3, 7)], 0.6, 5);
    let (n, outputs) = (4, 3);
    let x = inputs(5, n, 5);
    let v = draw_weights(&masks, 9, 0);
    let full = empirical_ntk_full(&masks, &v, &x, 2.0);
    assert_eq!((full.nrows(), full.ncols()), (outputs * n, outputs * n));
    // d f_o(x_a) / d V for every kept weight, by central differences in f64.
    let eps = 1e-6;
    let mut jac = vec![vec![Vec::new(); n]; outputs];
    for (l, m) in masks.iter().enumerate() {
        for i in 0..m.rows() {
            for j in (0..m.cols()).filter(|&j| m.get(i, j)) {
                let (mut plus, mut minus) = (v.clone(), v.clone());
                plus[l][(i, j)] += eps;
                minus[l][(i, j)] -= eps;
                let fp = network_output(&masks, &plus, &x, 2.0);
                let fm = network_output(&masks, &minus, &x, 2.0);
                for (o, per_output) in jac.iter_mut().enumerate() {
                    for (a, grads) in per_output.iter_mut().enumerate() {
                        grads.push((fp[(o, a)] - fm[(o, a)]) / (2.0 * eps));
                    }
                }
            }
        }
    }
    for o in 0..outputs {
        for o2 in 0..outputs {
            for a in 0..n {
                for b in 0..n {
                    let want: f64 = jac[o][a].iter().zip(&jac[o2][b]).map(|(p, q)| p * q).sum();
                    let got = full[(o * n + a, o2 * n + b)];
                    assert!(
                        (got - want).abs() < 1e-7 * want.abs().max(1e-3),
                        "({o},{a}),({o2},{b}): {got} vs {want}"
                    );
                }
            }
        }
    }
    let mean = empirical_ntk_of(&masks, &v, &x, 2.0);
    for a in 0..n {
        for b in 0..n {
            let blocks: f64 = (0..outputs).map(|o| full[(o * n + a, o * n + b)]).sum();
            let want = mean[(a, b)];
            assert!((blocks / outputs as f64 - want).abs() < 1e-12 * want.abs().max(1.0));
        }
    }
}

/// Per-output kernels: their mean is `graphon_ntk` to the bit, and for a dense network every
/// output's kernel is the standard NTK (so the dense net's mask-level prediction is the
/// standard NTK's).
#[test]
fn per_output_kernels_average_to_the_kernel_and_are_standard_when_dense() {
    let masks = random_masks(&[(12, 9), (12, 12), (4, 12)], 0.5, 3);
    let x = inputs(9, 5, 3);
    let chain = GraphonChain::of_masks(&masks).unwrap();
    let blocks = graphon_ntk_per_output(&chain, &x, 2.0);
    let mean = graphon_ntk(&chain, &x, 2.0);
    assert_eq!(blocks.len(), 4);
    for a in 0..5 {
        for b in 0..5 {
            let sum: f64 = blocks.iter().map(|k| k[(a, b)] * 0.25).sum();
            assert_eq!(sum.to_bits(), mean[(a, b)].to_bits(), "({a},{b})");
        }
    }
    // Outputs' masks differ, so do their kernels.
    assert!(relative_error(&blocks[0], &blocks[1]) > 1e-3);
    let dense_masks = vec![
        LayerMask::full(12, 9),
        LayerMask::full(12, 12),
        LayerMask::full(4, 12),
    ];
    let dense_blocks =
        graphon_ntk_per_output(&GraphonChain::of_masks(&dense_masks).unwrap(), &x, 2.0);
    for k in &dense_blocks {
        for a in 0..5 {
            for b in 0..5 {
                let col = |i: usize| x.col_as_slice(i).to_vec();
                let want = standard_ntk(&col(a), &col(b), 3, 2.0);
                assert!(
                    (k[(a, b)] - want).abs() < 1e-12 * want.abs(),
                    "{} vs {want}",
                    k[(a, b)]
                );
            }
        }
    }
}

/// The Graphon NTK of one pair by the recursion's definition, term by term: plain loops,
/// libm's `acos`, no chunks, no sparse products (the route before the kernels were vectorised).
fn brute_force_pair(chain: &GraphonChain, xa: &[f64], xb: &[f64], sigma_w2: f64) -> f64 {
    let (layers, mu) = (chain.layers(), chain.measures());
    // (Sigma(a, a), Sigma(b, b), Sigma(a, b), Theta(a, b)) at each position of a layer.
    let first = |x: &[f64], y: &[f64], u: usize| -> f64 {
        (0..x.len())
            .map(|v| layers[0][(u, v)] * mu[0][v] * x[v] * y[v])
            .sum::<f64>()
            * sigma_w2
    };
    let rows = layers[0].nrows();
    let mut state: Vec<[f64; 4]> = (0..rows)
        .map(|u| {
            let s = first(xa, xb, u);
            [first(xa, xa, u), first(xb, xb, u), s, s]
        })
        .collect();
    for (l, w) in layers.iter().enumerate().skip(1) {
        let moments: Vec<[f64; 4]> = state
            .iter()
            .map(|&[qa, qb, s, t]| {
                let m = |q1: f64, q2: f64, c: f64| -> (f64, f64) {
                    let scale = (q1 * q2).sqrt();
                    if scale <= 0.0 {
                        return (0.0, 0.0);
                    }
                    let rho = (c / scale).clamp(-1.0, 1.0);
                    let left = std::f64::consts::PI - rho.acos();
                    let pi2 = 2.0 * std::f64::consts::PI;
                    (
                        scale * ((1.0 - rho * rho).sqrt() + left * rho) / pi2,
                        left / pi2,
                    )
                };
                let (ea, _) = m(qa, qa, qa);
                let (eb, _) = m(qb, qb, qb);
                let (e, edot) = m(qa, qb, s);
                [ea, eb, e, edot * t]
            })
            .collect();
        state = (0..w.nrows())
            .map(|u| {
                let mut next = [0.0; 4];
                for (v, m) in moments.iter().enumerate() {
                    for (n, x) in next.iter_mut().zip(m) {
                        *n += w[(u, v)] * mu[l][v] * x;
                    }
                }
                let [qa, qb, s, dot] = next.map(|x| x * sigma_w2);
                [qa, qb, s, s + dot]
            })
            .collect();
    }
    state
        .iter()
        .zip(&mu[layers.len()])
        .map(|(s, m)| s[3] * m)
        .sum()
}

#[test]
fn vectorised_sparse_recursion_matches_the_brute_force_twin() {
    // A mask-level chain at density 0.2 takes the sparse products; a graded histogram chain
    // (fractional values) the dense ones. Both against the term-by-term definition, on
    // inputs without a repeated value (the first layer by pair products) and on digit-like
    // ones, blank at one value in four entries out of five (the first layer around that
    // baseline, `glh_ntk::input_layer`, where the layer is dense).
    let d = 30;
    let digit_like = {
        let x = inputs(d, 7, 11);
        Mat::from_fn(d, 7, |i, j| {
            if (i * 7 + j * 3) % 5 == 0 {
                x[(i, j)]
            } else {
                -0.4242
            }
        })
    };
    let masks = random_masks(&[(40, d), (40, 40), (40, 40), (10, 40)], 0.2, 5);
    let chains = [
        GraphonChain::of_masks(&masks).unwrap(),
        GraphonChain::of_histograms(&masks, 6).unwrap(),
        GraphonChain::constant(d, 3, 0.7),
    ];
    for (i, x) in [inputs(d, 7, 11), digit_like].iter().enumerate() {
        for (c, chain) in chains.iter().enumerate() {
            let k = graphon_ntk(chain, x, 2.0);
            for a in 0..7 {
                for b in a..7 {
                    let want = brute_force_pair(chain, x.col_as_slice(a), x.col_as_slice(b), 2.0);
                    let error = (k[(a, b)] - want).abs() / want.abs();
                    assert!(
                        error < 1e-13,
                        "inputs {i}, chain {c}, ({a}, {b}): {} vs {want}",
                        k[(a, b)]
                    );
                }
            }
        }
    }
}

#[test]
fn kernels_of_several_chains_equal_each_chains_own_to_the_bit() {
    // Digit-like inputs: three quarters of the entries at one baseline, so a dense first layer
    // takes the centred route; 30 points give 465 pairs, more than one chunk.
    let (d, n) = (40, 30);
    let x = Mat::from_fn(d, n, |v, a| {
        let h = (v * 7919 + a * 104_729 + 13) % 100;
        if h < 25 { 0.3 + h as f64 * 0.07 } else { -0.42 }
    });
    let masks = random_masks(&[(20, d), (20, 20), (10, 20)], 0.6, 3);
    let thin = random_masks(&[(20, d), (20, 20), (10, 20)], 0.2, 4);
    // K = 5 and K = 7: rows that are not whole blocks of the centred route.
    let k5 = GraphonChain::of_histograms(&masks, 5).unwrap();
    let k7 = GraphonChain::of_histograms(&thin, 7).unwrap();
    // A sparse first layer (pair products) and another input measure: each computed alone.
    let mask_level = GraphonChain::of_masks(&thin).unwrap();
    let mut measures = k5.measures().to_vec();
    let weights: f64 = (1..=d).map(|v| v as f64).sum();
    measures[0] = (1..=d).map(|v| v as f64 / weights).collect();
    let reweighted = GraphonChain::new(k5.layers().to_vec(), measures).unwrap();
    let route = |chain: &GraphonChain| {
        let first = LayerProduct::new(&chain.layers()[0]);
        InputLayer::new(&first, &chain.measures()[0], &x).is_centred()
    };
    assert_eq!(
        [&k5, &mask_level, &k7, &reweighted].map(route),
        [true, false, true, true]
    );
    let chains = [&k5, &mask_level, &k7, &reweighted, &k5];
    let together = graphon_ntks(&chains, &x, 2.0);
    for (chain, kernel) in chains.iter().zip(&together) {
        assert!(graphon_ntk(chain, &x, 2.0) == *kernel);
    }
}
