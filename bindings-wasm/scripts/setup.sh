#!/usr/bin/env bash
# Idempotent set-up for the WebAssembly package, on a fresh Debian bookworm
# machine as root: the wasm32 target, the wasm-bindgen CLI at exactly the
# version of the wasm-bindgen crate in Cargo.lock, Chromium and binaryen
# (wasm-opt) from Debian, and the test tools pinned in tests/wasm/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
  echo "setup: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi

missing=()  # binaryen: the pinned npm package serves wasm-opt (Debian 108 is too old)
command -v chromium >/dev/null || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "setup: missing ${missing[*]} and cannot apt-get install them" >&2
  fi
fi

# typescript and playwright-core, exactly as locked.
if [ ! -f tests/wasm/node_modules/.package-lock.json ] ||
   ! cmp -s tests/wasm/package-lock.json tests/wasm/node_modules/.setup-lock; then
  (cd tests/wasm && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.setup-lock)
fi
