use super::*;
use crate::{Horizon, MixtureStats, PredictOptions, predict};
use imbalance_losses::Method;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A random instance with exchangeable groups sharing `r` factors: group sizes `sizes`,
/// loadings N(0, 1/r) per group and factor, residual variance uniform in [0.2, 1], per-
/// component variance scale uniform in [0.5, 2] and means uniform in `means`.
/// Returns (mean, cov).
fn grouped_instance(
    rng: &mut rand_pcg::Pcg64,
    sizes: &[usize],
    r: usize,
    means: (f64, f64),
) -> (Vec<f64>, Vec<f64>) {
    let load: Vec<Vec<f64>> = sizes
        .iter()
        .map(|_| {
            (0..r)
                .map(|_| rng.sample::<f64, _>(StandardNormal) / (r as f64).sqrt())
                .collect()
        })
        .collect();
    let resid: Vec<f64> = sizes.iter().map(|_| rng.random_range(0.2..1.0)).collect();
    let group: Vec<usize> = sizes
        .iter()
        .enumerate()
        .flat_map(|(g, &s)| std::iter::repeat_n(g, s))
        .collect();
    let d = group.len();
    let scale: Vec<f64> = (0..d)
        .map(|_| rng.random_range(0.5..2.0f64).sqrt())
        .collect();
    // Groups share the mean too (exchangeable), up to the per-component scale.
    let gmean: Vec<f64> = sizes
        .iter()
        .map(|_| rng.random_range(means.0..means.1))
        .collect();
    let mean: Vec<f64> = (0..d).map(|i| gmean[group[i]] * scale[i]).collect();
    let cov = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            let (g, h) = (group[i], group[j]);
            let w: f64 = load[g].iter().zip(&load[h]).map(|(a, b)| a * b).sum();
            let v = if i == j { w + resid[g] } else { w };
            v * scale[i] * scale[j]
        })
        .collect();
    (mean, cov)
}

fn tight_genz() -> GenzOptions {
    GenzOptions {
        abs_tol: 2e-5,
        max_points: 1 << 23,
        ..GenzOptions::default()
    }
}

/// The structured path against Genz on the same problem: |difference| within the structured
/// bound plus 4 of Genz's standard errors (its `err` is 3 standard errors estimated from 10
/// random shifts, a t statistic with 9 degrees of freedom: |t| > 3 has probability 1.5%,
/// too often over 17 cases, |t| > 4 has 0.3%).
fn check_against_genz(sizes: &[usize], r: usize, cases: usize, seed: u64) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    for case in 0..cases {
        let (mean, cov) = grouped_instance(&mut rng, sizes, r, (0.3, 2.5));
        let d = mean.len();
        let est = orthant_dispatch(&mean, &cov, &GenzOptions::default(), 0).unwrap();
        let want_rank = r.min(sizes.len());
        assert!(
            matches!(est.method, OrthantMethod::GroupedFactor { rank, groups }
                if rank == want_rank && groups == sizes.len())
                || (want_rank <= 1 && est.method == OrthantMethod::OneFactor),
            "case {case}: method {:?}",
            est.method
        );
        assert!(
            est.error_bound <= 1e-8,
            "case {case}: bound {:e}",
            est.error_bound
        );
        let sd: Vec<f64> = (0..d).map(|i| cov[i * d + i].sqrt()).collect();
        let lower: Vec<f64> = (0..d).map(|i| -mean[i] / sd[i]).collect();
        let corr: Vec<f64> = (0..d * d)
            .map(|ij| {
                let (i, j) = (ij / d, ij % d);
                if i == j {
                    1.0
                } else {
                    cov[ij] / (sd[i] * sd[j])
                }
            })
            .collect();
        // In 29 dimensions 2^23 lattice points take ~10 s per case (the slowest unit test);
        // 2^21 take a quarter of that, and the tolerance follows Genz's own error estimate.
        let opts = GenzOptions {
            max_points: if d > 20 { 1 << 21 } else { 1 << 23 },
            ..tight_genz()
        };
        let (p, err) = genz(&lower, &corr, d, &opts).unwrap();
        assert!(
            (est.probability - p).abs() <= est.error_bound + 4.0 / 3.0 * err,
            "case {case} sizes {sizes:?} rank {r}: structured {} (bound {:e}) vs Genz {p} \
             (err {err:e})",
            est.probability,
            est.error_bound
        );
        assert!((est.probability + est.complement - 1.0).abs() < 1e-12);
    }
}

