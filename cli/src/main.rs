//! `bangui-state`: replays BanGUI runtime-state traces through the core.
//!
//! ```text
//! bangui-state replay [FILE|-] [--json]
//! bangui-state example
//! bangui-state help [COMMAND]
//! ```
//!
//! Without a file, `replay` replays the bundled example. `--json` prints the
//! contract's machine-readable output: exactly one line per trace line, always
//! a JSON array (`bangui-state help replay` documents every shape).

mod help;
mod timeline;

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bangui_state_core::{ErrorKind, Trace, syntax_error_words};
use serde_json::Value;

/// The bundled example: BanGUI's crash-and-recovery story.
const STORY: &str = include_str!("story.jsonl");

const SHORT_USAGE: &str = "\
usage: bangui-state replay [FILE|-] [--json]
       bangui-state example
       bangui-state help [COMMAND]
run 'bangui-state help' for more";

#[derive(Debug, PartialEq)]
enum Topic {
    General,
    Replay,
    Example,
}

#[derive(Debug, PartialEq)]
enum Input {
    Example,
    Stdin,
    File(PathBuf),
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Example => f.write_str("the bundled example ('bangui-state example' prints it)"),
            Input::Stdin => f.write_str("standard input"),
            Input::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Help(Topic),
    Version,
    Example,
    Replay { input: Input, json: bool },
}

