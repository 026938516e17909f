//! The `imbalance` command line as a library: argument parsing and the commands.
//!
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod args;
mod counts;
mod data;
mod error;
mod interrupt;
mod limits;
mod output;
mod predict;
mod preview;
mod simulate;
pub mod sweep;
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
    Train(Box<train::TrainArgs>),
    /// Write a PNG grid of training images per class, labelled with each class's training
    /// count under the chosen counts or profile (a built-in dataset or an image folder).
    Preview(preview::PreviewArgs),
    /// Run a sweep: a JSON list of independent predict/simulate/tune configurations, as shard
    /// I of N (one JSON line per configuration into DIR/shard-I-of-N.jsonl), or merge the
    /// shard files (--merge DIR) into one table of JSON lines in configuration order.
    Sweep(sweep::SweepArgs),
    /// Download a dataset (mnist, fashion-mnist, cifar10) into the data directory.
    Fetch(data::FetchArgs),
    /// Copy a dataset from a local folder (or the CIFAR-10 archive) into the data directory.
    Import(data::ImportArgs),
}

/// clap's whole error in one line: "error: ..." with the flag, the allowed values and the
/// missing arguments, without the usage block (it ends with a pointer to --help).
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Usage:") {
            break;
        }
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        parts.push(line.to_string());
    }
    let mut msg = parts
        .first()
        .cloned()
        .unwrap_or_else(|| "error: invalid arguments".into());
    let rest = &parts[parts.len().min(1)..];
    if !rest.is_empty() {
        // A list of missing arguments follows a colon; other lines are tips or allowed values.
        let list = msg.ends_with(':');
        msg.push_str(if list { " " } else { "; " });
        msg.push_str(&rest.join(if list { ", " } else { "; " }));
    }
    format!("{msg} (see --help)")
}

/// Parses `args` (the first is the program name) and checks the request as the command does
/// before it computes anything: the flags, their ranges and the cost estimate (`train`: as on
/// MNIST's sizes, without reading data; `preview`: its flags; `sweep`, `fetch` and `import`:
/// the parse only). `Ok` when the
/// command would start; otherwise the one line the command would print. Reads no file,
/// allocates nothing that grows with the request, never panics: the entry point of the fuzz
/// targets (fuzz/).
pub fn check_request<I, T>(args: I) -> std::result::Result<(), String>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| match e.kind() {
        // Help and version texts are what the user asked for, many lines by design.
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            e.render().to_string()
        }
        _ => one_line(&clap_message(&e)),
    })?;
    let checked = match &cli.command {
        Command::Simulate(a) => simulate::check(a),
        Command::Predict(a) => predict::check_predict(a),
        Command::Tune(a) => predict::check_tune(a),
        Command::Train(a) => train::check_without_data(a),
        Command::Preview(a) => preview::check(a).map(|_| ()),
        Command::Sweep(_) | Command::Fetch(_) | Command::Import(_) => Ok(()),
    };
    checked.map_err(|e| format!("error: {}", one_line(&e.to_string())))
}

/// `msg` with every control character (a newline in a flag's value, say) escaped as in Rust
/// source (`\n`, `\u{3}`): a message stays one line whatever the user typed.
fn one_line(msg: &str) -> String {
    msg.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs the command line on the process arguments; the exit code to return from `main`.
pub fn main() -> ExitCode {
    quiet_on_broken_pipe();
    ExitCode::from(run_from(std::env::args_os()))
}

/// Exit code when the reader of stdout went away: 128 + SIGPIPE, what a shell reports for a
/// program the signal stopped.
pub const BROKEN_PIPE_EXIT_CODE: i32 = 141;

/// A reader that closes the pipe early (`imbalance predict ... | head`) ends the output: the
/// process exits quietly with [`BROKEN_PIPE_EXIT_CODE`], as a C program killed by SIGPIPE
/// would, where Rust's print macros (which ignore SIGPIPE) would panic. Every other panic keeps
/// the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        // The standard library's message for a failed print: "failed printing to stdout: {e}".
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT_CODE);
        }
        default(info);
    }));
}

/// Runs the command line on the given arguments (the first is the program name) and returns
/// the exit code: 0 on success, 2 on bad input or failure (after one line on stderr), 130 when
/// Ctrl-C or SIGTERM stopped `simulate` or `train` (after one line starting `interrupted:`).
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
            eprintln!("{}", one_line(&clap_message(&e)));
            return 2;
        }
    };
    let result = match &cli.command {
        Command::Simulate(a) => simulate::run(a),
        Command::Predict(a) => predict::run_predict(a),
        Command::Tune(a) => predict::run_tune(a),
        Command::Train(a) => train::run_train(a),
        Command::Preview(a) => preview::run_preview(a),
        Command::Sweep(a) => sweep::run_sweep(a),
        Command::Fetch(a) => data::run_fetch(a),
        Command::Import(a) => data::run_import(a),
    };
    match result {
        Ok(()) => 0,
        Err(Error::Interrupted(what)) => {
            eprintln!("interrupted: {what}");
            interrupt::EXIT_CODE
        }
        Err(e) => {
            eprintln!("error: {}", one_line(&e.to_string()));
            2
        }
    }
}
