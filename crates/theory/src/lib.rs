#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod closed_form;
mod error;
mod genz;
mod law;
mod linalg;
mod max_margin;
mod meanfield;
mod mechanism;
mod orthant;
mod quad;
mod shared_mc;
pub mod special;
mod stats;
mod tune;

pub use closed_form::{closed_form_binary, closed_form_infinite};
pub use error::{Error, Result};
pub use genz::{GenzOptions, class_error, orthant_probability};
pub use imbalance_core::Horizon;
/// The process-wide stop request that the theory's long loops look at (re-exported from
/// `imbalance-core`, for callers that depend on this crate alone).
pub use imbalance_core::interrupt;
pub use imbalance_core::ode::OdeOptions;
/// The training methods that the theory predicts, re-exported from `imbalance-losses`.
pub use imbalance_losses::{Method, MethodName};
pub use law::{SHARED_MC_MIN_DIM, logit_law};
pub use max_margin::max_margin_dual;
pub use meanfield::{PredictOptions, Prediction, finite_n_factor, mean_field_dual, predict};
pub use mechanism::{Mechanism, mechanism, mechanism_from_dual};
pub use orthant::{OrthantEstimate, OrthantMethod, class_error_estimate, orthant_estimate};
pub use quad::one_factor_orthant;
pub use shared_mc::{MonteCarloOptions, SharedEstimate, shared_class_errors};
pub use stats::{MixtureStats, NoiseModel};
pub use tune::{Objective, TUNE_DRAWS, Tuned, tune, tuning_range};

#[cfg(test)]
mod tests;
