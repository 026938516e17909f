//! Tests of the mean-field theory, the closed forms, the mechanism and tuning.

use imbalance_losses::{Method, MethodName};

use crate::meanfield::{training_logits, weight_inner};
use crate::*;

fn no_refinement() -> PredictOptions {
    PredictOptions {
        refinement: false,
        ..Default::default()
    }
}

fn minority(p: &Prediction) -> f64 {
    *p.per_class_error.last().unwrap()
}

/// docs/theory.md §6, rows 1-6: (counts, p, s, T, method, mean-field minority error). Row 7 is
/// checked separately (`corrected_row_7_of_the_table`).
fn table() -> Vec<(Vec<usize>, usize, f64, f64, Method, f64)> {
    vec![
        (vec![200, 20], 2000, 5.0, 1e4, Method::Ce, 0.164),
        (
            vec![200, 20],
            2000,
            5.0,
            1e4,
            Method::La { tau: 1.0 },
            0.100,
        ),
        (
            vec![200, 20],
            2000,
            5.0,
            1e4,
            Method::Cdt { gamma: 0.5 },
            0.164,
        ),
        (
            vec![200, 20],
            2000,
            5.0,
            1e8,
            Method::La { tau: 1.0 },
            0.119,
        ),
        (vec![100, 100, 10, 10], 3000, 6.0, 1e6, Method::Ce, 0.409),
        (
            vec![100, 100, 10, 10],
            3000,
            6.0,
            1e6,
            Method::Cdt { gamma: 0.5 },
            0.225,
        ),
    ]
}

#[test]
fn corrected_row_7_of_the_table() {
    // docs/theory.md §6 row 7: K = 10, 5x100 + 5x20, p = 5000, s = 8, T = 1e6, CE, mean field
    // 0.150 (it once read 0.776 at T = inf, see `old_row_7_was_inconsistent_with_its_parameters`).
    // predict gives 0.1510 without the refinement term (0.1529 with it): 1.0e-3 above the
    // table, twice its rounding, where rows 1-6 agree within 1e-3 (the CE orthant is one-factor
    // here, so exact). Not explained; the 20-seed simulation (0.162 +- 0.003, README) cannot
    // tell the two apart. The tolerance states the measured gap rather than hiding it.
    let counts = vec![100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    let stats = MixtureStats::orthogonal(counts, 5000, 8.0, 1.0).unwrap();
    let plain = predict(&stats, &Method::Ce, Horizon::Finite(1e6), &no_refinement()).unwrap();
    let e = minority(&plain);
    assert!((e - 0.1510).abs() < 2e-4, "{e}");
    assert!((e - 0.150).abs() < 1.5e-3, "{e} vs table 0.150");
    assert!(plain.per_class_error[0] < 0.005);
}

#[test]
fn reproduces_the_mean_field_column_of_the_theory_table() {
    // The table gives 3 decimals (rounding error 5e-4); Genz adds <= 1e-4 (K = 4, 3-dim
    // orthants; the CE rows are one-factor and exact). Without the refinement term the
    // derivation's numbers come out within 1e-3; with it every error is 0.0005-0.0016 higher.
    for (counts, p, s, t, method, want) in table() {
        let stats = MixtureStats::orthogonal(counts.clone(), p, s, 1.0).unwrap();
        let plain = predict(&stats, &method, Horizon::Finite(t), &no_refinement()).unwrap();
        let refined = predict(
            &stats,
            &method,
            Horizon::Finite(t),
            &PredictOptions::default(),
        )
        .unwrap();
        let (e0, e1) = (minority(&plain), minority(&refined));
        assert!(
            (e0 - want).abs() < 1e-3,
            "{counts:?} T {t} {method}: {e0} vs table {want}"
        );
        assert!(
            e1 > e0 && e1 - e0 < 2e-3,
            "{counts:?} T {t} {method}: refined {e1} vs {e0}"
        );
        // Majority errors were all below 0.005.
        assert!(plain.per_class_error[0] < 0.005);
    }
}

#[test]
fn old_row_7_was_inconsistent_with_its_parameters() {
    // docs/theory.md §6 row 7 (K = 10, 5x100 + 5x20, p = 5000, s = 8, CE) once listed 0.776 at
    // T = inf, but the closed form gives 0.139 for these parameters (and an exact simulation of them gives
    // 0.14-0.18, see tests/theory_exact_simulation.rs of the facade crate). predict agrees with the closed form.
    let counts = vec![100, 100, 100, 100, 100, 20, 20, 20, 20, 20];
    let stats = MixtureStats::orthogonal(counts, 5000, 8.0, 1.0).unwrap();
    let closed = closed_form_infinite(&stats, &Method::Ce).unwrap();
    let pred = predict(&stats, &Method::Ce, Horizon::Infinite, &no_refinement()).unwrap();
    assert!((closed[9] - 0.1386).abs() < 5e-4, "{}", closed[9]);
    for (a, b) in closed.iter().zip(&pred.per_class_error) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn max_margin_dual_satisfies_kkt_and_the_orthogonal_closed_form() {
    // Orthogonal equal-norm means: a^(c) = (K e_c - 1) / (K lambda_c), all margins exactly 1.
    let counts = vec![120, 60, 30, 15, 8];
    let k = counts.len();
    let (s, sigma, p) = (3.0, 1.5, 700);
    let stats = MixtureStats::orthogonal(counts.clone(), p, s, sigma).unwrap();
    let a = max_margin_dual(&stats, &[1.0; 5]).unwrap();
    for c in 0..k {
        let lambda = sigma * sigma * p as f64 + counts[c] as f64 * s * s;
        for j in 0..k {
            let want = if j == c { (k - 1) as f64 } else { -1.0 } / (k as f64 * lambda);
            assert!(
                (a[c * k + j] - want).abs() < 1e-12 * want.abs(),
                "a[{c}][{j}]"
            );
        }
    }
    // General means and factors: margins >= 1, = 1 where the constraint is active; compare
    // with the QP's own stationarity (gradient n_c (1 - margin) = 0 on the support).
    let gram = vec![
        4.0, 1.0, 0.5, 0.0, //
        1.0, 3.0, 0.2, 0.4, //
        0.5, 0.2, 5.0, 1.0, //
        0.0, 0.4, 1.0, 2.0,
    ];
    let stats = MixtureStats::isotropic(vec![50, 20, 10, 5], 300, gram, 1.0).unwrap();
    let delta = [1.0, 0.7, 0.5, 0.3];
    let a = max_margin_dual(&stats, &delta).unwrap();
    let z = training_logits(&stats, &a);
    let k = 4;
    let mut active = 0;
    for c in 0..k {
        for j in (0..k).filter(|&j| j != c) {
            let margin = delta[c] * z[c * k + c] - delta[j] * z[c * k + j];
            assert!(margin >= 1.0 - 1e-9, "margin ({c},{j}) = {margin}");
            if (margin - 1.0).abs() < 1e-9 {
                active += 1;
            }
        }
    }
    assert!(
        active >= k - 1,
        "at least one active constraint per class expected"
    );
}

#[test]
fn decoupled_flow_equals_the_coupled_system() {
    // A diagonal mean Gram matrix takes the per-group K-dimensional path; an off-diagonal entry
    // of 1e-300 changes nothing numerically but forces the coupled K^2 system.
    let counts = vec![100, 100, 30, 10, 10];
    let k = counts.len();
    let diag = MixtureStats::orthogonal(counts.clone(), 1500, 4.0, 1.0).unwrap();
    let mut m = diag.mean_gram().to_vec();
    m[1] = 1e-300;
    m[k] = 1e-300;
    let coupled = MixtureStats::isotropic(counts, 1500, m, 1.0).unwrap();
    let o =
        PredictOptions::default().with_ode(OdeOptions::default().with_rtol(1e-10).with_atol(1e-12));
    for method in [
        Method::La { tau: 1.0 },
        Method::Cdt { gamma: 0.7 },
        Method::Ldam { c: 3.0 },
    ] {
        let a = mean_field_dual(&diag, &method, Horizon::Finite(1e5), &o).unwrap();
        let b = mean_field_dual(&coupled, &method, Horizon::Finite(1e5), &o).unwrap();
        let scale = b.iter().fold(0.0f64, |s, v| s.max(v.abs()));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-8 * scale, "{method}: {x} vs {y}");
        }
    }
}

