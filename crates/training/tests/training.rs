//! Training against independent truths: a masked Adam step computed by hand (plain f64 loops,
//! below), candle's autograd and candle-nn's `AdamW` on the same net (the implementation this
//! stage replaced), the fused Adam against its tensor-op twin, pruned weights that stay exactly
//! zero, a real MNIST run, and bit-identical reruns.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use glh_data::DataSettings;
use glh_data::mnist::{CLASSES, PIXELS};
use glh_model::{Architecture, LayerMask, Linear, Mask, Mlp};
use glh_training::adam::AdamState;
use glh_training::{AdamParams, TrainingSettings};
use glh_training::{MaskedMlp, MnistTensors, train};
use std::path::Path;

/// The tiny net 3 -> 2 -> 2 of the golden test, with masks removing w1[0][1], w1[1][2], w2[1][0].
fn tiny() -> (Mlp, Mask) {
    let arch = Architecture {
        input: 3,
        width: 2,
        depth: 2,
        classes: 2,
    };
    let mlp = Mlp {
        arch,
        layers: vec![
            Linear {
                rows: 2,
                cols: 3,
                weight: vec![0.3, -0.2, 0.1, 0.5, 0.4, -0.3],
                bias: vec![0.1, -0.1],
            },
            Linear {
                rows: 2,
                cols: 2,
                weight: vec![0.2, -0.4, 0.7, 0.1],
                bias: vec![0.0, 0.05],
            },
        ],
    };
    let layers = vec![
        LayerMask::new(2, 3, vec![true, false, true, true, true, false]).unwrap(),
        LayerMask::new(2, 2, vec![true, true, false, true]).unwrap(),
    ];
    (mlp, Mask::from_layers(&arch, layers).unwrap())
}

/// Gradients of `-ln softmax(z2)[y]` for the tiny net, by hand: `dz2 = p - e_y`,
/// `dW2 = dz2 h^T ⊙ M2`, `dz1 = (W2m^T dz2) ⊙ [z1 > 0]`, `dW1 = dz1 x^T ⊙ M1`, `db = dz`.
/// Parameters are `[W1 (6), b1 (2), W2 (4), b2 (2)]`, masks `[M1 (6), M2 (4)]`.
fn hand_gradient(p: &[f64; 14], m: &[f64; 10], x: &[f64; 3], y: usize) -> [f64; 14] {
    let w1 = |r: usize, c: usize| p[r * 3 + c] * m[r * 3 + c];
    let w2 = |r: usize, c: usize| p[8 + r * 2 + c] * m[6 + r * 2 + c];
    let z1: Vec<f64> = (0..2)
        .map(|r| (0..3).map(|c| w1(r, c) * x[c]).sum::<f64>() + p[6 + r])
        .collect();
    let h: Vec<f64> = z1.iter().map(|z| z.max(0.0)).collect();
    let z2: Vec<f64> = (0..2)
        .map(|r| (0..2).map(|c| w2(r, c) * h[c]).sum::<f64>() + p[12 + r])
        .collect();
    let max = z2[0].max(z2[1]);
    let e: Vec<f64> = z2.iter().map(|z| (z - max).exp()).collect();
    let dz2: Vec<f64> = (0..2)
        .map(|r| e[r] / (e[0] + e[1]) - f64::from(u8::from(r == y)))
        .collect();
    let dz1: Vec<f64> = (0..2)
        .map(|c| {
            let back: f64 = (0..2).map(|r| w2(r, c) * dz2[r]).sum();
            if z1[c] > 0.0 { back } else { 0.0 }
        })
        .collect();
    let mut g = [0.0; 14];
    for r in 0..2 {
        for c in 0..3 {
            g[r * 3 + c] = dz1[r] * x[c] * m[r * 3 + c];
        }
        g[6 + r] = dz1[r];
        for c in 0..2 {
            g[8 + r * 2 + c] = dz2[r] * h[c] * m[6 + r * 2 + c];
        }
        g[12 + r] = dz2[r];
    }
    g
}

