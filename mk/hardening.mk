# Hardening (issue 5): fuzzing, dependency policy, sustained load. Included by the top
# Makefile, whose variables (WASM, WASMTIME) and targets (build, wasmtime) it uses.
#
#   make fuzz            cargo fuzz over respond() for FUZZ_SECONDS (default 600)
#   make fuzz-smoke      the same for FUZZ_SMOKE_SECONDS (default 60): part of `make test`
#   make deny            cargo deny: licences, bans, sources (offline)
#   make audit           cargo deny: RustSec advisories (downloads the advisory database)
#   make soak            60 s at concurrency 64 on wasmtime serve, then on Spin; writes
#                        bench/soak/results.json, then bench/report.py renders bench/RESULTS.md
#   make soak-smoke      the same mix, 10 s each, RSS growth not checked; writes nothing
#   make test-hardening  fuzz-smoke + deny (what `make test` runs)

FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_TARGET := respond
# libFuzzer adds what it finds here (ignored by git); the committed seeds stay as written.
FUZZ_WORK := fuzz/target/corpus/$(FUZZ_TARGET)
FUZZ_SEEDS := fuzz/corpus/$(FUZZ_TARGET)
# Inputs up to 8 KiB (enough for small batches); a limit well above what ASan's quarantine
# needs (each run's peak, libFuzzer's stat::peak_rss_mb, is in its closing line below).
FUZZ_FLAGS = -max_len=8192 -rss_limit_mb=4096 -print_final_stats=1
FUZZ_LOG := fuzz/target/$(FUZZ_TARGET).log
CARGO_FUZZ_VERSION := 0.13.2
CARGO_DENY_VERSION := 0.20.2

# The soak is its own package (bench/soak), on the served side's harness (tests/served) like
# the served tests. It is built for speed (opt-level 3, unwinding so that a failed run still
# stops its runtime, no LTO) rather than for size like the component's release profile, in its
# own target directory so that it never rebuilds the host's. It measures into JSON
# (SOAK_RESULTS_JSON, one entry per runtime); bench/report.py is what writes bench/RESULTS.md.
include mk/soak.env
SOAK_TARGET_DIR := target/soak
SOAK := $(SOAK_TARGET_DIR)/release/soak
SOAK_RESULTS_JSON := bench/soak/results.json
SOAK_PROFILE := CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_STRIP=false

.PHONY: hardening-tools fuzz-tools deny-tools fuzz fuzz-smoke deny audit soak soak-build soak-smoke test-hardening

hardening-tools: fuzz-tools deny-tools

# cargo fuzz needs a nightly toolchain (libFuzzer and the sanitizers' -Z flags).
fuzz-tools:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)

# cargo-deny 0.20 needs rustc ≥ 1.88 to build.
deny-tools:
	@command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version $(CARGO_DENY_VERSION)

# $(call fuzz_run,SECONDS): build, run from the seeds and the working corpus, and fail on a
# crash (libFuzzer saves the input to fuzz/artifacts/; kept in fuzz/corpus/respond/, crates/heart-api/tests/regressions.rs replays it).
define fuzz_run
	@mkdir -p $(FUZZ_WORK)
	cargo +nightly fuzz build $(FUZZ_TARGET) -O
	cargo +nightly fuzz run $(FUZZ_TARGET) -O $(FUZZ_WORK) $(FUZZ_SEEDS) -- \
	  -max_total_time=$(1) $(FUZZ_FLAGS) 2>&1 | tee $(FUZZ_LOG) \
	  | grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|panicked|SUMMARY' || true
	@# The pipe hides libFuzzer's exit status: a crash is what its log says.
	@if grep -qE '^==[0-9]+== ?ERROR|panicked at|SUMMARY: libFuzzer' $(FUZZ_LOG); then \
	  echo "fuzz: crash found; see $(FUZZ_LOG) and fuzz/artifacts/$(FUZZ_TARGET)/"; exit 1; fi
	@grep -q '^Done ' $(FUZZ_LOG) || { echo "fuzz: libFuzzer did not finish; see $(FUZZ_LOG)"; exit 1; }
	@echo "fuzz: $$(grep -m1 '^stat::number_of_executed_units' $(FUZZ_LOG) | awk '{print $$2}') executions in $(1) s," \
	  "$$(grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_LOG) | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9A-Za-z]+')," \
	  "peak RSS $$(grep -m1 '^stat::peak_rss_mb' $(FUZZ_LOG) | awk '{print $$2}') MB, no crash"
