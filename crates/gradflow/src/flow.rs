//! Gradient flow to a finite time: the dual right-hand side and its integration in log-time.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use imbalance_losses::Loss;
use rayon::prelude::*;

use imbalance_core::SplitMix64;
use imbalance_core::ode::{self, OdeOptions, OdeStats};
use imbalance_core::simd::reset_avx_state;

use crate::{Error, FlowOptions, Horizon, Result, SolverStats, Trained};

/// Samples per parallel task, both for the loss gradients and for the Gram product (fixed, so
/// the split of the work, and hence every rounding, does not depend on the thread count).
const CHUNK: usize = 256;

/// Power iterations for `lambda_max` (the Rayleigh quotient is only needed within a factor ~2).
const POWER_ITERS: usize = 4;

/// Writes the loss gradients `g` at the logits `z` (both row-major `n x K`: sample i is
/// `z[i*K..(i+1)*K]`) and returns the sum of the losses. Samples are processed in parallel in
/// fixed chunks and the chunk sums added in order: bit-identical for any thread count.
pub(crate) fn gradients(z: &[f64], labels: &[usize], loss: &Loss, g: &mut [f64]) -> f64 {
    let k = loss.k();
    assert!(z.len() == labels.len() * k && g.len() == z.len());
    let sums: Vec<f64> = g
        .par_chunks_mut(CHUNK * k)
        .zip(z.par_chunks(CHUNK * k))
        .zip(labels.par_chunks(CHUNK))
        .map(|((g, z), labels)| {
            let mut sum = 0.0;
            for ((gi, zi), &y) in g.chunks_exact_mut(k).zip(z.chunks_exact(k)).zip(labels) {
                sum += loss.value_and_grad(zi, y, gi);
            }
            sum
        })
        .collect();
    sums.iter().sum()
}

/// `Z = alpha * Kmat * B` for a symmetric `Kmat` (`n x n`) and `B` (`n x K`, any layout), written
/// row-major into `z` (`n * K` values: sample i's logits are `z[i*K..(i+1)*K]`).
///
/// Computed as `Z^T = B^T Kmat` over fixed blocks of columns of `Kmat`, each a sequential faer
/// product: bit-identical for any thread count (faer's own parallel product is not). This
/// orientation reads `Kmat` in place: with `Kmat` as the left operand, faer repacked every block
/// of it, which doubled the memory traffic of a product that streams the whole matrix
/// (measured at n = 5500: about 2x faster).
pub(crate) fn sym_times(gram: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64, z: &mut [f64]) {
    let (n, k) = (gram.nrows(), b.ncols());
    assert!(gram.ncols() == n && b.nrows() == n && z.len() == n * k);
    // Column-major view of Kmat (if it is stored row-major, its transpose is column-major and
    // equal to it).
    let gram = if gram.row_stride() != 1 && gram.col_stride() == 1 {
        gram.transpose()
    } else {
        gram
    };
    let bt = b.transpose();
    z.par_chunks_mut(CHUNK * k).enumerate().for_each(|(j, zc)| {
        let cols = zc.len() / k;
        let zt = MatMut::from_column_major_slice_mut(zc, k, cols);
        matmul(
            zt,
            Accum::Replace,
            bt,
            gram.subcols(j * CHUNK, cols),
            alpha,
            Par::Seq,
        );
        // faer's GEMM leaves the AVX state dirty: scalar math follows on this thread.
        reset_avx_state();
    });
}

/// `alpha * m * b` for a general `m` (`r x n`), in parallel over fixed blocks of rows of `m`,
/// each a sequential product: bit-identical for any thread count.
pub(crate) fn rows_times(m: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) -> Mat<f64> {
    let mut z = Mat::zeros(m.nrows(), b.ncols());
    rows_times_into(m, b, alpha, z.as_mut());
    z
}

