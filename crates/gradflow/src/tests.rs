use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use imbalance_losses::{Loss, Method};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64;

use super::*;
use crate::flow::{Rhs, lambda_max};

/// A tiny Gaussian mixture: class c has `counts[c]` points `x = snr * e_c + z`, `z ~ N(0, I_p)`.
/// Returns X (n x p), the labels and the Gram matrix X X^T.
fn mixture(counts: &[usize], p: usize, snr: f64, seed: u64) -> (Mat<f64>, Vec<usize>, Mat<f64>) {
    let mut rng = Pcg64::seed_from_u64(seed);
    let labels: Vec<usize> = counts
        .iter()
        .enumerate()
        .flat_map(|(c, &nc)| std::iter::repeat_n(c, nc))
        .collect();
    let n = labels.len();
    let noise: Vec<f64> = (0..n * p).map(|_| rng.sample(StandardNormal)).collect();
    let x = Mat::from_fn(n, p, |i, j| {
        noise[i * p + j] + if j == labels[i] { snr } else { 0.0 }
    });
    let gram = gram_of(x.as_ref());
    (x, labels, gram)
}

fn gram_of(x: MatRef<'_, f64>) -> Mat<f64> {
    let mut g = Mat::zeros(x.nrows(), x.nrows());
    matmul(g.as_mut(), Accum::Replace, x, x.transpose(), 1.0, Par::Seq);
    // Exactly symmetric (the product is symmetric up to round-off only).
    Mat::from_fn(x.nrows(), x.nrows(), |i, j| 0.5 * (g[(i, j)] + g[(j, i)]))
}

fn counts_of(labels: &[usize], k: usize) -> Vec<usize> {
    (0..k)
        .map(|c| labels.iter().filter(|&&l| l == c).count())
        .collect()
}

/// `tr(A1^T Kmat A2)`: the Frobenius inner product of `W1 = A1^T X` and `W2 = A2^T X`.
fn inner(gram: MatRef<'_, f64>, a1: MatRef<'_, f64>, a2: MatRef<'_, f64>) -> f64 {
    let mut ka = Mat::zeros(a2.nrows(), a2.ncols());
    matmul(ka.as_mut(), Accum::Replace, gram, a2, 1.0, Par::Seq);
    (0..a1.nrows())
        .flat_map(|i| (0..a1.ncols()).map(move |c| (i, c)))
        .map(|(i, c)| a1[(i, c)] * ka[(i, c)])
        .sum()
}

fn cosine(gram: MatRef<'_, f64>, a1: MatRef<'_, f64>, a2: MatRef<'_, f64>) -> f64 {
    inner(gram, a1, a2) / (inner(gram, a1, a1) * inner(gram, a2, a2)).sqrt()
}

fn all_presets() -> Vec<Method> {
    vec![
        Method::Ce,
        Method::Wce { beta: 1.0 },
        Method::La { tau: 1.0 },
        Method::PostHoc { tau: 1.0 },
        Method::Cdt { gamma: 0.5 },
        Method::Ldam { c: 1.0 },
        Method::Vs {
            gamma: 0.2,
            tau: 1.0,
        },
    ]
}

fn tight() -> FlowOptions {
    FlowOptions::default().with_ode(OdeOptions::default().with_rtol(1e-10).with_atol(1e-13))
}

// ---------------------------------------------------------------- Horizon

#[test]
fn horizon_parses_and_round_trips() {
    assert_eq!("1e4".parse::<Horizon>().unwrap(), Horizon::Finite(1e4));
    assert_eq!("100".parse::<Horizon>().unwrap(), Horizon::Finite(100.0));
    assert_eq!(" 0.5 ".parse::<Horizon>().unwrap(), Horizon::Finite(0.5));
    for s in ["inf", "INF", "infinity", "Infinity", "+inf", "1e400"] {
        assert_eq!(s.parse::<Horizon>().unwrap(), Horizon::Infinite, "{s}");
    }
    for h in [
        Horizon::Finite(100.0),
        Horizon::Finite(1e6),
        Horizon::Finite(1e12),
        Horizon::Finite(0.25),
        Horizon::Finite(12345.678),
        Horizon::Infinite,
    ] {
        assert_eq!(h.to_string().parse::<Horizon>().unwrap(), h, "{h}");
    }
    assert_eq!(Horizon::Finite(1e6).to_string(), "1e6");
    assert_eq!(Horizon::Finite(100.0).to_string(), "100");
    assert_eq!(Horizon::Infinite.to_string(), "inf");
}

