//! An adaptive Dormand-Prince 5(4) integrator in log-time, shared by the exact gradient flow and
//! the mean-field theory.
//!
//! Gradient flow on a separable problem has a fast transient on the time scale `t0` (about
//! `n / lambda_max` of the Gram matrix) and then slows down like `1/t` as the margins grow like
//! `log t`. In the variable `u = ln(1 + t / t0)` both phases have steps of similar size, so
//! integrating to `T = 1e12` costs only a few more steps than to `T = 1e3`.

/// What can go wrong in [`integrate`]: a bad option, or a solver failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdeError {
    /// A numerical option (or the end time) is out of range.
    #[error("option {name} = {value} is not allowed; allowed: {allowed}")]
    BadOption {
        /// Option name.
        name: &'static str,
        /// The rejected value.
        value: f64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// The adaptive step size fell below round-off.
    #[error(
        "the ODE step size underflowed at t = {t:e}; the flow is too stiff for an explicit \
         solver there (try a larger rtol)"
    )]
    StepSizeUnderflow {
        /// Time reached.
        t: f64,
    },
    /// The solver hit its step limit.
    #[error(
        "the ODE solver needed more than max_steps = {max_steps} steps (stopped at t = {t:e}); \
         raise max_steps or rtol"
    )]
    TooManySteps {
        /// The limit.
        max_steps: usize,
        /// Time reached.
        t: f64,
    },
    /// The state became NaN or infinite.
    #[error("the solution became non-finite at t = {t:e}")]
    NonFinite {
        /// Time reached.
        t: f64,
    },
    /// A stop was requested ([`crate::interrupt::request`]).
    #[error("the ODE integration was interrupted at t = {t:e}")]
    Interrupted {
        /// Time reached.
        t: f64,
    },
}

type Result<T> = std::result::Result<T, OdeError>;
use OdeError as Error;

/// Options of [`integrate`].
///
/// `#[non_exhaustive]`: build it from [`OdeOptions::default`] with the `with_*` setters (or set
/// its public fields on a default value), so that new options can be added later.
///
/// ```
/// use imbalance_core::ode::OdeOptions;
/// let opts = OdeOptions::default().with_rtol(1e-8).with_t0(Some(10.0));
/// assert_eq!((opts.rtol, opts.t0), (1e-8, Some(10.0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct OdeOptions {
    /// Relative tolerance of the local error per step, > 0.
    pub rtol: f64,
    /// Absolute tolerance of the local error per step, >= 0.
    pub atol: f64,
    /// Maximum number of steps (accepted and rejected) before giving up.
    pub max_steps: usize,
    /// Time scale of the log-time map `u = ln(1 + t / t0)`, > 0 if given. `None` (the default)
    /// means automatic: callers that know their problem's fastest time scale use it (gradient
    /// flow: `n / lambda_max`, the mean-field theory: `n / lambda`); [`integrate`] itself then
    /// uses 1.
    pub t0: Option<f64>,
}

impl Default for OdeOptions {
    fn default() -> Self {
        Self {
            rtol: 1e-6,
            atol: 1e-9,
            max_steps: 100_000,
            t0: None,
        }
    }
}

impl OdeOptions {
    /// These options with relative tolerance `rtol`.
    pub fn with_rtol(self, rtol: f64) -> Self {
        Self { rtol, ..self }
    }

    /// These options with absolute tolerance `atol`.
    pub fn with_atol(self, atol: f64) -> Self {
        Self { atol, ..self }
    }

    /// These options with step limit `max_steps`.
    pub fn with_max_steps(self, max_steps: usize) -> Self {
        Self { max_steps, ..self }
    }

    /// These options with log-time scale `t0` (`None`: automatic).
    pub fn with_t0(self, t0: Option<f64>) -> Self {
        Self { t0, ..self }
    }

    /// Checks every option; the error names the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, value, allowed| {
            Err(Error::BadOption {
                name,
                value,
                allowed,
            })
        };
        if !(self.rtol > 0.0 && self.rtol.is_finite()) {
            return bad("rtol", self.rtol, "a finite number > 0");
        }
        if !(self.atol >= 0.0 && self.atol.is_finite()) {
            return bad("atol", self.atol, "a finite number >= 0");
        }
        if let Some(t0) = self.t0
            && !(t0 > 0.0 && t0.is_finite())
        {
            return bad("t0", t0, "a finite number > 0 (or None: automatic)");
        }
        if self.max_steps == 0 {
            return bad("max_steps", 0.0, "at least 1");
        }
        Ok(())
    }
}

/// Work done by one call of [`integrate`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OdeStats {
    /// Accepted steps.
    pub steps: usize,
    /// Rejected steps.
    pub rejected: usize,
    /// Evaluations of the right-hand side.
    pub rhs_evals: usize,
}

