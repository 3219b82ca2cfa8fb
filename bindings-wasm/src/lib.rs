//! BanGUI's runtime state machine for JavaScript: the core crate
//! (`bangui-state-core`) behind wasm-bindgen.
//!
//! This crate is conversion and error mapping only; every rule lives in the
//! core. The package's JavaScript (`npm/glue.js`) checks the machine's
//! handle and reads every input into a plain, bounded copy before calling
//! in, so no caller code runs while a wasm frame is live and no JS exception
//! unwinds through one; errors go back as values (`Result`), thrown by the
//! JavaScript after the call returned. JS values become `serde_json::Value`s
//! (`convert`: bounded in depth, so cyclic input is an error and not a stack
//! overflow, and, as a second line, with every JS operation that can run
//! user code imported with `catch`), then go through the core's `from_value`
//! readers, whose errors name the field path. Outputs leave as JSON text
//! (serde_json's writer, see `to_out`) that the package's JavaScript parses
//! into plain objects. No JSON text comes in, so the module carries no JSON
//! reader (~17 KB; bindings-wasm/README.md, "Size").
//!
//! Why not serde-wasm-bindgen's deserializer for the inputs: it calls
//! `Object.entries` and `in` without `catch`, so a throwing getter or proxy
//! trap unwinds through the wasm frames; that skips Rust's cleanup and leaks
//! the shadow stack, and after enough such calls memory is corrupted
//! (observed: "memory access out of bounds" after 100 000 throwing getters).
//!
//! Errors are thrown as instances of the package's `Error` subclasses: the
//! JavaScript entry points register a factory with [`set_error_factory`]. The
//! thrown error's `message` is the core's `path: message` text, `kind` its
//! [`ErrorKind`](bangui_state_core::ErrorKind) name and `path` the field path.
//!
//! The release build uses `panic = "abort"`, so nothing here may panic on any
//! JS input: there is no `unwrap`, no indexing, and no arithmetic that can
//! overflow on input values.

use core::cell::{Cell, RefCell};
use core::fmt;

/// talc rather than the standard library's dlmalloc: ~6 KB less in the
/// module. wasm-bindgen modules are single-threaded (no `atomics`).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

use bangui_state_core::{self as core_api, ErrorKind, Event, Instant, ProbeTransition, State, Trace};
use js_sys::{Array, Function, Reflect};
use serde::Serialize;
use serde_json::{Map, Number, Value};
use wasm_bindgen::prelude::*;

/// How deep a JS input may nest (objects and arrays), as serde_json's own
/// parser limit: deeper (or cyclic) input is rejected, never recursed into.
pub const MAX_DEPTH: usize = 128;

// ---------------------------------------------------------------------------
// Errors

/// A rejected input, before it becomes a JS `Error`: the core's own error
/// (the binding's conversion errors use the core's kinds too), wrapped only
/// because `From<core::Error> for JsValue` cannot be implemented here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindError(pub core_api::Error);

impl BindError {
    fn new(kind: ErrorKind, path: impl fmt::Display, message: impl Into<String>) -> Self {
        BindError(core_api::Error::new(kind, path, message))
    }
}

impl From<core_api::Error> for BindError {
    fn from(e: core_api::Error) -> Self {
        BindError(e)
    }
}

thread_local! {
    static ERROR_FACTORY: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers `factory(kind, path, message)`, which builds the thrown error
/// (an instance of the package's `Error` subclass for `kind`). Called once by
/// the package's JavaScript entry points; not part of the public API.
#[wasm_bindgen(js_name = "__setErrorFactory")]
pub fn set_error_factory(factory: Function) {
    // `try_with`, not `with`: the slot is a plain static on wasm32 and is
    // never destroyed, and `with`'s panic path would pull `Debug` formatting
    // into the module.
    let _ = ERROR_FACTORY.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(factory);
        }
    });
}

