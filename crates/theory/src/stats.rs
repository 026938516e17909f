//! The statistics of a K-class Gaussian mixture that the mean-field theory needs.

use crate::genz::check_covariance;
use crate::{Error, Result};

/// The noise part of the mixture `x = mu_c + noise`.
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseModel {
    /// `noise = sigma * z`, `z ~ N(0, I_dim)` for every class.
    Isotropic {
        /// Noise standard deviation per coordinate, > 0.
        sigma: f64,
        /// Dimension p, >= 1.
        dim: usize,
    },
    /// `noise = Sigma_c^{1/2} z` with class-dependent covariances, through the traces the theory
    /// uses (docs/theory.md §4, anisotropic extension).
    Anisotropic {
        /// `tr Sigma_c` per class (length K, > 0).
        trace: Vec<f64>,
        /// `tr(Sigma_c Sigma_y)`, K x K row-major (row c, column y), symmetric, >= 0.
        trace_prod: Vec<f64>,
        /// Per class y: the K x K matrix `mu_c^T Sigma_y mu_c'` (row-major), PSD.
        mean_cov: Vec<Vec<f64>>,
    },
}

/// Class counts, the Gram matrix of the class means, and the noise model: everything the
/// mean-field theory needs about the training distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureStats {
    counts: Vec<usize>,
    mean_gram: Vec<f64>,
    noise: NoiseModel,
}

fn check_counts(counts: &[usize]) -> Result<()> {
    Ok(imbalance_core::check_counts(counts)?)
}

/// Checks a K x K PSD matrix: shape, finite, symmetric, and PSD by a Cholesky with a tolerance.
pub(crate) fn check_psd(name: &'static str, m: &[f64], k: usize) -> Result<()> {
    check_covariance(name, m, k)?;
    let scale = (0..k).map(|i| m[i * k + i]).fold(0.0, f64::max);
    if scale == 0.0 {
        return Ok(());
    }
    // Plain Cholesky of m + eps I: a clearly negative pivot means not PSD.
    let eps = 1e-10 * scale;
    // A diagonal matrix (orthogonal means) is its own Cholesky factor squared: the pivots are
    // the diagonal, so skip the O(K^3) elimination (K = 1000).
    if (0..k * k).all(|ij| ij / k == ij % k || m[ij] == 0.0) {
        return match (0..k).map(|j| m[j * k + j] + eps).find(|&d| d <= 0.0) {
            Some(d) => Err(Error::NotPsd {
                name,
                pivot: d / scale,
            }),
            None => Ok(()),
        };
    }
    let mut l = m.to_vec();
    crate::linalg::cholesky_in_place(&mut l, k, eps).map_err(|bad| Error::NotPsd {
        name,
        pivot: bad.value / scale,
    })?;
    Ok(())
}

fn check_positive(name: &'static str, v: f64) -> Result<()> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(Error::BadValue {
            name,
            value: v,
            allowed: "a finite number > 0",
        })
    }
}

impl MixtureStats {
    /// Isotropic noise `sigma * N(0, I_dim)` and class means with Gram matrix `mean_gram`
    /// (K x K row-major, `M = mu mu^T`, symmetric PSD). The argument order is that of
    /// `imbalance_gmm::Mixture::new`: counts, dimension, means, noise.
    pub fn isotropic(
        counts: Vec<usize>,
        dim: usize,
        mean_gram: Vec<f64>,
        sigma: f64,
    ) -> Result<Self> {
        check_counts(&counts)?;
        check_psd("mean_gram", &mean_gram, counts.len())?;
        check_positive("sigma", sigma)?;
        if dim == 0 {
            return Err(Error::BadValue {
                name: "dim",
                value: 0.0,
                allowed: "at least 1",
            });
        }
        Ok(Self {
            counts,
            mean_gram,
            noise: NoiseModel::Isotropic { sigma, dim },
        })
    }

