//! `imbalance-features`: random feature maps phi(x) = act(F x + b) / sqrt(p) (ReLU, tanh,
//! erf, identity), their Gram matrices computed in chunks of features (p = 10^5 fits in
//! memory: the n x p features are never stored), the infinite-width limit kernels, and
//! the per-class feature moments the anisotropic theory needs, from a Gram matrix alone.
//!
//! ```
//! use faer::Mat;
//! use imbalance_features::{
//!     limit_gram, Activation, FeatureMoments, FeatureParams, MomentEstimator, RandomFeatures,
//! };
//! use rand::SeedableRng;
//!
//! let mut rng = rand_pcg::Pcg64::seed_from_u64(42);
//! let x = Mat::from_fn(8, 5, |i, j| ((i * 5 + j) as f64 * 0.37).sin()); // n = 8, d = 5
//! let params = FeatureParams::new(5, 4096, Activation::Relu, 0.0)?;
//! let map = RandomFeatures::new(params, &mut rng);
//! let g = map.gram(x.as_ref()); // 8 x 8, = Phi Phi^T
//! let k = limit_gram(Activation::Relu, 0.0, x.as_ref())?; // p -> infinity
//! assert!((&g - &k).norm_max() < 0.05); // fluctuations ~ 1/sqrt(p)
//!
//! // Per-class moments from the Gram matrix alone (here the limit kernel's).
//! let labels = [0, 0, 0, 0, 1, 1, 1, 1];
//! let m = FeatureMoments::from_gram(k.as_ref(), &labels, 2, MomentEstimator::Unbiased)?;
//! assert_eq!(m.counts, vec![4, 4]);
//! # Ok::<(), imbalance_features::Error>(())
//! ```
//!
//! Determinism: a map is a `(params, seed)` pair; F and b are regenerated from
//! Pcg64 streams seeded by `(seed, block of 64 features)`, and chunks are accumulated in
//! a fixed order, so every result is bit-identical whatever the number of rayon threads.
#![deny(missing_docs)]

mod activation;
pub mod error;
mod kernel;
mod moments;
mod random_features;

pub use activation::{Activation, erf};
pub use error::{Error, Result};
pub use kernel::{erf_kernel, limit_gram, limit_kernel, relu_kernel};
pub use moments::{FeatureMoments, MomentEstimator};
pub use random_features::{FeatureParams, MAX_CHUNK, RandomFeatures, SEED_BLOCK};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
