//! Fuzz the argument parser and the checks of every command with arbitrary arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::args(data));
