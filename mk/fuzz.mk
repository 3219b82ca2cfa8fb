# Coverage-guided fuzzing (fuzz/: cargo-fuzz, libFuzzer, on nightly Rust).
#
#   make fuzz        every target for FUZZ_SECONDS (default 600) each, on the
#                    corpora in fuzz/corpus/ (seeded from tests/vectors, kept
#                    between runs); executions per target -> target/fuzz/summary.txt
#   make test-fuzz   (in make test) each target for FUZZ_SMOKE_SECONDS (10) on
#                    fresh seeds, plus every input in fuzz/regressions/<target>/
#
# Targets: step (bootstrap or state, then events and nows), trace (parse and
# replay), rfc3339 (parse and format, against chrono), c_abi (a sequence of C
# ABI calls). A crash stops its target (the others still run) and fails the
# run; libFuzzer leaves the input in fuzz/artifacts/<target>/. Installs the nightly toolchain and
# cargo-fuzz (pinned) when missing.

FUZZ_TARGETS       := step trace rfc3339 c_abi
FUZZ_SECONDS       ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TOOLCHAIN     ?= nightly
CARGO_FUZZ_VERSION := 0.13.2
FUZZ_OUT           := $(abspath $(or $(CARGO_TARGET_DIR),target))/fuzz
# Other work shares the machine: the fuzzer yields the CPU to it.
FUZZ_NICE          ?= nice -n 10
FUZZ_FLAGS         := -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -max_len=65536

TEST_TARGETS += test-fuzz

.PHONY: fuzz test-fuzz fuzz-setup fuzz-build

fuzz-setup:
	rustup toolchain list | grep -q '^$(FUZZ_TOOLCHAIN)' || rustup toolchain install $(FUZZ_TOOLCHAIN) --profile minimal
	cargo fuzz --version 2>/dev/null | grep -qx 'cargo-fuzz $(CARGO_FUZZ_VERSION)' || \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION)

fuzz-build: fuzz-setup
	$(FUZZ_NICE) cargo +$(FUZZ_TOOLCHAIN) fuzz build

# $(call fuzz_targets,CORPUS_ROOT,SECONDS): runs every target on CORPUS_ROOT/<target>
# (and fuzz/regressions/<target> when present), logs to $(FUZZ_OUT)/<target>.log,
# and writes one line per target (name, executions, seconds) to $(FUZZ_OUT)/summary.txt.
define fuzz_targets
	mkdir -p $(FUZZ_OUT) && : > $(FUZZ_OUT)/summary.txt
	failed=; for t in $(FUZZ_TARGETS); do \
	  regressions=; [ -d fuzz/regressions/$$t ] && regressions=fuzz/regressions/$$t; \
	  $(FUZZ_NICE) cargo +$(FUZZ_TOOLCHAIN) fuzz run $$t $(1)/$$t $$regressions -- \
	    -max_total_time=$(2) $(FUZZ_FLAGS) > $(FUZZ_OUT)/$$t.log 2>&1 \
	    || { tail -40 $(FUZZ_OUT)/$$t.log; echo "fuzz: target $$t failed (log: $(FUZZ_OUT)/$$t.log)"; failed="$$failed $$t"; }; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: //p' $(FUZZ_OUT)/$$t.log); \
	  echo "$$t $${runs:-?} $(2)" | tee -a $(FUZZ_OUT)/summary.txt; \
	done; \
	awk '{ n += $$2 } END { print "fuzz: " n " executions in all" }' $(FUZZ_OUT)/summary.txt; \
	if [ -n "$$failed" ]; then echo "fuzz: crashed:$$failed"; exit 1; fi
endef

## make fuzz: the long run.
fuzz: fuzz-build
	python3 fuzz/seed_corpora.py tests/vectors fuzz/corpus
	$(call fuzz_targets,fuzz/corpus,$(FUZZ_SECONDS))

## make test-fuzz: a short smoke of every target, on fresh seeds.
test-fuzz: fuzz-build
	rm -rf $(FUZZ_OUT)/smoke-corpus
	python3 fuzz/seed_corpora.py tests/vectors $(FUZZ_OUT)/smoke-corpus
	$(call fuzz_targets,$(FUZZ_OUT)/smoke-corpus,$(FUZZ_SMOKE_SECONDS))
