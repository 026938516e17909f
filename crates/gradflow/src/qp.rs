//! The T = infinity limit: the multiclass max-margin problem, solved in the dual.
//!
//! Primal: `min |W|_F^2` subject to `Delta_{y_i} z_{i,y_i} - Delta_c z_{i,c} >= 1` for every
//! sample `i` and class `c != y_i`, with `z_i = W x_i`. Its dual has one variable
//! `alpha_ic >= 0` per constraint, and the solution is `W = A^T X` with
//!
//! ```text
//! A_{i,y_i} = Delta_{y_i} sum_c alpha_ic,    A_{i,c} = -Delta_c alpha_ic   (c != y_i)
//! ```
//!
//! maximising `sum alpha - (1/2) tr(A^T Kmat A)`. The derivative of that objective in
//! `alpha_ic` is `1 - margin_ic` with `margin_ic = Delta_y Z_{i,y} - Delta_c Z_{i,c}`,
//! `Z = Kmat A`; its curvature is `(Delta_y^2 + Delta_c^2) Kmat_ii`.
//!
//! Dual coordinate ascent: samples are visited in a fresh pseudo-random order each sweep
//! (fixed seed, so the result is deterministic). For each sample, its `K - 1` variables are
//! updated by exact Newton steps clipped at 0, a few passes until its own block is nearly
//! optimal (only row `i` of `Z` changes within the block, by `Kmat_ii dA_i`, O(K) per step); then
//! `Z += Kmat[:, i] dA_i^T` for the whole column, O(nK) per sample. Stop when the largest KKT
//! violation (the projected gradient: `max(0, 1 - margin)` where `alpha = 0`,
//! `|1 - margin|` where `alpha > 0`) is below `qp_tol`, checked once more against `Z`
//! recomputed from scratch.

use faer::{Mat, MatRef};

use imbalance_core::SplitMix64;

use crate::{Error, FlowOptions, Horizon, Result, SolverStats, Trained};

/// Passes over one sample's block of K - 1 variables per visit (at most).
const INNER_PASSES: usize = 16;

/// The T = infinity limit of gradient flow: the max-margin classifier
///
/// ```text
/// min |W|_F^2   subject to   Delta_{y_i} z_{i,y_i} - Delta_c z_{i,c} >= 1   for all i, c != y_i
/// ```
///
/// for the per-class factors `delta` (length K: the loss's `Delta`, all ones for CE, LA, LDAM,
/// wce; the additive terms and weights of a loss do not change this limit).
///
/// Solved in the dual: one variable `alpha_ic >= 0` per constraint, `W = A^T X` with
/// `A_{i,y_i} = Delta_{y_i} sum_c alpha_ic` and `A_{i,c} = -Delta_c alpha_ic`, maximising
/// `sum alpha - tr(A^T Kmat A) / 2`, by coordinate ascent with exact clipped Newton steps
/// `alpha_ic += (1 - margin_ic) / ((Delta_y^2 + Delta_c^2) Kmat_ii)`. Samples are visited in a
/// fresh pseudo-random order each sweep (fixed internal seed: deterministic), each sample's
/// K - 1 variables a few passes in a row, keeping `Z = Kmat A` up to date (O(nK) per sample).
/// It stops when the largest KKT violation (`max(0, 1 - margin)` where `alpha = 0`,
/// `|1 - margin|` where `alpha > 0`: the projected gradient, in units of the target margin 1)
/// is below `opts.qp_tol`, confirmed with `Z` recomputed from scratch.
///
/// Returns `A` at the problem's own scale (the smallest margins are 1), with
/// [`SolverStats::MaxMargin`] counting the sweeps. Errors on invalid input, on a sample with
/// `k(x, x) = 0` (infeasible), and when the violation is still above `opts.qp_tol` after
/// `opts.qp_max_sweeps` sweeps (the error reports the violation reached; one that does not
/// shrink means the data are not separable).
pub fn max_margin(
    gram: MatRef<'_, f64>,
    labels: &[usize],
    delta: &[f64],
    opts: &FlowOptions,
) -> Result<Trained> {
    let k = delta.len();
    if k < 2 {
        return Err(Error::BadDelta {
            class: k,
            value: f64::NAN,
        });
    }
    if let Some((class, &value)) = delta
        .iter()
        .enumerate()
        .find(|(_, d)| !(d.is_finite() && **d > 0.0))
    {
        return Err(Error::BadDelta { class, value });
    }
    crate::validate_input(gram, labels, k)?;
    if !(opts.qp_tol > 0.0 && opts.qp_tol.is_finite()) {
        return Err(Error::BadOption {
            name: "qp_tol",
            value: opts.qp_tol,
            allowed: "a finite number > 0",
        });
    }
    if opts.qp_max_sweeps == 0 {
        return Err(Error::BadOption {
            name: "qp_max_sweeps",
            value: 0.0,
            allowed: "at least 1",
        });
    }
    let n = gram.nrows();
    if let Some(index) = (0..n).find(|&i| gram[(i, i)] <= 0.0) {
        return Err(Error::Infeasible { index });
    }
    let cols = GramColumns::new(gram);
    let tol = opts.qp_tol;

    // alpha: row-major n x K (the entry of the true class is unused and stays 0).
    let mut alpha = vec![0.0; n * k];
    // z = Kmat A: column-major n x K.
    let mut z = vec![0.0; n * k];
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(0x4D41_5247_494E_0001);
    let (mut zi, mut dai) = (vec![0.0; k], vec![0.0; k]);
    let mut violation = f64::INFINITY;

    for sweep in 1..=opts.qp_max_sweeps {
        for j in (1..n).rev() {
            order.swap(j, rng.below(j + 1));
        }
        for &i in &order {
            let y = labels[i];
            let kii = gram[(i, i)];
            for c in 0..k {
                zi[c] = z[c * n + i];
            }
            dai.fill(0.0);
            for _ in 0..INNER_PASSES {
                let mut block_viol: f64 = 0.0;
                for c in (0..k).filter(|&c| c != y) {
                    let (dy, dc) = (delta[y], delta[c]);
                    let grad = 1.0 - (dy * zi[y] - dc * zi[c]);
                    let old = alpha[i * k + c];
                    block_viol = block_viol.max(projected(grad, old));
                    let new = (old + grad / ((dy * dy + dc * dc) * kii)).max(0.0);
                    let d = new - old;
                    if d != 0.0 {
                        alpha[i * k + c] = new;
                        dai[y] += dy * d;
                        dai[c] -= dc * d;
                        zi[y] += kii * dy * d;
                        zi[c] -= kii * dc * d;
                    }
                }
                if block_viol < 0.1 * tol {
                    break;
                }
            }
            let col = cols.col(i);
            for c in 0..k {
                let d = dai[c];
                if d != 0.0 {
                    for (zc, kc) in z[c * n..(c + 1) * n].iter_mut().zip(col) {
                        *zc += kc * d;
                    }
                }
            }
        }
        violation = max_violation(&z, &alpha, labels, delta, n);
        if violation < tol {
            // Confirm against Z recomputed from A (no accumulated round-off).
            let a = dual_matrix(&alpha, labels, delta, n);
            let mut zr = vec![0.0; n * k];
            crate::flow::sym_times(gram, a.as_ref(), 1.0, &mut zr);
            for c in 0..k {
                for i in 0..n {
                    z[c * n + i] = zr[i * k + c];
                }
            }
            violation = max_violation(&z, &alpha, labels, delta, n);
            if violation < tol {
                return Ok(Trained {
                    a,
                    horizon: Horizon::Infinite,
                    solver: SolverStats::MaxMargin { sweeps: sweep },
                });
            }
        }
    }
    Err(Error::QpNotConverged {
        sweeps: opts.qp_max_sweeps,
        violation,
        tol,
    })
}

