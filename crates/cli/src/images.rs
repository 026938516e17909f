//! Training on real images (MNIST, Fashion-MNIST, CIFAR-10) with random features, and the
//! anisotropic theory's prediction for the same run: the pipeline behind `imbalance train`
//! and experiment E7 of `cargo xtask reproduce`.
//!
//! One run: draw an imbalanced subsample of the training pool ([`ClassCounts`]), scale the
//! pixels to [0, 1] and centre them by the mean of the whole pool, map them through a feature
//! map ([`FeatureSpec`]), form the Gram matrix of the subsample and its cross Gram matrix with
//! the full official test set, train by exact gradient flow to T, and count the errors per
//! class on the test set. With the theory on, the per-class feature moments are estimated from
//! a class-balanced sample of the pool (one more Gram matrix, unbiased U-statistics), turned
//! into [`MixtureStats::anisotropic`] with the subsample's counts (THEORY §4, anisotropic
//! extension), and [`predict`] gives the per-class errors beside the measured ones.
//!
//! [`prepare_images`] does the expensive part once (subsample, Gram matrices, moments) so that
//! several methods can be trained and predicted on the same subsample
//! ([`PreparedImages::measure`], [`PreparedImages::predict`]); [`train_images`] does one
//! method end to end.

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use faer::{Mat, MatRef, Side};
use imbalance_datasets::{
    Dataset, DatasetName, MinorityChoice, Split, choose_minority, preprocess, step_counts,
    subsample,
};
use imbalance_features::{
    Activation, FeatureMoments, FeatureParams, MomentEstimator, RandomFeatures, limit_gram,
    limit_kernel,
};
use imbalance_gmm::Profile;
use imbalance_gradflow::{FlowOptions, Horizon, Trained, logits, train};
use imbalance_losses::Method;
use imbalance_theory::{MixtureStats, PredictOptions, Prediction, predict};
use rand::{Rng, RngExt};

use crate::error::{Result, usage};
use crate::output::Progress;

/// Default number of pool images per class used to estimate the feature moments.
pub const DEFAULT_MOMENT_SAMPLES: usize = 500;

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
    /// What `--features` accepts, for error messages.
    pub const ALLOWED: &'static str = "relu:P, tanh:P or erf:P with P a positive integer (number of random features), relu:inf or erf:inf (limit kernel), or identity";
}

impl FromStr for FeatureSpec {
    type Err = crate::Error;

    /// Parses `relu:10000`, `tanh:500`, `erf:2000`, `relu:inf`, `erf:inf`, `identity`
    /// (case-insensitive; `linear` = identity).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| usage("--features", format!("{why}; allowed: {}", Self::ALLOWED));
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
        match width.parse::<usize>() {
            Ok(w) if w >= 1 => Ok(FeatureSpec::Random {
                activation,
                width: w,
            }),
            Ok(_) => Err(bad(format!("'{s}': the number of features must be >= 1"))),
            Err(_) => Err(bad(format!(
                "'{s}': width '{width}' is not a positive integer"
            ))),
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
    /// Exponential profile: the i-th class of `order` gets `round(n_max * ratio^(-i/(K-1)))`.
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
                    return Err(usage(
                        "--counts",
                        format!(
                            "{} values given, but the dataset has {k} classes: give one count per class 0..{}",
                            c.len(),
                            k - 1
                        ),
                    ));
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
                    return Err(usage(
                        "--minority-classes",
                        "must be at least 1 (and less than the number of classes)",
                    ));
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
        if let Some(c) = counts.iter().position(|&n| n == 0) {
            return Err(usage(
                "--counts",
                format!("class {c} gets 0 training images; every class needs at least 1"),
            ));
        }
        Ok(counts)
    }
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
    pub moment_samples: Option<usize>,
    /// Options of the gradient-flow solver.
    pub flow: FlowOptions,
    /// Show progress on stderr (only when stderr is a terminal).
    pub progress: bool,
}

