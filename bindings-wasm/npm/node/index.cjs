'use strict';
// Entry point for Node.js (require): the wasm-bindgen "nodejs" output, which
// loads the .wasm file synchronously.
const wasm = require('./bangui_state_wasm.js');
const errors = require('./errors.cjs');
const glue = require('./glue.cjs');
const live = require('./live.cjs');

wasm.__setErrorFactory(errors.__makeError);
const api = glue.install(wasm, errors.__makeError);

exports.Machine = api.Machine;
exports.step = api.step;
exports.replay = api.replay;
exports.connect = live.installLive(api.Machine).connect;
exports.BanguiStateError = errors.BanguiStateError;
exports.InvalidJsonError = errors.InvalidJsonError;
exports.InvalidEventError = errors.InvalidEventError;
exports.InvalidSettingsError = errors.InvalidSettingsError;
exports.InvalidStateError = errors.InvalidStateError;
exports.UnknownSchemaVersionError = errors.UnknownSchemaVersionError;
exports.InvalidInstantError = errors.InvalidInstantError;
exports.RevisionExhaustedError = errors.RevisionExhaustedError;
exports.InvalidTraceError = errors.InvalidTraceError;
