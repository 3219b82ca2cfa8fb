//! One test per rule of BanGUI's `runtime_state.py`, named after the
//! behaviour, driven by a virtual clock.

use bangui_state_core::{
    Effect, ErrorKind, Event, Instant, Log, LogLevel, ProbeTransition, ServerStatus, SessionCacheKind,
    Settings, State, step,
};
use serde_json::json;

/// 2026-04-27T16:00:00Z plus `micros`.
fn at(micros: i64) -> Instant {
    Instant::from_unix_micros(1_777_305_600_000_000 + micros).unwrap()
}

const S: i64 = 1_000_000;

fn machine() -> State {
    State::new(Settings::new(true, 3600.0).unwrap())
}

fn apply(state: &mut State, event: serde_json::Value, now: Instant) -> Vec<Effect> {
    let event = Event::from_value(&event).unwrap();
    state.apply(event, now).unwrap()
}

fn probe(state: &mut State, online: bool, now: Instant) -> Vec<Effect> {
    apply(
        state,
        json!({"type": "health_probe_completed", "status": {"online": online, "version": "1.1.0", "active_jails": 2}}),
        now,
    )
}

fn activate(state: &mut State, jail: &str, now: Instant) {
    apply(state, json!({"type": "jail_activated", "jail_name": jail}), now);
}

fn events(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Log(log) => log.event_name(),
            Effect::SessionCacheReplaced { .. } => "session_cache_replaced",
            Effect::ProbeBackendCapability => "probe_backend_capability",
        })
        .collect()
}

fn crash_seconds(effects: &[Effect]) -> Option<f64> {
    effects.iter().find_map(|e| match e {
        Effect::Log(Log::ActivationCrashDetected {
            seconds_since_activation,
            ..
        }) => Some(*seconds_since_activation),
        _ => None,
    })
}

/// Online at 0, `jail` activated at 10 s, then a crash `elapsed` µs later.
fn crash_after(elapsed: i64) -> (State, Vec<Effect>) {
    let mut state = machine();
    probe(&mut state, true, at(0));
    activate(&mut state, "sshd", at(10 * S));
    let effects = probe(&mut state, false, at(10 * S + elapsed));
    (state, effects)
}

// --- process_health_probe_result ---------------------------------------

#[test]
fn first_offline_probe_is_no_transition_and_logs_only_health_check_complete() {
    let mut state = machine();
    let effects = probe(&mut state, false, at(0));
    assert_eq!(events(&effects), ["health_check_complete"]);
    assert_eq!(state.revision(), 1);
}

#[test]
fn offline_to_online_logs_came_online_with_the_new_version_at_info() {
    let mut state = machine();
    let effects = probe(&mut state, true, at(0));
    assert_eq!(
        effects[0],
        Effect::Log(Log::Fail2banCameOnline {
            version: Some("1.1.0".into())
        })
    );
    assert_eq!(Log::Fail2banCameOnline { version: None }.level(), LogLevel::Info);
    assert_eq!(
        events(&effects),
        ["fail2ban_came_online", "health_check_complete"]
    );
}

#[test]
fn online_to_online_logs_only_health_check_complete() {
    let mut state = machine();
    probe(&mut state, true, at(0));
    assert_eq!(events(&probe(&mut state, true, at(S))), ["health_check_complete"]);
}

#[test]
fn online_to_offline_without_activation_logs_went_offline_only() {
    let mut state = machine();
    probe(&mut state, true, at(0));
    let effects = probe(&mut state, false, at(S));
    assert_eq!(
        events(&effects),
        ["fail2ban_went_offline", "health_check_complete"]
    );
    assert_eq!(state.pending_recovery(), None);
}

#[test]
fn health_check_complete_is_always_last_and_carries_the_new_status() {
    let mut state = machine();
    let effects = apply(
        &mut state,
        json!({"type": "health_probe_completed", "status": {"online": true, "version": "0.11.2", "active_jails": 7}}),
        at(0),
    );
    assert_eq!(
        effects.last().unwrap(),
        &Effect::Log(Log::HealthCheckComplete {
            online: true,
            version: Some("0.11.2".into()),
            active_jails: 7
        })
    );
}

