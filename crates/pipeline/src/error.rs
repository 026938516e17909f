//! The pipeline's error type: what a run's input can be wrong with, in library terms, plus a
//! wrapper of each crate's error. A command line maps these to its own flags.

/// Which sample of a dataset's training pool an image count belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// The imbalanced training subsample (the class counts).
    Training,
    /// The class-balanced sample the feature moments are estimated from.
    Moments,
}

/// Everything a run can fail with; each message is one line naming the parameter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A feature-map specification could not be parsed.
    #[error("feature map: {reason}; allowed: {allowed}", allowed = crate::FeatureSpec::ALLOWED)]
    FeatureSpec {
        /// What is wrong with it (quotes the input).
        reason: String,
    },
    /// The class counts have a different length than the dataset has classes.
    #[error("counts: {given} values given, but the data has {classes} classes")]
    CountsLength {
        /// Number of counts given.
        given: usize,
        /// Number of classes of the data.
        classes: usize,
    },
    /// A class would get no training sample.
    #[error("counts: class {class} gets 0 training samples; every class needs at least 1")]
    EmptyClass {
        /// The class.
        class: usize,
    },
    /// A step profile was asked for with no minority class.
    #[error("minority classes: must be at least 1 (and less than the number of classes)")]
    NoMinorityClass,
    /// Fewer moment samples per class than the unbiased estimators need.
    #[error(
        "moment samples: {given} is too few: the unbiased moment estimators need at least 4 samples per class"
    )]
    TooFewMomentSamples {
        /// Samples per class asked for.
        given: usize,
    },
    /// The training pool has fewer images of a class than a sample asks for.
    #[error(
        "{sample} asks for {want} images of class {class}, but {pool} has only {have} training images of that class",
        sample = match sample { Sample::Training => "counts", Sample::Moments => "the moment sample" }
    )]
    NotEnoughImages {
        /// Which sample.
        sample: Sample,
        /// The pool, as a message names it ("this copy of mnist", "the training features
        /// train.npy").
        pool: String,
        /// The class.
        class: usize,
        /// Images asked for.
        want: usize,
        /// Images available.
        have: usize,
    },
    /// A parameter has a value no check of another crate covers, or given matrices and labels do not fit together.
    #[error("{parameter}: {problem}")]
    Invalid {
        /// The parameter (e.g. `train_labels`).
        parameter: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A stop was requested ([`imbalance_core::interrupt`]) after `done` of `total` runs.
    #[error("interrupted after {done} of {total} runs")]
    Interrupted {
        /// Runs finished.
        done: usize,
        /// Runs asked for.
        total: usize,
    },
    /// A result came out NaN or infinite (the message names it and its class).
    #[error("{0}")]
    Uncomputable(String),
    /// The run's buffers would not fit in memory (or their size overflows).
    #[error("{input}: {detail}; {}", limit.map_or("that overflows the address space".to_string(), |l| format!("the limit is {l}")), input = input.as_str())]
    TooLarge {
        /// The input that makes the largest buffer large.
        input: crate::cost::Input,
        /// What needs how much (e.g. "200000 samples need a 320 GB Gram matrix").
        detail: String,
        /// The limit it was checked against (`None`: only overflow was checked).
        limit: Option<crate::cost::MemoryLimit>,
    },
    /// A loop of the run would exceed its maximum (see [`crate::cost`]).
    #[error("{input}: {detail}", input = input.as_str())]
    TooLong {
        /// The input that makes the loop long.
        input: crate::cost::Input,
        /// What takes how much, and the maximum.
        detail: String,
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
    /// A dataset could not be subsampled or preprocessed.
    #[error(transparent)]
    Datasets(#[from] imbalance_datasets::Error),
    /// Invalid random-feature parameters.
    #[error(transparent)]
    Features(#[from] imbalance_features::Error),
}

/// `Result` with the pipeline's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error::Invalid`] for `parameter`.
pub(crate) fn invalid(parameter: &'static str, problem: impl Into<String>) -> Error {
    Error::Invalid {
        parameter,
        problem: problem.into(),
    }
}
