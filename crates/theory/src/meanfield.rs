//! The mean-field gradient flow (docs/theory.md §4), its T = infinity limit, and the predicted errors.
//!
//! With exchangeable samples every class-c sample carries the same dual row `a^(c)` (length K),
//! its training logits are `z^(c) = tr(Sigma_c) a^(c) + sum_c' n_c' M_cc' a^(c')`, and gradient
//! flow becomes the K x K system `d a^(c)/dt = -(1/n) g(z^(c), c)` from `a = 0`.
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

use imbalance_core::Horizon;
use imbalance_core::ode::{OdeOptions, integrate};
use imbalance_losses::{Loss, Method};

use rayon::prelude::*;

use crate::genz::GenzOptions;
use crate::linalg;
use crate::orthant::{
    OrthantEstimate, OrthantMethod, ShiftedDiagonal, class_error_estimate, class_error_structured,
};
use crate::shared_mc::{MonteCarloOptions, shared_class_errors};
use crate::{Error, MixtureStats, NoiseModel, Result};

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

/// The Gaussian law of the test logits of a class-y point for the dual `a` (docs/theory.md §4):
/// per y the mean `m_y = sum_c n_c M_cy a^(c)` and the covariance
/// `S_y = sum_{c,c'} n_c n_c' (mu_c^T Sigma_y mu_c') a^(c) a^(c')^T
///        + sum_c n_c tr(Sigma_c Sigma_y) a^(c) a^(c)^T
///        [+ sum_c n_c (mu_y^T Sigma_c mu_y) a^(c) a^(c)^T   with the refinement]`.
pub fn logit_law(
    stats: &MixtureStats,
    a: &[f64],
    refinement: bool,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    logit_law_scaled(stats, a, refinement, 1.0)
}

/// [`logit_law`] with the noise term `sum_c n_c tr(Sigma_c Sigma_y) a^(c) a^(c)^T` multiplied
/// by `noise_factor` (the finite-n correction, [`finite_n_factor`]).
fn logit_law_scaled(
    stats: &MixtureStats,
    a: &[f64],
    refinement: bool,
    noise_factor: f64,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let all: Vec<usize> = (0..stats.k()).collect();
    let law = grouped_logit_law(stats, a, refinement, noise_factor, &all);
    let covs = law.index.iter().map(|&i| law.covs[i].clone()).collect();
    (law.means, covs)
}

/// The test-logit law with one covariance per distinct matrix: `covs[index[y]]` is `S_y`.
struct GroupedLaw {
    means: Vec<Vec<f64>>,
    covs: Vec<Vec<f64>>,
    index: Vec<usize>,
}

/// The law of [`logit_law_scaled`], computing `S_y` only for the classes `y = group[y]` (their
/// exchangeable classes get the same matrix) and only once per distinct matrix: with isotropic
/// noise `S_y` depends on y only through the scalar `nf sigma^4 p + [refinement] sigma^2 M_yy`
/// (one matrix for equal-norm means, whatever K). Storing every `S_y` would take K^3 floats.
fn grouped_logit_law(
    stats: &MixtureStats,
    a: &[f64],
    refinement: bool,
    noise_factor: f64,
    group: &[usize],
) -> GroupedLaw {
    let k = stats.k();
    assert_eq!(a.len(), k * k, "dual must be K x K");
    let counts: Vec<f64> = stats.counts().iter().map(|&c| c as f64).collect();
    let m = stats.mean_gram();
    // na[c][j] = n_c a^(c)_j
    let na: Vec<f64> = (0..k * k).map(|cj| counts[cj / k] * a[cj]).collect();
    // m_y = sum_c M_cy na[c], skipping the zeros of M (orthogonal means: one term).
    let means = (0..k)
        .map(|y| {
            let mut row = vec![0.0; k];
            for c in 0..k {
                let mcy = m[c * k + y];
                if mcy != 0.0 {
                    for j in 0..k {
                        row[j] += mcy * na[c * k + j];
                    }
                }
            }
            row
        })
        .collect();
    let isotropic = matches!(stats.noise(), NoiseModel::Isotropic { .. });
    // The per-class weight of the rank-one terms: n_c * diag * a a^T = diag / n_c * na na^T.
    let diag = |c: usize, y: usize| {
        let mut d = noise_factor * stats.noise_trace_prod(c, y);
        if refinement {
            d += stats.mean_cov(c, y, y);
        }
        d
    };
    let mut covs: Vec<Vec<f64>> = Vec::new();
    let mut keys: Vec<(usize, u64)> = Vec::new();
    let mut index = vec![usize::MAX; k];
    for y in 0..k {
        if group[y] != y {
            continue;
        }
        // Classes whose S_y is the same matrix share a key.
        let key = if isotropic {
            (0, diag(0, y).to_bits())
        } else {
            (1, y as u64)
        };
        if let Some(i) = keys.iter().position(|&kk| kk == key) {
            index[y] = i;
            continue;
        }
        let w: Vec<f64> = (0..k).map(|c| diag(c, y) / counts[c]).collect();
        let cov = match grouped_cov(stats, &na, y, &w, group) {
            Some(s) => s,
            None => logit_cov_of(stats, &na, y, &w),
        };
        covs.push(cov);
        keys.push(key);
        index[y] = covs.len() - 1;
    }
    for y in 0..k {
        index[y] = index[group[y]];
    }
    GroupedLaw { means, covs, index }
}

