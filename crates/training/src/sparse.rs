//! The sparse route of a pruned network on the CPU: each layer's nonzeros, and the three
//! products of a training step (forward, weight gradient, backward delta) visiting only them.
//!
//! At 80-95% sparsity a dense product spends 80-95% of its multiply-adds on pruned weights.
//! Here a batch's activations are held feature-major in packed strips of [`STRIP`] examples, a
//! tensor of shape `(strips, features, STRIP)` with example `s * STRIP + j` at `[s, f, j]` and
//! the last strip padded with zeros ([`to_strips`]): a kept weight `w_ok` then adds `w_ok` times
//! one contiguous row of `STRIP` inputs to `STRIP` accumulators held in registers, and a strip
//! (at most 1024 x 64 f32, 256 KiB) stays in a core's L2 cache.
//!
//! Every sum runs in a fixed order (a row's kept columns increasing, a column's kept rows
//! increasing, strips in order, then a fixed tree over the lanes), strips and rows are
//! independent tasks, and products use `mul_add` (one rounding on every machine), so the bits
//! depend neither on the thread count nor on the CPU's SIMD width. Which route a network takes
//! depends on its mask's density only ([`SPARSE_BELOW_DENSITY`]).

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor, bail};
use glh_model::LayerMask;
use rayon::prelude::*;

/// Examples per strip: 64 f32 accumulators are eight AVX2 registers.
pub const STRIP: usize = 64;

/// A network whose mask keeps fewer than this fraction of its weights trains on the sparse
/// route. Measured by `cargo bench -p glh-benches --bench training -- route` (n = 1024, L = 4,
/// batch 128, a forward and backward pass, 2 threads, AMD EPYC with AVX2, 2026-12-06): dense
/// 25-29 ms at any density; sparse 8.5 ms at density 0.05, 11.9 at 0.1, 20.3 at 0.2, 30.4 at
/// 0.3, 34.8 at 0.4, 41.4 at 0.5. The sparse kernels run at about a third of the dense GEMM's
/// rate per multiply-add, so the two cross near 0.25.
pub const SPARSE_BELOW_DENSITY: f64 = 0.25;

/// How a network's products run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductRoute {
    /// Dense matrix products (faer on the CPU, candle elsewhere).
    Dense,
    /// Only the kept weights ([`SparseLayer`]), CPU only.
    Sparse,
}

impl ProductRoute {
    /// The route for a mask keeping `density` of its weights.
    pub fn for_density(density: f64) -> Self {
        if density < SPARSE_BELOW_DENSITY {
            ProductRoute::Sparse
        } else {
            ProductRoute::Dense
        }
    }
}

/// The kept positions of one layer's mask (`rows x cols`, weight `w_ok` at `o * cols + k`), by
/// rows and by columns.
#[derive(Debug)]
pub struct SparseLayer {
    rows: usize,
    cols: usize,
    /// Row o keeps columns `row_columns[row_offsets[o]..row_offsets[o + 1]]`, increasing.
    row_offsets: Vec<usize>,
    row_columns: Vec<u32>,
    /// Column k keeps rows `col_rows[col_offsets[k]..col_offsets[k + 1]]`, increasing.
    col_offsets: Vec<usize>,
    col_rows: Vec<u32>,
}

impl SparseLayer {
    /// The kept positions of `mask`.
    pub fn of(mask: &LayerMask) -> Self {
        let (rows, cols) = (mask.rows(), mask.cols());
        let keep = mask.as_slice();
        let mut row_offsets = Vec::with_capacity(rows + 1);
        let mut row_columns = Vec::with_capacity(mask.kept());
        row_offsets.push(0);
        for row in keep.chunks(cols.max(1)).take(rows) {
            row_columns.extend((0..cols as u32).filter(|&k| row[k as usize]));
            row_offsets.push(row_columns.len());
        }
        let mut col_offsets = vec![0usize; cols + 1];
        for &k in &row_columns {
            col_offsets[k as usize + 1] += 1;
        }
        for k in 0..cols {
            col_offsets[k + 1] += col_offsets[k];
        }
        let mut next = col_offsets.clone();
        let mut col_rows = vec![0u32; row_columns.len()];
        for o in 0..rows {
            for &k in &row_columns[row_offsets[o]..row_offsets[o + 1]] {
                col_rows[next[k as usize]] = o as u32;
                next[k as usize] += 1;
            }
        }
        SparseLayer {
            rows,
            cols,
            row_offsets,
            row_columns,
            col_offsets,
            col_rows,
        }
    }

