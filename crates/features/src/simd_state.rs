//! A workaround for a large slowdown of scalar code after faer's matrix products.
//!
//! faer's GEMM kernels leave the upper halves of the vector registers dirty on the threads
//! that ran them (no `vzeroupper`). Scalar floating-point code compiled for baseline x86-64
//! (legacy SSE encoding: our activation loops, libm's `tanh` / `exp` / `acos`) then pays an
//! SSE/AVX transition penalty on every instruction: measured on the development machine,
//! tanh went from 25 to 350 ns and erf from 40 to 3000 ns per element inside rayon tasks
//! that followed a GEMM. Any function compiled for AVX that touches the vector registers
//! ends with `vzeroupper`, which resets the state: a 16-element faer reduction does.

/// Reset the vector-register state of the current thread (cheap: a 16-element norm).
/// Call it at the start of each parallel task that does scalar math after a faer product.
#[inline]
pub(crate) fn reset() {
    std::hint::black_box(faer::ColRef::from_slice(&[1.0f64; 16]).norm_l2());
}
