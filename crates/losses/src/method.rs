//! The named presets of the loss family and their hyperparameters.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Loss, Result};

/// A training method with its hyperparameter values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Plain cross-entropy.
    Ce,
    /// Weighted cross-entropy with `omega_y = (n / (K n_y))^beta` (beta = 1: inverse frequency).
    Wce {
        /// Exponent of the inverse-frequency weights, >= 0.
        beta: f64,
    },
    /// Logit adjustment during training (Menon et al.): `iota_c = tau * log pi_c`.
    La {
        /// Strength of the adjustment, >= 0 (tau = 1 is the Bayes-consistent choice).
        tau: f64,
    },
    /// Post-hoc logit adjustment: train plain CE, predict `argmax_c z_c - tau * log pi_c`.
    PostHoc {
        /// Strength of the adjustment, >= 0.
        tau: f64,
    },
    /// Class-dependent temperature (Ye et al.): `Delta_c = (n_c / n_max)^gamma` in training only.
    Cdt {
        /// Temperature exponent, >= 0 (gamma = 0 is CE).
        gamma: f64,
    },
    /// Label-distribution-aware margin (Cao et al.): `m_y = C * n_y^(-1/4)` on the true logit.
    Ldam {
        /// Margin scale C, >= 0.
        c: f64,
    },
    /// Vector scaling (Kini et al.): multiplicative `(n_c / n_max)^gamma` and additive `tau log pi_c`.
    Vs {
        /// Multiplicative exponent, >= 0.
        gamma: f64,
        /// Additive strength, >= 0.
        tau: f64,
    },
}

/// The name of a method, without hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MethodName {
    /// Cross-entropy.
    Ce,
    /// Weighted cross-entropy.
    Wce,
    /// Logit adjustment.
    La,
    /// Post-hoc logit adjustment.
    PostHoc,
    /// Class-dependent temperature.
    Cdt,
    /// LDAM margins.
    Ldam,
    /// VS loss.
    Vs,
}

impl MethodName {
    /// Every method, in a fixed order.
    pub const ALL: [MethodName; 7] = [
        MethodName::Ce,
        MethodName::Wce,
        MethodName::La,
        MethodName::PostHoc,
        MethodName::Cdt,
        MethodName::Ldam,
        MethodName::Vs,
    ];

    /// The command-line spelling: ce, wce, la, posthoc, cdt, ldam, vs.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodName::Ce => "ce",
            MethodName::Wce => "wce",
            MethodName::La => "la",
            MethodName::PostHoc => "posthoc",
            MethodName::Cdt => "cdt",
            MethodName::Ldam => "ldam",
            MethodName::Vs => "vs",
        }
    }

    /// The hyperparameters this method takes, as command-line names (`margin` is LDAM's C).
    pub fn params(self) -> &'static [&'static str] {
        match self {
            MethodName::Ce => &[],
            MethodName::Wce => &["beta"],
            MethodName::La | MethodName::PostHoc => &["tau"],
            MethodName::Cdt => &["gamma"],
            MethodName::Ldam => &["margin"],
            MethodName::Vs => &["gamma", "tau"],
        }
    }

    /// The single hyperparameter that `tune` searches over (VS: its multiplicative gamma).
    pub fn tuned_param(self) -> Option<&'static str> {
        match self {
            MethodName::Ce => None,
            MethodName::Vs => Some("gamma"),
            other => Some(other.params()[0]),
        }
    }

    /// The method with the given hyperparameters (`(name, value)` pairs); parameters not given
    /// take their defaults: tau = 1, beta = 1, gamma = 0.5 (CDT) or 0.2 (VS), margin C = 1.
    /// A parameter the method does not take is an error, and so is an out-of-range value.
    pub fn with_params(self, params: &[(&str, f64)]) -> Result<Method> {
        let takes = self.params();
        let get = |name: &str, default: f64| {
            params
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(default, |(_, v)| *v)
        };
        if let Some((bad, _)) = params.iter().find(|(n, _)| !takes.contains(n)) {
            return Err(Error::UnexpectedParam {
                method: self.as_str(),
                param: bad.to_string(),
                takes: match self {
                    MethodName::Ce => "no hyperparameter",
                    MethodName::Wce => "--beta",
                    MethodName::La | MethodName::PostHoc => "--tau",
                    MethodName::Cdt => "--gamma",
                    MethodName::Ldam => "--margin",
                    MethodName::Vs => "--gamma and --tau",
                },
            });
        }
        let method = match self {
            MethodName::Ce => Method::Ce,
            MethodName::Wce => Method::Wce {
                beta: get("beta", 1.0),
            },
            MethodName::La => Method::La {
                tau: get("tau", 1.0),
            },
            MethodName::PostHoc => Method::PostHoc {
                tau: get("tau", 1.0),
            },
            MethodName::Cdt => Method::Cdt {
                gamma: get("gamma", 0.5),
            },
            MethodName::Ldam => Method::Ldam {
                c: get("margin", 1.0),
            },
            MethodName::Vs => Method::Vs {
                gamma: get("gamma", 0.2),
                tau: get("tau", 1.0),
            },
        };
        method.validate()?;
        Ok(method)
    }
}

impl fmt::Display for MethodName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MethodName {
    type Err = Error;

