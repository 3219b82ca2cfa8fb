//! The C ABI of BanGUI's runtime-state machine: `libbangui_state` and the
//! header `include/bangui_state.h` (generated from this file by cbindgen).
//!
//! This crate is conversion and error mapping only; every rule lives in
//! `bangui-state-core`. The style is rustls-ffi's:
//!
//! - every function returns a [`bangui_result`] code (or, for the few that
//!   cannot fail, a plain value) and writes its outputs only on success;
//! - every export runs inside one panic boundary ([`boundary`]): a panic
//!   becomes [`bangui_result::Panic`], never an unwind into C;
//! - NULL pointers and invalid UTF-8 are errors, never crashes or asserts;
//! - the last error's full message is kept per thread
//!   ([`bangui_last_error_message`], [`bangui_last_error_copy`]);
//! - each owned type has one NULL-tolerant free function.
//!
//! A [`bangui_machine`] holds its state in a `Mutex`, so any number of threads
//! may call one handle at once; a poisoned mutex (a panic while it was held)
//! is reported as [`bangui_result::Poisoned`], never as a panic.
#![allow(non_camel_case_types)]

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, MutexGuard};

use bangui_state_core::{Error, ErrorKind, Event, Instant, ProbeTransition, Settings, State};

/// The result of every fallible function. `BANGUI_RESULT_OK` is 0; every
/// other code means the call failed, wrote none of its outputs, changed no
/// state, and left a message for `bangui_last_error_message()`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum bangui_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// A JSON argument was not JSON at all (syntax error, truncated text).
    InvalidJson = 3,
    /// An event was malformed: unknown `type`, a missing or mistyped field.
    InvalidEvent = 4,
    /// Bootstrap settings were malformed.
    InvalidSettings = 5,
    /// A state to restore was malformed or inconsistent.
    InvalidState = 6,
    /// A state to restore names a `schema_version` this build does not know.
    UnknownSchemaVersion = 7,
    /// A `now` (or an RFC 3339 text) was not a valid instant.
    InvalidInstant = 8,
    /// The machine's revision is at its maximum; it cannot count another event.
    RevisionExhausted = 9,
    /// A previous call panicked while holding this machine's lock; the
    /// machine is unusable: free it and restore from a saved state.
    Poisoned = 10,
    /// The library panicked (a bug): the call was abandoned.
    Panic = 11,
    /// A caller's buffer is too small for the output.
    InsufficientBuffer = 12,
    /// An error this version of the binding has no code for.
    OtherError = 13,
}

/// `bangui_probe_report.logs` bit: info `fail2ban_came_online` {version}.
pub const BANGUI_LOG_FAIL2BAN_CAME_ONLINE: u32 = 1;
/// `bangui_probe_report.logs` bit: info `pending_recovery_resolved` {jail}.
pub const BANGUI_LOG_PENDING_RECOVERY_RESOLVED: u32 = 2;
/// `bangui_probe_report.logs` bit: warning `fail2ban_went_offline` {}.
pub const BANGUI_LOG_FAIL2BAN_WENT_OFFLINE: u32 = 4;
/// `bangui_probe_report.logs` bit: warning `activation_crash_detected`
/// {jail, seconds_since_activation}.
pub const BANGUI_LOG_ACTIVATION_CRASH_DETECTED: u32 = 8;
/// `bangui_probe_report.logs` bit: debug `health_check_complete`
/// {online, version, active_jails}; always set after a successful probe.
pub const BANGUI_LOG_HEALTH_CHECK_COMPLETE: u32 = 16;

/// What a fast-path health probe did. Plain data, owned by the caller.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct bangui_probe_report {
    /// The seed's log events this probe emitted: a bit set of `BANGUI_LOG_*`.
    /// Their order, when several are set, is the order of the bits (lowest
    /// first), which is the order of the effects.
    pub logs: u32,
    /// `seconds_since_activation` of `activation_crash_detected` when that bit
    /// is set, else 0.
    pub seconds_since_activation: f64,
    /// The machine's revision right after this probe.
    pub revision: u64,
}

