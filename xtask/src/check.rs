//! `cargo xtask reproduce --check`: rerun into a temporary directory (no cache) and compare
//! every `.md`, `.csv` and `.json` file with the committed output directory.
//!
//! Not compared: PNG and SVG (font rasterisation differs between machines), `timings.json`
//! and the timing section of `REPORT.md` (wall-clock times), and hidden files (`.cache/`).
//! Numbers in compared files are already rounded to a few significant digits (see
//! [`crate::table`]), so any difference is a real change in behaviour.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::experiments::Experiment;
use crate::report::strip_timings;
use crate::run::{Options, reproduce_with};
use crate::tempdir::TempDir;

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
    let tmp = TempDir::try_new("check")?;
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
    let run_result = reproduce_with(registry, &fresh_opts);
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
        if let Some((line, committed, fresh)) = first_difference(&ca, &cb) {
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

/// The first differing line (1-based) of two texts, with both versions of it.
pub fn first_difference(a: &str, b: &str) -> Option<(usize, Option<String>, Option<String>)> {
    let (mut la, mut lb) = (a.lines(), b.lines());
    let mut n = 0;
    loop {
        n += 1;
        match (la.next(), lb.next()) {
            (None, None) => {
                // Same lines; a trailing newline may still differ.
                return (a != b).then_some((n, None, None));
            }
            (x, y) if x == y => {}
            (x, y) => return Some((n, x.map(str::to_string), y.map(str::to_string))),
        }
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
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n"),
            Some((2, Some("b".into()), Some("B".into())))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some((2, None, Some("b".into())))
        );
        assert_eq!(first_difference("a\n", "a"), Some((2, None, None)));
    }

    #[test]
    fn detects_changed_missing_and_extra_files_but_ignores_timings_and_images() {
        let c = TempDir::new("check-c");
        let f = TempDir::new("check-f");
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
        let committed = TempDir::new("check-run");
        let opts = Options {
            quick: true,
            only: vec![],
            data_dir: None,
            out: committed.path().to_path_buf(),
            seeds: Some(2),
            no_cache: false,
            progress: false,
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
