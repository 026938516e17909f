//! `imbalance train` (random features on real images, with the anisotropic theory beside the
//! measurement), `imbalance fetch` and `imbalance import` (getting the data).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use imbalance_datasets::{
    DatasetName, InstallReport, LoadOptions, MinorityChoice, fetch, import, load, resolve_data_dir,
};
use imbalance_gradflow::FlowOptions;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::json;

use crate::args::{
    MethodArgs, ProfileKind, check_method_horizon, horizon, horizon_config, method_config,
};
use crate::error::{Result, usage};
use crate::images::{ClassCounts, DEFAULT_MOMENT_SAMPLES, FeatureSpec, ImageRunSpec, train_images};
use crate::output::{ErrorSummary, print_json};

/// Default `--features` of `imbalance train`.
pub const DEFAULT_FEATURES: &str = "relu:10000";
/// Default `--time` of `imbalance train` (see the flag's help). Not `inf`: at T = inf the
/// additive methods (la, ldam, wce) coincide with ce and post-hoc is undefined, so comparing
/// methods needs a finite T; 1e7 is ~100x the time scale of the default run (~8e4 on MNIST),
/// late enough for the training set to be fitted.
pub const DEFAULT_TIME: &str = "1e7";

/// Arguments of `imbalance train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Dataset: mnist, fashion-mnist or cifar10.
    #[arg(long, value_name = "NAME")]
    dataset: String,
    /// Folder holding `<name>/` (default: $IMBALANCE_DATA_DIR, else ~/.cache/imbalance/datasets;
    /// `imbalance fetch NAME` fills it).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Feature map: relu:P, tanh:P, erf:P (P random features), relu:inf or erf:inf (limit
    /// kernel), identity (raw centred pixels).
    #[arg(long, value_name = "SPEC", default_value = DEFAULT_FEATURES)]
    features: String,
    /// Training images per class 0..9, comma-separated (default 500,500,500,500,500,50,50,50,50,50).
    #[arg(long, value_delimiter = ',', value_name = "N0,...,N9")]
    counts: Option<Vec<usize>>,
    /// Imbalance profile (instead of --counts); needs --n-max and --ratio.
    #[arg(long, value_enum)]
    profile: Option<ProfileKind>,
    /// Images of the largest class (with --profile).
    #[arg(long)]
    n_max: Option<usize>,
    /// Imbalance ratio n_max / n_min >= 1 (with --profile).
    #[arg(long)]
    ratio: Option<f64>,
    /// Number of minority classes (with --profile step; default 5).
    #[arg(long)]
    minority_classes: Option<usize>,
    /// Which classes are the minority (with --profile step): a comma-separated list, or
    /// `random` (--minority-classes of them, drawn with --seed). Default: the last ones.
    #[arg(long, value_name = "LIST|random")]
    minority: Option<String>,
    #[command(flatten)]
    method: MethodArgs,
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit, where
    /// la, ldam and wce coincide with ce). The time scale of a run is printed (n / mean
    /// diagonal of the Gram matrix, ~8e4 for the default run on MNIST): T must be well beyond
    /// it for the model to fit its training set. The default 1e7 is ~100x beyond it.
    #[arg(long, value_name = "T|inf", default_value = DEFAULT_TIME)]
    time: String,
    /// Seed of the subsample, the random features and the moment sample.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Also predict the per-class errors with the anisotropic theory, from feature moments
    /// estimated on a class-balanced sample of the training pool.
    #[arg(long)]
    predict: bool,
    /// Pool images per class for the moment estimates (with --predict; default 500).
    #[arg(long, value_name = "M")]
    moment_samples: Option<usize>,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

