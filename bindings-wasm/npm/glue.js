// The package's JavaScript half of the boundary, shared by every entry point
// (the Node entry gets a CommonJS twin, node/glue.cjs, made by build.sh).
//
// Outputs cross as JSON text and become plain objects with JSON.parse (one
// string instead of one wasm import call per key and value); effects are then
// deeply frozen (see deepFreeze), states are not. Inputs cross as values and
// are read by the wasm side's value converter, which names what is wrong and
// where (NaN, functions, Dates, BigInts, cycles, deep nesting, throwing
// getters, typed arrays); no JSON text goes in, so the module carries no JSON
// reader (~17 KB). The health probe's fast path crosses with scalars only.

const SURROGATE = /[\uD800-\uDFFF]/;
const OBJECT_PROTO = Object.prototype;

/**
 * A wasm result: JSON text, parsed here. Text marked with a leading `!` has
 * an integer of 16 digits or more (only reachable from BigInt input, e.g. a
 * revision beyond 2^53): it is read by `parseWide`, which gives integers
 * beyond Number.MAX_SAFE_INTEGER as BigInts instead of rounding them.
 */
function out(text) {
  return text.charCodeAt(0) === 33 ? parseWide(text.slice(1)) : JSON.parse(text);
}

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;

/** JSON.parse for the core's own (valid, compact) output, wide integers as BigInts. */
function parseWide(text) {
  let at = 0;
  function value() {
    const c = text[at];
    if (c === '{') {
      const object = {};
      at += 1;
      if (text[at] === '}') { at += 1; return object; }
      for (;;) {
        const key = string();
        at += 1; // ':'
        const item = value();
        // As JSON.parse: an own "__proto__" key, never the prototype.
        if (key === '__proto__') Object.defineProperty(object, key, { value: item, enumerable: true, writable: true, configurable: true });
        else object[key] = item;
        if (text[at++] === '}') return object; // else ','
      }
    }
    if (c === '[') {
      const array = [];
      at += 1;
      if (text[at] === ']') { at += 1; return array; }
      for (;;) {
        array.push(value());
        if (text[at++] === ']') return array; // else ','
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', at)) { at += 4; return true; }
    if (text.startsWith('false', at)) { at += 5; return false; }
    if (text.startsWith('null', at)) { at += 4; return null; }
    NUMBER.lastIndex = at;
    const match = NUMBER.exec(text);
    if (match === null) throw new SyntaxError(`bangui-state: unexpected output at ${at}`);
    at = NUMBER.lastIndex;
    const number = Number(match[0]);
    return match[1] === undefined && match[2] === undefined && !Number.isSafeInteger(number) ? BigInt(match[0]) : number;
  }
  function string() {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (match === null) throw new SyntaxError(`bangui-state: unexpected output at ${at}`);
    at = STRING.lastIndex;
    return JSON.parse(match[0]);
  }
  return value();
}

function safeCount(value) {
  return value === undefined || (Number.isSafeInteger(value) && value >= 0);
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === OBJECT_PROTO || proto === null;
}

// What `__probe` and `__probeSameVersion` return (lib.rs, `probe_code`): a
// number, so the steady probe crosses back without a string or an object.
/** A steady probe whose status equals the last steady one's: the kept effects. */
const KEPT = 0;
/** A steady probe with another status: its effects from `__takeOutput`, kept. */
const STEADY = 1;
/** A transition: the effects from `__takeOutput`. */
const TRANSITION = 2;

/**
 * The probe fast path: `online`, `version`, `activeJails` and epoch ms cross
 * as scalars and a code comes back. The effects always come from the core:
 * as text taken with `__takeOutput`, or, for a steady probe (no transition)
 * whose status equals the last steady one's, the very (frozen) array this
 * machine kept from that probe. An error is taken with `__takeError` and
 * thrown. `undefined` from this function means "not fast".
 */
function fastProbe(machine, online, version, jails, now) {
  if (typeof online !== 'boolean' || !safeCount(jails)) return undefined;
  if (jails === undefined) jails = 0;
  let code;
  if (version == null) {
    code = machine.__probe(online, undefined, jails, now);
  } else if (version === machine[LAST_VERSION]) {
    // A string checked (below) when it was sent.
    code = machine.__probeSameVersion(online, jails, now);
  } else if (typeof version === 'string' && !SURROGATE.test(version)) {
    machine[LAST_VERSION] = version; // the wasm side remembers it too, first thing
    code = machine.__probe(online, version, jails, now);
  } else {
    return undefined; // not a string, or lone surrogates, which the converter replaces: let it
  }
  if (code === KEPT) {
    const kept = machine[STEADY_EFFECTS];
    // Only reachable by calling the private __probe methods directly; never
    // fall back to the slow path here, which would apply the probe twice.
    if (kept === undefined) throw new Error('bangui-state: internal error: no steady-state effects kept');
    return kept;
  }
  if (code === STEADY) return (machine[STEADY_EFFECTS] = effectsOut(machine.__takeOutput()));
  if (code === TRANSITION) return effectsOut(machine.__takeOutput());
  throw machine.__takeError();
}

/**
 * The effects of this machine's last steady-state probe, as the core made
 * them (frozen): the wasm side returns KEPT for a steady probe whose status
 * equals that one's, and the caller gets this same array.
 */
const STEADY_EFFECTS = Symbol('bangui-state steady probe effects');

/**
 * Freezes JSON data (the core's output) deeply, arrays and objects, and
 * returns it. Every array of effects handed out is frozen, on every path:
 * so the steady probe can hand out the same array again without a copy,
 * under one rule for all effects. States are not frozen (each is a copy).
 */
function deepFreeze(value) {
  if (typeof value === 'object' && value !== null) {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i += 1) deepFreeze(value[i]);
    } else {
      for (const key in value) deepFreeze(value[key]);
    }
    Object.freeze(value);
  }
  return value;
}

