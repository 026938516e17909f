//! Training on real images (MNIST, Fashion-MNIST, CIFAR-10) or on given feature matrices with
//! random features, and the anisotropic theory's prediction for the same run: the pipeline
//! behind `imbalance train` and experiment E7 of `cargo xtask reproduce`.
//!
//! One run: draw an imbalanced subsample of the training pool ([`ClassCounts`]), scale the
//! pixels to [0, 1] and centre them by the mean of the whole pool, map them through a feature
//! map ([`FeatureSpec`]), form the Gram matrix of the subsample and its cross Gram matrix with
//! the full official test set, train by exact gradient flow to T, and count the errors per
//! class on the test set. With the theory on, the per-class feature moments are estimated from
//! a class-balanced sample of the pool (one more Gram matrix, unbiased U-statistics), turned
//! into [`MixtureStats::anisotropic`] with the subsample's counts (docs/theory.md §4, anisotropic
//! extension), and [`predict`] gives the per-class errors beside the measured ones.
//!
//! [`prepare_images`] does the expensive part once (subsample, Gram matrices, moments) so that
//! several methods can be trained and predicted on the same subsample
//! ([`PreparedGram::measure`], [`PreparedGram::predict`]); [`train_images`] does one
//! method end to end. Feature rows a user extracted ([`FeatureSet`], e.g. from `.npy` files)
//! go through the same run, used as given, by [`prepare_features`] and [`train_features`].
//! Data that is not one of the built-in datasets can also enter one step later:
//! [`PreparedGram::from_features`] takes train and test feature matrices with their labels
//! (and [`PreparedGram::fit_theory`] a class-balanced moment sample), [`PreparedGram::from_gram`]
//! takes Gram matrices directly.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use faer::{Mat, MatRef};
use imbalance_datasets::{
    Dataset, DatasetName, FeatureSet, MinorityChoice, Split, choose_minority, preprocess,
    step_counts, subsample,
};
use imbalance_features::{
    Activation, FeatureMoments, FeatureParams, MomentEstimator, RandomFeatures, limit_gram,
    limit_kernel,
};
use imbalance_gmm::Profile;
use imbalance_gradflow::{FlowOptions, Horizon, Trained, logits, train};
use imbalance_losses::{Method, MethodName};
use imbalance_theory::{MixtureStats, Objective, PredictOptions, Prediction, Tuned, predict, tune};
use rand::{Rng, RngExt};

use crate::bridge::anisotropic_stats;
use crate::error::{Error, Result, Sample, invalid};

/// Default number of pool images per class used to estimate the feature moments (at most:
/// a class with fewer uses all it has, see [`MomentSamples::UpTo`]).
pub const DEFAULT_MOMENT_SAMPLES: usize = 500;

/// How many pool images of each class the feature moments are estimated from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MomentSamples {
    /// Exactly this many of every class; a class with fewer pool images is an error.
    Exactly(usize),
    /// Every pool image of a class, up to this many (the default: up to
    /// [`DEFAULT_MOMENT_SAMPLES`]), so a user's small classes need no flag.
    UpTo(usize),
}

impl Default for MomentSamples {
    fn default() -> Self {
        MomentSamples::UpTo(DEFAULT_MOMENT_SAMPLES)
    }
}

impl MomentSamples {
    /// The largest number of images per class this asks for.
    pub fn max_per_class(self) -> usize {
        match self {
            MomentSamples::Exactly(m) | MomentSamples::UpTo(m) => m,
        }
    }

    /// Images per class for a pool with `pool_counts` images per class (not checked against
    /// them: [`MomentSamples::Exactly`] may ask for more than a class has).
    pub fn per_class(self, pool_counts: &[usize]) -> Vec<usize> {
        match self {
            MomentSamples::Exactly(m) => vec![m; pool_counts.len()],
            MomentSamples::UpTo(m) => pool_counts.iter().map(|&have| have.min(m)).collect(),
        }
    }
}

/// The feature map applied to the preprocessed pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureSpec {
    /// `width` random features `act(F x + b) / sqrt(p)`, F_ij ~ N(0, 1/d), no bias
    /// (`relu:P`, `tanh:P`, `erf:P`).
    Random {
        /// The nonlinearity (ReLU, tanh or erf).
        activation: Activation,
        /// Number of features p.
        width: usize,
    },
    /// The p -> infinity limit kernel of the random features (`relu:inf`: arc-cosine kernel;
    /// `erf:inf`). tanh has no closed form.
    Limit {
        /// The nonlinearity (ReLU or erf).
        activation: Activation,
    },
    /// The pixels themselves, `phi(x) = x / sqrt(d)` (`identity`).
    Identity,
}