/// The theory fitted to the feature moments of the pool.
#[derive(Debug, Clone)]
pub struct TheoryFit {
    /// Pool images per class the moments were estimated from.
    pub moment_samples: usize,
    /// The estimated moments (unbiased U-statistics).
    pub moments: FeatureMoments,
    /// The theory's statistics: the subsample's counts with the pool's moments.
    pub stats: MixtureStats,
    /// Effective rank tr(Sigma_c)^2 / tr(Sigma_c^2) per class (compare with n).
    pub effective_rank: Vec<f64>,
    /// Largest relative amount by which an estimated mean or mean-covariance matrix had to be
    /// moved to be positive semi-definite (most negative eigenvalue / largest eigenvalue; 0
    /// when every estimate was PSD already).
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

/// The part of a run shared by every method: subsample, Gram matrices and (optionally) the
/// theory's moments.
#[derive(Debug, Clone)]
pub struct PreparedImages {
    /// The dataset.
    pub dataset: DatasetName,
    /// The feature map.
    pub features: FeatureSpec,
    /// Training images per class.
    pub counts: Vec<usize>,
    /// Indices of the training subsample in the pool (grouped by class).
    pub train_rows: Vec<usize>,
    /// Their labels.
    pub train_labels: Vec<usize>,
    /// Gram matrix of the training features (n x n).
    pub gram: Mat<f64>,
    /// Cross Gram matrix: features of every test image against the training features
    /// (n_test x n).
    pub cross: Mat<f64>,
    /// Labels of the test images.
    pub test_labels: Vec<usize>,
    /// Test images per class.
    pub test_counts: Vec<usize>,
    /// Seed of the random feature map (0 for identity and limit kernels).
    pub feature_seed: u64,
    /// The theory's fit, when asked for.
    pub theory: Option<TheoryFit>,
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
}

/// Rows of `x` (row-major `n x d`) as a faer matrix.
fn mat(rows: &[f64], d: usize) -> Mat<f64> {
    let n = rows.len() / d.max(1);
    MatRef::from_row_major_slice(rows, n, d).to_owned()
}

/// Per-class counts of labels in `0..k`.
fn label_counts(labels: &[usize], k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    for &l in labels {
        c[l] += 1;
    }
    c
}

/// Checks that the pool holds `counts[c]` images of every class; the error names `flag`.
fn check_available(ds: &Dataset, counts: &[usize], flag: &'static str, what: &str) -> Result<()> {
    let available = ds.class_counts(Split::Train);
    if counts.len() != available.len() {
        return Err(usage(
            flag,
            format!(
                "{} values given, but {} has {} classes",
                counts.len(),
                ds.name,
                available.len()
            ),
        ));
    }
    for (c, (&want, &have)) in counts.iter().zip(&available).enumerate() {
        if want > have {
            return Err(usage(
                flag,
                format!(
                    "{what} asks for {want} images of class {c}, but this copy of {} has only {have} training images of that class",
                    ds.name
                ),
            ));
        }
    }
    Ok(())
}

/// Projects a symmetric K x K matrix (row-major) onto the PSD cone (negative eigenvalues set to
/// 0); returns it with (most negative eigenvalue / largest eigenvalue), 0 if already PSD.
fn psd_project(m: &[f64], k: usize) -> (Vec<f64>, f64) {
    let a = Mat::from_fn(k, k, |i, j| 0.5 * (m[i * k + j] + m[j * k + i]));
    let Ok(eig) = a.self_adjoint_eigen(Side::Lower) else {
        return (m.to_vec(), 0.0);
    };
    let s = eig.S().column_vector();
    let u = eig.U();
    let lmax = (0..k).map(|i| s[i]).fold(0.0, f64::max);
    let lmin = (0..k).map(|i| s[i]).fold(f64::INFINITY, f64::min);
    if lmin >= 0.0 || lmax <= 0.0 {
        return (m.to_vec(), 0.0);
    }
    let out = (0..k * k)
        .map(|ij| {
            let (i, j) = (ij / k, ij % k);
            (0..k).map(|l| u[(i, l)] * s[l].max(0.0) * u[(j, l)]).sum()
        })
        .collect();
    (out, -lmin / lmax)
}

/// Row-major copy of a faer matrix.
fn row_major(m: &Mat<f64>) -> Vec<f64> {
    crate::pipeline::row_major(m)
}

/// The theory's statistics from the moments and the training counts.
fn fit_theory(moments: FeatureMoments, counts: &[usize], samples: usize) -> Result<TheoryFit> {
    let k = counts.len();
    let (mean_gram, mut worst) = psd_project(&row_major(&moments.means_gram), k);
    let mut mean_cov = Vec::with_capacity(k);
    for m in &moments.mean_cov {
        let (p, w) = psd_project(&row_major(m), k);
        worst = worst.max(w);
        mean_cov.push(p);
    }
    let trace_prod = {
        let t = &moments.trace_prod;
        (0..k * k)
            .map(|ij| 0.5 * (t[(ij / k, ij % k)] + t[(ij % k, ij / k)]))
            .collect()
    };
    let stats = MixtureStats::anisotropic(
        counts.to_vec(),
        mean_gram,
        moments.trace.clone(),
        trace_prod,
        mean_cov,
    )?;
    Ok(TheoryFit {
        moment_samples: samples,
        effective_rank: moments.effective_rank.clone(),
        moments,
        stats,
        psd_correction: worst,
    })
}

/// The Gram matrix of `x` under the feature map.
fn gram_of(
    features: FeatureSpec,
    map: Option<&RandomFeatures>,
    x: MatRef<'_, f64>,
) -> Result<Mat<f64>> {
    Ok(match (features, map) {
        (FeatureSpec::Limit { activation }, _) => limit_gram(activation, 0.0, x)?,
        (_, Some(map)) => map.gram(x),
        (_, None) => unreachable!("random and identity features have a map"),
    })
}

/// Subsamples the pool with `counts`, computes the training Gram matrix and the cross Gram
/// matrix with the whole test set under `features`, and (with `moment_samples = Some(m)`)
/// estimates the feature moments from `m` pool images per class and fits the theory. Random
/// choices (subsample, feature map, moment sample) are drawn from `rng` in that order.
pub fn prepare_images<R: Rng + ?Sized>(
    ds: &Dataset,
    counts: &[usize],
    features: FeatureSpec,
    moment_samples: Option<usize>,
    progress: Option<&Progress>,
    rng: &mut R,
) -> Result<PreparedImages> {
    let k = ds.num_classes();
    check_available(ds, counts, "--counts", "--counts")?;
    if let Some(c) = counts.iter().position(|&n| n == 0) {
        return Err(usage(
            "--counts",
            format!("class {c} gets 0 training images; every class needs at least 1"),
        ));
    }
    if let Some(m) = moment_samples {
        if m < 4 {
            return Err(usage(
                "--moment-samples",
                format!(
                    "{m} is too few: the unbiased moment estimators need at least 4 images per class"
                ),
            ));
        }
        check_available(ds, &vec![m; k], "--moment-samples", "the moment sample")?;
    }
    let mut timings = Timings::default();
    let t = Instant::now();
    let d = ds.dim();
    let train_rows = subsample(&ds.labels(Split::Train), counts, rng)?;
    let test_rows: Vec<usize> = (0..ds.n_test()).collect();
    let pre = preprocess(ds, &train_rows, &test_rows)?;
    let x_train = mat(&pre.train, d);
    let x_test = mat(&pre.test, d);
    let train_labels = pre.train_labels;
    let test_labels = pre.test_labels;
    drop((pre.train, pre.test));
    timings.prepare = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (map, feature_seed) = match features {
        FeatureSpec::Random { activation, width } => {
            let map = RandomFeatures::new(FeatureParams::new(d, width, activation, 0.0)?, rng);
            let seed = map.seed();
            (Some(map), seed)
        }
        FeatureSpec::Identity => (
            Some(RandomFeatures::from_seed(FeatureParams::identity(d)?, 0)),
            0,
        ),
        FeatureSpec::Limit { .. } => (None, 0),
    };
    let (gram, cross) = match (features, &map) {
        (FeatureSpec::Limit { activation }, _) => (
            limit_gram(activation, 0.0, x_train.as_ref())?,
            limit_kernel(activation, 0.0, x_test.as_ref(), x_train.as_ref())?,
        ),
        (_, Some(map)) => map.gram_and_cross(x_train.as_ref(), x_test.as_ref()),
        (_, None) => unreachable!("random and identity features have a map"),
    };
    drop(x_test);
    timings.features = t.elapsed().as_secs_f64();
    if let Some(p) = progress {
        p.step(2);
    }

    let theory = match moment_samples {
        None => None,
        Some(m) => {
            let t = Instant::now();
            let rows = subsample(&ds.labels(Split::Train), &vec![m; k], rng)?;
            let pre = preprocess(ds, &rows, &[])?;
            let x = mat(&pre.train, d);
            let g = gram_of(features, map.as_ref(), x.as_ref())?;
            let moments = FeatureMoments::from_gram(
                g.as_ref(),
                &pre.train_labels,
                k,
                MomentEstimator::Unbiased,
            )?;
            let fit = fit_theory(moments, counts, m)?;
            timings.moments = t.elapsed().as_secs_f64();
            Some(fit)
        }
    };
    if let Some(p) = progress {
        p.step(3);
    }
    let test_counts = label_counts(&test_labels, k);
    Ok(PreparedImages {
        dataset: ds.name,
        features,
        counts: counts.to_vec(),
        train_rows,
        train_labels,
        gram,
        cross,
        test_labels,
        test_counts,
        feature_seed,
        theory,
        timings,
    })
}

impl PreparedImages {
    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Trains `method` to `horizon` on the subsample and measures its per-class test error
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

