//! Gaussian orthant probabilities `P(X > 0)`, `X ~ N(mean, cov)`, by Genz's method.
//!
//! The algorithm (Genz 1992; Genz & Bretz 2009, ch. 4; the same steps as scipy's `_qmvnt.py`):
//!
//! 1. Components with zero variance are deterministic: they pass if their mean is > 0, else the
//!    probability is 0. The rest are scaled to unit variance (bounds `a_i = -mean_i / sd_i`).
//! 2. Pivoted Cholesky `R = L L^T` with Genz's variable reordering: at each step the remaining
//!    variable with the smallest conditional probability (given the conditional expectations
//!    of the variables already chosen) goes next. A residual variance <= `singular_tol` ends
//!    the factorisation (rank `r`); each remaining row is a linear combination of the first `r`
//!    variables and becomes an extra interval constraint on its last nonzero variable, so
//!    singular covariances are integrated exactly rather than regularised.
//! 3. Separation of variables turns the probability into an integral over `[0,1]^(r-1)` of a
//!    product of one-dimensional normal probabilities, evaluated on a Kronecker (Richtmyer)
//!    rank-1 lattice `frac(i sqrt(prime_j) + shift_j)` with the baker's (tent) transform and
//!    `shifts` independent random shifts. The shifts' spread gives a standard error; the
//!    reported error is 3 standard errors. Points are added (the sequence is extensible) until
//!    that error is below `abs_tol` or `max_points` is reached.
//!
//! Dimensions 1 and 2 (after removing deterministic components) are exact: `Phi` and the
//! bivariate routine of [`crate::special`]. The result is deterministic for a fixed seed.

use crate::special::{
    normal_cdf, normal_interval, normal_pdf, normal_quantile, normal_quantile_upper, normal_sf,
};
use imbalance_core::SplitMix64;

use crate::{Error, Result};

/// Options of [`orthant_probability`] and [`class_error`].
///
/// `#[non_exhaustive]`: start from [`GenzOptions::default`] and use the `with_*` setters (or set
/// the public fields of a default value).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct GenzOptions {
    /// Target absolute accuracy (3 standard errors over the random shifts), > 0. Default 1e-4.
    pub abs_tol: f64,
    /// Seed of the random shifts; the same seed gives bit-identical results.
    pub seed: u64,
    /// Number of random shifts of the lattice, >= 2. Default 10.
    pub shifts: usize,
    /// Lattice points per shift in the first round, >= 1 (doubled every round). Default 32.
    pub min_points: usize,
    /// Upper limit on the total number of integrand evaluations (all shifts), >= min_points *
    /// shifts. When it is reached the estimate is returned with its (larger) error estimate.
    /// Default 1 << 21.
    pub max_points: usize,
    /// Residual variance (relative to unit variance) below which a variable counts as a linear
    /// combination of the earlier ones, in (0, 1e-2]. Default 1e-12.
    pub singular_tol: f64,
}

impl Default for GenzOptions {
    fn default() -> Self {
        Self {
            abs_tol: 1e-4,
            seed: 0x9e37_79b9_7f4a_7c15,
            shifts: 10,
            min_points: 32,
            max_points: 1 << 21,
            singular_tol: 1e-12,
        }
    }
}

impl GenzOptions {
    /// These options with target accuracy `abs_tol`.
    pub fn with_abs_tol(self, abs_tol: f64) -> Self {
        Self { abs_tol, ..self }
    }

    /// These options with the seed `seed` of the random shifts.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// These options with `shifts` random shifts.
    pub fn with_shifts(self, shifts: usize) -> Self {
        Self { shifts, ..self }
    }

    /// These options with `min_points` lattice points per shift in the first round.
    pub fn with_min_points(self, min_points: usize) -> Self {
        Self { min_points, ..self }
    }

    /// These options with at most `max_points` integrand evaluations.
    pub fn with_max_points(self, max_points: usize) -> Self {
        Self { max_points, ..self }
    }