#[test]
fn horizon_rejects_bad_strings() {
    for s in [
        "0", "-1", "-inf", "nan", "NaN", "abc", "", "1e4x", "1,5", "0.0",
    ] {
        let err = s.parse::<Horizon>().unwrap_err();
        assert_eq!(
            err,
            HorizonError {
                value: s.to_string()
            }
        );
        let msg = err.to_string();
        assert!(
            msg.contains("positive number") && msg.contains("inf"),
            "{msg}"
        );
    }
}

// ---------------------------------------------------------------- dual GF = primal GD

/// Primal gradient descent on W (K x p) from 0 with step `eta`, recorded at `times` (multiples
/// of `eta`). Plain loops over a row-major copy of X: the steps are tiny, so call overhead
/// would dominate.
fn primal_gd(
    x: MatRef<'_, f64>,
    labels: &[usize],
    loss: &Loss,
    times: &[f64],
    eta: f64,
) -> Vec<Mat<f64>> {
    let (n, p, k) = (x.nrows(), x.ncols(), loss.k());
    let xr: Vec<f64> = (0..n)
        .flat_map(|i| (0..p).map(move |j| x[(i, j)]))
        .collect();
    let mut w = vec![0.0; k * p]; // row-major K x p
    let (mut zi, mut gi) = (vec![0.0; k], vec![0.0; k]);
    let mut grad = vec![0.0; k * p];
    let mut done = 0usize;
    let mut out = vec![];
    for &t in times {
        let target = (t / eta).round() as usize;
        assert!(
            ((target as f64) * eta - t).abs() < 1e-9 * t,
            "times must be multiples of eta"
        );
        for _ in done..target {
            grad.fill(0.0);
            for i in 0..n {
                let xi = &xr[i * p..(i + 1) * p];
                for c in 0..k {
                    zi[c] = w[c * p..(c + 1) * p]
                        .iter()
                        .zip(xi)
                        .map(|(a, b)| a * b)
                        .sum();
                }
                loss.value_and_grad(&zi, labels[i], &mut gi);
                for c in 0..k {
                    for (gr, xv) in grad[c * p..(c + 1) * p].iter_mut().zip(xi) {
                        *gr += gi[c] * xv;
                    }
                }
            }
            let step = eta / n as f64;
            for (wv, gv) in w.iter_mut().zip(&grad) {
                *wv -= step * gv;
            }
        }
        done = target;
        out.push(Mat::from_fn(k, p, |c, j| w[c * p + j]));
    }
    out
}

fn rel_dist(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    (a - b).norm_l2() / b.norm_l2()
}

/// The dual flow must be the small-step limit of primal gradient descent on W = A^T X (explicit
/// X, n = 30, p = 50, K = 3). Forward Euler with step eta has a global error O(eta): about
/// (eta/2) * (lambda_max/n) relative over the fast transient, so with eta * lambda_max / n =
/// 2e-3 the relative distance is below 1e-3 (measured 2e-5 .. 2.5e-4). The stronger checks:
/// halving eta halves the distance (ratio 0.5 +- 0.02; measured 0.500), and the Richardson
/// extrapolation 2 W(eta/2) - W(eta), whose error is O(eta^2) ~ (2e-3)^2, is within 1e-6 of the
/// flow (measured 1e-9 .. 5e-8). The ODE runs at rtol 1e-10, far below all of these.
fn check_gf_equals_gd(method: Method) {
    let (x, labels, gram) = mixture(&[15, 10, 5], 50, 2.0, 7);
    let loss = method.loss(&counts_of(&labels, 3)).unwrap();
    let n = labels.len() as f64;
    let t_first = 0.25;
    let eta_target = 2e-3 * n / lambda_max(gram.as_ref());
    let eta = t_first / (t_first / eta_target).round();
    let times = [t_first, 2.5, 10.0];
    let gf = gradient_flow_path(gram.as_ref(), &labels, &loss, &times, &tight()).unwrap();
    let gd1 = primal_gd(x.as_ref(), &labels, &loss, &times, eta);
    let gd2 = primal_gd(x.as_ref(), &labels, &loss, &times, eta / 2.0);
    for (j, &t) in times.iter().enumerate() {
        let w_gf = gf[j].a.transpose() * &x;
        let (d1, d2) = (
            rel_dist(gd1[j].as_ref(), w_gf.as_ref()),
            rel_dist(gd2[j].as_ref(), w_gf.as_ref()),
        );
        let extrap = &gd2[j] * 2.0 - &gd1[j];
        let d_ex = rel_dist(extrap.as_ref(), w_gf.as_ref());
        assert!(d1 < 1e-3, "{method} T={t}: |W_gd - W_gf| / |W_gf| = {d1}");
        assert!(
            (0.48..0.52).contains(&(d2 / d1)),
            "{method} T={t}: ratio {}",
            d2 / d1
        );
        assert!(d_ex < 1e-6, "{method} T={t}: extrapolated {d_ex} vs {d1}");
        assert!(w_gf.norm_l2() > 0.1, "the flow must have moved");
    }
}

