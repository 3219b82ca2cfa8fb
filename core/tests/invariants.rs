//! Property tests: random event sequences on a virtual clock that moves
//! forward, stands still and jumps back, with the invariants checked after
//! every step, among them: a rejected step changes nothing, an accepted one
//! adds exactly 1 to the revision, and every state the machine produces
//! restores to an equal state. The settings and statuses carry values of
//! every kind through (numbers beyond 64 bits and beyond a double's range,
//! values nested right up to and past `MAX_PASS_THROUGH_DEPTH`).
//! `PROPTEST_CASES` sets the number of cases (`make test` runs 10 000).

use bangui_state_core::{
    ACTIVATION_CRASH_WINDOW_MICROS, Effect, Event, Instant, Log, MAX_PASS_THROUGH_DEPTH,
    PROBE_IN_FLIGHT_MICROS, State, Trace,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const S: i64 = 1_000_000;
const START: i64 = 1_777_305_600_000_000; // 2026-04-27T16:00:00Z

/// Clock moves that favour the seed's boundaries (60 s window, 30 s probe).
fn clock_move() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => Just(0),
        4 => 1..5 * S,
        2 => prop::sample::select(vec![
            30 * S - 1, 30 * S, 30 * S + 1, 60 * S - 1, 60 * S, 60 * S + 1, 1, -1,
        ]),
        2 => 5 * S..120 * S,
        2 => -90 * S..0,
    ]
}

fn instant_text(micros: i64) -> String {
    Instant::from_unix_micros(START + micros).unwrap().to_string()
}

fn jail() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["sshd", "nginx", "postfix"]).prop_map(String::from)
}

/// A JSON number as text: any sign, up to 30 integer and 20 fraction digits,
/// an exponent up to 3 digits (so beyond 64 bits and beyond a double's range).
fn number_value() -> impl Strategy<Value = Value> {
    (
        "-?(0|[1-9][0-9]{0,29})",
        prop::option::of("[0-9]{1,20}"),
        prop::option::of("[eE][+-]?[0-9]{1,3}"),
    )
        .prop_filter_map("not a number this build reads", |(whole, fraction, exponent)| {
            let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
            serde_json::from_str(&format!("{whole}{fraction}{}", exponent.unwrap_or_default())).ok()
        })
}

/// `1` inside `depth` levels of arrays and objects, alternating.
fn nested_value(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, level| {
        if level % 2 == 0 {
            Value::Array(vec![inner])
        } else {
            Value::Object([("k".to_owned(), inner)].into_iter().collect())
        }
    })
}

/// A value carried through the state untouched: scalars of every kind, small
/// containers, or a value nested one level short of, at, or past the limit,
/// or deeper than a state holding it could be read back.
fn pass_through() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        "[a-z\u{e9}\u{1F600}\"\\\\\u{0}]{0,6}".prop_map(Value::String),
        number_value(),
    ];
    let containers = leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            // serde_json's reserved number key among them (the `trace` fuzz target's find).
            prop::collection::btree_map(
                prop_oneof![4 => "[a-z]{1,3}", 1 => Just("$serde_json::private::Number".to_owned())],
                inner,
                0..3,
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    prop_oneof![
        8 => containers,
        1 => (MAX_PASS_THROUGH_DEPTH - 1..=MAX_PASS_THROUGH_DEPTH + 1).prop_map(nested_value),
        // Past what serde_json reads back inside a state (127 levels in all).
        1 => (120usize..=130).prop_map(nested_value),
    ]
}

fn status() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["1.0.2", "1.1.0"])),
        0u64..4,
        any::<bool>(),
        prop::option::of(pass_through()),
    )
        .prop_map(|(online, version, jails, extra, carried)| {
            let mut status = json!({"online": online, "version": version, "active_jails": jails});
            if extra {
                status["total_bans"] = json!(jails * 10);
            }
            if let Some(carried) = carried {
                status["carried"] = carried;
            }
            status
        })
}