/// From K = 64 on, the decoupled per-class ODE merges the coordinates the loss treats alike
/// (CE, LDAM, wce: two unknowns per class instead of K). At K = 64 and 100 (exp profile), the
/// merged dual equals the unmerged per-class one and the full coupled K x K system (forced as
/// above by off-diagonal entries of 1e-300) to 1e-8 of its largest entry.
#[test]
fn merged_flow_equals_the_full_system_at_k64_and_k100() {
    let o =
        PredictOptions::default().with_ode(OdeOptions::default().with_rtol(1e-11).with_atol(1e-12));
    for k in [64usize, 100] {
        let counts: Vec<usize> = (0..k)
            .map(|c| (500.0 * 100f64.powf(-(c as f64) / (k as f64 - 1.0))).floor() as usize)
            .collect();
        let diag = MixtureStats::orthogonal(counts.clone(), 20000, 8.0, 1.0).unwrap();
        let mut m = diag.mean_gram().to_vec();
        m[1] = 1e-300;
        m[k] = 1e-300;
        let coupled = MixtureStats::isotropic(counts, 20000, m, 1.0).unwrap();
        for method in [
            Method::Ce,
            Method::Ldam { c: 1.0 },
            Method::Wce { beta: 1.0 },
        ] {
            let t = 1e6;
            let mut evals = 0;
            let merged =
                crate::meanfield::flow_dual_with(&diag, &method, t, &o, &mut evals, true).unwrap();
            let unmerged =
                crate::meanfield::flow_dual_with(&diag, &method, t, &o, &mut evals, false).unwrap();
            let full = mean_field_dual(&coupled, &method, Horizon::Finite(t), &o).unwrap();
            let scale = full.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            for (what, other) in [("unmerged", &unmerged), ("full", &full)] {
                for (i, (x, y)) in merged.iter().zip(other).enumerate() {
                    assert!(
                        (x - y).abs() < 1e-8 * scale,
                        "K = {k}, {method}: merged {x} vs {what} {y} at entry {i}"
                    );
                }
            }
        }
    }
}

