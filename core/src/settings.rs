//! The host's settings record, of which the core reads two keys.

use alloc::string::String;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};
use crate::json::{self, Fields, Path};

/// The key holding whether the session cache is enabled (boolean, required).
pub const SESSION_CACHE_ENABLED: &str = "session_cache_enabled";
/// The key holding the session cache's time to live in seconds (finite number, required).
pub const SESSION_CACHE_TTL_SECONDS: &str = "session_cache_ttl_seconds";

/// Which session cache the host must have installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionCacheKind {
    /// BanGUI's `InMemorySessionCache`.
    InMemory,
    /// BanGUI's `NoOpSessionCache`: sessions are not cached.
    NoOp,
}

impl SessionCacheKind {
    /// The JSON name: `"in_memory"` or `"no_op"`.
    pub const fn name(self) -> &'static str {
        match self {
            SessionCacheKind::InMemory => "in_memory",
            SessionCacheKind::NoOp => "no_op",
        }
    }

    /// The Python class the seed installs for this kind, as it logs it in
    /// `session_cache_updated` (`type(new_cache).__name__`).
    pub const fn class_name(self) -> &'static str {
        match self {
            SessionCacheKind::InMemory => "InMemorySessionCache",
            SessionCacheKind::NoOp => "NoOpSessionCache",
        }
    }

    pub(crate) fn parse(value: &Value, path: &Path<'_>, kind: ErrorKind) -> Result<Self, Error> {
        match value.as_str() {
            Some("in_memory") => Ok(SessionCacheKind::InMemory),
            Some("no_op") => Ok(SessionCacheKind::NoOp),
            _ => Err(json::mistyped(kind, path, "\"in_memory\" or \"no_op\"", value)),
        }
    }
}

/// A whole settings record: the two keys the core interprets, validated, and
/// every other key carried through untouched.
///
/// ```
/// use bangui_state_core::{SessionCacheKind, Settings};
/// let s = Settings::from_json(r#"{"session_cache_enabled": true,
///     "session_cache_ttl_seconds": 0, "log_level": "info"}"#).unwrap();
/// // Enabled, but a TTL of zero means no cache (seed: `set_runtime_settings`).
/// assert_eq!(s.session_cache_kind(), SessionCacheKind::NoOp);
/// assert_eq!(s.get("log_level").unwrap(), "info");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    record: Map<String, Value>,
    kind: SessionCacheKind,
}