/// [`rows_times`] into `z` (`r x K`).
fn rows_times_into(m: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64, z: MatMut<'_, f64>) {
    z.par_row_chunks_mut(CHUNK).enumerate().for_each(|(j, zc)| {
        let rows = zc.nrows();
        matmul(
            zc,
            Accum::Replace,
            m.subrows(j * CHUNK, rows),
            b,
            alpha,
            Par::Seq,
        );
        // faer's GEMM leaves the AVX state dirty: scalar math follows on this thread.
        reset_avx_state();
    });
}

/// `Z = alpha * F (F^T B)` for a thin factor `F` (`n x r`, `Kmat = F F^T`) and `B` (`n x K`),
/// written row-major into `z` like [`sym_times`]. Costs `4 n r K` flops and reads `F` twice,
/// against `2 n^2 K` flops and one read of `Kmat`: cheaper when `r < n / 2`. Both halves run
/// in parallel over fixed blocks (of `F`'s columns, then of its rows), each a sequential
/// product: bit-identical for any thread count.
///
/// `F (F^T B)` is formed column-major and then transposed into `z`: at K = 1000 faer ran the
/// product 1.5x faster in that orientation than writing `Z^T` directly (measured, n = 7500,
/// r = 2000), and the transpose costs a pass over `n K` values.
///
/// `work` holds the two intermediate products between calls (resized on first use): a fresh
/// `n x K` buffer per call cost page faults worth several percent of the flow at K = 1000.
pub(crate) fn factor_times(
    f: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
    z: &mut [f64],
    work: &mut FactorWork,
) {
    let (n, r, k) = (f.nrows(), f.ncols(), b.ncols());
    assert!(b.nrows() == n && z.len() == n * k);
    let FactorWork { ftb, product } = work;
    ftb.resize_with(r, k, |_, _| 0.0);
    product.resize_with(n, k, |_, _| 0.0);
    rows_times_into(f.transpose(), b, alpha, ftb.as_mut());
    rows_times_into(f, ftb.as_ref(), 1.0, product.as_mut());
    // Scalar loops (faer's SIMD copy would leave the AVX state dirty for the scalar loss
    // math that follows), in blocks of samples that stay in cache.
    z.par_chunks_mut(CHUNK * k).enumerate().for_each(|(j, zc)| {
        let block = product.subrows(j * CHUNK, zc.len() / k);
        for c in 0..k {
            for (r, &v) in block.col(c).iter().enumerate() {
                zc[r * k + c] = v;
            }
        }
    });
}

/// The intermediate products of [`factor_times`], kept between calls (empty until then).
pub(crate) struct FactorWork {
    /// `F^T B`, `r x K`.
    ftb: Mat<f64>,
    /// `F (F^T B)`, column-major `n x K`.
    product: Mat<f64>,
}

impl Default for FactorWork {
    fn default() -> Self {
        Self {
            ftb: Mat::new(),
            product: Mat::new(),
        }
    }
}

/// The kernel matrix as the flow multiplies by it.
#[derive(Clone, Copy)]
pub(crate) enum Product<'a> {
    /// The dense `n x n` Gram matrix.
    Dense(MatRef<'a, f64>),
    /// A thin factor `F` (`n x r`, `r < n / 2`) with `Kmat = F F^T`.
    Factor(MatRef<'a, f64>),
}

impl Product<'_> {
    /// `Z = alpha * Kmat * B`, row-major into `z`.
    fn times(self, b: MatRef<'_, f64>, alpha: f64, z: &mut [f64], work: &mut FactorWork) {
        match self {
            Product::Dense(gram) => sym_times(gram, b, alpha, z),
            Product::Factor(f) => factor_times(f, b, alpha, z, work),
        }
    }
}

