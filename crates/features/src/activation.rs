//! Activation functions, and an accurate `erf` (std's is unstable).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The nonlinearity of a random feature map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// max(0, u).
    Relu,
    /// tanh(u).
    Tanh,
    /// erf(u).
    Erf,
    /// No random map at all: phi(x) = x / sqrt(d) (see [`crate::FeatureParams::identity`]).
    Identity,
}

impl Activation {
    /// Apply the activation to one pre-activation value.
    #[inline]
    pub fn apply(self, u: f64) -> f64 {
        match self {
            Activation::Relu => u.max(0.0),
            Activation::Tanh => u.tanh(),
            Activation::Erf => erf(u),
            Activation::Identity => u,
        }
    }

    /// The name users type: `relu`, `tanh`, `erf`, `identity`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Erf => "erf",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = Error;

    /// Parse `relu`, `tanh`, `erf` or `identity` (case-insensitive; `linear` = identity).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            "erf" => Ok(Activation::Erf),
            "identity" | "linear" => Ok(Activation::Identity),
            _ => Err(Error::UnknownActivation {
                name: s.to_string(),
            }),
        }
    }
}

const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;

/// The error function, accurate to a few ulp.
///
/// |x| < 1.5: the everywhere-positive series
/// erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 3 5 ... (2n+1)) (25 terms);
/// otherwise erfc(|x|) from its continued fraction (50 terms), zero beyond |x| = 30.
/// The same split is used by CPython's `math.erf` fallback.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    if ax < 1.5 {
        let x2 = x * x;
        let mut acc = 0.0;
        let mut fk = 25.5;
        for _ in 0..25 {
            acc = 2.0 + x2 * acc / fk;
            fk -= 1.0;
        }
        acc * x * (-x2).exp() * FRAC_1_SQRT_PI
    } else {
        let c = erfc_cf(ax);
        if x > 0.0 { 1.0 - c } else { c - 1.0 }
    }
}

/// erfc(x) for x >= 1.5 by the continued fraction
/// erfc(x) = exp(-x^2)/sqrt(pi) * x / (x^2 + 1/2 - (1/2)/(x^2 + 5/2 - (3)/(x^2 + 9/2 - ...))).
fn erfc_cf(x: f64) -> f64 {
    if x >= 30.0 {
        return 0.0;
    }
    let x2 = x * x;
    let mut a = 0.0;
    let mut da = 0.5;
    let mut p = 1.0;
    let mut p_last = 0.0;
    let mut q = da + x2;
    let mut q_last = 1.0;
    for _ in 0..50 {
        a += da;
        da += 2.0;
        let b = da + x2;
        let t = p;
        p = b * p - a * p_last;
        p_last = t;
        let t = q;
        q = b * q - a * q_last;
        q_last = t;
    }
    p / q * x * (-x2).exp() * FRAC_1_SQRT_PI
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_reference_values() {
        // Reference values from Python 3's math.erf / math.erfc (correctly rounded libm).
        let cases = [
            (0.0, 0.0),
            (0.1, 0.1124629160182849),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (1.4999, 0.9660932516622953),
            (1.5, 0.9661051464753108),
            (2.0, 0.9953222650189527),
            (3.0, 0.9999779095030014),
            (-0.7, -0.6778011938374184),
            (-2.5, -0.999593047982555),
            (40.0, 1.0),
        ];
        for (x, e) in cases {
            let got = erf(x);
            assert!((got - e).abs() <= 1e-15 * e.abs().max(1e-300) + 1e-300, "erf({x}) = {got}, want {e}");
        }
        // the tail, relative: erfc(4) = 1.541725790028002e-08 (Python math.erfc)
        let tail = erfc_cf(4.0);
        assert!((tail / 1.541725790028002e-08 - 1.0).abs() < 1e-13, "{tail}");
        assert!(erf(f64::NAN).is_nan());
    }

    #[test]
    fn parse() {
        assert_eq!("ReLU".parse::<Activation>().unwrap(), Activation::Relu);
        assert_eq!("linear".parse::<Activation>().unwrap(), Activation::Identity);
        let e = "gelu".parse::<Activation>().unwrap_err().to_string();
        assert!(e.contains("gelu") && e.contains("relu, tanh, erf, identity"), "{e}");
    }
}
