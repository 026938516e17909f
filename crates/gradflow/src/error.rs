//! The error type of the crate.

/// Everything that can go wrong when training: bad input, bad options, or a solver that failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The ODE solver failed (step limit, step-size underflow, non-finite state) or one of its
    /// options (`rtol`, `atol`, `max_steps`, `t0`) is out of range.
    #[error(transparent)]
    Ode(#[from] imbalance_core::OdeError),
    /// A numerical option is out of range.
    #[error("option {name} = {value} is not allowed; allowed: {allowed}")]
    BadOption {
        /// Option name.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A finite training time that is not a positive finite number.
    #[error(
        "training time T = {value} is not allowed; allowed: a positive number or inf \
         (T = inf is the max-margin solution, use max_margin or Horizon::Infinite)"
    )]
    BadTime {
        /// The rejected value.
        value: f64,
    },
    /// The Gram matrix is not square.
    #[error("the Gram matrix must be square (n x n), got {rows} x {cols}")]
    GramNotSquare {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A factor of the Gram matrix without one row per sample.
    #[error("the Gram factor must have one row per sample (n = {n}), got {rows} x {cols}")]
    FactorShape {
        /// Rows of the factor.
        rows: usize,
        /// Columns of the factor.
        cols: usize,
        /// Gram size n.
        n: usize,
    },
    /// A factor `F` whose `F F^T` does not have the Gram matrix's diagonal.
    #[error(
        "the Gram factor's row {row} has squared norm {norm2}, but the Gram matrix's diagonal \
         entry is {diag}; a factor F must satisfy F F^T = Gram"
    )]
    FactorMismatch {
        /// The row.
        row: usize,
        /// Its squared norm.
        norm2: f64,
        /// The Gram matrix's diagonal entry.
        diag: f64,
    },
    /// No training samples.
    #[error("the training set is empty (Gram matrix 0 x 0); at least 1 sample is needed")]
    Empty,
    /// A Gram entry is NaN or infinite, or the Gram matrix is not symmetric, or a diagonal entry
    /// is negative.
    #[error(
        "the Gram matrix entry ({row}, {col}) = {value} is not allowed; a Gram matrix must be \
         finite and symmetric with a non-negative diagonal"
    )]
    BadGram {
        /// Row of the offending entry.
        row: usize,
        /// Column of the offending entry.
        col: usize,
        /// Its value.
        value: f64,
    },
    /// The number of labels differs from the size of the Gram matrix.
    #[error("got {labels} labels for a Gram matrix of {n} samples; they must be equal")]
    LabelCount {
        /// Number of labels.
        labels: usize,
        /// Gram size n.
        n: usize,
    },
    /// A label is not a class of the loss.
    #[error(
        "label of sample {index} is {label}, but the loss has K = {k} classes (allowed: 0..{k})"
    )]
    LabelOutOfRange {
        /// Sample index.
        index: usize,
        /// The label.
        label: usize,
        /// Number of classes K.
        k: usize,
    },
    /// The per-class factors `Delta` of the max-margin problem are invalid.
    #[error(
        "max-margin factor Delta[{class}] = {value} is not allowed; allowed: positive and finite \
         (and at least 2 classes)"
    )]
    BadDelta {
        /// Class index (or the length, if there are fewer than 2 classes).
        class: usize,
        /// The value (NaN if the vector is too short).
        value: f64,
    },
    /// The max-margin problem has no solution: a sample has a zero feature vector.
    #[error(
        "the max-margin problem is infeasible: sample {index} has k(x, x) = 0, so none of its \
         margins can reach 1"
    )]
    Infeasible {
        /// The sample.
        index: usize,
    },
    /// Dual coordinate ascent for the max-margin problem did not converge.
    #[error(
        "the max-margin solver did not converge in {sweeps} sweeps: KKT violation {violation:e} \
         > tolerance {tol:e} (raise qp_max_sweeps; a violation that does not shrink means the \
         data are not separable)"
    )]
    QpNotConverged {
        /// Sweeps done.
        sweeps: usize,
        /// Largest KKT violation reached.
        violation: f64,
        /// The tolerance asked for.
        tol: f64,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
