//! `imbalance simulate`: sample the mixture, train by exact gradient flow, measure per-class
//! test error on fresh balanced test samples; mean and std over seeds.

use std::time::Instant;

use clap::Args;
use imbalance_pipeline::request::{self, SimulateRequest};
use imbalance_pipeline::{exact_errors_path, per_class_mean_std};
use serde_json::{Value, json};

use crate::args::{
    GmmArgs, JsonArgs, MethodArgs, SamplerArg, TimeArgs, horizon_config, method_config,
};
use crate::error::{Error, Result};
use crate::limits::MemoryArgs;
use crate::output::{Column, ErrorSummary, Progress};

/// Arguments of `imbalance simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    gmm: GmmArgs,
    #[command(flatten)]
    method: MethodArgs,
    #[command(flatten)]
    time: TimeArgs,
    /// Number of independent training sets (at most 1000000).
    #[arg(long, default_value_t = 1, value_parser = crate::args::parse_usize)]
    seeds: usize,
    /// Seed of the first training set (seed i uses S + i).
    #[arg(long, value_name = "S", default_value_t = 0, value_parser = crate::args::parse_u64)]
    seed: u64,
    /// Fresh test samples per class for measuring errors (seeds x classes x M at most 1e10)
    /// [default: 10000 up to 100 classes, then 1e10 / K^3 but at least 100]
    #[arg(long, value_name = "M", value_parser = crate::args::parse_usize)]
    test_per_class: Option<usize>,
    /// How training sets are drawn.
    #[arg(long, value_enum, ignore_case = true, default_value_t = SamplerArg::Direct)]
    sampler: SamplerArg,
    #[command(flatten)]
    memory: MemoryArgs,
    #[command(flatten)]
    output: JsonArgs,
}

impl SimulateArgs {
    /// The request these flags make (the time parsed and range-checked).
    fn request(&self) -> Result<SimulateRequest> {
        Ok(SimulateRequest {
            mixture: self.gmm.spec(),
            method: self.method.spec(),
            time: self.time.horizon()?,
            seeds: self.seeds,
            seed: self.seed,
            test_per_class: self.test_per_class,
            sampler: self.sampler.into(),
        })
    }

    /// A pipeline error in terms of the flags.
    fn error(&self, e: imbalance_pipeline::Error) -> Error {
        match e {
            imbalance_pipeline::Error::Interrupted { done, total } => interrupted(done, total),
            e => crate::limits::pipeline_error(e, self.gmm.counts_flag()),
        }
    }
}

/// The checks of `imbalance simulate` that need no computation: method, time, seeds, counts
/// and the cost estimate (`imbalance sweep` runs them on every configuration before any runs).
pub fn check(args: &SimulateArgs) -> Result<()> {
    args.request()?
        .check(args.memory.limit())
        .map_err(|e| args.error(e))
}

/// The `--json` object of `imbalance simulate`, with what its table shows.
struct SimulateOutcome {
    json: Value,
    summary: ErrorSummary,
    counts: Vec<usize>,
    method: String,
    std: Vec<f64>,
    exact_mean: Vec<f64>,
    test_per_class: usize,
    seconds: f64,
}

/// The message of a simulation stopped by a signal after `done` of `seeds` seeds.
fn interrupted(done: usize, seeds: usize) -> Error {
    let rerun = if done == 0 {
        "rerun the same command".to_string()
    } else {
        format!(
            "rerun the same command, or with --seeds {done} for the finished seeds alone (seed i uses --seed + i, so they give the same training sets)"
        )
    };
    Error::Interrupted(format!(
        "{done} of {seeds} seeds done, nothing printed; {rerun}"
    ))
}

/// Runs the simulation; `show_progress` allows progress lines on a terminal's stderr.
fn compute(args: &SimulateArgs, show_progress: bool) -> Result<SimulateOutcome> {
    let start = Instant::now();
    let request = args.request()?;
    let progress = Progress::new("simulate", if show_progress { args.seeds } else { 1 });
    let out = request
        .run(args.memory.limit(), |i| progress.step(i + 1))
        .map_err(|e| args.error(e))?;
    let (counts, horizon) = (out.counts, request.time);
    let (method, test_per_class) = (out.method, out.test_per_class);
    let (sampled, exact) = (out.sampled, out.exact);
    let (mean, std) = per_class_mean_std(&sampled);
    let (exact_mean, exact_std) = per_class_mean_std(&exact);
    let summary = ErrorSummary::new(mean)?;
    request::check_finite("exact per-class error", &exact_mean)?;
    let seconds = start.elapsed().as_secs_f64();

    let mut json = summary.json();
    json["per_class_error_std"] = json!(std);
    json["exact_per_class_error"] = json!(exact_mean);
    json["exact_per_class_error_std"] = json!(exact_std);
    json["exact_error_path"] = json!(exact_errors_path(counts.len()));
    json["seconds"] = json!(seconds);
    json["config"] = json!({
        "command": "simulate",
        "gmm": args.gmm.config(&counts),
        "method": method_config(&method),
        "time": horizon_config(horizon),
        "seeds": args.seeds,
        "seed": args.seed,
        "test_per_class": test_per_class,
    });
    Ok(SimulateOutcome {
        json,
        summary,
        counts,
        method: method.to_string(),
        std,
        exact_mean,
        test_per_class,
        seconds,
    })
}

/// What `imbalance simulate --json` prints (without progress lines).
pub fn simulate_json(args: &SimulateArgs) -> Result<Value> {
    Ok(compute(args, false)?.json)
}

/// Runs `imbalance simulate`.
pub fn run(args: &SimulateArgs) -> Result<()> {
    check(args)?;
    crate::interrupt::install(crate::interrupt::Mode::SafePoints);
    let out = compute(args, true)?;
    if args.output.json {
        crate::output::print_json(&out.json)
    } else {
        println!(
            "simulate: {} classes, counts {}, p = {}, snr = {}, method {}, T = {}, {} seed(s), {} test samples per class",
            out.counts.len(),
            crate::output::counts_text(&out.counts),
            args.gmm.dim,
            args.gmm.snr,
            out.method,
            args.time.time,
            args.seeds,
            out.test_per_class
        );
        out.summary
            .print_table(&out.counts, Some(Column::Std(&out.std)));
        println!(
            "exact error of each trained W (no test-sampling noise), mean over seeds: {}",
            out.exact_mean
                .iter()
                .map(|e| format!("{e:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        println!("(exact errors: {})", exact_errors_path(out.counts.len()));
        println!("({:.2} s)", out.seconds);
        Ok(())
    }
}
