//! Effects: what the host must do, in the order the seed did it.

use alloc::string::String;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::settings::SessionCacheKind;

/// Something the host carries out after a step.
///
/// JSON: `{"type": "log", "level", "event", "fields"}`,
/// `{"type": "session_cache_replaced", "kind"}` or
/// `{"type": "probe_backend_capability"}`.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Write a structured log record, as the seed's structlog call did.
    Log(Log),
    /// Install a new, empty session cache of this kind (even when the kind is
    /// unchanged: the seed builds a new cache every time).
    SessionCacheReplaced {
        /// The cache to install.
        kind: SessionCacheKind,
    },
    /// Run the backend-capability probe, then report `backend_probe_completed`
    /// or `backend_probe_failed`.
    ProbeBackendCapability,
}

/// A structlog level used by the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    /// `log.debug`
    Debug,
    /// `log.info`
    Info,
    /// `log.warning`
    Warning,
}

impl LogLevel {
    /// `"debug"`, `"info"` or `"warning"`.
    pub const fn name(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
        }
    }
}

/// One of the seed's structlog calls, with its keyword arguments.
#[derive(Clone, Debug, PartialEq)]
pub enum Log {
    /// info `fail2ban_came_online` {`version`}
    Fail2banCameOnline {
        /// The version the probe reported.
        version: Option<String>,
    },
    /// info `pending_recovery_resolved` {`jail`}
    PendingRecoveryResolved {
        /// The jail of the recovery.
        jail: String,
    },
    /// warning `fail2ban_went_offline` {}
    Fail2banWentOffline,
    /// warning `activation_crash_detected` {`jail`, `seconds_since_activation`}
    ActivationCrashDetected {
        /// The jail blamed.
        jail: String,
        /// `(now - activation.at).total_seconds()`; negative when the clock moved back.
        seconds_since_activation: f64,
    },
    /// debug `health_check_complete` {`online`, `version`, `active_jails`}
    HealthCheckComplete {
        /// The probe's `online`.
        online: bool,
        /// The probe's `version`.
        version: Option<String>,
        /// The probe's `active_jails`.
        active_jails: u64,
    },
    /// debug `session_cache_updated` {`cache_type`}
    SessionCacheUpdated {
        /// The cache installed.
        kind: SessionCacheKind,
    },
    /// warning `backend_capability_probe_failed` {`reason`}
    BackendCapabilityProbeFailed {
        /// Why, if known.
        reason: Option<String>,
    },
}

impl Log {
    /// The structlog level.
    pub const fn level(&self) -> LogLevel {
        match self {
            Log::Fail2banCameOnline { .. } | Log::PendingRecoveryResolved { .. } => LogLevel::Info,
            Log::Fail2banWentOffline
            | Log::ActivationCrashDetected { .. }
            | Log::BackendCapabilityProbeFailed { .. } => LogLevel::Warning,
            Log::HealthCheckComplete { .. } | Log::SessionCacheUpdated { .. } => LogLevel::Debug,
        }
    }

    /// The structlog event name.
    pub const fn event_name(&self) -> &'static str {
        match self {
            Log::Fail2banCameOnline { .. } => "fail2ban_came_online",
            Log::PendingRecoveryResolved { .. } => "pending_recovery_resolved",
            Log::Fail2banWentOffline => "fail2ban_went_offline",
            Log::ActivationCrashDetected { .. } => "activation_crash_detected",
            Log::HealthCheckComplete { .. } => "health_check_complete",
            Log::SessionCacheUpdated { .. } => "session_cache_updated",
            Log::BackendCapabilityProbeFailed { .. } => "backend_capability_probe_failed",
        }
    }
}

/// The keyword arguments of a [`Log`], serialised as a JSON object.
struct LogFields<'a>(&'a Log);

impl Serialize for LogFields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self.0 {
            Log::Fail2banCameOnline { version } => map.serialize_entry("version", version)?,
            Log::PendingRecoveryResolved { jail } => map.serialize_entry("jail", jail)?,
            Log::Fail2banWentOffline => {}
            Log::ActivationCrashDetected {
                jail,
                seconds_since_activation,
            } => {
                map.serialize_entry("jail", jail)?;
                map.serialize_entry("seconds_since_activation", seconds_since_activation)?;
            }
            Log::HealthCheckComplete {
                online,
                version,
                active_jails,
            } => {
                map.serialize_entry("online", online)?;
                map.serialize_entry("version", version)?;
                map.serialize_entry("active_jails", active_jails)?;
            }
            Log::SessionCacheUpdated { kind } => map.serialize_entry("cache_type", kind.class_name())?,
            Log::BackendCapabilityProbeFailed { reason } => map.serialize_entry("reason", reason)?,
        }
        map.end()
    }
}

impl Serialize for Effect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Effect::Log(log) => {
                map.serialize_entry("type", "log")?;
                map.serialize_entry("level", &log.level())?;
                map.serialize_entry("event", log.event_name())?;
                map.serialize_entry("fields", &LogFields(log))?;
            }
            Effect::SessionCacheReplaced { kind } => {
                map.serialize_entry("type", "session_cache_replaced")?;
                map.serialize_entry("kind", kind)?;
            }
            Effect::ProbeBackendCapability => map.serialize_entry("type", "probe_backend_capability")?,
        }
        map.end()
    }
}
