//! The `c_abi` target: see `bangui_state_fuzz::c_abi`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bangui_state_fuzz::c_abi::fuzz_c_abi(data));
