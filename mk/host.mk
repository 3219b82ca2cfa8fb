# The reference host (examples/host/): a FastAPI app on uvicorn whose workers
# share one runtime state (SQLite, or Redis), probing a real fail2ban, with a
# live dashboard on the npm package.
#
#   make demo-live   a private fail2ban-server and the app with 4 workers on
#                    SQLite at http://127.0.0.1:$(DEMO_LIVE_PORT)/; Ctrl-C stops both
#   make bench-host  the host under load against fail2ban alone (bench/host/load.py)
#   make test-host   the end-to-end tests: a private fail2ban-server and the app
#                    with 4 workers, on SQLite and on Redis, and headless
#                    Chromium on the dashboard (screenshots: target/host/dashboard*.png)
#
# setup-host installs what is missing, idempotently: Debian's fail2ban,
# redis-server and chromium, and the Python packages the app and tests use.

TEST_TARGETS += test-host
BENCH_TARGETS += bench-host

DEMO_LIVE_PORT ?= 8138
# command:Debian package (Node and npm come with wasm-setup)
HOST_APT_COMMANDS := fail2ban-server:fail2ban redis-server:redis-server chromium:chromium
# playwright drives Debian's chromium (no browser download): pinned to the
# version tested with it, as tests/wasm pins playwright-core.
# argon2-cffi hashes the operator's password (Argon2id, OWASP's first choice).
# uvicorn[standard] brings uvloop and httptools, which uvicorn then uses by itself
# (a worker spent 0.3 ms less CPU per request in bench/host/load.py). aiohttp and
# psutil are the load benchmark's client and its CPU counter.
HOST_PIP_PACKAGES := "fastapi>=0.110" "uvicorn[standard]>=0.30" "redis>=5" "structlog>=23" "httpx>=0.27" "aiohttp>=3.9" "psutil>=5.9" pytest mypy "playwright==1.65.2" "argon2-cffi>=23.1"

.PHONY: setup-host demo-live test-host bench-host

setup-host: python-install
	@missing=""; for pair in $(HOST_APT_COMMANDS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "setup-host: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(C_PYTHON) -c "import fastapi, uvicorn, uvloop, httptools, redis, structlog, httpx, aiohttp, psutil, pytest, mypy, playwright, argon2" 2>/dev/null || \
	  $(C_PYTHON) -m pip install --quiet --disable-pip-version-check $(HOST_PIP_PACKAGES)

demo-live: setup-host wasm-package
	cd examples/host && $(C_PYTHON) demo_live.py --port $(DEMO_LIVE_PORT)

test-host: setup-host wasm-package
	cd examples/host && $(C_PYTHON) -m mypy --strict --cache-dir ../../target/host/mypy-cache *.py tests/*.py
	cd examples/host && timeout 600 $(C_PYTHON) -m pytest -q -s -p no:cacheprovider tests
	# The load benchmark is not a test: a short run, to keep it working.
	timeout 300 $(C_PYTHON) bench/host/load.py --quick > /dev/null

## bench-host: 200 activations 20 at a time and 50 one at a time, against fail2ban
## directly and through the host (SQLite, Redis) -> target/bench/host.json
bench-host: setup-host wasm-package
	timeout 900 $(C_PYTHON) bench/host/load.py --out target/bench/host.json
