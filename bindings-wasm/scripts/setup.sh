#!/usr/bin/env bash
# Idempotent set-up for the WebAssembly package, on a fresh Debian bookworm
# machine as root.
#
#   setup.sh build   what packing needs (make wasm-package): the wasm32 target,
#                    the wasm-bindgen CLI at exactly the version of the
#                    wasm-bindgen crate in Cargo.lock, Node/npm if absent, and
#                    binaryen's wasm-opt pinned in bindings-wasm/scripts/package-lock.json
#                    (Debian bookworm's binaryen 108 mangles wasm-bindgen's
#                    externref table, so it is not used)
#   setup.sh         that, and what the tests need: Chromium from Debian and the
#                    test tools pinned in tests/wasm/package-lock.json
#                    (typescript, playwright-core, React, Testing Library, jsdom)
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-all}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

bindings-wasm/scripts/ensure-wasm-bindgen.sh

missing=()
[ "$mode" = build ] || command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing ${missing[*]} and cannot apt-get install them" >&2
  fi
fi

# npm tools exactly as locked, installed again only when the lock changed.
npm_ci() {
  if [ ! -f "$1/node_modules/.package-lock.json" ] ||
     ! cmp -s "$1/package-lock.json" "$1/node_modules/.setup-lock"; then
    (cd "$1" && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.setup-lock)
  fi
}
npm_ci bindings-wasm/scripts
[ "$mode" = build ] || npm_ci tests/wasm