impl From<BindError> for JsValue {
    fn from(e: BindError) -> JsValue {
        let BindError(e) = e;
        let message = e.to_string();
        let made = ERROR_FACTORY.try_with(|slot| {
            let factory = slot.try_borrow().ok()?.clone()?;
            factory
                .call3(
                    &JsValue::NULL,
                    &JsValue::from_str(e.kind().name()),
                    &JsValue::from_str(e.path()),
                    &JsValue::from_str(&message),
                )
                .ok()
        });
        let made = made.ok().flatten();
        // No factory: the raw wasm-bindgen output used without the package's
        // entry points, which always register one. A plain `Error`.
        made.unwrap_or_else(|| js_sys::Error::new(&message).into())
    }
}

type JsResult<T> = Result<T, BindError>;

// ---------------------------------------------------------------------------
// JS value -> serde_json::Value

/// Where a value sits in the input, rendered only when an error needs it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

// JS operations that may run user code (getters, proxy traps) are all
// imported with `catch`: an exception thrown by user code must come back as a
// `Result`, never unwind through wasm frames (which skips Rust's cleanup and
// leaks the shadow stack: after enough of them, memory is corrupted).
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(value: &JsValue) -> Result<bool, JsValue>;
    #[wasm_bindgen(catch, js_namespace = ArrayBuffer, js_name = isView)]
    fn is_array_buffer_view(value: &JsValue) -> Result<bool, JsValue>;
    /// `Date.prototype.getTime.call(value)`: the time of a real `Date` (a
    /// brand check that runs no user code), or a `TypeError`.
    #[wasm_bindgen(catch, js_namespace = ["Date", "prototype", "getTime"], js_name = call)]
    fn date_time(value: &JsValue) -> Result<f64, JsValue>;
}

/// Arrays longer than this are refused instead of filling memory
/// (`new Array(4e9)` is a valid, empty-looking array).
pub const MAX_ARRAY_LENGTH: u32 = 1 << 20;

/// The message of a thrown JS value (an `Error`'s message, or its text).
fn thrown_message(thrown: &JsValue) -> String {
    if let Some(text) = thrown.as_string() {
        return text;
    }
    match Reflect::get(thrown, &JsValue::from_str("message")).map(|m| m.as_string()) {
        Ok(Some(message)) => message,
        _ => String::from("a value without a message was thrown"),
    }
}

