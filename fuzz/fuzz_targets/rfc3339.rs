//! The `rfc3339` target: see `bangui_state_fuzz::fuzz_rfc3339`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bangui_state_fuzz::fuzz_rfc3339(data));
