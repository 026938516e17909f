//! Exact gradient flow of a linear K-class classifier, to any training time T, in the dual.
//!
//! The model is `f(x) = W x` with `W(0) = 0`, trained by gradient flow on
//! `L(W) = (1/n) sum_i loss(W x_i, y_i)` for a loss of the [`imbalance_losses`] family. Because
//! every gradient is a combination of the training points, `W(t) = A(t)^T X` for an `n x K` dual
//! matrix `A`, and exactly
//!
//! ```text
//! dA/dt = -(1/n) G(Kmat A),    Kmat = X X^T,    row i of G = d loss / d z at z_i = (Kmat A)_i, y_i
//! ```
//!
//! so only the `n x n` Gram matrix is needed, never `X` itself (any kernel works). [`train`]
//! integrates this ODE to a finite horizon with an adaptive Runge-Kutta method in log-time
//! ([`ode`]), so that `T = 1e12` costs little more than `T = 1e3`, and solves the T = infinity
//! limit, the max-margin problem `min |W|_F^2 s.t. Delta_y z_y - Delta_c z_c >= 1`, directly by
//! dual coordinate ascent ([`max_margin`]). Predictions on new points only need their kernel
//! rows `k(x_new, x_i)`: see [`logits`].
//!
//! ```
//! use faer::{Mat, Par, linalg::matmul::matmul, Accum};
//! use imbalance_gradflow::{train, logits, FlowOptions, Horizon};
//! use imbalance_losses::Method;
//!
//! // Six points in R^8, two classes (4 + 2), class mean +-e_0 plus a deterministic "noise".
//! let labels = [0, 0, 0, 0, 1, 1];
//! let x = Mat::from_fn(6, 8, |i, j| {
//!     let sign = if labels[i] == 0 { 1.0 } else { -1.0 };
//!     (if j == 0 { 2.0 * sign } else { 0.0 }) + ((i * 8 + j) as f64 * 0.77).sin()
//! });
//! let mut gram = Mat::zeros(6, 6);
//! matmul(gram.as_mut(), Accum::Replace, x.as_ref(), x.transpose(), 1.0, Par::Seq);
//!
//! let loss = Method::La { tau: 1.0 }.loss(&[4, 2])?;
//! let opts = FlowOptions::default();
//! let trained = train(gram.as_ref(), &labels, &loss, "1e4".parse()?, &opts)?;
//! assert!(trained.final_loss < 0.05 && trained.rhs_evals > 0);
//! // The training points are classified correctly: their kernel rows are the Gram rows.
//! let z = logits(trained.a.as_ref(), gram.as_ref());
//! assert!((0..6).all(|i| (z[(i, labels[i])] > z[(i, 1 - labels[i])])));
//!
//! // T = infinity: the max-margin solution, all margins >= 1.
//! let inf = train(gram.as_ref(), &labels, &loss, Horizon::Infinite, &opts)?;
//! let z = logits(inf.a.as_ref(), gram.as_ref());
//! assert!((0..6).all(|i| z[(i, labels[i])] - z[(i, 1 - labels[i])] >= 1.0 - 1e-5));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
mod flow;
pub mod ode;
mod qp;

use std::fmt;
use std::str::FromStr;

use faer::{Mat, MatRef};
use imbalance_losses::Loss;

pub use error::{Error, Result};
pub use flow::{gradient_flow, gradient_flow_path};
pub use ode::{OdeOptions, OdeStats};
pub use qp::max_margin;

/// How long to train: a finite time `T > 0`, or to convergence in direction (`T = infinity`,
/// the max-margin solution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Horizon {
    /// Gradient flow up to time `T` (finite, > 0).
    Finite(f64),
    /// The limit `T -> infinity`: the max-margin classifier (its scale is arbitrary).
    Infinite,
}

impl FromStr for Horizon {
    type Err = Error;