/// Converts a JS value to JSON, as `JSON.stringify` would see it but stricter:
/// keys whose value is `undefined` are left out (array slots become `null`);
/// non-finite numbers, functions, symbols, `Date`s, typed arrays, BigInts
/// beyond 64 bits, nesting deeper than [`MAX_DEPTH`] and a getter that throws
/// are errors naming the path.
fn convert(value: &JsValue, path: Path<'_>, depth: usize) -> Result<Value, (String, String)> {
    let fail = |message: String| Err((path.to_string(), message));
    if value.is_null() || value.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(v) = value.as_f64() {
        return if v.fract() == 0.0 && v.abs() <= MAX_SAFE_INTEGER as f64 {
            // A safe integer (-0 included): an exact integer in JSON too.
            Ok(Value::Number((v as i64).into()))
        } else {
            match Number::from_f64(v) {
                Some(n) => Ok(Value::Number(n)),
                None => fail(format!("expected a finite number, found {}", JsNumber(v))),
            }
        };
    }
    if let Some(text) = value.as_string() {
        return Ok(Value::String(text));
    }
    if value.is_bigint() {
        return match i64::try_from(value.clone()) {
            Ok(v) => Ok(Value::Number(v.into())),
            Err(v) => match u64::try_from(v) {
                Ok(v) => Ok(Value::Number(v.into())),
                Err(_) => fail(String::from(
                    "expected a number, found a BigInt outside the 64-bit range",
                )),
            },
        };
    }
    if value.is_function() || value.is_symbol() || !value.is_object() {
        return fail(format!("expected a JSON value, found {}", describe(value)));
    }
    if depth >= MAX_DEPTH {
        // The path of a cycle is long: keep its head, which names where it starts.
        let mut head: String = path.to_string().chars().take(120).collect();
        head.push_str("...");
        return Err((
            head,
            format!("nested deeper than {MAX_DEPTH} levels (is the object cyclic?)"),
        ));
    }
    let thrown = |e: JsValue| {
        (
            path.to_string(),
            format!("reading it threw: {}", thrown_message(&e)),
        )
    };
    if is_array_buffer_view(value).map_err(thrown)? {
        return fail(String::from(
            "expected a JSON value, found a typed array or ArrayBuffer",
        ));
    }
    if is_array(value).map_err(thrown)? {
        let length = Reflect::get(value, &JsValue::from_str("length")).map_err(thrown)?;
        let length = length.as_f64().unwrap_or(0.0);
        if length > f64::from(MAX_ARRAY_LENGTH) {
            return fail(format!(
                "an array longer than {MAX_ARRAY_LENGTH} elements is not accepted"
            ));
        }
        let length = length as u32;
        let mut items = Vec::new();
        for index in 0..length {
            let item = Reflect::get_u32(value, index).map_err(thrown)?;
            items.push(convert(&item, Path::Index(&path, index as usize), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    let keys = object_keys(value).map_err(thrown)?;
    // A Date has no own keys; the brand check throws for anything else, and
    // throwing is slow, so only key-less objects are checked.
    if keys.length() == 0 && date_time(value).is_ok() {
        return fail(String::from(
            "expected a JSON value, found a Date (give instants as RFC 3339 strings, e.g. date.toISOString())",
        ));
    }
    let mut object = Map::new();
    for key in keys.iter() {
        let Some(name) = key.as_string() else { continue };
        let item = Reflect::get(value, &key).map_err(|e| {
            let at = Path::Key(&path, &name);
            (
                at.to_string(),
                format!("reading it threw: {}", thrown_message(&e)),
            )
        })?;
        if item.is_undefined() {
            continue; // as JSON.stringify: an undefined property is absent
        }
        let converted = convert(&item, Path::Key(&path, &name), depth + 1)?;
        object.insert(name, converted);
    }
    Ok(Value::Object(object))
}

/// Converts a JS value to JSON; a failure is a `kind` error under `root`.
fn to_json(value: JsValue, root: &str, kind: ErrorKind) -> JsResult<Value> {
    convert(&value, Path::Root(root), 0).map_err(|(path, message)| BindError::new(kind, path, message))
}

// ---------------------------------------------------------------------------
// Outputs

/// Serializes an output as JSON text, which the package's JavaScript turns
/// into plain objects with `JSON.parse`: one string crossing instead of one
/// import call per key and value (in Node 20 on the development machine a
/// one-effect result took ~13 µs through serde-wasm-bindgen's serializer,
/// ~2 µs as text, most of it `JSON.parse`). An output with an integer of 16
/// digits or more (only reachable from `BigInt` input, e.g. a revision
/// beyond 2^53) would lose digits in `JSON.parse`: its text is marked with a
/// leading `!`, and the JavaScript side reads it with its own small parser,
/// which gives such integers as `BigInt`s.
fn to_out<T: Serialize + ?Sized>(value: &T) -> JsResult<JsValue> {
    Ok(JsValue::from_str(&out_text(value)?))
}

/// The output's JSON text, marked `!` when it holds a wide integer.
fn out_text<T: Serialize + ?Sized>(value: &T) -> JsResult<String> {
    Ok(marked(json_text(value)?))
}

/// JSON text, marked with a leading `!` when it holds a wide integer.
fn marked(mut text: String) -> String {
    if has_wide_number(&text) {
        text.insert(0, '!');
    }
    text
}

/// The output's JSON text, unmarked.
fn json_text<T: Serialize + ?Sized>(value: &T) -> JsResult<String> {
    serde_json::to_string(value).map_err(|_| {
        BindError::new(
            ErrorKind::InvalidState,
            "",
            "cannot convert the output to JavaScript",
        )
    })
}

/// The most JSON text a replay's output may take (64 MiB): beyond it the call
/// is refused rather than exhaust the module's memory. Every other output is
/// bounded by the inputs, which the package's JavaScript bounds
/// (`MAX_INPUT_CHARS`, `MAX_INPUT_VALUES` in glue.js): a state holds at most
/// the bootstrap settings and one settings input merged into them.
pub const MAX_OUTPUT_TEXT: usize = 64 << 20;

/// Whether JSON text has a run of 16 or more digits outside its strings: an
/// integer that may exceed `Number.MAX_SAFE_INTEGER` (a long float's digits
/// count too; such an output merely takes the slower, exact path).
fn has_wide_number(text: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut run = 0u32;
    for b in text.bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                run = 0;
            }
            b'0'..=b'9' => {
                run += 1;
                if run >= 16 {
                    return true;
                }
            }
            _ => run = 0,
        }
    }
    false
}

fn u64_to_js(v: u64) -> JsValue {
    if v <= MAX_SAFE_INTEGER {
        JsValue::from_f64(v as f64)
    } else {
        JsValue::bigint_from_str(&v.to_string())
    }
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

// ---------------------------------------------------------------------------
// `now`

/// Epoch milliseconds (any finite double) to Unix microseconds, rounded to
/// the nearest microsecond (ties to even, as Python's
/// `datetime.fromtimestamp`), computed exactly from the double's bits: a
/// double cannot hold every microsecond, so `ms * 1000` would round twice.
/// `None` when not finite or far outside any instant (|ms| > 1e16).
pub fn millis_to_micros(ms: f64) -> Option<i64> {
    if !ms.is_finite() || ms.abs() > 1e16 {
        return None;
    }
    if ms.fract() == 0.0 {
        // Whole milliseconds (as `Date.now()` gives): exact in i64, and
        // ~10 ns cheaper per probe at opt-level "z" than the i128 path below.
        return (ms as i64).checked_mul(1000);
    }
    let bits = ms.to_bits();
    let negative = bits >> 63 == 1;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1 << 52) - 1);
    let (mantissa, exponent) = if biased == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), biased - 1075)
    };
    // |ms| * 1000 = mantissa * 1000 * 2^exponent, with mantissa * 1000 < 2^63.
    let scaled = i128::from(mantissa) * 1000;
    let magnitude = if exponent >= 0 {
        // |ms| <= 1e16 < 2^54 bounds the exponent to 1.
        scaled << exponent.min(8)
    } else if exponent <= -100 {
        0 // below 2^-37 microseconds: rounds to 0
    } else {
        let shift = -exponent;
        let quotient = scaled >> shift;
        let remainder = scaled - (quotient << shift);
        let half = 1i128 << (shift - 1);
        if remainder > half || (remainder == half && quotient & 1 == 1) {
            quotient + 1
        } else {
            quotient
        }
    };
    let micros = i64::try_from(magnitude).ok()?;
    Some(if negative { -micros } else { micros })
}

