use super::*;
use crate::special::{bivariate_normal_upper, normal_cdf};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

fn opts() -> GenzOptions {
    GenzOptions::default()
}

/// A random correlation-like problem: B (d x r) with N(0,1) entries, cov = B B^T + eps I.
fn random_factor(rng: &mut rand_pcg::Pcg64, d: usize, r: usize) -> Vec<f64> {
    (0..d * r).map(|_| rng.sample(StandardNormal)).collect()
}

fn cov_of(b: &[f64], d: usize, r: usize, eps: f64) -> Vec<f64> {
    (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            (0..r).map(|l| b[i * r + l] * b[j * r + l]).sum::<f64>()
                + if i == j { eps } else { 0.0 }
        })
        .collect()
}

#[test]
fn one_and_two_dimensions_are_exact() {
    let (p, e) = orthant_probability(&[0.7], &[4.0], &opts()).unwrap();
    assert_eq!(e, 0.0);
    assert!((p - normal_cdf(0.35)).abs() < 1e-16);
    let cov = [2.0, -0.6, -0.6, 0.5];
    let (p, e) = orthant_probability(&[0.3, -0.2], &cov, &opts()).unwrap();
    let r = -0.6 / (2.0f64 * 0.5).sqrt();
    let want = bivariate_normal_upper(-0.3 / 2f64.sqrt(), 0.2 / 0.5f64.sqrt(), r);
    assert_eq!(e, 0.0);
    assert!((p - want).abs() < 1e-15);
    // K = 2 class error: Phi(-(m_y - m_c) / sd(f_y - f_c)), computed without cancellation.
    let err = class_error(&[3.0, -3.0], &[1.0, 0.2, 0.2, 1.5], 0, &[0.0, 0.0], &opts()).unwrap();
    let want = normal_cdf(-6.0 / (1.0f64 + 1.5 - 0.4).sqrt());
    assert!(((err - want) / want).abs() < 1e-13, "{err:e} vs {want:e}");
}

#[test]
fn genz_matches_the_exact_bivariate_routine_within_its_error_estimate() {
    // The QMC path run directly on 2-D problems (K = 3), against bvnu.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
    for _ in 0..20 {
        let r: f64 = rng.random_range(-0.95..0.95);
        let lower = [rng.random_range(-2.0..1.5), rng.random_range(-2.0..1.5)];
        let (p, err) = genz(&lower, &[1.0, r, r, 1.0], 2, &opts()).unwrap();
        let want = bivariate_normal_upper(lower[0], lower[1], r);
        assert!(
            (p - want).abs() <= err + 1e-12,
            "r {r} {lower:?}: {p} vs {want} (err {err:e})"
        );
        assert!(err <= 1e-4);
    }
}

#[test]
fn genz_matches_exact_trivariate_orthant_and_one_factor_integral() {
    // P(X > 0) for a zero-mean trivariate normal: 1/8 + (asin r12 + asin r13 + asin r23)/(4 pi).
    let mut rng = rand_pcg::Pcg64::seed_from_u64(12);
    for _ in 0..10 {
        let b = random_factor(&mut rng, 3, 3);
        let cov = cov_of(&b, 3, 3, 0.1);
        let s: Vec<f64> = (0..3).map(|i| cov[i * 3 + i].sqrt()).collect();
        let corr: Vec<f64> = (0..9).map(|ij| cov[ij] / (s[ij / 3] * s[ij % 3])).collect();
        let want = 0.125
            + (corr[1].asin() + corr[2].asin() + corr[5].asin()) / (4.0 * std::f64::consts::PI);
        let (p, err) = genz(&[0.0; 3], &corr, 3, &opts()).unwrap();
        assert!(
            (p - want).abs() <= err + 1e-12,
            "{p} vs {want} (err {err:e})"
        );
    }
    // Equicorrelated 0.4 with mean 0.3 in 7 dimensions: the exact one-factor integral.
    let d = 7;
    let corr: Vec<f64> = (0..d * d)
        .map(|ij| if ij / d == ij % d { 1.0 } else { 0.4 })
        .collect();
    let (exact, _) =
        crate::quad::one_factor_orthant(&[0.3; 7], &[0.4f64.sqrt(); 7], &[0.6f64.sqrt(); 7], 1e-13);
    let (p, err) = genz(&[-0.3; 7], &corr, d, &opts()).unwrap();
    assert!(
        (p - exact).abs() <= err + 1e-12,
        "{p} vs {exact} (err {err:e})"
    );
    // The public entry point detects the one-factor form and is exact.
    let (p, err) = orthant_probability(&[0.3; 7], &corr, &opts()).unwrap();
    assert!(err == 0.0 && (p - exact).abs() < 1e-11);
}

