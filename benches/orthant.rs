//! Speed of the orthant probabilities behind the per-class errors, at K = 10, 100, 1000
//! (K - 1 comparisons), one synthetic instance per method of `orthant_estimate`:
//!
//! - one factor (CE-like methods on orthogonal means): equicorrelation 0.5;
//! - grouped factor (two exchangeable groups, PSD rank-2 group matrix): 2-D quadrature;
//! - signed groups (two groups, indefinite group matrix: the step-profile LA comparisons
//!   at K = 100 have within/cross correlations 0.5, 0.86 / 0.66): one real and two
//!   imaginary factors from K = 100 on, Genz at K = 10 (below the structured paths' size);
//! - dense Genz (random correlation, K = 10 and 100 only);
//! - the shared Monte Carlo of every class at once (`shared_mc`, K = 30, 100, 1000, a fixed
//!   2^14 draws), with its draws per second printed beside the time.

use criterion::{Criterion, criterion_group, criterion_main};
use imbalance::theory::{
    GenzOptions, MonteCarloOptions, OrthantMethod, orthant_estimate, shared_class_errors,
};
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

/// Two groups of sizes (d/2, d - d/2) with group matrix `c` (row-major 2 x 2), unit variances
/// and mean `mean` for every component.
fn two_groups(d: usize, c: [f64; 4], mean: f64) -> (Vec<f64>, Vec<f64>) {
    let g = |i: usize| usize::from(i >= d / 2);
    let cov = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            if i == j { 1.0 } else { c[2 * g(i) + g(j)] }
        })
        .collect();
    (vec![mean; d], cov)
}

fn dense(d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
    let b: Vec<f64> = (0..d * d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let mut cov: Vec<f64> = (0..d * d)
        .map(|ij| {
            let (i, j) = (ij / d, ij % d);
            (0..d).map(|l| b[i * d + l] * b[j * d + l]).sum::<f64>()
        })
        .collect();
    for i in 0..d {
        cov[i * d + i] += 1.0;
    }
    let mean = (0..d).map(|i| 2.5 * cov[i * d + i].sqrt()).collect();
    (mean, cov)
}

fn bench_orthant(c: &mut Criterion) {
    let opts = GenzOptions::default();
    let mut g = c.benchmark_group("orthant");
    g.sample_size(10);
    for k in [10usize, 100, 1000] {
        let d = k - 1;
        let mut cases = vec![
            ("one_factor", two_groups(d, [0.5; 4], 2.5)),
            ("grouped_factor", two_groups(d, [0.5, 0.3, 0.3, 0.6], 2.5)),
            ("signed_groups", two_groups(d, [0.5, 0.66, 0.66, 0.86], 3.0)),
        ];
        if k <= 100 {
            cases.push(("dense_genz", dense(d)));
        }
        for (name, (mean, cov)) in cases {
            let est = orthant_estimate(&mean, &cov, &opts).expect("valid instance");
            eprintln!(
                "K {k} {name}: {} -> P = {:.6}, bound {:.1e}",
                est.method, est.probability, est.error_bound
            );
            if name == "dense_genz" {
                assert!(matches!(est.method, OrthantMethod::Genz { .. }));
            }
            g.bench_function(format!("K{k}_{name}"), |b| {
                b.iter(|| orthant_estimate(black_box(&mean), &cov, &opts).expect("orthant"))
            });
        }
    }
    g.finish();
}

/// A K-class logit law like a trained model's: covariance `W W^T / (2K)` of a Gaussian
/// K x 2K matrix with the constant direction projected out (singular, as for CE), means
/// `2 e_y`. Returns (means K x K, cov K x K).
fn logit_law(k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(7);
    let p = 2 * k;
    let mut w: Vec<f64> = (0..k * p).map(|_| rng.random_range(-1.7..1.7)).collect();
    for j in 0..p {
        let mean = (0..k).map(|i| w[i * p + j]).sum::<f64>() / k as f64;
        (0..k).for_each(|i| w[i * p + j] -= mean);
    }
    let cov = (0..k * k)
        .map(|ij| {
            let (a, b) = (ij / k, ij % k);
            (0..p).map(|j| w[a * p + j] * w[b * p + j]).sum::<f64>() / p as f64
        })
        .collect();
    let means = (0..k * k)
        .map(|ij| if ij / k == ij % k { 2.0 } else { 0.0 })
        .collect();
    (means, cov)
}

fn bench_shared_mc(c: &mut Criterion) {
    let mut opts = MonteCarloOptions::default();
    opts.min_draws = 1 << 14;
    opts.max_draws = 1 << 14;
    let mut g = c.benchmark_group("shared_mc");
    g.sample_size(10);
    for k in [30usize, 100, 1000] {
        let (means, cov) = logit_law(k);
        let classes: Vec<usize> = (0..k).collect();
        let offsets = vec![0.0; k];
        let run = || shared_class_errors(&means, &cov, &classes, &offsets, &opts).expect("mc");
        let start = std::time::Instant::now();
        let est = run();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "shared_mc K {k}: {} draws in {secs:.3} s ({:.2e} draws/s, {:.2e} class-draws/s), largest SE {:.1e}",
            est.draws,
            est.draws as f64 / secs,
            (est.draws * k) as f64 / secs,
            est.standard_error.iter().copied().fold(0.0, f64::max)
        );
        g.bench_function(format!("K{k}_2e14_draws"), |b| b.iter(|| black_box(run())));
    }
    g.finish();
}

criterion_group!(benches, bench_orthant, bench_shared_mc);
criterion_main!(benches);