/// A runtime-state machine. Opaque; create it with `bangui_machine_new` or
/// `bangui_machine_restore`, free it with `bangui_machine_free`.
///
/// Thread safety: every function taking a `const bangui_machine *` may be
/// called from any number of threads at once on the same handle; calls are
/// serialised by a mutex inside the handle, so each step sees the state the
/// previous one left. Only `bangui_machine_free` must not race with other
/// calls on the same handle.
pub struct bangui_machine {
    state: Mutex<State>,
}

impl bangui_machine {
    fn lock(&self) -> Result<MutexGuard<'_, State>, Failure> {
        self.state.lock().map_err(|_| {
            Failure::new(
                bangui_result::Poisoned,
                "machine: unusable, a previous call panicked while holding it; \
                 free it and restore it from a saved state"
                    .into(),
            )
        })
    }
}

/// Why a call failed: the code, and the message for the last-error slot.
#[derive(Debug)]
struct Failure {
    code: bangui_result,
    message: String,
}

impl Failure {
    fn new(code: bangui_result, message: String) -> Self {
        Failure { code, message }
    }

    fn null(argument: &str) -> Self {
        Failure::new(
            bangui_result::NullArgument,
            format!("{argument}: must not be NULL"),
        )
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        let code = match error.kind() {
            ErrorKind::InvalidJson => bangui_result::InvalidJson,
            ErrorKind::InvalidEvent => bangui_result::InvalidEvent,
            ErrorKind::InvalidSettings => bangui_result::InvalidSettings,
            ErrorKind::InvalidState => bangui_result::InvalidState,
            ErrorKind::UnknownSchemaVersion => bangui_result::UnknownSchemaVersion,
            ErrorKind::InvalidInstant => bangui_result::InvalidInstant,
            ErrorKind::RevisionExhausted => bangui_result::RevisionExhausted,
            _ => bangui_result::OtherError,
        };
        Failure::new(code, error.to_string())
    }
}

thread_local! {
    /// The last failure's message on this thread; `None` after a success.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

fn set_last_error(message: Option<&str>) {
    let message = message.map(|m| {
        // A message cannot hold a NUL inside a C string: spell it out.
        CString::new(m.replace('\0', "\\0")).unwrap_or_default()
    });
    // `try_with` fails only while the thread is being torn down: nothing to keep then.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = message;
        }
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> Cow<'_, str> {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Cow::Borrowed(s)
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Cow::Borrowed(s)
    } else {
        Cow::Borrowed("(no message)")
    }
}

/// The one panic boundary: runs `body`, records its failure (or clears the
/// last error on success) and turns a panic into [`bangui_result::Panic`].
/// Every fallible export is `boundary("name", || ...)`.
fn boundary(function: &str, body: impl FnOnce() -> Result<(), Failure>) -> bangui_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            set_last_error(None);
            bangui_result::Ok
        }
        Ok(Err(failure)) => {
            set_last_error(Some(&failure.message));
            failure.code
        }
        Err(payload) => {
            let message = format!(
                "{function}: panicked (a bug in bangui_state): {}",
                panic_message(&*payload)
            );
            // Formatting the message cannot panic in practice, but stay inside the boundary.
            let _ = catch_unwind(AssertUnwindSafe(|| set_last_error(Some(&message))));
            bangui_result::Panic
        }
    }
}

/// The panic boundary for the exports that return a plain value.
fn boundary_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Reads a NUL-terminated UTF-8 argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
unsafe fn str_arg<'a>(ptr: *const c_char, argument: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(argument));
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string valid for 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            bangui_result::InvalidUtf8,
            format!("{argument}: invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })
}

/// An optional string argument: NULL means `None`, else as [`str_arg`].
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives `'a`.
unsafe fn optional_str_arg<'a>(ptr: *const c_char, argument: &str) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: non-NULL, and the caller's promise is forwarded.
        unsafe { str_arg(ptr, argument) }.map(Some)
    }
}