    /// Rows and columns of the layer.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Number of kept weights.
    pub fn kept(&self) -> usize {
        self.row_columns.len()
    }

    /// Where each row's kept weights start in row order (`rows + 1` offsets).
    pub fn row_offsets(&self) -> &[usize] {
        &self.row_offsets
    }

    /// The kept columns of row `o`, increasing.
    pub fn row(&self, o: usize) -> &[u32] {
        &self.row_columns[self.row_offsets[o]..self.row_offsets[o + 1]]
    }

    /// The kept rows of column `k`.
    fn col(&self, k: usize) -> &[u32] {
        &self.col_rows[self.col_offsets[k]..self.col_offsets[k + 1]]
    }

    /// `z = h w^T + b` on strips, with ReLU applied when `relu`: `(strips, rows, STRIP)` from
    /// the input `h` `(strips, cols, STRIP)`, the weight `(rows, cols)` and the bias `(rows,)`.
    pub fn forward(
        &self,
        h: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        relu: bool,
    ) -> Result<Tensor> {
        h.apply_op3_no_bwd(weight, bias, &Forward { layer: self, relu })
    }

    /// `dL/dw = delta^T h` at the kept positions, in row order (`(kept,)`: see
    /// [`crate::adam::AdamState::step_kept`]), from the strips of `delta`
    /// `(strips, rows, STRIP)` and `h` `(strips, cols, STRIP)`.
    pub fn weight_gradient(&self, delta: &Tensor, h: &Tensor) -> Result<Tensor> {
        delta.apply_op2_no_bwd(h, &WeightGradient { layer: self })
    }

    /// `(delta w) ⊙ [h > 0]` on strips, `(strips, cols, STRIP)`: the delta of the layer below,
    /// from this layer's `delta` `(strips, rows, STRIP)`, its weight and its input `h`.
    pub fn backward_delta(&self, delta: &Tensor, weight: &Tensor, h: &Tensor) -> Result<Tensor> {
        delta.apply_op3_no_bwd(weight, h, &BackwardDelta { layer: self })
    }
}

/// `x` `(n, features)` as strips `(ceil(n / STRIP), features, STRIP)`, zero-padded.
pub fn to_strips(x: &Tensor) -> Result<Tensor> {
    let (n, features) = x.dims2()?;
    let strips = n.div_ceil(STRIP);
    let padded = if strips * STRIP > n {
        x.pad_with_zeros(0, 0, strips * STRIP - n)?
    } else {
        x.contiguous()?
    };
    padded
        .reshape((strips, STRIP, features))?
        .transpose(1, 2)?
        .contiguous()
}

/// The first `n` examples of strips `(strips, features, STRIP)` as rows `(n, features)`.
pub fn from_strips(strips: &Tensor, n: usize) -> Result<Tensor> {
    let (count, features, lanes) = strips.dims3()?;
    if lanes != STRIP || n > count * STRIP {
        bail!(
            "sparse route: {n} examples from strips of shape {:?}",
            strips.dims()
        );
    }
    strips
        .transpose(1, 2)?
        .contiguous()?
        .reshape((count * STRIP, features))?
        .narrow(0, 0, n)
}

/// The contiguous f32 values of a custom op's operand.
fn f32_values<'a>(storage: &'a CpuStorage, layout: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(values) = storage else {
        bail!("sparse route: the {what} must be f32");
    };
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&values[start..end]),
        None => bail!("sparse route: the {what} must be contiguous"),
    }
}

