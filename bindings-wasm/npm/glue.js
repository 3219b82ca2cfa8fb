// The package's JavaScript half of the boundary, shared by every entry point
// (the Node entry gets a CommonJS twin, node/glue.cjs, made by build.sh).
//
// No JavaScript exception may unwind through WebAssembly frames: it would
// skip the module's cleanup (its shadow stack pointer is not restored), and
// after a few thousand such unwinds every call fails. So everything that can
// throw, or run the caller's code, happens here, before the module is
// entered: the machine's handle is checked (a freed machine throws here),
// and every input is read once into a plain copy (`readInput`: getters and
// proxy traps run here, lone surrogates, Dates, toJSON, boxed primitives and
// other non-plain objects are refused with the field's path, and the size of
// the input is bounded). The module then converts that copy, which runs no
// caller code, and returns errors as values, which wasm-bindgen's glue
// throws after the module returned.
//
// Outputs cross as JSON text and become plain objects with JSON.parse (one
// string instead of one wasm import call per key and value); effects are then
// deeply frozen (see deepFreeze), states are not. The health probe's fast
// path crosses with scalars only.

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

// ---------------------------------------------------------------------------
// Inputs: read once, in JavaScript, into a plain copy

/** How deep an input may nest (objects and arrays): as the module's converter. */
const MAX_DEPTH = 128;
/**
 * The most characters (UTF-16 code units) one input may hold in all its
 * strings and keys together: 4 Mi. What the module allocates for an input is
 * a few times its text, so this bounds it (with MAX_INPUT_VALUES) far below
 * the module's memory; counted on the value as given, so a string referenced
 * many times counts each time (it is stored each time).
 */
export const MAX_INPUT_CHARS = 1 << 22;
/** The most values (objects, arrays, array slots and scalars) one input may hold: 256 Ki. */
export const MAX_INPUT_VALUES = 1 << 18;
/**
 * A state (restore, the pure step) may hold what the machine can put in one:
 * its bootstrap settings (one input), runtime settings (the bootstrap
 * settings merged with one input: two), and one input each in the server
 * status, the last activation and the pending recovery. So a state's limits
 * are STATE_SCALE times one input's, and each of its keys has its own
 * (STATE_PARTS, else one input's): every state a machine produces, from
 * inputs within the limits, is within them, and restores.
 */
const STATE_SCALE = 8;
const STATE_PARTS = { bootstrap_settings: 1, runtime_settings: 2 };

const isWellFormed = typeof String.prototype.isWellFormed === 'function'
  ? (text) => text.isWellFormed()
  : (text) => !/\p{Surrogate}/u.test(text); // with the u flag, only lone surrogates match
const toStringTag = Object.prototype.toString;

/** Where a lone surrogate is in a string that has one, as `U+D800 at index 1`. */
function loneSurrogate(text) {
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) { i += 1; continue; }
    } else if (unit < 0xdc00 || unit > 0xdfff) continue;
    return `U+${unit.toString(16).toUpperCase()} at index ${i}`;
  }
  return 'a lone surrogate';
}

/** The message of something thrown by the caller's code. */
function thrownMessage(thrown) {
  if (typeof thrown === 'string') return thrown;
  try {
    const message = thrown?.message;
    return typeof message === 'string' ? message : 'a value without a message was thrown';
  } catch {
    return 'a value without a message was thrown';
  }
}

/** Whether a function runs without throwing (a brand check). */
function branded(check, value) {
  try {
    check.call(value);
    return true;
  } catch {
    return false;
  }
}

