//! Traces: the contract's replay format (JSON Lines, one trace a line).
//!
//! Input: `{"bootstrap": {settings}, "steps": [{"now": instant, "event": {...}}, ...]}`,
//! or `{"state": {saved state}, "steps": [...]}` to start from a saved state.
//! Output: one element per step, `{"effects": [...], "state": {...}}` or, for
//! a rejected step, `{"error": "message", "state": {unchanged state}}`.
//! Keys other than `bootstrap`, `state` and `steps` (a `name`, the `expected` output of
//! a conformance vector) are ignored, so a vector is itself a trace.

use alloc::string::String;
use alloc::vec::Vec;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::effect::Effect;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::instant::Instant;
use crate::json::{self, Fields, Path};
use crate::state::State;

/// One trace: bootstrap settings and the steps to replay.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The trace's `name`, when it has one that is a string (the conformance
    /// vectors say what each pins there).
    pub name: Option<String>,
    /// The machine the trace starts from.
    pub initial: State,
    /// The steps, unparsed: a malformed step is reported in its place and the
    /// replay goes on.
    pub steps: Vec<Value>,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutput {
    /// The step's `now`, if it was valid.
    pub now: Option<Instant>,
    /// The step's event, if it was valid.
    pub event: Option<Event>,
    /// The effects, or why the step was rejected.
    pub result: Result<Vec<Effect>, Error>,
    /// The state after the step (unchanged when rejected).
    pub state: State,
}

impl Trace {
    /// Parses one line of a trace file.
    pub fn from_json(line: &str) -> Result<Self, Error> {
        Trace::from_value(&json::parse_text(line)?)
    }

    /// Reads a trace from a JSON value: `{"bootstrap": {settings}, "steps": [...]}`
    /// or `{"state": {saved state}, "steps": [...]}`. Errors are
    /// [`ErrorKind::InvalidTrace`] (or [`ErrorKind::InvalidSettings`] for the
    /// bootstrap settings, the state's own kinds for a saved state).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let root = Path::Root("");
        let f = Fields::of(value, &root, ErrorKind::InvalidTrace)?;
        // A trace starts from bootstrap settings (a new machine) or from a
        // saved state (e.g. the first state a trimmed commit log still holds).
        let initial = match (f.optional("bootstrap"), f.optional("state")) {
            (Some(bootstrap), None) => State::from_bootstrap_value(bootstrap)?,
            (None, Some(state)) => State::from_value(state)?,
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    ErrorKind::InvalidTrace,
                    "",
                    "a trace starts from either \"bootstrap\" settings or a \"state\", not both",
                ));
            }
            (None, None) => {
                return Err(Error::new(
                    ErrorKind::InvalidTrace,
                    "bootstrap",
                    "missing; expected a settings object (or \"state\": a saved state)",
                ));
            }
        };
        let steps = f.required("steps", "an array of steps")?;
        let steps = steps
            .as_array()
            .ok_or_else(|| f.mistyped("steps", "an array of steps", steps))?
            .clone();
        let name = f.optional("name").and_then(Value::as_str).map(String::from);
        Ok(Trace { name, initial, steps })
    }

    /// Replays every step from the initial state.
    pub fn replay(&self) -> Vec<StepOutput> {
        self.replay_lazily().collect()
    }

    /// [`Trace::replay`] one step at a time: each output is made when asked
    /// for, so a host can write it out and drop it (or stop early) instead of
    /// holding every step's state at once.
    pub fn replay_lazily(&self) -> impl Iterator<Item = StepOutput> + '_ {
        self.replay_steps::<true>()
    }

    /// [`Trace::replay_lazily`] for a host that writes out only each step's
    /// result and state (the JSON output): `now` and `event` are left `None`
    /// in every output, so no event is copied (and the WebAssembly module
    /// carries no code to copy one).
    pub fn replay_results_lazily(&self) -> impl Iterator<Item = StepOutput> + '_ {
        self.replay_steps::<false>()
    }

    /// The replay, with each step's `now` and `event` in its output when `KEEP_STEP`.
    fn replay_steps<const KEEP_STEP: bool>(&self) -> impl Iterator<Item = StepOutput> + '_ {
        let mut state = self.initial.clone();
        self.steps.iter().map(move |step| {
            // A valid `now` is kept even when the event is rejected: the
            // clock still moved, and deadlines are measured from it.
            let (now, event) = parse_step_parts(step);
            let (now_ok, event_ok) = if KEEP_STEP {
                (now.as_ref().ok().copied(), event.as_ref().ok().cloned())
            } else {
                (None, None)
            };
            let result = now.and_then(|now| event.and_then(|event| state.apply(event, now)));
            StepOutput {
                now: now_ok,
                event: event_ok,
                result,
                state: state.clone(),
            }
        })
    }
}