fn settings() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop::sample::select(vec![-1.0, 0.0, 0.5, 3600.0]),
        any::<bool>(),
        prop::option::of(pass_through()),
    )
        .prop_map(|(enabled, ttl, extra, carried)| {
            let mut s = json!({"session_cache_enabled": enabled, "session_cache_ttl_seconds": ttl});
            if extra {
                s["theme"] = json!("dark");
            }
            if let Some(carried) = carried {
                s["carried"] = carried;
            }
            s
        })
}

/// Events the seed's probe and activation logic sees.
fn probe_or_activation(offset: i64) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => status().prop_map(|s| json!({"type": "health_probe_completed", "status": s})),
        2 => (jail(), prop::option::of(-90 * S..10 * S)).prop_map(move |(j, at)| match at {
            Some(at) => json!({"type": "jail_activated", "jail_name": j, "at": instant_text(offset + at)}),
            None => json!({"type": "jail_activated", "jail_name": j}),
        }),
    ]
}

/// Any event, valid or not.
fn any_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => probe_or_activation(0),
        1 => (jail(), -90 * S..10 * S, prop::option::of(-90 * S..10 * S)).prop_map(|(j, a, d)| {
            let mut e = json!({"type": "pending_recovery_created", "jail_name": j, "activated_at": instant_text(a)});
            if let Some(d) = d {
                e["detected_at"] = json!(instant_text(d));
            }
            e
        }),
        1 => Just(json!({"type": "pending_recovery_cleared"})),
        1 => Just(json!({"type": "activation_cleared"})),
        1 => settings().prop_map(|s| json!({"type": "runtime_settings_set", "settings": s})),
        1 => prop::sample::select(vec![
            json!({}),
            json!({"session_cache_enabled": false}),
            json!({"session_cache_ttl_seconds": 0}),
            json!({"theme": "light"}),
        ])
        .prop_map(|o| json!({"type": "settings_updated", "overrides": o})),
        1 => pass_through().prop_map(|v| json!({"type": "settings_updated", "overrides": {"carried": v}})),
        1 => any::<bool>().prop_map(|c| json!({"type": "setup_completion_cached", "complete": c})),
        3 => Just(json!({"type": "backend_probe_requested"})),
        1 => any::<bool>().prop_map(|s| json!({"type": "backend_probe_completed", "supported": s})),
        1 => Just(json!({"type": "backend_probe_failed", "reason": "timeout"})),
        1 => Just(json!({"type": "backend_capability_reset"})),
        2 => prop::sample::select(vec![
            json!({"type": "health_probe_completed", "status": {"online": 1}}),
            json!({"type": "jail_activated"}),
            json!({"type": "runtime_settings_set", "settings": {"session_cache_enabled": true}}),
            json!({"type": "settings_updated", "overrides": {"session_cache_enabled": "no"}}),
            json!({"type": "warp_drive_engaged"}),
            json!({"type": "backend_probe_requested", "extra": 1}),
            json!(null),
        ]),
    ]
}

/// A trace: steps of (clock move, event).
fn trace_of(event: impl Strategy<Value = Value>, max: usize) -> impl Strategy<Value = Vec<(i64, Value)>> {
    prop::collection::vec((clock_move(), event), 1..max)
}

fn default_bootstrap() -> Value {
    json!({"session_cache_enabled": true, "session_cache_ttl_seconds": 3600.0, "database_path": "/tmp/db"})
}

/// Bootstrap settings, mostly the default, else carrying a value through.
fn bootstrap() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => Just(default_bootstrap()),
        1 => pass_through().prop_map(|carried| {
            let mut settings = default_bootstrap();
            settings["carried"] = carried;
            settings
        }),
    ]
}

