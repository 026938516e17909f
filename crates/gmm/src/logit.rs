//! The exact law of the test logits of a trained linear model.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, Side};
use imbalance_core::simd::{reset_avx_state, reset_avx_state_everywhere};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::mixture::Mixture;
use crate::sample::TrainingSet;
use crate::seeding::chunk_rng;

/// Law of the logits f = W x of a fresh test point x of class y, for W = A^T X fixed:
/// f ~ N(`means[y]`, `cov`), since W x = W mu_y + sigma W z.
#[derive(Debug, Clone)]
pub struct LogitLaw {
    /// K x K; row y is E[W x | class y] = A^T X mu_y = A^T mean_proj[:, y].
    pub means: Mat<f64>,
    /// K x K; sigma^2 W W^T = sigma^2 A^T (X X^T) A, the same for every class.
    pub cov: Mat<f64>,
}

impl TrainingSet {
    /// The logit law of the model W = A^T X with dual coefficients `a` (n x K).
    ///
    /// Panics if `a` is not n x K.
    pub fn logit_law(&self, mix: &Mixture, a: MatRef<'_, f64>) -> LogitLaw {
        let (n, k) = (self.gram.nrows(), mix.k());
        assert_eq!(
            (a.nrows(), a.ncols()),
            (n, k),
            "A must be n x K = {n} x {k}"
        );
        let mut means = Mat::<f64>::zeros(k, k);
        // means = mean_proj^T A: (y, c) = sum_i (x_i . mu_y) A_ic.
        matmul(
            means.as_mut(),
            Accum::Replace,
            self.mean_proj.transpose(),
            a,
            1.0,
            Par::rayon(0),
        );
        let mut ga = Mat::<f64>::zeros(n, k);
        matmul(
            ga.as_mut(),
            Accum::Replace,
            self.gram.as_ref(),
            a,
            1.0,
            Par::rayon(0),
        );
        let mut cov = Mat::<f64>::zeros(k, k);
        let s2 = mix.sigma() * mix.sigma();
        matmul(
            cov.as_mut(),
            Accum::Replace,
            a.transpose(),
            ga.as_ref(),
            s2,
            Par::rayon(0),
        );
        // faer's GEMM leaves the AVX state dirty on the threads that ran it; the scalar loops
        // here and in `sample_errors` would run many times slower.
        reset_avx_state_everywhere();
        // Exact symmetry, so the eigendecomposition sees a symmetric matrix.
        for i in 0..k {
            for j in 0..i {
                let v = 0.5 * (cov[(i, j)] + cov[(j, i)]);
                cov[(i, j)] = v;
                cov[(j, i)] = v;
            }
        }
        LogitLaw { means, cov }
    }
}

impl LogitLaw {
    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.means.nrows()
    }

    /// Monte-Carlo per-class error of the rule `argmax_c (f_c + offsets[c])`: for each class
    /// y, the fraction of `per_class` draws f ~ N(`means[y]`, `cov`) that are not classified
    /// as y. Ties count as errors; so does a non-finite law (every draw is an error).
    /// `per_class = 0` gives NaN (no draws). From [`BLOCKED_MIN_K`] classes on the draws are
    /// made in parallel blocks with their own streams (one `u64` drawn from `rng` seeds them).
    ///
    /// cov may be singular (a rank-deficient A): it is factored through its
    /// eigendecomposition, clipping rounding-level negative eigenvalues to zero.
    ///
    /// Panics if `offsets.len() != K`.
    pub fn sample_errors<R: Rng + ?Sized>(
        &self,
        per_class: usize,
        offsets: &[f64],
        rng: &mut R,
    ) -> Vec<f64> {
        let k = self.k();
        assert_eq!(offsets.len(), k, "need one offset per class");
        let finite = (0..k).all(|i| {
            (0..k).all(|j| self.means[(i, j)].is_finite() && self.cov[(i, j)].is_finite())
        });
        let factor = if finite {
            psd_factor(self.cov.as_ref())
        } else {
            None
        };
        let Some(factor) = factor else {
            return vec![1.0; k];
        };
        if k >= BLOCKED_MIN_K {
            return self.sample_errors_blocked(factor.as_ref(), per_class, offsets, rng.random());
        }
        let mut xi = vec![0.0; k];
        let mut f = vec![0.0; k];
        (0..k)
            .map(|y| {
                let mut errors = 0usize;
                for _ in 0..per_class {
                    xi.iter_mut().for_each(|v| *v = rng.sample(StandardNormal));
                    for c in 0..k {
                        let noise: f64 = (0..k).map(|j| factor[(c, j)] * xi[j]).sum();
                        f[c] = self.means[(y, c)] + noise + offsets[c];
                    }
                    // Correct only if f_y beats every other class strictly; NaN fails too.
                    let correct = (0..k).all(|c| c == y || f[y] > f[c]);
                    errors += usize::from(!correct);
                }
                errors as f64 / per_class as f64
            })
            .collect()
    }
}

