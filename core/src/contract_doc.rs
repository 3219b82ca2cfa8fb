//! `CONTRACT.md` and the code name the same things: every event type, effect,
//! log event, error kind and state key of the code has its row in the
//! contract's tables, and every row names something the code has.
//!
//! The lists of what the code has come from exhaustive `match`es below, so a
//! new variant does not compile until it is listed here, and then fails this
//! test until `CONTRACT.md` describes it.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use serde_json::Value;

use crate::{
    EVENT_TYPES, Effect, ErrorKind, Event, Instant, Log, LogLevel, ServerStatus, SessionCacheKind, Settings,
    SettingsOverrides, State,
};

const CONTRACT: &str = include_str!("../../CONTRACT.md");

/// The first backticked name of every table row between `heading` and the
/// next heading.
fn table_names(heading: &str) -> BTreeSet<String> {
    let mut lines = CONTRACT.lines().skip_while(|line| line.trim_end() != heading);
    assert!(lines.next().is_some(), "CONTRACT.md has no heading {heading:?}");
    lines
        .take_while(|line| !line.starts_with('#'))
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|rest| rest.split('`').next().unwrap_or_default().to_string())
        .collect()
}

/// The second column of the table row naming `name` in the section under `heading`.
fn table_cell(heading: &str, name: &str, column: usize) -> String {
    let prefix = alloc::format!("| `{name}` |");
    let mut lines = CONTRACT.lines().skip_while(|line| line.trim_end() != heading);
    lines
        .find(|line| line.starts_with(&prefix))
        .and_then(|line| line.split('|').nth(column + 1))
        .map(|cell| cell.trim().to_string())
        .unwrap_or_else(|| panic!("CONTRACT.md: no row for `{name}` under {heading:?}"))
}

fn set(items: impl IntoIterator<Item = impl ToString>) -> BTreeSet<String> {
    items.into_iter().map(|i| i.to_string()).collect()
}

fn t(micros: i64) -> Instant {
    Instant::from_unix_micros(micros).unwrap()
}

/// One event of every variant; the `match` makes a new variant a compile error here.
fn every_event() -> Vec<Event> {
    let settings = Settings::new(true, 60.0).unwrap();
    let events = vec![
        Event::HealthProbeCompleted {
            status: ServerStatus::new(true, None, 0),
        },
        Event::JailActivated {
            jail_name: "sshd".into(),
            at: None,
        },
        Event::PendingRecoveryCreated {
            jail_name: "sshd".into(),
            activated_at: t(0),
            detected_at: None,
        },
        Event::PendingRecoveryCleared,
        Event::ActivationCleared,
        Event::RuntimeSettingsSet { settings },
        Event::SettingsUpdated {
            overrides: SettingsOverrides::new(Default::default()).unwrap(),
        },
        Event::SetupCompletionCached { complete: true },
        Event::BackendProbeRequested,
        Event::BackendProbeCompleted { supported: true },
        Event::BackendProbeFailed { reason: None },
        Event::BackendCapabilityReset,
    ];
    let covered: BTreeSet<usize> = events
        .iter()
        .map(|e| match e {
            Event::HealthProbeCompleted { .. } => 0,
            Event::JailActivated { .. } => 1,
            Event::PendingRecoveryCreated { .. } => 2,
            Event::PendingRecoveryCleared => 3,
            Event::ActivationCleared => 4,
            Event::RuntimeSettingsSet { .. } => 5,
            Event::SettingsUpdated { .. } => 6,
            Event::SetupCompletionCached { .. } => 7,
            Event::BackendProbeRequested => 8,
            Event::BackendProbeCompleted { .. } => 9,
            Event::BackendProbeFailed { .. } => 10,
            Event::BackendCapabilityReset => 11,
        })
        .collect();
    assert_eq!(covered.len(), events.len(), "every_event lists a variant twice");
    events
}

/// One effect of every variant (every log event included).
fn every_effect() -> Vec<Effect> {
    let logs = vec![
        Log::Fail2banCameOnline { version: None },
        Log::PendingRecoveryResolved { jail: "sshd".into() },
        Log::Fail2banWentOffline,
        Log::ActivationCrashDetected {
            jail: "sshd".into(),
            seconds_since_activation: 1.0,
        },
        Log::HealthCheckComplete {
            online: true,
            version: None,
            active_jails: 0,
        },
        Log::SessionCacheUpdated {
            kind: SessionCacheKind::InMemory,
        },
        Log::BackendCapabilityProbeFailed { reason: None },
    ];
    let covered: BTreeSet<usize> = logs
        .iter()
        .map(|l| match l {
            Log::Fail2banCameOnline { .. } => 0,
            Log::PendingRecoveryResolved { .. } => 1,
            Log::Fail2banWentOffline => 2,
            Log::ActivationCrashDetected { .. } => 3,
            Log::HealthCheckComplete { .. } => 4,
            Log::SessionCacheUpdated { .. } => 5,
            Log::BackendCapabilityProbeFailed { .. } => 6,
        })
        .collect();
    assert_eq!(covered.len(), logs.len(), "every_effect lists a log twice");
    let mut effects: Vec<Effect> = logs.into_iter().map(Effect::Log).collect();
    effects.push(Effect::SessionCacheReplaced {
        kind: SessionCacheKind::NoOp,
    });
    effects.push(Effect::ProbeBackendCapability);
    for effect in &effects {
        match effect {
            Effect::Log(_) | Effect::SessionCacheReplaced { .. } | Effect::ProbeBackendCapability => {}
        }
    }
    effects
}

