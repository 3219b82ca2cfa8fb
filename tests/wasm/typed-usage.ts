// Type-checked by the tests with `tsc --noEmit --strict` against the
// installed package: the public types must accept the contract's shapes and
// reject what it does not allow. (Never run.)
import {
  BanguiStateError,
  InvalidEventError,
  Machine,
  connect,
  replay,
  step,
  type Effect,
  type Event,
  type Instant,
  type LiveCommit,
  type LiveMachine,
  type LiveSnapshot,
  type LiveStatus,
  type ReplayedStep,
  type Settings,
  type State,
} from 'bangui-state';
import { useBanguiState } from 'bangui-state/react';

const settings: Settings = { session_cache_enabled: true, session_cache_ttl_seconds: 3600, theme: { dark: [1, null] } };
const machine = new Machine(settings);
const now = new Date('2026-04-27T16:42:00Z');

const effects: readonly Effect[] = machine.step({ type: 'jail_activated', jail_name: 'sshd' }, now);
machine.step({ type: 'health_probe_completed', status: { online: false } }, now.getTime() + 12_000.5);
machine.step({ type: 'settings_updated', overrides: { session_cache_enabled: false, extra: 'kept' } }, '2026-04-27T16:42:13Z');
machine.healthProbe({ online: true, version: '1.1.0', activeJails: 3 }, now);

// Discriminated unions narrow to the exact fields.
for (const effect of effects) {
  switch (effect.type) {
    case 'log':
      if (effect.event === 'activation_crash_detected') {
        const seconds: number = effect.fields.seconds_since_activation;
        const jail: string = effect.fields.jail;
        void seconds, jail;
      } else if (effect.event === 'session_cache_updated') {
        const cacheType: 'InMemorySessionCache' | 'NoOpSessionCache' = effect.fields.cache_type;
        void cacheType;
      }
      break;
    case 'session_cache_replaced': {
      const kind: 'in_memory' | 'no_op' = effect.kind;
      void kind;
      break;
    }
    case 'probe_backend_capability':
      break;
    default: {
      const never: never = effect;
      void never;
    }
  }
}

const state: State = machine.state();
const revision: number = machine.revision + state.revision;
const deadline: Instant | null = machine.nextDeadline(now);
const recovered: boolean | undefined = state.pending_recovery?.recovered;
const restored: Machine = Machine.restore(state);
const pure: { state: State; effects: readonly Effect[] } = step(state, { type: 'backend_probe_requested' }, 0);
const replayed: ReplayedStep[] = replay({ bootstrap: settings, steps: [{ now: '2026-04-27T16:42:00Z', event: { type: 'activation_cleared' } }] });
void revision, deadline, recovered, restored, pure, replayed;

try {
  machine.step({ type: 'backend_probe_completed', supported: true }, now);
} catch (error) {
  if (error instanceof InvalidEventError) {
    const where: string = error.path;
    void where;
  } else if (error instanceof BanguiStateError) {
    const kind: 'invalid_json' | 'invalid_event' | 'invalid_settings' | 'invalid_state' | 'unknown_schema_version' | 'invalid_instant' | 'revision_exhausted' | 'invalid_trace' = error.kind;
    void kind;
  }
}
machine.free();

// Each of these must be a type error; `@ts-expect-error` fails the check if it is not.
// @ts-expect-error: `online` must be a boolean
const badStatus: Event = { type: 'health_probe_completed', status: { online: 'yes' } };
// @ts-expect-error: unknown event type
const badType: Event = { type: 'jail_deactivated', jail_name: 'sshd' };
// @ts-expect-error: a known settings key with the wrong type
const badSettings: Settings = { session_cache_enabled: 'true', session_cache_ttl_seconds: 60 };
// @ts-expect-error: settings need both known keys
new Machine({ session_cache_enabled: true });
// @ts-expect-error: `now` is a Date, epoch milliseconds or an RFC 3339 string
machine.step({ type: 'activation_cleared' }, { seconds: 1 });
// @ts-expect-error: a log effect's fields are exact for its event
const badFields: Effect = { type: 'log', level: 'info', event: 'pending_recovery_resolved', fields: { jail_name: 'sshd' } };
// @ts-expect-error: effects are frozen: the array is readonly
effects.push({ type: 'probe_backend_capability' });
// @ts-expect-error: effects are frozen: an effect's fields are readonly
for (const e of effects) if (e.type === 'log' && e.event === 'health_check_complete') e.fields.active_jails = 0;
// @ts-expect-error: effects are frozen: so is every effect
for (const e of pure.effects) if (e.type === 'session_cache_replaced') e.kind = 'no_op';
// The state is a copy and stays mutable.
state.server_status.active_jails = 0;
void badStatus, badType, badSettings, badFields;

