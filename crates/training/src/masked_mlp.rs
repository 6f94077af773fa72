//! The pruned MLP on a device: its forward pass, its backward pass written out by hand, and
//! Adam on its parameters.
//!
//! Weights start from exactly the canonical f32 initialisation the masks were scored on
//! (`glh_model::Mlp::init`, rebuilt from the seed), with pruned entries set to zero, and are
//! *kept* pruned: the forward pass multiplies by `w` itself, which equals `w ⊙ m`, and the
//! optimiser skips pruned entries (their gradient `dL/dw ⊙ m` is zero, so Adam would leave them
//! at 0 anyway: `0 / (0 + eps) = 0`). Pruned weights stay exactly 0 throughout (tested).
//!
//! Why not candle's autograd: a step here is a handful of matrix products, and the graph around
//! them (the mask multiply forward and back, transposed copies, one tensor per Adam operation)
//! cost more than the products themselves. The backward pass of a ReLU MLP under mean
//! cross-entropy is short enough to write down (`backward`), and a test holds it to a
//! hand-computed f64 gradient. ReLU's derivative at 0 is taken as 0, as PyTorch takes it.
//!
//! The same network trains in the NTK regime ([`MaskedMlp::ntk`]): squared error instead of
//! cross-entropy, no bias updates, and plain gradient descent ([`MaskedMlp::gd_step`]) whose
//! per-layer rate `eta sigma_w^2 / fan_in` makes it gradient descent on the `N(0, 1)` parameters
//! `V` of the NTK parameterisation (`glh_model::ntk_init`).

use crate::adam::{AdamParams, AdamState};
use crate::products::matmul_f32;
use crate::settings::Loss;
use crate::sparse::{ProductRoute, SparseLayer, from_strips, to_strips};
use candle_core::{D, DType, Device, Result, Tensor};
use glh_model::{LayerMask, Mask, Mlp};

/// Rows of one block of [`MaskedMlp::forward`]: 1000 images at width 1024 keep each
/// activation at 4 MB.
pub const EVALUATION_ROWS: usize = 1000;

/// One layer: its weight and bias with their Adam moments, and its mask.
#[derive(Debug)]
pub struct MaskedLinear {
    /// `w` (shape `(out, in)`, pruned entries 0) and its moments.
    pub weight: AdamState,
    /// `b` (shape `(out,)`) and its moments; biases are never pruned.
    pub bias: AdamState,
    /// `m` as u8 0/1, shape `(out, in)`.
    pub mask: Tensor,
}

/// A pruned MLP on a device, with the Adam state of its parameters.
#[derive(Debug)]
pub struct MaskedMlp {
    /// The layers, input first.
    pub layers: Vec<MaskedLinear>,
    /// Adam steps taken.
    steps_taken: u32,
    /// The loss `backward` and `loss_and_correct` compute.
    loss: Loss,
    /// Whether the optimisers update the biases (the NTK parameterisation has none).
    train_biases: bool,
    /// Per layer, the factor on gradient descent's learning rate (1 in the standard
    /// parameterisation, `sigma_w^2 / fan_in` in the NTK one).
    gd_scales: Vec<f64>,
    /// Per layer, its kept positions when the products take the sparse route; empty on the
    /// dense one.
    sparse: Vec<SparseLayer>,
    /// The mask on the host (the schedules of `crate::schedule` read and change it).
    mask: Mask,
    /// Whether the route follows the mask's density ([`MaskedMlp::new`] on the CPU), so that
    /// a mask change may move it; false once a caller picks one ([`MaskedMlp::with_route`]).
    route_by_density: bool,
}

/// Every parameter of a network at one moment, on the host: IMP rewinds to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Each layer's weights, row-major `(out, in)`.
    pub weights: Vec<Vec<f32>>,
    /// Each layer's biases.
    pub biases: Vec<Vec<f32>>,
}

