//! The `step` target: see `bangui_state_fuzz::fuzz_step`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bangui_state_fuzz::fuzz_step(data));
