//! K-class Gaussian mixtures with imbalanced class counts, and seeded sampling of the
//! training matrix X or, directly, of its Gram matrix X X^T.
//!
//! ```
//! use imbalance_gmm::{MeansSpec, Mixture, Profile, TrainingSet, sample_x};
//! use rand::SeedableRng;
//!
//! let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
//! // 3 classes: 40 samples for class 0, 10 for classes 1 and 2 (ratio 4).
//! let counts = Profile::Step { classes: 3, n_max: 40, ratio: 4.0, minority_classes: 2 }.counts()?;
//! assert_eq!(counts, vec![40, 10, 10]);
//! let mix = Mixture::new(counts, 10_000, MeansSpec::Orthogonal { snr: 3.0 }, 1.0, &mut rng)?;
//!
//! // What training needs, without forming the 60 x 10000 matrix X ...
//! let direct = TrainingSet::sample_direct(&mix, &mut rng);
//! // ... or from an explicit X (same distribution).
//! let (x, labels) = sample_x(&mix, &mut rng);
//! let explicit = TrainingSet::from_x(&mix, x.as_ref(), labels);
//! assert_eq!(direct.gram.nrows(), 60);
//! // Diagonal entries concentrate at |mu|^2 + sigma^2 p = 9 + 10000.
//! assert!((direct.gram[(0, 0)] / 10_009.0 - 1.0).abs() < 0.1);
//! assert!((explicit.gram[(0, 0)] / 10_009.0 - 1.0).abs() < 0.1);
//! # Ok::<(), imbalance_gmm::Error>(())
//! ```
//!
//! # Model
//!
//! Class c has n_c training samples x = mu_c + sigma z, z ~ N(0, I_p). The counts
//! come from a [`Profile`] (explicit, step or exponential), the means from a
//! [`MeansSpec`] (orthogonal `mu_c = snr e_c`, random directions of norm `snr`, or
//! given). Samples are always sorted by class, class 0 first.
//!
//! # Two samplers, one distribution
//!
//! [`sample_x`] draws X (n x p); [`TrainingSet::from_x`] turns it into the Gram matrix
//! and the mean projections x_i . mu_c. [`TrainingSet::sample_direct`] draws the same
//! two objects directly: since the noise is isotropic, only the r <= K coordinates
//! along the means need explicit samples, and the rest of X X^T is a Wishart matrix,
//! drawn from its Bartlett factor. Its cost, O(n^3), does not grow with p, so p = 10^6
//! costs as much as p = 10^3.
//!
//! # Evaluation
//!
//! For a model W = A^T X, the logits of a fresh test point of class y are exactly
//! Gaussian given the training set; [`TrainingSet::logit_law`] gives that law and
//! [`LogitLaw::sample_errors`] the per-class error of an (offset) argmax rule.
//!
//! # Determinism
//!
//! Every function takes the caller's random generator. Parallel work is cut into
//! fixed chunks seeded from (one number drawn from that generator, chunk index), so
//! results depend on the seed only, not on the number of threads.
#![deny(missing_docs)]

mod error;
mod logit;
mod mixture;
mod profile;
mod sample;
mod seeding;

pub use error::{Error, Result};
pub use logit::LogitLaw;
pub use mixture::{MeansSpec, Mixture};
pub use profile::Profile;
pub use sample::{TrainingSet, gram, sample_class, sample_x};

#[cfg(test)]
mod tests;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
