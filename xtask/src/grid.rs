//! `cargo xtask theory-grid`: how tight is the mean-field theory? A fixed grid of Gaussian-mixture
//! configurations (K in {2, 3, 5, 10}, imbalance ratio 1..100, p/n 5..50, several SNRs, every
//! method, T from 1e2 to infinity); for each, the theory's per-class error
//! ([`imbalance_pipeline::predict_gmm`]) and the mean and std over seeds of the EXACT
//! per-class error of the trained W (`simulate_gmm` with no test draws: the orthant probability
//! given W, so the only noise is the training set's).
//!
//! The fixture `tests/fixtures/theory_grid.json` (written by the command) is checked by the
//! facade test `tests/theory_vs_simulation.rs`; experiment E5 uses the same code.

use std::path::Path;

use anyhow::{Context, Result};
use imbalance_gmm::{MeansSpec, Mixture};
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use imbalance_pipeline::{
    Sampler, mixture_stats, per_class_mean_std, simulate_gmm, simulation_flow,
};
use imbalance_theory::{PredictOptions, predict};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;

/// One configuration of the grid: orthogonal means of norm `snr`, sigma = 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridConfig {
    /// Training counts per class.
    pub counts: Vec<usize>,
    /// Dimension p.
    pub dim: usize,
    /// Norm of every class mean.
    pub snr: f64,
    /// Method name (`la`, `cdt`, ...).
    pub method: String,
    /// Its hyperparameters, `(name, value)`.
    pub params: Vec<(String, f64)>,
    /// Training horizon (`1e4`, `inf`).
    pub horizon: String,
}

impl GridConfig {
    /// A configuration (orthogonal means of norm `snr`, sigma = 1).
    pub fn new(counts: &[usize], dim: usize, snr: f64, method: Method, horizon: &str) -> Self {
        Self {
            counts: counts.to_vec(),
            dim,
            snr,
            method: method.name().as_str().to_string(),
            params: method
                .params()
                .into_iter()
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            horizon: horizon.to_string(),
        }
    }

    /// The method with its hyperparameters.
    pub fn method(&self) -> Result<Method> {
        let name: MethodName = self.method.parse()?;
        let params: Vec<(&str, f64)> = self.params.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        Ok(name.with_params(&params)?)
    }

    /// The training horizon.
    pub fn horizon(&self) -> Result<Horizon> {
        self.horizon
            .parse::<Horizon>()
            .map_err(|e| anyhow::anyhow!("bad horizon {:?}: {e}", self.horizon))
    }

    /// The mixture (orthogonal means, sigma = 1).
    pub fn mixture(&self) -> Result<Mixture> {
        // Orthogonal means do not draw from the rng.
        let mut rng = Pcg64::seed_from_u64(0);
        Ok(Mixture::new(
            self.counts.clone(),
            self.dim,
            MeansSpec::Orthogonal { snr: self.snr },
            1.0,
            &mut rng,
        )?)
    }

    /// Number of classes.
    pub fn k(&self) -> usize {
        self.counts.len()
    }

    /// Imbalance ratio n_max / n_min.
    pub fn rho(&self) -> f64 {
        let max = *self.counts.iter().max().unwrap_or(&1) as f64;
        let min = *self.counts.iter().min().unwrap_or(&1) as f64;
        max / min
    }

    /// p / n.
    pub fn p_over_n(&self) -> f64 {
        self.dim as f64 / self.counts.iter().sum::<usize>() as f64
    }

    /// A short label: `K=2 [200,20] p=2000 s=5 la tau=1 T=1e4`.
    pub fn label(&self) -> String {
        let counts = compact_counts(&self.counts);
        let params: String = self
            .params
            .iter()
            .map(|(n, v)| format!(" {n}={v}"))
            .collect();
        format!(
            "K={} {counts} p={} s={} {}{params} T={}",
            self.k(),
            self.dim,
            self.snr,
            self.method,
            self.horizon
        )
    }
}