/// The right-hand side of the dual flow for the scaled state `B = s A` (column-major `n x K`):
/// `dB/dt = -(s/n) G(Kmat B / s)`.
pub(crate) struct Rhs<'a> {
    product: Product<'a>,
    work: FactorWork,
    n: usize,
    labels: &'a [usize],
    loss: &'a Loss,
    /// `s = tr(Kmat) / n`: the scaled state has entries in logit units.
    pub(crate) scale: f64,
    /// Logits, row-major `n x K`.
    z: Vec<f64>,
    /// Loss gradients, row-major `n x K`.
    g: Vec<f64>,
}

impl<'a> Rhs<'a> {
    /// The right-hand side for the Gram matrix `gram`, multiplied through `factor` if given.
    pub(crate) fn new(
        gram: MatRef<'a, f64>,
        factor: Option<MatRef<'a, f64>>,
        labels: &'a [usize],
        loss: &'a Loss,
    ) -> Self {
        let n = gram.nrows();
        let trace: f64 = (0..n).map(|i| gram[(i, i)]).sum();
        let scale = if trace > 0.0 { trace / n as f64 } else { 1.0 };
        Self {
            product: factor.map_or(Product::Dense(gram), Product::Factor),
            work: FactorWork::default(),
            n,
            labels,
            loss,
            scale,
            z: vec![0.0; n * loss.k()],
            g: vec![0.0; n * loss.k()],
        }
    }

    /// Writes `dB/dt` at the scaled state `b` into `db`; returns the training loss at `b`.
    pub(crate) fn eval(&mut self, b: &[f64], db: &mut [f64]) -> f64 {
        let (n, k) = (self.n, self.loss.k());
        let b = MatRef::from_column_major_slice(b, n, k);
        self.product
            .times(b, 1.0 / self.scale, &mut self.z, &mut self.work);
        let total = gradients(&self.z, self.labels, self.loss, &mut self.g);
        // db (column-major n x K) = factor * g (row-major), transposed in blocks of samples.
        let factor = -self.scale / n as f64;
        let g = MatRef::from_column_major_slice(&self.g, k, n);
        MatMut::from_column_major_slice_mut(db, n, k)
            .par_row_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(j, mut out)| {
                let block = g.subcols(j * CHUNK, out.nrows());
                for c in 0..k {
                    for (r, v) in out.as_mut().col_mut(c).iter_mut().enumerate() {
                        *v = factor * block[(c, r)];
                    }
                }
            });
        total / n as f64
    }
}

/// An estimate of the largest eigenvalue of the (symmetric, PSD) Gram matrix: the Rayleigh
/// quotient after a few power iterations from a fixed pseudo-random start. It is a lower bound,
/// accurate to a small factor, which is all the time scale `t0` needs.
pub(crate) fn lambda_max(gram: MatRef<'_, f64>) -> f64 {
    let n = gram.nrows();
    let mut rng = SplitMix64::new(0x5EED_1A3B_DA7A_0001);
    let mut v = Mat::from_fn(n, 1, |_, _| rng.next_f64() + 0.5);
    let mut w = vec![0.0; n];
    let mut lambda = 0.0;
    for _ in 0..POWER_ITERS {
        let norm = v.norm_l2();
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        v /= faer::Scale(norm);
        sym_times(gram, v.as_ref(), 1.0, &mut w);
        lambda = (0..n).map(|i| v[(i, 0)] * w[i]).sum::<f64>();
        v = Mat::from_fn(n, 1, |i, _| w[i]);
    }
    lambda
}

/// The log-time scale actually used: the user's `t0` if given, else `n / lambda_max(Kmat)`.
pub(crate) fn resolve_t0(gram: MatRef<'_, f64>, opts: &OdeOptions) -> f64 {
    if let Some(t0) = opts.t0 {
        return t0;
    }
    let lambda = lambda_max(gram);
    let t0 = gram.nrows() as f64 / lambda;
    if t0.is_finite() && t0 > 0.0 { t0 } else { 1.0 }
}

