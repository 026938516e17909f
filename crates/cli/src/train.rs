//! `imbalance train`: random features on real images or your own features, with the
//! anisotropic theory beside the measurement.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use imbalance_datasets::{
    DatasetName, FeatureSet, ImageFolderOptions, LoadOptions, image_folder_features, load,
    load_features, load_image_folders,
};
use imbalance_gradflow::FlowOptions;
use imbalance_pipeline::request;
use imbalance_pipeline::{
    ClassCounts, FeatureSpec, ImageRunSpec, MomentSamples, Stage, train_cost, train_features,
    train_images,
};
use imbalance_theory::Objective;
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::json;

use crate::args::{JsonArgs, MethodArgs, horizon_config, method_config};
use crate::counts::{ImageCountsArgs, builtin_counts, own_data_counts};
use crate::data::{data_hint, denied_hint};
use crate::error::{Result, usage};
use crate::limits::MemoryArgs;
use crate::output::{ErrorSummary, Progress, StageProgress, print_json};

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
    /// Dataset: mnist, fashion-mnist or cifar10 (or give your own features with
    /// --features-file and the three other files instead).
    #[arg(long, value_name = "NAME")]
    dataset: Option<String>,
    /// Your own training-pool features instead of --dataset: a NumPy .npy file holding a 2-D
    /// C-order float32 or float64 array (samples x features), used as given (no scaling or
    /// centring; a linear probe, --features identity, unless --features says otherwise), every
    /// row with the data's own class counts unless --counts or --profile subsample it. Needs
    /// --labels-file, --test-features-file and --test-labels-file.
    #[arg(long, value_name = "FILE.npy")]
    features_file: Option<PathBuf>,
    /// Labels of --features-file: a 1-D .npy array of any integer dtype, classes 0..K-1 (each
    /// present).
    #[arg(long, value_name = "FILE.npy")]
    labels_file: Option<PathBuf>,
    /// Test features (with --features-file): a 2-D .npy array with as many columns.
    #[arg(long, value_name = "FILE.npy")]
    test_features_file: Option<PathBuf>,
    /// Test labels (with --features-file): a 1-D integer .npy array, classes 0..K-1.
    #[arg(long, value_name = "FILE.npy")]
    test_labels_file: Option<PathBuf>,
    /// Your own images instead of --dataset: a folder with one subfolder of PNG/JPEG images
    /// per class (the ImageFolder layout; classes in sorted order), preprocessed as the
    /// built-in datasets (scaled to [0, 1], centred by the training mean), every image with
    /// the folder's own class counts unless --counts or --profile subsample it. Needs
    /// --test-image-folder.
    #[arg(long, value_name = "DIR")]
    image_folder: Option<PathBuf>,
    /// Test images (with --image-folder): the same layout and class subfolders, the same
    /// image shape (or --resize).
    #[arg(long, value_name = "DIR")]
    test_image_folder: Option<PathBuf>,
    /// Resize every image of --image-folder and --test-image-folder to HEIGHTxWIDTH (e.g.
    /// 32x32); without it all images must share the first one's shape.
    #[arg(long, value_name = "HxW", value_parser = parse_resize)]
    resize: Option<(u32, u32)>,
    /// Folder holding `<name>/` (default: $IMBALANCE_DATA_DIR, else ~/.cache/imbalance/datasets;
    /// `imbalance fetch NAME` fills it).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Feature map: relu:P, tanh:P, erf:P (P random features), relu:inf or erf:inf (limit
    /// kernel), identity (raw centred pixels, or your .npy features as given). Default:
    /// relu:10000 on images (--dataset, --image-folder), identity on --features-file.
    #[arg(long, value_name = "SPEC")]
    features: Option<String>,
    #[command(flatten)]
    class_counts: ImageCountsArgs,
    #[command(flatten)]
    method: MethodArgs,
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit, where
    /// la, ldam and wce coincide with ce). The time scale of a run is printed (n / mean
    /// diagonal of the Gram matrix, ~8e4 for the default run on MNIST): T must be well beyond
    /// it for the model to fit its training set. The default 1e7 is ~100x beyond it.
    #[arg(long, value_name = "T|inf", default_value = DEFAULT_TIME)]
    time: String,
    /// Seed of the subsample, the random features and the moment sample.
    #[arg(long, value_name = "S", default_value_t = 0, value_parser = crate::args::parse_u64)]
    seed: u64,
    /// Also predict the per-class errors with the anisotropic theory, from feature moments
    /// estimated on a class-balanced sample of the training pool.
    #[arg(long)]
    predict: bool,
    /// Let the theory choose the method's hyperparameter (tau of la/posthoc, margin C of ldam,
    /// gamma of cdt/vs, beta of wce) by minimising its predicted balanced (default) or worst
    /// error, from feature moments of the training pool alone (as --predict), then train at
    /// that value. The tuned flag (--tau, ...) is not given: the theory sets it.
    #[arg(long, value_name = "balanced|worst", num_args = 0..=1, default_missing_value = "balanced")]
    tune: Option<String>,
    /// Pool images per class for the moment estimates (with --predict or --tune; default: all
    /// a class has, up to 500). Asking for more than a class has is an error.
    #[arg(long, value_name = "M", value_parser = crate::args::parse_usize)]
    moment_samples: Option<usize>,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    output: JsonArgs,
}