/** Why a non-plain object is refused: what it is, and what to pass instead. */
function nonPlain(value) {
  if (branded(Date.prototype.getTime, value)) return 'a Date (give instants as RFC 3339 strings, e.g. date.toISOString())';
  if (branded(String.prototype.valueOf, value)) return 'a String object (new String(...)): pass the string itself';
  if (branded(Number.prototype.valueOf, value)) return 'a Number object (new Number(...)): pass the number itself';
  if (branded(Boolean.prototype.valueOf, value)) return 'a Boolean object (new Boolean(...)): pass the boolean itself';
  if (branded(BigInt.prototype.valueOf, value)) return 'a BigInt object: pass the BigInt itself';
  if (branded(Symbol.prototype.valueOf, value)) return 'a Symbol object';
  if (ArrayBuffer.isView(value)) return 'a typed array or DataView';
  if (branded(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get, value)) return 'an ArrayBuffer';
  if (typeof SharedArrayBuffer === 'function' && branded(Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength').get, value)) {
    return 'a SharedArrayBuffer';
  }
  let name;
  try {
    name = Object.getPrototypeOf(value)?.constructor?.name;
  } catch {
    name = undefined;
  }
  return typeof name === 'string' && name !== '' ? `an instance of ${name} (only plain objects and arrays are JSON here)` : 'an object that is not a plain object or an array';
}

/**
 * Reads a JS value into a plain copy for the module: the same JSON value
 * `JSON.stringify` gives, or a `kind` error naming the path. Getters and
 * proxy traps run here, once each (what a getter returns is what is stored);
 * one that throws is an error ("reading it threw: ..."). Refused, with the
 * path: strings and keys with a lone UTF-16 surrogate (not Unicode: they
 * cannot be stored as they are), objects with a `toJSON` method (`Date`s
 * among them), boxed primitives, `ArrayBuffer`s, typed arrays and any other
 * object that is not a plain object (prototype `Object.prototype` or null)
 * or an array, nesting deeper than MAX_DEPTH (cycles), and inputs beyond
 * MAX_INPUT_CHARS or MAX_INPUT_VALUES. Scalars are copied as they are: the
 * module refuses NaN, functions, symbols and BigInts beyond 64 bits itself.
 */
function readInput(value, root, kind, makeError, parts = null) {
  const segments = [];
  const scale = parts === null ? 1 : STATE_SCALE;
  let chars = scale * MAX_INPUT_CHARS;
  let values = scale * MAX_INPUT_VALUES;
  const pathText = () => root + segments.join('');
  const fail = (message, at = pathText()) => makeError(kind, at, `${at}: ${message}`);
  const threw = (thrown) => fail(`reading it threw: ${thrownMessage(thrown)}`);
  const tooLarge = (what, whose = parts === null ? 'one input' : `a ${root}`) => fail(`the input is too large: over ${what} (the limit of ${whose})`);
  const text = (string) => {
    chars -= string.length;
    if (chars < 0) throw tooLarge(`${scale * MAX_INPUT_CHARS} characters in its strings and keys`);
    if (!isWellFormed(string)) throw fail(`expected text, found a string with a lone UTF-16 surrogate (${loneSurrogate(string)}), which is not Unicode`);
  };

  function copy(item, depth) {
    values -= 1;
    if (values < 0) throw tooLarge(`${scale * MAX_INPUT_VALUES} values`);
    if (typeof item === 'string') {
      text(item);
      return item;
    }
    if (typeof item !== 'object' || item === null) return item;
    if (depth >= MAX_DEPTH) {
      // The path of a cycle is long: keep its head, which names where it starts.
      throw fail(`nested deeper than ${MAX_DEPTH} levels (is the object cyclic?)`, `${pathText().slice(0, 120)}...`);
    }
    let array;
    let plain;
    let toJSON;
    let tag;
    try {
      array = Array.isArray(item);
      if (!array) {
        const proto = Object.getPrototypeOf(item);
        // Object.prototype, null, or another realm's Object.prototype.
        plain = proto === OBJECT_PROTO || proto === null || Object.getPrototypeOf(proto) === null;
      }
      toJSON = item.toJSON;
      if (plain) tag = toStringTag.call(item);
    } catch (thrown) {
      throw threw(thrown);
    }
    if (typeof toJSON === 'function') {
      throw fail(branded(Date.prototype.getTime, item)
        ? `expected a JSON value, found ${nonPlain(item)}`
        : 'expected a JSON value, found an object with a toJSON method (JSON.stringify would store what it returns: pass that)');
    }
    if (array) {
      let length;
      try {
        length = Number(item.length); // a proxy's trap may answer anything: as JSON.stringify, ToLength
      } catch (thrown) {
        throw threw(thrown);
      }
      length = length > 0 ? Math.floor(length) : 0;
      if (length > values) throw tooLarge(`${scale * MAX_INPUT_VALUES} values`);
      const out = new Array(length);
      for (let index = 0; index < length; index += 1) {
        let element;
        segments.push(`[${index}]`);
        try {
          element = item[index];
        } catch (thrown) {
          throw threw(thrown);
        }
        out[index] = copy(element, depth + 1);
        segments.pop();
      }
      return out;
    }
    if (!plain || tag !== '[object Object]') throw fail(`expected a JSON value, found ${nonPlain(item)}`);
    let keys;
    try {
      keys = Object.keys(item);
    } catch (thrown) {
      throw threw(thrown);
    }
    const out = {};
    for (let i = 0; i < keys.length; i += 1) {
      const key = keys[i];
      segments.push(`.${key}`);
      text(key);
      let member;
      try {
        member = item[key];
      } catch (thrown) {
        throw threw(thrown);
      }
      if (member !== undefined) {
        const charsBefore = chars;
        const valuesBefore = values;
        const copied = copy(member, depth + 1);
        // As JSON.parse: an own "__proto__" key, never the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value: copied, enumerable: true, writable: true, configurable: true });
        else out[key] = copied;
        if (parts !== null && depth === 0) {
          const part = Object.hasOwn(parts, key) ? parts[key] : 1;
          if (charsBefore - chars > part * MAX_INPUT_CHARS) throw tooLarge(`${part * MAX_INPUT_CHARS} characters in its strings and keys`, `${root}.${key}`);
          if (valuesBefore - values > part * MAX_INPUT_VALUES) throw tooLarge(`${part * MAX_INPUT_VALUES} values`, `${root}.${key}`);
        }
      }
      segments.pop();
    }
    return out;
  }
  return copy(value, 0);
}

/**
 * `now` for the module: a string is checked here (lone surrogates, size),
 * anything else goes as it is (the module reads numbers, Dates by their
 * brand, and names what else it found, running no caller code).
 */
function readNow(now, makeError) {
  if (typeof now === 'string') {
    if (now.length > MAX_INPUT_CHARS) throw makeError('invalid_instant', 'now', `now: expected an RFC 3339 instant, found a string of ${now.length} characters`);
    if (!isWellFormed(now)) throw makeError('invalid_instant', 'now', `now: expected an RFC 3339 instant, found a string with a lone UTF-16 surrogate (${loneSurrogate(now)})`);
  }
  return now;
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
function fastProbe(live, online, version, jails, now) {
  if (typeof online !== 'boolean' || !safeCount(jails)) return undefined;
  if (jails === undefined) jails = 0;
  const machine = live(); // after every read of the caller's values
  let code;
  if (version == null) {
    code = machine.__probe(online, undefined, jails, now);
  } else if (version === machine[LAST_VERSION]) {
    // A string checked (below) when it was sent.
    code = machine.__probeSameVersion(online, jails, now);
  } else if (typeof version === 'string' && version.length <= MAX_INPUT_CHARS && isWellFormed(version)) {
    machine[LAST_VERSION] = version; // the wasm side remembers it too, first thing
    code = machine.__probe(online, version, jails, now);
  } else {
    return undefined; // not a string, too long, or lone surrogates: the event path refuses it with its path
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

/**
 * Builds the package's API on the wasm-bindgen output: the `Machine` class
 * and the free functions. `makeError(kind, path, message)` builds the
 * errors thrown (errors.js).
 */
export function install(wasm, makeError) {
  const freed = () => makeError('invalid_state', '', 'this machine was freed (free() was called): it cannot be used any more');

  /**
   * One step on the module's machine `raw`. Every read of the caller's
   * values happens here, before the module is entered; `live()` is asked
   * for the module's machine again after them (a getter may have freed it).
   */
  function stepOn(live, event, now) {
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
        plainProbe = false; // a throwing getter: the event path reports it
      }
      if (plainProbe) {
        const effects = fastProbe(live, online, version, jails, now);
        if (effects !== undefined) return effects;
      }
    }
    readNow(now, makeError);
    let copy;
    try {
      copy = readInput(event, 'event', 'invalid_event', makeError);
    } catch (error) {
      wasm.__checkNow(now); // a bad `now` is reported first, as everywhere
      throw error;
    }
    return effectsOut(live().__step(copy, now));
  }

  /** `healthProbe` on the module's machine: the fast path, else the event path. */
  function probeOn(live, probe, now) {
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
        read = false; // a throwing getter: the event path reports it
      }
      if (read) {
        const effects = fastProbe(live, online, version, jails, now);
        if (effects !== undefined) return effects;
      }
    }
    return stepOn(live, probeEvent(probe), now);
  }

  /** Handed to `Machine`'s constructor by `restore`: the module's machine to wrap. */
  let restored = null;

  /**
   * A runtime-state machine. The module's machine is a private field: the
   * public methods check that it is still there (not freed) before and
   * after reading their inputs, so a freed machine throws here, never in the
   * module. Calling a method on anything but a Machine is a TypeError.
   */
  class Machine {
    #raw;

    constructor(bootstrapSettings) {
      if (restored !== null) {
        this.#raw = restored;
        restored = null;
        return;
      }
      this.#raw = new wasm.Machine(readInput(bootstrapSettings, 'bootstrap', 'invalid_settings', makeError));
    }

    static restore(state) {
      const raw = wasm.Machine.restore(readInput(state, 'state', 'invalid_state', makeError, STATE_PARTS));
      restored = raw;
      return new Machine();
    }

    /** The module's machine, or the freed error. */
    #live = () => {
      const raw = this.#raw;
      if (raw === null) throw freed();
      return raw;
    };

    step(event, now) {
      return stepOn(this.#checked(), event, now);
    }

    healthProbe(probe, now) {
      return probeOn(this.#checked(), probe, now);
    }

    /** `#live`, after checking it now: a freed machine throws before its inputs are read. */
    #checked() {
      this.#live();
      return this.#live;
    }

    state() {
      return out(this.#live().__state());
    }

    get revision() {
      return this.#live().revision;
    }

    nextDeadline(now) {
      readNow(now, makeError);
      return this.#live().nextDeadline(now);
    }

    /** Releases the machine now; later calls throw, and free() again does nothing. */
    free() {
      const raw = this.#raw;
      if (raw === null) return;
      this.#raw = null;
      raw.free();
    }

  }
  if (typeof Symbol.dispose === 'symbol') Machine.prototype[Symbol.dispose] = Machine.prototype.free;

  return {
    Machine,
    // The pure form is the core's step (a copy of the state, then the
    // event): a machine restored from `state`, stepped once, then freed.
    step(state, event, now) {
      const raw = wasm.Machine.restore(readInput(state, 'state', 'invalid_state', makeError, STATE_PARTS));
      try {
        const effects = stepOn(() => raw, event, now);
        return { state: out(raw.__state()), effects };
      } finally {
        raw.free();
      }
    },
    replay(trace) {
      const steps = out(wasm.__replay(readInput(trace, 'trace', 'invalid_trace', makeError)));
      for (const step of steps) {
        if (step.effects !== undefined) step.effects = frozenEffects(step.effects); // an {error, state} step has none
      }
      return steps;
    },
  };
}