/// Borrows the machine behind a handle.
///
/// # Safety
/// `ptr` is NULL or a live handle from `bangui_machine_new`/`_restore` that is
/// not freed during `'a`.
unsafe fn machine_arg<'a>(ptr: *const bangui_machine) -> Result<&'a bangui_machine, Failure> {
    // SAFETY: the caller promises a live handle or NULL; `as_ref` maps NULL to None.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null("machine"))
}

/// Checks an output pointer before any work is done, so a NULL output leaves
/// everything unchanged.
fn out_arg<T>(ptr: *mut T, argument: &str) -> Result<*mut T, Failure> {
    if ptr.is_null() {
        Err(Failure::null(argument))
    } else {
        Ok(ptr)
    }
}

fn instant_arg(now: i64, argument: &str) -> Result<Instant, Failure> {
    Instant::from_unix_micros(now).map_err(|e| {
        let mut failure = Failure::from(e);
        failure.message = format!("{argument}: {}", failure.message);
        failure
    })
}

/// A library-owned C string, for `bangui_string_free`.
fn owned_string(text: String) -> Result<*mut c_char, Failure> {
    CString::new(text).map(CString::into_raw).map_err(|_| {
        Failure::new(
            bangui_result::OtherError,
            "output: contains a NUL byte and cannot be returned as a C string".into(),
        )
    })
}

fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> Result<*mut c_char, Failure> {
    let text = serde_json::to_string(value).map_err(|e| {
        Failure::new(
            bangui_result::OtherError,
            format!("output: cannot serialise: {e}"),
        )
    })?;
    owned_string(text)
}

fn new_handle(state: State) -> *mut bangui_machine {
    Box::into_raw(Box::new(bangui_machine {
        state: Mutex::new(state),
    }))
}

/// The library's version, e.g. `"0.1.0"`.
///
/// Ownership: a static string owned by the library; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn bangui_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"",
        };
    boundary_value(c"".as_ptr(), || VERSION.as_ptr())
}

/// A static name for a result code, e.g. `"BANGUI_RESULT_INVALID_EVENT"`, or
/// `"BANGUI_RESULT_UNKNOWN"` for a value that is no `bangui_result`.
///
/// Ownership: a static string owned by the library; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn bangui_result_name(code: i32) -> *const c_char {
    boundary_value(c"BANGUI_RESULT_UNKNOWN".as_ptr(), || {
        let name: &CStr = match code {
            0 => c"BANGUI_RESULT_OK",
            1 => c"BANGUI_RESULT_NULL_ARGUMENT",
            2 => c"BANGUI_RESULT_INVALID_UTF8",
            3 => c"BANGUI_RESULT_INVALID_JSON",
            4 => c"BANGUI_RESULT_INVALID_EVENT",
            5 => c"BANGUI_RESULT_INVALID_SETTINGS",
            6 => c"BANGUI_RESULT_INVALID_STATE",
            7 => c"BANGUI_RESULT_UNKNOWN_SCHEMA_VERSION",
            8 => c"BANGUI_RESULT_INVALID_INSTANT",
            9 => c"BANGUI_RESULT_REVISION_EXHAUSTED",
            10 => c"BANGUI_RESULT_POISONED",
            11 => c"BANGUI_RESULT_PANIC",
            12 => c"BANGUI_RESULT_INSUFFICIENT_BUFFER",
            13 => c"BANGUI_RESULT_OTHER_ERROR",
            _ => c"BANGUI_RESULT_UNKNOWN",
        };
        name.as_ptr()
    })
}

