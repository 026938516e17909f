//! `cargo xtask reproduce --check`: rerun into a temporary directory (no cache) and compare
//! every `.md`, `.csv` and `.json` file with the committed output directory.
//!
//! Not compared: PNG and SVG (font rasterisation differs between machines), `timings.json`
//! and the timing section of `REPORT.md` (wall-clock times), and hidden files (`.cache/`).
//! Numbers in compared files are already rounded to a few significant digits (see
//! [`crate::table`]). Rounding alone is not enough across machines: a value that sits on a
//! rounding boundary (0.1234565) flips its last digit under last-bit noise (another CPU's SIMD
//! path in faer, a fused multiply-add). So a decimal number may differ by one unit in its
//! last significant digit ([`same_line`]); integers and all other text must match exactly.
//! Any larger difference is a real change in behaviour.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::experiments::Experiment;
use crate::report::strip_timings;
use crate::run::{Options, reproduce_with};
use crate::table::DATA_SIG_DIGITS;

/// Extensions of compared files.
const COMPARED_EXTS: [&str; 3] = ["md", "csv", "json"];
/// File names never compared (run-dependent).
const SKIPPED_NAMES: [&str; 1] = ["timings.json"];

/// One difference between the committed and the fresh results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In the committed directory but not produced by the fresh run.
    OnlyCommitted(String),
    /// Produced by the fresh run but not committed.
    OnlyFresh(String),
    /// Both exist; `line` (1-based) is the first line that differs (`None` = past the end).
    Changed {
        /// Relative path.
        file: String,
        /// 1-based line number of the first difference.
        line: usize,
        /// The committed line (`None` past its end).
        committed: Option<String>,
        /// The fresh line (`None` past its end).
        fresh: Option<String>,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |l: &Option<String>| l.clone().unwrap_or_else(|| "<end of file>".into());
        match self {
            Difference::OnlyCommitted(p) => {
                write!(f, "{p}: committed, but the fresh run does not produce it")
            }
            Difference::OnlyFresh(p) => {
                write!(f, "{p}: produced by the fresh run, but not committed")
            }
            Difference::Changed {
                file,
                line,
                committed,
                fresh,
            } => write!(
                f,
                "{file}: first difference at line {line}\n    committed: {}\n    fresh:     {}",
                show(committed),
                show(fresh)
            ),
        }
    }
}

/// Run the check described by `opts` (whose `out` is the committed directory). Returns an
/// error (non-zero exit) on any difference, after printing them and how to regenerate.
pub fn run(opts: &Options) -> Result<()> {
    run_with(crate::experiments::REGISTRY, opts, true)
}

