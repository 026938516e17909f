//! Feature maps of the runs on images and given features: their specification
//! ([`FeatureSpec`], parsed from `relu:10000`, `erf:inf`, `identity`, ...) and the drawn map
//! ([`FeatureMap`]) with its Gram and cross-Gram matrices.

use std::fmt;
use std::str::FromStr;

use faer::{Mat, MatRef};
use imbalance_features::{Activation, FeatureParams, RandomFeatures, limit_gram, limit_kernel};
use rand::Rng;

use crate::error::{Error, Result, invalid};

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
