//! End-to-end tests of `imbalance sweep`: shards merged equal one run of the whole SPEC, and
//! missing or duplicated configurations, bad shard strings and unknown fields are one clear
//! error line.

mod common;

use std::path::PathBuf;

use common::{fails, imbalance};
use serde_json::{Value, json};

/// A fresh directory for one test (removed first if a previous run left it).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imbalance-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small SPEC: 2 explicit configurations and a 2 x 3 grid (8 in all).
fn spec() -> Value {
    json!({
        "base": {"command": "predict", "counts": [40, 8], "dim": 200, "snr": 3},
        "configs": [
            {"command": "simulate", "method": "la", "tau": 1, "time": 100, "test_per_class": 200, "seed": 4},
            {"command": "tune", "method": "la", "time": 100},
        ],
        "grid": {"method": ["ce", "la"], "time": [10, 100, "inf"]},
    })
}

fn write_spec(dir: &std::path::Path, spec: &Value) -> String {
    let path = dir.join("spec.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

fn ok(args: &[&str]) -> String {
    let out = imbalance(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A result without its timing (the only field that differs between runs).
fn untimed(mut v: Value) -> Value {
    v["result"].as_object_mut().unwrap().remove("seconds");
    v
}

#[test]
fn shards_merged_equal_one_run_in_index_order() {
    let dir = scratch("merge");
    let spec_path = write_spec(&dir, &spec());
    let (shards, whole) = (dir.join("shards"), dir.join("whole"));
    for i in 0..4 {
        let shard = format!("{i}/4");
        ok(&[
            "sweep",
            &spec_path,
            "--shard",
            &shard,
            "--out",
            shards.to_str().unwrap(),
        ]);
    }
    // Configuration i is in shard i mod 4.
    let shard1 = std::fs::read_to_string(shards.join("shard-1-of-4.jsonl")).unwrap();
    let idx: Vec<u64> = lines(&shard1)
        .iter()
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    assert_eq!(idx, vec![1, 5]);
    let merged_file = dir.join("merged.jsonl");
    ok(&[
        "sweep",
        &spec_path,
        "--merge",
        shards.to_str().unwrap(),
        "--out",
        merged_file.to_str().unwrap(),
    ]);
    let merged = lines(&std::fs::read_to_string(&merged_file).unwrap());
    assert_eq!(merged.len(), 8);
    ok(&["sweep", &spec_path, "--out", whole.to_str().unwrap()]);
    let one = lines(&std::fs::read_to_string(whole.join("shard-0-of-1.jsonl")).unwrap());
    for (i, (m, o)) in merged.into_iter().zip(one).enumerate() {
        assert_eq!(m["index"], json!(i));
        assert_eq!(untimed(m), untimed(o), "configuration {i}");
    }
    // The merge to stdout prints the same lines.
    let stdout = ok(&["sweep", &spec_path, "--merge", shards.to_str().unwrap()]);
    assert_eq!(stdout, std::fs::read_to_string(&merged_file).unwrap());
    // Each result is exactly the command's --json (here configuration 2: predict ce, T = 10).
    let direct = common::json(&[
        "predict", "--counts", "40,8", "--dim", "200", "--snr", "3", "--method", "ce", "--time",
        "10", "--json",
    ]);
    let line2 = &lines(&stdout)[2];
    assert_eq!(line2["config"]["time"], json!(10));
    assert_eq!(
        line2["result"]["per_class_error"],
        direct["per_class_error"]
    );
    assert_eq!(line2["result"]["config"], direct["config"]);
}

#[test]
fn merge_names_missing_and_duplicated_configurations() {
    let dir = scratch("bad-merge");
    let spec_path = write_spec(&dir, &spec());
    let shards = dir.join("shards");
    let s = shards.to_str().unwrap();
    for i in [0, 2] {
        ok(&[
            "sweep",
            &spec_path,
            "--shard",
            &format!("{i}/3"),
            "--out",
            s,
        ]);
    }
    // Shard 1/3 holds configurations 1, 4, 7.
    fails(
        &["sweep", &spec_path, "--merge", s],
        "3 of 8 configurations missing",
    );
    fails(&["sweep", &spec_path, "--merge", s], ": 1, 4, 7 (");
    // A second run of everything as 0/1 duplicates configurations 0, 2, 3, 5, 6.
    ok(&["sweep", &spec_path, "--out", s]);
    fails(
        &["sweep", &spec_path, "--merge", s],
        "5 configuration(s) appear more than once",
    );
    fails(&["sweep", &spec_path, "--merge", s], ": 0, 2, 3, 5, 6");
    // A SPEC changed after the shards ran.
    let mut changed = spec();
    changed["base"]["snr"] = json!(4);
    std::fs::remove_file(shards.join("shard-0-of-1.jsonl")).unwrap();
    ok(&["sweep", &spec_path, "--shard", "1/3", "--out", s]);
    ok(&["sweep", &spec_path, "--merge", s]);
    let changed_path = write_spec(&dir, &changed);
    fails(
        &["sweep", &changed_path, "--merge", s],
        "differs from the SPEC's",
    );
    // No shard files at all.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    fails(
        &["sweep", &changed_path, "--merge", empty.to_str().unwrap()],
        "no shard files",
    );
}

#[test]
fn bad_shards_and_fields_are_one_line() {
    let dir = scratch("bad-input");
    let spec_path = write_spec(&dir, &spec());
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    fails(
        &["sweep", &spec_path, "--shard", "3/2", "--out", o],
        "I must be less than N",
    );
    fails(
        &["sweep", &spec_path, "--shard", "a/b", "--out", o],
        "I and N must be non-negative integers",
    );
    fails(
        &["sweep", &spec_path, "--shard", "0/0", "--out", o],
        "N must be at least 1",
    );
    fails(&["sweep", &spec_path, "--shard", "0/2"], "--out: missing");
    fails(
        &["sweep", &spec_path, "--shard", "0/2", "--merge", o],
        "cannot be used with",
    );

    // Every configuration is checked before any runs: configuration 5 is bad, shard 0/2 (which
    // does not hold it) fails too and writes nothing.
    let mut bad = spec();
    let ce = json!({"method": "ce"});
    bad["configs"] = json!([ce, ce, ce, ce, ce, {"method": "la", "tauu": 1}]);
    let bad_path = write_spec(&dir, &bad);
    fails(
        &["sweep", &bad_path, "--shard", "0/2", "--out", o],
        "configuration 5: tauu: unknown field for predict; allowed: command, beta,",
    );
    assert!(!out.join("shard-0-of-2.jsonl").exists());
    for (config, expect) in [
        (
            json!({"tau": 1000, "method": "la"}),
            "configuration 0: tau: 1000 is out of range",
        ),
        (
            json!({"method": "ce", "dim": 200.5}),
            "configuration 0: dim: invalid value '200.5'",
        ),
        (
            json!({"method": "ce", "n_max": 10}),
            "configuration 0: n_max: only goes with a profile, not with counts",
        ),
        (
            json!({"command": "train"}),
            "configuration 0: command: unknown command \"train\"",
        ),
        (
            json!({"method": "ce", "counts": [40, true]}),
            "configuration 0: counts: expected a number",
        ),
        (
            json!({"command": "simulate", "method": "ce", "dim": 100000000, "seeds": 1000000}),
            "configuration 0: test_per_class: 1000000 seed(s) x 2 classes",
        ),
    ] {
        let spec = json!({"base": {"command": "predict", "counts": [40, 8], "dim": 200, "snr": 3}, "configs": [config]});
        fails(&["sweep", &write_spec(&dir, &spec), "--out", o], expect);
    }
    for (spec, expect) in [
        (
            json!({"grid": {"snr": []}}),
            "grid.snr: must be a non-empty list",
        ),
        (json!({"grids": {}}), "spec: unknown key 'grids'"),
        (
            json!({"base": {"command": "predict"}}),
            "spec: has no configurations",
        ),
        (
            json!({"grid": {"a": (0..1000).collect::<Vec<_>>(), "b": (0..1001).collect::<Vec<_>>()}}),
            "more than 1000000 configurations",
        ),
    ] {
        fails(&["sweep", &write_spec(&dir, &spec), "--out", o], expect);
    }
    // --out is a file, not a directory: one line naming --out, nothing written.
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    fails(
        &[
            "sweep",
            &write_spec(&dir, &spec()),
            "--out",
            file.to_str().unwrap(),
        ],
        "--out: cannot write",
    );
    std::fs::write(dir.join("spec.json"), "{not json").unwrap();
    fails(&["sweep", &spec_path, "--out", o], "is not JSON");
}
