//! The mean-field gradient flow (docs/theory.md §4), its T = infinity limit, and the predicted errors.
//!
//! With exchangeable samples every class-c sample carries the same dual row `a^(c)` (length K),
//! its training logits are `z^(c) = tr(Sigma_c) a^(c) + sum_c' n_c' M_cc' a^(c')`, and gradient
//! flow becomes the K x K system `d a^(c)/dt = -(1/n) g(z^(c), c)` from `a = 0`.
//!
//! Its T = infinity limit is in `max_margin.rs`, the law of the test logits a dual gives and
//! the per-class errors from it in `law.rs`.

use imbalance_core::Horizon;
use imbalance_core::ode::{OdeOptions, integrate};
use imbalance_losses::{Loss, Method};

use rayon::prelude::*;

use crate::genz::GenzOptions;
use crate::law::{
    GROUPED_COV_MIN_K, SHARED_MC_MIN_DIM, grouped_logit_law, shared_monte_carlo_rest,
};
use crate::max_margin::max_margin_dual;
use crate::orthant::{
    OrthantEstimate, ShiftedDiagonal, class_error_estimate, class_error_structured,
};
use crate::shared_mc::MonteCarloOptions;
use crate::{Error, MixtureStats, Result};

/// Options of [`predict`] and of everything built on it.
///
/// `#[non_exhaustive]`: start from [`PredictOptions::default`] and use the `with_*` setters (or
/// set the public fields of a default value):
///
/// ```
/// use imbalance_theory::{OdeOptions, PredictOptions};
/// let opts = PredictOptions::default()
///     .with_ode(OdeOptions::default().with_rtol(1e-8))
///     .with_refinement(false);
/// assert_eq!((opts.ode.rtol, opts.refinement), (1e-8, false));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct PredictOptions {
    /// Options of the mean-field ODE solver (finite T). The tolerances apply to the training
    /// logits (the state is scaled so that it is of their size); `t0 = None` (the default)
    /// means automatic: `n / lambda`, with `lambda` the largest diagonal entry of the logit map.
    pub ode: OdeOptions,
    /// Options of the orthant probabilities (K >= 4).
    pub genz: GenzOptions,
    /// Options of the shared Monte Carlo, which answers for every class at once where Genz's
    /// rule would work in [`SHARED_MC_MIN_DIM`] or more dimensions without structure.
    pub monte_carlo: MonteCarloOptions,
    /// Add the training-set fluctuation of the logit means to the covariance (docs/theory.md §4,
    /// "optional refinement"): the predicted error is then averaged over training sets.
    /// Default true (see the crate README for the comparison with the docs/theory.md §6 table).
    pub refinement: bool,
    /// Finite-n correction: multiply the noise term of the logit covariance by
    /// [`finite_n_factor`] (see the crate README, "Finite-n correction"). Default false: it
    /// halves the mean gap to simulation on the project's grid but over-corrects at finite T
    /// with K = 10.
    pub finite_n: bool,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            ode: OdeOptions::default(),
            genz: GenzOptions::default(),
            monte_carlo: MonteCarloOptions::default(),
            refinement: true,
            finite_n: false,
        }
    }
}

impl PredictOptions {
    /// These options with ODE options `ode`.
    pub fn with_ode(self, ode: OdeOptions) -> Self {
        Self { ode, ..self }
    }

    /// These options with shared-Monte-Carlo options `monte_carlo`.
    pub fn with_monte_carlo(self, monte_carlo: MonteCarloOptions) -> Self {
        Self {
            monte_carlo,
            ..self
        }
    }

    /// These options with orthant-probability options `genz`.
    pub fn with_genz(self, genz: GenzOptions) -> Self {
        Self { genz, ..self }
    }

    /// These options with the training-set refinement on or off.
    pub fn with_refinement(self, refinement: bool) -> Self {
        Self { refinement, ..self }
    }

    /// These options with the finite-n correction on or off.
    pub fn with_finite_n(self, finite_n: bool) -> Self {
        Self { finite_n, ..self }
    }

    /// Checks every option (the ODE's, then the orthant probabilities'); the error names the
    /// first bad one.
    pub fn validate(&self) -> Result<()> {
        self.ode.validate()?;
        self.genz.validate()
    }
}

