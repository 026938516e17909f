//! Sampling the training set: explicitly (X, then its Gram matrix) or directly (the
//! Gram matrix and the mean projections, without ever forming X).

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use imbalance_core::simd::{reset_avx_state, reset_avx_state_everywhere};
use rand::{Rng, RngExt};
use rand_distr::{ChiSquared, StandardNormal};
use rayon::prelude::*;

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::mixture::Mixture;
use crate::seeding::chunk_rng;
use imbalance_core::alloc::try_zeros;

/// Rows per independently seeded chunk. Fixed (never derived from the thread count)
/// so the output is the same on any machine.
const ROW_CHUNK: usize = 32;

/// Samples the n x p training matrix X of `mix`, rows sorted by class (class 0 first),
/// and its labels.
///
/// Parallel over fixed row chunks, each with its own stream seeded from one `u64`
/// drawn from `rng` and the chunk index: the result does not depend on the number of
/// threads.
///
/// Panics if X cannot be allocated; [`try_sample_x`] returns the error instead.
pub fn sample_x<R: Rng + ?Sized>(mix: &Mixture, rng: &mut R) -> (Mat<f64>, Vec<usize>) {
    or_panic(try_sample_x(mix, rng))
}

/// [`sample_x`], or [`Error::Alloc`] if X (n x p) cannot be allocated.
pub fn try_sample_x<R: Rng + ?Sized>(mix: &Mixture, rng: &mut R) -> Result<(Mat<f64>, Vec<usize>)> {
    let labels = mix.labels();
    let x = sample_rows(mix, &labels, rng)?;
    Ok((x, labels))
}

