// The npm package against hostile and odd input (issue 12's npm classes): a
// freed machine, inputs that would exhaust the module's memory, rejected
// calls by the million, lone surrogates, values JSON.stringify would store
// differently, BigInts and integers beyond 2^53. Every rejected call must
// throw a BanguiStateError naming the field, leave the machine as it was and
// the module usable, and leak nothing.
//
//   node --test tests/wasm/hostile.test.mjs   (after bindings-wasm/scripts/build.sh)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

import { OUT, ROOT, installInto } from './support.mjs';

const CONSUMER = join(OUT, 'hostile-consumer');
let api;

before(async () => {
  installInto(CONSUMER, { 'rejected-calls.cjs': join(ROOT, 'tests/wasm/rejected-calls.cjs') });
  writeFileSync(join(CONSUMER, 'entry.mjs'), "export * from 'bangui-state';\n");
  api = await import(pathToFileURL(join(CONSUMER, 'entry.mjs')).href);
});

const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600 };
const T0 = Date.parse('2026-04-27T16:42:00Z');

/** A machine with some history (fail2ban online, a jail activated). */
function busyMachine() {
  const m = new api.Machine(BOOT);
  m.healthProbe({ online: true, version: '1.1.0', activeJails: 2 }, T0);
  m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 1000);
  return m;
}

/** `act` throws `ErrorClass` with exactly `message` (path first); `m`'s state is unchanged. */
function refused(m, act, ErrorClass, path, message) {
  const before = m === null ? null : m.state();
  assert.throws(act, (error) => {
    assert.ok(error instanceof ErrorClass, `${error.name}: ${error.message} is a ${ErrorClass.name}`);
    assert.equal(error.path, path);
    if (message instanceof RegExp) assert.match(error.message, message);
    else assert.equal(error.message, path === '' ? message : `${path}: ${message}`);
    return true;
  });
  if (m !== null) assert.deepEqual(m.state(), before, 'a refused call changes nothing');
}