/// Reads the arguments as the OS gives them: a file name need not be UTF-8.
fn parse_args(args: &[OsString]) -> Result<Command, String> {
    let mut args = args.iter();
    let Some(command) = args.next() else {
        return Err("missing command".into());
    };
    let rest: Vec<&OsString> = args.collect();
    let is_help = |arg: &&OsString| *arg == "-h" || *arg == "--help";
    match command.to_str() {
        Some("-h" | "--help") => Ok(Command::Help(Topic::General)),
        Some("-V" | "--version") => Ok(Command::Version),
        Some("help") => match rest.as_slice() {
            [] => Ok(Command::Help(Topic::General)),
            [topic] => match topic.to_str() {
                Some("replay") => Ok(Command::Help(Topic::Replay)),
                Some("example") => Ok(Command::Help(Topic::Example)),
                Some("help") => Ok(Command::Help(Topic::General)),
                _ => Err(format!(
                    "no help for {topic:?}: the commands are replay, example and help"
                )),
            },
            [_, extra, ..] => Err(format!("unexpected argument {extra:?}")),
        },
        Some("example") => match rest.as_slice() {
            [] => Ok(Command::Example),
            [arg] if is_help(arg) => Ok(Command::Help(Topic::Example)),
            [extra, ..] => Err(format!("unexpected argument {extra:?}: example takes none")),
        },
        Some("replay") => {
            if rest.iter().any(is_help) {
                return Ok(Command::Help(Topic::Replay));
            }
            let mut input = None;
            let mut json = false;
            for arg in rest {
                if arg == "--json" {
                    json = true;
                } else if arg.to_string_lossy().starts_with('-') && arg != "-" {
                    return Err(format!("unknown option {arg:?}"));
                } else if input.is_some() {
                    return Err(format!("unexpected argument {arg:?}: give at most one FILE"));
                } else if arg == "-" {
                    input = Some(Input::Stdin);
                } else {
                    input = Some(Input::File(PathBuf::from(arg)));
                }
            }
            Ok(Command::Replay {
                input: input.unwrap_or(Input::Example),
                json,
            })
        }
        _ => Err(format!("unknown command {command:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(problem) => {
            eprintln!("bangui-state: {problem}\n{SHORT_USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut out = io::stdout().lock();
    let written = match command {
        Command::Help(Topic::General) => writeln!(out, "{}", help::general()),
        Command::Help(Topic::Replay) => writeln!(out, "{}", help::replay()),
        Command::Help(Topic::Example) => writeln!(out, "{}", help::example()),
        Command::Version => writeln!(out, "bangui-state {}", env!("CARGO_PKG_VERSION")),
        Command::Example => out.write_all(STORY.as_bytes()),
        Command::Replay { input, json } => {
            let bytes = match read_input(&input) {
                Ok(bytes) => bytes,
                Err(problem) => {
                    eprintln!("bangui-state: {problem}");
                    return ExitCode::from(1);
                }
            };
            replay_all(&bytes, &input, json, &mut out, &mut io::stderr())
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bangui-state: cannot write the output: {e}");
            ExitCode::from(1)
        }
    }
}

/// The input as bytes: invalid UTF-8 is reported per line, not for the whole input.
fn read_input(input: &Input) -> Result<Vec<u8>, String> {
    match input {
        Input::Example => Ok(STORY.as_bytes().to_vec()),
        Input::Stdin => {
            let mut bytes = Vec::new();
            io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(bytes)
        }
        Input::File(path) => std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
    }
}

/// Why a line is not a trace, located once: its line number, and the column
/// (bytes, from 1) when known.
struct LineError {
    line: usize,
    column: Option<usize>,
    message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "line {}, column {column}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Reads one line as a trace; the core decides what a trace is.
fn read_trace(line: usize, bytes: &[u8]) -> Result<Trace, LineError> {
    let text = std::str::from_utf8(bytes).map_err(|e| LineError {
        line,
        column: Some(e.valid_up_to() + 1),
        message: format!("invalid UTF-8 (byte 0x{:02x})", bytes[e.valid_up_to()]),
    })?;
    match Trace::from_json(text) {
        Ok(trace) => Ok(trace),
        Err(error) => Err(match serde_json::from_str::<Value>(text) {
            // serde_json's message ends "at line 1 column C": the line is the
            // file's, given once, and the column is kept.
            Err(syntax) if error.kind() == ErrorKind::InvalidJson => LineError {
                line,
                column: Some(syntax.column()),
                message: format!("invalid JSON: {}", syntax_error_words(&syntax)),
            },
            _ => LineError {
                line,
                column: None,
                message: error.to_string(),
            },
        }),
    }
}

/// Replays every non-blank line. A line that is not a trace is reported once,
/// in place (and, with `--json`, on `errors` too), and the replay goes on.
fn replay_all(
    bytes: &[u8],
    input: &Input,
    json: bool,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> io::Result<()> {
    let mut traces = 0;
    let mut steps = 0;
    let mut rejected = 0;
    let mut not_traces = 0;
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line_number = index + 1;
        if !json && traces + not_traces > 0 {
            writeln!(out)?;
        }
        let trace = match read_trace(line_number, line) {
            Ok(read) => read,
            Err(problem) => {
                not_traces += 1;
                if json {
                    writeln!(out, "{}", serde_json::json!([{ "error": problem.to_string() }]))?;
                    writeln!(errors, "bangui-state: {problem}")?;
                } else {
                    writeln!(out, "{problem} (not a trace, skipped)")?;
                }
                continue;
            }
        };
        let outputs = trace.replay();
        traces += 1;
        steps += outputs.len();
        rejected += outputs.iter().filter(|o| o.result.is_err()).count();
        if json {
            writeln!(out, "{}", serde_json::to_string(&outputs)?)?;
        } else {
            let title = format!("trace at line {line_number} of {input}");
            timeline::print(&title, &trace, &outputs, out)?;
        }
    }
    if !json && traces + not_traces > 1 {
        writeln!(
            out,
            "\nreplayed {} ({}, {rejected} rejected); {}",
            counted(traces, "trace", "traces"),
            counted(steps, "step", "steps"),
            match not_traces {
                1 => "1 line was not a trace".to_string(),
                n => format!("{n} lines were not traces"),
            }
        )?;
    }
    Ok(())
}

/// "1 trace", "2 traces".
fn counted(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], json: bool) -> (String, String) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        replay_all(input, &Input::Stdin, json, &mut out, &mut errors).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(errors).unwrap(),
        )
    }

    const REJECTED: &str = r#"{"bootstrap": {"session_cache_enabled": true, "session_cache_ttl_seconds": 60}, "steps": [{"now": "2026-04-27T16:00:00Z", "event": {"type": "jail_activated", "jail_name": "sshd"}}, {"now": "2026-04-27T16:00:10Z", "event": {"type": "jail_activated"}}]}"#;

    #[test]
    fn bundled_story_tells_the_crash_and_recovery() {
        let (timeline, _) = run(STORY.as_bytes(), false);
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
    fn the_header_names_the_line_and_its_source() {
        let mut out = Vec::new();
        replay_all(
            STORY.as_bytes(),
            &Input::Example,
            false,
            &mut out,
            &mut io::sink(),
        )
        .unwrap();
        let timeline = String::from_utf8(out).unwrap();
        assert!(
            timeline.starts_with(
                "trace at line 1 of the bundled example ('bangui-state example' prints it): BanGUI's story"
            ),
            "{timeline}"
        );
        let mut out = Vec::new();
        let file = Input::File(PathBuf::from("traces/today.jsonl"));
        replay_all(
            format!("\n{STORY}").as_bytes(),
            &file,
            false,
            &mut out,
            &mut io::sink(),
        )
        .unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("trace at line 2 of traces/today.jsonl: ")
        );
    }

    #[test]
    fn every_deadline_says_what_it_is() {
        let (timeline, _) = run(STORY.as_bytes(), false);
        let deadlines: Vec<&str> = timeline.lines().filter(|l| l.contains("deadline  ")).collect();
        assert_eq!(deadlines.len(), 5, "{timeline}");
        assert!(deadlines[0].ends_with(
            "(in 60 s): the 60 s crash window after activating sshd closes; a crash detected later is not blamed on it"
        ));
        assert!(deadlines[3].ends_with(
            "(in 30 s): the backend probe in flight goes stale (30 s); a request then starts a new one"
        ));
    }

    #[test]
    fn the_timeline_ends_with_a_summary() {
        let (timeline, _) = run(STORY.as_bytes(), false);
        let summary = &timeline[timeline.find("\n  summary\n").expect("a summary")..];
        assert_eq!(
            summary.trim().lines().map(str::trim).collect::<Vec<_>>(),
            [
                "summary",
                "steps     8 (8 accepted, 0 rejected)",
                "happened  fail2ban_came_online, fail2ban_went_offline, activation_crash_detected, \
                 fail2ban_came_online, pending_recovery_resolved",
                "debug     4 log lines",
                "host did  backend probe run, session cache replaced (no_op)",
                "end       fail2ban online (version 1.1.0, 3 active jails); session cache no_op; \
                 pending recovery for sshd: recovered; backend capability supported: true; revision 8",
            ]
        );
    }

    #[test]
    fn a_rejected_step_keeps_its_time_and_deadline() {
        let (timeline, _) = run(REJECTED.as_bytes(), false);
        let step = &timeline[timeline.find("step 2").unwrap() - 30..];
        assert!(
            step.contains(
                "2026-04-27T16:00:10.000000Z  step 2  (invalid event) {\"type\":\"jail_activated\"}"
            ),
            "{timeline}"
        );
        assert!(step.contains("rejected  event.jail_name: missing; expected a string (state unchanged)"));
        assert!(
            step.contains("deadline  2026-04-27T16:01:00.000000Z (in 50 s): the 60 s crash window"),
            "{timeline}"
        );
        assert!(!timeline.contains("(invalid time)"));
        let (json, _) = run(REJECTED.as_bytes(), true);
        let json: Vec<Value> = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(json[1]["state"]["revision"], 1);
        assert!(json[1]["error"].is_string());
    }

    #[test]
    fn the_start_line_describes_the_initial_state_bootstrap_or_saved() {
        let (timeline, _) = run(STORY.as_bytes(), false);
        assert!(timeline.contains("\n  start: fail2ban offline; session cache in_memory; revision 0\n"));
        let (json, _) = run(STORY.as_bytes(), true);
        let steps: Vec<Value> = serde_json::from_str(json.trim()).unwrap();
        let saved = serde_json::json!({
            "state": steps[3]["state"],
            "steps": [{"now": "2026-04-27T16:44:00Z", "event": {"type": "pending_recovery_cleared"}}],
        });
        let (timeline, _) = run(saved.to_string().as_bytes(), false);
        assert!(
            timeline.contains(
                "\n  start: fail2ban online (version 1.1.0, 3 active jails); session cache in_memory; \
                 pending recovery for sshd: recovered; revision 4\n"
            ),
            "{timeline}"
        );
        assert!(timeline.contains("changed   pending_recovery: {"), "{timeline}");
    }

    #[test]
    fn json_output_is_one_array_per_trace_line() {
        let text = format!("{STORY}\n\n{STORY}");
        let (output, _) = run(text.as_bytes(), true);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), 2);
        let steps: Vec<Value> = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(steps.len(), 8);
        assert_eq!(steps[7]["state"]["revision"], 8);
    }

    /// Every kind of line that is not a trace: one array with one `error`
    /// element, naming the line once; the message also on standard error.
    #[test]
    fn a_line_that_is_not_a_trace_is_one_array_with_one_error() {
        let input = [
            &b"{\"bootstrap\": "[..],
            b"{\"bootstrap\": {\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 1}, \"steps\": \"no\"}",
            b"[1, 2]",
            b"{\"steps\": [], \"name\": \"caf\xc3\xa9 \xff\"}",
            STORY.trim_end().as_bytes(),
        ]
        .join(&b'\n');
        let (output, errors) = run(&input, true);
        let lines: Vec<Value> = output.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let messages: Vec<&str> = lines[..4]
            .iter()
            .map(|l| l[0]["error"].as_str().unwrap())
            .collect();
        assert_eq!(
            messages,
            [
                "line 1, column 14: invalid JSON: EOF while parsing a value",
                "line 2: steps: expected an array of steps, found a string",
                "line 3: expected an object, found an array",
                "line 4, column 30: invalid UTF-8 (byte 0xff)",
            ]
        );
        for line in &lines[..4] {
            assert_eq!(line.as_array().unwrap().len(), 1);
            assert_eq!(line[0].as_object().unwrap().len(), 1, "{line}");
        }
        assert_eq!(lines[4].as_array().unwrap().len(), 8, "the replay goes on");
        let expected_errors: Vec<String> = messages.iter().map(|m| format!("bangui-state: {m}")).collect();
        assert_eq!(errors.lines().collect::<Vec<_>>(), expected_errors);
    }

    #[test]
    fn a_step_with_a_bad_time_and_a_bad_event_reports_both_and_the_start_shows_the_settings() {
        let input = br#"{"bootstrap": {"session_cache_enabled": true, "session_cache_ttl_seconds": 1, "database_path": "x.db"}, "steps": [{"now": "bad", "event": {"type": "nope"}}]}"#;
        let (timeline, errors) = run(input, false);
        assert_eq!(errors, "");
        assert!(
            timeline.contains(
                "  bootstrap settings: {\"database_path\":\"x.db\",\"session_cache_enabled\":true,\"session_cache_ttl_seconds\":1}"
            ),
            "{timeline}"
        );
        assert!(
            timeline.contains("(invalid time)  step 1  (invalid event) {\"type\":\"nope\"}"),
            "{timeline}"
        );
        assert!(
            timeline.contains("      rejected  now: expected an RFC 3339 instant"),
            "{timeline}"
        );
        assert!(
            timeline.contains("      and       event.type: unknown event type \"nope\""),
            "{timeline}"
        );
    }

    #[test]
    fn json_syntax_errors_say_what_was_expected() {
        for (text, words) in [
            ("trux", "expected a value such as true, false or null"),
            (
                "[1, ?]",
                "expected a value (an object, array, string, number, true, false or null)",
            ),
            ("{1: 2}", "expected a key in double quotes"),
            ("{} x", "unexpected text after the value"),
            ("[1", "EOF while parsing a list"),
        ] {
            let error = serde_json::from_str::<Value>(text).unwrap_err();
            assert_eq!(syntax_error_words(&error), words, "{text}");
        }
    }

    #[test]
    fn the_timeline_reports_a_malformed_line_once_and_goes_on() {
        let input = format!("not json\n?\n{STORY}");
        let mut bytes = input.into_bytes();
        bytes[9] = 0xff; // the second line: one invalid byte
        let (timeline, errors) = run(&bytes, false);
        assert_eq!(errors, "", "the timeline is the one place");
        assert_eq!(
            timeline
                .matches("line 1, column 2: invalid JSON: expected a value such as true, false or null")
                .count(),
            1,
            "{timeline}"
        );
        assert_eq!(
            timeline
                .matches("line 2, column 1: invalid UTF-8 (byte 0xff)")
                .count(),
            1,
            "{timeline}"
        );
        assert!(timeline.contains("trace at line 3 of standard input"));
        assert!(
            timeline
                .trim_end()
                .ends_with("replayed 1 trace (8 steps, 0 rejected); 2 lines were not traces")
        );
    }

    #[test]
    fn crlf_and_blank_lines_are_accepted() {
        let input = format!("\r\n   \n{}\r\n", STORY.trim_end());
        let (output, errors) = run(input.as_bytes(), true);
        assert_eq!(output.lines().count(), 1);
        assert!(output.starts_with('['));
        assert_eq!(errors, "");
    }

    #[test]
    fn arguments() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        let replay = |input, json| Ok(Command::Replay { input, json });
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["play"])).is_err());
        assert!(parse_args(&args(&["replay", "--yaml"])).is_err());
        assert!(parse_args(&args(&["replay", "a", "b"])).is_err());
        assert!(parse_args(&args(&["help", "play"])).is_err());
        assert!(parse_args(&args(&["example", "x"])).is_err());
        assert_eq!(
            parse_args(&args(&["replay", "-", "--json"])),
            replay(Input::Stdin, true)
        );
        assert_eq!(parse_args(&args(&["replay"])), replay(Input::Example, false));
        assert_eq!(
            parse_args(&args(&["replay", "--json", "t.jsonl"])),
            replay(Input::File("t.jsonl".into()), true)
        );
        for general in [&["help"][..], &["--help"], &["-h"], &["help", "help"]] {
            assert_eq!(parse_args(&args(general)), Ok(Command::Help(Topic::General)));
        }
        for replay_help in [
            &["help", "replay"][..],
            &["replay", "--help"],
            &["replay", "x", "-h"],
        ] {
            assert_eq!(parse_args(&args(replay_help)), Ok(Command::Help(Topic::Replay)));
        }
        assert_eq!(parse_args(&args(&["example"])), Ok(Command::Example));
        assert_eq!(parse_args(&args(&["-V"])), Ok(Command::Version));
    }

    #[cfg(unix)]
    #[test]
    fn a_file_name_need_not_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let name = OsString::from_vec(b"traces-\xff.jsonl".to_vec());
        let parsed = parse_args(&[OsString::from("replay"), name.clone()]);
        assert_eq!(
            parsed,
            Ok(Command::Replay {
                input: Input::File(name.into()),
                json: false
            })
        );
    }
}
