# bangui-state C ABI (bindings-c/) and its Python package (bindings-c/python/).
#
#   make test-c       header freshness + crate tests, then the C tests plain,
#                     under ASan+UBSan, ThreadSanitizer and valgrind memcheck
#   make test-python  pip-installs bindings-c/python and runs its pytest suite
#   make header       regenerates include/bangui_state.h
#   make lib-c        builds libbangui_state.so and libbangui_state.a (release)
#   make install-c    installs them, the header and bangui_state.pc under PREFIX
#                     (default /usr/local; DESTDIR honoured)
#   make bench-c      times the C ABI from a C program  -> target/bench/c.json
#   make bench-python times the installed Python package -> target/bench/python.json
#                     (make test runs both once, untimed, with --quick)
#
# Everything installs what it needs first (setup-c), idempotently.

TEST_TARGETS += test-c test-python
BENCH_TARGETS += bench-c bench-python

C_TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),target))
C_LIBDIR     := $(C_TARGET_DIR)/release
C_OUT        := $(C_TARGET_DIR)/c
C_INCLUDE    := include
C_TESTS      := api bad_inputs vectors threads carried_values
C_WARN       := -std=c11 -Wall -Wextra -Werror -g -O1 -D_POSIX_C_SOURCE=200809L
C_CFLAGS     := $(C_WARN) -I$(C_INCLUDE) -Itests/c
C_STATIC     := $(C_LIBDIR)/libbangui_state.a -lpthread -ldl -lm
C_SHARED     := -L$(C_LIBDIR) -lbangui_state -Wl,-rpath,$(C_LIBDIR)
# The conformance vectors (from main) and this binding's own traces.
C_VECTORS    := $(sort $(wildcard tests/vectors/*.jsonl)) bindings-c/tests/vectors/binding.jsonl
C_THREADS_SMALL := 8 2000
VALGRIND     := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
                --errors-for-leak-kinds=definite,indirect,possible
C_PYTHON     ?= python3
C_APT_PACKAGES := gcc make pkg-config valgrind libcjson-dev libasan8 libubsan1 libtsan2

PREFIX       ?= /usr/local
C_VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

.PHONY: bench-c bench-python bench-c-program python-install install-c test-c-install setup-c lib-c header test-c test-c-crate test-c-plain test-c-asan test-c-tsan test-c-valgrind \
        test-python setup-python c-programs

## setup-c: Debian packages (compiler, valgrind, cJSON, sanitizer runtimes) and Python packages.
setup-c:
	@missing=""; for p in $(C_APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup-c: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# build (PyPA): tests/test_sdist.py builds the sdist, then a wheel from it; mypy: --strict on the package.
setup-python: setup-c
	@$(C_PYTHON) -c "import cffi, pytest, structlog, build, mypy, hypothesis, pydantic, starlette" 2>/dev/null || \
	  $(C_PYTHON) -m pip install --quiet --disable-pip-version-check "cffi>=1.15" pytest structlog build mypy \
	    hypothesis pydantic starlette

lib-c:
	$(CARGO) build --release -p bangui-state-c

header:
	BANGUI_BLESS=1 $(CARGO) test --release -p bangui-state-c --test header

$(C_OUT):
	mkdir -p $@

## install-c: lib/libbangui_state.{so,a}, include/bangui_state.h, lib/pkgconfig/bangui_state.pc.
install-c: lib-c
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 644 $(C_LIBDIR)/libbangui_state.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(C_LIBDIR)/libbangui_state.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(C_INCLUDE)/bangui_state.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(C_VERSION)|' bindings-c/bangui_state.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/bangui_state.pc

## test-c-install: install into a scratch prefix, then build the README's host.c exactly as the
## README says (pkg-config alone: the .pc's rpath makes it start without LD_LIBRARY_PATH) and run it;
## the C API test is built the same way (plus its own cJSON).
C_INSTALL_HOST := $(C_OUT)/install-host
test-c-install: setup-c | $(C_OUT)
	rm -rf $(C_OUT)/prefix $(C_INSTALL_HOST)
	$(MAKE) --no-print-directory install-c PREFIX=$(C_OUT)/prefix
	mkdir -p $(C_INSTALL_HOST)
	awk '/^```c$$/ {code = 1; next} /^```$$/ {code = 0} code' README.md > $(C_INSTALL_HOST)/host.c
	export PKG_CONFIG_PATH=$(C_OUT)/prefix/lib/pkgconfig; unset LD_LIBRARY_PATH; cd $(C_INSTALL_HOST); \
	cc host.c -o host $$(pkg-config --cflags --libs bangui_state); \
	test "$$(./host)" = "[]"; \
	gcc $(C_WARN) -I$(abspath tests/c) $(abspath tests/c/api.c) -o api $$(pkg-config --cflags --libs bangui_state) -lcjson; \
	./api

## The C test programs: plain (static library), ASan+UBSan and TSan (shared library).
c-programs: lib-c setup-c | $(C_OUT)
	@for t in $(C_TESTS); do \
	  case $$t in api|vectors) libs=-lcjson;; threads) libs=-lpthread;; *) libs=;; esac; \
	  set -x; \
	  gcc $(C_CFLAGS) tests/c/$$t.c -o $(C_OUT)/$$t $(C_STATIC) $$libs; \
	  gcc $(C_CFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	      tests/c/$$t.c -o $(C_OUT)/$$t-asan $(C_SHARED) $$libs; \
	  { set +x; } 2>/dev/null; \
	done
	gcc $(C_CFLAGS) -fsanitize=thread tests/c/threads.c -o $(C_OUT)/threads-tsan $(C_SHARED) -lpthread
	$(C_PYTHON) tests/c/vectors_to_lines.py $(C_VECTORS) > $(C_OUT)/vectors.lines

test-c-crate:
	$(CARGO) test --release -p bangui-state-c

test-c-plain: c-programs bench-c-program
	$(C_OUT)/api
	$(C_OUT)/bad_inputs
	$(C_OUT)/vectors $(C_OUT)/vectors.lines
	$(C_OUT)/threads 8 10000
	$(C_OUT)/carried_values
	# The benchmark once, untimed (tiny counts, no output file), to keep it compiling and working.
	$(C_OUT)/bench --quick > /dev/null

test-c-asan: c-programs
	export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1; \
	$(C_OUT)/api-asan && $(C_OUT)/bad_inputs-asan && $(C_OUT)/vectors-asan $(C_OUT)/vectors.lines && \
	$(C_OUT)/threads-asan 8 10000 && $(C_OUT)/carried_values-asan

# TSan sees the C side (the Rust library is not instrumented on stable Rust);
# setarch -R works around TSan's mapping check on kernels with high ASLR entropy.
test-c-tsan: c-programs
	TSAN_OPTIONS=halt_on_error=1:exitcode=66:suppressions=$(abspath tests/c/tsan.supp) setarch $$(uname -m) -R $(C_OUT)/threads-tsan 8 10000

test-c-valgrind: c-programs
	$(VALGRIND) $(C_OUT)/api
	$(VALGRIND) $(C_OUT)/bad_inputs
	$(VALGRIND) $(C_OUT)/vectors $(C_OUT)/vectors.lines
	$(VALGRIND) $(C_OUT)/threads $(C_THREADS_SMALL)
	$(VALGRIND) $(C_OUT)/carried_values

## test-c: the whole C suite.
test-c: setup-c test-c-crate test-c-plain test-c-asan test-c-tsan test-c-valgrind test-c-install
	@echo "test-c: header fresh; C tests passed plain, under ASan+UBSan, TSan and valgrind"

## python-install: the Python package, installed as a user would (cffi API mode, compiled here).
python-install: setup-python lib-c
	BANGUI_STATE_LIB= $(C_PYTHON) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings-c/python

## test-python: mypy --strict on the package, the installed package's tests (doc examples and
## typing included); the benchmark once, untimed.
test-python: python-install
	cd bindings-c/python && $(C_PYTHON) -m mypy --strict src/bangui_state
	cd bindings-c/python && BANGUI_STATE_VECTORS="$(abspath $(C_VECTORS))" $(C_PYTHON) -m pytest -q tests ../../examples/python
	BANGUI_STATE_LIB= $(C_PYTHON) bench/python/bench.py --quick > /dev/null
	BANGUI_STATE_LIB= $(C_PYTHON) bench/python/runtime_state.py --quick > /dev/null

## Benchmarks (not tests): make bench runs them, bench/report.py reads target/bench/*.json.
BENCH_OUT := $(C_TARGET_DIR)/bench

bench-c-program: lib-c setup-c | $(C_OUT)
	gcc -std=c11 -Wall -Wextra -Werror -O2 -D_POSIX_C_SOURCE=200809L -I$(C_INCLUDE) bench/c/bench.c \
	  -o $(C_OUT)/bench $(C_STATIC)

bench-c: bench-c-program
	mkdir -p $(BENCH_OUT)
	$(C_OUT)/bench $(BENCH_OUT)/c.json

bench-python: python-install
	mkdir -p $(BENCH_OUT)
	BANGUI_STATE_LIB= $(C_PYTHON) bench/python/bench.py --out $(BENCH_OUT)/python.json
	BANGUI_STATE_LIB= $(C_PYTHON) bench/python/runtime_state.py --out $(BENCH_OUT)/runtime_state.json