/// Monte Carlo estimate of P(mean + B xi > 0) with `n` samples.
fn monte_carlo(mean: &[f64], b: &[f64], d: usize, r: usize, n: usize, seed: u64) -> f64 {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut xi = vec![0.0; r];
    let mut hits = 0usize;
    for _ in 0..n {
        xi.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
        if (0..d).all(|i| mean[i] + (0..r).map(|l| b[i * r + l] * xi[l]).sum::<f64>() > 0.0) {
            hits += 1;
        }
    }
    hits as f64 / n as f64
}

fn ten_dim_vs_monte_carlo(samples: usize) {
    // K = 10 classes -> 9-dimensional orthants: full rank, nearly singular (rank 4 + 1e-9 I)
    // and exactly singular (rank 3). Tolerance: 4 binomial standard deviations of the MC
    // estimate, sqrt(p(1-p)/N), plus Genz's own 3-sigma error estimate.
    let d = 9;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(13);
    for (case, (r, eps)) in [(9, 0.0), (4, 1e-9), (3, 0.0), (9, 0.0), (2, 0.0)]
        .into_iter()
        .enumerate()
    {
        let b = random_factor(&mut rng, d, r);
        let mean: Vec<f64> = (0..d).map(|_| rng.random_range(0.5..2.5)).collect();
        let cov = cov_of(&b, d, r, eps);
        let (p, err) = orthant_probability(&mean, &cov, &opts()).unwrap();
        let mc = monte_carlo(&mean, &b, d, r, samples, 100 + case as u64);
        let tol = 4.0 * (mc * (1.0 - mc) / samples as f64).sqrt() + err + 1e-9;
        assert!(
            (p - mc).abs() <= tol,
            "case {case} (rank {r}): Genz {p} (err {err:e}) vs MC {mc}, tol {tol:e}"
        );
    }
}

#[test]
fn ten_classes_match_monte_carlo_1e6() {
    ten_dim_vs_monte_carlo(1_000_000);
}

#[test]
#[ignore = "slow (about 6 s in release): the 10^7-sample version of the test above"]
fn ten_classes_match_monte_carlo_1e7() {
    ten_dim_vs_monte_carlo(10_000_000);
}

#[test]
fn singular_and_deterministic_components_are_exact() {
    // X = (Z1, Z1, Z2): a duplicated variable is a rank deficiency, integrated exactly.
    let cov = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0];
    let (p, _) = orthant_probability(&[0.3, 0.5, 0.2], &cov, &opts()).unwrap();
    assert!((p - normal_cdf(0.3) * normal_cdf(0.2)).abs() < 1e-12, "{p}");
    // X2 = -X1 + const: P(X1 > -0.5, -X1 > -0.8) = Phi(0.8) - Phi(-0.5).
    let cov = [1.0, -1.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 2.0];
    let (p, _) = orthant_probability(&[0.5, 0.8, 1.0], &cov, &opts()).unwrap();
    let want = (normal_cdf(0.8) - normal_cdf(-0.5)) * normal_cdf(1.0 / 2f64.sqrt());
    assert!((p - want).abs() < 1e-12, "{p} vs {want}");
    // Zero-variance components are sign checks.
    let cov = [1.0, 0.0, 0.0, 0.0];
    let (p, e) = orthant_probability(&[0.4, 2.0], &cov, &opts()).unwrap();
    assert!((p - normal_cdf(0.4)).abs() < 1e-16 && e == 0.0);
    assert_eq!(
        orthant_probability(&[0.4, -2.0], &cov, &opts()).unwrap(),
        (0.0, 0.0)
    );
    assert_eq!(
        orthant_probability(&[1.0, 2.0], &[0.0; 4], &opts()).unwrap(),
        (1.0, 0.0)
    );
    // A tie with no variance is an error of the class (f_y > f_c fails).
    let err = class_error(&[1.0, 1.0, 0.0], &[0.0; 9], 0, &[0.0; 3], &opts()).unwrap();
    assert_eq!(err, 1.0);
}

