use super::*;

/// Textbook softmax cross-entropy, computed naively (fine for small logits).
fn naive_ce(u: &[f64], y: usize) -> f64 {
    let sum: f64 = u.iter().map(|x| x.exp()).sum();
    -(u[y].exp() / sum).ln()
}

const COUNTS: [usize; 4] = [300, 100, 30, 10];

fn all_methods() -> Vec<Method> {
    vec![
        Method::Ce,
        Method::Wce { beta: 0.7 },
        Method::La { tau: 1.3 },
        Method::PostHoc { tau: 1.0 },
        Method::Cdt { gamma: 0.5 },
        Method::Ldam { c: 2.0 },
        Method::Vs {
            gamma: 0.3,
            tau: 0.8,
        },
    ]
}

#[test]
fn gradients_match_central_finite_differences() {
    let z = [0.3, -1.2, 2.0, 0.1];
    for method in all_methods() {
        let loss = method.loss(&COUNTS).unwrap();
        for y in 0..4 {
            let mut grad = [0.0; 4];
            loss.value_and_grad(&z, y, &mut grad);
            for c in 0..4 {
                // Central differences have error O(h^2 * f''') ~ 1e-10 at h = 1e-5, and
                // rounding error ~ 1e-16 / 1e-5 = 1e-11: 1e-7 is a safe bound.
                let h = 1e-5;
                let (mut zp, mut zm) = (z, z);
                zp[c] += h;
                zm[c] -= h;
                let fd = (loss.value(&zp, y) - loss.value(&zm, y)) / (2.0 * h);
                assert!(
                    (fd - grad[c]).abs() < 1e-7,
                    "{method} y={y} c={c}: fd {fd} vs grad {}",
                    grad[c]
                );
            }
        }
    }
}

#[test]
fn stable_at_huge_logits() {
    for method in all_methods() {
        let loss = method.loss(&COUNTS).unwrap();
        for z in [[1e6, -1e6, 0.0, 5e5], [-1e6, 1e6, 1e6, -1e6], [1e6; 4]] {
            for y in 0..4 {
                let mut grad = [0.0; 4];
                let v = loss.value_and_grad(&z, y, &mut grad);
                assert!(v.is_finite() && v >= 0.0, "{method}: value {v}");
                assert!(
                    grad.iter().all(|g| g.is_finite()),
                    "{method}: grad {grad:?}"
                );
            }
        }
    }
    // A confidently right sample has loss ~ 0, a confidently wrong one ~ the logit gap.
    let ce = Method::Ce.loss(&COUNTS).unwrap();
    assert_eq!(ce.value(&[1e6, 0.0, 0.0, 0.0], 0), 0.0);
    assert!((ce.value(&[1e6, 0.0, 0.0, 0.0], 1) - 1e6).abs() < 1e-6);
}

