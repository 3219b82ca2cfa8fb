//! The transition: one function per event, each with the seed's rule.
//!
//! Every function here is infallible: events are validated when they are
//! built, and the one thing that can still fail (the revision counter) is
//! checked in [`State::apply_into`] before anything changes.

use alloc::vec::Vec;

use crate::effect::{Effect, Log};
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::instant::{Instant, micros_to_seconds};
use crate::settings::{Settings, SettingsOverrides};
use crate::state::{
    ACTIVATION_CRASH_WINDOW_MICROS, Activation, BackendCapability, PendingRecovery, State, probe_in_flight,
};
use crate::status::ServerStatus;

/// The pure functional form: the state after `event` at `now`, and the
/// effects, or an error. `state` is borrowed, so it is unchanged either way.
///
/// ```
/// use bangui_state_core::{step, Event, Instant, Settings, State};
/// let state = State::new(Settings::new(true, 3600.0).unwrap());
/// let now = Instant::parse_rfc3339("2026-04-27T16:42:52Z").unwrap();
/// let (next, effects) = step(&state, &Event::BackendProbeRequested, now).unwrap();
/// assert_eq!((state.revision(), next.revision()), (0, 1));
/// assert_eq!(effects.len(), 1); // probe_backend_capability
/// ```
pub fn step(state: &State, event: &Event, now: Instant) -> Result<(State, Vec<Effect>), Error> {
    let mut next = state.clone();
    let effects = next.apply(event.clone(), now)?;
    Ok((next, effects))
}

/// How a health probe changed fail2ban's reachability (the branch the seed's
/// `process_health_probe_result` took).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProbeTransition {
    /// Online before and after, or offline before and after.
    Unchanged,
    /// Offline before, online now.
    CameOnline {
        /// An unrecovered pending recovery was marked recovered.
        recovery_resolved: bool,
    },
    /// Online before, offline now.
    WentOffline {
        /// `Some(seconds since the last activation)` when the crash was
        /// attributed to it and a new pending recovery was created.
        crash_detected: Option<f64>,
    },
}

/// What a fast-path health probe did, borrowed from the state it changed,
/// so its effects can be built on demand and never from a later state.
#[derive(Debug)]
pub struct ProbeReport<'a> {
    state: &'a State,
    transition: ProbeTransition,
}

impl ProbeReport<'_> {
    /// The branch the probe took.
    pub fn transition(&self) -> ProbeTransition {
        self.transition
    }

    /// The effects, exactly as [`State::apply`] would have returned them.
    pub fn effects(&self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.effects_into(&mut effects);
        effects
    }

    /// Appends the effects to `effects`.
    pub fn effects_into(&self, effects: &mut Vec<Effect>) {
        let state = self.state;
        let status = &state.server_status;
        match self.transition {
            ProbeTransition::Unchanged => {}
            ProbeTransition::CameOnline { recovery_resolved } => {
                effects.push(Effect::Log(Log::Fail2banCameOnline {
                    version: status.version.clone(),
                }));
                if let (true, Some(recovery)) = (recovery_resolved, &state.pending_recovery) {
                    effects.push(Effect::Log(Log::PendingRecoveryResolved {
                        jail: recovery.jail_name.clone(),
                    }));
                }
            }
            ProbeTransition::WentOffline { crash_detected } => {
                effects.push(Effect::Log(Log::Fail2banWentOffline));
                if let (Some(seconds), Some(activation)) = (crash_detected, &state.last_activation) {
                    effects.push(Effect::Log(Log::ActivationCrashDetected {
                        jail: activation.jail_name.clone(),
                        seconds_since_activation: seconds,
                    }));
                }
            }
        }
        effects.push(Effect::Log(Log::HealthCheckComplete {
            online: status.online,
            version: status.version.clone(),
            active_jails: status.active_jails,
        }));
    }
}

impl State {
    /// Applies `event` at `now` and returns the effects. On error nothing has
    /// changed. Every accepted event adds exactly 1 to [`State::revision`].
    pub fn apply(&mut self, event: Event, now: Instant) -> Result<Vec<Effect>, Error> {
        let mut effects = Vec::new();
        self.apply_into(event, now, &mut effects)?;
        Ok(effects)
    }

