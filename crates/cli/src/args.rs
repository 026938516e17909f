//! Command-line arguments shared by several commands, and their conversion to library types.

use clap::{Args, ValueEnum};
use imbalance_gmm::{MeansSpec, Mixture, Profile};
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use rand::Rng;
use serde_json::{Value, json};

use crate::error::{Result, usage};

/// Imbalance profile families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileKind {
    /// Majority classes with n_max samples, minority classes with n_max / ratio.
    Step,
    /// n_c = n_max * ratio^(-c / (K - 1)).
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
    /// Explicit training counts per class, comma-separated (K = their number).
    #[arg(long, value_delimiter = ',', value_name = "N0,N1,...")]
    pub counts: Option<Vec<usize>>,
    /// Imbalance profile (instead of --counts); needs --classes, --n-max, --ratio.
    #[arg(long, value_enum)]
    pub profile: Option<ProfileKind>,
    /// Number of classes K (with --profile).
    #[arg(long)]
    pub classes: Option<usize>,
    /// Samples of the largest class (with --profile).
    #[arg(long)]
    pub n_max: Option<usize>,
    /// Imbalance ratio rho = n_max / n_min >= 1 (with --profile).
    #[arg(long)]
    pub ratio: Option<f64>,
    /// Number of minority classes (with --profile step; default K / 2).
    #[arg(long)]
    pub minority_classes: Option<usize>,
    /// Dimension p (number of features).
    #[arg(long, value_name = "P")]
    pub dim: usize,
    /// Norm of each class mean (signal-to-noise ratio).
    #[arg(long, value_name = "S")]
    pub snr: f64,
    /// Noise standard deviation sigma.
    #[arg(long, value_name = "SIGMA", default_value_t = 1.0)]
    pub noise: f64,
    /// Class means.
    #[arg(long, value_enum, default_value_t = MeansKind::Orthogonal)]
    pub means: MeansKind,
}

impl GmmArgs {
    /// The imbalance profile described by the flags.
    pub fn profile(&self) -> Result<Profile> {
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

    /// The training counts per class.
    pub fn counts(&self) -> Result<Vec<usize>> {
        Ok(self.profile()?.counts()?)
    }

    /// The means specification.
    pub fn means_spec(&self) -> MeansSpec {
        match self.means {
            MeansKind::Orthogonal => MeansSpec::Orthogonal { snr: self.snr },
            MeansKind::Random => MeansSpec::Random { snr: self.snr },
        }
    }

    /// The mixture (random means are drawn from `rng`).
    pub fn mixture<R: Rng + ?Sized>(&self, rng: &mut R) -> Result<Mixture> {
        Ok(Mixture::new(
            self.counts()?,
            self.dim,
            self.means_spec(),
            self.noise,
            rng,
        )?)
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
    #[arg(long)]
    pub tau: Option<f64>,
    /// Temperature exponent (cdt: default 0.5; vs: default 0.2).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// LDAM margin scale C: margin C * n_y^(-1/4) (ldam; default 1).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Weight exponent: omega_y = (n / (K n_y))^beta (wce; default 1).
    #[arg(long)]
    pub beta: Option<f64>,
}

impl MethodArgs {
    /// The method with its hyperparameters; a flag the method does not take is an error.
    pub fn method(&self) -> Result<Method> {
        let name: MethodName = self.method.parse()?;
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
    time.parse::<Horizon>()
        .map_err(|e| usage("--time", e.to_string()))
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
