//! The MLP architecture and its seeded initialisation.

use glh_artifacts::seeding::stream;
use rand_chacha::rand_core::Rng;

/// The shape of an MLP: `input -> width -> ... -> width -> classes`, `depth` Linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Architecture {
    /// Input size d.
    pub input: usize,
    /// Hidden width n.
    pub width: usize,
    /// Number of Linear layers L (at least 2).
    pub depth: usize,
    /// Output size (classes).
    pub classes: usize,
}

impl Architecture {
    /// The MLP `input -> width -> ... -> width -> classes` with `depth` Linear layers. The
    /// dataset says `input` and `classes` (MNIST's: `glh_data::mnist::{PIXELS, CLASSES}`).
    pub fn mlp(input: usize, width: usize, depth: usize, classes: usize) -> Self {
        Architecture {
            input,
            width,
            depth,
            classes,
        }
    }

    /// `(out, in)` of every layer, input layer first.
    pub fn shapes(&self) -> Vec<(usize, usize)> {
        assert!(self.depth >= 2, "an MLP needs at least 2 layers");
        (0..self.depth)
            .map(|l| {
                let fan_in = if l == 0 { self.input } else { self.width };
                let out = if l + 1 == self.depth {
                    self.classes
                } else {
                    self.width
                };
                (out, fan_in)
            })
            .collect()
    }

    /// Total number of weights (biases excluded).
    pub fn weight_count(&self) -> usize {
        let [input, width, depth, classes] =
            [self.input, self.width, self.depth, self.classes].map(|v| v as u64);
        weight_count(input, width, depth, classes) as usize
    }
}

/// The weights of the MLP `input -> width -> ... -> width -> classes` of `depth` Linear layers
/// (biases excluded), saturating at `u64::MAX`: the one count, for [`Architecture`] and for the
/// memory estimates that bound a user's width before anything is allocated.
pub fn weight_count(input: u64, width: u64, depth: u64, classes: u64) -> u64 {
    let product = |a: u64, b: u64| a.saturating_mul(b);
    let hidden_pairs = depth.saturating_sub(2);
    product(input, width)
        .saturating_add(product(hidden_pairs, product(width, width)))
        .saturating_add(product(width, classes))
}

/// One Linear layer, `y = W x + b`, with `W` of shape `(rows, cols) = (out, in)`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// Output size.
    pub rows: usize,
    /// Input size.
    pub cols: usize,
    /// The weights, row-major: `weight[r * cols + c]` connects input `c` to output `r`.
    pub weight: Vec<f32>,
    /// The biases, one per output.
    pub bias: Vec<f32>,
}

/// An MLP with its canonical (`f32`) parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// Its shape.
    pub arch: Architecture,
    /// Its layers, input layer first.
    pub layers: Vec<Linear>,
}

/// The bound `a = 1/sqrt(fan_in)` of a layer's initial `U(-a, a)` weights and biases.
pub fn init_bound(fan_in: usize) -> f64 {
    1.0 / (fan_in as f64).sqrt()
}

impl Mlp {
    /// The initialisation of METHOD.md section 1: every weight and bias of layer l drawn from
    /// `U(-a, a)`, `a = 1/sqrt(fan_in)`, from the stream `model/init` of `seed`.
    ///
    /// Draw order: layer by layer, the weights row-major, then the biases. A value is
    /// `(2u - 1) a` in f64, rounded once to f32, with `u = (x >> 11) 2^-53` for the stream's next
    /// `u64` x, so the numbers do not depend on a library's float sampling algorithm.
    pub fn init(arch: Architecture, seed: u64) -> Self {
        let mut rng = stream(seed, "model/init");
        let mut uniform = |a: f64| ((2.0 * unit_f64(rng.next_u64()) - 1.0) * a) as f32;
        let layers = arch
            .shapes()
            .into_iter()
            .map(|(rows, cols)| {
                let a = init_bound(cols);
                let weight = (0..rows * cols).map(|_| uniform(a)).collect();
                let bias = (0..rows).map(|_| uniform(a)).collect();
                Linear {
                    rows,
                    cols,
                    weight,
                    bias,
                }
            })
            .collect();
        Mlp { arch, layers }
    }

    /// The same network with every bias set to zero (for the bias-free identities of tests).
    pub fn without_biases(mut self) -> Self {
        for layer in &mut self.layers {
            layer.bias.iter_mut().for_each(|b| *b = 0.0);
        }
        self
    }
}

/// A uniform number in [0, 1) from the top 53 bits of `x`.
pub fn unit_f64(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_architecture() {
        let arch = Architecture::mlp(784, 100, 4, 10);
        assert_eq!(
            arch.shapes(),
            vec![(100, 784), (100, 100), (100, 100), (10, 100)]
        );
        assert_eq!(arch.weight_count(), 784 * 100 + 2 * 100 * 100 + 1000);
    }

    #[test]
    fn init_is_seeded_and_within_bounds() {
        let arch = Architecture::mlp(784, 50, 3, 10);
        let a = Mlp::init(arch, 1);
        assert_eq!(a, Mlp::init(arch, 1));
        assert_ne!(a, Mlp::init(arch, 2));
        for layer in &a.layers {
            let bound = 1.0 / (layer.cols as f32).sqrt();
            let all = layer.weight.iter().chain(&layer.bias);
            assert!(all.clone().all(|w| w.abs() <= bound));
            // U(-a, a) has E[w^2] = a^2 / 3 and Var[w^2] / E[w^2]^2 = 4/5, so the mean of n
            // squares has relative sd sqrt(0.8 / n); allow 4 sd.
            let n = layer.weight.len() as f64;
            let var = layer
                .weight
                .iter()
                .map(|&w| f64::from(w).powi(2))
                .sum::<f64>()
                / n;
            let expected = f64::from(bound).powi(2) / 3.0;
            let tolerance = 4.0 * (0.8 / n).sqrt();
            assert!(
                (var / expected - 1.0).abs() < tolerance,
                "{var} vs {expected}"
            );
        }
    }

    /// Golden values: a change to the initialisation or to the seeded streams would pair every
    /// cached mask with other weights (training reads the masks run's seed), so it must fail
    /// here first. Made by `cargo test --release -p glh-model golden` printing
    /// `Mlp::init(Architecture::mlp(784, 16, 3, 10), 0)`'s first four weights of layer 1, the first
    /// weight of layer 3 and the last bias of layer 3, as f32 bits.
    #[test]
    fn golden_init_of_seed_0() {
        let net = Mlp::init(Architecture::mlp(784, 16, 3, 10), 0);
        let got: Vec<u32> = net.layers[0].weight[..4]
            .iter()
            .chain([&net.layers[2].weight[0], &net.layers[2].bias[9]])
            .map(|w| w.to_bits())
            .collect();
        let floats: Vec<f32> = got.iter().map(|&b| f32::from_bits(b)).collect();
        assert_eq!(got, GOLDEN_INIT_BITS, "got {got:?} = {floats:?}");
    }

    // -0.012638961, -0.028127758, -0.013910558, -0.0109502515 (layer 1), -0.062620215 (layer 3
    // weight), -0.1115462 (layer 3 bias).
    const GOLDEN_INIT_BITS: [u32; 6] = [
        3159298981, 3169217583, 3160664348, 3157485743, 3179298567, 3185865302,
    ];
}
