#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

#[cfg(feature = "faer")]
pub mod alloc;
mod integer;
pub mod interrupt;
pub mod ode;
#[cfg(feature = "faer")]
pub mod simd;

use std::fmt;
use std::str::FromStr;

pub use integer::{IntegerError, IntegerErrorKind, exact_integer};
pub use ode::{OdeError, OdeOptions, OdeStats, integrate};

/// How long to train: a finite time `T > 0`, or to convergence in direction (`T = infinity`,
/// the max-margin solution).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Horizon {
    /// Gradient flow up to time `T` (finite, > 0).
    Finite(f64),
    /// The limit `T -> infinity`: the max-margin classifier (its scale is arbitrary).
    Infinite,
}

/// A training-time string that [`Horizon::from_str`] does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("training time T = '{value}' is not allowed; allowed: a positive number (e.g. 1e4) or inf")]
pub struct HorizonError {
    /// What was given.
    pub value: String,
}

impl FromStr for Horizon {
    type Err = HorizonError;

    /// Parses `"1e4"`, `"100"`, `"inf"`, `"infinity"` (case-insensitive). Zero, negative, NaN and
    /// non-numeric strings are errors.
    fn from_str(s: &str) -> Result<Self, HorizonError> {
        let bad = || HorizonError {
            value: s.to_string(),
        };
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" | "+infinity" => return Ok(Horizon::Infinite),
            _ => {}
        }
        let value: f64 = t.parse().map_err(|_| bad())?;
        if value.is_nan() || value <= 0.0 {
            return Err(bad());
        }
        Ok(if value.is_infinite() {
            Horizon::Infinite
        } else {
            Horizon::Finite(value)
        })
    }
}

impl fmt::Display for Horizon {
    /// `inf`, or the time in a form [`Horizon::from_str`] reads back exactly (`100`, `1e6`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Horizon::Infinite => f.write_str("inf"),
            Horizon::Finite(t) if t.fract() == 0.0 && t.abs() < 1e5 => write!(f, "{t}"),
            Horizon::Finite(t) => write!(f, "{t:e}"),
        }
    }
}

/// The golden-ratio increment of SplitMix64 (Steele, Lea & Flood 2014; Vigna's `splitmix64.c`).
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: `x + golden`, then the bijective 64-bit mixer. `splitmix64(s)` is
/// the output of a [`SplitMix64`] stream in state `s`; on its own it hashes seeds.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A SplitMix64 stream: tiny, fast and well mixed, for internal start vectors, sweep orders and
/// lattice shifts (not for statistics that need a long period: use a PCG there).
///
/// ```
/// use imbalance_core::{SplitMix64, splitmix64};
/// let mut rng = SplitMix64::new(0);
/// assert_eq!(rng.next_u64(), 0xe220a8397b1dcdaf); // Vigna's reference output
/// assert_eq!(rng.next_u64(), splitmix64(0x9E37_79B9_7F4A_7C15));
/// let u = rng.next_f64();
/// assert!((0.0..1.0).contains(&u));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A stream started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let out = splitmix64(self.state);
        self.state = self.state.wrapping_add(GOLDEN);
        out
    }

    /// Uniform in [0, 1): the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in the open interval (0, 1): the top 53 bits, centred in their cell (safe for
    /// `ln` and quantile functions).
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform in `0..bound` (`bound >= 1`), by multiply-shift (bias < bound / 2^64).
    pub fn below(&mut self, bound: usize) -> usize {
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }
}

/// Per-class training counts that no crate of the workspace accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    /// Fewer than two classes.
    #[error("need at least 2 classes, got {k}")]
    TooFewClasses {
        /// Number of classes given.
        k: usize,
    },
    /// A class has no training samples.
    #[error("class {class} has 0 training samples; every class needs at least 1")]
    EmptyClass {
        /// Index of the empty class.
        class: usize,
    },
    /// The total number of samples does not fit in a `usize`.
    #[error("the class counts add up to more than {} samples", usize::MAX)]
    TotalOverflow,
}

/// Checks per-class training counts: at least two classes, every class at least one sample, and
/// a total that fits in a `usize` (so `counts.iter().sum()` cannot overflow).
///
/// ```
/// use imbalance_core::{CountError, check_counts};
/// assert_eq!(check_counts(&[100, 10]), Ok(()));
/// assert_eq!(check_counts(&[100]), Err(CountError::TooFewClasses { k: 1 }));
/// assert_eq!(check_counts(&[100, 0, 5]), Err(CountError::EmptyClass { class: 1 }));
/// ```
pub fn check_counts(counts: &[usize]) -> Result<(), CountError> {
    if counts.len() < 2 {
        return Err(CountError::TooFewClasses { k: counts.len() });
    }
    if let Some(class) = counts.iter().position(|&n| n == 0) {
        return Err(CountError::EmptyClass { class });
    }
    counts
        .iter()
        .try_fold(0usize, |total, &n| total.checked_add(n))
        .ok_or(CountError::TotalOverflow)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_parses_and_round_trips() {
        assert_eq!("1e4".parse::<Horizon>(), Ok(Horizon::Finite(1e4)));
        assert_eq!(" 0.5 ".parse::<Horizon>(), Ok(Horizon::Finite(0.5)));
        for s in ["inf", "Infinity", "+inf", "1e400"] {
            assert_eq!(s.parse::<Horizon>(), Ok(Horizon::Infinite), "{s}");
        }
        for s in ["0", "-1", "nan", "abc", ""] {
            assert_eq!(
                s.parse::<Horizon>(),
                Err(HorizonError {
                    value: s.to_string()
                })
            );
        }
        for h in [
            Horizon::Finite(100.0),
            Horizon::Finite(1e6),
            Horizon::Infinite,
        ] {
            assert_eq!(h.to_string().parse::<Horizon>(), Ok(h));
        }
    }

    #[test]
    fn splitmix_matches_the_reference_stream() {
        // Vigna's splitmix64.c seeded with 1234567: its first outputs.
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
        assert_eq!(rng.next_u64(), 9817491932198370423);
        // The historical copies (`state += golden; mix(state)`) give the same numbers.
        let mut s: u64 = 99;
        let mut rng = SplitMix64::new(99);
        for _ in 0..5 {
            s = s.wrapping_add(GOLDEN);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            assert_eq!(rng.next_u64(), z ^ (z >> 31));
        }
    }

    #[test]
    fn uniforms_stay_in_range() {
        let mut rng = SplitMix64::new(7);
        for _ in 0..1000 {
            let (a, b, c) = (rng.next_f64(), rng.next_open01(), rng.below(3));
            assert!((0.0..1.0).contains(&a) && b > 0.0 && b < 1.0 && c < 3);
        }
    }

    #[test]
    fn counts_are_checked() {
        assert_eq!(check_counts(&[]), Err(CountError::TooFewClasses { k: 0 }));
        assert_eq!(
            check_counts(&[0, 1]),
            Err(CountError::EmptyClass { class: 0 })
        );
        assert_eq!(
            check_counts(&[usize::MAX, 1]),
            Err(CountError::TotalOverflow)
        );
        assert_eq!(check_counts(&[1, 1]), Ok(()));
    }
}
