//! Shared helpers of the Gaussian-mixture experiments (E1-E4, E8): the mixture description used
//! as cache key, simulations over seeds (exact per-class error of each trained model, no test
//! noise), the theory's prediction, minority/majority averaging and grids.

use anyhow::{Context, Result};
use imbalance_gmm::{MeansSpec, Mixture, Profile};
use imbalance_gradflow::Horizon;
use imbalance_losses::{Method, MethodName};
use imbalance_pipeline::{
    GmmRun, Sampler, mixture_stats, predict_gmm, simulate_gmm, simulation_flow,
};
use imbalance_theory::{Objective, PredictOptions, tune};
use rand::SeedableRng;
use rand_pcg::Pcg64;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ctx::Ctx;
use crate::table::fmt_sig;

/// Bump when the simulation or theory code paths used here change (invalidates caches).
const VERSION: u32 = 1;

/// A K-class Gaussian mixture with orthogonal equal-norm means `mu_c = snr * e_c` and isotropic
/// noise: everything the simulation and the theory depend on (also the cache key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gmm {
    /// Training samples per class.
    pub counts: Vec<usize>,
    /// Dimension p.
    pub dim: usize,
    /// Norm of every class mean.
    pub snr: f64,
    /// Noise standard deviation.
    pub sigma: f64,
    /// The minority classes are the last `n_minority` ones (also when rho = 1).
    pub n_minority: usize,
}

impl Gmm {
    /// Explicit counts in decreasing order, sigma = 1; the minority classes are those with
    /// fewer samples than the first.
    pub fn counts(counts: Vec<usize>, dim: usize, snr: f64) -> Self {
        let n_minority = counts.iter().filter(|&&c| c < counts[0]).count();
        Self {
            counts,
            dim,
            snr,
            sigma: 1.0,
            n_minority,
        }
    }

    /// Step profile: `k - k_min` classes with `n_max` samples, `k_min` with `round(n_max/rho)`.
    pub fn step(
        k: usize,
        k_min: usize,
        n_max: usize,
        rho: f64,
        dim: usize,
        snr: f64,
    ) -> Result<Self> {
        let counts = Profile::Step {
            classes: k,
            n_max,
            ratio: rho,
            minority_classes: k_min,
        }
        .counts()
        .with_context(|| format!("step profile K={k} n_max={n_max} rho={rho}"))?;
        Ok(Self {
            n_minority: k_min,
            ..Self::counts(counts, dim, snr)
        })
    }

    /// The mixture (orthogonal means need no randomness; the rng is a formality).
    pub fn mixture(&self) -> Result<Mixture> {
        Ok(Mixture::new(
            self.counts.clone(),
            self.dim,
            MeansSpec::Orthogonal { snr: self.snr },
            self.sigma,
            &mut Pcg64::seed_from_u64(0),
        )?)
    }

    /// Minority classes: the last `n_minority`.
    pub fn minority(&self) -> Vec<usize> {
        (self.counts.len() - self.n_minority..self.counts.len()).collect()
    }

    /// Majority classes: all others.
    pub fn majority(&self) -> Vec<usize> {
        (0..self.counts.len() - self.n_minority).collect()
    }
}

/// Canonical text of a method (cache key and labels): `"la tau=1"`.
pub fn method_key(method: &Method) -> String {
    method.to_string()
}

/// What a simulation seed depends on: not the number of seeds, so that a quick run's seeds are
/// the first seeds of the full run.
#[derive(Serialize)]
struct SeedKey<'a> {
    tag: &'a str,
    gmm: &'a Gmm,
    method: String,
    horizon: String,
}

/// One cached simulation unit: every seed of one (mixture, method, horizon).
#[derive(Serialize)]
struct SimConfig<'a> {
    version: u32,
    key: SeedKey<'a>,
    seeds: usize,
}

