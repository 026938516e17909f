//! Unit and statistical tests. Run in release mode (`cargo test --release`).
//!
//! Statistical tests draw many independent replicas with a fixed seed. Each checked
//! quantity is a mean over D independent draws of a per-draw statistic s_d, so its
//! standard error is sd(s_d) / sqrt(D) (estimated from the same draws); we allow 5
//! standard errors (two-sided Gaussian tail 6e-7 per check, so even a few hundred
//! checks pass by chance with probability > 0.999 while a real bias of a few standard
//! errors still fails).

use faer::{Mat, MatRef, Side};
use imbalance_core::CountError;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

use crate::*;

fn rng(seed: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed)
}

fn orth(snr: f64) -> MeansSpec {
    MeansSpec::Orthogonal { snr }
}

// ---------------------------------------------------------------- profiles

#[test]
fn step_profile_values() {
    let p = Profile::Step {
        classes: 10,
        n_max: 100,
        ratio: 10.0,
        minority_classes: 5,
    };
    let mut want = vec![100; 5];
    want.extend([10; 5]);
    assert_eq!(p.counts().unwrap(), want);
    // 100 / 3 = 33.33 rounds to 33; one minority class.
    let p = Profile::Step {
        classes: 3,
        n_max: 100,
        ratio: 3.0,
        minority_classes: 1,
    };
    assert_eq!(p.counts().unwrap(), vec![100, 100, 33]);
}

#[test]
fn exp_profile_values() {
    // By hand: 100 * 100^(-c/2) = 100, 10, 1.
    let p = Profile::Exp {
        classes: 3,
        n_max: 100,
        ratio: 100.0,
    };
    assert_eq!(p.counts().unwrap(), vec![100, 10, 1]);
    // 5000 * 100^(-c/4) = 5000, 1581.14, 500, 158.11, 50.
    let p = Profile::Exp {
        classes: 5,
        n_max: 5000,
        ratio: 100.0,
    };
    assert_eq!(p.counts().unwrap(), vec![5000, 1581, 500, 158, 50]);
    // CIFAR-10-LT (Cao et al. 2019) and CIFAR-100-LT's first and last classes, as their
    // reference code computes them (int(), i.e. truncation): 5000 * 100^(-1/9) = 2997.1.
    let p = Profile::Exp {
        classes: 10,
        n_max: 5000,
        ratio: 100.0,
    };
    assert_eq!(
        p.counts().unwrap(),
        vec![5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    );
    let p = Profile::Exp {
        classes: 100,
        n_max: 500,
        ratio: 100.0,
    };
    let c = p.counts().unwrap();
    assert_eq!(c[..10], [500, 477, 455, 434, 415, 396, 378, 361, 344, 328]);
    assert_eq!(c[90..], [7, 7, 6, 6, 6, 6, 5, 5, 5, 5]);
    assert_eq!(c.iter().sum::<usize>(), 10847);
    // ratio 1 is balanced.
    let p = Profile::Exp {
        classes: 4,
        n_max: 7,
        ratio: 1.0,
    };
    assert_eq!(p.counts().unwrap(), vec![7; 4]);
}

#[test]
fn counts_profile_passes_through() {
    assert_eq!(
        Profile::Counts(vec![5, 1, 3]).counts().unwrap(),
        vec![5, 1, 3]
    );
}

#[test]
fn rejects_fewer_than_two_classes() {
    assert_eq!(
        Profile::Counts(vec![5]).counts(),
        Err(Error::Counts(CountError::TooFewClasses { k: 1 }))
    );
    assert_eq!(
        Profile::Counts(vec![]).counts(),
        Err(Error::Counts(CountError::TooFewClasses { k: 0 }))
    );
    let step = Profile::Step {
        classes: 1,
        n_max: 10,
        ratio: 2.0,
        minority_classes: 1,
    };
    assert_eq!(
        step.counts(),
        Err(Error::Counts(CountError::TooFewClasses { k: 1 }))
    );
    let exp = Profile::Exp {
        classes: 1,
        n_max: 10,
        ratio: 2.0,
    };
    assert_eq!(
        exp.counts(),
        Err(Error::Counts(CountError::TooFewClasses { k: 1 }))
    );
    let e = Mixture::new(vec![3], 5, orth(1.0), 1.0, &mut rng(0)).unwrap_err();
    assert_eq!(e, Error::Counts(CountError::TooFewClasses { k: 1 }));
}

#[test]
fn rejects_zero_count() {
    assert_eq!(
        Profile::Counts(vec![5, 0, 2]).counts(),
        Err(Error::Counts(CountError::EmptyClass { class: 1 }))
    );
    let e = Mixture::new(vec![3, 0], 5, orth(1.0), 1.0, &mut rng(0)).unwrap_err();
    assert_eq!(e, Error::Counts(CountError::EmptyClass { class: 1 }));
    // A profile that rounds a class to zero: 10 / 30 = 0.33 -> 0.
    let step = Profile::Step {
        classes: 3,
        n_max: 10,
        ratio: 30.0,
        minority_classes: 2,
    };
    assert!(matches!(
        step.counts(),
        Err(Error::ProfileCountZero { class: 1, .. })
    ));
    let exp = Profile::Exp {
        classes: 3,
        n_max: 10,
        ratio: 30.0,
    };
    assert!(matches!(
        exp.counts(),
        Err(Error::ProfileCountZero { class: 2, .. })
    ));
    let exp = Profile::Exp {
        classes: 3,
        n_max: 0,
        ratio: 2.0,
    };
    assert_eq!(exp.counts(), Err(Error::ZeroNMax));
}

#[test]
fn rejects_bad_ratio() {
    for ratio in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
        let step = Profile::Step {
            classes: 3,
            n_max: 10,
            ratio,
            minority_classes: 1,
        };
        let exp = Profile::Exp {
            classes: 3,
            n_max: 10,
            ratio,
        };
        for p in [step, exp] {
            match p.counts() {
                Err(Error::InvalidRatio { ratio: r }) => {
                    assert!(r.to_bits() == ratio.to_bits())
                }
                other => panic!("ratio {ratio}: {other:?}"),
            }
        }
    }
}