    /// The default mixture of docs/theory.md §1: orthogonal means `mu_c = snr * e_c` (so `M = snr^2 I`),
    /// isotropic noise. `snr >= 0`, and `dim >= K` so that K orthogonal means exist. The
    /// argument order is that of `imbalance_gmm::Mixture::new`: counts, dimension, means, noise.
    pub fn orthogonal(counts: Vec<usize>, dim: usize, snr: f64, sigma: f64) -> Result<Self> {
        check_counts(&counts)?;
        if !(snr >= 0.0 && snr.is_finite()) {
            return Err(Error::BadValue {
                name: "snr",
                value: snr,
                allowed: "a finite number >= 0",
            });
        }
        let k = counts.len();
        if dim < k {
            return Err(Error::BadValue {
                name: "dim",
                value: dim as f64,
                allowed: "at least K (orthogonal means need dim >= number of classes)",
            });
        }
        let gram = (0..k * k)
            .map(|ij| if ij / k == ij % k { snr * snr } else { 0.0 })
            .collect();
        Self::isotropic(counts, dim, gram, sigma)
    }

    /// Class-dependent noise covariances, through `tr Sigma_c` (`trace`, length K, > 0),
    /// `tr(Sigma_c Sigma_y)` (`trace_prod`, K x K, symmetric, non-negative) and, for every y,
    /// `mu_c^T Sigma_y mu_c'` (`mean_cov[y]`, K x K, PSD).
    pub fn anisotropic(
        counts: Vec<usize>,
        mean_gram: Vec<f64>,
        trace: Vec<f64>,
        trace_prod: Vec<f64>,
        mean_cov: Vec<Vec<f64>>,
    ) -> Result<Self> {
        check_counts(&counts)?;
        let k = counts.len();
        check_psd("mean_gram", &mean_gram, k)?;
        if trace.len() != k {
            return Err(Error::WrongLength {
                name: "trace",
                got: trace.len(),
                expected: k,
            });
        }
        for &t in &trace {
            check_positive("trace", t)?;
        }
        check_covariance("trace_prod", &trace_prod, k)?;
        for c in 0..k {
            for y in 0..k {
                let v = trace_prod[c * k + y];
                if v < 0.0 {
                    return Err(Error::BadEntry {
                        name: "trace_prod",
                        row: c,
                        col: y,
                        value: v,
                        allowed: "tr(Sigma_c Sigma_y) must be >= 0",
                    });
                }
            }
        }
        if mean_cov.len() != k {
            return Err(Error::WrongLength {
                name: "mean_cov",
                got: mean_cov.len(),
                expected: k,
            });
        }
        for m in &mean_cov {
            check_psd("mean_cov", m, k)?;
        }
        Ok(Self {
            counts,
            mean_gram,
            noise: NoiseModel::Anisotropic {
                trace,
                trace_prod,
                mean_cov,
            },
        })
    }

    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Training counts per class.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// Total number of training samples n.
    pub fn n(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The Gram matrix of the means, K x K row-major.
    pub fn mean_gram(&self) -> &[f64] {
        &self.mean_gram
    }

    /// The noise model.
    pub fn noise(&self) -> &NoiseModel {
        &self.noise
    }

    /// `tr Sigma_c` (isotropic: `sigma^2 p`), the diagonal part of the training Gram matrix.
    pub(crate) fn noise_trace(&self, c: usize) -> f64 {
        match &self.noise {
            NoiseModel::Isotropic { sigma, dim } => sigma * sigma * *dim as f64,
            NoiseModel::Anisotropic { trace, .. } => trace[c],
        }
    }

    /// `tr(Sigma_c Sigma_y)` (isotropic: `sigma^4 p`).
    pub(crate) fn noise_trace_prod(&self, c: usize, y: usize) -> f64 {
        match &self.noise {
            NoiseModel::Isotropic { sigma, dim } => sigma.powi(4) * *dim as f64,
            NoiseModel::Anisotropic { trace_prod, .. } => trace_prod[c * self.k() + y],
        }
    }

    /// `mu_c^T Sigma_y mu_c'` (isotropic: `sigma^2 M_cc'`).
    pub(crate) fn mean_cov(&self, y: usize, c: usize, c2: usize) -> f64 {
        let k = self.k();
        match &self.noise {
            NoiseModel::Isotropic { sigma, .. } => sigma * sigma * self.mean_gram[c * k + c2],
            NoiseModel::Anisotropic { mean_cov, .. } => mean_cov[y][c * k + c2],
        }
    }

    /// `Some(s)` when the means are orthogonal with equal norm `s` (M = s^2 I to relative 1e-12)
    /// and the noise is isotropic: the case of the closed forms.
    pub fn orthogonal_snr(&self) -> Option<f64> {
        if !matches!(self.noise, NoiseModel::Isotropic { .. }) {
            return None;
        }
        let k = self.k();
        let s2 = self.mean_gram[0];
        let tol = 1e-12 * s2.abs().max(f64::MIN_POSITIVE);
        for i in 0..k {
            for j in 0..k {
                let want = if i == j { s2 } else { 0.0 };
                if (self.mean_gram[i * k + j] - want).abs() > tol {
                    return None;
                }
            }
        }
        Some(s2.sqrt())
    }

    /// Whether swapping classes `c` and `d` leaves the statistics unchanged (relative 1e-12), so
    /// that every method built from class counts treats them alike.
    fn swap_invariant(&self, c: usize, d: usize) -> bool {
        let k = self.k();
        let perm = |i: usize| {
            if i == c {
                d
            } else if i == d {
                c
            } else {
                i
            }
        };
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs());
        if self.counts[c] != self.counts[d] {
            return false;
        }
        let m = &self.mean_gram;
        for i in 0..k {
            for j in 0..k {
                if !close(m[i * k + j], m[perm(i) * k + perm(j)]) {
                    return false;
                }
            }
        }
        match &self.noise {
            NoiseModel::Isotropic { .. } => true,
            NoiseModel::Anisotropic {
                trace,
                trace_prod,
                mean_cov,
            } => {
                close(trace[c], trace[d])
                    && (0..k * k).all(|ij| {
                        let (i, j) = (ij / k, ij % k);
                        close(trace_prod[ij], trace_prod[perm(i) * k + perm(j)])
                            && (0..k).all(|y| {
                                close(mean_cov[y][ij], mean_cov[perm(y)][perm(i) * k + perm(j)])
                            })
                    })
            }
        }
    }

