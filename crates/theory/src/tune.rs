//! Hyperparameter tuning on the theory's predicted error (docs/theory.md §5).

use std::fmt;
use std::str::FromStr;

use imbalance_core::Horizon;
use imbalance_losses::{Method, MethodName};
use rayon::prelude::*;

use crate::meanfield::{PredictOptions, Prediction, predict};
use crate::{Error, MixtureStats, OrthantMethod, Result};

/// What tuning minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Objective {
    /// The balanced error (mean of the per-class errors).
    #[default]
    Balanced,
    /// The worst per-class error.
    Worst,
}

impl Objective {
    /// The objective's value for a prediction.
    pub fn of(self, p: &Prediction) -> f64 {
        match self {
            Objective::Balanced => p.balanced_error,
            Objective::Worst => p.worst_class_error,
        }
    }

    /// The command-line spelling: `balanced` or `worst`.
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Balanced => "balanced",
            Objective::Worst => "worst",
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Objective {
    type Err = Error;

    /// Parses `balanced` or `worst`, case-insensitive.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "balanced" => Ok(Objective::Balanced),
            "worst" => Ok(Objective::Worst),
            _ => Err(Error::UnknownObjective {
                value: s.to_string(),
            }),
        }
    }
}

/// The result of [`tune`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tuned {
    /// The tuned hyperparameter's command-line name (`tau`, `gamma`, `margin`, `beta`).
    pub param: &'static str,
    /// Its best value.
    pub value: f64,
    /// The objective at the best value.
    pub error: f64,
    /// The coarse scan: `(value, objective)` pairs, in increasing value.
    pub curve: Vec<(f64, f64)>,
    /// The full prediction at the best value.
    pub prediction: Prediction,
    /// Number of theory evaluations ([`predict`] calls) spent (scan, Brent, final).
    pub evaluations: usize,
    /// Mean-field ODE right-hand-side evaluations summed over those calls.
    pub rhs_evals: usize,
}

/// Number of points of the coarse scan.
const SCAN_POINTS: usize = 21;
/// How often the scan range may be doubled when the minimum sits at its upper end.
const MAX_EXPANSIONS: usize = 3;
/// Draws of the shared Monte Carlo in every prediction of the scan and the refinement (the
/// same draws each time). Measured on K = 100 LA (exp profile, n_max 500, ratio 100, p = 20000,
/// snr 8, T = 1e6): the 161-point scan curve at 2^13 draws differs from the one at 2^16 by at
/// most 1.3e-3 in balanced error, both choose tau = 20.2, and the whole tune takes 9.4 s
/// against 50 s.
pub const TUNE_DRAWS: usize = 1 << 13;

/// The search interval of the tuned hyperparameter of `name`, or `None` for CE.
///
/// - `tau` (la, posthoc): [0, 4] (tau = 1 is Bayes-consistent for LA);
/// - `gamma` (cdt; vs with tau = 1): [0, 3];
/// - `beta` (wce): [0, 2] (beta = 1 is inverse-frequency weighting);
/// - `margin` C (ldam, `m_y = C n_y^(-1/4)`): [0, C_max] with C_max chosen so that the
///   difference between the minority and the majority margin reaches `4 ln(n_max/n_min)`, the
///   additive shift LA reaches at tau = 4 (both act additively on the logits);
///   with equal counts this limit gives `C_max = 16 n^(1/4)` (margins up to 16).
pub fn tuning_range(counts: &[usize], name: MethodName) -> Option<(f64, f64)> {
    match name {
        MethodName::Ce => None,
        MethodName::La | MethodName::PostHoc => Some((0.0, 4.0)),
        MethodName::Cdt | MethodName::Vs => Some((0.0, 3.0)),
        MethodName::Wce => Some((0.0, 2.0)),
        MethodName::Ldam => {
            let n_max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
            let n_min = counts.iter().copied().min().unwrap_or(1).max(1) as f64;
            let c_max = if n_max > n_min {
                4.0 * (n_max / n_min).ln() / (n_min.powf(-0.25) - n_max.powf(-0.25))
            } else {
                16.0 * n_min.powf(0.25)
            };
            Some((0.0, c_max))
        }
    }
}