/// The strips of an operand, checked to hold `features` rows each.
fn strips_of<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    features: usize,
    what: &str,
) -> Result<(usize, &'a [[f32; STRIP]])> {
    let (count, rows, lanes) = layout.shape().dims3()?;
    if rows != features || lanes != STRIP {
        bail!(
            "sparse route: {what} strips of shape {:?}, expected (_, {features}, {STRIP})",
            layout.dims()
        );
    }
    let values = f32_values(storage, layout, what)?;
    Ok((count, values.as_chunks::<STRIP>().0))
}

/// The weight `(rows, cols)` of `layer`, checked.
fn weight_of<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    layer: &SparseLayer,
) -> Result<&'a [f32]> {
    if layout.dims() != [layer.rows, layer.cols] {
        bail!(
            "sparse route: a weight of shape {:?} for a {} x {} mask",
            layout.dims(),
            layer.rows,
            layer.cols
        );
    }
    f32_values(storage, layout, "weight")
}

/// `count` strips of `features` rows as a custom op's output, shape `(count, features, STRIP)`.
fn strips_storage(strips: Vec<[f32; STRIP]>, count: usize, features: usize) -> (CpuStorage, Shape) {
    let values = strips.into_flattened();
    (
        CpuStorage::F32(values),
        Shape::from((count, features, STRIP)),
    )
}

/// The sum of a strip's lanes in a fixed tree: eight partial sums of stride 8, then pairs.
#[inline(always)]
fn lane_sum(acc: &[f32; STRIP]) -> f32 {
    let mut partial = [0f32; 8];
    for chunk in acc.as_chunks::<8>().0 {
        for (p, &a) in partial.iter_mut().zip(chunk) {
            *p += a;
        }
    }
    let [a, b, c, d, e, f, g, h] = partial;
    ((a + e) + (c + g)) + ((b + f) + (d + h))
}

struct Forward<'a> {
    layer: &'a SparseLayer,
    relu: bool,
}

impl CustomOp3 for Forward<'_> {
    fn name(&self) -> &'static str {
        "sparse-forward"
    }

    fn cpu_fwd(
        &self,
        h: &CpuStorage,
        h_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let layer = self.layer;
        let (count, input) = strips_of(h, h_layout, layer.cols, "input")?;
        let w = weight_of(w, w_layout, layer)?;
        let bias = f32_values(b, b_layout, "bias")?;
        if bias.len() != layer.rows {
            bail!(
                "sparse route: {} biases for {} rows",
                bias.len(),
                layer.rows
            );
        }
        let mut out = vec![[0f32; STRIP]; count * layer.rows];
        out.par_chunks_mut(layer.rows.max(1))
            .zip(input.par_chunks(layer.cols.max(1)))
            .for_each(|(out, input)| {
                glh_model::simd::dispatch(ForwardStrip {
                    layer,
                    w,
                    bias,
                    relu: self.relu,
                    input,
                    out,
                })
            });
        Ok(strips_storage(out, count, layer.rows))
    }
}

/// One strip of [`Forward`], compiled for the widest SIMD the CPU has
/// ([`glh_model::simd::dispatch`]: AVX-512 included).
struct ForwardStrip<'a> {
    layer: &'a SparseLayer,
    w: &'a [f32],
    bias: &'a [f32],
    relu: bool,
    input: &'a [[f32; STRIP]],
    out: &'a mut [[f32; STRIP]],
}

impl pulp::WithSimd for ForwardStrip<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let cols = self.layer.cols;
        for (o, out) in self.out.iter_mut().enumerate() {
            let w_row = &self.w[o * cols..(o + 1) * cols];
            let mut acc = [0f32; STRIP];
            for &k in self.layer.row(o) {
                let (w, x) = (w_row[k as usize], &self.input[k as usize]);
                for (a, &x) in acc.iter_mut().zip(x) {
                    *a = w.mul_add(x, *a);
                }
            }
            let b = self.bias[o];
            for (z, a) in out.iter_mut().zip(acc) {
                let v = a + b;
                *z = if self.relu { v.max(0.0) } else { v };
            }
        }
    }
}

