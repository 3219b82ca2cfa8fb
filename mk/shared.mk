# Shared stores for Python hosts (bangui_state.shared: SQLite and Redis).
#
#   make setup-shared  redis-server (Debian), redis-py, FastAPI (for the README
#                      example test) and mypy, each only if missing
#   make bench-shared  times both stores against a private redis-server and a
#                      SQLite file -> target/bench/shared.json
#   make soak          the fault runs, long: thousands of steps from 8 processes
#                      through a proxy that loses commit replies, asyncio steps
#                      cancelled mid-commit, a Redis Cluster's master killed 3
#                      times under load (BANGUI_SOAK=1; minutes, not seconds)
#
# Their tests (bindings-c/python/tests/test_shared_*.py) run in make test-python
# against private servers the tests start (a redis-server, a Redis Cluster of 6
# on loopback ports, the lossy proxy), the fault runs short (a few seconds);
# test-shared-smoke runs the benchmark once, untimed, and mypy --strict on the
# subpackage.

TEST_TARGETS += test-shared-smoke
BENCH_TARGETS += bench-shared

.PHONY: setup-shared test-shared-smoke bench-shared soak soak-shared

setup-shared: setup-python
	@command -v redis-server >/dev/null || { echo "setup-shared: installing redis-server"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server; }
	@$(C_PYTHON) -c "import redis, fastapi, mypy" 2>/dev/null || \
	  $(C_PYTHON) -m pip install --quiet --disable-pip-version-check "redis>=4.6" fastapi mypy

# The shared-store tests need redis-server and redis-py.
test-python: setup-shared

test-shared-smoke: python-install setup-shared
	BANGUI_STATE_LIB= $(C_PYTHON) bench/shared/bench.py --quick > /dev/null
	cd bindings-c/python/src && BANGUI_STATE_LIB= $(C_PYTHON) -m mypy --strict --cache-dir=/dev/null -p bangui_state.shared

bench-shared: python-install setup-shared
	mkdir -p $(BENCH_OUT)
	BANGUI_STATE_LIB= $(C_PYTHON) bench/shared/bench.py --out $(BENCH_OUT)/shared.json

## soak: the long fault runs (see the top of mk/shared.mk).
soak: soak-shared

soak-shared: python-install setup-shared
	cd bindings-c/python && BANGUI_SOAK=1 BANGUI_STATE_LIB= $(C_PYTHON) -m pytest -q -s -p no:cacheprovider \
	  tests/test_shared_faults.py tests/test_shared_cluster.py
