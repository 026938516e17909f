//! Stopping a run early on Ctrl-C (SIGINT) or SIGTERM, at a safe point.
//!
//! The signal handler ([`install`]) only sets a [`Stop`] flag. The run looks at it at its safe
//! points: before computing a configuration that is not cached ([`crate::cache::Cache`]) and
//! between experiments. The configuration being computed when the signal arrives finishes and
//! its cache entry is written (atomically, like every file); the next one is not started, the
//! run returns [`Interrupted`] without touching the experiment's output files or the report,
//! and `cargo xtask reproduce` exits with code 130. Rerunning the same command serves the
//! finished configurations from the cache and gives the same files as an uninterrupted run
//! (results depend only on each configuration, never on what ran before). A second signal
//! exits at once; an atomic write it cuts short leaves only a temporary file, which the next
//! run removes.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A stop request shared by the signal handler and the run (clones share the flag).
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the run to stop at its next safe point (what the signal handler does).
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl PartialEq for Stop {
    /// Two flags are equal when they are the same flag.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The error a run returns when it stopped at a safe point after a stop request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Whether `e` (anywhere in its chain) is an [`Interrupted`].
pub fn is_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Interrupted>())
}

/// Installs the SIGINT / SIGTERM handler for the process: the first signal requests `stop`
/// and says so on stderr; a second exits at once with code 130.
pub fn install(stop: &Stop) -> anyhow::Result<()> {
    let stop = stop.clone();
    ctrlc::set_handler(move || {
        if stop.requested() {
            eprintln!("interrupted again: stopping now");
            std::process::exit(130);
        }
        stop.request();
        eprintln!(
            "stopping after the configuration being computed (its result is cached); press Ctrl-C again to stop at once"
        );
    })?;
    Ok(())
}

/// The exit code of a run stopped by a signal (128 + SIGINT).
pub const EXIT_CODE: u8 = 130;
