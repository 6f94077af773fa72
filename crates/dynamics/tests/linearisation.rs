//! Gradient descent in the NTK regime against the kernels' predictions: the training stage's
//! network (candle, f32) and the ntk crate's kernels (f64) are independent codes, so their
//! agreement checks both.

use candle_core::{Device, Tensor};
use faer::Mat;
use glh_dynamics::prediction::{KernelPrediction, curve_error, predicted_losses};
use glh_model::ntk_init::ntk_mlp;
use glh_model::{Architecture, LayerMask, Mask};
use glh_ntk::empirical::{draw_weights, empirical_ntk_full};
use glh_training::{Loss, MaskedMlp};

const CLASSES: usize = 10;

/// A small masked architecture, its masks at density about 1/2, N inputs and labels.
fn setup(width: usize, n: usize) -> (Architecture, Mask, Vec<f32>, Vec<u32>) {
    let arch = Architecture {
        input: 20,
        width,
        depth: 3,
        classes: CLASSES,
    };
    let mut rng = glh_artifacts::seeding::stream(4, "test/dynamics");
    use rand::RngExt;
    let layers = arch
        .shapes()
        .iter()
        .map(|&(r, c)| {
            LayerMask::new(
                r,
                c,
                (0..r * c).map(|_| rng.random::<f64>() < 0.5).collect(),
            )
            .unwrap()
        })
        .collect();
    let mask = Mask::from_layers(&arch, layers).unwrap();
    let x: Vec<f32> = (0..n * arch.input)
        .map(|_| rng.random_range(-1.0f32..1.0) + 0.2)
        .collect();
    let labels = (0..n as u32).map(|i| i % CLASSES as u32).collect();
    (arch, mask, x, labels)
}

/// Observed losses `L_0..=L_T` of full-batch gradient descent at rate `eta`, and `r_0`
/// (row-major `N x 10`).
fn observed(
    arch: Architecture,
    mask: &Mask,
    x: &[f32],
    labels: &[u32],
    eta: f64,
    steps: usize,
) -> (Vec<f64>, Vec<f64>) {
    let n = labels.len();
    let device = Device::Cpu;
    let mut model = MaskedMlp::ntk(&ntk_mlp(arch, 11, 2.0), mask, &device, 2.0, Loss::Mse).unwrap();
    let xt = Tensor::from_slice(x, (n, arch.input), &device).unwrap();
    let yt = Tensor::from_slice(labels, n, &device).unwrap();
    let f0 = model
        .forward(&xt)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let r0: Vec<f64> = f0
        .iter()
        .enumerate()
        .map(|(i, &f)| {
            f64::from(f) - f64::from(u8::from(labels[i / CLASSES] as usize == i % CLASSES))
        })
        .collect();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let g = model.backward(&xt, &yt).unwrap();
        losses.push(f64::from(g.loss.to_scalar::<f32>().unwrap()));
        model.gd_step(eta, &g).unwrap();
    }
    let (loss, _) = model.loss_and_correct(&xt, &yt).unwrap();
    losses.push(f64::from(loss.to_scalar::<f32>().unwrap()));
    (losses, r0)
}

/// The empirical kernel's predicted curve for the same network (draw 0 of seed 11).
fn predicted(
    arch: Architecture,
    mask: &Mask,
    x: &[f32],
    r0: &[f64],
    eta: f64,
    steps: u32,
) -> Vec<f64> {
    let n = r0.len() / CLASSES;
    let xm = Mat::from_fn(arch.input, n, |i, a| f64::from(x[a * arch.input + i]));
    let v = draw_weights(mask.layers(), 11, 0);
    let k = empirical_ntk_full(mask.layers(), &v, &xm, 2.0);
    let r: Vec<f64> = (0..CLASSES * n)
        .map(|row| r0[(row % n) * CLASSES + row / n])
        .collect();
    predicted_losses(&[KernelPrediction::new(&k, &r).unwrap()], eta, n, steps)
}

/// The first step is the linearisation's: the observed L_0 is the predicted one (the same
/// residual), and over a short run the curves agree to the kernel's drift, which shrinks
/// with the distance the weights travel: quartering eta quarters the steps' displacement and
/// the curve error falls by more than 4 (second order in the displacement).
#[test]
fn gradient_descent_follows_the_empirical_kernel() {
    let (arch, mask, x, labels) = setup(256, 16);
    let steps = 20;
    let eta = 0.5;
    let (obs, r0) = observed(arch, &mask, &x, &labels, eta, steps);
    let pred = predicted(arch, &mask, &x, &r0, eta, steps as u32);
    // f32 outputs against f64 kernels: L_0 agrees to f32 rounding.
    assert!(
        (obs[0] - pred[0]).abs() < 1e-5 * obs[0],
        "{} vs {}",
        obs[0],
        pred[0]
    );
    // The loss moved: the comparison is not of two flat lines.
    assert!(obs[steps] < 0.9 * obs[0], "{obs:?}");
    let error = curve_error(&obs, &pred);
    assert!(error < 0.01, "curve error {error}");
    let (obs_small, r0_small) = observed(arch, &mask, &x, &labels, eta / 4.0, steps);
    let pred_small = predicted(arch, &mask, &x, &r0_small, eta / 4.0, steps as u32);
    let error_small = curve_error(&obs_small, &pred_small);
    eprintln!("curve error {error:.3e} at eta = {eta}, {error_small:.3e} at eta / 4");
    assert!(error_small < error / 4.0, "{error_small} vs {error}");
}

/// Full-batch gradient descent in NTK parameterisation keeps pruned weights at 0 and biases
/// at 0.
#[test]
fn ntk_gradient_descent_keeps_pruned_weights_and_biases_at_zero() {
    let (arch, mask, x, labels) = setup(32, 8);
    let device = Device::Cpu;
    let mut model = MaskedMlp::ntk(&ntk_mlp(arch, 2, 2.0), &mask, &device, 2.0, Loss::Mse).unwrap();
    let xt = Tensor::from_slice(&x[..], (8, arch.input), &device).unwrap();
    let yt = Tensor::from_slice(&labels[..], 8, &device).unwrap();
    for _ in 0..3 {
        let g = model.backward(&xt, &yt).unwrap();
        model.gd_step(0.5, &g).unwrap();
    }
    let params = model.parameters().unwrap();
    let depth = arch.depth;
    for (l, m) in mask.layers().iter().enumerate() {
        let w = &params[l];
        assert!(
            m.as_slice()
                .iter()
                .zip(w)
                .all(|(&keep, &w)| keep || w == 0.0)
        );
        assert!(params[depth + l].iter().all(|&b| b == 0.0));
    }
}