#[test]
fn gf_equals_primal_gd_ce() {
    check_gf_equals_gd(Method::Ce);
}

#[test]
fn gf_equals_primal_gd_la() {
    check_gf_equals_gd(Method::La { tau: 1.0 });
}

#[test]
fn gf_equals_primal_gd_cdt() {
    check_gf_equals_gd(Method::Cdt { gamma: 0.5 });
}

#[test]
fn gf_equals_primal_gd_ldam() {
    check_gf_equals_gd(Method::Ldam { c: 1.0 });
}

#[test]
fn gf_equals_primal_gd_wce() {
    check_gf_equals_gd(Method::Wce { beta: 1.0 });
}

// ---------------------------------------------------------------- monotone loss

/// Along gradient flow dL/dt = -|grad L|^2 <= 0. Checked after every accepted ODE step to
/// T = 1e8 and at the times of a path, for every preset. Allowed slack: 1e-12 relative (the
/// loss is evaluated in floating point, and at large T it is tiny).
#[test]
fn training_loss_never_increases() {
    let (_, labels, gram) = mixture(&[20, 8, 4], 40, 2.0, 11);
    let counts = counts_of(&labels, 3);
    let n = labels.len();
    for method in all_presets() {
        let loss = method.loss(&counts).unwrap();
        let opts = FlowOptions::default();
        let t0 = flow::resolve_t0(gram.as_ref(), &opts.ode);
        let mut rhs = Rhs::new(gram.as_ref(), None, &labels, &loss);
        let s = rhs.scale;
        let mut state = vec![0.0; n * 3];
        let zero = training_loss(gram.as_ref(), &labels, &loss, Mat::zeros(n, 3).as_ref());
        let mut losses = vec![zero];
        let stats = ode::integrate(
            &mut state,
            1e8,
            &opts.ode.with_t0(Some(t0)),
            |_, b, db| {
                rhs.eval(b, db);
            },
            |_, b| {
                let a = MatRef::from_column_major_slice(b, n, 3) / s;
                losses.push(training_loss(gram.as_ref(), &labels, &loss, a.as_ref()));
            },
        )
        .unwrap();
        assert_eq!(losses.len(), stats.steps + 1);
        for w in losses.windows(2) {
            assert!(
                w[1] <= w[0] * (1.0 + 1e-12),
                "{method}: loss rose from {} to {}",
                w[0],
                w[1]
            );
        }
        assert!(
            *losses.last().unwrap() < 1e-3 * zero,
            "{method}: final loss {losses:?}"
        );

        let times = [0.1, 1.0, 10.0, 1e3, 1e5, 1e9];
        let path = gradient_flow_path(gram.as_ref(), &labels, &loss, &times, &opts).unwrap();
        for w in path.windows(2) {
            assert!(
                w[1].final_loss().unwrap() <= w[0].final_loss().unwrap() * (1.0 + 1e-12),
                "{method}"
            );
            let steps = |t: &Trained| match t.solver {
                SolverStats::Flow { ode, .. } => ode.steps,
                SolverStats::MaxMargin { .. } => unreachable!("finite times"),
            };
            assert!(w[1].rhs_evals() > w[0].rhs_evals() && steps(&w[1]) > steps(&w[0]));
        }
        assert!(path[0].final_loss().unwrap() < zero);
    }
}

// ---------------------------------------------------------------- T = infinity