/// The full message of the last failed call on this thread, e.g.
/// `"event.status.online: expected a boolean, found a string"`, or `""` when
/// the last call succeeded (or none was made).
///
/// Ownership: owned by the library, valid until the next call of another
/// `bangui_` function on this thread; copy it to keep it. Never free it.
/// This function and `bangui_last_error_copy` leave the message in place.
#[unsafe(no_mangle)]
pub extern "C" fn bangui_last_error_message() -> *const c_char {
    boundary_value(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|slot| match &*slot.borrow() {
                // The CString lives in the thread-local until it is replaced by
                // a later call on this thread, which is the documented lifetime.
                Some(message) => message.as_ptr(),
                None => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// Copies the last error's message (see `bangui_last_error_message`) into a
/// caller's buffer, NUL-terminated.
///
/// `buf` (caller-owned, `buf_len` bytes) and `written_out` must not be NULL.
/// On success, `*written_out` is the message length without the NUL. When
/// `buf_len` is less than that length + 1, returns
/// `BANGUI_RESULT_INSUFFICIENT_BUFFER` and writes nothing (not even to
/// `buf`); `bangui_last_error_message()` gives the length with `strlen`.
/// The stored message is not changed by this call, whatever its result.
///
/// # Safety
/// `buf` points to `buf_len` writable bytes; `written_out` to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_last_error_copy(
    buf: *mut c_char,
    buf_len: usize,
    written_out: *mut usize,
) -> bangui_result {
    // Not through `boundary`, which would overwrite the message being copied.
    let result = catch_unwind(AssertUnwindSafe(|| {
        if buf.is_null() || written_out.is_null() {
            return bangui_result::NullArgument;
        }
        let copied = LAST_ERROR.try_with(|slot| {
            let slot = slot.borrow();
            let bytes = slot.as_deref().map(CStr::to_bytes_with_nul).unwrap_or(b"\0");
            if bytes.len() > buf_len {
                return bangui_result::InsufficientBuffer;
            }
            // SAFETY: `buf` has `buf_len >= bytes.len()` writable bytes (caller's
            // promise), and a thread-local cannot overlap the caller's buffer.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, bytes.len()) };
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { written_out.write(bytes.len() - 1) };
            bangui_result::Ok
        });
        copied.unwrap_or(bangui_result::OtherError)
    }));
    result.unwrap_or(bangui_result::Panic)
}

/// Frees a string returned by this library (effects, state or settings JSON).
/// NULL is ignored. Never pass a string the library did not return, nor free
/// one twice.
///
/// # Safety
/// `text` is NULL or a string returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_string_free(text: *mut c_char) {
    boundary_value((), || {
        if !text.is_null() {
            // SAFETY: the caller promises `text` came from `CString::into_raw` here, once.
            drop(unsafe { CString::from_raw(text) });
        }
    })
}

/// Creates a machine from the host's bootstrap settings (a JSON object with at
/// least `session_cache_enabled` and `session_cache_ttl_seconds`): revision 0,
/// fail2ban assumed offline.
///
/// `bootstrap_json` (borrowed, UTF-8, NUL-terminated) and `machine_out` must
/// not be NULL. On success `*machine_out` is a new handle the caller owns and
/// frees with `bangui_machine_free`. On error (`NULL_ARGUMENT`, `INVALID_UTF8`,
/// `INVALID_JSON`, `INVALID_SETTINGS`) `*machine_out` is not written.
///
/// # Safety
/// `bootstrap_json` is NULL or a NUL-terminated string; `machine_out` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_new(
    bootstrap_json: *const c_char,
    machine_out: *mut *mut bangui_machine,
) -> bangui_result {
    boundary("bangui_machine_new", || {
        // SAFETY: forwarded caller promise about `bootstrap_json`.
        let text = unsafe { str_arg(bootstrap_json, "bootstrap_json") }?;
        let out = out_arg(machine_out, "machine_out")?;
        let state = State::from_bootstrap_json(text)?;
        // SAFETY: `out` is non-NULL and writable by the caller's promise.
        unsafe { out.write(new_handle(state)) };
        Ok(())
    })
}

/// Restores a machine from a state's JSON form (as `bangui_machine_state_json`
/// returns it).
///
/// `state_json` (borrowed, UTF-8, NUL-terminated) and `machine_out` must not
/// be NULL. On success `*machine_out` is a new handle the caller owns and frees
/// with `bangui_machine_free`. On error (`NULL_ARGUMENT`, `INVALID_UTF8`,
/// `INVALID_JSON`, `INVALID_STATE`, `UNKNOWN_SCHEMA_VERSION`) `*machine_out` is
/// not written.
///
/// # Safety
/// `state_json` is NULL or a NUL-terminated string; `machine_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_restore(
    state_json: *const c_char,
    machine_out: *mut *mut bangui_machine,
) -> bangui_result {
    boundary("bangui_machine_restore", || {
        // SAFETY: forwarded caller promise about `state_json`.
        let text = unsafe { str_arg(state_json, "state_json") }?;
        let out = out_arg(machine_out, "machine_out")?;
        let state = State::from_json(text)?;
        // SAFETY: `out` is non-NULL and writable by the caller's promise.
        unsafe { out.write(new_handle(state)) };
        Ok(())
    })
}