/// The loss of one batch and the gradients of its parameters.
#[derive(Debug)]
pub struct Gradients {
    /// Mean cross-entropy, as a scalar tensor.
    pub loss: Tensor,
    /// Correct predictions in the batch, as a scalar f32 tensor.
    pub correct: Tensor,
    /// `dL/dw_l` and `dL/db_l`, per layer. On the dense route `dL/dw_l` is the `(out, in)`
    /// matrix, unmasked (the optimiser applies the mask); on the sparse route it is the kept
    /// entries only, `(kept,)` in row order.
    pub layers: Vec<(Tensor, Tensor)>,
}

/// The weights `w` (row-major, `mask`'s shape) with the entries `mask` prunes set to 0, on
/// `device`: how a network's weights start and are rewound.
fn masked_weights(w: &[f32], mask: &LayerMask, device: &Device) -> Result<Tensor> {
    let kept: Vec<f32> = w
        .iter()
        .zip(mask.as_slice())
        .map(|(&w, &k)| if k { w } else { 0.0 })
        .collect();
    Tensor::from_vec(kept, (mask.rows(), mask.cols()), device)
}

/// `mask` as the u8 0/1 tensor the dense route's optimiser reads.
fn mask_tensor(mask: &LayerMask, device: &Device) -> Result<Tensor> {
    let keep: Vec<u8> = mask.as_slice().iter().map(|&k| u8::from(k)).collect();
    Tensor::from_vec(keep, (mask.rows(), mask.cols()), device)
}

/// `labels` (u32, `(batch,)`) as a one-hot f32 matrix `(batch, classes)`.
fn one_hot(labels: &Tensor, classes: usize) -> Result<Tensor> {
    let batch = labels.dims1()?;
    let columns = Tensor::arange(0u32, classes as u32, labels.device())?;
    labels
        .reshape((batch, 1))?
        .broadcast_eq(&columns.reshape((1, classes))?)?
        .to_dtype(DType::F32)
}