impl TrainArgs {
    /// `--tune`'s objective, after checking it goes with the method: a method with a
    /// hyperparameter, none of whose flags is given.
    fn tune_objective(&self, method: &imbalance_losses::Method) -> Result<Option<Objective>> {
        let Some(objective) = &self.tune else {
            return Ok(None);
        };
        let objective: Objective = objective.parse().map_err(|_| {
            usage(
                "--tune",
                format!("'{objective}' is not an objective; allowed: balanced, worst"),
            )
        })?;
        let name = method.name();
        let Some(param) = name.tuned_param() else {
            return Err(usage(
                "--tune",
                format!("{name} has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs"),
            ));
        };
        let m = &self.method;
        for (flag, given) in [
            ("--tau", m.tau.is_some()),
            ("--gamma", m.gamma.is_some()),
            ("--margin", m.margin.is_some()),
            ("--beta", m.beta.is_some()),
        ] {
            if given {
                return Err(usage(
                    flag,
                    format!(
                        "not with --tune: the theory chooses {param} and the other hyperparameters keep their defaults"
                    ),
                ));
            }
        }
        Ok(Some(objective))
    }
}

/// Where `imbalance train` takes its data from.
enum Source {
    /// A built-in dataset.
    Dataset(DatasetName),
    /// Four .npy files: train features, train labels, test features, test labels.
    Files([PathBuf; 4]),
    /// Two image folders: training pool, test set.
    Folders([PathBuf; 2]),
}

/// Parses `--resize 32x32` (height x width, each 1 to 4096).
pub(crate) fn parse_resize(s: &str) -> std::result::Result<(u32, u32), String> {
    let bad = || format!("'{s}' is not HEIGHTxWIDTH with each side 1 to 4096 (e.g. 32x32)");
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |t: &str| {
        t.trim()
            .parse::<u32>()
            .ok()
            .filter(|v| (1..=4096).contains(v))
            .ok_or_else(bad)
    };
    Ok((side(h)?, side(w)?))
}