#[test]
fn grouped_factor_matches_genz_at_k10() {
    // K = 10: the 9 comparisons of a step-profile class (4 in its own group, 5 in the other).
    check_against_genz(&[4, 5], 2, 6, 21);
    check_against_genz(&[2, 3, 4], 2, 4, 22);
    check_against_genz(&[4, 5], 1, 3, 23);
}

#[test]
fn grouped_factor_matches_genz_at_k30() {
    check_against_genz(&[14, 15], 2, 4, 31);
    check_against_genz(&[9, 10, 10], 2, 3, 32);
}

/// A random instance of exchangeable groups with negative within-group correlation:
/// `X_i = l_g eta + sqrt(d_g) (eps_i - nu_g mean_{j in g} eps_j)`, so the group block gets
/// `-d_g nu_g (2 - nu_g) / n_g` off the diagonal and the group matrix is indefinite when the
/// loadings `l_g` (N(0, 0.3^2)) are small. Residuals uniform in [0.2, 1], `nu_g` uniform in
/// `nu` (small groups need small `nu` to keep the imaginary parts within the path's range),
/// per-component scales in [0.5, 2], group means in `means`.
fn signed_instance(
    rng: &mut rand_pcg::Pcg64,
    sizes: &[usize],
    nu: (f64, f64),
    means: (f64, f64),
) -> (Vec<f64>, Vec<f64>) {
    let load: Vec<f64> = sizes
        .iter()
        .map(|_| 0.3 * rng.sample::<f64, _>(StandardNormal))
        .collect();
    let resid: Vec<f64> = sizes.iter().map(|_| rng.random_range(0.2..1.0)).collect();
    let nu: Vec<f64> = sizes.iter().map(|_| rng.random_range(nu.0..nu.1)).collect();
    let group: Vec<usize> = sizes
        .iter()
        .enumerate()
        .flat_map(|(g, &s)| std::iter::repeat_n(g, s))
        .collect();
    let d = group.len();
    let scale: Vec<f64> = (0..d)
        .map(|_| rng.random_range(0.5..2.0f64).sqrt())
        .collect();
    let gmean: Vec<f64> = sizes
        .iter()
        .map(|_| rng.random_range(means.0..means.1))
        .collect();
    let mean: Vec<f64> = (0..d).map(|i| gmean[group[i]] * scale[i]).collect();
    let cov = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            let (g, h) = (group[i], group[j]);
            let mut v = load[g] * load[h];
            if g == h {
                let n = sizes[g] as f64;
                v += resid[g] * (nu[g] * nu[g] - 2.0 * nu[g]) / n;
                if i == j {
                    v += resid[g];
                }
            }
            v * scale[i] * scale[j]
        })
        .collect();
    (mean, cov)
}

/// The signed-group path against Genz on random instances (tolerance as in
/// [`check_against_genz`]); returns how many cases took the signed path.
fn check_signed_against_genz(sizes: &[usize], nu: (f64, f64), cases: usize, seed: u64) -> usize {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut signed = 0;
    for case in 0..cases {
        let (mean, cov) = signed_instance(&mut rng, sizes, nu, (0.3, 2.5));
        let d = mean.len();
        let est = orthant_dispatch(&mean, &cov, &GenzOptions::default(), 0).unwrap();
        match est.method {
            OrthantMethod::SignedGroups { groups, .. } if groups == sizes.len() => signed += 1,
            OrthantMethod::GroupedFactor { .. } | OrthantMethod::OneFactor => {}
            other => panic!("case {case}: method {other:?}"),
        }
        // Far below the 1e-4 target: dominated by the series' round-off estimate for the
        // small groups (imaginary parts up to 6), 1e-14 e^18 at worst.
        assert!(
            est.error_bound <= 1e-6,
            "case {case}: bound {:e}",
            est.error_bound
        );
        let (lower, corr) = standardise(&mean, &cov);
        // In 29 dimensions 2^23 lattice points take ~10 s per case (the slowest unit test);
        // 2^21 take a quarter of that, and the tolerance follows Genz's own error estimate.
        let opts = GenzOptions {
            max_points: if d > 20 { 1 << 21 } else { 1 << 23 },
            ..tight_genz()
        };
        let (p, err) = genz(&lower, &corr, d, &opts).unwrap();
        assert!(
            (est.probability - p).abs() <= est.error_bound + 4.0 / 3.0 * err,
            "case {case} sizes {sizes:?}: {:?} {} (bound {:e}) vs Genz {p} (err {err:e})",
            est.method,
            est.probability,
            est.error_bound
        );
        assert!((est.probability + est.complement - 1.0).abs() < 1e-12);
    }
    signed
}