#[test]
fn rejects_minority_classes_out_of_range() {
    for m in [0, 4, 5] {
        let step = Profile::Step {
            classes: 4,
            n_max: 10,
            ratio: 2.0,
            minority_classes: m,
        };
        assert_eq!(
            step.counts(),
            Err(Error::MinorityClassesOutOfRange {
                minority_classes: m,
                classes: 4
            })
        );
    }
    let msg = Error::MinorityClassesOutOfRange {
        minority_classes: 4,
        classes: 4,
    }
    .to_string();
    assert!(msg.contains("1..=3"), "{msg}");
}

#[test]
fn rejects_zero_dim() {
    let e = Mixture::new(vec![3, 2], 0, orth(1.0), 1.0, &mut rng(0)).unwrap_err();
    assert_eq!(e, Error::ZeroDim);
    let e = Mixture::new(vec![3, 2, 2], 2, orth(1.0), 1.0, &mut rng(0)).unwrap_err();
    assert_eq!(e, Error::DimTooSmallForOrthogonal { dim: 2, classes: 3 });
}

#[test]
fn rejects_bad_sigma() {
    for sigma in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = Mixture::new(vec![3, 2], 5, orth(1.0), sigma, &mut rng(0)).unwrap_err();
        assert!(
            matches!(e, Error::InvalidSigma { sigma: s } if s.to_bits() == sigma.to_bits()),
            "{e:?}"
        );
    }
}

#[test]
fn rejects_bad_snr() {
    for snr in [-0.1, f64::NAN, f64::INFINITY] {
        for spec in [MeansSpec::Orthogonal { snr }, MeansSpec::Random { snr }] {
            let e = Mixture::new(vec![3, 2], 5, spec, 1.0, &mut rng(0)).unwrap_err();
            assert!(
                matches!(e, Error::InvalidSnr { snr: s } if s.to_bits() == snr.to_bits()),
                "{e:?}"
            );
        }
    }
    // snr = 0 is allowed (no signal).
    assert!(
        Mixture::new(
            vec![3, 2],
            5,
            MeansSpec::Random { snr: 0.0 },
            1.0,
            &mut rng(0)
        )
        .is_ok()
    );
}

#[test]
fn rejects_given_means_wrong_shape() {
    let mu = Mat::<f64>::zeros(3, 5);
    let e = Mixture::new(vec![3, 2], 5, MeansSpec::Given(mu), 1.0, &mut rng(0)).unwrap_err();
    assert_eq!(
        e,
        Error::MeansShape {
            rows: 3,
            cols: 5,
            classes: 2,
            dim: 5
        }
    );
    let mu = Mat::<f64>::zeros(2, 4);
    let e = Mixture::new(vec![3, 2], 5, MeansSpec::Given(mu), 1.0, &mut rng(0)).unwrap_err();
    assert!(matches!(e, Error::MeansShape { cols: 4, .. }));
}

