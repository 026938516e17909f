//! Exchangeable groups whose group matrix is indefinite: real shared factors plus one
//! imaginary factor per group (path 4 of the module docs of [`super`]).
//!
//! In correlation units the comparisons are `R = D + X C X^T` (`X` the group indicator,
//! `D_g = 1 - C_gg`). The covariance of the group means is `C + diag(D_g / n_g)`, always PSD,
//! so the smallest `lambda` in `[0, 1)` with `C + lambda diag(D_g / n_g)` PSD exists when
//! `R` is PD; at it the matrix is PSD of reduced rank: `L L^T`. Then
//!
//! ```text
//! X_i = L_g . eta + i sqrt(lambda D_g / n_g) zeta_g + sqrt(D_g) eps_i,
//! ```
//!
//! with `eta`, `zeta`, `eps` iid standard normal, has the covariance `R` (the imaginary group
//! factor contributes `-lambda D_g / n_g` to every entry of the group's block). Given `eta`
//! the groups are independent and, by analytic continuation of the Gaussian convolution in
//! the variance (valid while the group block stays PD, i.e. `lambda < 1`),
//!
//! ```text
//! P(X_i >= a_i, i in g | eta) = E_zeta Re prod_{i in g} Phi((L_g . eta - a_i + i s_g zeta) / sqrt(D_g)),
//! ```
//!
//! `s_g = sqrt(lambda D_g / n_g)`: the probability that a negatively equicorrelated group
//! passes, a real number in [0, 1]. `Phi` of a complex argument `t + i y` is its Taylor
//! series around `t` (`Phi^(k) = (-1)^(k-1) He_(k-1) phi`), which converges for every `y`
//! and is used for `|y| <= MAX_IMAG`. Since `|Phi(t + i y)| <= e^(y^2/2) Phi(t)`, the group's
//! integrand is bounded by `e^(kappa zeta^2 / 2)` with `kappa = n_g s_g^2 / D_g = lambda`:
//! integrating `zeta` over `|zeta| <= 9 / sqrt(1 - kappa)` leaves at most
//! `2 Q(9) / sqrt(1 - kappa)` outside.

use super::{Groups, OrthantEstimate, OrthantMethod, QUAD_TOL, RANGE, estimate, merged_terms};
use crate::genz::one_factor_loadings;
use crate::mechanism::sym_eigen;
use crate::quad::integrate_adaptive;
use crate::special::{normal_cdf, normal_pdf, normal_sf};

/// Largest `lambda` accepted (the tails decay like `e^(-(1 - lambda) zeta^2 / 2)`).
const LAMBDA_MAX: f64 = 0.9;
/// Largest imaginary part `y` of a standardised argument. The Taylor series cancels terms of
/// size up to about `e^(y^2/2)` (the size of `phi(t + i y)`), so its absolute round-off is
/// about `ROUNDOFF e^(y^2/2)`, at most 7e-7 here; this is added to the reported bound.
const MAX_IMAG: f64 = 6.0;
/// Round-off of `Phi(t + i y)` relative to `e^(y^2/2)` (about 50 ulps: the series has up to a
/// few hundred terms; checked against quadrature in the tests).
const ROUNDOFF: f64 = 1e-14;
/// Eigenvalues of the real part below this (correlation units) are dropped; the dropped part
/// is covered by the structure bound.
const DROP: f64 = 1e-9;

/// A complex number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Complex {
    pub(crate) re: f64,
    pub(crate) im: f64,
}

impl Complex {
    fn ln(self) -> Complex {
        Complex {
            re: self.re.hypot(self.im).ln(),
            im: self.im.atan2(self.re),
        }
    }

    /// `ln(1 + self)`, accurate for small `self`.
    fn ln_1p(self) -> Complex {
        let (a, b) = (self.re, self.im);
        Complex {
            re: 0.5 * (2.0 * a + a * a + b * b).ln_1p(),
            im: b.atan2(1.0 + a),
        }
    }
}