    /// These options with singularity threshold `singular_tol`.
    pub fn with_singular_tol(self, singular_tol: f64) -> Self {
        Self {
            singular_tol,
            ..self
        }
    }

    /// Checks every option; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, allowed| {
            Err(Error::BadValue {
                name,
                value,
                allowed,
            })
        };
        if !(self.abs_tol > 0.0 && self.abs_tol.is_finite()) {
            return bad("abs_tol", self.abs_tol, "a finite number > 0");
        }
        if self.shifts < 2 {
            return bad("shifts", self.shifts as f64, "at least 2");
        }
        if self.min_points == 0 {
            return bad("min_points", 0.0, "at least 1");
        }
        if self.max_points < self.min_points.saturating_mul(self.shifts) {
            return bad(
                "max_points",
                self.max_points as f64,
                "at least min_points * shifts",
            );
        }
        if !(self.singular_tol > 0.0 && self.singular_tol <= 1e-2) {
            return bad("singular_tol", self.singular_tol, "a number in (0, 1e-2]");
        }
        Ok(())
    }
}

/// The first `n` primes.
fn primes(n: usize) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::with_capacity(n);
    let mut c = 2u64;
    while out.len() < n {
        if out
            .iter()
            .take_while(|&&p| p * p <= c)
            .all(|&p| !c.is_multiple_of(p))
        {
            out.push(c);
        }
        c += 1;
    }
    out
}

/// Checks a `d x d` covariance matrix: finite, symmetric (relative 1e-10), non-negative diagonal.
pub(crate) fn check_covariance(name: &'static str, cov: &[f64], d: usize) -> Result<()> {
    if cov.len() != d * d {
        return Err(Error::WrongLength {
            name,
            got: cov.len(),
            expected: d * d,
        });
    }
    let scale = (0..d).map(|i| cov[i * d + i].abs()).fold(0.0, f64::max);
    for i in 0..d {
        for j in 0..d {
            let v = cov[i * d + j];
            if !v.is_finite() {
                return Err(Error::BadEntry {
                    name,
                    row: i,
                    col: j,
                    value: v,
                    allowed: "entries must be finite",
                });
            }
            if j > i && (v - cov[j * d + i]).abs() > 1e-10 * scale.max(f64::MIN_POSITIVE) {
                return Err(Error::BadEntry {
                    name,
                    row: i,
                    col: j,
                    value: v,
                    allowed: "the matrix must be symmetric",
                });
            }
        }
        if cov[i * d + i] < -1e-12 * scale {
            return Err(Error::BadEntry {
                name,
                row: i,
                col: i,
                value: cov[i * d + i],
                allowed: "diagonal entries (variances) must be >= 0",
            });
        }
    }
    Ok(())
}

/// `P(X > 0)` componentwise for `X ~ N(mean, cov)` (`cov` is `d x d` row-major, positive
/// semi-definite), with an estimate of its absolute error (0 where the result is exact:
/// `d <= 2` after removing zero-variance components, or one of the factor structures of
/// [`crate::orthant_estimate`], which evaluates them by quadrature and states their bound).
///
/// ```
/// use imbalance_theory::{orthant_probability, GenzOptions};
/// // Three independent standard normals: P = 1/8.
/// let cov = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
/// let (p, err) = orthant_probability(&[0.0; 3], &cov, &GenzOptions::default())?;
/// assert!((p - 0.125).abs() <= err.max(1e-12));
/// # Ok::<(), imbalance_theory::Error>(())
/// ```
pub fn orthant_probability(mean: &[f64], cov: &[f64], opts: &GenzOptions) -> Result<(f64, f64)> {
    opts.validate()?;
    let d = mean.len();
    check_covariance("cov", cov, d)?;
    if let Some((i, &m)) = mean.iter().enumerate().find(|(_, m)| !m.is_finite()) {
        return Err(Error::BadEntry {
            name: "mean",
            row: i,
            col: 0,
            value: m,
            allowed: "entries must be finite",
        });
    }
    // The deterministic paths count as exact here ([`crate::orthant_estimate`] reports their
    // quadrature and structure bounds, all below `abs_tol`).
    let est = crate::orthant::orthant_unchecked(mean, cov, opts)?;
    let err = match est.method {
        crate::OrthantMethod::Genz { .. } => est.error_bound,
        _ => 0.0,
    };
    Ok((est.probability, err))
}

