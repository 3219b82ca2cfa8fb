//! The one error type: what was wrong, and where.

use alloc::string::{String, ToString};
use core::fmt;

/// What kind of input was rejected. Bindings map each kind to their own error
/// class or result code; the message is the same everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text was not JSON at all (syntax error, truncated input).
    InvalidJson,
    /// An event was malformed: unknown `type`, a missing or mistyped field.
    InvalidEvent,
    /// A settings object (the bootstrap settings) was malformed.
    InvalidSettings,
    /// A persisted state was malformed or inconsistent.
    InvalidState,
    /// A persisted state names a `schema_version` this build does not know.
    UnknownSchemaVersion,
    /// A `now` given to `step` was not a valid instant (unparsable, out of range).
    InvalidInstant,
    /// The state's `revision` is at its maximum and cannot count another event.
    RevisionExhausted,
    /// A replay trace was malformed (not an object, no `steps` array, a step
    /// that is not an object).
    InvalidTrace,
}

impl ErrorKind {
    /// A stable snake_case name for the kind (`"invalid_event"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidJson => "invalid_json",
            ErrorKind::InvalidEvent => "invalid_event",
            ErrorKind::InvalidSettings => "invalid_settings",
            ErrorKind::InvalidState => "invalid_state",
            ErrorKind::UnknownSchemaVersion => "unknown_schema_version",
            ErrorKind::InvalidInstant => "invalid_instant",
            ErrorKind::RevisionExhausted => "revision_exhausted",
            ErrorKind::InvalidTrace => "invalid_trace",
        }
    }
}

/// A rejected input. `Display` gives `path: message`, for example
/// `event.status.online: expected a boolean, found a string`.
///
/// Whenever a function returns an `Error`, the state it was called on is
/// unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    path: String,
    message: String,
}

impl Error {
    /// An error of `kind` at `path` (`""` for the input as a whole). Public
    /// so that a binding can report its own conversion errors (a JS value
    /// that is not JSON, a `now` of the wrong type) in the same form.
    ///
    /// ```
    /// use bangui_state_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::InvalidInstant, "now", "expected a finite number");
    /// assert_eq!(e.to_string(), "now: expected a finite number");
    /// ```
    pub fn new(kind: ErrorKind, path: impl fmt::Display, message: impl Into<String>) -> Self {
        Error::from_parts(kind, &path, message.into())
    }

    /// [`Error::new`]'s one copy: the generic `new` only converts its
    /// arguments, so each caller's types do not get a copy of the rest
    /// (errors are the cold path; this keeps the WebAssembly module small).
    #[inline(never)]
    fn from_parts(kind: ErrorKind, path: &dyn fmt::Display, message: String) -> Self {
        Error {
            kind,
            path: path.to_string(),
            message,
        }
    }

    /// What kind of input was rejected.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Where in the input the problem is, as a dotted field path
    /// (`event.status.online`, `state.pending_recovery.detected_at`), or `""`
    /// when the problem is the input as a whole.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error re-kinded and re-rooted: used where a value parsed on its
    /// own (an instant) turns out to be part of a larger input.
    pub(crate) fn located(self, kind: ErrorKind, path: impl fmt::Display) -> Self {
        Error::from_parts(kind, &path, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl core::error::Error for Error {}
