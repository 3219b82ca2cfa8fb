// Entry point for Node.js (import): the CommonJS entry, re-exported, so
// `import` and `require` share one module instance and one set of classes.
import cjs from './index.cjs';

export const {
  Machine, step, replay, connect,
  BanguiStateError, InvalidJsonError, InvalidEventError, InvalidSettingsError, InvalidStateError,
  UnknownSchemaVersionError, InvalidInstantError, RevisionExhaustedError, InvalidTraceError,
} = cjs;