#[test]
fn rejects_given_means_non_finite() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut mu = Mat::<f64>::zeros(2, 5);
        mu[(1, 3)] = bad;
        let e = Mixture::new(vec![3, 2], 5, MeansSpec::Given(mu), 1.0, &mut rng(0)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NonFiniteMean {
                    class: 1,
                    coord: 3,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn with_counts_keeps_means_and_validates() {
    let mix = Mixture::new(
        vec![5, 2, 1],
        9,
        MeansSpec::Random { snr: 2.0 },
        0.5,
        &mut rng(3),
    )
    .unwrap();
    let test = mix.with_counts(vec![4, 4, 4]).unwrap();
    assert_eq!(test.n(), 12);
    assert_eq!(test.mean_coords(), mix.mean_coords());
    assert_eq!(test.sigma(), 0.5);
    assert_eq!(
        mix.with_counts(vec![4, 4]).unwrap_err(),
        Error::ClassCountMismatch {
            given: 2,
            expected: 3
        }
    );
    assert_eq!(
        mix.with_counts(vec![4, 0, 1]).unwrap_err(),
        Error::Counts(CountError::EmptyClass { class: 1 })
    );
}

// ---------------------------------------------------------------- means

fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut m = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            m = m.max((a[(i, j)] - b[(i, j)]).abs());
        }
    }
    m
}

fn naive_gram(x: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(x.nrows(), x.nrows(), |i, j| {
        (0..x.ncols()).map(|k| x[(i, k)] * x[(j, k)]).sum()
    })
}

#[test]
fn mean_coords_reproduce_mean_gram() {
    let mut r = rng(11);
    // Given, p > K (QR path) and p < K (coordinates are the means themselves).
    for (k, p) in [(3usize, 7usize), (4, 2), (3, 3)] {
        let mu = Mat::from_fn(k, p, |_, _| r.sample::<f64, _>(StandardNormal));
        let mix = Mixture::new(vec![2; k], p, MeansSpec::Given(mu.clone()), 1.0, &mut r).unwrap();
        let c = mix.mean_coords();
        assert_eq!((c.nrows(), c.ncols()), (k, k.min(p)));
        assert!(max_abs_diff(mix.mean_gram(), naive_gram(mu.as_ref()).as_ref()) < 1e-12);
        assert!(max_abs_diff(naive_gram(c).as_ref(), mix.mean_gram()) < 1e-12);
        assert_eq!(mix.means(), mu);
    }
    // Random: every mean has norm snr; orthogonal: M = snr^2 I.
    for (k, p) in [(4usize, 50usize), (5, 3)] {
        let mix = Mixture::new(vec![2; k], p, MeansSpec::Random { snr: 1.5 }, 1.0, &mut r).unwrap();
        assert_eq!(mix.mean_coords().ncols(), k.min(p));
        for c in 0..k {
            assert!((mix.mean_gram()[(c, c)] - 2.25).abs() < 1e-12);
        }
    }
    let mix = Mixture::new(vec![2; 3], 5, orth(2.0), 1.0, &mut r).unwrap();
    let want = Mat::from_fn(3, 3, |i, j| if i == j { 4.0 } else { 0.0 });
    assert_eq!(mix.mean_gram(), want.as_ref());
    assert_eq!(mix.means()[(1, 1)], 2.0);
    assert_eq!(mix.means()[(1, 4)], 0.0);
}

#[test]
fn random_means_have_uniform_directions() {
    // For independent uniform unit vectors in R^p, the cosine u_0 . u_1 has mean 0 and
    // variance 1/p. With p = 20 and D = 4000 draws, the std of the mean cosine is
    // sqrt(1/(20*4000)) = 0.0035 and the std of the mean squared cosine is about
    // sqrt(2/(p(p+2)) / D) ~ 0.0011 (Var(cos^2) = 2(p-1)/(p^2(p+2)) ~ 2/(p(p+2))); 5 sd.
    let (p, draws) = (20usize, 4000usize);
    let mut r = rng(5);
    let (mut s1, mut s2) = (0.0, 0.0);
    for _ in 0..draws {
        let mix = Mixture::new(
            vec![1, 1, 1],
            p,
            MeansSpec::Random { snr: 1.0 },
            1.0,
            &mut r,
        )
        .unwrap();
        let cos = mix.mean_gram()[(0, 2)];
        s1 += cos;
        s2 += cos * cos;
    }
    let (m1, m2) = (s1 / draws as f64, s2 / draws as f64);
    assert!(m1.abs() < 5.0 * (1.0 / (p * draws) as f64).sqrt(), "{m1}");
    let sd2 = (2.0 / (p * (p + 2)) as f64 / draws as f64).sqrt();
    assert!((m2 - 1.0 / p as f64).abs() < 5.0 * sd2, "{m2}");
}

