//! End-to-end tests of the `imbalance` binary: the command-line contract of docs/design.md.

mod common;
use common::{fails, floats, imbalance, json};

#[test]
fn simulate_json_has_the_contract_fields() {
    let v = json(&[
        "simulate", "--counts", "40,10", "--dim", "400", "--snr", "4", "--method", "la", "--tau",
        "0.5", "--time", "1e3", "--seeds", "2", "--json",
    ]);
    let per_class = floats(&v["per_class_error"]);
    let std = floats(&v["per_class_error_std"]);
    assert_eq!(per_class.len(), 2);
    assert_eq!(std.len(), 2);
    assert!(per_class.iter().all(|e| (0.0..=1.0).contains(e)));
    let balanced = v["balanced_error"].as_f64().unwrap();
    assert!((balanced - (per_class[0] + per_class[1]) / 2.0).abs() < 1e-12);
    assert_eq!(
        v["worst_class_error"].as_f64().unwrap(),
        per_class[0].max(per_class[1])
    );
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(v["config"]["method"]["method"], "la");
    assert_eq!(v["config"]["method"]["params"]["tau"], 0.5);
    assert_eq!(v["config"]["time"], 1e3);
    // The default test draws for 2 classes.
    assert_eq!(v["config"]["test_per_class"], 10_000);
}

#[test]
fn simulate_is_deterministic_for_a_seed() {
    let args = [
        "simulate",
        "--profile",
        "step",
        "--classes",
        "3",
        "--n-max",
        "30",
        "--ratio",
        "5",
        "--dim",
        "300",
        "--snr",
        "3",
        "--method",
        "cdt",
        "--time",
        "inf",
        "--seed",
        "7",
        "--json",
    ];
    let (a, b) = (json(&args), json(&args));
    assert_eq!(a["per_class_error"], b["per_class_error"]);
    assert_eq!(a["config"]["gmm"]["counts"], serde_json::json!([30, 30, 6]));
}

#[test]
fn simulate_table_output_is_human_readable() {
    let out = imbalance(&[
        "simulate", "--counts", "30,10", "--dim", "300", "--snr", "3", "--method", "ce",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("balanced error"), "{text}");
    assert!(text.contains("class  n_train  error"), "{text}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let base = ["simulate", "--dim", "100", "--snr", "3", "--method", "ce"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        base.iter().copied().chain(extra.iter().copied()).collect()
    };
    fails(&with(&["--counts", "10,0"]), "class 1 has 0");
    fails(&with(&["--counts", "10"]), "at least 2 classes");
    fails(&with(&["--counts", "10,x"]), "--counts");
    fails(&with(&[]), "--counts");
    fails(
        &with(&["--counts", "10,5", "--profile", "step"]),
        "not both",
    );
    fails(
        &with(&["--profile", "step", "--classes", "4", "--n-max", "10"]),
        "--ratio",
    );
    fails(&with(&["--counts", "10,5", "--time", "0"]), "--time");
    fails(&with(&["--counts", "10,5", "--time", "-3"]), "--time");
    fails(&with(&["--counts", "10,5", "--time", "soon"]), "--time");
    fails(
        &with(&["--counts", "10,5", "--tau", "1"]),
        "does not take --tau",
    );
    fails(&with(&["--counts", "10,5", "--seeds", "0"]), "--seeds");
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "0", "--snr", "3", "--method", "ce",
        ],
        "dim",
    );
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "-4", "--snr", "3", "--method", "ce",
        ],
        "--dim",
    );
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "ten", "--snr", "3", "--method", "ce",
        ],
        "--dim",
    );
    for snr in ["nan", "NaN", "-1"] {
        fails(
            &[
                "simulate", "--counts", "10,5", "--dim", "50", "--snr", snr, "--method", "ce",
            ],
            "snr",
        );
    }
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "50", "--snr", "3", "--method", "focal",
        ],
        "unknown method 'focal'",
    );
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "50", "--snr", "3", "--method", "la", "--tau",
            "nan",
        ],
        "tau",
    );
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "50", "--snr", "3", "--method", "posthoc",
            "--time", "inf",
        ],
        "undefined at T = inf",
    );
    fails(
        &[
            "simulate", "--counts", "10,5", "--dim", "50", "--snr", "3", "--noise", "0",
            "--method", "ce",
        ],
        "--noise: 0 is out of range",
    );
    fails(&["simulate", "--bogus"], "--bogus");
}

#[test]
fn predict_matches_the_theory_reference_value() {
    // docs/theory.md §6, row 1: mean-field minority error 0.164 for CE at T = 1e4.
    let v = json(&[
        "predict", "--counts", "200,20", "--dim", "2000", "--snr", "5", "--method", "ce", "--time",
        "1e4", "--json",
    ]);
    let e = floats(&v["per_class_error"]);
    assert!((e[1] - 0.164).abs() < 1e-3, "{e:?}");
    assert!(e[0] < 0.005);
    assert_eq!(v["config"]["command"], "predict");
}