#[test]
fn signed_groups_match_genz_at_k10_and_k30() {
    // K = 10 and 30: the K - 1 comparisons of a class split into two or three groups.
    let mut signed = check_signed_against_genz(&[4, 5], (0.15, 0.45), 6, 41);
    signed += check_signed_against_genz(&[3, 3, 3], (0.1, 0.25), 4, 42);
    signed += check_signed_against_genz(&[14, 15], (0.15, 0.6), 4, 43);
    signed += check_signed_against_genz(&[9, 10, 10], (0.15, 0.45), 3, 44);
    // Most draws are indefinite (small loadings, nu >= 0.1): the path must be exercised.
    assert!(
        signed >= 12,
        "only {signed} of 17 cases took the signed path"
    );
}

/// The comparisons of class `y` under a prediction: (mean, covariance).
fn comparisons(pred: &crate::Prediction, y: usize) -> (Vec<f64>, Vec<f64>) {
    let k = pred.offsets.len();
    let (m, s) = (&pred.logit_means[y], pred.logit_cov_of(y));
    let others: Vec<usize> = (0..k).filter(|&c| c != y).collect();
    let d = others.len();
    let mean: Vec<f64> = others
        .iter()
        .map(|&c| m[y] + pred.offsets[y] - m[c] - pred.offsets[c])
        .collect();
    let cov: Vec<f64> = (0..d * d)
        .map(|ij| {
            let (c, c2) = (others[ij / d], others[ij % d]);
            s[y * k + y] - s[y * k + c2] - s[c * k + y] + s[c * k + c2]
        })
        .collect();
    (mean, cov)
}

/// Standardised bounds and correlation of (mean, cov).
fn standardise(mean: &[f64], cov: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let d = mean.len();
    let sd: Vec<f64> = (0..d).map(|i| cov[i * d + i].sqrt()).collect();
    let lower = (0..d).map(|i| -mean[i] / sd[i]).collect();
    let corr = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            if i == j {
                1.0
            } else {
                cov[ij] / (sd[i] * sd[j])
            }
        })
        .collect();
    (lower, corr)
}

#[test]
fn structured_paths_match_genz_on_step_profile_predictions() {
    // Step profiles under LA and CDT: two groups of comparisons whose group matrix is
    // indefinite for LA (no real factor model: the signed-group path) and PSD of rank 2 for
    // CDT here (the grouped-factor quadrature).
    for k in [10usize, 30] {
        let counts: Vec<usize> = (0..k).map(|c| if c < k / 2 { 100 } else { 10 }).collect();
        let stats = MixtureStats::orthogonal(counts, 5_000, 8.0, 1.0).unwrap();
        for method in [Method::La { tau: 1.0 }, Method::Cdt { gamma: 0.5 }] {
            let pred = predict(
                &stats,
                &method,
                Horizon::Finite(1e4),
                &PredictOptions::default(),
            )
            .unwrap();
            for y in [0, k - 1] {
                // K = 10 is below the structured rules' smallest dimension: plain Genz.
                let structured = matches!(
                    pred.orthant[y].method,
                    OrthantMethod::SignedGroups { groups: 2, .. }
                        | OrthantMethod::GroupedFactor { groups: 2, .. }
                );
                let plain = pred.orthant[y].method == OrthantMethod::Genz { dim: k - 1 };
                assert!(
                    if k < 25 { plain } else { structured },
                    "K {k} {method:?} class {y}: {:?}",
                    pred.orthant[y].method
                );
                if plain {
                    continue;
                }
                // Genz at 2e-5 (at the default 1e-4 it stops after a few hundred points,
                // where the shift-based error estimate is unreliable for p near 1).
                let (mean, cov) = comparisons(&pred, y);
                let est = orthant_estimate(&mean, &cov, &tight_genz()).unwrap();
                let (lower, corr) = standardise(&mean, &cov);
                let opts = GenzOptions {
                    seed: 99,
                    ..tight_genz()
                };
                let (p, err) = genz(&lower, &corr, k - 1, &opts).unwrap();
                // The structured bound plus 4 standard errors of Genz (see check_against_genz).
                let tol = est.error_bound + 4.0 / 3.0 * err;
                assert!(
                    (est.probability - p).abs() <= tol,
                    "K {k} {method:?} class {y}: structured {} (bound {:e}) vs Genz {p} (err {err:e})",
                    est.probability,
                    est.error_bound
                );
            }
        }
    }
}

