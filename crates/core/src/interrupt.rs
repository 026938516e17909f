//! A process-wide stop request, for long computations that a signal handler wants ended soon.
//!
//! The command-line program sets it from its Ctrl-C / SIGTERM handler ([`request`]); the long
//! loops of the workspace look at it ([`requested`]) between units of work of at most about a
//! second: each step of the ODE integrator (the gradient flow and the mean-field theory) and
//! each block of the shared Monte Carlo return an "interrupted" error, and Genz's lattice rule
//! stops adding points. Whatever a computation returns after a request is to be discarded: the
//! caller that made the request stops. Nothing in the libraries sets it.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// Asks the running computations to stop at their next check; returns whether a stop had
/// been requested already (a signal handler treats a second signal differently).
pub fn request() -> bool {
    STOP.swap(true, Ordering::SeqCst)
}

/// Withdraws a request (before starting new work).
pub fn clear() {
    STOP.store(false, Ordering::SeqCst);
}

/// Whether a stop was requested.
#[inline]
pub fn requested() -> bool {
    STOP.load(Ordering::Relaxed)
}
