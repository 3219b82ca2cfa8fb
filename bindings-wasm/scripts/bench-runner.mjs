// The Node benchmark's measuring half: run by bench.mjs inside a project that
// installed the packed tarball, so `bangui-state` is imported as a user would.
// Prints one JSON object ({rows}) on stdout.
//
// Each row is the median over R rounds of (time of N calls) / N, after a
// warm-up: per-call medians without timer overhead per call.
import { Machine } from 'bangui-state';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 41;
const PER_ROUND = quick ? 200 : 20_000;

const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600 };
const T0 = Date.parse('2026-04-27T16:42:00Z');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

let sink = 0;
function measure(fn) {
  for (let i = 0; i < Math.min(PER_ROUND, 5000); i += 1) sink += fn(i).length | 0; // warm-up
  const perCall = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < PER_ROUND; i += 1) sink += fn(i).length | 0;
    perCall.push(Number(process.hrtime.bigint() - start) / PER_ROUND);
  }
  return median(perCall);
}

// ---------------------------------------------------------------------------
// The baseline: BanGUI's `process_health_probe_result` by hand in plain JS
// (state object, the same transition branches, the same effect objects).

const CRASH_WINDOW_MS = 60_000;

function reducerState() {
  return {
    revision: 0,
    server_status: { online: false, version: null, active_jails: 0 },
    pending_recovery: null,
    last_activation: null,
  };
}

function log(level, event, fields) {
  return { type: 'log', level, event, fields };
}

function reduceProbe(state, status, nowMs) {
  const effects = [];
  const wasOnline = state.server_status.online;
  state.server_status = status;
  state.revision += 1;
  if (status.online && !wasOnline) {
    effects.push(log('info', 'fail2ban_came_online', { version: status.version }));
    const recovery = state.pending_recovery;
    if (recovery !== null && !recovery.recovered) {
      state.pending_recovery = { ...recovery, recovered: true };
      effects.push(log('info', 'pending_recovery_resolved', { jail: recovery.jail_name }));
    }
  } else if (!status.online && wasOnline) {
    effects.push(log('warning', 'fail2ban_went_offline', {}));
    const activation = state.last_activation;
    if (activation !== null) {
      const elapsed = nowMs - activation.at;
      const recovery = state.pending_recovery;
      if (elapsed <= CRASH_WINDOW_MS && (recovery === null || recovery.recovered)) {
        state.pending_recovery = { jail_name: activation.jail_name, activated_at: activation.at, detected_at: nowMs, recovered: false };
        effects.push(log('warning', 'activation_crash_detected', { jail: activation.jail_name, seconds_since_activation: elapsed / 1000 }));
      }
    }
  }
  effects.push(log('debug', 'health_check_complete', { online: status.online, version: status.version, active_jails: status.active_jails }));
  return effects;
}

// ---------------------------------------------------------------------------

const probe = { online: true, version: '1.1.0', activeJails: 3 };
const probeEvent = { type: 'health_probe_completed', status: { online: true, version: '1.1.0', active_jails: 3 } };
const activation = { type: 'jail_activated', jail_name: 'sshd' };

// Steady state: fail2ban online, one effect (health_check_complete) per probe.
const machine = new Machine(BOOT);
machine.step(probeEvent, T0);
const reducer = reducerState();
reduceProbe(reducer, { ...probeEvent.status }, T0);

// The effects must agree, or the baseline measures something else.
const fromWasm = JSON.stringify(machine.step(probeEvent, T0 + 1));
const fromJs = JSON.stringify(reduceProbe(reducer, { ...probeEvent.status }, T0 + 1));
if (fromWasm !== fromJs) throw new Error(`the JS reducer disagrees with the package:\n${fromJs}\n${fromWasm}`);

const rows = [
  { name: 'step', median_ns: measure((i) => machine.step(probeEvent, T0 + i)), note: 'machine.step(health_probe_completed, epoch ms), steady online, 1 effect' },
  { name: 'health_probe', median_ns: measure((i) => machine.healthProbe(probe, T0 + i)), note: 'machine.healthProbe({online, version, activeJails}, epoch ms), 1 effect' },
  // The event's status object is fresh per call in the reducer too (it is kept in the state).
  { name: 'reducer_baseline', median_ns: measure((i) => reduceProbe(reducer, { ...probeEvent.status }, T0 + i)), note: 'hand-written JS reducer, same event, same effect objects' },
  { name: 'step_jail_activated', median_ns: measure((i) => machine.step(activation, T0 + i)), note: 'machine.step(jail_activated), no effect (the event through the value converter)' },
  { name: 'step_date_now', median_ns: measure(() => machine.step(probeEvent, new Date(T0))), note: 'machine.step(health_probe_completed) with a Date now: the event path (value converter in, effects as JSON text out), not the scalar fast path' },
  { name: 'state', median_ns: measure(() => JSON.stringify(machine.state())), note: 'machine.state() (+ JSON.stringify to consume it)' },
  { name: 'revision_getter', median_ns: measure(() => String(machine.revision)), note: 'machine.revision: one wasm call, a number back as a JsValue in a Result (externref table)' },
  { name: 'next_deadline', median_ns: measure((i) => String(machine.nextDeadline(T0 + i))), note: 'machine.nextDeadline(epoch ms)' },
];
if (sink === 0.5) console.error(sink); // keep results alive
process.stdout.write(JSON.stringify({ rows }));
