//! The law of the test logits that a mean-field dual gives (their means and covariances per
//! class, grouped where classes share counts), and the per-class errors of that law: exact
//! structured orthant paths, Genz, or from [`SHARED_MC_MIN_DIM`] classes on one Monte Carlo
//! run shared by all classes.

use rayon::prelude::*;

use crate::orthant::{OrthantEstimate, OrthantMethod};
use crate::shared_mc::{MonteCarloOptions, shared_class_errors};
use crate::{MixtureStats, NoiseModel, Result};

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
pub(crate) struct GroupedLaw {
    /// Per class, the means of its K test logits.
    pub(crate) means: Vec<Vec<f64>>,
    /// The distinct logit covariances `S_y` (K x K, symmetric).
    pub(crate) covs: Vec<Vec<f64>>,
    /// Per class, the index of its covariance in `covs`.
    pub(crate) index: Vec<usize>,
}

/// The law of [`logit_law_scaled`], computing `S_y` only for the classes `y = group[y]` (their
/// exchangeable classes get the same matrix) and only once per distinct matrix: with isotropic
/// noise `S_y` depends on y only through the scalar `nf sigma^4 p + [refinement] sigma^2 M_yy`
/// (one matrix for equal-norm means, whatever K). Storing every `S_y` would take K^3 floats.
pub(crate) fn grouped_logit_law(
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
pub(crate) const GROUPED_COV_MIN_K: usize = 64;

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
pub(crate) fn shared_monte_carlo_rest(
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
