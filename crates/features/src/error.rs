//! The error type of the crate.

use crate::Activation;

/// Everything that can go wrong when building a feature map or estimating moments.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Unknown activation name.
    #[error("unknown activation '{name}'; allowed: relu, tanh, erf, identity")]
    UnknownActivation {
        /// What was given.
        name: String,
    },
    /// A size parameter is out of range.
    #[error("{param} = {value} is not allowed; {allowed}")]
    BadSize {
        /// Parameter name (`dim`, `width`).
        param: &'static str,
        /// The rejected value.
        value: usize,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A real parameter is out of range.
    #[error("{param} = {value} is not allowed; {allowed}")]
    BadValue {
        /// Parameter name (`bias_var`).
        param: &'static str,
        /// The rejected value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// Identity features have width = dim and no bias.
    #[error(
        "identity features are phi(x) = x / sqrt(d): width must equal dim = {dim} (got {width}) and bias_var must be 0 (got {bias_var})"
    )]
    IdentityParams {
        /// Input dimension.
        dim: usize,
        /// Requested width.
        width: usize,
        /// Requested bias variance.
        bias_var: f64,
    },
    /// The activation has no closed-form infinite-width kernel.
    #[error(
        "no closed-form infinite-width kernel for {activation}; use erf (close to tanh) or finite random features"
    )]
    NoClosedForm {
        /// The activation.
        activation: Activation,
    },
    /// The Gram matrix does not match the labels.
    #[error(
        "Gram matrix is {rows} x {cols} but there are {labels} labels; it must be square with one row per label"
    )]
    GramShape {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Number of labels.
        labels: usize,
    },
    /// The Gram matrix is not symmetric or not finite.
    #[error("Gram matrix entry ({row}, {col}) = {value} is {problem}")]
    BadGram {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
        /// The entry.
        value: f64,
        /// "not finite" or "not symmetric".
        problem: &'static str,
    },
    /// A label is outside `0..k`.
    #[error("label {label} at index {index} is outside 0..{k}")]
    LabelOutOfRange {
        /// Sample index.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes.
        k: usize,
    },
    /// A class has too few samples for the estimator.
    #[error(
        "class {class} has {count} samples; the {estimator} estimator needs at least {need} per class"
    )]
    ClassTooSmall {
        /// The class.
        class: usize,
        /// Its sample count.
        count: usize,
        /// The minimum.
        need: usize,
        /// Which estimator.
        estimator: &'static str,
    },
    /// A large buffer (Gram matrix, test kernel rows, feature chunk) could not be allocated.
    #[error(transparent)]
    Alloc(#[from] imbalance_core::alloc::AllocError),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
