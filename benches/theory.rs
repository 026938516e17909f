//! Speed of the mean-field theory: one prediction and one tuning run.
//!
//! `predict` for K = 10 at T = 1e6 (target < 1 ms) and `tune` (target < 50 ms). CE-like
//! methods (CE, wce, LDAM, post-hoc LA) on orthogonal means give one-factor orthant
//! probabilities (exact 1-D quadrature); LA, CDT and VS need Genz's QMC in K - 1 dimensions,
//! which dominates their cost.

use criterion::{Criterion, criterion_group, criterion_main};
use imbalance::losses::{Method, MethodName};
use imbalance::theory::{Horizon, MixtureStats, Objective, PredictOptions, predict, tune};
use std::hint::black_box;

fn step10() -> MixtureStats {
    let counts = vec![100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    MixtureStats::orthogonal(counts, 5000, 8.0, 1.0).expect("valid mixture")
}

fn exp10() -> MixtureStats {
    // n_c = 100 * 10^(-c/9): the exp profile with rho = 10.
    let counts = (0..10)
        .map(|c| (100.0 * 10f64.powf(-(c as f64) / 9.0)).round() as usize)
        .collect();
    MixtureStats::orthogonal(counts, 5000, 8.0, 1.0).expect("valid mixture")
}

fn bench_predict(c: &mut Criterion) {
    let opts = PredictOptions::default();
    let h = Horizon::Finite(1e6);
    let mut g = c.benchmark_group("predict");
    for (name, stats) in [("step", step10()), ("exp", exp10())] {
        for method in [Method::Ce, Method::Ldam { c: 2.0 }, Method::La { tau: 1.0 }] {
            let id = format!("K10_{name}_T1e6_{}", method.name());
            g.bench_function(id, |b| {
                b.iter(|| predict(black_box(&stats), &method, h, &opts).expect("predict"))
            });
        }
    }
    let inf = Horizon::Infinite;
    g.bench_function("K10_step_Tinf_ce", |b| {
        b.iter(|| predict(black_box(&step10()), &Method::Ce, inf, &opts).expect("predict"))
    });
    g.finish();
}

fn bench_tune(c: &mut Criterion) {
    let opts = PredictOptions::default();
    let mut g = c.benchmark_group("tune");
    g.sample_size(10);
    let binary = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).expect("valid mixture");
    for name in [MethodName::La, MethodName::Cdt, MethodName::Ldam] {
        g.bench_function(format!("K2_T1e4_{name}"), |b| {
            b.iter(|| {
                tune(
                    black_box(&binary),
                    name,
                    Objective::Balanced,
                    Horizon::Finite(1e4),
                    &opts,
                )
                .expect("tune")
            })
        });
    }
    let stats = step10();
    g.bench_function("K10_step_T1e6_ldam", |b| {
        b.iter(|| {
            tune(
                black_box(&stats),
                MethodName::Ldam,
                Objective::Balanced,
                Horizon::Finite(1e6),
                &opts,
            )
            .expect("tune")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_predict, bench_tune);
criterion_main!(benches);
