//! The error type of the command line: a wrapper of each crate's error, plus usage errors.

/// Everything a command can fail with; each message is one line naming what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag is missing, conflicts with another, or has a value no library check covers.
    #[error("{flag}: {problem}")]
    Usage {
        /// The flag (e.g. `--counts`).
        flag: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// Invalid mixture parameters.
    #[error(transparent)]
    Gmm(#[from] imbalance_gmm::Error),
    /// Invalid method or hyperparameter.
    #[error(transparent)]
    Loss(#[from] imbalance_losses::Error),
    /// Training failed or its input was invalid.
    #[error(transparent)]
    GradFlow(#[from] imbalance_gradflow::Error),
    /// Invalid theory input, or a theory computation failed.
    #[error(transparent)]
    Theory(#[from] imbalance_theory::Error),
    /// A dataset could not be found, read or validated.
    #[error(transparent)]
    Datasets(#[from] imbalance_datasets::Error),
    /// Invalid random-feature parameters.
    #[error(transparent)]
    Features(#[from] imbalance_features::Error),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the command line's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A usage error for `flag`.
pub(crate) fn usage(flag: &'static str, problem: impl Into<String>) -> Error {
    Error::Usage {
        flag,
        problem: problem.into(),
    }
}