/// Frees a machine. NULL is ignored. No other call may use the handle during
/// or after this one.
///
/// # Safety
/// `machine` is NULL or a handle from this library, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_free(machine: *mut bangui_machine) {
    boundary_value((), || {
        if !machine.is_null() {
            // SAFETY: the caller promises a live handle from `Box::into_raw`, freed once.
            drop(unsafe { Box::from_raw(machine) });
        }
    })
}

/// Applies one event (JSON, e.g. `{"type": "jail_activated", "jail_name":
/// "sshd"}`) at `now` (Unix microseconds, UTC) and returns the effects as a
/// JSON array, in the order the host must carry them out.
///
/// `machine`, `event_json` (borrowed, UTF-8, NUL-terminated) and
/// `effects_json_out` must not be NULL. On success the revision has gone up
/// by exactly 1 and `*effects_json_out` is a new string the caller owns and
/// frees with `bangui_string_free`. On error (`NULL_ARGUMENT`, `INVALID_UTF8`,
/// `INVALID_JSON`, `INVALID_EVENT`, `INVALID_INSTANT`, `REVISION_EXHAUSTED`,
/// `POISONED`) the state is unchanged and `*effects_json_out` is not written.
///
/// Thread-safe: see `bangui_machine`. The event is parsed before the lock is
/// taken.
///
/// # Safety
/// `machine` is NULL or a live handle; `event_json` is NULL or a
/// NUL-terminated string; `effects_json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_step(
    machine: *const bangui_machine,
    event_json: *const c_char,
    now: i64,
    effects_json_out: *mut *mut c_char,
) -> bangui_result {
    boundary("bangui_machine_step", || {
        // SAFETY: forwarded caller promises.
        let machine = unsafe { machine_arg(machine) }?;
        // SAFETY: forwarded caller promise about `event_json`.
        let text = unsafe { str_arg(event_json, "event_json") }?;
        let out = out_arg(effects_json_out, "effects_json_out")?;
        let event = Event::from_json(text)?;
        let now = instant_arg(now, "now")?;
        let effects = machine.lock()?.apply(event, now)?;
        let json = json_string(&effects)?;
        // SAFETY: `out` is non-NULL and writable by the caller's promise.
        unsafe { out.write(json) };
        Ok(())
    })
}