impl TrainArgs {
    /// The class counts described by the flags.
    fn class_counts(&self) -> Result<ClassCounts> {
        match (&self.counts, self.profile) {
            (Some(_), Some(_)) => Err(usage(
                "--counts",
                "give either --counts or --profile, not both",
            )),
            (counts, None) => {
                for (flag, given) in [
                    ("--n-max", self.n_max.is_some()),
                    ("--ratio", self.ratio.is_some()),
                    ("--minority-classes", self.minority_classes.is_some()),
                    ("--minority", self.minority.is_some()),
                ] {
                    if given {
                        return Err(usage(flag, "only goes with --profile step|exp"));
                    }
                }
                Ok(counts
                    .clone()
                    .map_or_else(ClassCounts::default_step, ClassCounts::Explicit))
            }
            (None, Some(kind)) => {
                let n_max = self
                    .n_max
                    .ok_or_else(|| usage("--n-max", "missing: --profile needs --n-max N"))?;
                let ratio = self
                    .ratio
                    .ok_or_else(|| usage("--ratio", "missing: --profile needs --ratio R"))?;
                match kind {
                    ProfileKind::Exp => {
                        for (flag, given) in [
                            ("--minority-classes", self.minority_classes.is_some()),
                            ("--minority", self.minority.is_some()),
                        ] {
                            if given {
                                return Err(usage(flag, "only goes with --profile step"));
                            }
                        }
                        Ok(ClassCounts::Exp {
                            n_max,
                            ratio,
                            shuffle: false,
                        })
                    }
                    ProfileKind::Step => {
                        let m = self.minority_classes;
                        let minority = match self.minority.as_deref().map(str::trim) {
                            None => MinorityChoice::Last(m.unwrap_or(5)),
                            Some(r) if r.eq_ignore_ascii_case("random") => {
                                MinorityChoice::Random(m.unwrap_or(5))
                            }
                            Some(list) => {
                                let classes = parse_class_list(list)?;
                                if m.is_some_and(|m| m != classes.len()) {
                                    return Err(usage(
                                        "--minority-classes",
                                        format!(
                                            "says {} but --minority lists {} classes",
                                            m.unwrap_or(0),
                                            classes.len()
                                        ),
                                    ));
                                }
                                MinorityChoice::Given(classes)
                            }
                        };
                        Ok(ClassCounts::Step {
                            n_max,
                            ratio,
                            minority,
                        })
                    }
                }
            }
        }
    }
}

/// Parses `--minority 5,6,7`.
fn parse_class_list(list: &str) -> Result<Vec<usize>> {
    list.split(',')
        .map(|t| {
            t.trim().parse::<usize>().map_err(|_| {
                usage(
                    "--minority",
                    format!(
                        "'{list}' is not a comma-separated list of class indices 0..9 or 'random'"
                    ),
                )
            })
        })
        .collect()
}

/// Mean of the entries of `v` at the classes where `pick` holds (NaN if none).
fn mean_where(v: &[f64], counts: &[usize], pick: impl Fn(usize) -> bool) -> f64 {
    let sel: Vec<f64> = v
        .iter()
        .zip(counts)
        .filter(|(_, n)| pick(**n))
        .map(|(e, _)| *e)
        .collect();
    if sel.is_empty() {
        f64::NAN
    } else {
        sel.iter().sum::<f64>() / sel.len() as f64
    }
}

/// Mean error of the minority classes (fewer images than the largest class) and of the
/// majority classes (as many as the largest).
pub fn minority_majority(errors: &[f64], counts: &[usize]) -> (f64, f64) {
    let max = counts.iter().copied().max().unwrap_or(0);
    (
        mean_where(errors, counts, |n| n < max),
        mean_where(errors, counts, |n| n == max),
    )
}

