//! Command-line arguments shared by several commands, and their conversion to library types.

use clap::{ArgAction, Args, ValueEnum};
use imbalance_core::exact_integer;
use imbalance_gmm::{MeansSpec, Mixture, Profile};
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use imbalance_pipeline::Sampler;
use rand::Rng;
use serde_json::{Value, json};

use crate::error::{Error, Result, usage};
use crate::limits::{MAX_HYPERPARAMETER, MAX_SNR, NOISE_RANGE, TIME_RANGE, check_range, short};

/// Imbalance profile families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileKind {
    /// Majority classes with n_max samples, minority classes with n_max / ratio.
    Step,
    /// n_c = floor(n_max * ratio^(-c / (K - 1))), truncated as in CIFAR-10-LT (Cao et al. 2019).
    Exp,
}

/// How class means are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MeansKind {
    /// mu_c = snr * e_c.
    Orthogonal,
    /// Independent uniformly random directions, each of norm snr.
    Random,
}

/// The Gaussian mixture: class counts, dimension, signal and noise.
#[derive(Debug, Clone, Args)]
pub struct GmmArgs {
    /// Explicit training counts per class, comma-separated (K = their number; give the flag
    /// once).
    #[arg(long, value_delimiter = ',', value_name = "N0,N1,...", action = ArgAction::Set,
          allow_hyphen_values = true, value_parser = parse_usize)]
    pub counts: Option<Vec<usize>>,
    /// Imbalance profile (instead of --counts); needs --classes, --n-max, --ratio.
    #[arg(long, value_enum, ignore_case = true)]
    pub profile: Option<ProfileKind>,
    /// Number of classes K (with --profile).
    #[arg(long, value_parser = parse_usize)]
    pub classes: Option<usize>,
    /// Samples of the largest class (with --profile).
    #[arg(long, value_parser = parse_usize)]
    pub n_max: Option<usize>,
    /// Imbalance ratio rho = n_max / n_min >= 1 (with --profile).
    #[arg(long, allow_hyphen_values = true)]
    pub ratio: Option<f64>,
    /// Number of minority classes (with --profile step; default K / 2).
    #[arg(long, value_parser = parse_usize)]
    pub minority_classes: Option<usize>,
    /// Dimension p (number of features; 1e5 style accepted for exact integers).
    #[arg(long, value_name = "P", value_parser = parse_usize)]
    pub dim: usize,
    /// Norm of each class mean (signal-to-noise ratio), 0 to 1e6.
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    pub snr: f64,
    /// Noise standard deviation sigma, 1e-6 to 1e6.
    #[arg(
        long,
        alias = "sigma",
        value_name = "SIGMA",
        default_value_t = 1.0,
        allow_hyphen_values = true
    )]
    pub noise: f64,
    /// Class means.
    #[arg(long, value_enum, ignore_case = true, default_value_t = MeansKind::Orthogonal)]
    pub means: MeansKind,
}

/// Clap's parser for the `usize` flags: a non-negative integer, also as `1e5` or `2.5e3`
/// when exact ([`exact_integer`]).
pub fn parse_usize(s: &str) -> std::result::Result<usize, String> {
    exact_integer(s, usize::MAX as u128)
        .map(|v| v as usize)
        .map_err(|e| e.to_string())
}

/// Clap's parser for the `u64` flags (seeds), as [`parse_usize`].
pub fn parse_u64(s: &str) -> std::result::Result<u64, String> {
    exact_integer(s, u64::MAX as u128)
        .map(|v| v as u64)
        .map_err(|e| e.to_string())
}