#[test]
fn presets_equal_their_textbook_formulas() {
    let z = [0.5, -0.2, 1.1, 0.0];
    let n: f64 = COUNTS.iter().sum::<usize>() as f64;
    let prior: Vec<f64> = COUNTS.iter().map(|&c| c as f64 / n).collect();
    let n_max = 300.0;
    for y in 0..4 {
        // CE and post-hoc LA train on plain softmax cross-entropy.
        for m in [Method::Ce, Method::PostHoc { tau: 2.0 }] {
            let got = m.loss(&COUNTS).unwrap().value(&z, y);
            assert!((got - naive_ce(&z, y)).abs() < 1e-12);
        }
        // Menon et al.: CE on z_c + tau log pi_c.
        let tau = 1.3;
        let u: Vec<f64> = (0..4).map(|c| z[c] + tau * prior[c].ln()).collect();
        let got = Method::La { tau }.loss(&COUNTS).unwrap().value(&z, y);
        assert!((got - naive_ce(&u, y)).abs() < 1e-12);
        // Weighted CE: (n / (K n_y))^beta * CE.
        let beta = 0.7;
        let w = (n / (4.0 * COUNTS[y] as f64)).powf(beta);
        let got = Method::Wce { beta }.loss(&COUNTS).unwrap().value(&z, y);
        assert!((got - w * naive_ce(&z, y)).abs() < 1e-12);
        // Ye et al.: logits divided by a_c = (n_max / n_c)^gamma.
        let gamma = 0.5;
        let u: Vec<f64> = (0..4)
            .map(|c| z[c] / (n_max / COUNTS[c] as f64).powf(gamma))
            .collect();
        let got = Method::Cdt { gamma }.loss(&COUNTS).unwrap().value(&z, y);
        assert!((got - naive_ce(&u, y)).abs() < 1e-12);
        // Cao et al.: subtract C n_y^(-1/4) from the true logit.
        let c = 2.0;
        let mut u = z.to_vec();
        u[y] -= c * (COUNTS[y] as f64).powf(-0.25);
        let got = Method::Ldam { c }.loss(&COUNTS).unwrap().value(&z, y);
        assert!((got - naive_ce(&u, y)).abs() < 1e-12);
        // Kini et al.: Delta_c z_c + iota_c.
        let (gamma, tau) = (0.3, 0.8);
        let u: Vec<f64> = (0..4)
            .map(|c| (COUNTS[c] as f64 / n_max).powf(gamma) * z[c] + tau * prior[c].ln())
            .collect();
        let got = Method::Vs { gamma, tau }
            .loss(&COUNTS)
            .unwrap()
            .value(&z, y);
        assert!((got - naive_ce(&u, y)).abs() < 1e-12);
    }
}

#[test]
fn posthoc_offsets_favour_minority_classes() {
    let off = Method::PostHoc { tau: 1.0 }
        .prediction_offsets(&COUNTS)
        .unwrap();
    let n = 440.0f64;
    for c in 0..4 {
        assert!((off[c] + (COUNTS[c] as f64 / n).ln()).abs() < 1e-12);
    }
    assert!(off.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        Method::La { tau: 1.0 }.prediction_offsets(&COUNTS).unwrap(),
        vec![0.0; 4]
    );
    assert!(!Method::PostHoc { tau: 1.0 }.defined_at_infinity());
    assert!(Method::La { tau: 1.0 }.defined_at_infinity());
}

#[test]
fn class_balanced_weights_sum_to_k_and_favour_minorities() {
    let w = class_balanced_weights(&COUNTS, 0.99).unwrap();
    assert!((w.iter().sum::<f64>() - 4.0).abs() < 1e-12);
    assert!(w.windows(2).all(|p| p[0] < p[1]));
    assert_eq!(class_balanced_weights(&COUNTS, 0.0).unwrap(), vec![1.0; 4]);
    assert!(class_balanced_weights(&COUNTS, 1.0).is_err());
    assert!(class_balanced_weights(&COUNTS, -0.1).is_err());
}

#[test]
fn rejects_bad_counts() {
    use imbalance_core::CountError;
    assert_eq!(
        Method::Ce.loss(&[10]),
        Err(Error::Counts(CountError::TooFewClasses { k: 1 }))
    );
    assert_eq!(
        Method::Ce.loss(&[]),
        Err(Error::Counts(CountError::TooFewClasses { k: 0 }))
    );
    assert_eq!(
        Method::Ce.loss(&[10, 0, 3]),
        Err(Error::Counts(CountError::EmptyClass { class: 1 }))
    );
    assert_eq!(
        Method::Ce.loss(&[usize::MAX, 1]),
        Err(Error::Counts(CountError::TotalOverflow))
    );
}

#[test]
fn rejects_bad_hyperparameters() {
    for bad in [f64::NAN, f64::INFINITY, -0.5] {
        for m in [
            Method::Wce { beta: bad },
            Method::La { tau: bad },
            Method::PostHoc { tau: bad },
            Method::Cdt { gamma: bad },
            Method::Ldam { c: bad },
            Method::Vs {
                gamma: bad,
                tau: 1.0,
            },
            Method::Vs {
                gamma: 0.1,
                tau: bad,
            },
        ] {
            assert!(
                matches!(m.loss(&COUNTS), Err(Error::BadParam { .. })),
                "{m:?}"
            );
        }
    }
}