/// `[5x100,5x20]`-style counts.
fn compact_counts(counts: &[usize]) -> String {
    let mut parts = vec![];
    let mut i = 0;
    while i < counts.len() {
        let mut j = i;
        while j < counts.len() && counts[j] == counts[i] {
            j += 1;
        }
        if j - i > 2 {
            parts.push(format!("{}x{}", j - i, counts[i]));
        } else {
            parts.extend(counts[i..j].iter().map(|c| c.to_string()));
        }
        i = j;
    }
    format!("[{}]", parts.join(","))
}

/// `n_max * rho^(-c/(K-1))`, rounded (the `exp` profile).
fn exp_profile(k: usize, n_max: usize, rho: f64) -> Vec<usize> {
    (0..k)
        .map(|c| ((n_max as f64) * rho.powf(-(c as f64) / (k - 1) as f64)).round() as usize)
        .collect()
}

/// The grid: 48 configurations. The docs/theory.md §6 rows are included (the first block).
pub fn grid() -> Vec<GridConfig> {
    use Method::*;
    let mut g = vec![];
    let mut add = |counts: &[usize], dim, snr, methods: &[(Method, &str)]| {
        for &(m, h) in methods {
            g.push(GridConfig::new(counts, dim, snr, m, h));
        }
    };
    // K = 2, rho = 10, p/n = 9.1 (docs/theory.md §6), every method and the time axis for CE and LA.
    add(
        &[200, 20],
        2000,
        5.0,
        &[
            (Ce, "1e4"),
            (La { tau: 1.0 }, "1e4"),
            (Cdt { gamma: 0.5 }, "1e4"),
            (La { tau: 1.0 }, "1e8"),
            (Wce { beta: 1.0 }, "1e4"),
            (PostHoc { tau: 1.0 }, "1e4"),
            (Ldam { c: 2.0 }, "1e4"),
            (
                Vs {
                    gamma: 0.3,
                    tau: 1.0,
                },
                "1e4",
            ),
            (La { tau: 1.0 }, "inf"),
            (Ce, "inf"),
            (Ce, "1e2"),
            (La { tau: 1.0 }, "1e2"),
            (La { tau: 1.0 }, "1e3"),
            (La { tau: 1.0 }, "1e6"),
        ],
    );
    // K = 2, rho = 100, p/n = 10.
    add(
        &[500, 5],
        5050,
        12.0,
        &[
            (Ce, "inf"),
            (La { tau: 1.0 }, "1e4"),
            (PostHoc { tau: 1.0 }, "1e4"),
            (Wce { beta: 1.0 }, "1e6"),
            (Ldam { c: 3.0 }, "inf"),
            (Cdt { gamma: 0.3 }, "1e6"),
        ],
    );
    // K = 2, rho = 5, p/n = 50.
    add(
        &[300, 60],
        18000,
        7.0,
        &[
            (Ce, "1e3"),
            (La { tau: 1.0 }, "1e3"),
            (
                Vs {
                    gamma: 0.5,
                    tau: 1.0,
                },
                "1e4",
            ),
            (Wce { beta: 1.0 }, "inf"),
        ],
    );
    // K = 2, balanced, p/n = 5.
    add(&[100, 100], 1000, 3.0, &[(Ce, "1e4"), (Ce, "inf")]);
    // K = 3, rho = 10, p/n = 5.
    add(
        &[200, 200, 20],
        2100,
        6.0,
        &[
            (Ce, "1e4"),
            (La { tau: 1.0 }, "1e4"),
            (Cdt { gamma: 0.5 }, "1e4"),
            (Ldam { c: 2.0 }, "1e4"),
            (Wce { beta: 0.5 }, "1e4"),
            (PostHoc { tau: 1.0 }, "1e4"),
            (
                Vs {
                    gamma: 0.3,
                    tau: 0.5,
                },
                "inf",
            ),
        ],
    );
    // K = 3, exp profile, rho = 30, p/n = 20.
    let c3 = exp_profile(3, 300, 30.0);
    let n3: usize = c3.iter().sum();
    add(
        &c3,
        20 * n3,
        9.0,
        &[
            (Ce, "inf"),
            (La { tau: 1.0 }, "1e5"),
            (PostHoc { tau: 1.0 }, "1e5"),
        ],
    );
    // K = 5, step, rho = 10, p/n = 10.
    add(
        &[100, 100, 100, 10, 10],
        3200,
        7.0,
        &[
            (Ce, "1e4"),
            (La { tau: 1.0 }, "1e4"),
            (Cdt { gamma: 0.5 }, "1e6"),
            (Wce { beta: 1.0 }, "1e6"),
            (Ldam { c: 2.0 }, "inf"),
            (PostHoc { tau: 1.0 }, "1e4"),
        ],
    );
    // K = 10, step, rho = 5, p/n = 8.3 (docs/theory.md §6 last row at T = inf).
    add(
        &[100, 100, 100, 100, 100, 20, 20, 20, 20, 20],
        5000,
        8.0,
        &[
            (Ce, "inf"),
            (La { tau: 1.0 }, "1e4"),
            (Cdt { gamma: 0.5 }, "1e4"),
            (
                Vs {
                    gamma: 0.3,
                    tau: 1.0,
                },
                "1e6",
            ),
        ],
    );
    // K = 10, exp profile, rho = 10, p/n = 30.
    let c10 = exp_profile(10, 100, 10.0);
    let n10: usize = c10.iter().sum();
    add(
        &c10,
        30 * n10,
        6.0,
        &[(Ce, "1e3"), (La { tau: 1.0 }, "1e3")],
    );
    g
}