impl FeatureSpec {
    /// The accepted spellings, for error messages.
    pub const ALLOWED: &'static str = "relu:P, tanh:P or erf:P with P a positive integer (number of random features), relu:inf or erf:inf (limit kernel), or identity";
}

impl FromStr for FeatureSpec {
    type Err = crate::Error;

    /// Parses `relu:10000`, `tanh:500`, `erf:2000`, `relu:inf`, `erf:inf`, `identity`
    /// (case-insensitive; `linear` = identity).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: String| Error::FeatureSpec { reason };
        let t = s.trim().to_ascii_lowercase();
        if t == "identity" || t == "linear" {
            return Ok(FeatureSpec::Identity);
        }
        let Some((name, width)) = t.split_once(':') else {
            return Err(bad(format!("'{s}' has no ':P' part")));
        };
        let activation = match name {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "erf" => Activation::Erf,
            "identity" | "linear" => {
                return Err(bad(format!("'{s}': identity takes no width")));
            }
            _ => return Err(bad(format!("unknown activation '{name}' in '{s}'"))),
        };
        if matches!(width, "inf" | "infinity") {
            if activation == Activation::Tanh {
                return Err(bad(format!(
                    "'{s}': the tanh limit kernel has no closed form"
                )));
            }
            return Ok(FeatureSpec::Limit { activation });
        }
        // The width as researchers write it: 10000 or 1e4.
        match imbalance_core::exact_integer(width, usize::MAX as u128) {
            Ok(w) if w >= 1 => Ok(FeatureSpec::Random {
                activation,
                width: w as usize,
            }),
            Ok(_) => Err(bad(format!("'{s}': the number of features must be >= 1"))),
            Err(e) => Err(bad(format!("'{s}': width {e}"))),
        }
    }
}

impl fmt::Display for FeatureSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeatureSpec::Random { activation, width } => write!(f, "{}:{width}", activation.name()),
            FeatureSpec::Limit { activation } => write!(f, "{}:inf", activation.name()),
            FeatureSpec::Identity => f.write_str("identity"),
        }
    }
}

/// How many training images each class gets.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassCounts {
    /// Explicit counts for classes 0, 1, ..., K-1 (K values).
    Explicit(Vec<usize>),
    /// Step profile: the minority classes get `round(n_max / ratio)`, the others `n_max`.
    Step {
        /// Images of each majority class.
        n_max: usize,
        /// Imbalance ratio n_max / n_min >= 1.
        ratio: f64,
        /// Which classes are the minority.
        minority: MinorityChoice,
    },
    /// Exponential profile: the i-th class of `order` gets `floor(n_max * ratio^(-i/(K-1)))`
    /// (truncated as in CIFAR-10-LT; see [`Profile::Exp`]).
    Exp {
        /// Images of the largest class.
        n_max: usize,
        /// Imbalance ratio n_max / n_min >= 1.
        ratio: f64,
        /// Class order `0, 1, ..., K-1` (false) or a random permutation drawn from the rng
        /// (true).
        shuffle: bool,
    },
}

impl ClassCounts {
    /// The default of `imbalance train`: classes 0-4 get 500 images, classes 5-9 get 50.
    pub fn default_step() -> Self {
        ClassCounts::Explicit(vec![500, 500, 500, 500, 500, 50, 50, 50, 50, 50])
    }