/// `(Phi(t + i y) - Phi(t)) / phi(t)` by the Taylor series
/// `sum_{k >= 1} (i y)^k / k! (-1)^(k-1) He_(k-1)(t)`, summed until the terms are negligible
/// against `1 / phi(t)` (absolute precision 1e-18 of `Phi`) past the largest term.
fn taylor_shift(t: f64, y: f64) -> Complex {
    let pdf = normal_pdf(t).max(1e-300);
    let (mut re, mut im) = (0.0, 0.0);
    let (mut he_prev, mut he) = (0.0, 1.0); // He_{k-2}, He_{k-1}
    let mut coef = 1.0; // y^k / k!
    let peak = y.abs() * (t.abs() + y.abs() + 1.0);
    // Stop after three negligible terms in a row (He_(k-1)(t) can vanish, e.g. at t = 0).
    let mut small = 0;
    for k in 1..600usize {
        coef *= y / k as f64;
        let r = if k % 2 == 1 { coef * he } else { -coef * he }; // (-1)^(k-1)
        // i^k: 1, i, -1, -i for k = 0, 1, 2, 3 (mod 4).
        match k % 4 {
            1 => im += r,
            2 => re -= r,
            3 => im -= r,
            _ => re += r,
        }
        if k as f64 > peak && r.abs() * pdf < 1e-18 {
            small += 1;
            if small == 3 {
                break;
            }
        } else {
            small = 0;
        }
        let next = t * he - (k as f64 - 1.0) * he_prev;
        he_prev = he;
        he = next;
    }
    Complex { re, im }
}

/// `ln Phi(t + i y)` (principal branch of the logarithm, which is all a power needs).
pub(crate) fn ln_phi_complex(t: f64, y: f64) -> Complex {
    if y == 0.0 {
        let v = if t > 0.0 {
            (-normal_sf(t)).ln_1p()
        } else {
            normal_cdf(t).ln()
        };
        return Complex { re: v, im: 0.0 };
    }
    // |Phi(t + iy) - 1| <= e^(y^2/2) Q(t): below 1e-300 for t > 40 and |y| <= MAX_IMAG.
    if t > 40.0 {
        return Complex { re: 0.0, im: 0.0 };
    }
    let s = taylor_shift(t, y);
    let pdf = normal_pdf(t);
    if t > 0.0 {
        // ln(1 - Q(z)), Q(z) = Q(t) - phi(t) S.
        Complex {
            re: -(normal_sf(t) - pdf * s.re),
            im: pdf * s.im,
        }
        .ln_1p()
    } else {
        let v = Complex {
            re: normal_cdf(t) + pdf * s.re,
            im: pdf * s.im,
        };
        if v.re == 0.0 && v.im == 0.0 {
            Complex {
                re: f64::NEG_INFINITY,
                im: 0.0,
            }
        } else {
            v.ln()
        }
    }
}

