//! Ctrl-C (SIGINT) and SIGTERM during the long commands.
//!
//! The commands write nothing until they end (results go to stdout at the end), so there is
//! never a half-written file to protect. `simulate` stops at its safe point, between two
//! seeds, or inside a seed, whose computation the libraries then cut short (see
//! `imbalance_theory::interrupt`), and says how many seeds were done; `train` is one run with no safe point, so the
//! signal ends it at once. Either way the process prints one line starting `interrupted:` on
//! stderr and exits with code 130 (128 + SIGINT). A second signal always exits at once.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of a command stopped by a signal.
pub const EXIT_CODE: u8 = 130;

/// Whether the running command looks at the stop request (else the handler exits at once).
/// The request itself is `imbalance_theory::interrupt`'s, which the libraries' long loops read
/// too.
static SAFE_POINTS: AtomicBool = AtomicBool::new(false);
/// The handler is installed once per process.
static INSTALL: Once = Once::new();

/// How the running command reacts to a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The command's run looks at the stop request (`imbalance_core::interrupt::requested`,
    /// e.g. `SimulateRequest::run` between seeds) and stops there.
    SafePoints,
    /// The command has no safe point: the signal ends the process at once.
    Immediate,
}

/// Installs the handler (once per process) for a command that reacts as `mode` says, and
/// clears an earlier request.
pub fn install(mode: Mode) {
    imbalance_theory::interrupt::clear();
    SAFE_POINTS.store(mode == Mode::SafePoints, Ordering::SeqCst);
    INSTALL.call_once(|| {
        // Without a handler (e.g. none can be installed) a signal kills the process, which
        // also leaves no file behind; so a failure here is not an error.
        let _ = ctrlc::set_handler(|| {
            if !SAFE_POINTS.load(Ordering::SeqCst) {
                eprintln!(
                    "interrupted: the command writes nothing before it ends, so nothing was kept; rerun the same command"
                );
                std::process::exit(i32::from(EXIT_CODE));
            }
            // The long loops of the libraries (ODE steps, Monte Carlo blocks, Genz) see the
            // request too, so that the command reaches its safe point within about a second.
            if imbalance_theory::interrupt::request() {
                eprintln!("interrupted again: stopping now; nothing was kept");
                std::process::exit(i32::from(EXIT_CODE));
            }
        });
    });
}