#[test]
fn tune_reports_the_best_value_and_improves_on_ce() {
    let args = [
        "--counts", "200,20", "--dim", "2000", "--snr", "5", "--time", "1e4", "--json",
    ];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        extra.iter().copied().chain(args.iter().copied()).collect()
    };
    let tuned = json(&with(&["tune", "--method", "la"]));
    assert_eq!(tuned["best"]["param"], "tau");
    let tau = tuned["best"]["value"].as_f64().unwrap();
    assert!(tau > 0.0, "LA with tau > 0 must beat CE here: {tau}");
    let ce = json(&with(&["predict", "--method", "ce"]));
    assert!(
        tuned["balanced_error"].as_f64().unwrap() < ce["balanced_error"].as_f64().unwrap(),
        "tuned LA must beat CE"
    );
    // The reported errors are those of predict at the tuned value.
    let tau_text = tau.to_string();
    let mut predict_args = vec!["predict", "--method", "la", "--tau", tau_text.as_str()];
    predict_args.extend(args);
    let at_best = json(&predict_args);
    assert!(
        (at_best["balanced_error"].as_f64().unwrap() - tuned["balanced_error"].as_f64().unwrap())
            .abs()
            < 1e-9
    );
}

#[test]
fn predict_and_tune_reject_bad_input() {
    let gmm = ["--counts", "200,20", "--dim", "2000", "--snr", "5"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        extra.iter().copied().chain(gmm.iter().copied()).collect()
    };
    fails(&with(&["tune", "--method", "ce"]), "nothing to tune");
    fails(
        &with(&["tune", "--method", "la", "--objective", "median"]),
        "median",
    );
    fails(
        &with(&["tune", "--method", "posthoc", "--time", "inf"]),
        "undefined at T = inf",
    );
    fails(
        &with(&["predict", "--method", "posthoc"]),
        "undefined at T = inf",
    );
    fails(
        &with(&["predict", "--method", "ldam", "--margin", "-1"]),
        "margin",
    );
    fails(
        &with(&["predict", "--method", "cdt", "--beta", "1"]),
        "does not take --beta",
    );
    fails(
        &with(&["predict", "--method", "ce", "--time", "1e-400"]),
        "--time",
    );
}

#[test]
fn names_and_integers_are_read_as_papers_write_them() {
    // Capitals and exponent-form integers give the same run as the canonical spelling, and
    // the output names the canonical spelling.
    let mut canonical = json(&[
        "predict", "--counts", "100,10", "--dim", "100000", "--snr", "8", "--method", "la",
        "--time", "1e4", "--json",
    ]);
    let mut written = json(&[
        "predict",
        "--counts",
        "1e2,10",
        "--dim",
        "1e5",
        "--snr",
        "8",
        "--method",
        "LA",
        "--time",
        "1E4",
        "--means",
        "Orthogonal",
        "--json",
    ]);
    for v in [&mut canonical, &mut written] {
        v.as_object_mut().unwrap().remove("seconds");
    }
    assert_eq!(canonical, written);
    assert_eq!(written["config"]["method"]["method"], "la");
    assert_eq!(written["config"]["gmm"]["dim"], 100_000);
    let tuned = json(&[
        "tune",
        "--counts",
        "100,10",
        "--dim",
        "2.5e3",
        "--snr",
        "8",
        "--method",
        "LDAM",
        "--objective",
        "Worst",
        "--json",
    ]);
    assert_eq!(tuned["config"]["objective"], "worst");
    assert_eq!(tuned["config"]["gmm"]["dim"], 2500);
    fails(
        &[
            "predict", "--counts", "100,10", "--dim", "1.5", "--snr", "8", "--method", "ce",
        ],
        "'1.5' is not an integer",
    );
    fails(
        &[
            "predict", "--counts", "100,10", "--dim", "1e30", "--snr", "8", "--method", "ce",
        ],
        "too large",
    );
    fails(
        &[
            "simulate", "--counts", "100,10", "--dim", "100", "--snr", "8", "--method", "ce",
            "--seeds", "2.5",
        ],
        "'2.5' is not an integer",
    );
}

#[test]
fn the_exp_profile_truncates_as_cifar10_lt() {
    // Cao et al. 2019's CIFAR-10-LT counts (their code: int(5000 * 0.01 ** (c / 9))).
    let v = json(&[
        "predict",
        "--profile",
        "exp",
        "--classes",
        "10",
        "--n-max",
        "5000",
        "--ratio",
        "100",
        "--dim",
        "20000",
        "--snr",
        "8",
        "--method",
        "ce",
        "--json",
    ]);
    assert_eq!(
        floats(&v["config"]["gmm"]["counts"]),
        [
            5000.0, 2997.0, 1796.0, 1077.0, 645.0, 387.0, 232.0, 139.0, 83.0, 50.0
        ]
    );
}

#[test]
fn a_reader_that_closes_the_pipe_ends_the_output_quietly() {
    // `imbalance predict ... | head`: the reader is gone before the table is printed (the
    // prediction takes milliseconds; the read end is closed at once). The process exits with
    // 128 + SIGPIPE, as a program the signal stopped, and prints no panic.
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_imbalance"))
        .args([
            "predict",
            "--profile",
            "exp",
            "--classes",
            "200",
            "--n-max",
            "100",
            "--ratio",
            "10",
            "--dim",
            "20000",
            "--snr",
            "8",
            "--method",
            "ce",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