/// A number as JavaScript spells it (`NaN`, `Infinity`, `-Infinity`, `12.5`).
struct JsNumber(f64);

impl fmt::Display for JsNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("Infinity"),
            v if v == f64::NEG_INFINITY => f.write_str("-Infinity"),
            // JavaScript's own spelling (`1e+21`), which also keeps Rust's
            // float formatting (~10 KB of wasm) out of the module.
            v => match js_sys::Number::from(v).to_string_with_radix(10) {
                Ok(text) => f.write_str(&String::from(text)),
                Err(_) => f.write_str("a number"),
            },
        }
    }
}

fn instant_error(message: impl Into<String>) -> BindError {
    BindError::new(ErrorKind::InvalidInstant, "now", message)
}

fn instant_from_millis(ms: f64) -> JsResult<Instant> {
    let micros = millis_to_micros(ms).ok_or_else(|| {
        if ms.is_finite() {
            instant_error(format!(
                "{} epoch milliseconds is outside the supported range \
                 (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z)",
                JsNumber(ms)
            ))
        } else {
            instant_error(format!(
                "expected finite epoch milliseconds, found {}",
                JsNumber(ms)
            ))
        }
    })?;
    Instant::from_unix_micros(micros).map_err(|e| instant_error(e.message()))
}

/// `now` as a `Date`, epoch milliseconds (a `number`) or an RFC 3339 string.
fn instant_from_js(now: &JsValue) -> JsResult<Instant> {
    if let Some(ms) = now.as_f64() {
        instant_from_millis(ms)
    } else if let Some(text) = now.as_string() {
        Instant::parse_rfc3339(&text).map_err(|e| instant_error(e.message()))
    } else if let Ok(ms) = date_time(now) {
        // Checked last: for anything but a Date, the check throws (slowly).
        if ms.is_nan() {
            return Err(instant_error("expected a valid Date, found an Invalid Date"));
        }
        instant_from_millis(ms)
    } else {
        Err(instant_error(format!(
            "expected a Date, epoch milliseconds (a number) or an RFC 3339 string, found {}",
            describe(now)
        )))
    }
}