/// [`run`] on the experiments of `registry`, optionally deleting the fresh results even when
/// the check fails (tests).
fn run_with(registry: &[&dyn Experiment], opts: &Options, keep_on_failure: bool) -> Result<()> {
    let committed = opts.out.clone();
    let regen = format!("{} && git add {}", opts.command_line(), committed.display());
    if !committed.is_dir() {
        bail!(
            "--check: there are no committed results in {} to compare with.\nregenerate with: {regen}",
            committed.display()
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("xtask-check-")
        .tempdir()
        .context("creating a temporary directory")?;
    if opts.progress {
        eprintln!(
            "check: running into {} (no cache), then comparing with {}",
            tmp.path().display(),
            committed.display()
        );
    }
    let fresh_opts = Options {
        out: tmp.path().to_path_buf(),
        no_cache: true,
        ..opts.clone()
    };
    let run_result = match reproduce_with(registry, &fresh_opts) {
        // Nothing to compare: the fresh results are incomplete (and not kept).
        Err(e) if crate::stop::is_interrupted(&e) => {
            return Err(e.context(
                "interrupted: --check stopped before its fresh run finished, so nothing was compared; rerun the same command",
            ));
        }
        r => r,
    };
    let scope: Option<Vec<String>> = if opts.only.is_empty() {
        None
    } else {
        Some(
            crate::experiments::select_from(registry, &opts.only)?
                .iter()
                .map(|e| e.id().to_string())
                .collect(),
        )
    };
    let diffs = compare_dirs(&committed, tmp.path(), scope.as_deref())?;
    if diffs.is_empty() && run_result.is_ok() {
        eprintln!(
            "check: OK, the fresh run reproduces every compared file in {}",
            committed.display()
        );
        return Ok(());
    }
    let kept = if keep_on_failure {
        tmp.keep()
    } else {
        tmp.path().to_path_buf()
    };
    if let Err(e) = &run_result {
        eprintln!("check: the fresh run failed: {e:#}");
    }
    if !diffs.is_empty() {
        eprintln!(
            "check: {} file(s) differ from the committed {}:",
            diffs.len(),
            committed.display()
        );
        for d in &diffs {
            eprintln!("  {d}");
        }
    }
    eprintln!(
        "check: the fresh results are kept in {} for inspection",
        kept.display()
    );
    eprintln!("regenerate with: {regen}");
    bail!("--check failed: the results are not reproduced exactly");
}

/// Compare the compared files of two result directories. With `scope`, only files inside
/// those experiment folders are compared (and `REPORT.md` is skipped, since a partial run's
/// report differs by design).
pub fn compare_dirs(
    committed: &Path,
    fresh: &Path,
    scope: Option<&[String]>,
) -> Result<Vec<Difference>> {
    let in_scope = |rel: &str| match scope {
        None => true,
        Some(ids) => ids.iter().any(|id| rel.starts_with(&format!("{id}/"))),
    };
    let a: Vec<String> = list_compared(committed)?
        .into_iter()
        .filter(|p| in_scope(p))
        .collect();
    let b: Vec<String> = list_compared(fresh)?
        .into_iter()
        .filter(|p| in_scope(p))
        .collect();
    let mut diffs = vec![];
    for p in &a {
        if !b.contains(p) {
            diffs.push(Difference::OnlyCommitted(p.clone()));
        }
    }
    for p in &b {
        if !a.contains(p) {
            diffs.push(Difference::OnlyFresh(p.clone()));
            continue;
        }
        let read = |root: &Path| -> Result<String> {
            let path = root.join(p);
            let text =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Ok(if p == "REPORT.md" {
                strip_timings(&text)
            } else {
                text
            })
        };
        let (ca, cb) = (read(committed)?, read(fresh)?);
        // Markdown numbers keep their trailing zeros, so the printed text gives their
        // precision; CSV/JSON write the shortest form of a DATA_SIG_DIGITS rounding.
        let sig = (!p.ends_with(".md")).then_some(DATA_SIG_DIGITS);
        if let Some((line, committed, fresh)) = first_difference(&ca, &cb, sig) {
            diffs.push(Difference::Changed {
                file: p.clone(),
                line,
                committed,
                fresh,
            });
        }
    }
    diffs.sort_by(|x, y| key(x).cmp(key(y)));
    Ok(diffs)
}

fn key(d: &Difference) -> &str {
    match d {
        Difference::OnlyCommitted(p) | Difference::OnlyFresh(p) => p,
        Difference::Changed { file, .. } => file,
    }
}

/// The first line (1-based) where two texts differ by more than [`same_line`] allows, with
/// both versions of it. `sig`: significant digits of the numbers (see [`same_line`]).
pub fn first_difference(
    a: &str,
    b: &str,
    sig: Option<usize>,
) -> Option<(usize, Option<String>, Option<String>)> {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (None, None) => {
                // Same lines; a trailing newline may still differ.
                return (a.ends_with('\n') != b.ends_with('\n')).then_some((n, None, None));
            }
            (Some(x), Some(y)) if same_line(x, y, sig) => {}
            (x, y) => return Some((n, x.map(str::to_string), y.map(str::to_string))),
        }
    }
}

