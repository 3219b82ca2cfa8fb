// The npm package bangui-state, as a user gets it: the packed tarball is
// installed into a fresh project, then the conformance vectors (and the core
// CLI's output on the bundled story and on tests/wasm/traces.jsonl) are
// replayed through the JavaScript API and compared as parsed JSON.
//
//   node --test tests/wasm/package.test.mjs   (after bindings-wasm/scripts/build.sh)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { OUT, ROOT, TOOLS, installInto, readTraces } from './support.mjs';

const CONSUMER = join(OUT, 'consumer');
let api; // the package through `import`
let cjs; // the package through `require`

before(async () => {
  installInto(CONSUMER, {
    'typed-usage.ts': join(ROOT, 'tests/wasm/typed-usage.ts'),
    'tsconfig.json': join(ROOT, 'tests/wasm/tsconfig.consumer.json'),
    'typed-dom.ts': join(ROOT, 'tests/wasm/typed-dom.ts'),
    'tsconfig.dom.json': join(ROOT, 'tests/wasm/tsconfig.dom.json'),
  });
  // Resolve "bangui-state" from inside the consumer project, as its own code would.
  writeFileSync(join(CONSUMER, 'entry.mjs'), "export * from 'bangui-state';\n");
  api = await import(pathToFileURL(join(CONSUMER, 'entry.mjs')).href);
  cjs = createRequire(join(CONSUMER, 'package.json'))('bangui-state');
});

const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600, database_path: '/var/lib/bangui/bangui.db' };
const T0 = Date.parse('2026-04-27T16:42:00Z');

// ---------------------------------------------------------------------------
// Traces and their expected output

/** RFC 3339 text -> Unix microseconds (BigInt), exactly; null if not simple RFC 3339. */
function rfc3339ToMicros(text) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return null;
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) return null;
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6); // finer digits truncate, as the core does
  return BigInt(seconds) * 1000n + BigInt(fraction);
}

/**
 * The step's `now` as epoch milliseconds when a double recovers the exact
 * microsecond (|ms| < 2^42: one ulp is under a microsecond there), else the
 * RFC 3339 text itself (also accepted by the API).
 */
function nowAsMillis(text) {
  const micros = typeof text === 'string' ? rfc3339ToMicros(text) : null;
  if (micros === null) return text;
  const ms = Number(micros) / 1000; // one correctly rounded division of an exact integer
  return Math.abs(ms) < 2 ** 42 ? ms : text;
}

/** Every trace with its expected output: the vectors, then the CLI's replay of our traces. */
function casesWithExpected() {
  const cases = [];
  const vectors = join(ROOT, 'tests/vectors');
  if (existsSync(vectors)) {
    for (const file of readdirSync(vectors).filter((f) => f.endsWith('.jsonl')).sort()) {
      for (const { line, trace } of readTraces(join(vectors, file))) {
        cases.push({ label: `tests/vectors/${file}:${line} ${trace.name ?? ''}`, trace, expected: trace.expected });
      }
    }
  }
  // The core's own replay (the CLI), for the bundled story and the binding's extra traces.
  for (const rel of ['cli/src/story.jsonl', 'tests/wasm/traces.jsonl']) {
    const out = execFileSync(
      'cargo',
      ['run', '--quiet', '--release', '-p', 'bangui-state-cli', '--bin', 'bangui-state', '--', 'replay', rel, '--json'],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 },
    );
    const expected = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
    const traces = readTraces(join(ROOT, rel));
    assert.equal(expected.length, traces.length, `${rel}: one output line per trace`);
    traces.forEach(({ line, trace }, i) => cases.push({ label: `${rel}:${line} ${trace.name ?? ''}`, trace, expected: expected[i] }));
  }
  return cases;
}

/** Can every step go through the API (an object with a string `now` and an `event`)? */
const wellFormed = (trace) =>
  trace.steps.every((s) => s !== null && typeof s === 'object' && typeof s.now === 'string' && 'event' in s);

function run(fn) {
  try {
    return { ok: fn() };
  } catch (error) {
    return { error };
  }
}

/** Folds a trace through `new Machine` + `machine.step`, producing the contract's output form. */
function foldWithMachine({ Machine, BanguiStateError }, trace, toNow) {
  const machine = new Machine(trace.bootstrap);
  try {
    return trace.steps.map((s) => {
      const before = machine.state();
      const r = run(() => machine.step(s.event, toNow(s.now)));
      if (r.error) {
        assert.ok(r.error instanceof BanguiStateError, `not a BanguiStateError: ${r.error}`);
        assert.deepEqual(machine.state(), before, 'a rejected step leaves the machine unchanged');
        return { error: r.error.message, state: machine.state() };
      }
      return { effects: r.ok, state: machine.state() };
    });
  } finally {
    machine.free();
  }
}

/** Folds a trace through the pure `step(state, event, now)`. */
function foldWithPureStep({ Machine, step }, trace, toNow) {
  const first = new Machine(trace.bootstrap);
  let state = first.state();
  first.free();
  return trace.steps.map((s) => {
    const snapshot = structuredClone(state);
    const r = run(() => step(state, s.event, toNow(s.now)));
    assert.deepEqual(state, snapshot, 'the pure step does not modify its input state');
    if (r.error) return { error: r.error.message, state };
    state = r.ok.state;
    return { effects: r.ok.effects, state };
  });
}

