//! How a run reports its stages ([`Progress`], [`Stage`]) and what they took ([`Timings`]).

/// A finished stage of a run on images, as reported to a [`Progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Subsample, preprocessing, Gram and cross Gram matrices.
    Features,
    /// Feature moments and the theory's fit (reported also when no theory was asked for).
    Moments,
    /// Gradient flow and the measurement.
    Train,
    /// The theory's prediction.
    Theory,
}

impl Stage {
    /// Number of stages [`crate::train_images`] reports.
    pub const COUNT: usize = 4;
}

/// Receives the progress of a run; the library itself never prints. A command line passes a
/// printer, a batch job whatever it logs with; [`NoProgress`] ignores it.
pub trait Progress {
    /// `stage` is finished.
    fn stage_done(&self, stage: Stage);
}

/// A [`Progress`] that ignores every report.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage_done(&self, _stage: Stage) {}
}

/// Wall-clock seconds of each stage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// Subsampling and preprocessing.
    pub prepare: f64,
    /// Gram and cross Gram matrices of the features.
    pub features: f64,
    /// Moment estimation (Gram of the moment sample and the U-statistics).
    pub moments: f64,
    /// Gradient flow.
    pub train: f64,
    /// The theory's prediction.
    pub theory: f64,
}
