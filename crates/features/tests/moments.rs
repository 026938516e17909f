//! Per-class moments from a Gram matrix vs the same quantities computed from explicit
//! feature vectors (plug-in: sample means and covariances; unbiased: brute-force
//! U-statistics over distinct tuples), plus a statistical check of unbiasedness.

use faer::Mat;
use imbalance_features::{Error, FeatureMoments, MomentEstimator};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64;

type V = Vec<f64>;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn sub(a: &[f64], b: &[f64]) -> V {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Non-Gaussian, anisotropic, class-dependent vectors (so no estimator is exact by luck).
fn sample(counts: &[usize], p: usize, seed: u64) -> (Vec<V>, Vec<usize>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut xs = Vec::new();
    let mut labels = Vec::new();
    // interleave classes so the Gram is not block-ordered
    let total: usize = counts.iter().sum();
    let mut left = counts.to_vec();
    let mut c = 0;
    while xs.len() < total {
        if left[c] > 0 {
            left[c] -= 1;
            let v: V = (0..p)
                .map(|j| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    let scale = 1.0 + (j as f64) / (1.0 + c as f64);
                    (1.0 + c as f64) * ((j + c) % 3) as f64 * 0.5 + scale * (z + 0.3 * z * z)
                })
                .collect();
            xs.push(v);
            labels.push(c);
        }
        c = (c + 1) % counts.len();
    }
    (xs, labels)
}

fn gram(xs: &[V]) -> Mat<f64> {
    Mat::from_fn(xs.len(), xs.len(), |i, j| dot(&xs[i], &xs[j]))
}

fn close(a: f64, b: f64, what: &str) {
    let tol = 1e-9 * (1.0 + a.abs().max(b.abs()));
    assert!((a - b).abs() < tol, "{what}: {a} vs {b}");
}

fn members(labels: &[usize], c: usize) -> Vec<usize> {
    (0..labels.len()).filter(|&i| labels[i] == c).collect()
}

#[test]
fn plug_in_matches_explicit_features() {
    let counts = [7, 5, 9];
    let p = 6;
    let (xs, labels) = sample(&counts, p, 1);
    let m =
        FeatureMoments::from_gram(gram(&xs).as_ref(), &labels, 3, MomentEstimator::PlugIn).unwrap();
    assert_eq!(m.counts, counts);
    // explicit sample means and covariances (divisor n_c)
    let mean = |c: usize| -> V {
        let idx = members(&labels, c);
        (0..p)
            .map(|j| idx.iter().map(|&i| xs[i][j]).sum::<f64>() / idx.len() as f64)
            .collect()
    };
    let cov = |c: usize| -> Vec<V> {
        let idx = members(&labels, c);
        let mu = mean(c);
        (0..p)
            .map(|a| {
                (0..p)
                    .map(|b| {
                        idx.iter()
                            .map(|&i| (xs[i][a] - mu[a]) * (xs[i][b] - mu[b]))
                            .sum::<f64>()
                            / idx.len() as f64
                    })
                    .collect()
            })
            .collect()
    };
    let mv = |s: &[V], v: &[f64]| -> V { s.iter().map(|row| dot(row, v)).collect() };
    for c in 0..3 {
        let sc = cov(c);
        close(m.trace[c], (0..p).map(|a| sc[a][a]).sum(), "trace");
        for y in 0..3 {
            close(m.means_gram[(c, y)], dot(&mean(c), &mean(y)), "means_gram");
            let sy = cov(y);
            let tp: f64 = (0..p)
                .map(|a| (0..p).map(|b| sc[a][b] * sy[b][a]).sum::<f64>())
                .sum();
            close(m.trace_prod[(c, y)], tp, "trace_prod");
            for c2 in 0..3 {
                let mc = dot(&mean(c), &mv(&sy, &mean(c2)));
                close(m.mean_cov[y][(c, c2)], mc, "mean_cov");
            }
        }
        let r = m.trace[c] * m.trace[c] / m.trace_prod[(c, c)];
        close(m.effective_rank[c], r, "effective_rank");
    }
}

