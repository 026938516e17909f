//! The `imbalance` command line; all of its logic lives in the `imbalance-cli` crate.
fn main() -> std::process::ExitCode {
    imbalance_cli::main()
}
