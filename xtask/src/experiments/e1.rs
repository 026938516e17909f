//! E1: cross-entropy fails on minority classes. K = 10 step profile (5 majority classes with
//! `N_MAX` samples, 5 minority classes with `N_MAX / rho`), CE trained to T = infinity (the
//! max-margin limit), per-class test error vs the imbalance ratio rho: the theory's minority and
//! majority averages as lines, simulations (exact conditional error of each trained W, mean ±
//! std over seeds) as points.

use anyhow::Result;
use imbalance_gradflow::Horizon;
use imbalance_losses::Method;

use super::common::{
    Gmm, MODEL_TOL, Stat, agreement_tol, f3, group_stats, groups, logspace, simulate_errors,
    theory_errors,
};
use super::{Experiment, ExperimentOutput};
use crate::ctx::Ctx;
use crate::plot::{Figure, Panel};
use crate::report::Claim;
use crate::row;
use crate::table::Table;

/// The experiment.
pub struct E1;

/// Per rho: (rho, mixture, theory [minority, majority], simulation [minority, majority]).
type Row = (f64, Gmm, [f64; 2], [Stat; 2]);

const K: usize = 10;
const K_MIN: usize = 5;
const N_MAX: usize = 200;
const DIM: usize = 20_000;
const SNR: f64 = 10.0;

