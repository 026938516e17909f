//! Benchmarks of exact dual gradient flow (`imbalance::gradflow`):
//!
//! - `stream/triad`: a STREAM-like triad, the machine's streaming bandwidth in this run; the
//!   `rhs` benchmark prints its GB/s (the Gram matrix read once) to compare with it;
//! - `rhs`: one right-hand-side evaluation of the dual ODE, i.e. the product `Kmat A`
//!   (n x n by n x K) plus the n per-sample loss gradients. Measured through
//!   `training_loss`, which does exactly that work (the ODE's own RHS only adds an n x K copy);
//! - `solve`: a full gradient-flow solve to T = 1e6 with cross-entropy, at the default
//!   tolerance (rtol 1e-6) and at rtol 1e-4 (relative error of A about 1e-5, ~half the RHS
//!   evaluations); the number of RHS evaluations is printed on stderr;
//! - `max_margin`: the T = infinity solution by dual coordinate ascent (qp_tol 1e-6).
//!
//! Data: a 10-class Gaussian mixture, orthogonal means of norm 10, unit noise, step profile
//! 5 x 1000 + 5 x 100 (n = 5500) or 5 x 200 + 5 x 20 (n = 1100), p = 20000. The Gram matrix
//! is built here (X in column blocks, faer GEMM; ~1.2e12 flops for n = 5500, so about a
//! minute) only when a benchmark of that size is selected: `cargo bench --bench gradflow --
//! n1100` is the quick run.

use std::cell::{Cell, OnceCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    Bencher, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main,
};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use imbalance::gradflow::{FlowOptions, SolverStats, gradient_flow, max_margin, training_loss};
use imbalance::losses::{Loss, Method};
use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;

const P: usize = 20_000;
const SNR: f64 = 10.0;
const K: usize = 10;
const T: f64 = 1e6;

/// Class counts: 5 classes of `n_max`, 5 of `n_max / 10`.
fn counts(n_max: usize) -> Vec<usize> {
    (0..K)
        .map(|c| if c < 5 { n_max } else { n_max / 10 })
        .collect()
}

/// The Gram matrix X X^T of a Gaussian mixture x = SNR e_y + z, z ~ N(0, I_P), and the labels.
/// X is generated in blocks of 1000 columns (Box-Muller normals from Pcg64, fixed seed).
fn gram(counts: &[usize]) -> (Mat<f64>, Vec<usize>) {
    let labels: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &m)| std::iter::repeat_n(c, m))
        .collect();
    let n = labels.len();
    let mut rng = Pcg64::seed_from_u64(7);
    let mut normal = move || {
        let (u1, u2): (f64, f64) = (rng.random(), rng.random());
        (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let start = Instant::now();
    let mut g = Mat::<f64>::zeros(n, n);
    const BLOCK: usize = 1000;
    for c0 in (0..P).step_by(BLOCK) {
        let w = BLOCK.min(P - c0);
        let mut x = Mat::<f64>::zeros(n, w);
        for j in 0..w {
            for i in 0..n {
                x[(i, j)] = normal() + if c0 + j == labels[i] { SNR } else { 0.0 };
            }
        }
        matmul(
            g.as_mut(),
            Accum::Add,
            x.as_ref(),
            x.transpose(),
            1.0,
            Par::rayon(0),
        );
    }
    // Exactly symmetric.
    let g = Mat::from_fn(n, n, |i, j| if i >= j { g[(i, j)] } else { g[(j, i)] });
    eprintln!(
        "built the {n} x {n} Gram matrix (p = {P}) in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    (g, labels)
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, seconds: u64) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(seconds));
    group.sampling_mode(SamplingMode::Flat);
}

/// Mean wall time per call of the measured iterations (printed after the benchmark, only if
/// it ran).
#[derive(Default)]
struct MeanTime {
    seconds: Cell<f64>,
    iters: Cell<u64>,
}

impl MeanTime {
    fn run(&self, b: &mut Bencher<'_>, mut f: impl FnMut()) {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let e = t.elapsed();
            self.seconds.set(self.seconds.get() + e.as_secs_f64());
            self.iters.set(self.iters.get() + iters);
            e
        });
    }

    fn mean(&self) -> Option<f64> {
        (self.iters.get() > 0).then(|| self.seconds.get() / self.iters.get() as f64)
    }
}