#[test]
fn gradient_flow_direction_converges_to_max_margin_like_one_over_log_t() {
    // 1 - cos(W(T), W_mm) ~ C / log^2 T (direction error ~ 1/log T): it must decrease and
    // (1 - cos) log^2 T must stay bounded (between 0.005 and 5 here).
    let stats = MixtureStats::orthogonal(vec![100, 100, 10, 10], 3000, 6.0, 1.0).unwrap();
    for method in [
        Method::Ce,
        Method::Cdt { gamma: 0.5 },
        Method::La { tau: 1.0 },
    ] {
        let opts = PredictOptions::default();
        let inf = mean_field_dual(&stats, &method, Horizon::Infinite, &opts).unwrap();
        let mut prev = f64::INFINITY;
        for t in [1e4, 1e8, 1e12] {
            let a = mean_field_dual(&stats, &method, Horizon::Finite(t), &opts).unwrap();
            let cos = weight_inner(&stats, &a, &inf)
                / (weight_inner(&stats, &a, &a) * weight_inner(&stats, &inf, &inf)).sqrt();
            let gap = 1.0 - cos;
            assert!(
                gap < prev,
                "{method} T {t}: 1 - cos = {gap} did not decrease"
            );
            let scaled = gap * t.ln().powi(2);
            assert!(
                (0.005..5.0).contains(&scaled),
                "{method} T {t}: (1-cos) ln^2 T = {scaled}"
            );
            prev = gap;
        }
    }
}

#[test]
fn closed_forms_agree_with_predict_at_infinity_and_at_large_t() {
    let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).unwrap();
    let binary = closed_form_binary(&stats, &Method::Ce).unwrap();
    let integral = closed_form_infinite(&stats, &Method::Ce).unwrap();
    // By hand: lambda = (7000, 2500), error_1 = Phi(-0.2 / sqrt(0.008 + 0.0285714)).
    let want = crate::special::normal_cdf(-0.2 / (0.008f64 + 200.0 / 7000.0).sqrt());
    assert!((binary[1] - want).abs() < 1e-15);
    for y in 0..2 {
        assert!((binary[y] - integral[y]).abs() < 1e-11 * binary[y].max(1e-3));
    }
    let stats = MixtureStats::orthogonal(vec![100, 60, 30, 10, 10], 2000, 5.0, 1.0).unwrap();
    for method in [
        Method::Ce,
        Method::La { tau: 1.5 },
        Method::Ldam { c: 2.0 },
        Method::Wce { beta: 1.0 },
    ] {
        let closed = closed_form_infinite(&stats, &method).unwrap();
        let pred = predict(&stats, &method, Horizon::Infinite, &no_refinement()).unwrap();
        for (a, b) in closed.iter().zip(&pred.per_class_error) {
            assert!((a - b).abs() < 1e-9, "{method}: {a} vs {b}");
        }
    }
    // Finite T approaches T = inf like C / log T: the gap at 1e12 is about half the gap at 1e6
    // (ln 1e6 / ln 1e12 = 1/2); allow 0.35-0.7 for the slowly varying corrections.
    let inf = closed_form_infinite(&stats, &Method::Ce).unwrap()[4];
    let gap = |t: f64| {
        minority(&predict(&stats, &Method::Ce, Horizon::Finite(t), &no_refinement()).unwrap()) - inf
    };
    let (g6, g12) = (gap(1e6), gap(1e12));
    assert!(
        g6 > 0.0 && g12 > 0.0 && (0.35..0.7).contains(&(g12 / g6)),
        "gaps {g6} {g12}"
    );
    // Where the closed forms do not apply, they say so.
    assert!(matches!(
        closed_form_infinite(&stats, &Method::Cdt { gamma: 0.5 }),
        Err(Error::ClosedFormNotApplicable { .. })
    ));
    assert!(matches!(
        closed_form_binary(&stats, &Method::Ce),
        Err(Error::ClosedFormNotApplicable { .. })
    ));
    let gram = vec![25.0, 1.0, 1.0, 25.0];
    let skew = MixtureStats::isotropic(vec![200, 20], 2000, gram, 1.0).unwrap();
    assert!(closed_form_binary(&skew, &Method::Ce).is_err());
    assert!(matches!(
        closed_form_infinite(&stats, &Method::PostHoc { tau: 1.0 }),
        Err(Error::UndefinedAtInfinity { method: "posthoc" })
    ));
}

#[test]
fn posthoc_is_undefined_at_infinity_and_helps_at_finite_time() {
    let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).unwrap();
    let err = predict(
        &stats,
        &Method::PostHoc { tau: 1.0 },
        Horizon::Infinite,
        &PredictOptions::default(),
    );
    assert!(matches!(
        err,
        Err(Error::UndefinedAtInfinity { method: "posthoc" })
    ));
    let msg = err.unwrap_err().to_string();
    assert!(msg.contains("posthoc") && msg.contains("infinity"));
    let h = Horizon::Finite(1e4);
    let ce = predict(&stats, &Method::Ce, h, &PredictOptions::default()).unwrap();
    let ph = predict(
        &stats,
        &Method::PostHoc { tau: 1.0 },
        h,
        &PredictOptions::default(),
    )
    .unwrap();
    assert_eq!(ce.dual, ph.dual, "post-hoc LA trains plain CE");
    assert!(minority(&ph) < minority(&ce) && ph.offsets[1] > ph.offsets[0]);
}

