//! Per-class feature moments for the anisotropic theory, from a Gram matrix alone.
//!
//! Notation: class c has n_c samples phi_i (features, or any kernel's implicit features),
//! mean mu_c and covariance Sigma_c. Everything below is computed from the Gram entries
//! K_ij = phi_i . phi_j and the labels (kernel trick), in O(n^2 + K^2 n) time, so it works
//! for infinite-width kernels and for p = 10^5 random features alike.

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::error::{Error, Result};

/// Which estimators [`FeatureMoments::from_gram`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MomentEstimator {
    /// Unbiased U-statistics (distribution-free: no Gaussian assumption). Needs at least 4
    /// samples per class. Estimates can be negative by chance when samples are small.
    Unbiased,
    /// Plug-in estimates: sample means and covariances with divisor n_c, substituted in the
    /// formulas. Biased (see the field docs of [`FeatureMoments`]); needs 1 sample per class.
    PlugIn,
}

impl MomentEstimator {
    fn name(self) -> &'static str {
        match self {
            MomentEstimator::Unbiased => "unbiased",
            MomentEstimator::PlugIn => "plug-in",
        }
    }

    fn min_count(self) -> usize {
        match self {
            MomentEstimator::Unbiased => 4,
            MomentEstimator::PlugIn => 1,
        }
    }
}

/// Per-class moments of features, as needed by the anisotropic mean-field theory
/// (docs/theory.md §4): M_cc' = mu_c . mu_c', tr Sigma_c, tr(Sigma_c Sigma_y) and
/// mu_c^T Sigma_y mu_c'.
///
/// Bias of each estimator (n_c = samples of class c; U = [`MomentEstimator::Unbiased`],
/// P = [`MomentEstimator::PlugIn`]):
/// - `means_gram` c != c': the mean of the n_c x n_y block, unbiased in both. c = c': U
///   averages the off-diagonal entries only (unbiased); P includes the diagonal and is
///   biased up by tr(Sigma_c) / n_c.
/// - `trace`: U = sample covariance with divisor n_c - 1 (unbiased); P divides by n_c
///   (biased down by a factor (n_c - 1) / n_c).
/// - `trace_prod` c != y: U = tr(S_c S_y) with unbiased sample covariances of two
///   independent samples = ||centred block||_F^2 / ((n_c - 1)(n_y - 1)), unbiased;
///   P divides by n_c n_y. c = y: U is the Chen & Qin (2010) U-statistic for tr(Sigma^2),
///   unbiased for any distribution with finite fourth moments; P = tr(S_c^2) (divisor n_c),
///   biased up by about tr(Sigma_c)^2 / n_c, which dominates when the effective rank is
///   large compared with n_c.
/// - `mean_cov` (mu_c^T Sigma_y mu_c'): U averages
///   (1/2)(phi_i . (phi_k - phi_l))(phi_j . (phi_k - phi_l)) over distinct samples
///   i in c, j in c', k, l in y (unbiased, computed in O(n) per entry by inclusion-exclusion);
///   P = m_c^T S_y m_c' with sample means m and S_y (divisor n_y), biased by
///   tr(Sigma_c Sigma_y) / n_c when c = c' and by O(1/n_y) terms when c or c' = y.
/// - `effective_rank` = trace^2 / trace_prod (diagonal): a ratio of estimates, consistent
///   but not unbiased; NaN when the tr(Sigma^2) estimate is not positive.
#[derive(Debug, Clone)]
pub struct FeatureMoments {
    /// The estimator used.
    pub estimator: MomentEstimator,
    /// Samples per class.
    pub counts: Vec<usize>,
    /// K x K: mu_c . mu_c'.
    pub means_gram: Mat<f64>,
    /// tr Sigma_c.
    pub trace: Vec<f64>,
    /// K x K: tr(Sigma_c Sigma_y).
    pub trace_prod: Mat<f64>,
    /// For each y, the K x K matrix mu_c^T Sigma_y mu_c'.
    pub mean_cov: Vec<Mat<f64>>,
    /// tr(Sigma_c)^2 / tr(Sigma_c^2): compare with n to see where the theory may break down.
    pub effective_rank: Vec<f64>,
}

/// Samples per class; error on a label >= k.
pub(crate) fn class_counts(labels: &[usize], k: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; k];
    for (index, &label) in labels.iter().enumerate() {
        if label >= k {
            return Err(Error::LabelOutOfRange { index, label, k });
        }
        counts[label] += 1;
    }
    Ok(counts)
}