/// A real rank-one part `L L^T` and imaginary group variances `E_g >= 0` with
/// `C = L L^T - diag(E)` (to [`DROP`]), from the smallest common `lambda` in
/// `[0, LAMBDA_MAX]` with `C + lambda diag(D_g / n_g)` PSD (bisection; at it one eigenvalue
/// vanishes, so two groups always leave rank <= 1). `None` if no such `lambda` or rank > 1.
fn common_shift(c: &[f64], resid: &[f64], size: &[usize]) -> Option<(Vec<f64>, Vec<f64>)> {
    let g = size.len();
    let mean_var: Vec<f64> = (0..g).map(|h| resid[h] / size[h] as f64).collect();
    let shifted = |lam: f64| -> Vec<f64> {
        (0..g * g)
            .map(|ab| {
                c[ab]
                    + if ab / g == ab % g {
                        lam * mean_var[ab / g]
                    } else {
                        0.0
                    }
            })
            .collect()
    };
    let min_eig = |lam: f64| {
        sym_eigen(&shifted(lam), g)
            .0
            .into_iter()
            .fold(f64::INFINITY, f64::min)
    };
    if min_eig(LAMBDA_MAX) < 0.0 {
        return None;
    }
    let (mut lo, mut hi) = (0.0, LAMBDA_MAX);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if min_eig(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (vals, vecs) = sym_eigen(&shifted(hi), g);
    let kept: Vec<usize> = (0..g).filter(|&e| vals[e] > DROP).collect();
    if kept.len() > 1 {
        return None;
    }
    let load = (0..g)
        .map(|h| kept.iter().map(|&e| vecs[h * g + e] * vals[e].sqrt()).sum())
        .collect();
    Some((load, mean_var.iter().map(|v| hi * v).collect()))
}

/// `C_ab = u_a u_b` off the diagonal (three or more groups, to 1e-10): `L = u` and
/// `E_g = u_g^2 - C_gg`, when all are >= 0 (one real factor with a group-specific negative
/// part, which a common `lambda` need not find).
fn off_diagonal_factor(c: &[f64], g: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    if g < 3 {
        return None;
    }
    let u = one_factor_loadings(c, g)?;
    let e: Vec<f64> = (0..g).map(|h| u[h] * u[h] - c[h * g + h]).collect();
    if e.iter().any(|&x| x < 0.0) {
        return None;
    }
    Some((u, e))
}

/// Path 4: exchangeable groups with an indefinite group matrix and at most one real factor
/// left after the shift to the group-mean covariance. `None` when the structure does not fit
/// (see the constants).
pub(super) fn signed_groups(
    lower: &[f64],
    corr: &[f64],
    m: usize,
    groups: &Groups,
) -> Option<OrthantEstimate> {
    let Groups { group, size, c } = groups;
    let g = size.len();
    let resid: Vec<f64> = (0..g).map(|h| 1.0 - c[h * g + h]).collect();
    if resid.iter().any(|&r| r < 1e-8) {
        return None;
    }
    // Indefinite only: a PSD group matrix is the real-factor path's case.
    let min_eig = |a: &[f64]| sym_eigen(a, g).0.into_iter().fold(f64::INFINITY, f64::min);
    if min_eig(c) >= 0.0 {
        return None;
    }
    let (load, imag_var) = common_shift(c, &resid, size).or_else(|| off_diagonal_factor(c, g))?;
    // Residual sd with the unit diagonal kept exactly; imaginary loading per group.
    let imag: Vec<f64> = imag_var.iter().map(|v| v.sqrt()).collect();
    let kept = load.iter().any(|&l| l != 0.0) as usize;
    let sdev: Vec<f64> = (0..g)
        .map(|h| (1.0 - load[h] * load[h] + imag[h] * imag[h]).sqrt())
        .collect();
    // kappa_h = n_h s_h^2 / D_h (about lambda) sets the tails; the largest imaginary part of a
    // standardised argument must stay within MAX_IMAG.
    let kappa: Vec<f64> = (0..g)
        .map(|h| size[h] as f64 * imag[h] * imag[h] / (sdev[h] * sdev[h]))
        .collect();
    let zmax: Vec<f64> = kappa.iter().map(|k| RANGE / (1.0 - k).sqrt()).collect();
    if kappa.iter().any(|&k| k.is_nan() || k >= 1.0)
        || (0..g).any(|h| imag[h] / sdev[h] * zmax[h] > MAX_IMAG)
    {
        return None;
    }
    let roundoff: Vec<f64> = (0..g)
        .map(|h| {
            let y = imag[h] / sdev[h] * zmax[h];
            ROUNDOFF * (0.5 * y * y).exp()
        })
        .collect();
    let approx = |i: usize, j: usize| {
        let (a, b) = (group[i], group[j]);
        load[a] * load[b] - if a == b { imag[a] * imag[a] } else { 0.0 }
    };
    let (terms, merge_bound) = merged_terms(lower, group, m);
    let mut bound = super::structure_bound(corr, m, approx) + merge_bound;
    // The pass probability of group h given the real factor value `s = L_h . eta`, and its
    // error (quadrature + tails).
    let group_pass = |h: usize, s: f64| -> (f64, f64) {
        let log_prod = |zeta: f64| -> f64 {
            let y = imag[h] * zeta / sdev[h];
            let (mut re, mut im) = (0.0, 0.0);
            for &(gi, a, times) in &terms {
                if gi == h {
                    let l = ln_phi_complex((s - a) / sdev[h], y);
                    re += times * l.re;
                    im += times * l.im;
                }
            }
            re.exp() * im.cos()
        };
        if imag[h] == 0.0 {
            return (log_prod(0.0).clamp(0.0, 1.0), 0.0);
        }
        // Even in zeta (complex conjugates): twice the half line.
        let f = |z: f64| 2.0 * normal_pdf(z) * log_prod(z);
        let (v, e) = integrate_adaptive(f, 0.0, zmax[h], QUAD_TOL, 4, 2000);
        let tail = 2.0 * normal_sf(RANGE) / (1.0 - kappa[h]).sqrt();
        (v.clamp(0.0, 1.0), e + tail + roundoff[h])
    };
    let present: Vec<usize> = (0..g).filter(|&h| terms.iter().any(|t| t.0 == h)).collect();
    // 1 - prod_h F_h and the summed group errors (|prod F - prod F~| <= sum |F_h - F~_h|).
    let fail = |eta: f64, worst: &mut f64| -> f64 {
        let mut prod = 1.0;
        let mut err = 0.0;
        for &h in &present {
            let (p, e) = group_pass(h, load[h] * eta);
            prod *= p;
            err += e;
        }
        *worst = worst.max(err);
        1.0 - prod
    };
    let mut worst = 0.0f64;
    let (q, err) = if kept == 0 {
        (fail(0.0, &mut worst), 0.0)
    } else {
        let f = |x: f64| normal_pdf(x) * fail(x, &mut worst);
        let (v, e) = integrate_adaptive(f, -RANGE, RANGE, QUAD_TOL, 8, 4000);
        (v, e + 2.0 * normal_cdf(-RANGE))
    };
    bound += err + worst;
    let q = q.clamp(0.0, 1.0);
    Some(estimate(
        1.0 - q,
        q,
        OrthantMethod::SignedGroups {
            rank: kept,
            groups: g,
        },
        bound,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Phi(t + i y) = int_{-inf}^t phi(u + i y) du` (the contour shifted by `i y`), with
    /// `phi(u + i y) = phi(u) e^(y^2/2) (cos(u y) - i sin(u y))`: an independent check of the
    /// series by quadrature (the integrand decays like phi(u)).
    fn phi_by_quadrature(t: f64, y: f64) -> (f64, f64) {
        let scale = (0.5 * y * y).exp();
        let re = |u: f64| normal_pdf(u) * scale * (u * y).cos();
        let im = |u: f64| -normal_pdf(u) * scale * (u * y).sin();
        let lo = -40.0;
        let (a, _) = integrate_adaptive(re, lo, t, 1e-15, 64, 20000);
        let (b, _) = integrate_adaptive(im, lo, t, 1e-15, 64, 20000);
        (a, b)
    }

    #[test]
    fn complex_phi_matches_the_shifted_contour_integral() {
        for &t in &[-6.0, -2.5, -0.3, 0.0, 0.7, 2.0, 5.0, 9.0] {
            for &y in &[-3.0, -1.2, 0.0, 0.4, 1.0, 2.5, 4.0, 6.0] {
                let l = ln_phi_complex(t, y);
                let (r, i) = (l.re.exp() * l.im.cos(), l.re.exp() * l.im.sin());
                let (qr, qi) = phi_by_quadrature(t, y);
                // Both lose about e^(y^2/2) ulps to cancellation (module constants); the
                // quadrature integrand has that size too.
                let tol = ROUNDOFF * (0.5 * y * y).exp() * (1.0 + qr.abs() + qi.abs());
                assert!(
                    (r - qr).abs() <= tol && (i - qi).abs() <= tol,
                    "t {t} y {y}: series {r} + {i} i vs quadrature {qr} + {qi} i"
                );
            }
        }
        // Real arguments are the real Phi.
        assert_eq!(ln_phi_complex(1.3, 0.0).re, (-normal_sf(1.3)).ln_1p());
    }
}