/// Gradient flow from `A(0) = 0` to the finite time `t` (> 0).
///
/// Integrates `dA/dt = -(1/n) G(Kmat A)` with the adaptive Dormand-Prince 5(4) solver of
/// [`crate::ode`] in log-time `u = ln(1 + t/t0)`, with `t0 = n / lambda_max(Kmat)` unless
/// `opts.ode.t0` is given (`lambda_max` from 4 power iterations). The state is `s A` with
/// `s = tr(Kmat)/n`, so the tolerances apply in logit units. Cost: about 200 RHS evaluations
/// (each one `n x n` by `n x K` product) for T = 1e6 at rtol 1e-6, 110 at rtol 1e-4 (whose
/// relative error in `A` measured 1e-5), and T = 1e12 only ~1.3x T = 1e6.
///
/// Errors: invalid input (see [`crate::Error`]), `t` not a positive finite number, bad ODE
/// options, and solver failures (step limit, step-size underflow, non-finite state).
pub fn gradient_flow(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    t: f64,
    opts: &FlowOptions,
) -> Result<Trained> {
    let mut path = gradient_flow_path(gram, labels, loss, &[t], opts)?;
    Ok(path.remove(0))
}

/// Gradient flow from `A(0) = 0` through several finite times at once (strictly increasing,
/// all > 0): one integration, whose state is handed on from each time to the next, so the
/// whole path costs about as much as its last time alone. Each [`Trained`] counts the work up
/// to its own time.
///
/// The flow is autonomous, so the segment `[t_{j-1}, t_j]` is integrated from its start with the
/// log-time scale `t0 + t_{j-1}`: the log-time variable of one integration from 0, shifted.
pub fn gradient_flow_path(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    times: &[f64],
    opts: &FlowOptions,
) -> Result<Vec<Trained>> {
    flow_path(gram, None, labels, loss, times, opts)
}

/// [`gradient_flow_path`], with the right-hand side's product taken through `factor` if given
/// (checked against `gram` by [`crate::validate_factor`]).
pub(crate) fn flow_path(
    gram: MatRef<'_, f64>,
    factor: Option<MatRef<'_, f64>>,
    labels: &[usize],
    loss: &Loss,
    times: &[f64],
    opts: &FlowOptions,
) -> Result<Vec<Trained>> {
    crate::validate_input(gram, labels, loss.k())?;
    if let Some(f) = factor {
        crate::validate_factor(gram, f)?;
    }
    let mut prev = 0.0;
    for &t in times {
        if !(t.is_finite() && t > prev) {
            return Err(if t.is_finite() && t > 0.0 {
                Error::BadOption {
                    name: "times",
                    value: t,
                    allowed: "strictly increasing positive finite times",
                }
            } else {
                Error::BadTime { value: t }
            });
        }
        prev = t;
    }
    opts.ode.validate()?;
    let t0 = resolve_t0(gram, &opts.ode);
    let (n, k) = (gram.nrows(), loss.k());
    let mut rhs = Rhs::new(gram, factor, labels, loss);
    let mut state = vec![0.0; n * k];
    let mut out = Vec::with_capacity(times.len());
    let (mut work, mut start) = (OdeStats::default(), 0.0);
    for &t in times {
        let seg = opts.ode.with_t0(Some(t0 + start));
        let stats = ode::integrate(
            &mut state,
            t - start,
            &seg,
            |_, b, db| {
                rhs.eval(b, db);
            },
            |_, _| {},
        )?;
        work.steps += stats.steps;
        work.rejected += stats.rejected;
        work.rhs_evals += stats.rhs_evals;
        start = t;
        let s = rhs.scale;
        let a = Mat::from_fn(n, k, |i, c| state[c * n + i] / s);
        let final_loss = crate::training_loss(gram, labels, loss, a.as_ref());
        out.push(Trained {
            a,
            horizon: Horizon::Finite(t),
            solver: SolverStats::Flow {
                ode: work,
                final_loss,
            },
        });
    }
    Ok(out)
}