#[test]
fn masked_adam_steps_match_a_hand_computation() {
    let (mlp, mask) = tiny();
    let device = Device::Cpu;
    let mut model = MaskedMlp::new(&mlp, &mask, &device).unwrap();
    let x = Tensor::new(&[[1.0f32, -0.5, 2.0]], &device).unwrap();
    let y = Tensor::new(&[1u32], &device).unwrap();
    let (lr, b1, b2, eps) = (0.01, 0.9, 0.999, 1e-8);
    let params = AdamParams {
        lr,
        beta1: b1,
        beta2: b2,
        eps,
        weight_decay: 0.0,
    };

    // The reference: plain f64, pruned weights zeroed first (as MaskedMlp does).
    let m: [f64; 10] = [1., 0., 1., 1., 1., 0., 1., 1., 0., 1.];
    let mut p: [f64; 14] = [
        0.3, 0.0, 0.1, 0.5, 0.4, 0.0, 0.1, -0.1, 0.2, -0.4, 0.0, 0.1, 0.0, 0.05,
    ];
    let (mut m1, mut v1) = ([0.0f64; 14], [0.0f64; 14]);
    for t in 1..=2 {
        let gradients = model.backward(&x, &y).unwrap();
        model.adam_step(&params, &gradients).unwrap();
        let g = hand_gradient(&p, &m, &[1.0, -0.5, 2.0], 1);
        for i in 0..14 {
            m1[i] = b1 * m1[i] + (1.0 - b1) * g[i];
            v1[i] = b2 * v1[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m1[i] / (1.0 - b1.powi(t));
            let v_hat = v1[i] / (1.0 - b2.powi(t));
            p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        let got: Vec<f32> = model.parameters().unwrap().concat();
        // Layout of `got`: W1 (6), W2 (4), b1 (2), b2 (2).
        let want: Vec<f64> = [&p[0..6], &p[8..12], &p[6..8], &p[12..14]].concat();
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (f64::from(*g) - w).abs() < 2e-7,
                "step {t}, parameter {i}: {g} vs {w}"
            );
        }
        // Pruned weights are exactly zero, not merely small.
        for i in [1, 5] {
            assert_eq!(got[i], 0.0);
        }
        assert_eq!(got[8], 0.0);
    }
}

