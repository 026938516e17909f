//! Helpers shared by the end-to-end tests of `imbalance train` (train_cli.rs, own_data_cli.rs).

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