/// The theory's prediction for one mixture, method and training time.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Test error of each class (balanced test distribution), in [0, 1].
    pub per_class_error: Vec<f64>,
    /// Mean of the per-class errors.
    pub balanced_error: f64,
    /// Largest per-class error.
    pub worst_class_error: f64,
    /// Per true class y: the mean `m_y` of the K test logits of a class-y point.
    pub logit_means: Vec<Vec<f64>>,
    /// The distinct K x K covariances (row-major) of the test logits (`S`, plus the refinement
    /// term when enabled): class y's is `logit_cov[logit_cov_index[y]]` (see
    /// [`Prediction::logit_cov_of`]). One matrix per distinct law, not per class, because K
    /// of them would take K^3 floats: with isotropic noise and equal-norm means there is one.
    pub logit_cov: Vec<Vec<f64>>,
    /// Per true class y: the index in `logit_cov` of its covariance.
    pub logit_cov_index: Vec<usize>,
    /// Offsets added to the logits at prediction time (post-hoc logit adjustment), length K.
    pub offsets: Vec<f64>,
    /// The mean-field dual, K x K row-major: row c is `a^(c)`. At T = infinity it is the
    /// max-margin solution (margins >= 1), whose scale is arbitrary.
    pub dual: Vec<f64>,
    /// Right-hand-side evaluations of the mean-field ODE spent by [`predict`] (0 at
    /// T = infinity, where the max-margin problem is solved directly): a deterministic work
    /// count, each costing O(K^3) at most.
    pub rhs_evals: usize,
    /// Per class: how its error was computed (method, error bound; `complement` is the error).
    pub orthant: Vec<OrthantEstimate>,
}

impl Prediction {
    /// The standard error of each class's error: that of the randomised orthant methods
    /// (Genz, the shared Monte Carlo), 0 where a deterministic path answered (its
    /// `error_bound` then bounds the error outright).
    pub fn per_class_error_se(&self) -> Vec<f64> {
        self.orthant.iter().map(|e| e.standard_error()).collect()
    }

    /// The K x K covariance (row-major) of the test logits of a class-`y` point.
    pub fn logit_cov_of(&self, y: usize) -> &[f64] {
        &self.logit_cov[self.logit_cov_index[y]]
    }
}

/// `G / lambda` with `z^(c) = sum_c' G_cc' a^(c')` and the scale `lambda` (the largest diagonal).
fn logit_map(stats: &MixtureStats) -> (Vec<f64>, f64) {
    let k = stats.k();
    let m = stats.mean_gram();
    let counts = stats.counts();
    let mut g = vec![0.0; k * k];
    for c in 0..k {
        for c2 in 0..k {
            g[c * k + c2] = counts[c2] as f64 * m[c * k + c2];
        }
        g[c * k + c] += stats.noise_trace(c);
    }
    let lambda = (0..k).map(|c| g[c * k + c]).fold(0.0, f64::max);
    (g, lambda)
}

#[cfg(test)]
/// Training logits `z^(c)` (rows of the K x K result) of the dual `a` (rows `a^(c)`).
pub(crate) fn training_logits(stats: &MixtureStats, a: &[f64]) -> Vec<f64> {
    let k = stats.k();
    let (g, _) = logit_map(stats);
    let mut z = vec![0.0; k * k];
    for c in 0..k {
        for c2 in 0..k {
            let gc = g[c * k + c2];
            if gc != 0.0 {
                for j in 0..k {
                    z[c * k + j] += gc * a[c2 * k + j];
                }
            }
        }
    }
    z
}

#[cfg(test)]
/// The inner product of two duals as weight matrices, `<W_a, W_b>_F` in the mean field:
/// `sum_c n_c a^(c) . z_b^(c)`.
pub(crate) fn weight_inner(stats: &MixtureStats, a: &[f64], b: &[f64]) -> f64 {
    let k = stats.k();
    let zb = training_logits(stats, b);
    (0..k)
        .map(|c| {
            let n = stats.counts()[c] as f64;
            n * (0..k).map(|j| a[c * k + j] * zb[c * k + j]).sum::<f64>()
        })
        .sum()
}

/// The mean-field dual after gradient flow to time `t_end` (finite), K x K row-major.
///
/// When the mean Gram matrix is diagonal the K classes decouple (`z^(c)` depends on `a^(c)`
/// only) and exchangeable classes follow the same equation up to a swap of two coordinates:
/// then one K-dimensional ODE per group of exchangeable classes is solved instead of the
/// K^2-dimensional system.
fn flow_dual(
    stats: &MixtureStats,
    method: &Method,
    t_end: f64,
    opts: &PredictOptions,
    rhs_evals: &mut usize,
) -> Result<Vec<f64>> {
    flow_dual_with(stats, method, t_end, opts, rhs_evals, true)
}

