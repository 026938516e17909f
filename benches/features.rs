//! Benchmarks of the kernels that set the speed of the real-data experiments:
//! the chunked random-feature Gram matrix, and loading the full MNIST training set.
//!
//! Throughput is reported in "elements" = floating-point operations: 2 n d p for the
//! features (X F^T) plus n^2 p for the Gram accumulation, so "Gelem/s" reads as GFLOP/s.
//! Register with `[[bench]] name = "features" harness = false` in the root Cargo.toml.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use faer::Mat;
use imbalance::datasets::{DatasetName, LoadOptions, load_dir};
use imbalance::features::{Activation, FeatureParams, RandomFeatures};
use rand::{RngExt, SeedableRng};

fn inputs(n: usize, d: usize, seed: u64) -> Mat<f64> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    Mat::from_fn(n, d, |_, _| rng.random_range(-1.0..1.0))
}

fn gram_flops(n: usize, d: usize, p: usize) -> u64 {
    (2 * n * d * p + n * n * p) as u64
}

fn bench_gram(c: &mut Criterion) {
    let mut group = c.benchmark_group("random_feature_gram");
    group.sample_size(10);
    for (n, d, p) in [(1000, 784, 4096), (5000, 3072, 20_000)] {
        let x = inputs(n, d, 1);
        let params = FeatureParams::new(d, p, Activation::Relu, 0.0).expect("valid parameters");
        let map = RandomFeatures::from_seed(params, 7);
        group.throughput(Throughput::Elements(gram_flops(n, d, p)));
        group.bench_with_input(
            BenchmarkId::new("relu", format!("n{n}_d{d}_p{p}")),
            &x,
            |b, x| b.iter(|| black_box(map.gram(x.as_ref()))),
        );
    }
    group.finish();
}

fn bench_mnist_load(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets/mnist");
    if !dir.is_dir() {
        eprintln!("skipping mnist_full_load: {} not found", dir.display());
        return;
    }
    let mut group = c.benchmark_group("datasets");
    group.sample_size(10);
    for verify in [true, false] {
        let opts = LoadOptions {
            verify_checksums: verify,
        };
        group.bench_function(
            BenchmarkId::new(
                "mnist_full_load",
                if verify { "sha256" } else { "no_sha256" },
            ),
            |b| {
                b.iter(|| {
                    black_box(load_dir(DatasetName::Mnist, &dir, &opts).expect("MNIST loads"))
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_gram, bench_mnist_load);
criterion_main!(benches);
