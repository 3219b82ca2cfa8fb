//! `bangui-state`: replays BanGUI runtime-state traces through the core.
//!
//! ```text
//! bangui-state replay [FILE|-] [--json]
//! ```
//!
//! Without a file it replays a bundled scenario. `--json` prints exactly the
//! contract's machine-readable output, one line per trace.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use bangui_state_core::{Effect, Instant, Log, MICROS_PER_SECOND, StepOutput, Trace, micros_to_seconds};
use serde_json::Value;

/// The bundled scenario: BanGUI's crash-and-recovery story.
const STORY: &str = include_str!("story.jsonl");

const USAGE: &str = "\
usage: bangui-state replay [FILE|-] [--json]

Replays traces (JSON Lines, one trace a line: {\"bootstrap\": {...}, \"steps\": [...]})
through BanGUI's runtime-state machine.

  FILE     the traces to replay; '-' reads standard input;
           without FILE, a bundled scenario is replayed
  --json   print the contract's output: one JSON array per trace
  -h, --help     this text
  -V, --version  the version";

enum Input {
    Story,
    Stdin,
    File(String),
}

struct Options {
    input: Input,
    json: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("replay") => {}
        Some("-h" | "--help") => return Ok(None),
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("missing command".into()),
    }
    let mut options = Options {
        input: Input::Story,
        json: false,
    };
    let mut have_input = false;
    for arg in args {
        match arg.as_str() {
            "--json" => options.json = true,
            "-h" | "--help" => return Ok(None),
            "-" if !have_input => {
                options.input = Input::Stdin;
                have_input = true;
            }
            flag if flag.starts_with('-') && flag != "-" => return Err(format!("unknown option {flag:?}")),
            file if !have_input => {
                options.input = Input::File(file.to_string());
                have_input = true;
            }
            extra => return Err(format!("unexpected argument {extra:?}: give at most one FILE")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-V" | "--version")) {
        println!("bangui-state {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("bangui-state: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match read_input(&options.input) {
        Ok(text) => text,
        Err(problem) => {
            eprintln!("bangui-state: {problem}");
            return ExitCode::from(1);
        }
    };
    let mut out = io::stdout().lock();
    match replay_all(&text, options.json, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        // Only a closed pipe or a full disk gets here.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bangui-state: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

fn read_input(input: &Input) -> Result<String, String> {
    match input {
        Input::Story => Ok(STORY.to_string()),
        Input::Stdin => {
            let mut text = String::new();
            io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(text)
        }
        Input::File(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
    }
}

/// Replays every non-blank line. A malformed line is reported with its line
/// number (on standard error, and in place in the output) and the replay goes on.
fn replay_all(text: &str, json: bool, out: &mut impl Write) -> io::Result<()> {
    let mut first = true;
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let line_number = index + 1;
        let trace = match Trace::from_json(line) {
            Ok(trace) => trace,
            Err(error) => {
                let message = format!("line {line_number}: {error}");
                eprintln!("bangui-state: {message}");
                if json {
                    writeln!(out, "{}", serde_json::json!({ "error": message }))?;
                } else {
                    writeln!(out, "{message}\n")?;
                }
                continue;
            }
        };
        let outputs = trace.replay();
        if json {
            writeln!(out, "{}", serde_json::to_string(&outputs)?)?;
        } else {
            if !first {
                writeln!(out)?;
            }
            print_timeline(line_number, line, &trace, &outputs, out)?;
        }
        first = false;
    }
    Ok(())
}

fn print_timeline(
    line_number: usize,
    line: &str,
    trace: &Trace,
    outputs: &[StepOutput],
    out: &mut impl Write,
) -> io::Result<()> {
    let name = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(String::from));
    match name {
        Some(name) => writeln!(out, "trace at line {line_number}: {name}")?,
        None => writeln!(out, "trace at line {line_number}")?,
    }
    writeln!(
        out,
        "  start: session cache {}, fail2ban assumed offline",
        trace.initial.session_cache().name()
    )?;
    let mut before = trace.initial.to_value();
    for (index, output) in outputs.iter().enumerate() {
        let when = output
            .now
            .map_or_else(|| "(invalid time)".to_string(), |t| t.to_string());
        let what = match &output.event {
            Some(event) => describe_event(&serde_json::to_value(event)?),
            None => "(invalid step)".to_string(),
        };
        writeln!(out, "\n  {when}  step {}  {what}", index + 1)?;
        let after = output.state.to_value();
        match &output.result {
            Err(error) => writeln!(out, "      rejected  {error} (state unchanged)")?,
            Ok(effects) => {
                for effect in effects {
                    writeln!(out, "      {}", describe_effect(effect))?;
                }
                let mut changes = Vec::new();
                diff("", &before, &after, &mut changes);
                for change in &changes {
                    writeln!(out, "      changed   {change}")?;
                }
                if effects.is_empty() && changes.is_empty() {
                    writeln!(out, "      no effect, no change but the revision")?;
                }
            }
        }
        if let Some(now) = output.now {
            if let Some(deadline) = output.state.next_deadline(now) {
                writeln!(out, "      deadline  {deadline} ({})", countdown(now, deadline))?;
            }
        }
        before = after;
    }
    Ok(())
}

fn countdown(now: Instant, deadline: Instant) -> String {
    let seconds = micros_to_seconds(deadline.micros_since(now));
    if deadline.micros_since(now) % MICROS_PER_SECOND == 0 {
        format!("in {seconds:.0} s")
    } else {
        format!("in {seconds:.1} s")
    }
}

/// `type` then the other fields, compactly.
fn describe_event(event: &Value) -> String {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("?");
    let fields: Vec<String> = event
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "type")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if fields.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {}", fields.join(" "))
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Log(log) => {
            let fields = serde_json::to_value(effect)
                .ok()
                .and_then(|v| v.get("fields").cloned())
                .and_then(|f| f.as_object().cloned())
                .unwrap_or_default();
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "log       {:<7} {} {}",
                level_of(log),
                log.event_name(),
                fields.join(" ")
            )
            .trim_end()
            .to_string()
        }
        Effect::SessionCacheReplaced { kind } => {
            format!("effect    install a new, empty {} session cache", kind.name())
        }
        Effect::ProbeBackendCapability => "effect    run the backend capability probe".to_string(),
    }
}

fn level_of(log: &Log) -> &'static str {
    log.level().name()
}

/// What changed between two JSON values, as `path: old -> new` lines.
fn diff(path: &str, before: &Value, after: &Value, changes: &mut Vec<String>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                if path.is_empty() && key == "revision" {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let null = Value::Null;
                diff(
                    &child,
                    old.get(key).unwrap_or(&null),
                    new.get(key).unwrap_or(&null),
                    changes,
                );
            }
        }
        _ => changes.push(format!("{path}: {before} -> {after}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, json: bool) -> String {
        let mut out = Vec::new();
        replay_all(text, json, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn bundled_story_tells_the_crash_and_recovery() {
        let timeline = run(STORY, false);
        for expected in [
            "fail2ban_came_online",
            "activation_crash_detected jail=\"sshd\" seconds_since_activation=12.0",
            "pending_recovery_resolved jail=\"sshd\"",
            "install a new, empty no_op session cache",
            "pending_recovery.recovered: false -> true",
        ] {
            assert!(
                timeline.contains(expected),
                "missing {expected:?} in:\n{timeline}"
            );
        }
        assert_eq!(
            timeline.matches("run the backend capability probe").count(),
            1,
            "{timeline}"
        );
    }

    #[test]
    fn json_output_is_one_array_per_trace() {
        let text = format!("{STORY}\n\n{STORY}");
        let output = run(&text, true);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 2);
        let steps: Vec<Value> = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[7]["state"]["revision"], 8);
    }

    #[test]
    fn malformed_line_is_reported_with_its_number_and_replay_goes_on() {
        let text = format!("{}\n{{\"bootstrap\": \n{STORY}", STORY.trim_end());
        let output = run(&text, true);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("{\"error\":\"line 2: invalid JSON"),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with('['));
    }

    #[test]
    fn rejected_step_prints_the_error_and_keeps_the_state() {
        let trace = r#"{"bootstrap": {"session_cache_enabled": true, "session_cache_ttl_seconds": 60},
            "steps": [{"now": "2026-04-27T16:00:00Z", "event": {"type": "jail_activated"}},
                      {"now": "2026-04-27T16:00:01Z", "event": {"type": "activation_cleared"}}]}"#
            .replace('\n', " ");
        let timeline = run(&trace, false);
        assert!(
            timeline.contains("rejected  event.jail_name: missing; expected a string (state unchanged)"),
            "{timeline}"
        );
        let json: Vec<Value> = serde_json::from_str(run(&trace, true).trim()).unwrap();
        assert_eq!(json[0]["state"]["revision"], 0);
        assert_eq!(json[1]["state"]["revision"], 1);
    }

    #[test]
    fn usage_errors_are_reported() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["play"])).is_err());
        assert!(parse_args(&args(&["replay", "--yaml"])).is_err());
        assert!(parse_args(&args(&["replay", "a", "b"])).is_err());
        assert!(matches!(
            parse_args(&args(&["replay", "-", "--json"])),
            Ok(Some(Options {
                input: Input::Stdin,
                json: true
            }))
        ));
        assert!(matches!(
            parse_args(&args(&["replay"])),
            Ok(Some(Options {
                input: Input::Story,
                json: false
            }))
        ));
    }
}
