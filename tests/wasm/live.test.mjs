// connect(): the live mirror, from the packed tarball installed into a fresh
// project (which has no React: the main entry must not need it), against an
// in-process host (live-host.mjs: node:http, a real Machine behind it).
// Reconnects, gaps, resyncs, duplicates, malformed messages, 401s, the
// event-stream format, and the useSyncExternalStore contract.
//
//   node --test tests/wasm/live.test.mjs   (after bindings-wasm/scripts/build.sh)
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { COOKIE, TestHost, sleep, until } from './live-host.mjs';
import { OUT, installInto } from './support.mjs';

const CONSUMER = join(OUT, 'live-consumer');
let api;

before(async () => {
  installInto(CONSUMER);
  writeFileSync(join(CONSUMER, 'entry.mjs'), "export * from 'bangui-state';\n");
  writeFileSync(join(CONSUMER, 'react-entry.mjs'), "export * from 'bangui-state/react';\n");
  api = await import(pathToFileURL(join(CONSUMER, 'entry.mjs')).href);
});

/**
 * A host with `commits` committed, and a connection to it, closed after the
 * test. `seen` records every snapshot published and every commit applied;
 * every published state is checked against the host's state at its revision.
 */
async function setUp(t, { commits = [], connect: extra = {} } = {}) {
  const host = await new TestHost(api.Machine).start();
  const history = new Map([[0, host.machine.state()]]);
  const commit = host.commit.bind(host);
  host.commit = (event, advance) => {
    const effects = commit(event, advance);
    history.set(host.revision, host.machine.state());
    return effects;
  };
  for (const event of commits) host.commit(event);
  const live = api.connect(host.options(typeof extra === 'function' ? extra(host) : extra));
  const seen = { snapshots: [live.getSnapshot()], commits: [] };
  live.subscribe(() => seen.snapshots.push(live.getSnapshot()));
  live.onCommit((c) => seen.commits.push(c));
  t.after(async () => {
    live.close();
    await host.close();
    // Never a corrupted state: every state shown is the host's at that revision.
    for (const snapshot of seen.snapshots) {
      if (snapshot.state !== null) assert.deepEqual(snapshot.state, history.get(snapshot.revision), `the state shown at revision ${snapshot.revision}`);
    }
  });
  return { host, live, seen };
}

const ONLINE = { type: 'health_probe_completed', status: { online: true, version: '1.0.2', active_jails: 1 } };
const OFFLINE = { type: 'health_probe_completed', status: { online: false } };
const ACTIVATED = { type: 'jail_activated', jail_name: 'sshd' };
const isLive = (live) => () => live.status === 'live';
const statuses = (seen) => seen.snapshots.map((s) => s.status).filter((s, i, all) => s !== all[i - 1]);

