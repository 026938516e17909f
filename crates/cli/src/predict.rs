//! `imbalance predict` and `imbalance tune`: the mean-field theory on the command line.

use std::time::Instant;

use clap::Args;
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use imbalance_pipeline::{mixture_stats, predict_cost, predict_gmm};
use imbalance_theory::{Objective, PredictOptions, tune};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::json;

use crate::args::{
    GmmArgs, JsonArgs, MeansSeedArgs, MethodArgs, TimeArgs, check_method_counts,
    check_method_horizon, horizon_config, method_config,
};
use crate::error::{Result, usage};
use crate::limits::MemoryArgs;
use crate::output::{ErrorSummary, print_json};

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

/// Checks a `predict` request before anything is computed (flags, ranges, cost estimate).
pub fn plan_predict(args: &PredictArgs) -> Result<(Method, Horizon)> {
    let method = args.method.method()?;
    let horizon = args.time.horizon()?;
    check_method_horizon(&method, horizon)?;
    let counts = args.gmm.counts()?;
    check_method_counts(&method, &counts)?;
    args.memory
        .check(&predict_cost(&counts, horizon), args.gmm.counts_flag())?;
    Ok((method, horizon))
}

/// Runs `imbalance predict`.
pub fn run_predict(args: &PredictArgs) -> Result<()> {
    let start = Instant::now();
    let (method, horizon) = plan_predict(args)?;
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
    let summary = ErrorSummary::new(prediction.per_class_error)?;
    let counts = mixture.counts();
    if args.output.json {
        let mut out = summary.json();
        out["seconds"] = json!(start.elapsed().as_secs_f64());
        out["orthant"] = json!({ "methods": methods, "max_error_bound": bound });
        out["config"] = json!({
            "command": "predict",
            "gmm": args.gmm.config(counts),
            "method": method_config(&method),
            "time": horizon_config(horizon),
        });
        print_json(&out)
    } else {
        println!(
            "predict (mean-field theory): counts {counts:?}, p = {}, snr = {}, method {method}, T = {}",
            args.gmm.dim, args.gmm.snr, args.time.time
        );
        summary.print_table(counts, None);
        println!(
            "orthant: {} (error bound <= {bound:.1e})",
            methods.join("; ")
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

/// Checks a `tune` request before anything is computed (flags, ranges, cost estimate).
pub fn plan_tune(args: &TuneArgs) -> Result<(MethodName, Objective, Horizon)> {
    let name: MethodName = args.method.parse()?;
    if name == MethodName::Ce {
        return Err(usage(
            "--method",
            "ce has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs",
        ));
    }
    let objective: Objective = args.objective.parse()?;
    let horizon = args.time.horizon()?;
    check_method_horizon(&name.with_params(&[])?, horizon)?;
    let counts = args.gmm.counts()?;
    args.memory
        .check(&predict_cost(&counts, horizon), args.gmm.counts_flag())?;
    Ok((name, objective, horizon))
}

/// Runs `imbalance tune`.
pub fn run_tune(args: &TuneArgs) -> Result<()> {
    let start = Instant::now();
    let (name, objective, horizon) = plan_tune(args)?;
    let mixture = args
        .gmm
        .mixture(&mut Pcg64::seed_from_u64(args.seed.seed))?;
    let stats = mixture_stats(&mixture)?;
    let tuned = tune(&stats, name, objective, horizon, &PredictOptions::default())?;
    let best = name.with_params(&[(tuned.param, tuned.value)])?;
    let summary = ErrorSummary::new(tuned.prediction.per_class_error.clone())?;
    let counts = mixture.counts();
    if args.output.json {
        let mut out = summary.json();
        out["best"] = json!({ "param": tuned.param, "value": tuned.value });
        out["objective_value"] = json!(tuned.error);
        out["curve"] = json!(tuned.curve);
        out["seconds"] = json!(start.elapsed().as_secs_f64());
        out["config"] = json!({
            "command": "tune",
            "gmm": args.gmm.config(counts),
            "method": method_config(&best),
            "objective": objective.as_str(),
            "time": horizon_config(horizon),
        });
        print_json(&out)
    } else {
        println!(
            "tune {} by the theory's {} error: best {} = {:.4} ({} error {:.4})",
            name,
            objective.as_str(),
            tuned.param,
            tuned.value,
            objective.as_str(),
            tuned.error
        );
        summary.print_table(counts, None);
        Ok(())
    }
}
