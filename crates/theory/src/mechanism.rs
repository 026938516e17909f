//! The mechanism of minority failure, as numbers (docs/theory.md §4): per classifier row, the signal
//! norm and the noise norm contributed by each source class.

use imbalance_core::Horizon;
use imbalance_losses::Method;

use crate::meanfield::{PredictOptions, mean_field_dual};
use crate::{MixtureStats, Result};

/// Signal and noise of every classifier row `w_c` (`c = 0..K`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mechanism {
    /// `|P w_c|`: norm of the projection of row c on the span of the class means.
    pub signal: Vec<f64>,
    /// `noise_by_class[c][k]`: norm of the part of row c contributed by the noise of the
    /// class-k training samples (projected off the span of the means).
    pub noise_by_class: Vec<Vec<f64>>,
    /// Total noise norm of row c (the part of `w_c` orthogonal to the span of the means).
    pub noise: Vec<f64>,
    /// `noise / signal` per row (infinite if the signal is 0).
    pub ratio: Vec<f64>,
}

fn finish(signal: Vec<f64>, noise_by_class: Vec<Vec<f64>>, noise: Vec<f64>) -> Mechanism {
    let ratio = signal
        .iter()
        .zip(&noise)
        .map(|(s, n)| if *s > 0.0 { n / s } else { f64::INFINITY })
        .collect();
    Mechanism {
        signal,
        noise_by_class,
        noise,
        ratio,
    }
}

/// The theory's mechanism numbers for the mean-field dual at `horizon`.
///
/// Row `w_c = sum_k a^(k)_c (n_k mu_k + N_k)` with `N_k` the summed noise of the class-k
/// samples. In the mean field the noise vectors are orthogonal to the means and to each other
/// (p >> n), so: signal `= sqrt(sum_{k,k'} a^(k)_c a^(k')_c n_k n_k' M_kk')`, noise from class k
/// `= |a^(k)_c| sqrt(n_k tr Sigma_k)` (isotropic: `|a^(k)_c| sigma sqrt(n_k p)`), total noise
/// `= sqrt(sum_k noise_k^2)`. At T = infinity the dual is the max-margin one (its scale is
/// arbitrary; the ratio is not).
pub fn mechanism(
    stats: &MixtureStats,
    method: &Method,
    horizon: Horizon,
    opts: &PredictOptions,
) -> Result<Mechanism> {
    let a = mean_field_dual(stats, method, horizon, opts)?;
    let k = stats.k();
    let n: Vec<f64> = stats.counts().iter().map(|&c| c as f64).collect();
    let m = stats.mean_gram();
    let mut signal = vec![0.0; k];
    let mut noise_by_class = vec![vec![0.0; k]; k];
    let mut noise = vec![0.0; k];
    for c in 0..k {
        let mut s2 = 0.0;
        for j in 0..k {
            for j2 in 0..k {
                s2 += a[j * k + c] * a[j2 * k + c] * n[j] * n[j2] * m[j * k + j2];
            }
        }
        signal[c] = s2.max(0.0).sqrt();
        for src in 0..k {
            noise_by_class[c][src] =
                a[src * k + c].abs() * (n[src] * stats.noise_trace(src)).sqrt();
        }
        noise[c] = noise_by_class[c].iter().map(|x| x * x).sum::<f64>().sqrt();
    }
    Ok(finish(signal, noise_by_class, noise))
}

