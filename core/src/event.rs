//! Events: what happened, as the host tells the core.

use alloc::format;
use alloc::string::String;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, ErrorKind};
use crate::instant::Instant;
use crate::json::{self, Fields, Path};
use crate::settings::{Settings, SettingsOverrides};
use crate::status::ServerStatus;

/// One thing that happened to BanGUI. The JSON form is an object with a
/// `"type"` (the snake_case name below) and the variant's fields.
///
/// ```
/// use bangui_state_core::Event;
/// let e = Event::from_json(r#"{"type": "jail_activated", "jail_name": "sshd"}"#).unwrap();
/// assert_eq!(e, Event::JailActivated { jail_name: "sshd".into(), at: None });
///
/// let err = Event::from_json(r#"{"type": "health_probe_completed", "status": {"online": "yes"}}"#)
///     .unwrap_err();
/// assert_eq!(err.to_string(), "event.status.online: expected a boolean, found a string");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A health probe finished (seed: `process_health_probe_result`).
    HealthProbeCompleted {
        /// What the probe found.
        status: ServerStatus,
    },
    /// A jail was activated (seed: `record_activation`).
    JailActivated {
        /// The jail.
        jail_name: String,
        /// When; `None` means `now`.
        at: Option<Instant>,
    },
    /// The host recorded a pending recovery itself (seed: `create_pending_recovery`).
    PendingRecoveryCreated {
        /// The jail blamed.
        jail_name: String,
        /// When it was activated.
        activated_at: Instant,
        /// When the crash was noticed; `None` means `now`.
        detected_at: Option<Instant>,
    },
    /// seed: `clear_pending_recovery`.
    PendingRecoveryCleared,
    /// seed: `clear_activation_record`.
    ActivationCleared,
    /// seed: `set_runtime_settings`.
    RuntimeSettingsSet {
        /// The new runtime settings, whole.
        settings: Settings,
    },
    /// seed: `update_app_settings(**overrides)`: applied to the bootstrap settings.
    SettingsUpdated {
        /// The keys to change.
        overrides: SettingsOverrides,
    },
    /// seed: `app.state.setup_complete_cached = complete`.
    SetupCompletionCached {
        /// Whether setup is complete.
        complete: bool,
    },
    /// A caller needs the backend capability (seed: the probe under `backend_cmd_lock`).
    BackendProbeRequested,
    /// The capability probe finished (seed: `backend_cmd_supported = result`).
    BackendProbeCompleted {
        /// Whether the backend supports the command.
        supported: bool,
    },
    /// The capability probe raised; nothing is cached.
    BackendProbeFailed {
        /// Why, if the host knows.
        reason: Option<String>,
    },
    /// seed: `reset_backend_capability_cache`.
    BackendCapabilityReset,
}

/// Every event type, in the contract's order.
pub const EVENT_TYPES: [&str; 12] = [
    "health_probe_completed",
    "jail_activated",
    "pending_recovery_created",
    "pending_recovery_cleared",
    "activation_cleared",
    "runtime_settings_set",
    "settings_updated",
    "setup_completion_cached",
    "backend_probe_requested",
    "backend_probe_completed",
    "backend_probe_failed",
    "backend_capability_reset",
];