/// From this many classes on, [`LogitLaw::sample_errors`] draws in blocks, as GEMMs, in
/// parallel (below it the sequential loop stays, so the small-K results keep their draws).
pub const BLOCKED_MIN_K: usize = 17;

/// Draws per block of the blocked sampler.
const DRAW_BLOCK: usize = 256;

impl LogitLaw {
    /// [`LogitLaw::sample_errors`] for many classes: for each class, blocks of
    /// [`DRAW_BLOCK`] draws `F Z` (one GEMM each), every (class, block) with its own stream
    /// seeded from `seed`, so the result does not depend on the thread count. A stop request
    /// (`imbalance_core::interrupt`) skips the remaining blocks (the caller discards the result).
    fn sample_errors_blocked(
        &self,
        factor: MatRef<'_, f64>,
        per_class: usize,
        offsets: &[f64],
        seed: u64,
    ) -> Vec<f64> {
        use rayon::prelude::*;
        let k = self.k();
        let blocks = per_class.div_ceil(DRAW_BLOCK);
        let errors: Vec<usize> = (0..k * blocks)
            .into_par_iter()
            .map(|task| {
                if imbalance_core::interrupt::requested() {
                    return 0;
                }
                let (y, b) = (task / blocks, task % blocks);
                let draws = DRAW_BLOCK.min(per_class - b * DRAW_BLOCK);
                let mut rng = chunk_rng(seed, task);
                let z = Mat::<f64>::from_fn(k, draws, |_, _| rng.sample(StandardNormal));
                let mut noise = Mat::<f64>::zeros(k, draws);
                matmul(
                    noise.as_mut(),
                    Accum::Replace,
                    factor,
                    z.as_ref(),
                    1.0,
                    Par::Seq,
                );
                reset_avx_state();
                let shifted: Vec<f64> = (0..k).map(|c| self.means[(y, c)] + offsets[c]).collect();
                (0..draws)
                    .filter(|&j| {
                        let col = noise.col(j);
                        let fy = shifted[y] + col[y];
                        // Correct only if f_y beats every other class strictly; NaN fails too.
                        !(0..k).all(|c| c == y || fy > shifted[c] + col[c])
                    })
                    .count()
            })
            .collect();
        (0..k)
            .map(|y| {
                errors[y * blocks..(y + 1) * blocks].iter().sum::<usize>() as f64 / per_class as f64
            })
            .collect()
    }
}

/// F with F F^T = cov for a symmetric positive semi-definite cov: F = V sqrt(max(L, 0)).
fn psd_factor(cov: MatRef<'_, f64>) -> Option<Mat<f64>> {
    let evd = cov.self_adjoint_eigen(Side::Lower).ok()?;
    let (v, s) = (evd.U(), evd.S());
    let k = cov.nrows();
    Some(Mat::from_fn(k, k, |i, j| {
        v[(i, j)] * s.column_vector()[j].max(0.0).sqrt()
    }))
}