/// Eigen-decomposition of a symmetric K x K matrix by cyclic Jacobi rotations:
/// (eigenvalues, eigenvectors as columns of a row-major matrix).
pub(crate) fn sym_eigen(a: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v: Vec<f64> = (0..k * k)
        .map(|ij| if ij / k == ij % k { 1.0 } else { 0.0 })
        .collect();
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j] * a[i * k + j])
            .sum();
        let diag: f64 = (0..k).map(|i| a[i * k + i] * a[i * k + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * k + q] - a[p * k + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
                for r in 0..k {
                    let (vrp, vrq) = (v[r * k + p], v[r * k + q]);
                    v[r * k + p] = c * vrp - s * vrq;
                    v[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

/// Moore-Penrose pseudo-inverse of a symmetric PSD K x K matrix (eigenvalues below 1e-12 of
/// the largest count as zero).
fn pseudo_inverse(m: &[f64], k: usize) -> Vec<f64> {
    let (w, v) = sym_eigen(m, k);
    let wmax = w.iter().fold(0.0f64, |x, y| x.max(y.abs()));
    let mut out = vec![0.0; k * k];
    for e in 0..k {
        if w[e] > 1e-12 * wmax {
            for i in 0..k {
                for j in 0..k {
                    out[i * k + j] += v[i * k + e] * v[j * k + e] / w[e];
                }
            }
        }
    }
    out
}

/// `g^T M^+ g`: the squared norm of the projection on span(mu) of a vector whose inner
/// products with the means are `g`.
fn proj_sq(minv: &[f64], g: &[f64]) -> f64 {
    let k = g.len();
    let mut s = 0.0;
    for i in 0..k {
        for j in 0..k {
            s += g[i] * minv[i * k + j] * g[j];
        }
    }
    s
}

/// The same numbers measured on a trained dual `a` of the exact gradient flow (`W = A^T X`),
/// from inner products only.
///
/// Inputs: class `counts` (K), `labels` (n), `gram` (`x_i . x_j`, n x n row-major),
/// `mean_proj` (`x_i . mu_k`, n x K row-major), `mean_gram` (`M = mu mu^T`, K x K) and
/// `a` (n x K row-major). With `P` the orthogonal projection on span(mu) and
/// `M^+` the pseudo-inverse of M, for every row `w_c = sum_i A_ic x_i`:
///
/// - `signal[c] = |P w_c| = sqrt(g^T M^+ g)`, `g_k = w_c . mu_k = sum_i A_ic (x_i . mu_k)`;
/// - `noise[c] = |(I - P) w_c| = sqrt(|w_c|^2 - |P w_c|^2)`, `|w_c|^2 = A_c^T Kmat A_c`;
/// - `noise_by_class[c][k] = |(I - P) v_ck|` for `v_ck = sum_{i in k} A_ic (x_i - mu_k)`, with
///   `|v_ck|^2 = sum_{i,j in k} A_ic A_jc (K_ij - (x_i.mu_k) - (x_j.mu_k) + M_kk)` and
///   `v_ck . mu_l = sum_{i in k} A_ic ((x_i.mu_l) - M_kl)`.
///
/// Because `w_c - sum_k v_ck` lies in span(mu), the total noise is the norm of
/// `sum_k (I - P) v_ck`; the per-class parts are not exactly orthogonal, so their squares add up
/// to `noise^2` only approximately (exactly in the p >> n limit of the theory).
///
/// Panics if the shapes disagree (internal use: the arrays come from one trained model).
pub fn mechanism_from_dual(
    counts: &[usize],
    labels: &[usize],
    gram: &[f64],
    mean_proj: &[f64],
    mean_gram: &[f64],
    a: &[f64],
) -> Mechanism {
    let k = counts.len();
    let n = labels.len();
    assert!(
        gram.len() == n * n
            && mean_proj.len() == n * k
            && mean_gram.len() == k * k
            && a.len() == n * k,
        "shape mismatch"
    );
    assert!(labels.iter().all(|&y| y < k), "label out of range");
    let minv = pseudo_inverse(mean_gram, k);
    let by_class: Vec<Vec<usize>> = (0..k)
        .map(|c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    let mut signal = vec![0.0; k];
    let mut noise = vec![0.0; k];
    let mut noise_by_class = vec![vec![0.0; k]; k];
    let mut ka = vec![0.0; n];
    for c in 0..k {
        // |w_c|^2 = A_c^T Kmat A_c
        for i in 0..n {
            ka[i] = (0..n).map(|j| gram[i * n + j] * a[j * k + c]).sum();
        }
        let w2: f64 = (0..n).map(|i| a[i * k + c] * ka[i]).sum();
        let g: Vec<f64> = (0..k)
            .map(|l| (0..n).map(|i| a[i * k + c] * mean_proj[i * k + l]).sum())
            .collect();
        let p2 = proj_sq(&minv, &g);
        signal[c] = p2.max(0.0).sqrt();
        noise[c] = (w2 - p2).max(0.0).sqrt();
        for (src, idx) in by_class.iter().enumerate() {
            let mut v2 = 0.0;
            for &i in idx {
                let ai = a[i * k + c];
                if ai == 0.0 {
                    continue;
                }
                for &j in idx {
                    let centred = gram[i * n + j] - mean_proj[i * k + src] - mean_proj[j * k + src]
                        + mean_gram[src * k + src];
                    v2 += ai * a[j * k + c] * centred;
                }
            }
            let h: Vec<f64> = (0..k)
                .map(|l| {
                    idx.iter()
                        .map(|&i| a[i * k + c] * (mean_proj[i * k + l] - mean_gram[src * k + l]))
                        .sum()
                })
                .collect();
            noise_by_class[c][src] = (v2 - proj_sq(&minv, &h)).max(0.0).sqrt();
        }
    }
    finish(signal, noise_by_class, noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_pseudo_inverse_inverts_and_handles_rank_deficiency() {
        let m = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = pseudo_inverse(&m, 3);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|l| m[i * 3 + l] * inv[l * 3 + j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        // Rank one: M = u u^T, M^+ = u u^T / |u|^4.
        let u = [1.0, 2.0, 2.0];
        let m: Vec<f64> = (0..9).map(|ij| u[ij / 3] * u[ij % 3]).collect();
        let inv = pseudo_inverse(&m, 3);
        for ij in 0..9 {
            assert!((inv[ij] - m[ij] / 81.0).abs() < 1e-12);
        }
    }
}
