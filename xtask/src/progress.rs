//! Progress reports on stderr: plain text lines such as
//!
//! ```text
//! [e3 12/40] tau=1.5 | 35s elapsed, eta 1m20s
//! ```
//!
//! one per completed item, but at most one per second (the first and the last item are always
//! shown). Plain lines (no carriage returns or terminal codes) so the output stays readable when
//! stderr is a file or a CI log. Thread-safe: call [`Progress::inc`] from rayon workers.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Minimum time between two progress lines (except the last one).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A counter of completed work items that prints progress lines with an ETA on stderr.
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: usize,
    start: Instant,
    state: Mutex<State>,
    quiet: bool,
}

#[derive(Debug)]
struct State {
    done: usize,
    last_print: Option<Instant>,
}

impl Progress {
    /// Progress over `total` items, lines prefixed with `label` (usually the experiment id,
    /// optionally with a stage: `"e3 LA"`).
    pub fn new(label: impl Into<String>, total: usize) -> Self {
        Self {
            label: label.into(),
            total,
            start: Instant::now(),
            state: Mutex::new(State {
                done: 0,
                last_print: None,
            }),
            quiet: false,
        }
    }

    /// A progress counter that never prints (for tests).
    pub fn quiet(total: usize) -> Self {
        Self {
            quiet: true,
            ..Self::new("", total)
        }
    }

    /// Mark one item as done; `what` describes it (e.g. `"rho=10 seed 3"`, may be empty).
    pub fn inc(&self, what: &str) {
        let now = Instant::now();
        let line = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.done += 1;
            let due = st.done == 1
                || st.done >= self.total
                || st
                    .last_print
                    .is_none_or(|t| now.duration_since(t) >= MIN_INTERVAL);
            if !due {
                return;
            }
            st.last_print = Some(now);
            self.line(st.done, what, now.duration_since(self.start))
        };
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// The number of items completed so far.
    pub fn done(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).done
    }

    /// Format one progress line (public for tests and for custom messages).
    pub fn line(&self, done: usize, what: &str, elapsed: Duration) -> String {
        let mut s = format!("[{} {done}/{}]", self.label, self.total);
        if !what.is_empty() {
            s.push(' ');
            s.push_str(what);
        }
        s.push_str(&format!(" | {} elapsed", fmt_duration(elapsed)));
        if done < self.total && done > 0 {
            let per_item = elapsed.as_secs_f64() / done as f64;
            let left = Duration::from_secs_f64(per_item * (self.total - done) as f64);
            s.push_str(&format!(", eta {}", fmt_duration(left)));
        } else if done >= self.total {
            s.push_str(", done");
        }
        s
    }
}

/// Human-readable duration: `0.4s`, `12s`, `1m20s`, `2h05m`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1}s")
    } else if s < 60.0 {
        format!("{}s", s.round() as u64)
    } else if s < 3600.0 {
        let t = s.round() as u64;
        format!("{}m{:02}s", t / 60, t % 60)
    } else {
        let m = (s / 60.0).round() as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_format() {
        assert_eq!(fmt_duration(Duration::from_millis(400)), "0.4s");
        assert_eq!(fmt_duration(Duration::from_secs(12)), "12s");
        assert_eq!(fmt_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(fmt_duration(Duration::from_secs(7500)), "2h05m");
    }

    #[test]
    fn line_has_counts_and_eta() {
        let p = Progress::new("e3", 40);
        let l = p.line(10, "tau=1.5", Duration::from_secs(20));
        // 2 s per item, 30 items left -> 60 s.
        assert_eq!(l, "[e3 10/40] tau=1.5 | 20s elapsed, eta 1m00s");
        assert!(
            p.line(40, "", Duration::from_secs(80))
                .ends_with("1m20s elapsed, done")
        );
    }

    #[test]
    fn counts_from_threads() {
        let p = Progress::quiet(100);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..25).for_each(|_| p.inc("")));
            }
        });
        assert_eq!(p.done(), 100);
    }
}