/// Indices of a representative subset of [`grid`] (every K, short and infinite T, the §6 LA
/// row), cheap enough for the facade test and E5's quick run.
pub fn quick_subset() -> Vec<usize> {
    vec![1, 9, 15, 20, 25, 26, 33, 37, 42]
}

/// Simulation summary over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimSummary {
    /// Per-class mean over seeds of the exact error of the trained W.
    pub mean: Vec<f64>,
    /// Per-class standard deviation over seeds (n - 1 denominator).
    pub std: Vec<f64>,
    /// Number of seeds (training sets).
    pub seeds: usize,
}

/// The exact per-class error of W trained on seed `r` of `cfg` (seeds from [`Ctx::seed`], so a
/// given (config, replicate) always sees the same training set).
pub fn simulate_one(cfg: &GridConfig, r: u64) -> Result<Vec<f64>> {
    simulate_seeded(cfg, Ctx::seed(cfg, r)?)
}

/// The exact per-class error of W trained on the training set drawn from `seed`.
pub fn simulate_seeded(cfg: &GridConfig, seed: u64) -> Result<Vec<f64>> {
    Ok(simulate_counted(cfg, seed)?.0)
}

/// [`simulate_seeded`], also returning the gradient-flow ODE's right-hand-side evaluations
/// (each an n x n by n x K product; 0 at T = infinity, solved as a max-margin QP).
pub fn simulate_counted(cfg: &GridConfig, seed: u64) -> Result<(Vec<f64>, usize)> {
    let mixture = cfg.mixture()?;
    let method = cfg.method()?;
    let mut rng = Pcg64::seed_from_u64(seed);
    let run = simulate_gmm(
        &mixture,
        &method,
        cfg.horizon()?,
        Sampler::Direct,
        0,
        &simulation_flow(mixture.k()),
        &mut rng,
    )
    .with_context(|| format!("simulating {}", cfg.label()))?;
    Ok((run.exact_error, run.trained.rhs_evals()))
}

/// Replicates `first..first + seeds` of `cfg`, in parallel.
pub fn simulate_runs(cfg: &GridConfig, first: u64, seeds: usize) -> Result<Vec<Vec<f64>>> {
    (first..first + seeds as u64)
        .into_par_iter()
        .map(|r| simulate_one(cfg, r))
        .collect()
}