#[test]
fn independent_groups_are_a_product() {
    // Block-diagonal zero correlation between and within groups: P = prod Phi(mean / sd).
    let d = 6;
    let mean = [0.5, 0.5, 0.5, 1.0, 1.0, 1.0];
    let cov: Vec<f64> = (0..d * d)
        .map(|ij| if ij / d == ij % d { 1.0 } else { 0.0 })
        .collect();
    let est = orthant_estimate(&mean, &cov, &GenzOptions::default()).unwrap();
    let want = normal_cdf(0.5).powi(3) * normal_cdf(1.0).powi(3);
    // Found as a one-factor problem with zero loadings: a (trivial) quadrature.
    assert!(est.error_bound <= 1e-11, "{est:?}");
    assert!(
        (est.probability - want).abs() <= est.error_bound + 1e-15,
        "{est:?} vs {want}"
    );
}

#[test]
fn dense_and_unfactorable_structures_use_lattice_rules() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
    // Dense: random rank-9 covariance in 9 dimensions.
    let d = 9;
    let b: Vec<f64> = (0..d * d).map(|_| rng.sample(StandardNormal)).collect();
    let cov: Vec<f64> = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            (0..d).map(|l| b[i * d + l] * b[j * d + l]).sum()
        })
        .collect();
    let est = orthant_estimate(&vec![1.0; d], &cov, &GenzOptions::default()).unwrap();
    assert_eq!(est.method, OrthantMethod::Genz { dim: d });
    assert!(est.error_bound <= 1e-4);
    // One singleton next to a group is still one factor (the singleton's diagonal block is
    // free); two singletons and a group sharing two factors are not a factor model: the
    // structured lattice rule.
    let (mean, cov) = grouped_instance(&mut rng, &[1, 1, 25], 2, (0.5, 1.5));
    let est = orthant_estimate(&mean, &cov, &GenzOptions::default()).unwrap();
    assert!(
        matches!(
            est.method,
            OrthantMethod::GroupedLattice { dim: 27, groups: 3 }
        ),
        "{:?}",
        est.method
    );
    // Three groups sharing three factors: rank above MAX_RANK, the structured lattice rule.
    let (mean, cov) = grouped_instance(&mut rng, &[9, 9, 9], 3, (0.5, 1.5));
    let est = orthant_estimate(&mean, &cov, &GenzOptions::default()).unwrap();
    assert!(
        matches!(
            est.method,
            OrthantMethod::GroupedLattice { dim: 27, groups: 3 }
        ),
        "{:?}",
        est.method
    );
}

#[test]
fn a_perturbed_structure_reports_its_deviation_bound() {
    // Exchangeable up to 1e-11 in the correlations: still grouped, with a bound > 0 that covers
    // the difference to the unperturbed problem.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(8);
    let (mean, cov) = grouped_instance(&mut rng, &[5, 6], 2, (0.5, 2.0));
    let d = mean.len();
    let mut noisy = cov.clone();
    for i in 0..d {
        for j in 0..i {
            let e = 1e-11 * rng.random_range(-1.0..1.0) * (cov[i * d + i] * cov[j * d + j]).sqrt();
            noisy[i * d + j] += e;
            noisy[j * d + i] += e;
        }
    }
    let clean = orthant_dispatch(&mean, &cov, &GenzOptions::default(), 0).unwrap();
    let est = orthant_dispatch(&mean, &noisy, &GenzOptions::default(), 0).unwrap();
    assert!(matches!(
        est.method,
        OrthantMethod::GroupedFactor { rank: 2, groups: 2 }
    ));
    let corr = |c: &[f64], i: usize, j: usize| c[i * d + j] / (c[i * d + i] * c[j * d + j]).sqrt();
    let moved: f64 = (0..d)
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .map(|(i, j)| (corr(&noisy, i, j) - corr(&cov, i, j)).abs())
        .sum();
    assert!(moved > 0.0 && est.error_bound >= moved / (2.0 * std::f64::consts::PI));
    assert!((est.probability - clean.probability).abs() <= est.error_bound + clean.error_bound);
}