/// The KKT violation of one dual variable with objective gradient `grad = 1 - margin`.
fn projected(grad: f64, alpha: f64) -> f64 {
    if alpha > 0.0 {
        grad.abs()
    } else {
        grad.max(0.0)
    }
}

/// The largest KKT violation over all constraints, from `z` (column-major) and `alpha`.
pub(crate) fn max_violation(
    z: &[f64],
    alpha: &[f64],
    labels: &[usize],
    delta: &[f64],
    n: usize,
) -> f64 {
    let k = delta.len();
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let y = labels[i];
        for c in (0..k).filter(|&c| c != y) {
            let grad = 1.0 - (delta[y] * z[y * n + i] - delta[c] * z[c * n + i]);
            worst = worst.max(projected(grad, alpha[i * k + c]));
        }
    }
    worst
}

/// `A` from the dual variables: `A_{i,y} = Delta_y sum_c alpha_ic`, `A_{i,c} = -Delta_c alpha_ic`.
fn dual_matrix(alpha: &[f64], labels: &[usize], delta: &[f64], n: usize) -> Mat<f64> {
    let k = delta.len();
    Mat::from_fn(n, k, |i, c| {
        let y = labels[i];
        if c == y {
            delta[y]
                * (0..k)
                    .filter(|&c| c != y)
                    .map(|c| alpha[i * k + c])
                    .sum::<f64>()
        } else {
            -delta[c] * alpha[i * k + c]
        }
    })
}

/// Contiguous access to the columns of the symmetric Gram matrix (column `i` = row `i`):
/// borrowed when the matrix is column- or row-major, else copied once.
enum GramColumns<'a> {
    ColMajor(MatRef<'a, f64>),
    RowMajor(MatRef<'a, f64>),
    Owned(Mat<f64>),
}

impl<'a> GramColumns<'a> {
    fn new(gram: MatRef<'a, f64>) -> Self {
        if gram.row_stride() == 1 {
            GramColumns::ColMajor(gram)
        } else if gram.col_stride() == 1 {
            GramColumns::RowMajor(gram)
        } else {
            GramColumns::Owned(gram.to_owned())
        }
    }

    fn col(&self, i: usize) -> &[f64] {
        match self {
            GramColumns::ColMajor(g) => g
                .col(i)
                .try_as_col_major()
                .expect("unit row stride")
                .as_slice(),
            GramColumns::RowMajor(g) => g
                .row(i)
                .transpose()
                .try_as_col_major()
                .expect("unit column stride")
                .as_slice(),
            GramColumns::Owned(g) => g.col_as_slice(i),
        }
    }
}
