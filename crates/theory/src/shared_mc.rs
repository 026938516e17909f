//! The error of every class from one shared set of Monte Carlo draws (many classes).
//!
//! With isotropic class noise the test logits of class `y` are `N(m_y, S)` with one covariance
//! `S` for every `y` (the theory's `S`, or `sigma^2 W W^T` for a trained `W`). So one set of
//! draws `xi ~ N(0, S)` serves all classes: class `y` is misclassified on a draw when
//! `m_y + xi + offsets` has its largest entry elsewhere. The cost is `O(K^3)` to factor `S`
//! once and `O(K^2)` per draw for all classes together, where Genz's rule needs a
//! `(K - 1)`-dimensional integral per class.
//!
//! Two variance reductions, both measured in the tests (`variance_reduction_is_measured`):
//!
//! - **Conditioning on one direction.** For class `y`, split the standard normal `z` behind
//!   `xi = F z` (`F F^T = S`) into its component `t` along the unit vector `u_y` that raises
//!   `f_y` against the mean of the other logits, and the rest. Given the rest, each comparison
//!   `f_y - f_c` is linear in `t`, so `y` wins on an interval of `t` and the draw contributes
//!   the exact normal probability of that interval's complement instead of a 0/1 indicator.
//!   The contribution is a continuous function of the means and offsets, so with the same
//!   draws (common random numbers) a tuning scan sees a continuous objective.
//! - **Antithetic pairs**: every `z` is used with `-z`; a pair is one observation.
//!
//! Draws come in blocks of [`BLOCK`] pairs; block `b` uses its own SplitMix64 stream seeded
//! from `(seed, b)`, and block sums are added in block order, so the result depends on the
//! seed and the number of blocks only, never on the thread count. Draws are added in rounds
//! until the largest standard error is at most the target (or the draw limit is reached);
//! the number of rounds depends only on the estimates, so it is deterministic too.

use imbalance_core::{SplitMix64, splitmix64};
use rayon::prelude::*;

use crate::genz::check_covariance;
use crate::linalg::{PIVOT_TOL, SemidefiniteFactor, semidefinite_factor};
use crate::special::{normal_cdf, normal_sf};
use crate::{Error, Result};

/// Antithetic pairs per block (each block holds `2 * BLOCK` draws).
pub const BLOCK: usize = 128;

/// Options of the shared Monte Carlo.
///
/// `#[non_exhaustive]`: start from [`MonteCarloOptions::default`] and use the `with_*` setters
/// (or set fields of a default value).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MonteCarloOptions {
    /// Draws are added until every class's standard error is at most this, > 0. Default 1e-3.
    pub target_se: f64,
    /// Draws of the first round (rounded up to whole blocks), >= 1. Default 2^14.
    pub min_draws: usize,
    /// Upper limit on the draws; when it is reached the estimate is returned with its larger
    /// standard error. Default 2^22.
    pub max_draws: usize,
    /// Seed of the draws; the same seed gives bit-identical results on any thread count.
    pub seed: u64,
    /// Condition each class on one direction (see the module docs). Default true; off only
    /// to measure what it gains.
    pub conditioning: bool,
}

impl Default for MonteCarloOptions {
    fn default() -> Self {
        Self {
            target_se: 1e-3,
            min_draws: 1 << 14,
            max_draws: 1 << 22,
            seed: 0x5eed_0f5b_a2ed_3c00,
            conditioning: true,
        }
    }
}

impl MonteCarloOptions {
    /// These options with target standard error `target_se`.
    pub fn with_target_se(self, target_se: f64) -> Self {
        Self { target_se, ..self }
    }

    /// These options with seed `seed`.
    pub fn with_seed(self, seed: u64) -> Self {
        Self { seed, ..self }
    }