    /// The per-class counts for a `k`-class dataset (random choices are drawn from `rng`).
    /// Every class needs at least one image; availability is checked by [`prepare_images`].
    pub fn resolve<R: Rng + ?Sized>(&self, k: usize, rng: &mut R) -> Result<Vec<usize>> {
        let counts = match self {
            ClassCounts::Explicit(c) => {
                if c.len() != k {
                    return Err(Error::CountsLength {
                        given: c.len(),
                        classes: k,
                    });
                }
                c.clone()
            }
            ClassCounts::Step {
                n_max,
                ratio,
                minority,
            } => {
                let m = match minority {
                    MinorityChoice::Given(v) => v.len(),
                    MinorityChoice::Last(m) | MinorityChoice::Random(m) => *m,
                };
                if m == 0 {
                    return Err(Error::NoMinorityClass);
                }
                let chosen = choose_minority(k, minority, rng)?;
                let profile = Profile::Step {
                    classes: k,
                    n_max: *n_max,
                    ratio: *ratio,
                    minority_classes: m,
                }
                .counts()?;
                step_counts(k, &chosen, *n_max, profile[k - 1])
            }
            ClassCounts::Exp {
                n_max,
                ratio,
                shuffle,
            } => {
                let sorted = Profile::Exp {
                    classes: k,
                    n_max: *n_max,
                    ratio: *ratio,
                }
                .counts()?;
                let mut order: Vec<usize> = (0..k).collect();
                if *shuffle {
                    for j in 0..k {
                        let r = rng.random_range(j..k);
                        order.swap(j, r);
                    }
                }
                let mut counts = vec![0; k];
                for (i, &c) in order.iter().enumerate() {
                    counts[c] = sorted[i];
                }
                counts
            }
        };
        check_nonempty(&counts)?;
        Ok(counts)
    }
}

/// Errors unless every class has at least one training sample.
fn check_nonempty(counts: &[usize]) -> Result<()> {
    match counts.iter().position(|&n| n == 0) {
        Some(class) => Err(Error::EmptyClass { class }),
        None => Ok(()),
    }
}

/// A finished stage of a run on images, as reported to a [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Subsample, preprocessing, Gram and cross Gram matrices.
    Features,
    /// Feature moments and the theory's fit (reported also when no theory was asked for).
    Moments,
    /// Gradient flow and the measurement.
    Train,
    /// The theory's prediction.
    Theory,
}

impl Stage {
    /// Number of stages [`train_images`] reports.
    pub const COUNT: usize = 4;
}

/// Receives the progress of a run; the library itself never prints. A command line passes a
/// printer, a batch job whatever it logs with; [`NoProgress`] ignores it.
pub trait Progress {
    /// `stage` is finished.
    fn stage_done(&self, stage: Stage);
}

/// A [`Progress`] that ignores every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage_done(&self, _stage: Stage) {}
}

/// Everything one run on images depends on besides the dataset and the seed.
#[derive(Debug, Clone)]
pub struct ImageRunSpec {
    /// Training images per class (resolved counts, one per class).
    pub counts: Vec<usize>,
    /// The feature map.
    pub features: FeatureSpec,
    /// The training method.
    pub method: Method,
    /// Training time T.
    pub horizon: Horizon,
    /// Fit the anisotropic theory from this many pool images per class (`None`: no theory).
    pub moment_samples: Option<MomentSamples>,
    /// Options of the gradient-flow solver.
    pub flow: FlowOptions,
    /// Let the theory choose the method's hyperparameter (minimising this objective of its
    /// prediction, from the training pool's moments alone) and train at that value; `method`
    /// then only names the method (its value of the tuned parameter is replaced). Needs
    /// `moment_samples`.
    pub tune: Option<Objective>,
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

/// Wall-clock seconds of each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Subsampling and preprocessing.
    pub prepare: f64,
    /// Gram and cross Gram matrices of the features.
    pub features: f64,
    /// Moment estimation (Gram of the moment sample and the U-statistics).
    pub moments: f64,
    /// Gradient flow.
    pub train: f64,
    /// The theory's prediction.
    pub theory: f64,
}

/// A feature map ready to form Gram matrices: random features (identity included, as the
/// map `x / sqrt(d)`) or an infinite-width limit kernel.
#[derive(Debug, Clone)]
pub struct FeatureMap {
    spec: FeatureSpec,
    dim: usize,
    map: Option<RandomFeatures>,
}

impl FeatureMap {
    /// The map `spec` on inputs of dimension `dim`; random weights are drawn from `rng`
    /// (nothing is drawn for identity and limit kernels).
    pub fn new<R: Rng + ?Sized>(spec: FeatureSpec, dim: usize, rng: &mut R) -> Result<Self> {
        let map = match spec {
            FeatureSpec::Random { activation, width } => Some(RandomFeatures::new(
                FeatureParams::new(dim, width, activation, 0.0)?,
                rng,
            )),
            FeatureSpec::Identity => {
                Some(RandomFeatures::from_seed(FeatureParams::identity(dim)?, 0))
            }
            FeatureSpec::Limit { .. } => None,
        };
        Ok(Self { spec, dim, map })
    }

