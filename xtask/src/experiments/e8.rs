//! E8: training time matters for additive methods. Per-class errors vs the training time T
//! (1e1 .. 1e8 and T = infinity) for CE, LA, LDAM and CDT on a K = 4 mixture (2 majority, 2
//! minority classes). LA's and LDAM's additive terms vanish from the max-margin limit, so their
//! benefit fades as T grows; CDT's multiplicative factors do not (with K >= 3).

use anyhow::Result;
use imbalance_gradflow::Horizon;
use imbalance_losses::MethodName;

use super::common::{
    Gmm, Groups, MODEL_TOL, Stat, agreement_tol, f3, group_stats, groups, logspace,
    simulate_errors, theory_errors, tune_theory, with_param,
};
use super::{Experiment, ExperimentOutput};
use crate::ctx::Ctx;
use crate::plot::{Figure, Panel};
use crate::report::Claim;
use crate::row;
use crate::table::Table;

/// The experiment.
pub struct E8;

/// Per method: (label, theory on the fine T grid, theory at T = inf, (theory, simulation) at
/// each simulated T and at T = inf).
type MethodCurves = (
    String,
    Vec<Groups<f64>>,
    Groups<f64>,
    Vec<(Groups<f64>, Groups<Stat>)>,
);

const COUNTS: [usize; 4] = [100, 100, 10, 10];
const DIM: usize = 10_000;
const SNR: f64 = 8.0;
/// Hyperparameters are tuned (theory, balanced error) at this time and then held fixed.
const T_TUNE: f64 = 1e4;
/// Where T = infinity is drawn on the log axis.
const X_INF: f64 = 1e10;

const METHODS: [MethodName; 4] = [
    MethodName::Ce,
    MethodName::La,
    MethodName::Ldam,
    MethodName::Cdt,
];

