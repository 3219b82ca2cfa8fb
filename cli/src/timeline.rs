//! The human-readable timeline of one trace, and its summary.

use std::collections::BTreeMap;
use std::io::{self, Write};

use bangui_state_core::{
    ACTIVATION_CRASH_WINDOW_MICROS, DeadlineReason, Effect, Event, Instant, LogLevel, MICROS_PER_SECOND,
    PROBE_IN_FLIGHT_MICROS, StepOutput, Trace, micros_to_seconds,
};
use serde_json::Value;

/// Prints one trace: a header naming where it came from, each step, and a summary.
pub fn print(title: &str, trace: &Trace, outputs: &[StepOutput], out: &mut impl Write) -> io::Result<()> {
    match &trace.name {
        Some(name) => writeln!(out, "{title}: {name}")?,
        None => writeln!(out, "{title}")?,
    }
    let mut before = trace.initial.to_value();
    writeln!(out, "  start: {}", describe_state(&before))?;
    // Every key the steps may show later (database_path, ...) comes from here.
    writeln!(out, "  bootstrap settings: {}", before["bootstrap_settings"])?;
    let raw_steps = &trace.steps;
    for (index, output) in outputs.iter().enumerate() {
        let when = output
            .now
            .map_or_else(|| "(invalid time)".to_string(), |t| t.to_string());
        let what = match &output.event {
            Some(event) => describe_event(&serde_json::to_value(event)?),
            // The event as given, so the reader sees what was rejected.
            None => match raw_steps.get(index).and_then(|step| step.get("event")) {
                Some(raw) => format!("(invalid event) {raw}"),
                None => "(invalid step)".to_string(),
            },
        };
        writeln!(out, "\n  {when}  step {}  {what}", index + 1)?;
        let after = output.state.to_value();
        match &output.result {
            Err(error) => {
                writeln!(out, "      rejected  {error} (state unchanged)")?;
                // The result names the time's error first; the event's own, if any, too.
                if output.now.is_none() {
                    if let Some(Err(event_error)) = raw_steps
                        .get(index)
                        .and_then(|step| step.get("event"))
                        .map(Event::from_value)
                    {
                        writeln!(out, "      and       {event_error}")?;
                    }
                }
            }
            Ok(effects) => {
                for effect in effects {
                    writeln!(out, "      {}", describe_effect(effect))?;
                }
                let mut changes = Vec::new();
                diff("", &before, &after, &mut changes);
                for change in &changes {
                    writeln!(out, "      changed   {change}")?;
                }
                if effects.is_empty() && changes.is_empty() {
                    writeln!(out, "      no effect, no change but the revision")?;
                }
            }
        }
        if let Some(now) = output.now {
            if let Some((deadline, reason)) = output.state.next_deadline_and_reason(now) {
                writeln!(
                    out,
                    "      deadline  {deadline} ({}): {}",
                    countdown(now, deadline),
                    explain(reason, &after)
                )?;
            }
        }
        before = after;
    }
    print_summary(trace, outputs, out)
}

/// What happens at a deadline, in words.
fn explain(reason: DeadlineReason, state: &Value) -> String {
    let jail = state["last_activation"]["jail_name"].as_str().unwrap_or("?");
    let window = ACTIVATION_CRASH_WINDOW_MICROS / MICROS_PER_SECOND;
    let recovery = &state["pending_recovery"];
    match reason {
        // The window stays open after a crash was blamed: a second crash in it
        // (after fail2ban came back) is blamed on the jail again.
        DeadlineReason::CrashWindowCloses if recovery["jail_name"].as_str() == Some(jail) => format!(
            "the {window} s crash window after activating {jail} closes; {jail} is already blamed for the crash \
             detected at {}, and another crash before then would be blamed on it again",
            recovery["detected_at"].as_str().unwrap_or("?")
        ),
        DeadlineReason::CrashWindowCloses => format!(
            "the {window} s crash window after activating {jail} closes; a crash detected later is not blamed on it"
        ),
        DeadlineReason::ProbeGoesStale => format!(
            "the backend probe in flight goes stale ({} s); a request then starts a new one",
            PROBE_IN_FLIGHT_MICROS / MICROS_PER_SECOND
        ),
        DeadlineReason::ProbeJoinable => format!(
            "the clock comes within {} s of the backend probe's start (it moved backwards); a request then joins it",
            PROBE_IN_FLIGHT_MICROS / MICROS_PER_SECOND
        ),
    }
}