/** Runs rejected-calls.cjs for one class of rejected call (see there). */
function rejectedCalls(kind, count) {
  const out = execFileSync(process.execPath, ['--expose-gc', 'rejected-calls.cjs', kind, String(count)], {
    cwd: CONSUMER,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out);
}

const MILLION = 1_000_000;

/** After a million rejected calls: no growth of the module's table or memory, little of the heap, all else works. */
function assertNoLeak(kind, result) {
  assert.equal(result.after.table, result.before.table, `${kind}: the externref table did not grow`);
  assert.equal(result.after.memory, result.before.memory, `${kind}: the wasm memory did not grow`);
  // The heap after a full GC: noise is tens of KB; the leak this guards
  // against grew by ~4 MB per 300 000 calls.
  const growth = result.after.heap - result.before.heap;
  assert.ok(growth < 1 << 20, `${kind}: the JS heap grew by ${growth} bytes over a million rejected calls`);
  assert.equal(result.bystanderCrash, true, `${kind}: a machine made before still folds events`);
  assert.equal(result.bystanderRevision, 3);
  assert.equal(result.freshJail, 'after', `${kind}: a new machine works`);
  assert.equal(result.pureRevision, 2, `${kind}: the pure step works`);
  assert.equal(result.targetRevision, 0, `${kind}: the refused calls changed nothing`);
  assert.ok(result.droppedCollected > 1000, `${kind}: dropped machines were reclaimed (${result.droppedCollected} of 2000)`);
}

describe('a freed machine', () => {
  test('every method throws InvalidStateError; free() again does nothing; other machines are unaffected', () => {
    const m = busyMachine();
    const other = busyMachine();
    m.free();
    const message = 'this machine was freed (free() was called): it cannot be used any more';
    for (const act of [
      () => m.step({ type: 'activation_cleared' }, T0),
      () => m.step({ type: 'health_probe_completed', status: { online: true } }, T0),
      () => m.healthProbe({ online: true }, T0),
      () => m.state(),
      () => m.revision,
      () => m.nextDeadline(T0),
    ]) {
      refused(null, act, api.InvalidStateError, '', message);
    }
    m.free();
    assert.equal(other.revision, 2);
  });

  test('a freed machine is checked before its inputs are read', () => {
    const m = new api.Machine(BOOT);
    m.free();
    let reads = 0;
    const event = { get type() { reads += 1; return 'activation_cleared'; } };
    assert.throws(() => m.step(event, T0), api.InvalidStateError);
    assert.equal(reads, 0);
  });

  test('methods called on something that is not a Machine throw a TypeError, outside the module', () => {
    const { Machine } = api;
    assert.throws(() => Machine.prototype.step.call({ __wbg_ptr: 8 }, { type: 'activation_cleared' }, T0), TypeError);
    assert.throws(() => Machine.prototype.state.call(Object.create(Machine.prototype)), TypeError);
    assert.throws(() => Reflect.get(Machine.prototype, 'revision', {}), TypeError);
    assert.equal(new Machine(BOOT).revision, 0);
  });

  test('a million calls on a freed machine: a clean error each time, no leak, other machines unaffected', () => {
    assertNoLeak('freed', rejectedCalls('freed', MILLION));
  });
});

describe('rejected calls leak nothing (a million each)', () => {
  for (const kind of ['getter', 'ownKeys', 'surrogate', 'probeGetter']) {
    test(`${kind}: no growth of the externref table, the wasm memory or the heap`, () => {
      assertNoLeak(kind, rejectedCalls(kind, MILLION));
    });
  }

  test('refused inside the module (an unknown event type): no growth either (200 000 calls)', () => {
    assertNoLeak('unknownType', rejectedCalls('unknownType', 200_000));
  });
});

describe('inputs are bounded: refused before they can exhaust the module\'s memory', () => {
  test('one 16 MiB string referenced 300 times is refused; a later call on a new machine works', () => {
    const big = 'x'.repeat(16 << 20);
    const overrides = {};
    for (let i = 0; i < 300; i += 1) overrides[`k${i}`] = big;
    const m = busyMachine();
    refused(m, () => m.step({ type: 'settings_updated', overrides }, T0), api.InvalidEventError, 'event.overrides.k0',
      'the input is too large: over 4194304 characters in its strings and keys (the limit of one input)');
    refused(null, () => new api.Machine({ ...BOOT, overrides }), api.InvalidSettingsError, 'bootstrap.overrides.k0',
      /too large/);
    refused(null, () => api.replay({ bootstrap: BOOT, steps: [{ now: '2026-04-27T16:42:00Z', event: { type: 'settings_updated', overrides } }] }),
      api.InvalidTraceError, 'trace.steps[0].event.overrides.k0', /too large/);
    // A string referenced many times counts each time: 1 MiB, four times and the keys, is over.
    const mib = 'y'.repeat(1 << 20);
    refused(m, () => m.step({ type: 'settings_updated', overrides: { a: mib, b: mib, c: mib, d: mib } }, T0),
      api.InvalidEventError, 'event.overrides.d', /too large/);
    // Many small values: over the count of values.
    refused(m, () => m.step({ type: 'settings_updated', overrides: { many: new Array(300_000).fill(0) } }, T0),
      api.InvalidEventError, 'event.overrides.many', 'the input is too large: over 262144 values (the limit of one input)');
    const fresh = new api.Machine(BOOT);
    fresh.step({ type: 'jail_activated', jail_name: 'after' }, T0);
    assert.equal(fresh.state().last_activation.jail_name, 'after');
    // Just under the limits is accepted and stored as given.
    const almost = 'z'.repeat((1 << 22) - 100);
    m.step({ type: 'settings_updated', overrides: { almost } }, T0);
    assert.equal(m.state().runtime_settings.almost, almost);
  });

  test('every state a machine produces from inputs within the limits restores; the pure step takes it', () => {
    const near = (c) => c.repeat((1 << 22) - 1000);
    const m = new api.Machine({ ...BOOT, big: near('b') });
    m.step({ type: 'settings_updated', overrides: { more: near('o') } }, T0);
    m.healthProbe({ online: true, version: '1.1.0' }, T0);
    m.step({ type: 'jail_activated', jail_name: near('j') }, T0 + 1000);
    m.healthProbe({ online: false }, T0 + 2000); // a crash: the pending recovery names the jail
    m.step({ type: 'health_probe_completed', status: { online: false, version: near('v') } }, T0 + 3000);
    const state = m.state();
    assert.equal(state.pending_recovery.jail_name.length, (1 << 22) - 1000);
    assert.equal(state.server_status.version.length, (1 << 22) - 1000);
    const restored = api.Machine.restore(state);
    assert.deepEqual(restored.state(), state);
    const next = api.step(state, { type: 'settings_updated', overrides: { more: near('p') } }, T0 + 4000);
    assert.deepEqual(api.Machine.restore(next.state).state(), next.state);
    // A hand-made state with more in one part than a machine can put there is refused, naming the part.
    const bigger = { ...state, bootstrap_settings: { ...state.bootstrap_settings, extra: near('x') } };
    refused(null, () => api.Machine.restore(bigger), api.InvalidStateError, 'state.bootstrap_settings',
      'the input is too large: over 4194304 characters in its strings and keys (the limit of state.bootstrap_settings)');
    refused(null, () => api.Machine.restore({ ...state, other: [near('1'), near('2')] }), api.InvalidStateError, 'state.other',
      'the input is too large: over 4194304 characters in its strings and keys (the limit of state.other)');
    refused(null, () => api.Machine.restore({ ...state, a: near('1'), b: near('2'), c: near('3'), d: near('4') }), api.InvalidStateError, 'state.c',
      'the input is too large: over 33554432 characters in its strings and keys (the limit of a state)');
  });

  test('a replay whose output would pass 64 MiB is refused naming the step; a later replay works', () => {
    const bootstrap = { ...BOOT, blob: 'v'.repeat((1 << 22) - 10_000) };
    const steps = Array.from({ length: 40 }, () => ({ now: '2026-04-27T16:42:00Z', event: { type: 'activation_cleared' } }));
    refused(null, () => api.replay({ bootstrap, steps }), api.InvalidTraceError, 'trace.steps[16]',
      'the replay\'s output would exceed 67108864 bytes of JSON text (replay fewer steps at a time)');
    const replayed = api.replay({ bootstrap, steps: steps.slice(0, 10) });
    assert.equal(replayed.length, 10);
    assert.equal(replayed[9].state.revision, 10);
  });

  test('a 100 MiB now string is refused without entering the module', () => {
    const m = busyMachine();
    refused(m, () => m.step({ type: 'activation_cleared' }, 'x'.repeat(100 << 20)), api.InvalidInstantError, 'now',
      'expected an RFC 3339 instant, found a string of 104857600 characters');
  });
});

describe('lone UTF-16 surrogates are refused with the field\'s path', () => {
  const lone = 'expected text, found a string with a lone UTF-16 surrogate';
  test('in event strings, keys, settings, states, traces and now', () => {
    const m = busyMachine();
    refused(m, () => m.step({ type: 'jail_activated', jail_name: 'a\uD800b' }, T0), api.InvalidEventError, 'event.jail_name',
      `${lone} (U+D800 at index 1), which is not Unicode`);
    refused(m, () => m.step({ type: 'jail_activated', jail_name: '\uDC00' }, T0), api.InvalidEventError, 'event.jail_name',
      `${lone} (U+DC00 at index 0), which is not Unicode`);
    refused(m, () => m.step({ type: 'settings_updated', overrides: { ['k\uDBFF']: 1 } }, T0), api.InvalidEventError, 'event.overrides.k\uDBFF',
      `${lone} (U+DBFF at index 1), which is not Unicode`);
    refused(m, () => m.step({ type: 'settings_updated', overrides: { list: ['ok', 'x\uD83D'] } }, T0), api.InvalidEventError, 'event.overrides.list[1]',
      `${lone} (U+D83D at index 1), which is not Unicode`);
    refused(m, () => m.healthProbe({ online: true, version: '1.\uD800' }, T0), api.InvalidEventError, 'event.status.version', new RegExp(lone));
    refused(m, () => m.step({ type: 'health_probe_completed', status: { online: true, version: '1.\uD800' } }, T0), api.InvalidEventError, 'event.status.version', new RegExp(lone));
    refused(m, () => m.step({ type: 'activation_cleared' }, '2026-04-27T16:42:00\uD800Z'), api.InvalidInstantError, 'now',
      'expected an RFC 3339 instant, found a string with a lone UTF-16 surrogate (U+D800 at index 19)');
    refused(m, () => m.nextDeadline('\uD800'), api.InvalidInstantError, 'now', /lone UTF-16 surrogate/);
    refused(null, () => new api.Machine({ ...BOOT, name: 'x\uDFFF' }), api.InvalidSettingsError, 'bootstrap.name', new RegExp(lone));
    const state = m.state();
    state.bootstrap_settings.name = '\uD800';
    refused(null, () => api.Machine.restore(state), api.InvalidStateError, 'state.bootstrap_settings.name', new RegExp(lone));
    refused(null, () => api.step(state, { type: 'activation_cleared' }, T0), api.InvalidStateError, 'state.bootstrap_settings.name', new RegExp(lone));
    refused(null, () => api.replay({ bootstrap: BOOT, steps: [{ now: '2026-04-27T16:42:00Z', event: { type: 'jail_activated', jail_name: '\uD800' } }] }),
      api.InvalidTraceError, 'trace.steps[0].event.jail_name', new RegExp(lone));
  });

  test('well-formed pairs (astral characters) are stored as given, on every path', () => {
    const m = busyMachine();
    m.step({ type: 'jail_activated', jail_name: 'jail-\u{1F600}' }, T0);
    assert.equal(m.state().last_activation.jail_name, 'jail-\u{1F600}');
    m.healthProbe({ online: true, version: 'v\u{1F600}' }, T0);
    assert.equal(m.state().server_status.version, 'v\u{1F600}');
    m.step({ type: 'settings_updated', overrides: { ['\u{10FFFF}']: '\u{10000}' } }, T0);
    assert.equal(m.state().runtime_settings['\u{10FFFF}'], '\u{10000}');
  });

  test('a bad now is still reported before a bad event', () => {
    const m = busyMachine();
    refused(m, () => m.step({ type: 'jail_activated', jail_name: '\uD800' }, NaN), api.InvalidInstantError, 'now', 'expected finite epoch milliseconds, found NaN');
    refused(m, () => m.step({ type: 'jail_activated', get jail_name() { throw new Error('x'); } }, undefined), api.InvalidInstantError, 'now', /found undefined$/);
  });
});

describe('values JSON.stringify would store differently are refused with the path', () => {
  class WithToJSON {
    toJSON() { return 'as json'; }
  }
  class Plain {
    constructor() { this.a = 1; }
  }
  const dated = new Date(T0);
  dated.extra = 1;
  const arrayWithToJSON = [1, 2];
  arrayWithToJSON.toJSON = () => 'x';
  const resetDate = Object.setPrototypeOf(new Date(T0), Object.prototype);
  const resetString = Object.setPrototypeOf(new String('ab'), Object.prototype);
  const cases = [
    [dated, 'expected a JSON value, found a Date (give instants as RFC 3339 strings, e.g. date.toISOString())'],
    [new Date(T0), 'expected a JSON value, found a Date (give instants as RFC 3339 strings, e.g. date.toISOString())'],
    [new WithToJSON(), 'expected a JSON value, found an object with a toJSON method (JSON.stringify would store what it returns: pass that)'],
    [{ toJSON: () => 1 }, 'expected a JSON value, found an object with a toJSON method (JSON.stringify would store what it returns: pass that)'],
    [arrayWithToJSON, 'expected a JSON value, found an object with a toJSON method (JSON.stringify would store what it returns: pass that)'],
    [new String('ab'), 'expected a JSON value, found a String object (new String(...)): pass the string itself'],
    [new Number(1), 'expected a JSON value, found a Number object (new Number(...)): pass the number itself'],
    [new Boolean(false), 'expected a JSON value, found a Boolean object (new Boolean(...)): pass the boolean itself'],
    [Object(1n), 'expected a JSON value, found a BigInt object: pass the BigInt itself'],
    [Object(Symbol('s')), 'expected a JSON value, found a Symbol object'],
    [new ArrayBuffer(4), 'expected a JSON value, found an ArrayBuffer'],
    [new SharedArrayBuffer(4), 'expected a JSON value, found a SharedArrayBuffer'],
    [new Uint8Array(2), 'expected a JSON value, found a typed array or DataView'],
    [new DataView(new ArrayBuffer(2)), 'expected a JSON value, found a typed array or DataView'],
    [new Map([['a', 1]]), 'expected a JSON value, found an instance of Map (only plain objects and arrays are JSON here)'],
    [new Set([1]), 'expected a JSON value, found an instance of Set (only plain objects and arrays are JSON here)'],
    [new Plain(), 'expected a JSON value, found an instance of Plain (only plain objects and arrays are JSON here)'],
    [/re/, 'expected a JSON value, found an instance of RegExp (only plain objects and arrays are JSON here)'],
    [resetDate, 'expected a JSON value, found a Date (give instants as RFC 3339 strings, e.g. date.toISOString())'],
    [resetString, 'expected a JSON value, found a String object (new String(...)): pass the string itself'],
  ];

  test('Dates (with or without own properties), toJSON, boxed primitives, buffers and class instances', () => {
    const m = busyMachine();
    for (const [value, message] of cases) {
      refused(m, () => m.step({ type: 'settings_updated', overrides: { x: { y: value } } }, T0), api.InvalidEventError, 'event.overrides.x.y', message);
    }
    refused(m, () => m.step(new Date(T0), T0), api.InvalidEventError, 'event', /found a Date/);
    refused(null, () => new api.Machine({ ...BOOT, when: dated }), api.InvalidSettingsError, 'bootstrap.when', /found a Date/);
    refused(null, () => api.replay({ bootstrap: BOOT, steps: [{ now: new Date(T0), event: { type: 'activation_cleared' } }] }),
      api.InvalidTraceError, 'trace.steps[0].now', /found a Date/);
  });

  test('what is accepted is stored exactly as JSON.parse(JSON.stringify(value))', () => {
    let reads = 0;
    const values = [
      { a: 1, b: [1, 'two', null, true, { c: -0 }], d: undefined },
      Object.assign(Object.create(null), { nullProto: 1 }),
      vm.runInNewContext('({ otherRealm: [1, { deep: true }] })'),
      { get once() { reads += 1; return reads; } },
      [undefined, 1, , 3], // eslint-disable-line no-sparse-arrays
      JSON.parse('{"__proto__": {"polluted": true}}'),
      { nested: { deeper: { deepest: 'ok' } }, number: 12.5, big: 1e300, small: 5e-324 },
    ];
    const m = busyMachine();
    for (const value of values) {
      reads = 0;
      m.step({ type: 'settings_updated', overrides: { x: value } }, T0);
      const stored = m.state().runtime_settings.x;
      reads = 0;
      assert.deepEqual(stored, JSON.parse(JSON.stringify(value)), `stored ${JSON.stringify(stored)}`);
    }
    assert.equal({}.polluted, undefined, 'no prototype was polluted');
  });

  test('a getter is read once: what it returned is what is stored', () => {
    const m = busyMachine();
    let reads = 0;
    const event = { type: 'jail_activated', get jail_name() { reads += 1; return reads === 1 ? 'first' : '\uD800'; } };
    m.step(event, T0);
    assert.equal(reads, 1);
    assert.equal(m.state().last_activation.jail_name, 'first');
  });
});

describe('BigInt and integers beyond 2^53 (as the README says)', () => {
  test('a number is stored as the double it is, and comes back as the same number', () => {
    const m = busyMachine();
    const numbers = { safe: 2 ** 53 - 1, beyond: 2 ** 53 + 2, huge: 123456789012345678901234567890, neg: -(2 ** 60), frac: 0.1 };
    m.step({ type: 'settings_updated', overrides: numbers }, T0);
    const stored = m.state().runtime_settings;
    for (const [key, value] of Object.entries(numbers)) assert.equal(stored[key], value, key);
    assert.equal(Machine_restore_roundtrip(m).runtime_settings.huge, 123456789012345678901234567890);
  });

  test('a BigInt within 64 bits is stored exactly; beyond 2^53 it comes back as a BigInt, within as a number', () => {
    const m = busyMachine();
    m.step({ type: 'settings_updated', overrides: { max: 2n ** 64n - 1n, min: -(2n ** 63n), wide: 2n ** 53n + 1n, small: 5n } }, T0);
    const stored = m.state().runtime_settings;
    assert.equal(stored.max, 2n ** 64n - 1n);
    assert.equal(stored.min, -(2n ** 63n));
    assert.equal(stored.wide, 2n ** 53n + 1n);
    assert.equal(stored.small, 5);
    assert.deepEqual(Machine_restore_roundtrip(m).runtime_settings, stored);
  });

  test('a BigInt beyond 64 bits is refused with its path (it would not fit the state)', () => {
    const m = busyMachine();
    refused(m, () => m.step({ type: 'settings_updated', overrides: { x: [2n ** 64n] } }, T0), api.InvalidEventError, 'event.overrides.x[0]',
      'expected a number, found a BigInt outside the 64-bit range');
    refused(m, () => m.step({ type: 'settings_updated', overrides: { x: -(2n ** 63n) - 1n } }, T0), api.InvalidEventError, 'event.overrides.x',
      'expected a number, found a BigInt outside the 64-bit range');
  });

  function Machine_restore_roundtrip(m) {
    const restored = api.Machine.restore(m.state());
    try {
      return restored.state();
    } finally {
      restored.free();
    }
  }
});