    /// The specification.
    pub fn spec(&self) -> FeatureSpec {
        self.spec
    }

    /// Seed of the random weights (0 for identity and limit kernels).
    pub fn seed(&self) -> u64 {
        match (self.spec, &self.map) {
            (FeatureSpec::Random { .. }, Some(m)) => m.seed(),
            _ => 0,
        }
    }

    fn check_dim(&self, parameter: &'static str, x: MatRef<'_, f64>) -> Result<()> {
        if x.ncols() != self.dim {
            return Err(invalid(
                parameter,
                format!(
                    "has {} columns, but the feature map takes inputs of dimension {}",
                    x.ncols(),
                    self.dim
                ),
            ));
        }
        Ok(())
    }

    /// The Gram matrix of the features of the rows of `x` (n x n).
    pub fn gram(&self, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
        self.check_dim("x", x)?;
        Ok(match (&self.map, self.spec) {
            (Some(map), _) => map.try_gram(x)?,
            (None, FeatureSpec::Limit { activation }) => limit_gram(activation, 0.0, x)?,
            (None, _) => unreachable!("random and identity features have a map"),
        })
    }

    /// The Gram matrix of the rows of `x_train` and the cross Gram matrix of the rows of
    /// `x_test` against them (n_test x n).
    pub fn gram_and_cross(
        &self,
        x_train: MatRef<'_, f64>,
        x_test: MatRef<'_, f64>,
    ) -> Result<(Mat<f64>, Mat<f64>)> {
        self.check_dim("x_train", x_train)?;
        self.check_dim("x_test", x_test)?;
        Ok(match (&self.map, self.spec) {
            (Some(map), _) => map.try_gram_and_cross(x_train, x_test)?,
            (None, FeatureSpec::Limit { activation }) => (
                limit_gram(activation, 0.0, x_train)?,
                limit_kernel(activation, 0.0, x_test, x_train)?,
            ),
            (None, _) => unreachable!("random and identity features have a map"),
        })
    }
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

/// A subsample of a dataset in kernel form: what [`prepare_images`] returns.
#[derive(Debug, Clone)]
pub struct PreparedImages {
    /// The built-in dataset (`None` for given feature matrices).
    pub dataset: Option<DatasetName>,
    /// The feature map.
    pub features: FeatureSpec,
    /// Indices of the training subsample in the pool (grouped by class).
    pub train_rows: Vec<usize>,
    /// Seed of the random feature map (0 for identity and limit kernels).
    pub feature_seed: u64,
    /// Gram matrices, labels, counts and the theory's fit.
    pub run: PreparedGram,
    /// Seconds spent per stage so far.
    pub timings: Timings,
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

/// One method run end to end ([`train_images`]).
#[derive(Debug, Clone)]
pub struct ImageRun {
    /// Subsample, Gram matrices, theory fit.
    pub prepared: PreparedImages,
    /// The measurement.
    pub measured: Measured,
    /// The theory's prediction (when `moment_samples` was given).
    pub prediction: Option<Prediction>,
    /// The method trained: `spec.method`, or with `spec.tune` the theory's choice.
    pub method: Method,
    /// With `spec.tune`: the theory's choice of the hyperparameter and its scan.
    pub tuned: Option<Tuned>,
}

/// Rows of `x` (row-major `n x d`) as a faer matrix.
fn mat(rows: &[f64], d: usize) -> Mat<f64> {
    let n = rows.len() / d.max(1);
    MatRef::from_row_major_slice(rows, n, d).to_owned()
}

/// Per-class counts of labels in `0..k` (labels checked before).
fn label_counts(labels: &[usize], k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    for &l in labels {
        c[l] += 1;
    }
    c
}

/// A labelled training pool and test set the runs draw from: a built-in dataset (pixels
/// scaled to [0, 1] and centred by the pool mean) or given feature matrices (used as given).
trait Pool {
    fn num_classes(&self) -> usize;
    fn dim(&self) -> usize;
    /// Labels of the whole training pool.
    fn pool_labels(&self) -> Vec<usize>;
    /// Rows per class in the pool.
    fn pool_counts(&self) -> Vec<usize>;
    /// The selected pool rows, ready for the feature map (row-major), with their labels.
    fn train_rows(&self, rows: &[usize]) -> Result<(Vec<f64>, Vec<usize>)>;
    /// The whole test set, ready for the feature map, with its labels.
    fn test_rows(&self) -> Result<(Vec<f64>, Vec<usize>)>;
    /// What to call the pool in an error ("this copy of mnist").
    fn describe(&self) -> String;
}

impl Pool for Dataset {
    fn num_classes(&self) -> usize {
        Dataset::num_classes(self)
    }
    fn dim(&self) -> usize {
        Dataset::dim(self)
    }
    fn pool_labels(&self) -> Vec<usize> {
        self.labels(Split::Train)
    }
    fn pool_counts(&self) -> Vec<usize> {
        self.class_counts(Split::Train)
    }
    fn train_rows(&self, rows: &[usize]) -> Result<(Vec<f64>, Vec<usize>)> {
        let p = preprocess(self, rows, &[])?;
        Ok((p.train, p.train_labels))
    }
    fn test_rows(&self) -> Result<(Vec<f64>, Vec<usize>)> {
        let all: Vec<usize> = (0..self.n_test()).collect();
        let p = preprocess(self, &[], &all)?;
        Ok((p.test, p.test_labels))
    }
    fn describe(&self) -> String {
        format!("this copy of {}", self.name)
    }
}

impl Pool for FeatureSet {
    fn num_classes(&self) -> usize {
        self.num_classes
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn pool_labels(&self) -> Vec<usize> {
        self.train_labels.clone()
    }
    fn pool_counts(&self) -> Vec<usize> {
        self.class_counts()
    }
    fn train_rows(&self, rows: &[usize]) -> Result<(Vec<f64>, Vec<usize>)> {
        let d = self.dim;
        let mut x = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            x.extend_from_slice(&self.train[r * d..(r + 1) * d]);
        }
        Ok((x, rows.iter().map(|&r| self.train_labels[r]).collect()))
    }
    fn test_rows(&self) -> Result<(Vec<f64>, Vec<usize>)> {
        Ok((self.test.clone(), self.test_labels.clone()))
    }
    fn describe(&self) -> String {
        format!("the training features {}", self.files[0])
    }
}

/// Checks that the pool holds `counts[c]` samples of every class.
fn check_available(pool: &dyn Pool, counts: &[usize], sample: Sample) -> Result<()> {
    let available = pool.pool_counts();
    if counts.len() != available.len() {
        return Err(Error::CountsLength {
            given: counts.len(),
            classes: available.len(),
        });
    }
    for (class, (&want, &have)) in counts.iter().zip(&available).enumerate() {
        if want > have {
            return Err(Error::NotEnoughImages {
                sample,
                pool: pool.describe(),
                class,
                want,
                have,
            });
        }
    }
    Ok(())
}

/// Subsamples the pool with `counts`, computes the training Gram matrix and the cross Gram
/// matrix with the whole test set under `features`, and (with `moment_samples`) estimates the
/// feature moments from that many pool images per class and fits the theory. Random
/// choices (subsample, feature map, moment sample) are drawn from `rng` in that order.
/// Reports [`Stage::Features`] and [`Stage::Moments`] to `progress`.
pub fn prepare_images<R: Rng + ?Sized>(
    ds: &Dataset,
    counts: &[usize],
    features: FeatureSpec,
    moment_samples: Option<MomentSamples>,
    progress: &dyn Progress,
    rng: &mut R,
) -> Result<PreparedImages> {
    let mut p = prepare_pool(ds, counts, features, moment_samples, progress, rng)?;
    p.dataset = Some(ds.name);
    Ok(p)
}

/// [`prepare_images`] on feature matrices a user extracted ([`FeatureSet`], e.g. read from
/// `.npy` files by [`imbalance_datasets::load_features`]): the same subsample, feature map
/// and moment sample, drawn from `rng` in the same order, on the features as given (no
/// scaling, no centring). With the preprocessed pixels of a dataset as features and
/// [`FeatureSpec::Identity`], the run is the same as [`prepare_images`]'s.
pub fn prepare_features<R: Rng + ?Sized>(
    fs: &FeatureSet,
    counts: &[usize],
    features: FeatureSpec,
    moment_samples: Option<MomentSamples>,
    progress: &dyn Progress,
    rng: &mut R,
) -> Result<PreparedImages> {
    prepare_pool(fs, counts, features, moment_samples, progress, rng)
}

fn prepare_pool<R: Rng + ?Sized>(
    pool: &dyn Pool,
    counts: &[usize],
    features: FeatureSpec,
    moment_samples: Option<MomentSamples>,
    progress: &dyn Progress,
    rng: &mut R,
) -> Result<PreparedImages> {
    let k = pool.num_classes();
    check_available(pool, counts, Sample::Training)?;
    check_nonempty(counts)?;
    let moment_counts = moment_samples.map(|m| m.per_class(&pool.pool_counts()));
    if let Some(m) = &moment_counts {
        if let Some(&fewest) = m.iter().min().filter(|&&f| f < 4) {
            return Err(Error::TooFewMomentSamples { given: fewest });
        }
        check_available(pool, m, Sample::Moments)?;
    }
    let mut timings = Timings::default();
    let t = Instant::now();
    let d = pool.dim();
    let labels = pool.pool_labels();
    let train_rows = subsample(&labels, counts, rng)?;
    let (train, train_labels) = pool.train_rows(&train_rows)?;
    let (test, test_labels) = pool.test_rows()?;
    let x_train = mat(&train, d);
    let x_test = mat(&test, d);
    drop((train, test));
    timings.prepare = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let map = FeatureMap::new(features, d, rng)?;
    let mut run = PreparedGram::from_features(
        &map,
        x_train.as_ref(),
        train_labels,
        x_test.as_ref(),
        test_labels,
        k,
    )?;
    drop(x_test);
    timings.features = t.elapsed().as_secs_f64();
    progress.stage_done(Stage::Features);

    if let Some(m) = &moment_counts {
        let t = Instant::now();
        let rows = subsample(&labels, m, rng)?;
        let (x, y) = pool.train_rows(&rows)?;
        let x = mat(&x, d);
        run.fit_theory(&map, x.as_ref(), &y)?;
        timings.moments = t.elapsed().as_secs_f64();
    }
    progress.stage_done(Stage::Moments);
    Ok(PreparedImages {
        dataset: None,
        features,
        train_rows,
        feature_seed: map.seed(),
        run,
        timings,
    })
}

/// One run end to end: [`prepare_images`] with `spec`, then [`PreparedGram::measure`] and
/// (with `spec.moment_samples`) [`PreparedGram::predict`]. Reports every [`Stage`] to
/// `progress`.
pub fn train_images<R: Rng + ?Sized>(
    ds: &Dataset,
    spec: &ImageRunSpec,
    progress: &dyn Progress,
    rng: &mut R,
) -> Result<ImageRun> {
    let prepared = prepare_images(
        ds,
        &spec.counts,
        spec.features,
        spec.moment_samples,
        progress,
        rng,
    )?;
    finish_run(prepared, spec, progress)
}

/// [`train_images`] on feature matrices ([`prepare_features`]).
pub fn train_features<R: Rng + ?Sized>(
    fs: &FeatureSet,
    spec: &ImageRunSpec,
    progress: &dyn Progress,
    rng: &mut R,
) -> Result<ImageRun> {
    let prepared = prepare_features(
        fs,
        &spec.counts,
        spec.features,
        spec.moment_samples,
        progress,
        rng,
    )?;
    finish_run(prepared, spec, progress)
}

/// Trains, measures and (with a theory fit) predicts one method on a prepared subsample.
fn finish_run(
    mut prepared: PreparedImages,
    spec: &ImageRunSpec,
    progress: &dyn Progress,
) -> Result<ImageRun> {
    // Tuning needs only the pool's moments, so it comes first and training uses its choice.
    let t = Instant::now();
    let tuned = match spec.tune {
        None => None,
        Some(objective) => Some(
            prepared
                .run
                .tune(spec.method.name(), objective, spec.horizon)?,
        ),
    };
    let method = match &tuned {
        None => spec.method,
        Some(t) => spec.method.name().with_params(&[(t.param, t.value)])?,
    };
    let tune_seconds = t.elapsed().as_secs_f64();
    let measured = prepared.run.measure(&method, spec.horizon, &spec.flow)?;
    prepared.timings.train = measured.seconds;
    progress.stage_done(Stage::Train);
    let t = Instant::now();
    let prediction = match &tuned {
        Some(t) => Some(t.prediction.clone()),
        None => prepared.run.predict(&method, spec.horizon)?,
    };
    prepared.timings.theory = tune_seconds + t.elapsed().as_secs_f64();
    progress.stage_done(Stage::Theory);
    Ok(ImageRun {
        prepared,
        measured,
        prediction,
        method,
        tuned,
    })
}
