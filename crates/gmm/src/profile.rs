//! Class-imbalance profiles: how many training samples each class gets.

use crate::error::{Error, Result};

/// How the training samples are split among the K classes.
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// Explicit per-class counts n_0, ..., n_{K-1}; K is their number.
    Counts(Vec<usize>),
    /// Step profile: the first `classes - minority_classes` classes get `n_max`
    /// samples, the remaining `minority_classes` get `round(n_max / ratio)`.
    Step {
        /// Number of classes K (>= 2).
        classes: usize,
        /// Samples of each majority class (>= 1).
        n_max: usize,
        /// Imbalance ratio rho = n_max / n_min (finite, >= 1).
        ratio: f64,
        /// Number of minority classes, in 1..K.
        minority_classes: usize,
    },
    /// Exponential profile, truncated as the long-tail literature computes it (LDAM's
    /// CIFAR-10-LT, Cao et al. 2019): `n_c = floor(n_max * (1/ratio)^(c/(K-1)))`, so class 0
    /// has `n_max` and class K-1 has `floor(n_max / ratio)`; CIFAR-10-LT (n_max 5000, ratio
    /// 100) is 5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50.
    Exp {
        /// Number of classes K (>= 2).
        classes: usize,
        /// Samples of class 0 (>= 1).
        n_max: usize,
        /// Imbalance ratio rho = n_0 / n_{K-1} (finite, >= 1).
        ratio: f64,
    },
}

impl Profile {
    /// The per-class training counts, validated: K >= 2 and every count >= 1.
    ///
    /// The step profile rounds `n_max / ratio` half away from zero; the exp profile
    /// truncates, with the same floating-point expression as LDAM's reference code
    /// (`int(n_max * (1/ratio)**(c/(K-1)))`), so its counts match the papers' exactly.
    pub fn counts(&self) -> Result<Vec<usize>> {
        let counts = match *self {
            Profile::Counts(ref c) => c.clone(),
            Profile::Step {
                classes,
                n_max,
                ratio,
                minority_classes,
            } => {
                check_profile(classes, n_max, ratio)?;
                if minority_classes == 0 || minority_classes >= classes {
                    return Err(Error::MinorityClassesOutOfRange {
                        minority_classes,
                        classes,
                    });
                }
                let exact = n_max as f64 / ratio;
                let n_min = nonzero_count(
                    classes - minority_classes,
                    exact.round(),
                    exact,
                    n_max,
                    ratio,
                )?;
                let mut c = vec![n_max; classes - minority_classes];
                c.resize(classes, n_min);
                c
            }
            Profile::Exp {
                classes,
                n_max,
                ratio,
            } => {
                check_profile(classes, n_max, ratio)?;
                (0..classes)
                    .map(|c| {
                        let exact =
                            n_max as f64 * (1.0 / ratio).powf(c as f64 / (classes as f64 - 1.0));
                        nonzero_count(c, exact.floor(), exact, n_max, ratio)
                    })
                    .collect::<Result<Vec<_>>>()?
            }
        };
        validate_counts(&counts)?;
        Ok(counts)
    }
}

/// Checks a counts vector: at least two classes, none empty.
pub(crate) fn validate_counts(counts: &[usize]) -> Result<()> {
    Ok(imbalance_core::check_counts(counts)?)
}

fn check_profile(classes: usize, n_max: usize, ratio: f64) -> Result<()> {
    if classes < 2 {
        return Err(imbalance_core::CountError::TooFewClasses { k: classes }.into());
    }
    if n_max == 0 {
        return Err(Error::ZeroNMax);
    }
    // Written so that NaN fails the test.
    if !(ratio.is_finite() && ratio >= 1.0) {
        return Err(Error::InvalidRatio { ratio });
    }
    Ok(())
}

/// `n` (the rounded or truncated `exact`) as a count, or the error naming the empty class.
fn nonzero_count(class: usize, n: f64, exact: f64, n_max: usize, ratio: f64) -> Result<usize> {
    if n < 1.0 {
        return Err(Error::ProfileCountZero {
            class,
            exact,
            n_max,
            ratio,
        });
    }
    Ok(n as usize)
}