fn describe(value: &JsValue) -> &'static str {
    if value.is_undefined() {
        "undefined"
    } else if value.is_null() {
        "null"
    } else if value.as_bool().is_some() {
        "a boolean"
    } else if value.is_bigint() {
        "a BigInt"
    } else if value.is_symbol() {
        "a symbol"
    } else if value.is_function() {
        "a function"
    } else if is_array(value).unwrap_or(false) {
        "an array"
    } else {
        "an object"
    }
}

// ---------------------------------------------------------------------------
// The API

/// Reads an event: JS value -> JSON -> the core's reader (errors under `event`).
fn read_event(event: JsValue) -> JsResult<Event> {
    Ok(Event::from_value(&to_json(
        event,
        "event",
        ErrorKind::InvalidEvent,
    )?)?)
}

fn read_state(state: JsValue) -> JsResult<State> {
    Ok(State::from_value(&to_json(
        state,
        "state",
        ErrorKind::InvalidState,
    )?)?)
}

/// A runtime-state machine: the state, folded one event at a time.
///
/// Methods take `&self` and keep the state in a `RefCell`, so JS inputs
/// (whose getters may run arbitrary code) are fully converted before the
/// state is borrowed.
#[wasm_bindgen]
pub struct Machine {
    state: RefCell<State>,
    /// The last version string given to [`Machine::probe`], so that the
    /// package's JavaScript (which remembers the same string) can send
    /// [`Machine::probe_same_version`] instead of encoding it again: the
    /// string crossing was a third of a steady-state probe's cost.
    probe_version: RefCell<Option<String>>,
    /// The status of the last steady-state fast-path probe whose effects were
    /// handed to the JavaScript side ([`probe_code::STEADY`]): while the next
    /// steady probe has the same status, its effects are the same, so
    /// [`probe_code::KEPT`] is returned and the JavaScript side hands out the
    /// (frozen) effects it kept. The effects themselves always come from the
    /// core.
    steady_status: RefCell<Option<(bool, Option<String>, u64)>>,
    /// What the last fast-path probe left for the JavaScript side to take
    /// right after it returned: the effects' text ([`Machine::take_output`])
    /// or the error ([`Machine::take_error`]). A `Cell`: taken by value,
    /// never borrowed.
    handoff: Cell<Option<JsResult<String>>>,
}

fn busy() -> BindError {
    BindError::new(
        ErrorKind::InvalidState,
        "",
        "the machine is busy (re-entrant call from a getter)",
    )
}

impl Machine {
    fn with_state<T>(&self, f: impl FnOnce(&mut State) -> JsResult<T>) -> JsResult<T> {
        let mut state = self.state.try_borrow_mut().map_err(|_| busy())?;
        f(&mut state)
    }

    /// The machine's state (a copy).
    pub fn snapshot(&self) -> JsResult<State> {
        self.with_state(|state| Ok(state.clone()))
    }
}

#[wasm_bindgen]
impl Machine {
    /// A new machine from the host's bootstrap settings object.
    #[wasm_bindgen(constructor)]
    pub fn new(bootstrap_settings: JsValue) -> Result<Machine, JsValue> {
        let settings = to_json(bootstrap_settings, "bootstrap", ErrorKind::InvalidSettings)?;
        let state = State::from_bootstrap_value(&settings).map_err(BindError::from)?;
        Ok(Machine {
            state: RefCell::new(state),
            probe_version: RefCell::new(None),
            steady_status: RefCell::new(None),
            handoff: Cell::new(None),
        })
    }

    /// A machine continuing from a state in its JSON form.
    pub fn restore(state: JsValue) -> Result<Machine, JsValue> {
        Ok(Machine {
            state: RefCell::new(read_state(state)?),
            probe_version: RefCell::new(None),
            steady_status: RefCell::new(None),
            handoff: Cell::new(None),
        })
    }