/// [`flow_dual`], with the merging of equal coordinates ([`reduced_class_loss`]) allowed or
/// not (the tests compare the two).
pub(crate) fn flow_dual_with(
    stats: &MixtureStats,
    method: &Method,
    t_end: f64,
    opts: &PredictOptions,
    rhs_evals: &mut usize,
    merge_coordinates: bool,
) -> Result<Vec<f64>> {
    let k = stats.k();
    let loss = method.loss(stats.counts())?;
    let (mut g, lambda) = logit_map(stats);
    g.iter_mut().for_each(|v| *v /= lambda);
    let n = stats.n() as f64;
    // State b = lambda * a (of the size of the logits); db/dt = -(lambda / n) g(z, c).
    let rate = lambda / n;
    let ode = opts.ode.with_t0(Some(opts.ode.t0.unwrap_or(1.0 / rate)));
    let mut z = vec![0.0; k];
    let mut grad = vec![0.0; k];
    let m = stats.mean_gram();
    let diagonal = (0..k * k).all(|ij| ij / k == ij % k || m[ij] == 0.0);
    let mut a = vec![0.0; k * k];
    if diagonal {
        let groups = stats.exchangeable_groups();
        for r in 0..k {
            if groups[r] != r {
                continue;
            }
            let grr = g[r * k + r];
            let reduced = if merge_coordinates {
                reduced_class_loss(&loss, r)
            } else {
                None
            };
            let state = match reduced {
                // Coordinates the loss treats alike follow one equation: u of them.
                Some((reduced, coord, mult)) => {
                    let u = mult.len();
                    let (mut zr, mut gr) = (vec![0.0; u], vec![0.0; u]);
                    let mut small = vec![0.0; u];
                    let st = integrate(
                        &mut small,
                        t_end,
                        &ode,
                        |_, b, db| {
                            for j in 0..u {
                                zr[j] = grr * b[j];
                            }
                            reduced.value_and_grad(&zr, 0, &mut gr);
                            // The reduced gradient sums the `mult` equal coordinates.
                            for j in 0..u {
                                db[j] = -rate * gr[j] / mult[j];
                            }
                        },
                        |_, _| {},
                    )?;
                    *rhs_evals += st.rhs_evals;
                    coord.iter().map(|&j| small[j]).collect()
                }
                None => {
                    let mut state = vec![0.0; k];
                    let st = integrate(
                        &mut state,
                        t_end,
                        &ode,
                        |_, b, db| {
                            for j in 0..k {
                                z[j] = grr * b[j];
                            }
                            loss.value_and_grad(&z, r, &mut grad);
                            for j in 0..k {
                                db[j] = -rate * grad[j];
                            }
                        },
                        |_, _| {},
                    )?;
                    *rhs_evals += st.rhs_evals;
                    state
                }
            };
            for c in (r..k).filter(|&c| groups[c] == r) {
                // a^(c) is a^(r) with coordinates r and c swapped.
                for j in 0..k {
                    let src = if j == c {
                        r
                    } else if j == r {
                        c
                    } else {
                        j
                    };
                    a[c * k + j] = state[src] / lambda;
                }
            }
        }
        return Ok(a);
    }
    let st = integrate(
        &mut a,
        t_end,
        &ode,
        |_, b, db| {
            for c in 0..k {
                z.iter_mut().for_each(|v| *v = 0.0);
                for c2 in 0..k {
                    let gc = g[c * k + c2];
                    if gc != 0.0 {
                        let row = &b[c2 * k..(c2 + 1) * k];
                        for j in 0..k {
                            z[j] += gc * row[j];
                        }
                    }
                }
                loss.value_and_grad(&z, c, &mut grad);
                for j in 0..k {
                    db[c * k + j] = -rate * grad[j];
                }
            }
        },
        |_, _| {},
    )?;
    *rhs_evals += st.rhs_evals;
    a.iter_mut().for_each(|v| *v /= lambda);
    Ok(a)
}