/// STREAM-like triad `a = b + s c` on three 160 MB arrays, all threads, fixed chunks: the
/// machine's streaming bandwidth, counted as STREAM does (24 bytes per element), for comparison
/// with the dual product's GB/s in the same run.
fn bench_triad(c: &mut Criterion) {
    const LEN: usize = 20_000_000;
    let mut group = c.benchmark_group("stream");
    configure(&mut group, 3);
    let time = MeanTime::default();
    group.bench_function("triad", |b| {
        let x = vec![1.0f64; LEN];
        let y = vec![2.0f64; LEN];
        let mut out = vec![0.0f64; LEN];
        time.run(b, || {
            out.par_chunks_mut(1 << 16)
                .zip(x.par_chunks(1 << 16).zip(y.par_chunks(1 << 16)))
                .for_each(|(o, (x, y))| {
                    for ((o, x), y) in o.iter_mut().zip(x).zip(y) {
                        *o = x + 3.0 * y;
                    }
                });
            black_box(&out);
        });
    });
    if let Some(s) = time.mean() {
        eprintln!(
            "stream triad: mean {:.2} ms, {:.1} GB/s (24 bytes per element)",
            s * 1e3,
            (24 * LEN) as f64 / s / 1e9
        );
    }
    group.finish();
}

fn bench_gradflow(c: &mut Criterion) {
    for n_max in [200, 1000] {
        let counts = counts(n_max);
        let n: usize = counts.iter().sum();
        let id = format!("n{n}_p{P}_K{K}");
        let data = OnceCell::new();
        let data = || data.get_or_init(|| gram(&counts));
        let loss: Loss = Method::Ce.loss(&counts).expect("valid counts");

        let mut group = c.benchmark_group("gradflow");
        configure(&mut group, 5);
        let rhs_time = MeanTime::default();
        group.bench_function(BenchmarkId::new("rhs", &id), |b| {
            let (g, labels) = data();
            let a = Mat::from_fn(n, K, |i, c| 1e-4 * ((i * K + c) as f64).sin());
            rhs_time.run(b, || {
                black_box(training_loss(g.as_ref(), labels, &loss, a.as_ref()));
            });
        });
        // The product streams the n x n Gram matrix once: its bytes set the rate.
        let gram_bytes = (n * n * 8) as f64;
        if let Some(s) = rhs_time.mean() {
            eprintln!(
                "rhs {id}: mean {:.2} ms, {:.1} GB/s (Gram read once, {:.0} MB)",
                s * 1e3,
                gram_bytes / s / 1e9,
                gram_bytes / 1e6
            );
        }
        for (name, rtol) in [("solve_T1e6_ce", 1e-6), ("solve_T1e6_ce_rtol1e-4", 1e-4)] {
            let mut opts = FlowOptions::default();
            opts.ode.rtol = rtol;
            let mut evals = None;
            group.bench_function(BenchmarkId::new(name, &id), |b| {
                let (g, labels) = data();
                b.iter(|| {
                    let r = gradient_flow(g.as_ref(), labels, &loss, T, &opts).expect("solves");
                    if let SolverStats::Flow { ode, .. } = r.solver {
                        evals = Some((ode.rhs_evals, ode.steps));
                    }
                    black_box(r)
                });
            });
            if let Some((e, s)) = evals {
                eprintln!("{name} {id}: {e} RHS evaluations, {s} accepted steps");
            }
        }
        let mut sweeps = None;
        group.bench_function(BenchmarkId::new("max_margin", &id), |b| {
            let (g, labels) = data();
            b.iter(|| {
                let r = max_margin(g.as_ref(), labels, loss.delta(), &FlowOptions::default())
                    .expect("separable");
                if let SolverStats::MaxMargin { sweeps: s } = r.solver {
                    sweeps = Some(s);
                }
                black_box(r)
            });
        });
        if let Some(s) = sweeps {
            eprintln!("max_margin {id}: {s} sweeps");
        }
        group.finish();
    }
}

criterion_group!(benches, bench_triad, bench_gradflow);
criterion_main!(benches);
