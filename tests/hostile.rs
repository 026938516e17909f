//! A catalogue of hostile inputs to the `imbalance` binary (issue 13): bad flags, extreme
//! sizes, values that overflow downstream, corrupt data files. Each must end with exit code 2
//! and one line on stderr that names the flag (or the file) at fault, or with a correct
//! result; never a panic, an abort, a hang or a `null` where a number is promised. No case
//! allocates much: the sizes are refused by the cost estimate before any allocation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
/// No case may run longer than this (the slowest real ones load MNIST, ~0.5 s).
const CASE_LIMIT: Duration = Duration::from_secs(20);

/// What a case must end with.
enum Expect {
    /// Exit 2, one stderr line starting "error: " containing this text.
    Fail(String),
    /// Exit 0 with one JSON object on stdout holding no `null` among its results.
    Json,
    /// Sent `signal` (INT or TERM) after `after`: exit 130 within [`SIGNAL_LIMIT`], nothing on
    /// stdout, one stderr line starting "interrupted: " containing this text.
    Interrupted {
        signal: &'static str,
        after: Duration,
        needle: String,
    },
}

/// A command sent SIGINT or SIGTERM must be gone within this time (a simulate seed of the
/// cases below takes milliseconds; train stops at once).
const SIGNAL_LIMIT: Duration = Duration::from_secs(2);

struct Case {
    args: Vec<String>,
    expect: Expect,
}

