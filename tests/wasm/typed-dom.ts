// Type-checked by the tests with the DOM's types (tsconfig.dom.json): the
// browser's own fetch is a valid `fetch` option, as is a wrapper of it. (Never run.)
import { connect } from 'bangui-state';

connect({ fetch });
connect({ fetch: window.fetch.bind(window) });
connect({
  fetch: async (url, init) => {
    const signal: AbortSignal = init.signal; // the real AbortSignal type where the DOM's types are loaded
    return fetch(url, { ...init, signal, headers: { ...init.headers, 'x-requested-with': 'bangui' } });
  },
});
// @ts-expect-error: what it returns must be a Response (or one like it)
connect({ fetch: async () => ({ ok: true }) });
