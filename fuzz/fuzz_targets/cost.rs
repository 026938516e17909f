//! Fuzz the cost estimate with requests of extreme sizes (through the CLI and directly).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| harness::cost(data));
