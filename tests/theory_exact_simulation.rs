//! Theory vs an exact simulation (exact dual gradient flow / max-margin on sampled data).
//! It lives in the facade crate, not in imbalance-theory, so that the theory crate builds and
//! tests without faer and without the gradient-flow crate.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use imbalance::gradflow::{FlowOptions, Horizon, train};
use imbalance::losses::Method;
use imbalance::theory::{
    GenzOptions, MixtureStats, PredictOptions, class_error, mechanism, mechanism_from_dual, predict,
};
use rand::RngExt;
use rand::SeedableRng;
use rand_distr::StandardNormal;

struct Sim {
    per_class_error: Vec<f64>,
    mech: imbalance::theory::Mechanism,
}

/// Samples x = s e_y + sigma z, trains, and returns the exact conditional test error of W.
fn simulate(
    counts: &[usize],
    p: usize,
    s: f64,
    method: &Method,
    horizon: Horizon,
    seed: u64,
) -> Sim {
    let k = counts.len();
    let n: usize = counts.iter().sum();
    let labels: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &m)| std::iter::repeat_n(c, m))
        .collect();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let x = Mat::from_fn(n, p, |i, j| {
        let z: f64 = rng.sample(StandardNormal);
        z + if j == labels[i] { s } else { 0.0 }
    });
    let mut gram = Mat::zeros(n, n);
    matmul(
        gram.as_mut(),
        Accum::Replace,
        x.as_ref(),
        x.transpose(),
        1.0,
        Par::Seq,
    );
    let loss = method.loss(counts).unwrap();
    let trained = train(
        gram.as_ref(),
        &labels,
        &loss,
        horizon,
        &FlowOptions::default(),
    )
    .unwrap();
    let a = &trained.a;
    // cov = A^T Gram A, mean_y = A^T (X mu_y) = s A^T X[:, y]
    let mut ga = Mat::zeros(n, k);
    matmul(
        ga.as_mut(),
        Accum::Replace,
        gram.as_ref(),
        a.as_ref(),
        1.0,
        Par::Seq,
    );
    let mut cov = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..k {
            cov[i * k + j] = (0..n).map(|r| a[(r, i)] * ga[(r, j)]).sum();
        }
    }
    let offsets = method.prediction_offsets(counts).unwrap();
    let per_class_error = (0..k)
        .map(|y| {
            let mean: Vec<f64> = (0..k)
                .map(|c| s * (0..n).map(|r| a[(r, c)] * x[(r, y)]).sum::<f64>())
                .collect();
            class_error(&mean, &cov, y, &offsets, &GenzOptions::default()).unwrap()
        })
        .collect();
    let gram_v: Vec<f64> = (0..n * n).map(|ij| gram[(ij / n, ij % n)]).collect();
    let mean_proj: Vec<f64> = (0..n * k).map(|ic| s * x[(ic / k, ic % k)]).collect();
    let mean_gram: Vec<f64> = (0..k * k)
        .map(|ij| if ij / k == ij % k { s * s } else { 0.0 })
        .collect();
    let a_v: Vec<f64> = (0..n * k).map(|ic| a[(ic / k, ic % k)]).collect();
    let mech = mechanism_from_dual(counts, &labels, &gram_v, &mean_proj, &mean_gram, &a_v);
    Sim {
        per_class_error,
        mech,
    }
}

#[test]
fn binary_row_1_matches_simulation() {
    // docs/theory.md §6 row 1 (and row 2, LA): K = 2, counts 200/20, p = 2000, s = 5, T = 1e4. The
    // simulation error is exact given the trained W; what varies is the training set (the table
    // reports 0.167-0.175 for CE and 0.127-0.130 for LA over 1-2 seeds; seeds 0 and 1 here give
    // 0.183 and 0.118). The mean field sits 0.01-0.02 below the simulation for CE and up to
    // 0.03 below for LA at this short time (docs/theory.md §6), plus ~0.01 of seed-to-seed spread.
    let counts = [200, 20];
    let stats = MixtureStats::orthogonal(counts.to_vec(), 2000, 5.0, 1.0).unwrap();
    for (method, tol) in [(Method::Ce, 0.03), (Method::La { tau: 1.0 }, 0.045)] {
        let theory = predict(
            &stats,
            &method,
            Horizon::Finite(1e4),
            &PredictOptions::default(),
        )
        .unwrap();
        let sims: Vec<f64> = (0..2)
            .map(|seed| {
                simulate(&counts, 2000, 5.0, &method, Horizon::Finite(1e4), seed).per_class_error[1]
            })
            .collect();
        let mean = sims.iter().sum::<f64>() / sims.len() as f64;
        let th = theory.per_class_error[1];
        assert!(
            (th - mean).abs() < tol,
            "{method}: theory {th} vs simulation {sims:?}"
        );
    }
}

#[test]
fn ten_class_row_7_parameters_simulate_to_the_closed_form_not_to_the_table() {
    // docs/theory.md §6 row 7 once listed 0.776 for K = 10 (5x100, 5x20), p = 5000, s = 8, T = inf, CE. The
    // closed form gives 0.139 for exactly these parameters, and so does an exact max-margin
    // simulation (one seed: 0.14-0.18 per minority class; majority < 1e-3).
    let counts = [100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    let sim = simulate(&counts, 5000, 8.0, &Method::Ce, Horizon::Infinite, 1);
    let stats = MixtureStats::orthogonal(counts.to_vec(), 5000, 8.0, 1.0).unwrap();
    let th = predict(
        &stats,
        &Method::Ce,
        Horizon::Infinite,
        &PredictOptions::default(),
    )
    .unwrap();
    let minority_sim = sim.per_class_error[5..].iter().sum::<f64>() / 5.0;
    assert!(
        (th.per_class_error[9] - minority_sim).abs() < 0.04,
        "{} vs {:?}",
        th.per_class_error[9],
        sim.per_class_error
    );
    assert!(minority_sim < 0.3, "far from the table's old 0.776");
    assert!(sim.per_class_error[..5].iter().all(|&e| e < 1e-3));
    // The mechanism numbers: theory vs the trained W, noise/signal per row within 15%.
    let m = mechanism(
        &stats,
        &Method::Ce,
        Horizon::Infinite,
        &PredictOptions::default(),
    )
    .unwrap();
    for c in 0..10 {
        let (t, s) = (m.ratio[c], sim.mech.ratio[c]);
        assert!(
            (t - s).abs() < 0.15 * s,
            "row {c}: theory ratio {t} vs simulation {s}"
        );
    }
}
