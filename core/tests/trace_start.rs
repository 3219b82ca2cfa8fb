//! A trace starts from bootstrap settings or from a saved state.

use bangui_state_core::{ErrorKind, Trace};

const BOOTSTRAP: &str = r#"{"session_cache_enabled": true, "session_cache_ttl_seconds": 60}"#;
const ACTIVATE: &str =
    r#"{"now": "2026-04-27T16:42:00Z", "event": {"type": "jail_activated", "jail_name": "sshd"}}"#;
const RESET: &str = r#"{"now": "2026-04-27T16:43:00Z", "event": {"type": "activation_cleared"}}"#;

#[test]
fn a_trace_from_a_saved_state_continues_where_the_state_left_off() {
    let whole = Trace::from_json(&format!(
        r#"{{"bootstrap": {BOOTSTRAP}, "steps": [{ACTIVATE}, {RESET}]}}"#
    ))
    .unwrap();
    let outputs = whole.replay();
    let after_first = outputs[0].state.to_json();

    let rest = Trace::from_json(&format!(r#"{{"state": {after_first}, "steps": [{RESET}]}}"#)).unwrap();
    assert_eq!(rest.initial.revision(), 1);
    let rest_outputs = rest.replay();
    assert_eq!(rest_outputs[0].state, outputs[1].state);
    assert_eq!(rest_outputs[0].state.revision(), 2);
}

#[test]
fn a_trace_with_both_starts_or_neither_is_refused() {
    let state = Trace::from_json(&format!(r#"{{"bootstrap": {BOOTSTRAP}, "steps": []}}"#))
        .unwrap()
        .initial
        .to_json();
    let both = Trace::from_json(&format!(
        r#"{{"bootstrap": {BOOTSTRAP}, "state": {state}, "steps": []}}"#
    ))
    .unwrap_err();
    assert_eq!(both.kind(), ErrorKind::InvalidTrace);
    assert!(both.to_string().contains("either"), "{both}");

    let neither = Trace::from_json(r#"{"steps": []}"#).unwrap_err();
    assert_eq!(neither.kind(), ErrorKind::InvalidTrace);
    assert_eq!(neither.path(), "bootstrap");
    assert!(neither.message().starts_with("missing"), "{neither}");
}

#[test]
fn a_bad_saved_state_is_reported_under_state() {
    let err = Trace::from_json(r#"{"state": {"schema_version": 1}, "steps": []}"#).unwrap_err();
    assert!(err.path().starts_with("state"), "{err}");
    assert_eq!(err.kind(), ErrorKind::InvalidState);
}
