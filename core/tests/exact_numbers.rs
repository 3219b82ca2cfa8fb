//! With the default `exact-numbers` feature, a number in JSON text is carried
//! through as the same JSON value: integers beyond 64 bits keep every digit,
//! floats their exact decimal, whether they arrive in the bootstrap settings,
//! runtime settings, overrides or extra status keys, and through a restore.

#![cfg(feature = "exact-numbers")]

use bangui_state_core::{ErrorKind, Event, Instant, State};
use proptest::prelude::*;
use serde_json::Value;

/// A JSON number's exact value: sign, significant digits, power of ten.
/// Independent of serde_json: `1E5`, `1e+5` and `100000` are the same.
fn exact_value(text: &str) -> (bool, String, i64) {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().unwrap()),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let mut exponent = exponent - fraction.len() as i64;
    let trimmed = digits.trim_start_matches('0');
    let significant = trimmed.trim_end_matches('0');
    exponent += (trimmed.len() - significant.len()) as i64;
    if significant.is_empty() {
        exponent = 0;
    }
    (negative, significant.to_owned(), exponent)
}

fn now() -> Instant {
    Instant::parse_rfc3339("2026-04-27T16:42:00Z").unwrap()
}

/// Feeds `number` (JSON text) in through every way a value is carried, and
/// returns the state's JSON form as a value.
fn carried_everywhere(number: &str) -> (State, Value) {
    let bootstrap =
        format!(r#"{{"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "n": {number}}}"#);
    let mut state = State::from_bootstrap_json(&bootstrap).unwrap();
    let status =
        format!(r#"{{"type": "health_probe_completed", "status": {{"online": true, "n": [{number}]}}}}"#);
    state.apply(Event::from_json(&status).unwrap(), now()).unwrap();
    let overrides = format!(r#"{{"type": "settings_updated", "overrides": {{"m": {{"k": {number}}}}}}}"#);
    state.apply(Event::from_json(&overrides).unwrap(), now()).unwrap();
    // Through a restore, twice: the text form is stable.
    let restored = State::from_json(&state.to_json()).unwrap();
    assert_eq!(restored, state);
    assert_eq!(restored.to_json(), state.to_json());
    let json = serde_json::from_str(&restored.to_json()).unwrap();
    (restored, json)
}

fn assert_carried_exactly(number: &str) {
    let (_, json) = carried_everywhere(number);
    let want = exact_value(number);
    for (place, value) in [
        ("bootstrap_settings.n", &json["bootstrap_settings"]["n"]),
        ("server_status.n[0]", &json["server_status"]["n"][0]),
        ("runtime_settings.m.k", &json["runtime_settings"]["m"]["k"]),
        ("runtime_settings.n", &json["runtime_settings"]["n"]),
    ] {
        let text = value.to_string();
        assert!(value.is_number(), "{place}: {text} for {number}");
        assert_eq!(exact_value(&text), want, "{place}: {text} for {number}");
    }
}

#[test]
fn integers_beyond_64_bits_keep_every_digit() {
    for number in [
        "123456789012345678901234567890",
        "-123456789012345678901234567890",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "9007199254740993",
        "100000000000000000000000000000000000000000000000000000000000000000000000000000001",
    ] {
        assert_carried_exactly(number);
        // Integers come back as written, digit for digit.
        let (_, json) = carried_everywhere(number);
        assert_eq!(json["bootstrap_settings"]["n"].to_string(), number);
    }
}

#[test]
fn floats_keep_their_exact_decimal() {
    for number in [
        "0.1",
        "0.30000000000000004",
        "1.079907802215119e-66",
        "5e-324",
        "2.4703282292062327e-324",
        "1.7976931348623157e308",
        "1e400",
        "-1E-400",
        "1.000000000000000000000000000000001",
        "1.50",
        "-0",
        "-0.0",
        "0e10",
        "1E5",
    ] {
        assert_carried_exactly(number);
    }
}

#[test]
fn a_ttl_beyond_the_range_of_a_double_is_rejected_with_its_path() {
    let err =
        State::from_bootstrap_json(r#"{"session_cache_enabled": true, "session_cache_ttl_seconds": 1e400}"#)
            .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSettings);
    assert_eq!(err.path(), "bootstrap.session_cache_ttl_seconds");
    assert_eq!(
        err.message(),
        "expected a finite number, found 1e+400, beyond the range of a double"
    );
    for event in [
        r#"{"type": "settings_updated", "overrides": {"session_cache_ttl_seconds": -1e999}}"#,
        r#"{"type": "runtime_settings_set", "settings": {"session_cache_enabled": true, "session_cache_ttl_seconds": 2e308}}"#,
    ] {
        let err = Event::from_json(event).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidEvent);
        assert!(err.path().ends_with(".session_cache_ttl_seconds"), "{err}");
        assert!(err.message().contains("beyond the range of a double"), "{err}");
    }
    // Tiny values are finite: they read as 0, as in Python.
    let state =
        State::from_bootstrap_json(r#"{"session_cache_enabled": true, "session_cache_ttl_seconds": 1e-400}"#)
            .unwrap();
    assert_eq!(state.bootstrap_settings().session_cache_ttl_seconds(), 0.0);
    assert_eq!(State::from_json(&state.to_json()).unwrap(), state);
}

/// JSON number texts of every shape: sign, up to 40 integer digits, up to 30
/// fraction digits, an exponent of any case and sign up to 3 digits.
fn number_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["", "-"]),
        prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,39}"],
        prop::option::of("[0-9]{1,30}"),
        prop::option::of(("[eE]", prop::sample::select(vec!["", "+", "-"]), "[0-9]{1,3}")),
    )
        .prop_map(|(sign, whole, fraction, exponent)| {
            let mut text = format!("{sign}{whole}");
            if let Some(fraction) = fraction {
                text.push('.');
                text.push_str(&fraction);
            }
            if let Some((e, sign, digits)) = exponent {
                text.push_str(&format!("{e}{sign}{digits}"));
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    #[test]
    fn any_json_number_is_carried_as_the_same_value(number in number_text()) {
        assert_carried_exactly(&number);
    }

    #[test]
    fn any_finite_double_comes_back_exactly(
        ttl in prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO,
        extra in prop::num::f64::ANY.prop_filter("finite", |v| v.is_finite()),
    ) {
        // Rust's `{:?}` writes the shortest text that reads back as the same double.
        let bootstrap =
            format!(r#"{{"session_cache_enabled": true, "session_cache_ttl_seconds": {ttl:?}, "x": {extra:?}}}"#);
        let state = State::from_bootstrap_json(&bootstrap).unwrap();
        prop_assert_eq!(state.bootstrap_settings().session_cache_ttl_seconds(), ttl);
        let json: Value = serde_json::from_str(&state.to_json()).unwrap();
        let settings = &json["bootstrap_settings"];
        prop_assert_eq!(settings["session_cache_ttl_seconds"].as_f64(), Some(ttl));
        prop_assert_eq!(settings["x"].as_f64(), Some(extra));
    }
}

/// serde_json's `arbitrary_precision` passes numbers as a map under this key.
const NUMBER_KEY: &str = "$serde_json::private::Number";

#[test]
fn the_reserved_number_key_is_an_ordinary_key_everywhere() {
    // Found by the `trace` fuzz target: the state wrote this key first (keys
    // are sorted) and could not be restored ("invalid number").
    let trace = format!(
        r#"{{"bootstrap": {{"session_cache_enabled": true, "session_cache_ttl_seconds": 3600.0,
            "log_level": "info", "{NUMBER_KEY}": "/var/l)b/bangui/bangui.db"}}, "steps": []}}"#
    );
    let trace = bangui_state_core::Trace::from_json(&trace).unwrap();
    let restored = State::from_json(&trace.initial.to_json()).unwrap();
    assert_eq!(restored, trace.initial);
    assert_eq!(
        restored.bootstrap_settings().get(NUMBER_KEY),
        Some(&Value::String("/var/l)b/bangui/bangui.db".into()))
    );

    // As the only key, with a number in a string: still an object, never the
    // number 5; escaped or not; in every carried place; through a restore.
    for key in [NUMBER_KEY.to_owned(), NUMBER_KEY.replace('$', "\\u0024")] {
        let object = format!(r#"{{"{key}": "5"}}"#);
        let mut state = State::from_bootstrap_json(&format!(
            r#"{{"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "o": {object}}}"#
        ))
        .unwrap();
        let event =
            format!(r#"{{"type": "health_probe_completed", "status": {{"online": true, "o": [{object}]}}}}"#);
        state.apply(Event::from_json(&event).unwrap(), now()).unwrap();
        let restored = State::from_json(&state.to_json()).unwrap();
        assert_eq!(restored, state);
        let expected = serde_json::json!({ NUMBER_KEY: "5" });
        assert_eq!(restored.bootstrap_settings().get("o"), Some(&expected));
        assert_eq!(restored.server_status().extra()["o"][0], expected);
    }
}

#[test]
fn a_key_with_a_lone_surrogate_escape_is_invalid_json() {
    let err = State::from_bootstrap_json(
        r#"{"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "\ud800": 1}"#,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidJson);
    assert!(err.message().contains("not valid Unicode"), "{err}");
}