// ---------------------------------------------------------------- gram

#[test]
fn gram_matches_naive() {
    let mut r = rng(1);
    // 300 x 130 goes through faer's parallel path, 70 x 130 through the small one.
    for (n, p) in [(70usize, 130usize), (300, 130), (5, 1)] {
        let x = Mat::from_fn(n, p, |_, _| r.sample::<f64, _>(StandardNormal));
        let g = gram(x.as_ref());
        let want = naive_gram(x.as_ref());
        let scale = (0..n).map(|i| want[(i, i)]).fold(0.0f64, f64::max);
        assert!(max_abs_diff(g.as_ref(), want.as_ref()) <= 1e-12 * scale);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(g[(i, j)].to_bits(), g[(j, i)].to_bits());
            }
        }
    }
}

// ---------------------------------------------------------------- determinism

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn same_bits(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> bool {
    a.nrows() == b.nrows()
        && a.ncols() == b.ncols()
        && (0..a.ncols())
            .all(|j| (0..a.nrows()).all(|i| a[(i, j)].to_bits() == b[(i, j)].to_bits()))
}

#[test]
fn sample_x_is_thread_count_independent() {
    let mix = Mixture::new(
        vec![150, 50],
        300,
        MeansSpec::Random { snr: 2.0 },
        1.0,
        &mut rng(2),
    )
    .unwrap();
    let run = |t| in_pool(t, || sample_x(&mix, &mut rng(9)));
    let (x1, l1) = run(1);
    let (x2, l2) = run(2);
    assert_eq!(l1, l2);
    assert!(same_bits(x1.as_ref(), x2.as_ref()));
    // Different seeds differ (the comparison above can fail).
    let (x3, _) = in_pool(2, || sample_x(&mix, &mut rng(10)));
    assert!(!same_bits(x1.as_ref(), x3.as_ref()));
    let g1 = in_pool(1, || gram(x1.as_ref()));
    let g2 = in_pool(2, || gram(x1.as_ref()));
    assert!(same_bits(g1.as_ref(), g2.as_ref()));
    // Few rows, many columns: the shape where a GEMM might split the inner dimension
    // across threads (which would change rounding).
    let mut r = rng(12);
    let wide = Mat::from_fn(40, 50_000, |_, _| r.sample::<f64, _>(StandardNormal));
    let g1 = in_pool(1, || gram(wide.as_ref()));
    let g2 = in_pool(2, || gram(wide.as_ref()));
    assert!(same_bits(g1.as_ref(), g2.as_ref()));
}

#[test]
fn sample_direct_is_thread_count_independent() {
    // p = 1000: Bartlett path (p - r >= n); p = 100: explicit Z' path.
    for p in [1000usize, 100] {
        let mix = Mixture::new(
            vec![150, 50],
            p,
            MeansSpec::Random { snr: 2.0 },
            1.0,
            &mut rng(2),
        )
        .unwrap();
        let t1 = in_pool(1, || TrainingSet::sample_direct(&mix, &mut rng(4)));
        let t2 = in_pool(2, || TrainingSet::sample_direct(&mix, &mut rng(4)));
        assert!(same_bits(t1.gram.as_ref(), t2.gram.as_ref()), "p = {p}");
        assert!(same_bits(t1.mean_proj.as_ref(), t2.mean_proj.as_ref()));
        assert_eq!(t1.labels, t2.labels);
    }
}

#[test]
fn thin_training_sets_keep_their_factor() {
    // A factor F with F F^T = gram and the same projections on the means, kept exactly when
    // 2p <= n, by both samplers; none when p > n / 2. mean_proj = F C^T in the direct
    // sampler's rotated frame (F's first r columns are U).
    let max_abs = |m: MatRef<'_, f64>| {
        (0..m.nrows())
            .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
            .map(|(i, j)| m[(i, j)].abs())
            .fold(0.0, f64::max)
    };
    for (p, means) in [
        (30usize, MeansSpec::Random { snr: 2.0 }),
        (3, MeansSpec::Orthogonal { snr: 2.0 }),
        (100, MeansSpec::Orthogonal { snr: 2.0 }),
        (101, MeansSpec::Orthogonal { snr: 2.0 }),
    ] {
        let mix = Mixture::new(vec![120, 50, 30], p, means, 1.3, &mut rng(5)).unwrap();
        assert_eq!(keeps_factor(200, p), p <= 100);
        let (x, labels) = sample_x(&mix, &mut rng(6));
        for set in [
            TrainingSet::sample_direct(&mix, &mut rng(7)),
            TrainingSet::from_x(&mix, x.as_ref(), labels),
        ] {
            let Some(f) = set.factor.as_ref() else {
                assert!(p > 100, "p = {p}: no factor");
                continue;
            };
            assert!(p <= 100, "p = {p}: a factor");
            assert_eq!((f.nrows(), f.ncols()), (200, p));
            let diff = f * f.transpose() - &set.gram;
            let rel = max_abs(diff.as_ref()) / max_abs(set.gram.as_ref());
            assert!(rel < 1e-13, "p = {p}: F F^T off by {rel:e}");
        }
    }
}