    /// Checks the ranges documented on each field.
    pub fn validate(&self) -> Result<()> {
        if !(self.target_se > 0.0 && self.target_se.is_finite()) {
            return Err(Error::BadValue {
                name: "target_se",
                value: self.target_se,
                allowed: "a finite number > 0",
            });
        }
        if self.min_draws == 0 || self.max_draws < self.min_draws {
            return Err(Error::BadValue {
                name: "max_draws",
                value: self.max_draws as f64,
                allowed: "min_draws >= 1 and max_draws >= min_draws",
            });
        }
        Ok(())
    }
}

/// Per-class errors from shared draws, with their standard errors.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedEstimate {
    /// The error of each requested class, in the order asked.
    pub error: Vec<f64>,
    /// The standard error of each value of `error` (over antithetic pairs).
    pub standard_error: Vec<f64>,
    /// Draws used (twice the antithetic pairs).
    pub draws: usize,
}

/// The error of each class in `classes` (the probability that `logit_means[y] + xi + offsets`
/// is not largest at `y`, with `xi ~ N(0, cov)`), from one shared set of draws.
///
/// `logit_means` is K x K row-major (row `y` the mean logits of a test point of class `y`),
/// `cov` the K x K logit covariance, positive semi-definite. `offsets` are added to the logits
/// before the argmax, as in [`crate::class_error`] (the method's prediction offsets: zeros for
/// all but post-hoc methods).
///
/// ```
/// use imbalance_theory::{shared_class_errors, MonteCarloOptions};
/// // Two classes, independent unit noise, means 1 apart: error = Phi(-1 / sqrt 2).
/// let means = [0.5, -0.5, -0.5, 0.5];
/// let cov = [1.0, 0.0, 0.0, 1.0];
/// let est = shared_class_errors(&means, &cov, &[0, 1], &[0.0, 0.0], &MonteCarloOptions::default())?;
/// let exact = imbalance_theory::special::normal_cdf(-1.0 / 2f64.sqrt());
/// assert!((est.error[0] - exact).abs() < 4.0 * est.standard_error[0] + 1e-12);
/// # Ok::<(), imbalance_theory::Error>(())
/// ```
pub fn shared_class_errors(
    logit_means: &[f64],
    cov: &[f64],
    classes: &[usize],
    offsets: &[f64],
    opts: &MonteCarloOptions,
) -> Result<SharedEstimate> {
    opts.validate()?;
    let k = offsets.len();
    if k < 2 {
        return Err(imbalance_core::CountError::TooFewClasses { k }.into());
    }
    check_covariance("cov", cov, k)?;
    if logit_means.len() != k * k {
        return Err(Error::WrongLength {
            name: "logit_means",
            got: logit_means.len(),
            expected: k * k,
        });
    }
    for (name, v) in [("logit_means", logit_means), ("offsets", offsets)] {
        if let Some((i, &x)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::BadEntry {
                name,
                row: i / k.max(1),
                col: i % k.max(1),
                value: x,
                allowed: "entries must be finite",
            });
        }
    }
    if let Some(&class) = classes.iter().find(|&&y| y >= k) {
        return Err(Error::ClassOutOfRange { class, k });
    }
    let plan = Plan::new(logit_means, cov, classes, offsets, opts.conditioning)?;
    plan.run(opts)
}

/// Everything the blocks share: the factor, and per class its shifted means and its
/// conditioning direction.
struct Plan {
    k: usize,
    factor: SemidefiniteFactor,
    classes: Vec<ClassPlan>,
}

struct ClassPlan {
    y: usize,
    /// `m_y[c] + offsets[c]` for every c.
    shifted: Vec<f64>,
    /// `1 / norm_y`, with `s_y = (K xi_y - sum xi) / ((K - 1) norm_y)` the draw's coordinate
    /// along `u_y`; 0 when the class is not conditioned.
    inv_norm: f64,
    /// Comparisons whose slope `g_c` in the direction is >= 0 (a lower bound on `t`), with
    /// `1 / g_c` (`inf` for a slope of 0: the comparison then passes or fails outright).
    up: Vec<(usize, f64)>,
    /// Comparisons with slope < 0 (an upper bound on `t`), with `1 / g_c`.
    down: Vec<(usize, f64)>,
}