/// Below this K the O(K^3) sum of [`logit_cov_of`] is cheap, and keeping it keeps the
/// committed small-K results bit for bit.
const GROUPED_COV_MIN_K: usize = 64;

/// [`logit_cov_of`] in O(K^2 + G^3) for G groups of exchangeable classes, when `Q^y` is
/// diagonal and the dual has the group structure of [`flow_dual`]'s decoupled path: row c of
/// group h is `D_h` at c and `V_h(g)` at a class of group g. Then `S_ij` depends only on the
/// groups of i and j and on whether i = j. `None` when the structure is absent (checked
/// exactly) or when it would not pay.
fn grouped_cov(
    stats: &MixtureStats,
    na: &[f64],
    y: usize,
    w: &[f64],
    group: &[usize],
) -> Option<Vec<f64>> {
    let k = stats.k();
    let reps: Vec<usize> = (0..k).filter(|&c| group[c] == c).collect();
    let g = reps.len();
    if k < GROUPED_COV_MIN_K || 2 * g > k {
        return None;
    }
    let gi: Vec<usize> = group
        .iter()
        .map(|r| reps.binary_search(r).expect("a group's root is a rep"))
        .collect();
    let mut size = vec![0.0; g];
    gi.iter().for_each(|&h| size[h] += 1.0);
    // e_c = Q_cc + w_c, D_h, V_h(b) (0 where undefined: a group of one), all checked exactly.
    let e_of = |c: usize| stats.mean_cov(y, c, c) + w[c];
    let mut e = vec![f64::NAN; g];
    let mut dh = vec![f64::NAN; g];
    let mut v = vec![f64::NAN; g * g];
    for c in 0..k {
        let h = gi[c];
        let same = |slot: &mut f64, x: f64| {
            if slot.is_nan() {
                *slot = x;
                true
            } else {
                *slot == x
            }
        };
        if !same(&mut e[h], e_of(c)) || !same(&mut dh[h], na[c * k + c]) {
            return None;
        }
        for j in (0..k).filter(|&j| j != c) {
            if stats.mean_cov(y, c, j) != 0.0 || !same(&mut v[h * g + gi[j]], na[c * k + j]) {
                return None;
            }
        }
    }
    v.iter_mut().filter(|x| x.is_nan()).for_each(|x| *x = 0.0);
    let vv = |h: usize, b: usize| v[h * g + b];
    // T_ab = sum_h n_h e_h V_h(a) V_h(b); S_ij removes the terms of c = i, j and adds their
    // true rows (D at the own coordinate).
    let t: Vec<f64> = (0..g * g)
        .map(|ab| {
            let (a, b) = (ab / g, ab % g);
            (0..g).map(|h| size[h] * e[h] * vv(h, a) * vv(h, b)).sum()
        })
        .collect();
    let off: Vec<f64> = (0..g * g)
        .map(|ab| {
            let (a, b) = (ab / g, ab % g);
            t[ab] - e[a] * vv(a, a) * vv(a, b) - e[b] * vv(b, a) * vv(b, b)
                + e[a] * dh[a] * vv(a, b)
                + e[b] * vv(b, a) * dh[b]
        })
        .collect();
    let on: Vec<f64> = (0..g)
        .map(|a| t[a * g + a] - e[a] * vv(a, a) * vv(a, a) + e[a] * dh[a] * dh[a])
        .collect();
    let mut s = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            s[i * k + j] = if i == j {
                on[gi[i]]
            } else {
                // Symmetric: the smaller group index first.
                let (a, b) = (gi[i].min(gi[j]), gi[i].max(gi[j]));
                off[a * g + b]
            };
        }
    }
    Some(s)
}

