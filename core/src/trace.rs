//! Traces: the contract's replay format (JSON Lines, one trace a line).
//!
//! Input: `{"bootstrap": {settings}, "steps": [{"now": instant, "event": {...}}, ...]}`,
//! or `{"state": {saved state}, "steps": [...]}` to start from a saved state.
//! Output: one element per step, `{"effects": [...], "state": {...}}` or, for
//! a rejected step, `{"error": "message", "state": {unchanged state}}`.
//! Keys other than `bootstrap`, `state` and `steps` (a `name`, the `expected` output of
//! a conformance vector) are ignored, so a vector is itself a trace.

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
        Ok(Trace { initial, steps })
    }

    /// Replays every step from the initial state.
    pub fn replay(&self) -> Vec<StepOutput> {
        let mut state = self.initial.clone();
        self.steps
            .iter()
            .map(|step| {
                let parsed = parse_step(step);
                let (now, event) = match &parsed {
                    Ok((now, event)) => (Some(*now), Some(event.clone())),
                    Err(_) => (None, None),
                };
                let result = parsed.and_then(|(now, event)| state.apply(event, now));
                StepOutput {
                    now,
                    event,
                    result,
                    state: state.clone(),
                }
            })
            .collect()
    }
}

/// Reads one step's `now` and `event`; errors name `now` or `event.…`.
pub fn parse_step(step: &Value) -> Result<(Instant, Event), Error> {
    let root = Path::Root("step");
    let f = Fields::of(step, &root, ErrorKind::InvalidTrace)?;
    let now_value = f.required("now", "an RFC 3339 instant")?;
    let now_text = now_value.as_str().ok_or_else(|| {
        json::mistyped(
            ErrorKind::InvalidInstant,
            &Path::Root("now"),
            "an RFC 3339 instant string",
            now_value,
        )
    })?;
    let now = Instant::parse_rfc3339(now_text).map_err(|e| e.located(ErrorKind::InvalidInstant, "now"))?;
    let event = Event::from_value(f.required("event", "an event object")?)?;
    Ok((now, event))
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
