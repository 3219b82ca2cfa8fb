'use strict';
// Run by hostile.test.mjs in a child process, with --expose-gc, inside a
// project where the packed package is installed:
//
//   node --expose-gc rejected-calls.cjs CLASS COUNT
//
// Makes COUNT rejected calls of one class and prints, as JSON, what the
// module and the JS heap looked like after a warm-up and at the end: the
// externref table's length and the wasm memory's size (both must not grow
// at all), the JS heap after a full GC, and whether calls on a fresh machine
// and on a machine made before still work, after 2000 machines were dropped
// and reclaimed (their finalizers free them in the module).

// The module's own exports (its externref table and memory), which the
// package does not expose: the instance is captured as the package makes it.
const NativeInstance = WebAssembly.Instance;
let wasmExports = null;
WebAssembly.Instance = function Instance(module, imports) {
  const instance = new NativeInstance(module, imports);
  wasmExports = instance.exports;
  return instance;
};
const api = require('bangui-state');

const [kind, countText] = process.argv.slice(2);
const count = Number(countText);
const BOOT = { session_cache_enabled: true, session_cache_ttl_seconds: 3600 };
const T0 = Date.parse('2026-04-27T16:42:00Z');

const bystander = new api.Machine(BOOT);
bystander.healthProbe({ online: true, version: '1.1.0' }, T0);
bystander.step({ type: 'jail_activated', jail_name: 'sshd' }, T0 + 1000);
const freed = new api.Machine(BOOT);
freed.free();
const target = new api.Machine(BOOT);
const throwingGetter = { type: 'jail_activated', get jail_name() { throw new Error('boom'); } };
const throwingKeys = new Proxy({}, { ownKeys() { throw new TypeError('trap'); } });
const loneSurrogate = { type: 'jail_activated', jail_name: 'a\uD800b' };

/** One rejected call of the class; returns the error's class name. */
const calls = {
  // Every public method on a freed machine, in turn.
  freed(i) {
    switch (i % 6) {
      case 0: return freed.step({ type: 'activation_cleared' }, T0);
      case 1: return freed.healthProbe({ online: true, version: '1.1.0' }, T0);
      case 2: return freed.state();
      case 3: return freed.revision;
      case 4: return freed.nextDeadline(T0);
      default: return freed.step({ type: 'health_probe_completed', status: { online: true } }, T0);
    }
  },
  getter: () => target.step(throwingGetter, T0),
  ownKeys: () => target.step(throwingKeys, T0),
  surrogate: () => target.step(loneSurrogate, T0),
  probeGetter: () => target.healthProbe({ online: true, get version() { throw new Error('v'); } }, T0),
  // Refused inside the module (an unknown event type): the error crosses back as a value.
  unknownType: () => target.step({ type: 'nope' }, T0),
};
const call = calls[kind];
if (call === undefined) throw new Error(`unknown class ${kind}`);

function reject(i) {
  try {
    call(i);
  } catch (error) {
    if (!(error instanceof api.BanguiStateError)) throw error;
    return;
  }
  throw new Error(`call ${i} of ${kind} was not rejected`);
}

function measure() {
  globalThis.gc();
  globalThis.gc();
  return {
    table: wasmExports.__wbindgen_externrefs.length,
    memory: wasmExports.memory.buffer.byteLength,
    heap: process.memoryUsage().heapUsed,
  };
}

const warmup = Math.min(10_000, count);
for (let i = 0; i < warmup; i += 1) reject(i);
const before = measure();
for (let i = warmup; i < count; i += 1) reject(i);
const after = measure();

// Everything still works: a machine made before, a new one, the pure step,
// and the finalizers of machines dropped without free() (they used to trap
// once the module was corrupted).
(async () => {
  const dropped = new FinalizationRegistry(() => { collected += 1; });
  let collected = 0;
  for (let i = 0; i < 2000; i += 1) {
    const machine = new api.Machine(BOOT);
    machine.step({ type: 'jail_activated', jail_name: `j${i}` }, T0);
    dropped.register(machine, i);
  }
  for (let i = 0; i < 10 && collected < 2000; i += 1) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const effects = bystander.healthProbe({ online: false }, T0 + 5000);
  const fresh = new api.Machine(BOOT);
  fresh.step({ type: 'jail_activated', jail_name: 'after' }, T0);
  const pure = api.step(fresh.state(), { type: 'activation_cleared' }, T0);
  console.log(JSON.stringify({
    before,
    after,
    bystanderRevision: bystander.revision,
    bystanderCrash: effects.some((e) => e.event === 'activation_crash_detected'),
    freshJail: fresh.state().last_activation.jail_name,
    pureRevision: pure.state.revision,
    targetRevision: target.revision,
    droppedCollected: collected,
  }));
})();