    /// Parses `"1e4"`, `"100"`, `"inf"`, `"infinity"` (case-insensitive). Zero, negative, NaN and
    /// non-numeric strings are errors.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::BadHorizon {
            value: s.to_string(),
        };
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" | "+infinity" => return Ok(Horizon::Infinite),
            _ => {}
        }
        let value: f64 = t.parse().map_err(|_| bad())?;
        if value.is_nan() || value <= 0.0 {
            return Err(bad());
        }
        Ok(if value.is_infinite() {
            Horizon::Infinite
        } else {
            Horizon::Finite(value)
        })
    }
}

impl fmt::Display for Horizon {
    /// `inf`, or the time in a form [`Horizon::from_str`] reads back exactly (`100`, `1e6`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Horizon::Infinite => f.write_str("inf"),
            Horizon::Finite(t) if t.fract() == 0.0 && t.abs() < 1e5 => write!(f, "{t}"),
            Horizon::Finite(t) => write!(f, "{t:e}"),
        }
    }
}

/// Options of [`train`]: the ODE solver (finite T) and the max-margin solver (T = infinity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlowOptions {
    /// ODE solver options. The tolerances apply to the scaled dual `s * A` with
    /// `s = tr(Kmat) / n`, whose entries are in logit units. `t0 <= 0` (the default) means
    /// automatic: `t0 = n / lambda_max(Kmat)`, the fastest time scale of the early flow.
    /// Accuracy against cost, measured (n = 1100, K = 10, CE, T = 1e6): rtol 1e-6 (default)
    /// gives a relative error of `A` of 2e-7 with 200 RHS evaluations, 1e-5: 2e-6 / 146,
    /// 1e-4: 1e-5 / 110, 1e-3: 6e-5 / 86.
    pub ode: OdeOptions,
    /// Tolerance of the max-margin solver: the largest violation of its KKT conditions, in units
    /// of the target margin 1 (> 0; default 1e-6).
    pub qp_tol: f64,
    /// Maximum number of coordinate-ascent sweeps over all samples (>= 1; default 10000).
    pub qp_max_sweeps: usize,
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self {
            ode: OdeOptions {
                t0: 0.0,
                ..OdeOptions::default()
            },
            qp_tol: 1e-6,
            qp_max_sweeps: 10_000,
        }
    }
}

/// A trained model: the dual matrix `A` (`W = A^T X`) and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// The `n x K` dual coefficients: the logits of a point `x` are `A^T k(x)` with
    /// `k(x)_i = k(x_i, x)`.
    pub a: Mat<f64>,
    /// The training time.
    pub horizon: Horizon,
    /// Accepted ODE steps (finite T), or coordinate-ascent sweeps (T = infinity).
    pub steps: usize,
    /// Right-hand-side evaluations of the ODE, each one `n x n` by `n x K` product (0 at
    /// T = infinity).
    pub rhs_evals: usize,
    /// Training loss `L(W(T))`; NaN at T = infinity (the max-margin solution has no scale).
    pub final_loss: f64,
}

/// Trains to the given horizon: [`gradient_flow`] for finite T, [`max_margin`] with the loss's
/// `Delta` for T = infinity (the additive terms `iota`, `m` and the weights `omega` of the loss
/// do not matter there; post-hoc logit adjustment is undefined at infinity, check
/// `Method::defined_at_infinity` before calling).
///
/// `gram` is the `n x n` Gram (kernel) matrix of the training points, `labels` their classes in
/// `0..loss.k()`.
pub fn train(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    horizon: Horizon,
    opts: &FlowOptions,
) -> Result<Trained> {
    match horizon {
        Horizon::Finite(t) => gradient_flow(gram, labels, loss, t, opts),
        Horizon::Infinite => max_margin(gram, labels, loss.delta(), opts),
    }
}

