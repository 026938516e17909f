//! What a run's parameters mean and which values they may take, defined once for the command
//! line, Python and the sweeps: the mixture ([`MixtureSpec`]), the method ([`MethodSpec`]), the
//! training time ([`horizon`]) and the checks that combine them.
//!
//! Errors are [`Error::Invalid`] naming the field as the sweeps and Python spell it (`n_max`,
//! `time`); the command line renames it to its flag (`--n-max`).

use imbalance_gmm::{MeansSpec, Mixture, Profile};
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use rand::Rng;

use crate::error::{Error, Result, invalid};

/// Largest `snr` (class-mean norm): Gram entries grow as snr^2 times the counts.
pub const MAX_SNR: f64 = 1e6;
/// Smallest and largest `noise` (sigma): below, sigma^2 underflows against the means; above,
/// the Gram entries (p sigma^2) overflow.
pub const NOISE_RANGE: (f64, f64) = (1e-6, 1e6);
/// Largest |value| of `tau`, `gamma`, `beta` and `margin`: the loss factors are
/// (n_y / n)^value and exp(tau log pi_y), which leave the f64 range well before 1e300.
pub const MAX_HYPERPARAMETER: f64 = 100.0;
/// Smallest and largest finite `time`: below, the first integrator step underflows; above,
/// the run is indistinguishable from `time = inf` at f64 precision.
pub const TIME_RANGE: (f64, f64) = (1e-9, 1e15);

/// A number as typed: plain when moderate, in exponent form when very large or small.
pub fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Errors unless `value` of `field` is finite and within `[lo, hi]`.
pub fn check_range(field: &'static str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if (lo..=hi).contains(&value) {
        return Ok(());
    }
    Err(invalid(
        field,
        format!(
            "{} is out of range; allowed: a finite number from {} to {}",
            short(value),
            short(lo),
            short(hi)
        ),
    ))
}

/// Imbalance profile families of a [`MixtureSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileKind {
    /// Majority classes with n_max samples, minority classes with n_max / ratio.
    Step,
    /// n_c = floor(n_max * ratio^(-c / (K - 1))), truncated as in CIFAR-10-LT.
    Exp,
}

/// How the class means of a [`MixtureSpec`] are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeansKind {
    /// mu_c = snr * e_c.
    #[default]
    Orthogonal,
    /// Independent uniformly random directions, each of norm snr.
    Random,
}

impl MeansKind {
    /// Its name (`orthogonal`, `random`).
    pub fn as_str(self) -> &'static str {
        match self {
            MeansKind::Orthogonal => "orthogonal",
            MeansKind::Random => "random",
        }
    }
}

/// A Gaussian mixture as a request gives it: explicit `counts`, or a `profile` with
/// `classes`, `n_max`, `ratio` (and `minority_classes` for a step); the dimension, the
/// norm of the means, the noise and how the means are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct MixtureSpec {
    /// Explicit training counts per class.
    pub counts: Option<Vec<usize>>,
    /// A profile instead of counts.
    pub profile: Option<ProfileKind>,
    /// Number of classes K (with a profile).
    pub classes: Option<usize>,
    /// Samples of the largest class (with a profile).
    pub n_max: Option<usize>,
    /// Imbalance ratio n_max / n_min >= 1 (with a profile).
    pub ratio: Option<f64>,
    /// Number of minority classes (step profile; default K / 2).
    pub minority_classes: Option<usize>,
    /// Dimension p.
    pub dim: usize,
    /// Norm of each class mean, 0 to [`MAX_SNR`].
    pub snr: f64,
    /// Noise standard deviation sigma, within [`NOISE_RANGE`].
    pub noise: f64,
    /// How the means are drawn.
    pub means: MeansKind,
}