/// Train `method` to `horizon` on `seeds` independent training sets of `gmm` (direct Gram
/// sampler, exact gradient flow) and map each run with `f`; cached per `(tag, gmm, method,
/// horizon, seeds)`. `tag` names what `f` computes (bump it when `f` changes).
pub fn simulate_map<T, F>(
    ctx: &Ctx,
    tag: &str,
    gmm: &Gmm,
    method: &Method,
    horizon: Horizon,
    seeds: usize,
    f: F,
) -> Result<Vec<T>>
where
    T: Serialize + DeserializeOwned,
    F: Fn(&GmmRun, &Mixture) -> Result<T>,
{
    let cfg = SimConfig {
        version: VERSION,
        key: SeedKey {
            tag,
            gmm,
            method: method_key(method),
            horizon: horizon.to_string(),
        },
        seeds,
    };
    ctx.cached(&cfg, || {
        let mix = gmm.mixture()?;
        (0..seeds as u64)
            .map(|r| {
                let mut rng = Pcg64::seed_from_u64(Ctx::seed(&cfg.key, r)?);
                let run = simulate_gmm(
                    &mix,
                    method,
                    horizon,
                    Sampler::Direct,
                    0,
                    &simulation_flow(mix.k()),
                    &mut rng,
                )
                .with_context(|| {
                    format!(
                        "simulating {} at T={horizon} on counts {:?}",
                        method_key(method),
                        gmm.counts
                    )
                })?;
                f(&run, &mix)
            })
            .collect()
    })
}

/// Exact per-class test error (balanced test distribution) of each of `seeds` trained models:
/// `result[seed][class]`.
pub fn simulate_errors(
    ctx: &Ctx,
    gmm: &Gmm,
    method: &Method,
    horizon: Horizon,
    seeds: usize,
) -> Result<Vec<Vec<f64>>> {
    simulate_map(ctx, "exact_error", gmm, method, horizon, seeds, |run, _| {
        Ok(run.exact_error.clone())
    })
}

/// The theory's per-class error (cached: LA/CDT with K >= 4 need the lattice rule).
pub fn theory_errors(ctx: &Ctx, gmm: &Gmm, method: &Method, horizon: Horizon) -> Result<Vec<f64>> {
    #[derive(Serialize)]
    struct TheoryConfig<'a> {
        version: u32,
        kind: &'static str,
        gmm: &'a Gmm,
        method: String,
        horizon: String,
    }
    let cfg = TheoryConfig {
        version: VERSION,
        kind: "theory_error",
        gmm,
        method: method_key(method),
        horizon: horizon.to_string(),
    };
    ctx.cached(&cfg, || {
        Ok(predict_gmm(&gmm.mixture()?, method, horizon)
            .with_context(|| format!("theory for {} at T={horizon}", method_key(method)))?
            .per_class_error)
    })
}

/// The theory-tuned hyperparameter of `name` (balanced-error objective) and the theory's
/// per-class error there, cached.
pub fn tune_theory(
    ctx: &Ctx,
    gmm: &Gmm,
    name: MethodName,
    horizon: Horizon,
) -> Result<(f64, Vec<f64>)> {
    #[derive(Serialize)]
    struct TuneConfig<'a> {
        version: u32,
        kind: &'static str,
        gmm: &'a Gmm,
        method: &'static str,
        horizon: String,
    }
    let cfg = TuneConfig {
        version: VERSION,
        kind: "tune_balanced",
        gmm,
        method: name.as_str(),
        horizon: horizon.to_string(),
    };
    ctx.cached(&cfg, || {
        let stats = mixture_stats(&gmm.mixture()?)?;
        let t = tune(
            &stats,
            name,
            Objective::Balanced,
            horizon,
            &PredictOptions::default(),
        )
        .with_context(|| format!("tuning {name} at T={horizon}"))?;
        Ok((t.value, t.prediction.per_class_error))
    })
}

/// `name` with its tuned hyperparameter set to `v` (CE for `MethodName::Ce`).
pub fn with_param(name: MethodName, v: f64) -> Result<Method> {
    match name.tuned_param() {
        None => Ok(Method::Ce),
        Some(param) => Ok(name.with_params(&[(param, v)])?),
    }
}

/// Mean of `v` over the indices `idx`.
pub fn mean_over(v: &[f64], idx: &[usize]) -> f64 {
    idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len().max(1) as f64
}

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// A statistic over seeds: mean, standard deviation and the standard error of the mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Mean over seeds.
    pub mean: f64,
    /// Standard deviation over seeds.
    pub std: f64,
    /// Number of seeds.
    pub n: usize,
}

impl Stat {
    /// From per-seed values.
    pub fn of(v: &[f64]) -> Self {
        let (mean, std) = mean_std(v);
        Self {
            mean,
            std,
            n: v.len(),
        }
    }

    /// Standard error of the mean, `std / sqrt(n)`.
    pub fn se(&self) -> f64 {
        self.std / (self.n.max(1) as f64).sqrt()
    }
}

