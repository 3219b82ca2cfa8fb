//! With the default `exact-floats` feature, a float in JSON text comes back
//! exactly: the bootstrap settings' TTL and an unknown settings key, through
//! `from_bootstrap_json` and `to_json`, for doubles across the whole range.

#![cfg(feature = "exact-floats")]

use bangui_state_core::State;
use proptest::prelude::*;

fn carried_through(ttl: f64, extra: f64) {
    // Rust's `{:?}` writes the shortest text that reads back as the same double.
    let bootstrap =
        format!(r#"{{"session_cache_enabled": true, "session_cache_ttl_seconds": {ttl:?}, "x": {extra:?}}}"#);
    let state = State::from_bootstrap_json(&bootstrap).unwrap();
    let json: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
    let settings = &json["bootstrap_settings"];
    assert_eq!(
        settings["session_cache_ttl_seconds"].as_f64(),
        Some(ttl),
        "{bootstrap}"
    );
    assert_eq!(settings["x"].as_f64(), Some(extra), "{bootstrap}");
}

#[test]
fn doubles_that_a_fast_parser_rounds_wrongly_come_back_exactly() {
    // Both came back one ulp off with serde_json's default parser.
    carried_through(1.079907802215119e-66, 1.862392953319225e-60);
    carried_through(0.30000000000000004, 5e-324);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn any_finite_double_comes_back_exactly(
        ttl in prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        extra in prop::num::f64::ANY.prop_filter("finite", |v| v.is_finite()),
    ) {
        carried_through(ttl, extra);
    }
}
