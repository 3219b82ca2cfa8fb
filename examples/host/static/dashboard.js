// BanGUI's dashboard, live. connect() (bangui-state) keeps the page's mirror
// of the server's state: it restores a Machine from /api/state, then folds
// every committed event from /api/events with its own step (the same rules as
// the workers), reconnecting by revision, reloading on a gap or a resync,
// refusing anything malformed. This page only draws its snapshots.
// Every /api/ call needs a session: without one (or once it ends, on any
// worker) the page shows the login form.
import { connect } from 'bangui-state';

const $ = (id) => document.getElementById(id);

let live = null; // the LiveMachine, while logged in
let stopListening = [];
let lastStatus = null;

/** The login form in place of the dashboard: no session, or it ended (a logout on any worker, expiry). */
function showLogin(message = '') {
  stopListening.forEach((stop) => stop());
  stopListening = [];
  live?.close();
  live = null;
  $('dashboard').hidden = true;
  $('logout').hidden = true;
  $('who').hidden = true;
  $('sync').hidden = true;
  $('login-panel').hidden = false;
  $('login-error').textContent = message;
  $('login-error').hidden = message === '';
  document.body.dataset.view = 'login';
  $('login-user').focus();
}

async function showDashboard() {
  const response = await fetch('/api/session', { cache: 'no-store' });
  if (response.status === 401) {
    showLogin();
    return;
  }
  const { user } = await response.json();
  $('login-panel').hidden = true;
  $('dashboard').hidden = false;
  $('sync').hidden = false;
  $('who').textContent = `logged in as ${user}`;
  $('who').hidden = false;
  $('logout').hidden = false;
  document.body.dataset.view = 'dashboard';
  $('effects').replaceChildren();
  lastStatus = null;
  live = connect(); // /api/state and /api/events of this origin, with the session cookie
  stopListening = [live.subscribe(render), live.onCommit(logCommit)];
  render();
}

async function login(event) {
  event.preventDefault();
  const response = await fetch('/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: $('login-user').value, password: $('login-password').value }),
  });
  $('login-password').value = '';
  if (response.ok) {
    await showDashboard();
    return;
  }
  if (response.status === 401) showLogin('Wrong user name or password.');
  else if (response.status === 429) {
    showLogin(`Too many failed logins: try again in ${response.headers.get('retry-after') ?? 'a few'} s.`);
  } else {
    const { error } = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    showLogin(`Login failed: ${error}`);
  }
}

async function logout() {
  await fetch('/api/logout', { method: 'POST' });
  showLogin();
}

async function act(method, url, body) {
  $('error').hidden = true;
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    showLogin('Your session ended: log in again.');
  } else if (!response.ok) {
    const { error } = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    $('error').textContent = error;
    $('error').hidden = false;
  }
}

/** Every commit folded, newest first, with the effects its step gave (what the committing worker carried out). */
function logCommit(commit) {
  const list = $('effects');
  const item = (text, cls) => {
    const li = document.createElement('li');
    li.textContent = text;
    li.className = cls;
    list.prepend(li);
  };
  const { type, ...fields } = commit.event;
  item(`r${commit.revision} ${commit.now.slice(11, 23)} ${type} ${Object.keys(fields).length ? JSON.stringify(fields) : ''}`, 'event');
  for (const effect of commit.effects) {
    if (effect.type === 'log') item(`    ${effect.level} ${effect.event} ${JSON.stringify(effect.fields)}`, effect.level);
    else if (effect.type === 'session_cache_replaced') item(`    every worker installs a new session cache: ${effect.kind}`, 'info');
    else item(`    ${effect.type} (run by the committing worker)`, 'info');
  }
  while (list.children.length > 200) list.lastChild.remove();
  // For the end-to-end test: how many commits this page folded one by one.
  document.body.dataset.commits = String(Number(document.body.dataset.commits ?? 0) + 1);
}

const seconds = (ms) => (ms / 1000).toFixed(1);

function renderCountdown() {
  const countdown = $('countdown');
  const { state, nextDeadline } = live?.getSnapshot() ?? {};
  const activation = state?.last_activation ?? null;
  if (nextDeadline != null && activation !== null) {
    const left = Math.max(0, Date.parse(nextDeadline) - Date.now());
    countdown.textContent = `Crash window for jail ${activation.jail_name} closes in ${seconds(left)} s`;
    countdown.className = 'open';
  } else {
    countdown.textContent = 'No crash window open.';
    countdown.className = 'muted';
  }
}

const BADGE = {
  connecting: () => 'loading…',
  live: (s) => `in sync at revision ${s.revision}`,
  reconnecting: () => 'reconnecting…',
  stale: (s) => `stale: showing revision ${s.revision}, reconnecting…`,
  invalid: (s) => `out of sync: ${s.error}`,
  unauthorized: () => 'logged out',
  closed: () => 'closed',
};

/** Draws the snapshot; for the end-to-end tests, `body` also says the status, the revision, how often it went live. */
function render() {
  if (live === null) return;
  const snapshot = live.getSnapshot();
  const { status, state } = snapshot;
  const body = document.body.dataset;
  body.status = status;
  if (status === 'live' && lastStatus !== 'live') body.connections = String(Number(body.connections ?? 0) + 1);
  lastStatus = status;
  const badge = $('sync');
  badge.dataset.state = status;
  badge.title = snapshot.error ?? '';
  badge.textContent = BADGE[status](snapshot);
  if (status === 'unauthorized') {
    showLogin('Your session ended: log in again.');
    return;
  }
  if (state === null) return;
  body.revision = String(snapshot.revision);
  body.ready = 'true';

  const server = $('server-status');
  const fail2ban = state.server_status;
  server.dataset.online = String(fail2ban.online);
  server.textContent = fail2ban.online
    ? `online (fail2ban ${fail2ban.version ?? 'unknown version'}, ${fail2ban.active_jails} jails)`
    : 'offline';
  $('session-cache').textContent = state.session_cache;
  const backend = state.backend_capability;
  $('backend').textContent = backend.supported === null
    ? (backend.probe_started_at ? 'probing…' : 'unknown')
    : (backend.supported ? 'supported' : 'not supported');
  $('revision').textContent = String(snapshot.revision);
  $('session-cache-enabled').checked = snapshot.effectiveSettings.session_cache_enabled;
  renderCountdown();

  const banner = $('banner');
  const recovery = state.pending_recovery;
  if (recovery === null) {
    banner.hidden = true;
  } else {
    const after = seconds(Date.parse(recovery.detected_at) - Date.parse(recovery.activated_at));
    const crashed = `jail ${recovery.jail_name} crashed fail2ban ${after} s after activation`;
    $('banner-text').textContent = recovery.recovered ? `${crashed}, recovered` : `${crashed}, waiting for fail2ban to come back`;
    $('dismiss').hidden = !recovery.recovered;
    banner.className = recovery.recovered ? 'recovered' : 'crashed';
    banner.hidden = false;
  }
  $('state').textContent = JSON.stringify(state, null, 2);
}

$('activate-jail').addEventListener('click', () =>
  act('POST', `/api/jails/${encodeURIComponent($('jail-name').value)}/activate`));
$('session-cache-enabled').addEventListener('change', (e) =>
  act('PUT', '/api/settings', { session_cache_enabled: e.target.checked }));
$('dismiss').addEventListener('click', () => act('DELETE', '/api/recovery'));
$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
setInterval(renderCountdown, 100);

await showDashboard();
