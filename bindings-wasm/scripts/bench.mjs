// A rough per-step cost of the package in Node (not a test; no assertions).
//   node bindings-wasm/scripts/bench.mjs   (after bindings-wasm/scripts/build.sh)
import { Machine, step } from '../pkg/node/index.mjs';

const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600, database_path: '/var/lib/bangui/bangui.db' };
const T0 = Date.parse('2026-04-27T16:42:00Z');

function time(label, n, fn) {
  for (let i = 0; i < Math.min(n, 2000); i += 1) fn(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) fn(i);
  const ns = Number(process.hrtime.bigint() - start) / n;
  console.log(`${label.padEnd(58)} ${(ns / 1000).toFixed(2).padStart(7)} us/op`);
}

const m = new Machine(BOOT);
const online = { online: true, version: '1.1.0', activeJails: 3 };
const onlineEvent = { type: 'health_probe_completed', status: { online: true, version: '1.1.0', active_jails: 3 } };
time('machine.healthProbe(steady online), epoch ms', 200_000, (i) => m.healthProbe(online, T0 + i));
time('machine.step(health_probe_completed, steady), epoch ms', 200_000, (i) => m.step(onlineEvent, T0 + i));
time('machine.step(health_probe_completed), RFC 3339 now', 100_000, () => m.step(onlineEvent, '2026-04-27T16:42:00.000000Z'));
time('machine.step(jail_activated), Date now', 200_000, () => m.step({ type: 'jail_activated', jail_name: 'sshd' }, new Date(T0)));
time('machine.step(settings_updated)', 100_000, (i) => m.step({ type: 'settings_updated', overrides: { session_cache_enabled: i % 2 === 0 } }, T0));
time('machine.state()', 100_000, () => m.state());
time('machine.nextDeadline(now)', 200_000, (i) => m.nextDeadline(T0 + i));
const s = m.state();
time('step(state, event, now) (pure: state in and out)', 50_000, (i) => step(s, onlineEvent, T0 + i));
time('new Machine(settings) + free()', 100_000, () => new Machine(BOOT).free());
