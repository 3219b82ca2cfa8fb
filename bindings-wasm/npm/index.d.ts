// bangui-state: BanGUI's runtime state machine, compiled to WebAssembly.
// These types are the JSON forms of the project's contract (CONTRACT.md in
// the bangui-state repository; the package README sums it up); every entry
// point ("bangui-state" for Node and bundlers, "bangui-state/web" for plain
// browsers) has this same API.
//
// Inputs are read as JSON.stringify would see them, and refused with the
// field's path where it would store something else (Dates, toJSON, boxed
// primitives, buffers, class instances), for lone UTF-16 surrogates, and
// beyond 4,194,304 characters or 262,144 values in one input (README,
// "Input values").

/**
 * Any JSON value: what settings carry through untouched. A `bigint` (from
 * -2^63 to 2^64-1) is stored as that exact integer and comes back as a
 * `bigint` when beyond 2^53-1, else as a `number`; a `number` is stored as
 * the double it is and comes back as the same number.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A UTC instant as RFC 3339 text. Outputs are always
 * `YYYY-MM-DDTHH:MM:SS.ffffffZ`; inputs accept any offset.
 */
export type Instant = string;

/**
 * The time of a step: a `Date`, epoch milliseconds (fractions allowed,
 * rounded to the nearest microsecond, ties to even) or an RFC 3339 string
 * (truncated to the microsecond, as the core parses it).
 */
export type Now = Date | number | string;

/** The host's whole settings record: two known keys, the rest carried through. */
export interface Settings {
  session_cache_enabled: boolean;
  session_cache_ttl_seconds: number;
  [key: string]: JsonValue;
}

/** `settings_updated` overrides: any keys; the two known keys keep their types. */
export interface SettingsOverrides {
  session_cache_enabled?: boolean;
  session_cache_ttl_seconds?: number;
  [key: string]: JsonValue | undefined;
}

/** `in_memory` when enabled and the TTL is positive, else `no_op`. */
export type SessionCacheKind = 'in_memory' | 'no_op';

/** fail2ban's status as stored in the state. */
export interface ServerStatus {
  online: boolean;
  version: string | null;
  active_jails: number;
  [key: string]: JsonValue;
}

/** fail2ban's status as a probe reports it (`version`, `active_jails` default to null, 0). */
export interface ServerStatusInput {
  online: boolean;
  version?: string | null;
  active_jails?: number;
  [key: string]: JsonValue | undefined;
}

export interface PendingRecovery {
  jail_name: string;
  activated_at: Instant;
  detected_at: Instant;
  recovered: boolean;
}

export interface Activation {
  jail_name: string;
  at: Instant;
}

export interface BackendCapability {
  supported: boolean | null;
  probe_started_at: Instant | null;
}

/** The state's JSON form, as persisted and as returned by `state()`. */
export interface State {
  schema_version: 1;
  /** Events accepted so far. */
  revision: number;
  setup_complete_cached: boolean;
  server_status: ServerStatus;
  pending_recovery: PendingRecovery | null;
  last_activation: Activation | null;
  bootstrap_settings: Settings;
  runtime_settings: Settings | null;
  /** The session cache the host must have installed now. */
  session_cache: SessionCacheKind;
  backend_capability: BackendCapability;
}

/** What happened: the contract's twelve events. */
export type Event =
  | { type: 'health_probe_completed'; status: ServerStatusInput }
  | { type: 'jail_activated'; jail_name: string; at?: Instant }
  | { type: 'pending_recovery_created'; jail_name: string; activated_at: Instant; detected_at?: Instant }
  | { type: 'pending_recovery_cleared' }
  | { type: 'activation_cleared' }
  | { type: 'runtime_settings_set'; settings: Settings }
  | { type: 'settings_updated'; overrides: SettingsOverrides }
  | { type: 'setup_completion_cached'; complete: boolean }
  | { type: 'backend_probe_requested' }
  | { type: 'backend_probe_completed'; supported: boolean }
  | { type: 'backend_probe_failed'; reason?: string }
  | { type: 'backend_capability_reset' };

export type EventType = Event['type'];

/**
 * The seed's structlog calls, each with its exact keyword arguments.
 * Readonly because every effect handed out is deeply frozen (`Object.freeze`).
 */