// ---------------------------------------------------------------- samplers agree

/// Per-draw statistics, accumulated over draws.
#[derive(Default, Clone)]
struct Acc {
    vals: Vec<f64>,
}

impl Acc {
    fn mean(&self) -> f64 {
        self.vals.iter().sum::<f64>() / self.vals.len() as f64
    }
    /// Standard error of the mean over independent draws.
    fn se(&self) -> f64 {
        let m = self.mean();
        let d = self.vals.len() as f64;
        let var = self.vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (d - 1.0);
        (var / d).sqrt()
    }
}

/// One kind of entry and its exact mean and variance.
struct Kind {
    name: String,
    entries: Vec<(usize, usize)>,
    from_proj: bool,
    mean: f64,
    var: f64,
}

fn kinds(mix: &Mixture) -> Vec<Kind> {
    let (k, p, s2) = (mix.k(), mix.dim() as f64, mix.sigma().powi(2));
    let m = mix.mean_gram();
    let labels = mix.labels();
    let labels = &labels;
    let of = |a: usize| (0..labels.len()).filter(move |&i| labels[i] == a);
    let mut out = Vec::new();
    for a in 0..k {
        // K_ii = |mu|^2 + 2 sigma mu.z + sigma^2 |z|^2; the terms are uncorrelated (odd
        // Gaussian moments vanish): Var = 4 sigma^2 |mu|^2 + 2 sigma^4 p.
        out.push(Kind {
            name: format!("diag class {a}"),
            entries: of(a).map(|i| (i, i)).collect(),
            from_proj: false,
            mean: m[(a, a)] + s2 * p,
            var: 4.0 * s2 * m[(a, a)] + 2.0 * s2 * s2 * p,
        });
        for b in a..k {
            // K_ij = mu_a.mu_b + sigma mu_a.z_j + sigma mu_b.z_i + sigma^2 z_i.z_j, i != j:
            // Var = sigma^2 (|mu_a|^2 + |mu_b|^2) + sigma^4 p.
            let entries: Vec<_> = of(a)
                .flat_map(|i| of(b).map(move |j| (i, j)))
                .filter(|(i, j)| i < j)
                .collect();
            if !entries.is_empty() {
                out.push(Kind {
                    name: format!("off-diag classes {a},{b}"),
                    entries,
                    from_proj: false,
                    mean: m[(a, b)],
                    var: s2 * (m[(a, a)] + m[(b, b)]) + s2 * s2 * p,
                });
            }
        }
        for c in 0..k {
            // x_i . mu_c = mu_a.mu_c + sigma z_i.mu_c: Var = sigma^2 |mu_c|^2.
            out.push(Kind {
                name: format!("mean_proj class {a} on mean {c}"),
                entries: of(a).map(|i| (i, c)).collect(),
                from_proj: true,
                mean: m[(a, c)],
                var: s2 * m[(c, c)],
            });
        }
    }
    out
}

/// Statistics of one sampler: per kind (mean, mean square deviation), the coupling
/// of K_ii with x_i . mu_{y_i}, and extreme eigenvalues of the Gram matrix.
struct Stats {
    m1: Vec<Acc>,
    m2: Vec<Acc>,
    coupling: Vec<Acc>,
    eig_max: Acc,
    eig_min: Acc,
}