    /// The anisotropic theory's prediction for `method` trained to `horizon` on this
    /// subsample; `None` when the moments were not estimated.
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

    /// The time scale of the early flow, n / (mean diagonal of the Gram matrix): gradient flow
    /// needs T well beyond it to fit the training set.
    pub fn time_scale(&self) -> f64 {
        let n = self.gram.nrows();
        let tr: f64 = (0..n).map(|i| self.gram[(i, i)]).sum();
        n as f64 * n as f64 / tr
    }
}

/// One run end to end: [`prepare_images`] with `spec`, then [`PreparedImages::measure`] and
/// (with `spec.moment_samples`) [`PreparedImages::predict`].
pub fn train_images<R: Rng + ?Sized>(
    ds: &Dataset,
    spec: &ImageRunSpec,
    rng: &mut R,
) -> Result<ImageRun> {
    let progress = spec.progress.then(|| Progress::new("train", 5));
    if let Some(p) = &progress {
        p.step(1);
    }
    let mut prepared = prepare_images(
        ds,
        &spec.counts,
        spec.features,
        spec.moment_samples,
        progress.as_ref(),
        rng,
    )?;
    let measured = prepared.measure(&spec.method, spec.horizon, &spec.flow)?;
    prepared.timings.train = measured.seconds;
    if let Some(p) = &progress {
        p.step(4);
    }
    let t = Instant::now();
    let prediction = prepared.predict(&spec.method, spec.horizon)?;
    prepared.timings.theory = t.elapsed().as_secs_f64();
    if let Some(p) = &progress {
        p.step(5);
    }
    Ok(ImageRun {
        prepared,
        measured,
        prediction,
    })
}
