//! Dense linear algebra on row-major `n x n` slices, the one place the theory has it:
//! Cholesky factorisations (the PSD check of the statistics, the shared Monte Carlo's factor
//! of the logit covariance) and the non-negative QP of the max-margin dual (Lawson-Hanson,
//! with Cholesky solves). Genz's pivoted Cholesky with variable reordering is part of his
//! algorithm and stays in `genz`.

use crate::{Error, Result};

/// The first pivot of a Cholesky factorisation that is not positive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BadPivot {
    /// Its value (the Schur complement's diagonal entry).
    pub value: f64,
}

/// The lower Cholesky factor `L` of `a + shift I` (row-major `n x n`, symmetric; only the
/// lower triangle is read), written over the lower triangle of `a`. Errors at the first pivot
/// that is not positive.
pub(crate) fn cholesky_in_place(
    a: &mut [f64],
    n: usize,
    shift: f64,
) -> std::result::Result<(), BadPivot> {
    for j in 0..n {
        let mut d = a[j * n + j] + shift;
        for p in 0..j {
            d -= a[j * n + p] * a[j * n + p];
        }
        if d <= 0.0 {
            return Err(BadPivot { value: d });
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for p in 0..j {
                v -= a[i * n + p] * a[j * n + p];
            }
            a[i * n + j] = v / d;
        }
    }
    Ok(())
}

/// Solves `L L^T x = b` in place, with `L` from [`cholesky_in_place`] (lower triangle of `l`).
pub(crate) fn cholesky_solve(l: &[f64], b: &mut [f64], n: usize) {
    for i in 0..n {
        let mut v = b[i];
        for p in 0..i {
            v -= l[i * n + p] * b[p];
        }
        b[i] = v / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut v = b[i];
        for p in i + 1..n {
            v -= l[p * n + i] * b[p];
        }
        b[i] = v / l[i * n + i];
    }
}

/// `S = F F^T` with `F` K x r lower trapezoidal: the Cholesky factor with the columns of
/// (numerically) zero pivots dropped, so that a singular `S` (the logits of CE-like methods
/// have a constant-shift direction of variance 0) is factored exactly.
pub(crate) struct SemidefiniteFactor {
    /// Rank: the number of columns kept.
    pub r: usize,
    /// K x r, row-major.
    pub f: Vec<f64>,
    /// `first[c]`: the first row where column c is non-zero (increasing in c).
    pub first: Vec<usize>,
}

/// Relative size (to the largest diagonal entry) below which a pivot counts as zero.
pub(crate) const PIVOT_TOL: f64 = 1e-11;

/// [`SemidefiniteFactor`] of the K x K covariance `cov` (named `name` in errors); a pivot
/// below `-1e-8` of the largest diagonal entry means it is not PSD.
pub(crate) fn semidefinite_factor(
    name: &'static str,
    cov: &[f64],
    k: usize,
) -> Result<SemidefiniteFactor> {
    let max_diag = (0..k).map(|i| cov[i * k + i]).fold(0.0, f64::max);
    let mut cols: Vec<Vec<f64>> = Vec::new(); // each column as K entries
    let mut first = Vec::new();
    for j in 0..k {
        let mut d = cov[j * k + j];
        for col in &cols {
            d -= col[j] * col[j];
        }
        if d <= PIVOT_TOL * max_diag {
            if d < -1e-8 * max_diag {
                return Err(Error::NotPsd {
                    name,
                    pivot: d / max_diag,
                });
            }
            continue;
        }
        let piv = d.sqrt();
        let mut col = vec![0.0; k];
        col[j] = piv;
        for i in j + 1..k {
            let mut v = cov[i * k + j];
            for c in &cols {
                v -= c[i] * c[j];
            }
            col[i] = v / piv;
        }
        cols.push(col);
        first.push(j);
    }
    let r = cols.len();
    let mut f = vec![0.0; k * r];
    for (c, col) in cols.iter().enumerate() {
        for i in 0..k {
            f[i * r + c] = col[i];
        }
    }
    Ok(SemidefiniteFactor { r, f, first })
}

