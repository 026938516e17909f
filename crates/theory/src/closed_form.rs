//! Closed forms at T = infinity for orthogonal equal-norm means (docs/theory.md §4).
//!
//! With `M = s^2 I`, isotropic noise and unit multiplicative factors (CE, LA, LDAM, wce: the
//! additive terms and weights vanish at T = infinity) the max-margin dual is
//! `a^(c) ∝ (K e_c - 1) / lambda_c`, `lambda_c = sigma^2 p + n_c s^2`, and the logit differences
//! of a class-y point share one Gaussian component:
//!
//! ```text
//! error_y = 1 - ∫ phi(x) prod_{c != y} Phi( (n_y s^2/lambda_y + sigma sqrt(n_y/lambda_y) x)
//!                                          / (sigma sqrt(n_c/lambda_c)) ) dx
//! ```
//!
//! evaluated by adaptive Gauss-Kronrod quadrature to 1e-12 (of the error itself, computed as
//! the integral of `phi (1 - prod Phi)` so that tiny errors keep their relative accuracy).
//! For K = 2: `error_y = Phi(-(n_y s^2/lambda_y) / (sigma sqrt(n_y/lambda_y + n_c/lambda_c)))`.
//!
//! Both are the deterministic equivalents without the refinement term (docs/theory.md §4), i.e. they
//! equal [`crate::predict`] at `Horizon::Infinite` with `refinement: false`.

use imbalance_losses::Method;

use crate::quad::one_factor_orthant;
use crate::special::normal_cdf;
use crate::{Error, MixtureStats, NoiseModel, Result};

/// `(s, sigma, p)` if the closed forms apply to this mixture and method.
fn check(stats: &MixtureStats, method: &Method) -> Result<(f64, f64, f64)> {
    if !method.defined_at_infinity() {
        return Err(Error::UndefinedAtInfinity {
            method: method.name().as_str(),
        });
    }
    let loss = method.loss(stats.counts())?;
    if loss.delta().iter().any(|&d| d != 1.0) {
        return Err(Error::ClosedFormNotApplicable {
            requirement: "unit multiplicative factors (CE, LA, LDAM, wce, or CDT/VS with gamma = 0)",
        });
    }
    let Some(s) = stats.orthogonal_snr() else {
        return Err(Error::ClosedFormNotApplicable {
            requirement: "orthogonal equal-norm means (mean Gram s^2 I) and isotropic noise",
        });
    };
    let NoiseModel::Isotropic { sigma, dim } = *stats.noise() else {
        unreachable!("orthogonal_snr implies isotropic noise")
    };
    Ok((s, sigma, dim as f64))
}

/// Per-class errors at T = infinity by the one-dimensional integral (any K >= 2).
///
/// ```
/// use imbalance_theory::{closed_form_infinite, MixtureStats};
/// use imbalance_losses::Method;
/// let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0)?;
/// let err = closed_form_infinite(&stats, &Method::Ce)?;
/// assert!(err[1] > err[0]); // the minority class fails more
/// # Ok::<(), imbalance_theory::Error>(())
/// ```
pub fn closed_form_infinite(stats: &MixtureStats, method: &Method) -> Result<Vec<f64>> {
    let (s, sigma, p) = check(stats, method)?;
    let counts: Vec<f64> = stats.counts().iter().map(|&c| c as f64).collect();
    let k = counts.len();
    let lambda: Vec<f64> = counts
        .iter()
        .map(|n| sigma * sigma * p + n * s * s)
        .collect();
    Ok((0..k)
        .map(|y| {
            let a = counts[y] * s * s / lambda[y];
            let b = sigma * (counts[y] / lambda[y]).sqrt();
            let others: Vec<usize> = (0..k).filter(|&c| c != y).collect();
            let mu = vec![a; k - 1];
            let loads = vec![b; k - 1];
            let c: Vec<f64> = others
                .iter()
                .map(|&c| sigma * (counts[c] / lambda[c]).sqrt())
                .collect();
            one_factor_orthant(&mu, &loads, &c, 1e-13).1
        })
        .collect())
}

/// The K = 2 formula at T = infinity: `[error_0, error_1]`.
pub fn closed_form_binary(stats: &MixtureStats, method: &Method) -> Result<[f64; 2]> {
    if stats.k() != 2 {
        return Err(Error::ClosedFormNotApplicable {
            requirement: "exactly K = 2 classes",
        });
    }
    let (s, sigma, p) = check(stats, method)?;
    let n: Vec<f64> = stats.counts().iter().map(|&c| c as f64).collect();
    let lambda: Vec<f64> = n.iter().map(|n| sigma * sigma * p + n * s * s).collect();
    let err = |y: usize, c: usize| {
        let signal = n[y] * s * s / lambda[y];
        let sd = sigma * (n[y] / lambda[y] + n[c] / lambda[c]).sqrt();
        normal_cdf(-signal / sd)
    };
    Ok([err(0, 1), err(1, 0)])
}