/// Brent's minimisation of `f` on `[a, b]` (golden section with parabolic steps), to an
/// x-tolerance `tol`; returns the best (x, f(x)) seen.
fn brent_min(
    mut f: impl FnMut(f64) -> Result<f64>,
    a: f64,
    b: f64,
    tol: f64,
    max_iter: usize,
) -> Result<(f64, f64)> {
    const CGOLD: f64 = 0.381_966_011_250_105;
    let (mut a, mut b) = (a, b);
    let mut x = a + CGOLD * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x)?;
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..max_iter {
        let xm = 0.5 * (a + b);
        let tol1 = tol + 1e-10 * x.abs();
        let tol2 = 2.0 * tol1;
        if (x - xm).abs() <= tol2 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 {
            let r = (x - w) * (fx - fv);
            let mut q = (x - v) * (fx - fw);
            let mut p = (x - v) * q - (x - w) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            if p.abs() < (0.5 * q * e).abs() && p > q * (a - x) && p < q * (b - x) {
                e = d;
                d = p / q;
                let u = x + d;
                if u - a < tol2 || b - u < tol2 {
                    d = if xm >= x { tol1 } else { -tol1 };
                }
                golden = false;
            }
        }
        if golden {
            e = if x >= xm { a - x } else { b - x };
            d = CGOLD * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u)?;
        if fu <= fx {
            if u >= x {
                a = x;
            } else {
                b = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    Ok((x, fx))
}

/// Tunes the hyperparameter of `method_name` (VS: gamma, with tau = 1) by minimising the
/// theory's `objective`: a coarse scan of [`tuning_range`] (21 points; when the best point is
/// the upper end, the range is doubled, at most 3 times), then Brent's method in the bracket
/// around the best scan point. The scan uses the Genz accuracy
/// `max(opts.genz.abs_tol, 1e-3)` (it only has to find the bracket; K <= 3 and one-factor cases
/// are exact anyway); the refinement and the final prediction use `opts`. Where the shared Monte
/// Carlo answers (many classes), the scan and the refinement use the same [`TUNE_DRAWS`] draws
/// (common random numbers: a continuous objective), and the final candidates `opts`.
///
/// Errors: CE (nothing to tune), post-hoc LA at T = infinity, and anything `predict` rejects.
pub fn tune(
    stats: &MixtureStats,
    method_name: MethodName,
    objective: Objective,
    horizon: Horizon,
    opts: &PredictOptions,
) -> Result<Tuned> {
    let (Some(param), Some((lo, hi))) = (
        method_name.tuned_param(),
        tuning_range(stats.counts(), method_name),
    ) else {
        return Err(Error::NothingToTune {
            method: method_name.as_str(),
        });
    };
    let base = method_name.with_params(&[])?;
    if matches!(horizon, Horizon::Infinite) && !base.defined_at_infinity() {
        return Err(Error::UndefinedAtInfinity {
            method: method_name.as_str(),
        });
    }
    let method_at = |x: f64| -> Result<Method> { Ok(base.with_param(param, x.max(0.0))?) };
    let mut scan_opts = *opts;
    scan_opts.genz.abs_tol = opts.genz.abs_tol.max(1e-3);
    // Common random numbers: where the shared Monte Carlo answers, every prediction of the scan
    // and of Brent's refinement uses the same TUNE_DRAWS draws, so the objective is a continuous
    // function of the hyperparameter; only the two final candidates get the full accuracy.
    scan_opts.monte_carlo.min_draws = TUNE_DRAWS;
    scan_opts.monte_carlo.max_draws = TUNE_DRAWS;
    let count = std::sync::atomic::AtomicUsize::new(0);
    let rhs = std::sync::atomic::AtomicUsize::new(0);
    let bump = || count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let add_rhs = |p: &Prediction| rhs.fetch_add(p.rhs_evals, std::sync::atomic::Ordering::Relaxed);
    let eval = |x: f64| -> Result<(f64, f64)> {
        bump();
        let p = predict(stats, &method_at(x)?, horizon, &scan_opts)?;
        add_rhs(&p);
        Ok((x, objective.of(&p)))
    };
    let step = (hi - lo) / (SCAN_POINTS - 1) as f64;
    // The scan points are independent (and each deterministic): evaluate them in parallel.
    let mut curve = (0..SCAN_POINTS)
        .into_par_iter()
        .map(|i| eval(lo + step * i as f64))
        .collect::<Result<Vec<(f64, f64)>>>()?;
    // First minimum of the scan (ties: the smallest value, i.e. the mildest adjustment).
    let argmin = |curve: &[(f64, f64)]| {
        (0..curve.len()).fold(0, |b, i| if curve[i].1 < curve[b].1 { i } else { b })
    };
    let mut best = argmin(&curve);
    // A minimum at the upper end: double the range (up to 3 times, to 8x the default).
    let mut expansions = 0;
    while best + 1 == curve.len() && expansions < MAX_EXPANSIONS {
        let top = curve[curve.len() - 1].0;
        let width = top - lo;
        let m = curve.len() - 1;
        let more = (1..=m)
            .into_par_iter()
            .map(|i| eval(top + width * i as f64 / m as f64))
            .collect::<Result<Vec<(f64, f64)>>>()?;
        curve.extend(more);
        expansions += 1;
        best = argmin(&curve);
    }
    let last = curve.len() - 1;
    let (a, b) = (
        curve[best.saturating_sub(1)].0,
        curve[(best + 1).min(last)].0,
    );
    let hi = curve[last].0;
    let mut best_x = curve[best].0;
    bump();
    let mut best_pred = predict(stats, &method_at(best_x)?, horizon, opts)?;
    add_rhs(&best_pred);
    let mut best_err = objective.of(&best_pred);
    // Brent at the scan's accuracy where that is the shared Monte Carlo's fixed draws; else
    // (Genz, exact paths) at the requested accuracy, as before.
    let uses_shared_mc = best_pred
        .orthant
        .iter()
        .any(|e| matches!(e.method, OrthantMethod::SharedMonteCarlo { .. }));
    let refine_opts = if uses_shared_mc { scan_opts } else { *opts };
    let flat = curve.iter().all(|&(_, e)| (e - curve[0].1).abs() <= 1e-12);
    if !flat {
        let (x, _) = brent_min(
            |x| {
                bump();
                let p = predict(stats, &method_at(x)?, horizon, &refine_opts)?;
                add_rhs(&p);
                Ok(objective.of(&p))
            },
            a,
            b,
            1e-4 * (hi - lo),
            40,
        )?;
        bump();
        let pred = predict(stats, &method_at(x)?, horizon, opts)?;
        add_rhs(&pred);
        let err = objective.of(&pred);
        if err < best_err {
            (best_x, best_err, best_pred) = (x, err, pred);
        }
    }
    Ok(Tuned {
        param,
        value: best_x,
        error: best_err,
        curve,
        prediction: best_pred,
        evaluations: count.into_inner(),
        rhs_evals: rhs.into_inner(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_the_minimum_of_a_parabola_and_of_a_kink() {
        let (x, fx) = brent_min(|x| Ok((x - 0.3).powi(2) + 1.0), 0.0, 1.0, 1e-8, 100).unwrap();
        assert!((x - 0.3).abs() < 1e-6 && (fx - 1.0).abs() < 1e-12);
        let (x, _) = brent_min(|x| Ok((x - 1.7).abs()), 0.0, 3.0, 1e-8, 200).unwrap();
        assert!((x - 1.7).abs() < 1e-6, "{x}");
    }

    #[test]
    fn objective_parses_and_rejects() {
        assert_eq!("worst".parse::<Objective>().unwrap(), Objective::Worst);
        assert_eq!(
            "balanced".parse::<Objective>().unwrap(),
            Objective::Balanced
        );
        assert_eq!("Worst".parse::<Objective>().unwrap(), Objective::Worst);
        assert_eq!(
            "BALANCED".parse::<Objective>().unwrap(),
            Objective::Balanced
        );
        assert!(matches!(
            "best".parse::<Objective>(),
            Err(Error::UnknownObjective { .. })
        ));
    }

    #[test]
    fn ldam_range_matches_la_shift_and_is_continuous_at_balance() {
        let (_, c) = tuning_range(&[200, 20], MethodName::Ldam).unwrap();
        let diff = c * (20f64.powf(-0.25) - 200f64.powf(-0.25));
        assert!((diff - 4.0 * 10f64.ln()).abs() < 1e-9);
        let (_, c_eq) = tuning_range(&[50, 50], MethodName::Ldam).unwrap();
        let (_, c_near) = tuning_range(&[50, 49], MethodName::Ldam).unwrap();
        assert!((c_eq - c_near).abs() / c_eq < 0.02, "{c_eq} vs {c_near}");
        assert!(tuning_range(&[5, 1], MethodName::Ce).is_none());
    }
}
