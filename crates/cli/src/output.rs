//! Output helpers shared by the commands: error summaries, JSON, tables, progress.

use std::cell::Cell;
use std::io::{IsTerminal, Write};

use serde_json::{Value, json};

use crate::error::Result;

/// Per-class errors with their balanced (mean) and worst-class summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSummary {
    /// Error of each class on a balanced test distribution.
    pub per_class: Vec<f64>,
    /// Mean over classes.
    pub balanced: f64,
    /// Largest class error.
    pub worst: f64,
}

impl ErrorSummary {
    /// Summarises per-class errors; a non-finite error (a result that could not be computed)
    /// is an error, never a `null` in the JSON.
    pub fn new(per_class: Vec<f64>) -> Result<Self> {
        imbalance_pipeline::request::check_finite("per-class error", &per_class)?;
        let balanced = per_class.iter().sum::<f64>() / per_class.len().max(1) as f64;
        let worst = per_class.iter().copied().fold(0.0, f64::max);
        Ok(Self {
            per_class,
            balanced,
            worst,
        })
    }

    /// The fields every command's `--json` output has.
    pub fn json(&self) -> Value {
        json!({
            "per_class_error": self.per_class,
            "balanced_error": self.balanced,
            "worst_class_error": self.worst,
        })
    }

    /// A human-readable table, with a second column when given: `std` over seeds, or the
    /// standard error `±` of a randomised computation.
    pub fn print_table(&self, counts: &[usize], extra: Option<Column<'_>>) {
        let head = match extra {
            Some(Column::Std(_)) => "    std",
            Some(Column::Se(_)) => "        ±",
            None => "",
        };
        println!("class  n_train  error{head}");
        for (c, e) in self.per_class.iter().enumerate() {
            let n = counts.get(c).copied().unwrap_or(0);
            match extra {
                Some(Column::Std(s)) => println!("{c:>5}  {n:>7}  {e:.4}  {:.4}", s[c]),
                Some(Column::Se(s)) => println!("{c:>5}  {n:>7}  {e:.4}  ± {:.4}", s[c]),
                None => println!("{c:>5}  {n:>7}  {e:.4}"),
            }
        }
        println!(
            "balanced error {:.4}, worst-class error {:.4}",
            self.balanced, self.worst
        );
    }
}

/// The optional second column of [`ErrorSummary::print_table`].
#[derive(Debug, Clone, Copy)]
pub enum Column<'a> {
    /// Standard deviation over seeds.
    Std(&'a [f64]),
    /// Standard error of a randomised computation (shown as `± se`).
    Se(&'a [f64]),
}

/// The counts for a table's header line: all of them up to 20 classes, else the first and last
/// three with the number of classes and n (the table below lists every class, the JSON too).
pub fn counts_text(counts: &[usize]) -> String {
    if counts.len() <= 20 {
        return format!("{counts:?}");
    }
    let show = |c: &[usize]| {
        c.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[{}, ..., {}] ({} classes, n = {})",
        show(&counts[..3]),
        show(&counts[counts.len() - 3..]),
        counts.len(),
        counts.iter().sum::<usize>()
    )
}

/// Prints one JSON object on stdout.
pub fn print_json(value: &Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Progress lines on stderr, shown only when stderr is a terminal (never on stdout).
pub struct Progress {
    what: &'static str,
    total: usize,
    shown: bool,
    start: std::time::Instant,
}

impl Progress {
    /// Progress of `total` steps of `what`.
    pub fn new(what: &'static str, total: usize) -> Self {
        Self {
            what,
            total,
            shown: std::io::stderr().is_terminal() && total > 1,
            start: std::time::Instant::now(),
        }
    }

    /// Reports that `done` of the steps are finished, with an estimate of the time left.
    pub fn step(&self, done: usize) {
        if !self.shown {
            return;
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        let left = elapsed / done as f64 * (self.total - done) as f64;
        eprint!(
            "\r{}: {done}/{} done, about {left:.0} s left   ",
            self.what, self.total
        );
        if done == self.total {
            eprintln!();
        }
    }
}

/// A sign of life on stderr while a computation with no steps to count runs (a theory
/// prediction or tuning at many classes can take minutes): after `FIRST` and then every
/// `EVERY` of running, one line `WHAT: still computing after N s` (rewritten in place on a
/// terminal). Nothing is printed for a computation that ends sooner; it stops when dropped.
pub struct Heartbeat {
    stop: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<bool>>,
}

impl Heartbeat {
    /// Starts the heartbeat of `what` (e.g. "predict: 100 classes").
    pub fn start(what: String) -> Self {
        use std::time::Duration;
        let terminal = std::io::stderr().is_terminal();
        // Off a terminal (logs, pipes, tests) lines are kept, so fewer of them.
        let (first, every) = if terminal {
            (Duration::from_secs(3), Duration::from_secs(1))
        } else {
            (Duration::from_secs(30), Duration::from_secs(30))
        };
        let stop = std::sync::Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            let (lock, cvar) = &*flag;
            let mut wait = first;
            let mut printed = false;
            let mut stopped = lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let (guard, timeout) = cvar
                    .wait_timeout_while(stopped, wait, |s| !*s)
                    .unwrap_or_else(|e| e.into_inner());
                stopped = guard;
                if !timeout.timed_out() {
                    return printed;
                }
                let s = start.elapsed().as_secs();
                if terminal {
                    eprint!("\r{what}: still computing after {s} s   ");
                } else {
                    eprintln!("{what}: still computing after {s} s");
                }
                printed = true;
                wait = every;
            }
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        let (lock, cvar) = &*self.stop;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_all();
        let printed = self.thread.take().and_then(|t| t.join().ok());
        if printed == Some(true) && std::io::stderr().is_terminal() {
            eprintln!();
        }
    }
}

/// Shows the pipeline's finished stages as steps of a [`Progress`], after the `offset` steps
/// the command did itself.
pub struct StageProgress<'a> {
    progress: &'a Progress,
    done: Cell<usize>,
}

impl<'a> StageProgress<'a> {
    /// Stages counted on `progress` from step `offset + 1` on.
    pub fn new(progress: &'a Progress, offset: usize) -> Self {
        Self {
            progress,
            done: Cell::new(offset),
        }
    }
}

impl imbalance_pipeline::Progress for StageProgress<'_> {
    fn stage_done(&self, _stage: imbalance_pipeline::Stage) {
        self.done.set(self.done.get() + 1);
        self.progress.step(self.done.get());
    }
}

#[cfg(test)]
mod tests {
    use super::counts_text;

    #[test]
    fn long_count_lists_are_shortened_in_the_header() {
        assert_eq!(counts_text(&[200, 20]), "[200, 20]");
        assert_eq!(counts_text(&[5; 20]), format!("{:?}", [5; 20]));
        let k100: Vec<usize> = (1..=100).rev().collect();
        assert_eq!(
            counts_text(&k100),
            "[100, 99, 98, ..., 3, 2, 1] (100 classes, n = 5050)"
        );
    }
}
