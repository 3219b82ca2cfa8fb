#!/usr/bin/env bash
# Idempotent set-up for the WebAssembly package, on a fresh Debian bookworm
# machine as root: the wasm32 target, the wasm-bindgen CLI at exactly the
# version of the wasm-bindgen crate in Cargo.lock, Chromium (and Node/npm if
# absent) from Debian, and the npm tools pinned in tests/wasm/package-lock.json
# (typescript, playwright-core, and binaryen for wasm-opt: Debian bookworm's
# binaryen 108 mangles wasm-bindgen's externref table, so it is not used).
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

bindings-wasm/scripts/ensure-wasm-bindgen.sh

missing=()
command -v chromium >/dev/null || missing+=(chromium)
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

# typescript, playwright-core and binaryen, exactly as locked.
if [ ! -f tests/wasm/node_modules/.package-lock.json ] ||
   ! cmp -s tests/wasm/package-lock.json tests/wasm/node_modules/.setup-lock; then
  (cd tests/wasm && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.setup-lock)
fi
