#!/usr/bin/env bash
# Installs the wasm-bindgen CLI at exactly the version of the wasm-bindgen
# crate in Cargo.lock, unless `wasm-bindgen --version` already says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$want" ]; then
  echo "ensure-wasm-bindgen: no wasm-bindgen in Cargo.lock" >&2
  exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "ensure-wasm-bindgen: installing wasm-bindgen-cli $want (found: ${have:-none})"
  cargo install wasm-bindgen-cli --version "$want"
fi
