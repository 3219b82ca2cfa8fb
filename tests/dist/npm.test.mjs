// make test-dist: the npm tarball in dist/ installed into an empty project,
// with no Rust toolchain or C compiler on PATH (tests/dist/run.py links every
// other program into the one directory on PATH). Its version is the workspace's; it loads through
// import and require; every conformance vector (tests/vectors/, the expected
// output inline, so no CLI is needed) replays to its expected output through
// replay() and Machine.step; the shipped README's examples print what they say.
//
//   BANGUI_DIST_NPM=dist/bangui-state-<v>.tgz BANGUI_DIST_WORK=target/dist-test node --test tests/dist/npm.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARBALL = process.env.BANGUI_DIST_NPM;
const PROJECT = join(process.env.BANGUI_DIST_WORK ?? join(ROOT, 'target', 'dist-test'), 'npm-consumer');
let api; // through import
let cjs; // through require

/** The executable `name` on PATH, or null. */
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

before(async () => {
  assert.ok(TARBALL, 'BANGUI_DIST_NPM names the tarball');
  rmSync(PROJECT, { recursive: true, force: true });
  mkdirSync(PROJECT, { recursive: true });
  writeFileSync(join(PROJECT, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', TARBALL], {
    cwd: PROJECT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  writeFileSync(join(PROJECT, 'entry.mjs'), "export * from 'bangui-state';\n");
  api = await import(pathToFileURL(join(PROJECT, 'entry.mjs')).href);
  cjs = createRequire(join(PROJECT, 'package.json'))('bangui-state');
});

describe('the npm tarball from make dist, installed', () => {
  test('no Rust toolchain is reachable', () => {
    for (const tool of ['cargo', 'rustc', 'rustup']) assert.equal(which(tool), null, `${tool} is on PATH`);
  });

  test('is the workspace version', () => {
    const cargo = readFileSync(join(ROOT, 'Cargo.toml'), 'utf8');
    const version = /^\[workspace\.package\][^[]*?^version = "([^"]+)"/ms.exec(cargo)[1];
    const installed = JSON.parse(readFileSync(join(PROJECT, 'node_modules', 'bangui-state', 'package.json'), 'utf8'));
    assert.equal(installed.name, 'bangui-state');
    assert.equal(installed.version, version);
    assert.ok(TARBALL.endsWith(`bangui-state-${version}.tgz`), TARBALL);
  });

  test('loads through import and require, one module instance, with its types', () => {
    assert.equal(typeof api.Machine, 'function');
    assert.equal(api.Machine, cjs.Machine);
    assert.equal(typeof api.replay, 'function');
    assert.equal(typeof api.step, 'function');
    readFileSync(join(PROJECT, 'node_modules', 'bangui-state', 'index.d.ts'), 'utf8');
  });

  test('every conformance vector replays to its expected output', () => {
    let traces = 0;
    let stepped = 0;
    const vectors = join(ROOT, 'tests', 'vectors');
    for (const file of readdirSync(vectors).filter((f) => f.endsWith('.jsonl')).sort()) {
      readFileSync(join(vectors, file), 'utf8').split('\n').forEach((line, i) => {
        if (line.trim() === '') return;
        const trace = JSON.parse(line);
        const label = `tests/vectors/${file}:${i + 1}`;
        assert.deepEqual(api.replay(trace), trace.expected, label);
        traces += 1;
        const wellFormed = trace.bootstrap && trace.steps.every((s) => s && typeof s.now === 'string' && 'event' in s);
        if (!wellFormed) return;
        const machine = new api.Machine(trace.bootstrap);
        try {
          const folded = trace.steps.map((s) => {
            try {
              return { effects: machine.step(s.event, s.now), state: machine.state() };
            } catch (error) {
              assert.ok(error instanceof api.BanguiStateError, `${label}: ${error}`);
              return { error: error.message, state: machine.state() };
            }
          });
          assert.deepEqual(folded, trace.expected, `${label} through Machine.step`);
          stepped += 1;
        } finally {
          machine.free();
        }
      });
    }
    assert.ok(traces >= 5 && stepped >= 4, `${traces} traces replayed, ${stepped} stepped`);
  });

  test('the shipped README\'s js examples print what their "// prints:" comments say', () => {
    const readme = readFileSync(join(PROJECT, 'node_modules', 'bangui-state', 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
    assert.ok(blocks.length > 0);
    blocks.forEach((code, i) => {
      const file = join(PROJECT, `readme-example-${i}.mjs`);
      writeFileSync(file, code);
      const printed = execFileSync(process.execPath, [file], { cwd: PROJECT, encoding: 'utf8' }).trimEnd().split('\n');
      const expected = [...code.matchAll(/^\s*\/\/ prints: (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(printed, expected, `README example ${i}`);
    });
  });
});
