//! End-to-end runs shared by the commands and by `cargo xtask`: one simulation of the Gaussian
//! mixture (sample, train, evaluate), the theory's prediction for the same mixture, and one
//! training run on real images. The commands only add argument parsing and printing.

use faer::Mat;
use imbalance_gmm::{Mixture, TrainingSet, sample_x};
use imbalance_gradflow::{FlowOptions, Horizon, Trained, train};
use imbalance_losses::Method;
use imbalance_theory::{
    GenzOptions, MixtureStats, PredictOptions, Prediction, class_error, predict,
};
use rand::Rng;

use crate::error::Result;

/// How training sets are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sampler {
    /// Sample the Gram matrix X X^T directly (exact in distribution; cost independent of p).
    Direct,
    /// Sample X (n x p) and multiply (cost O(n^2 p); for checking the direct sampler).
    Explicit,
}

/// One simulated training run on the Gaussian mixture and its evaluation.
#[derive(Debug)]
pub struct GmmRun {
    /// Per-class error measured on fresh balanced test draws.
    pub sampled_error: Vec<f64>,
    /// Exact per-class error of the trained W (Gaussian orthant probability given W): the
    /// expectation of `sampled_error`, without test-sampling noise (Genz accuracy ~1e-4).
    pub exact_error: Vec<f64>,
    /// The training set (Gram matrix, labels, projections on the means).
    pub set: TrainingSet,
    /// The trained dual.
    pub trained: Trained,
}

/// Samples a training set from `mixture`, trains `method` to `horizon` by exact gradient flow,
/// and measures per-class errors with `test_per_class` fresh test draws per class (0: skip the
/// sampled errors and return an empty `sampled_error`) and exactly.
pub fn simulate_gmm<R: Rng + ?Sized>(
    mixture: &Mixture,
    method: &Method,
    horizon: Horizon,
    sampler: Sampler,
    test_per_class: usize,
    flow: &FlowOptions,
    rng: &mut R,
) -> Result<GmmRun> {
    let counts = mixture.counts();
    let loss = method.loss(counts)?;
    let offsets = method.prediction_offsets(counts)?;
    let set = match sampler {
        Sampler::Direct => TrainingSet::sample_direct(mixture, rng),
        Sampler::Explicit => {
            let (x, labels) = sample_x(mixture, rng);
            TrainingSet::from_x(mixture, x.as_ref(), labels)
        }
    };
    let trained = train(set.gram.as_ref(), &set.labels, &loss, horizon, flow)?;
    let law = set.logit_law(mixture, trained.a.as_ref());
    let sampled_error = if test_per_class > 0 {
        law.sample_errors(test_per_class, &offsets, rng)
    } else {
        Vec::new()
    };
    let k = mixture.k();
    let cov: Vec<f64> = (0..k * k).map(|ij| law.cov[(ij / k, ij % k)]).collect();
    let exact_error = (0..k)
        .map(|y| {
            let mean: Vec<f64> = (0..k).map(|c| law.means[(y, c)]).collect();
            class_error(&mean, &cov, y, &offsets, &GenzOptions::default())
        })
        .collect::<std::result::Result<Vec<f64>, _>>()?;
    Ok(GmmRun {
        sampled_error,
        exact_error,
        set,
        trained,
    })
}

/// The theory's summary statistics of a mixture (counts, mean Gram matrix, isotropic noise).
pub fn mixture_stats(mixture: &Mixture) -> Result<MixtureStats> {
    Ok(MixtureStats::isotropic(
        mixture.counts().to_vec(),
        row_major(&mixture.mean_gram().to_owned()),
        mixture.sigma(),
        mixture.dim(),
    )?)
}

/// The theory's prediction for `mixture` trained with `method` to `horizon`.
pub fn predict_gmm(mixture: &Mixture, method: &Method, horizon: Horizon) -> Result<Prediction> {
    Ok(predict(
        &mixture_stats(mixture)?,
        method,
        horizon,
        &PredictOptions::default(),
    )?)
}

/// A faer matrix as a row-major vector.
pub fn row_major(m: &Mat<f64>) -> Vec<f64> {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
        .collect()
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
