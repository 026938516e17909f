//! Conversions between the crates' types: the theory's statistics of a [`Mixture`], the exact
//! per-class errors of a [`LogitLaw`], and the anisotropic statistics from
//! [`FeatureMoments`]. gmm, gradflow and features speak faer matrices, the theory flat
//! row-major slices; these functions are the one place that converts.

use faer::{Mat, MatRef, Side};
use imbalance_features::FeatureMoments;
use imbalance_gmm::{LogitLaw, Mixture};
use imbalance_theory::{
    GenzOptions, MixtureStats, MonteCarloOptions, SHARED_MC_MIN_DIM, class_error,
    shared_class_errors,
};

use crate::error::Result;

/// A faer matrix as a row-major vector.
pub fn row_major(m: &Mat<f64>) -> Vec<f64> {
    row_major_ref(m.as_ref())
}

fn row_major_ref(m: MatRef<'_, f64>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
}

/// The theory's summary statistics of a mixture (counts, mean Gram matrix, isotropic noise).
pub fn mixture_stats(mixture: &Mixture) -> Result<MixtureStats> {
    Ok(MixtureStats::isotropic(
        mixture.counts().to_vec(),
        mixture.dim(),
        row_major_ref(mixture.mean_gram()),
        mixture.sigma(),
    )?)
}

/// The exact error of each class under the Gaussian law of its test logits: the probability
/// that class `y`'s logit plus `offsets[y]` is not the largest (a Gaussian orthant
/// probability). `offsets` are the method's prediction offsets (zeros for all but post-hoc
/// methods). Up to [`SHARED_MC_MIN_DIM`] classes each is computed by Genz's algorithm to
/// `genz`'s accuracy; beyond, all classes share one Monte Carlo run
/// ([`shared_class_errors`], standard error at most 1e-3 per class), because the covariance of
/// a trained W's logits is the same for every class.
pub fn exact_class_errors(law: &LogitLaw, offsets: &[f64], genz: &GenzOptions) -> Result<Vec<f64>> {
    let k = law.means.ncols();
    let cov = row_major_ref(law.cov.as_ref());
    if uses_shared_monte_carlo(k) {
        let means = row_major_ref(law.means.as_ref());
        let classes: Vec<usize> = (0..law.means.nrows()).collect();
        let est = shared_class_errors(
            &means,
            &cov,
            &classes,
            offsets,
            &MonteCarloOptions::default(),
        )?;
        return Ok(est.error);
    }
    (0..law.means.nrows())
        .map(|y| {
            let mean: Vec<f64> = (0..k).map(|c| law.means[(y, c)]).collect();
            Ok(class_error(&mean, &cov, y, offsets, genz)?)
        })
        .collect()
}

/// Whether [`exact_class_errors`] takes the shared Monte Carlo for `k` classes (else Genz per
/// class).
pub fn uses_shared_monte_carlo(k: usize) -> bool {
    k > SHARED_MC_MIN_DIM
}

/// How [`exact_class_errors`] computes the errors of `k` classes, in words (for reports).
pub fn exact_errors_path(k: usize) -> &'static str {
    if uses_shared_monte_carlo(k) {
        "shared Monte Carlo for all classes (standard error <= 1e-3 per class)"
    } else {
        "Genz per class (3 standard errors <= 1e-4)"
    }
}

/// The anisotropic theory's statistics built from estimated feature moments.
#[derive(Debug, Clone)]
pub struct AnisotropicStats {
    /// The statistics: the given training counts with the moments' means and covariances.
    pub stats: MixtureStats,
    /// Largest relative amount by which an estimated mean or mean-covariance matrix had to be
    /// moved to be positive semi-definite (most negative eigenvalue / largest eigenvalue; 0
    /// when every estimate was PSD already).
    pub psd_correction: f64,
}

/// The anisotropic [`MixtureStats`] of a training set with `counts` per class whose classes
/// have the (estimated) `moments`. Unbiased estimates can be slightly indefinite: the mean
/// Gram matrix and each mean-covariance matrix are projected onto the PSD cone first, and
/// `tr(Sigma_c Sigma_y)` is symmetrised.
pub fn anisotropic_stats(moments: &FeatureMoments, counts: &[usize]) -> Result<AnisotropicStats> {
    let k = counts.len();
    let (mean_gram, mut worst) = psd_project(moments.means_gram.as_ref(), k);
    let mut mean_cov = Vec::with_capacity(k);
    for m in &moments.mean_cov {
        let (p, w) = psd_project(m.as_ref(), k);
        worst = worst.max(w);
        mean_cov.push(p);
    }
    let t = &moments.trace_prod;
    let trace_prod = (0..k * k)
        .map(|ij| 0.5 * (t[(ij / k, ij % k)] + t[(ij % k, ij / k)]))
        .collect();
    let stats = MixtureStats::anisotropic(
        counts.to_vec(),
        mean_gram,
        moments.trace.clone(),
        trace_prod,
        mean_cov,
    )?;
    Ok(AnisotropicStats {
        stats,
        psd_correction: worst,
    })
}

/// Projects a symmetric K x K matrix onto the PSD cone (negative eigenvalues set to 0);
/// returns it row-major with (most negative eigenvalue / largest eigenvalue), 0 if already PSD.
fn psd_project(m: MatRef<'_, f64>, k: usize) -> (Vec<f64>, f64) {
    let a = Mat::from_fn(k, k, |i, j| 0.5 * (m[(i, j)] + m[(j, i)]));
    let Ok(eig) = a.self_adjoint_eigen(Side::Lower) else {
        return (row_major_ref(m), 0.0);
    };
    let s = eig.S().column_vector();
    let u = eig.U();
    let lmax = (0..k).map(|i| s[i]).fold(0.0, f64::max);
    let lmin = (0..k).map(|i| s[i]).fold(f64::INFINITY, f64::min);
    if lmin >= 0.0 || lmax <= 0.0 {
        return (row_major_ref(m), 0.0);
    }
    let out = (0..k * k)
        .map(|ij| {
            let (i, j) = (ij / k, ij % k);
            (0..k).map(|l| u[(i, l)] * s[l].max(0.0) * u[(j, l)]).sum()
        })
        .collect();
    (out, -lmin / lmax)
}

/// Per-class mean and sample standard deviation (n - 1; 0 for a single run) over runs, each
/// run a per-class vector of equal length.
pub fn per_class_mean_std(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let k = rows.first().map_or(0, Vec::len);
    let r = rows.len() as f64;
    let mean: Vec<f64> = (0..k)
        .map(|c| rows.iter().map(|v| v[c]).sum::<f64>() / r)
        .collect();
    let std = (0..k)
        .map(|c| {
            if rows.len() < 2 {
                return 0.0;
            }
            let ss: f64 = rows.iter().map(|v| (v[c] - mean[c]).powi(2)).sum();
            (ss / (r - 1.0)).sqrt()
        })
        .collect();
    (mean, std)
}
