//! Speed of the mean-field theory: one prediction and one tuning run.
//!
//! `predict` for K = 10 at T = 1e6 (target < 1 ms) and `tune` (target < 50 ms). CE-like
//! methods (CE, wce, LDAM, post-hoc LA) on orthogonal means give one-factor orthant
//! probabilities (exact 1-D quadrature); LA, CDT and VS need Genz's QMC in K - 1 dimensions
//! at K = 10, which dominates their cost.
//!
//! The long tail (issue 10), p = 20000, snr 8, T = 1e6: `predict` at K = 100 exp profile
//! (n_max 500, ratio 100; target < 20 ms), at K = 1000 step (n_max 100, ratio 10; < 0.2 s)
//! and exp (< 5 s); `tune` at K = 100 (< 0.5 s). Step profiles have two exchangeable groups
//! (one-factor, grouped-factor or signed-group quadrature); the exp profile has K distinct
//! classes (one factor for CE-like methods; LA, CDT, VS there fall back to Genz in K - 1
//! dimensions and are not benchmarked: minutes per prediction).

use criterion::{Criterion, criterion_group, criterion_main};
use imbalance::gmm::Profile;
use imbalance::losses::{Method, MethodName};
use imbalance::theory::{Horizon, MixtureStats, Objective, PredictOptions, predict, tune};
use std::hint::black_box;

fn step10() -> MixtureStats {
    let counts = vec![100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    MixtureStats::orthogonal(counts, 5000, 8.0, 1.0).expect("valid mixture")
}

fn exp10() -> MixtureStats {
    // The exp profile with n_max 100 and rho = 10.
    let counts = Profile::Exp {
        classes: 10,
        n_max: 100,
        ratio: 10.0,
    }
    .counts()
    .expect("valid profile");
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

/// Step profile: the first half of the classes with `n_max`, the rest with `n_max / ratio`.
fn step(k: usize, n_max: usize, ratio: usize) -> MixtureStats {
    let counts = (0..k)
        .map(|c| if c < k / 2 { n_max } else { n_max / ratio })
        .collect();
    MixtureStats::orthogonal(counts, 20_000, 8.0, 1.0).expect("valid mixture")
}

/// The exp profile (`n_c = floor(n_max ratio^(-c/(K-1)))`).
fn exp(k: usize, n_max: usize, ratio: f64) -> MixtureStats {
    let counts = Profile::Exp {
        classes: k,
        n_max,
        ratio,
    }
    .counts()
    .expect("valid profile");
    MixtureStats::orthogonal(counts, 20_000, 8.0, 1.0).expect("valid mixture")
}

fn bench_long_tail(c: &mut Criterion) {
    let opts = PredictOptions::default();
    let h = Horizon::Finite(1e6);
    let mut g = c.benchmark_group("long_tail");
    g.sample_size(10);
    let cases = [
        ("K100_exp_r100", exp(100, 500, 100.0), Method::Ce),
        (
            "K100_exp_r100",
            exp(100, 500, 100.0),
            Method::Ldam { c: 2.0 },
        ),
        (
            "K100_exp_r100",
            exp(100, 500, 100.0),
            Method::Wce { beta: 1.0 },
        ),
        ("K100_step_r10", step(100, 100, 10), Method::La { tau: 1.0 }),
        (
            "K100_step_r10",
            step(100, 100, 10),
            Method::Cdt { gamma: 0.5 },
        ),
        ("K1000_step_r10", step(1000, 100, 10), Method::Ce),
        (
            "K1000_step_r10",
            step(1000, 100, 10),
            Method::Ldam { c: 2.0 },
        ),
        (
            "K1000_step_r10",
            step(1000, 100, 10),
            Method::Wce { beta: 1.0 },
        ),
        (
            "K1000_step_r10",
            step(1000, 100, 10),
            Method::La { tau: 1.0 },
        ),
        (
            "K1000_step_r10",
            step(1000, 100, 10),
            Method::Cdt { gamma: 0.5 },
        ),
        ("K1000_exp_r100", exp(1000, 100, 100.0), Method::Ce),
        // No structure: the shared Monte Carlo.
        (
            "K100_exp_r100",
            exp(100, 500, 100.0),
            Method::La { tau: 1.0 },
        ),
        (
            "K100_exp_r100",
            exp(100, 500, 100.0),
            Method::Cdt { gamma: 0.5 },
        ),
        (
            "K100_exp_r100",
            exp(100, 500, 100.0),
            Method::Vs {
                gamma: 0.3,
                tau: 1.0,
            },
        ),
    ];
    for (name, stats, method) in cases {
        g.bench_function(format!("predict_{name}_{}", method.name()), |b| {
            b.iter(|| predict(black_box(&stats), &method, h, &opts).expect("predict"))
        });
    }
    for name in [MethodName::La, MethodName::Ldam] {
        let stats = step(100, 100, 10);
        g.bench_function(format!("tune_K100_step_r10_{name}"), |b| {
            b.iter(|| tune(black_box(&stats), name, Objective::Balanced, h, &opts).expect("tune"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_predict, bench_tune, bench_long_tail);
criterion_main!(benches);
