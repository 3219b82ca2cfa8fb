// An in-process host for the live-mirror tests (live.test.mjs, react.test.mjs):
// a node:http server with the reference host's two endpoints, backed by a real
// Machine from the package under test. It commits events as the host does
// (the revision, the step's `now`, the event), serves the snapshot
// (`GET /api/state`) and the commit stream (`GET /api/events`, server-sent
// events resuming from `Last-Event-ID` or `?after=`), requires a session
// cookie, and lets a test break any of it: drop the streams, write raw text
// into them, answer another status, trim its log (a resync), end the session.
import { createServer } from 'node:http';

export const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600 };
export const T0 = Date.parse('2026-04-27T16:42:00Z');
export const COOKIE = 'session=s3cret';

const iso = (ms) => new Date(ms).toISOString();

export class TestHost {
  constructor(Machine) {
    this.machine = new Machine(BOOT);
    this.log = []; // every commit, as the stream sends it
    this.clock = T0; // the server's clock, epoch ms: each commit moves it on
    this.requests = []; // {path, query, headers, at} of every request
    this.streams = new Set();
    this.loggedIn = true;
    this.eventsStatus = null; // a status to answer /api/events with instead of the stream
    this.stateBody = null; // a body to answer /api/state with instead of the snapshot
    this.trimmedThrough = 0; // the log no longer reaches back to revisions below this: a resync
    this.retryMs = 20; // the stream's `retry:` field
    this.server = createServer((request, response) => this.#handle(request, response));
  }

  async start() {
    await new Promise((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  async close() {
    for (const stream of this.streams) stream.destroy();
    this.server.closeAllConnections();
    await new Promise((ok) => this.server.close(ok));
    this.machine.free();
  }

  /** Options for connect() against this host, with the session cookie. */
  options(extra = {}) {
    return {
      stateUrl: `${this.url}/api/state`,
      eventsUrl: `${this.url}/api/events`,
      headers: { cookie: COOKIE },
      retryMs: 20,
      ...extra,
    };
  }

  get revision() {
    return this.machine.revision;
  }

  snapshot() {
    const state = this.machine.state();
    return {
      state,
      effective_settings: state.runtime_settings ?? state.bootstrap_settings,
      next_deadline: this.machine.nextDeadline(this.clock),
      worker: { pid: process.pid, session_cache: state.session_cache },
    };
  }

  /** Commits `event` `advance` ms after the last commit and sends it to every open stream. */
  commit(event, advance = 1000) {
    this.clock += advance;
    const effects = this.machine.step(event, this.clock);
    const commit = { revision: this.machine.revision, now: iso(this.clock), event };
    this.log.push(commit);
    this.write(TestHost.frame(commit));
    return effects;
  }

  /** A commit as the reference host writes it. */
  static frame(commit, id = commit.revision) {
    return `id: ${id}\nevent: commit\ndata: ${JSON.stringify(commit)}\n\n`;
  }

  /** Raw text into every open stream. */
  write(text) {
    for (const stream of this.streams) stream.write(text);
  }

  /** Cuts every open stream, as a worker's restart does. */
  drop() {
    for (const stream of this.streams) stream.destroy();
    this.streams.clear();
  }

  /** The session ends: the streams say so and close, and every request is a 401. */
  logOut() {
    this.loggedIn = false;
    for (const stream of this.streams) stream.end('event: logged-out\ndata: {}\n\n');
    this.streams.clear();
  }

  requestsTo(path) {
    return this.requests.filter((r) => r.path === path);
  }

  #handle(request, response) {
    const url = new URL(request.url, 'http://host');
    this.requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), headers: request.headers, at: Date.now() });
    const json = (status, body) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (!this.loggedIn || request.headers.cookie !== COOKIE) {
      json(401, { error: 'not logged in' });
      return;
    }
    if (url.pathname === '/api/state') {
      json(200, this.stateBody ?? this.snapshot());
    } else if (url.pathname === '/api/events') {
      if (this.eventsStatus !== null) {
        json(this.eventsStatus, { error: 'unavailable' });
        return;
      }
      const from = request.headers['last-event-id'] ?? url.searchParams.get('after');
      const after = from === undefined || from === null ? this.revision : Number(from);
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      response.write(`retry: ${this.retryMs}\n\n`);
      if (after < this.trimmedThrough) {
        response.end('event: resync\ndata: {}\n\n');
        return;
      }
      for (const commit of this.log) if (commit.revision > after) response.write(TestHost.frame(commit));
      this.streams.add(response);
      request.on('close', () => this.streams.delete(response));
    } else {
      json(404, { error: 'not found' });
    }
  }
}

/** Resolves once `check()` is truthy (checked now and after every change of `live`, and every 10 ms); fails after `ms`. */
export function until(live, check, what, ms = 5000) {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    let poll;
    const timer = setTimeout(() => {
      finish();
      const { status, revision, error } = live.getSnapshot();
      reject(new Error(`timed out after ${ms} ms waiting for ${what} (status ${status}, revision ${revision}, error ${error})`));
    }, ms);
    const finish = () => {
      clearTimeout(timer);
      clearInterval(poll);
      unsubscribe();
    };
    const test = () => {
      const value = check();
      if (value) {
        finish();
        resolve(value);
      }
    };
    unsubscribe = live.subscribe(test);
    poll = setInterval(test, 10);
    test();
  });
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