impl MixtureSpec {
    /// The field the class counts come from: `counts`, or `n_max` for a profile.
    pub fn counts_field(&self) -> &'static str {
        if self.counts.is_some() {
            "counts"
        } else {
            "n_max"
        }
    }

    /// The imbalance profile (after checking `snr` and `noise`).
    pub fn profile(&self) -> Result<Profile> {
        check_range("snr", self.snr, 0.0, MAX_SNR)?;
        check_range("noise", self.noise, NOISE_RANGE.0, NOISE_RANGE.1)?;
        match (&self.counts, self.profile) {
            (Some(_), Some(_)) => Err(invalid(
                "counts",
                "give either counts or a profile, not both",
            )),
            (None, None) => Err(invalid(
                "counts",
                "missing: give the counts n0,n1,... or a profile (step or exp) with classes, n_max and ratio",
            )),
            (Some(counts), None) => {
                for (field, given) in [
                    ("classes", self.classes.is_some()),
                    ("n_max", self.n_max.is_some()),
                    ("ratio", self.ratio.is_some()),
                    ("minority_classes", self.minority_classes.is_some()),
                ] {
                    if given {
                        return Err(invalid(field, "only goes with a profile, not with counts"));
                    }
                }
                Ok(Profile::Counts(counts.clone()))
            }
            (None, Some(kind)) => {
                let missing = |field: &'static str, what: &str| {
                    invalid(field, format!("missing: a profile needs {what}"))
                };
                let classes = self
                    .classes
                    .ok_or_else(|| missing("classes", "the number of classes K"))?;
                let n_max = self
                    .n_max
                    .ok_or_else(|| missing("n_max", "the size of the largest class"))?;
                let ratio = self
                    .ratio
                    .ok_or_else(|| missing("ratio", "the imbalance ratio"))?;
                Ok(match kind {
                    ProfileKind::Step => Profile::Step {
                        classes,
                        n_max,
                        ratio,
                        minority_classes: self.minority_classes.unwrap_or(classes / 2),
                    },
                    ProfileKind::Exp => {
                        if self.minority_classes.is_some() {
                            return Err(invalid(
                                "minority_classes",
                                "only goes with the step profile",
                            ));
                        }
                        Profile::Exp {
                            classes,
                            n_max,
                            ratio,
                        }
                    }
                })
            }
        }
    }

    /// The training counts per class (a count problem names `counts` or `n_max`).
    pub fn counts(&self) -> Result<Vec<usize>> {
        self.profile()?.counts().map_err(|e| self.gmm_error(e))
    }

    /// The means specification.
    pub fn means_spec(&self) -> MeansSpec {
        match self.means {
            MeansKind::Orthogonal => MeansSpec::Orthogonal { snr: self.snr },
            MeansKind::Random => MeansSpec::Random { snr: self.snr },
        }
    }

    /// The mixture (random means are drawn from `rng`); its errors name the field.
    pub fn mixture<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mixture> {
        Mixture::new(self.counts()?, self.dim, self.means_spec(), self.noise, rng)
            .map_err(|e| self.gmm_error(e))
    }

    /// A mixture error in terms of the field that set the parameter.
    fn gmm_error(&self, e: imbalance_gmm::Error) -> Error {
        use imbalance_gmm::Error as G;
        let field = match &e {
            G::Counts(_) | G::ClassCountMismatch { .. } | G::ProfileCountZero { .. } => {
                self.counts_field()
            }
            G::ZeroNMax => "n_max",
            G::InvalidRatio { .. } => "ratio",
            G::MinorityClassesOutOfRange { .. } => "minority_classes",
            G::ZeroDim | G::DimTooSmallForOrthogonal { .. } => "dim",
            G::InvalidSigma { .. } => "noise",
            G::InvalidSnr { .. } => "snr",
            _ => return e.into(),
        };
        invalid(field, e.to_string())
    }
}

/// A training method as a request gives it: its name and the hyperparameters it takes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MethodSpec {
    /// ce, wce, la, posthoc, cdt, ldam or vs (case, `-` and `_` do not matter).
    pub method: String,
    /// Logit-adjustment strength (la, posthoc, vs).
    pub tau: Option<f64>,
    /// Temperature exponent (cdt, vs).
    pub gamma: Option<f64>,
    /// LDAM margin scale.
    pub margin: Option<f64>,
    /// Weight exponent (wce).
    pub beta: Option<f64>,
}