/// Runs the binary with a time limit; (exit code, stdout, stderr). With `signal`, sends
/// `kill -SIGNAL` to the process after the given time; a process still running
/// [`SIGNAL_LIMIT`] after the signal is a failure.
fn run(args: &[String], signal: Option<(&str, Duration)>) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_imbalance"))
        .args(args)
        .env_remove("IMBALANCE_DATA_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let start = Instant::now();
    let mut sent: Option<Instant> = None;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if let Some((sig, after)) = signal
            && sent.is_none()
            && start.elapsed() >= after
        {
            let status = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(child.id().to_string())
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill -{sig} failed");
            sent = Some(Instant::now());
        }
        if let Some(t) = sent
            && t.elapsed() > SIGNAL_LIMIT
        {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running {SIGNAL_LIMIT:?} after SIG{signal:?}");
        }
        if start.elapsed() > CASE_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} hangs: still running after {CASE_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The problems with one case's outcome (empty: it passed).
fn judge(case: &Case) -> Option<String> {
    let signal = match &case.expect {
        Expect::Interrupted { signal, after, .. } => Some((*signal, *after)),
        _ => None,
    };
    let (code, stdout, stderr) = run(&case.args, signal);
    let args = &case.args;
    if stderr.contains("panicked") || code.is_none() {
        return Some(format!(
            "{args:?}: panic or abort (code {code:?}): {stderr}"
        ));
    }
    match &case.expect {
        Expect::Fail(needle) => {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            if code != Some(2) {
                Some(format!("{args:?}: exit {code:?}, want 2; stderr {stderr}"))
            } else if !stdout.is_empty() {
                Some(format!("{args:?}: wrote to stdout on failure: {stdout}"))
            } else if lines.len() != 1 || !lines[0].starts_with("error: ") {
                Some(format!("{args:?}: not one 'error:' line: {stderr}"))
            } else if !lines[0].contains(needle.as_str()) {
                Some(format!("{args:?}: message lacks '{needle}': {}", lines[0]))
            } else if lines[0].len() > 400 {
                Some(format!("{args:?}: message too long: {}", lines[0]))
            } else {
                None
            }
        }
        Expect::Interrupted { needle, .. } => {
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            let last = lines.last().copied().unwrap_or("");
            // Progress lines may come before (simulate prints them on a terminal only).
            if code != Some(130) {
                Some(format!(
                    "{args:?}: exit {code:?}, want 130; stderr {stderr}"
                ))
            } else if !stdout.is_empty() {
                Some(format!(
                    "{args:?}: wrote to stdout when interrupted: {stdout}"
                ))
            } else if lines
                .iter()
                .filter(|l| l.starts_with("interrupted"))
                .count()
                != 1
                || !last.starts_with("interrupted: ")
            {
                Some(format!("{args:?}: not one 'interrupted:' line: {stderr}"))
            } else if !last.contains(needle.as_str()) {
                Some(format!("{args:?}: message lacks '{needle}': {last}"))
            } else {
                None
            }
        }
        Expect::Json => {
            if code != Some(0) {
                return Some(format!("{args:?}: exit {code:?}, want 0: {stderr}"));
            }
            let v: Value = match serde_json::from_str(stdout.trim()) {
                Ok(v) => v,
                Err(e) => return Some(format!("{args:?}: stdout is not JSON ({e}): {stdout}")),
            };
            let mut results = v.clone();
            // `config` echoes the request (an unset option is null there); results must not.
            results.as_object_mut().map(|o| o.remove("config"));
            if results.to_string().contains("null") {
                Some(format!("{args:?}: null in the results: {stdout}"))
            } else {
                None
            }
        }
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `base` with `flag` set to `value` (replaced if present, appended otherwise; value None:
/// the flag is removed).
fn with<S: AsRef<str>>(base: &[S], flag: &str, value: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = base.iter().map(|a| a.as_ref().to_string()).collect();
    if let Some(i) = out.iter().position(|a| a == flag) {
        out.remove(i);
        if i < out.len() && !out[i].starts_with("--") {
            out.remove(i);
        }
    }
    if let Some(v) = value {
        out.push(flag.to_string());
        // --json and --predict take no value.
        if !(v.is_empty() && matches!(flag, "--json" | "--predict")) {
            out.push(v.to_string());
        }
    }
    out
}

fn fail(args: Vec<String>, needle: &str) -> Case {
    Case {
        args,
        expect: Expect::Fail(needle.to_string()),
    }
}

fn ok(args: Vec<String>) -> Case {
    Case {
        args,
        expect: Expect::Json,
    }
}

fn interrupted(args: Vec<String>, signal: &'static str, after_ms: u64, needle: &str) -> Case {
    Case {
        args,
        expect: Expect::Interrupted {
            signal,
            after: Duration::from_millis(after_ms),
            needle: needle.to_string(),
        },
    }
}

/// Cases common to simulate, predict and tune (the mixture flags).
fn mixture_cases(base: &[&str], cases: &mut Vec<Case>) {
    let cmd = base[0];
    for (flag, value, needle) in [
        ("--counts", "-5,20", "--counts"),
        ("--counts", "a,b", "--counts"),
        ("--counts", "200,,20", "--counts"),
        ("--counts", "1e-3,20", "not an integer"),
        ("--counts", "2.5e0,20", "not an integer"),
        ("--counts", "200.5,20", "--counts"),
        ("--counts", "18446744073709551616,1", "--counts"),
        ("--counts", "18446744073709551615,1", "--counts"),
        ("--counts", "200", "--counts"),
        ("--counts", "0,20", "--counts"),
        ("--dim", "0", "--dim"),
        ("--dim", "-1", "--dim"),
        ("--dim", "abc", "--dim"),
        ("--dim", "1.5", "not an integer"),
        ("--dim", "1e30", "too large"),
        ("--dim", "18446744073709551616", "--dim"),
        ("--dim", "1", "--dim"),
        ("--snr", "1e300", "--snr"),
        ("--snr", "-1", "--snr"),
        ("--snr", "nan", "--snr"),
        ("--snr", "inf", "--snr"),
        ("--snr", "abc", "--snr"),
        ("--snr", "1e7", "--snr"),
        ("--noise", "1e300", "--noise"),
        ("--noise", "0", "--noise"),
        ("--noise", "-1", "--noise"),
        ("--noise", "nan", "--noise"),
        ("--noise", "1e-300", "--noise"),
        ("--noise", "inf", "--noise"),
        ("--means", "spherical", "orthogonal, random"),
        ("--means", "", "--means"),
        ("--time", "5e-324", "--time"),
        ("--time", "0", "--time"),
        ("--time", "-1", "--time"),
        ("--time", "nan", "--time"),
        ("--time", "abc", "--time"),
        ("--time", "1e300", "--time"),
        ("--time", "-inf", "--time"),
        ("--max-memory", "8X", "--max-memory"),
        ("--max-memory", "0", "--max-memory"),
        ("--max-memory", "-1G", "--max-memory"),
        ("--max-memory", "abc", "--max-memory"),
        ("--bogus", "1", "--bogus"),
    ] {
        cases.push(fail(with(base, flag, Some(value)), needle));
    }
    for flag in ["--dim", "--snr", "--method"] {
        cases.push(fail(with(base, flag, None), flag));
    }
    // Integers in exponent form, and names in capitals, as papers write them.
    let method = base
        .iter()
        .position(|a| *a == "--method")
        .map(|i| base[i + 1].to_uppercase());
    let written = with(
        &with(base, "--counts", Some("2e1,1e1")),
        "--dim",
        Some("5e1"),
    );
    let written = with(&written, "--method", method.as_deref());
    cases.push(ok(with(&written, "--json", Some(""))));
    cases.push(fail(
        with(&with(base, "--counts", None), "--profile", Some("exp")),
        "--classes",
    ));
    let profile = |extra: &[&str]| {
        let mut a = with(base, "--counts", None);
        a.extend(s(extra));
        a
    };
    cases.push(fail(profile(&["--profile", "spherical"]), "step, exp"));
    cases.push(fail(
        profile(&["--profile", "exp", "--classes", "5", "--ratio", "10"]),
        "--n-max",
    ));
    cases.push(fail(
        profile(&["--profile", "exp", "--classes", "5", "--n-max", "100"]),
        "--ratio",
    ));
    for (ratio, needle) in [("0.5", "ratio"), ("nan", "ratio"), ("-3", "ratio")] {
        cases.push(fail(
            profile(&[
                "--profile",
                "step",
                "--classes",
                "4",
                "--n-max",
                "100",
                "--ratio",
                ratio,
            ]),
            needle,
        ));
    }
    cases.push(fail(
        profile(&[
            "--profile",
            "step",
            "--classes",
            "4",
            "--n-max",
            "100",
            "--ratio",
            "10",
            "--minority-classes",
            "0",
        ]),
        "--minority-classes",
    ));
    cases.push(fail(
        profile(&[
            "--profile",
            "exp",
            "--classes",
            "4",
            "--n-max",
            "100",
            "--ratio",
            "10",
            "--minority-classes",
            "2",
        ]),
        "--minority-classes",
    ));
    // Many classes: the Gram of 39 million samples (simulate), 126 theory predictions at
    // K = 1000 (tune); one prediction at K = 1000 is in reach of the theory's orthant fast
    // paths (about 3 s here), so `predict` gives a correct result.
    let many: Vec<String> = profile(&[
        "--profile",
        "exp",
        "--classes",
        "1000",
        "--n-max",
        "100000",
        "--ratio",
        "10",
    ])
    .into_iter()
    .map(|a| if a == "50" { "2000".to_string() } else { a })
    .collect();
    if base[0] == "predict" {
        cases.push(ok(with(&many, "--json", Some(""))));
    } else {
        cases.push(fail(many, "--n-max"));
    }
    // Repeated flags are errors, not joined.
    let mut rep = s(base);
    rep.extend(s(&["--counts", "5"]));
    cases.push(fail(rep, "cannot be used multiple times"));
    let mut rep = s(base);
    rep.extend(s(&["--snr", "3"]));
    cases.push(fail(rep, "--snr"));
    // Hyperparameters out of range, or to a method that does not take them.
    if cmd != "tune" {
        for (method, flag, value) in [
            ("la", "--tau", "1e300"),
            ("la", "--tau", "nan"),
            ("la", "--tau", "-1e300"),
            ("la", "--tau", "inf"),
            ("posthoc", "--tau", "1e300"),
            ("cdt", "--gamma", "1e300"),
            ("cdt", "--gamma", "nan"),
            ("vs", "--gamma", "-1e300"),
            ("wce", "--beta", "1e300"),
            ("wce", "--beta", "-inf"),
            ("ldam", "--margin", "1e300"),
            ("ce", "--tau", "1"),
            ("ce", "--gamma", "1"),
            ("la", "--beta", "1"),
        ] {
            let a = with(&with(base, "--method", Some(method)), "--time", Some("100"));
            cases.push(fail(with(&a, flag, Some(value)), flag));
        }
        cases.push(fail(with(base, "--method", Some("foo")), "ce, wce, la"));
        // (n_y / n_max)^gamma underflows to 0 for extreme counts.
        let a = with(
            &with(base, "--method", Some("cdt")),
            "--counts",
            Some("2000000,20"),
        );
        cases.push(fail(with(&a, "--gamma", Some("100")), "--gamma"));
        cases.push(fail(
            with(
                &with(base, "--method", Some("posthoc")),
                "--time",
                Some("inf"),
            ),
            "--time",
        ));
    }
    // Balanced counts and extreme but allowed values give numbers, never null.
    cases.push(ok(with(
        &with(base, "--counts", Some("50,50")),
        "--json",
        Some(""),
    )));
    cases.push(ok(with(
        &with(base, "--snr", Some("20")),
        "--json",
        Some(""),
    )));
    if cmd == "predict" {
        let a = with(
            &with(base, "--method", Some("posthoc")),
            "--time",
            Some("100"),
        );
        cases.push(ok(with(
            &with(&a, "--tau", Some("100")),
            "--json",
            Some(""),
        )));
    }
}

fn simulate_cases(cases: &mut Vec<Case>) {
    let base = [
        "simulate",
        "--counts",
        "200,20",
        "--dim",
        "50",
        "--snr",
        "2",
        "--method",
        "ce",
        "--test-per-class",
        "100",
    ];
    mixture_cases(&base, cases);
    for (flag, value, needle) in [
        ("--seeds", "0", "--seeds"),
        ("--seeds", "-1", "--seeds"),
        ("--seeds", "abc", "--seeds"),
        ("--seeds", "18446744073709551615", "--seeds"),
        ("--seeds", "18446744073709551616", "--seeds"),
        ("--seeds", "2000000", "--seeds"),
        ("--test-per-class", "0", "--test-per-class"),
        ("--test-per-class", "1000000000000", "--test-per-class"),
        (
            "--test-per-class",
            "18446744073709551615",
            "--test-per-class",
        ),
        ("--test-per-class", "-5", "--test-per-class"),
        ("--seed", "-1", "--seed"),
        ("--seed", "18446744073709551616", "--seed"),
        ("--sampler", "foo", "direct, explicit"),
        ("--sampler", "di\nrect", "direct, explicit"),
        ("--method", "c\re", "unknown method 'c\\re'"),
        ("--counts", "100000,100000", "--counts"),
        ("--counts", "1000000000000,20", "--counts"),
        ("--counts", "4294967296,4294967296", "--counts"),
        ("--counts", "25000,25000", "--counts"),
        ("--max-memory", "100k", "--counts"),
        ("--max-memory", "1", "--counts"),
    ] {
        let a = if flag == "--counts" && value == "25000,25000" {
            // Refused under a 1 GB limit whatever the machine has.
            with(&with(&base, flag, Some(value)), "--max-memory", Some("1G"))
        } else {
            with(&base, flag, Some(value))
        };
        cases.push(fail(a, needle));
    }
    // The explicit sampler's X (n x p) is blamed on --dim.
    for dim in ["10000000000", "18446744073709551615", "100000000"] {
        let a = with(
            &with(&base, "--sampler", Some("explicit")),
            "--dim",
            Some(dim),
        );
        cases.push(fail(with(&a, "--max-memory", Some("4G")), "--dim"));
    }
    // seeds x test draws beyond the maximum, each alone allowed.
    let a = with(&base, "--seeds", Some("1000000"));
    cases.push(fail(
        with(&a, "--test-per-class", Some("100000")),
        "--test-per-class",
    ));
    cases.push(ok(with(&base, "--json", Some(""))));
    cases.push(ok(with(
        &with(&base, "--sampler", Some("explicit")),
        "--json",
        Some(""),
    )));
    cases.push(ok(with(
        &with(&base, "--seeds", Some("3")),
        "--json",
        Some(""),
    )));
    // Ctrl-C / SIGTERM during a long run of seeds (each takes milliseconds): it stops between
    // two seeds and says how many were done.
    let long = with(&base, "--seeds", Some("1000000"));
    for sig in ["INT", "TERM"] {
        cases.push(interrupted(
            long.clone(),
            sig,
            300,
            "seeds done, nothing printed",
        ));
        cases.push(interrupted(
            with(&long, "--json", Some("")),
            sig,
            300,
            "rerun the same command",
        ));
    }
}

fn theory_cases(cases: &mut Vec<Case>) {
    let predict = [
        "predict", "--counts", "200,20", "--dim", "50", "--snr", "2", "--method", "ce",
    ];
    mixture_cases(&predict, cases);
    let tune = [
        "tune", "--counts", "200,20", "--dim", "50", "--snr", "2", "--method", "la",
    ];
    mixture_cases(&tune, cases);
    cases.push(fail(with(&tune, "--method", Some("ce")), "--method"));
    cases.push(fail(with(&tune, "--objective", Some("mean")), "balanced"));
    // 500 orthogonal means do not fit in 50 dimensions; in 500 the theory answers at once.
    let many = with(&predict, "--counts", Some(&vec!["10"; 500].join(",")));
    cases.push(fail(many.clone(), "--dim"));
    cases.push(ok(with(
        &with(&many, "--dim", Some("500")),
        "--json",
        Some(""),
    )));
    cases.push(ok(with(&tune, "--json", Some(""))));
}

fn train_cases(dirs: &Dirs, cases: &mut Vec<Case>) {
    // Found relative to the workspace, as the other tests do (under CI its absence fails).
    let data = common::shared_datasets();
    let have_mnist = data.is_some();
    let data = data.map_or_else(String::new, |d| d.display().to_string());
    let base = [
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        data.as_str(),
        "--method",
        "ce",
    ];
    // Refused before the data are read.
    for (flag, value, needle) in [
        ("--dataset", "foo", "mnist"),
        ("--dataset", "", "mnist"),
        ("--features", "relu:0", "--features"),
        ("--features", "relu:abc", "--features"),
        ("--features", "relu:-5", "--features"),
        ("--features", "tanh:inf", "--features"),
        ("--features", "sigmoid:10", "--features"),
        ("--features", "relu", "--features"),
        // Control characters in a value are echoed escaped: the message stays one line.
        ("--features", "relu:1\n2", "relu:1\\n2"),
        ("--dataset", "mn\u{3}ist", "mn\\u{3}ist"),
        ("--features", "relu:18446744073709551616", "--features"),
        ("--counts", "-5,20", "--counts"),
        ("--counts", "5,a", "--counts"),
        ("--time", "5e-324", "--time"),
        ("--time", "inf", "--time"),
        ("--tau", "1", "--tau"),
        ("--minority", "a,b", "--minority"),
        ("--moment-samples", "10", "--moment-samples"),
        ("--ratio", "10", "--ratio"),
        ("--max-memory", "lots", "--max-memory"),
        ("--data-dir", "/nonexistent/imbalance-hostile", "--data-dir"),
    ] {
        let a = with(&base, flag, Some(value));
        let a = if flag == "--time" && value == "inf" {
            with(&with(&a, "--method", Some("posthoc")), "--tau", Some("1"))
        } else {
            a
        };
        cases.push(fail(a, needle));
    }
    let mut rep = s(&base);
    rep.extend(s(&["--counts", "5,5,5,5,5,5,5,5,5,5", "--counts", "5"]));
    cases.push(fail(rep, "cannot be used multiple times"));
    cases.push(fail(with(&base, "--profile", Some("exp")), "--n-max"));
    if have_mnist {
        let full = ["5870"; 10].join(",");
        for (flag, value, needle) in [
            ("--counts", full.as_str(), "--counts"),
            ("--counts", "1,2,3", "--counts"),
            ("--counts", "0,5,5,5,5,5,5,5,5,5", "--counts"),
            ("--counts", "99999,5,5,5,5,5,5,5,5,5", "--counts"),
            ("--features", "relu:1000000000000", "--features"),
            ("--features", "relu:5000000", "--features"),
            ("--max-memory", "10M", "--counts"),
        ] {
            let a = if value == full {
                with(&with(&base, flag, Some(value)), "--max-memory", Some("8G"))
            } else {
                with(&base, flag, Some(value))
            };
            cases.push(fail(a, needle));
        }
        let a = with(&base, "--predict", Some(""));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        cases.push(fail(
            with(&a, "--moment-samples", Some("5000000")),
            "--moment-samples",
        ));
        // Balanced counts: the minority mean is left out, not null.
        let small = with(
            &with(&base, "--counts", Some("5,5,5,5,5,5,5,5,5,5")),
            "--features",
            Some("relu:50"),
        );
        cases.push(ok(with(&small, "--json", Some(""))));
        // Ctrl-C / SIGTERM while loading or training (the default run takes seconds): train
        // has no safe point and writes nothing before it ends, so it stops at once.
        for (sig, after) in [("INT", 200), ("TERM", 1500)] {
            cases.push(interrupted(s(&base), sig, after, "nothing was kept"));
        }
    }
    // Corrupt files in a temporary data directory.
    for (dir, needle) in [
        (&dirs.truncated_idx, "train-images"),
        (&dirs.bad_magic_idx, "train-images"),
        (&dirs.empty_idx, "train-images"),
        (&dirs.garbage_gz, "train-images"),
        (&dirs.missing_labels, "train-labels"),
        (&dirs.truncated_cifar, "data_batch_1"),
        (&dirs.no_cifar_batch, "data_batch"),
        (
            &dirs.gzip_bomb,
            "train-labels-idx1-ubyte.gz: decompresses to more than the 18 bytes its header declares",
        ),
        (
            &dirs.sparse_cifar,
            "data_batch_1.bin: is 20000000000 bytes, more than the 30730000 bytes of a CIFAR-10 batch",
        ),
        (
            &dirs.sparse_idx,
            "train-images-idx3-ubyte: is 20000000000 bytes, more than the 2147483648 bytes",
        ),
    ] {
        let name = if dir.join("cifar10").exists() {
            "cifar10"
        } else {
            "mnist"
        };
        let a = with(
            &with(&base, "--dataset", Some(name)),
            "--data-dir",
            Some(dir.to_str().unwrap()),
        );
        cases.push(fail(a, needle));
    }
    // fetch / import with bad names and sources.
    cases.push(fail(s(&["fetch", "foo"]), "mnist"));
    cases.push(fail(s(&["import", "foo", "--from", "/tmp"]), "mnist"));
    cases.push(fail(
        s(&[
            "import",
            "mnist",
            "--from",
            "/nonexistent/imbalance-hostile",
        ]),
        "/nonexistent/imbalance-hostile",
    ));
    cases.push(fail(
        vec![
            "import".into(),
            "mnist".into(),
            "--from".into(),
            dirs.truncated_idx.join("mnist").display().to_string(),
            "--data-dir".into(),
            dirs.root.join("import-out").display().to_string(),
        ],
        "train-images",
    ));
    cases.push(fail(s(&["import", "mnist"]), "--from"));
    cases.push(fail(s(&["frobnicate"]), "frobnicate"));
}

/// Temporary data directories with broken files.
struct Dirs {
    root: PathBuf,
    truncated_idx: PathBuf,
    bad_magic_idx: PathBuf,
    empty_idx: PathBuf,
    garbage_gz: PathBuf,
    missing_labels: PathBuf,
    truncated_cifar: PathBuf,
    no_cifar_batch: PathBuf,
    gzip_bomb: PathBuf,
    sparse_cifar: PathBuf,
    sparse_idx: PathBuf,
}

/// A valid IDX header for `count` images of 28 x 28 (or labels), then `body` bytes.
fn idx(images: bool, count: u32, body: usize) -> Vec<u8> {
    let mut v = if images {
        vec![0, 0, 8, 3]
    } else {
        vec![0, 0, 8, 1]
    };
    v.extend(count.to_be_bytes());
    if images {
        v.extend(28u32.to_be_bytes());
        v.extend(28u32.to_be_bytes());
    }
    v.extend(std::iter::repeat_n(7u8, body));
    v
}

fn write_mnist(dir: &Path, files: &[(&str, Vec<u8>)]) {
    let m = dir.join("mnist");
    std::fs::create_dir_all(&m).unwrap();
    for (name, bytes) in files {
        std::fs::write(m.join(name), bytes).unwrap();
    }
}

fn make_dirs() -> Dirs {
    let root = std::env::temp_dir().join(format!("imbalance-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let sub = |n: &str| root.join(n);
    let d = Dirs {
        truncated_idx: sub("truncated"),
        bad_magic_idx: sub("magic"),
        empty_idx: sub("empty"),
        garbage_gz: sub("gz"),
        missing_labels: sub("labels"),
        truncated_cifar: sub("cifar"),
        no_cifar_batch: sub("cifar-none"),
        gzip_bomb: sub("bomb"),
        sparse_cifar: sub("sparse-cifar"),
        sparse_idx: sub("sparse-idx"),
        root: root.clone(),
    };
    let labels = |n: u32| idx(false, n, n as usize);
    let good_test = || {
        [
            ("t10k-images-idx3-ubyte", idx(true, 10, 7840)),
            ("t10k-labels-idx1-ubyte", labels(10)),
        ]
    };
    // The header promises 1000 images, the body holds 3.
    let mut f = vec![
        ("train-images-idx3-ubyte", idx(true, 1000, 3 * 784)),
        ("train-labels-idx1-ubyte", labels(1000)),
    ];
    f.extend(good_test());
    write_mnist(&d.truncated_idx, &f);
    let mut bad = idx(true, 10, 7840);
    bad[2] = 0x0d;
    let mut f = vec![
        ("train-images-idx3-ubyte", bad),
        ("train-labels-idx1-ubyte", labels(10)),
    ];
    f.extend(good_test());
    write_mnist(&d.bad_magic_idx, &f);
    let mut f = vec![
        ("train-images-idx3-ubyte", Vec::new()),
        ("train-labels-idx1-ubyte", labels(10)),
    ];
    f.extend(good_test());
    write_mnist(&d.empty_idx, &f);
    let mut f = vec![
        (
            "train-images-idx3-ubyte.gz",
            vec![0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6],
        ),
        ("train-labels-idx1-ubyte", labels(10)),
    ];
    f.extend(good_test());
    write_mnist(&d.garbage_gz, &f);
    let mut f = vec![("train-images-idx3-ubyte", idx(true, 10, 7840))];
    f.extend(good_test());
    write_mnist(&d.missing_labels, &f);
    let c = d.truncated_cifar.join("cifar10/cifar-10-batches-bin");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("data_batch_1.bin"), vec![3u8; 3073 * 2 + 100]).unwrap();
    std::fs::write(c.join("test_batch.bin"), vec![3u8; 3073 * 2]).unwrap();
    let c = d.no_cifar_batch.join("cifar10/cifar-10-batches-bin");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(c.join("test_batch.bin"), vec![3u8; 3073 * 2]).unwrap();
    // A gzip bomb: the header declares 10 labels, the stream inflates to 10 MB.
    let mut f = vec![
        ("train-images-idx3-ubyte", idx(true, 10, 7840)),
        (
            "train-labels-idx1-ubyte.gz",
            gzip(&idx(false, 10, 10_000_000)),
        ),
    ];
    f.extend(good_test());
    write_mnist(&d.gzip_bomb, &f);
    // Sparse 20 GB files (no disk blocks): a CIFAR-10 batch, and a raw IDX file.
    const SPARSE: u64 = 20_000_000_000;
    let c = d.sparse_cifar.join("cifar10/cifar-10-batches-bin");
    std::fs::create_dir_all(&c).unwrap();
    let batch = std::fs::File::create(c.join("data_batch_1.bin")).unwrap();
    batch.set_len(SPARSE).unwrap();
    std::fs::write(c.join("test_batch.bin"), vec![3u8; 3073 * 2]).unwrap();
    let mut f = vec![
        ("train-images-idx3-ubyte", idx(true, 10, 0)),
        ("train-labels-idx1-ubyte", labels(10)),
    ];
    f.extend(good_test());
    write_mnist(&d.sparse_idx, &f);
    let images = std::fs::OpenOptions::new()
        .write(true)
        .open(d.sparse_idx.join("mnist/train-images-idx3-ubyte"))
        .unwrap();
    images.set_len(SPARSE).unwrap();
    d
}

/// gzip of `bytes`.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn hostile_inputs_end_cleanly() {
    let start = Instant::now();
    let dirs = make_dirs();
    let mut cases = Vec::new();
    simulate_cases(&mut cases);
    theory_cases(&mut cases);
    train_cases(&dirs, &mut cases);
    let problems: Vec<String> = cases.iter().filter_map(judge).collect();
    let _ = std::fs::remove_dir_all(&dirs.root);
    assert!(cases.len() >= 150, "only {} cases", cases.len());
    assert!(
        problems.is_empty(),
        "{} of {} cases failed:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
    eprintln!("{} hostile cases in {:?}", cases.len(), start.elapsed());
}