#[test]
fn status_is_replaced_whole_with_defaults_and_extra_keys() {
    let mut state = machine();
    apply(
        &mut state,
        json!({"type": "health_probe_completed", "status": {"online": true, "version": "1", "active_jails": 3, "total_bans": 9}}),
        at(0),
    );
    apply(
        &mut state,
        json!({"type": "health_probe_completed", "status": {"online": true}}),
        at(S),
    );
    assert_eq!(state.server_status(), &ServerStatus::new(true, None, 0));
    assert_eq!(
        state.to_value()["server_status"],
        json!({"online": true, "version": null, "active_jails": 0})
    );
}

#[test]
fn crash_within_the_window_creates_a_pending_recovery_and_logs_the_crash() {
    let (state, effects) = crash_after(12 * S);
    assert_eq!(
        events(&effects),
        [
            "fail2ban_went_offline",
            "activation_crash_detected",
            "health_check_complete"
        ]
    );
    assert_eq!(crash_seconds(&effects), Some(12.0));
    let recovery = state.pending_recovery().unwrap();
    assert_eq!(
        (
            recovery.jail_name.as_str(),
            recovery.activated_at,
            recovery.detected_at,
            recovery.recovered
        ),
        ("sshd", at(10 * S), at(22 * S), false)
    );
}

#[test]
fn crash_exactly_60_000000_seconds_after_activation_is_attributed() {
    let (state, effects) = crash_after(60 * S);
    assert_eq!(crash_seconds(&effects), Some(60.0));
    assert!(state.pending_recovery().is_some());
}

#[test]
fn crash_60_000001_seconds_after_activation_is_not_attributed() {
    let (state, effects) = crash_after(60 * S + 1);
    assert_eq!(
        events(&effects),
        ["fail2ban_went_offline", "health_check_complete"]
    );
    assert_eq!(state.pending_recovery(), None);
}

#[test]
fn negative_elapsed_time_is_attributed_as_in_the_seed() {
    let (state, effects) = crash_after(-3 * S - 250_000);
    assert_eq!(crash_seconds(&effects), Some(-3.25));
    assert_eq!(state.pending_recovery().unwrap().detected_at, at(7 * S - 250_000));
}

#[test]
fn the_last_activation_is_not_cleared_by_a_crash() {
    let (state, _) = crash_after(5 * S);
    let activation = state.last_activation().unwrap();
    assert_eq!(
        (activation.jail_name.as_str(), activation.at),
        ("sshd", at(10 * S))
    );
}

#[test]
fn coming_back_online_resolves_an_unrecovered_pending_recovery_keeping_its_fields() {
    let (mut state, _) = crash_after(5 * S);
    let before = state.pending_recovery().unwrap().clone();
    let effects = probe(&mut state, true, at(40 * S));
    assert_eq!(
        events(&effects),
        [
            "fail2ban_came_online",
            "pending_recovery_resolved",
            "health_check_complete"
        ]
    );
    assert_eq!(
        effects[1],
        Effect::Log(Log::PendingRecoveryResolved { jail: "sshd".into() })
    );
    let after = state.pending_recovery().unwrap();
    assert!(after.recovered);
    assert_eq!(
        (&after.jail_name, after.activated_at, after.detected_at),
        (&before.jail_name, before.activated_at, before.detected_at)
    );
}

#[test]
fn coming_online_with_a_recovered_pending_recovery_logs_no_resolution() {
    let (mut state, _) = crash_after(5 * S);
    probe(&mut state, true, at(40 * S));
    probe(&mut state, false, at(200 * S)); // outside the window: no new recovery
    let effects = probe(&mut state, true, at(201 * S));
    assert_eq!(
        events(&effects),
        ["fail2ban_came_online", "health_check_complete"]
    );
}

#[test]
fn a_recovered_pending_recovery_is_replaced_on_a_new_crash() {
    let (mut state, _) = crash_after(5 * S);
    probe(&mut state, true, at(20 * S));
    let effects = probe(&mut state, false, at(30 * S));
    assert_eq!(crash_seconds(&effects), Some(20.0));
    let recovery = state.pending_recovery().unwrap();
    assert_eq!((recovery.detected_at, recovery.recovered), (at(30 * S), false));
}

