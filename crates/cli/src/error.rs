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
    /// A field of a sweep's SPEC or configuration (named as in the JSON, e.g. `n_max`).
    #[error("{field}: {problem}")]
    Field {
        /// The field (e.g. `tau`, `grid.snr`).
        field: String,
        /// What is wrong and what is allowed.
        problem: String,
    },
    /// The error of one configuration of a sweep.
    #[error("configuration {index}: {source}")]
    Config {
        /// Its index in the SPEC's expanded list.
        index: usize,
        /// What went wrong.
        source: Box<Error>,
    },
    /// Invalid mixture parameters.
    #[error(transparent)]
    Gmm(#[from] imbalance_gmm::Error),
    /// Invalid method or hyperparameter.
    #[error(transparent)]
    Loss(#[from] imbalance_losses::Error),
    /// Training failed or its input was invalid (a solver failure is a [`Error::Usage`]
    /// naming the flag that helps).
    #[error(transparent)]
    GradFlow(imbalance_gradflow::Error),
    /// Invalid theory input, or a theory computation failed (a solver failure is a
    /// [`Error::Usage`] naming the flag that helps).
    #[error(transparent)]
    Theory(imbalance_theory::Error),
    /// A dataset could not be found, read or validated.
    #[error(transparent)]
    Datasets(#[from] imbalance_datasets::Error),
    /// Invalid random-feature parameters.
    #[error(transparent)]
    Features(#[from] imbalance_features::Error),
    /// A run of the pipeline failed on input no flag maps to.
    #[error(transparent)]
    Pipeline(imbalance_pipeline::Error),
    /// A result could not be computed (it came out NaN or infinite).
    #[error("{0}")]
    Uncomputable(String),
    /// A signal stopped the command at a safe point; what was done and how to resume.
    #[error("{0}")]
    Interrupted(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with the command line's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// True for a computation that failed on valid input (an integrator's step limit, a
    /// max-margin QP that did not converge); every other error is bad input.
    pub fn is_solver_failure(&self) -> bool {
        use imbalance_gradflow::Error as G;
        use imbalance_theory::Error as T;
        match self {
            Error::Config { source, .. } => source.is_solver_failure(),
            Error::GradFlow(G::Ode(_) | G::QpNotConverged { .. })
            | Error::Theory(T::Ode(_) | T::QpNotConverged { .. }) => true,
            _ => false,
        }
    }
}

/// A usage error for `flag`.
pub(crate) fn usage(flag: &'static str, problem: impl Into<String>) -> Error {
    Error::Usage {
        flag,
        problem: problem.into(),
    }
}

/// A buffer the allocator refused although the run fit the memory estimate.
fn out_of_memory(e: &imbalance_gmm::AllocError) -> Error {
    usage(
        "--max-memory",
        format!(
            "{e}, although the run fits the limit: free memory, give a limit this machine can back, or ask for a smaller run"
        ),
    )
}

/// A failure of the ODE integrator in the terms of the command line (the integrator's own
/// message names its options, `rtol` and `max_steps`, which no flag sets).
fn ode_message(e: &imbalance_gradflow::OdeError, what: &str) -> Option<Error> {
    use imbalance_gradflow::OdeError as O;
    let problem = match e {
        O::StepSizeUnderflow { t } => format!(
            "{what} could not be integrated past t = {t:e} (the step size underflowed: the flow is too stiff there); give a smaller --time, or a smaller --snr or --noise"
        ),
        O::TooManySteps { max_steps, t } => format!(
            "{what} needed more than {max_steps} integration steps (stopped at t = {t:e}); give a smaller --time"
        ),
        O::NonFinite { t } => format!(
            "{what} became non-finite at t = {t:e}; give a smaller --time, or a smaller --snr or --noise"
        ),
        O::BadOption { .. } | O::Interrupted { .. } => return None,
    };
    Some(usage("--time", problem))
}

impl From<imbalance_gradflow::Error> for Error {
    /// Solver failures as what a user can change; other errors as they are.
    fn from(e: imbalance_gradflow::Error) -> Self {
        use imbalance_gradflow::Error as G;
        match &e {
            G::Ode(o) => ode_message(o, "the gradient flow").unwrap_or(Error::GradFlow(e)),
            G::QpNotConverged {
                sweeps,
                violation,
                tol,
            } => usage(
                "--time",
                format!(
                    "at T = inf the max-margin solver did not converge in {sweeps} sweeps (KKT violation {violation:e} > {tol:e}; one that does not shrink means the classes are not separable); give a finite --time such as 1e7, or fewer samples"
                ),
            ),
            _ => Error::GradFlow(e),
        }
    }
}

impl From<imbalance_theory::Error> for Error {
    /// Solver failures as what a user can change; other errors as they are.
    fn from(e: imbalance_theory::Error) -> Self {
        match &e {
            imbalance_theory::Error::Ode(o) => {
                ode_message(o, "the mean-field ODE").unwrap_or(Error::Theory(e))
            }
            imbalance_theory::Error::QpNotConverged { .. } => usage(
                "--time",
                format!("at T = inf {e}; give a finite --time such as 1e7"),
            ),
            _ => Error::Theory(e),
        }
    }
}

/// The flag of a field of `imbalance_pipeline::request` (`n_max` -> `--n-max`).
fn request_flag(field: &str) -> Option<&'static str> {
    Some(match field {
        "counts" => "--counts",
        "classes" => "--classes",
        "n_max" => "--n-max",
        "ratio" => "--ratio",
        "minority_classes" => "--minority-classes",
        "dim" => "--dim",
        "snr" => "--snr",
        "noise" => "--noise",
        "method" => "--method",
        "tau" => "--tau",
        "gamma" => "--gamma",
        "margin" => "--margin",
        "beta" => "--beta",
        "time" => "--time",
        "seeds" => "--seeds",
        "test_per_class" => "--test-per-class",
        _ => return None,
    })
}

impl From<imbalance_pipeline::Error> for Error {
    /// The pipeline's errors in terms of the flags that set the parameter (the pipeline names
    /// it in library terms); a wrapped crate error stays that crate's error.
    fn from(e: imbalance_pipeline::Error) -> Self {
        use imbalance_pipeline::{Error as P, FeatureSpec, Sample};
        match e {
            P::FeatureSpec { reason } => usage(
                "--features",
                format!("{reason}; allowed: {}", FeatureSpec::ALLOWED),
            ),
            P::CountsLength { given, classes } => usage(
                "--counts",
                format!(
                    "{given} values given, but the dataset has {classes} classes: give one count per class 0..{}",
                    classes.saturating_sub(1)
                ),
            ),
            P::EmptyClass { class } => usage(
                "--counts",
                format!("class {class} gets 0 training images; every class needs at least 1"),
            ),
            P::NoMinorityClass => usage(
                "--minority-classes",
                "must be at least 1 (and less than the number of classes)",
            ),
            P::TooFewMomentSamples { given } => usage(
                "--moment-samples",
                format!(
                    "{given} is too few: the unbiased moment estimators need at least 4 images per class"
                ),
            ),
            P::NotEnoughImages {
                sample,
                pool,
                class,
                want,
                have,
            } => {
                let (flag, what) = match sample {
                    Sample::Training => ("--counts", "--counts"),
                    Sample::Moments => ("--moment-samples", "the moment sample"),
                };
                usage(
                    flag,
                    format!(
                        "{what} asks for {want} images of class {class}, but {pool} has only {have} training images of that class"
                    ),
                )
            }
            P::Invalid { parameter, problem } => match request_flag(parameter) {
                Some(flag) => usage(flag, problem),
                None => Error::Pipeline(P::Invalid { parameter, problem }),
            },
            P::Uncomputable(message) => Error::Uncomputable(message),
            e @ (P::TooLarge { .. } | P::TooLong { .. }) => {
                crate::limits::cost_error(e, "--counts")
            }
            P::Gmm(imbalance_gmm::Error::Alloc(e))
            | P::Features(imbalance_features::Error::Alloc(e)) => out_of_memory(&e),
            P::Gmm(e) => Error::Gmm(e),
            P::Loss(e) => Error::Loss(e),
            P::GradFlow(e) => e.into(),
            P::Theory(e) => e.into(),
            P::Datasets(e) => Error::Datasets(e),
            P::Features(e) => Error::Features(e),
            other => Error::Pipeline(other),
        }
    }
}
