// connect(): a page's live mirror of the server's state, shared by every
// entry point (the Node entry gets a CommonJS twin, node/live.cjs, made by
// build.sh). No dependency: the entry point hands in its `Machine`.
//
// The server offers a snapshot (`GET stateUrl`: {"state", ...}) and its
// commit stream (`GET eventsUrl`, server-sent events: `event: commit`,
// `data: {"revision", "now", "event"}`). The mirror restores a Machine from
// the snapshot, then steps it with every commit at the commit's own `now`,
// so it computes what the server computed. Every commit must come with the
// next revision: an older one is a duplicate (skipped), a later one a gap
// (the snapshot is loaded again), and so is a revision the step did not
// reach. Anything the server sends that is not a well-formed commit the
// machine accepts leaves the state as it was and sets the status `invalid`.
//
// The stream is read over fetch (a ReadableStream body), not EventSource:
// the same code runs in browsers and in Node 18+, sees HTTP statuses (a 401
// is `unauthorized`, not an anonymous error), and reconnects on its own
// terms (by revision: `?after=N` and `Last-Event-ID: N`).

const STALE_AFTER_MS = 5000;
const RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;
/** An event stream's line or message may hold at most this many characters (what one input may, twice). */
const MAX_MESSAGE_CHARS = 1 << 23;

/** Why the loop stopped following: `unauthorized`, `invalid` (a bad message), `reload` (gap, resync), `network`. */
class Problem {
  constructor(kind, message) {
    this.kind = kind;
    this.message = message;
  }
}

const isPlain = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

function deepFreeze(value) {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze(value[key]);
  }
  return value;
}

/**
 * `next` (fresh, mutable) with every part equal to `previous`'s replaced by
 * that part: `previous` itself when all is equal. So a new snapshot's
 * unchanged parts (the settings, say) are the same objects as before, and a
 * selector picking one gives the same value.
 */
function share(previous, next) {
  if (Object.is(previous, next)) return previous;
  if (previous === null || next === null || typeof previous !== 'object' || typeof next !== 'object'
      || Array.isArray(previous) !== Array.isArray(next)) {
    return next;
  }
  const keys = Object.keys(next);
  let same = keys.length === Object.keys(previous).length;
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(previous, key)) {
      same = false;
      continue;
    }
    const value = share(previous[key], next[key]);
    if (value !== previous[key]) same = false;
    else if (value !== next[key]) Object.defineProperty(next, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return same ? previous : next;
}

/** At most 120 characters of a message, for error texts. */
const excerpt = (text) => JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);

const describe = (error) => (error instanceof Error ? error.message : String(error));

/**
 * Builds `connect` on an entry point's `Machine`.
 */
