//! `imbalance simulate`: sample the mixture, train by exact gradient flow, measure per-class
//! test error on fresh balanced test samples; mean and std over seeds.

use std::time::Instant;

use clap::{Args, ValueEnum};
use imbalance_gmm::{TrainingSet, sample_x};
use imbalance_gradflow::{FlowOptions, train};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde_json::json;

use crate::args::{GmmArgs, MethodArgs, check_method_horizon, horizon, horizon_config, method_config};
use crate::error::{Result, usage};
use crate::output::{ErrorSummary, Progress, mean_std};

/// How training sets are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sampler {
    /// Sample the Gram matrix X X^T directly (exact in distribution; cost independent of p).
    Direct,
    /// Sample X (n x p) and multiply (cost O(n^2 p); for checking the direct sampler).
    Explicit,
}

/// Arguments of `imbalance simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    gmm: GmmArgs,
    #[command(flatten)]
    method: MethodArgs,
    /// Training time T of gradient flow: a positive number or inf (the max-margin limit).
    #[arg(long, value_name = "T|inf", default_value = "inf")]
    time: String,
    /// Number of independent training sets.
    #[arg(long, default_value_t = 1)]
    seeds: usize,
    /// Seed of the first training set (seed i uses S + i).
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// Fresh test samples per class for measuring errors.
    #[arg(long, value_name = "M", default_value_t = 10_000)]
    test_per_class: usize,
    /// How training sets are drawn.
    #[arg(long, value_enum, default_value_t = Sampler::Direct)]
    sampler: Sampler,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `imbalance simulate`.
pub fn run(args: &SimulateArgs) -> Result<()> {
    let start = Instant::now();
    let counts = args.gmm.counts()?;
    let method = args.method.method()?;
    let horizon = horizon(&args.time)?;
    check_method_horizon(&method, horizon)?;
    if args.seeds == 0 {
        return Err(usage("--seeds", "must be at least 1"));
    }
    if args.test_per_class == 0 {
        return Err(usage("--test-per-class", "must be at least 1"));
    }
    let loss = method.loss(&counts)?;
    let offsets = method.prediction_offsets(&counts)?;
    let opts = FlowOptions::default();

    let progress = Progress::new("simulate", args.seeds);
    let mut runs = Vec::with_capacity(args.seeds);
    for i in 0..args.seeds {
        let mut rng = Pcg64::seed_from_u64(args.seed.wrapping_add(i as u64));
        let mixture = args.gmm.mixture(&mut rng)?;
        let set = match args.sampler {
            Sampler::Direct => TrainingSet::sample_direct(&mixture, &mut rng),
            Sampler::Explicit => {
                let (x, labels) = sample_x(&mixture, &mut rng);
                TrainingSet::from_x(&mixture, x.as_ref(), labels)
            }
        };
        let trained = train(set.gram.as_ref(), &set.labels, &loss, horizon, &opts)?;
        let law = set.logit_law(&mixture, trained.a.as_ref());
        runs.push(law.sample_errors(args.test_per_class, &offsets, &mut rng));
        progress.step(i + 1);
    }
    let (mean, std) = mean_std(&runs);
    let summary = ErrorSummary::new(mean);
    let seconds = start.elapsed().as_secs_f64();

    if args.json {
        let mut out = summary.json();
        out["per_class_error_std"] = json!(std);
        out["seconds"] = json!(seconds);
        out["config"] = json!({
            "command": "simulate",
            "gmm": args.gmm.config(&counts),
            "method": method_config(&method),
            "time": horizon_config(horizon),
            "seeds": args.seeds,
            "seed": args.seed,
            "test_per_class": args.test_per_class,
        });
        crate::output::print_json(&out)
    } else {
        println!(
            "simulate: {} classes, counts {:?}, p = {}, snr = {}, method {}, T = {}, {} seed(s), {} test samples per class",
            counts.len(),
            counts,
            args.gmm.dim,
            args.gmm.snr,
            method,
            args.time,
            args.seeds,
            args.test_per_class
        );
        summary.print_table(&counts, Some(&std));
        println!("({seconds:.2} s)");
        Ok(())
    }
}
