// BanGUI's dashboard, live. The page restores a Machine (bangui-state,
// WebAssembly) from the server's /api/state, then folds every committed event
// from the server-sent-event stream /api/events with its own step: the same
// rules as the workers, so its state is the server's without asking again.
// It says "in sync at revision N" only while that holds, checked against
// /api/state every CHECK_EVERY revisions and after every (re)connection.
// Every /api/ call needs a session: without one (or once it ends, on any
// worker) the page shows the login form.
import { Machine } from 'bangui-state';

const CHECK_EVERY = 5;
const $ = (id) => document.getElementById(id);

let machine = null;
let source = null;
let sync = 'loading'; // loading | in-sync | checking | out-of-sync | reconnecting
let syncDetail = '';
const serverStates = new Map(); // revision -> the server's state there, to compare once the fold reaches it

/** JSON with sorted keys: states compare as data, not by key order. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

class LoggedOut extends Error {}

async function fetchState() {
  const response = await fetch('/api/state', { cache: 'no-store' });
  if (response.status === 401) throw new LoggedOut('the session ended');
  if (!response.ok) throw new Error(`/api/state: HTTP ${response.status}`);
  return response.json();
}

/** The login form in place of the dashboard: no session, or it ended (a logout on any worker, expiry). */
function showLogin(message = '') {
  source?.close();
  source = null;
  machine?.free();
  machine = null;
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
  await restart();
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

function setSync(what, detail = '') {
  sync = what;
  syncDetail = detail;
  render();
}

/** Compares the folded state with the server's once both are at the same revision. */
function compareReached() {
  const expected = serverStates.get(machine.revision);
  if (expected === undefined) return;
  serverStates.clear();
  if (canonical(expected) === canonical(machine.state())) setSync('in-sync');
  else setSync('out-of-sync', `the state at revision ${machine.revision} differs from the server's`);
}

async function check() {
  if (sync !== 'out-of-sync') setSync('checking');
  try {
    const { state } = await fetchState();
    if (machine === null) return; // logged out meanwhile
    if (state.revision < machine.revision) {
      setTimeout(check, 200); // that worker had not seen the newest commit yet: ask again
      return;
    }
    serverStates.set(state.revision, state);
    compareReached();
  } catch (error) {
    if (error instanceof LoggedOut) showLogin('Your session ended: log in again.');
    else setSync('reconnecting', String(error));
  }
}

function onCommit(message) {
  const commit = JSON.parse(message.data);
  if (commit.revision <= machine.revision) return; // already folded (a replay after reconnecting)
  if (commit.revision !== machine.revision + 1) {
    // A gap (the log was trimmed past us): start again from the server's state.
    restart();
    return;
  }
  const effects = machine.step(commit.event, commit.now);
  logCommit(commit, effects);
  if (machine.revision !== commit.revision) setSync('out-of-sync', `folded to ${machine.revision}, server committed ${commit.revision}`);
  else if (commit.revision % CHECK_EVERY === 0) check();
  else if (sync === 'in-sync' || sync === 'checking') compareReached();
  render();
}

function listen() {
  source?.close();
  source = new EventSource(`/api/events?after=${machine.revision}`);
  source.addEventListener('commit', onCommit);
  source.addEventListener('resync', () => restart()); // the log no longer reaches back to our revision
  source.addEventListener('logged-out', () => showLogin('Your session ended: log in again.'));
  source.addEventListener('open', () => {
    document.body.dataset.connections = String(Number(document.body.dataset.connections ?? 0) + 1);
    check();
  });
  source.addEventListener('error', () => {
    setSync('reconnecting', 'the event stream dropped');
    // EventSource retries by itself (sending Last-Event-ID) unless the server
    // answered with an error; then start again from /api/state.
    if (source.readyState === EventSource.CLOSED) setTimeout(restart, 1000);
  });
}

async function restart() {
  source?.close();
  try {
    const { state } = await fetchState();
    machine?.free();
    machine = Machine.restore(state);
    $('effects').replaceChildren();
    listen();
    render();
    document.body.dataset.ready = 'true';
  } catch (error) {
    if (error instanceof LoggedOut) {
      showLogin('Your session ended: log in again.');
      return;
    }
    setSync('reconnecting', String(error));
    setTimeout(restart, 1000);
  }
}

function logCommit(commit, effects) {
  const list = $('effects');
  const item = (text, cls) => {
    const li = document.createElement('li');
    li.textContent = text;
    li.className = cls;
    list.prepend(li);
  };
  const { type, ...fields } = commit.event;
  item(`r${commit.revision} ${commit.now.slice(11, 23)} ${type} ${Object.keys(fields).length ? JSON.stringify(fields) : ''}`, 'event');
  for (const effect of effects) {
    if (effect.type === 'log') item(`    ${effect.level} ${effect.event} ${JSON.stringify(effect.fields)}`, effect.level);
    else if (effect.type === 'session_cache_replaced') item(`    every worker installs a new session cache: ${effect.kind}`, 'info');
    else item(`    ${effect.type} (run by the committing worker)`, 'info');
  }
  while (list.children.length > 200) list.lastChild.remove();
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

function seconds(ms) {
  return (ms / 1000).toFixed(1);
}

function renderCountdown(state) {
  const countdown = $('countdown');
  const now = Date.now();
  const deadline = machine.nextDeadline(now);
  const activation = state.last_activation;
  if (deadline !== null && activation !== null) {
    countdown.textContent = `Crash window for jail ${activation.jail_name} closes in ${seconds(Date.parse(deadline) - now)} s`;
    countdown.className = 'open';
  } else {
    countdown.textContent = 'No crash window open.';
    countdown.className = 'muted';
  }
}

function render() {
  if (machine === null) return;
  const state = machine.state();
  const status = state.server_status;
  const server = $('server-status');
  server.dataset.online = String(status.online);
  server.textContent = status.online
    ? `online (fail2ban ${status.version ?? 'unknown version'}, ${status.active_jails} jails)`
    : 'offline';
  $('session-cache').textContent = state.session_cache;
  const backend = state.backend_capability;
  $('backend').textContent = backend.supported === null
    ? (backend.probe_started_at ? 'probing…' : 'unknown')
    : (backend.supported ? 'supported' : 'not supported');
  $('revision').textContent = String(machine.revision);
  $('session-cache-enabled').checked = (state.runtime_settings ?? state.bootstrap_settings).session_cache_enabled;
  renderCountdown(state);

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

  const badge = $('sync');
  badge.dataset.state = sync;
  badge.title = syncDetail;
  badge.textContent = {
    'loading': 'loading…',
    'in-sync': `in sync at revision ${machine.revision}`,
    'checking': `checking revision ${machine.revision}…`,
    'out-of-sync': `out of sync: ${syncDetail}`,
    'reconnecting': 'reconnecting…',
  }[sync];
}

$('activate-jail').addEventListener('click', () =>
  act('POST', `/api/jails/${encodeURIComponent($('jail-name').value)}/activate`));
$('session-cache-enabled').addEventListener('change', (e) =>
  act('PUT', '/api/settings', { session_cache_enabled: e.target.checked }));
$('dismiss').addEventListener('click', () => act('DELETE', '/api/recovery'));
$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
setInterval(() => machine && renderCountdown(machine.state()), 100);

await showDashboard();
