//! Getting the data: `imbalance fetch` and `imbalance import`, and the hints a missing or
//! unreadable data directory gets.

use std::path::{Path, PathBuf};

use clap::Args;
use imbalance_datasets::{DatasetName, InstallReport, import, resolve_data_dir};

use crate::error::{Result, usage};

/// "permission denied" when the data directory or its dataset folder cannot be read (the
/// loader would only see missing files).
pub(crate) fn denied_hint(data_dir: Option<&Path>, name: DatasetName) -> Option<crate::Error> {
    let flag = if data_dir.is_some() {
        "--data-dir"
    } else {
        "IMBALANCE_DATA_DIR"
    };
    let dir = match data_dir {
        Some(d) => d.to_path_buf(),
        None => resolve_data_dir(None).ok()?,
    };
    [dir.clone(), dir.join(name.dir_name())]
        .into_iter()
        .find_map(|p| {
            let denied = match std::fs::read_dir(&p) {
                Err(e) => e.kind() == std::io::ErrorKind::PermissionDenied,
                Ok(mut entries) => entries.any(|f| {
                    f.is_ok_and(|f| {
                        f.path().is_file()
                            && std::fs::File::open(f.path())
                                .is_err_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
                    })
                }),
            };
            denied.then(|| {
                usage(
                    flag,
                    format!(
                        "{}: permission denied (cannot read it or a file in it)",
                        p.display()
                    ),
                )
            })
        })
}

/// Adds to a "data directory not found" error how to get the data.
pub(crate) fn data_hint(e: imbalance_datasets::Error, name: DatasetName) -> crate::Error {
    match e {
        imbalance_datasets::Error::DataDirNotFound { path, origin } => usage(
            if origin == "--data-dir" {
                "--data-dir"
            } else {
                "IMBALANCE_DATA_DIR"
            },
            format!(
                "{} does not exist or is not a folder; point it to a folder holding {name}/, or download the data with `imbalance fetch {name}` (optionally with --data-dir DIR)",
                path.display()
            ),
        ),
        other => other.into(),
    }
}

/// Arguments of `imbalance fetch`.
#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// Dataset: mnist, fashion-mnist or cifar10.
    #[arg(value_name = "NAME")]
    dataset: String,
    /// Where to put `<name>/` (created if missing; default: $IMBALANCE_DATA_DIR, else
    /// ~/.cache/imbalance/datasets).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Arguments of `imbalance import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Dataset: mnist, fashion-mnist or cifar10.
    #[arg(value_name = "NAME")]
    dataset: String,
    /// Folder holding the files (MNIST-like: the four IDX files, raw or .gz; CIFAR-10: the
    /// binary batches, or the official cifar-10-binary.tar.gz archive itself).
    #[arg(long, value_name = "PATH")]
    from: PathBuf,
    /// Where to put `<name>/` (created if missing; default: $IMBALANCE_DATA_DIR, else
    /// ~/.cache/imbalance/datasets).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The destination data directory of fetch / import: `--data-dir` as given (created if
/// missing), else the default lookup.
fn destination(explicit: Option<&Path>) -> Result<PathBuf> {
    match explicit {
        Some(p) => Ok(p.to_path_buf()),
        None => Ok(resolve_data_dir(None)?),
    }
}

fn print_report(what: &str, name: DatasetName, report: &InstallReport) {
    for note in &report.notes {
        println!("{note}");
    }
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{what} {name}: {} file(s) in {}",
        report.files.len(),
        report.dir.display()
    );
}

/// Runs `imbalance fetch` (a download needs the crate feature `fetch`, on by default).
pub fn run_fetch(args: &FetchArgs) -> Result<()> {
    let name: DatasetName = args.dataset.parse()?;
    let dir = destination(args.data_dir.as_deref())?;
    #[cfg(feature = "fetch")]
    {
        let report = imbalance_datasets::fetch(
            name,
            &dir,
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )?;
        print_report("fetched", name, &report);
        Ok(())
    }
    #[cfg(not(feature = "fetch"))]
    {
        Err(usage(
            "fetch",
            format!(
                "this build has no download support (imbalance-cli without its `fetch` feature); copy the files of {name} into {} with `imbalance import`",
                dir.display()
            ),
        ))
    }
}

/// Runs `imbalance import`.
pub fn run_import(args: &ImportArgs) -> Result<()> {
    let name: DatasetName = args.dataset.parse()?;
    let dir = destination(args.data_dir.as_deref())?;
    let report = import(name, &args.from, &dir)?;
    print_report("imported", name, &report);
    Ok(())
}