fn check_gram(g: MatRef<'_, f64>, n: usize) -> Result<()> {
    if g.nrows() != n || g.ncols() != n {
        return Err(Error::GramShape {
            rows: g.nrows(),
            cols: g.ncols(),
            labels: n,
        });
    }
    for j in 0..n {
        for i in j..n {
            let (a, b) = (g[(i, j)], g[(j, i)]);
            if !a.is_finite() {
                return Err(Error::BadGram {
                    row: i,
                    col: j,
                    value: a,
                    problem: "not finite",
                });
            }
            let scale = g[(i, i)].abs().max(g[(j, j)].abs()).max(a.abs());
            if (a - b).abs() > 1e-9 * scale {
                return Err(Error::BadGram {
                    row: j,
                    col: i,
                    value: b,
                    problem: "not symmetric",
                });
            }
        }
    }
    Ok(())
}

/// Falling factorial n (n-1) ... (n-m+1) as f64.
fn falling(n: usize, m: usize) -> f64 {
    (0..m).map(|i| (n - i) as f64).product()
}

impl FeatureMoments {
    /// Estimate the per-class moments from the Gram matrix `gram` (n x n, symmetric) of n
    /// samples with `labels` in `0..k`. See the type docs for the estimators and their
    /// bias. The samples may be in any order.
    ///
    /// Errors: shape or label problems, a non-finite or non-symmetric Gram matrix, or a
    /// class with fewer samples than the estimator needs (4 for unbiased, 1 for plug-in).
    pub fn from_gram(
        gram: MatRef<'_, f64>,
        labels: &[usize],
        k: usize,
        estimator: MomentEstimator,
    ) -> Result<FeatureMoments> {
        if k == 0 {
            return Err(Error::BadSize {
                param: "k",
                value: 0,
                allowed: "the number of classes must be at least 1",
            });
        }
        let n = labels.len();
        imbalance_core::simd::reset_avx_state();
        check_gram(gram, n)?;
        let counts = class_counts(labels, k)?;
        let need = estimator.min_count();
        if let Some((class, &count)) = counts.iter().enumerate().find(|(_, c)| **c < need) {
            return Err(Error::ClassTooSmall {
                class,
                count,
                need,
                estimator: estimator.name(),
            });
        }
        let nf: Vec<f64> = counts.iter().map(|&c| c as f64).collect();

        // Pass 1: per column j, class sums U[j][a] = sum_{i in a} K_ij and SQ[j][a] of squares.
        let cols: Vec<(Vec<f64>, Vec<f64>)> = (0..n)
            .into_par_iter()
            .map(|j| {
                imbalance_core::simd::reset_avx_state();
                let mut u = vec![0.0; k];
                let mut sq = vec![0.0; k];
                for i in 0..n {
                    let v = gram[(i, j)];
                    u[labels[i]] += v;
                    sq[labels[i]] += v * v;
                }
                (u, sq)
            })
            .collect();
        let u = |j: usize, a: usize| cols[j].0[a];
        let sqm = |j: usize, a: usize| cols[j].1[a];
        // S[a][b] = sum of the (a, b) block.
        let mut s = vec![vec![0.0; k]; k];
        for j in 0..n {
            for a in 0..k {
                s[a][labels[j]] += u(j, a);
            }
        }
        // Pass 2: squared Frobenius norms of the doubly centred blocks.
        let fcols: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|j| {
                imbalance_core::simd::reset_avx_state();
                let b = labels[j];
                let mut f = vec![0.0; k];
                let colmean: Vec<f64> = (0..k).map(|a| u(j, a) / nf[a]).collect();
                for i in 0..n {
                    let a = labels[i];
                    let v = gram[(i, j)] - u(i, b) / nf[b] - colmean[a] + s[a][b] / (nf[a] * nf[b]);
                    f[a] += v * v;
                }
                f
            })
            .collect();
        let mut frob = vec![vec![0.0; k]; k];
        for j in 0..n {
            for a in 0..k {
                frob[a][labels[j]] += fcols[j][a];
            }
        }
        let members: Vec<Vec<usize>> = (0..k)
            .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
            .collect();
        // Centred diagonal K~_tt = K_tt - 2 U[t][a]/n_a + S_aa/n_a^2.
        let kdiag = |t: usize| gram[(t, t)];
        let kc = |t: usize| {
            let a = labels[t];
            kdiag(t) - 2.0 * u(t, a) / nf[a] + s[a][a] / (nf[a] * nf[a])
        };

