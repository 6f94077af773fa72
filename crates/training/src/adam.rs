//! Adam, fused: one pass over a parameter and its two moments per step.
//!
//! candle-nn's `AdamW` runs about ten tensor ops per parameter per step, each reading and
//! writing a whole new tensor; on the CPU that was a third of a training step. Here a
//! parameter and its moments live in one `(3, ..)` tensor, `[theta; m; v]`, and the CPU update
//! is one in-place custom op ([`candle_core::InplaceOp3`]) that walks the three together,
//! vectorised (AVX-512 where the CPU has it), leaving pruned entries as they are (their
//! gradient is zero, so their weight and moments stay exactly 0).
//!
//! The arithmetic is candle-nn's `AdamW`, operation for operation, in f32 with every constant
//! rounded from f64 as candle's `affine` rounds it:
//!
//! ```text
//! m' = m b1 + g (1 - b1)              m_hat = m' / (1 - b1^t)
//! v' = v b2 + g^2 (1 - b2)            v_hat = v' / (1 - b2^t)
//! theta' = theta (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps)
//! ```
//!
//! On other devices the same formula runs as candle tensor ops ([`AdamState::step_with_ops`]),
//! which a test holds equal to the fused op on the CPU.

use crate::sparse::SparseLayer;
use candle_core::{
    CpuStorage, DType, Device, InplaceOp2, InplaceOp3, Layout, Result, Tensor, bail,
};
use rayon::prelude::*;

/// Adam's hyper-parameters (decoupled weight decay, as AdamW).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (0: Adam).
    pub weight_decay: f64,
}

/// One parameter and its Adam moments, `[theta; m; v]` in one tensor of shape `(3, ..shape)`.
#[derive(Debug)]
pub struct AdamState {
    state: Tensor,
}

/// The step's constants as f32, rounded from f64 exactly where candle's `affine` rounds them.
#[derive(Clone, Copy, Debug)]
struct StepConstants {
    beta1: f32,
    one_minus_beta1: f32,
    beta2: f32,
    one_minus_beta2: f32,
    scale_m: f32,
    scale_v: f32,
    decay: f32,
    eps: f32,
    lr: f32,
}

impl StepConstants {
    /// The constants of step `t` (from 1).
    fn new(params: &AdamParams, t: u32) -> Self {
        let t = i32::try_from(t).expect("fewer than 2^31 steps");
        StepConstants {
            beta1: params.beta1 as f32,
            one_minus_beta1: (1.0 - params.beta1) as f32,
            beta2: params.beta2 as f32,
            one_minus_beta2: (1.0 - params.beta2) as f32,
            scale_m: (1.0 / (1.0 - params.beta1.powi(t))) as f32,
            scale_v: (1.0 / (1.0 - params.beta2.powi(t))) as f32,
            decay: (1.0 - params.lr * params.weight_decay) as f32,
            eps: params.eps as f32,
            lr: params.lr as f32,
        }
    }

    /// One entry's next `(theta, m, v)`, in candle-nn's order of operations.
    #[inline(always)]
    fn updated(&self, theta: f32, m: f32, v: f32, g: f32) -> (f32, f32, f32) {
        let m = m * self.beta1 + g * self.one_minus_beta1;
        let v = v * self.beta2 + (g * g) * self.one_minus_beta2;
        let m_hat = m * self.scale_m;
        let v_hat = v * self.scale_v;
        let adjusted = m_hat / (v_hat.sqrt() + self.eps);
        (theta * self.decay - adjusted * self.lr, m, v)
    }

    /// One entry's update in place.
    #[inline(always)]
    fn update(&self, theta: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        (*theta, *m, *v) = self.updated(*theta, *m, *v, g);
    }
}

