// bangui-state/react: useBanguiState in React components, rendered with
// Testing Library in a jsdom document, against the in-process host
// (live-host.mjs). The package comes from its packed tarball installed into
// a fresh project; React there is this directory's (pinned in package.json),
// linked in as an application would have it installed.
//
//   node --test tests/wasm/react.test.mjs   (after bindings-wasm/scripts/build.sh)
import assert from 'node:assert/strict';
import { symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { JSDOM } from 'jsdom';

import { TestHost, until } from './live-host.mjs';
import { OUT, TOOLS, installInto } from './support.mjs';

const CONSUMER = join(OUT, 'react-consumer');
let api; // bangui-state
let useBanguiState; // bangui-state/react
let React;
let rtl; // @testing-library/react
const consoleErrors = [];
const originalConsoleError = console.error;

before(async () => {
  installInto(CONSUMER);
  symlinkSync(join(TOOLS, 'react'), join(CONSUMER, 'node_modules', 'react'));
  writeFileSync(join(CONSUMER, 'entry.mjs'), "export * from 'bangui-state';\n");
  writeFileSync(join(CONSUMER, 'react-entry.mjs'), "export * from 'bangui-state/react';\n");
  api = await import(pathToFileURL(join(CONSUMER, 'entry.mjs')).href);
  ({ useBanguiState } = await import(pathToFileURL(join(CONSUMER, 'react-entry.mjs')).href));

  // A DOM for React, then Testing Library (which reads it as it loads).
  const dom = new JSDOM('<!doctype html><html><body></body></html>', { url: 'http://localhost/' });
  for (const name of ['window', 'document', 'navigator', 'HTMLElement', 'Node', 'MutationObserver', 'getComputedStyle']) {
    Object.defineProperty(globalThis, name, { value: name === 'window' ? dom.window : dom.window[name], configurable: true, writable: true });
  }
  React = await import('react');
  rtl = await import('@testing-library/react');
  console.error = (...args) => {
    consoleErrors.push(args.map(String).join(' '));
    originalConsoleError(...args);
  };
});

after(() => {
  console.error = originalConsoleError;
  rtl?.cleanup();
});

/** The same React as the package's: the one installed in the consumer project. */
test('the package\'s React and the test\'s are one', async () => {
  const theirs = await import(pathToFileURL(join(CONSUMER, 'node_modules', 'react', 'index.js')).href);
  assert.equal(theirs.useSyncExternalStore, React.useSyncExternalStore);
});

async function setUp(t) {
  const host = await new TestHost(api.Machine).start();
  host.commit(ONLINE);
  const live = api.connect(host.options());
  t.after(async () => {
    rtl.cleanup();
    live.close();
    await host.close();
  });
  return { host, live };
}

const ONLINE = { type: 'health_probe_completed', status: { online: true, version: '1.0.2', active_jails: 1 } };
const OFFLINE = { type: 'health_probe_completed', status: { online: false } };
const h = (...args) => React.createElement(...args);

/** A dashboard in miniature: the status, the server, the crash banner; the login when the session ended. */
function Dashboard({ live }) {
  const { status, state, revision } = useBanguiState(live);
  if (status === 'unauthorized') return h('p', { role: 'alert' }, 'Log in again.');
  if (state === null) return h('p', null, `${status}…`);
  const recovery = state.pending_recovery;
  return h('main', null,
    h('span', { 'data-testid': 'badge' }, `${status} at revision ${revision}`),
    h('p', { 'data-testid': 'server' }, state.server_status.online ? 'online' : 'offline'),
    recovery && h('div', { role: 'status' }, `jail ${recovery.jail_name} crashed fail2ban${recovery.recovered ? ', recovered' : ''}`));
}

describe('useBanguiState', () => {
  test('a component shows the server\'s state live: the crash banner, the recovery, the revision', async (t) => {
    const { host, live } = await setUp(t);
    rtl.render(h(Dashboard, { live }));
    await rtl.screen.findByText('live at revision 1');
    assert.equal(rtl.screen.getByTestId('server').textContent, 'online');
    assert.equal(rtl.screen.queryByRole('status'), null);

    host.commit({ type: 'jail_activated', jail_name: 'sshd' });
    host.commit(OFFLINE);
    const banner = await rtl.screen.findByRole('status');
    assert.equal(banner.textContent, 'jail sshd crashed fail2ban');
    assert.equal(rtl.screen.getByTestId('badge').textContent, 'live at revision 3');
    assert.equal(rtl.screen.getByTestId('server').textContent, 'offline');

    host.commit(ONLINE);
    await rtl.screen.findByText('jail sshd crashed fail2ban, recovered');
    assert.equal(rtl.screen.getByTestId('badge').textContent, 'live at revision 4');

    host.logOut();
    await rtl.screen.findByText('Log in again.');
    assert.deepEqual(consoleErrors, []);
  });

  test('in StrictMode too (effects run twice, subscriptions are made again)', async (t) => {
    const { host, live } = await setUp(t);
    rtl.render(h(React.StrictMode, null, h(Dashboard, { live })));
    await rtl.screen.findByText('live at revision 1');
    host.commit(OFFLINE);
    await rtl.screen.findByText('live at revision 2');
    assert.equal(rtl.screen.getByTestId('server').textContent, 'offline');
    assert.deepEqual(consoleErrors, []);
  });

  test('with a selector, the component renders again only when the selection changes', async (t) => {
    const { host, live } = await setUp(t);
    let renders = 0;
    function Online() {
      renders += 1;
      const online = useBanguiState(live, (s) => s.state?.server_status.online ?? null);
      return h('p', { 'data-testid': 'online' }, String(online));
    }
    rtl.render(h(Online));
    await rtl.screen.findByText('true');
    await until(live, () => live.status === 'live', 'live');
    const before = renders;
    host.commit({ type: 'jail_activated', jail_name: 'sshd' });
    host.commit({ type: 'settings_updated', overrides: { session_cache_enabled: false } });
    await until(live, () => live.getSnapshot().revision === 3, 'revision 3');
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(renders, before, 'commits that leave `online` as it was render nothing');
    host.commit(OFFLINE);
    await rtl.screen.findByText('false');
    assert.equal(renders, before + 1);
    assert.deepEqual(consoleErrors, []);
  });

  test('a selector building a new array: isEqual keeps the rendered one; without it, one render per change, no loop', async (t) => {
    const { host, live } = await setUp(t);
    const counts = { with: 0, without: 0 };
    const pick = (s) => [s.state?.server_status.online ?? null, s.state?.last_activation?.jail_name ?? null];
    const same = (a, b) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
    function Picked({ equal, name }) {
      counts[name] += 1;
      const [online, jail] = useBanguiState(live, pick, equal);
      return h('p', { 'data-testid': name }, `${online} ${jail}`);
    }
    rtl.render(h('div', null, h(Picked, { equal: same, name: 'with' }), h(Picked, { name: 'without' })));
    await rtl.screen.findAllByText('true null');
    await until(live, () => live.status === 'live', 'live');
    await new Promise((ok) => setTimeout(ok, 50));
    const before = { ...counts };
    host.commit({ type: 'backend_probe_requested' }); // changes neither
    await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
    await new Promise((ok) => setTimeout(ok, 50));
    assert.equal(counts.with, before.with, 'isEqual: no render');
    assert.equal(counts.without, before.without + 1, 'a new array: one render, not a loop');
    host.commit({ type: 'jail_activated', jail_name: 'sshd' });
    await rtl.screen.findAllByText('true sshd');
    assert.equal(counts.with, before.with + 1);
    assert.deepEqual(consoleErrors, []);
  });

  test('require(\'bangui-state/react\') gives the CommonJS twin, which works the same', async (t) => {
    const cjs = createRequire(join(CONSUMER, 'package.json'))('bangui-state/react');
    assert.notEqual(cjs.useBanguiState, useBanguiState);
    const { host, live } = await setUp(t);
    function Revision() {
      return h('p', null, `revision ${cjs.useBanguiState(live, (s) => s.revision)}`);
    }
    rtl.render(h(Revision));
    await rtl.screen.findByText('revision 1');
    host.commit(OFFLINE);
    await rtl.screen.findByText('revision 2');
    assert.deepEqual(consoleErrors, []);
  });

  test('unmounting unsubscribes', async (t) => {
    const { host, live } = await setUp(t);
    let active = 0;
    const source = {
      getSnapshot: live.getSnapshot,
      subscribe: (listener) => {
        active += 1;
        const unsubscribe = live.subscribe(listener);
        return () => {
          active -= 1;
          unsubscribe();
        };
      },
    };
    const view = rtl.render(h(Dashboard, { live: source }));
    await rtl.screen.findByText('live at revision 1');
    assert.equal(active, 1);
    view.unmount();
    assert.equal(active, 0);
    host.commit(OFFLINE);
    await until(live, () => live.getSnapshot().revision === 2, 'revision 2');
    assert.deepEqual(consoleErrors, []);
  });
});