    /// For every class, the smallest class exchangeable with it (transpositions that leave the
    /// statistics unchanged generate the groups). Exchangeable classes have equal predicted
    /// errors under every method, whose loss depends on the classes only through their counts.
    pub(crate) fn exchangeable_groups(&self) -> Vec<usize> {
        let k = self.k();
        let m = &self.mean_gram;
        // Isotropic noise with exactly diagonal M: a swap leaves the statistics unchanged iff
        // the counts and the two diagonal entries agree (what `swap_invariant` checks, in O(1)
        // instead of O(K^2), so that K = 1000 costs K * groups tests, not K^4).
        let diagonal = matches!(self.noise, NoiseModel::Isotropic { .. })
            && (0..k * k).all(|ij| ij / k == ij % k || m[ij] == 0.0);
        let invariant = |c: usize, d: usize| {
            if diagonal {
                let (x, y) = (m[c * k + c], m[d * k + d]);
                self.counts[c] == self.counts[d] && (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            } else {
                self.swap_invariant(c, d)
            }
        };
        let mut root: Vec<usize> = (0..k).collect();
        let mut roots: Vec<usize> = Vec::new();
        for d in 0..k {
            match roots.iter().find(|&&c| invariant(c, d)) {
                Some(&c) => root[d] = c,
                None => roots.push(d),
            }
        }
        root
    }

    #[cfg(test)]
    /// [`Self::exchangeable_groups`] by the general O(K^4) test (to check the fast path).
    pub(crate) fn exchangeable_groups_general(&self) -> Vec<usize> {
        let k = self.k();
        let mut root: Vec<usize> = (0..k).collect();
        for d in 0..k {
            for c in 0..d {
                if root[c] == c && self.swap_invariant(c, d) {
                    root[d] = c;
                    break;
                }
            }
        }
        root
    }

    /// The same mixture with other class counts (same K).
    pub fn with_counts(&self, counts: Vec<usize>) -> Result<Self> {
        check_counts(&counts)?;
        if counts.len() != self.k() {
            return Err(Error::WrongLength {
                name: "counts",
                got: counts.len(),
                expected: self.k(),
            });
        }
        Ok(Self {
            counts,
            ..self.clone()
        })
    }
}
