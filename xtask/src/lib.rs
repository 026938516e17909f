//! `xtask`: the machinery behind `cargo xtask reproduce`, which regenerates every experiment of
//! the paper (E1-E8) into `results/<id>/` (Markdown, CSV and JSON tables, SVG and PNG figures)
//! and writes `results/REPORT.md` with a PASS/FAIL verdict per claim.
//!
//! Modules, in the order an experiment uses them:
//! * [`experiments`]: the [`experiments::Experiment`] trait and THE registry
//!   ([`experiments::REGISTRY`]);
//! * [`ctx`]: what `run` receives: quick/full grids, seeds, data directory, cache, progress;
//! * [`cache`]: per-configuration result cache (`<out>/.cache/<id>/<hash>.bin`);
//! * [`progress`]: `[e3 12/40] ... eta 1m20s` lines on stderr;
//! * [`table`]: deterministic Markdown/CSV/JSON tables;
//! * [`plot`]: multi-panel figures (theory lines, simulation points with error bars);
//! * [`report`]: claims, verdicts and `REPORT.md`;
//! * [`run`]: the driver; [`check`]: `--check` (determinism against committed results);
//! * [`stop`]: Ctrl-C / SIGTERM: stop at the next configuration, keep the cache, resume;
//! * every output file is written with `imbalance_datasets::write_atomic` (temp file + rename);
//! * [`grid`]: `cargo xtask theory-grid` (theory vs simulation on a grid of mixtures, the
//!   fixture `tests/fixtures/theory_grid.json`; E5 uses it);
//! * [`readme_check`]: `cargo xtask readme-check` (each crate's README example built and run
//!   in a fresh project outside the workspace);
//! * [`tune_check`]: `cargo xtask tune-check` (theory-tuned hyperparameters vs grid search on
//!   simulations; E6 uses it).
//!
//! ```
//! use xtask::row;
//! use xtask::table::Table;
//! let mut t = Table::new(["rho", "error"]);
//! t.push(row![10, 0.25]);
//! assert_eq!(t.to_csv(), "rho,error\n10,0.25\n");
//! ```

pub mod cache;
pub mod check;
pub mod ctx;
pub mod experiments;
pub mod grid;
pub mod plot;
pub mod progress;
pub mod readme_check;
pub mod report;
pub mod run;
pub mod stop;
pub mod table;
pub mod tune_check;
