//! End-to-end tests of `imbalance train`, `fetch` and `import` on the offline copies of the
//! datasets at `../shared/datasets` (relative to the repository root). When that folder is
//! absent the data-dependent tests print a message and return. Nothing here downloads.
//! Sizes are small (a few hundred training images, a few hundred random features) so the
//! whole file runs in seconds in release mode.

use serde_json::Value;

mod common;
use common::{fails, floats, imbalance, json, shared_datasets as data_dir};

const SMALL: [&str; 8] = [
    "--counts",
    "30,30,30,30,30,6,6,6,6,6",
    "--features",
    "relu:300",
    "--time",
    "1e5",
    "--seed",
    "3",
];

fn train_args<'a>(dir: &'a str, dataset: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["train", "--dataset", dataset, "--data-dir", dir];
    a.extend_from_slice(&SMALL);
    a.extend_from_slice(extra);
    a.push("--json");
    a
}

fn check_errors(v: &Value, key: &str) -> Vec<f64> {
    let e = floats(&v[key]);
    assert_eq!(e.len(), 10, "{key}: one error per class");
    assert!(e.iter().all(|x| (0.0..=1.0).contains(x)), "{key}: {e:?}");
    e
}

#[test]
fn train_json_contract_with_predict() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.to_str().unwrap();
    let v = json(&train_args(
        dir,
        "mnist",
        &[
            "--method",
            "la",
            "--tau",
            "1",
            "--predict",
            "--moment-samples",
            "20",
        ],
    ));
    let e = check_errors(&v, "per_class_error");
    let mean = e.iter().sum::<f64>() / 10.0;
    let bal = v["balanced_error"].as_f64().unwrap();
    assert!((bal - mean).abs() < 1e-12, "balanced = mean of per-class");
    let worst = v["worst_class_error"].as_f64().unwrap();
    assert_eq!(worst, e.iter().cloned().fold(0.0, f64::max));
    let p = check_errors(&v, "predicted_per_class_error");
    assert!(p.iter().all(|x| x.is_finite()));
    assert_eq!(floats(&v["effective_rank"]).len(), 10);
    let c = &v["config"];
    assert_eq!(c["command"], "train");
    assert_eq!(c["dataset"], "mnist");
    assert_eq!(c["features"], "relu:300");
    assert_eq!(c["seed"], 3);
    assert_eq!(c["predict"], true);
    assert_eq!(
        floats(&c["counts"]),
        vec![30.0, 30.0, 30.0, 30.0, 30.0, 6.0, 6.0, 6.0, 6.0, 6.0]
    );
    assert_eq!(v["n_train"], 180);
    // Majority classes are learned far better than chance even at this size.
    assert!(e[..5].iter().sum::<f64>() / 5.0 < 0.5, "{e:?}");
}

#[test]
fn train_without_predict_has_no_prediction_and_is_deterministic() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.to_str().unwrap();
    let args = train_args(dir, "fashion-mnist", &["--method", "ce"]);
    let v = json(&args);
    check_errors(&v, "per_class_error");
    assert!(v.get("predicted_per_class_error").is_none());
    assert!(v["config"].is_object());
    let again = json(&args);
    assert_eq!(v["per_class_error"], again["per_class_error"], "same seed");
}

#[test]
fn train_cifar10_runs() {
    let Some(dir) = data_dir() else { return };
    if !dir.join("cifar10").is_dir() {
        eprintln!("skipping: no cifar10/ in {}", dir.display());
        return;
    }
    let dir = dir.to_str().unwrap();
    let v = json(&train_args(dir, "cifar10", &["--method", "ldam"]));
    check_errors(&v, "per_class_error");
    assert_eq!(v["config"]["dataset"], "cifar10");
}

#[test]
fn train_table_output_mentions_time_scale() {
    let Some(dir) = data_dir() else { return };
    let dir = dir.to_str().unwrap();
    let mut a = vec!["train", "--dataset", "mnist", "--data-dir", dir];
    a.extend_from_slice(&SMALL);
    a.extend_from_slice(&["--method", "ce"]);
    let out = imbalance(&a);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("balanced error"), "{s}");
    assert!(s.contains("time scale"), "{s}");
}