#[test]
fn an_unrecovered_pending_recovery_is_not_replaced_and_no_crash_is_logged() {
    let mut state = machine();
    probe(&mut state, true, at(0));
    activate(&mut state, "sshd", at(10 * S));
    apply(
        &mut state,
        json!({"type": "pending_recovery_created", "jail_name": "postfix", "activated_at": at(S).to_string()}),
        at(12 * S),
    );
    let effects = probe(&mut state, false, at(15 * S));
    assert_eq!(
        events(&effects),
        ["fail2ban_went_offline", "health_check_complete"]
    );
    assert_eq!(state.pending_recovery().unwrap().jail_name, "postfix");
}

#[test]
fn fast_path_probe_matches_the_event_path() {
    let mut by_event = machine();
    let mut fast = machine();
    activate(&mut by_event, "sshd", at(0));
    activate(&mut fast, "sshd", at(0));
    for (i, online) in [true, true, false, false, true, false].into_iter().enumerate() {
        let now = at(i as i64 * 7 * S);
        let expected = probe(&mut by_event, online, now);
        let report = fast.health_probe(online, Some("1.1.0"), 2, now).unwrap();
        assert_eq!(report.effects(), expected, "probe {i}");
        let _ = report.transition();
        assert_eq!(fast, by_event, "probe {i}");
    }
}

#[test]
fn fast_path_reports_the_branch_taken() {
    let mut state = machine();
    activate(&mut state, "sshd", at(0));
    let t = |s: &mut State, online, now| s.health_probe(online, None, 0, now).unwrap().transition();
    assert_eq!(
        t(&mut state, true, at(S)),
        ProbeTransition::CameOnline {
            recovery_resolved: false
        }
    );
    assert_eq!(t(&mut state, true, at(2 * S)), ProbeTransition::Unchanged);
    assert_eq!(
        t(&mut state, false, at(3 * S)),
        ProbeTransition::WentOffline {
            crash_detected: Some(3.0)
        }
    );
    assert_eq!(
        t(&mut state, true, at(4 * S)),
        ProbeTransition::CameOnline {
            recovery_resolved: true
        }
    );
}

// --- record_activation, create_pending_recovery, clear_* ------------------

#[test]
fn record_activation_defaults_to_now_and_accepts_an_explicit_instant() {
    let mut state = machine();
    activate(&mut state, "sshd", at(5 * S));
    assert_eq!(state.last_activation().unwrap().at, at(5 * S));
    apply(
        &mut state,
        json!({"type": "jail_activated", "jail_name": "nginx", "at": at(S).to_string()}),
        at(9 * S),
    );
    let activation = state.last_activation().unwrap();
    assert_eq!((activation.jail_name.as_str(), activation.at), ("nginx", at(S)));
}

#[test]
fn create_pending_recovery_defaults_detected_at_to_now_and_overwrites() {
    let mut state = machine();
    let created = |jail: &str| json!({"type": "pending_recovery_created", "jail_name": jail, "activated_at": at(0).to_string()});
    apply(&mut state, created("sshd"), at(3 * S));
    apply(&mut state, created("nginx"), at(4 * S));
    let recovery = state.pending_recovery().unwrap();
    assert_eq!(
        (
            recovery.jail_name.as_str(),
            recovery.detected_at,
            recovery.recovered
        ),
        ("nginx", at(4 * S), false)
    );
}

#[test]
fn clear_pending_recovery_and_clear_activation_record_remove_them_without_effects() {
    let (mut state, _) = crash_after(S);
    assert!(
        apply(
            &mut state,
            json!({"type": "pending_recovery_cleared"}),
            at(20 * S)
        )
        .is_empty()
    );
    assert!(apply(&mut state, json!({"type": "activation_cleared"}), at(21 * S)).is_empty());
    assert_eq!((state.pending_recovery(), state.last_activation()), (None, None));
}

// --- settings ------------------------------------------------------------

fn settings_set(enabled: bool, ttl: f64) -> serde_json::Value {
    json!({"type": "runtime_settings_set", "settings": {"session_cache_enabled": enabled, "session_cache_ttl_seconds": ttl}})
}

