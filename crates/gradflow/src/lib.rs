#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
mod flow;
mod qp;

use faer::{Mat, MatRef};

pub use error::{Error, Result};
/// The matrix library of this crate's API (`Mat`, `MatRef`), re-exported.
pub use faer;
pub use flow::{gradient_flow, gradient_flow_path};
/// The log-time Dormand-Prince integrator, from `imbalance-core` (re-exported for convenience).
pub use imbalance_core::ode;
pub use imbalance_core::ode::{OdeError, OdeOptions, OdeStats};
pub use imbalance_core::{Horizon, HorizonError};
/// The loss family that [`train`] takes, re-exported from `imbalance-losses`.
pub use imbalance_losses::{Loss, Method, MethodName};
pub use qp::max_margin;

/// Options of [`train`]: the ODE solver (finite T) and the max-margin solver (T = infinity).
///
/// `#[non_exhaustive]`: start from [`FlowOptions::default`] and use the `with_*` setters (or
/// set the public fields of a default value):
///
/// ```
/// use imbalance_gradflow::FlowOptions;
/// let opts = FlowOptions::default().with_rtol(1e-4).with_qp_tol(1e-8);
/// assert_eq!((opts.ode.rtol, opts.ode.t0, opts.qp_tol), (1e-4, None, 1e-8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FlowOptions {
    /// ODE solver options. The tolerances apply to the scaled dual `s * A` with
    /// `s = tr(Kmat) / n`, whose entries are in logit units. `t0 = None` (the default) means
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
            ode: OdeOptions::default(),
            qp_tol: 1e-6,
            qp_max_sweeps: 10_000,
        }
    }
}

impl FlowOptions {
    /// These options with ODE options `ode`.
    pub fn with_ode(self, ode: OdeOptions) -> Self {
        Self { ode, ..self }
    }

    /// These options with the ODE's relative tolerance `rtol`.
    pub fn with_rtol(self, rtol: f64) -> Self {
        self.with_ode(self.ode.with_rtol(rtol))
    }

    /// These options with the ODE's log-time scale `t0` (`None`: automatic).
    pub fn with_t0(self, t0: Option<f64>) -> Self {
        self.with_ode(self.ode.with_t0(t0))
    }

    /// These options with max-margin tolerance `qp_tol`.
    pub fn with_qp_tol(self, qp_tol: f64) -> Self {
        Self { qp_tol, ..self }
    }

    /// These options with at most `qp_max_sweeps` coordinate-ascent sweeps.
    pub fn with_qp_max_sweeps(self, qp_max_sweeps: usize) -> Self {
        Self {
            qp_max_sweeps,
            ..self
        }
    }
}

/// Which solver produced a [`Trained`] model, and its work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SolverStats {
    /// Finite T: the gradient-flow ODE.
    Flow {
        /// Steps (accepted and rejected) and right-hand-side evaluations, each one `n x n` by
        /// `n x K` product, up to this model's time.
        ode: OdeStats,
        /// Training loss `L(W(T))`.
        final_loss: f64,
    },
    /// T = infinity: the max-margin problem by dual coordinate ascent (no loss value: the
    /// solution has no scale).
    MaxMargin {
        /// Coordinate-ascent sweeps over all samples.
        sweeps: usize,
    },
}

/// A trained model: the dual matrix `A` (`W = A^T X`) and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Trained {
    /// The `n x K` dual coefficients: the logits of a point `x` are `A^T k(x)` with
    /// `k(x)_i = k(x_i, x)`.
    pub a: Mat<f64>,
    /// The training time.
    pub horizon: Horizon,
    /// The solver that ran and what it cost.
    pub solver: SolverStats,
}

impl Trained {
    /// Right-hand-side evaluations of the ODE (0 at T = infinity, where none is needed).
    pub fn rhs_evals(&self) -> usize {
        match self.solver {
            SolverStats::Flow { ode, .. } => ode.rhs_evals,
            SolverStats::MaxMargin { .. } => 0,
        }
    }

    /// Training loss `L(W(T))` at finite T; `None` at T = infinity.
    pub fn final_loss(&self) -> Option<f64> {
        match self.solver {
            SolverStats::Flow { final_loss, .. } => Some(final_loss),
            SolverStats::MaxMargin { .. } => None,
        }
    }
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
    train_with_factor(gram, None, labels, loss, horizon, opts)
}

/// [`train`], where the flow multiplies by `gram` through a thin factor `F` (`n x r`,
/// `gram = F F^T`, e.g. the samples themselves when `p < n`) if one is given: `F (F^T B)`
/// costs `4 n r K` flops against `2 n^2 K`, so pass one when `r < n / 2`. The result equals
/// [`train`]'s up to rounding. The factor must have `n` rows and reproduce `gram`'s diagonal
/// (relative 1e-9); `T = infinity` does not use it.
pub fn train_with_factor(
    gram: MatRef<'_, f64>,
    factor: Option<MatRef<'_, f64>>,
    labels: &[usize],
    loss: &Loss,
    horizon: Horizon,
    opts: &FlowOptions,
) -> Result<Trained> {
    match horizon {
        Horizon::Finite(t) => {
            let mut path = flow::flow_path(gram, factor, labels, loss, &[t], opts)?;
            Ok(path.remove(0))
        }
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

/// A factor `F` of `gram` has `n` rows, finite entries and row norms that reproduce `gram`'s
/// diagonal to a relative 1e-9 of the largest diagonal entry (an O(n r) check: a factor of
/// another matrix, or a transposed one, is caught; a full check would cost a product).
pub(crate) fn validate_factor(gram: MatRef<'_, f64>, factor: MatRef<'_, f64>) -> Result<()> {
    let n = gram.nrows();
    if factor.nrows() != n {
        return Err(Error::FactorShape {
            rows: factor.nrows(),
            cols: factor.ncols(),
            n,
        });
    }
    let max_diag = (0..n).map(|i| gram[(i, i)]).fold(0.0, f64::max);
    for i in 0..n {
        let norm2: f64 = (0..factor.ncols()).map(|j| factor[(i, j)].powi(2)).sum();
        if !(norm2.is_finite() && (norm2 - gram[(i, i)]).abs() <= 1e-9 * max_diag) {
            return Err(Error::FactorMismatch {
                row: i,
                norm2,
                diag: gram[(i, i)],
            });
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests;
