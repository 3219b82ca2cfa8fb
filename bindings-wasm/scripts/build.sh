#!/usr/bin/env bash
# Builds the npm package bangui-state into bindings-wasm/pkg/ and packs it to
# target/wasm/bangui-state-<version>.tgz. Prints the .wasm sizes (raw, gzip).
#
#   cargo (profile wasm-release: opt-level z, LTO, panic=abort, 1 CGU)
#   -> wasm-bindgen --weak-refs, three targets: bundler, web, nodejs
#   -> wasm-opt -Oz --converge (producers and target-features sections
#      stripped) on each output (when binaryen is installed)
#   -> the hand-written entry points and types from bindings-wasm/npm/
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
pkg=bindings-wasm/pkg
out=target/wasm

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
bindings-wasm/scripts/ensure-wasm-bindgen.sh
# Panic locations name source files: keep the build machine's paths (cargo's
# registry, this checkout) out of the shipped module; also a few hundred bytes.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$cargo_home/registry/src/=/ --remap-path-prefix=$root/=/" \
  cargo build --quiet -p bangui-state-wasm --target wasm32-unknown-unknown --profile wasm-release
raw=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/bangui_state_wasm.wasm

rm -rf "$pkg"
mkdir -p "$pkg" "$out"
cp -R bindings-wasm/npm/. "$pkg/"
cp bindings-wasm/README.md "$pkg/README.md"
# The CommonJS twin of errors.js for the Node entry point.
{
  echo "'use strict';"
  sed -e 's/^export //' bindings-wasm/npm/errors.js
  names=$(grep -oE '^export (class|function|const) [A-Za-z_]+' bindings-wasm/npm/errors.js | awk '{ print $3 }' | paste -sd, -)
  echo "module.exports = { $names };"
} > "$pkg/node/errors.cjs"
{
  echo "'use strict';"
  sed -e 's/^export //' bindings-wasm/npm/glue.js
  echo "module.exports = { install };"
} > "$pkg/node/glue.cjs"
{
  echo "'use strict';"
  sed -e 's/^export //' bindings-wasm/npm/live.js
  echo "module.exports = { installLive };"
} > "$pkg/node/live.cjs"
# The CommonJS twin of the React entry (its one import, react, as a require).
{
  echo "'use strict';"
  sed -e "s/^import { \(.*\) } from 'react';\$/const { \1 } = require('react');/" -e 's/^export //' \
    bindings-wasm/npm/react/index.js
  echo "module.exports = { useBanguiState };"
} > "$pkg/react/index.cjs"

# wasm-opt: binaryen from npm (pinned in bindings-wasm/scripts/package.json),
# else a system one recent enough for wasm-bindgen's externref table (Debian
# bookworm's version 108 rewrites it into a table the glue cannot initialise).
wasm_opt=
if [ -x bindings-wasm/scripts/node_modules/.bin/wasm-opt ]; then
  wasm_opt=bindings-wasm/scripts/node_modules/.bin/wasm-opt
elif command -v wasm-opt >/dev/null &&
     [ "$(wasm-opt --version | grep -oE '[0-9]+' | head -1)" -ge 116 ]; then
  wasm_opt=wasm-opt
fi

for target in bundler web nodejs; do
  dir=$pkg/${target/nodejs/node}
  wasm-bindgen --target "$target" --weak-refs --out-dir "$dir" "$raw"
  rm -f "$dir"/bangui_state_wasm.d.ts "$dir"/bangui_state_wasm_bg.wasm.d.ts
  if [ -n "$wasm_opt" ]; then
    "$wasm_opt" -Oz --converge --strip-producers --strip-target-features --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
      --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
      "$dir/bangui_state_wasm_bg.wasm" -o "$dir/bangui_state_wasm_bg.wasm.opt"
    mv "$dir/bangui_state_wasm_bg.wasm.opt" "$dir/bangui_state_wasm_bg.wasm"
  fi
done

wasm=$pkg/web/bangui_state_wasm_bg.wasm
size() { stat -c %s "$1"; }
echo "bangui-state wasm: raw $(size "$wasm") bytes, gzip -9 $(gzip -9c "$wasm" | wc -c) bytes" \
  "(cargo output before wasm-bindgen and ${wasm_opt:-no} wasm-opt: $(size "$raw") bytes)" | tee "$out/sizes.txt"
[ -n "$wasm_opt" ] || echo "(no usable wasm-opt: sizes without it)" | tee -a "$out/sizes.txt"

rm -f "$out"/bangui-state-*.tgz
(cd "$pkg" && npm pack --silent --pack-destination "$root/$out" >/dev/null)
ls "$out"/bangui-state-*.tgz
