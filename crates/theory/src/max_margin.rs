//! The T = infinity limit of the mean-field flow: the max-margin dual (docs/theory.md §4).
//!
//! At T = infinity the direction of the flow is the max-margin solution for the mean-field Gram
//! matrix `Kmat_ij = tr(Sigma_{y_i}) [i = j] + M_{y_i y_j}`. Its dual has one variable per sample
//! and wrong class; averaging an optimal dual over within-class permutations (which leave the
//! concave dual problem unchanged) gives an optimal dual that is constant within classes, so
//! the problem reduces exactly to K(K-1) variables `alpha_ck >= 0` (class c, wrong class k):
//!
//! ```text
//! max  sum_c n_c sum_{k != c} alpha_ck
//!      - 1/2 [ sum_c n_c tr(Sigma_c) |a^(c)|^2 + sum_{c,c'} n_c n_c' M_cc' a^(c) . a^(c') ],
//! a^(c) = sum_{k != c} alpha_ck (Delta_c e_c - Delta_k e_k).
//! ```
//!
//! Its gradient in `alpha_ck` is `n_c (1 - margin_ck)` with `margin_ck = Delta_c z^(c)_c -
//! Delta_k z^(c)_k`, so the KKT conditions say: every margin >= 1, with equality where
//! `alpha_ck > 0`. It is solved exactly by a primal active-set (Lawson-Hanson) method on the
//! diagonally scaled Hessian, to a KKT violation of 1e-12.

use crate::law::GROUPED_COV_MIN_K;
use crate::linalg;
use crate::{Error, MixtureStats, Result};

/// Largest K of the dense max-margin QP: (K(K-1))^2 = 1.7e7 matrix entries (130 MB) and
/// Cholesky solves of up to 4e3 variables.
const MAX_DENSE_QP_K: usize = 64;

/// [`max_margin_dual`] for a diagonal mean Gram matrix, in closed form. The Hessian is then
/// block diagonal over the true class c, and block c is `kappa_c (Delta_c^2 1 1^T +
/// diag(Delta_j^2))` over the wrong classes j (`kappa_c = n_c^2 M_cc + n_c tr(Sigma_c)`) with
/// the constant linear term `n_c`. Its stationary point
/// `alpha_cj = (n_c / kappa_c) / ((1 + Delta_c^2 T_c) Delta_j^2)`, `T_c = sum_{j != c}
/// Delta_j^-2`, is positive, so it is the solution of the non-negative problem (every margin
/// is tight): O(K^2) instead of the dense (K(K-1))^2 problem.
pub(crate) fn diagonal_max_margin_dual(stats: &MixtureStats, delta: &[f64]) -> Vec<f64> {
    let k = stats.k();
    let m = stats.mean_gram();
    let inv2: Vec<f64> = delta.iter().map(|d| 1.0 / (d * d)).collect();
    let total: f64 = inv2.iter().sum();
    let mut a = vec![0.0; k * k];
    for c in 0..k {
        let n = stats.counts()[c] as f64;
        let kappa = n * n * m[c * k + c] + n * stats.noise_trace(c);
        let t = total - inv2[c];
        let common = (n / kappa) / (1.0 + delta[c] * delta[c] * t);
        for j in (0..k).filter(|&j| j != c) {
            let alpha = common * inv2[j];
            a[c * k + c] += alpha * delta[c];
            a[c * k + j] -= alpha * delta[j];
        }
    }
    a
}

/// The mean-field max-margin dual for multiplicative factors `delta` (the T = infinity limit
/// of every method with these factors), K x K row-major, with all margins >= 1.
pub fn max_margin_dual(stats: &MixtureStats, delta: &[f64]) -> Result<Vec<f64>> {
    let k = stats.k();
    if delta.len() != k {
        return Err(Error::WrongLength {
            name: "delta",
            got: delta.len(),
            expected: k,
        });
    }
    if let Some(&d) = delta.iter().find(|d| !(**d > 0.0 && d.is_finite())) {
        return Err(Error::BadValue {
            name: "delta",
            value: d,
            allowed: "positive and finite factors",
        });
    }
    let counts: Vec<f64> = stats.counts().iter().map(|&c| c as f64).collect();
    let m = stats.mean_gram();
    let diagonal = (0..k * k).all(|ij| ij / k == ij % k || m[ij] == 0.0);
    if diagonal && k >= GROUPED_COV_MIN_K {
        return Ok(diagonal_max_margin_dual(stats, delta));
    }
    if k > MAX_DENSE_QP_K {
        return Err(Error::QpTooLarge {
            k,
            vars: k * (k - 1),
            max_k: MAX_DENSE_QP_K,
        });
    }
    // Variables (c, k) for k != c, in order.
    let vars: Vec<(usize, usize)> = (0..k)
        .flat_map(|c| (0..k).filter(move |&j| j != c).map(move |j| (c, j)))
        .collect();
    let dim = vars.len();
    let vdot = |(c, j): (usize, usize), (c2, j2): (usize, usize)| -> f64 {
        let mut s = 0.0;
        if c == c2 {
            s += delta[c] * delta[c2];
        }
        if c == j2 {
            s -= delta[c] * delta[j2];
        }
        if j == c2 {
            s -= delta[j] * delta[c2];
        }
        if j == j2 {
            s += delta[j] * delta[j2];
        }
        s
    };
    let mut h = vec![0.0; dim * dim];
    for (p, &vp) in vars.iter().enumerate() {
        for (q, &vq) in vars.iter().enumerate() {
            let (c, c2) = (vp.0, vq.0);
            let mut coupling = counts[c] * counts[c2] * m[c * k + c2];
            if c == c2 {
                coupling += counts[c] * stats.noise_trace(c);
            }
            h[p * dim + q] = vdot(vp, vq) * coupling;
        }
    }
    let b: Vec<f64> = vars.iter().map(|&(c, _)| counts[c]).collect();
    // Diagonal scaling to a unit diagonal: alpha = D gamma.
    let d: Vec<f64> = (0..dim).map(|p| 1.0 / h[p * dim + p].sqrt()).collect();
    let hs: Vec<f64> = (0..dim * dim)
        .map(|pq| h[pq] * d[pq / dim] * d[pq % dim])
        .collect();
    let bs: Vec<f64> = (0..dim).map(|p| b[p] * d[p]).collect();
    let gamma = linalg::nonneg_qp(&hs, &bs)?;
    let mut a = vec![0.0; k * k];
    for (p, &(c, j)) in vars.iter().enumerate() {
        let alpha = gamma[p] * d[p];
        a[c * k + c] += alpha * delta[c];
        a[c * k + j] -= alpha * delta[j];
    }
    Ok(a)
}
