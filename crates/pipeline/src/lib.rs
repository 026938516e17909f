#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod bridge;
pub mod cost;
mod error;
mod feature_map;
mod gmm;
pub mod images;
mod prepared;
mod progress;
pub mod request;

pub use bridge::{
    AnisotropicStats, anisotropic_stats, exact_class_errors, exact_errors_path, mixture_stats,
    per_class_mean_std, row_major,
};
pub use cost::{
    Estimate, LimitSource, MemoryLimit, TUNE_MAX_PREDICTIONS, predict_cost, simulate_cost,
    train_cost, tune_cost,
};
pub use error::{Error, Result, Sample};
pub use feature_map::{FeatureMap, FeatureSpec};
pub use gmm::{
    GmmRun, Sampler, default_test_per_class, predict_gmm, simulate_gmm, simulation_flow,
};
pub use images::{
    ClassCounts, DEFAULT_MOMENT_SAMPLES, ImageRun, ImageRunSpec, MomentSamples, PreparedImages,
    prepare_features, prepare_images, train_features, train_images,
};
pub use prepared::{Measured, PreparedGram, TheoryFit, fit_anisotropic};
pub use progress::{NoProgress, Progress, Stage, Timings};

// The types a run's inputs and outputs are made of, so that a user can depend on this crate
// alone.
pub use imbalance_datasets::{
    Dataset, DatasetName, FeatureSet, LoadOptions, MinorityChoice, load, load_features,
};
pub use imbalance_features::{Activation, FeatureMoments};
pub use imbalance_gmm::{LogitLaw, MeansSpec, Mixture, Profile, TrainingSet};
pub use imbalance_gradflow::{FlowOptions, Horizon, Trained};
pub use imbalance_losses::{Method, MethodName};
pub use imbalance_theory::{GenzOptions, MixtureStats, PredictOptions, Prediction};
/// The random-number crates the runs take their generators from.
pub use {rand, rand_pcg};
