//! `imbalance predict` and `imbalance tune`: the mean-field theory on the command line.

use std::time::Instant;

use clap::Args;
use imbalance_losses::MethodName;
use imbalance_pipeline::{
    TUNE_MAX_PREDICTIONS, mixture_stats, predict_cost, predict_gmm, tune_cost,
};
use imbalance_theory::{Objective, PredictOptions, tune};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::{Value, json};

use crate::args::{
    GmmArgs, JsonArgs, MeansSeedArgs, MethodArgs, TimeArgs, check_method_counts,
    check_method_horizon, horizon_config, method_config,
};
use crate::error::{Result, usage};
use crate::limits::MemoryArgs;
use crate::output::{Column, ErrorSummary, Heartbeat, print_json};

/// Arguments of `imbalance predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    gmm: GmmArgs,
    #[command(flatten)]
    method: MethodArgs,
    #[command(flatten)]
    time: TimeArgs,
    #[command(flatten)]
    seed: MeansSeedArgs,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    output: JsonArgs,
}

/// The checks of `imbalance predict` that need no computation: method, time, counts and the
/// cost estimate (`imbalance sweep` runs them on every configuration before any runs).
pub fn check_predict(args: &PredictArgs) -> Result<()> {
    let method = args.method.method()?;
    let horizon = args.time.horizon()?;
    check_method_horizon(&method, horizon)?;
    let counts = args.gmm.counts()?;
    check_method_counts(&method, &counts)?;
    args.memory
        .check(&predict_cost(&counts, horizon), args.gmm.counts_flag())
}

/// The `--json` object of `imbalance predict`, with what its table shows.
struct PredictOutcome {
    json: Value,
    summary: ErrorSummary,
    counts: Vec<usize>,
    method: String,
    methods: Vec<String>,
    bound: f64,
    /// Standard errors, when a randomised method answered for some class.
    se: Option<Vec<f64>>,
}

fn compute_predict(args: &PredictArgs) -> Result<PredictOutcome> {
    let start = Instant::now();
    check_predict(args)?;
    let _alive = Heartbeat::start(format!("predict: {} classes", args.gmm.counts()?.len()));
    let method = args.method.method()?;
    let horizon = args.time.horizon()?;
    let mixture = args
        .gmm
        .mixture(&mut Pcg64::seed_from_u64(args.seed.seed))?;
    let prediction = predict_gmm(&mixture, &method, horizon)?;
    // How the per-class orthant probabilities were computed, and their largest error bound.
    let mut methods: Vec<String> = Vec::new();
    for e in &prediction.orthant {
        let name = e.method.to_string();
        if !methods.contains(&name) {
            methods.push(name);
        }
    }
    let bound = prediction
        .orthant
        .iter()
        .map(|e| e.error_bound)
        .fold(0.0, f64::max);
    let se = prediction.per_class_error_se();
    let summary = ErrorSummary::new(prediction.per_class_error)?;
    let counts = mixture.counts().to_vec();
    let mut json = summary.json();
    json["per_class_error_se"] = json!(se);
    json["seconds"] = json!(start.elapsed().as_secs_f64());
    json["orthant"] = json!({ "methods": methods, "max_error_bound": bound });
    json["config"] = json!({
        "command": "predict",
        "gmm": args.gmm.config(&counts),
        "method": method_config(&method),
        "time": horizon_config(horizon),
    });
    Ok(PredictOutcome {
        json,
        summary,
        counts,
        method: method.to_string(),
        methods,
        bound,
        se: se.iter().any(|&s| s > 0.0).then_some(se),
    })
}

/// What `imbalance predict --json` prints.
pub fn predict_json(args: &PredictArgs) -> Result<Value> {
    Ok(compute_predict(args)?.json)
}

/// Runs `imbalance predict`.
pub fn run_predict(args: &PredictArgs) -> Result<()> {
    let out = compute_predict(args)?;
    if args.output.json {
        print_json(&out.json)
    } else {
        println!(
            "predict (mean-field theory): counts {}, p = {}, snr = {}, method {}, T = {}",
            crate::output::counts_text(&out.counts),
            args.gmm.dim,
            args.gmm.snr,
            out.method,
            args.time.time
        );
        out.summary
            .print_table(&out.counts, out.se.as_deref().map(Column::Se));
        println!(
            "orthant: {} (error bound <= {:.1e})",
            out.methods.join("; "),
            out.bound
        );
        Ok(())
    }
}