/// The typed fast path for `health_probe_completed`: the same rule, effects
/// and revision step as stepping `{"type": "health_probe_completed",
/// "status": {"online", "version", "active_jails"}}`, with no JSON built or
/// parsed in the steady state.
///
/// `version` is borrowed UTF-8 or NULL (no version). `machine` and
/// `report_out` must not be NULL. `effects_json_out` is optional: when it is
/// not NULL, on success it receives NULL if the probe only logged
/// `health_check_complete` (the steady state, whose fields are this call's
/// arguments), else the effects JSON, as `bangui_machine_step` would return
/// it, which the caller owns and frees with `bangui_string_free` (it carries
/// the jail names of `pending_recovery_resolved` and
/// `activation_crash_detected`).
///
/// On success `*report_out` says which of the seed's log events happened. On
/// error (`NULL_ARGUMENT`, `INVALID_UTF8`, `INVALID_INSTANT`,
/// `REVISION_EXHAUSTED`, `POISONED`) the state is unchanged and no output is
/// written. Thread-safe: see `bangui_machine`.
///
/// # Safety
/// `machine` is NULL or a live handle; `version` is NULL or a NUL-terminated
/// string; `report_out` and `effects_json_out` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_health_probe(
    machine: *const bangui_machine,
    online: bool,
    version: *const c_char,
    active_jails: u64,
    now: i64,
    report_out: *mut bangui_probe_report,
    effects_json_out: *mut *mut c_char,
) -> bangui_result {
    boundary("bangui_machine_health_probe", || {
        // SAFETY: forwarded caller promises.
        let machine = unsafe { machine_arg(machine) }?;
        // SAFETY: forwarded caller promise about `version`.
        let version = unsafe { optional_str_arg(version, "version") }?;
        let report_ptr = out_arg(report_out, "report_out")?;
        let now = instant_arg(now, "now")?;
        let mut state = machine.lock()?;
        let report = state.health_probe(online, version, active_jails, now)?;
        let mut out = bangui_probe_report {
            logs: BANGUI_LOG_HEALTH_CHECK_COMPLETE,
            seconds_since_activation: 0.0,
            revision: 0,
        };
        match report.transition() {
            ProbeTransition::Unchanged => {}
            ProbeTransition::CameOnline { recovery_resolved } => {
                out.logs |= BANGUI_LOG_FAIL2BAN_CAME_ONLINE;
                if recovery_resolved {
                    out.logs |= BANGUI_LOG_PENDING_RECOVERY_RESOLVED;
                }
            }
            ProbeTransition::WentOffline { crash_detected } => {
                out.logs |= BANGUI_LOG_FAIL2BAN_WENT_OFFLINE;
                if let Some(seconds) = crash_detected {
                    out.logs |= BANGUI_LOG_ACTIVATION_CRASH_DETECTED;
                    out.seconds_since_activation = seconds;
                }
            }
        }
        let effects = if !effects_json_out.is_null() && out.logs != BANGUI_LOG_HEALTH_CHECK_COMPLETE {
            Some(report.effects())
        } else {
            None
        };
        out.revision = state.revision();
        drop(state);
        // The state has changed: from here on nothing may fail except the
        // (practically impossible) serialisation of the effects.
        let json = match effects {
            Some(effects) => json_string(&effects)?,
            None => std::ptr::null_mut(),
        };
        // SAFETY: `report_ptr` is non-NULL and writable by the caller's promise.
        unsafe { report_ptr.write(out) };
        if !effects_json_out.is_null() {
            // SAFETY: non-NULL and writable by the caller's promise.
            unsafe { effects_json_out.write(json) };
        }
        Ok(())
    })
}

/// The effects of a steady-state health probe with these arguments, as JSON:
/// what `bangui_machine_step` returns for such a probe, and what
/// `bangui_machine_health_probe` leaves out (its `effects_json_out` receives
/// NULL when `report.logs` is exactly `BANGUI_LOG_HEALTH_CHECK_COMPLETE`).
/// For a host that called the fast path without effects and wants them
/// afterwards: they depend on the probe's arguments alone. The core computes
/// them with its own rule, on a scratch state; no machine is involved.
///
/// `version` is borrowed UTF-8 or NULL (no version). `effects_json_out` must
/// not be NULL. On success `*effects_json_out` is a new string the caller
/// owns and frees with `bangui_string_free`. On error (`NULL_ARGUMENT`,
/// `INVALID_UTF8`) nothing is written.
///
/// # Safety
/// `version` is NULL or a NUL-terminated string; `effects_json_out` is NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_health_probe_steady_effects_json(
    online: bool,
    version: *const c_char,
    active_jails: u64,
    effects_json_out: *mut *mut c_char,
) -> bangui_result {
    boundary("bangui_health_probe_steady_effects_json", || {
        // SAFETY: forwarded caller promise about `version`.
        let version = unsafe { optional_str_arg(version, "version") }?;
        let out = out_arg(effects_json_out, "effects_json_out")?;
        // The same probe twice on a scratch state: the second one is, by the
        // core's rule, the steady state for these arguments.
        let mut scratch = State::new(Settings::new(false, 0.0)?);
        let now = instant_arg(0, "now")?;
        scratch.health_probe(online, version, active_jails, now)?;
        let report = scratch.health_probe(online, version, active_jails, now)?;
        if report.transition() != ProbeTransition::Unchanged {
            return Err(Failure::new(
                bangui_result::OtherError,
                "bangui_health_probe_steady_effects_json: the repeated probe was not steady".into(),
            ));
        }
        let json = json_string(&report.effects())?;
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { out.write(json) };
        Ok(())
    })
}