    /// Applies `event` at `now` and returns the effects (JSON text, see
    /// [`to_out`]). On error the machine is unchanged.
    #[wasm_bindgen(js_name = "__step")]
    pub fn step(&self, event: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
        // `now` first, then the event: the order in which a trace step is read.
        let now = instant_from_js(&now)?;
        let event = read_event(event)?;
        Ok(self.with_state(|state| to_out(&state.apply(event, now)?))?)
    }

    /// The probe fast path with scalars only: `online`, `version`,
    /// `active_jails` (a safe non-negative integer, checked by the caller
    /// and again here) and `now` as epoch milliseconds. Returns a
    /// [`probe_code`], a number, which crosses without a multivalue array or
    /// the externref table: `KEPT` for a steady probe (fail2ban's online flag
    /// unchanged) whose status equals the last steady probe's, whose effects
    /// the package's JavaScript kept; otherwise the core's effects as text
    /// ([`out_text`]) or the error, to take at once with
    /// [`Machine::take_output`] or [`Machine::take_error`].
    #[wasm_bindgen(js_name = "__probe")]
    pub fn probe(&self, online: bool, version: Option<String>, active_jails: f64, now_ms: f64) -> u32 {
        if let Some(text) = &version {
            // Remembered before anything can fail: the JavaScript side
            // remembers it before the call, so the two always agree.
            if let Ok(mut slot) = self.probe_version.try_borrow_mut() {
                *slot = Some(text.clone());
            }
        }
        self.probe_inner(online, version.as_deref(), active_jails, now_ms)
    }

    /// [`Machine::probe`] with the version string of the last call that
    /// gave one (the JavaScript side checked that it is the same string).
    #[wasm_bindgen(js_name = "__probeSameVersion")]
    pub fn probe_same_version(&self, online: bool, active_jails: f64, now_ms: f64) -> u32 {
        match self.probe_version.try_borrow() {
            Ok(version) => self.probe_inner(online, version.as_deref(), active_jails, now_ms),
            Err(_) => self.hand_off(probe_code::ERROR, Err(busy())),
        }
    }

    /// The effects' text left by the last probe that returned
    /// [`probe_code::STEADY`] or [`probe_code::TRANSITION`] (`undefined` if
    /// there is none: only when the private methods are misused).
    #[wasm_bindgen(js_name = "__takeOutput")]
    pub fn take_output(&self) -> JsValue {
        match self.handoff.take() {
            Some(Ok(text)) => JsValue::from_str(&text),
            _ => JsValue::UNDEFINED,
        }
    }

    /// The error left by the last probe that returned [`probe_code::ERROR`],
    /// as the thrown error of every other method (the same class, `kind`,
    /// `path` and message).
    #[wasm_bindgen(js_name = "__takeError")]
    pub fn take_error(&self) -> JsValue {
        match self.handoff.take() {
            Some(Err(e)) => e.into(),
            _ => BindError::new(ErrorKind::InvalidState, "", "no probe error to take").into(),
        }
    }
}

/// What a fast-path probe ([`Machine::probe`]) did: the number it returns.
pub mod probe_code {
    /// A steady probe whose status equals the last steady probe's: its
    /// effects are the ones the JavaScript side kept from that probe.
    pub const KEPT: u32 = 0;
    /// A steady probe with another status: its effects are taken with
    /// `__takeOutput`, and kept for the next steady probes.
    pub const STEADY: u32 = 1;
    /// fail2ban came online or went offline: the effects are taken with `__takeOutput`.
    pub const TRANSITION: u32 = 2;
    /// Rejected, nothing changed: the error is taken with `__takeError`.
    pub const ERROR: u32 = 3;
}

impl Machine {
    /// Leaves `output` for the JavaScript side to take; returns `code`.
    fn hand_off(&self, code: u32, output: JsResult<String>) -> u32 {
        self.handoff.set(Some(output));
        code
    }

    fn probe_inner(&self, online: bool, version: Option<&str>, active_jails: f64, now_ms: f64) -> u32 {
        match self.probe_effects(online, version, active_jails, now_ms) {
            Ok(None) => probe_code::KEPT,
            Ok(Some((code, text))) => self.hand_off(code, Ok(text)),
            Err(e) => self.hand_off(probe_code::ERROR, Err(e)),
        }
    }