impl MaskedMlp {
    /// The network `mlp` under `mask`, on `device`. On the CPU its products take the sparse
    /// route when the mask keeps less than `sparse::SPARSE_BELOW_DENSITY` of its weights.
    pub fn new(mlp: &Mlp, mask: &Mask, device: &Device) -> Result<Self> {
        let layers = mlp
            .layers
            .iter()
            .zip(mask.layers())
            .map(|(layer, m)| {
                Ok(MaskedLinear {
                    weight: AdamState::new(&masked_weights(&layer.weight, m, device)?)?,
                    bias: AdamState::new(&Tensor::from_slice(&layer.bias, layer.rows, device)?)?,
                    mask: mask_tensor(m, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut model = MaskedMlp {
            gd_scales: vec![1.0; layers.len()],
            layers,
            steps_taken: 0,
            loss: Loss::CrossEntropy,
            train_biases: true,
            sparse: Vec::new(),
            mask: mask.clone(),
            route_by_density: matches!(device, Device::Cpu),
        };
        model.choose_route()?;
        Ok(model)
    }

    /// The same network with its products on `route` (chosen by the mask's density in
    /// [`MaskedMlp::new`]; tests and benchmarks pick one, which then stays through mask
    /// changes). The sparse route runs on the CPU only.
    pub fn with_route(mut self, route: ProductRoute) -> Result<Self> {
        self.route_by_density = false;
        self.set_route(route)?;
        Ok(self)
    }

    /// The route for the mask's density, where the route follows it.
    fn choose_route(&mut self) -> Result<()> {
        if self.route_by_density {
            self.set_route(ProductRoute::for_density(self.mask.density()))?;
        }
        Ok(())
    }

    /// The products on `route`, with the sparse layers of the current mask.
    fn set_route(&mut self, route: ProductRoute) -> Result<()> {
        self.sparse = match route {
            ProductRoute::Dense => Vec::new(),
            ProductRoute::Sparse => {
                if !matches!(self.layers[0].mask.device(), Device::Cpu) {
                    candle_core::bail!("the sparse route runs on the CPU only");
                }
                self.mask.layers().iter().map(SparseLayer::of).collect()
            }
        };
        Ok(())
    }

    /// Its mask.
    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Each layer's weights on the host, row-major `(out, in)` (pruned entries 0).
    pub fn weights(&self) -> Result<Vec<Vec<f32>>> {
        self.layers
            .iter()
            .map(|l| l.weight.theta()?.flatten_all()?.to_vec1::<f32>())
            .collect()
    }

    /// Every parameter now, on the host.
    pub fn snapshot(&self) -> Result<Snapshot> {
        Ok(Snapshot {
            weights: self.weights()?,
            biases: self
                .layers
                .iter()
                .map(|l| l.bias.theta()?.to_vec1::<f32>())
                .collect::<Result<_>>()?,
        })
    }

    /// Replaces the mask by `mask` of the same shapes (SET's and RigL's updates): a weight
    /// leaving it becomes 0 with its Adam moments; a weight entering starts at 0 with zero
    /// moments (zero-initialised, as both papers grow); a weight staying keeps its value and
    /// moments. Adam's step count goes on. On the CPU the route follows the new density.
    pub fn set_mask(&mut self, mask: &Mask) -> Result<()> {
        self.check_shapes(mask)?;
        for (layer, (old, new)) in self
            .layers
            .iter_mut()
            .zip(self.mask.layers().iter().zip(mask.layers()))
        {
            let mut state = layer.weight.to_host()?;
            let size = old.as_slice().len();
            let stays = old
                .as_slice()
                .iter()
                .zip(new.as_slice())
                .map(|(&a, &b)| a && b);
            for (i, stays) in stays.enumerate() {
                if !stays {
                    for part in 0..3 {
                        state[part * size + i] = 0.0;
                    }
                }
            }
            let device = layer.mask.device().clone();
            let shape = [new.rows(), new.cols()];
            layer.weight = AdamState::from_host(state, &shape, &device)?;
            layer.mask = mask_tensor(new, &device)?;
        }
        self.mask = mask.clone();
        self.choose_route()
    }

    /// IMP's rewind: every parameter back to `to`, the weights under `mask` (those outside it
    /// 0), Adam's moments zero and its step count 0 (a fresh optimiser, as OpenLTH starts each
    /// level). On the CPU the route follows the new density.
    pub fn rewind(&mut self, to: &Snapshot, mask: &Mask) -> Result<()> {
        self.check_shapes(mask)?;
        let parts = self.layers.iter_mut().zip(mask.layers());
        for ((layer, m), (w, b)) in parts.zip(to.weights.iter().zip(&to.biases)) {
            let device = layer.mask.device().clone();
            layer.weight = AdamState::new(&masked_weights(w, m, &device)?)?;
            layer.bias = AdamState::new(&Tensor::from_slice(b, b.len(), &device)?)?;
            layer.mask = mask_tensor(m, &device)?;
        }
        self.steps_taken = 0;
        self.mask = mask.clone();
        self.choose_route()
    }

    /// Refuses a mask of other shapes than the network's.
    fn check_shapes(&self, mask: &Mask) -> Result<()> {
        if let Err(e) = self.mask.with_layers(mask.layers().to_vec()) {
            candle_core::bail!("a new mask for the network: {e}");
        }
        Ok(())
    }

    /// The route the products take.
    pub fn route(&self) -> ProductRoute {
        if self.sparse.is_empty() {
            ProductRoute::Dense
        } else {
            ProductRoute::Sparse
        }
    }

    /// The NTK-parameterised network `mlp` (from `glh_model::ntk_init::ntk_mlp`: effective
    /// weights, zero biases) under `mask`, trained on `loss` without biases, with gradient
    /// descent on its `V` parameters: layer l's rate is `eta sigma_w^2 / fan_in`.
    pub fn ntk(mlp: &Mlp, mask: &Mask, device: &Device, sigma_w2: f64, loss: Loss) -> Result<Self> {
        let mut model = Self::new(mlp, mask, device)?;
        model.gd_scales = mlp
            .layers
            .iter()
            .map(|l| sigma_w2 / l.cols as f64)
            .collect();
        model.loss = loss;
        model.train_biases = false;
        Ok(model)
    }

    /// The same network trained on `loss` instead of cross-entropy.
    pub fn with_loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }
    /// The forward pass of `x` (`(batch, in)`): every layer's input `h_(l-1)` (`h_0 = x`,
    /// `h_l = relu(z_l)`) and the logits `z_L`, with `z_l = h_(l-1) w_l^T + b_l`.
    ///
    /// On the sparse route the inputs are strips (`crate::sparse`); the logits are rows on both.
    fn forward_pass(&self, x: &Tensor) -> Result<(Vec<Tensor>, Tensor)> {
        if self.sparse.is_empty() {
            self.dense_forward_pass(x)
        } else {
            self.sparse_forward_pass(x)
        }
    }

    /// [`Self::forward_pass`] on the dense route.
    fn dense_forward_pass(&self, x: &Tensor) -> Result<(Vec<Tensor>, Tensor)> {
        let mut inputs = vec![x.clone()];
        for (l, layer) in self.layers.iter().enumerate() {
            let z = matmul_f32(&inputs[l], &layer.weight.theta()?.t()?)?
                .broadcast_add(&layer.bias.theta()?)?;
            if l + 1 == self.layers.len() {
                return Ok((inputs, z));
            }
            inputs.push(z.relu()?);
        }
        unreachable!("a network has at least one layer")
    }

    /// [`Self::forward_pass`] on the sparse route: the inputs as strips, the logits as rows.
    fn sparse_forward_pass(&self, x: &Tensor) -> Result<(Vec<Tensor>, Tensor)> {
        let mut inputs = vec![to_strips(x)?];
        let last = self.layers.len() - 1;
        for (l, (layer, sparse)) in self.layers.iter().zip(&self.sparse).enumerate() {
            let (w, b) = (layer.weight.theta()?, layer.bias.theta()?);
            let z = sparse.forward(&inputs[l], &w, &b, l < last)?;
            if l == last {
                return Ok((inputs, from_strips(&z, x.dims2()?.0)?));
            }
            inputs.push(z);
        }
        unreachable!("a network has at least one layer")
    }

    /// The logits of `x` (`(batch, in)`), computed [`EVALUATION_ROWS`] rows at a time.
    ///
    /// Why in row blocks: a test-set pass on the whole set would allocate three `10000 x width`
    /// activations per layer (40 MB each at width 1024), too large for the allocator to keep, so
    /// every evaluation paid for fresh zeroed pages (a third of its time); blocks stay cached. A
    /// row's logits do not depend on the rows beside it (tested bitwise), so neither do the
    /// bytes of a run.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dims2()?.0;
        if rows <= EVALUATION_ROWS {
            return Ok(self.forward_pass(x)?.1);
        }
        let blocks = (0..rows)
            .step_by(EVALUATION_ROWS)
            .map(|start| {
                let block = x.narrow(0, start, EVALUATION_ROWS.min(rows - start))?;
                Ok(self.forward_pass(&block)?.1)
            })
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&blocks, 0)
    }

    /// The loss and the number of correct predictions of `x` against `labels` (u32), as scalar
    /// tensors (no gradient).
    pub fn loss_and_correct(&self, x: &Tensor, labels: &Tensor) -> Result<(Tensor, Tensor)> {
        let logits = self.forward(x)?;
        let loss = self.loss_of(&logits, labels)?;
        Ok((loss, correct(&logits, labels)?))
    }

    /// The model's loss of `logits` against `labels`.
    fn loss_of(&self, logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
        match self.loss {
            Loss::CrossEntropy => candle_nn::loss::cross_entropy(logits, labels),
            Loss::Mse => {
                let (batch, classes) = logits.dims2()?;
                let residual = (logits - one_hot(labels, classes)?)?;
                residual.sqr()?.sum_all()? / (2 * batch) as f64
            }
        }
    }

    /// The loss of the batch `(x, labels)` and the gradients of every parameter.
    ///
    /// With `delta_l = dL/dz_l`: `delta_L = (softmax(z_L) - onehot(y)) / batch` under
    /// cross-entropy, `(z_L - onehot(y)) / batch` under squared error,
    /// `dL/dw_l = delta_l^T h_(l-1)`, `dL/db_l = sum over the batch of delta_l`, and
    /// `delta_(l-1) = (delta_l w_l) ⊙ [z_(l-1) > 0]`.
    pub fn backward(&self, x: &Tensor, labels: &Tensor) -> Result<Gradients> {
        let (inputs, logits) = self.forward_pass(x)?;
        let loss = self.loss_of(&logits, labels)?;
        let delta = self.output_delta(&logits, labels)?;
        let mut gradients = if self.sparse.is_empty() {
            self.dense_gradients(delta, &inputs)?
        } else {
            self.sparse_gradients(delta, &inputs)?
        };
        gradients.reverse();
        Ok(Gradients {
            correct: correct(&logits, labels)?,
            loss,
            layers: gradients,
        })
    }

    /// `delta_L = dL/dz_L` of `logits` against `labels` (see [`Self::backward`]).
    fn output_delta(&self, logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let (batch, classes) = logits.dims2()?;
        let prediction = match self.loss {
            Loss::CrossEntropy => candle_nn::ops::softmax_last_dim(logits)?,
            Loss::Mse => logits.clone(),
        };
        (prediction - one_hot(labels, classes)?)? / batch as f64
    }

    /// `dL/dw_l` of every layer at every position, pruned ones too (the dense gradient RigL
    /// grows by), `(out, in)` each, on either route: the dense route's products, whatever the
    /// network's own route. On the dense route it equals [`Self::backward`]'s to the bit.
    pub fn dense_weight_gradients(&self, x: &Tensor, labels: &Tensor) -> Result<Vec<Tensor>> {
        let (inputs, logits) = self.dense_forward_pass(x)?;
        let delta = self.output_delta(&logits, labels)?;
        let mut gradients = self.dense_gradients(delta, &inputs)?;
        gradients.reverse();
        Ok(gradients.into_iter().map(|(w, _)| w).collect())
    }

    /// The dense route's backward recursion from the output delta `(batch, classes)`, last
    /// layer first.
    fn dense_gradients(
        &self,
        mut delta: Tensor,
        inputs: &[Tensor],
    ) -> Result<Vec<(Tensor, Tensor)>> {
        let mut gradients = Vec::with_capacity(self.layers.len());
        for l in (0..self.layers.len()).rev() {
            let weight_gradient = matmul_f32(&delta.t()?, &inputs[l])?;
            let bias_gradient = delta.sum(0)?;
            if l > 0 {
                // relu'(z) = [z > 0] = [h > 0], h = relu(z): the derivative at 0 is 0.
                let active = inputs[l].gt(0f32)?.to_dtype(DType::F32)?;
                delta = matmul_f32(&delta, &self.layers[l].weight.theta()?)?.mul(&active)?;
            }
            gradients.push((weight_gradient, bias_gradient));
        }
        Ok(gradients)
    }

    /// The same recursion on the sparse route, on strips (`inputs` are strips); padded
    /// examples have delta 0, so they add nothing. Last layer first.
    fn sparse_gradients(&self, delta: Tensor, inputs: &[Tensor]) -> Result<Vec<(Tensor, Tensor)>> {
        let mut delta = to_strips(&delta)?;
        let mut gradients = Vec::with_capacity(self.layers.len());
        for l in (0..self.layers.len()).rev() {
            let sparse = &self.sparse[l];
            let weight_gradient = sparse.weight_gradient(&delta, &inputs[l])?;
            let bias_gradient = delta.sum(2)?.sum(0)?;
            if l > 0 {
                let w = self.layers[l].weight.theta()?;
                delta = sparse.backward_delta(&delta, &w, &inputs[l])?;
            }
            gradients.push((weight_gradient, bias_gradient));
        }
        Ok(gradients)
    }

    /// One Adam step with `gradients`; pruned weights are not touched.
    pub fn adam_step(&mut self, params: &AdamParams, gradients: &Gradients) -> Result<()> {
        self.steps_taken += 1;
        for (l, (layer, (dw, db))) in self.layers.iter().zip(&gradients.layers).enumerate() {
            match self.sparse.get(l) {
                Some(kept) => layer.weight.step_kept(params, self.steps_taken, dw, kept)?,
                None => layer
                    .weight
                    .step(params, self.steps_taken, dw, Some(&layer.mask))?,
            }
            if self.train_biases {
                layer.bias.step(params, self.steps_taken, db, None)?;
            }
        }
        Ok(())
    }

    /// One step of gradient descent at rate `eta` with `gradients`: `w -= eta s_l (dL/dw ⊙ m)`
    /// with layer l's factor `s_l` (see [`MaskedMlp::ntk`]); biases too unless the network has
    /// none. Pruned weights stay exactly 0.
    pub fn gd_step(&mut self, eta: f64, gradients: &Gradients) -> Result<()> {
        for (l, ((layer, (dw, db)), scale)) in self
            .layers
            .iter()
            .zip(&gradients.layers)
            .zip(&self.gd_scales)
            .enumerate()
        {
            match self.sparse.get(l) {
                Some(kept) => layer.weight.gd_step_kept(eta * scale, dw, kept)?,
                None => layer.weight.gd_step(eta * scale, dw, Some(&layer.mask))?,
            }
            if self.train_biases {
                layer.bias.gd_step(eta * scale, db, None)?;
            }
        }
        Ok(())
    }

    /// Every weight matrix then every bias, as f32 host vectors (tests and exports).
    pub fn parameters(&self) -> Result<Vec<Vec<f32>>> {
        let weights = self.layers.iter().map(|l| l.weight.theta());
        let biases = self.layers.iter().map(|l| l.bias.theta());
        weights
            .chain(biases)
            .map(|t| t?.flatten_all()?.to_vec1::<f32>())
            .collect()
    }
}

/// How many rows of `logits` have their largest entry at the label, as a scalar f32 tensor.
fn correct(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    logits
        .argmax(D::Minus1)?
        .eq(labels)?
        .to_dtype(DType::F32)?
        .sum_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use glh_model::Architecture;

    #[test]
    fn logits_in_row_blocks_equal_the_one_pass_logits_to_the_bit() {
        // Two full blocks and a partial one, through a pruned net of MNIST's shape: a row's
        // logits must not depend on which block it sits in.
        let arch = Architecture::mlp(784, 1024, 3, 10);
        let mlp = Mlp::init(arch, 3);
        let layers = mlp
            .layers
            .iter()
            .map(|l| {
                let keep = (0..l.rows * l.cols).map(|i| (i * 7919) % 10 < 3).collect();
                LayerMask::new(l.rows, l.cols, keep).unwrap()
            })
            .collect();
        let mask = Mask::from_layers(&arch, layers).unwrap();
        let rows = 2 * EVALUATION_ROWS + 345;
        let pixels: Vec<f32> = (0..rows * 784)
            .map(|i| ((i * 2654435761) % 1000) as f32 / 500.0 - 0.5)
            .collect();
        let x = Tensor::from_vec(pixels, (rows, 784), &Device::Cpu).unwrap();
        for route in [ProductRoute::Dense, ProductRoute::Sparse] {
            let model = MaskedMlp::new(&mlp, &mask, &Device::Cpu)
                .unwrap()
                .with_route(route)
                .unwrap();
            let blocked = model.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            let whole = model.forward_pass(&x).unwrap().1.to_vec2::<f32>().unwrap();
            assert_eq!(blocked.len(), rows);
            for (i, (b, w)) in blocked.iter().zip(&whole).enumerate() {
                let (b, w): (Vec<u32>, Vec<u32>) = (
                    b.iter().map(|v| v.to_bits()).collect(),
                    w.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(b, w, "{route:?} route, row {i}");
            }
        }
    }
}