describe('connect() follows the host', () => {
  test('loads the snapshot, then steps every commit at its own now, as the host did', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE, ACTIVATED], connect: (h) => ({ now: () => h.clock }) });
    assert.equal(live.status, 'connecting');
    assert.equal(live.getSnapshot().state, null);
    await until(live, isLive(live), 'live');
    assert.equal(live.getSnapshot().revision, 2);
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
    assert.equal(live.getSnapshot().nextDeadline, '2026-04-27T16:43:02.000000Z'); // the activation at 16:42:02 + 60 s

    host.commit(OFFLINE, 3000);
    await until(live, () => live.getSnapshot().revision === 3, 'revision 3');
    const snapshot = live.getSnapshot();
    assert.equal(snapshot.status, 'live');
    assert.equal(snapshot.error, null);
    assert.deepEqual(snapshot.state, host.machine.state());
    assert.equal(snapshot.state.pending_recovery.jail_name, 'sshd');
    assert.equal(snapshot.state.pending_recovery.detected_at, '2026-04-27T16:42:05.000000Z'); // the commit's now, not the client's
    assert.equal(snapshot.effectiveSettings, snapshot.state.bootstrap_settings);
    assert.deepEqual(seen.commits.map((c) => [c.revision, c.now, c.effects.map((e) => e.event ?? e.type)]), [
      [3, '2026-04-27T16:42:05.000Z', ['fail2ban_went_offline', 'activation_crash_detected', 'health_check_complete']],
    ]);
    assert.deepEqual(statuses(seen), ['connecting', 'live']);

    host.commit({ type: 'settings_updated', overrides: { session_cache_enabled: false } });
    await until(live, () => live.getSnapshot().revision === 4, 'revision 4');
    assert.equal(live.getSnapshot().effectiveSettings.session_cache_enabled, false);
    assert.equal(live.getSnapshot().effectiveSettings, live.getSnapshot().state.runtime_settings);
    assert.equal(live.getSnapshot().state.session_cache, 'no_op');
  });

  test('snapshots are deeply frozen, and the same object until something changes; no notification without a change', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    const snapshot = live.getSnapshot();
    assert.ok(Object.isFrozen(snapshot) && Object.isFrozen(snapshot.state.server_status));
    assert.throws(() => { snapshot.state.server_status.online = false; }, TypeError);
    await sleep(50);
    for (let i = 0; i < 5; i += 1) assert.equal(live.getSnapshot(), snapshot);

    const notified = seen.snapshots.length;
    host.commit(ONLINE); // the same status again: only the revision changes
    await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
    assert.equal(seen.snapshots.length, notified + 1);
    assert.notEqual(live.getSnapshot(), snapshot);
    // Each notification brought a snapshot that differs from the one before, in some field.
    for (let i = 1; i < seen.snapshots.length; i += 1) {
      const [a, b] = [seen.snapshots[i - 1], seen.snapshots[i]];
      assert.notEqual(a, b, `notification ${i} without a new snapshot`);
      assert.ok(Object.keys(b).some((k) => !Object.is(a[k], b[k])), `notification ${i} without a change`);
    }
    // The unchanged parts stay the same objects (a selector's result stays equal).
    assert.equal(live.getSnapshot().effectiveSettings, snapshot.effectiveSettings);

    let calls = 0;
    const unsubscribe = live.subscribe(() => { calls += 1; });
    host.commit(OFFLINE);
    await until(live, () => live.getSnapshot().revision === 3, 'revision 3');
    assert.equal(calls, 1);
    unsubscribe();
    host.commit(ONLINE);
    await until(live, () => live.getSnapshot().revision === 4, 'revision 4');
    assert.equal(calls, 1);
  });

  test('sends the credentials mode and headers given, through the fetch given', async (t) => {
    const calls = [];
    const fetch = (url, init) => {
      calls.push({ url, init });
      return globalThis.fetch(url, init);
    };
    const { host, live } = await setUp(t, { commits: [ONLINE], connect: { fetch, credentials: 'include' } });
    await until(live, isLive(live), 'live');
    assert.deepEqual(calls.map((c) => [c.url.replace(host.url, ''), c.init.credentials, c.init.headers.cookie, c.init.headers.accept]), [
      ['/api/state', 'include', COOKIE, 'application/json'],
      ['/api/events?after=1', 'include', COOKIE, 'text/event-stream'],
    ]);
    assert.equal(calls[1].init.headers['last-event-id'], '1');
    assert.equal(host.requestsTo('/api/events')[0].headers['last-event-id'], '1');
  });
});

