//! Speed of the orthant probabilities behind the per-class errors, at K = 10, 100, 1000
//! (K - 1 comparisons), one synthetic instance per method of `orthant_estimate`:
//!
//! - one factor (CE-like methods on orthogonal means): equicorrelation 0.5;
//! - grouped factor (two exchangeable groups, PSD rank-2 group matrix): 2-D quadrature;
//! - signed groups (two groups, indefinite group matrix: the step-profile LA comparisons
//!   at K = 100 have within/cross correlations 0.5, 0.86 / 0.66): one real and two
//!   imaginary factors from K = 100 on, Genz at K = 10 (below the structured paths' size);
//! - dense Genz (random correlation, K = 10 and 100 only).

use criterion::{Criterion, criterion_group, criterion_main};
use imbalance::theory::{GenzOptions, OrthantMethod, orthant_estimate};
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

criterion_group!(benches, bench_orthant);
criterion_main!(benches);