/// The machine's state in its JSON form (the contract's state object), to
/// persist or to restore with `bangui_machine_restore`.
///
/// `machine` and `state_json_out` must not be NULL. On success
/// `*state_json_out` is a new string the caller owns and frees with
/// `bangui_string_free`. On error (`NULL_ARGUMENT`, `POISONED`) nothing is
/// written.
///
/// # Safety
/// `machine` is NULL or a live handle; `state_json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_state_json(
    machine: *const bangui_machine,
    state_json_out: *mut *mut c_char,
) -> bangui_result {
    boundary("bangui_machine_state_json", || {
        // SAFETY: forwarded caller promise.
        let machine = unsafe { machine_arg(machine) }?;
        let out = out_arg(state_json_out, "state_json_out")?;
        let json = machine.lock()?.to_json();
        let json = owned_string(json)?;
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { out.write(json) };
        Ok(())
    })
}

/// How many events the machine has accepted since it was new.
///
/// `machine` and `revision_out` must not be NULL. On error (`NULL_ARGUMENT`,
/// `POISONED`) nothing is written.
///
/// # Safety
/// `machine` is NULL or a live handle; `revision_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_revision(
    machine: *const bangui_machine,
    revision_out: *mut u64,
) -> bangui_result {
    boundary("bangui_machine_revision", || {
        // SAFETY: forwarded caller promise.
        let machine = unsafe { machine_arg(machine) }?;
        let out = out_arg(revision_out, "revision_out")?;
        let revision = machine.lock()?.revision();
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { out.write(revision) };
        Ok(())
    })
}

/// The earliest instant, not before `now`, at which time alone changes how an
/// event would be handled (the crash window closing, a backend probe in
/// flight going stale), so a host can sleep until then.
///
/// `machine`, `has_deadline_out` and `deadline_out` must not be NULL. On
/// success `*has_deadline_out` says whether there is such an instant, and
/// `*deadline_out` is it in Unix microseconds (0 when there is none). On error
/// (`NULL_ARGUMENT`, `INVALID_INSTANT`, `POISONED`) nothing is written.
///
/// # Safety
/// `machine` is NULL or a live handle; the outputs are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_next_deadline(
    machine: *const bangui_machine,
    now: i64,
    has_deadline_out: *mut bool,
    deadline_out: *mut i64,
) -> bangui_result {
    boundary("bangui_machine_next_deadline", || {
        // SAFETY: forwarded caller promise.
        let machine = unsafe { machine_arg(machine) }?;
        let has_out = out_arg(has_deadline_out, "has_deadline_out")?;
        let at_out = out_arg(deadline_out, "deadline_out")?;
        let now = instant_arg(now, "now")?;
        let deadline = machine.lock()?.next_deadline(now);
        // SAFETY: both non-NULL and writable by the caller's promise.
        unsafe {
            has_out.write(deadline.is_some());
            at_out.write(deadline.map_or(0, Instant::unix_micros));
        }
        Ok(())
    })
}

/// The effective settings (the runtime settings if set, else the bootstrap
/// settings) as a JSON object, every key the host gave included.
///
/// `machine` and `settings_json_out` must not be NULL. On success
/// `*settings_json_out` is a new string the caller owns and frees with
/// `bangui_string_free`. On error (`NULL_ARGUMENT`, `POISONED`) nothing is
/// written.
///
/// # Safety
/// `machine` is NULL or a live handle; `settings_json_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_machine_effective_settings_json(
    machine: *const bangui_machine,
    settings_json_out: *mut *mut c_char,
) -> bangui_result {
    boundary("bangui_machine_effective_settings_json", || {
        // SAFETY: forwarded caller promise.
        let machine = unsafe { machine_arg(machine) }?;
        let out = out_arg(settings_json_out, "settings_json_out")?;
        let json = {
            let state = machine.lock()?;
            serde_json::to_string(state.effective_settings())
        };
        let json = json.map_err(|e| {
            Failure::new(
                bangui_result::OtherError,
                format!("output: cannot serialise: {e}"),
            )
        })?;
        let json = owned_string(json)?;
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { out.write(json) };
        Ok(())
    })
}