impl MethodSpec {
    /// The method with its hyperparameters: each within +-[`MAX_HYPERPARAMETER`], and one the
    /// method does not take is an error.
    pub fn method(&self) -> Result<Method> {
        let name: MethodName = self.method.parse()?;
        let given = [
            ("tau", self.tau),
            ("gamma", self.gamma),
            ("margin", self.margin),
            ("beta", self.beta),
        ];
        for (field, v) in given {
            if let Some(v) = v {
                check_range(field, v, -MAX_HYPERPARAMETER, MAX_HYPERPARAMETER)?;
            }
        }
        let given: Vec<(&str, f64)> = given
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect();
        Ok(name.with_params(&given)?)
    }
}

/// Parses a training time: a number within [`TIME_RANGE`], or `inf`.
pub fn horizon(time: &str) -> Result<Horizon> {
    let h = time
        .parse::<Horizon>()
        .map_err(|e| invalid("time", e.to_string()))?;
    check_time(h)?;
    Ok(h)
}

/// Errors unless `h` is `inf` or a time within [`TIME_RANGE`] (also for a horizon built
/// without [`horizon`]).
fn check_time(h: Horizon) -> Result<()> {
    match h {
        Horizon::Finite(t) if !(TIME_RANGE.0..=TIME_RANGE.1).contains(&t) => Err(invalid(
            "time",
            format!(
                "{} is out of range; allowed: a number from {} to {}, or inf",
                short(t),
                short(TIME_RANGE.0),
                short(TIME_RANGE.1)
            ),
        )),
        _ => Ok(()),
    }
}

/// Errors unless `method` can be trained to `h` (post-hoc LA has no meaning at T = inf).
pub fn check_method_horizon(method: &Method, h: Horizon) -> Result<()> {
    if h == Horizon::Infinite && !method.defined_at_infinity() {
        return Err(invalid(
            "time",
            format!(
                "method {} is undefined at T = inf (the max-margin classifier has no scale, so a post-hoc logit offset means nothing); give a finite time",
                method.name()
            ),
        ));
    }
    Ok(())
}

/// Errors unless `method`'s loss and prediction offsets are finite and positive where they
/// must be for these counts, naming the hyperparameter that pushed them out of range (e.g.
/// `gamma = 100` with a ratio of 1e6 makes (n_y / n_max)^gamma underflow to 0).
pub fn check_method_counts(method: &Method, counts: &[usize]) -> Result<()> {
    let field = match method.params().first().map(|(n, _)| *n) {
        Some("tau") => "tau",
        Some("gamma") => "gamma",
        Some("margin") => "margin",
        Some("beta") => "beta",
        _ => "method",
    };
    let params = method
        .params()
        .iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out_of_range = |what: String| {
        invalid(
            field,
            format!("{params} with counts {counts:?} makes {what}; choose a value closer to 0"),
        )
    };
    match method.loss(counts) {
        Err(imbalance_losses::Error::BadComponent { what, why }) => {
            return Err(out_of_range(format!(
                "the loss factor {what} invalid ({why})"
            )));
        }
        Err(e) => return Err(Error::Loss(e)),
        Ok(_) => {}
    }
    let offsets = method.prediction_offsets(counts)?;
    if let Some(o) = offsets.iter().find(|o| !o.is_finite()) {
        return Err(out_of_range(format!("a prediction offset {o}")));
    }
    Ok(())
}

/// Errors unless every value is finite: a result that came out NaN or infinite is named, with
/// its class, instead of printed.
pub fn check_finite(what: &str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(c) => Err(Error::Uncomputable(format!(
            "the {what} of class {c} came out as {}; the inputs are too extreme for the computation in f64",
            values[c]
        ))),
        None => Ok(()),
    }
}

