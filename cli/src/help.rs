//! The help texts. Event types come from the core's list, and every example
//! event shown is parsed by a test, so the text cannot drift from the code.

use bangui_state_core::{
    ACTIVATION_CRASH_WINDOW_MICROS, EVENT_TYPES, MICROS_PER_SECOND, PROBE_IN_FLIGHT_MICROS,
};

/// One example event per type, in the core's order (`EVENT_TYPES`), and a
/// note on its optional fields.
pub const EXAMPLE_EVENTS: [(&str, &str); 12] = [
    (
        r#"{"type": "health_probe_completed", "status": {"online": true, "version": "1.1.0", "active_jails": 2}}"#,
        "",
    ),
    (
        r#"{"type": "jail_activated", "jail_name": "sshd"}"#,
        r#"optional "at": INSTANT (default now)"#,
    ),
    (
        r#"{"type": "pending_recovery_created", "jail_name": "sshd", "activated_at": "2026-04-27T16:42:30Z"}"#,
        r#"optional "detected_at": INSTANT"#,
    ),
    (r#"{"type": "pending_recovery_cleared"}"#, ""),
    (r#"{"type": "activation_cleared"}"#, ""),
    (
        r#"{"type": "runtime_settings_set", "settings": {"session_cache_enabled": false, "session_cache_ttl_seconds": 60}}"#,
        "",
    ),
    (
        r#"{"type": "settings_updated", "overrides": {"session_cache_enabled": false}}"#,
        "",
    ),
    (r#"{"type": "setup_completion_cached", "complete": true}"#, ""),
    (r#"{"type": "backend_probe_requested"}"#, ""),
    (r#"{"type": "backend_probe_completed", "supported": true}"#, ""),
    (
        r#"{"type": "backend_probe_failed", "reason": "timeout"}"#,
        r#""reason" optional"#,
    ),
    (r#"{"type": "backend_capability_reset"}"#, ""),
];

const fn seconds(micros: i64) -> i64 {
    micros / MICROS_PER_SECOND
}

/// `bangui-state help`, `--help`, `-h`.
pub fn general() -> String {
    format!(
        "\
bangui-state {version}: replays BanGUI runtime-state traces through the state machine.

usage:
  bangui-state replay [FILE|-] [--json]   replay traces ('bangui-state help replay' for the format)
  bangui-state example                    print the bundled example trace (one JSON line)
  bangui-state help [COMMAND]             this text, or a command's
  bangui-state --version                  the version

A trace is one JSON line: bootstrap settings (or a saved state) and the steps (a time
and an event each) to replay from them. 'bangui-state replay' with no FILE replays the bundled example.

{exit}",
        version = env!("CARGO_PKG_VERSION"),
        exit = EXIT_STATUS,
    )
}

const EXIT_STATUS: &str = "\
exit status:
  0  the input was read and replayed; malformed lines and rejected events are
     reported in the output, not in the status
  1  the input could not be read, or the output could not be written
  2  bad usage (unknown command or option, more than one FILE)";

/// `bangui-state replay --help`, `bangui-state help replay`.
pub fn replay() -> String {
    let events: Vec<String> = EVENT_TYPES
        .iter()
        .zip(EXAMPLE_EVENTS)
        .map(|(name, (example, note))| {
            format!("    {name}\n      {example}  {note}")
                .trim_end()
                .to_string()
        })
        .collect();
    format!(
        "\
usage: bangui-state replay [FILE|-] [--json]

Replays each trace through BanGUI's runtime-state machine, from its own bootstrap state.

  FILE     the traces, JSON Lines; '-' reads standard input;
           without FILE, the bundled example is replayed
  --json   machine-readable output instead of the timeline
  -h, --help  this text

INPUT: one trace per line (blank lines are skipped):
  {{\"name\": \"optional title\", \"bootstrap\": SETTINGS, \"steps\": [{{\"now\": INSTANT, \"event\": EVENT}}, ...]}}
  or, to start from a saved state instead of a new machine:
  {{\"state\": STATE, \"steps\": [...]}}
  SETTINGS  {{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 3600}}, other keys pass through
  STATE     a state as the output prints it (\"state\": {{\"schema_version\": ...}})
  INSTANT   RFC 3339 with an offset, e.g. \"2026-04-27T16:42:00Z\" or \"2026-04-27T18:42:00.5+02:00\"
  EVENT     an object whose \"type\" is one of:
{events}
  Other keys of a trace line (such as a conformance vector's \"expected\") are ignored.

OUTPUT, timeline (default): per trace a header naming its line and source, then per step
  its time, event, effects (log lines, effects for the host), what changed in the state, and
  the next deadline: the next instant at which time alone changes how an event is handled,
  either the end of the {window} s crash window after a jail activation (a crash detected later
  is not blamed on the activation) or the moment a backend capability probe in flight for
  {stale} s goes stale (a request then starts a new probe); then a summary of the trace.
  A line that is not a trace is reported once, in place: 'line N: MESSAGE (not a trace, skipped)'.

OUTPUT, --json: exactly one line per trace line, always a JSON array:
  [STEP, ...]  one element per step:
     {{\"effects\": [...], \"state\": {{...}}}}      the step was accepted
     {{\"error\": \"MESSAGE\", \"state\": {{...}}}}    its event or time was rejected; state unchanged
  [{{\"error\": \"line N: MESSAGE\"}}]              the line is not a trace (invalid UTF-8 or JSON,
                                             no start or steps): one element, no \"state\";
                                             the message also goes to standard error
  Messages name the line once; 'line N, column C' when the column is known (C counts bytes from 1).

EXAMPLES:
  bangui-state example > story.jsonl          the bundled example trace, to edit
  bangui-state replay story.jsonl
  bangui-state example | bangui-state replay - --json
  In the source repository, tests/vectors/*.jsonl are traces too (each line also holds its
  \"expected\" output).

{exit}",
        events = events.join("\n"),
        window = seconds(ACTIVATION_CRASH_WINDOW_MICROS),
        stale = seconds(PROBE_IN_FLIGHT_MICROS),
        exit = EXIT_STATUS,
    )
}

/// `bangui-state example --help`, `bangui-state help example`.
pub fn example() -> String {
    "\
usage: bangui-state example

Prints the bundled example trace (BanGUI's crash-and-recovery story), the one
'bangui-state replay' replays without FILE, as one JSON line."
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bangui_state_core::Event;

    #[test]
    fn every_example_event_is_valid_and_of_its_type() {
        for (name, (example, _)) in EVENT_TYPES.iter().zip(EXAMPLE_EVENTS) {
            let event = Event::from_json(example).unwrap_or_else(|e| panic!("{example}: {e}"));
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(value["type"], *name, "{example}");
        }
    }

    #[test]
    fn replay_help_names_every_event_type_and_the_exit_statuses() {
        let text = replay();
        for name in EVENT_TYPES {
            assert!(text.contains(&format!("    {name}\n")), "{name} missing");
        }
        for status in ["  0  ", "  1  ", "  2  "] {
            assert!(text.contains(status), "{status:?} missing");
        }
        assert!(text.contains("60 s crash window") && text.contains("30 s goes stale"));
    }
}