#[test]
fn rejects_params_a_method_does_not_take() {
    let err = MethodName::Ce.with_params(&[("tau", 1.0)]).unwrap_err();
    assert!(err.to_string().contains("does not take --tau"), "{err}");
    assert!(MethodName::La.with_params(&[("gamma", 1.0)]).is_err());
    assert!(MethodName::Ldam.with_params(&[("tau", 1.0)]).is_err());
    assert!(MethodName::Vs.with_params(&[("margin", 1.0)]).is_err());
    assert_eq!(
        MethodName::Vs.with_params(&[("tau", 0.5)]).unwrap(),
        Method::Vs {
            gamma: 0.2,
            tau: 0.5
        }
    );
    assert_eq!(
        Method::La { tau: 1.0 }.with_param("tau", 2.0).unwrap(),
        Method::La { tau: 2.0 }
    );
    assert!(Method::La { tau: 1.0 }.with_param("gamma", 2.0).is_err());
}

#[test]
fn method_names_round_trip_and_unknown_names_are_rejected() {
    for m in MethodName::ALL {
        assert_eq!(m.as_str().parse::<MethodName>().unwrap(), m);
    }
    // As papers write them: capitals, hyphens, spaces around.
    for (given, want) in [
        ("LA", MethodName::La),
        ("CE", MethodName::Ce),
        (" LDAM ", MethodName::Ldam),
        ("Post-hoc", MethodName::PostHoc),
        ("post_hoc", MethodName::PostHoc),
        ("wCE", MethodName::Wce),
    ] {
        assert_eq!(given.parse::<MethodName>().unwrap(), want, "{given}");
    }
    let err = "focal".parse::<MethodName>().unwrap_err();
    assert!(err.to_string().contains("allowed: ce, wce"), "{err}");
    assert!("l a".parse::<MethodName>().is_err());
}

#[test]
fn custom_loss_components_are_validated() {
    let ok = || (vec![1.0; 3], vec![0.0; 3], vec![0.0; 3], vec![1.0; 3]);
    let (d, i, m, o) = ok();
    assert!(Loss::new(d, i, m, o).is_ok());
    let (_, i, m, o) = ok();
    assert!(Loss::new(vec![1.0, 0.0, 1.0], i, m, o).is_err());
    let (d, _, m, o) = ok();
    assert!(Loss::new(d, vec![0.0, f64::NAN, 0.0], m, o).is_err());
    let (d, i, _, o) = ok();
    assert!(Loss::new(d, i, vec![0.0; 2], o).is_err());
    let (d, i, m, _) = ok();
    assert!(Loss::new(d, i, m, vec![1.0, -1.0, 1.0]).is_err());
    assert!(Loss::new(vec![1.0], vec![0.0], vec![0.0], vec![1.0]).is_err());
}

#[test]
fn tiny_losses_keep_their_digits() {
    // K = 2 CE with logit gap d has loss ln(1 + e^-d) and true-class gradient
    // -e^-d / (1 + e^-d); at d = 40 both equal e^-40 = 4.248e-18 to 16 digits (e^-80 is
    // negligible), which a `1 - softmax_y` difference could not resolve at all.
    let loss = Method::Ce.loss(&[1, 1]).unwrap();
    let mut g = [0.0; 2];
    let v = loss.value_and_grad(&[40.0, 0.0], 0, &mut g);
    let e = (-40f64).exp();
    assert!((v - e).abs() < 1e-15 * e, "{v} vs {e}");
    assert!(
        (g[0] + e).abs() < 1e-15 * e && (g[1] - e).abs() < 1e-15 * e,
        "{g:?}"
    );
    // Far-underflowing terms are exactly 0, not NaN.
    let v = loss.value_and_grad(&[2000.0, 0.0], 0, &mut g);
    assert_eq!((v, g), (0.0, [0.0, 0.0]));
}