/// A deterministic pseudo-random f32 in [-1, 1) (a 64-bit LCG; tests only).
fn noise(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    ((*state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

#[test]
fn fused_adam_equals_its_tensor_op_twin_and_skips_pruned_entries() {
    let device = Device::Cpu;
    let (rows, cols) = (37, 1500); // more than one rayon chunk, not a multiple of it
    let mut rng = 7;
    let theta: Vec<f32> = (0..rows * cols)
        .map(|i| if i % 3 == 0 { 0.0 } else { noise(&mut rng) })
        .collect();
    let keep: Vec<u8> = (0..rows * cols).map(|i| u8::from(i % 3 != 0)).collect();
    let theta = Tensor::from_vec(theta, (rows, cols), &device).unwrap();
    let mask = Tensor::from_vec(keep.clone(), (rows, cols), &device).unwrap();
    let fused = AdamState::new(&theta).unwrap();
    let ops = AdamState::new(&theta).unwrap();
    for weight_decay in [0.0, 0.01] {
        let params = AdamParams {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
        };
        for t in 1..=5 {
            let g: Vec<f32> = (0..rows * cols).map(|_| noise(&mut rng) * 0.1).collect();
            let g = Tensor::from_vec(g, (rows, cols), &device).unwrap();
            fused.step(&params, t, &g, Some(&mask)).unwrap();
            ops.step_with_ops(&params, t, &g, Some(&mask)).unwrap();
        }
    }
    let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (fm, fv) = fused.moments().unwrap();
    let (om, ov) = ops.moments().unwrap();
    let fused_theta = flat(fused.theta().unwrap());
    assert_eq!(fused_theta, flat(ops.theta().unwrap()));
    assert_eq!(flat(fm.clone()), flat(om));
    assert_eq!(flat(fv), flat(ov));
    let moments = flat(fm);
    for (i, &k) in keep.iter().enumerate() {
        if k == 0 {
            assert_eq!(
                (fused_theta[i].to_bits(), moments[i].to_bits()),
                (0, 0),
                "entry {i}"
            );
        }
    }
    let before = flat(theta);
    let moved = (0..keep.len())
        .filter(|&i| keep[i] == 1 && fused_theta[i] != before[i])
        .count();
    assert_eq!(moved, keep.iter().filter(|&&k| k == 1).count());
}

#[test]
fn fused_gradient_descent_equals_its_tensor_op_twin_to_the_bit() {
    let device = Device::Cpu;
    let (rows, cols) = (37, 1500); // more than one rayon chunk, not a multiple of it
    let mut rng = 11;
    let theta: Vec<f32> = (0..rows * cols)
        .map(|i| if i % 3 == 0 { 0.0 } else { noise(&mut rng) })
        .collect();
    let keep: Vec<u8> = (0..rows * cols).map(|i| u8::from(i % 3 != 0)).collect();
    let theta = Tensor::from_vec(theta, (rows, cols), &device).unwrap();
    let mask = Tensor::from_vec(keep.clone(), (rows, cols), &device).unwrap();
    let bias = Tensor::from_vec(
        (0..cols).map(|_| noise(&mut rng)).collect::<Vec<_>>(),
        cols,
        &device,
    )
    .unwrap();
    let (fused, ops) = (
        AdamState::new(&theta).unwrap(),
        AdamState::new(&theta).unwrap(),
    );
    let (fused_b, ops_b) = (
        AdamState::new(&bias).unwrap(),
        AdamState::new(&bias).unwrap(),
    );
    for lr in [0.3, 1.7e-3, 2.5] {
        let g: Vec<f32> = (0..rows * cols).map(|_| noise(&mut rng)).collect();
        let g = Tensor::from_vec(g, (rows, cols), &device).unwrap();
        fused.gd_step(lr, &g, Some(&mask)).unwrap();
        ops.gd_step_with_ops(lr, &g, Some(&mask)).unwrap();
        let gb: Vec<f32> = (0..cols).map(|_| noise(&mut rng)).collect();
        let gb = Tensor::from_vec(gb, cols, &device).unwrap();
        fused_b.gd_step(lr, &gb, None).unwrap();
        ops_b.gd_step_with_ops(lr, &gb, None).unwrap();
    }
    let bits = |t: Tensor| -> Vec<u32> {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    };
    let got = bits(fused.theta().unwrap());
    assert_eq!(got, bits(ops.theta().unwrap()));
    assert_eq!(bits(fused_b.theta().unwrap()), bits(ops_b.theta().unwrap()));
    // Pruned entries stay +0; the moments are untouched.
    assert!(keep.iter().zip(&got).all(|(&k, &w)| k == 1 || w == 0));
    let (m, v) = fused.moments().unwrap();
    assert!(bits(m).iter().chain(&bits(v)).all(|&b| b == 0));
}

/// The implementation this stage replaced: candle's autograd through `w ⊙ m` and candle-nn's
/// `AdamW`, on `Var`s.
struct AutogradNet {
    weights: Vec<Var>,
    biases: Vec<Var>,
    masks: Vec<Tensor>,
}

impl AutogradNet {
    fn new(mlp: &Mlp, mask: &Mask) -> Self {
        let device = Device::Cpu;
        let mut net = AutogradNet {
            weights: vec![],
            biases: vec![],
            masks: vec![],
        };
        for (layer, m) in mlp.layers.iter().zip(mask.layers()) {
            let flags: Vec<f32> = m
                .as_slice()
                .iter()
                .map(|&k| f32::from(u8::from(k)))
                .collect();
            let w: Vec<f32> = layer
                .weight
                .iter()
                .zip(&flags)
                .map(|(w, f)| w * f)
                .collect();
            let shape = (layer.rows, layer.cols);
            net.weights
                .push(Var::from_tensor(&Tensor::from_vec(w, shape, &device).unwrap()).unwrap());
            net.biases.push(
                Var::from_tensor(&Tensor::from_slice(&layer.bias, layer.rows, &device).unwrap())
                    .unwrap(),
            );
            net.masks
                .push(Tensor::from_vec(flags, shape, &device).unwrap());
        }
        net
    }

    fn loss(&self, x: &Tensor, y: &Tensor) -> Tensor {
        let mut h = x.clone();
        for l in 0..self.weights.len() {
            let w = self.weights[l].as_tensor().mul(&self.masks[l]).unwrap();
            let z = h
                .matmul(&w.t().unwrap())
                .unwrap()
                .broadcast_add(self.biases[l].as_tensor())
                .unwrap();
            h = if l + 1 < self.weights.len() {
                z.relu().unwrap()
            } else {
                z
            };
        }
        candle_nn::loss::cross_entropy(&h, y).unwrap()
    }
}

#[test]
fn hand_written_backward_and_fused_adam_follow_candle_autograd_and_adamw() {
    // 30 steps of a 784 -> 128 -> 128 -> 10 net at 80% sparsity on MNIST batches: the losses of
    // both implementations agree to 1e-5 relative and the weights to 2e-6 absolute; the first
    // step's loss is the same forward pass, so it agrees to the bit.
    let data = mnist();
    let arch = Architecture::mlp(PIXELS, 128, 3, CLASSES);
    let mlp = Mlp::init(arch, 3);
    let layers = arch
        .shapes()
        .iter()
        .map(|&(r, c)| {
            LayerMask::new(r, c, (0..r * c).map(|i| (i * 7) % 10 < 2).collect()).unwrap()
        })
        .collect();
    let mask = Mask::from_layers(&arch, layers).unwrap();
    let settings = TrainingSettings::default();
    let mut ours = MaskedMlp::new(&mlp, &mask, &Device::Cpu).unwrap();
    let theirs = AutogradNet::new(&mlp, &mask);
    let vars: Vec<Var> = theirs
        .weights
        .iter()
        .chain(&theirs.biases)
        .cloned()
        .collect();
    let adam = settings.adam();
    let mut adamw = AdamW::new(
        vars,
        ParamsAdamW {
            lr: adam.lr,
            beta1: adam.beta1,
            beta2: adam.beta2,
            eps: adam.eps,
            weight_decay: adam.weight_decay,
        },
    )
    .unwrap();
    for step in 0..30u32 {
        let index: Vec<u32> = (0..64).map(|i| (step * 64 + i) * 13 % 60_000).collect();
        let index = Tensor::from_vec(index, 64, &Device::Cpu).unwrap();
        let x = data.train_x.index_select(&index, 0).unwrap();
        let y = data.train_y.index_select(&index, 0).unwrap();
        let gradients = ours.backward(&x, &y).unwrap();
        ours.adam_step(&adam, &gradients).unwrap();
        let loss = theirs.loss(&x, &y);
        adamw.backward_step(&loss).unwrap();
        let (a, b) = (
            gradients.loss.to_scalar::<f32>().unwrap(),
            loss.to_scalar::<f32>().unwrap(),
        );
        if step == 0 {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert!((a - b).abs() <= 1e-5 * b.abs(), "step {step}: {a} vs {b}");
    }
    let theirs_params: Vec<Vec<f32>> = theirs
        .weights
        .iter()
        .chain(&theirs.biases)
        .map(|v| {
            v.as_tensor()
                .to_dtype(DType::F32)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap()
        })
        .collect();
    for (l, (a, b)) in ours
        .parameters()
        .unwrap()
        .iter()
        .zip(&theirs_params)
        .enumerate()
    {
        let worst = a
            .iter()
            .zip(b)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 2e-6, "parameter {l}: {worst}");
    }
}

fn mnist() -> MnistTensors {
    let data = DataSettings {
        dir: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist"),
        ..DataSettings::default()
    };
    MnistTensors::load(&data, &Device::Cpu).unwrap()
}

fn weights(model: &MaskedMlp) -> Vec<Vec<f32>> {
    let mut parameters = model.parameters().unwrap();
    parameters.truncate(model.layers.len());
    parameters
}

#[test]
fn mnist_training_learns_keeps_pruned_weights_zero_and_repeats_bit_for_bit() {
    let data = mnist();
    let arch = Architecture::mlp(PIXELS, 64, 3, CLASSES);
    let mlp = Mlp::init(arch, 5);

    // Dense: a sensible test accuracy within a few hundred steps.
    let settings = TrainingSettings {
        steps: 300,
        eval_every: 100,
        ..TrainingSettings::default()
    };
    let mut dense = MaskedMlp::new(&mlp, &Mask::full(&arch), &Device::Cpu).unwrap();
    let history = train(&mut dense, &data, &settings, 5, &mut |_, _| {})
        .unwrap()
        .history;
    let s = history.summary(0.5);
    assert!(s.final_test_accuracy > 0.9, "{s:?}");
    assert!(history.test[0].accuracy < 0.3, "{:?}", history.test[0]);
    assert_eq!(history.test.len(), 4);
    assert!(s.steps_to_threshold > 0 && s.train_loss_at_100 < history.train[0].loss);

    // Pruned at 70% (every third weight kept... a fixed pattern): pruned stay 0, kept move.
    let layers = arch
        .shapes()
        .iter()
        .map(|&(r, c)| LayerMask::new(r, c, (0..r * c).map(|i| i % 10 < 3).collect()).unwrap())
        .collect();
    let mask = Mask::from_layers(&arch, layers).unwrap();
    let short = TrainingSettings {
        steps: 30,
        ..TrainingSettings::default()
    };
    let run = || {
        let mut model = MaskedMlp::new(&mlp, &mask, &Device::Cpu).unwrap();
        let h = train(&mut model, &data, &short, 9, &mut |_, _| {})
            .unwrap()
            .history;
        (model, h)
    };
    let (model, h1) = run();
    let after = weights(&model);
    for (l, (w, m)) in after.iter().zip(mask.layers()).enumerate() {
        let init = &mlp.layers[l].weight;
        let mut moved = 0;
        for (i, (&kept, &v)) in m.as_slice().iter().zip(w).enumerate() {
            if kept {
                moved += usize::from(v != init[i]);
            } else {
                assert_eq!(v.to_bits(), 0, "layer {l} weight {i}");
            }
        }
        assert!(
            moved > m.kept() * 9 / 10,
            "layer {l}: {moved} of {}",
            m.kept()
        );
    }
    let (_, h2) = run();
    assert_eq!(h1, h2, "same seed, same history, bit for bit");
}
