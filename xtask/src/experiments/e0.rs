//! E0: a purely synthetic smoke test of the whole pipeline (cache, progress, tables, plots,
//! claims, report). It samples y = c·ln x + N(0, σ²) for c in {1, 2} on a log grid of x,
//! averages over seeds, and checks that least squares recovers the slopes and the noise level.
//! It is not registered: the driver's tests run it as a fixture, and it is the template for
//! new experiments.

use anyhow::Result;
use serde::Serialize;

use super::common::{logspace, mean_std};
use super::{Experiment, ExperimentOutput};
use imbalance_core::SplitMix64;

use crate::ctx::Ctx;
use crate::plot::{Figure, Panel};
use crate::report::Claim;
use crate::row;
use crate::table::{Table, fmt_sig};

/// The demo experiment.
pub struct E0;

/// Injected noise standard deviation.
const SIGMA: f64 = 1.0;
/// Slopes sampled.
const SLOPES: [f64; 2] = [1.0, 2.0];

/// One cached unit of work: all seeds at one (slope, x).
#[derive(Serialize)]
struct PointConfig {
    /// Bump when the computation changes (invalidates the cache).
    version: u32,
    slope: f64,
    x: f64,
    seeds: usize,
    sigma: f64,
}

/// A standard normal from a SplitMix64 stream (Box-Muller on two uniforms in (0, 1)).
fn normal(rng: &mut SplitMix64) -> f64 {
    let (u1, u2) = (rng.next_open01(), rng.next_open01());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Experiment for E0 {
    fn id(&self) -> &'static str {
        "e0"
    }

    fn title(&self) -> &'static str {
        "Pipeline smoke test (demo): noisy samples of y = c ln x"
    }

    fn claim(&self) -> &'static str {
        "Demo only: least squares on seed-averaged noisy samples recovers the slope and noise level."
    }

    fn run(&self, ctx: &mut Ctx) -> Result<ExperimentOutput> {
        let xs = logspace(1.0, 1000.0, ctx.pick(8, 25));
        let seeds = ctx.seeds(4, 20);
        let progress = ctx.progress(SLOPES.len() * xs.len());

        let mut table = Table::new(["slope c", "x", "theory c ln x", "mean", "std", "seeds"]);
        let mut fits = Table::new(["slope c", "fitted slope", "std error", "z", "pooled std"]);
        let mut out = ExperimentOutput::new();
        let mut fig_means = Panel::new("mean ± 1 std over seeds", "x", "y").log_x();
        let mut fig_stds = Panel::new("spread over seeds", "x", "std of y")
            .log_x()
            .log_y();
        let mut stds_all = vec![];

        for (ci, &c) in SLOPES.iter().enumerate() {
            let mut means = vec![];
            let mut stds = vec![];
            for &x in &xs {
                let cfg = PointConfig {
                    version: 1,
                    slope: c,
                    x,
                    seeds,
                    sigma: SIGMA,
                };
                let samples: Vec<f64> = ctx.cached(&cfg, || {
                    (0..seeds as u64)
                        .map(|r| {
                            let mut rng = SplitMix64::new(Ctx::seed(&cfg, r)?);
                            Ok(c * x.ln() + SIGMA * normal(&mut rng))
                        })
                        .collect()
                })?;
                progress.inc(&format!("c={c} x={}", fmt_sig(x, 3)));
                let (m, s) = mean_std(&samples);
                table.push(row![c, x, c * x.ln(), m, s, seeds]);
                means.push(m);
                stds.push(s);
            }
            // Least squares of the means on t = ln x; each mean has variance sigma^2 / seeds,
            // so the slope's standard error is sigma / sqrt(seeds * Sxx).
            let ts: Vec<f64> = xs.iter().map(|x| x.ln()).collect();
            let tbar = ts.iter().sum::<f64>() / ts.len() as f64;
            let ybar = means.iter().sum::<f64>() / means.len() as f64;
            let sxx: f64 = ts.iter().map(|t| (t - tbar).powi(2)).sum();
            let sxy: f64 = ts
                .iter()
                .zip(&means)
                .map(|(t, y)| (t - tbar) * (y - ybar))
                .sum();
            let b = sxy / sxx;
            let se = SIGMA / (seeds as f64 * sxx).sqrt();
            let z = (b - c) / se;
            // Pooled std over all x: the mean of the per-x variances has
            // xs.len() * (seeds - 1) degrees of freedom.
            let pooled = (stds.iter().map(|s| s * s).sum::<f64>() / stds.len() as f64).sqrt();
            let dof = (xs.len() * (seeds - 1)) as f64;
            fits.push(row![c, b, se, z, pooled]);

            out.claim(Claim::judged(
                format!("e0.{}", 2 * ci + 1),
                format!("Least squares recovers the slope c = {c}"),
                "|fitted slope - c| <= 4 standard errors, with se = sigma / sqrt(seeds * Sxx)",
                format!(
                    "fitted slope {}, se {}, z = {}",
                    fmt_sig(b, 4),
                    fmt_sig(se, 3),
                    fmt_sig(z, 3)
                ),
                z.abs() <= 4.0,
            ));
            let tol = 4.0 / (2.0 * dof).sqrt();
            out.claim(Claim::judged(
                format!("e0.{}", 2 * ci + 2),
                format!("The spread over seeds matches the injected noise (c = {c})"),
                format!(
                    "|pooled std / sigma - 1| <= 4 / sqrt(2 dof) = {} (dof = {dof})",
                    fmt_sig(tol, 3)
                ),
                format!("pooled std {} vs sigma {SIGMA}", fmt_sig(pooled, 4)),
                (pooled / SIGMA - 1.0).abs() <= tol,
            ));

            let label = format!("c = {c}");
            fig_means = fig_means
                .line(&label, xs.clone(), ts.iter().map(|t| c * t).collect())
                .points(&label, xs.clone(), means, Some(stds.clone()));
            stds_all.push((label, stds));
        }
        fig_stds = fig_stds.line("injected σ", vec![xs[0], xs[xs.len() - 1]], vec![SIGMA; 2]);
        for (label, stds) in stds_all {
            fig_stds = fig_stds.points(label, xs.clone(), stds, None);
        }

        out.table("samples", table);
        out.table("fit", fits);
        out.figure(
            "samples",
            Figure::new("E0 (demo): y = c ln x + noise")
                .note(format!(
                    "lines: theory; points: simulation, mean ± 1 std over {seeds} seeds"
                ))
                .panel(fig_means)
                .panel(fig_stds),
        );
        out.note("This demo experiment only exercises the pipeline; E1-E8 replace it.");
        Ok(out)
    }
}