describe('connect() recovers', () => {
  test('a dropped stream: reconnecting, then it resumes by revision: no commit missed or repeated', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE, ACTIVATED] });
    await until(live, isLive(live), 'live');
    host.commit(OFFLINE);
    await until(live, () => live.getSnapshot().revision === 3, 'revision 3');

    host.eventsStatus = 503; // the workers restart: reconnecting fails for a while
    host.drop();
    await until(live, () => live.status === 'reconnecting', 'reconnecting');
    host.commit(ONLINE);
    host.commit({ type: 'pending_recovery_cleared' });
    host.commit(OFFLINE);
    await until(live, () => host.requestsTo('/api/events').length >= 3, 'a failed reconnection');
    assert.equal(live.getSnapshot().revision, 3);
    assert.match(live.getSnapshot().error, /HTTP 503/);
    host.eventsStatus = null;

    await until(live, () => live.getSnapshot().revision === 6 && live.status === 'live', 'revision 6, live');
    const resumed = host.requestsTo('/api/events').at(-1);
    assert.equal(resumed.query.after, '3');
    assert.equal(resumed.headers['last-event-id'], '3');
    assert.deepEqual(seen.commits.map((c) => c.revision), [3, 4, 5, 6]);
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
    assert.equal(host.requestsTo('/api/state').length, 1, 'resumed by revision, not reloaded');
    assert.deepEqual(statuses(seen), ['connecting', 'live', 'reconnecting', 'live']);
  });

  test('reconnecting for longer than staleAfterMs is stale, and live again once the stream is back', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE], connect: { staleAfterMs: 200, maxRetryMs: 50 } });
    await until(live, isLive(live), 'live');
    host.eventsStatus = 502;
    host.drop();
    const started = Date.now();
    await until(live, () => live.status === 'stale', 'stale');
    assert.ok(Date.now() - started >= 180, `stale after ${Date.now() - started} ms`);
    assert.deepEqual(live.getSnapshot().state, host.machine.state(), 'the last state is kept');
    const notified = seen.snapshots.length;
    const retries = host.requestsTo('/api/events').length;
    await sleep(150);
    assert.equal(live.status, 'stale', 'retries keep it stale');
    assert.ok(host.requestsTo('/api/events').length >= retries + 2, 'it keeps retrying');
    assert.equal(seen.snapshots.length, notified, 'retries that change nothing notify nothing');
    host.eventsStatus = null;
    host.commit(OFFLINE);
    await until(live, () => live.status === 'live' && live.getSnapshot().revision === 2, 'live at revision 2');
    assert.deepEqual(statuses(seen), ['connecting', 'live', 'reconnecting', 'stale', 'live']);
  });

  test('the server gone (connection refused): reconnecting, with the error', async (t) => {
    const { host, live } = await setUp(t, { commits: [ONLINE], connect: { maxRetryMs: 50 } });
    await until(live, isLive(live), 'live');
    await new Promise((ok) => { host.server.close(ok); host.drop(); host.server.closeAllConnections(); });
    await until(live, () => live.status === 'reconnecting' && /fetch failed|ECONNREFUSED/.test(live.getSnapshot().error), 'a refused reconnection');
    assert.equal(live.getSnapshot().revision, 1);
  });

  test('a gap (a commit beyond the next revision) reloads the snapshot instead of skipping', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    const streams = host.streams;
    host.streams = new Set(); // these two never reach the page
    host.commit(ACTIVATED);
    host.commit(OFFLINE);
    host.streams = streams;
    host.commit(ONLINE); // revision 4 after 1
    await until(live, () => live.getSnapshot().revision === 4 && live.status === 'live', 'revision 4 from a reload');
    assert.equal(host.requestsTo('/api/state').length, 2);
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
    assert.deepEqual(seen.commits.map((c) => c.revision), [], 'no commit was applied across the gap');
    assert.deepEqual(statuses(seen), ['connecting', 'live', 'reconnecting', 'live']);
    assert.match(seen.snapshots.find((s) => s.status === 'reconnecting').error, /a gap: commit 4 after revision 1/);
    host.commit(OFFLINE);
    await until(live, () => live.getSnapshot().revision === 5, 'revision 5');
    assert.deepEqual(seen.commits.map((c) => c.revision), [5]);
  });

  test('a resync event reloads the snapshot', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    const streams = host.streams;
    host.streams = new Set();
    host.commit(ACTIVATED);
    host.commit(OFFLINE);
    host.streams = streams;
    host.trimmedThrough = host.revision; // the log no longer reaches back to revision 1
    host.drop();
    await until(live, () => live.getSnapshot().revision === 3 && live.status === 'live', 'revision 3 after the resync');
    assert.equal(host.requestsTo('/api/state').length, 2);
    assert.deepEqual(host.requestsTo('/api/events').map((r) => r.query.after), ['1', '1', '3']);
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
    assert.ok(seen.snapshots.some((s) => /resync/.test(s.error ?? '')));
  });

  test('a duplicate commit is skipped: no change, no notification', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    host.commit(ACTIVATED);
    await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
    const snapshot = live.getSnapshot();
    const notified = seen.snapshots.length;
    host.write(TestHost.frame(host.log.at(-1))); // revision 2 again
    host.write(TestHost.frame(host.log.at(-2))); // and 1
    host.commit(OFFLINE);
    await until(live, () => live.getSnapshot().revision === 3, 'revision 3');
    assert.equal(seen.snapshots[notified - 1], snapshot);
    assert.equal(seen.snapshots.length, notified + 1, 'only revision 3 notified');
    assert.deepEqual(seen.commits.map((c) => c.revision), [2, 3]);
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
    assert.equal(live.status, 'live');
  });
});