/// Loadings `b` with `corr_ij = b_i b_j` for all `i != j` (to 1e-10) and `b_i^2 <= 1`, if the
/// correlation matrix (unit diagonal, `m >= 3`) has this one-factor form; `None` otherwise.
pub(crate) fn one_factor_loadings(corr: &[f64], m: usize) -> Option<Vec<f64>> {
    const TOL: f64 = 1e-10;
    let mut best = (0, 1, 0.0f64);
    for i in 0..m {
        for j in i + 1..m {
            if corr[i * m + j].abs() > best.2 {
                best = (i, j, corr[i * m + j].abs());
            }
        }
    }
    let (p, q, big) = best;
    let b: Vec<f64> = if big <= TOL {
        vec![0.0; m]
    } else {
        // b_p^2 = R_pq R_pr / R_qr for the r with the largest |R_pr R_qr|.
        let r = (0..m).filter(|&r| r != p && r != q).max_by(|&x, &y| {
            (corr[p * m + x] * corr[q * m + x])
                .abs()
                .total_cmp(&(corr[p * m + y] * corr[q * m + y]).abs())
        })?;
        let (rpq, rpr, rqr) = (corr[p * m + q], corr[p * m + r], corr[q * m + r]);
        if rqr.abs() <= TOL {
            return None;
        }
        let bp2 = rpq * rpr / rqr;
        if bp2.is_nan() || bp2 <= 0.0 {
            return None;
        }
        let bp = bp2.sqrt();
        (0..m)
            .map(|j| if j == p { bp } else { corr[p * m + j] / bp })
            .collect()
    };
    for i in 0..m {
        if b[i] * b[i] > 1.0 + TOL {
            return None;
        }
        for j in i + 1..m {
            if (corr[i * m + j] - b[i] * b[j]).abs() > TOL {
                return None;
            }
        }
    }
    Some(b)
}

/// The separated integrand after reordering: rows of `L` (m x rank), bounds, and for every
/// column `j` the rows whose last nonzero entry is in column `j`.
struct Factor {
    m: usize,
    rank: usize,
    l: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    attach: Vec<Vec<usize>>,
}

/// Expected value of a standard normal truncated to `[lo, hi]`.
fn truncated_mean(lo: f64, hi: f64) -> f64 {
    let p = normal_interval(lo, hi);
    if p > 1e-300 {
        let dens = |x: f64| if x.is_finite() { normal_pdf(x) } else { 0.0 };
        (dens(lo) - dens(hi)) / p
    } else if lo > 0.0 {
        lo
    } else if hi < 0.0 {
        hi
    } else {
        0.0
    }
}

