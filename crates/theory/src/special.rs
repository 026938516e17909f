//! Normal distribution functions: `Phi`, its inverse, and the bivariate upper orthant.
//!
//! `erfc` is the `libm` crate's (a port of FreeBSD msun's `s_erf.c`);
//! `Phi(x) = erfc(-x / sqrt 2) / 2` with a first-order correction for the rounding of
//! `x / sqrt 2`, which otherwise costs up to ~1e-13 relative accuracy deep in the lower tail.
//! The inverse is Wichura's AS 241 (PPND16, ~1e-16 relative). The bivariate routine is Genz's
//! `bvnu` (Drezner & Wesolowsky's method with Gauss-Legendre rules, ~1e-15 absolute).

// The coefficient tables are copied digit for digit from their published sources.
#![allow(clippy::excessive_precision)]

/// The complementary error function: `libm::erfc` (FreeBSD msun's `s_erf.c`), about 1 ulp
/// relative (measured against mpmath: at most 2.5 ulp on [-28, 28]).
#[inline]
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Horner evaluation of `c[0] + c[1] x + ...`.
#[inline]
fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ci| acc * x + ci)
}

/// `1/sqrt(2)` rounded to f64, and the rounding error (mpmath, 40 digits).
const FRAC_1_SQRT_2_HI: f64 = std::f64::consts::FRAC_1_SQRT_2;
const FRAC_1_SQRT_2_LO: f64 = -4.833646656726457e-17;

/// The exact rounding error of `a * b` (Dekker's two-product without FMA).
#[inline]
fn two_prod_err(a: f64, b: f64, p: f64) -> f64 {
    const SPLIT: f64 = 134_217_729.0; // 2^27 + 1
    let split = |v: f64| {
        let c = SPLIT * v;
        let hi = c - (c - v);
        (hi, v - hi)
    };
    let (ah, al) = split(a);
    let (bh, bl) = split(b);
    ((ah * bh - p) + ah * bl + al * bh) + al * bl
}

/// The standard normal CDF `Phi(x)`, relative accuracy ~1e-15 also deep in the lower tail.
pub fn normal_cdf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let t = x * FRAC_1_SQRT_2_HI;
    let y = -t;
    if y <= 1.0 || !x.is_finite() {
        // Phi >= 0.08 (or an infinite argument): the plain formula is accurate.
        return 0.5 * erfc(y);
    }
    // The true argument is y + delta; erfc(y + d) = erfc(y) (1 - d r), r = 2 e^{-y^2} /
    // (sqrt(pi) erfc(y)) ~ 2y + 1/y for y > 1 (asymptotic series; the neglected terms change
    // the result by < 1e-17 relative because |d| < 1e-16 y).
    let delta = -(two_prod_err(x, FRAC_1_SQRT_2_HI, t) + x * FRAC_1_SQRT_2_LO);
    let r = 2.0 * y + 1.0 / y;
    0.5 * erfc(y) * (1.0 - delta * r)
}

/// The standard normal survival function `1 - Phi(x) = Phi(-x)`.
#[inline]
pub fn normal_sf(x: f64) -> f64 {
    normal_cdf(-x)
}

/// `ln Phi(t)`, without loss of precision for large `t` (where `Phi(t)` rounds to 1).
#[inline]
pub(crate) fn ln_phi(t: f64) -> f64 {
    if t > 0.0 {
        (-normal_sf(t)).ln_1p()
    } else {
        normal_cdf(t).ln()
    }
}

/// The standard normal density.
#[inline]
pub fn normal_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// `Phi(hi) - Phi(lo)` for `lo <= hi` (either may be infinite), without cancellation in the tails.
#[inline]
pub(crate) fn normal_interval(lo: f64, hi: f64) -> f64 {
    if lo >= hi {
        return 0.0;
    }
    if lo > 0.0 {
        (normal_sf(lo) - normal_sf(hi)).max(0.0)
    } else {
        (normal_cdf(hi) - normal_cdf(lo)).max(0.0)
    }
}