fn collect(mix: &Mixture, draws: usize, seed: u64, direct: bool) -> Stats {
    let ks = kinds(mix);
    let mut st = Stats {
        m1: vec![Acc::default(); ks.len()],
        m2: vec![Acc::default(); ks.len()],
        coupling: vec![Acc::default(); mix.k()],
        eig_max: Acc::default(),
        eig_min: Acc::default(),
    };
    let (p, s2) = (mix.dim() as f64, mix.sigma().powi(2));
    let m = mix.mean_gram();
    let mut r = rng(seed);
    for _ in 0..draws {
        let ts = if direct {
            TrainingSet::sample_direct(mix, &mut r)
        } else {
            let (x, labels) = sample_x(mix, &mut r);
            TrainingSet::from_x(mix, x.as_ref(), labels)
        };
        for (t, kd) in ks.iter().enumerate() {
            let src = if kd.from_proj {
                &ts.mean_proj
            } else {
                &ts.gram
            };
            let vals: Vec<f64> = kd.entries.iter().map(|&(i, j)| src[(i, j)]).collect();
            let len = vals.len() as f64;
            st.m1[t].vals.push(vals.iter().sum::<f64>() / len);
            st.m2[t]
                .vals
                .push(vals.iter().map(|v| (v - kd.mean).powi(2)).sum::<f64>() / len);
        }
        // Cov(K_ii, x_i.mu_y) = Cov(2 sigma mu_y.z + sigma^2|z|^2, sigma z.mu_y) = 2 sigma^2 |mu_y|^2:
        // the direct sampler must keep the noise along the means shared by both.
        for a in 0..mix.k() {
            let idx: Vec<usize> = (0..ts.labels.len())
                .filter(|&i| ts.labels[i] == a)
                .collect();
            let v = idx
                .iter()
                .map(|&i| {
                    (ts.gram[(i, i)] - m[(a, a)] - s2 * p) * (ts.mean_proj[(i, a)] - m[(a, a)])
                })
                .sum::<f64>()
                / idx.len() as f64;
            st.coupling[a].vals.push(v);
        }
        let ev = ts
            .gram
            .as_ref()
            .self_adjoint_eigenvalues(Side::Lower)
            .unwrap();
        st.eig_min.vals.push(ev[0]);
        st.eig_max.vals.push(*ev.last().unwrap());
    }
    st
}

fn close(what: &str, got: &Acc, want: f64) {
    let (m, se) = (got.mean(), got.se());
    assert!(
        (m - want).abs() <= 5.0 * se,
        "{what}: {m} vs exact {want} (se {se})"
    );
}

fn agree(what: &str, a: &Acc, b: &Acc) {
    let tol = 5.0 * (a.se().powi(2) + b.se().powi(2)).sqrt();
    assert!(
        (a.mean() - b.mean()).abs() <= tol,
        "{what}: explicit {} vs direct {} (tol {tol})",
        a.mean(),
        b.mean()
    );
}

fn compare_samplers(mix: &Mixture, draws: usize) {
    let ks = kinds(mix);
    let ex = collect(mix, draws, 100, false);
    let di = collect(mix, draws, 200, true);
    for (t, kd) in ks.iter().enumerate() {
        for (name, st) in [("explicit", &ex), ("direct", &di)] {
            close(&format!("{name} {} mean", kd.name), &st.m1[t], kd.mean);
            close(&format!("{name} {} variance", kd.name), &st.m2[t], kd.var);
        }
        agree(&format!("{} mean", kd.name), &ex.m1[t], &di.m1[t]);
        agree(&format!("{} variance", kd.name), &ex.m2[t], &di.m2[t]);
    }
    let s2 = mix.sigma().powi(2);
    for a in 0..mix.k() {
        let want = 2.0 * s2 * mix.mean_gram()[(a, a)];
        close(
            &format!("explicit coupling class {a}"),
            &ex.coupling[a],
            want,
        );
        close(&format!("direct coupling class {a}"), &di.coupling[a], want);
    }
    agree("largest eigenvalue", &ex.eig_max, &di.eig_max);
    agree("smallest eigenvalue", &ex.eig_min, &di.eig_min);
}

#[test]
fn samplers_agree_random_means_p40() {
    // n = 12 in 3 classes; p - r = 37 >= n: Bartlett path. 3000 draws per sampler.
    let mix = Mixture::new(
        vec![6, 4, 2],
        40,
        MeansSpec::Random { snr: 2.5 },
        0.8,
        &mut rng(21),
    )
    .unwrap();
    compare_samplers(&mix, 3000);
}

#[test]
fn samplers_agree_orthogonal_means_p400() {
    let mix = Mixture::new(vec![7, 5], 400, orth(4.0), 1.0, &mut rng(22)).unwrap();
    compare_samplers(&mix, 3000);
}

#[test]
fn samplers_agree_given_means_p40() {
    // Non-orthogonal, unequal norms; the direct sampler works in the QR frame.
    let mut r = rng(23);
    let mu = Mat::from_fn(3, 40, |_, _| 0.5 * r.sample::<f64, _>(StandardNormal));
    let mix = Mixture::new(vec![5, 4, 3], 40, MeansSpec::Given(mu), 1.3, &mut r).unwrap();
    compare_samplers(&mix, 3000);
}