        let unbiased = estimator == MomentEstimator::Unbiased;
        let mut means_gram = Mat::zeros(k, k);
        let mut trace = vec![0.0; k];
        let mut trace_prod = Mat::zeros(k, k);
        for a in 0..k {
            let na = nf[a];
            let tr_c: f64 = members[a].iter().map(|&t| kc(t)).sum();
            let diag_sum: f64 = members[a].iter().map(|&t| kdiag(t)).sum();
            trace[a] = if unbiased {
                tr_c / (na - 1.0)
            } else {
                tr_c / na
            };
            for b in 0..k {
                let nb = nf[b];
                means_gram[(a, b)] = if a != b {
                    s[a][b] / (na * nb)
                } else if unbiased {
                    (s[a][a] - diag_sum) / (na * (na - 1.0))
                } else {
                    s[a][a] / (na * na)
                };
                trace_prod[(a, b)] = if a != b {
                    if unbiased {
                        frob[a][b] / ((na - 1.0) * (nb - 1.0))
                    } else {
                        frob[a][b] / (na * nb)
                    }
                } else if unbiased {
                    // Chen & Qin U-statistic on the centred block (it is translation
                    // invariant, and centring makes r_t = -K~_tt, s = -tr K~).
                    let m = counts[a];
                    let d2: f64 = members[a].iter().map(|&t| kc(t) * kc(t)).sum();
                    let q = frob[a][a] - d2;
                    let t2 = d2 - q;
                    let t3 = tr_c * tr_c - 2.0 * q - 4.0 * t2;
                    q / falling(m, 2) - 2.0 * t2 / falling(m, 3) + t3 / falling(m, 4)
                } else {
                    frob[a][a] / (na * na)
                };
            }
        }

        let mut mean_cov = Vec::with_capacity(k);
        for y in 0..k {
            let ny = nf[y];
            let my = &members[y];
            let mut m = Mat::zeros(k, k);
            if unbiased {
                let r: Vec<f64> = my.iter().map(|&t| u(t, y) - kdiag(t)).collect();
                let sy: f64 = r.iter().sum();
                let qy: f64 = my.iter().map(|&t| sqm(t, y) - kdiag(t) * kdiag(t)).sum();
                let ny_ = counts[y];
                for c in 0..k {
                    for c2 in c..k {
                        let (nc, nc2) = (nf[c], nf[c2]);
                        let theta = if c != y && c2 != y && c != c2 {
                            let dot: f64 = my.iter().map(|&t| u(t, c) * u(t, c2)).sum();
                            dot / (nc * nc2 * ny)
                                - (s[c][y] * s[c2][y] - dot) / (nc * nc2 * ny * (ny - 1.0))
                        } else if c == c2 && c != y {
                            let dot: f64 = my.iter().map(|&t| u(t, c) * u(t, c)).sum();
                            let csq: f64 = my.iter().map(|&t| sqm(t, c)).sum();
                            let rsq: f64 = members[c].iter().map(|&i| u(i, y) * u(i, y)).sum();
                            (dot - csq) / (nc * (nc - 1.0) * ny)
                                - (s[c][y] * s[c][y] - rsq - dot + csq)
                                    / (nc * (nc - 1.0) * ny * (ny - 1.0))
                        } else if c != c2 {
                            // exactly one of c, c2 is y
                            let o = if c == y { c2 } else { c };
                            let no = nf[o];
                            let t1: f64 = my.iter().zip(&r).map(|(&t, &rt)| u(t, o) * rt).sum();
                            let t2: f64 = my
                                .iter()
                                .zip(&r)
                                .map(|(&t, &rt)| u(t, o) * (sy - 2.0 * rt))
                                .sum();
                            t1 / (no * falling(ny_, 2)) - t2 / (no * falling(ny_, 3))
                        } else {
                            // c = c2 = y
                            let rr: f64 = r.iter().map(|v| v * v).sum();
                            let t2 = rr - qy;
                            let t3 = sy * sy - 2.0 * qy - 4.0 * t2;
                            t2 / falling(ny_, 3) - t3 / falling(ny_, 4)
                        };
                        m[(c, c2)] = theta;
                        m[(c2, c)] = theta;
                    }
                }
            } else {
                // v_c[t] = m_c . (phi_t - m_y) for t in y
                let v: Vec<Vec<f64>> = (0..k)
                    .map(|c| {
                        my.iter()
                            .map(|&t| (u(t, c) - s[c][y] / ny) / nf[c])
                            .collect()
                    })
                    .collect();
                for c in 0..k {
                    for c2 in c..k {
                        let theta = v[c].iter().zip(&v[c2]).map(|(a, b)| a * b).sum::<f64>() / ny;
                        m[(c, c2)] = theta;
                        m[(c2, c)] = theta;
                    }
                }
            }
            mean_cov.push(m);
        }

        let effective_rank = (0..k)
            .map(|c| {
                let t2 = trace_prod[(c, c)];
                if t2 > 0.0 {
                    trace[c] * trace[c] / t2
                } else {
                    f64::NAN
                }
            })
            .collect();
        Ok(FeatureMoments {
            estimator,
            counts,
            means_gram,
            trace,
            trace_prod,
            mean_cov,
            effective_rank,
        })
    }
}