impl TrainArgs {
    /// `--dataset NAME`, the four feature files (all of them, and no --data-dir), or the two
    /// image folders.
    fn source(&self) -> Result<Source> {
        if self.resize.is_some() && self.image_folder.is_none() {
            return Err(usage("--resize", "only goes with --image-folder"));
        }
        match (&self.image_folder, &self.test_image_folder) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(usage(
                    "--test-image-folder",
                    "only goes with --image-folder",
                ));
            }
            (Some(_), None) => {
                return Err(usage(
                    "--test-image-folder",
                    "missing: --image-folder needs --test-image-folder DIR (the test images, same layout)",
                ));
            }
            (Some(train), Some(test)) => {
                let other = [
                    ("--dataset", self.dataset.is_some()),
                    ("--features-file", self.features_file.is_some()),
                    ("--labels-file", self.labels_file.is_some()),
                    ("--test-features-file", self.test_features_file.is_some()),
                    ("--test-labels-file", self.test_labels_file.is_some()),
                    ("--data-dir", self.data_dir.is_some()),
                ];
                if let Some((flag, _)) = other.iter().find(|(_, given)| *given) {
                    return Err(usage(
                        flag,
                        "give either --image-folder or another data source, not both",
                    ));
                }
                return Ok(Source::Folders([train.clone(), test.clone()]));
            }
        }
        let files = [
            ("--features-file", &self.features_file),
            ("--labels-file", &self.labels_file),
            ("--test-features-file", &self.test_features_file),
            ("--test-labels-file", &self.test_labels_file),
        ];
        let given: Vec<&str> = files
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(n, _)| *n)
            .collect();
        match (&self.dataset, given.is_empty()) {
            (Some(_), false) => Err(usage(
                given[0],
                "give either --dataset or your own feature files, not both",
            )),
            (Some(name), true) => Ok(Source::Dataset(name.parse()?)),
            (None, true) => Err(usage(
                "--dataset",
                "missing: give --dataset NAME, --image-folder DIR with --test-image-folder DIR, or --features-file, --labels-file, --test-features-file and --test-labels-file",
            )),
            (None, false) => {
                if let Some((flag, _)) = files.iter().find(|(_, f)| f.is_none()) {
                    return Err(usage(
                        flag,
                        "missing: your own features need all four of --features-file, --labels-file, --test-features-file and --test-labels-file",
                    ));
                }
                if self.data_dir.is_some() {
                    return Err(usage("--data-dir", "only goes with --dataset"));
                }
                Ok(Source::Files(
                    files.map(|(_, f)| f.clone().unwrap_or_default()),
                ))
            }
        }
    }
}

/// Your own features (from .npy files or image folders) and the class counts the flags ask of
/// their K classes (without counts flags: every row, with the data's own counts).
fn features_data(
    fs: FeatureSet,
    class_counts: Option<&ClassCounts>,
    rng: &mut Pcg64,
) -> Result<(Data, Vec<usize>)> {
    let counts = own_data_counts(class_counts, &fs.class_counts(), rng)?;
    Ok((Data::Features(fs), counts))
}

/// Mean of the entries of `v` at the classes where `pick` holds (`None` if none).
fn mean_where(v: &[f64], counts: &[usize], pick: impl Fn(usize) -> bool) -> Option<f64> {
    let sel: Vec<f64> = v
        .iter()
        .zip(counts)
        .filter(|(_, n)| pick(**n))
        .map(|(e, _)| *e)
        .collect();
    (!sel.is_empty()).then(|| sel.iter().sum::<f64>() / sel.len() as f64)
}

/// Mean error of the minority classes (fewer images than the largest class; `None` for
/// balanced counts, where the JSON leaves the field out) and of the majority classes (as many
/// as the largest).
pub fn minority_majority(errors: &[f64], counts: &[usize]) -> (Option<f64>, Option<f64>) {
    let max = counts.iter().copied().max().unwrap_or(0);
    (
        mean_where(errors, counts, |n| n < max),
        mean_where(errors, counts, |n| n == max),
    )
}

/// The data of a run: a loaded dataset or feature files.
enum Data {
    Dataset(imbalance_datasets::Dataset),
    Features(FeatureSet),
}

/// What the flags of `imbalance train` ask for, checked before any data are read.
struct Plan {
    source: Source,
    features: FeatureSpec,
    /// `None`: no counts flags (a built-in dataset's default, or your own data as given).
    class_counts: Option<ClassCounts>,
    method: imbalance_losses::Method,
    horizon: imbalance_gradflow::Horizon,
    moment_samples: Option<MomentSamples>,
    tune: Option<Objective>,
}

