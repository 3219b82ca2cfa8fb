//! The CLI's exit statuses: non-zero only for unreadable input or bad usage.

use std::io::Write;
use std::process::{Command, Stdio};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bangui-state"))
}

#[test]
fn no_file_replays_the_bundled_scenario() {
    let output = cli().arg("replay").output().unwrap();
    assert!(output.status.success());
    let timeline = String::from_utf8(output.stdout).unwrap();
    assert!(timeline.contains("activation_crash_detected"), "{timeline}");
}

#[test]
fn an_unreadable_file_exits_1_with_a_message() {
    let output = cli()
        .args(["replay", "/nonexistent/traces.jsonl"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("cannot read /nonexistent/traces.jsonl"),
        "{stderr}"
    );
}

#[test]
fn bad_usage_exits_2_with_the_usage() {
    for args in [
        &["replay", "--yaml"][..],
        &["frobnicate"],
        &[],
        &["help", "frobnicate"],
        &["replay", "a", "b"],
    ] {
        let output = cli().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8(output.stderr)
                .unwrap()
                .contains("usage: bangui-state replay [FILE|-] [--json]")
        );
    }
}

#[test]
fn malformed_lines_from_stdin_are_reported_and_exit_0() {
    let mut child = cli()
        .args(["replay", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let input = "not json\n{\"bootstrap\": {\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 1}, \"steps\": []}\n";
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "[{\"error\":\"line 1, column 2: invalid JSON: expected a value such as true, false or null\"}]",
            "[]"
        ]
    );
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("line 1, column 2: invalid JSON")
    );
}
