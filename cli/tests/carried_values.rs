//! `replay --json` prints values carried through the state as the same JSON
//! value (integers beyond 64 bits digit for digit) and the deepest value the
//! core accepts in a form that reads back; one level deeper is reported on
//! its step, with the state unchanged.

use std::io::Write;
use std::process::{Command, Stdio};

const BIG: &str = "123456789012345678901234567890";

fn replay_json(input: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bangui-state"))
        .args(["replay", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn nested(depth: usize) -> String {
    "[".repeat(depth) + "1" + &"]".repeat(depth)
}

#[test]
fn integers_beyond_64_bits_come_back_digit_for_digit() {
    let trace = format!(
        r#"{{"bootstrap": {{"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "max_id": {BIG}}},
            "steps": [{{"now": "2026-04-27T16:42:00Z", "event": {{"type": "health_probe_completed",
              "status": {{"online": true, "total_bans": -{BIG}, "ratio": 0.1000000000000000000000000001}}}}}}]}}"#
    )
    .replace('\n', " ");
    let output = replay_json(&trace);
    assert!(output.contains(&format!(r#""max_id":{BIG}"#)), "{output}");
    assert!(output.contains(&format!(r#""total_bans":-{BIG}"#)), "{output}");
    assert!(
        output.contains(r#""ratio":0.1000000000000000000000000001"#),
        "{output}"
    );
}

#[test]
fn the_deepest_accepted_value_prints_in_a_form_that_reads_back() {
    let step = |depth: usize| {
        format!(
            r#"{{"now": "2026-04-27T16:42:00Z", "event": {{"type": "health_probe_completed", "status": {{"online": true, "deep": {}}}}}}}"#,
            nested(depth)
        )
    };
    let trace = format!(
        r#"{{"bootstrap": {{"session_cache_enabled": true, "session_cache_ttl_seconds": 60}}, "steps": [{}, {}]}}"#,
        step(100),
        step(101)
    );
    let output = replay_json(&trace);
    let lines: Vec<serde_json::Value> = output.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{output}");
    let steps = lines[0].as_array().unwrap();
    assert_eq!(steps[0]["state"]["revision"], 1);
    assert_eq!(
        steps[0]["state"]["server_status"]["deep"],
        serde_json::from_str::<serde_json::Value>(&nested(100)).unwrap()
    );
    let error = steps[1]["error"].as_str().unwrap();
    assert!(
        error.starts_with("event.status.deep: nested deeper than 100 levels"),
        "{error}"
    );
    assert_eq!(steps[1]["state"], steps[0]["state"]);
}

#[test]
fn the_timeline_shows_a_trace_that_uses_serde_jsons_reserved_number_key() {
    // With exact numbers on, serde_json's own reader takes an object keyed
    // "$serde_json::private::Number" for a number; the timeline must read the
    // trace as the core does, an ordinary key.
    let trace = r#"{"$serde_json::private::Number": "5", "name": "reserved key", "bootstrap": {"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "$serde_json::private::Number": "5"}, "steps": [{"now": "2026-04-27T16:42:00Z", "event": {"type": "jail_activatd", "jail_name": "sshd"}}]}"#;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bangui-state"))
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(trace.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains(": reserved key"), "{text}");
    assert!(
        text.contains(r#"(invalid event) {"jail_name":"sshd","type":"jail_activatd"}"#),
        "{text}"
    );
}