impl Settings {
    /// Settings with just the two keys the core reads.
    /// `session_cache_ttl_seconds` must be finite (JSON has no NaN).
    pub fn new(session_cache_enabled: bool, session_cache_ttl_seconds: f64) -> Result<Self, Error> {
        let ttl = serde_json::Number::from_f64(session_cache_ttl_seconds).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidSettings,
                SESSION_CACHE_TTL_SECONDS,
                "expected a finite number",
            )
        })?;
        let mut record = Map::new();
        record.insert(SESSION_CACHE_ENABLED.into(), Value::Bool(session_cache_enabled));
        record.insert(SESSION_CACHE_TTL_SECONDS.into(), Value::Number(ttl));
        Ok(Settings::from_record(record))
    }

    /// Parses a settings object from JSON text; errors are
    /// [`ErrorKind::InvalidJson`] or [`ErrorKind::InvalidSettings`] with paths
    /// under `settings`.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Settings::from_value(&json::parse_text(text)?)
    }

    /// Reads a settings object; see [`Settings::from_json`].
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        Settings::read(value, &Path::Root("settings"), ErrorKind::InvalidSettings)
    }

    pub(crate) fn read(value: &Value, path: &Path<'_>, kind: ErrorKind) -> Result<Self, Error> {
        let fields = Fields::of(value, path, kind)?;
        fields.bool(SESSION_CACHE_ENABLED)?;
        fields.required(SESSION_CACHE_TTL_SECONDS, "a finite number")?;
        for (key, value) in fields.map {
            check_known_value(key, value, path, kind)?;
        }
        Ok(Settings::from_record(fields.map.clone()))
    }

    /// Builds from a record whose two known keys are already validated.
    fn from_record(record: Map<String, Value>) -> Self {
        let enabled = record.get(SESSION_CACHE_ENABLED).and_then(Value::as_bool) == Some(true);
        let ttl = record.get(SESSION_CACHE_TTL_SECONDS).and_then(Value::as_f64);
        // seed: `settings.session_cache_enabled and settings.session_cache_ttl_seconds > 0.0`
        let kind = if enabled && ttl.is_some_and(|t| t > 0.0) {
            SessionCacheKind::InMemory
        } else {
            SessionCacheKind::NoOp
        };
        Settings { record, kind }
    }

    /// A copy with `overrides` applied key by key, as pydantic's
    /// `model_copy(update=overrides)` in the seed's `update_app_settings`.
    pub fn with_overrides(&self, overrides: &SettingsOverrides) -> Settings {
        let mut record = self.record.clone();
        for (key, value) in &overrides.0 {
            record.insert(key.clone(), value.clone());
        }
        Settings::from_record(record)
    }

    /// The session cache these settings call for.
    pub fn session_cache_kind(&self) -> SessionCacheKind {
        self.kind
    }

    /// `session_cache_enabled`.
    pub fn session_cache_enabled(&self) -> bool {
        self.record.get(SESSION_CACHE_ENABLED).and_then(Value::as_bool) == Some(true)
    }

    /// `session_cache_ttl_seconds`, as a double.
    pub fn session_cache_ttl_seconds(&self) -> f64 {
        self.record
            .get(SESSION_CACHE_TTL_SECONDS)
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
    }

    /// Any key of the record, known or not.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.record.get(key)
    }

    /// The whole record.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.record
    }
}

impl Serialize for Settings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.record.serialize(serializer)
    }
}

/// Validates a value given for one of the two known keys; other keys take any
/// value nested at most [`MAX_PASS_THROUGH_DEPTH`](crate::MAX_PASS_THROUGH_DEPTH) deep.
fn check_known_value(key: &str, value: &Value, parent: &Path<'_>, kind: ErrorKind) -> Result<(), Error> {
    let path = parent.key(key);
    match key {
        SESSION_CACHE_ENABLED if !value.is_boolean() => Err(json::mistyped(kind, &path, "a boolean", value)),
        // JSON has no NaN or Infinity, but numbers kept exactly as written
        // (`exact-numbers`) can lie beyond a double's range, e.g. `1e400`;
        // without the feature every number is a finite double already.
        SESSION_CACHE_TTL_SECONDS => match value {
            #[cfg(feature = "exact-numbers")]
            Value::Number(n) if n.as_f64().is_none() => Err(Error::new(
                kind,
                path,
                alloc::format!("expected a finite number, found {n}, beyond the range of a double"),
            )),
            Value::Number(_) => Ok(()),
            _ => Err(json::mistyped(kind, &path, "a finite number", value)),
        },
        _ => json::check_pass_through(value, &path, kind),
    }
}

/// The keyword arguments of the seed's `update_app_settings(**overrides)`:
/// any keys, with the two known keys type-checked up front so that applying
/// them can never fail.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SettingsOverrides(Map<String, Value>);

impl SettingsOverrides {
    /// Validates `overrides`: an override of a known key with the wrong type
    /// rejects the whole object.
    pub fn new(overrides: Map<String, Value>) -> Result<Self, Error> {
        let value = Value::Object(overrides);
        let parsed = Self::read(&value, &Path::Root("overrides"), ErrorKind::InvalidSettings)?;
        Ok(parsed)
    }

    pub(crate) fn read(value: &Value, path: &Path<'_>, kind: ErrorKind) -> Result<Self, Error> {
        let map = json::object(value, path, kind)?;
        for (key, value) in map {
            check_known_value(key, value, path, kind)?;
        }
        Ok(SettingsOverrides(map.clone()))
    }

    /// The overrides, key by key.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl Serialize for SettingsOverrides {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}
