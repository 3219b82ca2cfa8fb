// Lays out the demo site in DIR (default target/demo-web): the page's files
// and the bangui-state package installed from its packed tarball
// (target/wasm/bangui-state-*.tgz, made by bindings-wasm/scripts/build.sh),
// exactly as a user's project would get it.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

export function prepare(dir = join(root, 'target', 'demo-web')) {
  const out = join(root, 'target', 'wasm');
  const packed = readdirSync(out).filter((f) => /^bangui-state-.*\.tgz$/.test(f));
  if (packed.length !== 1) throw new Error(`expected one bangui-state-*.tgz in ${out}, found ${packed.length}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bangui-dashboard-demo', private: true, type: 'module' }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', join(out, packed[0])], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (const file of ['index.html', 'demo.js', 'style.css']) copyFileSync(join(here, file), join(dir, file));
  return dir;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`demo: laid out in ${prepare(process.argv[2] ? resolve(process.argv[2]) : undefined)}`);
}
