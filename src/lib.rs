//! `imbalance`: the facade crate, re-exporting every crate of the workspace.
pub use imbalance_core as core;
pub use imbalance_datasets as datasets;
pub use imbalance_features as features;
pub use imbalance_gmm as gmm;
pub use imbalance_gradflow as gradflow;
pub use imbalance_losses as losses;
pub use imbalance_pipeline as pipeline;
pub use imbalance_theory as theory;
