//! A training set ready to train on: its Gram matrix, the cross Gram matrix with a test set
//! and, with the theory on, the anisotropic fit of its feature moments ([`PreparedGram`],
//! [`TheoryFit`], [`fit_anisotropic`]); [`PreparedGram::measure`] trains a method and counts
//! its errors ([`Measured`]), [`PreparedGram::predict`] asks the theory.

use std::time::Instant;

use faer::{Mat, MatRef};
use imbalance_features::{FeatureMoments, MomentEstimator};
use imbalance_gradflow::{FlowOptions, Horizon, Trained, logits, train};
use imbalance_losses::{Method, MethodName};
use imbalance_theory::{MixtureStats, Objective, PredictOptions, Prediction, Tuned, predict, tune};

use crate::bridge::anisotropic_stats;
use crate::error::{Error, Result, invalid};
use crate::feature_map::FeatureMap;

/// Errors unless every class has at least one training sample.
pub(crate) fn check_nonempty(counts: &[usize]) -> Result<()> {
    match counts.iter().position(|&n| n == 0) {
        Some(class) => Err(Error::EmptyClass { class }),
        None => Ok(()),
    }
}

/// The theory fitted to the feature moments of a class-balanced sample.
#[derive(Debug, Clone)]
pub struct TheoryFit {
    /// Samples per class the moments were estimated from (the smallest class's, if the sample
    /// was not balanced).
    pub moment_samples: usize,
    /// Samples of each class the moments were estimated from.
    pub moment_counts: Vec<usize>,
    /// The estimated moments (unbiased U-statistics).
    pub moments: FeatureMoments,
    /// The theory's statistics: the training counts with the sample's moments.
    pub stats: MixtureStats,
    /// Effective rank tr(Sigma_c)^2 / tr(Sigma_c^2) per class (compare with n).
    pub effective_rank: Vec<f64>,
    /// Largest relative amount by which an estimated mean or mean-covariance matrix had to be
    /// moved to be positive semi-definite (see [`crate::AnisotropicStats`]).
    pub psd_correction: f64,
}

/// Errors unless every label is a class in `0..k`.
fn check_labels(parameter: &'static str, labels: &[usize], k: usize) -> Result<()> {
    match labels.iter().find(|&&l| l >= k) {
        Some(l) => Err(invalid(
            parameter,
            format!("label {l} is not a class 0..{}", k.saturating_sub(1)),
        )),
        None => Ok(()),
    }
}

/// A training set and a test set in kernel form (Gram and cross Gram matrices with labels),
/// ready to train methods on and to measure them; optionally with the theory's fit.
#[derive(Debug, Clone)]
pub struct PreparedGram {
    /// Training samples per class.
    pub counts: Vec<usize>,
    /// Labels of the training samples.
    pub train_labels: Vec<usize>,
    /// Gram matrix of the training features (n x n).
    pub gram: Mat<f64>,
    /// Cross Gram matrix: features of every test sample against the training features
    /// (n_test x n).
    pub cross: Mat<f64>,
    /// Labels of the test samples.
    pub test_labels: Vec<usize>,
    /// Test samples per class.
    pub test_counts: Vec<usize>,
    /// The theory's fit, when asked for ([`PreparedGram::fit_theory`]).
    pub theory: Option<TheoryFit>,
}

impl PreparedGram {
    /// From Gram matrices: `gram` (n x n) of the training features with `train_labels`
    /// (n labels in `0..k`, every class present) and `cross` (n_test x n) of the test features
    /// against them with `test_labels`.
    pub fn from_gram(
        gram: Mat<f64>,
        train_labels: Vec<usize>,
        cross: Mat<f64>,
        test_labels: Vec<usize>,
        k: usize,
    ) -> Result<Self> {
        let n = train_labels.len();
        if gram.nrows() != n || gram.ncols() != n {
            return Err(invalid(
                "gram",
                format!(
                    "is {} x {}, but there are {n} training labels",
                    gram.nrows(),
                    gram.ncols()
                ),
            ));
        }
        if cross.ncols() != n || cross.nrows() != test_labels.len() {
            return Err(invalid(
                "cross",
                format!(
                    "is {} x {}, but there are {} test and {n} training labels",
                    cross.nrows(),
                    cross.ncols(),
                    test_labels.len()
                ),
            ));
        }
        check_labels("train_labels", &train_labels, k)?;
        check_labels("test_labels", &test_labels, k)?;
        let counts = label_counts(&train_labels, k);
        check_nonempty(&counts)?;
        let test_counts = label_counts(&test_labels, k);
        Ok(Self {
            counts,
            train_labels,
            gram,
            cross,
            test_labels,
            test_counts,
            theory: None,
        })
    }

    /// From feature inputs: the rows of `x_train` (n x d) and `x_test` (n_test x d) mapped
    /// through `map`, with their labels in `0..k`.
    pub fn from_features(
        map: &FeatureMap,
        x_train: MatRef<'_, f64>,
        train_labels: Vec<usize>,
        x_test: MatRef<'_, f64>,
        test_labels: Vec<usize>,
        k: usize,
    ) -> Result<Self> {
        if x_train.nrows() != train_labels.len() {
            return Err(invalid(
                "train_labels",
                format!(
                    "{} labels for {} training rows",
                    train_labels.len(),
                    x_train.nrows()
                ),
            ));
        }
        if x_test.nrows() != test_labels.len() {
            return Err(invalid(
                "test_labels",
                format!(
                    "{} labels for {} test rows",
                    test_labels.len(),
                    x_test.nrows()
                ),
            ));
        }
        check_labels("train_labels", &train_labels, k)?;
        check_labels("test_labels", &test_labels, k)?;
        check_nonempty(&label_counts(&train_labels, k))?;
        let (gram, cross) = map.gram_and_cross(x_train, x_test)?;
        Self::from_gram(gram, train_labels, cross, test_labels, k)
    }