/// Runs `imbalance train`.
pub fn run_train(args: &TrainArgs) -> Result<()> {
    let start = Instant::now();
    // Everything the user typed is checked before the (slow) data loading.
    let name: DatasetName = args.dataset.parse()?;
    let features: FeatureSpec = args.features.parse()?;
    let class_counts = args.class_counts()?;
    let method = args.method.method()?;
    let horizon = horizon(&args.time)?;
    check_method_horizon(&method, horizon)?;
    let mut rng = Pcg64::seed_from_u64(args.seed);
    let counts = class_counts.resolve(name.num_classes(), &mut rng)?;
    if !args.predict && args.moment_samples.is_some() {
        return Err(usage("--moment-samples", "only goes with --predict"));
    }
    let moment_samples = args
        .predict
        .then(|| args.moment_samples.unwrap_or(DEFAULT_MOMENT_SAMPLES));

    let ds = load(name, args.data_dir.as_deref(), &LoadOptions::default())
        .map_err(|e| data_hint(e, name))?;
    for w in &ds.warnings {
        eprintln!("warning: {w}");
    }
    let load_seconds = start.elapsed().as_secs_f64();
    let spec = ImageRunSpec {
        counts: counts.clone(),
        features,
        method,
        horizon,
        moment_samples,
        flow: FlowOptions::default(),
        progress: true,
    };
    let run = train_images(&ds, &spec, &mut rng)?;
    let seconds = start.elapsed().as_secs_f64();
    let summary = ErrorSummary::new(run.measured.per_class_error.clone());
    let (minor, major) = minority_majority(&summary.per_class, &counts);
    let prep = &run.prepared;
    let t = prep.timings;
    let n: usize = counts.iter().sum();

    if args.json {
        let mut out = summary.json();
        out["minority_mean_error"] = json!(minor);
        out["majority_mean_error"] = json!(major);
        out["test_per_class"] = json!(prep.test_counts);
        out["n_train"] = json!(n);
        out["time_scale"] = json!(prep.time_scale());
        out["seconds"] = json!(seconds);
        out["timings"] = json!({
            "load": load_seconds, "prepare": t.prepare, "features": t.features,
            "moments": t.moments, "train": t.train, "theory": t.theory,
        });
        if let (Some(p), Some(fit)) = (&run.prediction, &prep.theory) {
            let (pmin, pmaj) = minority_majority(&p.per_class_error, &counts);
            out["predicted_per_class_error"] = json!(p.per_class_error);
            out["predicted_balanced_error"] = json!(p.balanced_error);
            out["predicted_worst_class_error"] = json!(p.worst_class_error);
            out["predicted_minority_mean_error"] = json!(pmin);
            out["predicted_majority_mean_error"] = json!(pmaj);
            out["effective_rank"] = json!(fit.effective_rank);
            out["trace"] = json!(fit.moments.trace);
            out["psd_correction"] = json!(fit.psd_correction);
        }
        out["config"] = json!({
            "command": "train",
            "dataset": name.dir_name(),
            "train_batches": ds.train_batches,
            "features": features.to_string(),
            "feature_seed": prep.feature_seed,
            "counts": counts,
            "method": method_config(&method),
            "time": horizon_config(horizon),
            "seed": args.seed,
            "predict": args.predict,
            "moment_samples": moment_samples,
        });
        print_json(&out)
    } else {
        println!(
            "train: {name} ({} training images in the pool, {} test images), features {features}, method {method}, T = {}, seed {}",
            ds.n_train(),
            ds.n_test(),
            args.time,
            args.seed
        );
        for note in &ds.notes {
            println!("  data: {note}");
        }
        let pred = run.prediction.as_ref().map(|p| &p.per_class_error);
        println!(
            "class  {:<12} n_train  error{}",
            "name",
            if pred.is_some() { "   theory" } else { "" }
        );
        for (c, e) in summary.per_class.iter().enumerate() {
            let cname = ds.class_names.get(c).map_or("", String::as_str);
            match pred {
                Some(p) => println!("{c:>5}  {cname:<12} {:>7}  {e:.4}   {:.4}", counts[c], p[c]),
                None => println!("{c:>5}  {cname:<12} {:>7}  {e:.4}", counts[c]),
            }
        }
        println!(
            "balanced error {:.4}, worst-class error {:.4}, minority mean {minor:.4}, majority mean {major:.4}",
            summary.balanced, summary.worst
        );
        if let (Some(p), Some(fit)) = (&run.prediction, &prep.theory) {
            let (pmin, pmaj) = minority_majority(&p.per_class_error, &counts);
            println!(
                "theory: balanced {:.4}, worst-class {:.4}, minority mean {pmin:.4}, majority mean {pmaj:.4} (moments from {} pool images per class)",
                p.balanced_error, p.worst_class_error, fit.moment_samples
            );
            println!(
                "effective rank tr(S)^2/tr(S^2) per class: {} (n = {n}; the theory needs it large compared with n)",
                fit.effective_rank
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        println!(
            "time scale n / mean Gram diagonal = {:.3e} (T should be well beyond it)",
            prep.time_scale()
        );
        println!(
            "({seconds:.1} s: load {load_seconds:.1}, features {:.1}, moments {:.1}, train {:.1}, theory {:.1})",
            t.features, t.moments, t.train, t.theory
        );
        Ok(())
    }
}

/// Adds to a "data directory not found" error how to get the data.
fn data_hint(e: imbalance_datasets::Error, name: DatasetName) -> crate::Error {
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

/// Runs `imbalance fetch`.
pub fn run_fetch(args: &FetchArgs) -> Result<()> {
    let name: DatasetName = args.dataset.parse()?;
    let dir = destination(args.data_dir.as_deref())?;
    let report = fetch(name, &dir, std::io::stderr().is_terminal())?;
    print_report("fetched", name, &report);
    Ok(())
}

/// Runs `imbalance import`.
pub fn run_import(args: &ImportArgs) -> Result<()> {
    let name: DatasetName = args.dataset.parse()?;
    let dir = destination(args.data_dir.as_deref())?;
    let report = import(name, &args.from, &dir)?;
    print_report("imported", name, &report);
    Ok(())
}