/// Minimises `x^T h x / 2 - b^T x` over `x >= 0` (h positive definite with unit diagonal) by
/// the Lawson-Hanson active-set method. Returns the solution.
pub(crate) fn nonneg_qp(h: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    let dim = b.len();
    let tol = 1e-13
        * b.iter()
            .fold(0.0f64, |m, v| m.max(v.abs()))
            .max(f64::MIN_POSITIVE);
    let mut x = vec![0.0; dim];
    let mut passive = vec![false; dim];
    let max_iter = 10 * dim + 100;
    let gradient = |x: &[f64]| -> Vec<f64> {
        (0..dim)
            .map(|i| b[i] - (0..dim).map(|j| h[i * dim + j] * x[j]).sum::<f64>())
            .collect()
    };
    let solve_passive = |passive: &[bool]| -> Option<Vec<f64>> {
        let idx: Vec<usize> = (0..dim).filter(|&i| passive[i]).collect();
        let s = idx.len();
        let mut hp: Vec<f64> = idx
            .iter()
            .flat_map(|&i| idx.iter().map(move |&j| h[i * dim + j]))
            .collect();
        let mut bp: Vec<f64> = idx.iter().map(|&i| b[i]).collect();
        cholesky_in_place(&mut hp, s, 0.0).ok()?;
        cholesky_solve(&hp, &mut bp, s);
        let mut full = vec![0.0; dim];
        for (&i, v) in idx.iter().zip(bp) {
            full[i] = v;
        }
        Some(full)
    };
    let mut iterations = 0;
    // Warm start: often every constraint is tight (all alpha > 0); one solve settles it.
    if let Some(s) = solve_passive(&vec![true; dim])
        && s.iter().all(|&v| v > 0.0)
    {
        x = s;
        passive = vec![true; dim];
    }
    loop {
        iterations += 1;
        let w = gradient(&x);
        let candidate = (0..dim)
            .filter(|&j| !passive[j] && w[j] > tol)
            .max_by(|&i, &j| w[i].total_cmp(&w[j]));
        let Some(t) = candidate else { break };
        if iterations > max_iter {
            return Err(Error::QpNotConverged {
                iterations,
                violation: w[t],
            });
        }
        passive[t] = true;
        loop {
            iterations += 1;
            if iterations > max_iter {
                return Err(Error::QpNotConverged {
                    iterations,
                    violation: f64::NAN,
                });
            }
            let Some(s) = solve_passive(&passive) else {
                return Err(Error::QpNotConverged {
                    iterations,
                    violation: f64::NAN,
                });
            };
            if (0..dim).all(|j| !passive[j] || s[j] > 0.0) {
                x = s;
                break;
            }
            // Step from x towards s until the first passive variable hits zero.
            let mut step = 1.0f64;
            for j in 0..dim {
                if passive[j] && s[j] <= 0.0 {
                    step = step.min(x[j] / (x[j] - s[j]));
                }
            }
            for j in 0..dim {
                if passive[j] {
                    x[j] += step * (s[j] - x[j]);
                    if x[j] <= 1e-15 * (1.0 + s[j].abs()) {
                        x[j] = 0.0;
                        passive[j] = false;
                    }
                }
            }
        }
    }
    // KKT check: gradient ~0 on the passive set, <= tol elsewhere.
    let w = gradient(&x);
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let violation = (0..dim)
        .map(|j| {
            if passive[j] {
                w[j].abs()
            } else {
                w[j].max(0.0)
            }
        })
        .fold(0.0, f64::max);
    if violation > 1e-9 * scale {
        return Err(Error::QpNotConverged {
            iterations,
            violation: violation / scale,
        });
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A = B B^T + I for a fixed B (4 x 4), and its product with x = (1, -2, 3, 0.5).
    fn spd() -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let b = [
            1.0, 0.5, -0.3, 2.0, 0.0, 1.5, 0.7, -1.0, 0.2, 0.0, 1.1, 0.4, -0.6, 0.3, 0.0, 0.9,
        ];
        let n = 4;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|p| b[i * n + p] * b[j * n + p]).sum::<f64>()
                    + if i == j { 1.0 } else { 0.0 };
            }
        }
        let x = vec![1.0, -2.0, 3.0, 0.5];
        let ax = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum())
            .collect();
        (a, x, ax)
    }

    #[test]
    fn factor_and_solve_recover_the_system() {
        let (a, x, mut b) = spd();
        let mut l = a.clone();
        cholesky_in_place(&mut l, 4, 0.0).unwrap();
        // L L^T = A on the lower triangle.
        for i in 0..4 {
            for j in 0..=i {
                let llt: f64 = (0..=j).map(|p| l[i * 4 + p] * l[j * 4 + p]).sum();
                assert!((llt - a[i * 4 + j]).abs() < 1e-12, "({i},{j})");
            }
        }
        cholesky_solve(&l, &mut b, 4);
        for (got, want) in b.iter().zip(&x) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn a_negative_pivot_is_reported_and_the_semidefinite_factor_drops_zero_ones() {
        // [[1, 2], [2, 1]] has eigenvalue -1: the second pivot is 1 - 4 = -3.
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        assert_eq!(
            cholesky_in_place(&mut a, 2, 0.0),
            Err(BadPivot { value: -3.0 })
        );
        assert!(semidefinite_factor("m", &[1.0, 2.0, 2.0, 1.0], 2).is_err());
        // Rank 1: v v^T with v = (1, 2, -1); one column, F F^T = S.
        let v = [1.0, 2.0, -1.0];
        let s: Vec<f64> = (0..9).map(|ij| v[ij / 3] * v[ij % 3]).collect();
        let f = semidefinite_factor("s", &s, 3).unwrap();
        assert_eq!((f.r, f.first.clone()), (1, vec![0]));
        for ij in 0..9 {
            assert!((f.f[ij / 3] * f.f[ij % 3] - s[ij]).abs() < 1e-14);
        }
    }
}