/// Builds the contract's trace JSON from generated steps.
fn trace_json(bootstrap: &Value, steps: &[(i64, Value)]) -> Value {
    let mut clock = 0;
    let steps: Vec<Value> = steps
        .iter()
        .map(|(delta, event)| {
            clock += delta;
            json!({"now": instant_text(clock), "event": event})
        })
        .collect();
    json!({"bootstrap": bootstrap, "steps": steps})
}

/// The cache kind, computed from the settings JSON independently of the core.
fn kind_of(settings: &Value) -> &'static str {
    let enabled = settings["session_cache_enabled"].as_bool().unwrap();
    let ttl = settings["session_cache_ttl_seconds"].as_f64().unwrap();
    if enabled && ttl > 0.0 {
        "in_memory"
    } else {
        "no_op"
    }
}

fn probe_effects(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::ProbeBackendCapability))
        .count()
}

/// Every state the machine produces restores to an equal state, from its
/// text and from its value, and writes the same text again.
fn check_restores(state: &State) -> Result<(), TestCaseError> {
    let text = state.to_json();
    let restored = State::from_json(&text);
    prop_assert!(
        restored.is_ok(),
        "a produced state does not restore: {:?}",
        restored
    );
    let restored = restored.unwrap();
    prop_assert_eq!(&restored, state);
    prop_assert_eq!(restored.to_json(), text);
    prop_assert_eq!(&State::from_value(&state.to_value()).unwrap(), state);
    Ok(())
}

