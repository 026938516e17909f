//! The stop request is process-wide, so its test has a process of its own (this file).

use imbalance_core::interrupt;
use imbalance_core::ode::{OdeError, OdeOptions, integrate};

#[test]
fn a_stop_request_ends_the_integration_and_clear_withdraws_it() {
    let decay = |_: f64, y: &[f64], dy: &mut [f64]| dy[0] = -y[0];
    let mut y = [1.0];
    assert!(
        !interrupt::request(),
        "the first request finds none before it"
    );
    assert!(interrupt::requested());
    assert!(interrupt::request(), "a second request finds the first");
    let err = integrate(&mut y, 10.0, &OdeOptions::default(), decay, |_, _| {}).unwrap_err();
    assert!(matches!(err, OdeError::Interrupted { .. }), "{err}");
    interrupt::clear();
    let mut y = [1.0];
    integrate(&mut y, 10.0, &OdeOptions::default(), decay, |_, _| {}).unwrap();
    assert!((y[0] - (-10.0f64).exp()).abs() < 1e-6, "{}", y[0]);
}
