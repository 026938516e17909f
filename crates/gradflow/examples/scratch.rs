use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;
use std::io::{Read, Write};
use std::time::Instant;

fn gram(n_counts: &[usize], p: usize, snr: f64) -> (Mat<f64>, Vec<usize>) {
    let labels: Vec<usize> = n_counts.iter().enumerate().flat_map(|(c, &m)| std::iter::repeat_n(c, m)).collect();
    let n = labels.len();
    let path = format!("/tmp/gradflow_gram_{n}_{p}.bin");
    if let Ok(mut f) = std::fs::File::open(&path) {
        let mut buf = vec![];
        f.read_to_end(&mut buf).unwrap();
        let v: Vec<f64> = buf.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        return (Mat::from_fn(n, n, |i, j| v[j * n + i]), labels);
    }
    let mut g = Mat::<f64>::zeros(n, n);
    let chunk = 2000;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
    let t = Instant::now();
    for c0 in (0..p).step_by(chunk) {
        let w = chunk.min(p - c0);
        let noise: Vec<f64> = (0..n * w).map(|_| rng.sample(StandardNormal)).collect();
        let x = Mat::from_fn(n, w, |i, j| noise[j * n + i] + if c0 + j == labels[i] { snr } else { 0.0 });
        matmul(g.as_mut(), Accum::Add, x.as_ref(), x.transpose(), 1.0, Par::rayon(0));
    }
    eprintln!("gram took {:?}", t.elapsed());
    let mut f = std::fs::File::create(&path).unwrap();
    let mut buf = Vec::with_capacity(n * n * 8);
    for j in 0..n { for i in 0..n { buf.extend_from_slice(&g[(i, j)].to_le_bytes()); } }
    f.write_all(&buf).unwrap();
    (g, labels)
}