export type LogEffect =
  | {
      readonly type: 'log';
      readonly level: 'info';
      readonly event: 'fail2ban_came_online';
      readonly fields: { readonly version: string | null };
    }
  | {
      readonly type: 'log';
      readonly level: 'info';
      readonly event: 'pending_recovery_resolved';
      readonly fields: { readonly jail: string };
    }
  | {
      readonly type: 'log';
      readonly level: 'warning';
      readonly event: 'fail2ban_went_offline';
      readonly fields: { readonly [key: string]: never };
    }
  | {
      readonly type: 'log';
      readonly level: 'warning';
      readonly event: 'activation_crash_detected';
      readonly fields: { readonly jail: string; readonly seconds_since_activation: number };
    }
  | {
      readonly type: 'log';
      readonly level: 'debug';
      readonly event: 'health_check_complete';
      readonly fields: { readonly online: boolean; readonly version: string | null; readonly active_jails: number };
    }
  | {
      readonly type: 'log';
      readonly level: 'debug';
      readonly event: 'session_cache_updated';
      readonly fields: { readonly cache_type: 'InMemorySessionCache' | 'NoOpSessionCache' };
    }
  | {
      readonly type: 'log';
      readonly level: 'warning';
      readonly event: 'backend_capability_probe_failed';
      readonly fields: { readonly reason: string | null };
    };

/**
 * What the host must do after a step, in order. Every effect handed out
 * (by `step`, `healthProbe`, the pure `step` and `replay`) is deeply frozen,
 * hence readonly: copy one to change it (`structuredClone(effect)`).
 */
export type Effect =
  | LogEffect
  | { readonly type: 'session_cache_replaced'; readonly kind: SessionCacheKind }
  | { readonly type: 'probe_backend_capability' };

export type LogLevel = LogEffect['level'];

/** `healthProbe`'s argument: fail2ban's status from the host's probe. */
export interface Probe {
  online: boolean;
  version?: string | null;
  /** A non-negative integer; defaults to 0. */
  activeJails?: number;
}

/** The result of the pure `step`. */
export interface StepResult {
  /** A fresh, mutable object, as `state()` returns. */
  state: State;
  effects: readonly Effect[];
}

/** One step of a trace (the CLI's replay format). */
export interface TraceStep {
  now: Instant;
  event: Event;
}

/** A trace: bootstrap settings and steps; other keys (a `name`) are ignored. */
export interface Trace {
  bootstrap: Settings;
  steps: TraceStep[];
  [key: string]: unknown;
}

/** One replayed step: its effects, or the core's error message; and the state after it. */
export type ReplayedStep = { effects: readonly Effect[]; state: State } | { error: string; state: State };

/**
 * A runtime-state machine. Freed by the garbage collector (FinalizationRegistry);
 * `free()` releases it at once: afterwards every method throws
 * `InvalidStateError`, and `free()` again does nothing.
 */
export declare class Machine {
  /** A new machine (revision 0, fail2ban assumed offline) from bootstrap settings. */
  constructor(bootstrapSettings: Settings);
  /** A machine continuing from a state in its JSON form. */
  static restore(state: State): Machine;
  /**
   * Applies `event` at `now`; returns the effects (frozen). On error, throws
   * and nothing changes.
   */
  step(event: Event, now: Now): readonly Effect[];
  /**
   * `health_probe_completed` without building the event (a faster path,
   * same rule, same effects, frozen). Only the three keys are read.
   */
  healthProbe(probe: Probe, now: Now): readonly Effect[];
  /** The state's JSON form (a fresh object each call). */
  state(): State;
  /** Events accepted so far (equal to `state().revision`; a `bigint` only beyond 2^53-1, reachable from a restored state). */
  readonly revision: number;
  /**
   * The next instant at which time alone changes how an event is handled
   * (the activation's crash window closing, a backend probe in flight going
   * stale), or `null` when nothing is pending. `now` defaults to the current time.
   */
  nextDeadline(now?: Now): Instant | null;
  /** Releases the machine now instead of waiting for the garbage collector; idempotent. */
  free(): void;
}

/** The pure form: the state after `event` at `now`, and the effects. `state` is not modified. */
export declare function step(state: State, event: Event, now: Now): StepResult;

/** Replays a trace through the core's own replay, one result per step. */
export declare function replay(trace: Trace): ReplayedStep[];

/** A value made deeply read-only, as the live snapshots are (`Object.freeze` all the way down). */
export type Frozen<T> = T extends bigint | boolean | number | string | null | undefined
  ? T
  : T extends readonly (infer U)[]
    ? readonly Frozen<U>[]
    : { readonly [K in keyof T]: Frozen<T[K]> };

/**
 * Where a LiveMachine stands:
 * - `connecting`: no state yet (the first snapshot is loading, or failed to and is retried);
 * - `live`: following the commit stream: the state is the server's;
 * - `reconnecting`: the stream dropped, or a gap or a resync asked for the snapshot again; retrying;
 *   the state is the last one known;
 * - `stale`: `reconnecting` for longer than `staleAfterMs`: the state may be out of date;
 * - `invalid`: the server sent something that is not a well-formed commit or snapshot, or a step
 *   the machine refuses; the state is the last good one; the snapshot is loaded again after a pause;
 * - `unauthorized`: a 401, or the stream's `logged-out` event: nothing more is tried until `reconnect()`;
 * - `closed`: `close()` was called.
 */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'stale' | 'invalid' | 'unauthorized' | 'closed';

