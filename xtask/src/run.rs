//! The driver of `cargo xtask reproduce`: runs the selected experiments, writes their files
//! into `<out>/<id>/`, keeps `<out>/timings.json`, and rebuilds `<out>/REPORT.md` from the
//! `summary.json` of every registered experiment (so `--only e3` updates e3 and keeps the rest).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cache::count_entries;
use crate::ctx::{Ctx, Settings};
use crate::experiments::{Experiment, ExperimentOutput, REGISTRY, select_from};
use crate::progress::fmt_duration;
use crate::report::{self, ExperimentSummary, RunStatus, Tally, Timing, Verdict};
use crate::stop::{Interrupted, Stop, is_interrupted};
use crate::table::write_json;
use imbalance_datasets::{clean_stale_temps, write_atomic};

/// Extensions of the files the driver owns in `<out>/<id>/` (stale ones are removed).
const OUTPUT_EXTS: [&str; 5] = ["md", "csv", "json", "svg", "png"];

/// Options of `cargo xtask reproduce` (the CLI maps its flags onto this).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `--quick`: small grids.
    pub quick: bool,
    /// `--only`: experiment ids (empty = all).
    pub only: Vec<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--out` (already defaulted: `results` or `results-quick`).
    pub out: PathBuf,
    /// `--seeds`.
    pub seeds: Option<usize>,
    /// `--no-cache`: recompute everything (fresh results still refresh the cache).
    pub no_cache: bool,
    /// Print progress on stderr.
    pub progress: bool,
    /// Set by the Ctrl-C handler ([`crate::stop::install`]): the run stops before the next
    /// configuration that is not cached and returns [`crate::stop::Interrupted`].
    pub stop: Stop,
}

impl Options {
    /// The default output directory for the mode: `results` or `results-quick`.
    pub fn default_out(quick: bool) -> PathBuf {
        PathBuf::from(if quick { "results-quick" } else { "results" })
    }

    /// The command line that regenerates the results of these options.
    pub fn command_line(&self) -> String {
        let mut s = "cargo xtask reproduce".to_string();
        if self.quick {
            s.push_str(" --quick");
        }
        if !self.only.is_empty() {
            s.push_str(&format!(" --only {}", self.only.join(",")));
        }
        if let Some(n) = self.seeds {
            s.push_str(&format!(" --seeds {n}"));
        }
        if let Some(d) = &self.data_dir {
            s.push_str(&format!(" --data-dir {}", d.display()));
        }
        if self.out != Self::default_out(self.quick) {
            s.push_str(&format!(" --out {}", self.out.display()));
        }
        s
    }

    fn settings(&self) -> Settings {
        Settings {
            quick: self.quick,
            seeds: self.seeds,
            data_dir: self.data_dir.clone(),
            out: self.out.clone(),
            use_cache: !self.no_cache,
            progress: self.progress,
            stop: self.stop.clone(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Verdict counts over the whole report (all registered experiments).
    pub tally: Tally,
    /// Ids of the experiments that stopped with an error in this run.
    pub errors: Vec<String>,
    /// Path of `REPORT.md`.
    pub report: PathBuf,
}

/// Run the experiments selected by `opts`, write all files and `REPORT.md`.
///
/// An experiment that fails with an error is recorded as such (in its `summary.json` and the
/// report) and the others still run; the function then returns an error naming it. FAILed
/// claims are results, not errors: they are reported and the function returns `Ok`.
///
/// After a stop request (`opts.stop`) the run ends at the next configuration that is not
/// cached: the experiment being run keeps its previous output files, the report is not
/// rewritten, and the error (an [`Interrupted`], see [`crate::stop::is_interrupted`]) says how
/// many configurations the cache holds. The same call again resumes from the cache.
pub fn reproduce(opts: &Options) -> Result<RunSummary> {
    reproduce_with(REGISTRY, opts)
}

/// [`reproduce`] over an explicit list of experiments instead of [`REGISTRY`] (tests).
pub fn reproduce_with(registry: &[&dyn Experiment], opts: &Options) -> Result<RunSummary> {
    let selected = select_from(registry, &opts.only)?;
    if opts.seeds == Some(0) {
        bail!("--seeds must be at least 1 (got 0)");
    }
    let settings = opts.settings();
    let out = &opts.out;
    fs::create_dir_all(out)
        .with_context(|| format!("creating output directory {}", out.display()))?;
    let swept = clean_stale_temps(out)?;
    if swept > 0 && opts.progress {
        eprintln!("removed {swept} temporary file(s) left by an interrupted run");
    }
    // The cache is not a result: keep it out of git without touching the repository's
    // .gitignore.
    write_atomic(&out.join(".cache").join(".gitignore"), b"*\n")?;

    let mut timings = read_timings(out);
    let mut fresh: BTreeMap<&str, ExperimentSummary> = BTreeMap::new();
    let mut errors = vec![];
    let run_start = Instant::now();
    for (i, exp) in selected.iter().enumerate() {
        if opts.stop.requested() {
            return Err(interrupted(out));
        }
        if opts.progress {
            eprintln!(
                "== [{}/{}] {}: {} ({})",
                i + 1,
                selected.len(),
                exp.id(),
                exp.title(),
                settings.describe()
            );
        }
        let start = Instant::now();
        let mut ctx = Ctx::new(exp.id(), &settings);
        let result = run_catching(*exp, &mut ctx)
            .and_then(|o| o.validate().map(|()| o))
            .and_then(|o| write_outputs(*exp, &settings, &o).map(|()| o));
        if result.as_ref().is_err_and(is_interrupted) {
            return Err(interrupted(out));
        }
        let seconds = start.elapsed().as_secs_f64();
        let (cached, computed) = ctx.cache_stats();
        // A rerun served wholly from the cache (to redraw plots or rewrite the report) keeps
        // the timing of the run that computed the results.
        let keep = computed == 0 && timings.get(exp.id()).is_some_and(|t| t.computed > 0);
        if !keep {
            timings.insert(
                exp.id().to_string(),
                Timing {
                    seconds,
                    computed,
                    cached,
                },
            );
        }
        let summary = match result {
            Ok(o) => summary_of(*exp, &settings, RunStatus::Done, &o),
            Err(e) => {
                let message = format!("{e:#}");
                if opts.progress {
                    eprintln!("!! {} stopped with an error: {message}", exp.id());
                }
                errors.push(exp.id().to_string());
                let s = summary_of(
                    *exp,
                    &settings,
                    RunStatus::Error { message },
                    &ExperimentOutput::new(),
                );
                write_json(&out.join(exp.id()).join("summary.json"), &s)?;
                s
            }
        };
        if opts.progress {
            let t = report::tally(std::slice::from_ref(&summary));
            eprintln!(
                "== {} finished in {} ({computed} computed, {cached} from cache): {} PASS, {} FAIL, {} NOT RUN",
                exp.id(),
                fmt_duration(start.elapsed()),
                t.pass,
                t.fail,
                t.not_run
            );
        }
        fresh.insert(exp.id(), summary);
    }

    // timings.json is run-dependent and therefore not compared by --check.
    write_json(&out.join("timings.json"), &timings)?;
    let all: Vec<ExperimentSummary> = registry
        .iter()
        .map(|e| {
            fresh
                .remove(e.id())
                .unwrap_or_else(|| read_summary(out, *e))
        })
        .collect();
    let mode = format!("{} (`{}`)", settings.describe(), full_command(opts));
    let text = report::render(&mode, &all, &timings);
    let report_path = out.join("REPORT.md");
    write_atomic(&report_path, text.as_bytes())?;
    let tally = report::tally(&all);

    if opts.progress {
        eprintln!(
            "== done in {}: {} PASS, {} FAIL, {} NOT RUN, {} error(s); report: {}",
            fmt_duration(run_start.elapsed()),
            tally.pass,
            tally.fail,
            tally.not_run,
            tally.errors,
            report_path.display()
        );
        for e in &all {
            for c in &e.claims {
                if e.status == RunStatus::Done && c.verdict == Verdict::Fail {
                    eprintln!("   FAIL {}: {} [{}]", c.id, c.statement, c.evidence);
                }
            }
        }
    }
    if !errors.is_empty() {
        bail!(
            "experiment(s) {} stopped with an error (see above and {})",
            errors.join(", "),
            report_path.display()
        );
    }
    Ok(RunSummary {
        tally,
        errors,
        report: report_path,
    })
}

/// The error of a run stopped by a stop request: what the cache in `out` holds and how to
/// resume.
fn interrupted(out: &Path) -> anyhow::Error {
    let cache = out.join(".cache");
    anyhow::Error::new(Interrupted).context(format!(
        "interrupted: {} configurations cached in {}; rerun the same command to resume",
        count_entries(&cache),
        cache.display()
    ))
}

/// Run one experiment, turning a panic (e.g. an assertion in a library crate) into an error so
/// that one broken experiment does not take a long full run down with it.
fn run_catching(exp: &dyn Experiment, ctx: &mut Ctx) -> Result<ExperimentOutput> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| exp.run(ctx))) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".to_string());
            bail!("panicked: {msg}")
        }
    }
}

/// The command of the whole report, as shown in REPORT.md: without `--only` (the report
/// covers every experiment) and without paths (the report must not depend on where it was
/// generated, or `--check` would see a difference).
fn full_command(opts: &Options) -> String {
    Options {
        only: vec![],
        data_dir: None,
        out: Options::default_out(opts.quick),
        ..opts.clone()
    }
    .command_line()
}

fn summary_of(
    exp: &dyn Experiment,
    settings: &Settings,
    status: RunStatus,
    o: &ExperimentOutput,
) -> ExperimentSummary {
    ExperimentSummary {
        id: exp.id().to_string(),
        title: exp.title().to_string(),
        claim: exp.claim().to_string(),
        settings: settings.describe(),
        status,
        claims: o.claims.clone(),
        tables: o.tables.iter().map(|(s, _)| s.clone()).collect(),
        figures: o.figures.iter().map(|(s, _)| s.clone()).collect(),
        json: o.json.iter().map(|(s, _)| s.clone()).collect(),
        notes: o.notes.clone(),
    }
}

/// Write an experiment's files and summary, then remove output files it no longer produces.
fn write_outputs(exp: &dyn Experiment, settings: &Settings, o: &ExperimentOutput) -> Result<()> {
    let dir = settings.out.join(exp.id());
    let mut written: BTreeSet<PathBuf> = BTreeSet::new();
    for (stem, t) in &o.tables {
        written.extend(t.write(&dir, stem)?);
    }
    for (stem, f) in &o.figures {
        written.extend(
            f.write(&dir, stem)
                .with_context(|| format!("drawing figure {stem}"))?,
        );
    }
    for (stem, v) in &o.json {
        let p = dir.join(format!("{stem}.json"));
        write_json(&p, v)?;
        written.insert(p);
    }
    let summary = summary_of(exp, settings, RunStatus::Done, o);
    let p = dir.join("summary.json");
    write_json(&p, &summary)?;
    written.insert(p);
    remove_stale(&dir, &written)
}

/// Delete output-type files in `dir` that this run did not write (renamed or dropped outputs),
/// so the folder, and what `--check` compares, matches the code.
fn remove_stale(dir: &Path, written: &BTreeSet<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ours = path
            .extension()
            .is_some_and(|e| OUTPUT_EXTS.iter().any(|x| e == *x));
        if path.is_file() && ours && !name.starts_with('.') && !written.contains(&path) {
            fs::remove_file(&path).with_context(|| format!("removing stale {}", path.display()))?;
        }
    }
    Ok(())
}

/// The summary of an experiment not run now: from its `summary.json`, or "not run".
fn read_summary(out: &Path, exp: &dyn Experiment) -> ExperimentSummary {
    let p = out.join(exp.id()).join("summary.json");
    let parsed = fs::read_to_string(&p)
        .ok()
        .and_then(|t| serde_json::from_str::<ExperimentSummary>(&t).ok());
    match parsed {
        Some(mut s) => {
            // Title and claim come from the code, which may be newer than the file.
            s.title = exp.title().to_string();
            s.claim = exp.claim().to_string();
            s
        }
        None => ExperimentSummary {
            id: exp.id().to_string(),
            title: exp.title().to_string(),
            claim: exp.claim().to_string(),
            settings: String::new(),
            status: RunStatus::NotRun,
            claims: vec![],
            tables: vec![],
            figures: vec![],
            json: vec![],
            notes: vec![],
        },
    }
}

/// `<out>/timings.json`, or empty if missing or unreadable (it is informational only).
pub(crate) fn read_timings(out: &Path) -> BTreeMap<String, Timing> {
    fs::read_to_string(out.join("timings.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(out: &Path) -> Options {
        Options {
            quick: true,
            only: vec![],
            data_dir: None,
            out: out.to_path_buf(),
            seeds: None,
            no_cache: false,
            progress: false,
            stop: Stop::new(),
        }
    }

    fn is_png(path: &Path) -> bool {
        let bytes = fs::read(path).unwrap();
        // PNG signature, then the IHDR chunk (length 13) as the first chunk.
        bytes.len() > 33
            && bytes[..8] == [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]
            && &bytes[12..16] == b"IHDR"
    }

    fn png_size(path: &Path) -> (u32, u32) {
        let b = fs::read(path).unwrap();
        let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        (be(16), be(20))
    }

    #[test]
    fn demo_experiment_end_to_end() {
        let t = tempfile::tempdir().unwrap();
        let o = opts(t.path());
        let demo: [&dyn Experiment; 1] = [&crate::experiments::e0::E0];
        let summary = reproduce_with(&demo, &o).unwrap();
        assert_eq!(summary.tally.fail, 0, "the demo's claims hold");
        assert!(summary.tally.pass >= 4);
        let d = t.path().join("e0");
        for f in [
            "samples.md",
            "samples.csv",
            "samples.json",
            "fit.md",
            "fit.csv",
            "fit.json",
            "samples.svg",
            "samples.png",
            "summary.json",
        ] {
            assert!(d.join(f).is_file(), "missing e0/{f}");
        }
        assert!(is_png(&d.join("samples.png")));
        assert_eq!(png_size(&d.join("samples.png")), (1040, 600));
        let svg = fs::read_to_string(d.join("samples.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("injected σ"));
        let report = fs::read_to_string(t.path().join("REPORT.md")).unwrap();
        assert!(report.contains("![e0 samples](e0/samples.png)"));
        assert!(report.contains("| [e0.1](#exp-e0) |"));
        assert!(t.path().join("timings.json").is_file());
        assert!(t.path().join(".cache/.gitignore").is_file());
        // No temporary files anywhere.
        assert_eq!(clean_stale_temps(t.path()).unwrap(), 0);

        // A second run is served from the cache (no cache file is rewritten) and gives
        // identical files; timings.json keeps the run that computed them.
        let read_timings = || -> BTreeMap<String, Timing> {
            serde_json::from_str(&fs::read_to_string(t.path().join("timings.json")).unwrap())
                .unwrap()
        };
        let cache_mtimes = || -> Vec<std::time::SystemTime> {
            let mut files = vec![];
            let mut dirs = vec![t.path().join(".cache")];
            while let Some(dir) = dirs.pop() {
                for e in fs::read_dir(dir).unwrap() {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_dir() {
                        dirs.push(e.path());
                    } else if e.file_name() != ".gitignore" {
                        // (.cache/.gitignore is rewritten by every run.)
                        files.push((e.path(), e.metadata().unwrap().modified().unwrap()));
                    }
                }
            }
            files.sort();
            files.into_iter().map(|(_, m)| m).collect()
        };
        let (timings1, mtimes1) = (read_timings(), cache_mtimes());
        assert_eq!(timings1["e0"].computed, 16);
        let csv1 = fs::read(d.join("samples.csv")).unwrap();
        let stale = d.join("old-table.csv");
        fs::write(&stale, "x").unwrap();
        reproduce_with(&demo, &o).unwrap();
        assert_eq!(fs::read(d.join("samples.csv")).unwrap(), csv1);
        assert!(!stale.exists(), "stale outputs are removed");
        assert_eq!(cache_mtimes(), mtimes1, "the cache is read, not recomputed");
        assert_eq!(read_timings()["e0"].seconds, timings1["e0"].seconds);
        // --no-cache computes again and records the new timing.
        reproduce_with(
            &demo,
            &Options {
                no_cache: true,
                ..o.clone()
            },
        )
        .unwrap();
        assert_eq!(read_timings()["e0"].computed, 16);
        assert_ne!(read_timings()["e0"].seconds, timings1["e0"].seconds);
    }

    #[test]
    fn bad_only_and_seeds_are_rejected() {
        let t = tempfile::tempdir().unwrap();
        let mut o = opts(t.path());
        o.only = vec!["e42".into()];
        assert!(
            reproduce(&o)
                .unwrap_err()
                .to_string()
                .contains("allowed ids")
        );
        let mut o = opts(t.path());
        o.seeds = Some(0);
        assert!(reproduce(&o).is_err());
    }

    #[test]
    fn command_lines() {
        let mut o = opts(Path::new("results-quick"));
        assert_eq!(o.command_line(), "cargo xtask reproduce --quick");
        o.only = vec!["e1".into(), "e4".into()];
        o.out = PathBuf::from("elsewhere");
        assert_eq!(
            o.command_line(),
            "cargo xtask reproduce --quick --only e1,e4 --out elsewhere"
        );
    }

    /// Six cached configurations; computing number `stop_at` requests a stop, as the Ctrl-C
    /// handler would while that configuration runs.
    struct Steps {
        stop_at: Option<u64>,
    }
    impl Experiment for Steps {
        fn id(&self) -> &'static str {
            "steps"
        }
        fn title(&self) -> &'static str {
            "steps"
        }
        fn claim(&self) -> &'static str {
            "steps claim"
        }
        fn run(&self, ctx: &mut Ctx) -> Result<ExperimentOutput> {
            let mut t = crate::table::Table::new(["i", "value"]);
            for i in 0..6u64 {
                let v: f64 = ctx.cached(&("step", i), || {
                    if self.stop_at == Some(i) {
                        ctx.settings().stop.request();
                    }
                    Ok((Ctx::seed(&"step", i)? % 1000) as f64 / 7.0)
                })?;
                t.push(crate::row![i, v]);
            }
            let mut o = ExperimentOutput::new();
            o.claim(report::Claim::judged("s.1", "ok", "always", "-", true));
            o.table("steps", t);
            Ok(o)
        }
    }

    /// The files of `dir/<id>/`, by name.
    fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn an_interrupted_run_keeps_its_cache_and_resumes_to_identical_files() {
        let whole = tempfile::tempdir().unwrap();
        reproduce_with(&[&Steps { stop_at: None }], &opts(whole.path())).unwrap();

        let t = tempfile::tempdir().unwrap();
        let exp = Steps { stop_at: Some(2) };
        let err = reproduce_with(&[&exp], &opts(t.path())).unwrap_err();
        assert!(is_interrupted(&err), "{err:#}");
        // Configuration 2 was running when the stop came: it finished and was cached; 3 was
        // not started.
        let msg = err.to_string();
        assert!(
            msg.starts_with("interrupted: 3 configurations cached in ")
                && msg.ends_with("rerun the same command to resume"),
            "{msg}"
        );
        assert!(
            !t.path().join("steps").exists(),
            "no output of an unfinished experiment"
        );
        assert!(!t.path().join("REPORT.md").exists());
        assert_eq!(
            clean_stale_temps(t.path()).unwrap(),
            0,
            "no temporary file left"
        );
        // A stop requested between experiments ends the run before the next one starts.
        let o = opts(t.path());
        o.stop.request();
        assert!(is_interrupted(&reproduce_with(&[&exp], &o).unwrap_err()));

        // The same command again (a new process: a fresh flag) resumes from the cache.
        reproduce_with(&[&exp], &opts(t.path())).unwrap();
        let timings = read_timings(t.path());
        assert_eq!((timings["steps"].cached, timings["steps"].computed), (3, 3));
        assert_eq!(
            files(&t.path().join("steps")),
            files(&whole.path().join("steps"))
        );
    }

    /// Experiments that fail a claim, lack data, return an error and panic.
    struct Fake(&'static str, u8);
    impl Experiment for Fake {
        fn id(&self) -> &'static str {
            self.0
        }
        fn title(&self) -> &'static str {
            "fake"
        }
        fn claim(&self) -> &'static str {
            "fake claim"
        }
        fn run(&self, _ctx: &mut Ctx) -> Result<ExperimentOutput> {
            let mut o = ExperimentOutput::new();
            match self.1 {
                0 => {
                    o.claim(report::Claim::judged(
                        "f1.1",
                        "gap is small",
                        "gap <= 0.01",
                        "gap = 0.2",
                        false,
                    ));
                }
                1 => {
                    o.claim(report::Claim::not_run(
                        "f2.1",
                        "holds on MNIST",
                        "gap <= 0.02",
                        "MNIST not found: run `imbalance fetch mnist`",
                    ));
                    o.note("No image data: get it with `imbalance fetch mnist`.");
                }
                2 => bail!("grid point rho=50 diverged"),
                _ => panic!("assertion in a library crate"),
            }
            Ok(o)
        }
    }

    #[test]
    fn fail_not_run_error_and_panic_are_all_reported_and_others_still_run() {
        let t = tempfile::tempdir().unwrap();
        let reg: [&dyn Experiment; 4] = [
            &Fake("f1", 0),
            &Fake("f2", 1),
            &Fake("f3", 2),
            &Fake("f4", 3),
        ];
        let err = reproduce_with(&reg, &opts(t.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("f3, f4"), "{err}");
        let r = fs::read_to_string(t.path().join("REPORT.md")).unwrap();
        assert!(
            r.contains("0 PASS, 1 FAIL, 1 NOT RUN, 2 experiment error(s)"),
            "{r}"
        );
        assert!(r.contains("> - **f1.1**: gap is small"));
        assert!(r.contains("NOT RUN: MNIST not found: run `imbalance fetch mnist`"));
        assert!(r.contains("No image data: get it with"));
        assert!(r.contains("**f3 stopped with an error:** grid point rho=50 diverged"));
        assert!(r.contains("**f4 stopped with an error:** panicked: assertion in a library crate"));

        // Fix f3 only (--only f3): the report keeps f1, f2 and f4 from their summary.json.
        let reg: [&dyn Experiment; 4] = [
            &Fake("f1", 0),
            &Fake("f2", 1),
            &Fake("f3", 0),
            &Fake("f4", 3),
        ];
        let o = Options {
            only: vec!["f3".into()],
            ..opts(t.path())
        };
        reproduce_with(&reg, &o).unwrap();
        let r = fs::read_to_string(t.path().join("REPORT.md")).unwrap();
        assert!(
            r.contains("0 PASS, 2 FAIL, 1 NOT RUN, 1 experiment error(s)"),
            "{r}"
        );
    }
}
