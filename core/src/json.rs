//! Reading JSON values into typed data, with errors that name the field path.
//!
//! Paths are built lazily: a [`Path`] is a chain of borrowed keys on the
//! stack, rendered to text only when an error needs it, so valid input costs
//! no allocation for error reporting.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::instant::Instant;

/// How deeply a value carried through untouched (an unknown settings key or
/// override, an extra server-status key) may nest arrays and objects: `1` is
/// 0 deep, `[1]` 1, `{"a": [1]}` 2.
///
/// The limit keeps every JSON form that holds such a value readable by the
/// core's own JSON reader (serde_json, which stops at 127 levels): the state
/// puts a carried value 2 levels down, a trace step 5, a replay output line
/// 4, a conformance vector's `expected` 5. So whatever the core accepts, in
/// any input, fits inside a state that restores, and inside every trace and
/// replay output that holds it.
///
/// ```
/// use bangui_state_core::{MAX_PASS_THROUGH_DEPTH, State};
/// let nested = |depth| "[".repeat(depth) + &"]".repeat(depth);
/// let bootstrap = |depth| format!(
///     r#"{{"session_cache_enabled": true, "session_cache_ttl_seconds": 60, "deep": {}}}"#,
///     nested(depth),
/// );
/// let state = State::from_bootstrap_json(&bootstrap(MAX_PASS_THROUGH_DEPTH)).unwrap();
/// assert_eq!(State::from_json(&state.to_json()).unwrap(), state);
/// let err = State::from_bootstrap_json(&bootstrap(MAX_PASS_THROUGH_DEPTH + 1)).unwrap_err();
/// assert_eq!(err.path(), "bootstrap.deep");
/// ```
pub const MAX_PASS_THROUGH_DEPTH: usize = 100;

/// Where a value sits in the input, e.g. `event.status.online`.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
}

impl<'a> Path<'a> {
    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Key(parent, key) => {
                if matches!(parent, Path::Root(name) if name.is_empty()) {
                    f.write_str(key)
                } else {
                    write!(f, "{parent}.{key}")
                }
            }
        }
    }
}