/// The training loss `(1/n) sum_i loss((Kmat A)_i, y_i)` of the dual matrix `a`.
///
/// # Panics
/// If the shapes do not fit (`gram` not `n x n`, `labels` not of length `n`, `a` not
/// `n x loss.k()`) or a label is `>= loss.k()`; [`train`] checks all of these for its input.
pub fn training_loss(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    a: MatRef<'_, f64>,
) -> f64 {
    let n = gram.nrows();
    assert!(
        gram.ncols() == n && labels.len() == n && a.nrows() == n && a.ncols() == loss.k(),
        "training_loss: shape mismatch"
    );
    let mut z = vec![0.0; n * loss.k()];
    flow::sym_times(gram, a, 1.0, &mut z);
    let mut g = vec![0.0; n * loss.k()];
    flow::gradients(&z, labels, loss, &mut g) / n as f64
}

/// Logits of new points: `kernel_rows` is `m x n` with entries `k(x_new_j, x_i)` (for the
/// linear kernel, `X_new X^T`); returns the `m x K` matrix `kernel_rows * A`.
///
/// # Panics
/// If `kernel_rows.ncols() != a.nrows()`.
pub fn logits(a: MatRef<'_, f64>, kernel_rows: MatRef<'_, f64>) -> Mat<f64> {
    assert_eq!(
        kernel_rows.ncols(),
        a.nrows(),
        "logits: kernel_rows has {} columns but A has {} rows",
        kernel_rows.ncols(),
        a.nrows()
    );
    flow::rows_times(kernel_rows, a, 1.0)
}

/// Checks the user-facing input: `gram` square, non-empty, finite, symmetric with a
/// non-negative diagonal; one label per sample, each `< k`.
pub(crate) fn validate_input(gram: MatRef<'_, f64>, labels: &[usize], k: usize) -> Result<()> {
    let (rows, cols) = (gram.nrows(), gram.ncols());
    if rows != cols {
        return Err(Error::GramNotSquare { rows, cols });
    }
    let n = rows;
    if n == 0 {
        return Err(Error::Empty);
    }
    if labels.len() != n {
        return Err(Error::LabelCount {
            labels: labels.len(),
            n,
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, l)| **l >= k) {
        return Err(Error::LabelOutOfRange { index, label, k });
    }
    check_gram(gram)
}

/// Finite entries, non-negative diagonal, symmetric up to round-off (relative 1e-9 of the
/// largest diagonal entry). Checked in square tiles, in parallel; the reported entry is the first
/// bad one in tile order, whatever the thread count.
fn check_gram(gram: MatRef<'_, f64>) -> Result<()> {
    use rayon::prelude::*;
    let n = gram.nrows();
    let bad = |row, col| Error::BadGram {
        row,
        col,
        value: gram[(row, col)],
    };
    let mut max_diag: f64 = 0.0;
    for i in 0..n {
        let d = gram[(i, i)];
        if !d.is_finite() || d < 0.0 {
            return Err(bad(i, i));
        }
        max_diag = max_diag.max(d);
    }
    let tol = 1e-9 * max_diag;
    const TILE: usize = 64;
    let tiles = n.div_ceil(TILE);
    let first = (0..tiles).into_par_iter().find_map_first(|bi| {
        for bj in bi..tiles {
            for i in bi * TILE..((bi + 1) * TILE).min(n) {
                for j in bj * TILE..((bj + 1) * TILE).min(n) {
                    let (a, b) = (gram[(i, j)], gram[(j, i)]);
                    if !a.is_finite() {
                        return Some((i, j));
                    }
                    if !b.is_finite() {
                        return Some((j, i));
                    }
                    if (a - b).abs() > tol {
                        return Some((i, j));
                    }
                }
            }
        }
        None
    });
    match first {
        Some((i, j)) => Err(bad(i, j)),
        None => Ok(()),
    }
}

/// A tiny deterministic generator (SplitMix64) for the internal start vectors and sweep orders.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in 0..bound (bound >= 1), by multiply-shift (bias < bound / 2^64).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests;