/// Whether two lines are the same result: identical text, except that a decimal number
/// (with a `.` or an exponent) may differ by one unit in its last significant digit. That
/// unit is the last printed digit, or, with `sig`, the `sig`-th significant digit if finer
/// (CSV/JSON drop trailing zeros, so `0.12` there means 0.120000). Integers (counts, sizes,
/// seeds) and words must match exactly.
pub fn same_line(a: &str, b: &str, sig: Option<usize>) -> bool {
    if a == b {
        return true;
    }
    let (ta, tb) = (tokens(a), tokens(b));
    ta.len() == tb.len()
        && ta.iter().zip(&tb).all(|(x, y)| match (x, y) {
            (Token::Decimal(su), Token::Decimal(sv)) if su != sv => {
                let (Ok(xu), Ok(xv)) = (su.parse::<f64>(), sv.parse::<f64>()) else {
                    return false;
                };
                let unit = last_digit_unit(su, xu, sig).max(last_digit_unit(sv, xv, sig));
                (xu - xv).abs() <= unit * (1.0 + 1e-9)
            }
            _ => x == y,
        })
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Text(&'a str),
    Integer(&'a str),
    /// A number with a `.` or an exponent.
    Decimal(&'a str),
}

/// Split a line into numbers and the text between them. A number starts at a digit (or a `-`
/// before one) that does not continue a word, so ids like `e2.2` or `5x100` stay text.
fn tokens(line: &str) -> Vec<Token<'_>> {
    let b = line.as_bytes();
    let word = |i: usize| {
        i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'.')
    };
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut out = vec![];
    let (mut i, mut text_start) = (0, 0);
    while i < b.len() {
        let sign = usize::from(b[i] == b'-');
        let starts = i + sign < b.len() && b[i + sign].is_ascii_digit() && !word(i);
        if !starts {
            i += 1;
            continue;
        }
        let mut j = digits(i + sign);
        let mut decimal = false;
        if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
            j = digits(j + 1);
            decimal = true;
        }
        if j < b.len() && (b[j] == b'e' || b[j] == b'E') {
            let k = j + 1 + usize::from(j + 1 < b.len() && (b[j + 1] == b'-' || b[j + 1] == b'+'));
            if k < b.len() && b[k].is_ascii_digit() {
                j = digits(k);
                decimal = true;
            }
        }
        if j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
            // A digit run glued to a word (`1st`, `100x5`): text.
            i = j;
            continue;
        }
        if text_start < i {
            out.push(Token::Text(&line[text_start..i]));
        }
        let s = &line[i..j];
        out.push(if decimal {
            Token::Decimal(s)
        } else {
            Token::Integer(s)
        });
        (i, text_start) = (j, j);
    }
    if text_start < b.len() {
        out.push(Token::Text(&line[text_start..]));
    }
    out
}

/// One unit in the last significant digit of the number written `s` (value `x`): the last
/// printed digit, or the `sig`-th significant digit when that is finer.
fn last_digit_unit(s: &str, x: f64, sig: Option<usize>) -> f64 {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(k) => (&s[..k], s[k + 1..].parse::<i32>().unwrap_or(0)),
        None => (s, 0),
    };
    let decimals = mantissa.find('.').map_or(0, |d| mantissa.len() - d - 1) as i32;
    let printed = 10f64.powi(exp - decimals);
    match sig {
        Some(sig) if x != 0.0 => {
            printed.min(10f64.powi(x.abs().log10().floor() as i32 - sig as i32 + 1))
        }
        _ => printed,
    }
}

