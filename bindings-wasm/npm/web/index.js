// Entry point for browsers without a bundler (`import ... from
// "bangui-state/web"`, e.g. through an import map): the wasm-bindgen "web"
// output, instantiated here with top-level await, so the API is ready on import.
import init, * as wasm from './bangui_state_wasm.js';
import { __makeError } from '../errors.js';
import { install } from '../glue.js';
import { installLive } from '../live.js';

await init({ module_or_path: new URL('./bangui_state_wasm_bg.wasm', import.meta.url) });
wasm.__setErrorFactory(__makeError);

const api = install(wasm, __makeError);

export const { Machine, step, replay } = api;
export const { connect } = installLive(api.Machine);
export {
  BanguiStateError, InvalidJsonError, InvalidEventError, InvalidSettingsError, InvalidStateError,
  UnknownSchemaVersionError, InvalidInstantError, RevisionExhaustedError, InvalidTraceError,
} from '../errors.js';
