//! The error type of the crate.

/// Everything that can go wrong when building a loss from user input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Invalid class counts (fewer than two classes, an empty class), or a custom loss with
    /// fewer than two classes.
    #[error(transparent)]
    Counts(#[from] imbalance_core::CountError),
    /// A hyperparameter is out of its allowed range.
    #[error("{method}: {param} = {value} is not allowed; {allowed}")]
    BadParam {
        /// Method name (e.g. "la").
        method: &'static str,
        /// Parameter name (e.g. "tau").
        param: &'static str,
        /// The rejected value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A hyperparameter was given to a method that does not take it.
    #[error("method {method} does not take --{param}; it takes {takes}")]
    UnexpectedParam {
        /// Method name.
        method: &'static str,
        /// The parameter that was given.
        param: String,
        /// The parameters the method takes.
        takes: &'static str,
    },
    /// Unknown method name.
    #[error("unknown method '{name}'; allowed: ce, wce, la, posthoc, cdt, ldam, vs")]
    UnknownMethod {
        /// What was given.
        name: String,
    },
    /// The per-class vectors of a custom loss have different lengths or bad values.
    #[error("loss component {what} is invalid: {why}")]
    BadComponent {
        /// Which component (delta, iota, margin, omega).
        what: &'static str,
        /// Why.
        why: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