/// One chunk of [`FusedAdam`], compiled for the widest vectors the CPU has
/// ([`glh_model::simd::dispatch`]). Every entry is computed and a pruned one (`keep` 0) takes
/// its old values back by a select, so the loop has no branch and vectorises: the kept
/// entries' arithmetic is [`StepConstants::update`]'s lane by lane (`* + / sqrt`, no fused
/// multiply-add), the same bits at any vector width. The branch per entry it replaces made the
/// update a third of a training step at 50% sparsity (scalar `sqrt` and division).
struct AdamChunk<'a> {
    c: StepConstants,
    theta: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    g: &'a [f32],
    /// The chunk's mask (0: pruned), or `None` for an unmasked parameter.
    keep: Option<&'a [u8]>,
}

impl pulp::WithSimd for AdamChunk<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let c = self.c;
        let entries = self.theta.iter_mut().zip(self.m).zip(self.v).zip(self.g);
        match self.keep {
            Some(keep) => {
                for ((((theta, m), v), &g), &k) in entries.zip(keep) {
                    let (next_theta, next_m, next_v) = c.updated(*theta, *m, *v, g);
                    let kept = k != 0;
                    *theta = if kept { next_theta } else { *theta };
                    *m = if kept { next_m } else { *m };
                    *v = if kept { next_v } else { *v };
                }
            }
            None => {
                for (((theta, m), v), &g) in entries {
                    c.update(theta, m, v, g);
                }
            }
        }
    }
}

/// One chunk of [`FusedGd`] (see [`AdamChunk`]): `theta -= (g * keep) * lr + 0`, branch-free.
struct GdChunk<'a> {
    lr: f32,
    theta: &'a mut [f32],
    g: &'a [f32],
    keep: Option<&'a [u8]>,
}

impl pulp::WithSimd for GdChunk<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let lr = self.lr;
        match self.keep {
            Some(keep) => {
                for ((theta, &g), &k) in self.theta.iter_mut().zip(self.g).zip(keep) {
                    *theta -= (g * f32::from(k)) * lr + 0.0;
                }
            }
            None => {
                for (theta, &g) in self.theta.iter_mut().zip(self.g) {
                    *theta -= g * lr + 0.0;
                }
            }
        }
    }
}

/// Entries per rayon task: large enough that scheduling is negligible, small enough that both
/// cores share a 1024 x 1024 layer. The update is elementwise, so the split never changes a bit.
const CHUNK: usize = 1 << 15;

/// The `[theta; m; v]` state and the gradient of an in-place update, checked to be f32 and
/// contiguous; `what` names the update in errors.
fn state_and_gradient<'a>(
    state: &'a mut CpuStorage,
    state_layout: &Layout,
    grad: &'a CpuStorage,
    grad_layout: &Layout,
    what: &str,
) -> Result<(&'a mut [f32], &'a [f32])> {
    let (CpuStorage::F32(state), CpuStorage::F32(grad)) = (state, grad) else {
        bail!("{what}: the parameter and its gradient must be f32");
    };
    let Some((start, end)) = state_layout.contiguous_offsets() else {
        bail!("{what}: the state must be contiguous");
    };
    Ok((
        &mut state[start..end],
        contiguous(grad, grad_layout, "gradient")?,
    ))
}

/// The u8 mask (0: pruned) of a masked fused update, checked to be contiguous and to hold
/// `n` entries; `None` for an unmasked one (whose mask slot repeats the gradient, unread).
/// `what` names the update in errors.
fn mask_of<'a>(
    masked: bool,
    mask: &'a CpuStorage,
    layout: &Layout,
    n: usize,
    what: &str,
) -> Result<Option<&'a [u8]>> {
    if !masked {
        return Ok(None);
    }
    let CpuStorage::U8(mask) = mask else {
        bail!("{what}: the mask must be u8");
    };
    let mask = contiguous(mask, layout, "mask")?;
    if mask.len() != n {
        bail!("{what}: a mask of {} entries for {n} weights", mask.len());
    }
    Ok(Some(mask))
}

