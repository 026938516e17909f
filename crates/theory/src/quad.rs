//! One-dimensional adaptive Gauss-Kronrod quadrature and the one-factor orthant integral.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use crate::special::{ln_phi, normal_cdf, normal_pdf, normal_sf};

// Gauss-Kronrod 7-15 (QUADPACK qk15): Kronrod nodes (x >= 0, the last is 0) and weights,
// and the Gauss weights of the 7-point rule at the odd-indexed Kronrod nodes.
#[allow(clippy::excessive_precision)] // the published QUADPACK digits
const XGK: [f64; 8] = [
    0.991_455_371_120_812_639_206_854_697_526_329,
    0.949_107_912_342_758_524_526_189_684_047_851,
    0.864_864_423_359_769_072_789_712_788_640_926,
    0.741_531_185_599_394_439_863_864_773_280_788,
    0.586_087_235_467_691_130_294_144_845_693_013,
    0.405_845_151_377_397_166_906_606_412_076_961,
    0.207_784_955_007_898_467_600_689_403_773_245,
    0.0,
];
#[allow(clippy::excessive_precision)] // the published QUADPACK digits
const WGK: [f64; 8] = [
    0.022_935_322_010_529_224_963_732_008_058_970,
    0.063_092_092_629_978_553_290_700_663_189_204,
    0.104_790_010_322_250_183_839_876_322_541_518,
    0.140_653_259_715_525_918_745_189_590_510_238,
    0.169_004_726_639_267_902_826_583_426_598_550,
    0.190_350_578_064_785_409_913_256_402_421_014,
    0.204_432_940_075_298_892_414_161_999_234_649,
    0.209_482_141_084_727_828_012_999_174_891_714,
];
#[allow(clippy::excessive_precision)] // the published QUADPACK digits
const WG: [f64; 4] = [
    0.129_484_966_168_869_693_270_611_432_679_082,
    0.279_705_391_489_276_667_901_467_771_423_780,
    0.381_830_050_505_118_944_950_369_775_488_975,
    0.417_959_183_673_469_387_755_102_040_816_327,
];

/// One G7-K15 panel: (Kronrod estimate, |Kronrod - Gauss|).
fn gk15(f: &mut impl FnMut(f64) -> f64, a: f64, b: f64) -> (f64, f64) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut k = WGK[7] * fc;
    let mut g = WG[3] * fc;
    for j in 0..7 {
        let x = h * XGK[j];
        let s = f(c - x) + f(c + x);
        k += WGK[j] * s;
        if j % 2 == 1 {
            g += WG[j / 2] * s;
        }
    }
    (k * h, ((k - g) * h).abs())
}

/// Integral of `f` over `[a, b]` (finite) by globally adaptive G7-K15 bisection until the
/// summed error estimate is below `tol` (absolute) or `max_panels` panels are used.
/// Returns (integral, error estimate).
pub fn integrate_adaptive(
    mut f: impl FnMut(f64) -> f64,
    a: f64,
    b: f64,
    tol: f64,
    initial_panels: usize,
    max_panels: usize,
) -> (f64, f64) {
    if b <= a {
        return (0.0, 0.0);
    }
    let n0 = initial_panels.max(1);
    let w = (b - a) / n0 as f64;
    // (a, b, value, error)
    let mut panels: Vec<(f64, f64, f64, f64)> = (0..n0)
        .map(|i| {
            let (lo, hi) = (
                a + i as f64 * w,
                if i + 1 == n0 {
                    b
                } else {
                    a + (i + 1) as f64 * w
                },
            );
            let (v, e) = gk15(&mut f, lo, hi);
            (lo, hi, v, e)
        })
        .collect();
    loop {
        let err: f64 = panels.iter().map(|p| p.3).sum();
        if err <= tol || panels.len() >= max_panels {
            let val = panels.iter().map(|p| p.2).sum();
            return (val, err);
        }
        let (i, _) = panels
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.3.total_cmp(&y.1.3))
            .expect("at least one panel");
        let (lo, hi, _, _) = panels[i];
        let mid = 0.5 * (lo + hi);
        let (v1, e1) = gk15(&mut f, lo, mid);
        let (v2, e2) = gk15(&mut f, mid, hi);
        panels[i] = (lo, mid, v1, e1);
        panels.push((mid, hi, v2, e2));
    }
}

/// `P(mu_i + b_i eta + c_i eps_i > 0 for all i)` with `eta, eps_i` iid standard normal, and its
/// complement, by one-dimensional quadrature over `eta` (absolute accuracy `tol`). Components
/// with `c_i = 0` are indicator constraints on `eta`; a component with `b_i = c_i = 0` is a sign
/// check of `mu_i`. Returns (P, 1 - P).
pub fn one_factor_orthant(mu: &[f64], b: &[f64], c: &[f64], tol: f64) -> (f64, f64) {
    let (p, q, _) = one_factor_orthant_with_error(mu, b, c, tol);
    (p, q)
}