/// The theory's prediction for a mixture trained with a method to a time (`imbalance
/// predict`). `seed` draws the random means (`MeansKind::Random`) and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictRequest {
    /// The mixture.
    pub mixture: MixtureSpec,
    /// The method.
    pub method: MethodSpec,
    /// The training time.
    pub time: Horizon,
    /// Seed of the random means.
    pub seed: u64,
}

/// What a [`PredictRequest`] answers.
#[derive(Debug, Clone)]
pub struct PredictOutcome {
    /// The training counts per class.
    pub counts: Vec<usize>,
    /// The method with its hyperparameters.
    pub method: Method,
    /// The prediction.
    pub prediction: crate::Prediction,
}

impl PredictRequest {
    /// The checks that need no computation (method, time, counts, the cost against `limit`).
    pub fn check(&self, limit: Option<crate::MemoryLimit>) -> Result<()> {
        let method = self.method.method()?;
        check_time(self.time)?;
        check_method_horizon(&method, self.time)?;
        let counts = self.mixture.counts()?;
        check_method_counts(&method, &counts)?;
        crate::predict_cost(&counts, self.time).check(limit)
    }

    /// Checks ([`PredictRequest::check`]) and runs the prediction.
    pub fn run(&self, limit: Option<crate::MemoryLimit>) -> Result<PredictOutcome> {
        self.check(limit)?;
        let method = self.method.method()?;
        let mixture = self.mixture.mixture(&mut seeded(self.seed))?;
        let prediction = crate::predict_gmm(&mixture, &method, self.time)?;
        Ok(PredictOutcome {
            counts: mixture.counts().to_vec(),
            method,
            prediction,
        })
    }
}

/// The generator of a request's seed.
fn seeded(seed: u64) -> rand_pcg::Pcg64 {
    use rand::SeedableRng;
    rand_pcg::Pcg64::seed_from_u64(seed)
}

/// The theory's tuning of a method's hyperparameter (`imbalance tune`).
#[derive(Debug, Clone, PartialEq)]
pub struct TuneRequest {
    /// The mixture.
    pub mixture: MixtureSpec,
    /// The method whose hyperparameter is tuned (not `ce`, which has none).
    pub method: String,
    /// What to minimise.
    pub objective: imbalance_theory::Objective,
    /// The training time.
    pub time: Horizon,
    /// Seed of the random means.
    pub seed: u64,
}

/// What a [`TuneRequest`] answers.
#[derive(Debug, Clone)]
pub struct TuneOutcome {
    /// The training counts per class.
    pub counts: Vec<usize>,
    /// The method with its best hyperparameter.
    pub best: Method,
    /// The tuning: best value, objective, scan curve and the prediction at the best value.
    pub tuned: imbalance_theory::Tuned,
}

impl TuneRequest {
    /// The method named, unless it has nothing to tune.
    fn method_name(&self) -> Result<MethodName> {
        let name: MethodName = self.method.parse()?;
        if name == MethodName::Ce {
            return Err(invalid(
                "method",
                "ce has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs",
            ));
        }
        Ok(name)
    }

    /// The checks that need no computation (method, time, counts, the cost against `limit`).
    pub fn check(&self, limit: Option<crate::MemoryLimit>) -> Result<()> {
        let name = self.method_name()?;
        check_time(self.time)?;
        check_method_horizon(&name.with_params(&[])?, self.time)?;
        let counts = self.mixture.counts()?;
        crate::tune_cost(&counts, self.time).check(limit)
    }

    /// Checks ([`TuneRequest::check`]) and tunes.
    pub fn run(&self, limit: Option<crate::MemoryLimit>) -> Result<TuneOutcome> {
        self.check(limit)?;
        let name = self.method_name()?;
        let mixture = self.mixture.mixture(&mut seeded(self.seed))?;
        let stats = crate::mixture_stats(&mixture)?;
        let tuned = imbalance_theory::tune(
            &stats,
            name,
            self.objective,
            self.time,
            &crate::PredictOptions::default(),
        )?;
        Ok(TuneOutcome {
            counts: mixture.counts().to_vec(),
            best: name.with_params(&[(tuned.param, tuned.value)])?,
            tuned,
        })
    }
}

