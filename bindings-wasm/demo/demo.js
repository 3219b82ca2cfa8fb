// BanGUI's dashboard, simulated: every button is an event folded by the same
// transition as the backend (bangui-state, WebAssembly). The clock is
// simulated too, so the story is reproducible: the page never reads the real time.
import { Machine, BanguiStateError } from 'bangui-state';

const $ = (id) => document.getElementById(id);
const START = Date.parse('2026-04-27T16:42:00Z');
let now = START; // epoch milliseconds
let logged = 0;

const machine = new Machine({
  session_cache_enabled: true,
  session_cache_ttl_seconds: 3600,
  database_path: '/var/lib/bangui/bangui.db',
});

function run(what, effects) {
  $('error').hidden = true;
  try {
    log(what, effects());
  } catch (error) {
    if (!(error instanceof BanguiStateError)) throw error;
    $('error').textContent = `${error.name}: ${error.message}`;
    $('error').hidden = false;
  }
  render();
}

function log(what, effects) {
  const list = $('effects');
  const at = new Date(now).toISOString().slice(11, 19);
  const item = (text, cls) => {
    const li = document.createElement('li');
    li.textContent = text;
    if (cls) li.className = cls;
    list.prepend(li);
    logged += 1;
  };
  item(`${at} ${what}`, 'event');
  for (const effect of effects) {
    if (effect.type === 'log') {
      item(`  ${effect.level} ${effect.event} ${JSON.stringify(effect.fields)}`, effect.level);
    } else if (effect.type === 'session_cache_replaced') {
      item(`  replace the session cache: ${effect.kind}`, 'info');
    } else {
      item(`  ${effect.type}`, 'info');
    }
  }
}

function seconds(ms) {
  return (ms / 1000).toFixed(1);
}

function render() {
  const state = machine.state();
  const status = state.server_status;
  const server = $('server-status');
  server.dataset.online = String(status.online);
  server.textContent = status.online
    ? `online (fail2ban ${status.version ?? 'unknown version'}, ${status.active_jails} jails)`
    : 'offline';
  $('clock').textContent = new Date(now).toISOString();
  $('session-cache').textContent = state.session_cache;
  $('revision').textContent = String(machine.revision);
  $('session-cache-enabled').checked = (state.runtime_settings ?? state.bootstrap_settings).session_cache_enabled;

  // The crash window: the next deadline while an activation is recorded.
  const countdown = $('countdown');
  const deadline = machine.nextDeadline(now);
  const activation = state.last_activation;
  if (deadline !== null && activation !== null) {
    countdown.textContent = `Crash window for jail ${activation.jail_name} closes in ${seconds(Date.parse(deadline) - now)} s`;
    countdown.className = 'open';
  } else {
    countdown.textContent = 'No crash window open.';
    countdown.className = 'muted';
  }

  const banner = $('banner');
  const recovery = state.pending_recovery;
  if (recovery === null) {
    banner.hidden = true;
    banner.textContent = '';
  } else {
    const after = seconds(Date.parse(recovery.detected_at) - Date.parse(recovery.activated_at));
    const crashed = `jail ${recovery.jail_name} crashed fail2ban ${after} s after activation`;
    banner.textContent = recovery.recovered ? `${crashed}, recovered` : `${crashed}, waiting for fail2ban to come back`;
    banner.className = recovery.recovered ? 'recovered' : 'crashed';
    banner.hidden = false;
  }
  $('state').textContent = JSON.stringify(state, null, 2);
}

$('probe-online').addEventListener('click', () =>
  run('probe: online', () => machine.healthProbe({ online: true, version: '1.1.0', activeJails: 3 }, now)));
$('probe-offline').addEventListener('click', () =>
  run('probe: offline', () => machine.healthProbe({ online: false }, now)));
$('activate-jail').addEventListener('click', () => {
  const jail = $('jail-name').value;
  run(`jail ${jail} activated`, () => machine.step({ type: 'jail_activated', jail_name: jail }, now));
});
$('advance-clock').addEventListener('click', () => {
  const by = Number($('advance-seconds').value);
  if (Number.isFinite(by) && by >= 0) now += by * 1000;
  render();
});
$('session-cache-enabled').addEventListener('change', (e) => {
  const enabled = e.target.checked;
  run(`settings: session cache ${enabled ? 'on' : 'off'}`, () =>
    machine.step({ type: 'settings_updated', overrides: { session_cache_enabled: enabled } }, now));
});

render();
document.body.dataset.ready = 'true';
