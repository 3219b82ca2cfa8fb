// Shared by the WebAssembly package's tests: paths, installing the packed
// tarball into a fresh project as a user would, and reading traces.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = join(ROOT, 'target', 'wasm');
export const TOOLS = join(ROOT, 'tests', 'wasm', 'node_modules');

/** The tarball `npm pack` made (bindings-wasm/scripts/build.sh). */
export function tarball() {
  const packed = existsSync(OUT) ? readdirSync(OUT).filter((f) => /^bangui-state-.*\.tgz$/.test(f)) : [];
  if (packed.length !== 1) {
    throw new Error(`expected one bangui-state-*.tgz in ${OUT} (run bindings-wasm/scripts/build.sh), found ${packed.length}`);
  }
  return join(OUT, packed[0]);
}

/** A new project in `dir` with the packed tarball installed by npm, and `files` copied in. */
export function installInto(dir, files = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', tarball()], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const [name, from] of Object.entries(files)) cpSync(from, join(dir, name), { recursive: true });
  return dir;
}

/** Every trace in a JSON Lines file, with its line number. */
export function readTraces(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => ({ line: i + 1, text: line }))
    .filter(({ text }) => text.trim() !== '')
    .map(({ line, text }) => ({ line, trace: JSON.parse(text) }));
}