/// Names separated by `", "`, for error messages. Written piece by piece
/// rather than with `[&str]::join`, whose generic copying code (and its
/// overflow panic) would be the WebAssembly module's only use of it.
pub(crate) struct Listed<'a>(pub(crate) &'a [&'a str]);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// How a JSON value is described in error messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `text` quoted as a JSON string, for error messages that repeat the input.
/// (JSON's quoting rather than Rust's `{:?}`, which would pull Unicode
/// printability tables, ~5 KB, into the WebAssembly module.)
pub(crate) fn quoted(text: &str) -> String {
    // Serialising a `str` cannot fail.
    serde_json::to_string(text).unwrap_or_default()
}

/// Parses JSON text into a value, every key kept as a key.
pub(crate) fn parse_text(text: &str) -> Result<Value, Error> {
    #[cfg(feature = "exact-numbers")]
    let parsed = exact::from_str(text);
    #[cfg(not(feature = "exact-numbers"))]
    let parsed = serde_json::from_str(text);
    parsed.map_err(|e| {
        let message = format!(
            "invalid JSON: {} at line {} column {}",
            syntax_error_words(&e),
            e.line(),
            e.column()
        );
        Error::new(ErrorKind::InvalidJson, "", message)
    })
}

/// What a JSON parser error says, in words a reader of the input understands,
/// without its position (`line()` and `column()` give it). serde_json's own
/// words for a few errors are parser jargon ("expected ident"): those are
/// said again as what was expected.
pub fn syntax_error_words(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let location = format!(" at line {} column {}", error.line(), error.column());
    let words = full.strip_suffix(location.as_str()).unwrap_or(&full);
    match words {
        "expected ident" => "expected a value such as true, false or null".into(),
        "expected value" => "expected a value (an object, array, string, number, true, false or null)".into(),
        "key must be a string" => "expected a key in double quotes".into(),
        "trailing characters" => "unexpected text after the value".into(),
        other => other.into(),
    }
}

/// JSON text to `Value` with serde_json's `arbitrary_precision`, without its
/// reserved key. That feature hands each number to a visitor as a one-entry
/// map under the key `$serde_json::private::Number`, and serde_json's own
/// `Value` visitor takes any object whose first key is that string for a
/// number: `{"$serde_json::private::Number": "5"}` would be read as `5`, and
/// a state carrying such a key (which its JSON form writes first, keys being
/// sorted) would not restore (found by the `trace` fuzz target). This visitor
/// reads a real key as bytes (serde_json gives them unescaped) and the
/// reserved one as the `str` only a number's pseudo-map gives, so both are
/// kept for what they are. serde_json's own nesting limit still applies.
#[cfg(feature = "exact-numbers")]
mod exact {
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::fmt;
    use core::str::FromStr;
    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Number, Value};

    /// The key serde_json's `arbitrary_precision` gives a number under.
    const NUMBER_KEY: &str = "$serde_json::private::Number";

    pub(super) fn from_str(text: &str) -> Result<Value, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = AnyValue.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(value)
    }

    struct AnyValue;

    impl<'de> DeserializeSeed<'de> for AnyValue {
        type Value = Value;
        fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
            deserializer.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for AnyValue {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::Number(v.into()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.into()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(AnyValue)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut object = Map::new();
            while let Some(key) = map.next_key_seed(AnyKey)? {
                match key {
                    Key::Number => {
                        let text: String = map.next_value()?;
                        return Number::from_str(&text)
                            .map(Value::Number)
                            .map_err(de::Error::custom);
                    }
                    Key::Text(key) => {
                        let value = map.next_value_seed(AnyValue)?;
                        object.insert(key, value);
                    }
                }
            }
            Ok(Value::Object(object))
        }
    }

    enum Key {
        /// The pseudo-key of a number.
        Number,
        /// A key in the text.
        Text(String),
    }

    struct AnyKey;

    impl<'de> DeserializeSeed<'de> for AnyKey {
        type Value = Key;
        fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
            // A key in the text comes as bytes; only a number's pseudo-key as a str.
            deserializer.deserialize_bytes(self)
        }
    }

    impl<'de> Visitor<'de> for AnyKey {
        type Value = Key;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
            match v {
                NUMBER_KEY => Ok(Key::Number),
                other => Ok(Key::Text(other.into())),
            }
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Key, E> {
            // Unescaped but not checked: a lone surrogate escape is not Unicode.
            String::from_utf8(v.into())
                .map(Key::Text)
                .map_err(|_| E::custom("an object key is not valid Unicode (a lone surrogate escape?)"))
        }
    }
}

/// Checks that the value carried through at `path` nests at most
/// [`MAX_PASS_THROUGH_DEPTH`] levels. Looks no deeper than that, so a value
/// of any depth is checked in bounded stack.
pub(crate) fn check_pass_through(value: &Value, path: &Path<'_>, kind: ErrorKind) -> Result<(), Error> {
    if nests_deeper_than(value, MAX_PASS_THROUGH_DEPTH) {
        return Err(Error::new(
            kind,
            path,
            format!(
                "nested deeper than {MAX_PASS_THROUGH_DEPTH} levels of arrays and objects, \
                 the most a value carried through the state may have"
            ),
        ));
    }
    Ok(())
}

fn nests_deeper_than(value: &Value, levels: usize) -> bool {
    // `levels - 1` runs only when `levels > 0` (`||` short-circuits).
    match value {
        Value::Array(items) => levels == 0 || items.iter().any(|c| nests_deeper_than(c, levels - 1)),
        Value::Object(map) => levels == 0 || map.values().any(|c| nests_deeper_than(c, levels - 1)),
        _ => false,
    }
}