/// Checks the max-margin solution independently of the solver: margins from a fresh Z = Kmat A,
/// the dual variables recovered from A, complementary slackness, and the duality gap
/// (|W|^2 = sum alpha at the optimum of min |W|^2/2 and its dual).
fn check_kkt(gram: MatRef<'_, f64>, labels: &[usize], delta: &[f64], a: MatRef<'_, f64>, tol: f64) {
    let (n, k) = (labels.len(), delta.len());
    let mut z = Mat::zeros(n, k);
    matmul(z.as_mut(), Accum::Replace, gram, a, 1.0, Par::Seq);
    let mut sum_alpha = 0.0;
    let mut active = 0;
    for i in 0..n {
        let y = labels[i];
        let mut alpha_sum_i = 0.0;
        for c in (0..k).filter(|&c| c != y) {
            let alpha = -a[(i, c)] / delta[c];
            let margin = delta[y] * z[(i, y)] - delta[c] * z[(i, c)];
            assert!(alpha >= 0.0, "alpha[{i},{c}] = {alpha}");
            assert!(margin >= 1.0 - tol, "margin[{i},{c}] = {margin}");
            assert!(
                alpha * (margin - 1.0).abs() <= tol * alpha.max(1e-300),
                "slackness {i},{c}: {alpha} {margin}"
            );
            if alpha > 0.0 {
                active += 1;
            }
            alpha_sum_i += alpha;
        }
        assert!((a[(i, y)] - delta[y] * alpha_sum_i).abs() <= 1e-12 * a[(i, y)].abs().max(1e-300));
        sum_alpha += alpha_sum_i;
    }
    assert!(active > 0);
    let w2 = inner(gram, a, a);
    assert!(
        (w2 - sum_alpha).abs() < 10.0 * tol * w2,
        "duality gap: |W|^2 = {w2}, sum alpha = {sum_alpha}"
    );
}

#[test]
fn max_margin_two_orthogonal_points_by_hand() {
    // x0 = e0 (class 0), x1 = e1 (class 1), Gram = I. Delta = (1, 1): by symmetry
    // W = (e0 - e1)/2 per row sign, i.e. A = [[1/2, -1/2], [-1/2, 1/2]], margins exactly 1.
    // Delta = (2, 1): sample 0 minimises a^2 + b^2 s.t. 2a - b >= 1 -> (a, b) = (2, -1)/5;
    // sample 1 minimises s.t. b - 2a >= 1 -> (a, b) = (-2, 1)/5.
    let gram = Mat::<f64>::identity(2, 2);
    let opts = FlowOptions {
        qp_tol: 1e-12,
        ..FlowOptions::default()
    };
    let r = max_margin(gram.as_ref(), &[0, 1], &[1.0, 1.0], &opts).unwrap();
    let want = [[0.5, -0.5], [-0.5, 0.5]];
    for i in 0..2 {
        for c in 0..2 {
            assert!((r.a[(i, c)] - want[i][c]).abs() < 1e-12, "{:?}", r.a);
        }
    }
    let r = max_margin(gram.as_ref(), &[0, 1], &[2.0, 1.0], &opts).unwrap();
    let want = [[0.4, -0.2], [-0.4, 0.2]];
    for i in 0..2 {
        for c in 0..2 {
            assert!((r.a[(i, c)] - want[i][c]).abs() < 1e-12, "{:?}", r.a);
        }
    }
    assert_eq!(r.horizon, Horizon::Infinite);
    assert!(r.final_loss().is_none() && r.rhs_evals() == 0);
    assert!(matches!(r.solver, SolverStats::MaxMargin { sweeps } if sweeps >= 1));
}

#[test]
fn max_margin_satisfies_constraints_and_kkt() {
    let (_, labels, gram) = mixture(&[30, 12, 6, 3], 80, 2.0, 3);
    let counts = counts_of(&labels, 4);
    let opts = FlowOptions::default();
    let deltas = [
        Method::Ce.loss(&counts).unwrap().delta().to_vec(),
        Method::Cdt { gamma: 0.5 }
            .loss(&counts)
            .unwrap()
            .delta()
            .to_vec(),
        vec![0.3, 2.0, 1.0, 5.0],
    ];
    for delta in deltas {
        let r = max_margin(gram.as_ref(), &labels, &delta, &opts).unwrap();
        // The solver's tolerance is 1e-6 on the projected gradient; round-off of the check
        // itself is ~1e-13.
        check_kkt(gram.as_ref(), &labels, &delta, r.a.as_ref(), 2e-6);
        assert!(matches!(r.solver, SolverStats::MaxMargin { sweeps } if sweeps >= 1));
        // train() with the CDT loss uses its Delta.
    }
    let cdt = Method::Cdt { gamma: 0.5 }.loss(&counts).unwrap();
    let r = train(gram.as_ref(), &labels, &cdt, Horizon::Infinite, &opts).unwrap();
    check_kkt(gram.as_ref(), &labels, cdt.delta(), r.a.as_ref(), 2e-6);
}