/// Simulations of a mixture trained with a method to a time (`imbalance simulate`): `seeds`
/// training sets, seed i drawn from `seed + i` (the random means too).
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateRequest {
    /// The mixture.
    pub mixture: MixtureSpec,
    /// The method.
    pub method: MethodSpec,
    /// The training time.
    pub time: Horizon,
    /// Number of training sets, >= 1.
    pub seeds: usize,
    /// Seed of the first.
    pub seed: u64,
    /// Fresh test draws per class (`None`: [`crate::default_test_per_class`]).
    pub test_per_class: Option<usize>,
    /// How training sets are drawn.
    pub sampler: crate::Sampler,
}

/// What a [`SimulateRequest`] answers: per seed, the per-class errors.
#[derive(Debug, Clone)]
pub struct SimulateOutcome {
    /// The training counts per class.
    pub counts: Vec<usize>,
    /// The method with its hyperparameters.
    pub method: Method,
    /// Test draws per class that were used.
    pub test_per_class: usize,
    /// Per seed, the errors measured on the test draws.
    pub sampled: Vec<Vec<f64>>,
    /// Per seed, the exact errors of the trained W.
    pub exact: Vec<Vec<f64>>,
}

impl SimulateRequest {
    /// The test draws per class this request uses.
    pub fn test_per_class(&self, classes: usize) -> usize {
        self.test_per_class
            .unwrap_or_else(|| crate::default_test_per_class(classes))
    }

    /// The checks that need no computation (method, time, seeds, test draws, counts, the cost
    /// against `limit`).
    pub fn check(&self, limit: Option<crate::MemoryLimit>) -> Result<()> {
        let counts = self.mixture.counts()?;
        let method = self.method.method()?;
        check_time(self.time)?;
        check_method_horizon(&method, self.time)?;
        if self.seeds == 0 {
            return Err(invalid("seeds", "must be at least 1"));
        }
        if self.test_per_class == Some(0) {
            return Err(invalid("test_per_class", "must be at least 1"));
        }
        check_method_counts(&method, &counts)?;
        crate::simulate_cost(
            &counts,
            self.mixture.dim,
            self.sampler,
            self.seeds,
            self.test_per_class(counts.len()),
        )
        .check(limit)
    }

    /// Checks ([`SimulateRequest::check`]) and runs the seeds one after another, calling
    /// `done(i)` after seed i. A stop request ([`imbalance_core::interrupt`]) ends the run
    /// between seeds, or cuts the running seed short, with [`Error::Interrupted`].
    pub fn run(
        &self,
        limit: Option<crate::MemoryLimit>,
        mut done: impl FnMut(usize),
    ) -> Result<SimulateOutcome> {
        use imbalance_core::interrupt::requested;
        self.check(limit)?;
        let counts = self.mixture.counts()?;
        let method = self.method.method()?;
        let test_per_class = self.test_per_class(counts.len());
        let flow = crate::simulation_flow(counts.len());
        let (mut sampled, mut exact) = (Vec::new(), Vec::new());
        for i in 0..self.seeds {
            let mut rng = seeded(self.seed.wrapping_add(i as u64));
            let mixture = self.mixture.mixture(&mut rng)?;
            let run = crate::simulate_gmm(
                &mixture,
                &method,
                self.time,
                self.sampler,
                test_per_class,
                &flow,
                &mut rng,
            );
            // A stop during the seed: the libraries cut it short, so its result (or error)
            // is discarded.
            if requested() {
                return Err(Error::Interrupted {
                    done: i,
                    total: self.seeds,
                });
            }
            let run = run?;
            sampled.push(run.sampled_error);
            exact.push(run.exact_error);
            done(i);
            if i + 1 < self.seeds && requested() {
                return Err(Error::Interrupted {
                    done: i + 1,
                    total: self.seeds,
                });
            }
        }
        Ok(SimulateOutcome {
            counts,
            method,
            test_per_class,
            sampled,
            exact,
        })
    }
}
