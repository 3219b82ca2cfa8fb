# The WebAssembly package (bindings-wasm/, npm package "bangui-state").
#
#   make test-wasm     build the package, type-check, Node tests on the installed tarball
#                      (hostile.test.mjs: bad input, a million rejected calls per class;
#                      live.test.mjs: connect() against an in-process host over node:http;
#                      react.test.mjs: useBanguiState with Testing Library in jsdom)
#   make test-browser  the dashboard demo driven in headless Chromium
#   make demo-web      serve the demo on http://127.0.0.1:$(DEMO_WEB_PORT)/
#   make bench-node    Node per-call medians (vs a hand-written JS reducer) and the
#                      .wasm size (and the live mirror's JavaScript, gzip):
#                      target/bench/node.json, target/bench/wasm_size.json
#
#   make wasm-package  build and pack the package alone: target/wasm/bangui-state-<version>.tgz
#                      (needs only the wasm32 target, wasm-bindgen and binaryen, no test tools)
#
# All set-up is done by bindings-wasm/scripts/setup.sh, idempotently: `setup.sh
# build` what packing needs (wasm32 target, wasm-bindgen CLI at the crate's exact
# version, binaryen's wasm-opt pinned in bindings-wasm/scripts), `setup.sh` that
# and what the tests need (Chromium, the test tools pinned in tests/wasm).

DEMO_WEB_PORT ?= 8137
NODE ?= node

TEST_TARGETS += test-wasm test-browser
BENCH_TARGETS += bench-node

.PHONY: wasm-build-setup wasm-setup wasm-package test-wasm test-browser demo-web bench-node

wasm-build-setup:
	bindings-wasm/scripts/setup.sh build

wasm-setup:
	bindings-wasm/scripts/setup.sh

wasm-package: wasm-build-setup
	bindings-wasm/scripts/build.sh

test-wasm: wasm-setup wasm-package
	$(CARGO) clippy --quiet -p bangui-state-wasm --target wasm32-unknown-unknown -- -D warnings
	$(NODE) --test --test-concurrency=1 tests/wasm/package.test.mjs tests/wasm/hostile.test.mjs \
	  tests/wasm/live.test.mjs tests/wasm/react.test.mjs
	# The benchmark is not a test: a few hundred calls, untimed in effect, to keep it working.
	$(NODE) bindings-wasm/scripts/bench.mjs --quick > /dev/null

test-browser: wasm-setup wasm-package
	$(NODE) --test tests/wasm/browser.test.mjs

demo-web: wasm-package
	$(NODE) bindings-wasm/demo/prepare.mjs target/demo-web
	$(NODE) bindings-wasm/demo/serve.mjs target/demo-web $(DEMO_WEB_PORT)

bench-node: wasm-setup wasm-package
	$(NODE) bindings-wasm/scripts/bench.mjs
