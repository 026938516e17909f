//! Infinite-width (p -> infinity) kernels of the random feature maps.

use std::f64::consts::PI;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::Activation;
use crate::error::{Error, Result};

/// The limit kernel k(x, x') = E_{f, b}[act(f.x + b) act(f.x' + b)] with f ~ N(0, I/d),
/// b ~ N(0, bias_var): the p -> infinity limit of phi(x).phi(x') for
/// [`crate::RandomFeatures`]. Returns the `x.nrows() x x2.nrows()` matrix.
///
/// With a = |x|^2/d + v, c = |x'|^2/d + v and r = x.x'/d + v (v = bias_var), the
/// pre-activations (u, u') are centred Gaussian with variances a, c and covariance r
/// (the bias is exactly one more Gaussian input, so it is handled in closed form):
/// - ReLU (arc-cosine kernel of degree 1, Cho & Saul 2009):
///   k = sqrt(a c) / (2 pi) (sin t + (pi - t) cos t), cos t = r / sqrt(a c);
///   on the diagonal k = a / 2.
/// - erf (Williams 1997): k = (2/pi) arcsin(2 r / sqrt((1 + 2a)(1 + 2c))).
/// - identity: k = r = x.x'/d (+ v), which is exactly the Gram of the identity features
///   phi(x) = x / sqrt(d) when v = 0.
/// - tanh has no closed form: [`Error::NoClosedForm`].
///
/// Errors: bias_var not finite or negative. Panics if `x` and `x2` have different
/// numbers of columns.
pub fn limit_kernel(
    activation: Activation,
    bias_var: f64,
    x: MatRef<'_, f64>,
    x2: MatRef<'_, f64>,
) -> Result<Mat<f64>> {
    assert_eq!(
        x.ncols(),
        x2.ncols(),
        "x and x2 must have the same dimension"
    );
    if !bias_var.is_finite() || bias_var < 0.0 {
        return Err(Error::BadValue {
            param: "bias_var",
            value: bias_var,
            allowed: "the bias variance must be finite and >= 0",
        });
    }
    if activation == Activation::Tanh {
        return Err(Error::NoClosedForm { activation });
    }
    let d = x.ncols().max(1) as f64;
    let (n1, n2) = (x.nrows(), x2.nrows());
    let mut buf = imbalance_core::alloc::try_zeroed(n1.saturating_mul(n2), "kernel matrix")?;
    matmul(
        MatMut::from_column_major_slice_mut(&mut buf, n1, n2),
        Accum::Replace,
        x,
        x2.transpose(),
        1.0 / d,
        Par::rayon(0),
    );
    imbalance_core::simd::reset_avx_state();
    let sq = |m: MatRef<'_, f64>, i: usize| -> f64 {
        (0..m.ncols()).map(|j| m[(i, j)] * m[(i, j)]).sum::<f64>() / d + bias_var
    };
    let a: Vec<f64> = (0..n1).map(|i| sq(x, i)).collect();
    let c: Vec<f64> = (0..n2).map(|i| sq(x2, i)).collect();
    if n1 > 0 {
        buf.par_chunks_mut(n1)
            .zip(c.par_iter())
            .for_each(|(col, &cj)| {
                imbalance_core::simd::reset_avx_state();
                for (v, &ai) in col.iter_mut().zip(&a) {
                    let r = *v + bias_var;
                    *v = match activation {
                        Activation::Relu => relu_kernel(ai, cj, r),
                        Activation::Erf => erf_kernel(ai, cj, r),
                        Activation::Identity => r,
                        Activation::Tanh => unreachable!("rejected above"),
                    };
                }
            });
    }
    let mut k = imbalance_core::alloc::try_zeros(n1, n2, "kernel matrix")?;
    for j in 0..n2 {
        for i in 0..n1 {
            k[(i, j)] = buf[i + j * n1];
        }
    }
    Ok(k)
}

/// The symmetric limit Gram matrix `limit_kernel(activation, bias_var, x, x)`, with the
/// upper triangle copied from the lower one so it is exactly symmetric.
pub fn limit_gram(activation: Activation, bias_var: f64, x: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let mut k = limit_kernel(activation, bias_var, x, x)?;
    for j in 0..k.ncols() {
        for i in 0..j {
            k[(i, j)] = k[(j, i)];
        }
    }
    Ok(k)
}

/// E[relu(u) relu(u')] for variances a, c and covariance r.
pub fn relu_kernel(a: f64, c: f64, r: f64) -> f64 {
    let s = (a * c).sqrt();
    if s <= 0.0 {
        return 0.0;
    }
    let cos = (r / s).clamp(-1.0, 1.0);
    let t = cos.acos();
    s / (2.0 * PI) * ((1.0 - cos * cos).sqrt() + (PI - t) * cos)
}

/// E[erf(u) erf(u')] for variances a, c and covariance r.
pub fn erf_kernel(a: f64, c: f64, r: f64) -> f64 {
    let z = (2.0 * r / ((1.0 + 2.0 * a) * (1.0 + 2.0 * c)).sqrt()).clamp(-1.0, 1.0);
    2.0 / PI * z.asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_forms_at_special_points() {
        // relu: k(x, x) = a/2 (E relu(u)^2 = var/2); orthogonal inputs (cos t = 0):
        // sqrt(ac)/(2 pi); opposite inputs (cos t = -1): 0.
        assert!((relu_kernel(2.0, 2.0, 2.0) - 1.0).abs() < 1e-15);
        assert!((relu_kernel(1.0, 4.0, 0.0) - 2.0 / (2.0 * PI)).abs() < 1e-15);
        assert!(relu_kernel(1.0, 1.0, -1.0).abs() < 1e-15);
        // erf: E erf(u)^2 = (2/pi) asin(2a/(1+2a)); a = 1/2 -> (2/pi) asin(1/2) = 1/3.
        assert!((erf_kernel(0.5, 0.5, 0.5) - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(erf_kernel(1.0, 1.0, 0.0), 0.0);
    }

    #[test]
    fn rejects() {
        let x = Mat::<f64>::zeros(2, 3);
        assert!(matches!(
            limit_kernel(Activation::Tanh, 0.0, x.as_ref(), x.as_ref()),
            Err(Error::NoClosedForm { .. })
        ));
        assert!(matches!(
            limit_kernel(Activation::Relu, -1.0, x.as_ref(), x.as_ref()),
            Err(Error::BadValue { .. })
        ));
        assert!(matches!(
            limit_kernel(Activation::Relu, f64::NAN, x.as_ref(), x.as_ref()),
            Err(Error::BadValue { .. })
        ));
    }
}
