//! Gradient flow to a finite time: the dual right-hand side and its integration in log-time.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use imbalance_losses::Loss;
use rayon::prelude::*;

use crate::ode::{self, OdeOptions};
use crate::{Error, FlowOptions, Horizon, Result, SplitMix, Trained};

/// Rows of G per parallel task (fixed, so the work split does not depend on the thread count).
const ROW_CHUNK: usize = 256;

/// Power iterations for `lambda_max` (the Rayleigh quotient is only needed within a factor ~2).
const POWER_ITERS: usize = 4;

/// Rows of Kmat per parallel task of the product `Kmat B` (fixed, for the same reason).
const GRAM_CHUNK: usize = 64;

/// `exp(x)`, flushed to 0 below -708 (where the result would be subnormal or 0). The libm slow
/// path for underflowing arguments dominated the run time late in the flow, when most softmax
/// terms are far below the largest one.
#[inline]
fn exp_or_zero(x: f64) -> f64 {
    if x < -708.0 { 0.0 } else { x.exp() }
}

/// One sample's loss and, in `g`, its gradient with respect to the logits `z`, with `u` as
/// scratch: the formula of [`Loss::value_and_grad`] (`g_c = omega_y Delta_c (softmax(U)_c -
/// [c = y])`), evaluated without cancellation when the true class dominates, which is the
/// whole late phase of the flow: `1 - softmax(U)_y` is computed as the sum of the other
/// terms (not as a difference of numbers near 1) and the loss as `ln_1p` of that sum. Agrees
/// with `Loss::value_and_grad` to round-off where that one is accurate (tested).
#[inline]
pub(crate) fn sample_loss_grad(loss: &Loss, z: &[f64], y: usize, u: &mut [f64], g: &mut [f64]) -> f64 {
    let (delta, iota) = (loss.delta(), loss.iota());
    let k = delta.len();
    for c in 0..k {
        u[c] = delta[c] * z[c] + iota[c];
    }
    u[y] -= loss.margin()[y];
    let umax = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let u_y = u[y];
    let mut others = 0.0;
    for c in 0..k {
        let e = exp_or_zero(u[c] - umax);
        u[c] = e;
        if c != y {
            others += e;
        }
    }
    let sum = u[y] + others;
    let omega = loss.omega()[y];
    let value = if u_y == umax {
        // sum = 1 + others: ln(sum) = ln_1p(others), accurate for tiny losses.
        omega * others.ln_1p()
    } else {
        omega * ((umax - u_y) + sum.ln())
    };
    let scale = omega / sum;
    for c in 0..k {
        g[c] = scale * delta[c] * u[c];
    }
    g[y] = -scale * delta[y] * others;
    value
}

/// Writes the loss gradients `g` (row-major `n x K`) at logits `z` (`n x K`) and returns the sum
/// of the losses. Rows are processed in parallel in fixed chunks and the chunk sums added in
/// order, so the result is bit-identical for any thread count.
pub(crate) fn gradients(z: MatRef<'_, f64>, labels: &[usize], loss: &Loss, g: &mut [f64]) -> f64 {
    let k = loss.k();
    debug_assert_eq!(g.len(), z.nrows() * k);
    let sums: Vec<f64> = g
        .par_chunks_mut(ROW_CHUNK * k)
        .enumerate()
        .map(|(chunk, g)| {
            let (mut zi, mut u) = (vec![0.0; k], vec![0.0; k]);
            let mut sum = 0.0;
            for (r, gi) in g.chunks_exact_mut(k).enumerate() {
                let i = chunk * ROW_CHUNK + r;
                for (c, v) in zi.iter_mut().enumerate() {
                    *v = z[(i, c)];
                }
                sum += sample_loss_grad(loss, &zi, labels[i], &mut u, gi);
            }
            sum
        })
        .collect();
    sums.iter().sum()
}

/// `z = alpha * m * b`, in parallel over fixed blocks of rows of `m`, each a sequential
/// product: bit-identical for any thread count (faer's own parallel product is not).
///
/// With `symmetric` (a Gram matrix), a block of rows of a column-major `m` is read as the
/// transpose of a block of columns, which is contiguous in memory: about 1.7x faster for
/// n = 5500, where the product streams the whole matrix from memory.
pub(crate) fn gram_times(m: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64, z: MatMut<'_, f64>, symmetric: bool) {
    let by_cols = symmetric && m.row_stride() == 1;
    z.par_row_chunks_mut(GRAM_CHUNK)
        .enumerate()
        .for_each(|(j, zc)| {
            let (r0, rows) = (j * GRAM_CHUNK, zc.nrows());
            let block = if by_cols {
                m.subcols(r0, rows).transpose()
            } else {
                m.subrows(r0, rows)
            };
            matmul(zc, Accum::Replace, block, b, alpha, Par::Seq);
            clear_avx_upper_state();
        });
}

/// faer's x86 GEMM micro-kernels (crate private-gemm-x86 0.1) return without `vzeroupper`,
/// leaving the upper halves of the vector registers dirty. Until some AVX code clears them,
/// every legacy-SSE instruction on that thread pays a transition penalty: `f64::exp` measured
/// 20-35x slower right after a product, which made the loss gradients cost more than the
/// product itself. A tiny faer reduction (SIMD code compiled by LLVM for AVX, which ends with
/// `vzeroupper`) clears the state; it costs nanoseconds. Call it on every thread that ran a
/// product, after the product.
pub(crate) fn clear_avx_upper_state() {
    let ones = [1.0f64; 16];
    std::hint::black_box(MatRef::from_column_major_slice(&ones, 16, 1).norm_l2());
}

