//! Runs on the Gaussian mixture: one simulation (sample a training set, train by exact
//! gradient flow, evaluate) and the theory's prediction for the same mixture.

use std::fmt;
use std::str::FromStr;

use imbalance_gmm::{Mixture, TrainingSet, try_sample_x};
use imbalance_gradflow::{FlowOptions, Horizon, Trained, train_with_factor};
use imbalance_losses::Method;
use imbalance_theory::{GenzOptions, PredictOptions, Prediction, predict};
use rand::Rng;

use crate::bridge::{exact_class_errors, mixture_stats};
use crate::error::{Result, invalid};

/// How training sets are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// Sample the Gram matrix X X^T directly (exact in distribution; cost independent of p).
    Direct,
    /// Sample X (n x p) and multiply (cost O(n^2 p); for checking the direct sampler).
    Explicit,
}

impl Sampler {
    /// Its name (`direct`, `explicit`).
    pub fn as_str(self) -> &'static str {
        match self {
            Sampler::Direct => "direct",
            Sampler::Explicit => "explicit",
        }
    }
}

impl fmt::Display for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sampler {
    type Err = crate::Error;

    /// Parses `direct` or `explicit` (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Ok(Sampler::Direct),
            "explicit" => Ok(Sampler::Explicit),
            _ => Err(invalid(
                "sampler",
                format!("unknown sampler '{s}'; allowed: direct, explicit"),
            )),
        }
    }
}

/// The default number of fresh test draws per class for `k` classes: 10000 up to K = 100,
/// then `1e10 / K^3` but at least 100. A test draw of one class costs about K^2
/// multiply-adds (its K logits through the K x K noise factor), so the K x M draws cost
/// `M K^3`: at K = 1000, 10000 per class would be 1e13 (about a minute) where the exact
/// errors already come without sampling noise.
pub fn default_test_per_class(k: usize) -> usize {
    const WORK: f64 = 1e10;
    let k = k.max(1) as f64;
    ((WORK / (k * k * k)) as usize).clamp(100, 10_000)
}

/// The flow's options for a simulation of `k` classes, matched to the accuracy of its exact
/// errors. Up to [`imbalance_theory::SHARED_MC_MIN_DIM`] classes (Genz, 1e-4): the defaults
/// (rtol 1e-6). Beyond (the shared Monte Carlo, standard error 1e-3 per class): rtol 1e-4,
/// which needs about half the right-hand sides and moved every class's error by at most 2e-6
/// (K = 200, 10 per class, p = 400, T = 1e4, the same Monte Carlo draws; relative change of
/// the dual 2e-5).
pub fn simulation_flow(k: usize) -> FlowOptions {
    if crate::bridge::uses_shared_monte_carlo(k) {
        FlowOptions::default().with_rtol(1e-4)
    } else {
        FlowOptions::default()
    }
}

/// One simulated training run on the Gaussian mixture and its evaluation.
#[derive(Debug)]
pub struct GmmRun {
    /// Per-class error measured on fresh balanced test draws.
    pub sampled_error: Vec<f64>,
    /// Exact per-class error of the trained W (Gaussian orthant probability given W): the
    /// expectation of `sampled_error`, without test-sampling noise (Genz accuracy ~1e-4; from
    /// 17 classes on a shared Monte Carlo with standard error <= 1e-3 per class).
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
        Sampler::Direct => TrainingSet::try_sample_direct(mixture, rng)?,
        Sampler::Explicit => {
            let (x, labels) = try_sample_x(mixture, rng)?;
            TrainingSet::try_from_x(mixture, x.as_ref(), labels)?
        }
    };
    let factor = set.factor.as_ref().map(|f| f.as_ref());
    let trained = train_with_factor(set.gram.as_ref(), factor, &set.labels, &loss, horizon, flow)?;
    let law = set.logit_law(mixture, trained.a.as_ref());
    let sampled_error = if test_per_class > 0 {
        law.sample_errors(test_per_class, &offsets, rng)
    } else {
        Vec::new()
    };
    let exact_error = exact_class_errors(&law, &offsets, &GenzOptions::default())?;
    Ok(GmmRun {
        sampled_error,
        exact_error,
        set,
        trained,
    })
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