// ---------------------------------------------------------------- GF -> max margin

/// The direction of W(T) converges to the max-margin direction, slowly (error ~ 1/log T).
/// Cosine similarity with the inner product tr(A1^T Kmat A2) must rise at every step of
/// T = 1e2, 1e4, 1e8, 1e12 and end close to 1. Methods with the same Delta share the limit.
#[test]
fn gf_direction_approaches_max_margin() {
    let (_, labels, gram) = mixture(&[16, 8, 4], 60, 2.5, 5);
    let counts = counts_of(&labels, 3);
    let times = [1e2, 1e4, 1e8, 1e12];
    for method in [
        Method::Ce,
        Method::Cdt { gamma: 0.5 },
        Method::La { tau: 1.0 },
        Method::Ldam { c: 1.0 },
    ] {
        let loss = method.loss(&counts).unwrap();
        let limit = max_margin(
            gram.as_ref(),
            &labels,
            loss.delta(),
            &FlowOptions::default(),
        )
        .unwrap();
        let path = gradient_flow_path(
            gram.as_ref(),
            &labels,
            &loss,
            &times,
            &FlowOptions::default(),
        )
        .unwrap();
        let cos: Vec<f64> = path
            .iter()
            .map(|p| cosine(gram.as_ref(), p.a.as_ref(), limit.a.as_ref()))
            .collect();
        eprintln!("{method}: cosines {cos:?}");
        assert!(cos.windows(2).all(|w| w[1] > w[0]), "{method}: {cos:?}");
        assert!(cos[3] > 0.99, "{method}: {cos:?}");
    }
}

// ---------------------------------------------------------------- cost

/// In log-time the late phase (margins growing like log t) takes steps of constant size in u,
/// so T = 1e12 needs about as many steps as T = 1e3 (u = ln(1 + T/t0) is only ~4x larger).
#[test]
fn long_horizon_costs_little_more() {
    let (_, labels, gram) = mixture(&[40, 10, 5], 100, 2.0, 13);
    let counts = counts_of(&labels, 3);
    for method in [
        Method::Ce,
        Method::La { tau: 1.0 },
        Method::Cdt { gamma: 0.5 },
    ] {
        let loss = method.loss(&counts).unwrap();
        let evals = |t: f64| {
            gradient_flow(gram.as_ref(), &labels, &loss, t, &FlowOptions::default())
                .unwrap()
                .rhs_evals()
        };
        let (short, mid, long) = (evals(1e3), evals(1e6), evals(1e12));
        eprintln!("{method}: rhs_evals T=1e3 {short}, 1e6 {mid}, 1e12 {long}");
        assert!(
            long < 3 * short,
            "{method}: T=1e12 took {long}, T=1e3 {short}"
        );
    }
}

// ---------------------------------------------------------------- details

#[test]
fn lambda_max_estimate_is_within_a_factor_two() {
    // diag(1..=40) has lambda_max = 40; a rank-one plus identity has lambda_max = 1 + n, and
    // the other eigenvalues are all 1, so 4 power iterations get it to ~(1/31)^8 relative.
    let d = Mat::from_fn(40, 40, |i, j| if i == j { (i + 1) as f64 } else { 0.0 });
    let l = lambda_max(d.as_ref());
    assert!((20.0..=40.0 + 1e-9).contains(&l), "{l}");
    let r = Mat::from_fn(30, 30, |i, j| 1.0 + if i == j { 1.0 } else { 0.0 });
    let l = lambda_max(r.as_ref());
    assert!((l - 31.0).abs() < 1e-6, "{l}");
}

#[test]
fn user_t0_gives_the_same_flow() {
    let (_, labels, gram) = mixture(&[10, 5], 30, 2.0, 17);
    let loss = Method::La { tau: 1.0 }.loss(&[10, 5]).unwrap();
    let auto = gradient_flow(gram.as_ref(), &labels, &loss, 1e3, &tight()).unwrap();
    let mut opts = tight();
    opts.ode.t0 = Some(3.0);
    let manual = gradient_flow(gram.as_ref(), &labels, &loss, 1e3, &opts).unwrap();
    assert!(rel_dist(manual.a.as_ref(), auto.a.as_ref()) < 1e-7);
    let (manual, auto) = (manual.final_loss().unwrap(), auto.final_loss().unwrap());
    assert!((manual - auto).abs() < 1e-7 * auto);
}

