// Entry point for bundlers (webpack, Vite, Rollup with a wasm plugin): the
// wasm-bindgen "bundler" output, which imports the .wasm file as a module.
import * as wasm from './bangui_state_wasm.js';
import { __makeError } from '../errors.js';
import { install } from '../glue.js';
import { installLive } from '../live.js';

wasm.__setErrorFactory(__makeError);

const api = install(wasm, __makeError);

export const { Machine, step, replay } = api;
export const { connect } = installLive(api.Machine);
export {
  BanguiStateError, InvalidJsonError, InvalidEventError, InvalidSettingsError, InvalidStateError,
  UnknownSchemaVersionError, InvalidInstantError, RevisionExhaustedError, InvalidTraceError,
} from '../errors.js';