/// Parses an RFC 3339 instant (any offset; finer than a microsecond is
/// truncated) into Unix microseconds, as the core reads `now` in traces.
///
/// `text` (borrowed, UTF-8, NUL-terminated) and `unix_micros_out` must not be
/// NULL. On error (`NULL_ARGUMENT`, `INVALID_UTF8`, `INVALID_INSTANT`) nothing
/// is written.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string; `unix_micros_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bangui_instant_parse_rfc3339(
    text: *const c_char,
    unix_micros_out: *mut i64,
) -> bangui_result {
    boundary("bangui_instant_parse_rfc3339", || {
        // SAFETY: forwarded caller promise.
        let text = unsafe { str_arg(text, "text") }?;
        let out = out_arg(unix_micros_out, "unix_micros_out")?;
        let instant = Instant::parse_rfc3339(text)?;
        // SAFETY: non-NULL and writable by the caller's promise.
        unsafe { out.write(instant.unix_micros()) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;

    fn last_error() -> String {
        // SAFETY: the library returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(bangui_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    fn machine() -> *mut bangui_machine {
        let mut m = ptr::null_mut();
        let bootstrap = c"{\"session_cache_enabled\": true, \"session_cache_ttl_seconds\": 60}";
        // SAFETY: valid arguments.
        assert_eq!(
            unsafe { bangui_machine_new(bootstrap.as_ptr(), &mut m) },
            bangui_result::Ok
        );
        m
    }

    #[test]
    fn a_panic_inside_the_boundary_becomes_the_panic_code_with_a_message() {
        let code = boundary("test_fn", || panic!("boom"));
        assert_eq!(code, bangui_result::Panic);
        assert!(last_error().contains("test_fn: panicked"), "{}", last_error());
        assert!(last_error().contains("boom"));
    }

    #[test]
    fn a_poisoned_machine_reports_poisoned_instead_of_panicking() {
        let m = machine();
        // SAFETY: `m` is live until freed below.
        let handle = unsafe { &*m };
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = handle.state.lock().unwrap();
                panic!("poison the lock");
            })
            .join()
        });
        let mut revision = 0;
        // SAFETY: valid arguments.
        assert_eq!(
            unsafe { bangui_machine_revision(m, &mut revision) },
            bangui_result::Poisoned
        );
        assert!(last_error().contains("unusable"), "{}", last_error());
        let mut out = ptr::null_mut();
        // SAFETY: valid arguments.
        let code =
            unsafe { bangui_machine_step(m, c"{\"type\": \"activation_cleared\"}".as_ptr(), 0, &mut out) };
        assert_eq!(code, bangui_result::Poisoned);
        assert!(out.is_null());
        // SAFETY: `m` is a live handle, freed once.
        unsafe { bangui_machine_free(m) };
    }

    #[test]
    fn success_clears_the_last_error() {
        let mut m = ptr::null_mut();
        // SAFETY: NULL text is an error, not UB.
        assert_eq!(
            unsafe { bangui_machine_new(ptr::null(), &mut m) },
            bangui_result::NullArgument
        );
        assert_eq!(last_error(), "bootstrap_json: must not be NULL");
        let m = machine();
        assert_eq!(last_error(), "");
        // SAFETY: live handle.
        unsafe { bangui_machine_free(m) };
    }

    #[test]
    fn result_names_match_the_enum() {
        for (code, name) in [
            (bangui_result::Ok, "BANGUI_RESULT_OK"),
            (bangui_result::InvalidUtf8, "BANGUI_RESULT_INVALID_UTF8"),
            (bangui_result::OtherError, "BANGUI_RESULT_OTHER_ERROR"),
        ] {
            // SAFETY: static strings.
            let got = unsafe { CStr::from_ptr(bangui_result_name(code as i32)) };
            assert_eq!(got.to_str().unwrap(), name);
        }
    }
}
