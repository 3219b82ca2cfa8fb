//! The `c_abi` target: a sequence of C ABI calls, one a line, on up to four
//! machine handles, driven from Rust through the bindings-c crate's
//! `extern "C"` functions exactly as a C host calls them (NUL-terminated
//! bytes, which may be invalid UTF-8; NULL for an empty slot or where a line
//! starts with `!`).
//!
//! ```text
//! new SLOT BOOTSTRAP_JSON        restore SLOT STATE_JSON
//! step SLOT NOW EVENT_JSON       probe SLOT ONLINE JAILS NOW VERSION|-
//! state SLOT  revision SLOT  settings SLOT  deadline SLOT NOW  free SLOT
//! instant TEXT   steady ONLINE JAILS VERSION|-   error BUFLEN   name CODE
//! ```
//!
//! Checked on every call: no panic reaches the boundary (`BANGUI_RESULT_PANIC`
//! is a failure); a failed call writes no output, leaves the machine's state
//! text and revision as they were, and leaves a message; a successful step
//! or probe adds exactly one to the revision; every state text the library
//! returns restores, through the C ABI, to a machine with the same text.

use std::ffi::{CStr, c_char};
use std::ptr;

use bangui_state::*;
use bangui_state_core::{Instant, State};

const SLOTS: usize = 4;

/// An output slot's value before the call: a failed call must leave it.
fn sentinel<T>() -> *mut T {
    ptr::dangling_mut()
}

/// `bytes` as a C string: NUL-terminated, so an inner NUL ends it, as in C.
fn c_string(bytes: &[u8]) -> Vec<u8> {
    let mut text = bytes.to_vec();
    text.push(0);
    text
}

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(bangui_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Takes ownership of a library string: its text, freed.
fn take_string(text: *mut c_char) -> String {
    assert!(!text.is_null(), "a successful call returned a NULL string");
    // SAFETY: a live string returned by the library, freed once, here.
    let owned = unsafe { CStr::from_ptr(text) }
        .to_str()
        .expect("library output is UTF-8")
        .to_owned();
    unsafe { bangui_string_free(text) };
    owned
}

/// Checks a call's result code and the last-error slot.
fn check_code(code: bangui_result, call: &str) -> bool {
    assert_ne!(code, bangui_result::Panic, "{call}: panicked: {}", last_error());
    assert_ne!(
        code,
        bangui_result::Poisoned,
        "{call}: poisoned: {}",
        last_error()
    );
    if code == bangui_result::Ok {
        assert_eq!(last_error(), "", "{call}: a success left an error message");
        true
    } else {
        assert!(
            !last_error().is_empty(),
            "{call}: failed ({code:?}) without a message"
        );
        false
    }
}

/// A machine's state text and revision, through the C ABI.
fn snapshot(machine: *const bangui_machine) -> Option<(String, u64)> {
    if machine.is_null() {
        return None;
    }
    let mut text = sentinel();
    let mut revision = 0;
    // SAFETY: a live handle and writable outputs.
    unsafe {
        assert!(check_code(
            bangui_machine_state_json(machine, &mut text),
            "state_json"
        ));
        assert!(check_code(
            bangui_machine_revision(machine, &mut revision),
            "revision"
        ));
    }
    Some((take_string(text), revision))
}

/// The state text restores, through the C ABI and the core, to the same text.
fn assert_restores(text: &str) {
    let c_text = c_string(text.as_bytes());
    let mut restored = sentinel();
    // SAFETY: a NUL-terminated string and a writable output.
    let code = unsafe { bangui_machine_restore(c_text.as_ptr().cast(), &mut restored) };
    assert!(
        check_code(code, "restore"),
        "a state the library wrote does not restore: {}\n{text}",
        last_error()
    );
    let (again, _) = snapshot(restored).unwrap();
    assert_eq!(again, text, "the restored machine writes other text");
    // SAFETY: a live handle, freed once.
    unsafe { bangui_machine_free(restored) };
    let state = State::from_json(text).expect("the core restores what the C ABI wrote");
    crate::assert_restores(&state);
}

/// Up to four handles; every one is freed when the session ends.
struct Session {
    machines: [*mut bangui_machine; SLOTS],
}

impl Drop for Session {
    fn drop(&mut self) {
        for machine in self.machines {
            // SAFETY: each slot is NULL or a live handle owned here.
            unsafe { bangui_machine_free(machine) };
        }
    }
}

/// Splits off the next space-separated word.
fn word<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let (head, tail) = rest.split_at(end);
    *rest = tail.get(1..).unwrap_or_default();
    head
}