/// Reads one step's `now` and `event`; errors name `now` or `event.…`
/// (`now` first when both are wrong).
pub fn parse_step(step: &Value) -> Result<(Instant, Event), Error> {
    let (now, event) = parse_step_parts(step);
    Ok((now?, event?))
}

/// `now` and `event` each on its own, so that one's error does not hide the
/// other's value. A step that is not an object fails both with the same error.
fn parse_step_parts(step: &Value) -> (Result<Instant, Error>, Result<Event, Error>) {
    let root = Path::Root("step");
    let f = match Fields::of(step, &root, ErrorKind::InvalidTrace) {
        Ok(f) => f,
        Err(error) => return (Err(error.clone()), Err(error)),
    };
    let now = f.required("now", "an RFC 3339 instant").and_then(|now_value| {
        let now_text = now_value.as_str().ok_or_else(|| {
            json::mistyped(
                ErrorKind::InvalidInstant,
                &Path::Root("now"),
                "an RFC 3339 instant string",
                now_value,
            )
        })?;
        Instant::parse_rfc3339(now_text).map_err(|e| e.located(ErrorKind::InvalidInstant, "now"))
    });
    let event = f.required("event", "an event object").and_then(Event::from_value);
    (now, event)
}

impl Serialize for StepOutput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        match &self.result {
            Ok(effects) => map.serialize_entry("effects", effects)?,
            Err(error) => map.serialize_entry("error", &alloc::string::ToString::to_string(error))?,
        }
        map.serialize_entry("state", &self.state)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay_one(step: &str) -> StepOutput {
        let line = alloc::format!(
            r#"{{"bootstrap": {{"session_cache_enabled": true, "session_cache_ttl_seconds": 60}},
                "steps": [{{"now": "2026-04-27T16:00:00Z", "event": {{"type": "jail_activated", "jail_name": "sshd"}}}}, {step}]}}"#
        );
        let mut outputs = Trace::from_json(&line).unwrap().replay();
        assert_eq!(outputs.len(), 2);
        outputs.pop().unwrap()
    }

    #[test]
    fn results_only_replay_matches_the_full_replay_without_now_and_event() {
        let line = r#"{"bootstrap": {"session_cache_enabled": true, "session_cache_ttl_seconds": 60},
            "steps": [{"now": "2026-04-27T16:00:00Z", "event": {"type": "jail_activated", "jail_name": "sshd"}},
                      {"now": "soon", "event": {"type": "activation_cleared"}},
                      {"now": "2026-04-27T16:00:10Z", "event": {"type": "jail_activated"}},
                      {"now": "2026-04-27T16:00:20Z", "event": {"type": "activation_cleared"}}]}"#;
        let trace = Trace::from_json(line).unwrap();
        let full = trace.replay();
        let results: Vec<StepOutput> = trace.replay_results_lazily().collect();
        assert_eq!(results.len(), 4);
        assert!(full.iter().any(|o| o.event.is_some()));
        for (full, result) in full.into_iter().zip(results) {
            assert_eq!((result.now, result.event), (None, None));
            assert_eq!(result.result, full.result);
            assert_eq!(result.state, full.state);
        }
    }

    #[test]
    fn a_rejected_event_keeps_its_valid_now() {
        let output = replay_one(r#"{"now": "2026-04-27T16:00:10Z", "event": {"type": "jail_activated"}}"#);
        assert_eq!(
            output.now,
            Some(Instant::parse_rfc3339("2026-04-27T16:00:10Z").unwrap())
        );
        assert_eq!(output.event, None);
        assert_eq!(
            output.result.unwrap_err().to_string(),
            "event.jail_name: missing; expected a string"
        );
        assert_eq!(output.state.revision(), 1);
    }

    #[test]
    fn an_invalid_now_keeps_the_valid_event_and_is_the_error() {
        let output = replay_one(r#"{"now": "soon", "event": {"type": "activation_cleared"}}"#);
        assert_eq!(output.now, None);
        assert_eq!(output.event, Some(Event::ActivationCleared));
        assert_eq!(output.result.unwrap_err().path(), "now");
        assert_eq!(output.state.revision(), 1);
    }

    #[test]
    fn a_step_that_is_not_an_object_has_neither() {
        let output = replay_one("[]");
        assert_eq!((output.now, output.event), (None, None));
        assert_eq!(output.result.unwrap_err().kind(), ErrorKind::InvalidTrace);
    }

    #[test]
    fn parse_step_reports_now_before_event() {
        let step: Value = serde_json::from_str(r#"{"now": 5, "event": {}}"#).unwrap();
        assert_eq!(parse_step(&step).unwrap_err().path(), "now");
    }
}