pub(crate) fn mistyped(kind: ErrorKind, path: &Path<'_>, expected: &str, found: &Value) -> Error {
    Error::new(
        kind,
        path,
        format!("expected {expected}, found {}", describe(found)),
    )
}

/// Borrows `value` as an object, or fails naming `path`.
pub(crate) fn object<'v>(
    value: &'v Value,
    path: &Path<'_>,
    kind: ErrorKind,
) -> Result<&'v Map<String, Value>, Error> {
    value
        .as_object()
        .ok_or_else(|| mistyped(kind, path, "an object", value))
}

/// The fields of one JSON object, read with errors that name their path.
pub(crate) struct Fields<'v, 'p> {
    pub(crate) map: &'v Map<String, Value>,
    pub(crate) path: &'p Path<'p>,
    pub(crate) kind: ErrorKind,
}

impl<'v, 'p> Fields<'v, 'p> {
    pub(crate) fn of(value: &'v Value, path: &'p Path<'p>, kind: ErrorKind) -> Result<Self, Error> {
        Ok(Fields {
            map: object(value, path, kind)?,
            path,
            kind,
        })
    }

    /// Rejects any key outside `allowed` (a typo in an optional field would
    /// otherwise silently fall back to its default).
    pub(crate) fn deny_unknown(&self, allowed: &[&str]) -> Result<(), Error> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(key) => Err(Error::new(
                self.kind,
                self.path.key(key),
                format!("unknown field; expected one of: {}", Listed(allowed)),
            )),
        }
    }

    /// The value at `key`, which must be present (it may be `null`).
    pub(crate) fn required(&self, key: &str, expected: &str) -> Result<&'v Value, Error> {
        self.map.get(key).ok_or_else(|| {
            Error::new(
                self.kind,
                self.path.key(key),
                format!("missing; expected {expected}"),
            )
        })
    }

    /// The value at `key`, with absent and `null` both meaning "not given".
    pub(crate) fn optional(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(crate) fn mistyped(&self, key: &str, expected: &str, found: &Value) -> Error {
        mistyped(self.kind, &self.path.key(key), expected, found)
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, Error> {
        let value = self.required(key, "a boolean")?;
        value
            .as_bool()
            .ok_or_else(|| self.mistyped(key, "a boolean", value))
    }

    pub(crate) fn string(&self, key: &str) -> Result<String, Error> {
        let value = self.required(key, "a string")?;
        self.as_string(key, value)
    }

    pub(crate) fn optional_string(&self, key: &str) -> Result<Option<String>, Error> {
        self.optional(key)
            .map(|value| self.as_string(key, value))
            .transpose()
    }

    fn as_string(&self, key: &str, value: &Value) -> Result<String, Error> {
        value
            .as_str()
            .map(String::from)
            .ok_or_else(|| self.mistyped(key, "a string", value))
    }

    pub(crate) fn instant(&self, key: &str) -> Result<Instant, Error> {
        let value = self.required(key, "an RFC 3339 instant")?;
        self.as_instant(key, value)
    }

    pub(crate) fn optional_instant(&self, key: &str) -> Result<Option<Instant>, Error> {
        self.optional(key)
            .map(|value| self.as_instant(key, value))
            .transpose()
    }

    fn as_instant(&self, key: &str, value: &Value) -> Result<Instant, Error> {
        let text = value
            .as_str()
            .ok_or_else(|| self.mistyped(key, "an RFC 3339 instant string", value))?;
        Instant::parse_rfc3339(text).map_err(|e| e.located(self.kind, self.path.key(key)))
    }

    /// A field that is present and either `null` or read by `read`.
    pub(crate) fn nullable<T>(
        &self,
        key: &str,
        expected: &str,
        read: impl FnOnce(&'v Value) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        let value = self.required(key, expected)?;
        if value.is_null() {
            Ok(None)
        } else {
            read(value).map(Some)
        }
    }
}
