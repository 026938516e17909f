#![allow(dead_code)] // each fuzz target uses one half of it
//! What the fuzz targets run, shared with the stable test `tests/fuzz_seeds.rs` (which
//! includes this file with `#[path]`), so CI feeds the seed inputs through the very same
//! functions. Each must return normally on every input: a panic is a finding.

use std::ffi::OsString;

/// The command-line arguments in `data`: fields separated by NUL bytes (any other byte,
/// invalid UTF-8 included, is part of a field), after the program name.
pub fn argv(data: &[u8]) -> Vec<OsString> {
    use std::os::unix::ffi::OsStringExt;
    std::iter::once(OsString::from("imbalance"))
        .chain(
            data.split(|&b| b == 0)
                .map(|f| OsString::from_vec(f.to_vec())),
        )
        .collect()
}

/// Checks that a refusal is the one line a command prints.
fn one_line(result: Result<(), String>) {
    if let Err(msg) = result {
        assert!(!msg.is_empty(), "an empty error message");
        // clap's help and version texts are many lines; every error is one, with no control
        // character that a terminal would act on.
        if msg.starts_with("error") {
            assert!(
                !msg.contains(char::is_control),
                "not one clean line: {msg:?}"
            );
        }
    }
}

/// Fuzz target `args`: arbitrary arguments through the parser and the checks of every
/// command ([`imbalance_cli::check_request`]).
pub fn args(data: &[u8]) {
    one_line(imbalance_cli::check_request(argv(data)));
}

/// Reads numbers out of the fuzzer's bytes (zeros once they run out).
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    /// A size of any magnitude: small, up to 2^16, 2^32 or 2^64, or an edge value.
    fn size(&mut self) -> u64 {
        let tag = self.byte();
        let mut raw = 0u64;
        for _ in 0..8 {
            raw = raw << 8 | u64::from(self.byte());
        }
        match tag % 8 {
            0 => u64::from(tag >> 3),
            1 => raw & 0xffff,
            2 => raw & 0xffff_ffff,
            3 => raw,
            4 => u64::MAX - u64::from(tag >> 3),
            5 => 1 << (raw % 64),
            6 => (1 << (raw % 64)) - 1,
            _ => raw % 100_000,
        }
    }

    fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
        from[usize::from(self.byte()) % from.len()]
    }
}

/// Fuzz target `cost`: requests of extreme sizes through the checks of `simulate`,
/// `predict`, `tune` and `train` (flags, ranges, the cost estimate against a memory limit),
/// and the pipeline's estimates directly.
pub fn cost(data: &[u8]) {
    use imbalance_pipeline::cost::{LimitSource, MemoryLimit};
    let mut b = Bytes(data);
    let command = b.pick(&["simulate", "predict", "tune", "train"]);
    let k = if command == "train" {
        10
    } else {
        2 + usize::from(b.byte() % 30)
    };
    let counts: Vec<u64> = (0..k).map(|_| b.size()).collect();
    let joined = counts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let mut argv: Vec<String> = vec!["imbalance".into(), command.into()];
    let mut flag = |name: &str, value: String| {
        argv.push(name.into());
        argv.push(value);
    };
    flag("--counts", joined);
    let method = b.pick(&["ce", "la", "posthoc", "ldam", "wce", "cdt", "vs"]);
    flag("--method", method.into());
    flag("--time", b.pick(&["inf", "1e4", "1e-9", "1e15"]).into());
    match command {
        "train" => {
            flag("--dataset", "mnist".into());
            let width = b.size();
            let features = b.pick(&["relu", "tanh", "erf"]);
            flag("--features", format!("{features}:{width}"));
            if b.byte() % 2 == 0 {
                argv.push("--predict".into());
                let m = b.size();
                argv.push("--moment-samples".into());
                argv.push(m.to_string());
            }
        }
        _ => {
            let (dim, snr) = (b.size(), b.size() % 1000);
            argv.extend(["--dim".into(), dim.to_string()]);
            argv.extend(["--snr".into(), snr.to_string()]);
            if command == "simulate" {
                let (seeds, tests) = (b.size(), b.size());
                argv.extend(["--seeds".into(), seeds.to_string()]);
                argv.extend(["--test-per-class".into(), tests.to_string()]);
                let sampler = b.pick(&["direct", "explicit"]);
                argv.extend(["--sampler".into(), sampler.into()]);
            }
        }
    }
    if b.byte() % 2 == 0 {
        let limit = b.size().max(1);
        argv.extend(["--max-memory".into(), limit.to_string()]);
    }
    one_line(imbalance_cli::check_request(&argv));

    // The estimates themselves, on the same numbers (as usize: 64-bit targets).
    let counts: Vec<usize> = counts.iter().map(|&c| c as usize).collect();
    let limit = Some(MemoryLimit {
        bytes: b.size(),
        source: LimitSource::Given,
    });
    let (dim, seeds, tests) = (b.size() as usize, b.size() as usize, b.size() as usize);
    for sampler in [
        imbalance_pipeline::Sampler::Direct,
        imbalance_pipeline::Sampler::Explicit,
    ] {
        let est = imbalance_pipeline::simulate_cost(&counts, dim, sampler, seeds, tests);
        let _ = est.check(limit);
        let _ = est.check(None);
    }
    for horizon in [
        imbalance_pipeline::Horizon::Infinite,
        imbalance_pipeline::Horizon::Finite(1.0),
    ] {
        let _ = imbalance_pipeline::predict_cost(&counts, horizon).check(limit);
        let width = b.size() as usize;
        let features = imbalance_pipeline::FeatureSpec::Random {
            activation: imbalance_pipeline::Activation::Relu,
            width,
        };
        let moments = (b.byte() % 2 == 0).then(|| b.size() as usize);
        let (pool, test, d) = (b.size() as usize, b.size() as usize, b.size() as usize);
        let est =
            imbalance_pipeline::train_cost(&counts, pool, test, d, features, moments, horizon);
        let _ = est.check(limit);
    }
}