/// Replays `steps` from `bootstrap` and checks every invariant after every step.
fn check_trace(bootstrap: &Value, steps: &[(i64, Value)]) -> Result<(), TestCaseError> {
    let mut state = match State::from_bootstrap_value(bootstrap) {
        Ok(state) => state,
        Err(e) => {
            // Only a value nested past the limit is refused here, by its key.
            prop_assert_eq!(e.path(), "bootstrap.carried");
            prop_assert!(e.message().starts_with("nested deeper than"), "{}", e);
            return Ok(());
        }
    };
    check_restores(&state)?;
    let bootstrap_json = serde_json::to_value(state.bootstrap_settings()).unwrap();
    let mut clock = 0;
    // When the probe effect last left, while no completion, failure or reset came since.
    let mut probe_in_flight_since: Option<Instant> = None;
    for (delta, event_json) in steps {
        clock += delta;
        let now = Instant::from_unix_micros(START + clock).unwrap();
        let before = state.clone();
        let before_json = state.to_json();
        let event = Event::from_value(event_json);
        let result = event.clone().and_then(|event| state.apply(event, now));
        match result {
            Err(_) => {
                prop_assert_eq!(state.revision(), before.revision());
                prop_assert_eq!(state.to_json(), before_json, "a rejected event changed the state");
            }
            Ok(effects) => {
                let event = event.unwrap();
                prop_assert_eq!(state.revision(), before.revision() + 1);

                // The pure form agrees with the in-place form.
                let (next, pure_effects) = bangui_state_core::step(&before, &event, now).unwrap();
                prop_assert_eq!(&next, &state);
                prop_assert_eq!(&pure_effects, &effects);

                // A probe's effects end with health_check_complete of the new status.
                if let Event::HealthProbeCompleted { status } = &event {
                    let last = effects.last().unwrap();
                    prop_assert_eq!(
                        last,
                        &Effect::Log(Log::HealthCheckComplete {
                            online: status.online,
                            version: status.version.clone(),
                            active_jails: status.active_jails,
                        })
                    );
                    // The fast path gives the same state and effects when the status has no extras.
                    if status.extra().is_empty() {
                        let mut fast = before.clone();
                        let report = fast
                            .health_probe(status.online, status.version.as_deref(), status.active_jails, now)
                            .unwrap();
                        prop_assert_eq!(&report.effects(), &effects);
                        prop_assert_eq!(&fast, &state);
                    }
                    // A probe never touches the last activation.
                    prop_assert_eq!(state.last_activation(), before.last_activation());
                    // A pending recovery the probe created lies within the window.
                    if let Some(recovery) = state.pending_recovery() {
                        if !recovery.recovered && state.pending_recovery() != before.pending_recovery() {
                            prop_assert_eq!(recovery.detected_at, now);
                            prop_assert!(
                                recovery.detected_at.micros_since(recovery.activated_at)
                                    <= ACTIVATION_CRASH_WINDOW_MICROS
                            );
                            prop_assert!(before.server_status().online && !state.server_status().online);
                        }
                    }
                }

                // No second probe while one started less than 30 s ago is in flight.
                let probes = probe_effects(&effects);
                prop_assert!(probes <= 1);
                if probes == 1 {
                    if let Some(started) = probe_in_flight_since {
                        let elapsed = now.micros_since(started);
                        prop_assert!(
                            elapsed.unsigned_abs() >= PROBE_IN_FLIGHT_MICROS as u64,
                            "second probe {} µs after the first",
                            elapsed
                        );
                    }
                    prop_assert_eq!(state.backend_capability().probe_started_at, Some(now));
                    probe_in_flight_since = Some(now);
                }
                if matches!(
                    event,
                    Event::BackendProbeCompleted { .. }
                        | Event::BackendProbeFailed { .. }
                        | Event::BackendCapabilityReset
                ) {
                    probe_in_flight_since = None;
                }
            }
        }

        // The JSON form round-trips exactly.
        check_restores(&state)?;

        // The installed cache is always the kind of the effective settings.
        // (Its value, not serde_json's reading of its text: with exact numbers
        // that reader takes an object keyed `$serde_json::private::Number`
        // for a number.)
        let value = state.to_value();
        let effective = if value["runtime_settings"].is_null() {
            &value["bootstrap_settings"]
        } else {
            &value["runtime_settings"]
        };
        prop_assert_eq!(value["session_cache"].as_str().unwrap(), kind_of(effective));

        // Bootstrap settings never change.
        prop_assert_eq!(&value["bootstrap_settings"], &bootstrap_json);

        // The next deadline is never in the past.
        if let Some(deadline) = state.next_deadline(now) {
            prop_assert!(deadline >= now);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000),
        .. ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_after_every_step(bootstrap in bootstrap(), steps in trace_of(any_event(), 40)) {
        check_trace(&bootstrap, &steps)?;
    }

    #[test]
    fn replaying_the_same_trace_gives_the_same_results(steps in trace_of(any_event(), 25)) {
        let trace = Trace::from_value(&trace_json(&default_bootstrap(), &steps)).unwrap();
        let first = serde_json::to_string(&trace.replay()).unwrap();
        let second = serde_json::to_string(&trace.replay()).unwrap();
        prop_assert_eq!(&first, &second);
        // The output text is JSON a reader takes; every state in it restores.
        serde_json::from_str::<serde::de::IgnoredAny>(&first).unwrap();
        let outputs = serde_json::to_value(trace.replay()).unwrap();
        for output in outputs.as_array().unwrap() {
            let state = State::from_value(&output["state"]);
            prop_assert!(state.is_ok(), "{:?}", state);
        }
    }

    #[test]
    fn with_only_probes_and_activations_an_unrecovered_recovery_means_offline(
        steps in trace_of(probe_or_activation(0), 40)
    ) {
        let mut state = State::from_bootstrap_value(&default_bootstrap()).unwrap();
        let mut clock = 0;
        for (delta, event) in &steps {
            clock += delta;
            let now = Instant::from_unix_micros(START + clock).unwrap();
            // A status carrying a value nested past the limit is refused; skip it.
            let Ok(event) = Event::from_value(event) else { continue };
            state.apply(event, now).unwrap();
            if let Some(recovery) = state.pending_recovery() {
                if !recovery.recovered {
                    prop_assert!(!state.server_status().online);
                }
            }
        }
    }
}