/// The value, or a panic with the error's message (the infallible forms of the `try_`
/// functions, for callers that checked the sizes).
fn or_panic<T>(r: Result<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Samples `m` fresh points of class `class` (an m x p matrix), e.g. test points.
///
/// Panics if `class >= mix.k()`.
pub fn sample_class<R: Rng + ?Sized>(
    mix: &Mixture,
    class: usize,
    m: usize,
    rng: &mut R,
) -> Mat<f64> {
    assert!(class < mix.k(), "class {class} out of range 0..{}", mix.k());
    or_panic(sample_rows(mix, &vec![class; m], rng))
}

/// Row i = mu_{labels[i]} + sigma z_i.
fn sample_rows<R: Rng + ?Sized>(mix: &Mixture, labels: &[usize], rng: &mut R) -> Result<Mat<f64>> {
    let (n, p, sigma) = (labels.len(), mix.dim(), mix.sigma());
    let coords = mix.mean_coords();
    let given = mix.given();
    let seed: u64 = rng.random();
    let mut x = try_zeros(n, p, "sample matrix X")?;
    x.as_mut()
        .par_row_chunks_mut(ROW_CHUNK)
        .enumerate()
        .for_each(|(chunk, mut block)| {
            let mut crng = chunk_rng(seed, chunk);
            let row0 = chunk * ROW_CHUNK;
            // Column-major storage: walk a column of the chunk contiguously.
            for j in 0..p {
                for i in 0..block.nrows() {
                    let z: f64 = crng.sample(StandardNormal);
                    block[(i, j)] = sigma * z;
                }
            }
            for i in 0..block.nrows() {
                let y = labels[row0 + i];
                match given {
                    Some(mu) => (0..p).for_each(|j| block[(i, j)] += mu[(y, j)]),
                    None => (0..coords.ncols()).for_each(|j| block[(i, j)] += coords[(y, j)]),
                }
            }
        });
    Ok(x)
}

/// X X^T (n x n) for an n x p matrix X.
///
/// Only the lower triangle is computed (faer's triangular matmul, half the flops of a
/// full GEMM, on all threads of the current rayon pool) and then mirrored, so the
/// result is exactly symmetric.
///
/// Panics if the n x n result cannot be allocated; [`try_gram`] returns the error instead.
pub fn gram(x: MatRef<'_, f64>) -> Mat<f64> {
    or_panic(try_gram(x))
}

/// [`gram`], or [`Error::Alloc`] if the n x n result cannot be allocated.
pub fn try_gram(x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let n = x.nrows();
    let mut g = try_zeros(n, n, "Gram matrix")?;
    gram_lower_into(g.as_mut(), Accum::Replace, x, 1.0);
    mirror_lower(g.as_mut());
    Ok(g)
}

/// Lower triangle of `dst (+)= alpha * x x^T`.
fn gram_lower_into(dst: MatMut<'_, f64>, beta: Accum, x: MatRef<'_, f64>, alpha: f64) {
    triangular::matmul(
        dst,
        BlockStructure::TriangularLower,
        beta,
        x,
        BlockStructure::Rectangular,
        x.transpose(),
        BlockStructure::Rectangular,
        alpha,
        Par::rayon(0),
    );
    // Scalar code follows every product here (the mirror, the sampling loops, the caller's
    // training): reset the AVX state that faer's GEMM leaves dirty (see `imbalance_core::simd`).
    reset_avx_state_everywhere();
}

/// Copies the strict lower triangle onto the upper one.
fn mirror_lower(mut g: MatMut<'_, f64>) {
    let n = g.nrows();
    // Tiles keep both the read (a column segment) and the strided write in cache.
    const TILE: usize = 64;
    for jb in (0..n).step_by(TILE) {
        for ib in (jb..n).step_by(TILE) {
            for j in jb..(jb + TILE).min(n) {
                for i in ib.max(j + 1)..(ib + TILE).min(n) {
                    g[(j, i)] = g[(i, j)];
                }
            }
        }
    }
}

/// What training needs from a sample: the Gram matrix, labels, and each sample's
/// projection on every class mean.
#[derive(Debug, Clone)]
pub struct TrainingSet {
    /// X X^T, n x n, exactly symmetric.
    pub gram: Mat<f64>,
    /// Class of each sample, sorted (class 0 first).
    pub labels: Vec<usize>,
    /// n x K, entry (i, c) = x_i . mu_c.
    pub mean_proj: Mat<f64>,
    /// A thin factor F of `gram` (n x p, F F^T = X X^T: the samples, possibly in a rotated
    /// frame) when 2p <= n, where training through it is cheaper (see
    /// `imbalance_gradflow::train_with_factor`); `None` otherwise.
    pub factor: Option<Mat<f64>>,
}

/// Whether a training set of `n` samples in dimension `p` keeps its factor
/// ([`TrainingSet::factor`]): when the product through it (4 n p K flops) costs at most the
/// dense one (2 n^2 K).
pub fn keeps_factor(n: usize, p: usize) -> bool {
    p.saturating_mul(2) <= n
}

impl TrainingSet {
    /// From an explicit sample X (n x p) of `mix` and its labels.
    ///
    /// Panics on shape mismatch (X not n x p, labels not of length n, or a label >= K), and
    /// if the Gram matrix cannot be allocated ([`TrainingSet::try_from_x`] returns that error).
    pub fn from_x(mix: &Mixture, x: MatRef<'_, f64>, labels: Vec<usize>) -> TrainingSet {
        or_panic(Self::try_from_x(mix, x, labels))
    }

    /// [`TrainingSet::from_x`], or [`Error::Alloc`] if the Gram matrix cannot be allocated.
    pub fn try_from_x(
        mix: &Mixture,
        x: MatRef<'_, f64>,
        labels: Vec<usize>,
    ) -> Result<TrainingSet> {
        assert_eq!(
            x.ncols(),
            mix.dim(),
            "X has {} columns, mixture dim is {}",
            x.ncols(),
            mix.dim()
        );
        assert_eq!(
            x.nrows(),
            labels.len(),
            "X has {} rows but {} labels",
            x.nrows(),
            labels.len()
        );
        assert!(
            labels.iter().all(|&y| y < mix.k()),
            "label out of range 0..{}",
            mix.k()
        );
        let mut mean_proj = Mat::<f64>::zeros(x.nrows(), mix.k());
        // x_i . mu_c; without given means, mu_c is zero beyond the first r coordinates.
        let (xs, mu) = match mix.given() {
            Some(mu) => (x, mu),
            None => {
                let c = mix.mean_coords();
                (x.subcols(0, c.ncols()), c)
            }
        };
        matmul(
            mean_proj.as_mut(),
            Accum::Replace,
            xs,
            mu.transpose(),
            1.0,
            Par::rayon(0),
        );
        reset_avx_state_everywhere();
        let factor = keeps_factor(x.nrows(), x.ncols()).then(|| x.to_owned());
        Ok(TrainingSet {
            gram: try_gram(x)?,
            labels,
            mean_proj,
            factor,
        })
    }

    /// Samples the training set of `mix` without forming X, exactly in distribution
    /// like [`TrainingSet::from_x`] of [`sample_x`]; costs O(n^3), independent of p.
    ///
    /// In the rotated frame where the means occupy the first r coordinates
    /// ([`Mixture::mean_coords`] C), x_i = (C_{y_i} + sigma g_i, sigma z'_i) with g_i in
    /// R^r and z'_i in R^{p-r} all standard Gaussian. Hence, with U = C_y + sigma G,
    ///
    ///   X X^T = U U^T + sigma^2 Z' Z'^T,    Z' Z'^T ~ Wishart_n(I, p - r),
    ///   x_i . mu_c = U_i . C_c.
    ///
    /// The Wishart matrix is drawn with the Bartlett decomposition L L^T (L lower
    /// triangular, L_ii^2 ~ chi2(p - r - i), L_ij ~ N(0, 1) below the diagonal) when
    /// p - r >= n; otherwise Z' is sampled explicitly (it is then narrower than n).
    /// Parallel parts use fixed chunks with their own seeds: thread-count independent.
    ///
    /// Panics if the Gram matrix or its workspace cannot be allocated;
    /// [`TrainingSet::try_sample_direct`] returns the error instead.
    pub fn sample_direct<R: Rng + ?Sized>(mix: &Mixture, rng: &mut R) -> TrainingSet {
        or_panic(Self::try_sample_direct(mix, rng))
    }

    /// [`TrainingSet::sample_direct`], or [`Error::Alloc`] if the Gram matrix (n x n) or its
    /// workspace cannot be allocated.
    pub fn try_sample_direct<R: Rng + ?Sized>(mix: &Mixture, rng: &mut R) -> Result<TrainingSet> {
        let (n, sigma) = (mix.n(), mix.sigma());
        let c = mix.mean_coords();
        let (k, r) = (c.nrows(), c.ncols());
        let m = mix.dim() - r;
        let labels = mix.labels();
        let seed: u64 = rng.random();

        // The noise along the mean directions is kept explicitly: it is what couples the
        // Gram matrix to mean_proj.
        let mut u = Mat::<f64>::zeros(n, r);
        for j in 0..r {
            for i in 0..n {
                let z: f64 = rng.sample(StandardNormal);
                u[(i, j)] = c[(labels[i], j)] + sigma * z;
            }
        }

        let mut g = try_zeros(n, n, "Gram matrix")?;
        // Zeroing a large buffer cannot be interrupted (first touch of ~1 GB takes ~1.5 s
        // here); after a stop request the workspace is not even allocated, and the caller
        // discards the unfinished sample, as for the blocks skipped below.
        use imbalance_core::interrupt::requested;
        let mut factor = None;
        if !requested() {
            let z = fill_gram_lower(g.as_mut(), m, sigma, u.as_ref(), seed)?;
            if keeps_factor(n, mix.dim()) {
                // X in the rotated frame: [U, sigma Z] (Z is drawn explicitly when p < n).
                let mut f = try_zeros(n, mix.dim(), "Gram factor")?;
                f.as_mut().subcols_mut(0, r).copy_from(&u);
                if let Some(z) = z {
                    f.as_mut()
                        .subcols_mut(r, m)
                        .copy_from(faer::Scale(sigma) * &z);
                }
                factor = Some(f);
            }
        }
        if !requested() {
            mirror_lower(g.as_mut());
        }

        let mut mean_proj = Mat::<f64>::zeros(n, k);
        matmul(
            mean_proj.as_mut(),
            Accum::Replace,
            u.as_ref(),
            c.transpose(),
            1.0,
            Par::rayon(0),
        );
        reset_avx_state_everywhere();
        Ok(TrainingSet {
            gram: g,
            labels,
            mean_proj,
            factor,
        })
    }
}

/// The lower triangle of the Gram matrix `sigma^2 Z Z^T + U U^T`, with `Z` the `n x m` noise
/// orthogonal to the means (drawn from `seed`): through the Bartlett factor of the Wishart
/// law when `m >= n`, else from `Z` itself, which is then returned.
fn fill_gram_lower(
    mut g: MatMut<'_, f64>,
    m: usize,
    sigma: f64,
    u: MatRef<'_, f64>,
    seed: u64,
) -> Result<Option<Mat<f64>>> {
    let (n, r) = (g.nrows(), u.ncols());
    if m >= n {
        let l = bartlett_factor(n, m, seed)?;
        wishart_lower_into(g, l.as_ref(), sigma * sigma, u);
        return Ok(None);
    }
    let z = if m > 0 {
        let z = gaussian_matrix(n, m, seed)?;
        gram_lower_into(g.as_mut(), Accum::Replace, z.as_ref(), sigma * sigma);
        Some(z)
    } else {
        None
    };
    if r > 0 {
        gram_lower_into(g, Accum::Add, u, 1.0);
    }
    Ok(z)
}

/// Column-block width of the blocked `L L^T` (a multiple of faer's 48-row AVX-512 kernel).
const TILE: usize = 240;

/// Lower triangle of `dst = alpha * L L^T + U U^T` for a lower-triangular `L` (n x n, zeros
/// stored above the diagonal) and any `U` (n x r).
///
/// Column block J (columns `J b .. (J+1) b`) of the product only involves the first
/// `(J + 1) b` columns of L: `G[Jb.., J] = L[Jb.., ..(J+1)b] L[J, ..(J+1)b]^T`, one dense GEMM
/// below the diagonal block and a lower-triangular one on it (the last b columns of the inner
/// dimension hold the zeros of L_JJ: ~1.5 b / n extra flops, 7% at n = 5500). This keeps the
/// n^3/3 flops of the triangular product at GEMM speed, which faer's triangular x triangular
/// product did not reach. `U U^T` is added to each block while it is in cache instead of in a
/// separate pass over the triangle. Blocks are sequential products in parallel over a fixed
/// grid: the result does not depend on the thread count.
fn wishart_lower_into(dst: MatMut<'_, f64>, l: MatRef<'_, f64>, alpha: f64, u: MatRef<'_, f64>) {
    let n = l.nrows();
    dst.par_col_chunks_mut(TILE)
        .enumerate()
        .for_each(|(jb, col)| {
            // A stop request (imbalance_core::interrupt) skips the remaining blocks; the
            // caller that asked for it discards the result.
            if imbalance_core::interrupt::requested() {
                return;
            }
            let (j0, w) = (jb * TILE, col.ncols());
            let kdim = j0 + w;
            let lj = l.subrows(j0, w).subcols(0, kdim);
            let uj = u.subrows(j0, w);
            let (_, rest) = col.split_at_row_mut(j0);
            let (mut diag, mut below) = rest.split_at_row_mut(w);
            for (a, b, beta, alpha) in [(lj, lj, Accum::Replace, alpha), (uj, uj, Accum::Add, 1.0)]
            {
                triangular::matmul(
                    diag.as_mut(),
                    BlockStructure::TriangularLower,
                    beta,
                    a,
                    BlockStructure::Rectangular,
                    b.transpose(),
                    BlockStructure::Rectangular,
                    alpha,
                    Par::Seq,
                );
            }
            let li = l.subrows(kdim, n - kdim).subcols(0, kdim);
            let ui = u.subrows(kdim, n - kdim);
            matmul(
                below.as_mut(),
                Accum::Replace,
                li,
                lj.transpose(),
                alpha,
                Par::Seq,
            );
            matmul(
                below.as_mut(),
                Accum::Add,
                ui,
                uj.transpose(),
                1.0,
                Par::Seq,
            );
            reset_avx_state();
        });
}

/// Lower-triangular Bartlett factor of Wishart_n(I, m) (needs m >= n): the diagonal
/// L_ii = sqrt(chi2(m - i)), i = 0..n-1, and standard normals below it.
fn bartlett_factor(n: usize, m: usize, seed: u64) -> Result<Mat<f64>> {
    let mut l = try_zeros(n, n, "Gram sampling workspace")?;
    l.as_mut()
        .par_row_chunks_mut(ROW_CHUNK)
        .enumerate()
        .for_each(|(chunk, mut block)| {
            if imbalance_core::interrupt::requested() {
                return; // discarded by the caller that asked for the stop
            }
            let mut crng = chunk_rng(seed, chunk);
            let row0 = chunk * ROW_CHUNK;
            for j in 0..row0 + block.nrows() {
                for i in 0..block.nrows() {
                    if row0 + i > j {
                        block[(i, j)] = crng.sample(StandardNormal);
                    }
                }
            }
            for i in 0..block.nrows() {
                let dof = (m - (row0 + i)) as f64;
                let chi2 = ChiSquared::new(dof).expect("m >= n gives positive degrees of freedom");
                block[(i, row0 + i)] = crng.sample(chi2).sqrt();
            }
        });
    Ok(l)
}

/// An n x m matrix of independent standard normals, in fixed row chunks.
fn gaussian_matrix(n: usize, m: usize, seed: u64) -> Result<Mat<f64>> {
    let mut z = try_zeros(n, m, "Gram sampling workspace")?;
    z.as_mut()
        .par_row_chunks_mut(ROW_CHUNK)
        .enumerate()
        .for_each(|(chunk, mut block)| {
            let mut crng = chunk_rng(seed, chunk);
            for j in 0..m {
                for i in 0..block.nrows() {
                    block[(i, j)] = crng.sample(StandardNormal);
                }
            }
        });
    Ok(z)
}