#[test]
fn sym_eigen_reconstructs_symmetric_matrices() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
    for n in 1..=6 {
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let v: f64 = rng.sample(StandardNormal);
                a[i * n + j] = v;
                a[j * n + i] = v;
            }
        }
        let (vals, vecs) = sym_eigen(&a, n);
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n)
                    .map(|e| vecs[i * n + e] * vals[e] * vecs[j * n + e])
                    .sum();
                assert!(
                    (r - a[i * n + j]).abs() < 1e-12,
                    "n {n} ({i},{j}): {r} vs {}",
                    a[i * n + j]
                );
                let o: f64 = (0..n).map(|e| vecs[e * n + i] * vecs[e * n + j]).sum();
                assert!((o - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn bad_input_is_an_error() {
    let opts = GenzOptions::default();
    assert!(matches!(
        orthant_estimate(&[f64::NAN, 1.0], &[1.0, 0.0, 0.0, 1.0], &opts),
        Err(Error::BadEntry { name: "mean", .. })
    ));
    assert!(matches!(
        orthant_estimate(&[1.0, 1.0], &[1.0, 0.0, 0.0], &opts),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        class_error_estimate(&[0.0, 1.0], &[1.0, 0.0, 0.0, 1.0], 2, &[0.0; 2], &opts),
        Err(Error::ClassOutOfRange { .. })
    ));
}

/// Semi-definite Cholesky of a PSD matrix (zero columns where the pivot vanishes).
fn psd_cholesky(c: &[f64], d: usize) -> Vec<f64> {
    let mut l = vec![0.0; d * d];
    for j in 0..d {
        let mut v = c[j * d + j];
        for p in 0..j {
            v -= l[j * d + p] * l[j * d + p];
        }
        if v <= 1e-12 * c[j * d + j] {
            continue;
        }
        let s = v.sqrt();
        l[j * d + j] = s;
        for i in j + 1..d {
            let mut w = c[i * d + j];
            for p in 0..j {
                w -= l[i * d + p] * l[j * d + p];
            }
            l[i * d + j] = w / s;
        }
    }
    l
}

/// Monte Carlo error of class `y`: sample the K - 1 comparisons from N(mean, C) through a
/// Cholesky factor of C (no use of its structure), count the samples with any comparison <= 0.
fn monte_carlo_class_error(pred: &crate::Prediction, y: usize, n: usize, seed: u64) -> f64 {
    let (mean, cov) = comparisons(pred, y);
    let d = mean.len();
    let l = psd_cholesky(&cov, d);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut xi = vec![0.0; d];
    let mut fails = 0usize;
    for _ in 0..n {
        xi.iter_mut().for_each(|x| *x = rng.sample(StandardNormal));
        let fail = (0..d).any(|i| {
            let row = &l[i * d..i * d + i + 1];
            mean[i] + row.iter().zip(&xi).map(|(a, b)| a * b).sum::<f64>() <= 0.0
        });
        fails += fail as usize;
    }
    fails as f64 / n as f64
}

/// K = 100 predictions (step profile: two groups; exp profile: one factor under CE, dense
/// under LA, so only CE there) against Monte Carlo on the same logit law.
fn k100_vs_monte_carlo(samples: usize) {
    let step: Vec<usize> = (0..100).map(|c| if c < 50 { 100 } else { 10 }).collect();
    let exp: Vec<usize> = (0..100)
        .map(|c| (100.0 * 10f64.powf(-(c as f64) / 99.0)).round() as usize)
        .collect();
    let cases = [
        (step.clone(), Method::La { tau: 1.0 }, vec![0, 99]),
        (step, Method::Ce, vec![0, 99]),
        (exp, Method::Ce, vec![0, 50, 99]),
    ];
    for (counts, method, classes) in cases {
        let stats = MixtureStats::orthogonal(counts, 20_000, 8.0, 1.0).unwrap();
        let pred = predict(
            &stats,
            &method,
            Horizon::Finite(1e4),
            &PredictOptions::default(),
        )
        .unwrap();
        for (i, &y) in classes.iter().enumerate() {
            let est = pred.orthant[y];
            assert!(
                !matches!(est.method, OrthantMethod::Genz { .. }),
                "{method:?} class {y}: {:?}",
                est.method
            );
            let mc = monte_carlo_class_error(&pred, y, samples, 1000 + i as u64);
            // The MC estimate is binomial: 4 standard deviations sqrt(p (1 - p) / N) (a
            // false alarm has probability 6e-5 per comparison) plus the stated bound.
            let p = est.complement;
            let tol = 4.0 * (p * (1.0 - p) / samples as f64).sqrt() + est.error_bound;
            assert!(
                (p - mc).abs() <= tol,
                "{method:?} class {y} ({}): theory {p} (bound {:e}) vs MC {mc}, tol {tol:e}",
                est.method,
                est.error_bound
            );
        }
    }
}

#[test]
fn k100_matches_monte_carlo_2e5() {
    k100_vs_monte_carlo(200_000);
}

#[test]
#[ignore = "slow (minutes in release): the 10^7-sample version of the test above"]
fn k100_matches_monte_carlo_1e7() {
    k100_vs_monte_carlo(10_000_000);
}