/// Checks everything the user typed, before the (slow) data loading.
fn plan(args: &TrainArgs) -> Result<Plan> {
    let source = args.source()?;
    let features: FeatureSpec = match (&args.features, &source) {
        (Some(spec), _) => spec.parse()?,
        // Embeddings a user extracted get a linear probe; random features only when asked.
        (None, Source::Files(_)) => FeatureSpec::Identity,
        (None, _) => DEFAULT_FEATURES.parse()?,
    };
    let class_counts = args.class_counts.class_counts()?;
    let method = args.method.method()?;
    let horizon = request::horizon(&args.time)?;
    request::check_method_horizon(&method, horizon)?;
    let tune = args.tune_objective(&method)?;
    let theory = args.predict || tune.is_some();
    if !theory && args.moment_samples.is_some() {
        return Err(usage(
            "--moment-samples",
            "only goes with --predict or --tune",
        ));
    }
    let moment_samples = theory.then(|| {
        args.moment_samples
            .map_or_else(MomentSamples::default, MomentSamples::Exactly)
    });
    Ok(Plan {
        source,
        features,
        class_counts,
        method,
        horizon,
        moment_samples,
        tune,
    })
}

/// The flag the class counts come from.
fn counts_flag(args: &TrainArgs) -> &'static str {
    if args.class_counts.profile.is_some() {
        "--n-max"
    } else {
        "--counts"
    }
}

/// [`plan`] and the cost estimate as on MNIST's sizes (60 000 pool images, 10 000 test
/// images of 784 pixels, 10 classes), without reading any data: the parse and cost path of
/// `train` for the fuzz targets.
pub fn check_without_data(args: &TrainArgs) -> Result<()> {
    let p = plan(args)?;
    let counts = builtin_counts(
        p.class_counts.as_ref(),
        10,
        &mut Pcg64::seed_from_u64(args.seed),
    )?;
    let cost = train_cost(
        &counts,
        60_000,
        10_000,
        784,
        p.features,
        p.moment_samples.map(MomentSamples::max_per_class),
        p.horizon,
    );
    args.memory.check(&cost, counts_flag(args))
}