#[test]
fn results_are_deterministic_for_a_seed() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(14);
    let d = 6;
    let b = random_factor(&mut rng, d, d);
    let cov = cov_of(&b, d, d, 0.0);
    let mean = vec![0.8; d];
    let a = orthant_probability(&mean, &cov, &opts()).unwrap();
    let b2 = orthant_probability(&mean, &cov, &opts()).unwrap();
    assert_eq!(a, b2);
    let other = orthant_probability(&mean, &cov, &GenzOptions { seed: 7, ..opts() }).unwrap();
    assert_ne!(a.0, other.0);
    assert!((a.0 - other.0).abs() <= a.1 + other.1);
}

#[test]
fn rejects_bad_input() {
    let o = opts();
    let bad = |mean: &[f64], cov: &[f64]| orthant_probability(mean, cov, &o).unwrap_err();
    assert!(matches!(
        bad(&[0.0, 0.0], &[1.0, 0.0, 0.0]),
        Error::WrongLength { name: "cov", .. }
    ));
    assert!(matches!(
        bad(&[f64::NAN], &[1.0]),
        Error::BadEntry { name: "mean", .. }
    ));
    assert!(matches!(
        bad(&[0.0], &[f64::INFINITY]),
        Error::BadEntry { name: "cov", .. }
    ));
    assert!(matches!(
        bad(&[0.0, 0.0], &[1.0, 0.5, 0.4, 1.0]),
        Error::BadEntry { name: "cov", .. }
    ));
    assert!(matches!(
        bad(&[0.0], &[-1.0]),
        Error::BadEntry { name: "cov", .. }
    ));
    assert!(matches!(
        bad(&[0.0, 0.0], &[1.0, 2.0, 2.0, 1.0]),
        Error::NotPsd { .. }
    ));
    let not_psd = [1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0];
    assert!(matches!(bad(&[0.0; 3], &not_psd), Error::NotPsd { .. }));
    let c =
        |m: &[f64], y, off: &[f64]| class_error(m, &[1.0, 0.0, 0.0, 1.0], y, off, &o).unwrap_err();
    assert!(matches!(
        c(&[0.0, 0.0], 2, &[0.0, 0.0]),
        Error::ClassOutOfRange { class: 2, k: 2 }
    ));
    assert!(matches!(
        c(&[0.0, 0.0], 0, &[0.0]),
        Error::WrongLength {
            name: "offsets",
            ..
        }
    ));
    assert!(matches!(
        c(&[0.0, 0.0], 0, &[f64::NAN, 0.0]),
        Error::BadEntry {
            name: "offsets",
            ..
        }
    ));
    assert!(matches!(
        class_error(&[0.0], &[1.0], 0, &[0.0], &o).unwrap_err(),
        Error::Counts(imbalance_core::CountError::TooFewClasses { k: 1 })
    ));
    let opt = |g: GenzOptions| orthant_probability(&[0.0], &[1.0], &g).unwrap_err();
    for (g, name) in [
        (GenzOptions { abs_tol: 0.0, ..o }, "abs_tol"),
        (
            GenzOptions {
                abs_tol: f64::NAN,
                ..o
            },
            "abs_tol",
        ),
        (GenzOptions { shifts: 1, ..o }, "shifts"),
        (GenzOptions { min_points: 0, ..o }, "min_points"),
        (
            GenzOptions {
                max_points: 10,
                ..o
            },
            "max_points",
        ),
        (
            GenzOptions {
                singular_tol: 0.0,
                ..o
            },
            "singular_tol",
        ),
        (
            GenzOptions {
                singular_tol: 0.5,
                ..o
            },
            "singular_tol",
        ),
    ] {
        assert!(
            matches!(opt(g), Error::BadValue { name: got, .. } if got == name),
            "{name}"
        );
    }
}