endef

fuzz: fuzz-tools ## fuzz the whole request path for FUZZ_SECONDS (default 600); crashes land in fuzz/artifacts/
	$(call fuzz_run,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-tools ## a short fuzz run (FUZZ_SMOKE_SECONDS, default 60) from the committed seeds
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))

deny: deny-tools ## dependency policy (deny.toml): licences, duplicate versions, crates.io only; offline
	cargo deny --frozen check licenses bans sources
	cargo deny --frozen --manifest-path monitoring/logs/vrl-check/Cargo.toml --config monitoring/logs/vrl-check/deny.toml check licenses bans sources

audit: deny-tools ## RustSec advisories via cargo deny (needs network to fetch the advisory database)
	cargo deny check advisories

# cargo knows when the soak is up to date (it checks the model and wire crates too).
soak-build:
	$(SOAK_PROFILE) cargo build --release --locked -p bench-soak --bin soak --target-dir $(SOAK_TARGET_DIR)

# $(call soak_run,SECONDS,WARMUP,MAX_RSS_GROWTH_PCT,RESULTS_JSON): each of SOAK_RUNTIMES in
# turn, started by tests/runtimes.py; a runtime this machine cannot run (Spin: in no package
# registry) is reported as not run, with the reason, and its entry in RESULTS_JSON is left as
# it was. Every runtime runs even when one fails, and the target fails if any did. With
# RESULTS_JSON given, bench/report.py then renders bench/RESULTS.md (a failed run's figures
# too, with its verdict); without it nothing is written.
define soak_run
	@failed=""; for rt in $(SOAK_RUNTIMES); do \
	  if why=$$(python3 tests/runtimes.py $$rt --not-run); then :; else echo "soak: $$rt not run: $$why"; continue; fi; \
	  echo "soak: $$rt, $(2) s warm-up + $(1) s"; \
	  SOAK_RUNTIME=$$rt HEART_WASM=$(CURDIR)/$(WASM) SOAK_RESULTS=$(if $(4),$(CURDIR)/$(4)) \
	  SOAK_SECONDS=$(1) SOAK_WARMUP_SECONDS=$(2) SOAK_MAX_RSS_GROWTH_PCT=$(3) \
	  SOAK_CONCURRENCY=$(SOAK_CONCURRENCY) SOAK_PCT_BATCH=$(SOAK_PCT_BATCH) \
	  SOAK_PCT_INVALID=$(SOAK_PCT_INVALID) SOAK_PCT_OVERSIZED=$(SOAK_PCT_OVERSIZED) \
	  SOAK_PCT_HEAD=$(SOAK_PCT_HEAD) SOAK_PCT_SLOW=$(SOAK_PCT_SLOW) SOAK_PCT_STALLED=$(SOAK_PCT_STALLED) \
	  $(SOAK) || failed="$$failed $$rt"; \
	done; \
	if [ -n "$(4)" ]; then python3 bench/report.py || failed="$$failed (report)"; fi; \
	if [ -n "$$failed" ]; then echo "soak: FAILED on$$failed"; exit 1; fi
endef

soak: build wasmtime soak-build ## 60 s at concurrency 64 on wasmtime serve, then Spin with each build (valid, invalid, oversized, slow, stalled, HEAD); writes bench/soak/results.json and renders bench/RESULTS.md
	$(call soak_run,$(SOAK_SECONDS),$(SOAK_WARMUP_SECONDS),$(SOAK_MAX_RSS_GROWTH_PCT),$(SOAK_RESULTS_JSON))

soak-smoke: build wasmtime soak-build ## the soak's mix for 10 s on each runtime (RSS growth not checked; writes nothing): fails on any unexpected status or unanswered connection
	$(call soak_run,$(SOAK_SMOKE_SECONDS),$(SOAK_SMOKE_WARMUP_SECONDS),off,)

test-hardening: fuzz-smoke deny ## fuzz smoke run and cargo deny (part of `make test`)