fn chunked(gram: MatRef<f64>, b: MatRef<f64>, z: &mut Mat<f64>, chunk: usize, transposed: bool) {
    z.as_mut().par_row_chunks_mut(chunk).enumerate().for_each(|(j, zc)| {
        let r0 = j * chunk;
        let rows = zc.nrows();
        let lhs = if transposed { gram.subcols(r0, rows).transpose() } else { gram.subrows(r0, rows) };
        matmul(zc, Accum::Replace, lhs, b, 1.0, Par::Seq);
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let small = args[1] == "small";
    let mode = args[2].as_str();
    let counts: Vec<usize> = if small { vec![200,200,200,200,200,20,20,20,20,20] } else { vec![1000,1000,1000,1000,1000,100,100,100,100,100] };
    let (g, labels) = gram(&counts, 20000, 10.0);
    let n = g.nrows();
    let k = 10;
    let loss = imbalance_losses::Method::Ce.loss(&counts).unwrap();
    let b = Mat::from_fn(n, k, |i, c| ((i * 7 + c * 3) as f64).sin());
    let mut z = Mat::<f64>::zeros(n, k);
    let reps = 10;
    if mode == "solve" {
        let tt: f64 = args[3].parse().unwrap();
        let mut opts = imbalance_gradflow::FlowOptions::default();
        opts.ode.rtol = args[4].parse().unwrap();
        let t = Instant::now();
        let r = imbalance_gradflow::gradient_flow(g.as_ref(), &labels, &loss, tt, &opts).unwrap();
        eprintln!("T {tt} rtol {}: {:?} steps {} evals {} ({:?} per eval)", opts.ode.rtol, t.elapsed(), r.steps, r.rhs_evals, t.elapsed() / r.rhs_evals as u32);
    }
    if mode == "orient" {
        let bt_view = b.transpose();
        let bt_owned = b.transpose().to_owned();
        let b_row = { let mut v = vec![0.0; n * k]; for i in 0..n { for c in 0..k { v[i * k + c] = b[(i, c)]; } } v };
        let b_rowmaj = MatRef::from_row_major_slice(&b_row, n, k);
        let mut zt = Mat::<f64>::zeros(k, n);
        for round in 0..3 {
            let t = Instant::now();
            for _ in 0..5 { chunked(g.as_ref(), b.as_ref(), &mut z, 64, true); }
            eprint!("round {round}: current {:?}", t.elapsed() / 5);
            let t = Instant::now();
            for _ in 0..5 { chunked(g.as_ref(), b_rowmaj, &mut z, 64, true); }
            eprint!(" | current, B row-major {:?}", t.elapsed() / 5);
            for w in [64usize, 256, 1024] {
                for (name, bt) in [("view", bt_view), ("owned", bt_owned.as_ref())] {
                    let t = Instant::now();
                    for _ in 0..5 {
                        zt.as_mut().par_col_chunks_mut(w).enumerate().for_each(|(j, zc)| {
                            let c0 = j * w; let cols = zc.ncols();
                            matmul(zc, Accum::Replace, bt, g.subcols(c0, cols), 1.0, Par::Seq);
                        });
                    }
                    eprint!(" | Zt w={w} {name} {:?}", t.elapsed() / 5);
                }
            }
            eprintln!();
        }
    }
    if mode == "cmp" {
        for round in 0..4 {
            let t = Instant::now();
            for _ in 0..5 { chunked(g.as_ref(), b.as_ref(), &mut z, 64, true); }
            let a = t.elapsed() / 5;
            let t = Instant::now();
            for _ in 0..5 { std::hint::black_box(imbalance_gradflow::training_loss(g.as_ref(), &labels, &loss, b.as_ref())); }
            let c = t.elapsed() / 5;
            let t = Instant::now();
            let mut s = 0.0;
            for _ in 0..5 { for j in 0..n { s += g.col(j).try_as_col_major().unwrap().as_slice().iter().sum::<f64>(); } }
            let r = t.elapsed() / 5;
            eprintln!("round {round}: chunked {a:?} sym+loss {c:?} read {r:?} {}", s > 0.0);
        }
    }
    if mode == "prod" {
        for _ in 0..2 { chunked(g.as_ref(), b.as_ref(), &mut z, 64, true); }
        let t = Instant::now();
        for _ in 0..reps { chunked(g.as_ref(), b.as_ref(), &mut z, 64, true); }
        eprintln!("chunked 64 transposed: {:?}", t.elapsed() / reps);
        let t = Instant::now();
        for _ in 0..reps { matmul(z.as_mut(), Accum::Replace, g.as_ref(), b.as_ref(), 1.0, Par::rayon(0)); }
        eprintln!("faer rayon: {:?}", t.elapsed() / reps);
        let t = Instant::now();
        let mut s = 0.0;
        for _ in 0..reps { for j in 0..n { s += g.col(j).try_as_col_major().unwrap().as_slice().iter().sum::<f64>(); } }
        eprintln!("plain sequential read of the gram: {:?} ({s})", t.elapsed() / reps);
        let t = Instant::now();
        for _ in 0..reps { std::hint::black_box(imbalance_gradflow::training_loss(g.as_ref(), &labels, &loss, b.as_ref())); }
        eprintln!("training_loss: {:?}", t.elapsed() / reps);
    }
    if mode == "ode" {
        let tt: f64 = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(1e6);
        let mut opts = imbalance_gradflow::FlowOptions::default();
        opts.ode.rtol = 1e-10; opts.ode.atol = 1e-13;
        let t = Instant::now();
        let reference = imbalance_gradflow::gradient_flow(g.as_ref(), &labels, &loss, tt, &opts).unwrap();
        eprintln!("reference T {tt}: {:?} evals {}", t.elapsed(), reference.rhs_evals);
        let nref = reference.a.norm_l2();
        for rtol in [1e-7, 1e-6, 1e-5, 1e-4, 1e-3] {
            let mut opts = imbalance_gradflow::FlowOptions::default();
            opts.ode.rtol = rtol;
            let t = Instant::now();
            let r = imbalance_gradflow::gradient_flow(g.as_ref(), &labels, &loss, tt, &opts).unwrap();
            let err = (&r.a - &reference.a).norm_l2() / nref;
            eprintln!("rtol {rtol:e} T {tt}: {:?}, steps {} evals {} rel err of A {err:.2e} loss {:.6e}", t.elapsed(), r.steps, r.rhs_evals, r.final_loss);
        }
    }
    if mode == "qp" {
        for tol in [1e-4, 1e-6] {
            let mut opts = imbalance_gradflow::FlowOptions::default();
            opts.qp_tol = tol;
            let t = Instant::now();
            let r = imbalance_gradflow::max_margin(g.as_ref(), &labels, loss.delta(), &opts);
            match r { Ok(r) => eprintln!("qp tol {tol:e}: {:?} sweeps {}", t.elapsed(), r.steps), Err(e) => eprintln!("qp tol {tol:e}: {:?} {e}", t.elapsed()) }
        }
    }
}
