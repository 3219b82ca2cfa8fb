//! What the fuzz targets check, shared by them (and by nothing else: this
//! crate is its own workspace, built on nightly by cargo-fuzz).
//!
//! Every target checks, on every input: no panic; a rejected step leaves the
//! state exactly as it was; an accepted one adds exactly one to the revision;
//! every state the machine produces restores to an equal state.

use bangui_state_core::{Event, Instant, State, step};

pub mod c_abi;

/// Every state the machine produces restores to an equal state, from its
/// JSON text and from its JSON value, and writes the same text again.
pub fn assert_restores(state: &State) {
    let text = state.to_json();
    let restored =
        State::from_json(&text).unwrap_or_else(|e| panic!("a produced state does not restore: {e}\n{text}"));
    assert_eq!(&restored, state, "the restored state differs\n{text}");
    assert_eq!(restored.to_json(), text, "the restored state writes other text");
    let from_value = State::from_value(&state.to_value())
        .unwrap_or_else(|e| panic!("a produced state does not restore from its value: {e}\n{text}"));
    assert_eq!(
        &from_value, state,
        "the state restored from its value differs\n{text}"
    );
}

/// Applies `event` at `now` to `state` in place, and checks the step against
/// the pure form and the fast path: rejected, nothing changed; accepted, the
/// revision went up by one, and the new state restores.
pub fn checked_step(state: &mut State, event: Event, now: Instant) {
    let before = state.clone();
    let before_text = state.to_json();
    let pure = step(&before, &event, now);
    match state.apply(event.clone(), now) {
        Err(error) => {
            assert_eq!(*state, before, "a rejected step changed the state: {error}");
            assert_eq!(
                state.to_json(),
                before_text,
                "a rejected step changed the state's text"
            );
            assert_eq!(pure.err(), Some(error), "the pure form disagrees");
        }
        Ok(effects) => {
            assert_eq!(
                state.revision(),
                before.revision() + 1,
                "an accepted step did not add one"
            );
            let (next, pure_effects) = pure.expect("the pure form rejected what apply accepted");
            assert_eq!(&next, state, "the pure form's state differs");
            assert_eq!(pure_effects, effects, "the pure form's effects differ");
            if let Event::HealthProbeCompleted { status } = &event
                && status.extra().is_empty()
            {
                let mut fast = before.clone();
                let report = fast
                    .health_probe(status.online, status.version.as_deref(), status.active_jails, now)
                    .expect("the fast path rejected what apply accepted");
                assert_eq!(report.effects(), effects, "the fast path's effects differ");
                assert_eq!(&fast, state, "the fast path's state differs");
            }
            serde_json::to_string(&effects).expect("effects serialise");
            assert_restores(state);
        }
    }
    if let Some(deadline) = state.next_deadline(now) {
        assert!(deadline >= now, "a deadline in the past");
    }
}

/// A `now` as the fuzz inputs write it: Unix microseconds, or RFC 3339 text.
pub fn parse_now(text: &str) -> Option<Instant> {
    match text.trim().parse::<i64>() {
        Ok(micros) => Instant::from_unix_micros(micros).ok(),
        Err(_) => Instant::parse_rfc3339(text).ok(),
    }
}

/// The `step` target: the first line is bootstrap settings or a state; then
/// lines alternate an event and a `now`.
pub fn fuzz_step(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let Ok(mut state) = State::from_json(first).or_else(|_| State::from_bootstrap_json(first)) else {
        return;
    };
    assert_restores(&state);
    while let (Some(event), Some(now)) = (lines.next(), lines.next()) {
        let before = state.clone();
        match (Event::from_json(event), parse_now(now)) {
            (Ok(event), Some(now)) => checked_step(&mut state, event, now),
            // A malformed event or `now` never reaches the state.
            _ => assert_eq!(state, before),
        }
    }
}

