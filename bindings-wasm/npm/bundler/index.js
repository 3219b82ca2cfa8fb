// Entry point for bundlers (webpack, Vite, Rollup with a wasm plugin): the
// wasm-bindgen "bundler" output, which imports the .wasm file as a module.
import { __setErrorFactory } from './bangui_state_wasm.js';
import { __makeError } from '../errors.js';

__setErrorFactory(__makeError);

export { Machine, step, replay } from './bangui_state_wasm.js';
export {
  BanguiStateError, InvalidJsonError, InvalidEventError, InvalidSettingsError, InvalidStateError,
  UnknownSchemaVersionError, InvalidInstantError, RevisionExhaustedError, InvalidTraceError,
} from '../errors.js';