#[test]
fn binary_cdt_is_ce_with_a_slower_clock() {
    // K = 2: u = w_0 - delta w_1 follows CE's flow at rate (1 + delta^2)/2 of CE's, and the
    // decision w_0 - w_1 is proportional to u, so CDT(gamma, T) = CE(T (1 + delta^2) / 2) with
    // delta = (n_min / n_max)^gamma, exactly (here: to the ODE tolerance).
    let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).unwrap();
    let o = no_refinement();
    for gamma in [0.25, 0.5, 1.0, 3.0] {
        let delta = 0.1f64.powf(gamma);
        let cdt = predict(&stats, &Method::Cdt { gamma }, Horizon::Finite(1e4), &o).unwrap();
        let ce = predict(
            &stats,
            &Method::Ce,
            Horizon::Finite(1e4 * (1.0 + delta * delta) / 2.0),
            &o,
        )
        .unwrap();
        for y in 0..2 {
            let (a, b) = (cdt.per_class_error[y], ce.per_class_error[y]);
            assert!(
                (a - b).abs() < 1e-7 * b.max(1e-3),
                "gamma {gamma}, class {y}: {a} vs {b}"
            );
        }
        let cdt_inf = predict(&stats, &Method::Cdt { gamma }, Horizon::Infinite, &o).unwrap();
        let ce_inf = predict(&stats, &Method::Ce, Horizon::Infinite, &o).unwrap();
        for y in 0..2 {
            assert!((cdt_inf.per_class_error[y] - ce_inf.per_class_error[y]).abs() < 1e-12);
        }
    }
    // So tuning CDT cannot beat CE when CE's error falls with T (here): gamma = 0 is best.
    let tuned = tune(
        &stats,
        MethodName::Cdt,
        Objective::Balanced,
        Horizon::Finite(1e4),
        &o,
    )
    .unwrap();
    assert_eq!(tuned.value, 0.0);
}

#[test]
fn multiclass_cdt_differs_from_ce_even_with_two_distinct_counts() {
    // K >= 3 with unequal counts: the factors no longer cancel (at T = inf, v_c = Delta_c w_c is
    // a multiclass SVM with weights 1/Delta_c^2 and predictions divide by Delta_c).
    let o = no_refinement();
    for counts in [
        vec![100, 10, 10],
        vec![100, 100, 10],
        vec![100, 100, 10, 10],
    ] {
        let stats = MixtureStats::orthogonal(counts.clone(), 3000, 6.0, 1.0).unwrap();
        let ce = predict(&stats, &Method::Ce, Horizon::Infinite, &o).unwrap();
        let cdt = predict(&stats, &Method::Cdt { gamma: 0.5 }, Horizon::Infinite, &o).unwrap();
        assert!(cdt.balanced_error < ce.balanced_error - 0.01, "{counts:?}");
    }
}

#[test]
fn exchangeable_classes_share_errors_and_anisotropic_reduces_to_isotropic() {
    let counts = vec![100, 100, 100, 20, 20];
    let stats = MixtureStats::orthogonal(counts.clone(), 3000, 6.0, 1.0).unwrap();
    assert_eq!(stats.exchangeable_groups(), vec![0, 0, 0, 3, 3]);
    let pred = predict(
        &stats,
        &Method::La { tau: 1.0 },
        Horizon::Finite(1e5),
        &PredictOptions::default(),
    )
    .unwrap();
    assert_eq!(pred.per_class_error[0], pred.per_class_error[2]);
    assert_eq!(pred.per_class_error[3], pred.per_class_error[4]);
    // The same statistics written as an anisotropic model: tr Sigma = sigma^2 p,
    // tr(Sigma Sigma) = sigma^4 p, mu_c^T Sigma mu_c' = sigma^2 M.
    let k = counts.len();
    let (sigma, p) = (1.0, 3000.0);
    let m: Vec<f64> = stats.mean_gram().to_vec();
    let aniso = MixtureStats::anisotropic(
        counts.clone(),
        m.clone(),
        vec![sigma * sigma * p; k],
        vec![sigma.powi(4) * p; k * k],
        vec![m.iter().map(|v| sigma * sigma * v).collect(); k],
    )
    .unwrap();
    let pa = predict(
        &aniso,
        &Method::La { tau: 1.0 },
        Horizon::Finite(1e5),
        &PredictOptions::default(),
    )
    .unwrap();
    for (a, b) in pa.per_class_error.iter().zip(&pred.per_class_error) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // Breaking the symmetry splits the groups.
    let mut m2 = m;
    m2[0] = 40.0;
    let stats2 = MixtureStats::isotropic(counts, 3000, m2, 1.0).unwrap();
    assert_eq!(stats2.exchangeable_groups(), vec![0, 1, 1, 3, 3]);
}

