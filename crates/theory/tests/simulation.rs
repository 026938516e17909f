//! Theory vs an exact simulation (exact dual gradient flow / max-margin on sampled data).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use imbalance_gradflow::{FlowOptions, Horizon, train};
use imbalance_losses::Method;
use imbalance_theory::{GenzOptions, MixtureStats, PredictOptions, class_error, mechanism, mechanism_from_dual, predict};
use rand::SeedableRng;
use rand_distr::StandardNormal;
use rand::RngExt;

struct Sim {
    per_class_error: Vec<f64>,
    mech: imbalance_theory::Mechanism,
}

/// Samples x = s e_y + sigma z, trains, and returns the exact conditional test error of W.
fn simulate(counts: &[usize], p: usize, s: f64, method: &Method, horizon: Horizon, seed: u64) -> Sim {
    let k = counts.len();
    let n: usize = counts.iter().sum();
    let labels: Vec<usize> = counts.iter().enumerate().flat_map(|(c, &m)| std::iter::repeat_n(c, m)).collect();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let x = Mat::from_fn(n, p, |i, j| {
        let z: f64 = rng.sample(StandardNormal);
        z + if j == labels[i] { s } else { 0.0 }
    });
    let mut gram = Mat::zeros(n, n);
    matmul(gram.as_mut(), Accum::Replace, x.as_ref(), x.transpose(), 1.0, Par::Seq);
    let loss = method.loss(counts).unwrap();
    let trained = train(gram.as_ref(), &labels, &loss, horizon, &FlowOptions::default()).unwrap();
    let a = &trained.a;
    // cov = A^T Gram A, mean_y = A^T (X mu_y) = s A^T X[:, y]
    let mut ga = Mat::zeros(n, k);
    matmul(ga.as_mut(), Accum::Replace, gram.as_ref(), a.as_ref(), 1.0, Par::Seq);
    let mut cov = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            cov[i * k + j] = (0..n).map(|r| a[(r, i)] * ga[(r, j)]).sum();
        }
    }
    let offsets = method.prediction_offsets(counts).unwrap();
    let per_class_error = (0..k)
        .map(|y| {
            let mean: Vec<f64> = (0..k).map(|c| s * (0..n).map(|r| a[(r, c)] * x[(r, y)]).sum::<f64>()).collect();
            class_error(&mean, &cov, y, &offsets, &GenzOptions::default()).unwrap()
        })
        .collect();
    let gram_v: Vec<f64> = (0..n * n).map(|ij| gram[(ij / n, ij % n)]).collect();
    let mean_proj: Vec<f64> = (0..n * k).map(|ic| s * x[(ic / k, ic % k)]).collect();
    let mean_gram: Vec<f64> = (0..k * k).map(|ij| if ij / k == ij % k { s * s } else { 0.0 }).collect();
    let a_v: Vec<f64> = (0..n * k).map(|ic| a[(ic / k, ic % k)]).collect();
    let mech = mechanism_from_dual(counts, &labels, &gram_v, &mean_proj, &mean_gram, &a_v);
    Sim { per_class_error, mech }
}

#[test]
#[ignore = "exploration"]
fn row7() {
    let counts = [100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    let t = std::time::Instant::now();
    let sim = simulate(&counts, 5000, 8.0, &Method::Ce, Horizon::Infinite, 1);
    println!("sim {:?} {:?}", sim.per_class_error, t.elapsed());
    let st = MixtureStats::orthogonal(counts.to_vec(), 8.0, 1.0, 5000).unwrap();
    let th = predict(&st, &Method::Ce, Horizon::Infinite, &PredictOptions::default()).unwrap();
    println!("theory {:?}", th.per_class_error);
    let m = mechanism(&st, &Method::Ce, Horizon::Infinite, &PredictOptions::default()).unwrap();
    println!("theory mech {:?}\nsim mech {:?}", m.ratio, sim.mech.ratio);
}