describe('connect() refuses what is not a commit', () => {
  const next = (host, fields) => JSON.stringify({ revision: host.revision + 1, now: '2026-04-27T16:50:00Z', event: ACTIVATED, ...fields });
  const cases = [
    ['not JSON', () => 'id: 2\nevent: commit\ndata: {"revision": 2,\n\n', /a commit that is not JSON: "\{\\"revision\\": 2,"/],
    ['a revision as text', (host) => `event: commit\ndata: ${next(host, { revision: '2' })}\n\n`, /not of the form \{"revision": integer/],
    ['no event', (host) => `event: commit\ndata: ${next(host, { event: undefined })}\n\n`, /not of the form/],
    ['an array', () => 'event: commit\ndata: [2]\n\n', /not of the form/],
    ['a step the machine refuses', (host) => `event: commit\ndata: ${next(host, { event: { type: 'health_probe_completed', status: { online: 'yes' } } })}\n\n`,
      /commit 2 refused: event\.status\.online: expected a boolean, found a string/],
    ['an unknown event type', (host) => `event: commit\ndata: ${next(host, { event: { type: 'jail_deactivated' } })}\n\n`, /commit 2 refused: event\.type/],
    ['a now that is not an instant', (host) => `event: commit\ndata: ${next(host, { now: 'yesterday' })}\n\n`, /commit 2 refused: .*yesterday|commit 2 refused: now/],
    ['an id that is not the revision', (host) => `id: 7\nevent: commit\ndata: ${next(host)}\n\n`, /a commit with id "7" and revision 2/],
  ];
  for (const [name, message, error] of cases) {
    test(`${name}: the status says so, the state is unchanged, then the snapshot is loaded again`, async (t) => {
      const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
      await until(live, isLive(live), 'live');
      const snapshot = live.getSnapshot();
      host.write(message(host));
      await until(live, () => live.status === 'invalid', 'invalid');
      assert.match(live.getSnapshot().error, error);
      assert.equal(live.getSnapshot().state, snapshot.state, 'the very same state');
      assert.equal(live.getSnapshot().revision, 1);
      assert.deepEqual(seen.commits, []);
      await until(live, isLive(live), 'live again');
      assert.equal(host.requestsTo('/api/state').length, 2);
      assert.equal(live.getSnapshot().state, snapshot.state, 'the same state reloaded: the same object');
      host.commit(ACTIVATED);
      await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
      assert.deepEqual(live.getSnapshot().state, host.machine.state());
    });
  }

  test('a message refused again and again: the pauses between reloads grow', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    let answered = 0;
    const timer = setInterval(() => { // every new stream gets a message that is not JSON
      const opened = host.requestsTo('/api/events').length;
      if (opened > answered) {
        answered = opened;
        host.write('event: commit\ndata: nope\n\n');
      }
    }, 2);
    t.after(() => clearInterval(timer));
    await until(live, () => host.requestsTo('/api/events').length >= 5, '5 streams', 3000);
    const opened = host.requestsTo('/api/events').map((r) => r.at);
    const pauses = opened.slice(1).map((at, i) => at - opened[i]);
    // 20, 40, 80 ms (the stream's retry: 20, doubled each time), plus the reloads' own time.
    assert.ok(pauses[1] >= 40 && pauses[2] >= 80 && pauses[3] >= 160 && pauses[3] > pauses[1], `pauses ${pauses}`);
    assert.equal(host.requestsTo('/api/state').length, 5);
    assert.ok(seen.snapshots.every((s) => s.revision === null || s.revision === 1));
  });

  test('a snapshot that is not JSON, or not a state: invalid, with no state, until a good one', async (t) => {
    const host = await new TestHost(api.Machine).start();
    host.stateBody = '<html>502</html>';
    const live = api.connect(host.options());
    t.after(async () => { live.close(); await host.close(); });
    await until(live, () => live.status === 'invalid', 'invalid');
    assert.match(live.getSnapshot().error, /\/api\/state: not JSON: "<html>502<\/html>"/);
    assert.equal(live.getSnapshot().state, null);
    host.stateBody = { state: { ...host.machine.state(), session_cache: 'no_op' } };
    await until(live, () => /session_cache/.test(live.getSnapshot().error), 'the restore error');
    assert.equal(live.status, 'invalid');
    host.stateBody = { worker: {} };
    await until(live, () => /expected \{"state"/.test(live.getSnapshot().error), 'the shape error');
    assert.equal(live.getSnapshot().state, null);
    host.stateBody = null;
    await until(live, isLive(live), 'live');
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
  });

  test('a response that is not an event stream is invalid', async (t) => {
    const { host, live } = await setUp(t, { commits: [ONLINE] });
    const original = host.server.listeners('request')[0];
    host.server.removeAllListeners('request');
    host.server.on('request', (request, response) => {
      if (request.url.startsWith('/api/events')) {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<p>hello</p>');
      } else original(request, response);
    });
    await until(live, () => live.status === 'invalid', 'invalid');
    assert.match(live.getSnapshot().error, /not an event stream \(content-type "text\/html"\)/);
    assert.equal(live.getSnapshot().revision, 1);
  });
});

describe('connect() and the session', () => {
  test('a 401 on the snapshot: unauthorized, nothing retried until reconnect()', async (t) => {
    const host = await new TestHost(api.Machine).start();
    host.commit(ONLINE);
    host.loggedIn = false;
    const live = api.connect(host.options());
    t.after(async () => { live.close(); await host.close(); });
    await until(live, () => live.status === 'unauthorized', 'unauthorized');
    assert.match(live.getSnapshot().error, /HTTP 401/);
    assert.equal(live.getSnapshot().state, null);
    await sleep(150);
    assert.equal(host.requests.length, 1, 'no retry');
    assert.equal(live.status, 'unauthorized');
    host.loggedIn = true; // the page logged in
    live.reconnect();
    assert.equal(live.status, 'connecting');
    await until(live, isLive(live), 'live');
    assert.deepEqual(live.getSnapshot().state, host.machine.state());
  });

  test('the stream\'s logged-out event, and a 401 on the stream: unauthorized, the state kept', async (t) => {
    const { host, live } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    host.logOut();
    await until(live, () => live.status === 'unauthorized', 'unauthorized');
    assert.equal(live.getSnapshot().error, 'the session ended');
    assert.equal(live.getSnapshot().revision, 1);
    const requests = host.requests.length;
    await sleep(150);
    assert.equal(host.requests.length, requests, 'no retry');
    assert.equal(live.status, 'unauthorized');

    host.loggedIn = true;
    host.commit(ACTIVATED);
    live.reconnect();
    assert.equal(live.status, 'reconnecting');
    await until(live, () => live.status === 'live' && live.getSnapshot().revision === 2, 'live at revision 2');
    host.eventsStatus = 401;
    host.drop();
    await until(live, () => live.status === 'unauthorized', 'unauthorized from the stream');
    assert.match(live.getSnapshot().error, /\/api\/events: HTTP 401/);
  });

  test('without the session cookie: unauthorized', async (t) => {
    const host = await new TestHost(api.Machine).start();
    const live = api.connect(host.options({ headers: {} }));
    t.after(async () => { live.close(); await host.close(); });
    await until(live, () => live.status === 'unauthorized', 'unauthorized');
  });
});

describe('connect() otherwise', () => {
  test('close(): closed, the stream ended, nothing more', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    const notified = seen.snapshots.length;
    live.close();
    assert.equal(live.status, 'closed');
    assert.equal(seen.snapshots.length, notified + 1);
    assert.equal(live.getSnapshot().revision, 1, 'the last state stays');
    live.close();
    live.reconnect();
    assert.equal(live.status, 'closed');
    const requests = host.requests.length;
    host.commit(ACTIVATED);
    await sleep(100);
    assert.equal(host.requests.length, requests);
    assert.equal(host.streams.size, 0, 'the stream was closed');
    assert.equal(seen.snapshots.length, notified + 1);
  });

  test('the next deadline passes at the client\'s clock: the snapshot then shows none', async (t) => {
    const started = Date.now();
    let offset = 0;
    const { host, live } = await setUp(t, { commits: [ONLINE, ACTIVATED], connect: { now: () => offset + Date.now() - started } });
    offset = host.clock + 59_700; // 0.3 s before the window closes
    await until(live, isLive(live), 'live');
    assert.equal(live.getSnapshot().nextDeadline, '2026-04-27T16:43:02.000000Z');
    const snapshot = live.getSnapshot();
    await until(live, () => live.getSnapshot().nextDeadline === null, 'no deadline', 3000);
    assert.ok(Date.now() - started >= 250, 'not before the deadline');
    assert.equal(live.getSnapshot().state, snapshot.state);
  });

  test('reads the event stream format: CRLF and CR line ends, comments, multi-line data, chunks split anywhere', async (t) => {
    const { host, live, seen } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    const streams = host.streams;
    host.streams = new Set();
    host.commit({ type: 'jail_activated', jail_name: 'jäil-✓' }); // sent below, by hand
    host.streams = streams;
    const data = JSON.stringify(host.log.at(-1));
    const [head, tail] = [data.slice(0, 20), data.slice(20)];
    const text = `: a comment\r\nevent: ping\r\ndata: {}\r\n\r\nid: 2\revent: commit\rdata: ${head}\r\ndata:${tail}\n\r\n`;
    const bytes = Buffer.from(text);
    // Split at every few bytes: inside CRLFs, field names and the UTF-8 of ä and ✓.
    for (let at = 0; at < bytes.length; at += 7) {
      host.write(bytes.subarray(at, at + 7));
      await sleep(2);
    }
    await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
    assert.equal(live.getSnapshot().state.last_activation.jail_name, 'jäil-✓');
    assert.equal(seen.commits[0].now, '2026-04-27T16:42:02.000Z');
    assert.equal(live.status, 'live');
  });

  test('an unknown event type is skipped; a retry field sets the pause', async (t) => {
    const { host, live } = await setUp(t, { commits: [ONLINE] });
    await until(live, isLive(live), 'live');
    host.write('event: something-new\ndata: {"revision": 99}\n\nretry: 400\n\n');
    await sleep(50);
    assert.equal(live.status, 'live');
    assert.equal(live.getSnapshot().revision, 1);
    host.drop();
    const dropped = Date.now();
    await until(live, () => host.requestsTo('/api/events').length === 2, 'the reconnection');
    assert.ok(Date.now() - dropped >= 350, `reconnected after ${Date.now() - dropped} ms, not the 400 ms asked for`);
  });

  test('the main entry needs no React; bangui-state/react names react as missing', async () => {
    assert.equal(typeof api.connect, 'function');
    await assert.rejects(import(pathToFileURL(join(CONSUMER, 'react-entry.mjs')).href), (error) => error.code === 'ERR_MODULE_NOT_FOUND' && /'react'/.test(error.message));
  });
});