#[test]
fn mixture_stats_reject_bad_values() {
    let m2 = vec![1.0, 0.0, 0.0, 1.0];
    let iso = |c: Vec<usize>, m: Vec<f64>, s: f64, p: usize| {
        MixtureStats::isotropic(c, p, m, s).unwrap_err()
    };
    assert!(matches!(
        iso(vec![5], vec![1.0], 1.0, 10),
        Error::Counts(imbalance_core::CountError::TooFewClasses { k: 1 })
    ));
    assert!(matches!(
        iso(vec![5, 0], m2.clone(), 1.0, 10),
        Error::Counts(imbalance_core::CountError::EmptyClass { class: 1 })
    ));
    assert!(matches!(
        iso(vec![5, 5], vec![1.0; 3], 1.0, 10),
        Error::WrongLength {
            name: "mean_gram",
            ..
        }
    ));
    assert!(matches!(
        iso(vec![5, 5], vec![1.0, 0.5, 0.0, 1.0], 1.0, 10),
        Error::BadEntry { .. }
    ));
    assert!(matches!(
        iso(vec![5, 5], vec![1.0, f64::NAN, f64::NAN, 1.0], 1.0, 10),
        Error::BadEntry { .. }
    ));
    assert!(matches!(
        iso(vec![5, 5], vec![1.0, 2.0, 2.0, 1.0], 1.0, 10),
        Error::NotPsd { .. }
    ));
    for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            iso(vec![5, 5], m2.clone(), s, 10),
            Error::BadValue { name: "sigma", .. }
        ));
    }
    assert!(matches!(
        iso(vec![5, 5], m2.clone(), 1.0, 0),
        Error::BadValue { name: "dim", .. }
    ));
    let orth = |s: f64, p: usize| MixtureStats::orthogonal(vec![5, 5, 5], p, s, 1.0).unwrap_err();
    assert!(matches!(
        orth(-1.0, 10),
        Error::BadValue { name: "snr", .. }
    ));
    assert!(matches!(
        orth(f64::NAN, 10),
        Error::BadValue { name: "snr", .. }
    ));
    assert!(matches!(orth(1.0, 2), Error::BadValue { name: "dim", .. }));
    let an = |tr: Vec<f64>, tp: Vec<f64>, mc: Vec<Vec<f64>>| {
        MixtureStats::anisotropic(vec![5, 5], m2.clone(), tr, tp, mc).unwrap_err()
    };
    let ok_tp = vec![1.0; 4];
    let ok_mc = vec![m2.clone(), m2.clone()];
    assert!(matches!(
        an(vec![1.0], ok_tp.clone(), ok_mc.clone()),
        Error::WrongLength { name: "trace", .. }
    ));
    assert!(matches!(
        an(vec![1.0, 0.0], ok_tp.clone(), ok_mc.clone()),
        Error::BadValue { name: "trace", .. }
    ));
    assert!(matches!(
        an(vec![1.0; 2], vec![1.0, -1.0, -1.0, 1.0], ok_mc.clone()),
        Error::BadEntry {
            name: "trace_prod",
            ..
        }
    ));
    assert!(matches!(
        an(vec![1.0; 2], vec![1.0; 3], ok_mc.clone()),
        Error::WrongLength {
            name: "trace_prod",
            ..
        }
    ));
    assert!(matches!(
        an(vec![1.0; 2], ok_tp.clone(), vec![m2.clone()]),
        Error::WrongLength {
            name: "mean_cov",
            ..
        }
    ));
    let bad_mc = vec![m2.clone(), vec![1.0, 3.0, 3.0, 1.0]];
    assert!(matches!(
        an(vec![1.0; 2], ok_tp, bad_mc),
        Error::NotPsd {
            name: "mean_cov",
            ..
        }
    ));
    let stats = MixtureStats::orthogonal(vec![5, 5], 10, 1.0, 1.0).unwrap();
    assert!(matches!(
        stats.with_counts(vec![5, 5, 5]),
        Err(Error::WrongLength { .. })
    ));
    assert!(matches!(
        stats.with_counts(vec![5, 0]),
        Err(Error::Counts(imbalance_core::CountError::EmptyClass {
            class: 1
        }))
    ));
    assert!(matches!(
        max_margin_dual(&stats, &[1.0, 0.0]),
        Err(Error::BadValue { name: "delta", .. })
    ));
    assert!(matches!(
        max_margin_dual(&stats, &[1.0]),
        Err(Error::WrongLength { name: "delta", .. })
    ));
}