#[test]
fn train_bad_input_is_one_clear_line() {
    // None of these reach the data, except the last two, which are about the data.
    let dir = data_dir();
    let d = dir
        .as_deref()
        .map_or("/nonexistent".into(), |p| p.display().to_string());
    let t = |extra: &[&str]| {
        let mut a = vec!["train", "--dataset", "mnist", "--data-dir", d.as_str()];
        a.extend_from_slice(extra);
        if !extra.contains(&"--method") {
            a.extend_from_slice(&["--method", "ce"]);
        }
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>, msg: &str| {
        let r: Vec<&str> = a.iter().map(String::as_str).collect();
        fails(&r, msg);
    };
    run(t(&["--features", "relu:0"]), "--features");
    run(t(&["--features", "sigmoid:10"]), "unknown activation");
    run(t(&["--features", "relu:abc"]), "--features");
    run(t(&["--features", "tanh:inf"]), "no closed form");
    run(t(&["--counts", "10,10,10"]), "one count per class");
    run(
        t(&["--counts", "10,10,10,10,10,10,10,10,10,0"]),
        "at least 1",
    );
    run(t(&["--method", "posthoc", "--time", "inf"]), "--time");
    run(t(&["--moment-samples", "50"]), "only goes with --predict");
    fails(
        &[
            "train",
            "--dataset",
            "svhn",
            "--method",
            "ce",
            "--data-dir",
            "/nonexistent",
        ],
        "unknown dataset",
    );
    fails(
        &[
            "train",
            "--dataset",
            "mnist",
            "--method",
            "ce",
            "--data-dir",
            "/nonexistent/imbalance-data",
        ],
        "imbalance fetch mnist",
    );
    if dir.is_some() {
        run(
            t(&[
                "--counts",
                "7000,7000,7000,7000,7000,7000,7000,7000,7000,7000",
            ]),
            "has only",
        );
    }
}

#[test]
fn fetch_and_import_bad_input_never_download() {
    fails(
        &["fetch", "svhn", "--data-dir", "/nonexistent"],
        "unknown dataset",
    );
    fails(
        &[
            "import",
            "svhn",
            "--from",
            "/nonexistent",
            "--data-dir",
            "/tmp",
        ],
        "unknown dataset",
    );
    let tmp = std::env::temp_dir().join(format!("imbalance-import-test-{}", std::process::id()));
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let dest = tmp.join("dest");
    let dest_s = dest.to_str().unwrap();
    // A source folder that does not exist, and one without the dataset's files.
    let out = imbalance(&[
        "import",
        "mnist",
        "--from",
        "/nonexistent/source",
        "--data-dir",
        dest_s,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    let out = imbalance(&[
        "import",
        "cifar10",
        "--from",
        empty.to_str().unwrap(),
        "--data-dir",
        dest_s,
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn import_from_the_shared_copy_and_train_on_it() {
    let Some(dir) = data_dir() else { return };
    let tmp = std::env::temp_dir().join(format!("imbalance-import-ok-{}", std::process::id()));
    let dest = tmp.to_str().unwrap();
    let from = dir.join("mnist");
    let out = imbalance(&[
        "import",
        "mnist",
        "--from",
        from.to_str().unwrap(),
        "--data-dir",
        dest,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&train_args(dest, "mnist", &["--method", "ce"]));
    check_errors(&v, "per_class_error");
    std::fs::remove_dir_all(&tmp).ok();
}

#[test]
fn run_from_returns_exit_codes() {
    assert_eq!(
        imbalance_cli::run_from([
            "imbalance",
            "train",
            "--dataset",
            "mnist",
            "--method",
            "ce",
            "--features",
            "x"
        ]),
        2
    );
    assert_eq!(
        imbalance_cli::run_from(["imbalance", "fetch", "no-such-dataset"]),
        2
    );
}