fn countdown(now: Instant, deadline: Instant) -> String {
    let micros = deadline.micros_since(now);
    let seconds = micros_to_seconds(micros);
    if micros % MICROS_PER_SECOND == 0 {
        format!("in {seconds:.0} s")
    } else {
        format!("in {seconds:.1} s")
    }
}

/// The steps, the effects by kind, the log events that are not debug, and
/// where the machine ended.
fn print_summary(trace: &Trace, outputs: &[StepOutput], out: &mut impl Write) -> io::Result<()> {
    let rejected = outputs.iter().filter(|o| o.result.is_err()).count();
    let mut notable: Vec<String> = Vec::new();
    let mut debug_logs = 0;
    let mut host_effects: BTreeMap<String, usize> = BTreeMap::new();
    for effect in outputs.iter().filter_map(|o| o.result.as_ref().ok()).flatten() {
        match effect {
            Effect::Log(log) if log.level() == LogLevel::Debug => debug_logs += 1,
            Effect::Log(log) => notable.push(log.event_name().to_string()),
            Effect::SessionCacheReplaced { kind } => {
                *host_effects
                    .entry(format!("session cache replaced ({})", kind.name()))
                    .or_default() += 1
            }
            Effect::ProbeBackendCapability => {
                *host_effects.entry("backend probe run".into()).or_default() += 1
            }
        }
    }
    writeln!(out, "\n  summary")?;
    writeln!(
        out,
        "    steps     {} ({} accepted, {rejected} rejected)",
        outputs.len(),
        outputs.len() - rejected
    )?;
    if !notable.is_empty() {
        writeln!(out, "    happened  {}", notable.join(", "))?;
    }
    if debug_logs > 0 {
        writeln!(out, "    debug     {debug_logs} log lines")?;
    }
    if !host_effects.is_empty() {
        let effects: Vec<String> = host_effects
            .iter()
            .map(|(what, count)| {
                if *count == 1 {
                    what.clone()
                } else {
                    format!("{what} x{count}")
                }
            })
            .collect();
        writeln!(out, "    host did  {}", effects.join(", "))?;
    }
    let state = outputs.last().map_or(&trace.initial, |o| &o.state).to_value();
    writeln!(out, "    end       {}", describe_state(&state))?;
    Ok(())
}

/// Where the machine stands, in a line.
fn describe_state(state: &Value) -> String {
    let status = &state["server_status"];
    let mut parts = vec![if status["online"] == Value::Bool(true) {
        format!(
            "fail2ban online (version {}, {} active jails)",
            status["version"].as_str().unwrap_or("unknown"),
            status["active_jails"]
        )
    } else {
        "fail2ban offline".to_string()
    }];
    parts.push(format!(
        "session cache {}",
        state["session_cache"].as_str().unwrap_or("?")
    ));
    let recovery = &state["pending_recovery"];
    if let Some(jail) = recovery["jail_name"].as_str() {
        let how = if recovery["recovered"] == Value::Bool(true) {
            "recovered"
        } else {
            "not yet recovered"
        };
        parts.push(format!("pending recovery for {jail}: {how}"));
    }
    let supported = &state["backend_capability"]["supported"];
    if !supported.is_null() {
        parts.push(format!("backend capability supported: {supported}"));
    }
    parts.push(format!("revision {}", state["revision"]));
    parts.join("; ")
}

/// `type` then the other fields, compactly.
fn describe_event(event: &Value) -> String {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("?");
    let fields: Vec<String> = event
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.as_str() != "type")
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if fields.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} {}", fields.join(" "))
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Log(log) => {
            let fields = serde_json::to_value(effect)
                .ok()
                .and_then(|v| v.get("fields").cloned())
                .and_then(|f| f.as_object().cloned())
                .unwrap_or_default();
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(
                "log       {:<7} {} {}",
                log.level().name(),
                log.event_name(),
                fields.join(" ")
            )
            .trim_end()
            .to_string()
        }
        Effect::SessionCacheReplaced { kind } => {
            format!("effect    install a new, empty {} session cache", kind.name())
        }
        Effect::ProbeBackendCapability => "effect    run the backend capability probe".to_string(),
    }
}

/// What changed between two JSON values, as `path: old -> new` lines.
fn diff(path: &str, before: &Value, after: &Value, changes: &mut Vec<String>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                if path.is_empty() && key == "revision" {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let null = Value::Null;
                diff(
                    &child,
                    old.get(key).unwrap_or(&null),
                    new.get(key).unwrap_or(&null),
                    changes,
                );
            }
        }
        _ => changes.push(format!("{path}: {before} -> {after}")),
    }
}