fn every_error_kind() -> Vec<ErrorKind> {
    let kinds = vec![
        ErrorKind::InvalidJson,
        ErrorKind::InvalidEvent,
        ErrorKind::InvalidSettings,
        ErrorKind::InvalidState,
        ErrorKind::UnknownSchemaVersion,
        ErrorKind::InvalidInstant,
        ErrorKind::RevisionExhausted,
        ErrorKind::InvalidTrace,
    ];
    let covered: BTreeSet<usize> = kinds
        .iter()
        .map(|k| match k {
            ErrorKind::InvalidJson => 0,
            ErrorKind::InvalidEvent => 1,
            ErrorKind::InvalidSettings => 2,
            ErrorKind::InvalidState => 3,
            ErrorKind::UnknownSchemaVersion => 4,
            ErrorKind::InvalidInstant => 5,
            ErrorKind::RevisionExhausted => 6,
            ErrorKind::InvalidTrace => 7,
        })
        .collect();
    assert_eq!(covered.len(), kinds.len(), "every_error_kind lists a kind twice");
    kinds
}

/// A state with every optional part present, so its JSON form shows every key.
fn full_state() -> State {
    let mut state = State::new(Settings::new(true, 60.0).unwrap());
    let steps = [
        r#"{"type": "health_probe_completed", "status": {"online": true}}"#,
        r#"{"type": "jail_activated", "jail_name": "sshd"}"#,
        r#"{"type": "health_probe_completed", "status": {"online": false}}"#,
        r#"{"type": "runtime_settings_set", "settings": {"session_cache_enabled": false, "session_cache_ttl_seconds": 0}}"#,
        r#"{"type": "backend_probe_requested"}"#,
    ];
    for (i, event) in steps.iter().enumerate() {
        state
            .apply(Event::from_json(event).unwrap(), t(i as i64 * 1_000_000))
            .unwrap();
    }
    state
}

/// `a`, `a.b` for every key of the state's fixed-layout objects (settings
/// objects are the host's records: their keys are in the settings table).
fn state_keys(state: &State) -> BTreeSet<String> {
    let value = state.to_value();
    let mut keys = BTreeSet::new();
    for (key, inner) in value.as_object().unwrap() {
        keys.insert(key.clone());
        let fixed_layout = !key.ends_with("_settings");
        if let (true, Value::Object(object)) = (fixed_layout, inner) {
            keys.extend(object.keys().map(|k| alloc::format!("{key}.{k}")));
        }
    }
    keys
}

#[test]
fn every_event_type_is_in_the_contract_and_back() {
    let in_code = set(every_event().iter().map(Event::type_name));
    assert_eq!(
        in_code,
        set(EVENT_TYPES),
        "EVENT_TYPES and the Event enum disagree"
    );
    assert_eq!(
        table_names("## Events"),
        in_code,
        "CONTRACT.md's events table vs the code"
    );
}

#[test]
fn every_effect_and_log_event_is_in_the_contract_and_back() {
    let effects: Vec<Value> = every_effect()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let types = set(effects.iter().map(|e| e["type"].as_str().unwrap()));
    let effect_rows = table_names("## Effects");
    assert_eq!(effect_rows, types, "CONTRACT.md's effects table vs the code");

    let logs: Vec<&Value> = effects.iter().filter(|e| e["type"] == "log").collect();
    let log_rows = table_names("### Log events");
    assert_eq!(log_rows, set(logs.iter().map(|l| l["event"].as_str().unwrap())));
    for log in logs {
        let name = log["event"].as_str().unwrap();
        assert_eq!(
            table_cell("### Log events", name, 1),
            log["level"].as_str().unwrap(),
            "level of {name}"
        );
        let fields: Vec<&String> = log["fields"].as_object().unwrap().keys().collect();
        let documented = table_cell("### Log events", name, 2);
        for field in &fields {
            assert!(
                documented.contains(&alloc::format!("`{field}`")),
                "{name}: field {field} not in CONTRACT.md"
            );
        }
        let documented_count = documented.split(',').filter(|f| f.contains('`')).count();
        assert_eq!(
            documented_count,
            fields.len(),
            "{name}: CONTRACT.md lists {documented:?}, code has {fields:?}"
        );
    }
    // The levels the table uses are the code's.
    for level in [LogLevel::Debug, LogLevel::Info, LogLevel::Warning] {
        assert!(CONTRACT.contains(&alloc::format!("\"{}\"", level.name())));
    }
}

#[test]
fn every_error_kind_is_in_the_contract_and_back() {
    let in_code = set(every_error_kind().iter().map(|k| k.name()));
    assert_eq!(
        table_names("## Errors"),
        in_code,
        "CONTRACT.md's error kinds vs the code"
    );
}

#[test]
fn every_state_key_is_in_the_contract_and_back() {
    let state = full_state();
    assert!(state.pending_recovery().is_some() && state.last_activation().is_some());
    let in_code = state_keys(&state);
    assert_eq!(
        table_names("## State"),
        in_code,
        "CONTRACT.md's state table vs the state's JSON form"
    );
    // The contract's example of a new state's JSON form shows every top-level key.
    let example = State::new(Settings::new(true, 3600.0).unwrap()).to_value();
    for key in example.as_object().unwrap().keys() {
        let shown = alloc::format!("      \"{key}\": ");
        assert!(
            CONTRACT.contains(&shown),
            "CONTRACT.md's state example lacks {key}"
        );
    }
}

#[test]
fn the_settings_keys_the_core_reads_are_in_the_contract_and_back() {
    let in_code = set([crate::SESSION_CACHE_ENABLED, crate::SESSION_CACHE_TTL_SECONDS]);
    assert_eq!(table_names("## Settings"), in_code);
}

#[test]
fn the_heading_reader_sees_tables_only_in_their_own_section() {
    // "### Log events" follows "## Effects": the effects table must not take its rows.
    assert!(!table_names("## Effects").contains("fail2ban_came_online"));
    assert!(table_names("## Effects").contains("log"));
}