impl Plan {
    fn new(
        means: &[f64],
        cov: &[f64],
        classes: &[usize],
        offsets: &[f64],
        conditioning: bool,
    ) -> Result<Self> {
        let k = offsets.len();
        let factor = semidefinite_factor("cov", cov, k)?;
        let kf = k as f64;
        // S 1, for S w_y with w_y = (K e_y - 1) / (K - 1).
        let row_sum: Vec<f64> = (0..k)
            .map(|i| cov[i * k..(i + 1) * k].iter().sum())
            .collect();
        let max_diag = (0..k).map(|i| cov[i * k + i]).fold(0.0, f64::max);
        let classes = classes
            .iter()
            .map(|&y| {
                let shifted: Vec<f64> = (0..k).map(|c| means[y * k + c] + offsets[c]).collect();
                // S w_y (the covariance of the logits with the draw's coordinate along w_y).
                let sw: Vec<f64> = (0..k)
                    .map(|i| (kf * cov[i * k + y] - row_sum[i]) / (kf - 1.0))
                    .collect();
                let norm2 = (kf * sw[y] - sw.iter().sum::<f64>()) / (kf - 1.0);
                let conditioned = conditioning && norm2 > PIVOT_TOL * max_diag;
                let (inv_norm, g): (f64, Vec<f64>) = if conditioned {
                    let norm = norm2.sqrt();
                    (1.0 / norm, (0..k).map(|c| (sw[y] - sw[c]) / norm).collect())
                } else {
                    (0.0, vec![0.0; k])
                };
                let mut up = Vec::new();
                let mut down = Vec::new();
                for c in (0..k).filter(|&c| c != y) {
                    if g[c] < 0.0 {
                        down.push((c, 1.0 / g[c]));
                    } else if g[c] > 0.0 {
                        up.push((c, 1.0 / g[c]));
                    } else {
                        up.push((c, f64::INFINITY));
                    }
                }
                ClassPlan {
                    y,
                    shifted,
                    inv_norm,
                    up,
                    down,
                }
            })
            .collect();
        Ok(Self { k, factor, classes })
    }

    fn run(&self, opts: &MonteCarloOptions) -> Result<SharedEstimate> {
        let nc = self.classes.len();
        let mut sums = vec![[0.0f64; 2]; nc];
        let mut blocks = 0usize;
        let blocks_for = |draws: usize| draws.div_ceil(2 * BLOCK).max(1);
        let max_blocks = blocks_for(opts.max_draws);
        let mut target_blocks = blocks_for(opts.min_draws).min(max_blocks);
        loop {
            // A stop request skips the remaining blocks and ends the run with an error.
            let new: Vec<Vec<[f64; 2]>> = (blocks..target_blocks)
                .into_par_iter()
                .map(|b| {
                    if imbalance_core::interrupt::requested() {
                        Vec::new()
                    } else {
                        self.block(opts.seed, b)
                    }
                })
                .collect();
            if imbalance_core::interrupt::requested() {
                return Err(Error::Interrupted);
            }
            for block in &new {
                for (s, v) in sums.iter_mut().zip(block) {
                    s[0] += v[0];
                    s[1] += v[1];
                }
            }
            blocks = target_blocks;
            let pairs = (blocks * BLOCK) as f64;
            let se = |s: &[f64; 2]| {
                let mean = s[0] / pairs;
                ((s[1] / pairs - mean * mean).max(0.0) / (pairs - 1.0)).sqrt()
            };
            let worst = sums.iter().map(se).fold(0.0, f64::max);
            if worst <= opts.target_se || blocks >= max_blocks {
                return Ok(SharedEstimate {
                    error: sums.iter().map(|s| s[0] / pairs).collect(),
                    standard_error: sums.iter().map(se).collect(),
                    draws: 2 * blocks * BLOCK,
                });
            }
            // Standard errors fall like 1/sqrt(draws): ask for what the worst class needs,
            // 10% more, and at least half again as many as now.
            let need = (blocks as f64 * (worst / opts.target_se).powi(2) * 1.1).ceil() as usize;
            target_blocks = need.max(blocks + blocks / 2 + 1).min(max_blocks);
        }
    }