struct WeightGradient<'a> {
    layer: &'a SparseLayer,
}

/// Output rows per task of [`WeightGradient`].
const GRADIENT_ROWS: usize = 16;

impl CustomOp2 for WeightGradient<'_> {
    fn name(&self) -> &'static str {
        "sparse-weight-gradient"
    }

    fn cpu_fwd(
        &self,
        delta: &CpuStorage,
        delta_layout: &Layout,
        h: &CpuStorage,
        h_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let layer = self.layer;
        let (count, delta) = strips_of(delta, delta_layout, layer.rows, "delta")?;
        let (h_count, input) = strips_of(h, h_layout, layer.cols, "input")?;
        if h_count != count {
            bail!("sparse route: {count} delta strips for {h_count} input strips");
        }
        let mut out = vec![0f32; layer.kept()];
        let tasks = layer.rows.div_ceil(GRADIENT_ROWS);
        // Split the kept values at row-block boundaries: task t owns rows t*GRADIENT_ROWS..
        let mut blocks = Vec::with_capacity(tasks);
        let mut rest = out.as_mut_slice();
        for t in 0..tasks {
            let rows = t * GRADIENT_ROWS..((t + 1) * GRADIENT_ROWS).min(layer.rows);
            let len = layer.row_offsets[rows.end] - layer.row_offsets[rows.start];
            let (block, tail) = rest.split_at_mut(len);
            blocks.push((rows.start, block));
            rest = tail;
        }
        blocks.into_par_iter().for_each(|(first_row, out)| {
            glh_model::simd::dispatch(GradientRows {
                layer,
                first_row,
                count,
                delta,
                input,
                out,
            })
        });
        let kept = out.len();
        Ok((CpuStorage::F32(out), Shape::from(kept)))
    }
}

/// Some rows of [`WeightGradient`], compiled for the widest SIMD the CPU has
/// ([`glh_model::simd::dispatch`]: AVX-512 included).
struct GradientRows<'a> {
    layer: &'a SparseLayer,
    first_row: usize,
    count: usize,
    delta: &'a [[f32; STRIP]],
    input: &'a [[f32; STRIP]],
    out: &'a mut [f32],
}

impl pulp::WithSimd for GradientRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (rows, cols) = (self.layer.rows, self.layer.cols);
        let start = self.layer.row_offsets[self.first_row];
        let mut o = self.first_row;
        for (i, out) in self.out.iter_mut().enumerate() {
            while self.layer.row_offsets[o + 1] <= start + i {
                o += 1;
            }
            let k = self.layer.row_columns[start + i] as usize;
            let mut acc = [0f32; STRIP];
            for s in 0..self.count {
                let (d, x) = (&self.delta[s * rows + o], &self.input[s * cols + k]);
                for ((a, &d), &x) in acc.iter_mut().zip(d).zip(x) {
                    *a = d.mul_add(x, *a);
                }
            }
            *out = lane_sum(&acc);
        }
    }
}

struct BackwardDelta<'a> {
    layer: &'a SparseLayer,
}

impl CustomOp3 for BackwardDelta<'_> {
    fn name(&self) -> &'static str {
        "sparse-backward-delta"
    }

    fn cpu_fwd(
        &self,
        delta: &CpuStorage,
        delta_layout: &Layout,
        w: &CpuStorage,
        w_layout: &Layout,
        h: &CpuStorage,
        h_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let layer = self.layer;
        let (count, delta) = strips_of(delta, delta_layout, layer.rows, "delta")?;
        let w = weight_of(w, w_layout, layer)?;
        let (h_count, input) = strips_of(h, h_layout, layer.cols, "input")?;
        if h_count != count {
            bail!("sparse route: {count} delta strips for {h_count} input strips");
        }
        let mut out = vec![[0f32; STRIP]; count * layer.cols];
        out.par_chunks_mut(layer.cols.max(1))
            .zip(delta.par_chunks(layer.rows.max(1)))
            .zip(input.par_chunks(layer.cols.max(1)))
            .for_each(|((out, delta), input)| {
                glh_model::simd::dispatch(BackwardStrip {
                    layer,
                    w,
                    delta,
                    input,
                    out,
                })
            });
        Ok(strips_storage(out, count, layer.cols))
    }
}