export function installLive(Machine) {
  class LiveMachine {
    #options;
    #machine = null;
    #snapshot;
    #listeners = new Set();
    #commitListeners = new Set();
    /** The run (a load and its stream, and their retries) that may still change things; others stop at their next step. */
    #run = 0;
    #abort = null;
    #retryMs;
    #deadlineTimer = null;
    #staleTimer = null;

    constructor(options = {}) {
      const fetchFn = options.fetch ?? globalThis.fetch;
      if (typeof fetchFn !== 'function') throw new TypeError('connect: no fetch (pass options.fetch)');
      this.#options = {
        stateUrl: String(options.stateUrl ?? '/api/state'),
        eventsUrl: String(options.eventsUrl ?? '/api/events'),
        credentials: options.credentials ?? 'same-origin',
        headers: { ...options.headers },
        fetch: fetchFn,
        maxRetryMs: options.maxRetryMs ?? MAX_RETRY_MS,
        staleAfterMs: options.staleAfterMs ?? STALE_AFTER_MS,
        now: options.now ?? Date.now,
      };
      this.#retryMs = options.retryMs ?? RETRY_MS;
      this.#snapshot = deepFreeze({
        status: 'connecting', state: null, revision: null, effectiveSettings: null, nextDeadline: null, error: null,
      });
      this.#start();
    }

    // Arrow functions: `useSyncExternalStore(live.subscribe, live.getSnapshot)` works unbound.
    /** The current snapshot: the same object until something in it changes. */
    getSnapshot = () => this.#snapshot;

    /** Calls `listener()` after every change of the snapshot; returns the function that unsubscribes it. */
    subscribe = (listener) => {
      const entry = { listener }; // the same function subscribed twice is two subscriptions
      this.#listeners.add(entry);
      return () => {
        this.#listeners.delete(entry);
      };
    };

    get status() {
      return this.#snapshot.status;
    }

    /** Calls `listener({revision, now, event, effects})` for every commit applied, after the snapshot changed. */
    onCommit(listener) {
      const entry = { listener };
      this.#commitListeners.add(entry);
      return () => {
        this.#commitListeners.delete(entry);
      };
    }

    /** Loads the snapshot again and follows from there (e.g. after a login); does nothing once closed. */
    reconnect() {
      if (this.#snapshot.status === 'closed') return;
      this.#publish({ status: this.#machine ? 'reconnecting' : 'connecting', error: null });
      this.#start();
    }

    /** Stops following for good: the stream is closed, timers cleared, the machine freed; the last state stays. */
    close() {
      if (this.#snapshot.status === 'closed') return;
      this.#run += 1;
      this.#abort?.abort();
      clearTimeout(this.#deadlineTimer);
      clearTimeout(this.#staleTimer);
      this.#machine?.free();
      this.#machine = null;
      this.#publish({ status: 'closed', error: null, nextDeadline: null });
    }

    // -----------------------------------------------------------------------

    #publish(changes) {
      const old = this.#snapshot;
      if (Object.keys(changes).every((key) => Object.is(old[key], changes[key]))) return;
      this.#snapshot = Object.freeze({ ...old, ...changes });
      if (changes.status !== undefined && changes.status !== old.status) this.#watchStale();
      if (changes.nextDeadline !== undefined && changes.nextDeadline !== old.nextDeadline) this.#watchDeadline();
      notify(this.#listeners, undefined);
    }

    /** The snapshot's view of the machine: a new state object only when the state changed. */
    #publishState() {
      const machine = this.#machine;
      const old = this.#snapshot.state;
      const state = old === null ? machine.state() : share(old, machine.state());
      const changes = { nextDeadline: machine.nextDeadline(this.#options.now()) };
      if (state !== old) {
        deepFreeze(state);
        Object.assign(changes, {
          state,
          revision: state.revision,
          effectiveSettings: state.runtime_settings ?? state.bootstrap_settings,
        });
      }
      this.#publish(changes);
    }

    /** A timer at the next deadline, to publish the one after it (or none) once it has passed. */
    #watchDeadline() {
      clearTimeout(this.#deadlineTimer);
      const deadline = this.#snapshot.nextDeadline;
      if (deadline === null) return;
      const wait = Math.min(Math.max(Date.parse(deadline) - this.#options.now() + 1, 0), 0x7fffffff);
      this.#deadlineTimer = setTimeout(() => {
        if (this.#machine !== null) this.#publish({ nextDeadline: this.#machine.nextDeadline(this.#options.now()) });
      }, wait);
      this.#deadlineTimer.unref?.(); // in Node, a deadline alone does not keep the process running
    }

    /** `reconnecting` turns `stale` when it lasts staleAfterMs. */
    #watchStale() {
      if (this.#snapshot.status !== 'reconnecting') {
        if (this.#snapshot.status !== 'stale') {
          clearTimeout(this.#staleTimer);
          this.#staleTimer = null;
        }
        return;
      }
      if (this.#staleTimer !== null) return;
      this.#staleTimer = setTimeout(() => {
        if (this.#snapshot.status === 'reconnecting') this.#publish({ status: 'stale' });
      }, this.#options.staleAfterMs);
      this.#staleTimer.unref?.();
    }

    /** The state can no longer be trusted to be current: `reconnecting` (then `stale`), or `connecting` with none yet. */
    #trouble(message) {
      const status = this.#snapshot.status;
      this.#publish({
        status: this.#machine === null ? 'connecting' : status === 'stale' ? 'stale' : 'reconnecting',
        error: message,
      });
    }

    #backoff(attempt) {
      return Math.min(this.#retryMs * 2 ** Math.min(attempt - 1, 20), this.#options.maxRetryMs);
    }

    #start() {
      this.#run += 1;
      this.#abort?.abort();
      const abort = new AbortController();
      this.#abort = abort;
      this.#loop(this.#run, abort.signal).catch((error) => queueMicrotask(() => { throw error; }));
    }

    async #loop(run, signal) {
      const current = () => run === this.#run;
      let reload = true;
      let failures = 0; // connection attempts failed in a row (reset when a stream opens)
      let streak = 0; // reloads forced by the server's messages in a row (reset when a commit applies)
      const progress = { opened: () => { failures = 0; }, applied: () => { streak = 0; } };
      while (current()) {
        let problem;
        try {
          if (reload) {
            await this.#load(signal, current);
            reload = false;
          }
          if (!current()) return;
          problem = (await this.#follow(signal, current, progress)) ?? new Problem('network', 'the event stream ended');
        } catch (error) {
          problem = error instanceof Problem ? error : new Problem('network', describe(error));
        }
        if (!current()) return;
        let delay;
        if (problem.kind === 'unauthorized') {
          this.#abort?.abort();
          this.#publish({ status: 'unauthorized', error: problem.message });
          return;
        } else if (problem.kind === 'invalid' || problem.kind === 'reload') {
          reload = true;
          streak += 1;
          if (problem.kind === 'invalid') this.#publish({ status: 'invalid', error: problem.message });
          else this.#trouble(problem.message);
          delay = problem.kind === 'reload' && streak === 1 ? 0 : this.#backoff(streak);
        } else {
          failures += 1;
          if (this.#snapshot.status !== 'invalid') this.#trouble(problem.message);
          delay = this.#backoff(failures);
        }
        if (delay > 0) await sleep(delay, signal);
      }
    }

    #request(url, accept, extra, signal) {
      const { credentials, headers, fetch } = this.#options;
      return fetch(url, { credentials, cache: 'no-store', signal, headers: { accept, ...extra, ...headers } });
    }

    /** GET stateUrl, then a Machine restored from its `state`. */
    async #load(signal, current) {
      const url = this.#options.stateUrl;
      let text;
      try {
        const response = await this.#request(url, 'application/json', {}, signal);
        checkStatus(url, response);
        text = await response.text();
      } catch (error) {
        throw error instanceof Problem ? error : new Problem('network', `${url}: ${describe(error)}`);
      }
      if (!current()) return;
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Problem('invalid', `${url}: not JSON: ${excerpt(text)}`);
      }
      if (!isPlain(body) || !isPlain(body.state)) {
        throw new Problem('invalid', `${url}: expected {"state": {...}, ...}, got ${excerpt(text)}`);
      }
      let machine;
      try {
        machine = Machine.restore(body.state);
      } catch (error) {
        throw new Problem('invalid', `${url}: ${describe(error)}`);
      }
      this.#machine?.free();
      this.#machine = machine;
      this.#publishState();
    }

    /** Follows the commit stream from the machine's revision; returns the problem that ended it, or null at its end. */
    async #follow(signal, current, progress) {
      const base = this.#options.eventsUrl;
      const after = String(this.#machine.revision);
      const url = `${base}${base.includes('?') ? '&' : '?'}after=${after}`;
      let response;
      try {
        response = await this.#request(url, 'text/event-stream', { 'last-event-id': after }, signal);
        checkStatus(base, response);
      } catch (error) {
        throw error instanceof Problem ? error : new Problem('network', `${base}: ${describe(error)}`);
      }
      const type = response.headers.get('content-type') ?? '';
      if (!/^text\/event-stream\s*(;|$)/i.test(type) || response.body === null) {
        response.body?.cancel().catch(() => {});
        throw new Problem('invalid', `${base}: not an event stream (content-type ${JSON.stringify(type)})`);
      }
      if (!current()) return null;
      progress.opened();
      this.#publish({ status: 'live', error: null });

      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new EventStreamParser();
      try {
        for (;;) {
          let chunk;
          try {
            chunk = await reader.read();
          } catch (error) {
            return new Problem('network', `${base}: ${describe(error)}`);
          }
          if (!current()) return null;
          const text = chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
          const events = parser.push(text, chunk.done);
          if (parser.retry !== null) this.#retryMs = parser.retry;
          for (const event of events) {
            if (event === null) return new Problem('invalid', `${base}: a line or message over ${MAX_MESSAGE_CHARS} characters`);
            if (event.type === 'commit') {
              this.#apply(event.data, event.id);
              progress.applied();
            } else if (event.type === 'resync') {
              return new Problem('reload', 'the server asked for a resync (its log no longer reaches back here)');
            } else if (event.type === 'logged-out') {
              return new Problem('unauthorized', 'the session ended');
            } // other event types: not ours, skipped
            if (!current()) return null;
          }
          if (chunk.done) return null;
        }
      } finally {
        reader.cancel().catch(() => {});
      }
    }

    /** One commit; throws the problem when it cannot be applied (the state is then unchanged). */
    #apply(data, id) {
      let commit;
      try {
        commit = JSON.parse(data);
      } catch {
        throw new Problem('invalid', `a commit that is not JSON: ${excerpt(data)}`);
      }
      if (!isPlain(commit) || !Number.isSafeInteger(commit.revision) || commit.revision < 1
          || typeof commit.now !== 'string' || !isPlain(commit.event)) {
        throw new Problem('invalid', `a commit not of the form {"revision": integer, "now": instant, "event": {...}}: ${excerpt(data)}`);
      }
      if (id !== null && id !== String(commit.revision)) {
        throw new Problem('invalid', `a commit with id ${JSON.stringify(id)} and revision ${commit.revision}`);
      }
      const machine = this.#machine;
      const before = machine.revision;
      if (commit.revision <= before) return; // already applied: a duplicate, or a replay after reconnecting
      if (commit.revision !== before + 1) {
        throw new Problem('reload', `a gap: commit ${commit.revision} after revision ${before}`);
      }
      let effects;
      try {
        effects = machine.step(commit.event, commit.now);
      } catch (error) {
        throw new Problem('invalid', `commit ${commit.revision} refused: ${describe(error)}`);
      }
      if (machine.revision !== commit.revision) {
        throw new Problem('reload', `commit ${commit.revision} brought the machine to revision ${machine.revision}`);
      }
      this.#publishState();
      const { revision, now, event } = commit;
      notify(this.#commitListeners, deepFreeze({ revision, now, event, effects }));
    }
  }

  /** A LiveMachine following the server's state (see LiveMachine and the README). */
  function connect(options) {
    return new LiveMachine(options);
  }

  return { connect };
}

