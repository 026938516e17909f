//! The loss family of class-imbalanced learning, in one parametrisation.
//!
//! Every method (cross-entropy, weighted CE, logit adjustment, class-dependent temperature, LDAM,
//! VS) is the loss
//!
//! ```text
//! U_c = Delta_c * z_c + iota_c - m_y * [c = y],     loss(z, y) = -omega_y * log softmax(U)_y
//! ```
//!
//! for per-class vectors `Delta` (multiplicative, "temperature"), `iota` (additive), `m`
//! (margin on the true logit) and `omega` (weight). [`Method`] names the presets and builds the
//! [`Loss`] for given class counts; [`Loss::value_and_grad`] evaluates it stably (log-sum-exp) with
//! its gradient with respect to the logits `z`.
//!
//! ```
//! use imbalance_losses::Method;
//!
//! let counts = [200, 20];
//! let loss = Method::La { tau: 1.0 }.loss(&counts)?;
//! let mut grad = [0.0; 2];
//! // A minority sample (class 1) with logits z = (0.5, 0.0).
//! let value = loss.value_and_grad(&[0.5, 0.0], 1, &mut grad);
//! assert!(value > 0.0 && grad[1] < 0.0 && (grad[0] + grad[1]).abs() < 1e-12);
//! // Post-hoc logit adjustment trains plain CE and shifts logits at prediction time.
//! let offsets = Method::PostHoc { tau: 1.0 }.prediction_offsets(&counts)?;
//! assert!(offsets[1] > offsets[0]);
//! # Ok::<(), imbalance_losses::Error>(())
//! ```
#![deny(missing_docs)]

mod error;
mod method;

pub use error::{Error, Result};
pub use method::{Method, MethodName};

/// One member of the loss family: per-class `delta`, `iota`, `margin`, `omega` (length K each).
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    delta: Vec<f64>,
    iota: Vec<f64>,
    margin: Vec<f64>,
    omega: Vec<f64>,
}

impl Loss {
    /// A loss from its four per-class vectors. `delta` and `omega` must be positive and finite,
    /// `iota` and `margin` finite, all of the same length K >= 2.
    pub fn new(delta: Vec<f64>, iota: Vec<f64>, margin: Vec<f64>, omega: Vec<f64>) -> Result<Self> {
        let k = delta.len();
        if k < 2 {
            return Err(imbalance_core::CountError::TooFewClasses { k }.into());
        }
        for (what, v, positive) in [
            ("delta", &delta, true),
            ("iota", &iota, false),
            ("margin", &margin, false),
            ("omega", &omega, true),
        ] {
            if v.len() != k {
                return Err(Error::BadComponent {
                    what,
                    why: format!("has length {} but delta has length {k}", v.len()),
                });
            }
            if let Some((c, x)) = v
                .iter()
                .enumerate()
                .find(|(_, x)| !x.is_finite() || (positive && **x <= 0.0))
            {
                let need = if positive {
                    "positive and finite"
                } else {
                    "finite"
                };
                return Err(Error::BadComponent {
                    what,
                    why: format!("entry {c} is {x}; it must be {need}"),
                });
            }
        }
        Ok(Self {
            delta,
            iota,
            margin,
            omega,
        })
    }

    /// Plain cross-entropy for `k` classes.
    pub fn cross_entropy(k: usize) -> Result<Self> {
        Self::new(vec![1.0; k], vec![0.0; k], vec![0.0; k], vec![1.0; k])
    }

    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.delta.len()
    }

    /// Multiplicative factors `Delta_c` (they define the T = infinity max-margin problem).
    pub fn delta(&self) -> &[f64] {
        &self.delta
    }

    /// Additive logit offsets `iota_c`.
    pub fn iota(&self) -> &[f64] {
        &self.iota
    }

    /// True-class margins `m_y`.
    pub fn margin(&self) -> &[f64] {
        &self.margin
    }

    /// Per-class weights `omega_y`.
    pub fn omega(&self) -> &[f64] {
        &self.omega
    }

    /// The adjusted logits `U` of a sample with logits `z` and label `y`, written into `u`.
    fn adjusted(&self, z: &[f64], y: usize, u: &mut [f64]) {
        for c in 0..self.k() {
            u[c] = self.delta[c] * z[c] + self.iota[c];
        }
        u[y] -= self.margin[y];
    }

    /// The loss of one sample with logits `z` (length K) and label `y`.
    pub fn value(&self, z: &[f64], y: usize) -> f64 {
        let mut grad = vec![0.0; self.k()];
        self.value_and_grad(z, y, &mut grad)
    }

    /// The loss of one sample and, in `grad`, its gradient with respect to `z`:
    /// `grad_c = omega_y * Delta_c * (softmax(U)_c - [c = y])`.
    ///
    /// Stable for any finite logits (log-sum-exp with the maximum subtracted): logits of size
    /// 1e6 give finite values. Accurate when the true class dominates, which is the whole late
    /// phase of gradient flow: `1 - softmax(U)_y` is computed as the sum of the other terms, not
    /// as a difference of numbers near 1, and the loss as `ln_1p` of that sum, so losses far
    /// below 1e-16 keep their digits. Panics if `z`, `grad` do not have length K or `y >= K`
    /// (internal shape errors).
    #[inline]
    pub fn value_and_grad(&self, z: &[f64], y: usize, grad: &mut [f64]) -> f64 {
        let k = self.k();
        assert!(z.len() == k && grad.len() == k && y < k, "shape mismatch");
        // `grad` holds U, then exp(U - max U), then the gradient.
        self.adjusted(z, y, grad);
        let umax = grad.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let u_y = grad[y];
        let mut others = 0.0;
        for (c, g) in grad.iter_mut().enumerate() {
            *g = exp_or_zero(*g - umax);
            if c != y {
                others += *g;
            }
        }
        let sum = grad[y] + others;
        let omega = self.omega[y];
        let value = if u_y == umax {
            // sum = 1 + others.
            omega * others.ln_1p()
        } else {
            omega * ((umax - u_y) + sum.ln())
        };
        let scale = omega / sum;
        for c in 0..k {
            grad[c] *= scale * self.delta[c];
        }
        grad[y] = -scale * self.delta[y] * others;
        value
    }
}

/// `exp(x)`, with arguments below the smallest normal result mapped to 0 directly: the
/// subnormal path of `exp` is slow, and late in training most softmax terms are that small.
#[inline]
fn exp_or_zero(x: f64) -> f64 {
    if x < -708.0 { 0.0 } else { x.exp() }
}

/// Cui et al.'s class-balanced weights `(1 - b) / (1 - b^{n_y})`, normalised to sum to K.
/// `b` must lie in [0, 1); b = 0 gives equal weights.
pub fn class_balanced_weights(counts: &[usize], b: f64) -> Result<Vec<f64>> {
    method::check_counts(counts)?;
    if !(0.0..1.0).contains(&b) {
        return Err(Error::BadParam {
            method: "class-balanced",
            param: "b",
            value: b,
            allowed: "it must lie in [0, 1)",
        });
    }
    let raw: Vec<f64> = counts
        .iter()
        .map(|&n| (1.0 - b) / (1.0 - b.powf(n as f64)))
        .collect();
    let total: f64 = raw.iter().sum();
    let k = counts.len() as f64;
    Ok(raw.iter().map(|w| w * k / total).collect())
}

#[cfg(test)]
mod tests;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
