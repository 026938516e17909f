//! `cargo xtask`: project automation for the `imbalance` workspace.
//!
//! ```text
//! cargo xtask reproduce [--quick] [--only e1,e4] [--data-dir DIR] [--out DIR] [--seeds N]
//!                       [--check] [--no-cache]
//! cargo xtask list
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
        Command::Reproduce(a) => {
            let opts = Options {
                quick: a.quick,
                only: a.only,
                data_dir: a.data_dir,
                out: a.out.unwrap_or_else(|| Options::default_out(a.quick)),
                seeds: a.seeds.map(|n| n as usize),
                no_cache: a.no_cache,
                progress: true,
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
