//! `cargo xtask`: project automation for the `imbalance` workspace.
//!
//! ```text
//! cargo xtask reproduce [--quick] [--only e1,e4] [--data-dir DIR] [--out DIR] [--seeds N]
//!                       [--check] [--no-cache]
//! cargo xtask list
//! cargo xtask theory-grid [--seeds N] [--out FILE]
//! cargo xtask tune-check [--seeds N] [--points N]
//! cargo xtask readme-check [--crate NAME]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use xtask::experiments::REGISTRY;
use xtask::run::Options;

/// Project automation for the imbalance workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the experiments' tables, figures and results/REPORT.md.
    Reproduce(ReproduceArgs),
    /// List the registered experiments and the claims they test.
    List,
    /// Theory vs simulation on a grid of mixtures; writes tests/fixtures/theory_grid.json.
    TheoryGrid(GridArgs),
    /// Theory-tuned hyperparameters vs a fine grid of simulations.
    TuneCheck(TuneCheckArgs),
    /// Build and run each library crate's README example in a fresh project outside the
    /// workspace that depends on that crate alone.
    ReadmeCheck(ReadmeCheckArgs),
}

/// Flags of `cargo xtask readme-check`.
#[derive(Debug, Args)]
struct ReadmeCheckArgs {
    /// Check only this crate (package name, or its name without `imbalance-`).
    #[arg(long = "crate", value_name = "NAME")]
    krate: Option<String>,
}

/// Flags of `cargo xtask theory-grid`.
#[derive(Debug, Args)]
struct GridArgs {
    /// Training seeds per configuration.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..))]
    seeds: u32,
    /// Output file [default: tests/fixtures/theory_grid.json in the workspace].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Take the simulations from this earlier fixture and recompute only the theory.
    #[arg(long, value_name = "FILE")]
    reuse_sim: Option<PathBuf>,
}

/// Flags of `cargo xtask tune-check`.
#[derive(Debug, Args)]
struct TuneCheckArgs {
    /// Training seeds per grid point.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(2..))]
    seeds: u32,
    /// Grid points per hyperparameter.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(3..))]
    points: u32,
}

/// The workspace root (xtask lives in `<root>/xtask`).
fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Flags of `cargo xtask reproduce`.
#[derive(Debug, Args)]
struct ReproduceArgs {
    /// Small grids and few seeds (minutes, for CI); the default is the full run.
    #[arg(long)]
    quick: bool,
    /// Run only these experiments (comma-separated ids, e.g. e1,e4); see `cargo xtask list`.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    only: Vec<String>,
    /// Folder with the image datasets (else IMBALANCE_DATA_DIR, else the default location).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Output folder [default: results, or results-quick with --quick].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Number of seeds for every experiment (overrides their defaults).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    seeds: Option<u32>,
    /// Rerun into a temporary folder and fail if any table or report differs from --out.
    #[arg(long)]
    check: bool,
    /// Ignore cached results and recompute everything (the cache is still refreshed).
    #[arg(long)]
    no_cache: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => {
            for e in REGISTRY {
                println!("{}  {}\n    claim: {}", e.id(), e.title(), e.claim());
            }
            Ok(())
        }
        Command::TheoryGrid(a) => {
            let out = a
                .out
                .unwrap_or_else(|| workspace_root().join("tests/fixtures/theory_grid.json"));
            xtask::grid::run(a.seeds as usize, &out, a.reuse_sim.as_deref()).map(|_| ())
        }
        Command::TuneCheck(a) => {
            xtask::tune_check::run(a.seeds as usize, a.points as usize).map(|_| ())
        }
        Command::ReadmeCheck(a) => xtask::readme_check::run(&workspace_root(), a.krate.as_deref()),
        Command::Reproduce(a) => {
            let stop = xtask::stop::Stop::new();
            if let Err(e) = xtask::stop::install(&stop) {
                eprintln!(
                    "warning: no Ctrl-C handler ({e}); an interrupted run still resumes from the cache"
                );
            }
            let opts = Options {
                quick: a.quick,
                only: a.only,
                data_dir: a.data_dir,
                out: a.out.unwrap_or_else(|| Options::default_out(a.quick)),
                seeds: a.seeds.map(|n| n as usize),
                no_cache: a.no_cache,
                progress: true,
                stop,
            };
            if a.check {
                xtask::check::run(&opts)
            } else {
                xtask::run::reproduce(&opts).map(|_| ())
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // One line: what the cache holds and how to resume.
        Err(e) if xtask::stop::is_interrupted(&e) => {
            eprintln!("{e}");
            ExitCode::from(xtask::stop::EXIT_CODE)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
