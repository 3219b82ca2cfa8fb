//! Criterion benchmarks of the core: the steady-state probe (fast path and
//! event path), a flip with crash attribution, every other event, and the
//! state's JSON form. `make bench` runs them and tabulates the medians.

use std::hint::black_box;

use bangui_state_core::{Event, Instant, ServerStatus, Settings, State};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

const START: i64 = 1_777_305_600_000_000;

fn at(seconds: i64) -> Instant {
    Instant::from_unix_micros(START + seconds * 1_000_000).unwrap()
}

/// Online, with a recovered crash behind it: the state a long-running host has.
fn steady_state() -> State {
    let mut state = State::from_bootstrap_value(&json!({
        "session_cache_enabled": true, "session_cache_ttl_seconds": 3600.0,
        "database_path": "/var/lib/bangui/bangui.db", "log_level": "info"
    }))
    .unwrap();
    state.health_probe(true, Some("1.1.0"), 3, at(0)).unwrap();
    let activated = Event::JailActivated {
        jail_name: "sshd".into(),
        at: None,
    };
    state.apply(activated, at(10)).unwrap();
    state.health_probe(false, None, 0, at(20)).unwrap();
    state.health_probe(true, Some("1.1.0"), 3, at(30)).unwrap();
    state
}

fn probes(c: &mut Criterion) {
    let mut group = c.benchmark_group("probe");
    let mut state = steady_state();
    let now = at(40);
    group.bench_function("steady_fast_path", |b| {
        b.iter(|| {
            let report = state
                .health_probe(black_box(true), black_box(Some("1.1.0")), black_box(3), now)
                .unwrap();
            black_box(report.transition());
        })
    });
    let mut state = steady_state();
    let mut effects = Vec::with_capacity(4);
    let status = ServerStatus::new(true, Some("1.1.0".into()), 3);
    group.bench_function("steady_event_path", |b| {
        b.iter(|| {
            effects.clear();
            let event = Event::HealthProbeCompleted {
                status: status.clone(),
            };
            state.apply_into(black_box(event), now, &mut effects).unwrap();
            black_box(&effects);
        })
    });
    // Within the window of the activation at 10 s: every offline probe
    // attributes a crash (the previous recovery being recovered), every online
    // probe resolves it.
    let mut state = steady_state();
    group.bench_function("flip_with_crash_attribution", |b| {
        b.iter(|| {
            let down = state.health_probe(false, None, 0, at(45)).unwrap().transition();
            black_box(down);
            let up = state
                .health_probe(true, Some("1.1.0"), 3, at(46))
                .unwrap()
                .transition();
            black_box(up);
        })
    });
    let mut state = steady_state();
    group.bench_function("steady_json_step", |b| {
        let text = r#"{"type":"health_probe_completed","status":{"online":true,"version":"1.1.0","active_jails":3}}"#;
        b.iter(|| {
            let event = Event::from_json(black_box(text)).unwrap();
            let effects = state.apply(event, now).unwrap();
            black_box(serde_json::to_string(&effects).unwrap());
        })
    });
    group.finish();
}

fn other_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("event");
    let events = [
        json!({"type": "jail_activated", "jail_name": "sshd"}),
        json!({"type": "pending_recovery_created", "jail_name": "sshd", "activated_at": "2026-04-27T16:00:00Z"}),
        json!({"type": "pending_recovery_cleared"}),
        json!({"type": "activation_cleared"}),
        json!({"type": "runtime_settings_set", "settings": {"session_cache_enabled": false, "session_cache_ttl_seconds": 60}}),
        json!({"type": "settings_updated", "overrides": {"session_cache_enabled": false}}),
        json!({"type": "setup_completion_cached", "complete": true}),
        json!({"type": "backend_probe_requested"}),
        json!({"type": "backend_probe_completed", "supported": true}),
        json!({"type": "backend_probe_failed", "reason": "timeout"}),
        json!({"type": "backend_capability_reset"}),
    ];
    for event in events {
        let event = Event::from_value(&event).unwrap();
        let mut state = steady_state();
        group.bench_function(event.type_name(), |b| {
            b.iter_batched(
                || event.clone(),
                |event| black_box(state.apply(event, at(50)).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn json_form(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_json");
    let state = steady_state();
    let text = state.to_json();
    group.bench_function("serialise", |b| b.iter(|| black_box(state.to_json())));
    group.bench_function("restore", |b| {
        b.iter(|| black_box(State::from_json(black_box(&text)).unwrap()))
    });
    group.bench_function("serialise_and_restore", |b| {
        b.iter(|| black_box(State::from_json(&state.to_json()).unwrap()))
    });
    group.bench_function("new_from_bootstrap", |b| {
        let settings = Settings::new(true, 3600.0).unwrap();
        b.iter_batched(
            || settings.clone(),
            |s| black_box(State::new(s)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, probes, other_events, json_form);
criterion_main!(benches);
