//! The `imbalance` command line as a library: argument parsing and the commands.
//!
//! The binary (built by the facade package `imbalance`) only calls [`main`]. Each command maps
//! its flags to the library crates and prints either a table or, with `--json`, one JSON object
//! (the contract in DESIGN.md). Bad input ends with one line on stderr and exit code 2.
//!
//! ```
//! let code = imbalance_cli::run_from([
//!     "imbalance", "simulate", "--counts", "20,5", "--dim", "200", "--snr", "3",
//!     "--method", "ce", "--time", "100", "--json",
//! ]);
//! assert_eq!(code, 0);
//! ```
#![deny(missing_docs)]

mod args;
mod error;
pub mod images;
mod output;
pub mod pipeline;
mod predict;
mod simulate;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::{Error, Result};

/// Class-imbalanced learning in overparameterized linear models: simulate, predict, tune, train.
#[derive(Debug, Parser)]
#[command(name = "imbalance", version, about, allow_negative_numbers = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sample a Gaussian mixture, train by exact gradient flow, measure per-class test error.
    #[command(allow_negative_numbers = true)]
    Simulate(simulate::SimulateArgs),
    /// Predict per-class test errors with the mean-field theory (no training).
    #[command(allow_negative_numbers = true)]
    Predict(predict::PredictArgs),
    /// Tune a method's hyperparameter by minimising the theory's predicted error.
    #[command(allow_negative_numbers = true)]
    Tune(predict::TuneArgs),
    /// Train on real images (MNIST, Fashion-MNIST, CIFAR-10) with random features; per-class
    /// test error, and with --predict the anisotropic theory's prediction beside it.
    #[command(allow_negative_numbers = true)]
    Train(train::TrainArgs),
    /// Download a dataset (mnist, fashion-mnist, cifar10) into the data directory.
    Fetch(train::FetchArgs),
    /// Copy a dataset from a local folder (or the CIFAR-10 archive) into the data directory.
    Import(train::ImportArgs),
}

/// Runs the command line on the process arguments; the exit code to return from `main`.
pub fn main() -> ExitCode {
    ExitCode::from(run_from(std::env::args_os()))
}

/// Runs the command line on the given arguments (the first is the program name) and returns
/// the exit code: 0 on success, 2 on bad input or failure (after one line on stderr).
pub fn run_from<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                };
            }
            // clap's message starts with "error: ..."; keep that one line and point to --help.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            return 2;
        }
    };
    let result = match &cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Predict(a) => predict::run_predict(a),
        Command::Tune(a) => predict::run_tune(a),
        Command::Train(a) => train::run_train(a),
        Command::Fetch(a) => train::run_fetch(a),
        Command::Import(a) => train::run_import(a),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