/// The fused update as a candle in-place op on `[theta; m; v]`, reading the gradient and an
/// optional u8 mask (0: pruned, skipped).
struct FusedAdam {
    constants: StepConstants,
    masked: bool,
}

fn contiguous<'a, T>(values: &'a [T], layout: &Layout, what: &str) -> Result<&'a [T]> {
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => bail!("fused Adam: the {what} must be contiguous"),
    }
}

impl InplaceOp3 for FusedAdam {
    fn name(&self) -> &'static str {
        "fused-adam"
    }

    fn cpu_fwd(
        &self,
        state: &mut CpuStorage,
        state_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
        mask: &CpuStorage,
        mask_layout: &Layout,
    ) -> Result<()> {
        let (state, grad) =
            state_and_gradient(state, state_layout, grad, grad_layout, "fused Adam")?;
        let n = grad.len();
        if state.len() != 3 * n {
            bail!(
                "fused Adam: a state of {} entries for {n} gradients",
                state.len()
            );
        }
        let (theta, moments) = state.split_at_mut(n);
        let (m, v) = moments.split_at_mut(n);
        let c = self.constants;
        let keep = mask_of(self.masked, mask, mask_layout, n, "fused Adam")?;
        theta
            .par_chunks_mut(CHUNK)
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .zip(grad.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(chunk, (((theta, m), v), g))| {
                let keep = keep.map(|k| &k[chunk * CHUNK..][..theta.len()]);
                glh_model::simd::dispatch(AdamChunk {
                    c,
                    theta,
                    m,
                    v,
                    g,
                    keep,
                })
            });
        Ok(())
    }
}

/// Gradient descent as a candle in-place op on the parameter slice of `[theta; m; v]`:
/// `theta -= (g * keep) * lr + 0`, in exactly the operations (and roundings) of the tensor-op
/// step it replaces on the CPU, without a mask conversion or temporaries per step.
struct FusedGd {
    lr: f32,
    masked: bool,
}

impl InplaceOp3 for FusedGd {
    fn name(&self) -> &'static str {
        "fused-gd"
    }

    fn cpu_fwd(
        &self,
        state: &mut CpuStorage,
        state_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
        mask: &CpuStorage,
        mask_layout: &Layout,
    ) -> Result<()> {
        let (state, grad) = state_and_gradient(
            state,
            state_layout,
            grad,
            grad_layout,
            "fused gradient descent",
        )?;
        let n = grad.len();
        if state.len() != 3 * n {
            bail!(
                "fused gradient descent: a state of {} entries for {n} gradients",
                state.len()
            );
        }
        let theta = &mut state[..n];
        let lr = self.lr;
        let keep = mask_of(self.masked, mask, mask_layout, n, "fused gradient descent")?;
        theta
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .enumerate()
            .for_each(|(chunk, (theta, g))| {
                let keep = keep.map(|k| &k[chunk * CHUNK..][..theta.len()]);
                glh_model::simd::dispatch(GdChunk { lr, theta, g, keep })
            });
        Ok(())
    }
}

/// Which update [`KeptUpdate`] applies.
#[derive(Clone, Copy)]
enum KeptRule {
    Adam(StepConstants),
    /// Gradient descent at this rate.
    Gd(f32),
}

/// Rows per task of [`KeptUpdate`]: enough kept weights per task at 95% sparsity.
const KEPT_ROWS: usize = 64;

/// Adam or gradient descent on the kept entries of `[theta; m; v]` only, from their gradients
/// in row order (the sparse route's weight gradient): the entries the masked dense update
/// would change, updated by the same arithmetic, so the two give the same bits (tested), at
/// the cost of the kept entries alone.
struct KeptUpdate<'a> {
    layer: &'a SparseLayer,
    rule: KeptRule,
}