// Dormand-Prince 5(4) tableau (Hairer, Norsett & Wanner, Solving ODEs I, Table 5.2).
const C: [f64; 7] = [0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0];
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Difference between the 5th-order and the embedded 4th-order weights.
const E: [f64; 7] = [
    71.0 / 57600.0,
    0.0,
    -71.0 / 16695.0,
    71.0 / 1920.0,
    -17253.0 / 339200.0,
    22.0 / 525.0,
    -1.0 / 40.0,
];

/// Integrates `dy/dt = f(t, y)` from `t = 0` to `t_end` in place, in log-time `u = ln(1 + t/t0)`
/// with the Dormand-Prince 5(4) pair, first-same-as-last, and PI step-size control.
///
/// `f(t, y, dydt)` writes the derivative; `observe(t, y)` is called after every accepted step
/// (the last call is at `t = t_end`). `t_end` must be finite and > 0.
pub fn integrate<F, O>(
    y: &mut [f64],
    t_end: f64,
    opts: &OdeOptions,
    mut f: F,
    mut observe: O,
) -> Result<OdeStats>
where
    F: FnMut(f64, &[f64], &mut [f64]),
    O: FnMut(f64, &[f64]),
{
    opts.validate()?;
    if !(t_end > 0.0 && t_end.is_finite()) {
        return Err(Error::BadOption {
            name: "T",
            value: t_end,
            allowed: "a finite time > 0",
        });
    }
    let dim = y.len();
    let t0 = opts.t0.unwrap_or(1.0);
    let u_end = (t_end / t0).ln_1p();
    let time = |u: f64| if u >= u_end { t_end } else { t0 * u.exp_m1() };
    let mut stats = OdeStats::default();
    // dy/du = f(t, y) * dt/du, with dt/du = t0 + t.
    let mut rhs = |u: f64, y: &[f64], out: &mut [f64], stats: &mut OdeStats| {
        let t = time(u);
        f(t, y, out);
        let scale = t0 + t;
        out.iter_mut().for_each(|v| *v *= scale);
        stats.rhs_evals += 1;
    };
    let norm = |v: &[f64], y: &[f64]| -> f64 {
        let s: f64 = v
            .iter()
            .zip(y)
            .map(|(v, y)| (v / (opts.atol + opts.rtol * y.abs())).powi(2))
            .sum();
        (s / dim.max(1) as f64).sqrt()
    };

    let mut k: Vec<Vec<f64>> = vec![vec![0.0; dim]; 7];
    let mut stage = vec![0.0; dim];
    let mut y_new = vec![0.0; dim];
    let mut u = 0.0;
    rhs(u, y, &mut k[0], &mut stats);

    // Initial step (Hairer, Norsett & Wanner, II.4): from the size of y, f and an estimate of f'.
    let mut h = {
        let (d0, d1) = (norm(y, y), norm(&k[0], y));
        let h0 = if d0 < 1e-5 || d1 < 1e-5 {
            1e-6
        } else {
            0.01 * d0 / d1
        };
        for i in 0..dim {
            stage[i] = y[i] + h0 * k[0][i];
        }
        rhs(h0, &stage, &mut k[1], &mut stats);
        let diff: Vec<f64> = k[1].iter().zip(&k[0]).map(|(a, b)| a - b).collect();
        let d2 = norm(&diff, y) / h0;
        let h1 = if d1.max(d2) <= 1e-15 {
            (h0 * 1e-3).max(1e-6)
        } else {
            (0.01 / d1.max(d2)).powf(0.2)
        };
        (100.0 * h0).min(h1).min(u_end)
    };

    let mut err_prev: f64 = 1e-4;
    while u < u_end {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted { t: time(u) });
        }
        if stats.steps + stats.rejected >= opts.max_steps {
            return Err(Error::TooManySteps {
                max_steps: opts.max_steps,
                t: time(u),
            });
        }
        if h <= 1e-14 * u.max(1.0) {
            return Err(Error::StepSizeUnderflow { t: time(u) });
        }
        let last = u + h >= u_end * (1.0 - 1e-14);
        if last {
            h = u_end - u;
        }
        for s in 1..7 {
            let (done, todo) = k.split_at_mut(s);
            for i in 0..dim {
                let mut acc = y[i];
                for (j, kj) in done.iter().enumerate() {
                    acc += h * A[s][j] * kj[i];
                }
                stage[i] = acc;
            }
            rhs(u + C[s] * h, &stage, &mut todo[0], &mut stats);
            // Checked after every stage too: one right-hand side of a large flow takes a
            // fraction of a second, a whole step several times that.
            if crate::interrupt::requested() {
                return Err(Error::Interrupted { t: time(u) });
            }
            if s == 6 {
                y_new.copy_from_slice(&stage);
            }
        }
        // Local error estimate, scaled by the larger of |y| and |y_new|.
        let mut sum = 0.0;
        for i in 0..dim {
            let mut e = 0.0;
            for (j, kj) in k.iter().enumerate() {
                e += E[j] * kj[i];
            }
            let scale = opts.atol + opts.rtol * y[i].abs().max(y_new[i].abs());
            sum += (h * e / scale).powi(2);
        }
        let err = (sum / dim.max(1) as f64).sqrt();
        if !err.is_finite() {
            return Err(Error::NonFinite { t: time(u) });
        }
        if err <= 1.0 {
            u = if last { u_end } else { u + h };
            y.copy_from_slice(&y_new);
            k.swap(0, 6); // first same as last
            stats.steps += 1;
            observe(time(u), y);
            // PI controller (Hairer & Wanner's constants for DOPRI5).
            let fac = 0.9 * err.max(1e-10).powf(-0.17) * err_prev.powf(0.04);
            h *= fac.clamp(0.2, 10.0);
            err_prev = err.max(1e-4);
        } else {
            stats.rejected += 1;
            h *= (0.9 * err.powf(-0.2)).clamp(0.2, 1.0);
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_decay_is_accurate() {
        // dy/dt = -y, y(0) = 1: y(T) = exp(-T).
        for t_end in [0.1, 1.0, 10.0] {
            let mut y = [1.0];
            let opts = OdeOptions::default().with_rtol(1e-10).with_atol(1e-14);
            integrate(&mut y, t_end, &opts, |_, y, d| d[0] = -y[0], |_, _| {}).unwrap();
            assert!(
                (y[0] - (-t_end).exp()).abs() < 1e-8,
                "{} vs {}",
                y[0],
                (-t_end).exp()
            );
        }
    }

    #[test]
    fn logarithmic_growth_is_cheap_at_huge_times() {
        // dy/dt = exp(-y), y(0) = 0: y = ln(1 + t), the margin growth of late gradient flow.
        let run = |t_end: f64| {
            let mut y = [0.0];
            let opts = OdeOptions::default().with_rtol(1e-8).with_atol(1e-12);
            let stats = integrate(
                &mut y,
                t_end,
                &opts,
                |_, y, d| d[0] = (-y[0]).exp(),
                |_, _| {},
            )
            .unwrap();
            assert!(
                (y[0] - t_end.ln_1p()).abs() < 1e-6 * t_end.ln_1p(),
                "{} vs {}",
                y[0],
                t_end.ln_1p()
            );
            stats.rhs_evals
        };
        let (short, long) = (run(1e3), run(1e12));
        assert!(
            long < 3 * short,
            "T=1e12 took {long} evaluations, T=1e3 {short}"
        );
    }

    #[test]
    fn observe_sees_increasing_times_ending_at_t_end() {
        let mut times = vec![];
        let mut y = [1.0, 0.0];
        let stats = integrate(
            &mut y,
            50.0,
            &OdeOptions::default(),
            |_, y, d| {
                d[0] = y[1];
                d[1] = -y[0];
            },
            |t, _| times.push(t),
        )
        .unwrap();
        assert_eq!(times.len(), stats.steps);
        assert!(times.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(*times.last().unwrap(), 50.0);
        assert!((y[0] - 50f64.cos()).abs() < 1e-4);
    }

    #[test]
    fn rejects_bad_options() {
        let run = |t_end: f64, opts: OdeOptions| {
            integrate(&mut [0.0], t_end, &opts, |_, _, d| d[0] = 1.0, |_, _| {})
        };
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                run(t, OdeOptions::default()),
                Err(Error::BadOption { name: "T", .. })
            ));
        }
        let d = OdeOptions::default();
        assert!(run(1.0, OdeOptions { rtol: 0.0, ..d }).is_err());
        assert!(run(1.0, OdeOptions { atol: -1.0, ..d }).is_err());
        assert!(run(1.0, OdeOptions { t0: Some(0.0), ..d }).is_err());
        assert!(
            run(
                1.0,
                OdeOptions {
                    t0: Some(f64::NAN),
                    ..d
                }
            )
            .is_err()
        );
        assert!(run(1.0, OdeOptions { t0: None, ..d }).is_ok());
        assert!(run(1.0, OdeOptions { max_steps: 0, ..d }).is_err());
        assert!(matches!(
            run(1e6, OdeOptions { max_steps: 3, ..d }),
            Err(Error::TooManySteps { .. })
        ));
        // A blow-up is reported, not returned as garbage.
        let blow = integrate(
            &mut [1.0],
            10.0,
            &d,
            |_, y, dy| dy[0] = y[0] * y[0],
            |_, _| {},
        );
        assert!(blow.is_err());
    }
}