    /// As [`State::apply`], appending the effects to a buffer the caller reuses.
    pub fn apply_into(&mut self, event: Event, now: Instant, effects: &mut Vec<Effect>) -> Result<(), Error> {
        let next_revision = self.next_revision()?;
        match event {
            Event::HealthProbeCompleted { status } => self.health_probe_completed(status, now, effects),
            Event::JailActivated { jail_name, at } => self.jail_activated(jail_name, at, now),
            Event::PendingRecoveryCreated {
                jail_name,
                activated_at,
                detected_at,
            } => self.pending_recovery_created(jail_name, activated_at, detected_at, now),
            Event::PendingRecoveryCleared => self.pending_recovery_cleared(),
            Event::ActivationCleared => self.activation_cleared(),
            Event::RuntimeSettingsSet { settings } => self.runtime_settings_set(settings, effects),
            Event::SettingsUpdated { overrides } => self.settings_updated(&overrides, effects),
            Event::SetupCompletionCached { complete } => self.setup_completion_cached(complete),
            Event::BackendProbeRequested => self.backend_probe_requested(now, effects),
            Event::BackendProbeCompleted { supported } => self.backend_probe_completed(supported),
            Event::BackendProbeFailed { reason } => self.backend_probe_failed(reason, effects),
            Event::BackendCapabilityReset => self.backend_capability_reset(),
        }
        self.revision = next_revision;
        Ok(())
    }

