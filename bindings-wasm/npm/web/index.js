// Entry point for browsers without a bundler (`import ... from
// "bangui-state/web"`, e.g. through an import map): the wasm-bindgen "web"
// output, instantiated here with top-level await, so the API is ready on import.
import init, { __setErrorFactory } from './bangui_state_wasm.js';
import { __makeError } from '../errors.js';

await init({ module_or_path: new URL('./bangui_state_wasm_bg.wasm', import.meta.url) });
__setErrorFactory(__makeError);

export { Machine, step, replay } from './bangui_state_wasm.js';
export {
  BanguiStateError, InvalidJsonError, InvalidEventError, InvalidSettingsError, InvalidStateError,
  UnknownSchemaVersionError, InvalidInstantError, RevisionExhaustedError, InvalidTraceError,
} from '../errors.js';