/// The theory's per-class error for `cfg` with `opts`.
pub fn theory(cfg: &GridConfig, opts: &PredictOptions) -> Result<Vec<f64>> {
    let mixture = cfg.mixture()?;
    let p = predict(
        &mixture_stats(&mixture)?,
        &cfg.method()?,
        cfg.horizon()?,
        opts,
    )?;
    Ok(p.per_class_error)
}

/// The theory with the finite-n correction ([`imbalance_theory::finite_n_factor`]).
pub fn finite_n_options() -> PredictOptions {
    PredictOptions::default().with_finite_n(true)
}

/// Mean over classes of |a - b|.
pub fn mean_abs_gap(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

/// One row of the fixture.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridRow {
    /// The configuration.
    pub config: GridConfig,
    /// Its label.
    pub label: String,
    /// Theory (default options), per class.
    pub theory: Vec<f64>,
    /// Theory with the finite-n correction, per class.
    pub theory_finite_n: Vec<f64>,
    /// Simulation over seeds.
    pub sim: SimSummary,
    /// Mean over classes of |theory - sim mean|.
    pub gap: f64,
    /// Largest per-class |theory - sim mean|.
    pub max_class_gap: f64,
    /// Mean over classes of |theory_finite_n - sim mean|.
    pub gap_finite_n: f64,
}

/// The fixture file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GridFixture {
    /// What this is.
    pub description: String,
    /// Seeds per configuration (replicates 0..seeds).
    pub seeds: usize,
    /// The rows, in grid order.
    pub rows: Vec<GridRow>,
    /// Mean over rows of `gap`.
    pub mean_gap: f64,
    /// Largest `gap`.
    pub max_gap: f64,
    /// Mean over rows of `gap_finite_n`.
    pub mean_gap_finite_n: f64,
    /// Largest `gap_finite_n`.
    pub max_gap_finite_n: f64,
}

/// Evaluates one configuration: theory (both variants) and `seeds` simulations.
pub fn evaluate(cfg: &GridConfig, seeds: usize) -> Result<GridRow> {
    let theory_v = theory(cfg, &PredictOptions::default())?;
    let base = theory(cfg, &finite_n_options())?;
    let runs = simulate_runs(cfg, 0, seeds)?;
    Ok(row_from(cfg, theory_v, base, &runs))
}

/// Assembles a row from its parts.
pub fn row_from(
    cfg: &GridConfig,
    theory: Vec<f64>,
    theory_finite_n: Vec<f64>,
    runs: &[Vec<f64>],
) -> GridRow {
    let (mean, std) = per_class_mean_std(runs);
    let gap = mean_abs_gap(&theory, &mean);
    let max_class_gap = theory
        .iter()
        .zip(&mean)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let gap_finite_n = mean_abs_gap(&theory_finite_n, &mean);
    GridRow {
        config: cfg.clone(),
        label: cfg.label(),
        theory,
        theory_finite_n,
        sim: SimSummary {
            mean,
            std,
            seeds: runs.len(),
        },
        gap,
        max_class_gap,
        gap_finite_n,
    }
}

impl GridRow {
    /// Recomputes the gaps from the theory and simulation columns.
    pub fn regap(self) -> GridRow {
        let runs_mean = self.sim.clone();
        let mut row = row_from(&self.config, self.theory, self.theory_finite_n, &[]);
        row.sim = runs_mean;
        row.gap = mean_abs_gap(&row.theory, &row.sim.mean);
        row.max_class_gap = row
            .theory
            .iter()
            .zip(&row.sim.mean)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        row.gap_finite_n = mean_abs_gap(&row.theory_finite_n, &row.sim.mean);
        row
    }
}