    /// The fast path for `health_probe_completed`: the same rule and the same
    /// revision step, taking the status's fields by reference and allocating
    /// nothing in the steady state (same reachability, same version). The
    /// status has no extra keys afterwards, as a probe that sent none.
    ///
    /// ```
    /// use bangui_state_core::{Instant, ProbeTransition, Settings, State};
    /// let mut state = State::new(Settings::new(true, 3600.0).unwrap());
    /// let now = Instant::from_unix_micros(1_777_308_172_000_000).unwrap();
    /// let report = state.health_probe(true, Some("1.1.0"), 3, now).unwrap();
    /// assert_eq!(report.transition(), ProbeTransition::CameOnline { recovery_resolved: false });
    /// assert_eq!(report.effects().len(), 2);
    /// ```
    pub fn health_probe(
        &mut self,
        online: bool,
        version: Option<&str>,
        active_jails: u64,
        now: Instant,
    ) -> Result<ProbeReport<'_>, Error> {
        let next_revision = self.next_revision()?;
        let transition = self.process_health_probe(|s| s.assign(online, version, active_jails), now);
        self.revision = next_revision;
        Ok(ProbeReport {
            state: self,
            transition,
        })
    }

    fn next_revision(&self) -> Result<u64, Error> {
        self.revision.checked_add(1).ok_or_else(|| {
            Error::new(
                ErrorKind::RevisionExhausted,
                "state.revision",
                "at its maximum; no further event can be counted",
            )
        })
    }

    /// `health_probe_completed`, seed `process_health_probe_result`: see
    /// [`State::process_health_probe`] for the rule; the effects follow it:
    /// info `fail2ban_came_online` {version} then info
    /// `pending_recovery_resolved` {jail}; or warning `fail2ban_went_offline`
    /// {} then warning `activation_crash_detected` {jail,
    /// seconds_since_activation}; always last, debug `health_check_complete`
    /// {online, version, active_jails}.
    fn health_probe_completed(&mut self, status: ServerStatus, now: Instant, effects: &mut Vec<Effect>) {
        let transition = self.process_health_probe(|s| *s = status, now);
        ProbeReport {
            state: self,
            transition,
        }
        .effects_into(effects);
    }

    /// seed `process_health_probe_result`:
    ///
    /// 1. `prev = server_status`; `server_status = status` (always, whole).
    /// 2. Offline → online: an existing, unrecovered pending recovery becomes
    ///    recovered (same jail and instants).
    /// 3. Online → offline: if there is a last activation with
    ///    `(now - at).total_seconds() <= 60` (inclusive; negative counts as
    ///    inside, the seed has no lower bound) and the pending recovery is
    ///    absent or already recovered, a new pending recovery {activation's
    ///    jail, activated_at = at, detected_at = now}. An unrecovered one is
    ///    never replaced; the last activation is never cleared here.
    fn process_health_probe(
        &mut self,
        set_status: impl FnOnce(&mut ServerStatus),
        now: Instant,
    ) -> ProbeTransition {
        let was_online = self.server_status.online;
        set_status(&mut self.server_status);
        let online = self.server_status.online;
        if online && !was_online {
            let recovery_resolved = match &mut self.pending_recovery {
                Some(recovery) if !recovery.recovered => {
                    recovery.recovered = true;
                    true
                }
                _ => false,
            };
            ProbeTransition::CameOnline { recovery_resolved }
        } else if !online && was_online {
            let crash_detected = match &self.last_activation {
                Some(activation) => {
                    let elapsed = now.micros_since(activation.at);
                    let replaceable = self.pending_recovery.as_ref().is_none_or(|r| r.recovered);
                    if elapsed <= ACTIVATION_CRASH_WINDOW_MICROS && replaceable {
                        self.pending_recovery = Some(PendingRecovery {
                            jail_name: activation.jail_name.clone(),
                            activated_at: activation.at,
                            detected_at: now,
                            recovered: false,
                        });
                        Some(micros_to_seconds(elapsed))
                    } else {
                        None
                    }
                }
                None => None,
            };
            ProbeTransition::WentOffline { crash_detected }
        } else {
            ProbeTransition::Unchanged
        }
    }

    /// seed `record_activation`: `last_activation = {jail_name, at or now}`,
    /// replacing any earlier one. No effects.
    fn jail_activated(&mut self, jail_name: alloc::string::String, at: Option<Instant>, now: Instant) {
        self.last_activation = Some(Activation {
            jail_name,
            at: at.unwrap_or(now),
        });
    }

    /// seed `create_pending_recovery`: `pending_recovery = {jail_name,
    /// activated_at, detected_at or now, recovered: false}`, replacing any
    /// earlier one, recovered or not. No effects.
    fn pending_recovery_created(
        &mut self,
        jail_name: alloc::string::String,
        activated_at: Instant,
        detected_at: Option<Instant>,
        now: Instant,
    ) {
        self.pending_recovery = Some(PendingRecovery {
            jail_name,
            activated_at,
            detected_at: detected_at.unwrap_or(now),
            recovered: false,
        });
    }

    /// seed `clear_pending_recovery`: `pending_recovery = None`. No effects.
    fn pending_recovery_cleared(&mut self) {
        self.pending_recovery = None;
    }

    /// seed `clear_activation_record`: `last_activation = None`. No effects.
    fn activation_cleared(&mut self) {
        self.last_activation = None;
    }

    /// seed `set_runtime_settings`: `runtime_settings = settings`, then a new
    /// cache of the settings' kind (`in_memory` when
    /// `session_cache_enabled and session_cache_ttl_seconds > 0.0`, else
    /// `no_op`) is installed and logged, even when the kind is unchanged:
    /// `session_cache_replaced` {kind}, then debug `session_cache_updated`
    /// {cache_type}.
    fn runtime_settings_set(&mut self, settings: Settings, effects: &mut Vec<Effect>) {
        let kind = settings.session_cache_kind();
        self.runtime_settings = Some(settings);
        effects.push(Effect::SessionCacheReplaced { kind });
        effects.push(Effect::Log(Log::SessionCacheUpdated { kind }));
    }

    /// seed `update_app_settings(**overrides)`:
    /// `set_runtime_settings(get_app_settings().model_copy(update=overrides))`.
    /// The overrides apply to the **bootstrap** settings, not to the current
    /// runtime settings, so two updates do not accumulate.
    fn settings_updated(&mut self, overrides: &SettingsOverrides, effects: &mut Vec<Effect>) {
        let updated = self.bootstrap_settings.with_overrides(overrides);
        self.runtime_settings_set(updated, effects);
    }

    /// seed `app.state.setup_complete_cached = complete`. No effects.
    fn setup_completion_cached(&mut self, complete: bool) {
        self.setup_complete_cached = complete;
    }

    /// The seed's probe under `backend_cmd_lock`, made explicit: if
    /// `supported` is known, nothing; else if a probe is in flight
    /// (`|now - probe_started_at| < 30 s`) the request joins it, nothing;
    /// else `probe_started_at = now` and effect `probe_backend_capability`.
    fn backend_probe_requested(&mut self, now: Instant, effects: &mut Vec<Effect>) {
        let capability = &mut self.backend_capability;
        if capability.supported.is_some() {
            return;
        }
        // In flight while `now` is less than 30 s from the probe's start, on
        // either side: a worker retrying its request at its own, slightly
        // earlier `now` (a lost compare-and-set, a clock a little behind
        // another host's) joins the probe instead of starting a second one.
        // A clock that moved back by 30 s or more starts a new probe.
        if let Some(started) = capability.probe_started_at {
            if probe_in_flight(now.micros_since(started)) {
                return;
            }
        }
        capability.probe_started_at = Some(now);
        effects.push(Effect::ProbeBackendCapability);
    }

    /// The probe's result stored in `backend_cmd_supported`:
    /// `supported = result`, `probe_started_at = None`. No effects.
    fn backend_probe_completed(&mut self, supported: bool) {
        self.backend_capability = BackendCapability {
            supported: Some(supported),
            probe_started_at: None,
        };
    }

    /// The probe raised: nothing is cached (`supported` unchanged),
    /// `probe_started_at = None`, and warning `backend_capability_probe_failed`
    /// {reason}.
    fn backend_probe_failed(&mut self, reason: Option<alloc::string::String>, effects: &mut Vec<Effect>) {
        self.backend_capability.probe_started_at = None;
        effects.push(Effect::Log(Log::BackendCapabilityProbeFailed { reason }));
    }

    /// seed `reset_backend_capability_cache`: `supported = None`, and no probe
    /// counts as in flight. No effects.
    fn backend_capability_reset(&mut self) {
        self.backend_capability = BackendCapability::default();
    }
}