/// Runs `imbalance train`.
pub fn run_train(args: &TrainArgs) -> Result<()> {
    let start = Instant::now();
    let Plan {
        source,
        features,
        class_counts,
        method,
        horizon,
        moment_samples,
        tune,
    } = plan(args)?;
    // One run with no safe point: a signal ends it at once (nothing is written before the end).
    crate::interrupt::install(crate::interrupt::Mode::Immediate);
    let mut rng = Pcg64::seed_from_u64(args.seed);
    let (data, counts) = match &source {
        Source::Dataset(name) => {
            let counts = builtin_counts(class_counts.as_ref(), name.num_classes(), &mut rng)?;
            let ds =
                load(*name, args.data_dir.as_deref(), &LoadOptions::default()).map_err(|e| {
                    denied_hint(args.data_dir.as_deref(), *name)
                        .unwrap_or_else(|| data_hint(e, *name))
                })?;
            for w in &ds.warnings {
                eprintln!("warning: {w}");
            }
            (Data::Dataset(ds), counts)
        }
        Source::Files([x, y, xt, yt]) => features_data(
            load_features(x, y, xt, yt)?,
            class_counts.as_ref(),
            &mut rng,
        )?,
        Source::Folders([train, test]) => {
            let opts = ImageFolderOptions::default().with_resize(args.resize);
            let (tr, te) = load_image_folders(train, test, &opts)?;
            let fs = image_folder_features(&tr, &te)?;
            features_data(fs, class_counts.as_ref(), &mut rng)?
        }
    };
    let (n_pool, n_test, input_dim) = match &data {
        Data::Dataset(ds) => (ds.n_train(), ds.n_test(), ds.dim()),
        Data::Features(fs) => (fs.n_train(), fs.n_test(), fs.dim),
    };
    let counts_flag = counts_flag(args);
    let cost = train_cost(
        &counts,
        n_pool,
        n_test,
        input_dim,
        features,
        moment_samples.map(MomentSamples::max_per_class),
        horizon,
    );
    // Counts the pool cannot supply are the pipeline's (more telling) error, not the estimate's.
    let pool = match &data {
        Data::Dataset(ds) => ds.class_counts(imbalance_datasets::Split::Train),
        Data::Features(fs) => fs.class_counts(),
    };
    if counts.iter().zip(&pool).all(|(want, have)| want <= have) {
        args.memory.check(&cost, counts_flag)?;
    }
    let load_seconds = start.elapsed().as_secs_f64();
    let spec = ImageRunSpec {
        counts: counts.clone(),
        features,
        method,
        horizon,
        moment_samples,
        flow: FlowOptions::default(),
        tune,
    };
    // Loading is the first step shown, the pipeline's stages the others.
    let progress = Progress::new("train", 1 + Stage::COUNT);
    progress.step(1);
    let stages = StageProgress::new(&progress, 1);
    let run = match &data {
        Data::Dataset(ds) => train_images(ds, &spec, &stages, &mut rng)?,
        Data::Features(fs) => train_features(fs, &spec, &stages, &mut rng)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    // The method trained: with --tune, the theory's choice.
    let method = &run.method;
    let summary = ErrorSummary::new(run.measured.per_class_error.clone())?;
    if let Some(p) = &run.prediction {
        request::check_finite("predicted per-class error", &p.per_class_error)?;
    }
    let (minor, major) = minority_majority(&summary.per_class, &counts);
    let prep = &run.prepared;
    let fitted = &prep.run;
    let t = prep.timings;
    let n: usize = counts.iter().sum();

    if args.output.json {
        let mut out = summary.json();
        if let Some(m) = minor {
            out["minority_mean_error"] = json!(m);
        }
        if let Some(m) = major {
            out["majority_mean_error"] = json!(m);
        }
        out["test_per_class"] = json!(fitted.test_counts);
        out["n_train"] = json!(n);
        out["time_scale"] = json!(fitted.time_scale());
        out["seconds"] = json!(seconds);
        out["timings"] = json!({
            "load": load_seconds, "prepare": t.prepare, "features": t.features,
            "moments": t.moments, "train": t.train, "theory": t.theory,
        });
        if let (Some(p), Some(fit)) = (&run.prediction, &fitted.theory) {
            let (pmin, pmaj) = minority_majority(&p.per_class_error, &counts);
            out["predicted_per_class_error"] = json!(p.per_class_error);
            out["predicted_balanced_error"] = json!(p.balanced_error);
            out["predicted_worst_class_error"] = json!(p.worst_class_error);
            if let Some(m) = pmin {
                out["predicted_minority_mean_error"] = json!(m);
            }
            if let Some(m) = pmaj {
                out["predicted_majority_mean_error"] = json!(m);
            }
            out["effective_rank"] = json!(fit.effective_rank);
            out["moment_counts"] = json!(fit.moment_counts);
            out["trace"] = json!(fit.moments.trace);
            out["psd_correction"] = json!(fit.psd_correction);
        }
        let mut config = json!({
            "command": "train",
            "features": features.to_string(),
            "feature_seed": prep.feature_seed,
            "counts": counts,
            "method": method_config(method),
            "time": horizon_config(horizon),
            "seed": args.seed,
            "predict": args.predict,
            "moment_samples": args.moment_samples,
        });
        match &data {
            Data::Dataset(ds) => {
                config["dataset"] = json!(ds.name.dir_name());
                config["train_batches"] = json!(ds.train_batches);
            }
            Data::Features(fs) => {
                config["features_files"] = json!({
                    "train": fs.files[0], "train_labels": fs.files[1],
                    "test": fs.files[2], "test_labels": fs.files[3],
                });
                config["dim"] = json!(fs.dim);
                config["classes"] = json!(fs.num_classes);
            }
        }
        if let Some(t) = &run.tuned {
            out["tuned"] = json!({
                "param": t.param, "value": t.value, "objective": tune.map(|o| o.as_str()),
                "objective_value": t.error, "curve": t.curve,
            });
        }
        out["config"] = config;
        print_json(&out)
    } else {
        let (class_names, notes): (&[String], &[String]) = match &data {
            Data::Dataset(ds) => {
                println!(
                    "train: {} ({} training images in the pool, {} test images), features {features}, method {method}, T = {}, seed {}",
                    ds.name,
                    ds.n_train(),
                    ds.n_test(),
                    args.time,
                    args.seed
                );
                (&ds.class_names, &ds.notes)
            }
            Data::Features(fs) => {
                println!(
                    "train: features from {} ({} rows in the pool, {} test rows, dimension {}, {} classes), features {features}, method {method}, T = {}, seed {}",
                    fs.files[0],
                    fs.n_train(),
                    fs.n_test(),
                    fs.dim,
                    fs.num_classes,
                    args.time,
                    args.seed
                );
                (&[], &[])
            }
        };
        for note in notes {
            println!("  data: {note}");
        }
        if let (Some(t), Some(o)) = (&run.tuned, tune) {
            println!(
                "tuned by the theory (pool moments only): {} = {:.4}, predicted {} error {:.4}",
                t.param,
                t.value,
                o.as_str(),
                t.error
            );
        }
        let pred = run.prediction.as_ref().map(|p| &p.per_class_error);
        println!(
            "class  {:<12} n_train  error{}",
            "name",
            if pred.is_some() { "   theory" } else { "" }
        );
        for (c, e) in summary.per_class.iter().enumerate() {
            let cname = class_names.get(c).map_or("", String::as_str);
            match pred {
                Some(p) => println!("{c:>5}  {cname:<12} {:>7}  {e:.4}   {:.4}", counts[c], p[c]),
                None => println!("{c:>5}  {cname:<12} {:>7}  {e:.4}", counts[c]),
            }
        }
        println!(
            "balanced error {:.4}, worst-class error {:.4}, minority mean {}, majority mean {}",
            summary.balanced,
            summary.worst,
            fmt_mean(minor),
            fmt_mean(major)
        );
        if let (Some(p), Some(fit)) = (&run.prediction, &fitted.theory) {
            let (pmin, pmaj) = minority_majority(&p.per_class_error, &counts);
            println!(
                "theory: balanced {:.4}, worst-class {:.4}, minority mean {}, majority mean {} (moments from {})",
                p.balanced_error,
                p.worst_class_error,
                fmt_mean(pmin),
                fmt_mean(pmaj),
                moment_sample_text(
                    &fit.moment_counts,
                    moment_samples.map_or(0, MomentSamples::max_per_class)
                ),
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
            fitted.time_scale()
        );
        println!(
            "({seconds:.1} s: load {load_seconds:.1}, features {:.1}, moments {:.1}, train {:.1}, theory {:.1})",
            t.features, t.moments, t.train, t.theory
        );
        Ok(())
    }
}

/// How many pool images per class the moments came from (at most `cap`), for the table.
fn moment_sample_text(counts: &[usize], cap: usize) -> String {
    let (lo, hi) = (
        counts.iter().copied().min().unwrap_or(0),
        counts.iter().copied().max().unwrap_or(0),
    );
    if lo == hi {
        format!("{lo} pool images per class")
    } else {
        format!("{lo} to {hi} pool images per class: all a class has, up to {cap}")
    }
}

/// A class-group mean for the table ("-" when the group is empty).
fn fmt_mean(m: Option<f64>) -> String {
    m.map_or_else(|| "-".to_string(), |m| format!("{m:.4}"))
}
