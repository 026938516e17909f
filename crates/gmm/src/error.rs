//! The error type of the crate.

/// Everything that can be wrong in a user-supplied mixture description, or a buffer that
/// cannot be allocated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Invalid class counts: fewer than two classes, or a class with no training samples.
    #[error(transparent)]
    Counts(#[from] imbalance_core::CountError),
    /// The largest class count of a profile is zero.
    #[error("n_max = 0 is not allowed; the largest class needs at least 1 sample")]
    ZeroNMax,
    /// A profile rounds (step) or truncates (exp) some class count down to zero.
    #[error(
        "profile gives class {class} {exact} -> 0 samples (n_max = {n_max}, ratio = {ratio}); \
         raise n_max or lower ratio so every class keeps at least 1 sample"
    )]
    ProfileCountZero {
        /// Index of the class that would be empty.
        class: usize,
        /// The count before rounding or truncation.
        exact: f64,
        /// The profile's n_max.
        n_max: usize,
        /// The profile's imbalance ratio.
        ratio: f64,
    },
    /// Imbalance ratio below 1, infinite or NaN.
    #[error("imbalance ratio = {ratio} is not allowed; it must be finite and >= 1")]
    InvalidRatio {
        /// The rejected value.
        ratio: f64,
    },
    /// Number of minority classes of a step profile outside 1..K.
    #[error("minority_classes = {minority_classes} is not allowed with {classes} classes; it must be in 1..={max}", max = classes.saturating_sub(1))]
    MinorityClassesOutOfRange {
        /// The rejected value.
        minority_classes: usize,
        /// Number of classes K.
        classes: usize,
    },
    /// New counts for an existing mixture have a different number of classes.
    #[error("{given} class counts given for a mixture with {expected} classes")]
    ClassCountMismatch {
        /// Number of counts given.
        given: usize,
        /// Number of classes of the mixture.
        expected: usize,
    },
    /// Dimension zero.
    #[error("dim = 0 is not allowed; the dimension must be at least 1")]
    ZeroDim,
    /// Orthogonal means need at least K dimensions.
    #[error("orthogonal means mu_c = snr * e_c need dim >= classes, got dim = {dim} < {classes}")]
    DimTooSmallForOrthogonal {
        /// The dimension given.
        dim: usize,
        /// Number of classes K.
        classes: usize,
    },
    /// Noise level not positive, or not finite.
    #[error("noise sigma = {sigma} is not allowed; it must be finite and > 0")]
    InvalidSigma {
        /// The rejected value.
        sigma: f64,
    },
    /// Signal-to-noise ratio (mean norm) negative or not finite.
    #[error("snr = {snr} is not allowed; it must be finite and >= 0")]
    InvalidSnr {
        /// The rejected value.
        snr: f64,
    },
    /// A given means matrix has the wrong shape.
    #[error("given means are {rows} x {cols}; expected classes x dim = {classes} x {dim}")]
    MeansShape {
        /// Rows of the given matrix.
        rows: usize,
        /// Columns of the given matrix.
        cols: usize,
        /// Number of classes K.
        classes: usize,
        /// The dimension p.
        dim: usize,
    },
    /// A given means matrix has a NaN or infinite entry.
    #[error("given mean of class {class} has non-finite entry {value} at coordinate {coord}")]
    NonFiniteMean {
        /// Class (row) of the entry.
        class: usize,
        /// Coordinate (column) of the entry.
        coord: usize,
        /// The rejected value.
        value: f64,
    },
    /// A large buffer (X, the Gram matrix) could not be allocated.
    #[error(transparent)]
    Alloc(#[from] imbalance_core::alloc::AllocError),
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, Error>;