    /// Fits the anisotropic theory to this training set's counts from the rows of `x` (a
    /// class-balanced sample from the same distribution, labels in `0..K`): [`fit_anisotropic`].
    pub fn fit_theory(
        &mut self,
        map: &FeatureMap,
        x: MatRef<'_, f64>,
        labels: &[usize],
    ) -> Result<()> {
        self.theory = Some(fit_anisotropic(map, x, labels, &self.counts)?);
        Ok(())
    }

    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Trains `method` to `horizon` on the training set and measures its per-class test error
    /// (prediction offsets of post-hoc methods included).
    pub fn measure(
        &self,
        method: &Method,
        horizon: Horizon,
        flow: &FlowOptions,
    ) -> Result<Measured> {
        let t = Instant::now();
        let loss = method.loss(&self.counts)?;
        let offsets = method.prediction_offsets(&self.counts)?;
        let trained = train(self.gram.as_ref(), &self.train_labels, &loss, horizon, flow)?;
        let z = logits(trained.a.as_ref(), self.cross.as_ref());
        let k = self.k();
        let mut wrong = vec![0usize; k];
        for (i, &y) in self.test_labels.iter().enumerate() {
            let score = |c: usize| z[(i, c)] + offsets[c];
            let pred = (1..k).fold(0, |best, c| if score(c) > score(best) { c } else { best });
            if pred != y {
                wrong[y] += 1;
            }
        }
        let per_class_error = wrong
            .iter()
            .zip(&self.test_counts)
            .map(|(&w, &n)| {
                if n == 0 {
                    f64::NAN
                } else {
                    w as f64 / n as f64
                }
            })
            .collect();
        Ok(Measured {
            per_class_error,
            trained,
            seconds: t.elapsed().as_secs_f64(),
        })
    }

    /// The anisotropic theory's prediction for `method` trained to `horizon` on this training
    /// set; `None` when the theory was not fitted.
    pub fn predict(&self, method: &Method, horizon: Horizon) -> Result<Option<Prediction>> {
        match &self.theory {
            None => Ok(None),
            Some(fit) => Ok(Some(predict(
                &fit.stats,
                method,
                horizon,
                &PredictOptions::default(),
            )?)),
        }
    }

    /// The theory's choice of `method`'s hyperparameter on the fitted statistics (see
    /// [`imbalance_theory::tune`]): from the moment sample of the training pool alone, no test
    /// data. Errors when no theory was fitted (`moment_samples` was `None`), for CE (nothing to
    /// tune) and where the theory's tuning fails.
    pub fn tune(
        &self,
        method: MethodName,
        objective: Objective,
        horizon: Horizon,
    ) -> Result<Tuned> {
        let fit = self.theory.as_ref().ok_or_else(|| Error::Invalid {
            parameter: "tune",
            problem: "needs the theory: give moment samples to fit it".into(),
        })?;
        Ok(tune(
            &fit.stats,
            method,
            objective,
            horizon,
            &PredictOptions::default(),
        )?)
    }

    /// The time scale of the early flow, n / (mean diagonal of the Gram matrix): gradient flow
    /// needs T well beyond it to fit the training set.
    pub fn time_scale(&self) -> f64 {
        let n = self.gram.nrows();
        let tr: f64 = (0..n).map(|i| self.gram[(i, i)]).sum();
        n as f64 * n as f64 / tr
    }
}

/// Fits the anisotropic theory: estimates the per-class feature moments (unbiased
/// U-statistics) from the rows of `x` (a class-balanced sample from the distribution the
/// training set is drawn from, labels in `0..K` with K = `counts.len()`, at least 4 rows per
/// class) mapped through `map`, and combines them with the training `counts` (docs/theory.md §4,
/// anisotropic extension). The theory's prediction is then `imbalance_theory::predict` on
/// the fit's `stats`; [`PreparedGram::fit_theory`] is this for a prepared training set.
pub fn fit_anisotropic(
    map: &FeatureMap,
    x: MatRef<'_, f64>,
    labels: &[usize],
    counts: &[usize],
) -> Result<TheoryFit> {
    let k = counts.len();
    if x.nrows() != labels.len() {
        return Err(invalid(
            "moment_labels",
            format!("{} labels for {} rows", labels.len(), x.nrows()),
        ));
    }
    check_labels("moment_labels", labels, k)?;
    let per_class = label_counts(labels, k);
    let fewest = per_class.iter().copied().min().unwrap_or(0);
    if fewest < 4 {
        return Err(Error::TooFewMomentSamples { given: fewest });
    }
    let g = map.gram(x)?;
    let moments = FeatureMoments::from_gram(g.as_ref(), labels, k, MomentEstimator::Unbiased)?;
    let fit = anisotropic_stats(&moments, counts)?;
    Ok(TheoryFit {
        moment_samples: fewest,
        moment_counts: per_class,
        effective_rank: moments.effective_rank.clone(),
        moments,
        stats: fit.stats,
        psd_correction: fit.psd_correction,
    })
}

/// One trained method, evaluated on the test set.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Test error of each class on the full test set.
    pub per_class_error: Vec<f64>,
    /// The trained dual.
    pub trained: Trained,
    /// Seconds spent training and evaluating.
    pub seconds: f64,
}

/// Per-class counts of labels in `0..k` (labels checked before).
fn label_counts(labels: &[usize], k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    for &l in labels {
        c[l] += 1;
    }
    c
}