impl Experiment for E1 {
    fn id(&self) -> &'static str {
        "e1"
    }

    fn title(&self) -> &'static str {
        "CE fails on minority classes"
    }

    fn claim(&self) -> &'static str {
        "With cross-entropy, the minority classes' test error rises with the imbalance ratio far \
         above the majority classes', and the mean-field theory predicts it."
    }

    fn run(&self, ctx: &mut Ctx) -> Result<ExperimentOutput> {
        let rhos = ctx.pick(vec![1.0, 3.0, 10.0, 30.0, 100.0], logspace(1.0, 100.0, 11));
        let seeds = ctx.seeds(3, 10);
        let horizon = Horizon::Infinite;
        let method = Method::Ce;
        let progress = ctx.progress(rhos.len());

        let mut table = Table::new([
            "rho",
            "n_min",
            "theory minority",
            "sim minority",
            "sim minority std",
            "theory majority",
            "sim majority",
            "sim majority std",
            "|gap| minority",
            "tolerance minority",
            "seeds",
        ]);
        let mut rows: Vec<Row> = vec![];
        for &rho in &rhos {
            let gmm = Gmm::step(K, K_MIN, N_MAX, rho, DIM, SNR)?;
            let th = groups(&gmm, &theory_errors(ctx, &gmm, &method, horizon)?);
            let sim = group_stats(&gmm, &simulate_errors(ctx, &gmm, &method, horizon, seeds)?);
            progress.inc(&format!("rho={}", f3(rho)));
            table.push(row![
                rho,
                gmm.counts[K - 1],
                th.minority,
                sim.minority.mean,
                sim.minority.std,
                th.majority,
                sim.majority.mean,
                sim.majority.std,
                (th.minority - sim.minority.mean).abs(),
                agreement_tol(&sim.minority),
                seeds
            ]);
            rows.push((
                rho,
                gmm,
                [th.minority, th.majority],
                [sim.minority, sim.majority],
            ));
        }

        let mut out = ExperimentOutput::new();
        let first = &rows[0];
        let last = &rows[rows.len() - 1];

        // e1.1: the minority error rises with rho and ends far above the majority error.
        let rise = last.3[0].mean - first.3[0].mean;
        let gap_end = last.3[0].mean - last.3[1].mean;
        let maj_max = rows.iter().map(|r| r.3[1].mean).fold(0.0, f64::max);
        out.claim(Claim::judged(
            "e1.1",
            "With CE the minority classes' error rises with rho far above the majority classes'",
            format!(
                "simulated minority error rises by >= 0.4 from rho = {} to rho = {}, exceeds the \
                 majority error by >= 0.4 there, and the majority error stays <= 0.01 at every rho",
                f3(first.0),
                f3(last.0)
            ),
            format!(
                "minority {} -> {} (rise {}); majority at rho = {}: {} (gap {}); max majority {}",
                f3(first.3[0].mean),
                f3(last.3[0].mean),
                f3(rise),
                f3(last.0),
                f3(last.3[1].mean),
                f3(gap_end),
                f3(maj_max)
            ),
            rise >= 0.4 && gap_end >= 0.4 && maj_max <= 0.01,
        ));

        // e1.2: theory vs simulation, per rho and group.
        let mut worst = (0.0f64, 0.0f64, 0.0f64, "");
        let mut all_ok = true;
        for (rho, _, th, sim) in &rows {
            for (g, name) in [(0, "minority"), (1, "majority")] {
                let gap = (th[g] - sim[g].mean).abs();
                let tol = agreement_tol(&sim[g]);
                all_ok &= gap <= tol;
                if gap - tol > worst.0 - worst.1 || worst.3.is_empty() {
                    worst = (gap, tol, *rho, name);
                }
            }
        }
        out.claim(Claim::judged(
            "e1.2",
            "The mean-field theory predicts the minority and majority errors of CE at every rho",
            format!(
                "|theory - simulated mean| <= {MODEL_TOL} + 3 standard errors ({seeds} seeds) for \
                 both groups at every rho"
            ),
            format!(
                "tightest case: {} at rho = {}: gap {} vs tolerance {}",
                worst.3,
                f3(worst.2),
                f3(worst.0),
                f3(worst.1)
            ),
            all_ok,
        ));

        let xs: Vec<f64> = rows.iter().map(|r| r.0).collect();
        let col = |f: &dyn Fn(&Row) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
        let lin = Panel::new("per-class test error", "imbalance ratio ρ", "test error")
            .log_x()
            .y_range(0.0, 1.0)
            .line("minority classes", xs.clone(), col(&|r| r.2[0]))
            .points(
                "minority classes",
                xs.clone(),
                col(&|r| r.3[0].mean),
                Some(col(&|r| r.3[0].std)),
            )
            .line("majority classes", xs.clone(), col(&|r| r.2[1]))
            .points(
                "majority classes",
                xs.clone(),
                col(&|r| r.3[1].mean),
                Some(col(&|r| r.3[1].std)),
            );
        let log = Panel::new("same, log scale", "imbalance ratio ρ", "test error")
            .log_x()
            .log_y()
            .line("minority classes", xs.clone(), col(&|r| r.2[0]))
            .points("minority classes", xs.clone(), col(&|r| r.3[0].mean), None)
            .line("majority classes", xs.clone(), col(&|r| r.2[1]))
            .points("majority classes", xs.clone(), col(&|r| r.3[1].mean), None);
        out.figure(
            "errors",
            Figure::new(format!(
                "E1: CE at T = ∞, K = {K} ({} × {N_MAX} majority, {K_MIN} × {N_MAX}/ρ minority), p = {DIM}, s = {SNR}",
                K - K_MIN
            ))
            .note(format!(
                "lines: theory; points: simulation (exact error of each trained W), mean ± 1 std over {seeds} seeds"
            ))
            .panel(lin)
            .panel(log),
        );
        out.table("errors", table);
        out.note(format!(
            "Setup: K = {K}, step profile with {} majority classes of {N_MAX} samples and {K_MIN} \
             minority classes of round({N_MAX}/rho), orthogonal means of norm {SNR}, sigma = 1, \
             p = {DIM}, CE trained to T = infinity (max-margin). Simulation errors are the exact \
             conditional test errors of each trained model (no test sampling noise); {seeds} \
             training sets per rho, {} gradient-flow trainings in all.",
            K - K_MIN,
            seeds * rows.len()
        ));
        Ok(out)
    }
}
