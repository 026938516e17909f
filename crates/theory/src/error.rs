//! The error type of the crate.

/// Everything that can go wrong when building mixture statistics or evaluating the theory.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Invalid class counts (fewer than two classes, an empty class), or fewer than two
    /// logits.
    #[error(transparent)]
    Counts(#[from] imbalance_core::CountError),
    /// A scalar parameter or option is out of range.
    #[error("{name} = {value} is not allowed; allowed: {allowed}")]
    BadValue {
        /// Parameter name (e.g. "sigma", "abs_tol").
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A vector or matrix argument has the wrong length.
    #[error("{name} has {got} entries, expected {expected}")]
    WrongLength {
        /// Argument name (e.g. "mean_gram").
        name: &'static str,
        /// Length given.
        got: usize,
        /// Length expected.
        expected: usize,
    },
    /// A matrix entry is NaN or infinite, or breaks symmetry.
    #[error("{name}[{row}][{col}] = {value} is not allowed; {allowed}")]
    BadEntry {
        /// Matrix name.
        name: &'static str,
        /// Row of the entry.
        row: usize,
        /// Column of the entry.
        col: usize,
        /// Its value.
        value: f64,
        /// What is required.
        allowed: &'static str,
    },
    /// A matrix that must be a covariance (or Gram) matrix is not positive semi-definite.
    #[error(
        "{name} is not positive semi-definite: a pivot of its Cholesky factorisation is \
         {pivot:e} (relative to its largest diagonal entry); it must be >= 0 up to round-off"
    )]
    NotPsd {
        /// Matrix name.
        name: &'static str,
        /// The negative relative pivot found.
        pivot: f64,
    },
    /// A class index is out of range.
    #[error("class {class} is out of range for K = {k} classes (allowed: 0..{k})")]
    ClassOutOfRange {
        /// The index given.
        class: usize,
        /// Number of classes.
        k: usize,
    },
    /// The method is not defined at T = infinity (post-hoc logit adjustment).
    #[error(
        "method {method} is undefined at T = infinity: the max-margin classifier has no scale, so \
         a post-hoc additive offset is meaningless; use a finite training time"
    )]
    UndefinedAtInfinity {
        /// Method name.
        method: &'static str,
    },
    /// The method has no hyperparameter to tune.
    #[error("method {method} has no hyperparameter to tune")]
    NothingToTune {
        /// Method name.
        method: &'static str,
    },
    /// A closed form was asked for outside the case it covers.
    #[error("the closed form does not apply: it needs {requirement}")]
    ClosedFormNotApplicable {
        /// What the closed form requires.
        requirement: &'static str,
    },
    /// The mean-field max-margin QP solver did not converge.
    #[error(
        "the mean-field max-margin QP did not converge in {iterations} active-set iterations \
         (largest KKT violation {violation:e})"
    )]
    QpNotConverged {
        /// Iterations done.
        iterations: usize,
        /// Largest KKT violation left.
        violation: f64,
    },
    /// The dense mean-field max-margin QP (non-diagonal mean Gram matrix) is too large.
    #[error(
        "the mean-field max-margin QP (T = infinity) for K = {k} classes with non-orthogonal \
         means has {vars} variables and a dense {vars} x {vars} matrix; allowed: K <= {max_k} \
         (orthogonal means are solved in closed form at any K)"
    )]
    QpTooLarge {
        /// Number of classes.
        k: usize,
        /// Number of QP variables, K(K-1).
        vars: usize,
        /// Largest K accepted.
        max_k: usize,
    },
    /// Unknown tuning objective.
    #[error("unknown objective '{value}'; allowed: balanced, worst")]
    UnknownObjective {
        /// What was given.
        value: String,
    },
    /// A stop was requested ([`imbalance_core::interrupt::request`]) during a long computation.
    #[error("the computation was interrupted")]
    Interrupted,
    /// Building the loss failed (bad hyperparameter or counts).
    #[error(transparent)]
    Loss(#[from] imbalance_losses::Error),
    /// The ODE integration failed, or one of its options is out of range.
    #[error(transparent)]
    Ode(#[from] imbalance_core::OdeError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
