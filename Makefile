# bangui-state: `make test` and `make demo` do all the set-up they need on a
# fresh machine (idempotently), then run. Each binding adds its own targets in
# mk/<binding>.mk, appending to TEST_TARGETS / BENCH_TARGETS.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo

TEST_TARGETS := test-rust
BENCH_TARGETS := bench-rust

.PHONY: all test demo bench bench-rust test-rust lint no-std-check
all: test

include $(sort $(wildcard mk/*.mk))

## make test: every check the project has, each binding included.
test: $(TEST_TARGETS)
	@echo "make test: all suites passed ($(TEST_TARGETS))"

## make demo: the replay CLI on its bundled scenario.
demo:
	$(CARGO) run --quiet --release -p bangui-state-cli --bin bangui-state -- replay

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Rust: formatting, lints, unit tests, proptest (PROPTEST_CASES, 10 000 in CI) and the vectors.
test-rust: lint no-std-check
	PROPTEST_CASES=$${PROPTEST_CASES:-10000} $(CARGO) test --workspace --release
	# Benchmarks are not tests: run each once, untimed, to keep them compiling and working.
	$(CARGO) bench --quiet -p bangui-state-core --bench step -- --test > /dev/null

## The core builds for a bare-metal target, which has no `std` at all.
NO_STD_TARGET := thumbv7em-none-eabi
no-std-check:
	rustup target list --installed | grep -qx $(NO_STD_TARGET) || rustup target add $(NO_STD_TARGET)
	$(CARGO) build --quiet -p bangui-state-core --target $(NO_STD_TARGET)

## make bench: every benchmark, into BENCHMARKS.md.
bench: $(BENCH_TARGETS)
	python3 bench/report.py

bench-rust:
	$(CARGO) bench -p bangui-state-core --bench step -- --warm-up-time 1 --measurement-time 3