#[test]
fn set_runtime_settings_installs_in_memory_only_when_enabled_with_a_positive_ttl() {
    for (enabled, ttl, kind) in [
        (true, 1.0, SessionCacheKind::InMemory),
        (true, 0.0, SessionCacheKind::NoOp),
        (true, -5.0, SessionCacheKind::NoOp),
        (false, 60.0, SessionCacheKind::NoOp),
    ] {
        let mut state = machine();
        let effects = apply(&mut state, settings_set(enabled, ttl), at(0));
        assert_eq!(
            effects,
            [
                Effect::SessionCacheReplaced { kind },
                Effect::Log(Log::SessionCacheUpdated { kind })
            ],
            "{enabled} {ttl}"
        );
        assert_eq!(state.session_cache(), kind);
    }
    let logged = serde_json::to_value(Effect::Log(Log::SessionCacheUpdated {
        kind: SessionCacheKind::NoOp,
    }))
    .unwrap();
    assert_eq!(logged["fields"], json!({"cache_type": "NoOpSessionCache"}));
}

#[test]
fn session_cache_replaced_is_emitted_even_when_the_kind_is_unchanged() {
    let mut state = machine();
    assert_eq!(state.session_cache(), SessionCacheKind::InMemory);
    let effects = apply(&mut state, settings_set(true, 3600.0), at(0));
    assert_eq!(
        effects[0],
        Effect::SessionCacheReplaced {
            kind: SessionCacheKind::InMemory
        }
    );
}

#[test]
fn settings_updated_applies_to_bootstrap_so_two_updates_do_not_accumulate() {
    let bootstrap =
        json!({"session_cache_enabled": true, "session_cache_ttl_seconds": 3600.0, "log_level": "info"});
    let mut state = State::from_bootstrap_value(&bootstrap).unwrap();
    apply(
        &mut state,
        json!({"type": "settings_updated", "overrides": {"session_cache_enabled": false}}),
        at(0),
    );
    apply(
        &mut state,
        json!({"type": "settings_updated", "overrides": {"log_level": "debug"}}),
        at(S),
    );
    let runtime = state.runtime_settings().unwrap();
    assert_eq!(
        runtime.get("session_cache_enabled"),
        Some(&json!(true)),
        "the first update was not kept"
    );
    assert_eq!(runtime.get("log_level"), Some(&json!("debug")));
    assert_eq!(state.bootstrap_settings().get("log_level"), Some(&json!("info")));
}

#[test]
fn settings_updated_ignores_the_current_runtime_settings() {
    let mut state = machine();
    apply(&mut state, settings_set(false, 1.0), at(0));
    apply(
        &mut state,
        json!({"type": "settings_updated", "overrides": {}}),
        at(S),
    );
    assert_eq!(state.runtime_settings(), Some(state.bootstrap_settings()));
}

#[test]
fn a_mistyped_known_override_rejects_the_whole_update() {
    let event = json!({"type": "settings_updated", "overrides": {"log_level": "debug", "session_cache_ttl_seconds": "60"}});
    let err = Event::from_value(&event).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidEvent);
    assert_eq!(
        err.to_string(),
        "event.overrides.session_cache_ttl_seconds: expected a finite number, found a string"
    );
}

#[test]
fn effective_settings_are_runtime_settings_when_set_else_bootstrap() {
    let mut state = machine();
    assert_eq!(state.effective_settings(), state.bootstrap_settings());
    apply(&mut state, settings_set(false, 10.0), at(0));
    assert_eq!(state.effective_settings().session_cache_ttl_seconds(), 10.0);
    assert!(!state.effective_settings().session_cache_enabled());
}

#[test]
fn a_new_machine_has_the_session_cache_of_its_bootstrap_settings() {
    assert_eq!(
        State::new(Settings::new(false, 60.0).unwrap()).session_cache(),
        SessionCacheKind::NoOp
    );
    assert_eq!(machine().session_cache(), SessionCacheKind::InMemory);
}

#[test]
fn setup_completion_cached_sets_the_flag() {
    let mut state = machine();
    apply(
        &mut state,
        json!({"type": "setup_completion_cached", "complete": true}),
        at(0),
    );
    assert!(state.setup_complete_cached());
    apply(
        &mut state,
        json!({"type": "setup_completion_cached", "complete": false}),
        at(0),
    );
    assert!(!state.setup_complete_cached());
}

// --- backend capability ---------------------------------------------------

fn request(state: &mut State, now: Instant) -> bool {
    let effects = apply(state, json!({"type": "backend_probe_requested"}), now);
    assert!(effects.len() <= 1);
    effects == [Effect::ProbeBackendCapability]
}