/// Step 2: pivoted Cholesky with Genz's reordering, on a unit-diagonal matrix.
fn factorise(lower: &[f64], corr: &[f64], m: usize, tol: f64) -> Result<Factor> {
    let mut r = corr.to_vec();
    let mut lo = lower.to_vec();
    let mut hi = vec![f64::INFINITY; m];
    let mut l = vec![0.0; m * m];
    let mut v: Vec<f64> = (0..m).map(|i| r[i * m + i]).collect();
    let mut y = vec![0.0; m];
    let mut rank = 0;
    for k in 0..m {
        // Pick the remaining variable with the smallest expected probability.
        let mut best: Option<(usize, f64)> = None;
        for i in k..m {
            if v[i] < -1e-8 {
                return Err(Error::NotPsd {
                    name: "cov",
                    pivot: v[i],
                });
            }
            if v[i] > tol {
                let s: f64 = (0..k).map(|j| l[i * m + j] * y[j]).sum();
                let sd = v[i].sqrt();
                let p = normal_interval((lo[i] - s) / sd, (hi[i] - s) / sd);
                if best.is_none_or(|(_, bp)| p < bp) {
                    best = Some((i, p));
                }
            }
        }
        let Some((piv, _)) = best else { break };
        if piv != k {
            // Swap variables k and piv: rows/columns of r, rows of l, bounds, residuals.
            for j in 0..m {
                r.swap(k * m + j, piv * m + j);
            }
            for i in 0..m {
                r.swap(i * m + k, i * m + piv);
            }
            for j in 0..k {
                l.swap(k * m + j, piv * m + j);
            }
            lo.swap(k, piv);
            hi.swap(k, piv);
            v.swap(k, piv);
        }
        let lkk = v[k].sqrt();
        l[k * m + k] = lkk;
        for i in k + 1..m {
            let dot: f64 = (0..k).map(|j| l[i * m + j] * l[k * m + j]).sum();
            let lik = (r[i * m + k] - dot) / lkk;
            l[i * m + k] = lik;
            v[i] -= lik * lik;
        }
        let s: f64 = (0..k).map(|j| l[k * m + j] * y[j]).sum();
        y[k] = truncated_mean((lo[k] - s) / lkk, (hi[k] - s) / lkk);
        rank = k + 1;
    }
    for i in rank..m {
        if v[i] < -1e-8 {
            return Err(Error::NotPsd {
                name: "cov",
                pivot: v[i],
            });
        }
    }
    // Keep only the first `rank` columns; attach every row to its last nonzero column.
    let mut lr = vec![0.0; m * rank];
    for i in 0..m {
        for j in 0..rank.min(i + 1) {
            lr[i * rank + j] = l[i * m + j];
        }
    }
    let mut attach = vec![Vec::new(); rank];
    for i in 0..m {
        if i < rank {
            attach[i].push(i);
        } else {
            let row = &lr[i * rank..(i + 1) * rank];
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            match (0..rank)
                .rev()
                .find(|&j| row[j].abs() > 1e-10 * norm.max(1e-300))
            {
                Some(j) => attach[j].push(i),
                // A row of zeros cannot occur for a unit-variance variable (its squared norm is
                // 1 - residual), but keep the logic total: a deterministic zero must be > lower.
                None => {
                    if lo[i] >= 0.0 {
                        attach[0].push(i);
                        lo[i] = f64::INFINITY;
                    }
                }
            }
        }
    }
    Ok(Factor {
        m,
        rank,
        l: lr,
        lower: lo,
        upper: hi,
        attach,
    })
}

impl Factor {
    /// The interval of variable `j` given the partial sums `s` of every row.
    #[inline]
    fn interval(&self, j: usize, s: &[f64]) -> (f64, f64) {
        let (mut a, mut b) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &self.attach[j] {
            let c = self.l[i * self.rank + j];
            let (mut x, mut y) = ((self.lower[i] - s[i]) / c, (self.upper[i] - s[i]) / c);
            if c < 0.0 {
                std::mem::swap(&mut x, &mut y);
            }
            a = a.max(x);
            b = b.min(y);
        }
        (a, b)
    }

    /// The integrand at one point `u` of `[0,1]^(rank-1)`; `s` is scratch space.
    #[inline]
    fn integrand(&self, u: &[f64], s: &mut [f64]) -> f64 {
        s.iter_mut().for_each(|x| *x = 0.0);
        let mut pv = 1.0;
        for j in 0..self.rank {
            let (a, b) = self.interval(j, s);
            // Probability of [a, b] and the sample w_j at quantile u_j, from one pair of Phi
            // values (upper-tail form when a > 0, to keep precision).
            let upper = a > 0.0;
            let (fa, fb) = if upper {
                (normal_sf(a), normal_sf(b))
            } else {
                (normal_cdf(a), normal_cdf(b))
            };
            let e = if upper { fa - fb } else { fb - fa };
            if e <= 0.0 {
                return 0.0;
            }
            pv *= e;
            if j + 1 == self.rank {
                break;
            }
            let w = if upper {
                normal_quantile_upper(fa - u[j] * e)
            } else {
                normal_quantile(fa + u[j] * e)
            };
            let w = w.clamp(a, b);
            for i in (j + 1)..self.m {
                s[i] += self.l[i * self.rank + j] * w;
            }
        }
        pv
    }
}