/// One strip of [`BackwardDelta`], compiled for the widest SIMD the CPU has
/// ([`glh_model::simd::dispatch`]: AVX-512 included).
struct BackwardStrip<'a> {
    layer: &'a SparseLayer,
    w: &'a [f32],
    delta: &'a [[f32; STRIP]],
    input: &'a [[f32; STRIP]],
    out: &'a mut [[f32; STRIP]],
}

impl pulp::WithSimd for BackwardStrip<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let cols = self.layer.cols;
        for (k, (out, h)) in self.out.iter_mut().zip(self.input).enumerate() {
            let mut acc = [0f32; STRIP];
            for &o in self.layer.col(k) {
                let (w, d) = (self.w[o as usize * cols + k], &self.delta[o as usize]);
                for (a, &d) in acc.iter_mut().zip(d) {
                    *a = w.mul_add(d, *a);
                }
            }
            // relu'(z) = [h > 0]: the derivative at 0 is 0, as on the dense route.
            for ((z, a), &h) in out.iter_mut().zip(acc).zip(h) {
                *z = if h > 0.0 { a } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MaskedMlp;
    use candle_core::Device;
    use glh_model::{Architecture, Mask, Mlp};

    /// A mask of about `density`, from a fixed hash of the position.
    fn layer_mask(rows: usize, cols: usize, density: f64, salt: usize) -> LayerMask {
        let keep = (0..rows * cols)
            .map(|i| (((i + salt) * 2_654_435_761) % 1000) < (density * 1000.0) as usize)
            .collect();
        LayerMask::new(rows, cols, keep).unwrap()
    }

    fn values(n: usize, salt: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 7919 + salt * 104_729) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    fn close(got: f32, want: f64, what: &str) {
        let tolerance = 1e-5 * (1.0 + want.abs());
        assert!(
            (f64::from(got) - want).abs() <= tolerance,
            "{what}: {got} vs {want}"
        );
    }

    #[test]
    fn the_three_products_match_an_f64_brute_force_on_a_partial_strip() {
        let (rows, cols, n) = (37, 53, 100);
        let mask = layer_mask(rows, cols, 0.3, 1);
        let layer = SparseLayer::of(&mask);
        let keep = |o: usize, k: usize| mask.get(o, k);
        let device = Device::Cpu;
        let w: Vec<f32> = values(rows * cols, 2)
            .into_iter()
            .enumerate()
            .map(|(i, v)| if keep(i / cols, i % cols) { v } else { 0.0 })
            .collect();
        let (bias, x, d) = (values(rows, 3), values(n * cols, 4), values(n * rows, 5));
        let weight = Tensor::from_vec(w.clone(), (rows, cols), &device).unwrap();
        let b = Tensor::from_vec(bias.clone(), rows, &device).unwrap();
        let h = to_strips(&Tensor::from_vec(x.clone(), (n, cols), &device).unwrap()).unwrap();
        let delta = to_strips(&Tensor::from_vec(d.clone(), (n, rows), &device).unwrap()).unwrap();

        for relu in [false, true] {
            let z = layer.forward(&h, &weight, &b, relu).unwrap();
            let z = from_strips(&z, n).unwrap().to_vec2::<f32>().unwrap();
            for (e, row) in z.iter().enumerate() {
                for (o, &got) in row.iter().enumerate() {
                    let sum: f64 = (0..cols)
                        .map(|k| f64::from(w[o * cols + k]) * f64::from(x[e * cols + k]))
                        .sum::<f64>()
                        + f64::from(bias[o]);
                    close(got, if relu { sum.max(0.0) } else { sum }, "forward");
                }
            }
        }
        let g = layer
            .weight_gradient(&delta, &h)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let kept: Vec<(usize, usize)> = (0..rows * cols)
            .map(|i| (i / cols, i % cols))
            .filter(|&(o, k)| keep(o, k))
            .collect();
        assert_eq!(g.len(), kept.len(), "one value per kept weight");
        for (&got, &(o, k)) in g.iter().zip(&kept) {
            let want: f64 = (0..n)
                .map(|e| f64::from(d[e * rows + o]) * f64::from(x[e * cols + k]))
                .sum();
            close(got, want, "weight gradient");
        }
        let below = layer.backward_delta(&delta, &weight, &h).unwrap();
        let below = from_strips(&below, n).unwrap().to_vec2::<f32>().unwrap();
        for (e, row) in below.iter().enumerate() {
            for (k, &got) in row.iter().enumerate() {
                let sum: f64 = (0..rows)
                    .map(|o| f64::from(w[o * cols + k]) * f64::from(d[e * rows + o]))
                    .sum();
                close(got, if x[e * cols + k] > 0.0 { sum } else { 0.0 }, "delta");
            }
        }
    }

    #[test]
    fn kept_updates_give_the_bits_of_the_masked_dense_updates() {
        use crate::adam::{AdamParams, AdamState};
        let (rows, cols) = (70, 90);
        let device = Device::Cpu;
        let mask = layer_mask(rows, cols, 0.2, 3);
        let layer = SparseLayer::of(&mask);
        let keep = mask.as_slice();
        let theta: Vec<f32> = values(rows * cols, 1)
            .into_iter()
            .zip(keep)
            .map(|(v, &k)| if k { v } else { 0.0 })
            .collect();
        let keep_u8: Vec<u8> = keep.iter().map(|&k| u8::from(k)).collect();
        let mask_t = Tensor::from_vec(keep_u8, (rows, cols), &device).unwrap();
        let theta = Tensor::from_vec(theta, (rows, cols), &device).unwrap();
        let params = AdamParams {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        };
        let bits = |state: &AdamState| -> Vec<u32> {
            let (m, v) = state.moments().unwrap();
            [state.theta().unwrap(), m, v]
                .iter()
                .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .map(f32::to_bits)
                .collect()
        };
        let (dense, kept) = (
            AdamState::new(&theta).unwrap(),
            AdamState::new(&theta).unwrap(),
        );
        for t in 1..=3u32 {
            let g = values(rows * cols, 10 + t as usize);
            let g_kept: Vec<f32> = g
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(&g, _)| g)
                .collect();
            let g = Tensor::from_vec(g, (rows, cols), &device).unwrap();
            let g_kept = Tensor::from_vec(g_kept, layer.kept(), &device).unwrap();
            dense.step(&params, t, &g, Some(&mask_t)).unwrap();
            kept.step_kept(&params, t, &g_kept, &layer).unwrap();
            assert_eq!(bits(&dense), bits(&kept), "Adam step {t}");
            dense.gd_step(0.3, &g, Some(&mask_t)).unwrap();
            kept.gd_step_kept(0.3, &g_kept, &layer).unwrap();
            assert_eq!(bits(&dense), bits(&kept), "gradient descent step {t}");
        }
    }

    /// An MLP of MNIST's shape at `width` under a mask of about `density`.
    fn pruned_net(width: usize, density: f64) -> (Mlp, Mask) {
        let arch = Architecture::mlp(784, width, 3, 10);
        let mlp = Mlp::init(arch, 11);
        let layers = mlp
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| layer_mask(layer.rows, layer.cols, density, l))
            .collect();
        (mlp, Mask::from_layers(&arch, layers).unwrap())
    }

    #[test]
    fn the_sparse_route_follows_the_dense_route() {
        let device = Device::Cpu;
        let (mlp, mask) = pruned_net(200, 0.1);
        let sparse = MaskedMlp::new(&mlp, &mask, &device).unwrap();
        assert_eq!(
            sparse.route(),
            ProductRoute::Sparse,
            "chosen at density 0.1"
        );
        let dense = MaskedMlp::new(&mlp, &mask, &device)
            .unwrap()
            .with_route(ProductRoute::Dense)
            .unwrap();
        let n = 150;
        let x = Tensor::from_vec(values(n * 784, 7), (n, 784), &device).unwrap();
        let labels: Vec<u32> = (0..n as u32).map(|i| (i * 7) % 10).collect();
        let y = Tensor::from_vec(labels, n, &device).unwrap();
        let (gs, gd) = (
            sparse.backward(&x, &y).unwrap(),
            dense.backward(&x, &y).unwrap(),
        );
        let scalar = |t: &Tensor| f64::from(t.to_scalar::<f32>().unwrap());
        close(scalar(&gs.loss) as f32, scalar(&gd.loss), "loss");
        assert_eq!(scalar(&gs.correct), scalar(&gd.correct));
        let largest = |t: &Tensor| -> f64 {
            let v = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.iter().fold(0f64, |m, &x| m.max(f64::from(x.abs())))
        };
        for (l, ((ws, bs), (wd, bd))) in gs.layers.iter().zip(&gd.layers).enumerate() {
            // Gradients of kept weights agree to f32 rounding relative to the layer's largest;
            // pruned ones are 0 on the sparse route (the dense route leaves them to Adam's mask).
            let scale = largest(wd).max(largest(bd));
            let keep = mask.layers()[l].as_slice();
            let ws = ws.to_vec1::<f32>().unwrap();
            let wd = wd.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let kept: Vec<f32> = wd
                .iter()
                .zip(keep)
                .filter(|(_, k)| **k)
                .map(|(&d, _)| d)
                .collect();
            assert_eq!(ws.len(), kept.len(), "layer {l}: one value per kept weight");
            for (i, (&s, &d)) in ws.iter().zip(&kept).enumerate() {
                assert!(
                    (s - d).abs() as f64 <= 1e-5 * scale,
                    "layer {l} kept w {i}: {s} vs {d}"
                );
            }
            let (bs, bd) = (bs.to_vec1::<f32>().unwrap(), bd.to_vec1::<f32>().unwrap());
            for (i, (&s, &d)) in bs.iter().zip(&bd).enumerate() {
                assert!(
                    (s - d).abs() as f64 <= 1e-5 * scale,
                    "layer {l} b[{i}]: {s} vs {d}"
                );
            }
        }
        let full = MaskedMlp::new(&mlp, &Mask::full(&mlp.arch), &device).unwrap();
        assert_eq!(full.route(), ProductRoute::Dense, "chosen for a dense net");
    }

    #[test]
    fn the_sparse_route_gives_the_same_bits_on_one_thread_and_on_four() {
        let device = Device::Cpu;
        let (mlp, mask) = pruned_net(300, 0.05);
        let model = MaskedMlp::new(&mlp, &mask, &device).unwrap();
        let n = 200;
        let x = Tensor::from_vec(values(n * 784, 9), (n, 784), &device).unwrap();
        let y = Tensor::from_vec(
            (0..n as u32).map(|i| i % 10).collect::<Vec<_>>(),
            n,
            &device,
        )
        .unwrap();
        let bits = |threads: usize| -> Vec<u32> {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let g = model.backward(&x, &y).unwrap();
                g.layers
                    .iter()
                    .flat_map(|(w, b)| {
                        let w = w.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                        w.into_iter().chain(b.to_vec1::<f32>().unwrap())
                    })
                    .map(f32::to_bits)
                    .collect()
            })
        };
        assert_eq!(bits(1), bits(4));
    }
}