fn number<T: std::str::FromStr + Default>(bytes: &[u8]) -> T {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

impl Session {
    fn slot(&self, bytes: &[u8]) -> usize {
        number::<usize>(bytes) % SLOTS
    }

    fn install(&mut self, slot: usize, machine: *mut bangui_machine) {
        // SAFETY: the slot is NULL or a live handle owned here, replaced now.
        unsafe { bangui_machine_free(self.machines[slot]) };
        self.machines[slot] = machine;
    }

    fn run(&mut self, line: &[u8]) {
        let (null_output, mut rest) = match line.strip_prefix(b"!") {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        let op = word(&mut rest);
        match op {
            b"new" | b"restore" => {
                let slot = self.slot(word(&mut rest));
                let text = c_string(rest);
                let mut machine = sentinel();
                let out = if null_output {
                    ptr::null_mut()
                } else {
                    &mut machine as *mut _
                };
                // SAFETY: a NUL-terminated string; `out` NULL or writable.
                let code = unsafe {
                    if op == b"new" {
                        bangui_machine_new(text.as_ptr().cast(), out)
                    } else {
                        bangui_machine_restore(text.as_ptr().cast(), out)
                    }
                };
                if check_code(code, "new/restore") {
                    let (text, revision) = snapshot(machine).unwrap();
                    if op == b"new" {
                        assert_eq!(revision, 0);
                    }
                    assert_restores(&text);
                    self.install(slot, machine);
                } else {
                    assert_eq!(machine, sentinel(), "a failed new/restore wrote its output");
                }
            }
            b"step" => {
                let machine = self.machines[self.slot(word(&mut rest))];
                let now = number::<i64>(word(&mut rest));
                let event = c_string(rest);
                let before = snapshot(machine);
                let mut effects = sentinel();
                let out = if null_output {
                    ptr::null_mut()
                } else {
                    &mut effects as *mut _
                };
                // SAFETY: NULL or a live handle, a NUL-terminated event, `out` NULL or writable.
                let code = unsafe { bangui_machine_step(machine, event.as_ptr().cast(), now, out) };
                self.after_change(machine, before, check_code(code, "step"));
                if code == bangui_result::Ok {
                    let effects: serde_json::Value = serde_json::from_str(&take_string(effects)).unwrap();
                    assert!(effects.is_array());
                } else {
                    assert_eq!(effects, sentinel(), "a failed step wrote its output");
                }
            }
            b"probe" => {
                let machine = self.machines[self.slot(word(&mut rest))];
                let online = word(&mut rest) == b"1";
                let jails = number::<u64>(word(&mut rest));
                let now = number::<i64>(word(&mut rest));
                let version = (rest != b"-").then(|| c_string(rest));
                let version_ptr = version.as_ref().map_or(ptr::null(), |v| v.as_ptr().cast());
                let before = snapshot(machine);
                let unset = bangui_probe_report {
                    logs: 99,
                    seconds_since_activation: -1.0,
                    revision: 7,
                };
                let mut report = unset;
                let report_out = if null_output {
                    ptr::null_mut()
                } else {
                    &mut report as *mut _
                };
                let mut effects = sentinel();
                // SAFETY: NULL or a live handle; version NULL or NUL-terminated; outputs writable or NULL.
                let code = unsafe {
                    bangui_machine_health_probe(
                        machine,
                        online,
                        version_ptr,
                        jails,
                        now,
                        report_out,
                        &mut effects,
                    )
                };
                self.after_change(machine, before.clone(), check_code(code, "probe"));
                if code == bangui_result::Ok {
                    assert_eq!(report.revision, before.unwrap().1 + 1);
                    assert_ne!(report.logs & BANGUI_LOG_HEALTH_CHECK_COMPLETE, 0);
                    if !effects.is_null() {
                        take_string(effects);
                    }
                } else {
                    assert_eq!(report, unset, "a failed probe wrote its report");
                    assert_eq!(effects, sentinel(), "a failed probe wrote its effects");
                }
            }
            b"state" | b"revision" | b"settings" | b"deadline" => {
                let machine = self.machines[self.slot(word(&mut rest))];
                let now = number::<i64>(word(&mut rest));
                let before = snapshot(machine);
                let mut text = sentinel();
                let mut revision = 12345;
                let (mut has, mut at) = (true, 6789);
                // SAFETY: NULL or a live handle; outputs writable or NULL.
                let code = unsafe {
                    match (op, null_output) {
                        (b"state", false) => bangui_machine_state_json(machine, &mut text),
                        (b"state", true) => bangui_machine_state_json(machine, ptr::null_mut()),
                        (b"settings", false) => bangui_machine_effective_settings_json(machine, &mut text),
                        (b"settings", true) => {
                            bangui_machine_effective_settings_json(machine, ptr::null_mut())
                        }
                        (b"revision", false) => bangui_machine_revision(machine, &mut revision),
                        (b"revision", true) => bangui_machine_revision(machine, ptr::null_mut()),
                        (_, false) => bangui_machine_next_deadline(machine, now, &mut has, &mut at),
                        (_, true) => bangui_machine_next_deadline(machine, now, ptr::null_mut(), &mut at),
                    }
                };
                let ok = check_code(code, "query");
                assert_eq!(snapshot(machine), before, "a query changed the machine");
                match (ok, op) {
                    (true, b"state") => assert_restores(&take_string(text)),
                    (true, b"settings") => {
                        // JSON, and an object (`IgnoredAny`: see `fuzz_trace`).
                        let settings = take_string(text);
                        serde_json::from_str::<serde::de::IgnoredAny>(&settings).unwrap();
                        assert!(settings.starts_with('{'), "{settings}");
                    }
                    (true, b"revision") => assert_eq!(Some(revision), before.map(|b| b.1)),
                    (true, _) => {
                        if has {
                            assert!(at >= now, "a deadline in the past");
                        } else {
                            assert_eq!(at, 0);
                        }
                    }
                    (false, _) => {
                        assert_eq!(
                            (text, revision, has, at),
                            (sentinel(), 12345, true, 6789),
                            "a failed query wrote"
                        );
                    }
                }
            }
            b"free" => {
                let slot = self.slot(word(&mut rest));
                self.install(slot, ptr::null_mut());
            }
            b"instant" => {
                let text = c_string(rest);
                let mut micros = 424242;
                let out = if null_output {
                    ptr::null_mut()
                } else {
                    &mut micros as *mut i64
                };
                // SAFETY: a NUL-terminated string; `out` NULL or writable.
                let code = unsafe { bangui_instant_parse_rfc3339(text.as_ptr().cast(), out) };
                let core = CStr::from_bytes_until_nul(&text)
                    .ok()
                    .and_then(|t| t.to_str().ok())
                    .map(Instant::parse_rfc3339);
                if check_code(code, "instant") {
                    assert_eq!(Some(micros), core.and_then(Result::ok).map(Instant::unix_micros));
                } else {
                    assert_eq!(micros, 424242, "a failed parse wrote its output");
                }
            }
            b"steady" => {
                let online = word(&mut rest) == b"1";
                let jails = number::<u64>(word(&mut rest));
                let version = (rest != b"-").then(|| c_string(rest));
                let version_ptr = version.as_ref().map_or(ptr::null(), |v| v.as_ptr().cast());
                let mut effects = sentinel();
                let out = if null_output {
                    ptr::null_mut()
                } else {
                    &mut effects as *mut _
                };
                // SAFETY: version NULL or NUL-terminated; `out` NULL or writable.
                let code =
                    unsafe { bangui_health_probe_steady_effects_json(online, version_ptr, jails, out) };
                if check_code(code, "steady") {
                    take_string(effects);
                } else {
                    assert_eq!(effects, sentinel());
                }
            }
            b"error" => {
                let length = number::<usize>(word(&mut rest)) % 4096;
                let message = last_error();
                let mut buffer = vec![0x55u8; length];
                let mut written = 31337;
                let buffer_ptr = if null_output {
                    ptr::null_mut()
                } else {
                    buffer.as_mut_ptr().cast()
                };
                // SAFETY: `buffer_ptr` has `length` writable bytes or is NULL.
                let code = unsafe { bangui_last_error_copy(buffer_ptr, length, &mut written) };
                assert_eq!(last_error(), message, "copying the last error changed it");
                match code {
                    bangui_result::Ok => {
                        assert_eq!(written, message.len());
                        assert_eq!(&buffer[..written], message.as_bytes());
                        assert_eq!(buffer[written], 0);
                    }
                    bangui_result::InsufficientBuffer | bangui_result::NullArgument => {
                        assert!(
                            buffer.iter().all(|&b| b == 0x55) && written == 31337,
                            "a failed copy wrote"
                        );
                    }
                    other => panic!("bangui_last_error_copy: {other:?}"),
                }
            }
            b"name" => {
                // SAFETY: a static string for any code.
                let name = unsafe { CStr::from_ptr(bangui_result_name(number::<i32>(rest))) };
                assert!(name.to_bytes().starts_with(b"BANGUI_RESULT_"));
            }
            _ => {}
        }
    }

    /// After a step or probe: accepted, one more revision and a state that
    /// restores; rejected, the machine exactly as it was.
    fn after_change(&self, machine: *const bangui_machine, before: Option<(String, u64)>, ok: bool) {
        let after = snapshot(machine);
        match (ok, &before, &after) {
            (true, Some((_, revision)), Some((text, new_revision))) => {
                assert_eq!(*new_revision, revision + 1, "an accepted step did not add one");
                assert_restores(text);
            }
            (false, _, _) => assert_eq!(after, before, "a rejected step changed the machine"),
            (true, _, _) => panic!("a step on a NULL machine succeeded"),
        }
    }
}

/// Runs every line of `data` as one C ABI call.
pub fn fuzz_c_abi(data: &[u8]) {
    let mut session = Session {
        machines: [ptr::null_mut(); SLOTS],
    };
    for line in data.split(|&b| b == b'\n') {
        session.run(line);
    }
}