impl InplaceOp2 for KeptUpdate<'_> {
    fn name(&self) -> &'static str {
        "kept-update"
    }

    fn cpu_fwd(
        &self,
        state: &mut CpuStorage,
        state_layout: &Layout,
        grad: &CpuStorage,
        grad_layout: &Layout,
    ) -> Result<()> {
        let (state, grad) =
            state_and_gradient(state, state_layout, grad, grad_layout, "kept update")?;
        let layer = self.layer;
        let (rows, cols) = layer.shape();
        let n = rows * cols;
        if state.len() != 3 * n || grad.len() != layer.kept() {
            bail!(
                "kept update: a state of {} entries and {} gradients for a {rows} x {cols} \
                 layer keeping {}",
                state.len(),
                grad.len(),
                layer.kept()
            );
        }
        let (theta, moments) = state.split_at_mut(n);
        let (m, v) = moments.split_at_mut(n);
        let block = (KEPT_ROWS * cols).max(1);
        let offsets = layer.row_offsets();
        theta
            .par_chunks_mut(block)
            .zip(m.par_chunks_mut(block))
            .zip(v.par_chunks_mut(block))
            .enumerate()
            .for_each(|(task, ((theta, m), v))| {
                let first = task * KEPT_ROWS;
                for o in first..(first + KEPT_ROWS).min(rows) {
                    let local = (o - first) * cols;
                    let g = &grad[offsets[o]..offsets[o + 1]];
                    for (&k, &g) in layer.row(o).iter().zip(g) {
                        let i = local + k as usize;
                        match self.rule {
                            KeptRule::Adam(c) => c.update(&mut theta[i], &mut m[i], &mut v[i], g),
                            // As the masked step computes it: (g * 1) * lr + 0.
                            KeptRule::Gd(lr) => theta[i] -= g * lr + 0.0,
                        }
                    }
                }
            });
        Ok(())
    }
}

impl AdamState {
    /// `theta` with zero moments.
    pub fn new(theta: &Tensor) -> Result<Self> {
        let zeros = theta.zeros_like()?;
        let state = Tensor::stack(&[theta, &zeros, &zeros], 0)?;
        Ok(AdamState { state })
    }

    /// The parameter: a view of the state's first slice (no copy).
    pub fn theta(&self) -> Result<Tensor> {
        self.state.get(0)
    }

    /// `[theta; m; v]` as one host vector, theta's entries first (a mask change edits them).
    pub fn to_host(&self) -> Result<Vec<f32>> {
        self.state.flatten_all()?.to_vec1::<f32>()
    }

    /// The state of a parameter of `shape` from `[theta; m; v]` (as [`Self::to_host`] gives
    /// it), on `device`.
    pub fn from_host(state: Vec<f32>, shape: &[usize], device: &Device) -> Result<Self> {
        let mut dims = vec![3];
        dims.extend_from_slice(shape);
        Ok(AdamState {
            state: Tensor::from_vec(state, dims, device)?,
        })
    }

    /// One step of gradient descent at rate `lr`, `theta -= (grad ⊙ mask) lr`, leaving the
    /// moments as they are. Fused on the CPU, tensor ops elsewhere ([`Self::gd_step_with_ops`]).
    pub fn gd_step(&self, lr: f64, grad: &Tensor, mask: Option<&Tensor>) -> Result<()> {
        if !matches!(self.state.device(), Device::Cpu) {
            return self.gd_step_with_ops(lr, grad, mask);
        }
        let grad = grad.contiguous()?;
        let op = FusedGd {
            lr: lr as f32,
            masked: mask.is_some(),
        };
        let mask = match mask {
            Some(mask) => mask.contiguous()?,
            None => grad.clone(),
        };
        self.state.inplace_op3(&grad, &mask, &op)
    }