/// Summary statistics over rows.
pub fn fixture_from(rows: Vec<GridRow>, seeds: usize) -> GridFixture {
    let n = rows.len().max(1) as f64;
    let mean_gap = rows.iter().map(|r| r.gap).sum::<f64>() / n;
    let max_gap = rows.iter().map(|r| r.gap).fold(0.0, f64::max);
    let mean_gap_finite_n = rows.iter().map(|r| r.gap_finite_n).sum::<f64>() / n;
    let max_gap_finite_n = rows.iter().map(|r| r.gap_finite_n).fold(0.0, f64::max);
    GridFixture {
        description: "Mean-field theory vs simulation (mean over seeds of the exact per-class \
                      error of the trained W), orthogonal means, sigma = 1. gap = mean over \
                      classes of |theory - sim mean|. Generated by `cargo xtask theory-grid`."
            .to_string(),
        seeds,
        rows,
        mean_gap,
        max_gap,
        mean_gap_finite_n,
        max_gap_finite_n,
    }
}

/// Criterion of the theory issue: mean gap <= 0.02 and worst gap <= 0.04.
pub const MEAN_GAP_BOUND: f64 = 0.02;
/// See [`MEAN_GAP_BOUND`].
pub const MAX_GAP_BOUND: f64 = 0.04;

/// Runs the whole grid with `seeds` seeds, prints a summary, and writes the fixture to `out`.
/// With `reuse`, the simulations are taken from that earlier fixture (same grid and seeds) and
/// only the theory is recomputed (after a change of the theory).
pub fn run(seeds: usize, out: &Path, reuse: Option<&Path>) -> Result<GridFixture> {
    let configs = grid();
    let old: Option<GridFixture> = match reuse {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("parsing {}", path.display()))?,
            )
        }
        None => None,
    };
    let start = std::time::Instant::now();
    let mut rows = vec![];
    for (i, cfg) in configs.iter().enumerate() {
        let t = std::time::Instant::now();
        let row = match old
            .as_ref()
            .and_then(|f| f.rows.iter().find(|r| &r.config == cfg))
        {
            Some(prev) => GridRow {
                theory: theory(cfg, &PredictOptions::default())?,
                theory_finite_n: theory(cfg, &finite_n_options())?,
                ..prev.clone()
            }
            .regap(),
            None => evaluate(cfg, seeds)?,
        };
        eprintln!(
            "[{}/{}] {:<55} gap {:.4} (finite-n {:.4})  {:.1}s",
            i + 1,
            configs.len(),
            row.label,
            row.gap,
            row.gap_finite_n,
            t.elapsed().as_secs_f64()
        );
        rows.push(row);
    }
    let seeds = old.as_ref().map_or(seeds, |f| f.seeds);
    let fixture = fixture_from(rows, seeds);
    print_summary(&fixture);
    eprintln!("total {:.0}s", start.elapsed().as_secs_f64());
    let json = serde_json::to_string_pretty(&fixture)?;
    imbalance_datasets::write_atomic(out, json.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    Ok(fixture)
}

/// Prints the per-row table and the criterion.
pub fn print_summary(f: &GridFixture) {
    println!(
        "{:<60} {:>24} {:>24} {:>7} {:>7}",
        "config", "theory", "sim mean", "gap", "fin-n"
    );
    let fmt = |v: &[f64]| {
        v.iter()
            .take(4)
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    for r in &f.rows {
        println!(
            "{:<60} {:>24} {:>24} {:>7.4} {:>7.4}",
            r.label,
            fmt(&r.theory),
            fmt(&r.sim.mean),
            r.gap,
            r.gap_finite_n
        );
    }
    println!(
        "{} configs, {} seeds: mean gap {:.4} (<= {MEAN_GAP_BOUND}), max gap {:.4} (<= {MAX_GAP_BOUND}): {}",
        f.rows.len(),
        f.seeds,
        f.mean_gap,
        f.max_gap,
        if f.mean_gap <= MEAN_GAP_BOUND && f.max_gap <= MAX_GAP_BOUND {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!(
        "with the finite-n correction: mean gap {:.4}, max gap {:.4}",
        f.mean_gap_finite_n, f.max_gap_finite_n
    );
}