impl Event {
    /// Parses an event from JSON text. Errors are [`ErrorKind::InvalidJson`]
    /// or [`ErrorKind::InvalidEvent`], with paths under `event`.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        Event::from_value(&json::parse_text(text)?)
    }

    /// Reads an event from a JSON value; see [`Event::from_json`].
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let root = Path::Root("event");
        let kind = ErrorKind::InvalidEvent;
        let f = Fields::of(value, &root, kind)?;
        let type_value = f.required("type", "a string naming the event")?;
        let type_name = type_value
            .as_str()
            .ok_or_else(|| f.mistyped("type", "a string naming the event", type_value))?;
        let event = match type_name {
            "health_probe_completed" => {
                f.deny_unknown(&["type", "status"])?;
                let path = root.key("status");
                let status = ServerStatus::read(f.required("status", "an object")?, &path, kind)?;
                Event::HealthProbeCompleted { status }
            }
            "jail_activated" => {
                f.deny_unknown(&["type", "jail_name", "at"])?;
                Event::JailActivated {
                    jail_name: f.string("jail_name")?,
                    at: f.optional_instant("at")?,
                }
            }
            "pending_recovery_created" => {
                f.deny_unknown(&["type", "jail_name", "activated_at", "detected_at"])?;
                Event::PendingRecoveryCreated {
                    jail_name: f.string("jail_name")?,
                    activated_at: f.instant("activated_at")?,
                    detected_at: f.optional_instant("detected_at")?,
                }
            }
            "pending_recovery_cleared" => {
                f.deny_unknown(&["type"])?;
                Event::PendingRecoveryCleared
            }
            "activation_cleared" => {
                f.deny_unknown(&["type"])?;
                Event::ActivationCleared
            }
            "runtime_settings_set" => {
                f.deny_unknown(&["type", "settings"])?;
                let path = root.key("settings");
                let settings = Settings::read(f.required("settings", "an object")?, &path, kind)?;
                Event::RuntimeSettingsSet { settings }
            }
            "settings_updated" => {
                f.deny_unknown(&["type", "overrides"])?;
                let path = root.key("overrides");
                let overrides = SettingsOverrides::read(f.required("overrides", "an object")?, &path, kind)?;
                Event::SettingsUpdated { overrides }
            }
            "setup_completion_cached" => {
                f.deny_unknown(&["type", "complete"])?;
                Event::SetupCompletionCached {
                    complete: f.bool("complete")?,
                }
            }
            "backend_probe_requested" => {
                f.deny_unknown(&["type"])?;
                Event::BackendProbeRequested
            }
            "backend_probe_completed" => {
                f.deny_unknown(&["type", "supported"])?;
                Event::BackendProbeCompleted {
                    supported: f.bool("supported")?,
                }
            }
            "backend_probe_failed" => {
                f.deny_unknown(&["type", "reason"])?;
                Event::BackendProbeFailed {
                    reason: f.optional_string("reason")?,
                }
            }
            "backend_capability_reset" => {
                f.deny_unknown(&["type"])?;
                Event::BackendCapabilityReset
            }
            other => {
                return Err(Error::new(
                    kind,
                    root.key("type"),
                    format!(
                        "unknown event type {}; expected one of: {}",
                        json::quoted(other),
                        json::Listed(&EVENT_TYPES)
                    ),
                ));
            }
        };
        Ok(event)
    }

    /// The event's `"type"` in JSON.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::HealthProbeCompleted { .. } => "health_probe_completed",
            Event::JailActivated { .. } => "jail_activated",
            Event::PendingRecoveryCreated { .. } => "pending_recovery_created",
            Event::PendingRecoveryCleared => "pending_recovery_cleared",
            Event::ActivationCleared => "activation_cleared",
            Event::RuntimeSettingsSet { .. } => "runtime_settings_set",
            Event::SettingsUpdated { .. } => "settings_updated",
            Event::SetupCompletionCached { .. } => "setup_completion_cached",
            Event::BackendProbeRequested => "backend_probe_requested",
            Event::BackendProbeCompleted { .. } => "backend_probe_completed",
            Event::BackendProbeFailed { .. } => "backend_probe_failed",
            Event::BackendCapabilityReset => "backend_capability_reset",
        }
    }
}

impl Serialize for Event {
    /// The JSON form [`Event::from_value`] reads; optional fields left out when `None`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", self.type_name())?;
        match self {
            Event::HealthProbeCompleted { status } => map.serialize_entry("status", status)?,
            Event::JailActivated { jail_name, at } => {
                map.serialize_entry("jail_name", jail_name)?;
                if let Some(at) = at {
                    map.serialize_entry("at", at)?;
                }
            }
            Event::PendingRecoveryCreated {
                jail_name,
                activated_at,
                detected_at,
            } => {
                map.serialize_entry("jail_name", jail_name)?;
                map.serialize_entry("activated_at", activated_at)?;
                if let Some(detected_at) = detected_at {
                    map.serialize_entry("detected_at", detected_at)?;
                }
            }
            Event::RuntimeSettingsSet { settings } => map.serialize_entry("settings", settings)?,
            Event::SettingsUpdated { overrides } => map.serialize_entry("overrides", overrides)?,
            Event::SetupCompletionCached { complete } => map.serialize_entry("complete", complete)?,
            Event::BackendProbeCompleted { supported } => map.serialize_entry("supported", supported)?,
            Event::BackendProbeFailed { reason } => {
                if let Some(reason) = reason {
                    map.serialize_entry("reason", reason)?;
                }
            }
            Event::PendingRecoveryCleared
            | Event::ActivationCleared
            | Event::BackendProbeRequested
            | Event::BackendCapabilityReset => {}
        }
        map.end()
    }
}
