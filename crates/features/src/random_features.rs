//! Random feature maps phi(x) = act(F x + b) / sqrt(p) and their chunked Gram matrices.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use imbalance_core::splitmix64;
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::{Activation, FeatureMoments, MomentEstimator};
use imbalance_core::alloc::{try_zeroed, try_zeros};

/// Features per random-number stream: feature `k` is drawn from the stream of block
/// `k / SEED_BLOCK`, so the map does not depend on how the work is split.
pub const SEED_BLOCK: usize = 64;
/// Largest number of features materialised at once (per input row).
pub const MAX_CHUNK: usize = 1024;

/// Validated parameters of a random feature map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureParams {
    dim: usize,
    width: usize,
    activation: Activation,
    bias_var: f64,
}

impl FeatureParams {
    /// Parameters of phi(x) = act(F x + b) / sqrt(p) with input dimension `dim` (d >= 1),
    /// width `width` (p >= 1), F_ij ~ N(0, 1/d) and b_k ~ N(0, bias_var) (bias_var must be
    /// finite and non-negative). For [`Activation::Identity`] there is no random map: width must equal dim
    /// and bias_var must be 0 (or use [`FeatureParams::identity`]).
    pub fn new(
        dim: usize,
        width: usize,
        activation: Activation,
        bias_var: f64,
    ) -> Result<FeatureParams> {
        if dim == 0 {
            return Err(Error::BadSize {
                param: "dim",
                value: dim,
                allowed: "the input dimension must be at least 1",
            });
        }
        if width == 0 {
            return Err(Error::BadSize {
                param: "width",
                value: width,
                allowed: "the number of features p must be at least 1",
            });
        }
        if !bias_var.is_finite() || bias_var < 0.0 {
            return Err(Error::BadValue {
                param: "bias_var",
                value: bias_var,
                allowed: "the bias variance must be finite and >= 0",
            });
        }
        if activation == Activation::Identity && (width != dim || bias_var != 0.0) {
            return Err(Error::IdentityParams {
                dim,
                width,
                bias_var,
            });
        }
        Ok(FeatureParams {
            dim,
            width,
            activation,
            bias_var,
        })
    }

    /// The identity map phi(x) = x / sqrt(d) (p = d, no bias). Its Gram matrix is
    /// X X^T / d, the p -> infinity limit of linear random features F x / sqrt(p) with
    /// F_ij ~ N(0, 1/d): the same scale as the other activations.
    pub fn identity(dim: usize) -> Result<FeatureParams> {
        FeatureParams::new(dim, dim, Activation::Identity, 0.0)
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of features p.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Variance of the bias b_k.
    pub fn bias_var(&self) -> f64 {
        self.bias_var
    }
}

/// A seeded random feature map. The matrix F (p x d) and the bias b are never stored:
/// they are regenerated chunk by chunk from `(seed, block)` whenever features are needed,
/// so `gram`, `cross_gram`, `features` and `class_means` of one map always use the same
/// F and b, and the result does not depend on the number of threads.
///
/// Scaling: F_ij ~ N(0, 1/d), so a pre-activation u_k = f_k . x + b_k is
/// N(0, |x|^2/d + bias_var); phi(x) = act(u) / sqrt(p), so phi(x).phi(x') is an average over
/// the p features and converges to [`crate::limit_kernel`] as p grows, with O(1/sqrt(p))
/// fluctuations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomFeatures {
    params: FeatureParams,
    seed: u64,
}

/// The random-number stream of one block of features.
fn block_rng(seed: u64, block: u64) -> Pcg64 {
    let h1 = splitmix64(seed ^ splitmix64(block.wrapping_mul(2).wrapping_add(1)));
    let h2 = splitmix64(h1 ^ 0x6a09_e667_f3bc_c909);
    Pcg64::new(((h1 as u128) << 64) | h2 as u128, block as u128)
}

fn par() -> Par {
    Par::rayon(0)
}

/// Copy the lower triangle onto the upper one.
/// The value, or a panic with the error's message (the infallible forms of the `try_`
/// methods).
fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn symmetrize(g: &mut Mat<f64>) {
    imbalance_core::simd::reset_avx_state();
    let n = g.nrows();
    for j in 0..n {
        for i in 0..j {
            g[(i, j)] = g[(j, i)];
        }
    }
}

impl RandomFeatures {
    /// A map with a seed drawn once from `rng`.
    pub fn new<R: Rng + ?Sized>(params: FeatureParams, rng: &mut R) -> RandomFeatures {
        RandomFeatures {
            params,
            seed: rng.next_u64(),
        }
    }

