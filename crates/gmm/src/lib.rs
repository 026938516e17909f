#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod error;
mod logit;
mod mixture;
mod profile;
mod sample;
mod seeding;

pub use error::{Error, Result};
pub use imbalance_core::alloc::AllocError;
pub use logit::LogitLaw;
pub use mixture::{MeansSpec, Mixture};
pub use profile::Profile;
pub use sample::{TrainingSet, gram, keeps_factor, sample_class, sample_x, try_gram, try_sample_x};
/// The random-number traits and generator that the samplers take, re-exported so that a
/// project depending on this crate alone can seed them.
pub use {rand, rand_pcg};

#[cfg(test)]
mod tests;