function checkStatus(url, response) {
  if (response.ok) return;
  response.body?.cancel().catch(() => {});
  if (response.status === 401) throw new Problem('unauthorized', `${url}: HTTP 401: not logged in`);
  throw new Problem('network', `${url}: HTTP ${response.status}`);
}

/** Calls every listener; one that throws does not stop the others (its error is thrown afterwards, on its own). */
function notify(entries, value) {
  for (const { listener } of [...entries]) {
    try {
      listener(value);
    } catch (error) {
      queueMicrotask(() => { throw error; });
    }
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * The WHATWG event stream format, fed text as it arrives: `push` returns the
 * events completed so far (`{type, data, id}`, `id` as set in that event or
 * null), or null in their place for an over-long line or message.
 */
class EventStreamParser {
  #buffer = '';
  #type = '';
  #data = [];
  #size = 0;
  #id = null;
  retry = null;

  push(text, done) {
    this.#buffer += text;
    const events = [];
    for (;;) {
      const end = this.#buffer.search(/[\r\n]/);
      // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
      if (end < 0 || (end === this.#buffer.length - 1 && this.#buffer[end] === '\r' && !done)) break;
      const line = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + (this.#buffer.startsWith('\r\n', end) ? 2 : 1));
      const event = this.#line(line);
      if (event !== undefined) events.push(event);
    }
    if (this.#buffer.length > MAX_MESSAGE_CHARS) events.push(null);
    return events;
  }

  #line(line) {
    if (line === '') {
      const event = this.#data.length === 0 ? undefined : { type: this.#type || 'message', data: this.#data.join('\n'), id: this.#id };
      this.#type = '';
      this.#data = [];
      this.#size = 0;
      this.#id = null;
      return event;
    }
    if (line[0] === ':') return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'event') this.#type = value;
    else if (field === 'data') {
      this.#size += value.length + 1;
      if (this.#size > MAX_MESSAGE_CHARS) return null;
      this.#data.push(value);
    } else if (field === 'id' && !value.includes('\0')) this.#id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return undefined;
  }
}
