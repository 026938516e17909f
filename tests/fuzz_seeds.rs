//! The fuzz targets' functions (fuzz/harness.rs) on their seed inputs (fuzz/seeds/<target>/,
//! plus a local fuzz/corpus/<target>/ if a fuzzing run left one) and on a fixed stream of
//! pseudo-random inputs, on the stable compiler: CI keeps the targets honest without
//! cargo-fuzz. Any panic fails the test.

use std::path::{Path, PathBuf};

#[path = "../fuzz/harness.rs"]
mod harness;

/// The files of `fuzz/seeds/<target>/` and `fuzz/corpus/<target>/`.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = vec![];
    for dir in [
        root.join("seeds").join(target),
        root.join("corpus").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// `count` inputs of 0..200 bytes from SplitMix64 (seeded, so every run feeds the same).
fn pseudo_random(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        imbalance_core::splitmix64(state)
    };
    (0..count)
        .map(|_| {
            let len = (next() % 200) as usize;
            (0..len).map(|_| next() as u8).collect()
        })
        .collect()
}

#[test]
fn args_target_seeds_run_cleanly() {
    let seeds = inputs("args");
    assert!(seeds.len() >= 15, "only {} seeds", seeds.len());
    for (path, bytes) in &seeds {
        eprintln!("{}", path.display());
        harness::args(bytes);
    }
    // Random bytes rarely form a subcommand: prefix the seeds' first fields too.
    for (i, bytes) in pseudo_random(1, 2000).iter().enumerate() {
        harness::args(bytes);
        let (_, seed) = &seeds[i % seeds.len()];
        let mut spliced = seed.clone();
        spliced.truncate(seed.len() / 2);
        spliced.extend_from_slice(bytes);
        harness::args(&spliced);
    }
}

#[test]
fn cost_target_seeds_run_cleanly() {
    let seeds = inputs("cost");
    assert!(seeds.len() >= 5, "only {} seeds", seeds.len());
    for (_, bytes) in &seeds {
        harness::cost(bytes);
    }
    for bytes in pseudo_random(2, 3000) {
        harness::cost(&bytes);
    }
}

#[test]
fn argv_splits_on_nul() {
    let v = harness::argv(b"simulate\0--dim\0\xff");
    assert_eq!(v.len(), 4);
    assert_eq!(v[1], "simulate");
    assert_eq!(v[2], "--dim");
}
