//! Integers as researchers write them: `100000`, `1e5`, `2.5e3`.

use std::fmt;

/// Why [`exact_integer`] refused a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegerErrorKind {
    /// Not a number, or a number with a fractional part (`1.5`, `1e-3`, `abc`).
    NotInteger,
    /// A negative number.
    Negative,
    /// An integer above the allowed maximum.
    TooLarge {
        /// The largest allowed value.
        max: u128,
    },
}

/// A string that [`exact_integer`] does not accept, with what was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegerError {
    /// What was given.
    pub value: String,
    /// What is wrong with it.
    pub kind: IntegerErrorKind,
}

impl fmt::Display for IntegerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = &self.value;
        let allowed = "allowed: a non-negative integer such as 100000 or 1e5";
        match self.kind {
            IntegerErrorKind::NotInteger => write!(f, "'{v}' is not an integer; {allowed}"),
            IntegerErrorKind::Negative => write!(f, "'{v}' is negative; {allowed}"),
            IntegerErrorKind::TooLarge { max } => {
                write!(f, "'{v}' is too large; allowed: at most {max}")
            }
        }
    }
}

impl std::error::Error for IntegerError {}

/// A non-negative integer at most `max`, written plainly (`100000`) or in the exponent form
/// researchers write (`1e5`, `2.5e3`, `1E+4`, `100.0`) when that is an exact integer. It is
/// computed in integer arithmetic from the digits, so no value is rounded: `1.5` and `1e-3`
/// are not integers, and neither is a digit beyond the precision of a float.
pub fn exact_integer(s: &str, max: u128) -> Result<u128, IntegerError> {
    let err = |kind| IntegerError {
        value: s.to_string(),
        kind,
    };
    let t = s.trim();
    if t.starts_with('-') {
        return Err(err(IntegerErrorKind::Negative));
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => {
            let e: i64 = t[i + 1..]
                .parse()
                .map_err(|_| err(IntegerErrorKind::NotInteger))?;
            (&t[..i], e)
        }
        None => (t, 0),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = whole.bytes().chain(frac.bytes()).collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(err(IntegerErrorKind::NotInteger));
    }
    // The value is D * 10^shift, with D the digits without the point.
    let shift = exponent.saturating_sub(frac.len() as i64);
    let cut = if shift >= 0 {
        digits.len()
    } else {
        digits.len().saturating_sub(shift.unsigned_abs() as usize)
    };
    let (keep, dropped) = digits.split_at(cut);
    if dropped.iter().any(|&d| d != b'0') {
        return Err(err(IntegerErrorKind::NotInteger));
    }
    let too_large = || err(IntegerErrorKind::TooLarge { max });
    let mut value: u128 = 0;
    for &d in keep {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u128::from(d - b'0')))
            .ok_or_else(too_large)?;
    }
    if value != 0 {
        for _ in 0..shift.max(0) {
            value = value
                .checked_mul(10)
                .filter(|v| *v <= max)
                .ok_or_else(too_large)?;
        }
    }
    if value > max {
        return Err(too_large());
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> IntegerErrorKind {
        exact_integer(s, u64::MAX as u128).unwrap_err().kind
    }

    #[test]
    fn plain_and_exponent_forms_that_are_exact() {
        for (s, want) in [
            ("100000", 100_000),
            (" 7 ", 7),
            ("0", 0),
            ("1e5", 100_000),
            ("1E+4", 10_000),
            ("2.5e3", 2500),
            ("100.0", 100),
            ("0.001e3", 1),
            ("1.", 1),
            ("+3", 3),
            ("0e400", 0),
            ("18446744073709551615", u64::MAX as u128),
        ] {
            assert_eq!(exact_integer(s, u64::MAX as u128), Ok(want), "{s}");
        }
    }

    #[test]
    fn fractions_signs_and_overflow_are_refused_by_name() {
        for s in [
            "1.5", "1e-3", "2.55e1", "abc", "", ".", "e5", "1e", "1e5.0", "inf", "NaN",
        ] {
            assert_eq!(kind(s), IntegerErrorKind::NotInteger, "{s}");
        }
        assert_eq!(kind("-5"), IntegerErrorKind::Negative);
        assert_eq!(kind("-1e3"), IntegerErrorKind::Negative);
        let max = u64::MAX as u128;
        for s in ["18446744073709551616", "1e20", "1e400000", "2e19"] {
            assert_eq!(kind(s), IntegerErrorKind::TooLarge { max }, "{s}");
        }
        assert_eq!(
            exact_integer("1e3", 999).unwrap_err().kind,
            IntegerErrorKind::TooLarge { max: 999 }
        );
        let msg = exact_integer("1.5", 10).unwrap_err().to_string();
        assert!(msg.contains("'1.5' is not an integer"), "{msg}");
    }
}
