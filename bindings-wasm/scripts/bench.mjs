// The Node benchmark of the npm package (make bench-node), on the packed
// tarball installed into a fresh project, as a user would get it:
//
//   node bindings-wasm/scripts/bench.mjs            -> target/bench/node.json, target/bench/wasm_size.json
//   node bindings-wasm/scripts/bench.mjs --quick    a few hundred calls, nothing written (make test-wasm)
//
// node.json: per-call medians of machine.step (the steady-state health
// probe), machine.healthProbe and, as the baseline in the same run, a
// hand-written JS reducer for the same probe events (bench-runner.mjs).
// wasm_size.json: the installed package's .wasm, raw and gzip -9; and the
// JavaScript of the live mirror (live.js: connect()) and of the React hook
// (react/index.js), as shipped (not minified), raw and gzip -9.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, gzipSync } from 'node:zlib';
import { installInto, OUT, ROOT } from '../../tests/wasm/support.mjs';

const quick = process.argv.includes('--quick');
const consumer = installInto(join(OUT, quick ? 'bench-quick' : 'bench-consumer'), {
  'bench-runner.mjs': fileURLToPath(new URL('./bench-runner.mjs', import.meta.url)),
});
const output = execFileSync(process.execPath, ['bench-runner.mjs', ...(quick ? ['--quick'] : [])], {
  cwd: consumer,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
const { rows } = JSON.parse(output);

const wasm = join(consumer, 'node_modules', 'bangui-state', 'node', 'bangui_state_wasm_bg.wasm');
const raw = statSync(wasm).size;
const gzip = gzipSync(readFileSync(wasm), { level: constants.Z_BEST_COMPRESSION }).length;

const pkg = join(consumer, 'node_modules', 'bangui-state');
const gzipped = (file) => gzipSync(readFileSync(join(pkg, file)), { level: constants.Z_BEST_COMPRESSION }).length;
const js = ['live.js', 'react/index.js'].map((file) => ({ file, raw: statSync(join(pkg, file)).size, gzip: gzipped(file) }));

const round = (ns) => Math.round(ns * 10) / 10;
for (const row of rows) console.log(`${row.name.padEnd(22)} ${String(round(row.median_ns)).padStart(9)} ns  ${row.note}`);
console.log(`${'wasm raw'.padEnd(22)} ${String(raw).padStart(9)} B`);
console.log(`${'wasm gzip -9'.padEnd(22)} ${String(gzip).padStart(9)} B`);
for (const { file, raw: bytes, gzip: packed } of js) {
  console.log(`${file.padEnd(22)} ${String(bytes).padStart(9)} B, gzip -9 ${packed} B`);
}
if (quick) process.exit(0);

const results = join(ROOT, 'target', 'bench');
mkdirSync(results, { recursive: true });
const node = {
  title: `WebAssembly package in Node ${process.version} (installed tarball; median of 41 rounds of 20 000 calls)`,
  rows: rows.map((r) => ({ ...r, median_ns: round(r.median_ns) })),
};
writeFileSync(join(results, 'node.json'), `${JSON.stringify(node, null, 2)}\n`);
const size = {
  title: 'WebAssembly module size (bangui_state_wasm_bg.wasm, after wasm-opt)',
  rows: [
    { name: 'raw', bytes: raw, note: 'bytes on disk' },
    { name: 'gzip', bytes: gzip, note: 'gzip -9 (zlib level 9)' },
    ...js.flatMap(({ file, raw: bytes, gzip: packed }) => [
      { name: `${file} (JavaScript, as shipped)`, bytes, note: 'bytes on disk, not minified' },
      { name: `${file} (JavaScript, as shipped), gzip`, bytes: packed, note: 'gzip -9 (zlib level 9)' },
    ]),
  ],
};
writeFileSync(join(results, 'wasm_size.json'), `${JSON.stringify(size, null, 2)}\n`);
console.log(`wrote ${join(results, 'node.json')} and ${join(results, 'wasm_size.json')}`);