#[test]
fn samplers_agree_small_p_fallback() {
    // p - r = 10 - 3 = 7 < n = 12: the explicit Z' fallback of the direct sampler.
    let mix = Mixture::new(
        vec![6, 4, 2],
        10,
        MeansSpec::Random { snr: 2.0 },
        1.0,
        &mut rng(24),
    )
    .unwrap();
    compare_samplers(&mix, 3000);
}

// ---------------------------------------------------------------- logit law

#[test]
fn logit_law_matches_explicit_test_points() {
    let mut r = rng(31);
    let mix = Mixture::new(
        vec![20, 8, 4],
        150,
        MeansSpec::Random { snr: 3.0 },
        1.0,
        &mut r,
    )
    .unwrap();
    let (k, n, p) = (mix.k(), mix.n(), mix.dim());
    let (x, labels) = sample_x(&mix, &mut r);
    // A: class-mean classifier plus a random perturbation (so the law is not special).
    let a = Mat::from_fn(n, k, |i, c| {
        let own = if labels[i] == c {
            1.0 / mix.counts()[c] as f64
        } else {
            0.0
        };
        own + 0.03 * r.sample::<f64, _>(StandardNormal)
    });
    let ts = TrainingSet::from_x(&mix, x.as_ref(), labels);
    let law = ts.logit_law(&mix, a.as_ref());
    // W = A^T X, K x p.
    let w = Mat::from_fn(k, p, |c, j| {
        (0..n).map(|i| a[(i, c)] * x[(i, j)]).sum::<f64>()
    });
    let offsets = [0.0, 0.4, 0.8];
    let t = 20_000usize;
    let law_err = law.sample_errors(t, &offsets, &mut r);
    for y in 0..k {
        let xt = sample_class(&mix, y, t, &mut r);
        let f = Mat::from_fn(t, k, |s, c| {
            (0..p).map(|j| w[(c, j)] * xt[(s, j)]).sum::<f64>()
        });
        // Mean: std of the empirical mean of f_c is sqrt(cov_cc / t); 5 sd.
        let mean: Vec<f64> = (0..k)
            .map(|c| (0..t).map(|s| f[(s, c)]).sum::<f64>() / t as f64)
            .collect();
        for c in 0..k {
            let sd = (law.cov[(c, c)] / t as f64).sqrt();
            assert!(
                (mean[c] - law.means[(y, c)]).abs() < 5.0 * sd,
                "mean y={y} c={c}"
            );
        }
        // Covariance: for Gaussian data the sample covariance of (c, d) has variance
        // (S_cc S_dd + S_cd^2) / t; 5 sd.
        for c in 0..k {
            for d in 0..k {
                let emp = (0..t)
                    .map(|s| (f[(s, c)] - mean[c]) * (f[(s, d)] - mean[d]))
                    .sum::<f64>()
                    / (t - 1) as f64;
                let s = &law.cov;
                let sd = ((s[(c, c)] * s[(d, d)] + s[(c, d)].powi(2)) / t as f64).sqrt();
                assert!(
                    (emp - s[(c, d)]).abs() < 5.0 * sd,
                    "cov y={y} ({c},{d}): {emp} vs {}",
                    s[(c, d)]
                );
            }
        }
        // Errors: a direct count on the explicit points vs the law's Monte Carlo; both are
        // binomial proportions over t draws, so the difference has sd sqrt(2 e (1-e) / t).
        let wrong = (0..t)
            .filter(|&s| (0..k).any(|c| c != y && f[(s, c)] + offsets[c] >= f[(s, y)] + offsets[y]))
            .count();
        let emp = wrong as f64 / t as f64;
        let e = 0.5 * (emp + law_err[y]);
        let sd = (2.0 * e * (1.0 - e) / t as f64).sqrt();
        assert!(
            (emp - law_err[y]).abs() < 5.0 * sd + 1e-9,
            "error y={y}: {emp} vs {}",
            law_err[y]
        );
        // Keep the comparison meaningful: errors neither 0 nor 1.
        assert!(
            emp > 0.01 && emp < 0.99,
            "error y={y} = {emp} is degenerate"
        );
    }
}