/// Relative paths (with `/`) of the compared files under `root`, sorted.
fn list_compared(root: &Path) -> Result<Vec<String>> {
    let mut out = vec![];
    walk(root, PathBuf::new(), &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, rel: PathBuf, out: &mut Vec<String>) -> Result<()> {
    let dir = root.join(&rel);
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue; // .cache/, .gitignore, temporary files
        }
        let r = rel.join(&name);
        if entry.file_type()?.is_dir() {
            walk(root, r, out)?;
        } else {
            let compared = Path::new(&name)
                .extension()
                .is_some_and(|e| COMPARED_EXTS.iter().any(|x| e == *x))
                && !SKIPPED_NAMES.contains(&name.as_str());
            if compared {
                let parts: Vec<String> =
                    r.iter().map(|c| c.to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{TIMINGS_BEGIN, TIMINGS_END};

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    #[test]
    fn first_difference_finds_lines() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n", None), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n", None),
            Some((2, Some("b".into()), Some("B".into())))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n", None),
            Some((2, None, Some("b".into())))
        );
        assert_eq!(first_difference("a\n", "a", None), Some((2, None, None)));
    }

    #[test]
    fn decimals_may_differ_by_one_unit_in_their_last_digit_and_nothing_else_may() {
        // Markdown: the printed digits give the precision.
        assert!(same_line(
            "| CE | 0.1235 | 3 |",
            "| CE | 0.1234 | 3 |",
            None
        ));
        assert!(same_line(
            "gap 1.000e-5, z = 2.31",
            "gap 9.999e-6, z = 2.30",
            None
        ));
        assert!(!same_line(
            "| CE | 0.1235 | 3 |",
            "| CE | 0.1233 | 3 |",
            None
        ));
        assert!(!same_line(
            "| CE | 0.1235 | 3 |",
            "| CE | 0.1235 | 4 |",
            None
        ));
        assert!(!same_line("| CE | 0.1235 |", "| LA | 0.1235 |", None));
        assert!(!same_line("0.5 PASS", "0.5 FAIL", None));
        // Ids and labels are text, not numbers.
        assert!(!same_line("e2.2: x", "e2.3: x", None));
        assert!(!same_line("[5x100,5x20]", "[5x100,5x21]", None));
        // CSV/JSON: shortest form of a 6-digit rounding; `0.12` means 0.120000.
        assert!(same_line(
            "1,0.12,-3.5e-7",
            "1,0.120001,-3.50001e-7",
            Some(6)
        ));
        assert!(!same_line("1,0.12,x", "1,0.12002,x", Some(6)));
        assert!(!same_line("1,0.12", "2,0.12", Some(6)));
        assert_eq!(
            tokens("e1 rho=-1.5e3, 100x5 n 7"),
            vec![
                Token::Text("e1 rho="),
                Token::Decimal("-1.5e3"),
                Token::Text(", 100x5 n "),
                Token::Integer("7"),
            ]
        );
    }

    #[test]
    fn detects_changed_missing_and_extra_files_but_ignores_timings_and_images() {
        let c = tempfile::tempdir().unwrap();
        let f = tempfile::tempdir().unwrap();
        for root in [c.path(), f.path()] {
            write(root, "e1/errors.csv", "rho,err\n1,0.5\n");
            write(root, "e1/same.json", "{}\n");
        }
        write(c.path(), "e1/errors.md", "| a |\n| 1 |\n");
        write(f.path(), "e1/errors.md", "| a |\n| 2 |\n");
        write(c.path(), "e1/plot.png", "x");
        write(f.path(), "e1/plot.png", "y");
        write(c.path(), "timings.json", "1");
        write(f.path(), "timings.json", "2");
        write(c.path(), ".cache/e1/x.bin", "1");
        write(c.path(), "e2/old.csv", "1");
        write(f.path(), "e1/new.json", "1");
        let report = |t: &str| format!("# R\nok\n{TIMINGS_BEGIN}\n| e1 | {t} |\n{TIMINGS_END}\n");
        write(c.path(), "REPORT.md", &report("1.0"));
        write(f.path(), "REPORT.md", &report("2.5"));

        let d = compare_dirs(c.path(), f.path(), None).unwrap();
        assert_eq!(
            d,
            vec![
                Difference::Changed {
                    file: "e1/errors.md".into(),
                    line: 2,
                    committed: Some("| 1 |".into()),
                    fresh: Some("| 2 |".into()),
                },
                Difference::OnlyFresh("e1/new.json".into()),
                Difference::OnlyCommitted("e2/old.csv".into()),
            ]
        );
        assert!(
            d[0].to_string()
                .contains("e1/errors.md: first difference at line 2")
        );
        // Scoped to e2 only.
        let d = compare_dirs(c.path(), f.path(), Some(&["e2".to_string()])).unwrap();
        assert_eq!(d, vec![Difference::OnlyCommitted("e2/old.csv".into())]);
    }

    #[test]
    fn check_passes_on_a_fresh_copy_and_fails_after_a_change() {
        let committed = tempfile::tempdir().unwrap();
        let opts = Options {
            quick: true,
            only: vec![],
            data_dir: None,
            out: committed.path().to_path_buf(),
            seeds: Some(2),
            no_cache: false,
            progress: false,
            stop: crate::stop::Stop::new(),
        };
        let demo: [&dyn Experiment; 1] = [&crate::experiments::e0::E0];
        reproduce_with(&demo, &opts).unwrap();
        run_with(&demo, &opts, false).expect("a rerun reproduces the files exactly (determinism)");
        // Tamper with one committed number: the check must fail.
        let p = committed.path().join("e0/fit.csv");
        let text = fs::read_to_string(&p).unwrap();
        fs::write(&p, text.replacen('1', "7", 1)).unwrap();
        let err = run_with(&demo, &opts, false).unwrap_err();
        assert!(err.to_string().contains("--check failed"));
        // Missing committed directory: a clear error with the regeneration command.
        let missing = Options {
            out: committed.path().join("nope"),
            ..opts
        };
        let err = run_with(&demo, &missing, false).unwrap_err().to_string();
        assert!(
            err.contains("regenerate with: cargo xtask reproduce --quick --seeds 2 --out"),
            "{err}"
        );
    }
}
