//! The analytical mean-field theory of per-class test error under class imbalance.
//!
//! For a K-class Gaussian mixture ([`MixtureStats`]: class counts, the Gram matrix of the class
//! means, the noise model) and a training method of the [`imbalance_losses`] family trained by
//! gradient flow to time T ([`Horizon`], possibly infinite), the theory
//!
//! 1. integrates the K x K mean-field system `d a^(c)/dt = -(1/n) g(z^(c), c)` (or, at
//!    T = infinity, solves its max-margin limit exactly: [`mean_field_dual`], [`max_margin_dual`]);
//! 2. turns the dual into the Gaussian law of the test logits of each class ([`logit_law`]);
//! 3. computes each class's error as a Gaussian orthant probability ([`class_error`],
//!    [`orthant_probability`]: exact for K <= 3 and for one-factor covariances, Genz's
//!    randomised lattice rule otherwise).
//!
//! [`predict`] does all three. Around it: closed forms at T = infinity
//! ([`closed_form_infinite`], [`closed_form_binary`]), the signal/noise decomposition of the
//! classifier rows ([`mechanism`], and [`mechanism_from_dual`] for a trained model), and
//! hyperparameter tuning on the predicted error ([`tune`]).
//!
//! ```
//! use imbalance_theory::{predict, tune, Horizon, MixtureStats, Objective, PredictOptions};
//! use imbalance_losses::{Method, MethodName};
//!
//! // Two classes, 200 and 20 samples, orthogonal means of norm 5 in dimension 2000.
//! let stats = MixtureStats::orthogonal(vec![200, 20], 5.0, 1.0, 2000)?;
//! let opts = PredictOptions::default();
//! let ce = predict(&stats, &Method::Ce, Horizon::Finite(1e4), &opts)?;
//! assert!((ce.per_class_error[1] - 0.164).abs() < 2e-3); // THEORY §6, row 1
//! // Logit adjustment with a tuned tau helps the minority class.
//! let la = tune(&stats, MethodName::La, Objective::Balanced, Horizon::Finite(1e4), &opts)?;
//! assert!(la.error < ce.balanced_error);
//! # Ok::<(), imbalance_theory::Error>(())
//! ```
#![deny(missing_docs)]

mod closed_form;
mod error;
mod genz;
mod meanfield;
mod mechanism;
mod quad;
pub mod special;
mod stats;
mod tune;

pub use closed_form::{closed_form_binary, closed_form_infinite};
pub use error::{Error, Result};
pub use genz::{GenzOptions, class_error, orthant_probability};
pub use imbalance_gradflow::Horizon;
pub use meanfield::{
    PredictOptions, Prediction, finite_n_factor, logit_law, max_margin_dual, mean_field_dual,
    predict,
};
pub use mechanism::{Mechanism, mechanism, mechanism_from_dual};
pub use quad::one_factor_orthant;
pub use stats::{MixtureStats, NoiseModel};
pub use tune::{Objective, Tuned, tune, tuning_range};

#[cfg(test)]
mod tests;