/// Brute-force U-statistics over distinct samples, straight from the definitions.
#[test]
fn unbiased_matches_brute_force_u_statistics() {
    let counts = [5, 4, 6];
    let p = 5;
    let (xs, labels) = sample(&counts, p, 2);
    let m = FeatureMoments::from_gram(gram(&xs).as_ref(), &labels, 3, MomentEstimator::Unbiased)
        .unwrap();
    let idx: Vec<Vec<usize>> = (0..3).map(|c| members(&labels, c)).collect();
    for c in 0..3 {
        // tr Sigma_c = E |a_i - a_j|^2 / 2 over i != j
        let (mut s, mut n) = (0.0, 0.0);
        for &i in &idx[c] {
            for &j in &idx[c] {
                if i != j {
                    let d = sub(&xs[i], &xs[j]);
                    s += dot(&d, &d) / 2.0;
                    n += 1.0;
                }
            }
        }
        close(m.trace[c], s / n, "trace");
        for y in 0..3 {
            // mu_c . mu_y = E a_i . b_j over distinct samples
            let (mut s, mut n) = (0.0, 0.0);
            for &i in &idx[c] {
                for &j in &idx[y] {
                    if i != j {
                        s += dot(&xs[i], &xs[j]);
                        n += 1.0;
                    }
                }
            }
            close(m.means_gram[(c, y)], s / n, "means_gram");
            // tr(Sigma_c Sigma_y) = E ((a_i - a_j).(b_k - b_l))^2 / 4 over distinct samples
            let (mut s, mut n) = (0.0, 0.0);
            for &i in &idx[c] {
                for &j in &idx[c] {
                    for &k in &idx[y] {
                        for &l in &idx[y] {
                            let ids = [i, j, k, l];
                            if (0..4).any(|a| (a + 1..4).any(|b| ids[a] == ids[b])) {
                                continue;
                            }
                            let v = dot(&sub(&xs[i], &xs[j]), &sub(&xs[k], &xs[l]));
                            s += v * v / 4.0;
                            n += 1.0;
                        }
                    }
                }
            }
            close(m.trace_prod[(c, y)], s / n, "trace_prod");
            // mu_c^T Sigma_y mu_c2 = E (1/2)(a_i.(b_k - b_l))(a_j.(b_k - b_l)), i in c,
            // j in c2, k, l in y, all distinct
            for c2 in 0..3 {
                let (mut s, mut n) = (0.0, 0.0);
                for &i in &idx[c] {
                    for &j in &idx[c2] {
                        for &k in &idx[y] {
                            for &l in &idx[y] {
                                let ids = [i, j, k, l];
                                if (0..4).any(|a| (a + 1..4).any(|b| ids[a] == ids[b])) {
                                    continue;
                                }
                                let d = sub(&xs[k], &xs[l]);
                                s += 0.5 * dot(&xs[i], &d) * dot(&xs[j], &d);
                                n += 1.0;
                            }
                        }
                    }
                }
                close(m.mean_cov[y][(c, c2)], s / n, "mean_cov");
            }
        }
    }
}