#[test]
fn a_probe_request_joins_a_probe_started_less_than_30_seconds_ago() {
    let mut state = machine();
    assert!(request(&mut state, at(0)));
    assert!(!request(&mut state, at(0)));
    assert!(!request(&mut state, at(30 * S - 1)));
    assert!(request(&mut state, at(30 * S)), "stale at exactly 30 s");
    assert_eq!(state.backend_capability().probe_started_at, Some(at(30 * S)));
}

#[test]
fn a_probe_request_a_little_before_the_probe_started_joins_it() {
    // Another worker's request, retried at its own earlier `now` after losing
    // the compare-and-set to the one that started the probe.
    let mut state = machine();
    assert!(request(&mut state, at(40 * S)));
    assert!(!request(&mut state, at(40 * S - 1)));
    assert!(
        !request(&mut state, at(10 * S + 1)),
        "29.999999 s before: in flight"
    );
    assert_eq!(state.backend_capability().probe_started_at, Some(at(40 * S)));
}

#[test]
fn a_probe_request_30_s_or_more_before_the_probe_started_starts_a_new_probe() {
    let mut state = machine();
    assert!(request(&mut state, at(40 * S)));
    assert!(request(&mut state, at(10 * S)), "the clock moved back 30 s");
    assert_eq!(state.backend_capability().probe_started_at, Some(at(10 * S)));
}

#[test]
fn a_known_capability_needs_no_probe() {
    let mut state = machine();
    request(&mut state, at(0));
    apply(
        &mut state,
        json!({"type": "backend_probe_completed", "supported": false}),
        at(S),
    );
    assert_eq!(state.backend_capability().supported, Some(false));
    assert_eq!(state.backend_capability().probe_started_at, None);
    assert!(!request(&mut state, at(100 * S)));
}

#[test]
fn a_failed_probe_caches_nothing_and_logs_a_warning() {
    let mut state = machine();
    request(&mut state, at(0));
    let effects = apply(
        &mut state,
        json!({"type": "backend_probe_failed", "reason": "timeout"}),
        at(S),
    );
    assert_eq!(
        effects,
        [Effect::Log(Log::BackendCapabilityProbeFailed {
            reason: Some("timeout".into())
        })]
    );
    assert_eq!(state.backend_capability().supported, None);
    assert!(
        request(&mut state, at(2 * S)),
        "the failure ended the probe in flight"
    );
}

#[test]
fn reset_forgets_the_result_and_the_probe_in_flight() {
    let mut state = machine();
    request(&mut state, at(0));
    apply(&mut state, json!({"type": "backend_capability_reset"}), at(S));
    assert!(request(&mut state, at(2 * S)));
    apply(
        &mut state,
        json!({"type": "backend_probe_completed", "supported": true}),
        at(3 * S),
    );
    apply(&mut state, json!({"type": "backend_capability_reset"}), at(4 * S));
    assert_eq!(state.backend_capability().supported, None);
    assert!(request(&mut state, at(5 * S)));
}

// --- revision, errors, restore, queries -----------------------------------

#[test]
fn every_accepted_event_adds_one_to_the_revision_even_without_change() {
    let mut state = machine();
    for i in 0..5 {
        apply(&mut state, json!({"type": "activation_cleared"}), at(i));
    }
    assert_eq!(state.revision(), 5);
}

#[test]
fn an_exhausted_revision_is_an_error_and_changes_nothing() {
    let mut value = machine().to_value();
    value["revision"] = json!(u64::MAX);
    let mut state = State::from_value(&value).unwrap();
    let before = state.to_json();
    let err = state.apply(Event::BackendProbeRequested, at(0)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RevisionExhausted);
    assert!(state.health_probe(true, None, 0, at(0)).is_err());
    assert_eq!(state.to_json(), before);
}

#[test]
fn restore_round_trips_and_rejects_unknown_schema_versions() {
    let (state, _) = crash_after(S);
    let text = state.to_json();
    assert_eq!(State::from_json(&text).unwrap(), state);
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["schema_version"] = json!(2);
    let err = State::from_value(&value).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownSchemaVersion);
    assert_eq!(
        err.to_string(),
        "state.schema_version: unknown schema version 2; this build reads version 1"
    );
}

#[test]
fn restore_rejects_a_session_cache_that_contradicts_the_settings() {
    let mut value = machine().to_value();
    value["session_cache"] = json!("no_op");
    let err = State::from_value(&value).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidState);
    assert_eq!(err.path(), "state.session_cache");
}

