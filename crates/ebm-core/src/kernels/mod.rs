//! Kernels of the relaxation step and of the trainer. The elementwise updates are flat loops
//! over contiguous slices so the compiler vectorises them (the activation and rule are matched
//! once per layer, not per element); products with a thin side skip GEMM packing; large
//! products split over threads deterministically ([`par_gemm`]). Each kernel computes what a
//! reference form of `crate::energy` or the dense path computes (the tests compare them).
//!
//! Files: this one (rates, the finiteness check); `update.rs` (a layer's move: the projected
//! rule, the leaky integrator, the fused step of the layer below a thin output);
//! `products.rs` (thin products, the thread-split GEMM); `sparse.rs` (the sparse input and its
//! products).

mod products;
mod sparse;
mod update;

/// Compiles the kernel it wraps once per instruction set and picks the widest one the CPU
/// has at run time (`multiversion`): AVX-512, AVX2 with FMA, or the x86-64 baseline (SSE2)
/// and other architectures. Every version performs the same operations in the same order
/// (the lane accumulators are explicit, and Rust never contracts `a * b + c` into an FMA),
/// so the results are bit-identical whichever runs; `tests/tests/simd_tests.rs` runs the
/// binary on an emulated baseline CPU and compares.
macro_rules! simd_kernel {
    ($item:item) => {
        #[multiversion::multiversion(targets(
            "x86_64+avx512f+avx512bw+avx512vl+avx512dq",
            "x86_64+avx2+fma",
        ))]
        $item
    };
}
pub(crate) use simd_kernel;

/// The version of the kernels [`simd_kernel!`] runs on this CPU, in its order of preference:
/// `avx512` (AVX-512 F, BW, VL, DQ), `avx2+fma`, or `baseline`.
pub fn simd_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512dq")
        {
            return "avx512";
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "avx2+fma";
        }
    }
    "baseline"
}

use ndarray::Array2;

pub use products::THIN;
#[cfg(test)]
pub(crate) use products::acc_dot_rows_paired;
pub use products::par_gemm;
pub(crate) use products::{acc_axpy_rows, acc_axpy_rows_skip_zeros, acc_dot_rows};
pub use sparse::SparseInput;
pub(crate) use update::{FusedStep, Update};

use crate::{Rho, Scalar};

/// `dst = rho(src [+ noise])`.
pub(crate) fn rho_into<A: Scalar>(
    rho: Rho,
    src: &Array2<A>,
    noise: Option<&Array2<A>>,
    dst: &mut Array2<A>,
) {
    let src = src.as_slice().expect("standard layout");
    let dst = dst.as_slice_mut().expect("standard layout");
    let eta = noise.map(|n| n.as_slice().expect("standard layout"));
    rho_slices(rho, src, eta, dst);
}

simd_kernel! {
fn rho_slices<A: Scalar>(rho: Rho, src: &[A], noise: Option<&[A]>, dst: &mut [A]) {
    match (rho, noise) {
        (Rho::HardSigmoid { beta1, beta2 }, None) => {
            let (lo, hi) = (A::of(beta1), A::of(beta2));
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = s.max(lo).min(hi) - lo;
            }
        }
        (Rho::HardSigmoid { beta1, beta2 }, Some(eta)) => {
            let (lo, hi) = (A::of(beta1), A::of(beta2));
            for ((d, &s), &e) in dst.iter_mut().zip(src).zip(eta) {
                *d = (s + e).max(lo).min(hi) - lo;
            }
        }
        (rho, eta) => {
            for (i, (d, &s)) in dst.iter_mut().zip(src).enumerate() {
                *d = rho.eval(s + eta.map_or(A::zero(), |e| e[i]));
            }
        }
    }
}
}

/// Whether every value is finite, in one vectorised pass with no early exit: `0 v` is 0 for a
/// finite `v` and NaN for NaN or an infinity, and a NaN survives any sum. (Checking the
/// weights after every minibatch must cost little next to the minibatch itself.)
pub fn all_finite<A: Scalar>(values: &[A]) -> bool {
    all_finite_kernel(values)
}

simd_kernel! {
fn all_finite_kernel<A: Scalar>(values: &[A]) -> bool {
    let mut acc = [A::zero(); LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v * A::zero();
        }
    }
    let rest = chunks.remainder().iter().fold(A::zero(), |a, &v| a + v * A::zero());
    acc.iter().fold(rest, |t, &a| t + a) == A::zero()
}
}

/// Lanes of the vectorised loops: 16 f32, one AVX-512 register or two AVX2 registers.
pub(crate) const LANES: usize = 16;