    /// Applies the probe; `None` when its effects are the kept ones, else
    /// the code and the effects' text.
    fn probe_effects(
        &self,
        online: bool,
        version: Option<&str>,
        active_jails: f64,
        now_ms: f64,
    ) -> JsResult<Option<(u32, String)>> {
        let now = instant_from_millis(now_ms)?;
        if !(active_jails >= 0.0 && active_jails <= MAX_SAFE_INTEGER as f64 && active_jails.fract() == 0.0) {
            return Err(BindError::new(
                ErrorKind::InvalidEvent,
                "event.status.active_jails",
                "expected a non-negative integer",
            ));
        }
        let active_jails = active_jails as u64;
        let mut steady = self.steady_status.try_borrow_mut().map_err(|_| busy())?;
        self.with_state(|state| {
            let report = state.health_probe(online, version, active_jails, now)?;
            if report.transition() != ProbeTransition::Unchanged {
                return Ok(Some((probe_code::TRANSITION, out_text(&report.effects())?)));
            }
            let same_status = steady
                .as_ref()
                .is_some_and(|(o, v, j)| *o == online && v.as_deref() == version && *j == active_jails);
            if same_status {
                return Ok(None);
            }
            let text = out_text(&report.effects())?;
            *steady = Some((online, version.map(String::from), active_jails));
            Ok(Some((probe_code::STEADY, text)))
        })
    }
}

#[wasm_bindgen]
impl Machine {
    /// The state in its JSON form (JSON text, see [`to_out`]).
    #[wasm_bindgen(js_name = "__state")]
    pub fn state(&self) -> Result<JsValue, JsValue> {
        Ok(self.with_state(|state| to_out(state))?)
    }

    /// The number of events accepted so far.
    #[wasm_bindgen(getter)]
    pub fn revision(&self) -> Result<JsValue, JsValue> {
        Ok(self.with_state(|state| Ok(u64_to_js(state.revision())))?)
    }

    /// The next instant at which time alone changes how an event would be
    /// handled (the crash window closing, a probe in flight going stale), as
    /// an RFC 3339 string, or `null`. `now` defaults to the current time.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self, now: JsValue) -> Result<JsValue, JsValue> {
        let now = if now.is_undefined() {
            instant_from_millis(js_sys::Date::now())?
        } else {
            instant_from_js(&now)?
        };
        Ok(self.with_state(|state| {
            Ok(match state.next_deadline(now) {
                Some(deadline) => JsValue::from_str(&deadline.to_string()),
                None => JsValue::NULL,
            })
        })?)
    }
}

/// Checks `now` alone: the package's JavaScript calls it when an event is
/// refused before it reached the module, so that a bad `now` is reported
/// first, as in every other path (a trace step is read `now` first).
#[wasm_bindgen(js_name = "__checkNow")]
pub fn check_now(now: JsValue) -> Result<(), JsValue> {
    instant_from_js(&now)?;
    Ok(())
}

