//! The matrix products of training: faer's f32 product on the CPU (a candle custom op), candle's
//! own elsewhere.
//!
//! Why not candle's CPU matmul: it is the `gemm` crate's, whose AVX-512 kernels sit behind a
//! cargo feature (`x86-v4`) that would switch faer's f64 products to other kernels too, and so
//! change the bits of the kernel stages' artifacts. Without them, a test-set evaluation (three
//! 10000 x 1024 x 1024 products) took 310 ms; faer's own x86 kernels pick AVX-512 at run time
//! and need no feature (170 ms, about PyTorch's rate on the same machine).

use candle_core::{CpuStorage, CustomOp2, Device, Layout, Result, Shape, Tensor, bail};
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

/// `a b` for 2-d f32 tensors.
pub fn matmul_f32(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => a.apply_op2_no_bwd(b, &FaerProduct),
        _ => a.matmul(b),
    }
}

/// faer's product of two f32 matrices of any strides (transposed views included).
struct FaerProduct;

/// `data` under `layout` as a `rows x cols` faer view, after checking it stays inside `data`.
fn view<'a>(data: &'a [f32], layout: &Layout) -> Result<MatRef<'a, f32>> {
    let (rows, cols) = layout.shape().dims2()?;
    let &[row_stride, col_stride] = layout.stride() else {
        bail!("faer product: a matrix has two strides");
    };
    let start = layout.start_offset();
    let last = start + rows.saturating_sub(1) * row_stride + cols.saturating_sub(1) * col_stride;
    if rows > 0 && cols > 0 && last >= data.len() {
        bail!("faer product: a layout reaches past its storage");
    }
    // SAFETY: every element (r, c) sits at start + r * row_stride + c * col_stride <= last,
    // inside `data` (checked above), which outlives the view; strides fit isize (they index a
    // slice).
    Ok(unsafe {
        MatRef::from_raw_parts(
            data.as_ptr().add(start.min(data.len())),
            rows,
            cols,
            row_stride as isize,
            col_stride as isize,
        )
    })
}

impl CustomOp2 for FaerProduct {
    fn name(&self) -> &'static str {
        "faer-product"
    }

    fn cpu_fwd(
        &self,
        a: &CpuStorage,
        a_layout: &Layout,
        b: &CpuStorage,
        b_layout: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(a), CpuStorage::F32(b)) = (a, b) else {
            bail!("faer product: f32 matrices only");
        };
        let (a, b) = (view(a, a_layout)?, view(b, b_layout)?);
        if a.ncols() != b.nrows() {
            bail!(
                "faer product: {}x{} times {}x{}",
                a.nrows(),
                a.ncols(),
                b.nrows(),
                b.ncols()
            );
        }
        let (rows, cols) = (a.nrows(), b.ncols());
        let mut out = vec![0f32; rows * cols];
        let c = MatMut::from_row_major_slice_mut(&mut out, rows, cols);
        matmul(c, Accum::Replace, a, b, 1.0, Par::rayon(0));
        Ok((CpuStorage::F32(out), Shape::from((rows, cols))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faer_product_matches_a_plain_sum_on_views_of_any_layout() {
        let device = Device::Cpu;
        let values = |n: usize, seed: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 37 + seed * 11) % 101) as f32 / 50.0 - 1.0)
                .collect()
        };
        // A narrowed (offset) left operand, a transposed right one, and plain ones.
        let big = Tensor::from_vec(values(9 * 7, 1), (9, 7), &device).unwrap();
        let a = big.narrow(0, 2, 5).unwrap();
        let b = Tensor::from_vec(values(6 * 7, 2), (6, 7), &device)
            .unwrap()
            .t()
            .unwrap();
        for (a, b) in [
            (a.clone(), b.clone()),
            (a.contiguous().unwrap(), b.contiguous().unwrap()),
        ] {
            let got = matmul_f32(&a, &b).unwrap().to_vec2::<f32>().unwrap();
            let (a, b) = (a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
            for (i, row) in got.iter().enumerate() {
                for (j, &v) in row.iter().enumerate() {
                    let want: f64 = (0..7)
                        .map(|k| f64::from(a[i][k]) * f64::from(b[k][j]))
                        .sum();
                    assert!(
                        (f64::from(v) - want).abs() < 1e-5,
                        "({i}, {j}): {v} vs {want}"
                    );
                }
            }
        }
        let wrong = Tensor::zeros((3, 4), candle_core::DType::F32, &device).unwrap();
        assert!(matmul_f32(&wrong, &wrong).is_err());
    }
}