/// For the decoupled ODE of label `r` (diagonal mean Gram matrix, so `z = g_rr a`): the
/// coordinates `j != r` with equal `(Delta_j, iota_j)` stay equal along the flow. Returns the
/// loss on one coordinate per such set (label 0 = `r`, multiplicity folded into `iota` as
/// `+ ln m`, since `m e^U = e^(U + ln m)` in the softmax), the reduced index of every
/// coordinate, and the multiplicities. `None` when it would not pay: below
/// [`GROUPED_COV_MIN_K`] (which also keeps small-K results bit for bit) or when fewer than
/// half the coordinates merge.
fn reduced_class_loss(loss: &Loss, r: usize) -> Option<(Loss, Vec<usize>, Vec<f64>)> {
    let k = loss.k();
    if k < GROUPED_COV_MIN_K {
        return None;
    }
    let (delta, iota) = (loss.delta(), loss.iota());
    let mut coord = vec![0usize; k];
    let mut reps: Vec<usize> = vec![r];
    let mut mult: Vec<f64> = vec![1.0];
    let mut seen: std::collections::HashMap<[u64; 2], usize> = Default::default();
    for j in (0..k).filter(|&j| j != r) {
        let key = [delta[j], iota[j]].map(|x| (x + 0.0).to_bits());
        let u = *seen.entry(key).or_insert_with(|| {
            reps.push(j);
            mult.push(0.0);
            reps.len() - 1
        });
        mult[u] += 1.0;
        coord[j] = u;
    }
    if 2 * reps.len() > k {
        return None;
    }
    let pick = |v: &[f64]| reps.iter().map(|&j| v[j]).collect::<Vec<f64>>();
    let iota_red: Vec<f64> = reps
        .iter()
        .zip(&mult)
        .map(|(&j, m)| iota[j] + m.ln())
        .collect();
    let reduced = Loss::new(
        pick(delta),
        iota_red,
        pick(loss.margin()),
        pick(loss.omega()),
    )
    .ok()?;
    Some((reduced, coord, mult))
}

/// The mean-field dual (K x K row-major, row c = `a^(c)`) of `method` trained to `horizon`.
/// At `Horizon::Infinite` it is the max-margin solution for the method's multiplicative
/// factors; post-hoc logit adjustment is an error there.
pub fn mean_field_dual(
    stats: &MixtureStats,
    method: &Method,
    horizon: Horizon,
    opts: &PredictOptions,
) -> Result<Vec<f64>> {
    mean_field_dual_counted(stats, method, horizon, opts, &mut 0)
}

/// [`mean_field_dual`], adding the ODE right-hand-side evaluations to `rhs_evals`.
fn mean_field_dual_counted(
    stats: &MixtureStats,
    method: &Method,
    horizon: Horizon,
    opts: &PredictOptions,
    rhs_evals: &mut usize,
) -> Result<Vec<f64>> {
    opts.validate()?;
    match horizon {
        Horizon::Finite(t) => flow_dual(stats, method, t, opts, rhs_evals),
        Horizon::Infinite => {
            if !method.defined_at_infinity() {
                return Err(Error::UndefinedAtInfinity {
                    method: method.name().as_str(),
                });
            }
            let loss = method.loss(stats.counts())?;
            max_margin_dual(stats, loss.delta())
        }
    }
}