#[test]
fn a_path_matches_separate_solves() {
    // One integration through several times equals separate integrations to each time, to
    // the ODE tolerance (rtol 1e-10 here; the two use different step sequences).
    let (_, labels, gram) = mixture(&[12, 6, 3], 40, 2.0, 37);
    let loss = Method::Cdt { gamma: 0.5 }.loss(&[12, 6, 3]).unwrap();
    let times = [0.5, 50.0, 5e4];
    let path = gradient_flow_path(gram.as_ref(), &labels, &loss, &times, &tight()).unwrap();
    for (p, &t) in path.iter().zip(&times) {
        let single = gradient_flow(gram.as_ref(), &labels, &loss, t, &tight()).unwrap();
        assert!(rel_dist(p.a.as_ref(), single.a.as_ref()) < 1e-8, "T = {t}");
        assert_eq!(p.horizon, Horizon::Finite(t));
    }
    assert!(
        gradient_flow_path(gram.as_ref(), &labels, &loss, &[], &tight())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn any_gram_layout_gives_the_same_result() {
    // A row-major view (the transpose of a symmetric column-major matrix) and a strided
    // submatrix view give bit-identical results: the code reads the same numbers.
    let (_, labels, gram) = mixture(&[10, 5, 3], 30, 2.0, 41);
    let loss = Method::Ldam { c: 1.0 }.loss(&[10, 5, 3]).unwrap();
    let n = labels.len();
    let big = Mat::from_fn(n + 3, n + 5, |i, j| {
        if i < n && j < n {
            gram[(i, j)]
        } else {
            f64::NAN
        }
    });
    let views = [
        gram.as_ref(),
        gram.as_ref().transpose(),
        big.as_ref().submatrix(0, 0, n, n),
    ];
    let d = FlowOptions::default();
    let gf: Vec<Mat<f64>> = views
        .iter()
        .map(|g| gradient_flow(*g, &labels, &loss, 100.0, &d).unwrap().a)
        .collect();
    let mm: Vec<Mat<f64>> = views
        .iter()
        .map(|g| max_margin(*g, &labels, loss.delta(), &d).unwrap().a)
        .collect();
    assert!(gf[1] == gf[0] && gf[2] == gf[0]);
    assert!(mm[1] == mm[0] && mm[2] == mm[0]);
}

#[test]
fn training_loss_and_logits_are_consistent() {
    let (x, labels, gram) = mixture(&[6, 4, 2], 20, 1.5, 19);
    let loss = Method::Ce.loss(&[6, 4, 2]).unwrap();
    // At A = 0 every logit is 0 and the CE loss is ln K.
    let zero = training_loss(gram.as_ref(), &labels, &loss, Mat::zeros(12, 3).as_ref());
    assert!((zero - 3f64.ln()).abs() < 1e-15);
    let r = train(
        gram.as_ref(),
        &labels,
        &loss,
        Horizon::Finite(50.0),
        &FlowOptions::default(),
    )
    .unwrap();
    assert_eq!(r.horizon, Horizon::Finite(50.0));
    assert!(r.final_loss().unwrap() < zero);
    assert_eq!(
        r.final_loss().unwrap(),
        training_loss(gram.as_ref(), &labels, &loss, r.a.as_ref())
    );
    // Logits of new points from kernel rows equal W x_new with W = A^T X.
    let (x_new, _, _) = mixture(&[2, 2, 1], 20, 1.5, 23);
    let mut k_new = Mat::zeros(5, 12);
    matmul(
        k_new.as_mut(),
        Accum::Replace,
        x_new.as_ref(),
        x.transpose(),
        1.0,
        Par::Seq,
    );
    let z = logits(r.a.as_ref(), k_new.as_ref());
    let w = r.a.transpose() * &x;
    let direct = &x_new * w.transpose();
    assert!(rel_dist(z.as_ref(), direct.as_ref()) < 1e-12);
}

/// `f` run on a rayon pool of `threads` threads.
fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(f)
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (_, labels, gram) = mixture(&[300, 60, 20], 50, 2.0, 29);
    let loss = Method::Ldam { c: 1.0 }
        .loss(&counts_of(&labels, 3))
        .unwrap();
    let run = |threads: usize| {
        in_pool(threads, || {
            let gf =
                gradient_flow(gram.as_ref(), &labels, &loss, 1e4, &FlowOptions::default()).unwrap();
            let mm = max_margin(
                gram.as_ref(),
                &labels,
                loss.delta(),
                &FlowOptions::default(),
            )
            .unwrap();
            (gf, mm)
        })
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.0, two.0);
    assert_eq!(one.1, two.1);
}

#[test]
fn the_factored_product_gives_the_dense_flow() {
    // p = 40 < n / 2 = 190 (chunks of 256 samples are crossed: n = 380). The factored
    // product F (F^T B) and the dense one Kmat B differ only in rounding, so the solver takes
    // the same steps and the duals agree to rounding, far below the solver's rtol of 1e-6.
    let counts = [200, 120, 60];
    let (x, labels, gram) = mixture(&counts, 40, 2.0, 31);
    for method in [Method::Ce, Method::La { tau: 1.0 }] {
        let loss = method.loss(&counts).unwrap();
        let opts = FlowOptions::default();
        let horizon = Horizon::Finite(1e4);
        let dense = train(gram.as_ref(), &labels, &loss, horizon, &opts).unwrap();
        let run = |threads: usize| {
            in_pool(threads, || {
                train_with_factor(
                    gram.as_ref(),
                    Some(x.as_ref()),
                    &labels,
                    &loss,
                    horizon,
                    &opts,
                )
                .unwrap()
            })
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one, two, "{method}: thread-count dependent");
        assert_eq!(one.rhs_evals(), dense.rhs_evals(), "{method}");
        let d = rel_dist(one.a.as_ref(), dense.a.as_ref());
        assert!(d < 1e-11, "{method}: relative distance {d:e}");
    }
}

#[test]
fn rejects_a_factor_of_another_matrix() {
    let counts = [20, 10];
    let (x, labels, gram) = mixture(&counts, 8, 2.0, 37);
    let loss = Method::Ce.loss(&counts).unwrap();
    let (h, d) = (Horizon::Finite(10.0), FlowOptions::default());
    let err = train_with_factor(gram.as_ref(), Some(x.transpose()), &labels, &loss, h, &d);
    assert!(matches!(
        err,
        Err(Error::FactorShape {
            rows: 8,
            cols: 30,
            n: 30
        })
    ));
    let scaled = Mat::from_fn(30, 8, |i, j| x[(i, j)] * if i == 7 { 1.01 } else { 1.0 });
    let err =
        train_with_factor(gram.as_ref(), Some(scaled.as_ref()), &labels, &loss, h, &d).unwrap_err();
    assert!(matches!(err, Error::FactorMismatch { row: 7, .. }), "{err}");
    assert!(err.to_string().contains("F F^T = Gram"), "{err}");
}

// ---------------------------------------------------------------- errors

#[test]
fn rejects_bad_shapes_and_labels() {
    let (_, labels, gram) = mixture(&[3, 2], 10, 1.0, 1);
    let loss = Method::Ce.loss(&[3, 2]).unwrap();
    let opts = FlowOptions::default();
    let go = |g: MatRef<'_, f64>, l: &[usize], h: Horizon| train(g, l, &loss, h, &opts).map(|_| ());
    for h in [Horizon::Finite(10.0), Horizon::Infinite] {
        let rect = Mat::<f64>::zeros(5, 4);
        assert_eq!(
            go(rect.as_ref(), &labels, h),
            Err(Error::GramNotSquare { rows: 5, cols: 4 })
        );
        assert_eq!(
            go(Mat::<f64>::zeros(0, 0).as_ref(), &[], h),
            Err(Error::Empty)
        );
        assert_eq!(
            go(gram.as_ref(), &labels[..4], h),
            Err(Error::LabelCount { labels: 4, n: 5 })
        );
        let bad = [0, 1, 2, 0, 1];
        assert_eq!(
            go(gram.as_ref(), &bad, h),
            Err(Error::LabelOutOfRange {
                index: 2,
                label: 2,
                k: 2
            })
        );
        let mut nan = gram.clone();
        nan[(1, 3)] = f64::NAN;
        assert!(matches!(
            go(nan.as_ref(), &labels, h),
            Err(Error::BadGram { .. })
        ));
        let mut asym = gram.clone();
        asym[(0, 4)] += 1.0;
        assert!(matches!(
            go(asym.as_ref(), &labels, h),
            Err(Error::BadGram { row: 0, col: 4, .. })
        ));
        let mut neg = gram.clone();
        neg[(2, 2)] = -1.0;
        assert!(matches!(
            go(neg.as_ref(), &labels, h),
            Err(Error::BadGram { row: 2, col: 2, .. })
        ));
    }
    let msg = go(gram.as_ref(), &[0, 1, 2, 0, 1], Horizon::Infinite)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("sample 2") && msg.contains("K = 2"), "{msg}");
}

