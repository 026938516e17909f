//! A workaround for a large slowdown of scalar code after faer's matrix products (cargo feature
//! `faer`).
//!
//! faer's x86 GEMM micro-kernels (crate private-gemm-x86 0.1) return without `vzeroupper`,
//! leaving the upper halves of the vector registers dirty on the threads that ran them. Scalar
//! floating-point code compiled for baseline x86-64 (legacy SSE encoding: activation loops,
//! libm's `tanh` / `exp` / `erf`) then pays an SSE/AVX transition penalty on every instruction:
//! measured on the development machine, `f64::exp` 20-35x slower right after a product, tanh
//! from 25 to 350 ns and erf from 40 to 3000 ns per element inside rayon tasks that followed a
//! GEMM. Any function compiled for AVX that touches the vector registers ends with
//! `vzeroupper`, which resets the state: a 16-element faer reduction does, in nanoseconds.

/// Resets the vector-register state of the current thread (cheap: a 16-element norm).
///
/// Call it on every thread that ran a faer product, after the product, before scalar math:
/// at the end of each parallel task that multiplies, or at the start of each task that does
/// scalar math after a parallel product.
#[inline]
pub fn reset_avx_state() {
    std::hint::black_box(faer::ColRef::from_slice(&[1.0f64; 16]).norm_l2());
}

/// [`reset_avx_state`] on the current thread and on every thread of the current rayon pool:
/// for after a product with `Par::rayon`, whose kernels ran on threads that later rayon tasks
/// (or the caller) use for scalar math. Costs a few microseconds (one broadcast).
pub fn reset_avx_state_everywhere() {
    reset_avx_state();
    rayon::broadcast(|_| reset_avx_state());
}