const AS241_A: [f64; 8] = [
    3.3871328727963666080e0,
    1.3314166789178437745e+2,
    1.9715909503065514427e+3,
    1.3731693765509461125e+4,
    4.5921953931549871457e+4,
    6.7265770927008700853e+4,
    3.3430575583588128105e+4,
    2.5090809287301226727e+3,
];
const AS241_B: [f64; 8] = [
    1.0,
    4.2313330701600911252e+1,
    6.8718700749205790830e+2,
    5.3941960214247511077e+3,
    2.1213794301586595867e+4,
    3.9307895800092710610e+4,
    2.8729085735721942674e+4,
    5.2264952788528545610e+3,
];
const AS241_C: [f64; 8] = [
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
];
const AS241_D: [f64; 8] = [
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
];
const AS241_E: [f64; 8] = [
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
];
const AS241_F: [f64; 8] = [
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
];

/// The tail part of AS 241: `-Phi^{-1}(r)` for `0 < r <= 0.075` given as `r` itself.
#[inline]
fn as241_tail(r: f64) -> f64 {
    let r = (-r.ln()).sqrt();
    if r <= 5.0 {
        let r = r - 1.6;
        poly(&AS241_C, r) / poly(&AS241_D, r)
    } else {
        let r = r - 5.0;
        poly(&AS241_E, r) / poly(&AS241_F, r)
    }
}

/// The standard normal quantile `Phi^{-1}(p)` (Wichura's AS 241). `p = 0` gives `-inf`,
/// `p = 1` gives `+inf`, anything outside [0, 1] NaN.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * poly(&AS241_A, r) / poly(&AS241_B, r);
    }
    if q < 0.0 {
        -as241_tail(p)
    } else {
        as241_tail(1.0 - p)
    }
}

/// `Phi^{-1}(1 - q)` computed from `q` (no loss of precision for tiny `q`).
#[inline]
pub(crate) fn normal_quantile_upper(q: f64) -> f64 {
    if q < 0.075 && q > 0.0 {
        as241_tail(q)
    } else {
        -normal_quantile(q)
    }
}

// Gauss-Legendre half-rules on [-1, 1] (nodes x > 0 and weights), as in Genz's bvnu.
const GL6_W: [f64; 3] = [0.1713244923791705, 0.3607615730481384, 0.4679139345726904];
const GL6_X: [f64; 3] = [0.9324695142031522, 0.6612093864662647, 0.2386191860831970];
const GL12_W: [f64; 6] = [
    0.04717533638651177,
    0.1069393259953183,
    0.1600783285433464,
    0.2031674267230659,
    0.2334925365383547,
    0.2491470458134029,
];
const GL12_X: [f64; 6] = [
    0.9815606342467191,
    0.9041172563704750,
    0.7699026741943050,
    0.5873179542866171,
    0.3678314989981802,
    0.1252334085114692,
];
const GL20_W: [f64; 10] = [
    0.01761400713915212,
    0.04060142980038694,
    0.06267204833410906,
    0.08327674157670475,
    0.1019301198172404,
    0.1181945319615184,
    0.1316886384491766,
    0.1420961093183821,
    0.1491729864726037,
    0.1527533871307259,
];
const GL20_X: [f64; 10] = [
    0.9931285991850949,
    0.9639719272779138,
    0.9122344282513259,
    0.8391169718222188,
    0.7463319064601508,
    0.6360536807265150,
    0.5108670019508271,
    0.3737060887154196,
    0.2277858511416451,
    0.07652652113349733,
];