/// Arguments of `imbalance tune`.
#[derive(Debug, Clone, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    gmm: GmmArgs,
    /// Method whose hyperparameter is tuned: la, posthoc (tau), cdt (gamma), ldam (margin C),
    /// wce (beta), vs (gamma, with tau = 1).
    #[arg(long)]
    method: String,
    /// What to minimise: the balanced error or the worst-class error.
    #[arg(long, default_value = "balanced", value_name = "balanced|worst")]
    objective: String,
    #[command(flatten)]
    time: TimeArgs,
    #[command(flatten)]
    seed: MeansSeedArgs,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    output: JsonArgs,
}

/// The checks of `imbalance tune` that need no computation (see [`check_predict`]).
pub fn check_tune(args: &TuneArgs) -> Result<()> {
    let name = tuned_method(args)?;
    args.objective.parse::<Objective>()?;
    let horizon = args.time.horizon()?;
    check_method_horizon(&name.with_params(&[])?, horizon)?;
    let counts = args.gmm.counts()?;
    args.memory
        .check(&tune_cost(&counts, horizon), args.gmm.counts_flag())
}

/// The method `--method` names, unless it has nothing to tune.
fn tuned_method(args: &TuneArgs) -> Result<MethodName> {
    let name: MethodName = args.method.parse()?;
    if name == MethodName::Ce {
        return Err(usage(
            "--method",
            "ce has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs",
        ));
    }
    Ok(name)
}

/// The `--json` object of `imbalance tune`, with what its table shows.
struct TuneOutcome {
    json: Value,
    summary: ErrorSummary,
    counts: Vec<usize>,
    line: String,
    /// Standard errors, when a randomised method answered for some class.
    se: Option<Vec<f64>>,
}

fn compute_tune(args: &TuneArgs) -> Result<TuneOutcome> {
    let start = Instant::now();
    check_tune(args)?;
    let _alive = Heartbeat::start(format!(
        "tune: {} classes, up to {TUNE_MAX_PREDICTIONS} predictions",
        args.gmm.counts()?.len()
    ));
    let name = tuned_method(args)?;
    let objective: Objective = args.objective.parse()?;
    let horizon = args.time.horizon()?;
    let mixture = args
        .gmm
        .mixture(&mut Pcg64::seed_from_u64(args.seed.seed))?;
    let stats = mixture_stats(&mixture)?;
    let tuned = tune(&stats, name, objective, horizon, &PredictOptions::default())?;
    let best = name.with_params(&[(tuned.param, tuned.value)])?;
    let se = tuned.prediction.per_class_error_se();
    let summary = ErrorSummary::new(tuned.prediction.per_class_error.clone())?;
    let counts = mixture.counts().to_vec();
    let mut json = summary.json();
    json["per_class_error_se"] = json!(se);
    json["best"] = json!({ "param": tuned.param, "value": tuned.value });
    json["objective_value"] = json!(tuned.error);
    json["curve"] = json!(tuned.curve);
    json["seconds"] = json!(start.elapsed().as_secs_f64());
    json["config"] = json!({
        "command": "tune",
        "gmm": args.gmm.config(&counts),
        "method": method_config(&best),
        "objective": objective.as_str(),
        "time": horizon_config(horizon),
    });
    let line = format!(
        "tune {} by the theory's {} error: best {} = {:.4} ({} error {:.4})",
        name,
        objective.as_str(),
        tuned.param,
        tuned.value,
        objective.as_str(),
        tuned.error
    );
    Ok(TuneOutcome {
        json,
        summary,
        counts,
        line,
        se: se.iter().any(|&s| s > 0.0).then_some(se),
    })
}

/// What `imbalance tune --json` prints.
pub fn tune_json(args: &TuneArgs) -> Result<Value> {
    Ok(compute_tune(args)?.json)
}

/// Runs `imbalance tune`.
pub fn run_tune(args: &TuneArgs) -> Result<()> {
    let out = compute_tune(args)?;
    if args.output.json {
        print_json(&out.json)
    } else {
        println!("{}", out.line);
        out.summary
            .print_table(&out.counts, out.se.as_deref().map(Column::Se));
        Ok(())
    }
}
