//! Benchmarks of the kernels that set the speed of sampling a training set:
//!
//! - `gram`: X X^T through `imbalance::gmm::gram` (lower triangle only, then mirrored);
//! - `gemm`: the same product as a plain full f64 GEMM (faer, all threads), the baseline;
//! - `sample_direct`: the Gram matrix drawn without X (Bartlett, O(n^3), independent of p),
//!   next to `gemm_nxn`, faer's full GEMM of two n x n matrices in the same run (its GFLOP/s is
//!   the machine's GEMM rate on that shape: the ratio is what to compare, the machine is shared).
//!
//! Throughput is reported in multiply-adds of the full product (n^2 p), so `gram` and
//! `gemm` are directly comparable; GFLOP/s (2 n^2 p flops per product, the usual GEMM
//! convention, so `gram`'s figure is an effective rate: it skips half the work) is
//! printed on stderr after each benchmark, from the mean time of the measured calls.
//!
//! Sizes are in the benchmark ids: filter with `cargo bench --bench gram -- n1000` for a
//! quick run, `-- n5500` for the full size (about 1 GB for X).

use std::cell::{Cell, OnceCell};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{
    Bencher, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use imbalance::gmm::{MeansSpec, Mixture, Profile, TrainingSet, gram, sample_x};
use rand::SeedableRng;
use rand_pcg::Pcg64;

/// (n, p) of the Gram benchmarks: a quick size and the paper-scale size.
const GRAM_SIZES: [(usize, usize); 2] = [(1000, 4000), (5500, 20_000)];
/// (n, p) of the direct sampler.
const DIRECT_SIZES: [(usize, usize); 2] = [(1000, 1_000_000), (5500, 1_000_000)];

/// A 10-class step profile with n samples in total: 5 majority classes and 5 minority
/// classes ten times smaller (n = 5500 gives 5 x 1000 + 5 x 100); when n is not a
/// multiple of 55 the remainder goes to class 0.
fn mixture(n: usize, p: usize, rng: &mut Pcg64) -> Mixture {
    let mut counts = Profile::Step {
        classes: 10,
        n_max: n / 55 * 10,
        ratio: 10.0,
        minority_classes: 5,
    }
    .counts()
    .expect("valid profile");
    counts[0] += n - counts.iter().sum::<usize>();
    Mixture::new(counts, p, MeansSpec::Orthogonal { snr: 5.0 }, 1.0, rng).expect("valid mixture")
}

/// Runs `f` under criterion and remembers the total time and iteration count, so the
/// GFLOP/s can be printed once the benchmark is done (only if it was not filtered out).
struct Rate {
    seconds: Cell<f64>,
    iters: Cell<u64>,
}

impl Rate {
    fn new() -> Rate {
        Rate {
            seconds: Cell::new(0.0),
            iters: Cell::new(0),
        }
    }

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

    fn print(&self, label: &str, flops: f64, what: &str) {
        if self.iters.get() > 0 {
            let s = self.seconds.get() / self.iters.get() as f64;
            eprintln!(
                "{label}: mean {s:.3} s per call, {:.1} GFLOP/s ({what})",
                flops / s / 1e9
            );
        }
    }
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(5));
    // One call per sample: the large sizes take seconds per call, and the default linear
    // mode would run 1 + 2 + ... + 10 calls.
    group.sampling_mode(SamplingMode::Flat);
}

fn bench_gram(c: &mut Criterion) {
    let mut group = c.benchmark_group("gram");
    configure(&mut group);
    for (n, p) in GRAM_SIZES {
        let id = format!("n{n}_p{p}");
        // Sampling X (up to 0.9 GB) only when a benchmark of this size is selected.
        let x = OnceCell::new();
        let x = || {
            x.get_or_init(|| {
                let mut rng = Pcg64::seed_from_u64(1);
                sample_x(&mixture(n, p, &mut rng), &mut rng).0
            })
        };
        let flops = 2.0 * (n * n * p) as f64;
        group.throughput(Throughput::Elements((n * n * p) as u64));

        let rate = Rate::new();
        group.bench_function(BenchmarkId::new("gram", &id), |b| {
            let x = x();
            rate.run(b, || {
                black_box(gram(black_box(x.as_ref())));
            })
        });
        rate.print(
            &format!("gram {id}"),
            flops,
            "2 n^2 p flops, of which half are skipped",
        );

        let rate = Rate::new();
        group.bench_function(BenchmarkId::new("gemm", &id), |b| {
            let x = x();
            let mut out = Mat::<f64>::zeros(n, n);
            rate.run(b, || {
                matmul(
                    out.as_mut(),
                    Accum::Replace,
                    x.as_ref(),
                    x.transpose(),
                    1.0,
                    Par::rayon(0),
                );
                black_box(&out);
            })
        });
        rate.print(&format!("gemm {id}"), flops, "2 n^2 p flops");
    }
    group.finish();
}

fn bench_direct(c: &mut Criterion) {
    let mut group = c.benchmark_group("sample_direct");
    configure(&mut group);
    for (n, p) in DIRECT_SIZES {
        let id = format!("n{n}_p{p}");
        let rate = Rate::new();
        group.bench_function(BenchmarkId::new("sample_direct", &id), |b| {
            let mut rng = Pcg64::seed_from_u64(2);
            let mix = mixture(n, p, &mut rng);
            rate.run(b, || {
                black_box(TrainingSet::sample_direct(&mix, &mut rng));
            })
        });
        // The dominant cost is the Bartlett product L L^T, lower triangle: n^3 / 3 flops.
        rate.print(
            &format!("sample_direct {id}"),
            (n as f64).powi(3) / 3.0,
            "n^3/3 flops",
        );

        // Baseline in the same run: faer's full GEMM of two dense n x n matrices.
        let rate = Rate::new();
        group.bench_function(BenchmarkId::new("gemm_nxn", &id), |b| {
            let a = Mat::<f64>::from_fn(n, n, |i, j| ((i * n + j) as f64).sin());
            let mut out = Mat::<f64>::zeros(n, n);
            rate.run(b, || {
                matmul(
                    out.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    a.transpose(),
                    1.0,
                    Par::rayon(0),
                );
                black_box(&out);
            })
        });
        rate.print(
            &format!("gemm_nxn {id}"),
            2.0 * (n as f64).powi(3),
            "2 n^3 flops",
        );
    }
    group.finish();
}

criterion_group!(benches, bench_gram, bench_direct);
criterion_main!(benches);
