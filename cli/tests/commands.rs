//! The commands as a user runs them: help, example, replay from files and
//! standard input, with bytes and file names that are not UTF-8.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bangui-state"))
}

fn run(args: &[&str]) -> Output {
    cli().args(args).output().unwrap()
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = cli()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A fresh directory of this test's own under cargo's scratch directory.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_is_a_command_and_each_help_is_its_own() {
    let general = stdout(&run(&["help"]));
    assert_eq!(general, stdout(&run(&["--help"])));
    assert_eq!(general, stdout(&run(&["-h"])));
    assert!(general.contains("bangui-state replay [FILE|-] [--json]"));
    assert!(general.contains("exit status:"));
    let replay = stdout(&run(&["replay", "--help"]));
    assert_ne!(replay, general);
    assert_eq!(replay, stdout(&run(&["help", "replay"])));
    for topic in [
        "INPUT: one trace per line",
        "jail_activated",
        "backend_capability_reset",
        "OUTPUT, --json: exactly one line per trace line",
        "[{\"error\": \"line N: MESSAGE\"}]",
        "bangui-state example > story.jsonl",
        "tests/vectors/*.jsonl",
        "exit status:",
    ] {
        assert!(replay.contains(topic), "{topic:?} missing from:\n{replay}");
    }
    assert!(stdout(&run(&["help", "example"])).starts_with("usage: bangui-state example"));
}

#[test]
fn the_example_is_the_bundled_trace_and_replays_as_by_default() {
    let example = stdout(&run(&["example"]));
    assert_eq!(example.lines().count(), 1);
    let from_stdin = stdout(&run_with_stdin(&["replay", "-"], example.as_bytes()));
    let bundled = stdout(&run(&["replay"]));
    // The same timeline; only the header's source differs.
    assert_eq!(
        from_stdin.replacen("standard input", "X", 1),
        bundled.replacen("the bundled example ('bangui-state example' prints it)", "X", 1)
    );
}

#[test]
fn one_invalid_utf8_byte_is_reported_on_its_line_and_the_replay_goes_on() {
    let example = stdout(&run(&["example"]));
    let mut input = example.clone().into_bytes();
    input.extend_from_slice(b"{\"name\": \"\xfe\"}\n");
    input.extend_from_slice(example.as_bytes());
    let output = run_with_stdin(&["replay", "-", "--json"], &input);
    let json = stdout(&output);
    let lines: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[1],
        serde_json::json!([{"error": "line 2, column 11: invalid UTF-8 (byte 0xfe)"}])
    );
    assert_eq!(lines[0], lines[2]);
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "bangui-state: line 2, column 11: invalid UTF-8 (byte 0xfe)\n"
    );
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_read_and_named() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let dir = scratch("non-utf8-name");
    let name = OsStr::from_bytes(b"traces-\xff.jsonl");
    std::fs::write(dir.join(name), stdout(&run(&["example"]))).unwrap();
    let output = cli().arg("replay").arg(dir.join(name)).output().unwrap();
    let timeline = stdout(&output);
    assert!(timeline.starts_with("trace at line 1 of "), "{timeline}");
    assert!(
        timeline.contains("traces-\u{fffd}.jsonl: BanGUI's story"),
        "{timeline}"
    );

    let missing = cli()
        .arg("replay")
        .arg(dir.join(OsStr::from_bytes(b"gone-\xff")))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("cannot read ")
    );

    let option = cli()
        .arg("replay")
        .arg(OsStr::from_bytes(b"--\xff"))
        .output()
        .unwrap();
    assert_eq!(option.status.code(), Some(2));
}