/// The `trace` target: one line of the replay format, parsed and replayed;
/// the replay agrees with stepping by hand, and its output reads back.
pub fn fuzz_trace(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(trace) = bangui_state_core::Trace::from_json(text) else {
        return;
    };
    assert_restores(&trace.initial);
    let outputs = trace.replay();
    assert_eq!(outputs.len(), trace.steps.len());
    let mut state = trace.initial.clone();
    for (step, output) in trace.steps.iter().zip(&outputs) {
        match bangui_state_core::parse_step(step) {
            Ok((now, event)) => {
                checked_step(&mut state, event, now);
                assert_eq!(output.now, Some(now));
            }
            Err(_) => assert!(output.result.is_err(), "a malformed step was accepted"),
        }
        assert_eq!(
            output.state, state,
            "the replay's state differs from stepping by hand"
        );
        if let Err(error) = &output.result {
            assert!(!error.to_string().is_empty(), "an error without a message");
        }
    }
    // The output line is JSON a reader takes (nesting included). Read as
    // `IgnoredAny`: serde_json's own `Value` reader, with exact numbers, takes
    // an object keyed `$serde_json::private::Number` for a number.
    let line = serde_json::to_string(&outputs).expect("the replay output serialises");
    serde_json::from_str::<serde::de::IgnoredAny>(&line)
        .unwrap_or_else(|e| panic!("the replay output does not read back: {e}"));
}

/// The `rfc3339` target: the core's parser accepts exactly what chrono's
/// `parse_from_rfc3339` accepts, to the same instant; a rejection is an
/// `invalid_instant` error with a reason; an accepted instant formats to the
/// one `YYYY-MM-DDTHH:MM:SS.ffffffZ` form, which parses back to it. The
/// first 8 bytes, as Unix microseconds, go through the formatter too.
pub fn fuzz_rfc3339(data: &[u8]) {
    if let Some(bytes) = data.get(..8) {
        let micros = i64::from_le_bytes(bytes.try_into().unwrap_or_default());
        if let Ok(instant) = Instant::from_unix_micros(micros) {
            assert_formats_and_reads_back(instant);
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = Instant::parse_rfc3339(text);
    let chrono = chrono::DateTime::parse_from_rfc3339(text);
    match (&ours, &chrono) {
        (Ok(instant), Ok(theirs)) => {
            assert_eq!(
                theirs.timestamp_subsec_nanos() / 1_000 % 1_000_000,
                (instant.unix_micros().rem_euclid(1_000_000)) as u32
            );
            assert_eq!(theirs.timestamp(), instant.unix_micros().div_euclid(1_000_000));
            assert_formats_and_reads_back(*instant);
        }
        (Err(error), Ok(theirs)) => {
            // Only what the core cannot hold: a leap second, a year outside 0001..=9999 in UTC.
            let message = error.message();
            let leap = theirs.timestamp_subsec_nanos() >= 1_000_000_000;
            assert!(
                (leap && message.contains("leap seconds")) || message.contains("outside years 0001 to 9999"),
                "chrono reads {text:?} as {theirs}, the core rejects it: {error}"
            );
        }
        (Ok(instant), Err(e)) => panic!("the core reads {text:?} as {instant}, chrono rejects it: {e}"),
        (Err(error), Err(_)) => {
            assert_eq!(error.kind(), bangui_state_core::ErrorKind::InvalidInstant);
            assert!(error.message().ends_with(')'), "no reason: {error}");
        }
    }
}

fn assert_formats_and_reads_back(instant: Instant) {
    let text = instant.to_string();
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), 27, "{text}");
    assert_eq!(
        (bytes[4], bytes[10], bytes[19], bytes[26]),
        (b'-', b'T', b'.', b'Z'),
        "{text}"
    );
    assert_eq!(Instant::parse_rfc3339(&text).ok(), Some(instant), "{text}");
    assert_eq!(
        Instant::from_unix_micros(instant.unix_micros()).ok(),
        Some(instant)
    );
}