    /// The same step as candle tensor ops; on the CPU a test holds it equal to the fused op.
    pub fn gd_step_with_ops(&self, lr: f64, grad: &Tensor, mask: Option<&Tensor>) -> Result<()> {
        let grad = match mask {
            Some(mask) => grad.mul(&mask.to_dtype(DType::F32)?)?,
            None => grad.clone(),
        };
        let theta = (self.state.get(0)? - (grad * lr)?)?;
        self.state.slice_set(&theta.unsqueeze(0)?, 0, 0)
    }

    /// The first and second moments (copies).
    pub fn moments(&self) -> Result<(Tensor, Tensor)> {
        Ok((self.state.get(1)?.copy()?, self.state.get(2)?.copy()?))
    }

    /// Step `t` (from 1) with gradient `grad`; entries where `mask` (u8, the parameter's shape)
    /// is 0 are left as they are. Fused on the CPU, tensor ops elsewhere.
    pub fn step(
        &self,
        params: &AdamParams,
        t: u32,
        grad: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        if !matches!(self.state.device(), Device::Cpu) {
            return self.step_with_ops(params, t, grad, mask);
        }
        let grad = grad.contiguous()?;
        let op = FusedAdam {
            constants: StepConstants::new(params, t),
            masked: mask.is_some(),
        };
        // An unmasked parameter passes its gradient again in the mask's place; the op ignores it.
        let mask = match mask {
            Some(mask) => mask.contiguous()?,
            None => grad.clone(),
        };
        self.state.inplace_op3(&grad, &mask, &op)
    }

    /// Step `t` (from 1) on the kept weights of `layer` only, from their gradients `grad`
    /// (`(kept,)`, row order: the sparse route's); pruned entries are not touched. The same
    /// bits as [`Self::step`] with the layer's mask and those gradients in place (tested).
    pub fn step_kept(
        &self,
        params: &AdamParams,
        t: u32,
        grad: &Tensor,
        layer: &SparseLayer,
    ) -> Result<()> {
        let rule = KeptRule::Adam(StepConstants::new(params, t));
        self.state
            .inplace_op2(&grad.contiguous()?, &KeptUpdate { layer, rule })
    }

    /// Gradient descent at rate `lr` on the kept weights of `layer` only (see
    /// [`Self::step_kept`]); the same bits as [`Self::gd_step`] with the layer's mask.
    pub fn gd_step_kept(&self, lr: f64, grad: &Tensor, layer: &SparseLayer) -> Result<()> {
        let rule = KeptRule::Gd(lr as f32);
        self.state
            .inplace_op2(&grad.contiguous()?, &KeptUpdate { layer, rule })
    }

    /// The same step as candle tensor ops (candle-nn's `AdamW`, with the gradient masked first),
    /// for devices without the fused op; on the CPU a test holds it equal to the fused op.
    pub fn step_with_ops(
        &self,
        params: &AdamParams,
        t: u32,
        grad: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<()> {
        let c = StepConstants::new(params, t);
        let grad = match mask {
            Some(mask) => grad.mul(&mask.to_dtype(DType::F32)?)?,
            None => grad.clone(),
        };
        let theta = self.state.get(0)?;
        let m = self.state.get(1)?;
        let v = self.state.get(2)?;
        let f = f64::from;
        let next_m = ((m * f(c.beta1))? + (&grad * f(c.one_minus_beta1))?)?;
        let next_v = ((v * f(c.beta2))? + (grad.sqr()? * f(c.one_minus_beta2))?)?;
        let m_hat = (&next_m * f(c.scale_m))?;
        let v_hat = (&next_v * f(c.scale_v))?;
        let adjusted = (m_hat / (v_hat.sqrt()? + f(c.eps))?)?;
        let next_theta = ((theta * f(c.decay))? - (adjusted * f(c.lr))?)?;
        // A pruned entry has g = 0 and m = v = 0, so its adjusted step is 0 / eps = 0 and, with
        // no decay, its weight stays 0: the masked and the skipped update agree.
        let next = Tensor::stack(&[next_theta, next_m, next_v], 0)?;
        self.state.slice_set(&next, 0, 0)
    }
}