#[test]
fn restore_names_the_bad_field() {
    let mut value = crash_after(S).0.to_value();
    value["pending_recovery"]["detected_at"] = json!("2026-04-27");
    let err = State::from_value(&value).unwrap_err();
    assert_eq!(err.path(), "state.pending_recovery.detected_at");
    let mut value = machine().to_value();
    value["extra"] = json!(1);
    assert_eq!(State::from_value(&value).unwrap_err().path(), "state.extra");
    let err = State::from_json("{\"schema_version\": 1,").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidJson);
}

#[test]
fn next_deadline_is_the_crash_window_end_then_none() {
    let mut state = machine();
    assert_eq!(state.next_deadline(at(0)), None);
    activate(&mut state, "sshd", at(10 * S));
    assert_eq!(state.next_deadline(at(18 * S)), Some(at(70 * S)));
    assert_eq!(
        state.next_deadline(at(70 * S)),
        Some(at(70 * S)),
        "the window's last instant"
    );
    assert_eq!(state.next_deadline(at(70 * S + 1)), None);
}

#[test]
fn next_deadline_includes_the_probe_going_stale() {
    let mut state = machine();
    request(&mut state, at(0));
    assert_eq!(state.next_deadline(at(S)), Some(at(30 * S)));
    assert_eq!(state.next_deadline(at(30 * S)), None);
    assert_eq!(
        state.next_deadline(at(-S)),
        Some(at(30 * S)),
        "a clock a little behind the probe's start: in flight until it goes stale"
    );
    assert_eq!(
        state.next_deadline(at(-40 * S)),
        Some(at(-30 * S + 1)),
        "a clock 30 s or more behind: the instant a request would join the probe"
    );
    activate(&mut state, "sshd", at(-50 * S));
    assert_eq!(
        state.next_deadline(at(S)),
        Some(at(10 * S)),
        "the earlier of the two"
    );
}

#[test]
fn step_leaves_its_input_state_untouched() {
    let state = machine();
    let before = state.to_json();
    let (next, effects) = step(&state, &Event::BackendProbeRequested, at(0)).unwrap();
    assert_eq!(state.to_json(), before);
    assert_eq!(
        (next.revision(), effects),
        (1, vec![Effect::ProbeBackendCapability])
    );
}

#[test]
fn event_errors_name_the_field_path() {
    let cases = [
        (
            json!({"type": "health_probe_completed", "status": {"online": "yes"}}),
            "event.status.online: expected a boolean, found a string",
        ),
        (
            json!({"type": "nope"}),
            "event.type: unknown event type \"nope\"; expected one of: health_probe_completed, jail_activated, pending_recovery_created, pending_recovery_cleared, activation_cleared, runtime_settings_set, settings_updated, setup_completion_cached, backend_probe_requested, backend_probe_completed, backend_probe_failed, backend_capability_reset",
        ),
        (
            json!({"type": "jail_activated"}),
            "event.jail_name: missing; expected a string",
        ),
        (
            json!({"type": "health_probe_completed", "status": {"online": true, "active_jails": -1}}),
            "event.status.active_jails: expected a non-negative integer, found a number",
        ),
        (json!([]), "event: expected an object, found an array"),
    ];
    for (event, message) in cases {
        let err = Event::from_value(&event).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidEvent);
        assert_eq!(err.to_string(), message);
    }
    let err =
        Event::from_value(&json!({"type": "jail_activated", "jail_name": "x", "at": "soon"})).unwrap_err();
    assert_eq!(err.path(), "event.at");
    assert!(err.message().starts_with("expected an RFC 3339 instant"), "{err}");
}

#[test]
fn events_serialise_to_the_json_they_were_read_from() {
    let events = [
        json!({"type": "health_probe_completed", "status": {"online": true, "version": null, "active_jails": 0, "x": [1]}}),
        json!({"type": "jail_activated", "jail_name": "sshd", "at": "2026-04-27T16:00:00.000000Z"}),
        json!({"type": "pending_recovery_created", "jail_name": "sshd", "activated_at": "2026-04-27T16:00:00.000000Z"}),
        json!({"type": "settings_updated", "overrides": {"a": 1}}),
        json!({"type": "backend_probe_failed"}),
    ];
    for event in events {
        let parsed = Event::from_value(&event).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), event);
    }
}