#[test]
fn bad_horizons_and_hyperparameters_are_errors() {
    let stats = MixtureStats::orthogonal(vec![20, 5], 100, 2.0, 1.0).unwrap();
    let o = PredictOptions::default();
    for t in [0.0, -1.0, f64::NAN] {
        assert!(matches!(
            predict(&stats, &Method::Ce, Horizon::Finite(t), &o),
            Err(Error::Ode(imbalance_core::OdeError::BadOption {
                name: "T",
                ..
            }))
        ));
    }
    let bad = predict(&stats, &Method::La { tau: -1.0 }, Horizon::Finite(10.0), &o);
    assert!(matches!(bad, Err(Error::Loss(_))));
    let d = PredictOptions::default();
    for (opts, name) in [
        (d.with_ode(d.ode.with_rtol(0.0)), "rtol"),
        (d.with_ode(d.ode.with_rtol(f64::INFINITY)), "rtol"),
        (d.with_ode(d.ode.with_atol(-1.0)), "atol"),
        (d.with_ode(d.ode.with_max_steps(0)), "max_steps"),
        (d.with_ode(d.ode.with_t0(Some(0.0))), "t0"),
        (
            PredictOptions {
                genz: GenzOptions {
                    shifts: 0,
                    ..d.genz
                },
                ..d
            },
            "shifts",
        ),
    ] {
        for h in [Horizon::Finite(10.0), Horizon::Infinite] {
            let got = match predict(&stats, &Method::Ce, h, &opts).unwrap_err() {
                Error::BadValue { name, .. } => name,
                Error::Ode(imbalance_core::OdeError::BadOption { name, .. }) => name,
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(got, name);
        }
    }
}

#[test]
fn mechanism_shows_minority_rows_dominated_by_majority_noise() {
    // (With K = 2 the rows are w_1 = -w_0 for CE, so use K = 4.)
    let stats = MixtureStats::orthogonal(vec![100, 100, 10, 10], 3000, 6.0, 1.0).unwrap();
    let m = mechanism(
        &stats,
        &Method::Ce,
        Horizon::Finite(1e6),
        &PredictOptions::default(),
    )
    .unwrap();
    // Minority rows (2, 3) are noisier relative to their signal than majority rows (by 1.49x
    // here).
    assert!(m.ratio[2] > 1.3 * m.ratio[0], "{:?}", m.ratio);
    // Noise coming from the *other* group, relative to the row's signal: majority noise in a
    // minority row (0.84 of its signal) is far larger than minority noise in a majority row.
    let maj_in_min =
        (m.noise_by_class[2][0].powi(2) + m.noise_by_class[2][1].powi(2)).sqrt() / m.signal[2];
    let min_in_maj =
        (m.noise_by_class[0][2].powi(2) + m.noise_by_class[0][3].powi(2)).sqrt() / m.signal[0];
    assert!(
        maj_in_min > 3.0 * min_in_maj,
        "{maj_in_min} vs {min_in_maj}"
    );
    for c in 0..4 {
        let total: f64 = m.noise_by_class[c]
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt();
        assert!((total - m.noise[c]).abs() < 1e-12 * total);
    }
}

#[test]
fn mechanism_from_dual_matches_explicit_vectors() {
    // Small explicit example: n = 5 points in R^6, K = 2 non-orthogonal means; compute the
    // quantities from the vectors directly (Gram-Schmidt on the means) and from inner products.
    let (n, p, k) = (5, 6, 2);
    let labels = [0, 0, 0, 1, 1];
    let mu = [
        [1.0, 0.5, 0.0, 0.0, 0.2, 0.0],
        [0.3, -1.0, 0.4, 0.0, 0.0, 0.1],
    ];
    let x: Vec<[f64; 6]> = (0..n)
        .map(|i| {
            let mut v = mu[labels[i]];
            for (j, e) in v.iter_mut().enumerate() {
                *e += ((i * 7 + j * 3) as f64 * 0.91).sin();
            }
            v
        })
        .collect();
    let a: Vec<f64> = (0..n * k).map(|ic| ((ic as f64) * 1.3).cos()).collect();
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    let gram: Vec<f64> = (0..n * n).map(|ij| dot(&x[ij / n], &x[ij % n])).collect();
    let mean_proj: Vec<f64> = (0..n * k).map(|ic| dot(&x[ic / k], &mu[ic % k])).collect();
    let mean_gram: Vec<f64> = (0..k * k).map(|ij| dot(&mu[ij / k], &mu[ij % k])).collect();
    let mech = mechanism_from_dual(&[3, 2], &labels, &gram, &mean_proj, &mean_gram, &a);
    // Orthonormal basis of span(mu).
    let e0: Vec<f64> = mu[0]
        .iter()
        .map(|v| v / dot(&mu[0], &mu[0]).sqrt())
        .collect();
    let r: Vec<f64> = mu[1]
        .iter()
        .zip(&e0)
        .map(|(m, e)| m - dot(&mu[1], &e0) * e)
        .collect();
    let e1: Vec<f64> = r.iter().map(|v| v / dot(&r, &r).sqrt()).collect();
    let off = |v: &[f64]| -> f64 {
        let (c0, c1) = (dot(v, &e0), dot(v, &e1));
        let w: Vec<f64> = (0..p).map(|j| v[j] - c0 * e0[j] - c1 * e1[j]).collect();
        dot(&w, &w).sqrt()
    };
    for c in 0..k {
        let w: Vec<f64> = (0..p)
            .map(|j| (0..n).map(|i| a[i * k + c] * x[i][j]).sum())
            .collect();
        let signal = (dot(&w, &e0).powi(2) + dot(&w, &e1).powi(2)).sqrt();
        assert!((mech.signal[c] - signal).abs() < 1e-10, "signal {c}");
        assert!((mech.noise[c] - off(&w)).abs() < 1e-10, "noise {c}");
        for src in 0..k {
            let v: Vec<f64> = (0..p)
                .map(|j| {
                    (0..n)
                        .filter(|&i| labels[i] == src)
                        .map(|i| a[i * k + c] * (x[i][j] - mu[src][j]))
                        .sum()
                })
                .collect();
            assert!(
                (mech.noise_by_class[c][src] - off(&v)).abs() < 1e-10,
                "noise {c} from {src}"
            );
        }
        assert!((mech.ratio[c] - mech.noise[c] / mech.signal[c]).abs() < 1e-12);
    }
}

#[test]
fn tuning_finds_better_hyperparameters_and_rejects_what_cannot_be_tuned() {
    let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).unwrap();
    let h = Horizon::Finite(1e4);
    let o = PredictOptions::default();
    let la = tune(&stats, MethodName::La, Objective::Balanced, h, &o).unwrap();
    assert_eq!(la.param, "tau");
    let at_zero = la.curve[0].1;
    assert!(
        la.error < at_zero - 0.01,
        "tuned {} vs tau = 0 {}",
        la.error,
        at_zero
    );
    assert!(
        la.curve.iter().all(|&(_, e)| e >= la.error - 1e-12),
        "Brent beat every scan point"
    );
    assert_eq!(la.prediction.balanced_error, la.error);
    let worst = tune(&stats, MethodName::La, Objective::Worst, h, &o).unwrap();
    assert!((worst.error - worst.prediction.worst_class_error).abs() < 1e-15);
    assert!(worst.prediction.worst_class_error <= la.prediction.worst_class_error + 1e-12);
    assert!(matches!(
        tune(&stats, MethodName::Ce, Objective::Balanced, h, &o),
        Err(Error::NothingToTune { method: "ce" })
    ));
    assert!(matches!(
        tune(
            &stats,
            MethodName::PostHoc,
            Objective::Balanced,
            Horizon::Infinite,
            &o
        ),
        Err(Error::UndefinedAtInfinity { method: "posthoc" })
    ));
    // At T = inf additive methods equal CE: the curve is flat and the mildest value is kept.
    let flat = tune(
        &stats,
        MethodName::La,
        Objective::Balanced,
        Horizon::Infinite,
        &o,
    )
    .unwrap();
    assert_eq!(flat.value, 0.0);
    for name in [
        MethodName::Wce,
        MethodName::Ldam,
        MethodName::Vs,
        MethodName::PostHoc,
    ] {
        let t = tune(&stats, name, Objective::Balanced, h, &o).unwrap();
        assert_eq!(Some(t.param), name.tuned_param());
        assert!(t.error <= t.curve[0].1 + 1e-12, "{name}");
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let stats = MixtureStats::orthogonal(vec![100, 60, 30, 10], 2000, 5.0, 1.0).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let o = PredictOptions::default();
            let p = predict(&stats, &Method::La { tau: 1.0 }, Horizon::Finite(1e5), &o).unwrap();
            let t = tune(
                &stats,
                MethodName::Cdt,
                Objective::Worst,
                Horizon::Finite(1e5),
                &o,
            )
            .unwrap();
            (p, t)
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn finite_n_correction_inflates_the_noise_variance_by_the_inverse_wishart_factor() {
    let stats = MixtureStats::orthogonal(vec![200, 20], 2000, 5.0, 1.0).unwrap();
    let kappa = crate::finite_n_factor(&stats);
    assert!((kappa - 1997.0 / 1777.0).abs() < 1e-12, "{kappa}");
    // No correction when n + K + 1 >= p.
    let tight = MixtureStats::orthogonal(vec![200, 20], 200, 5.0, 1.0).unwrap();
    assert_eq!(crate::finite_n_factor(&tight), 1.0);
    let la = Method::La { tau: 1.0 };
    let plain = predict(
        &stats,
        &la,
        Horizon::Finite(1e4),
        &PredictOptions::default(),
    )
    .unwrap();
    let opts = PredictOptions {
        finite_n: true,
        ..PredictOptions::default()
    };
    let corrected = predict(&stats, &la, Horizon::Finite(1e4), &opts).unwrap();
    // The same dual; only the noise term of the covariance grows, so the minority error rises
    // (docs/theory.md §6 LA row: 0.1005 -> 0.1066; 16 simulated training sets give 0.109 +- 0.003).
    assert_eq!(plain.dual, corrected.dual);
    assert!(plain.rhs_evals > 0 && plain.rhs_evals == corrected.rhs_evals);
    let (p, c) = (plain.per_class_error[1], corrected.per_class_error[1]);
    assert!(
        (p - 0.1005).abs() < 1e-3 && (c - 0.1066).abs() < 1e-3,
        "{p} {c}"
    );
}

#[test]
fn fast_exchangeable_groups_match_the_general_test() {
    let counts = vec![50, 50, 20, 20, 20, 7, 50];
    let k = counts.len();
    let mut cases = vec![MixtureStats::orthogonal(counts.clone(), 500, 4.0, 1.0).unwrap()];
    // Unequal norms on the diagonal split groups of equal counts.
    let mut m: Vec<f64> = (0..k * k)
        .map(|ij| if ij / k == ij % k { 16.0 } else { 0.0 })
        .collect();
    m[2 * k + 2] = 9.0;
    m[6 * k + 6] = 16.0 * (1.0 + 1e-14); // within the 1e-12 tolerance
    cases.push(MixtureStats::isotropic(counts.clone(), 500, m.clone(), 1.0).unwrap());
    // A non-diagonal M takes the general test.
    m[k] = 1.0;
    m[1] = 1.0;
    cases.push(MixtureStats::isotropic(counts, 500, m, 1.0).unwrap());
    for stats in &cases {
        assert_eq!(
            stats.exchangeable_groups(),
            stats.exchangeable_groups_general()
        );
    }
    assert_eq!(cases[1].exchangeable_groups(), vec![0, 0, 2, 3, 3, 5, 0]);
    // Swapping 0 and 1 maps M_01 to M_10: still exchangeable; 6 no longer matches 0.
    assert_eq!(cases[2].exchangeable_groups(), vec![0, 0, 2, 3, 3, 5, 6]);
}

#[test]
fn grouped_logit_covariances_equal_the_per_class_law() {
    // Unequal norms (isotropic: one matrix per distinct M_yy), then anisotropic (one per group).
    let counts = vec![80, 80, 30, 30, 10];
    let k = counts.len();
    let m: Vec<f64> = (0..k * k)
        .map(|ij| match (ij / k, ij % k) {
            (i, j) if i == j => [25.0, 25.0, 25.0, 25.0, 16.0][i],
            _ => 0.0,
        })
        .collect();
    let iso = MixtureStats::isotropic(counts.clone(), 2000, m.clone(), 1.0).unwrap();
    let trace: Vec<f64> = (0..k).map(|c| 2000.0 + 10.0 * c as f64).collect();
    let tp: Vec<f64> = (0..k * k)
        .map(|ij| 2000.0 + (ij / k + ij % k) as f64)
        .collect();
    let mc: Vec<Vec<f64>> = (0..k)
        .map(|y| m.iter().map(|v| v * (1.0 + 0.01 * y as f64)).collect())
        .collect();
    let aniso = MixtureStats::anisotropic(counts, m, trace, tp, mc).unwrap();
    // (stats, refinement, distinct covariances): isotropic without the refinement has one.
    for (stats, refinement, distinct) in [
        (&iso, true, 2),
        (&iso, false, 1),
        (&aniso, true, 5),
        (&aniso, false, 5),
    ] {
        {
            let opts = PredictOptions::default().with_refinement(refinement);
            let pred =
                predict(stats, &Method::La { tau: 1.0 }, Horizon::Finite(1e4), &opts).unwrap();
            let (means, covs) = logit_law(stats, &pred.dual, refinement);
            assert_eq!(pred.logit_means, means);
            for (y, cov) in covs.iter().enumerate() {
                assert_eq!(pred.logit_cov_of(y), &cov[..], "class {y}");
            }
            assert_eq!(pred.logit_cov.len(), distinct, "refinement {refinement}");
        }
    }
}

#[test]
fn grouped_logit_covariance_matches_the_full_sum_at_large_k() {
    // K = 80 step and three-level profiles: the O(K^2 + G^3) path against the O(K^3) sum.
    for counts in [
        (0..80)
            .map(|c| if c < 40 { 100 } else { 10 })
            .collect::<Vec<usize>>(),
        (0..80).map(|c| [100, 30, 10][c % 3]).collect(),
    ] {
        let stats = MixtureStats::orthogonal(counts, 5000, 6.0, 1.0).unwrap();
        for method in [Method::Ce, Method::La { tau: 1.0 }] {
            let pred = predict(
                &stats,
                &method,
                Horizon::Finite(1e4),
                &PredictOptions::default(),
            )
            .unwrap();
            let (_, covs) = logit_law(&stats, &pred.dual, true);
            for (y, cov) in covs.iter().enumerate() {
                let got = pred.logit_cov_of(y);
                let scale = cov.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (a, b) in got.iter().zip(cov) {
                    assert!(
                        (a - b).abs() <= 1e-12 * scale,
                        "{method:?} class {y}: {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn diagonal_max_margin_closed_form_matches_the_dense_qp() {
    // Unequal norms and factors (CDT-like): the dense active-set solution at K = 10 against
    // the closed form used from K = 64 on; every margin of the closed form is exactly 1.
    let k = 10;
    let counts: Vec<usize> = (0..k).map(|c| 200 / (c + 1)).collect();
    let gram: Vec<f64> = (0..k * k)
        .map(|ij| {
            if ij / k == ij % k {
                2.0 + (ij / k) as f64
            } else {
                0.0
            }
        })
        .collect();
    let stats = MixtureStats::isotropic(counts, 900, gram, 1.2).unwrap();
    let delta: Vec<f64> = (0..k).map(|c| 1.0 / (1.0 + 0.3 * c as f64)).collect();
    let dense = max_margin_dual(&stats, &delta).unwrap();
    let closed = crate::max_margin::diagonal_max_margin_dual(&stats, &delta);
    let scale = dense.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in dense.iter().zip(&closed).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * scale,
            "a[{i}]: dense {a} vs closed {b}"
        );
    }
    let z = training_logits(&stats, &closed);
    for c in 0..k {
        for j in (0..k).filter(|&j| j != c) {
            let margin = delta[c] * z[c * k + c] - delta[j] * z[c * k + j];
            assert!((margin - 1.0).abs() < 1e-12, "margin ({c},{j}) = {margin}");
        }
    }
}

#[test]
fn a_dense_max_margin_qp_beyond_its_size_is_a_clear_error() {
    // K = 65 with one off-diagonal mean inner product: no closed form, (K(K-1))^2 too large.
    let k = 65;
    let mut gram: Vec<f64> = (0..k * k)
        .map(|ij| if ij / k == ij % k { 4.0 } else { 0.0 })
        .collect();
    gram[1] = 0.5;
    gram[k] = 0.5;
    let stats = MixtureStats::isotropic(vec![10; k], 2000, gram, 1.0).unwrap();
    let err = max_margin_dual(&stats, &[1.0; 65]).unwrap_err();
    assert!(
        matches!(
            err,
            Error::QpTooLarge {
                k: 65,
                vars: 4160,
                max_k: 64
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("K <= 64"), "{err}");
}