impl Experiment for E8 {
    fn id(&self) -> &'static str {
        "e8"
    }

    fn title(&self) -> &'static str {
        "Training time matters for additive methods"
    }

    fn claim(&self) -> &'static str {
        "The benefit of additive adjustments (LA, LDAM) fades as training time grows, since the \
         max-margin limit ignores additive terms, while the multiplicative CDT keeps its effect."
    }

    fn run(&self, ctx: &mut Ctx) -> Result<ExperimentOutput> {
        let times = ctx.pick(vec![1e1, 1e3, 1e5, 1e8], logspace(1e1, 1e8, 8));
        let theory_times = ctx.pick(logspace(1e1, 1e8, 15), logspace(1e1, 1e8, 29));
        let seeds = ctx.seeds(4, 10);
        let gmm = Gmm::counts(COUNTS.to_vec(), DIM, SNR);
        let progress = ctx.progress(METHODS.len() * (times.len() + 1));

        let mut table = Table::new([
            "method",
            "T",
            "theory minority",
            "sim minority",
            "sim minority std",
            "theory majority",
            "sim majority",
            "sim majority std",
        ]);
        let mut params = Table::new(["method", "param", "value (tuned at T = 1e4)"]);
        // per method: (label, theory line, theory at inf, sim per T incl. inf)
        let mut res: Vec<MethodCurves> = vec![];
        for m in METHODS {
            let value = if m == MethodName::Ce {
                0.0
            } else {
                tune_theory(ctx, &gmm, m, Horizon::Finite(T_TUNE))?.0
            };
            let method = with_param(m, value)?;
            if let Some(p) = m.tuned_param() {
                params.push(row![m.as_str(), p, value]);
            }
            let label = match m.tuned_param() {
                Some(p) => format!("{} ({p} = {})", m.as_str().to_uppercase(), f3(value)),
                None => "CE".to_string(),
            };
            let mut line = vec![];
            for &t in &theory_times {
                line.push(groups(
                    &gmm,
                    &theory_errors(ctx, &gmm, &method, Horizon::Finite(t))?,
                ));
            }
            let th_inf = groups(&gmm, &theory_errors(ctx, &gmm, &method, Horizon::Infinite)?);
            let mut sims = vec![];
            for h in times
                .iter()
                .map(|&t| Horizon::Finite(t))
                .chain([Horizon::Infinite])
            {
                let th = groups(&gmm, &theory_errors(ctx, &gmm, &method, h)?);
                let s = group_stats(&gmm, &simulate_errors(ctx, &gmm, &method, h, seeds)?);
                table.push(row![
                    label.as_str(),
                    h.to_string(),
                    th.minority,
                    s.minority.mean,
                    s.minority.std,
                    th.majority,
                    s.majority.mean,
                    s.majority.std
                ]);
                sims.push((th, s));
                progress.inc(&format!("{label} T={h}"));
            }
            res.push((label, line, th_inf, sims));
        }

        let mut out = ExperimentOutput::new();
        let last = times.len(); // index of T = inf in sims
        let ce = &res[0].3;
        // e8.1, e8.2: LA / LDAM. Benefit = CE minority error - method's, at the same T
        // (independent training sets; se of a difference = sqrt(se1^2 + se2^2)). Criterion: the
        // largest finite-T benefit is >= max(0.05, 3 se), and at T = infinity the benefit is
        // within 0.01 + 3 se of zero (both train to the same max-margin problem).
        for (k, mi) in [(1, 1), (2, 2)] {
            let (label, _, _, sims) = &res[mi];
            let benefit = |i: usize| {
                let (a, b) = (ce[i].1.minority, sims[i].1.minority);
                (a.mean - b.mean, (a.se().powi(2) + b.se().powi(2)).sqrt())
            };
            let (ib, (bmax, bse)) =
                (0..last)
                    .map(|i| (i, benefit(i)))
                    .fold((0, (f64::NEG_INFINITY, 0.0)), |a, b| {
                        if b.1.0 > a.1.0 { b } else { a }
                    });
            let (binf, binf_se) = benefit(last);
            out.claim(Claim::judged(
                format!("e8.{k}"),
                format!("{label}: the minority-error benefit over CE vanishes as T -> infinity"),
                "largest simulated benefit over finite T >= max(0.05, 3 se), and |benefit at \
                 T = inf| <= 0.01 + 3 se",
                format!(
                    "benefit {} at T = {} ; at T = inf {} (se {})",
                    f3(bmax),
                    f3(times[ib]),
                    f3(binf),
                    f3(binf_se)
                ),
                bmax >= 0.05f64.max(3.0 * bse) && binf.abs() <= 0.01 + 3.0 * binf_se,
            ));
        }
        // e8.3: CDT keeps its effect at T = inf.
        {
            let (label, _, _, sims) = &res[3];
            let (a, b) = (ce[last].1.minority, sims[last].1.minority);
            let d = a.mean - b.mean;
            let se = (a.se().powi(2) + b.se().powi(2)).sqrt();
            out.claim(Claim::judged(
                "e8.3",
                format!("{label}: the multiplicative adjustment keeps its benefit at T = infinity"),
                "simulated CE minority error - CDT minority error at T = inf >= max(0.05, 3 se)",
                format!(
                    "at T = inf: CE {} vs CDT {} (diff {}, se {})",
                    f3(a.mean),
                    f3(b.mean),
                    f3(d),
                    f3(se)
                ),
                d >= 0.05f64.max(3.0 * se),
            ));
        }
        // e8.4: theory vs simulation at every T (incl. inf), method and group.
        let mut ok = true;
        let mut worst = (f64::NEG_INFINITY, 0.0, String::new());
        let mut max_gap = (0.0f64, String::new());
        for (label, _, _, sims) in &res {
            for (i, (th, s)) in sims.iter().enumerate() {
                let t = if i == last {
                    "inf".to_string()
                } else {
                    f3(times[i])
                };
                for (tv, sv, g) in [
                    (th.minority, s.minority, "minority"),
                    (th.majority, s.majority, "majority"),
                ] {
                    let gap = (tv - sv.mean).abs();
                    let tol = agreement_tol(&sv);
                    ok &= gap <= tol;
                    if gap > max_gap.0 || max_gap.1.is_empty() {
                        max_gap = (gap, format!("{g} of {label} at T = {t}"));
                    }
                    if gap - tol > worst.0 - worst.1 || worst.2.is_empty() {
                        worst = (gap, tol, format!("{g} of {label} at T = {t}"));
                    }
                }
            }
        }
        out.claim(Claim::judged(
            "e8.4",
            "The theory follows each method's errors along the training time, up to T = infinity",
            format!(
                "|theory - simulated mean| <= {MODEL_TOL} + 3 standard errors ({seeds} seeds) at \
                 every T, method and group"
            ),
            format!(
                "largest gap {} ({}); smallest slack: {}: gap {} vs tolerance {}",
                f3(max_gap.0),
                max_gap.1,
                worst.2,
                f3(worst.0),
                f3(worst.1)
            ),
            ok,
        ));

        let mut panels = vec![];
        for (gi, name) in [(0, "minority classes"), (1, "majority classes")] {
            let pick = |g: &Groups<f64>| if gi == 0 { g.minority } else { g.majority };
            let pick_s = |g: &Groups<Stat>| if gi == 0 { g.minority } else { g.majority };
            let mut p = Panel::new(
                format!("{name} (T = ∞ drawn at 1e10)"),
                "training time T",
                "test error",
            )
            .log_x();
            if gi == 0 {
                p = p.y_range(0.0, 0.6);
            } else {
                p = p.y_range(0.0, 0.15);
            }
            for (label, line, th_inf, sims) in &res {
                let mut sx: Vec<f64> = times.clone();
                sx.push(X_INF);
                p = p
                    .line(label, theory_times.clone(), line.iter().map(pick).collect())
                    .line(label, vec![X_INF / 3.0, X_INF * 3.0], vec![pick(th_inf); 2])
                    .points(
                        label,
                        sx,
                        sims.iter().map(|s| pick_s(&s.1).mean).collect(),
                        Some(sims.iter().map(|s| pick_s(&s.1).std).collect()),
                    );
            }
            panels.push(p);
        }
        let mut fig = Figure::new(format!(
            "E8: error vs training time, counts {COUNTS:?}, p = {DIM}, s = {SNR}"
        ))
        .note(format!(
            "lines: theory (short segment at right: T = ∞); points: simulation, mean ± 1 std over {seeds} seeds"
        ));
        for p in panels {
            fig = fig.panel(p);
        }
        out.figure("time", fig);
        out.table("errors", table);
        out.table("params", params);
        out.note(format!(
            "Counts {COUNTS:?} (2 majority, 2 minority classes), orthogonal means of norm {SNR}, \
             sigma = 1, p = {DIM}. Hyperparameters are tuned on the theory's balanced error at \
             T = 1e4 and held fixed over T (table `params`). T = infinity is the max-margin \
             limit (trained directly by the QP solver), drawn at T = 1e10. {} gradient-flow \
             trainings in all.",
            METHODS.len() * (times.len() + 1) * seeds
        ));
        Ok(out)
    }
}