#[test]
fn unbiased_in_expectation_plug_in_not() {
    // Gaussian classes with known moments: mu = (2, 0, ..), Sigma = diag(s_j).
    // tr Sigma^2 = sum s_j^2, mu^T Sigma mu = 4 s_0. With n = 6 per class the plug-in
    // tr(S^2) is biased up by about (tr Sigma)^2 / n. Over R = 3000 replicates the
    // standard error of the mean of the unbiased estimate is measured from the replicates
    // themselves; allow 5 standard errors.
    let p = 12;
    let s: V = (0..p).map(|j| 1.0 / (1.0 + j as f64)).collect();
    let tr2: f64 = s.iter().map(|v| v * v).sum();
    let msm = 4.0 * s[0];
    let mut rng = Pcg64::seed_from_u64(3);
    let reps = 3000;
    let (mut u_tr2, mut u_msm, mut plug_tr2) = (Vec::new(), Vec::new(), Vec::new());
    let labels = vec![0usize; 6];
    for _ in 0..reps {
        let xs: Vec<V> = (0..6)
            .map(|_| {
                (0..p)
                    .map(|j| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        (if j == 0 { 2.0 } else { 0.0 }) + s[j].sqrt() * z
                    })
                    .collect()
            })
            .collect();
        let g = gram(&xs);
        let u =
            FeatureMoments::from_gram(g.as_ref(), &labels, 1, MomentEstimator::Unbiased).unwrap();
        let pl =
            FeatureMoments::from_gram(g.as_ref(), &labels, 1, MomentEstimator::PlugIn).unwrap();
        u_tr2.push(u.trace_prod[(0, 0)]);
        u_msm.push(u.mean_cov[0][(0, 0)]);
        plug_tr2.push(pl.trace_prod[(0, 0)]);
    }
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, (var / n).sqrt())
    };
    let (m, se) = stats(&u_tr2);
    assert!(
        (m - tr2).abs() < 5.0 * se,
        "tr Sigma^2: {m} +- {se} vs {tr2}"
    );
    let (m, se) = stats(&u_msm);
    assert!(
        (m - msm).abs() < 5.0 * se,
        "mu Sigma mu: {m} +- {se} vs {msm}"
    );
    let (m, se) = stats(&plug_tr2);
    assert!(
        m - tr2 > 10.0 * se,
        "plug-in should be visibly biased: {m} vs {tr2}"
    );
}

#[test]
fn rejected_inputs() {
    let (xs, labels) = sample(&[4, 4], 3, 4);
    let g = gram(&xs);
    let e = FeatureMoments::from_gram(g.as_ref(), &labels[..7], 2, MomentEstimator::PlugIn)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::GramShape {
                rows: 8,
                labels: 7,
                ..
            }
        ),
        "{e}"
    );
    let e = FeatureMoments::from_gram(g.as_ref(), &labels, 1, MomentEstimator::PlugIn).unwrap_err();
    assert!(
        matches!(e, Error::LabelOutOfRange { label: 1, k: 1, .. }),
        "{e}"
    );
    let e =
        FeatureMoments::from_gram(g.as_ref(), &labels, 3, MomentEstimator::Unbiased).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ClassTooSmall {
                class: 2,
                count: 0,
                need: 4,
                ..
            }
        ),
        "{e}"
    );
    let e = FeatureMoments::from_gram(g.as_ref(), &labels, 0, MomentEstimator::PlugIn).unwrap_err();
    assert!(matches!(e, Error::BadSize { param: "k", .. }), "{e}");
    let mut bad = g.clone();
    bad[(1, 0)] += 1.0;
    let e =
        FeatureMoments::from_gram(bad.as_ref(), &labels, 2, MomentEstimator::PlugIn).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadGram {
                problem: "not symmetric",
                ..
            }
        ),
        "{e}"
    );
    let mut bad = g.clone();
    bad[(2, 2)] = f64::NAN;
    let e =
        FeatureMoments::from_gram(bad.as_ref(), &labels, 2, MomentEstimator::PlugIn).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BadGram {
                problem: "not finite",
                ..
            }
        ),
        "{e}"
    );
    let (xs3, labels3) = sample(&[3, 5], 3, 5);
    let e = FeatureMoments::from_gram(gram(&xs3).as_ref(), &labels3, 2, MomentEstimator::Unbiased)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ClassTooSmall {
                class: 0,
                count: 3,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn random_feature_moments_via_map() {
    use imbalance_features::{Activation, FeatureParams, RandomFeatures};
    let x = Mat::from_fn(12, 4, |i, j| ((i * 4 + j) as f64 * 0.71).cos());
    let labels: Vec<usize> = (0..12).map(|i| i % 2).collect();
    let map = RandomFeatures::from_seed(
        FeatureParams::new(4, 300, Activation::Relu, 0.1).unwrap(),
        8,
    );
    let a = map
        .moments(x.as_ref(), &labels, 2, MomentEstimator::PlugIn)
        .unwrap();
    // the same from the class means computed chunk by chunk
    let means = map.class_means(x.as_ref(), &labels, 2).unwrap();
    let mg = &means * means.transpose();
    for c in 0..2 {
        for y in 0..2 {
            close(
                a.means_gram[(c, y)],
                mg[(c, y)],
                "means_gram via class_means",
            );
        }
    }
}
