//! The runtime state: plain data with one JSON form.

use alloc::format;
use alloc::string::String;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::instant::{Instant, MICROS_PER_SECOND};
use crate::json::{self, Fields, Path};
use crate::settings::{SessionCacheKind, Settings};
use crate::status::ServerStatus;

/// The only `schema_version` this build reads and writes.
pub const SCHEMA_VERSION: u64 = 1;

/// seed: `_ACTIVATION_CRASH_WINDOW = 60`: a crash at most this long after a
/// jail activation is attributed to it (inclusive, to the microsecond).
pub const ACTIVATION_CRASH_WINDOW_MICROS: i64 = 60 * MICROS_PER_SECOND;

/// A capability probe is in flight while `now` is less than this far from its
/// start, on either side: a new request joins it instead of starting another.
pub const PROBE_IN_FLIGHT_MICROS: i64 = 30 * MICROS_PER_SECOND;

/// Whether a probe that started `elapsed` microseconds before `now` (negative:
/// after `now`, on a clock a little behind or a request retried at its own
/// earlier `now`) is still in flight.
pub(crate) const fn probe_in_flight(elapsed: i64) -> bool {
    elapsed.unsigned_abs() < PROBE_IN_FLIGHT_MICROS as u64
}

/// fail2ban went down soon after a jail activation (BanGUI's `PendingRecovery`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingRecovery {
    /// The jail whose activation is blamed for the crash.
    pub jail_name: String,
    /// When that jail was activated.
    pub activated_at: Instant,
    /// When the crash was noticed.
    pub detected_at: Instant,
    /// Whether fail2ban has come back online since.
    pub recovered: bool,
}

/// The last jail activation (the seed's `ActivationRecord`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Activation {
    /// The activated jail.
    pub jail_name: String,
    /// When it was activated.
    pub at: Instant,
}

/// The cached backend-capability probe (the seed's `JailServiceState`).
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct BackendCapability {
    /// The probe's result, once known.
    pub supported: Option<bool>,
    /// When the probe in flight started, if one is.
    pub probe_started_at: Option<Instant>,
}

/// BanGUI's runtime state. Change it only through [`State::apply`] (or the
/// [`step`](crate::step) function and the fast path [`State::health_probe`]),
/// which count every accepted event in [`State::revision`].
///
/// ```
/// use bangui_state_core::{Event, Instant, ServerStatus, Settings, State};
/// let mut state = State::new(Settings::new(true, 3600.0).unwrap());
/// let now = Instant::parse_rfc3339("2026-04-27T16:42:52Z").unwrap();
/// let status = ServerStatus::new(true, Some("1.1.0".into()), 3);
/// let effects = state.apply(Event::HealthProbeCompleted { status }, now).unwrap();
/// assert_eq!(effects.len(), 2); // fail2ban_came_online, health_check_complete
/// assert_eq!(state.revision(), 1);
/// let restored = State::from_json(&state.to_json()).unwrap();
/// assert_eq!(restored, state);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub(crate) revision: u64,
    pub(crate) setup_complete_cached: bool,
    pub(crate) server_status: ServerStatus,
    pub(crate) pending_recovery: Option<PendingRecovery>,
    pub(crate) last_activation: Option<Activation>,
    pub(crate) bootstrap_settings: Settings,
    pub(crate) runtime_settings: Option<Settings>,
    pub(crate) backend_capability: BackendCapability,
}

impl State {
    /// A new machine: revision 0, fail2ban assumed offline, nothing recorded,
    /// the session cache of the bootstrap settings.
    pub fn new(bootstrap_settings: Settings) -> Self {
        State {
            revision: 0,
            setup_complete_cached: false,
            server_status: ServerStatus::default(),
            pending_recovery: None,
            last_activation: None,
            bootstrap_settings,
            runtime_settings: None,
            backend_capability: BackendCapability::default(),
        }
    }