impl GmmArgs {
    /// The flag the class counts come from: `--counts`, or `--n-max` for a profile.
    pub fn counts_flag(&self) -> &'static str {
        if self.counts.is_some() {
            "--counts"
        } else {
            "--n-max"
        }
    }

    /// The imbalance profile described by the flags (after checking --snr and --noise).
    pub fn profile(&self) -> Result<Profile> {
        check_range("--snr", self.snr, 0.0, MAX_SNR)?;
        check_range("--noise", self.noise, NOISE_RANGE.0, NOISE_RANGE.1)?;
        match (&self.counts, self.profile) {
            (Some(_), Some(_)) => Err(usage(
                "--counts",
                "give either --counts or --profile, not both",
            )),
            (None, None) => Err(usage(
                "--counts",
                "missing: give --counts n0,n1,... or --profile step|exp with --classes, --n-max and --ratio",
            )),
            (Some(counts), None) => {
                for (flag, given) in [
                    ("--classes", self.classes.is_some()),
                    ("--n-max", self.n_max.is_some()),
                    ("--ratio", self.ratio.is_some()),
                    ("--minority-classes", self.minority_classes.is_some()),
                ] {
                    if given {
                        return Err(usage(flag, "only goes with --profile, not with --counts"));
                    }
                }
                Ok(Profile::Counts(counts.clone()))
            }
            (None, Some(kind)) => {
                let classes = self
                    .classes
                    .ok_or_else(|| usage("--classes", "missing: --profile needs --classes K"))?;
                let n_max = self
                    .n_max
                    .ok_or_else(|| usage("--n-max", "missing: --profile needs --n-max N"))?;
                let ratio = self
                    .ratio
                    .ok_or_else(|| usage("--ratio", "missing: --profile needs --ratio R"))?;
                Ok(match kind {
                    ProfileKind::Step => Profile::Step {
                        classes,
                        n_max,
                        ratio,
                        minority_classes: self.minority_classes.unwrap_or(classes / 2),
                    },
                    ProfileKind::Exp => {
                        if self.minority_classes.is_some() {
                            return Err(usage(
                                "--minority-classes",
                                "only goes with --profile step",
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

    /// The training counts per class (a count problem names --counts or --n-max).
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

    /// The mixture (random means are drawn from `rng`); its errors name the flag.
    pub fn mixture<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mixture> {
        Mixture::new(self.counts()?, self.dim, self.means_spec(), self.noise, rng)
            .map_err(|e| self.gmm_error(e))
    }

    /// A mixture error in terms of the flag that set the parameter.
    fn gmm_error(&self, e: imbalance_gmm::Error) -> Error {
        use imbalance_gmm::Error as G;
        let flag = match &e {
            G::Counts(_) | G::ClassCountMismatch { .. } | G::ProfileCountZero { .. } => {
                self.counts_flag()
            }
            G::ZeroNMax => "--n-max",
            G::InvalidRatio { .. } => "--ratio",
            G::MinorityClassesOutOfRange { .. } => "--minority-classes",
            G::ZeroDim | G::DimTooSmallForOrthogonal { .. } => "--dim",
            G::InvalidSigma { .. } => "--noise",
            G::InvalidSnr { .. } => "--snr",
            _ => return e.into(),
        };
        usage(flag, e.to_string())
    }

    /// The mixture part of the `config` object of `--json` output.
    pub fn config(&self, counts: &[usize]) -> Value {
        json!({
            "counts": counts,
            "dim": self.dim,
            "snr": self.snr,
            "noise": self.noise,
            "means": match self.means { MeansKind::Orthogonal => "orthogonal", MeansKind::Random => "random" },
        })
    }
}

/// The training method and its hyperparameters.
#[derive(Debug, Clone, Args)]
pub struct MethodArgs {
    /// Training method: ce, wce, la, posthoc, cdt, ldam or vs.
    #[arg(long)]
    pub method: String,
    /// Logit-adjustment strength (la, posthoc, vs; default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub tau: Option<f64>,
    /// Temperature exponent (cdt: default 0.5; vs: default 0.2).
    #[arg(long, allow_hyphen_values = true)]
    pub gamma: Option<f64>,
    /// LDAM margin scale C: margin C * n_y^(-1/4) (ldam; default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub margin: Option<f64>,
    /// Weight exponent: omega_y = (n / (K n_y))^beta (wce; default 1).
    #[arg(long, allow_hyphen_values = true)]
    pub beta: Option<f64>,
}

impl MethodArgs {
    /// The method with its hyperparameters; a flag the method does not take is an error.
    pub fn method(&self) -> Result<Method> {
        let name: MethodName = self.method.parse()?;
        for (flag, v) in [
            ("--tau", self.tau),
            ("--gamma", self.gamma),
            ("--margin", self.margin),
            ("--beta", self.beta),
        ] {
            if let Some(v) = v {
                check_range(flag, v, -MAX_HYPERPARAMETER, MAX_HYPERPARAMETER)?;
            }
        }
        let given: Vec<(&str, f64)> = [
            ("tau", self.tau),
            ("gamma", self.gamma),
            ("margin", self.margin),
            ("beta", self.beta),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
        Ok(name.with_params(&given)?)
    }
}

/// Errors unless `method`'s loss and prediction offsets are finite and positive where they
/// must be for these counts, naming the hyperparameter flag that pushed them out of range
/// (e.g. `--gamma 100` with a ratio of 1e6 makes (n_y / n_max)^gamma underflow to 0).
pub fn check_method_counts(method: &Method, counts: &[usize]) -> Result<()> {
    let flag = match method.params().first().map(|(n, _)| *n) {
        Some("tau") => "--tau",
        Some("gamma") => "--gamma",
        Some("margin") => "--margin",
        Some("beta") => "--beta",
        _ => "--method",
    };
    let params = method
        .params()
        .iter()
        .map(|(n, v)| format!("{n} = {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let out_of_range = |what: String| {
        usage(
            flag,
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

/// The method part of the `config` object of `--json` output.
pub fn method_config(method: &Method) -> Value {
    let params: serde_json::Map<String, Value> = method
        .params()
        .into_iter()
        .map(|(n, v)| (n.to_string(), json!(v)))
        .collect();
    json!({ "method": method.name().as_str(), "params": params })
}

/// Parses `--time`: a positive number or `inf`.
pub fn horizon(time: &str) -> Result<Horizon> {
    let h = time
        .parse::<Horizon>()
        .map_err(|e| usage("--time", e.to_string()))?;
    if let Horizon::Finite(t) = h {
        check_range("--time", t, TIME_RANGE.0, TIME_RANGE.1).map_err(|_| {
            usage(
                "--time",
                format!(
                    "{time} is out of range; allowed: a number from {} to {}, or inf",
                    short(TIME_RANGE.0),
                    short(TIME_RANGE.1)
                ),
            )
        })?;
    }
    Ok(h)
}

/// The `--time` value as JSON: a number, or the string "inf".
pub fn horizon_config(h: Horizon) -> Value {
    match h {
        Horizon::Finite(t) => json!(t),
        Horizon::Infinite => json!("inf"),
    }
}

/// Errors unless the method can be trained to this horizon.
pub fn check_method_horizon(method: &Method, h: Horizon) -> Result<()> {
    if h == Horizon::Infinite && !method.defined_at_infinity() {
        return Err(usage(
            "--time",
            format!(
                "method {} is undefined at T = inf (the max-margin classifier has no scale, so a post-hoc logit offset means nothing); give a finite --time",
                method.name()
            ),
        ));
    }
    Ok(())
}

/// `--time` of the commands on the Gaussian mixture (`imbalance train` has its own: a finite
/// default and advice on the time scale).
#[derive(Debug, Clone, Args)]
pub struct TimeArgs {
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit).
    #[arg(
        long,
        value_name = "T|inf",
        default_value = "inf",
        allow_hyphen_values = true
    )]
    pub time: String,
}

impl TimeArgs {
    /// The parsed horizon.
    pub fn horizon(&self) -> Result<Horizon> {
        horizon(&self.time)
    }
}

/// `--seed` of the theory commands, where it only draws random means.
#[derive(Debug, Clone, Args)]
pub struct MeansSeedArgs {
    /// Seed for drawing random means (--means random); unused otherwise.
    #[arg(long, value_name = "S", default_value_t = 0, value_parser = parse_u64)]
    pub seed: u64,
}

/// `--json`, the same for every command that prints results.
#[derive(Debug, Clone, Args)]
pub struct JsonArgs {
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How training sets are drawn (`--sampler`; the pipeline's [`Sampler`] has no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplerArg {
    /// Sample the Gram matrix X X^T directly (exact in distribution; cost independent of p).
    Direct,
    /// Sample X (n x p) and multiply (cost O(n^2 p); for checking the direct sampler).
    Explicit,
}

impl From<SamplerArg> for Sampler {
    fn from(s: SamplerArg) -> Self {
        match s {
            SamplerArg::Direct => Sampler::Direct,
            SamplerArg::Explicit => Sampler::Explicit,
        }
    }
}
