//! Whatever the core accepts fits inside a state that restores: a value
//! carried through (unknown settings keys, overrides, extra status keys) may
//! nest `MAX_PASS_THROUGH_DEPTH` levels, in every input; the deepest accepted
//! value restores, replays and round-trips through every JSON form; one level
//! deeper is a clear error naming the key, with the state unchanged.

use bangui_state_core::{ErrorKind, Event, Instant, MAX_PASS_THROUGH_DEPTH, State, Trace};
use serde_json::{Value, json};

const BOOTSTRAP: &str = r#""session_cache_enabled": true, "session_cache_ttl_seconds": 60"#;

/// A value `depth` levels deep, alternating arrays and objects, with a
/// scalar at the bottom.
fn nested(depth: usize) -> String {
    let (mut open, mut close) = (String::new(), String::new());
    for level in (0..depth).rev() {
        let (o, c) = if level % 2 == 0 {
            ("[", "]")
        } else {
            (r#"{"k": "#, "}")
        };
        open.push_str(o);
        close.push_str(c);
    }
    // Each closer is one character: reversed, they close in the right order.
    open + "1" + &close.chars().rev().collect::<String>()
}

fn now() -> Instant {
    Instant::parse_rfc3339("2026-04-27T16:42:00Z").unwrap()
}

/// Every event that carries values through, with `value` in it.
fn carrying_events(value: &str) -> [(String, &'static str); 3] {
    [
        (
            format!(r#"{{"type": "runtime_settings_set", "settings": {{{BOOTSTRAP}, "deep": {value}}}}}"#),
            "event.settings.deep",
        ),
        (
            format!(r#"{{"type": "settings_updated", "overrides": {{"deep": {value}}}}}"#),
            "event.overrides.deep",
        ),
        (
            format!(r#"{{"type": "health_probe_completed", "status": {{"online": true, "deep": {value}}}}}"#),
            "event.status.deep",
        ),
    ]
}

fn assert_restores(state: &State) {
    let text = state.to_json();
    let restored = State::from_json(&text).unwrap_or_else(|e| panic!("the state does not restore: {e}"));
    assert_eq!(&restored, state);
    assert_eq!(restored.to_json(), text);
}

#[test]
fn the_deepest_accepted_bootstrap_value_restores() {
    let state = State::from_bootstrap_json(&format!(
        r#"{{{BOOTSTRAP}, "deep": {}}}"#,
        nested(MAX_PASS_THROUGH_DEPTH)
    ))
    .unwrap();
    assert_restores(&state);
}

#[test]
fn one_level_deeper_in_the_bootstrap_settings_is_an_error_naming_the_key() {
    let text = format!(
        r#"{{{BOOTSTRAP}, "deep": {}}}"#,
        nested(MAX_PASS_THROUGH_DEPTH + 1)
    );
    let err = State::from_bootstrap_json(&text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidSettings);
    assert_eq!(err.path(), "bootstrap.deep");
    assert_eq!(
        err.message(),
        format!(
            "nested deeper than {MAX_PASS_THROUGH_DEPTH} levels of arrays and objects, \
             the most a value carried through the state may have"
        )
    );
}

#[test]
fn the_deepest_accepted_event_values_restore_and_one_deeper_changes_nothing() {
    let mut state = State::from_bootstrap_json(&format!("{{{BOOTSTRAP}}}")).unwrap();
    for (deepest, _) in carrying_events(&nested(MAX_PASS_THROUGH_DEPTH)) {
        let event = Event::from_json(&deepest).unwrap();
        state.apply(event, now()).unwrap();
        assert_restores(&state);
    }
    assert_eq!(state.revision(), 3);
    for (too_deep, path) in carrying_events(&nested(MAX_PASS_THROUGH_DEPTH + 1)) {
        let err = Event::from_json(&too_deep).unwrap_err();
        assert_eq!((err.kind(), err.path()), (ErrorKind::InvalidEvent, path), "{err}");
        assert!(err.message().starts_with("nested deeper than"), "{err}");
    }
}

#[test]
fn a_state_holding_a_value_one_level_too_deep_is_refused_naming_the_key() {
    let mut state = State::from_bootstrap_json(&format!(r#"{{{BOOTSTRAP}, "deep": 0}}"#)).unwrap();
    for (event, _) in carrying_events("0") {
        state.apply(Event::from_json(&event).unwrap(), now()).unwrap();
    }
    let mut json: Value = serde_json::from_str(&state.to_json()).unwrap();
    let too_deep: Value = serde_json::from_str(&nested(MAX_PASS_THROUGH_DEPTH + 1)).unwrap();
    for place in ["bootstrap_settings", "runtime_settings", "server_status"] {
        let saved = json[place]["deep"].clone();
        json[place]["deep"] = too_deep.clone();
        let err = State::from_json(&json.to_string()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidState);
        assert_eq!(err.path(), format!("state.{place}.deep"));
        json[place]["deep"] = saved;
    }
    assert_eq!(State::from_json(&json.to_string()).unwrap(), state);
}

#[test]
fn a_trace_of_the_deepest_accepted_values_replays_and_its_output_reads_back() {
    let deepest = nested(MAX_PASS_THROUGH_DEPTH);
    let too_deep = nested(MAX_PASS_THROUGH_DEPTH + 1);
    let step = |event: &str| format!(r#"{{"now": "2026-04-27T16:42:00Z", "event": {event}}}"#);
    let mut steps: Vec<String> = Vec::new();
    for ((accepted, _), (rejected, _)) in carrying_events(&deepest).iter().zip(carrying_events(&too_deep)) {
        steps.push(step(accepted));
        steps.push(step(&rejected));
    }
    let line = format!(
        r#"{{"bootstrap": {{{BOOTSTRAP}, "deep": {deepest}}}, "steps": [{}]}}"#,
        steps.join(", ")
    );
    let trace = Trace::from_json(&line).unwrap();
    let outputs = trace.replay();
    assert_eq!(outputs.len(), 6);
    let mut previous = trace.initial.clone();
    for (index, output) in outputs.iter().enumerate() {
        if index % 2 == 0 {
            assert!(output.result.is_ok(), "step {index}: {:?}", output.result);
            assert_eq!(output.state.revision(), previous.revision() + 1);
        } else {
            let err = output.result.as_ref().unwrap_err();
            assert!(
                err.message().starts_with("nested deeper than"),
                "step {index}: {err}"
            );
            assert_eq!(
                output.state, previous,
                "step {index}: a rejected step changed the state"
            );
        }
        assert_restores(&output.state);
        previous = output.state.clone();
    }
    // The replay's output line (the CLI's `--json`), and a conformance vector
    // holding it as `expected`, read back with the same JSON reader.
    let output_line = serde_json::to_string(&outputs).unwrap();
    let read_back: Value = serde_json::from_str(&output_line).unwrap();
    let vector = format!(
        r#"{{"name": "deep", {}, "expected": {output_line}}}"#,
        &line[1..line.len() - 1]
    );
    let vector: Value = serde_json::from_str(&vector).unwrap();
    assert_eq!(vector["expected"], read_back);
    let last_state = serde_json::to_string(&read_back[5]["state"]).unwrap();
    assert_eq!(State::from_json(&last_state).unwrap(), outputs[5].state);
}

#[test]
fn deeper_than_the_json_reader_goes_is_invalid_json_not_a_crash() {
    let err =
        State::from_bootstrap_json(&format!(r#"{{{BOOTSTRAP}, "deep": {}}}"#, nested(100_000))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidJson);
    assert!(err.message().contains("recursion limit exceeded"), "{err}");
}

#[test]
fn values_built_in_rust_are_checked_in_bounded_stack() {
    // Deeper than any JSON text could be: the check stops one level past the limit.
    let mut deep = json!(1);
    for _ in 0..50_000 {
        deep = Value::Array(vec![deep]);
    }
    // Not `json!`, which would serialise `deep` recursively.
    let mut settings = json!({"session_cache_enabled": true, "session_cache_ttl_seconds": 60});
    settings.as_object_mut().unwrap().insert("deep".into(), deep);
    let err = State::from_bootstrap_value(&settings).unwrap_err();
    assert_eq!(err.path(), "bootstrap.deep");
    // serde_json's own drop of such a value recurses; leak it rather than
    // test serde_json's stack.
    std::mem::forget(settings);
}