/// `S_y = na^T Q^y na + sum_c w_c na[c] na[c]^T` (K x K), with `Q^y_cc' = mu_c^T Sigma_y mu_c'`.
fn logit_cov_of(stats: &MixtureStats, na: &[f64], y: usize, w: &[f64]) -> Vec<f64> {
    let k = stats.k();
    // u[c][j] = sum_c' Q_cc' na[c'][j] + w_c na[c][j]
    let mut u = vec![0.0; k * k];
    for c in 0..k {
        let row = &mut u[c * k..(c + 1) * k];
        for c2 in 0..k {
            let q = stats.mean_cov(y, c, c2);
            if q != 0.0 {
                for j in 0..k {
                    row[j] += q * na[c2 * k + j];
                }
            }
        }
        for j in 0..k {
            row[j] += w[c] * na[c * k + j];
        }
    }
    // s[i][j] = sum_c na[c][i] u[c][j]: rows in parallel, blocks of rows sharing each row of
    // u while it is in cache; every entry sums over c in the same order (thread-independent).
    const BLOCK: usize = 8;
    let mut s = vec![0.0; k * k];
    s.par_chunks_mut(BLOCK * k)
        .enumerate()
        .for_each(|(b, rows)| {
            let i0 = b * BLOCK;
            let nb = rows.len() / k;
            for c in 0..k {
                let uc = &u[c * k..(c + 1) * k];
                for r in 0..nb {
                    let x = na[c * k + i0 + r];
                    if x != 0.0 {
                        for (sv, &uv) in rows[r * k..(r + 1) * k].iter_mut().zip(uc) {
                            *sv += x * uv;
                        }
                    }
                }
            }
        });
    // Symmetrise away round-off.
    for i in 0..k {
        for j in 0..i {
            let v = 0.5 * (s[i * k + j] + s[j * k + i]);
            s[i * k + j] = v;
            s[j * k + i] = v;
        }
    }
    s
}

/// From this many comparisons per class (K - 1 >= 16, i.e. K >= 17) on, the classes that no
/// structured path answers share one Monte Carlo run instead of one Genz integral each.
/// Measured (whole-process `predict`, LA on an exp profile; crate README): Genz 0.19 s against
/// 0.05 s at K = 17, 0.67 s against 0.08 s at K = 24. The threshold sits above the crossover so
/// that the K <= 10 results keep their numbers.
pub const SHARED_MC_MIN_DIM: usize = 16;

/// Fills the classes that `errors` leaves open (`None`, in the order of `reps`) from the shared
/// Monte Carlo, one run per distinct covariance.
fn shared_monte_carlo_rest(
    mut errors: Vec<Option<OrthantEstimate>>,
    reps: &[usize],
    logit_means: &[Vec<f64>],
    logit_cov: &[Vec<f64>],
    logit_cov_index: &[usize],
    offsets: &[f64],
    opts: &MonteCarloOptions,
) -> Result<Vec<OrthantEstimate>> {
    let means: Vec<f64> = logit_means.iter().flatten().copied().collect();
    for (i, cov) in logit_cov.iter().enumerate() {
        let open: Vec<usize> = (0..reps.len())
            .filter(|&r| errors[r].is_none() && logit_cov_index[reps[r]] == i)
            .collect();
        if open.is_empty() {
            continue;
        }
        let classes: Vec<usize> = open.iter().map(|&r| reps[r]).collect();
        let est = shared_class_errors(&means, cov, &classes, offsets, opts)?;
        for (j, &r) in open.iter().enumerate() {
            let e = est.error[j];
            errors[r] = Some(OrthantEstimate {
                probability: 1.0 - e,
                complement: e,
                method: OrthantMethod::SharedMonteCarlo { draws: est.draws },
                error_bound: 3.0 * est.standard_error[j],
            });
        }
    }
    Ok(errors
        .into_iter()
        .map(|e| e.expect("every class is answered"))
        .collect())
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