    /// Parses a method name as papers and users write it: case-insensitive, surrounding
    /// spaces, `-` and `_` ignored (`LA`, `CE`, `Post-hoc`, `LDAM`).
    fn from_str(s: &str) -> Result<Self> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_'))
            .collect::<String>()
            .to_ascii_lowercase();
        MethodName::ALL
            .into_iter()
            .find(|m| m.as_str() == key)
            .ok_or_else(|| Error::UnknownMethod {
                name: s.to_string(),
            })
    }
}

/// Errors unless every class has at least one sample and there are at least two classes.
pub(crate) fn check_counts(counts: &[usize]) -> Result<()> {
    Ok(imbalance_core::check_counts(counts)?)
}

impl Method {
    /// The method's name.
    pub fn name(&self) -> MethodName {
        match self {
            Method::Ce => MethodName::Ce,
            Method::Wce { .. } => MethodName::Wce,
            Method::La { .. } => MethodName::La,
            Method::PostHoc { .. } => MethodName::PostHoc,
            Method::Cdt { .. } => MethodName::Cdt,
            Method::Ldam { .. } => MethodName::Ldam,
            Method::Vs { .. } => MethodName::Vs,
        }
    }

    /// The hyperparameters as `(command-line name, value)` pairs.
    pub fn params(&self) -> Vec<(&'static str, f64)> {
        match *self {
            Method::Ce => vec![],
            Method::Wce { beta } => vec![("beta", beta)],
            Method::La { tau } | Method::PostHoc { tau } => vec![("tau", tau)],
            Method::Cdt { gamma } => vec![("gamma", gamma)],
            Method::Ldam { c } => vec![("margin", c)],
            Method::Vs { gamma, tau } => vec![("gamma", gamma), ("tau", tau)],
        }
    }

    /// The same method with one hyperparameter replaced (used by tuning).
    pub fn with_param(&self, name: &str, value: f64) -> Result<Method> {
        let mut params = self.params();
        match params.iter_mut().find(|(n, _)| *n == name) {
            Some(p) => p.1 = value,
            None => params.push((
                // Not taken by this method: let `with_params` report it.
                MethodName::ALL
                    .iter()
                    .flat_map(|m| m.params())
                    .copied()
                    .find(|n| *n == name)
                    .unwrap_or("unknown"),
                value,
            )),
        }
        self.name().with_params(&params)
    }

    /// Checks every hyperparameter: finite and >= 0.
    pub fn validate(&self) -> Result<()> {
        let method = self.name().as_str();
        for (param, value) in self.params() {
            if !value.is_finite() || value < 0.0 {
                return Err(Error::BadParam {
                    method,
                    param,
                    value,
                    allowed: "it must be finite and >= 0",
                });
            }
        }
        Ok(())
    }

    /// The training loss for these class counts (K = counts.len()).
    pub fn loss(&self, counts: &[usize]) -> Result<Loss> {
        check_counts(counts)?;
        self.validate()?;
        let k = counts.len();
        let n: f64 = counts.iter().map(|&c| c as f64).sum();
        let n_max = counts.iter().copied().max().unwrap_or(1) as f64;
        let log_prior: Vec<f64> = counts.iter().map(|&c| (c as f64 / n).ln()).collect();
        let temperature = |gamma: f64| -> Vec<f64> {
            counts
                .iter()
                .map(|&c| (c as f64 / n_max).powf(gamma))
                .collect()
        };
        let ones = vec![1.0; k];
        let zeros = vec![0.0; k];
        let (delta, iota, margin, omega) = match *self {
            Method::Ce | Method::PostHoc { .. } => (ones.clone(), zeros.clone(), zeros, ones),
            Method::Wce { beta } => {
                let omega = counts
                    .iter()
                    .map(|&c| (n / (k as f64 * c as f64)).powf(beta))
                    .collect();
                (ones, zeros.clone(), zeros, omega)
            }
            Method::La { tau } => {
                let iota = log_prior.iter().map(|l| tau * l).collect();
                (ones.clone(), iota, zeros, ones)
            }
            Method::Cdt { gamma } => (temperature(gamma), zeros.clone(), zeros, ones),
            Method::Ldam { c } => {
                let margin = counts
                    .iter()
                    .map(|&nc| c * (nc as f64).powf(-0.25))
                    .collect();
                (ones.clone(), zeros, margin, ones)
            }
            Method::Vs { gamma, tau } => {
                let iota = log_prior.iter().map(|l| tau * l).collect();
                (temperature(gamma), iota, zeros, ones)
            }
        };
        Loss::new(delta, iota, margin, omega)
    }

    /// Offsets added to the logits at prediction time: `-tau * log pi_c` for post-hoc logit
    /// adjustment, zeros for every other method.
    pub fn prediction_offsets(&self, counts: &[usize]) -> Result<Vec<f64>> {
        check_counts(counts)?;
        self.validate()?;
        let n: f64 = counts.iter().map(|&c| c as f64).sum();
        Ok(match *self {
            Method::PostHoc { tau } => counts.iter().map(|&c| -tau * (c as f64 / n).ln()).collect(),
            _ => vec![0.0; counts.len()],
        })
    }

    /// Whether the method is defined at training time T = infinity. Post-hoc logit adjustment
    /// is not: the max-margin classifier has no scale, so an additive offset is meaningless.
    pub fn defined_at_infinity(&self) -> bool {
        !matches!(self, Method::PostHoc { .. })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        for (name, value) in self.params() {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}