// ---------------------------------------------------------------------------
// The live mirror (connect) and its React hook (bangui-state/react; its types
// need no React types, so this file type-checks without them).
const live: LiveMachine = connect({
  stateUrl: '/api/state',
  eventsUrl: '/api/events',
  credentials: 'include',
  headers: { cookie: 'bangui_session=...' },
  retryMs: 500,
  maxRetryMs: 10_000,
  staleAfterMs: 5000,
  now: () => Date.now(),
});
connect();
const snapshot: LiveSnapshot = live.getSnapshot();
const getSnapshot: () => LiveSnapshot = live.getSnapshot; // unbound, for useSyncExternalStore
const unsubscribe: () => void = live.subscribe(() => {});
const liveStatus: LiveStatus = live.status;
switch (snapshot.status) {
  case 'connecting':
  case 'live':
  case 'reconnecting':
  case 'stale':
  case 'invalid':
  case 'unauthorized':
  case 'closed':
    break;
  default: {
    const never: never = snapshot.status;
    void never;
  }
}
if (snapshot.state !== null) {
  const online: boolean = snapshot.state.server_status.online;
  const jail: string | undefined = snapshot.state.pending_recovery?.jail_name;
  const liveRevision: number = snapshot.state.revision;
  void online, jail, liveRevision;
  // @ts-expect-error: a snapshot's state is frozen, all the way down
  snapshot.state.server_status.online = false;
  // @ts-expect-error: so are its settings
  snapshot.state.bootstrap_settings.theme = 'dark';
}
const countdown: number | null = snapshot.nextDeadline === null ? null : Date.parse(snapshot.nextDeadline) - Date.now();
const cacheOn: boolean | undefined = snapshot.effectiveSettings?.session_cache_enabled;
const why: string | null = snapshot.error;
const stopCommits: () => void = live.onCommit((commit: LiveCommit) => {
  const at: Instant = commit.now;
  const revisionNow: number = commit.revision;
  if (commit.event.type === 'jail_activated') {
    const name: string = commit.event.jail_name;
    void name;
  }
  for (const effect of commit.effects) if (effect.type === 'log') void effect.event;
  void at, revisionNow;
});
live.reconnect();
live.close();
void getSnapshot, unsubscribe, liveStatus, countdown, cacheOn, why, stopCommits;

function Banner(): string {
  const whole: LiveSnapshot = useBanguiState(live);
  const onlineOrNull: boolean | null = useBanguiState(live, (s) => s.state?.server_status.online ?? null);
  const pair: readonly [LiveStatus, number | null] = useBanguiState(
    live,
    (s): readonly [LiveStatus, number | null] => [s.status, s.revision],
    (a, b) => a[0] === b[0] && a[1] === b[1],
  );
  const fromAnySource: LiveStatus = useBanguiState({ getSnapshot: live.getSnapshot, subscribe: live.subscribe }, (s) => s.status);
  return `${whole.status} ${onlineOrNull} ${pair[0]} ${fromAnySource}`;
}
void Banner;

// @ts-expect-error: not a status
const badLiveStatus: LiveStatus = 'online';
// @ts-expect-error: an option that does not exist (URLs are stateUrl, eventsUrl)
connect({ stateURL: '/api/state' });
// @ts-expect-error: credentials is fetch's: omit, same-origin or include
connect({ credentials: true });
// @ts-expect-error: isEqual compares two selections of the selector's type
useBanguiState(live, (s) => s.revision, (a: string, b: string) => a === b);
// @ts-expect-error: the hook needs a connection
useBanguiState({ getSnapshot: () => null });
void badLiveStatus;