#[test]
fn rejects_bad_times_and_options() {
    let (_, labels, gram) = mixture(&[3, 2], 10, 1.0, 1);
    let loss = Method::Ce.loss(&[3, 2]).unwrap();
    let g = gram.as_ref();
    let d = FlowOptions::default();
    for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(
                train(g, &labels, &loss, Horizon::Finite(t), &d),
                Err(Error::BadTime { .. })
            ),
            "{t}"
        );
        assert!(
            matches!(
                gradient_flow(g, &labels, &loss, t, &d),
                Err(Error::BadTime { .. })
            ),
            "{t}"
        );
    }
    assert!(matches!(
        gradient_flow_path(g, &labels, &loss, &[10.0, 5.0], &d),
        Err(Error::BadOption { name: "times", .. })
    ));
    let with_ode = |ode: OdeOptions| FlowOptions { ode, ..d };
    for (name, o) in [
        ("rtol", with_ode(d.ode.with_rtol(0.0))),
        ("atol", with_ode(d.ode.with_atol(-1.0))),
        ("t0", with_ode(d.ode.with_t0(Some(f64::NAN)))),
        ("t0", with_ode(d.ode.with_t0(Some(f64::INFINITY)))),
        ("t0", with_ode(d.ode.with_t0(Some(0.0)))),
        ("t0", with_ode(d.ode.with_t0(Some(-1.0)))),
        ("max_steps", with_ode(d.ode.with_max_steps(0))),
    ] {
        match gradient_flow(g, &labels, &loss, 10.0, &o) {
            Err(Error::Ode(OdeError::BadOption { name: got, .. })) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    // t0 = None is "automatic".
    assert!(gradient_flow(g, &labels, &loss, 10.0, &with_ode(d.ode.with_t0(None))).is_ok());
    let few = with_ode(d.ode.with_max_steps(2));
    assert!(matches!(
        gradient_flow(g, &labels, &loss, 1e6, &few),
        Err(Error::Ode(OdeError::TooManySteps { max_steps: 2, .. }))
    ));
    for (name, o) in [
        ("qp_tol", FlowOptions { qp_tol: 0.0, ..d }),
        (
            "qp_tol",
            FlowOptions {
                qp_tol: f64::NAN,
                ..d
            },
        ),
        (
            "qp_max_sweeps",
            FlowOptions {
                qp_max_sweeps: 0,
                ..d
            },
        ),
    ] {
        match max_margin(g, &labels, &[1.0, 1.0], &o) {
            Err(Error::BadOption { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    for delta in [
        vec![1.0],
        vec![1.0, 0.0],
        vec![1.0, -2.0],
        vec![f64::NAN, 1.0],
    ] {
        assert!(
            matches!(
                max_margin(g, &labels, &delta, &d),
                Err(Error::BadDelta { .. })
            ),
            "{delta:?}"
        );
    }
}

#[test]
fn max_margin_reports_failure() {
    // A zero feature vector can never reach margin 1.
    let mut gram = Mat::<f64>::identity(3, 3);
    gram[(1, 1)] = 0.0;
    let d = FlowOptions::default();
    assert_eq!(
        max_margin(gram.as_ref(), &[0, 1, 0], &[1.0, 1.0], &d).unwrap_err(),
        Error::Infeasible { index: 1 }
    );
    // The same point with two labels: not separable, the dual is unbounded.
    let twins = Mat::from_fn(2, 2, |_, _| 1.0);
    let opts = FlowOptions {
        qp_max_sweeps: 50,
        ..d
    };
    match max_margin(twins.as_ref(), &[0, 1], &[1.0, 1.0], &opts) {
        Err(
            e @ Error::QpNotConverged {
                sweeps: 50,
                violation,
                ..
            },
        ) => {
            assert!(violation > 1e-6);
            assert!(e.to_string().contains("not converge"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    // Too few sweeps for a real problem: the violation reached is reported.
    let (_, labels, gram) = mixture(&[30, 10], 40, 1.0, 2);
    let one = FlowOptions {
        qp_max_sweeps: 1,
        qp_tol: 1e-12,
        ..d
    };
    assert!(matches!(
        max_margin(gram.as_ref(), &labels, &[1.0, 1.0], &one),
        Err(Error::QpNotConverged { sweeps: 1, .. })
    ));
}

// ---------------------------------------------------------------- the per-sample kernel