describe('the installed package', () => {
  test('loads through both import and require, sharing one module instance', () => {
    assert.equal(typeof api.Machine, 'function');
    assert.equal(api.Machine, cjs.Machine);
    assert.equal(api.InvalidEventError, cjs.InvalidEventError);
    assert.equal(api.connect, cjs.connect);
    for (const name of ['step', 'replay', 'connect', 'BanguiStateError', 'UnknownSchemaVersionError', 'RevisionExhaustedError']) {
      assert.ok(name in api, `exports ${name}`);
    }
  });

  test('its typed usage file type-checks with tsc --noEmit --strict, @ts-expect-error lines included', () => {
    const tsc = join(TOOLS, 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '--noEmit', '--strict', '-p', 'tsconfig.json'], { cwd: CONSUMER, encoding: 'utf8' });
    } catch (error) {
      assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
    }
  });

  test('with the DOM\'s types, the browser\'s fetch is a valid fetch option for connect()', () => {
    const tsc = join(TOOLS, 'typescript', 'bin', 'tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', 'tsconfig.dom.json'], { cwd: CONSUMER, encoding: 'utf8' });
    } catch (error) {
      assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`);
    }
  });

  test('the type check fails when an @ts-expect-error line stops being an error', () => {
    // The check can fail: a file whose "expected error" type-checks is rejected.
    writeFileSync(
      join(CONSUMER, 'must-fail.ts'),
      "import type { Event } from 'bangui-state';\n// @ts-expect-error\nconst ok: Event = { type: 'activation_cleared' };\nvoid ok;\n",
    );
    const tsc = join(TOOLS, 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'must-fail.ts'];
    assert.throws(
      () => execFileSync(process.execPath, args, { cwd: CONSUMER, encoding: 'utf8' }),
      (error) => /Unused '@ts-expect-error' directive/.test(error.stdout),
    );
  });
});

/** Runs every js block of `markdown` in the consumer project; each must print what its "// prints:" comments say. */
function runJsExamples(markdown, label) {
  const blocks = [...markdown.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length > 0, `${label} has js examples`);
  blocks.forEach((code, i) => {
    const file = join(CONSUMER, `${label}-example-${i}.mjs`);
    writeFileSync(file, code);
    const printed = execFileSync(process.execPath, [file], { cwd: CONSUMER, encoding: 'utf8' }).trimEnd().split('\n');
    const expected = [...code.matchAll(/^\s*\/\/ prints: (.*)$/gm)].map((m) => m[1]);
    assert.ok(expected.length > 0, `${label} example ${i} says nothing of what it prints`);
    assert.deepEqual(printed, expected, `${label} example ${i}`);
  });
}

describe('the project README', () => {
  test('its js examples run in the installed package and print what they say', () => {
    runJsExamples(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'project-readme');
  });
});

describe('the shipped README', () => {
  const readme = () => readFileSync(join(CONSUMER, 'node_modules', 'bangui-state', 'README.md'), 'utf8');

  test('every js example runs in the installed package and prints what its "// prints:" comments say', () => {
    runJsExamples(readme(), 'readme');
  });

  test('it stands alone: no repository paths, relative links or make targets', () => {
    const text = readme();
    for (const bad of [/\.\.\//, /\]\((?!https?:)[^)]*\)/, /\bmake [a-z]/, /\b(tests|cli|core|bindings-wasm|bindings-c|target)\/[\w.]/, /\/work\//]) {
      assert.doesNotMatch(text, bad);
    }
    const types = readFileSync(join(CONSUMER, 'node_modules', 'bangui-state', 'index.d.ts'), 'utf8');
    assert.doesNotMatch(types, /\.\.\/shared|\.\.\//);
  });
});

describe('conformance: the same trace gives the same JSON as the core', () => {
  let cases;
  before(() => {
    cases = casesWithExpected();
  });

  test('there are traces to replay, from the vectors and the CLI', () => {
    assert.ok(cases.length >= 5, `only ${cases.length} traces`);
    const vectors = cases.filter((c) => c.label.startsWith('tests/vectors')).length;
    const api = cases.filter((c) => wellFormed(c.trace)).length;
    console.log(`${cases.length} traces (${vectors} from tests/vectors), ${api} of them well-formed enough for the Machine API`);
  });

  test('replay(trace) equals the expected output for every trace', () => {
    for (const c of cases) assert.deepEqual(api.replay(c.trace), c.expected, c.label);
  });

  test('Machine.step with RFC 3339 now equals the expected output for every well-formed trace', () => {
    let folded = 0;
    for (const c of cases.filter((c) => wellFormed(c.trace))) {
      assert.deepEqual(foldWithMachine(api, c.trace, (now) => now), c.expected, c.label);
      folded += 1;
    }
    assert.ok(folded >= 4);
  });

  test('Machine.step with epoch-millisecond now equals the expected output for every well-formed trace', () => {
    for (const c of cases.filter((c) => wellFormed(c.trace))) {
      assert.deepEqual(foldWithMachine(api, c.trace, nowAsMillis), c.expected, c.label);
    }
  });

  test('the pure step(state, event, now) equals the expected output for every well-formed trace', () => {
    for (const c of cases.filter((c) => wellFormed(c.trace))) {
      assert.deepEqual(foldWithPureStep(api, c.trace, nowAsMillis), c.expected, c.label);
    }
  });

  test('the require entry gives the same output as the import entry', () => {
    for (const c of cases.filter((c) => wellFormed(c.trace))) {
      assert.deepEqual(foldWithMachine(cjs, c.trace, (now) => now), c.expected, c.label);
    }
  });
});

describe('Machine', () => {
  test('folds the crash-and-recovery story: crash 12 s after activation, then recovered', () => {
    const m = new api.Machine(BOOT);
    m.healthProbe({ online: true, version: '1.1.0', activeJails: 2 }, T0);
    m.step({ type: 'jail_activated', jail_name: 'sshd' }, new Date(T0 + 30_000));
    assert.equal(m.nextDeadline(T0 + 42_000), '2026-04-27T16:43:30.000000Z');
    const crash = m.healthProbe({ online: false }, T0 + 42_000);
    assert.deepEqual(crash[1], {
      type: 'log',
      level: 'warning',
      event: 'activation_crash_detected',
      fields: { jail: 'sshd', seconds_since_activation: 12 },
    });
    m.healthProbe({ online: true, version: '1.1.0', activeJails: 3 }, T0 + 72_000);
    const state = m.state();
    assert.deepEqual(state.pending_recovery, {
      jail_name: 'sshd',
      activated_at: '2026-04-27T16:42:30.000000Z',
      detected_at: '2026-04-27T16:42:42.000000Z',
      recovered: true,
    });
    assert.equal(m.revision, 4);
    assert.equal(state.revision, 4);
    assert.equal(m.nextDeadline(T0 + 90_000 + 0.001), null);
  });

  test('healthProbe gives the same effects and state as the health_probe_completed event', () => {
    // fast: healthProbe (scalars, the core's steady-state effects kept in
    // JS and handed out again while the status repeats, version string
    // remembered on both sides); viaStep: the event with epoch ms (the
    // same fast path, else JSON text); slow: the event with a Date `now`
    // (the value converter and the general event path).
    const fast = new api.Machine(BOOT);
    const viaStep = new api.Machine(BOOT);
    const slow = new api.Machine(BOOT);
    const probes = [
      [{ online: true, version: '1.1.0', activeJails: 2 }, T0],
      [{ online: true, version: '1.1.0', activeJails: 2 }, T0 + 1],
      [{ online: false }, T0 + 2],
      [{ online: true, version: null }, T0 + 3],
      [{ online: true, version: '1.2.0', activeJails: 7 }, T0 + 4],
      [{ online: true, version: '1.2.0', activeJails: 7 }, T0 + 5],
      [{ online: true, version: '1.1.0' }, T0 + 6],
      [{ online: false, version: '1.1.0' }, T0 + 7],
      [{ online: false, version: '1.1.0', activeJails: 2 ** 53 - 1 }, T0 + 8],
      [{ online: true, version: 'v\u{1F600}' }, T0 + 9],
      [{ online: true, version: '1.1.0' }, T0 + 11],
    ];
    for (const m of [fast, viaStep, slow]) m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0);
    for (const [probe, now] of probes) {
      const status = { online: probe.online };
      if ('version' in probe) status.version = probe.version;
      if ('activeJails' in probe) status.active_jails = probe.activeJails;
      const expected = slow.step({ type: 'health_probe_completed', status }, new Date(now));
      assert.deepEqual(fast.healthProbe(probe, now), expected);
      assert.deepEqual(viaStep.step({ type: 'health_probe_completed', status }, now), expected);
      assert.deepEqual(fast.state(), slow.state());
      assert.deepEqual(viaStep.state(), slow.state());
    }
  });

  /** Whether `value` and everything in it is frozen. */
  function deeplyFrozen(value) {
    if (typeof value !== 'object' || value === null) return true;
    return Object.isFrozen(value) && Object.values(value).every(deeplyFrozen);
  }

  /** Asserts that `effects` is a non-trivial deeply frozen array that rejects changes (this module is strict code). */
  function assertFrozenEffects(effects, label) {
    assert.ok(Array.isArray(effects), label);
    assert.ok(deeplyFrozen(effects), `${label}: deeply frozen`);
    assert.throws(() => effects.push({ type: 'probe_backend_capability' }), TypeError, label);
    if (effects.length === 0) return;
    assert.throws(() => { effects[0] = null; }, TypeError, label);
    assert.throws(() => { effects[0].type = 'x'; }, TypeError, label);
    if (effects[0].fields !== undefined) assert.throws(() => { effects[0].fields.extra = 1; }, TypeError, label);
  }

  test('effects are deeply frozen on every path; states are fresh mutable copies', () => {
    const m = new api.Machine(BOOT);
    const probe = { online: true, version: '1.1.0', activeJails: 2 };
    const event = { type: 'health_probe_completed', status: { online: true, version: '1.1.0', active_jails: 2 } };
    const outputs = {
      'healthProbe, transition': m.healthProbe(probe, T0),
      'healthProbe, steady, new status': m.healthProbe({ ...probe, activeJails: 3 }, T0 + 1),
      'healthProbe, steady, same status': m.healthProbe({ ...probe, activeJails: 3 }, T0 + 2),
      'step, probe fast path': m.step(event, T0 + 3),
      'step, probe with an extra status key (JSON text)': m.step({ ...event, status: { ...event.status, extra: 1 } }, T0 + 4),
      'step, probe with a Date now (converter)': m.step(event, new Date(T0 + 5)),
      'healthProbe, mistyped (event path)': m.healthProbe({ online: false, activeJails: 2n }, T0 + 6),
      'step, no effect': m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 7),
      'step, settings': m.step({ type: 'settings_updated', overrides: { session_cache_enabled: false } }, T0 + 8),
      'step, backend probe': m.step({ type: 'backend_probe_requested' }, T0 + 9),
    };
    const pure = api.step(m.state(), { type: 'settings_updated', overrides: { session_cache_enabled: true } }, T0 + 10);
    outputs['the pure step'] = pure.effects;
    outputs['the pure step, no effect'] = api.step(m.state(), { type: 'activation_cleared' }, T0 + 10).effects;
    const replayed = api.replay({
      bootstrap: BOOT,
      steps: [
        { now: '2026-04-27T16:42:00Z', event: { type: 'settings_updated', overrides: { session_cache_ttl_seconds: 0 } } },
        { now: '2026-04-27T16:42:01Z', event: { type: 'activation_cleared' } },
      ],
    });
    outputs.replay = replayed[0].effects;
    outputs['replay, no effect'] = replayed[1].effects;
    for (const [label, effects] of Object.entries(outputs)) assertFrozenEffects(effects, label);
    assert.ok(Object.values(outputs).filter((e) => e.length > 0).length >= 9, 'most outputs have effects to check');

    // States are copies: never frozen, free to change.
    for (const state of [m.state(), pure.state, replayed[0].state]) {
      assert.ok(!Object.isFrozen(state) && !Object.isFrozen(state.server_status));
      state.server_status.active_jails = 99;
    }
    assert.equal(m.state().server_status.active_jails, 2);
  });

  test('a steady probe after a transition gives the core\'s effects, the same frozen array while the status repeats', () => {
    // The core's effects: the general event path (a Date now), never kept.
    const core = new api.Machine(BOOT);
    const m = new api.Machine(BOOT);
    const probe = (p, now) => {
      const status = { online: p.online, version: p.version ?? null, active_jails: p.activeJails ?? 0 };
      const expected = core.step({ type: 'health_probe_completed', status }, new Date(now));
      const effects = m.healthProbe(p, now);
      assert.deepEqual(effects, expected, JSON.stringify(p));
      assert.deepEqual(m.state(), core.state());
      return effects;
    };
    const up = { online: true, version: '1.1.0', activeJails: 2 };
    const first = probe(up, T0); // came online
    assert.equal(first.length, 2);
    const steady = probe(up, T0 + 1);
    assert.deepEqual(steady, [
      { type: 'log', level: 'debug', event: 'health_check_complete', fields: { online: true, version: '1.1.0', active_jails: 2 } },
    ]);
    assert.equal(probe(up, T0 + 2), steady, 'the kept array, not a copy');
    const event = { type: 'health_probe_completed', status: { online: true, version: '1.1.0', active_jails: 2 } };
    assert.equal(m.step(event, T0 + 3), steady, 'step gives the kept array too');
    core.step(event, new Date(T0 + 3));
    // Down and up again: transitions, then the steady probe as before.
    assert.equal(probe({ online: false }, T0 + 4).length, 2);
    assert.equal(probe({ online: false }, T0 + 5).length, 1); // steady offline: another status
    assert.equal(probe(up, T0 + 6).length, 2);
    assert.deepEqual(probe(up, T0 + 7), steady);
    assert.equal(probe(up, T0 + 8), probe(up, T0 + 9));
  });

  test('a steady probe with another status never gets the kept effects', () => {
    const core = new api.Machine(BOOT);
    const m = new api.Machine(BOOT);
    const statuses = [
      { online: true, version: '1.1.0', activeJails: 2 },
      { online: true, version: '1.1.0', activeJails: 2 },
      { online: true, version: '1.1.0', activeJails: 3 },
      { online: true, version: '1.2.0', activeJails: 3 },
      { online: true, version: null, activeJails: 3 },
      { online: true, activeJails: 3 },
      { online: true, version: '1.2.0', activeJails: 3 },
      { online: true, version: '1.1.0', activeJails: 2 },
      { online: true, version: '1.1.0', activeJails: 2 },
      { online: true, version: '1.1.0' },
      { online: true, version: '1.1.0', activeJails: 2 ** 53 - 1 },
    ];
    let previous;
    statuses.forEach((p, i) => {
      const status = { online: p.online, version: p.version ?? null, active_jails: p.activeJails ?? 0 };
      const expected = core.step({ type: 'health_probe_completed', status }, new Date(T0 + i));
      const effects = i % 2 === 0 ? m.healthProbe(p, T0 + i) : m.step({ type: 'health_probe_completed', status }, T0 + i);
      assert.deepEqual(effects, expected, `probe ${i}: ${JSON.stringify(p)}`);
      assert.deepEqual(effects.at(-1).fields, status, `probe ${i}`);
      const sameStatus = previous !== undefined && JSON.stringify(previous.at(-1).fields) === JSON.stringify(status);
      if (!sameStatus && previous !== undefined) assert.notEqual(effects, previous, `probe ${i}: new effects for a new status`);
      previous = effects;
    });
  });

  test('outputs are plain objects and arrays, not Maps', () => {
    const m = new api.Machine({ ...BOOT, nested: { a: [1, { b: 'c' }] } });
    const effects = m.step({ type: 'settings_updated', overrides: { session_cache_enabled: false } }, T0);
    const state = m.state();
    assert.ok(Array.isArray(effects));
    for (const value of [effects[0], state, state.server_status, state.bootstrap_settings, state.bootstrap_settings.nested.a[1], state.runtime_settings]) {
      assert.equal(Object.getPrototypeOf(value), Object.prototype);
    }
    assert.deepEqual(JSON.parse(JSON.stringify(state)), state);
    assert.deepEqual(state.runtime_settings.nested, { a: [1, { b: 'c' }] }, 'unknown settings keys are carried through');
  });

  test('restore round trip: Machine.restore(m.state()) has the same state and continues identically', () => {
    const m = new api.Machine(BOOT);
    m.healthProbe({ online: true, version: '1.1.0', activeJails: 2 }, T0);
    m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 1000);
    m.step({ type: 'backend_probe_requested' }, T0 + 2000);
    const copy = api.Machine.restore(JSON.parse(JSON.stringify(m.state())));
    assert.deepEqual(copy.state(), m.state());
    assert.equal(copy.revision, m.revision);
    const event = { type: 'health_probe_completed', status: { online: false } };
    assert.deepEqual(copy.step(event, T0 + 5000), m.step(event, T0 + 5000));
    assert.deepEqual(copy.state(), m.state());
  });

  test('now in epoch milliseconds is rounded to the nearest microsecond (ties to even)', () => {
    const at = (now) => {
      const m = new api.Machine(BOOT);
      m.step({ type: 'jail_activated', jail_name: 'j' }, now);
      return m.state().last_activation.at;
    };
    assert.equal(at(0.0004), '1970-01-01T00:00:00.000000Z');
    assert.equal(at(0.0006), '1970-01-01T00:00:00.000001Z');
    assert.equal(at(T0 + 0.0006), '2026-04-27T16:42:00.000000Z'); // the double nearest is T0 + 0.000488 ms
    assert.equal(at(T0 + 0.123), '2026-04-27T16:42:00.000123Z');
    assert.equal(at(1.123456), '1970-01-01T00:00:00.001123Z');
    assert.equal(at(0.0625), '1970-01-01T00:00:00.000062Z'); // exactly 62.5 us: to even
    assert.equal(at(0.1875), '1970-01-01T00:00:00.000188Z'); // exactly 187.5 us: to even
    assert.equal(at(-0.0015), '1969-12-31T23:59:59.999998Z');
    assert.equal(at(new Date(T0 + 5)), '2026-04-27T16:42:00.005000Z');
    assert.equal(at('2026-04-27T18:42:00.1234569+02:00'), '2026-04-27T16:42:00.123456Z');
    // Every microsecond of a second survives the trip through a double in ms.
    for (let us = 0n; us < 1_000_000n; us += 997n) {
      const micros = BigInt(T0) * 1000n + us;
      const iso = at(Number(micros) / 1000);
      assert.equal(rfc3339ToMicros(iso), micros, iso);
    }
  });

  test('nextDeadline follows the crash window and a probe in flight, null when nothing is pending', () => {
    const m = new api.Machine(BOOT);
    assert.equal(m.nextDeadline(T0), null);
    m.step({ type: 'backend_probe_requested' }, T0);
    assert.equal(m.nextDeadline(T0), '2026-04-27T16:42:30.000000Z');
    m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 10_000);
    assert.equal(m.nextDeadline(T0 + 10_000), '2026-04-27T16:42:30.000000Z');
    assert.equal(m.nextDeadline(T0 + 30_000), '2026-04-27T16:43:10.000000Z');
    assert.equal(m.nextDeadline('2026-04-27T16:43:10Z'), '2026-04-27T16:43:10.000000Z');
    assert.equal(m.nextDeadline('2026-04-27T16:43:10.000001Z'), null);
    const current = m.nextDeadline(); // defaults to the current time
    assert.ok(current === null || typeof current === 'string');
  });

  test('free() releases the machine; using it afterwards throws instead of crashing', () => {
    const m = new api.Machine(BOOT);
    m.free();
    assert.throws(() => m.state());
    assert.throws(() => m.step({ type: 'activation_cleared' }, T0));
    assert.throws(() => m.revision, api.InvalidStateError);
    m.free(); // again: nothing to do
    const other = new api.Machine(BOOT);
    assert.equal(other.revision, 0, 'other machines are unaffected');
  });

  test('machines dropped without free() are reclaimed by the garbage collector', () => {
    // In a child process with --expose-gc: 250 machines holding 1 MiB of
    // settings each, dropped without free(), with a GC every 10. Freed by the
    // FinalizationRegistry (--weak-refs), the resident size barely grows; the
    // control run keeps them alive and grows by ~250 MiB.
    const script = join(CONSUMER, 'gc-check.cjs');
    writeFileSync(
      script,
      `const { Machine } = require('bangui-state');
const settings = { session_cache_enabled: true, session_cache_ttl_seconds: 1, big: 'x'.repeat(1 << 20) };
const keep = process.argv[2] === 'keep' ? [] : null;
const tick = () => new Promise((r) => setTimeout(r, 0));
(async () => {
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 250; i += 1) {
    const m = new Machine(settings);
    if (keep) keep.push(m);
    if (i % 10 === 9) { globalThis.gc(); await tick(); }
  }
  globalThis.gc(); await tick();
  console.log(JSON.stringify({ growthMiB: (process.memoryUsage().rss - rss0) / 2 ** 20, kept: keep ? keep.length : 0 }));
})();
`,
    );
    const growth = (...args) =>
      JSON.parse(execFileSync(process.execPath, ['--expose-gc', script, ...args], { cwd: CONSUMER, encoding: 'utf8' })).growthMiB;
    const dropped = growth();
    const kept = growth('keep');
    assert.ok(kept > 200, `the control keeps 250 MiB alive (grew ${kept.toFixed(0)} MiB)`);
    assert.ok(dropped < 100, `dropped machines are freed (grew ${dropped.toFixed(0)} MiB)`);
  });
});

describe('bad input throws the right error and leaves the machine unchanged', () => {
  function machineAfterSomeSteps() {
    const m = new api.Machine(BOOT);
    m.healthProbe({ online: true, version: '1.1.0', activeJails: 2 }, T0);
    m.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 1000);
    return m;
  }

  function expectRejected(m, act, ErrorClass, kind, message, { usable = true } = {}) {
    const before = m.state();
    const revision = m.revision;
    assert.throws(act, (error) => {
      assert.ok(error instanceof ErrorClass, `${error.name} is a ${ErrorClass.name}`);
      assert.ok(error instanceof api.BanguiStateError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, ErrorClass.name);
      assert.equal(error.kind, kind);
      if (message instanceof RegExp) assert.match(error.message, message);
      else assert.equal(error.message, message);
      assert.ok(error.message.startsWith(error.path), 'the message starts with the path');
      return true;
    });
    assert.deepEqual(m.state(), before);
    assert.equal(m.revision, revision);
    if (!usable) return;
    // Still usable.
    const probe = api.step(m.state(), { type: 'setup_completion_cached', complete: true }, T0 + 2000);
    assert.equal(probe.state.revision, revision + 1);
  }

  test('malformed events throw InvalidEventError naming the field', () => {
    const m = machineAfterSomeSteps();
    const E = api.InvalidEventError;
    const bad = (event, message) => expectRejected(m, () => m.step(event, T0 + 2000), E, 'invalid_event', message);
    bad({ type: 'health_probe_completed', status: { online: 'yes' } }, 'event.status.online: expected a boolean, found a string');
    bad({ type: 'health_probe_completed', status: { online: true, active_jails: -1 } }, /^event\.status\.active_jails: /);
    bad({ type: 'nope' }, /^event\.type: unknown event type "nope"/);
    bad({ jail_name: 'sshd' }, /^event\.type: /);
    bad(null, 'event: expected an object, found null');
    bad(undefined, 'event: expected an object, found null');
    bad('jail_activated', 'event: expected an object, found a string');
    bad({ type: 'jail_activated' }, /^event\.jail_name: /);
    bad({ type: 'jail_activated', jail_name: 'sshd', at: 'yesterday' }, /^event\.at: /);
    bad({ type: 'activation_cleared', extra: 1 }, /^event\.extra: unknown field/);
    bad({ type: 'settings_updated', overrides: { session_cache_ttl_seconds: 'x' } }, /^event\.overrides\.session_cache_ttl_seconds: /);
    bad({ type: 'settings_updated', overrides: { session_cache_ttl_seconds: NaN } }, 'event.overrides.session_cache_ttl_seconds: expected a finite number, found NaN');
    bad({ type: 'settings_updated', overrides: { x: -Infinity } }, 'event.overrides.x: expected a finite number, found -Infinity');
    bad({ type: 'settings_updated', overrides: { x: () => 1 } }, 'event.overrides.x: expected a JSON value, found a function');
    bad({ type: 'jail_activated', jail_name: 'sshd', at: new Date(T0) }, /^event\.at: expected a JSON value, found a Date/);
    bad({ type: 'jail_activated', get jail_name() { throw new Error('boom'); } }, 'event.jail_name: reading it threw: boom');
    bad(new Proxy({}, { ownKeys() { throw new TypeError('trap'); } }), 'event: reading it threw: trap');
    bad({ type: 'settings_updated', overrides: { x: new Array(2 ** 21) } }, 'event.overrides.x: the input is too large: over 262144 values (the limit of one input)');
    bad({ type: 'settings_updated', overrides: { x: new Uint8Array(2) } }, /^event\.overrides\.x: expected a JSON value, found a typed array/);
    bad({ type: 'settings_updated', overrides: { x: [1, Symbol('s')] } }, 'event.overrides.x[1]: expected a JSON value, found a symbol');
    bad({ type: 'settings_updated', overrides: { x: 2n ** 70n } }, /^event\.overrides\.x: .*BigInt/);
  });

  test('healthProbe with a mistyped probe throws the event path error', () => {
    const m = machineAfterSomeSteps();
    const E = api.InvalidEventError;
    expectRejected(m, () => m.healthProbe({ online: 'yes' }, T0), E, 'invalid_event', 'event.status.online: expected a boolean, found a string');
    expectRejected(m, () => m.healthProbe({ online: true, version: 1 }, T0), E, 'invalid_event', /^event\.status\.version: /);
    expectRejected(m, () => m.healthProbe({ online: true, activeJails: 1.5 }, T0), E, 'invalid_event', /^event\.status\.active_jails: /);
    expectRejected(m, () => m.healthProbe({ online: true, activeJails: -2 }, T0), E, 'invalid_event', /^event\.status\.active_jails: /);
    expectRejected(m, () => m.healthProbe(null, T0), E, 'invalid_event', 'event.status: expected an object, found null');
    expectRejected(m, () => m.healthProbe({ online: true }, NaN), api.InvalidInstantError, 'invalid_instant', /^now: /);
    expectRejected(m, () => m.healthProbe({ online: true, get version() { throw new Error('v'); } }, T0), E, 'invalid_event', 'event.status.version: reading it threw: v');
    expectRejected(m, () => m.healthProbe(() => 1, T0), E, 'invalid_event', 'event.status: expected a JSON value, found a function');
  });

  test('healthProbe with a Date or RFC 3339 now gives the fast path\'s effects', () => {
    const a = machineAfterSomeSteps();
    const b = machineAfterSomeSteps();
    const probe = { online: false, version: null, activeJails: 0 };
    assert.deepEqual(a.healthProbe(probe, new Date(T0 + 1000)), b.healthProbe(probe, T0 + 1000));
    assert.deepEqual(a.healthProbe({ ...probe, online: true }, new Date(T0 + 2000).toISOString()), b.healthProbe({ ...probe, online: true }, T0 + 2000));
    assert.deepEqual(a.state(), b.state());
  });

  test('a bad now throws InvalidInstantError', () => {
    const m = machineAfterSomeSteps();
    const E = api.InvalidInstantError;
    const ev = { type: 'activation_cleared' };
    const bad = (now, message) => expectRejected(m, () => m.step(ev, now), E, 'invalid_instant', message);
    bad(NaN, 'now: expected finite epoch milliseconds, found NaN');
    bad(Infinity, 'now: expected finite epoch milliseconds, found Infinity');
    bad(8.64e15 * 1000, /^now: .* is outside the supported range/);
    bad(253402300800000, /^now: .*outside the supported range/); // 10000-01-01
    bad(-62135596800001, /^now: .*outside the supported range/); // before 0001-01-01
    bad(new Date(NaN), 'now: expected a valid Date, found an Invalid Date');
    bad('yesterday', /^now: expected an RFC 3339 instant like .*"yesterday"/);
    bad(undefined, 'now: expected a Date, epoch milliseconds (a number) or an RFC 3339 string, found undefined');
    bad({}, /found an object$/);
    bad(10n, /found a BigInt$/);
    // The last microseconds of the range are fine.
    const last = api.step(m.state(), { type: 'jail_activated', jail_name: 'j' }, 253402300799999.96875);
    assert.equal(last.state.last_activation.at, '9999-12-31T23:59:59.999969Z');
  });

  test('bad bootstrap settings throw InvalidSettingsError', () => {
    const E = api.InvalidSettingsError;
    assert.throws(() => new api.Machine({ session_cache_enabled: true }), (e) => e instanceof E && e.path === 'bootstrap.session_cache_ttl_seconds');
    assert.throws(() => new api.Machine({ session_cache_enabled: 1, session_cache_ttl_seconds: 1 }), (e) => e instanceof E && /^bootstrap\.session_cache_enabled: /.test(e.message));
    assert.throws(() => new api.Machine(null), (e) => e instanceof E && e.message === 'bootstrap: expected an object, found null');
    assert.throws(() => new api.Machine({ ...BOOT, x: NaN }), (e) => e instanceof E && e.message === 'bootstrap.x: expected a finite number, found NaN');
  });

  test('bad states are refused by restore and by the pure step', () => {
    const good = new api.Machine(BOOT).state();
    assert.throws(() => api.Machine.restore({ ...good, schema_version: 2 }), (e) => e instanceof api.UnknownSchemaVersionError && e.kind === 'unknown_schema_version' && e instanceof api.InvalidStateError);
    assert.throws(() => api.Machine.restore({ ...good, revision: -1 }), (e) => e instanceof api.InvalidStateError && e.path === 'state.revision');
    assert.throws(() => api.Machine.restore({ ...good, session_cache: 'no_op' }), api.InvalidStateError);
    assert.throws(() => api.step({ ...good, server_status: 3 }, { type: 'activation_cleared' }, T0), (e) => e instanceof api.InvalidStateError && /^state\.server_status: /.test(e.message));
    // The pure step reads the state first, then now, then the event (as a trace step is read).
    assert.throws(() => api.step({ ...good, revision: -1 }, { type: 'nope' }, NaN), (e) => e instanceof api.InvalidStateError && e.path === 'state.revision');
    assert.throws(() => api.step(good, { type: 'nope' }, NaN), (e) => e instanceof api.InvalidInstantError && e.path === 'now');
    assert.throws(() => api.step(good, { type: 'nope' }, T0), (e) => e instanceof api.InvalidEventError && e.path === 'event.type');
    const copy = structuredClone(good);
    const { state, effects } = api.step(good, { type: 'health_probe_completed', status: { online: false } }, T0 + 1);
    assert.deepEqual(good, copy, 'the input state is not modified');
    assert.equal(state.revision, good.revision + 1);
    assert.ok(Object.isFrozen(effects) && effects.length > 0);
    assert.throws(() => api.Machine.restore('{}'), api.InvalidStateError);
  });

  test('an exhausted revision throws RevisionExhaustedError and keeps the state', () => {
    const state = { ...new api.Machine(BOOT).state(), revision: 2n ** 64n - 1n };
    const m = api.Machine.restore(state);
    assert.equal(m.revision, 2n ** 64n - 1n, 'revisions beyond 2^53 come back as BigInt');
    const exhausted = 'state.revision: at its maximum; no further event can be counted';
    expectRejected(m, () => m.step({ type: 'activation_cleared' }, T0), api.RevisionExhaustedError, 'revision_exhausted', exhausted, { usable: false });
    // The probe fast path (an error code, then the error taken from the wasm side), new version and same version.
    const probe = { type: 'health_probe_completed', status: { online: true, version: '1.1.0' } };
    expectRejected(m, () => m.healthProbe({ online: true, version: '1.1.0' }, T0), api.RevisionExhaustedError, 'revision_exhausted', exhausted, { usable: false });
    expectRejected(m, () => m.step(probe, T0), api.RevisionExhaustedError, 'revision_exhausted', exhausted, { usable: false });
    expectRejected(m, () => m.healthProbe({ online: false }, T0), api.RevisionExhaustedError, 'revision_exhausted', exhausted, { usable: false });
  });

  test('throwing getters and proxy traps, many times over, never corrupt the module', () => {
    const m = machineAfterSomeSteps();
    const before = m.state();
    const throwing = { type: 'jail_activated', get jail_name() { throw new Error('boom'); } };
    const trap = new Proxy({}, { getPrototypeOf() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } });
    for (let i = 0; i < 100_000; i += 1) {
      assert.throws(() => m.step(throwing, T0), api.InvalidEventError);
      if (i % 1000 === 0) {
        assert.throws(() => m.step({ type: 'activation_cleared' }, trap), api.InvalidInstantError);
        assert.throws(() => m.healthProbe({ online: true, get version() { throw new Error('v'); } }, T0), api.InvalidEventError);
      }
    }
    assert.deepEqual(m.state(), before);
    m.step({ type: 'jail_activated', jail_name: 'after' }, T0);
    assert.equal(m.state().last_activation.jail_name, 'after');
    // A getter that re-enters the machine is fine; one that frees it is an error, not a crash.
    const reentrant = { type: 'jail_activated', get jail_name() { m.step({ type: 'setup_completion_cached', complete: true }, T0); return 'outer'; } };
    m.step(reentrant, T0);
    assert.equal(m.state().last_activation.jail_name, 'outer');
    assert.equal(m.state().setup_complete_cached, true);
    // A getter that frees the machine: every input is read before the
    // module is entered, and the machine is looked up after that, so the
    // step throws as on any freed machine.
    assert.throws(() => m.step({ type: 'jail_activated', get jail_name() { m.free(); return 'x'; } }, T0), (e) => e instanceof api.InvalidStateError && /was freed/.test(e.message));
    assert.throws(() => m.state(), api.InvalidStateError);
    assert.equal(new api.Machine(BOOT).revision, 0);
  });

  test('cyclic and deeply nested input is an error, not a crash', () => {
    const m = machineAfterSomeSteps();
    const cyclic = { type: 'settings_updated', overrides: {} };
    cyclic.overrides.self = cyclic.overrides;
    expectRejected(m, () => m.step(cyclic, T0), api.InvalidEventError, 'invalid_event', /nested deeper than 128 levels/);
    let deep = 1;
    for (let i = 0; i < 10_000; i += 1) deep = [deep];
    expectRejected(m, () => m.step({ type: 'settings_updated', overrides: { deep } }, T0), api.InvalidEventError, 'invalid_event', /nested deeper than 128 levels/);
    let fine = 1;
    for (let i = 0; i < 100; i += 1) fine = [fine];
    m.step({ type: 'settings_updated', overrides: { fine } }, T0);
    assert.deepEqual(m.state().runtime_settings.fine, fine);
  });
});
