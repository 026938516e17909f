//! Command-line arguments shared by several commands, and their conversion to library types.

use clap::{ArgAction, Args, ValueEnum};
use imbalance_core::exact_integer;
use imbalance_gradflow::Horizon;
use imbalance_losses::Method;
use imbalance_pipeline::Sampler;
use imbalance_pipeline::request::{self, MethodSpec, MixtureSpec};
use serde_json::{Value, json};

use crate::error::Result;

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

impl From<ProfileKind> for request::ProfileKind {
    fn from(k: ProfileKind) -> Self {
        match k {
            ProfileKind::Step => request::ProfileKind::Step,
            ProfileKind::Exp => request::ProfileKind::Exp,
        }
    }
}

impl From<MeansKind> for request::MeansKind {
    fn from(k: MeansKind) -> Self {
        match k {
            MeansKind::Orthogonal => request::MeansKind::Orthogonal,
            MeansKind::Random => request::MeansKind::Random,
        }
    }
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
    /// The mixture these flags request (checked by its methods, errors naming the field,
    /// which the command line's errors rename to the flag).
    pub fn spec(&self) -> MixtureSpec {
        MixtureSpec {
            counts: self.counts.clone(),
            profile: self.profile.map(Into::into),
            classes: self.classes,
            n_max: self.n_max,
            ratio: self.ratio,
            minority_classes: self.minority_classes,
            dim: self.dim,
            snr: self.snr,
            noise: self.noise,
            means: self.means.into(),
        }
    }

    /// The flag the class counts come from: `--counts`, or `--n-max` for a profile.
    pub fn counts_flag(&self) -> &'static str {
        if self.counts.is_some() {
            "--counts"
        } else {
            "--n-max"
        }
    }

    /// The training counts per class (a count problem names --counts or --n-max).
    pub fn counts(&self) -> Result<Vec<usize>> {
        Ok(self.spec().counts()?)
    }

    /// The mixture part of the `config` object of `--json` output.
    pub fn config(&self, counts: &[usize]) -> Value {
        json!({
            "counts": counts,
            "dim": self.dim,
            "snr": self.snr,
            "noise": self.noise,
            "means": request::MeansKind::from(self.means).as_str(),
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
    /// The method these flags request.
    pub fn spec(&self) -> MethodSpec {
        MethodSpec {
            method: self.method.clone(),
            tau: self.tau,
            gamma: self.gamma,
            margin: self.margin,
            beta: self.beta,
        }
    }

    /// The method with its hyperparameters; a flag the method does not take is an error.
    pub fn method(&self) -> Result<Method> {
        Ok(self.spec().method()?)
    }
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

/// The `--time` value as JSON: a number, or the string "inf".
pub fn horizon_config(h: Horizon) -> Value {
    match h {
        Horizon::Finite(t) => json!(t),
        Horizon::Infinite => json!("inf"),
    }
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
        Ok(request::horizon(&self.time)?)
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
