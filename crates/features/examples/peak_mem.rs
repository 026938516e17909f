//! Time and memory of one chunked random-feature Gram matrix.
//!
//! ```text
//! cargo run --release -p imbalance-features --example peak_mem -- N D P [relu|tanh|erf]
//! /usr/bin/time -v target/release/examples/peak_mem 5000 3072 100000   # peak RSS
//! ```
//!
//! Prints the wall time, the GFLOP/s (2 n d p for the features + n^2 p for the Gram; the
//! triangular update does half of the n^2 p it is credited with, as is customary), and
//! the size the n x p feature matrix would have had.

use std::time::Instant;

use faer::Mat;
use imbalance_features::{Activation, FeatureParams, RandomFeatures};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |i: usize, default: usize| -> usize {
        args.get(i)
            .map(|s| {
                s.parse().unwrap_or_else(|_| {
                    eprintln!("argument {} must be a positive integer, got '{s}'", i + 1);
                    std::process::exit(2)
                })
            })
            .unwrap_or(default)
    };
    let (n, d, p) = (get(0, 5000), get(1, 3072), get(2, 100_000));
    let act: Activation = match args.get(3).map(|s| s.parse()) {
        None => Activation::Relu,
        Some(Ok(a)) => a,
        Some(Err(e)) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let params = match FeatureParams::new(d, p, act, 0.0) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2)
        }
    };
    let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
    let x = Mat::from_fn(n, d, |_, _| {
        let z: f64 = StandardNormal.sample(&mut rng);
        z
    });
    let map = RandomFeatures::new(params, &mut rng);
    let t = Instant::now();
    let g = map.gram(x.as_ref());
    let secs = t.elapsed().as_secs_f64();
    let flops = 2.0 * n as f64 * d as f64 * p as f64 + (n as f64).powi(2) * p as f64;
    let gib = |doubles: f64| doubles * 8.0 / (1u64 << 30) as f64;
    println!(
        "n={n} d={d} p={p} activation={act} threads={}",
        rayon::current_num_threads()
    );
    println!("gram: {secs:.2} s, {:.1} GFLOP/s", flops / secs / 1e9);
    println!(
        "sizes: X {:.3} GiB, Gram {:.3} GiB, n x p features would be {:.3} GiB",
        gib((n * d) as f64),
        gib((n * n) as f64),
        gib(n as f64 * p as f64)
    );
    println!(
        "check: G[0,0] = {:.6}, G[0,1] = {:.6}",
        g[(0, 0)],
        g[(0, 1)]
    );
}