#[test]
fn sample_errors_singular_cov_and_ties() {
    // f = means[y] + (xi, xi): rank-1 cov, f_0 - f_1 is deterministic.
    let law = LogitLaw {
        means: Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 }),
        cov: Mat::from_fn(2, 2, |_, _| 1.0),
    };
    let mut r = rng(41);
    assert_eq!(law.sample_errors(1000, &[0.0, 0.0], &mut r), vec![0.0, 0.0]);
    // Offset 1 on class 1 makes class 0 an exact tie every time: ties are errors.
    assert_eq!(law.sample_errors(1000, &[0.0, 1.0], &mut r), vec![1.0, 0.0]);
    // Zero covariance and equal means: every draw is a tie.
    let flat = LogitLaw {
        means: Mat::zeros(3, 3),
        cov: Mat::zeros(3, 3),
    };
    assert_eq!(flat.sample_errors(10, &[0.0; 3], &mut r), vec![1.0; 3]);
    // A non-finite law counts every draw as an error.
    let mut nan = law.clone();
    nan.cov[(0, 1)] = f64::NAN;
    assert_eq!(nan.sample_errors(10, &[0.0; 2], &mut r), vec![1.0; 2]);
    assert!(law.sample_errors(0, &[0.0; 2], &mut r)[0].is_nan());
}

#[test]
fn sample_errors_binary_matches_phi() {
    // K = 2 with cov = I: f_0 - f_1 ~ N(m, 2) for class 0 with m = means[0][0] - means[0][1],
    // so error_0 = Phi(-m / sqrt 2). m = 1: Phi(-0.7071) = 0.23975 (standard normal table).
    // 40000 draws: sd sqrt(0.24 * 0.76 / 40000) = 0.0021; 5 sd.
    let law = LogitLaw {
        means: Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 }),
        cov: Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.0 }),
    };
    let e = law.sample_errors(40_000, &[0.0, 0.0], &mut rng(42));
    for v in e {
        assert!((v - 0.23975).abs() < 5.0 * 0.0021, "{v}");
    }
}

/// A Gram matrix that cannot be allocated (here 2^40 samples with no coordinates: 8 * 2^80
/// bytes, no real memory) is an error, not an abort.
#[test]
fn unallocatable_gram_is_an_error() {
    let x = MatRef::<f64>::from_column_major_slice(&[], 1 << 40, 0);
    match try_gram(x) {
        Err(Error::Alloc(e)) => {
            assert_eq!((e.what, e.rows, e.cols), ("Gram matrix", 1 << 40, 1 << 40));
            assert!(
                e.to_string().contains("cannot allocate the Gram matrix"),
                "{e}"
            );
        }
        other => panic!("{:?}", other.map(|g| g.nrows())),
    }
    // A small one still works.
    let x = Mat::<f64>::from_fn(3, 2, |i, j| (i + j) as f64);
    assert_eq!(try_gram(x.as_ref()).unwrap(), gram(x.as_ref()));
}

/// The blocked sampler of many classes (K >= 17): the same draws for any thread count, and
/// the known error of independent classes. With i.i.d. unit logit noise and means `d e_y`,
/// class y's error is `1 - E[Phi(g + d)^(K-1)]` (one 1-D integral, here by a fine
/// midpoint rule); with M = 20 000 draws per class each estimate is within 4 binomial
/// standard errors (Bonferroni over 20 classes: 0.13% false alarms).
#[test]
fn blocked_sampled_errors_are_thread_independent_and_right() {
    let k = 20;
    let d = 2.5;
    let law = LogitLaw {
        means: Mat::from_fn(k, k, |y, c| if y == c { d } else { 0.0 }),
        cov: Mat::from_fn(k, k, |i, j| if i == j { 1.0 } else { 0.0 }),
    };
    let offsets = vec![0.0; k];
    let m = 20_000;
    let draw = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| law.sample_errors(m, &offsets, &mut rng(3)))
    };
    let one = draw(1);
    assert_eq!(one, draw(3));
    // P(correct) = E_g[Phi(g + d)^(K-1)], g standard normal, by the midpoint rule on [-9, 9].
    // Phi by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7, far below the 4e-3 here).
    let phi = |x: f64| {
        let z = x.abs() / std::f64::consts::SQRT_2;
        let t = 1.0 / (1.0 + 0.327_591_1 * z);
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let erf = 1.0 - poly * (-z * z).exp();
        if x >= 0.0 {
            0.5 * (1.0 + erf)
        } else {
            0.5 * (1.0 - erf)
        }
    };
    let steps = 20_000;
    let h = 18.0 / steps as f64;
    let correct: f64 = (0..steps)
        .map(|i| {
            let g = -9.0 + (i as f64 + 0.5) * h;
            (-0.5 * g * g).exp() / (2.0 * std::f64::consts::PI).sqrt()
                * phi(g + d).powi(k as i32 - 1)
                * h
        })
        .sum();
    let exact = 1.0 - correct;
    let se = (exact * (1.0 - exact) / m as f64).sqrt();
    for (y, e) in one.iter().enumerate() {
        assert!((e - exact).abs() <= 4.0 * se, "class {y}: {e} vs {exact}");
    }
}