/// Steps 2-3 for `m >= 3` unit-variance variables with lower bounds `lower`.
pub(crate) fn genz(
    lower: &[f64],
    corr: &[f64],
    m: usize,
    opts: &GenzOptions,
) -> Result<(f64, f64)> {
    let f = factorise(lower, corr, m, opts.singular_tol)?;
    let mut s = vec![0.0; m];
    let (a0, b0) = f.interval(0, &s);
    let e0 = normal_interval(a0, b0);
    if f.rank == 1 || e0 == 0.0 {
        return Ok((e0, 0.0));
    }
    Ok(lattice_rule(f.rank - 1, opts, |u| f.integrand(u, &mut s)))
}

/// Step 3's randomised lattice rule: the mean of `integrand` over `[0,1]^dim` (dim >= 1) and
/// 3 standard errors over the random shifts, with the point schedule of [`GenzOptions`].
pub(crate) fn lattice_rule(
    dim: usize,
    opts: &GenzOptions,
    mut integrand: impl FnMut(&[f64]) -> f64,
) -> (f64, f64) {
    let q: Vec<f64> = primes(dim)
        .iter()
        .map(|&p| (p as f64).sqrt().fract())
        .collect();
    let mut rng = SplitMix64::new(opts.seed);
    let shifts: Vec<Vec<f64>> = (0..opts.shifts)
        .map(|_| (0..dim).map(|_| rng.next_f64()).collect())
        .collect();
    let mut sums = vec![0.0; opts.shifts];
    let mut u = vec![0.0; dim];
    let mut done = 0usize; // points per shift evaluated so far
    let mut target = opts.min_points;
    loop {
        for (shift, sum) in shifts.iter().zip(sums.iter_mut()) {
            for i in done + 1..=target {
                for k in 0..dim {
                    let z = (i as f64 * q[k] + shift[k]).fract();
                    u[k] = (2.0 * z - 1.0).abs();
                }
                *sum += integrand(&u);
            }
        }
        done = target;
        let means: Vec<f64> = sums.iter().map(|s| s / done as f64).collect();
        let mean = means.iter().sum::<f64>() / means.len() as f64;
        let var = means.iter().map(|x| (x - mean).powi(2)).sum::<f64>()
            / (means.len() * (means.len() - 1)) as f64;
        let err = 3.0 * var.sqrt();
        // A stop request ends the rule here (the caller discards the result).
        if err <= opts.abs_tol
            || 2 * done * opts.shifts > opts.max_points
            || imbalance_core::interrupt::requested()
        {
            return (mean.clamp(0.0, 1.0), err);
        }
        target = 2 * done;
    }
}

/// The error of class `y` under the Gaussian law `f ~ N(logit_mean, logit_cov)` of the K test
/// logits of a class-`y` point: `1 - P(f_y + o_y > f_c + o_c for all c != y)`, with prediction
/// offsets `o` (zeros for most methods, `-tau log pi` for post-hoc logit adjustment).
///
/// This is the exact conditional test error of a trained linear classifier whose test logits
/// are Gaussian, up to the Genz accuracy in `opts` (exact for K <= 3).
pub fn class_error(
    logit_mean: &[f64],
    logit_cov: &[f64],
    y: usize,
    offsets: &[f64],
    opts: &GenzOptions,
) -> Result<f64> {
    Ok(crate::orthant::class_error_estimate(logit_mean, logit_cov, y, offsets, opts)?.complement)
}

#[cfg(test)]
mod tests;