    /// A map with an explicit seed.
    pub fn from_seed(params: FeatureParams, seed: u64) -> RandomFeatures {
        RandomFeatures { params, seed }
    }

    /// The parameters.
    pub fn params(&self) -> &FeatureParams {
        &self.params
    }

    /// The seed the map is generated from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn check_input(&self, x: MatRef<'_, f64>, what: &str) {
        assert_eq!(
            x.ncols(),
            self.params.dim,
            "{what} has {} columns but the feature map expects d = {}",
            x.ncols(),
            self.params.dim
        );
    }

    /// Features per chunk for `rows` input rows: at most [`MAX_CHUNK`], a multiple of
    /// [`SEED_BLOCK`], and small enough that rows x chunk doubles stay under ~256 MB.
    fn chunk_size(rows: usize) -> usize {
        let cap = (256usize << 20) / (8 * rows.max(1));
        (cap / SEED_BLOCK * SEED_BLOCK).clamp(SEED_BLOCK, MAX_CHUNK)
    }

    /// Fill `f` (d x w, column-major: column k = feature start+k) and `b` (w) for the
    /// features `start .. start + w`; `start` is a multiple of SEED_BLOCK.
    fn generate(&self, start: usize, f: &mut [f64], b: &mut [f64]) {
        let d = self.params.dim;
        debug_assert!(start.is_multiple_of(SEED_BLOCK));
        let scale = 1.0 / (d as f64).sqrt();
        let bstd = self.params.bias_var.sqrt();
        let seed = self.seed;
        f.par_chunks_mut(d * SEED_BLOCK)
            .zip(b.par_chunks_mut(SEED_BLOCK))
            .enumerate()
            .for_each(|(j, (fb, bb))| {
                imbalance_core::simd::reset_avx_state();
                let mut rng = block_rng(seed, (start / SEED_BLOCK + j) as u64);
                for (col, bias) in fb.chunks_exact_mut(d).zip(bb.iter_mut()) {
                    let z: f64 = rng.sample(StandardNormal);
                    *bias = bstd * z;
                    for v in col.iter_mut() {
                        let z: f64 = rng.sample(StandardNormal);
                        *v = scale * z;
                    }
                }
            });
    }

    /// Run `f(start, width, [H_1, H_2, ...])` for each chunk of features, where
    /// H_i = act(X_i F_chunk^T + b_chunk) (rows of X_i x width, NOT divided by sqrt(p)).
    fn for_each_chunk(
        &self,
        xs: &[MatRef<'_, f64>],
        mut f: impl FnMut(usize, usize, &[MatRef<'_, f64>]),
    ) -> Result<()> {
        let d = self.params.dim;
        let p = self.params.width;
        let act = self.params.activation;
        let rows: usize = xs.iter().map(|x| x.nrows()).sum();
        let chunk = Self::chunk_size(rows);
        let mut fbuf = try_zeroed(d.saturating_mul(chunk), "chunk of random weights")?;
        let mut bbuf = vec![0.0; chunk];
        let mut hbufs: Vec<Vec<f64>> = xs
            .iter()
            .map(|x| try_zeroed(x.nrows().saturating_mul(chunk), "chunk of features"))
            .collect::<std::result::Result<_, _>>()?;
        let mut start = 0;
        while start < p {
            let w = chunk.min(p - start);
            self.generate(start, &mut fbuf[..d * w], &mut bbuf[..w]);
            let fmat = MatRef::from_column_major_slice(&fbuf[..d * w], d, w);
            for (x, hb) in xs.iter().zip(hbufs.iter_mut()) {
                let n = x.nrows();
                let hs = &mut hb[..n * w];
                matmul(
                    MatMut::from_column_major_slice_mut(hs, n, w),
                    Accum::Replace,
                    *x,
                    fmat,
                    1.0,
                    par(),
                );
                if n > 0 {
                    hs.par_chunks_mut(n)
                        .zip(bbuf[..w].par_iter())
                        .for_each(|(col, &bias)| {
                            imbalance_core::simd::reset_avx_state();
                            for v in col.iter_mut() {
                                *v = act.apply(*v + bias);
                            }
                        });
                }
            }
            let hs: Vec<MatRef<'_, f64>> = xs
                .iter()
                .zip(hbufs.iter())
                .map(|(x, hb)| MatRef::from_column_major_slice(&hb[..x.nrows() * w], x.nrows(), w))
                .collect();
            f(start, w, &hs);
            start += w;
        }
        Ok(())
    }

    /// The explicit features Phi (n x p), phi(x_i) in row i. Stores n x p numbers: meant
    /// for small p (tests, inspection); use [`RandomFeatures::gram`] otherwise.
    pub fn features(&self, x: MatRef<'_, f64>) -> Mat<f64> {
        self.check_input(x, "x");
        let n = x.nrows();
        let p = self.params.width;
        if self.params.activation == Activation::Identity {
            let s = 1.0 / (self.params.dim as f64).sqrt();
            return Mat::from_fn(n, p, |i, j| x[(i, j)] * s);
        }
        let s = 1.0 / (p as f64).sqrt();
        let mut out = Mat::zeros(n, p);
        or_panic(self.for_each_chunk(&[x], |start, w, hs| {
            imbalance_core::simd::reset_avx_state();
            for j in 0..w {
                for i in 0..n {
                    out[(i, start + j)] = hs[0][(i, j)] * s;
                }
            }
        }));
        out
    }

    /// The Gram matrix Phi Phi^T (n x n) of the rows of `x` (n x d), computed chunk by
    /// chunk: per chunk of at most [`MAX_CHUNK`] features, H = act(X F_chunk^T + b) is formed
    /// with a GEMM and H H^T / p is added to the lower triangle; the n x p feature matrix is
    /// never stored (memory ~ n^2 + n * chunk + d * chunk doubles).
    ///
    /// Panics if `x.ncols() != d` (a programming error), and if the Gram matrix or a chunk
    /// cannot be allocated ([`RandomFeatures::try_gram`] returns that error instead).
    pub fn gram(&self, x: MatRef<'_, f64>) -> Mat<f64> {
        or_panic(self.try_gram(x))
    }

    /// [`RandomFeatures::gram`], or [`Error::Alloc`] if the Gram matrix or a chunk of
    /// features cannot be allocated.
    pub fn try_gram(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check_input(x, "x");
        let n = x.nrows();
        let mut g = try_zeros(n, n, "Gram matrix")?;
        if self.params.activation == Activation::Identity {
            triangular::matmul(
                g.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                x,
                BlockStructure::Rectangular,
                x.transpose(),
                BlockStructure::Rectangular,
                1.0 / self.params.dim as f64,
                par(),
            );
        } else {
            let alpha = 1.0 / self.params.width as f64;
            self.for_each_chunk(&[x], |_, _, hs| {
                let h = hs[0];
                triangular::matmul(
                    g.as_mut(),
                    BlockStructure::TriangularLower,
                    Accum::Add,
                    h,
                    BlockStructure::Rectangular,
                    h.transpose(),
                    BlockStructure::Rectangular,
                    alpha,
                    par(),
                );
            })?;
        }
        symmetrize(&mut g);
        Ok(g)
    }

    /// The cross Gram matrix Phi(x_test) Phi(x_train)^T (n_test x n_train): the kernel
    /// vectors k(x) of the test points, computed in chunks like [`RandomFeatures::gram`].
    ///
    /// Panics if either input does not have d columns, and if the result cannot be
    /// allocated.
    pub fn cross_gram(&self, x_train: MatRef<'_, f64>, x_test: MatRef<'_, f64>) -> Mat<f64> {
        or_panic(self.try_cross_gram(x_train, x_test))
    }

    /// [`RandomFeatures::cross_gram`], or [`Error::Alloc`] if the test kernel rows or a chunk
    /// of features cannot be allocated.
    fn try_cross_gram(
        &self,
        x_train: MatRef<'_, f64>,
        x_test: MatRef<'_, f64>,
    ) -> Result<Mat<f64>> {
        self.check_input(x_train, "x_train");
        self.check_input(x_test, "x_test");
        let mut c = try_zeros(x_test.nrows(), x_train.nrows(), "test kernel matrix")?;
        if self.params.activation == Activation::Identity {
            matmul(
                c.as_mut(),
                Accum::Replace,
                x_test,
                x_train.transpose(),
                1.0 / self.params.dim as f64,
                par(),
            );
            return Ok(c);
        }
        let alpha = 1.0 / self.params.width as f64;
        self.for_each_chunk(&[x_train, x_test], |_, _, hs| {
            matmul(
                c.as_mut(),
                Accum::Add,
                hs[1],
                hs[0].transpose(),
                alpha,
                par(),
            );
        })?;
        Ok(c)
    }

    /// Both the training Gram (n_train x n_train) and the cross Gram (n_test x n_train) in
    /// one pass over the features (each chunk of F is generated once).
    ///
    /// Panics if the results cannot be allocated ([`RandomFeatures::try_gram_and_cross`]
    /// returns that error instead).
    pub fn gram_and_cross(
        &self,
        x_train: MatRef<'_, f64>,
        x_test: MatRef<'_, f64>,
    ) -> (Mat<f64>, Mat<f64>) {
        or_panic(self.try_gram_and_cross(x_train, x_test))
    }

    /// [`RandomFeatures::gram_and_cross`], or [`Error::Alloc`] if the Gram matrix, the test
    /// kernel rows or a chunk of features cannot be allocated.
    pub fn try_gram_and_cross(
        &self,
        x_train: MatRef<'_, f64>,
        x_test: MatRef<'_, f64>,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        self.check_input(x_train, "x_train");
        self.check_input(x_test, "x_test");
        if self.params.activation == Activation::Identity {
            return Ok((
                self.try_gram(x_train)?,
                self.try_cross_gram(x_train, x_test)?,
            ));
        }
        let n = x_train.nrows();
        let mut g = try_zeros(n, n, "Gram matrix")?;
        let mut c = try_zeros(x_test.nrows(), n, "test kernel matrix")?;
        let alpha = 1.0 / self.params.width as f64;
        self.for_each_chunk(&[x_train, x_test], |_, _, hs| {
            triangular::matmul(
                g.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                hs[0],
                BlockStructure::Rectangular,
                hs[0].transpose(),
                BlockStructure::Rectangular,
                alpha,
                par(),
            );
            matmul(
                c.as_mut(),
                Accum::Add,
                hs[1],
                hs[0].transpose(),
                alpha,
                par(),
            );
        })?;
        symmetrize(&mut g);
        Ok((g, c))
    }

    /// The per-class mean feature vectors mu_c (k x p), computed chunk by chunk (the n x p
    /// features are never stored; the k x p result is). Classes with no sample get a zero
    /// row.
    ///
    /// Errors: a label `>= k`. Panics if `labels.len() != x.nrows()` or `x` does not
    /// have d columns.
    pub fn class_means(&self, x: MatRef<'_, f64>, labels: &[usize], k: usize) -> Result<Mat<f64>> {
        self.check_input(x, "x");
        assert_eq!(labels.len(), x.nrows(), "one label per row of x");
        let counts = crate::moments::class_counts(labels, k)?;
        let p = self.params.width;
        let mut means = Mat::zeros(k, p);
        if self.params.activation == Activation::Identity {
            let s = 1.0 / (self.params.dim as f64).sqrt();
            for (i, &l) in labels.iter().enumerate() {
                for j in 0..p {
                    means[(l, j)] += x[(i, j)] * s / counts[l] as f64;
                }
            }
            return Ok(means);
        }
        let s = 1.0 / (p as f64).sqrt();
        self.for_each_chunk(&[x], |start, w, hs| {
            imbalance_core::simd::reset_avx_state();
            let h = hs[0];
            for j in 0..w {
                let mut acc = vec![0.0; k];
                for (i, &l) in labels.iter().enumerate() {
                    acc[l] += h[(i, j)];
                }
                for c in 0..k {
                    if counts[c] > 0 {
                        means[(c, start + j)] = acc[c] * s / counts[c] as f64;
                    }
                }
            }
        })?;
        Ok(means)
    }

    /// The per-class moments of the features of the rows of `x`, via their Gram matrix
    /// (see [`FeatureMoments::from_gram`]).
    pub fn moments(
        &self,
        x: MatRef<'_, f64>,
        labels: &[usize],
        k: usize,
        estimator: MomentEstimator,
    ) -> Result<FeatureMoments> {
        FeatureMoments::from_gram(self.gram(x).as_ref(), labels, k, estimator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes() {
        assert_eq!(RandomFeatures::chunk_size(10), MAX_CHUNK);
        assert_eq!(RandomFeatures::chunk_size(5000), MAX_CHUNK);
        let c = RandomFeatures::chunk_size(100_000);
        assert!(
            c.is_multiple_of(SEED_BLOCK) && (SEED_BLOCK..MAX_CHUNK).contains(&c),
            "{c}"
        );
        assert_eq!(RandomFeatures::chunk_size(100_000_000), SEED_BLOCK);
    }

    #[test]
    fn block_streams_differ() {
        use rand::Rng;
        let a = block_rng(1, 0).next_u64();
        let b = block_rng(1, 1).next_u64();
        let c = block_rng(2, 0).next_u64();
        assert!(a != b && a != c && b != c);
    }
}
