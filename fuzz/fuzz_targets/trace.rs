//! The `trace` target: see `bangui_state_fuzz::fuzz_trace`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bangui_state_fuzz::fuzz_trace(data));
