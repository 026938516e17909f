//! Helpers shared by the end-to-end tests of the binary (train_cli.rs, own_data_cli.rs,
//! sweep_cli.rs, hostile.rs).

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs the built binary with `args`, without the data-dir environment variable.
pub fn imbalance(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imbalance"))
        .args(args)
        .env_remove("IMBALANCE_DATA_DIR")
        .output()
        .expect("the imbalance binary runs")
}

/// A command that must succeed with `--json`: one JSON object on one line.
pub fn json(args: &[&str]) -> Value {
    let out = imbalance(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(&stdout).expect("stdout is JSON")
}

/// A JSON array of numbers.
pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A command that must fail cleanly: exit code 2, one line on stderr, no panic.
pub fn fails(args: &[&str], expect: &str) {
    let out = imbalance(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: exit code; {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: one line on stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(
        stderr.to_lowercase().contains(&expect.to_lowercase()),
        "{args:?}: expected '{expect}' in: {stderr}"
    );
}

/// The offline datasets at `../shared/datasets` (beside the repository), if `mnist/` is there.
/// A test that needs them returns early when they are absent, saying so, except under CI
/// (`CI` set and not `false`/`0`), where a missing folder fails the test, naming it, so that a
/// green CI means the real-data tests ran.
pub fn shared_datasets() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    if dir.join("mnist").is_dir() {
        return Some(dir);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
    assert!(
        !ci,
        "CI is set, but the offline datasets folder {} (with mnist/) is missing: the real-data tests cannot run",
        dir.display()
    );
    eprintln!(
        "skipping: {} not found (get the data with `imbalance fetch mnist --data-dir DIR`)",
        dir.display()
    );
    None
}
