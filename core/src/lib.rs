//! BanGUI's runtime state as one pure transition function.
//!
//! BanGUI (a web GUI for fail2ban) keeps some state at run time: fail2ban's
//! last known status, the crash-after-jail-activation detection and its
//! recovery, runtime settings over bootstrap settings, which session cache is
//! installed, and the cached backend-capability probe. This crate is that
//! state as plain data and a transition
//!
//! ```text
//! step(state, event, now) -> (state', effects)
//! ```
//!
//! with no clock, no I/O and no globals (`#![no_std]`): time only arrives as
//! `now`, and logs, cache swaps and probes leave as [`Effect`] values for the
//! host to carry out. The state has one JSON form ([`State::to_json`],
//! [`State::from_json`]) so any number of processes can share it.
//!
//! The behaviour is that of BanGUI's `app/utils/runtime_state.py`, quirks
//! included; the contract every binding follows is `CONTRACT.md` at the root
//! of the bangui-state repository.
//!
//! Keys the core does not interpret (unknown settings keys and overrides,
//! extra server-status keys) are carried through as the same JSON value: with
//! the default `exact-numbers` feature a number keeps every digit it was
//! written with (integers beyond 64 bits included), and a value may nest up
//! to [`MAX_PASS_THROUGH_DEPTH`] levels, so that every state the machine
//! produces restores from its own JSON form.
//!
//! ```
//! use bangui_state_core::{Effect, Event, Instant, Log, ServerStatus, Settings, State};
//!
//! let t = |s: &str| Instant::parse_rfc3339(s).unwrap();
//! let mut state = State::new(Settings::new(true, 3600.0).unwrap());
//! let online = ServerStatus::new(true, Some("1.1.0".into()), 2);
//! state.apply(Event::HealthProbeCompleted { status: online.clone() }, t("2026-04-27T16:00:00Z")).unwrap();
//! state.apply(Event::JailActivated { jail_name: "sshd".into(), at: None }, t("2026-04-27T16:00:05Z")).unwrap();
//!
//! // fail2ban goes down 12 s after the activation: the crash is attributed.
//! let offline = ServerStatus::new(false, None, 0);
//! let effects = state.apply(Event::HealthProbeCompleted { status: offline }, t("2026-04-27T16:00:17Z")).unwrap();
//! assert!(effects.contains(&Effect::Log(Log::ActivationCrashDetected {
//!     jail: "sshd".into(),
//!     seconds_since_activation: 12.0,
//! })));
//!
//! // It comes back: the recovery is resolved.
//! state.apply(Event::HealthProbeCompleted { status: online }, t("2026-04-27T16:00:40Z")).unwrap();
//! assert!(state.pending_recovery().unwrap().recovered);
//! assert_eq!(state.revision(), 4);
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(test)]
mod contract_doc;
mod effect;
mod error;
mod event;
mod instant;
mod json;
mod settings;
mod state;
mod status;
mod trace;
mod transition;

pub use effect::{Effect, Log, LogLevel};
pub use error::{Error, ErrorKind};
pub use event::{EVENT_TYPES, Event};
pub use instant::{Instant, MICROS_PER_SECOND, micros_to_seconds};
pub use json::{MAX_PASS_THROUGH_DEPTH, syntax_error_words};
pub use settings::{
    SESSION_CACHE_ENABLED, SESSION_CACHE_TTL_SECONDS, SessionCacheKind, Settings, SettingsOverrides,
};
pub use state::{
    ACTIVATION_CRASH_WINDOW_MICROS, Activation, BackendCapability, DeadlineReason, PROBE_IN_FLIGHT_MICROS,
    PendingRecovery, SCHEMA_VERSION, State,
};
pub use status::ServerStatus;
pub use trace::{StepOutput, Trace, parse_step};
pub use transition::{ProbeReport, ProbeTransition, step};

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