/// [`one_factor_orthant`] with the quadrature's error estimate: (P, 1 - P, error).
pub(crate) fn one_factor_orthant_with_error(
    mu: &[f64],
    b: &[f64],
    c: &[f64],
    tol: f64,
) -> (f64, f64, f64) {
    // phi puts mass 2e-19 outside [-9, 9]: far below any accuracy asked for.
    const RANGE: f64 = 9.0;
    let (mut lo, mut hi) = (-RANGE, RANGE);
    // Smooth terms as (mu, b, c, multiplicity): identical terms are evaluated once.
    // (in order of first appearance; a hash map finds the earlier copy in O(1), so that
    // K = 1000 distinct terms cost K, not K^2, comparisons).
    let mut smooth: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(mu.len());
    let mut seen: HashMap<[u64; 3], usize> = HashMap::with_capacity(mu.len());
    for i in 0..mu.len() {
        if c[i] > 0.0 {
            // + 0.0 maps -0.0 to 0.0, which compare equal.
            let key = [mu[i], b[i], c[i]].map(|x| (x + 0.0).to_bits());
            match seen.entry(key) {
                Entry::Occupied(e) => smooth[*e.get()].3 += 1.0,
                Entry::Vacant(e) => {
                    e.insert(smooth.len());
                    smooth.push((mu[i], b[i], c[i], 1.0));
                }
            }
        } else if b[i] > 0.0 {
            lo = lo.max(-mu[i] / b[i]);
        } else if b[i] < 0.0 {
            hi = hi.min(-mu[i] / b[i]);
        } else if mu[i] <= 0.0 {
            return (0.0, 1.0, 0.0);
        }
    }
    if lo >= hi {
        return (0.0, 1.0, 0.0);
    }
    // Mass of eta outside [lo, hi] fails for sure.
    let outside = normal_cdf(lo) + normal_sf(hi);
    let integrand = |x: f64| {
        let s: f64 = smooth
            .iter()
            .map(|&(m, b, c, times)| times * ln_phi((m + b * x) / c))
            .sum();
        normal_pdf(x) * -s.exp_m1()
    };
    let (q, err) = integrate_adaptive(integrand, lo, hi, tol, 4, 2000);
    let fail = (outside + q).clamp(0.0, 1.0);
    let p_inside = normal_interval_mass(lo, hi);
    ((p_inside - q).clamp(0.0, 1.0), fail, err)
}

/// `Phi(hi) - Phi(lo)`.
fn normal_interval_mass(lo: f64, hi: f64) -> f64 {
    crate::special::normal_interval(lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_kronrod_is_exact_for_polynomials_and_accurate_for_smooth_functions() {
        // K15 is exact up to degree 22 on one panel.
        for deg in 0..=22 {
            let (v, _) = gk15(&mut |x: f64| x.powi(deg), 0.0, 1.0);
            assert!((v - 1.0 / (deg + 1) as f64).abs() < 1e-15, "degree {deg}");
        }
        // Integral of phi over [-3, 2] = Phi(2) - Phi(-3).
        let (v, e) = integrate_adaptive(normal_pdf, -3.0, 2.0, 1e-14, 1, 100);
        let want = normal_cdf(2.0) - normal_cdf(-3.0);
        assert!(
            (v - want).abs() < 1e-14 && e < 1e-13,
            "{v} vs {want}, err {e}"
        );
    }

    #[test]
    fn one_factor_matches_independent_and_known_cases() {
        // b = 0: independent components, P = prod Phi(mu/c).
        let (p, q) = one_factor_orthant(&[0.5, -0.2, 1.0], &[0.0; 3], &[1.0, 2.0, 0.5], 1e-13);
        let want = normal_cdf(0.5) * normal_cdf(-0.1) * normal_cdf(2.0);
        assert!((p - want).abs() < 1e-12 && (p + q - 1.0).abs() < 1e-12);
        // Equicorrelated 1/2 (b = c = 1/sqrt 2), zero mean: P = 1/(d+1).
        let s = std::f64::consts::FRAC_1_SQRT_2;
        for d in [3usize, 5, 9] {
            let (p, _) = one_factor_orthant(&vec![0.0; d], &vec![s; d], &vec![s; d], 1e-13);
            assert!((p - 1.0 / (d + 1) as f64).abs() < 1e-11, "d {d}: {p}");
        }
        // An indicator component (c = 0) restricts eta: X_0 = eta > 0.3, X_1 = eta + eps > 0.
        let (p, _) = one_factor_orthant(&[-0.3, 0.0], &[1.0, 1.0], &[0.0, 1.0], 1e-13);
        let want = crate::special::bivariate_normal_upper(0.3, 0.0, s);
        assert!((p - want).abs() < 1e-11, "{p} vs {want}");
    }
}
