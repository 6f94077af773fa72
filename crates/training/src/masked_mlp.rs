//! The MLP as candle variables, trained on `w ⊙ m`.
//!
//! Weights start from exactly the canonical f32 initialisation the masks were scored on
//! (`glh_model::Mlp::init`, rebuilt from the seed), with pruned entries set to zero. The forward
//! pass multiplies by the mask, so a pruned weight's gradient is exactly zero; Adam's update of
//! a zero gradient with zero moments is `0 / (0 + eps) = 0` and weight decay of a zero weight is
//! zero, so pruned weights stay exactly 0 throughout (tested).

use candle_core::{D, DType, Device, Result, Tensor, Var};
use glh_model::{Mask, Mlp};

/// A masked MLP on a device.
pub struct MaskedMlp {
    /// `w_l`, shape `(out, in)`.
    pub weights: Vec<Var>,
    /// `b_l`, shape `(out,)`.
    pub biases: Vec<Var>,
    /// `m_l` as 0/1 f32, shape `(out, in)`.
    pub masks: Vec<Tensor>,
}

impl MaskedMlp {
    /// The network `mlp` under `mask`, on `device`.
    pub fn new(mlp: &Mlp, mask: &Mask, device: &Device) -> Result<Self> {
        let mut weights = Vec::new();
        let mut biases = Vec::new();
        let mut masks = Vec::new();
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
            weights.push(Var::from_tensor(&Tensor::from_vec(w, shape, device)?)?);
            biases.push(Var::from_tensor(&Tensor::from_vec(
                layer.bias.clone(),
                layer.rows,
                device,
            )?)?);
            masks.push(Tensor::from_vec(flags, shape, device)?);
        }
        Ok(MaskedMlp {
            weights,
            biases,
            masks,
        })
    }

    /// Every trainable variable, weights then biases.
    pub fn vars(&self) -> Vec<Var> {
        self.weights.iter().chain(&self.biases).cloned().collect()
    }

    /// The logits of `x` (`(batch, in)`): ReLU after every hidden layer, on `w ⊙ m`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let depth = self.weights.len();
        let mut h = x.clone();
        for l in 0..depth {
            let w = self.weights[l].as_tensor().mul(&self.masks[l])?;
            let z = h
                .matmul(&w.t()?)?
                .broadcast_add(self.biases[l].as_tensor())?;
            h = if l + 1 < depth { z.relu()? } else { z };
        }
        Ok(h)
    }

    /// Mean cross-entropy and accuracy of the logits of `x` against `labels` (u32).
    pub fn loss_and_accuracy(&self, x: &Tensor, labels: &Tensor) -> Result<(Tensor, f64)> {
        let logits = self.forward(x)?;
        let loss = candle_nn::loss::cross_entropy(&logits, labels)?;
        let correct = logits
            .argmax(D::Minus1)?
            .eq(labels)?
            .to_dtype(DType::F32)?
            .sum_all()?
            .to_scalar::<f32>()?;
        Ok((loss, f64::from(correct) / labels.dims1()? as f64))
    }
}