    /// One block: per class, the sum over antithetic pairs of the pair's mean error and of
    /// its square.
    fn block(&self, seed: u64, b: usize) -> Vec<[f64; 2]> {
        let (k, r) = (self.k, self.factor.r);
        let mut rng = SplitMix64::new(splitmix64(seed ^ splitmix64(b as u64)));
        // z: r x BLOCK standard normals (Box-Muller), row-major.
        let mut z = vec![0.0; r * BLOCK];
        for pair in z.chunks_mut(2) {
            let u1 = rng.next_open01();
            let u2 = rng.next_f64();
            let rad = (-2.0 * u1.ln()).sqrt();
            let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
            pair[0] = rad * c;
            if pair.len() > 1 {
                pair[1] = rad * s;
            }
        }
        // xi = F z: K x BLOCK; row i sums the columns whose first row is <= i.
        let f = &self.factor;
        let mut xi = vec![0.0; k * BLOCK];
        for i in 0..k {
            let row = &mut xi[i * BLOCK..(i + 1) * BLOCK];
            let ncols = f.first.partition_point(|&fr| fr <= i);
            for c in 0..ncols {
                let a = f.f[i * r + c];
                if a != 0.0 {
                    for (x, zz) in row.iter_mut().zip(&z[c * BLOCK..(c + 1) * BLOCK]) {
                        *x += a * zz;
                    }
                }
            }
        }
        let mut total = vec![0.0; BLOCK];
        for i in 0..k {
            for (t, x) in total.iter_mut().zip(&xi[i * BLOCK..(i + 1) * BLOCK]) {
                *t += x;
            }
        }
        let kf = k as f64;
        let mut out = vec![[0.0; 2]; self.classes.len()];
        let mut err = [vec![0.0; BLOCK], vec![0.0; BLOCK]];
        let (mut lo, mut hi, mut s) = (vec![0.0; BLOCK], vec![0.0; BLOCK], vec![0.0; BLOCK]);
        for (cp, acc) in self.classes.iter().zip(out.iter_mut()) {
            let y = cp.y;
            let xy = &xi[y * BLOCK..(y + 1) * BLOCK];
            for (sign, e) in [1.0f64, -1.0].iter().zip(err.iter_mut()) {
                // The draw's coordinate along u_y, and the bounds on t: every comparison
                // A_c + (t - s) g_c > 0 with A_c = f_y - f_c on this draw.
                for j in 0..BLOCK {
                    s[j] = sign * (kf * xy[j] - total[j]) / (kf - 1.0) * cp.inv_norm;
                    lo[j] = f64::NEG_INFINITY;
                    hi[j] = f64::INFINITY;
                }
                let my = cp.shifted[y];
                for &(c, inv_g) in &cp.up {
                    let xc = &xi[c * BLOCK..(c + 1) * BLOCK];
                    let mc = cp.shifted[c];
                    for j in 0..BLOCK {
                        let a = (my - mc) + sign * (xy[j] - xc[j]);
                        lo[j] = lo[j].max(s[j] - a * inv_g);
                    }
                }
                for &(c, inv_g) in &cp.down {
                    let xc = &xi[c * BLOCK..(c + 1) * BLOCK];
                    let mc = cp.shifted[c];
                    for j in 0..BLOCK {
                        let a = (my - mc) + sign * (xy[j] - xc[j]);
                        hi[j] = hi[j].min(s[j] - a * inv_g);
                    }
                }
                // The error given the rest of the draw: P(t outside (lo, hi)).
                for j in 0..BLOCK {
                    e[j] = if lo[j] < hi[j] {
                        normal_cdf(lo[j]) + normal_sf(hi[j])
                    } else {
                        1.0
                    };
                }
            }
            for j in 0..BLOCK {
                let v = 0.5 * (err[0][j] + err[1][j]);
                acc[0] += v;
                acc[1] += v * v;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