/// `P(X > h, Y > k)` for standard bivariate normal `(X, Y)` with correlation `r` in [-1, 1]
/// (Genz's `bvnu`, after Drezner & Wesolowsky 1990; absolute accuracy ~1e-15).
pub fn bivariate_normal_upper(h: f64, k: f64, r: f64) -> f64 {
    let r = r.clamp(-1.0, 1.0);
    if h == f64::INFINITY || k == f64::INFINITY {
        return 0.0;
    }
    if h == f64::NEG_INFINITY {
        return if k == f64::NEG_INFINITY {
            1.0
        } else {
            normal_sf(k)
        };
    }
    if k == f64::NEG_INFINITY {
        return normal_sf(h);
    }
    if r == 0.0 {
        return normal_sf(h) * normal_sf(k);
    }
    let tp = 2.0 * std::f64::consts::PI;
    let (w, x): (&[f64], &[f64]) = if r.abs() < 0.3 {
        (&GL6_W, &GL6_X)
    } else if r.abs() < 0.75 {
        (&GL12_W, &GL12_X)
    } else {
        (&GL20_W, &GL20_X)
    };
    // Nodes 1 -+ x with weights w, on [0, 2].
    let nodes = || {
        w.iter()
            .zip(x)
            .flat_map(|(&wi, &xi)| [(wi, 1.0 - xi), (wi, 1.0 + xi)])
    };
    let (h, mut k) = (h, k);
    let mut hk = h * k;
    let mut bvn = 0.0;
    if r.abs() < 0.925 {
        let hs = (h * h + k * k) / 2.0;
        let asr = r.asin() / 2.0;
        for (wi, xi) in nodes() {
            let sn = (asr * xi).sin();
            bvn += wi * ((sn * hk - hs) / (1.0 - sn * sn)).exp();
        }
        bvn = bvn * asr / tp + normal_sf(h) * normal_sf(k);
    } else {
        if r < 0.0 {
            k = -k;
            hk = -hk;
        }
        if r.abs() < 1.0 {
            let as_ = 1.0 - r * r;
            let mut a = as_.sqrt();
            let bs = (h - k) * (h - k);
            let asr = -(bs / as_ + hk) / 2.0;
            let c = (4.0 - hk) / 8.0;
            let d = (12.0 - hk) / 80.0;
            if asr > -100.0 {
                bvn = a
                    * asr.exp()
                    * (1.0 - c * (bs - as_) * (1.0 - d * bs) / 3.0 + c * d * as_ * as_);
            }
            if hk > -100.0 {
                let b = bs.sqrt();
                let sp = tp.sqrt() * normal_cdf(-b / a);
                bvn -= (-hk / 2.0).exp() * sp * b * (1.0 - c * bs * (1.0 - d * bs) / 3.0);
            }
            a /= 2.0;
            let mut sum = 0.0;
            for (wi, xi) in nodes() {
                let xs = (a * xi) * (a * xi);
                let asr = -(bs / xs + hk) / 2.0;
                if asr > -100.0 {
                    let sp = 1.0 + c * xs * (1.0 + 5.0 * d * xs);
                    let rs = (1.0 - xs).sqrt();
                    let ep = (-(hk / 2.0) * xs / ((1.0 + rs) * (1.0 + rs))).exp() / rs;
                    sum += wi * asr.exp() * (sp - ep);
                }
            }
            bvn = (a * sum - bvn) / tp;
        }
        if r > 0.0 {
            bvn += normal_sf(h.max(k));
        } else if h >= k {
            bvn = -bvn;
        } else {
            let l = if h < 0.0 {
                normal_cdf(k) - normal_cdf(h)
            } else {
                normal_sf(h) - normal_sf(k)
            };
            bvn = l - bvn;
        }
    }
    bvn.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_matches_mpmath_with_tiny_relative_error() {
        // Reference: mpmath 1.3.0, ncdf at 40 digits.
        let cases = [
            (-37.5, 4.605353009581955e-308),
            (-20.0, 2.7536241186062337e-89),
            (-10.0, 7.619853024160525e-24),
            (-8.3, 5.205569744890254e-17),
            (-5.0, 2.866515718791939e-07),
            (-3.0, 0.0013498980316300946),
            (-1.5, 0.06680720126885807),
            (-1.0, 0.15865525393145705),
            (-0.3, 0.3820885778110474),
            (0.0, 0.5),
            (0.7, 0.758036347776927),
            (2.0, 0.9772498680518208),
            (6.0, 0.9999999990134123),
        ];
        for (x, want) in cases {
            let got = normal_cdf(x);
            let rel = ((got - want) / want).abs();
            assert!(
                rel < 2e-15,
                "Phi({x}) = {got:e}, mpmath {want:e}, rel {rel:e}"
            );
        }
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert!(normal_cdf(f64::NAN).is_nan());
    }

    #[test]
    fn quantile_inverts_phi() {
        // A relative error eps in x moves Phi(x) by about x^2 eps relative (Mills ratio), so
        // allow 8 x^2 eps + 1e-14.
        let tol = |x: f64| 8.0 * x * x * f64::EPSILON + 1e-14;
        for &p in &[
            1e-300, 1e-50, 1e-10, 1e-3, 0.02, 0.075, 0.3, 0.5, 0.8, 0.95, 0.999,
        ] {
            let x = normal_quantile(p);
            let back = normal_cdf(x);
            assert!(
                ((back - p) / p).abs() < tol(x),
                "p {p}: x {x}, Phi(x) {back}"
            );
        }
        for &q in &[1e-200, 1e-12, 0.01, 0.2, 0.5] {
            let x = normal_quantile_upper(q);
            let back = normal_sf(x);
            assert!(
                ((back - q) / q).abs() < tol(x),
                "q {q}: x {x}, 1 - Phi(x) {back}"
            );
        }
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn gauss_legendre_tables_are_exact_for_polynomials() {
        // An n-point rule integrates x^(2j) over [-1, 1] exactly (= 2/(2j+1)) for 2j < 2n.
        for (w, x) in [
            (&GL6_W[..], &GL6_X[..]),
            (&GL12_W[..], &GL12_X[..]),
            (&GL20_W[..], &GL20_X[..]),
        ] {
            let n = 2 * w.len();
            for j in 0..n {
                let sum: f64 = w
                    .iter()
                    .zip(x)
                    .map(|(w, x)| 2.0 * w * x.powi(2 * j as i32))
                    .sum();
                assert!(
                    (sum - 2.0 / (2 * j + 1) as f64).abs() < 1e-14,
                    "n {n} j {j}"
                );
            }
        }
    }

    /// P(X > h, Y > k) by adaptive-free brute force: integral of phi(x) Phi((r x - k)/sqrt(1-r^2))
    /// over x > h with a fine composite Simpson rule.
    fn bvn_quadrature(h: f64, k: f64, r: f64) -> f64 {
        let s = (1.0 - r * r).sqrt();
        let (a, b) = (h, h.max(0.0) + 12.0);
        let n = 20_000;
        let step = (b - a) / n as f64;
        let f = |x: f64| normal_pdf(x) * normal_cdf((r * x - k) / s);
        let mut sum = f(a) + f(b);
        for i in 1..n {
            sum += f(a + i as f64 * step) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        sum * step / 3.0
    }

    #[test]
    fn bivariate_matches_quadrature() {
        for &r in &[-0.99, -0.93, -0.8, -0.5, -0.1, 0.2, 0.5, 0.8, 0.93, 0.99] {
            for &(h, k) in &[
                (0.0, 0.0),
                (-1.0, 0.5),
                (1.5, 2.0),
                (-2.0, -2.5),
                (0.3, -0.7),
                (3.0, -1.0),
            ] {
                let got = bivariate_normal_upper(h, k, r);
                let want = bvn_quadrature(h, k, r);
                assert!(
                    (got - want).abs() < 1e-10,
                    "h {h} k {k} r {r}: {got} vs {want}"
                );
            }
        }
        // Degenerate correlations: r = 1 is P(X > max(h, k)); r = -1 is P(h < X < -k).
        assert!((bivariate_normal_upper(0.5, -0.2, 1.0) - normal_sf(0.5)).abs() < 1e-15);
        let want = normal_cdf(1.0) - normal_cdf(-0.5);
        assert!((bivariate_normal_upper(-0.5, -1.0, -1.0) - want).abs() < 1e-15);
        // Sheppard's formula at h = k = 0: 1/4 + asin(r) / (2 pi).
        for &r in &[-0.7, 0.3, 0.95] {
            let want = 0.25 + f64::asin(r) / (2.0 * std::f64::consts::PI);
            assert!((bivariate_normal_upper(0.0, 0.0, r) - want).abs() < 1e-15);
        }
    }
}