/**
 * What a LiveMachine shows: the same object until one of its fields changes
 * (as `useSyncExternalStore` needs), deeply frozen.
 */
export interface LiveSnapshot {
  readonly status: LiveStatus;
  /** The machine's state; `null` until the first snapshot loaded. */
  readonly state: Frozen<State> | null;
  readonly revision: number | null;
  /** `runtime_settings` when set, else `bootstrap_settings` (the contract's effective settings). */
  readonly effectiveSettings: Frozen<Settings> | null;
  /** The machine's next deadline at the client's clock (the crash window's end, ...), or `null`. */
  readonly nextDeadline: Instant | null;
  /** What went wrong last, while the status is not `live` (else `null`). */
  readonly error: string | null;
}

/** One commit applied, with the effects its step gave (what the committing worker carried out). */
export interface LiveCommit {
  readonly revision: number;
  readonly now: Instant;
  readonly event: Frozen<Event>;
  readonly effects: readonly Effect[];
}

/** The request `connect` makes, as the `fetch` option gets it. */
export interface LiveRequestInit {
  credentials: 'omit' | 'same-origin' | 'include';
  cache: 'no-store';
  headers: Record<string, string>;
  /** An AbortSignal: the request is aborted when the LiveMachine stops following it. */
  signal: typeof globalThis extends { AbortSignal: { prototype: infer S } } ? S : unknown;
}

/** What `connect` reads of a fetch Response. */
export interface LiveResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  readonly body: {
    getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> };
    cancel(): Promise<void>;
  } | null;
}

export interface ConnectOptions {
  /** The snapshot: `{"state": State, ...}` (other keys ignored). Default `/api/state`. */
  stateUrl?: string;
  /** The commit stream (server-sent events); `?after=N` is appended. Default `/api/events`. */
  eventsUrl?: string;
  /** fetch's `credentials`, for the session cookie. Default `same-origin`; `include` for another origin. */
  credentials?: 'omit' | 'same-origin' | 'include';
  /** Headers sent with both requests (in Node, e.g. a `cookie`). */
  headers?: Record<string, string>;
  /** The fetch to use; default `globalThis.fetch` (browsers, Node 18+). */
  fetch?: (url: string, init: LiveRequestInit) => Promise<LiveResponse>;
  /** The first pause before retrying, doubled per failure in a row; the stream's `retry:` replaces it. Default 1000 ms. */
  retryMs?: number;
  /** The longest pause between retries. Default 30 000 ms. */
  maxRetryMs?: number;
  /** How long `reconnecting` lasts before it is `stale`. Default 5000 ms. */
  staleAfterMs?: number;
  /** The clock for `nextDeadline`, epoch milliseconds. Default `Date.now`. */
  now?: () => number;
}

/** The server's state, mirrored: a store for `useSyncExternalStore` (see "bangui-state/react"). */
export interface LiveMachine {
  /** The current snapshot (a bound function: can be passed on alone). */
  readonly getSnapshot: () => LiveSnapshot;
  /** Calls `listener` after every change of the snapshot, never without one; returns the unsubscribe function (bound). */
  readonly subscribe: (listener: () => void) => () => void;
  /** `getSnapshot().status`. */
  readonly status: LiveStatus;
  /** Calls `listener` for every commit applied, after the snapshot changed; returns the unsubscribe function. */
  onCommit(listener: (commit: LiveCommit) => void): () => void;
  /** Loads the snapshot again and follows from there (after a login, for one). */
  reconnect(): void;
  /** Stops for good: the stream closed, the machine freed; the last snapshot stays, as `closed`. */
  close(): void;
}

/**
 * Loads the snapshot, then follows the commit stream: every commit is
 * stepped at its own `now`, and must bring the machine to its revision.
 */
export declare function connect(options?: ConnectOptions): LiveMachine;

/** The core's error kinds (`error.kind`). */
export type ErrorKind =
  | 'invalid_json'
  | 'invalid_event'
  | 'invalid_settings'
  | 'invalid_state'
  | 'unknown_schema_version'
  | 'invalid_instant'
  | 'revision_exhausted'
  | 'invalid_trace';

/** Every error thrown: `message` is the core's "path: message" text. */
export declare class BanguiStateError extends Error {
  readonly kind: ErrorKind;
  /** The field path (`event.status.online`), or `""` for the input as a whole. */
  readonly path: string;
}
export declare class InvalidJsonError extends BanguiStateError {}
export declare class InvalidEventError extends BanguiStateError {}
export declare class InvalidSettingsError extends BanguiStateError {}
export declare class InvalidStateError extends BanguiStateError {}
export declare class UnknownSchemaVersionError extends InvalidStateError {}
export declare class InvalidInstantError extends BanguiStateError {}
export declare class RevisionExhaustedError extends BanguiStateError {}
export declare class InvalidTraceError extends BanguiStateError {}
