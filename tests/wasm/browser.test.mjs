// The dashboard demo (bindings-wasm/demo/) in headless Chromium: Debian's
// /usr/bin/chromium driven by playwright-core. The demo imports the package
// installed from its tarball; the test clicks through the crash-and-recovery
// story, checks the banner, the countdown and the state, checks the state
// equals what the package computes in Node for the same events, and saves a
// screenshot to target/wasm/demo-browser.png.
//
//   node --test tests/wasm/browser.test.mjs   (after bindings-wasm/scripts/build.sh)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { chromium } from 'playwright-core';

import { prepare } from '../../bindings-wasm/demo/prepare.mjs';
import { serve } from '../../bindings-wasm/demo/serve.mjs';
import { OUT } from './support.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SITE = join(OUT, 'demo-site');
const SCREENSHOT = join(OUT, 'demo-browser.png');

let server;
let context;
let page;
let profile;
const problems = [];

before(async () => {
  prepare(SITE);
  server = await serve(SITE, 0);
  profile = mkdtempSync(join(tmpdir(), 'bangui-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
});

after(async () => {
  await context?.close();
  await new Promise((ok) => (server ? server.close(ok) : ok()));
  if (profile) rmSync(profile, { recursive: true, force: true });
});

const text = (selector) => page.locator(selector).innerText();
const state = async () => JSON.parse(await page.locator('#state').textContent());

test('the demo loads the package in Chromium and starts offline at revision 0', async () => {
  assert.equal(await text('#server-status'), 'offline');
  assert.equal(await text('#revision'), '0');
  assert.equal(await text('#session-cache'), 'in_memory');
  assert.equal(await page.locator('#banner').isHidden(), true);
  assert.deepEqual(problems, []);
});

test('clicking through a jail activation that crashes fail2ban shows the recovery banner and the state', async () => {
  await page.click('#probe-online');
  assert.match(await text('#server-status'), /^online \(fail2ban 1\.1\.0, 3 jails\)$/);

  await page.click('#activate-jail'); // sshd, at 16:42:00
  assert.equal(await text('#countdown'), 'Crash window for jail sshd closes in 60.0 s');
  await page.fill('#advance-seconds', '6');
  await page.click('#advance-clock');
  await page.click('#advance-clock');
  assert.equal(await text('#countdown'), 'Crash window for jail sshd closes in 48.0 s');

  await page.click('#probe-offline'); // 12 s after the activation
  assert.equal(await text('#server-status'), 'offline');
  assert.equal(await text('#banner'), 'jail sshd crashed fail2ban 12.0 s after activation, waiting for fail2ban to come back');
  assert.match(await text('#effects'), /warning activation_crash_detected \{"jail":"sshd","seconds_since_activation":12\}/);

  await page.fill('#advance-seconds', '20');
  await page.click('#advance-clock');
  await page.click('#probe-online');
  assert.equal(await text('#banner'), 'jail sshd crashed fail2ban 12.0 s after activation, recovered');
  assert.equal(await page.locator('#banner').getAttribute('class'), 'recovered');
  assert.equal(await text('#countdown'), 'Crash window for jail sshd closes in 28.0 s');

  const s = await state();
  assert.deepEqual(s.pending_recovery, {
    jail_name: 'sshd',
    activated_at: '2026-04-27T16:42:00.000000Z',
    detected_at: '2026-04-27T16:42:12.000000Z',
    recovered: true,
  });
  assert.equal(s.revision, 4);
  assert.equal(await text('#revision'), '4');

  // Past the window, the countdown is gone.
  await page.fill('#advance-seconds', '30');
  await page.click('#advance-clock');
  assert.equal(await text('#countdown'), 'No crash window open.');
  assert.deepEqual(problems, []);
});

test('the settings toggle replaces the session cache', async () => {
  await page.uncheck('#session-cache-enabled');
  assert.equal(await text('#session-cache'), 'no_op');
  const s = await state();
  assert.equal(s.runtime_settings.session_cache_enabled, false);
  assert.equal(s.runtime_settings.database_path, '/var/lib/bangui/bangui.db', 'other settings are carried through');
  assert.match(await text('#effects'), /replace the session cache: no_op/);
  assert.match(await text('#effects'), /debug session_cache_updated \{"cache_type":"NoOpSessionCache"\}/);
  assert.equal(s.revision, 5);
});

test('the browser state equals the state Node computes for the same events', async () => {
  const pkg = join(SITE, 'node_modules', 'bangui-state', 'node', 'index.cjs');
  const { Machine } = await import(pathToFileURL(pkg).href);
  const t = (s) => Date.parse('2026-04-27T16:42:00Z') + s * 1000;
  const m = new Machine({ session_cache_enabled: true, session_cache_ttl_seconds: 3600, database_path: '/var/lib/bangui/bangui.db' });
  m.healthProbe({ online: true, version: '1.1.0', activeJails: 3 }, t(0));
  m.step({ type: 'jail_activated', jail_name: 'sshd' }, t(0));
  m.healthProbe({ online: false }, t(12));
  m.healthProbe({ online: true, version: '1.1.0', activeJails: 3 }, t(32));
  m.step({ type: 'settings_updated', overrides: { session_cache_enabled: false } }, t(62));
  assert.deepEqual(await state(), m.state());
});

test('a screenshot of the dashboard is saved under target/', async () => {
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  console.log(`# screenshot: ${SCREENSHOT}`);
  assert.deepEqual(problems, []);
});