    /// A new machine from bootstrap settings as JSON text; errors name paths
    /// under `bootstrap`.
    pub fn from_bootstrap_json(text: &str) -> Result<Self, Error> {
        let value = json::parse_text(text)?;
        State::from_bootstrap_value(&value)
    }

    /// A new machine from bootstrap settings as a JSON value.
    pub fn from_bootstrap_value(value: &Value) -> Result<Self, Error> {
        let settings = Settings::read(value, &Path::Root("bootstrap"), ErrorKind::InvalidSettings)?;
        Ok(State::new(settings))
    }

    /// Restores a state from its JSON form (as [`State::to_json`] writes it).
    /// Errors name paths under `state`; an unknown `schema_version` is
    /// [`ErrorKind::UnknownSchemaVersion`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        State::from_value(&json::parse_text(text)?)
    }

    /// Restores a state from its JSON form as a value.
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let root = Path::Root("state");
        let kind = ErrorKind::InvalidState;
        let fields = Fields::of(value, &root, kind)?;
        // The version decides how to read the rest, so it is checked first.
        let version = fields.required("schema_version", "an integer")?;
        match version.as_u64() {
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::UnknownSchemaVersion,
                    root.key("schema_version"),
                    format!("unknown schema version {other}; this build reads version {SCHEMA_VERSION}"),
                ));
            }
            None => return Err(fields.mistyped("schema_version", "an integer", version)),
        }
        fields.deny_unknown(&[
            "schema_version",
            "revision",
            "setup_complete_cached",
            "server_status",
            "pending_recovery",
            "last_activation",
            "bootstrap_settings",
            "runtime_settings",
            "session_cache",
            "backend_capability",
        ])?;
        let revision_value = fields.required("revision", "a non-negative integer")?;
        let revision = revision_value
            .as_u64()
            .ok_or_else(|| fields.mistyped("revision", "a non-negative integer", revision_value))?;
        let status_path = root.key("server_status");
        let server_status =
            ServerStatus::read(fields.required("server_status", "an object")?, &status_path, kind)?;
        let recovery_path = root.key("pending_recovery");
        let pending_recovery = fields.nullable("pending_recovery", "an object or null", |v| {
            let f = Fields::of(v, &recovery_path, kind)?;
            f.deny_unknown(&["jail_name", "activated_at", "detected_at", "recovered"])?;
            Ok(PendingRecovery {
                jail_name: f.string("jail_name")?,
                activated_at: f.instant("activated_at")?,
                detected_at: f.instant("detected_at")?,
                recovered: f.bool("recovered")?,
            })
        })?;
        let activation_path = root.key("last_activation");
        let last_activation = fields.nullable("last_activation", "an object or null", |v| {
            let f = Fields::of(v, &activation_path, kind)?;
            f.deny_unknown(&["jail_name", "at"])?;
            Ok(Activation {
                jail_name: f.string("jail_name")?,
                at: f.instant("at")?,
            })
        })?;
        let bootstrap_path = root.key("bootstrap_settings");
        let bootstrap_settings = Settings::read(
            fields.required("bootstrap_settings", "an object")?,
            &bootstrap_path,
            kind,
        )?;
        let runtime_path = root.key("runtime_settings");
        let runtime_settings = fields.nullable("runtime_settings", "an object or null", |v| {
            Settings::read(v, &runtime_path, kind)
        })?;
        let capability_path = root.key("backend_capability");
        let f = Fields::of(
            fields.required("backend_capability", "an object")?,
            &capability_path,
            kind,
        )?;
        f.deny_unknown(&["supported", "probe_started_at"])?;
        let backend_capability = BackendCapability {
            supported: f.nullable("supported", "a boolean or null", |v| {
                v.as_bool()
                    .ok_or_else(|| f.mistyped("supported", "a boolean or null", v))
            })?,
            probe_started_at: f.nullable("probe_started_at", "an RFC 3339 instant or null", |_| {
                f.instant("probe_started_at")
            })?,
        };
        let state = State {
            revision,
            setup_complete_cached: fields.bool("setup_complete_cached")?,
            server_status,
            pending_recovery,
            last_activation,
            bootstrap_settings,
            runtime_settings,
            backend_capability,
        };
        // `session_cache` is derived; a stored value that disagrees would mean
        // the host installed a cache the settings do not call for.
        let cache_path = root.key("session_cache");
        let stored =
            SessionCacheKind::parse(fields.required("session_cache", "a string")?, &cache_path, kind)?;
        let derived = state.session_cache();
        if stored != derived {
            return Err(Error::new(
                kind,
                cache_path,
                format!(
                    "\"{}\" contradicts the effective settings, which call for \"{}\"",
                    stored.name(),
                    derived.name()
                ),
            ));
        }
        Ok(state)
    }

    /// The state's JSON form.
    pub fn to_json(&self) -> String {
        // Serialising plain data into a String cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The state's JSON form as a value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// How many events this state has accepted since it was new.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// `app.state.setup_complete_cached`.
    pub fn setup_complete_cached(&self) -> bool {
        self.setup_complete_cached
    }

    /// The last health probe's status (offline until the first probe).
    pub fn server_status(&self) -> &ServerStatus {
        &self.server_status
    }

    /// The crash being recovered from, if any.
    pub fn pending_recovery(&self) -> Option<&PendingRecovery> {
        self.pending_recovery.as_ref()
    }

    /// The last jail activation, if any. A crash does not clear it.
    pub fn last_activation(&self) -> Option<&Activation> {
        self.last_activation.as_ref()
    }

    /// The settings loaded at start-up (seed: `get_app_settings`).
    pub fn bootstrap_settings(&self) -> &Settings {
        &self.bootstrap_settings
    }

    /// The settings set at run time, if any.
    pub fn runtime_settings(&self) -> Option<&Settings> {
        self.runtime_settings.as_ref()
    }

    /// The backend-capability probe's cache.
    pub fn backend_capability(&self) -> &BackendCapability {
        &self.backend_capability
    }

    /// seed: `get_effective_settings`: the runtime settings if set, else the
    /// bootstrap settings.
    pub fn effective_settings(&self) -> &Settings {
        self.runtime_settings.as_ref().unwrap_or(&self.bootstrap_settings)
    }

    /// The session cache the host must have installed now: always the kind of
    /// the effective settings.
    pub fn session_cache(&self) -> SessionCacheKind {
        self.effective_settings().session_cache_kind()
    }

    /// The earliest instant, not before `now`, at which time alone changes how
    /// an event would be handled, or `None` when no such instant is ahead:
    ///
    /// - `last_activation.at + 60 s`: the crash window's last instant; a crash
    ///   detected later is no longer attributed to the activation;
    /// - for a probe in flight, `probe_started_at + 30 s`: from then on it is
    ///   stale and a request starts a new probe (or `probe_started_at` itself
    ///   when `now` is before it, the clock having moved backwards: from then
    ///   on a request joins the probe).
    ///
    /// ```
    /// use bangui_state_core::{Event, Instant, Settings, State};
    /// let t = |s: &str| Instant::parse_rfc3339(s).unwrap();
    /// let mut state = State::new(Settings::new(true, 60.0).unwrap());
    /// let activated = Event::JailActivated { jail_name: "sshd".into(), at: None };
    /// state.apply(activated, t("2026-04-27T16:00:00Z")).unwrap();
    /// let deadline = state.next_deadline(t("2026-04-27T16:00:18Z")).unwrap();
    /// assert_eq!(deadline, t("2026-04-27T16:01:00Z")); // "crash window closes in 42 s"
    /// assert_eq!(state.next_deadline(t("2026-04-27T16:01:00.000001Z")), None);
    /// ```
    pub fn next_deadline(&self, now: Instant) -> Option<Instant> {
        self.next_deadline_and_reason(now).map(|(at, _)| at)
    }

    /// [`State::next_deadline`] with what happens then (when both fall on
    /// one instant, the crash window).
    ///
    /// ```
    /// use bangui_state_core::{DeadlineReason, Event, Instant, Settings, State};
    /// let t = |s: &str| Instant::parse_rfc3339(s).unwrap();
    /// let mut state = State::new(Settings::new(true, 60.0).unwrap());
    /// state.apply(Event::BackendProbeRequested, t("2026-04-27T16:00:00Z")).unwrap();
    /// let stale = (t("2026-04-27T16:00:30Z"), DeadlineReason::ProbeGoesStale);
    /// assert_eq!(state.next_deadline_and_reason(t("2026-04-27T16:00:10Z")), Some(stale));
    /// let joinable = (t("2026-04-27T15:59:30.000001Z"), DeadlineReason::ProbeJoinable);
    /// assert_eq!(state.next_deadline_and_reason(t("2026-04-27T15:59:00Z")), Some(joinable));
    /// // A few seconds behind the probe's start (another host's clock), it is in flight.
    /// assert_eq!(state.next_deadline_and_reason(t("2026-04-27T15:59:58Z")), Some(stale));
    ///
    /// let activated = Event::JailActivated { jail_name: "sshd".into(), at: None };
    /// state.apply(activated, t("2026-04-27T15:59:40Z")).unwrap();
    /// let window = (t("2026-04-27T16:00:40Z"), DeadlineReason::CrashWindowCloses);
    /// assert_eq!(state.next_deadline_and_reason(t("2026-04-27T16:00:10Z")), Some(stale));
    /// assert_eq!(state.next_deadline_and_reason(t("2026-04-27T16:00:30Z")), Some(window));
    /// ```
    pub fn next_deadline_and_reason(&self, now: Instant) -> Option<(Instant, DeadlineReason)> {
        let window_end = self
            .last_activation
            .as_ref()
            .and_then(|a| a.at.checked_add_micros(ACTIVATION_CRASH_WINDOW_MICROS))
            .filter(|end| *end >= now)
            .map(|end| (end, DeadlineReason::CrashWindowCloses));
        let probe_change = match self.backend_capability {
            BackendCapability {
                supported: None,
                probe_started_at: Some(started),
            } => {
                if started.micros_since(now) >= PROBE_IN_FLIGHT_MICROS {
                    // The clock is 30 s or more before the probe's start:
                    // from 30 s before it (to the microsecond), a request joins.
                    started
                        .checked_add_micros(1 - PROBE_IN_FLIGHT_MICROS)
                        .map(|joinable| (joinable, DeadlineReason::ProbeJoinable))
                } else {
                    started
                        .checked_add_micros(PROBE_IN_FLIGHT_MICROS)
                        .filter(|stale| *stale > now)
                        .map(|stale| (stale, DeadlineReason::ProbeGoesStale))
                }
            }
            _ => None,
        };
        match (window_end, probe_change) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// What [`State::next_deadline_and_reason`]'s instant is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineReason {
    /// The crash window after the last jail activation closes: a crash
    /// detected later is no longer attributed to the activation.
    CrashWindowCloses,
    /// The backend capability probe in flight goes stale: a request then
    /// starts a new probe instead of joining it.
    ProbeGoesStale,
    /// The clock is 30 s or more before the probe in flight's start (it
    /// moved backwards): from this instant on a request joins the probe.
    ProbeJoinable,
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("State", 10)?;
        out.serialize_field("schema_version", &SCHEMA_VERSION)?;
        out.serialize_field("revision", &self.revision)?;
        out.serialize_field("setup_complete_cached", &self.setup_complete_cached)?;
        out.serialize_field("server_status", &self.server_status)?;
        out.serialize_field("pending_recovery", &self.pending_recovery)?;
        out.serialize_field("last_activation", &self.last_activation)?;
        out.serialize_field("bootstrap_settings", &self.bootstrap_settings)?;
        out.serialize_field("runtime_settings", &self.runtime_settings)?;
        out.serialize_field("session_cache", &self.session_cache())?;
        out.serialize_field("backend_capability", &self.backend_capability)?;
        out.end()
    }
}
