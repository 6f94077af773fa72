//! Runtime dispatch of the stages' elementwise kernels to the widest vectors the CPU has,
//! AVX-512 included: the ntk stage's ReLU moments, sparse and centred products, and the
//! training stage's fused optimiser updates and sparse products.
//!
//! Why not pulp's own dispatch alone: pulp reaches AVX-512 only with its `x86-v4` feature,
//! and that feature is crate-wide, so it would also move faer's own vectorised reductions
//! (norms, sums) to 512-bit lanes, in another summation order: stages that never touch these
//! kernels (the graphons' convergence table) changed their last bits with it, and their bits
//! would then differ between AVX2 and AVX-512 machines. Our kernels are written so that each
//! lane's arithmetic is the same at any width (`+ - * /` and `sqrt`, one element per lane, a
//! fixed order over terms), so compiling them for AVX-512 changes their speed, never their
//! bits (each stage's tests compare the routes).

/// Runs `op` compiled for AVX-512 (F, VL, DQ, BW, with AVX2 and FMA) where the CPU has it,
/// otherwise through pulp's dispatch (AVX2 or scalar).
#[inline]
pub fn dispatch<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    #[cfg(target_arch = "x86_64")]
    if avx512_available() {
        // SAFETY: the CPU has every feature `on_avx512` is compiled for.
        return unsafe { on_avx512(op) };
    }
    pulp::Arch::new().dispatch(op)
}

/// Whether the CPU has the features [`on_avx512`] is compiled for (detected once, cached).
#[cfg(target_arch = "x86_64")]
fn avx512_available() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("fma")
}

/// `op`'s body, inlined here (`with_simd` is `#[inline(always)]` in every op dispatched here)
/// and so compiled, and auto-vectorised, for AVX-512. The `Simd` token it gets is pulp's
/// scalar one: the ops ignore it and rely on the compiler's vectorisation.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn on_avx512<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    op.with_simd(pulp::Scalar)
}
