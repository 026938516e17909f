//! `imbalance predict` and `imbalance tune`: the mean-field theory on the command line.

use std::time::Instant;

use clap::Args;
use imbalance_pipeline::TUNE_MAX_PREDICTIONS;
use imbalance_pipeline::request::{PredictRequest, TuneRequest};
use serde_json::{Value, json};

use crate::args::{
    GmmArgs, JsonArgs, MeansSeedArgs, MethodArgs, TimeArgs, horizon_config, method_config,
};
use crate::error::Result;
use crate::limits::{MemoryArgs, pipeline_error};
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

impl PredictArgs {
    /// The request these flags make (the time parsed and range-checked).
    fn request(&self) -> Result<PredictRequest> {
        Ok(PredictRequest {
            mixture: self.gmm.spec(),
            method: self.method.spec(),
            time: self.time.horizon()?,
            seed: self.seed.seed,
        })
    }
}

/// The checks of `imbalance predict` that need no computation: method, time, counts and the
/// cost estimate (`imbalance sweep` runs them on every configuration before any runs).
pub fn check_predict(args: &PredictArgs) -> Result<()> {
    args.request()?
        .check(args.memory.limit())
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))
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
    let request = args.request()?;
    let limit = args.memory.limit();
    request
        .check(limit)
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))?;
    let _alive = Heartbeat::start(format!("predict: {} classes", args.gmm.counts()?.len()));
    let out = request
        .run(limit)
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))?;
    let (method, horizon, prediction) = (out.method, request.time, out.prediction);
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
    let counts = out.counts;
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

impl TuneArgs {
    /// The request these flags make (the objective and time parsed).
    fn request(&self) -> Result<TuneRequest> {
        Ok(TuneRequest {
            mixture: self.gmm.spec(),
            method: self.method.clone(),
            objective: self.objective.parse()?,
            time: self.time.horizon()?,
            seed: self.seed.seed,
        })
    }
}

/// The checks of `imbalance tune` that need no computation (see [`check_predict`]).
pub fn check_tune(args: &TuneArgs) -> Result<()> {
    args.request()?
        .check(args.memory.limit())
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))
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
    let request = args.request()?;
    let limit = args.memory.limit();
    request
        .check(limit)
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))?;
    let _alive = Heartbeat::start(format!(
        "tune: {} classes, up to {TUNE_MAX_PREDICTIONS} predictions",
        args.gmm.counts()?.len()
    ));
    let out = request
        .run(limit)
        .map_err(|e| pipeline_error(e, args.gmm.counts_flag()))?;
    let (objective, horizon) = (request.objective, request.time);
    let (tuned, best) = (out.tuned, out.best);
    let name = best.name();
    let se = tuned.prediction.per_class_error_se();
    let summary = ErrorSummary::new(tuned.prediction.per_class_error.clone())?;
    let counts = out.counts;
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