/// Per-class errors from a dual and prediction offsets.
pub(crate) fn prediction_from_dual(
    stats: &MixtureStats,
    dual: Vec<f64>,
    offsets: Vec<f64>,
    noise_factor: f64,
    opts: &PredictOptions,
) -> Result<Prediction> {
    let k = stats.k();
    // Exchangeable classes have the same law and error: compute them once per group.
    let group = stats.exchangeable_groups();
    let law = grouped_logit_law(stats, &dual, opts.refinement, noise_factor, &group);
    let (logit_means, logit_cov, logit_cov_index) = (law.means, law.covs, law.index);
    // Each orthant probability is deterministic (fixed seed), so computing them in parallel
    // gives the same result for any number of threads.
    let reps: Vec<usize> = (0..k).filter(|&y| group[y] == y).collect();
    // Independent logits up to a common shift (CE-like methods on orthogonal means): fitted
    // once per distinct covariance, then O(K) per class instead of the (K-1)^2 comparisons.
    let shifted: Vec<Option<ShiftedDiagonal>> = logit_cov
        .iter()
        .map(|cov| ShiftedDiagonal::fit(cov, k))
        .collect();
    // Large K without structure: Genz would work in K - 1 dimensions per class, so the
    // classes left over share one set of Monte Carlo draws per distinct covariance.
    let shared_mc = k > SHARED_MC_MIN_DIM;
    let rep_errors = reps
        .par_iter()
        .map(|&y| {
            let i = logit_cov_index[y];
            let fast = shifted[i]
                .as_ref()
                .and_then(|s| s.class_error(&logit_means[y], y, &offsets, opts.genz.abs_tol));
            match fast {
                Some(est) => Ok(Some(est)),
                None if shared_mc => {
                    class_error_structured(&logit_means[y], &logit_cov[i], y, &offsets, &opts.genz)
                }
                None => {
                    class_error_estimate(&logit_means[y], &logit_cov[i], y, &offsets, &opts.genz)
                        .map(Some)
                }
            }
        })
        .collect::<Result<Vec<Option<OrthantEstimate>>>>()?;
    let rep_errors = shared_monte_carlo_rest(
        rep_errors,
        &reps,
        &logit_means,
        &logit_cov,
        &logit_cov_index,
        &offsets,
        &opts.monte_carlo,
    )?;
    let orthant: Vec<OrthantEstimate> = (0..k)
        .map(|y| {
            rep_errors[reps
                .binary_search(&group[y])
                .expect("a group's root is a rep")]
        })
        .collect();
    let per_class_error: Vec<f64> = orthant.iter().map(|e| e.complement).collect();
    let balanced_error = per_class_error.iter().sum::<f64>() / k as f64;
    let worst_class_error = per_class_error.iter().copied().fold(0.0, f64::max);
    Ok(Prediction {
        per_class_error,
        balanced_error,
        worst_class_error,
        logit_means,
        logit_cov,
        logit_cov_index,
        offsets,
        dual,
        rhs_evals: 0,
        orthant,
    })
}

/// The theory's prediction: mean-field dual at `horizon`, Gaussian law of the test logits, and
/// per-class errors (orthant probabilities) with the method's prediction offsets.
///
/// ```
/// use imbalance_theory::{predict, MixtureStats, PredictOptions};
/// use imbalance_theory::Horizon;
/// use imbalance_losses::{Loss, Method};
///
/// let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0)?;
/// let ce = predict(&stats, &Method::Ce, Horizon::Finite(1e4), &PredictOptions::default())?;
/// let la = predict(&stats, &Method::La { tau: 1.0 }, Horizon::Finite(1e4), &PredictOptions::default())?;
/// assert!(la.per_class_error[1] < ce.per_class_error[1]); // LA helps the minority class
/// # Ok::<(), imbalance_theory::Error>(())
/// ```
pub fn predict(
    stats: &MixtureStats,
    method: &Method,
    horizon: Horizon,
    opts: &PredictOptions,
) -> Result<Prediction> {
    let mut rhs_evals = 0;
    let dual = mean_field_dual_counted(stats, method, horizon, opts, &mut rhs_evals)?;
    let offsets = method.prediction_offsets(stats.counts())?;
    let factor = if opts.finite_n {
        finite_n_factor(stats)
    } else {
        1.0
    };
    let mut p = prediction_from_dual(stats, dual, offsets, factor, opts)?;
    p.rhs_evals = rhs_evals;
    Ok(p)
}

/// The finite-n correction factor `kappa` of the noise variance (used when
/// [`PredictOptions::finite_n`] is set): `kappa = (d - K - 1) / (d - K - 1 - n)` with `d` the
/// noise's effective dimension `min_c tr(Sigma_c)^2 / tr(Sigma_c^2)` (isotropic: `p`), or 1 when
/// `d <= n + K + 1`.
///
/// Why: the trained dual fits the training logits through the inverse of the noise Gram
/// matrix restricted to the complement of the means' span, a Wishart matrix with `d - K`
/// degrees of freedom; its inverse has mean `I / (d - K - n - 1)` instead of the mean field's
/// `I / (d - K)`, so the noise energy of W (the `tr(Sigma_c Sigma_y)` term of `S`) is larger by
/// `kappa`. The argument is exact for an interpolating dual (T = infinity with every sample a
/// support vector); at finite T it over-corrects when K is large (see the crate README).
pub fn finite_n_factor(stats: &MixtureStats) -> f64 {
    let k = stats.k();
    let d = (0..k)
        .map(|c| stats.noise_trace(c).powi(2) / stats.noise_trace_prod(c, c))
        .fold(f64::INFINITY, f64::min);
    let n = stats.n() as f64;
    let kk = k as f64;
    let denom = d - kk - 1.0 - n;
    if denom > 0.0 && d.is_finite() {
        (d - kk - 1.0) / denom
    } else {
        1.0
    }
}