/// Minority / majority / balanced error: theory (numbers) or simulation ([`Stat`]s over seeds,
/// each seed averaged over the group's classes first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Groups<T> {
    /// Mean error over the minority classes.
    pub minority: T,
    /// Mean error over the majority classes.
    pub majority: T,
    /// Mean error over all classes (balanced test error).
    pub balanced: T,
}

/// Group averages of one per-class error vector.
pub fn groups(gmm: &Gmm, per_class: &[f64]) -> Groups<f64> {
    let all: Vec<usize> = (0..per_class.len()).collect();
    Groups {
        minority: mean_over(per_class, &gmm.minority()),
        majority: mean_over(per_class, &gmm.majority()),
        balanced: mean_over(per_class, &all),
    }
}

/// Group averages of per-seed per-class errors, as statistics over seeds.
pub fn group_stats(gmm: &Gmm, per_seed: &[Vec<f64>]) -> Groups<Stat> {
    let g: Vec<Groups<f64>> = per_seed.iter().map(|e| groups(gmm, e)).collect();
    let pick = |f: fn(&Groups<f64>) -> f64| Stat::of(&g.iter().map(f).collect::<Vec<_>>());
    Groups {
        minority: pick(|x| x.minority),
        majority: pick(|x| x.majority),
        balanced: pick(|x| x.balanced),
    }
}

/// Tolerance of theory vs simulation used by the agreement claims: the mean-field model is an
/// approximation (docs/theory.md §6 reports gaps of a few points of error), so a fixed model tolerance
/// `MODEL_TOL` plus 3 standard errors of the simulated mean (seed-to-seed noise of the
/// training set; the exact conditional error has no test-sampling noise).
pub const MODEL_TOL: f64 = 0.03;

/// `MODEL_TOL + 3 se`.
pub fn agreement_tol(s: &Stat) -> f64 {
    MODEL_TOL + 3.0 * s.se()
}

/// `n` points log-spaced from `a` to `b` (inclusive), rounded to 3 significant digits so that
/// labels and cache keys are short and stable.
pub fn logspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.0
            };
            let x = 10f64.powf(a.log10() + t * (b.log10() - a.log10()));
            fmt_sig(x, 3).parse().unwrap_or(x)
        })
        .collect()
}

/// `n` points evenly spaced from `a` to `b` (inclusive).
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if n > 1 {
                a + (b - a) * i as f64 / (n - 1) as f64
            } else {
                a
            }
        })
        .collect()
}

/// Short number for labels and evidence strings.
pub fn f3(x: f64) -> String {
    fmt_sig(x, 3)
}

/// A method's short name in report text ("LA", "weighted CE"); tables keep the CLI ids.
pub fn method_label(name: MethodName) -> &'static str {
    match name {
        MethodName::Ce => "CE",
        MethodName::Wce => "weighted CE",
        MethodName::La => "LA",
        MethodName::PostHoc => "post-hoc LA",
        MethodName::Cdt => "CDT",
        MethodName::Ldam => "LDAM",
        MethodName::Vs => "VS",
    }
}

/// A method's name as a figure's panel title (E3, E6).
pub fn method_title(name: MethodName) -> &'static str {
    match name {
        MethodName::La => "logit adjustment (LA)",
        MethodName::PostHoc => "post-hoc LA",
        MethodName::Cdt => "class-dep. temperature (CDT)",
        MethodName::Ldam => "LDAM margins",
        other => method_label(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_and_groups() {
        assert_eq!(logspace(1.0, 100.0, 3), vec![1.0, 10.0, 100.0]);
        assert_eq!(linspace(0.0, 1.0, 3), vec![0.0, 0.5, 1.0]);
        let g = Gmm::step(4, 2, 100, 10.0, 1000, 5.0).unwrap();
        assert_eq!(g.counts, vec![100, 100, 10, 10]);
        assert_eq!(g.minority(), vec![2, 3]);
        assert_eq!(g.majority(), vec![0, 1]);
        let s = group_stats(&g, &[vec![0.0, 0.0, 0.5, 0.3], vec![0.1, 0.1, 0.6, 0.4]]);
        assert!((s.minority.mean - 0.45).abs() < 1e-12);
        assert!((s.majority.mean - 0.05).abs() < 1e-12);
        assert!((s.balanced.mean - 0.25).abs() < 1e-12);
    }
}
