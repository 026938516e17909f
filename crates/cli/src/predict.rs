//! `imbalance predict` and `imbalance tune`: the mean-field theory on the command line.

use std::time::Instant;

use clap::Args;
use imbalance_losses::MethodName;
use imbalance_theory::{Objective, PredictOptions, tune};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::json;

use crate::args::{
    GmmArgs, MethodArgs, check_method_horizon, horizon, horizon_config, method_config,
};
use crate::error::{Result, usage};
use crate::output::{ErrorSummary, print_json};
use crate::pipeline::{mixture_stats, predict_gmm};

/// Arguments of `imbalance predict`.
#[derive(Debug, Clone, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    gmm: GmmArgs,
    #[command(flatten)]
    method: MethodArgs,
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit).
    #[arg(long, value_name = "T|inf", default_value = "inf")]
    time: String,
    /// Seed for drawing random means (--means random); unused otherwise.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `imbalance predict`.
pub fn run_predict(args: &PredictArgs) -> Result<()> {
    let start = Instant::now();
    let method = args.method.method()?;
    let horizon = horizon(&args.time)?;
    check_method_horizon(&method, horizon)?;
    let mixture = args.gmm.mixture(&mut Pcg64::seed_from_u64(args.seed))?;
    let prediction = predict_gmm(&mixture, &method, horizon)?;
    let summary = ErrorSummary::new(prediction.per_class_error);
    let counts = mixture.counts();
    if args.json {
        let mut out = summary.json();
        out["seconds"] = json!(start.elapsed().as_secs_f64());
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
            args.gmm.dim, args.gmm.snr, args.time
        );
        summary.print_table(counts, None);
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
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit).
    #[arg(long, value_name = "T|inf", default_value = "inf")]
    time: String,
    /// Seed for drawing random means (--means random); unused otherwise.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `imbalance tune`.
pub fn run_tune(args: &TuneArgs) -> Result<()> {
    let start = Instant::now();
    let name: MethodName = args.method.parse()?;
    if name == MethodName::Ce {
        return Err(usage(
            "--method",
            "ce has nothing to tune; allowed: la, posthoc, cdt, ldam, wce, vs",
        ));
    }
    let objective: Objective = args.objective.parse()?;
    let horizon = horizon(&args.time)?;
    check_method_horizon(&name.with_params(&[])?, horizon)?;
    let mixture = args.gmm.mixture(&mut Pcg64::seed_from_u64(args.seed))?;
    let stats = mixture_stats(&mixture)?;
    let tuned = tune(&stats, name, objective, horizon, &PredictOptions::default())?;
    let best = name.with_params(&[(tuned.param, tuned.value)])?;
    let summary = ErrorSummary::new(tuned.prediction.per_class_error.clone());
    let counts = mixture.counts();
    if args.json {
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
