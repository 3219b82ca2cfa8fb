// The errors thrown by bangui-state. Every error is a BanguiStateError whose
// `message` is the core's "path: message" text (the same words on every
// binding), `kind` the core's error kind and `path` the field path ("" when
// the input as a whole is wrong). One subclass per kind, so callers can
// `instanceof` or switch on `kind`.

export class BanguiStateError extends Error {
  constructor(kind, path, message) {
    super(message);
    this.name = new.target.name;
    this.kind = kind;
    this.path = path;
  }
}
export class InvalidJsonError extends BanguiStateError {}
export class InvalidEventError extends BanguiStateError {}
export class InvalidSettingsError extends BanguiStateError {}
export class InvalidStateError extends BanguiStateError {}
export class UnknownSchemaVersionError extends InvalidStateError {}
export class InvalidInstantError extends BanguiStateError {}
export class RevisionExhaustedError extends BanguiStateError {}
export class InvalidTraceError extends BanguiStateError {}

const BY_KIND = {
  invalid_json: InvalidJsonError,
  invalid_event: InvalidEventError,
  invalid_settings: InvalidSettingsError,
  invalid_state: InvalidStateError,
  unknown_schema_version: UnknownSchemaVersionError,
  invalid_instant: InvalidInstantError,
  revision_exhausted: RevisionExhaustedError,
  invalid_trace: InvalidTraceError,
};

// Called from the WebAssembly module (registered by each entry point).
export function __makeError(kind, path, message) {
  const Class = Object.prototype.hasOwnProperty.call(BY_KIND, kind) ? BY_KIND[kind] : BanguiStateError;
  return new Class(kind, path, message);
}