/// Replays a trace (the CLI's replay format): one `{effects, state}` or
/// `{error, state}` per step, by the core's own `Trace::replay_results_lazily`, one
/// step at a time: the whole replay would keep every step's state until the
/// end, so a large state times many steps would exhaust the module's memory.
/// Each step's output is written as text at once, and the whole output is
/// bounded by [`MAX_OUTPUT_TEXT`].
#[wasm_bindgen(js_name = "__replay")]
pub fn replay(trace: JsValue) -> Result<JsValue, JsValue> {
    let trace =
        Trace::from_value(&to_json(trace, "trace", ErrorKind::InvalidTrace)?).map_err(BindError::from)?;
    let mut text = String::from("[");
    for (index, output) in trace.replay_results_lazily().enumerate() {
        if index > 0 {
            text.push(',');
        }
        text.push_str(&json_text(&output)?);
        if text.len() > MAX_OUTPUT_TEXT {
            return Err(BindError::new(
                ErrorKind::InvalidTrace,
                format!("trace.steps[{index}]"),
                format!(
                    "the replay's output would exceed {MAX_OUTPUT_TEXT} bytes of JSON text \
                     (replay fewer steps at a time)"
                ),
            )
            .into());
        }
    }
    text.push(']');
    Ok(JsValue::from_str(&marked(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis_round_to_the_nearest_microsecond() {
        assert_eq!(millis_to_micros(0.0), Some(0));
        assert_eq!(millis_to_micros(1.0), Some(1000));
        assert_eq!(millis_to_micros(-1.0), Some(-1000));
        assert_eq!(millis_to_micros(0.001), Some(1));
        assert_eq!(millis_to_micros(0.0004), Some(0));
        assert_eq!(millis_to_micros(0.0006), Some(1));
        // 62.5 microseconds is exact in binary: ties go to even.
        assert_eq!(millis_to_micros(0.0625), Some(62));
        assert_eq!(millis_to_micros(0.1875), Some(188));
        assert_eq!(millis_to_micros(-0.0625), Some(-62));
        // 2026-04-27T16:42:52.123456Z: the double nearest to the ms value.
        assert_eq!(
            millis_to_micros(1_777_308_172_123.456),
            Some(1_777_308_172_123_456)
        );
        assert_eq!(
            millis_to_micros(253_402_300_800_000.0 - 1.0 / 32.0), // one ulp is 1/32 ms here
            Some(253_402_300_799_999_969)
        );
        assert_eq!(millis_to_micros(f64::MIN_POSITIVE), Some(0));
        assert_eq!(millis_to_micros(5e-324), Some(0));
        assert_eq!(millis_to_micros(f64::NAN), None);
        assert_eq!(millis_to_micros(f64::INFINITY), None);
        assert_eq!(millis_to_micros(1e300), None);
        assert_eq!(millis_to_micros(1e16), None);
        // Whole milliseconds (the i64 path): the same results.
        assert_eq!(millis_to_micros(-0.0), Some(0));
        assert_eq!(millis_to_micros(1_777_308_172_123.0), Some(1_777_308_172_123_000));
        assert_eq!(
            millis_to_micros(-62_135_596_800_000.0),
            Some(-62_135_596_800_000_000)
        );
        assert_eq!(millis_to_micros(9.2e15), Some(9_200_000_000_000_000_000));
        assert_eq!(millis_to_micros(-9.2e15), Some(-9_200_000_000_000_000_000));
        assert_eq!(millis_to_micros(9.3e15), None); // beyond i64 microseconds
    }

    #[test]
    fn exact_rounding_agrees_with_wide_arithmetic() {
        // Compare with f64 arithmetic where that is exact enough to decide.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x % 500_000_000_000_000) as f64 / 1000.0 - 62_135_596_800_000.0;
            let micros = millis_to_micros(ms).unwrap();
            // Within half a microsecond of ms * 1000, give or take that product's own rounding.
            let product = ms * 1000.0;
            let slack = 0.5 + product.abs() * f64::EPSILON;
            assert!(
                (micros as f64 - product).abs() <= slack,
                "{ms}: {micros} vs {product}"
            );
        }
    }

    #[test]
    fn wide_numbers_are_found_outside_strings_only() {
        assert!(!has_wide_number(r#"{"revision":9007199254740,"v":"1.1.0"}"#));
        assert!(has_wide_number(r#"{"revision":18446744073709551615}"#));
        assert!(has_wide_number(r#"[9007199254740991]"#)); // 16 digits: conservative
        assert!(!has_wide_number(r#"["12345678901234567890"]"#));
        assert!(!has_wide_number(r#"["a\"12345678901234567890"]"#));
        assert!(has_wide_number(r#"["a\\",12345678901234567890]"#));
        assert!(has_wide_number(r#"{"s":0.30000000000000004}"#)); // a long float: the exact path too
        assert!(!has_wide_number(r#"{"s":12.5,"t":1e300}"#));
    }

    #[test]
    fn errors_display_path_then_message() {
        let e = BindError::new(ErrorKind::InvalidEvent, "event.type", "unknown");
        assert_eq!(e.0.to_string(), "event.type: unknown");
        assert_eq!(
            BindError::new(ErrorKind::InvalidEvent, "", "whole").0.to_string(),
            "whole"
        );
    }
}
