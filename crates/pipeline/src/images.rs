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
//! into [`MixtureStats::anisotropic`](imbalance_theory::MixtureStats::anisotropic) with the subsample's counts (docs/theory.md §4, anisotropic
//! extension), and [`predict`](imbalance_theory::predict) gives the per-class errors beside the measured ones.
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

use std::time::Instant;

use faer::{Mat, MatRef};
use imbalance_datasets::{
    Dataset, DatasetName, FeatureSet, MinorityChoice, Split, choose_minority, preprocess,
    step_counts, subsample,
};
use imbalance_gmm::Profile;
use imbalance_gradflow::{FlowOptions, Horizon};
use imbalance_losses::Method;
use imbalance_theory::{Objective, Prediction, Tuned};
use rand::{Rng, RngExt};

use crate::error::{Error, Result, Sample};
use crate::feature_map::{FeatureMap, FeatureSpec};
use crate::prepared::{Measured, PreparedGram, check_nonempty};
use crate::progress::{Progress, Stage, Timings};

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