/// The right-hand side of the dual flow for the scaled state `B = s A` (column-major `n x K`):
/// `dB/dt = -(s/n) G(Kmat B / s)`.
pub(crate) struct Rhs<'a> {
    gram: MatRef<'a, f64>,
    labels: &'a [usize],
    loss: &'a Loss,
    /// `s = tr(Kmat) / n`: the scaled state has entries in logit units.
    pub(crate) scale: f64,
    z: Mat<f64>,
    g: Vec<f64>,
}

impl<'a> Rhs<'a> {
    pub(crate) fn new(gram: MatRef<'a, f64>, labels: &'a [usize], loss: &'a Loss) -> Self {
        let n = gram.nrows();
        let trace: f64 = (0..n).map(|i| gram[(i, i)]).sum();
        let scale = if trace > 0.0 { trace / n as f64 } else { 1.0 };
        Self {
            gram,
            labels,
            loss,
            scale,
            z: Mat::zeros(n, loss.k()),
            g: vec![0.0; n * loss.k()],
        }
    }

    /// Writes `dB/dt` at the scaled state `b` into `db`; returns the training loss at `b`.
    pub(crate) fn eval(&mut self, b: &[f64], db: &mut [f64]) -> f64 {
        let (n, k) = (self.gram.nrows(), self.loss.k());
        let b = MatRef::from_column_major_slice(b, n, k);
        gram_times(self.gram, b, 1.0 / self.scale, self.z.as_mut(), true);
        let total = gradients(self.z.as_ref(), self.labels, self.loss, &mut self.g);
        let factor = -self.scale / n as f64;
        for c in 0..k {
            for (i, out) in db[c * n..(c + 1) * n].iter_mut().enumerate() {
                *out = factor * self.g[i * k + c];
            }
        }
        total / n as f64
    }
}

/// An estimate of the largest eigenvalue of the (symmetric, PSD) Gram matrix: the Rayleigh
/// quotient after a few power iterations from a fixed pseudo-random start. It is a lower bound,
/// accurate to a small factor, which is all the time scale `t0` needs.
pub(crate) fn lambda_max(gram: MatRef<'_, f64>) -> f64 {
    let n = gram.nrows();
    let mut rng = SplitMix(0x5EED_1A3B_DA7A_0001);
    let mut v = Mat::from_fn(n, 1, |_, _| rng.next_f64() + 0.5);
    let mut w = Mat::<f64>::zeros(n, 1);
    let mut lambda = 0.0;
    for _ in 0..POWER_ITERS {
        let norm = v.norm_l2();
        if norm == 0.0 || !norm.is_finite() {
            break;
        }
        v /= faer::Scale(norm);
        gram_times(gram, v.as_ref(), 1.0, w.as_mut(), true);
        lambda = (0..n).map(|i| v[(i, 0)] * w[(i, 0)]).sum::<f64>();
        std::mem::swap(&mut v, &mut w);
    }
    lambda
}

/// The log-time scale actually used: the user's `t0` if positive, else `n / lambda_max(Kmat)`.
pub(crate) fn resolve_t0(gram: MatRef<'_, f64>, opts: &OdeOptions) -> f64 {
    if opts.t0 > 0.0 || opts.t0.is_nan() {
        // NaN is passed on for `OdeOptions::validate` to reject.
        return opts.t0;
    }
    let lambda = lambda_max(gram);
    let t0 = gram.nrows() as f64 / lambda;
    if t0.is_finite() && t0 > 0.0 { t0 } else { 1.0 }
}

/// Gradient flow from `A(0) = 0` to the finite time `t` (> 0): see [`crate::train`].
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
/// log-time scale `t0 + t_{j-1}`: the same log-time grid as one integration from 0.
pub fn gradient_flow_path(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    times: &[f64],
    opts: &FlowOptions,
) -> Result<Vec<Trained>> {
    crate::validate_input(gram, labels, loss.k())?;
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
    opts.ode.validate_with_auto_t0()?;
    let t0 = resolve_t0(gram, &opts.ode);
    let (n, k) = (gram.nrows(), loss.k());
    let mut rhs = Rhs::new(gram, labels, loss);
    let mut state = vec![0.0; n * k];
    let mut out = Vec::with_capacity(times.len());
    let (mut steps, mut rhs_evals, mut start) = (0, 0, 0.0);
    for &t in times {
        let seg = OdeOptions {
            t0: t0 + start,
            ..opts.ode
        };
        let stats = ode::integrate(&mut state, t - start, &seg, |_, b, db| {
            rhs.eval(b, db);
        }, |_, _| {})?;
        steps += stats.steps;
        rhs_evals += stats.rhs_evals;
        start = t;
        let s = rhs.scale;
        let a = Mat::from_fn(n, k, |i, c| state[c * n + i] / s);
        let final_loss = crate::training_loss(gram, labels, loss, a.as_ref());
        out.push(Trained {
            a,
            horizon: Horizon::Finite(t),
            steps,
            rhs_evals,
            final_loss,
        });
    }
    Ok(out)
}

trait ValidateAuto {
    fn validate_with_auto_t0(&self) -> Result<()>;
}

impl ValidateAuto for OdeOptions {
    /// `OdeOptions::validate`, except that `t0 <= 0` (automatic) is allowed.
    fn validate_with_auto_t0(&self) -> Result<()> {
        let mut o = *self;
        if o.t0 <= 0.0 {
            o.t0 = 1.0;
        }
        o.validate()
    }
}