/**
 * The effects of a step that has none: one shared frozen array (freezing a
 * fresh empty array measured ~0.2 µs, as long as parsing it).
 */
const NO_EFFECTS = Object.freeze([]);

/** An array of effects, deeply frozen. */
function frozenEffects(effects) {
  return effects.length === 0 ? NO_EFFECTS : deepFreeze(effects);
}

/** An array of effects from the wasm side's text, deeply frozen. */
function effectsOut(text) {
  return text === '[]' ? NO_EFFECTS : deepFreeze(out(text));
}

/** The version string last sent to this machine's `__probe` (kept on both sides). */
const LAST_VERSION = Symbol('bangui-state last probe version');

/** Whether `event` is exactly a plain health_probe_completed event with the three known status keys at most. */
function isPlainProbeEvent(event) {
  if (!isPlainObject(event) || event.type !== 'health_probe_completed') return false;
  for (const key in event) if (key !== 'type' && key !== 'status') return false;
  const status = event.status;
  if (!isPlainObject(status)) return false;
  for (const key in status) if (key !== 'online' && key !== 'version' && key !== 'active_jails') return false;
  return true;
}

/**
 * The `health_probe_completed` event for a probe the fast path did not take
 * (a mistyped field, a `Date` or string `now`): `activeJails` renamed to
 * `active_jails`, each field read once. A getter that threw becomes a getter
 * that throws the same value, so the event path reports it under its name.
 */
function probeEvent(probe) {
  if (probe === null || typeof probe !== 'object') {
    return { type: 'health_probe_completed', status: probe };
  }
  const status = {};
  for (const [from, to] of PROBE_FIELDS) {
    let value;
    try {
      value = probe[from];
    } catch (thrown) {
      Object.defineProperty(status, to, { enumerable: true, get() { throw thrown; } });
      continue;
    }
    if (value !== undefined) status[to] = value;
  }
  return { type: 'health_probe_completed', status };
}

const PROBE_FIELDS = [['online', 'online'], ['version', 'version'], ['activeJails', 'active_jails']];

/** Installs the public methods on the wasm-bindgen classes; returns the free functions. */
export function install(wasm) {
  const proto = wasm.Machine.prototype;
  proto.step = function step(event, now) {
    if (typeof now === 'number') {
      let plainProbe = false;
      let online;
      let version;
      let jails;
      try {
        if (isPlainProbeEvent(event)) {
          const status = event.status;
          online = status.online;
          version = status.version;
          jails = status.active_jails;
          plainProbe = true;
        }
      } catch {
        plainProbe = false; // a throwing getter: the converter reports it
      }
      if (plainProbe) {
        const effects = fastProbe(this, online, version, jails, now);
        if (effects !== undefined) return effects;
      }
    }
    return effectsOut(this.__step(event, now));
  };
  proto.healthProbe = function healthProbe(probe, now) {
    if (typeof now === 'number' && probe !== null && typeof probe === 'object') {
      let read = false;
      let online;
      let version;
      let jails;
      try {
        online = probe.online;
        version = probe.version;
        jails = probe.activeJails;
        read = true;
      } catch {
        read = false; // a throwing getter: the general path reports it
      }
      if (read) {
        const effects = fastProbe(this, online, version, jails, now);
        if (effects !== undefined) return effects;
      }
    }
    return this.step(probeEvent(probe), now);
  };
  proto.state = function state() {
    return out(this.__state());
  };
  return {
    // The pure form is the core's step (a copy of the state, then the
    // event): a machine restored from `state`, stepped once, then freed.
    step(state, event, now) {
      const machine = wasm.Machine.restore(state);
      try {
        const effects = machine.step(event, now);
        return { state: machine.state(), effects };
      } finally {
        machine.free();
      }
    },
    replay(trace) {
      const steps = out(wasm.__replay(trace));
      for (const step of steps) {
        if (step.effects !== undefined) step.effects = frozenEffects(step.effects); // an {error, state} step has none
      }
      return steps;
    },
  };
}
