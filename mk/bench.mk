# `make bench`: one run of every performance measurement of issue 4. Each bench measures and
# writes JSON (bench/run.py -> bench/results.json: criterion on the host; our component, the
# spin-sdk "hello" fixture and a native hyper server under the same wrk load; cold start; sizes;
# then bench/shim/run.py and bench/edge/run.py), and bench/report.py renders bench/RESULTS.md,
# bench/shim/RESULTS.md and bench/edge/RESULTS.md from them (`make bench-report` alone). The soak
# (`make soak`, mk/hardening.mk) writes bench/soak/results.json the same way; its sections of
# bench/RESULTS.md are rendered from it by the same report step.
# Benchmarks only: nothing in `make test` depends on timing. Takes minutes once built (bench/run.py
# ends by printing how long it took).
# Included by the top Makefile, whose variables (WASM, WASM_TARGET, WASMTIME) and targets
# (build, wasmtime, rust-targets) it uses.

BENCH_OUT := target/bench
HELLO_WASM := target/$(WASM_TARGET)/release/bench_hello.wasm
CWASM := $(BENCH_OUT)/heart_disease_api.cwasm
HELLO_CWASM := $(BENCH_OUT)/bench_hello.cwasm
# The native server is built at opt-level 3 (a native server's usual release build, not the
# size-first profile the .wasm ships with), in its own target folder so that the override does
# not rebuild the workspace's host artifacts.
NATIVE_TARGET_DIR := target/bench-native
NATIVE := $(NATIVE_TARGET_DIR)/release/bench-native-server
# The same component with its symbols kept (strip = false), only for the perf profile, so that
# the component's own functions have names in it; its own target folder, as above.
SYMBOLS_TARGET_DIR := target/bench-symbols
SYMBOLS_CWASM := $(BENCH_OUT)/heart_disease_api.symbols.cwasm
# Priority of the measured processes (servers, wrk, criterion): on a shared machine other work
# would otherwise take turns on the pinned cores. `make bench BENCH_NICE=0` runs them as is.
BENCH_NICE ?= $(if $(filter 0,$(shell id -u)),-10,0)
# Debian packages: wrk drives the load; perf profiles (optional: without it the profile is skipped).
BENCH_APT := wrk linux-perf

.PHONY: bench bench-report bench-tools bench-build bench-compare
bench: build wasmtime bench-tools bench-build ## measure throughput, latency, RSS, cold start, size (wasmtime serve, then Spin and the shim, then workerd); writes bench/*results.json and bench/*RESULTS.md
	WASM=$(WASM) CWASM=$(CWASM) HELLO_WASM=$(HELLO_WASM) HELLO_CWASM=$(HELLO_CWASM) \
	  NATIVE=$(NATIVE) SYMBOLS_CWASM=$(SYMBOLS_CWASM) BENCH_NICE=$(BENCH_NICE) \
	  WASMTIME=$(WASMTIME) WRK=$$(command -v wrk) \
	  python3 bench/run.py
	python3 bench/report.py
	$(MAKE) --no-print-directory bench-shim bench-p3 bench-edge

bench-report: ## render bench/RESULTS.md, bench/shim/RESULTS.md, bench/edge/RESULTS.md again from the results.json files (bench/soak's too, and bench/notes.md), without measuring
	python3 bench/report.py

# A redesign judged against the build before it, on the same machine in the same minutes: the
# two components (and the hello fixture) take turns, round after round (bench/compare/run.py).
BENCH_COMPARE_BASE ?= cbf81e3
bench-compare: build wasmtime jco bench-tools ## the component now against BENCH_COMPARE_BASE's build (default cbf81e3), interleaved, ours/hello at c=16 and .wasm sizes; writes bench/compare/results.json and RESULTS.md
	cargo build --release --target $(WASM_TARGET) -p bench-hello
	WASM=$(WASM) HELLO_WASM=$(HELLO_WASM) WASMTIME=$(WASMTIME) WRK=$$(command -v wrk) \
	  BENCH_NICE=$(BENCH_NICE) BENCH_COMPARE_BASE=$(BENCH_COMPARE_BASE) python3 bench/compare/run.py
	python3 bench/report.py

bench-tools:
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	@command -v taskset >/dev/null || { echo "taskset (util-linux) is missing"; exit 1; }

bench-build: rust-targets build wasmtime
	cargo build --release --target $(WASM_TARGET) -p bench-hello
	CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --release -p bench-native-server --target-dir $(NATIVE_TARGET_DIR)
	cargo bench -p heart-wire --bench predict --no-run
	@mkdir -p $(BENCH_OUT)
	$(WASMTIME) compile -o $(CWASM) $(WASM)
	$(WASMTIME) compile -o $(HELLO_CWASM) $(HELLO_WASM)
	CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target $(WASM_TARGET) -p heart-disease-api \
	  --target-dir $(SYMBOLS_TARGET_DIR)
	$(WASMTIME) compile -o $(SYMBOLS_CWASM) $(SYMBOLS_TARGET_DIR)/$(WASM_TARGET)/release/heart_disease_api.wasm

# The pushed artifact on SpinKube's node runtime (containerd + containerd-shim-spin, which
# must be on PATH as for the tests): start times (first, precompiling; second, from the
# precompiled layer), ours beside the hello fixture under the same wrk load, the pod's CPU per
# request and memory, and the same under the chart's dev and prod limits. Writes
# bench/shim/results.json, then bench/report.py renders bench/shim/RESULTS.md (minutes:
# bench/shim/run.py ends by printing how long it took; without Spin, the shim and a recent ctr
# it says so and measures nothing);
# the chart's resources are checked against results.json.
.PHONY: bench-shim
bench-shim: build apt-tools bench-tools rust-targets ## the artifact on containerd-shim-spin: start times, ours vs hello, resources; writes bench/shim/RESULTS.md
	cargo build --release --target $(WASM_TARGET) -p bench-hello -p bench-hello-p3
	@WRK=$$(command -v wrk) python3 bench/shim/run.py || [ $$? = 3 ]
	python3 bench/report.py

# Spin 4 (on PATH): the wasi:http 0.3 build beside the 0.2 build and the hello fixtures of both
# kinds, taking turns round after round under `spin up`, then Spin 4's instance-reuse settings.
# Writes bench/p3/results.json; bench/report.py renders bench/p3/RESULTS.md. Without Spin 4 it
# says so and measures nothing.
.PHONY: bench-p3
bench-p3: build bench-tools rust-targets ## Spin 4: our wasi:http 0.3 build vs the 0.3 hello and our 0.2 build, interleaved; reuse settings; writes bench/p3/RESULTS.md
	cargo build --release --target $(WASM_TARGET) -p bench-hello -p bench-hello-p3
	@WRK=$$(command -v wrk) python3 bench/p3/run.py || [ $$? = 3 ]
	python3 bench/report.py

# The component on workerd (edge/): ours through its own wasi:http handler, beside the typed
# export and a trivial hello worker under the same workerd; cold start and RSS. Writes
# bench/edge/results.json, then bench/report.py renders bench/edge/RESULTS.md.
.PHONY: bench-edge
bench-edge: build jco bench-tools ## workerd: ours vs hello, cold start, RSS; writes bench/edge/RESULTS.md
	python3 bench/edge/run.py
	python3 bench/report.py

# The app on a real single-node Kubernetes (the throwaway cluster of `make test-cluster`):
# first start, a new replica's time to traffic, density 10 -> 100 replicas (memory and idle
# CPU per pod), many pods at once on a cold and a warm node, rollouts under load. Writes
# bench/cluster/results.json, rendered into bench/cluster/RESULTS.md. Reports not run (and
# passes) where the cluster's programs are missing.
.PHONY: bench-cluster
bench-cluster: venv apt-tools build ## the app on a real single-node cluster: start, time to traffic, density to 100 pods, cold starts, rollouts; writes bench/cluster/RESULTS.md
	@# exit 3 from --check: a program is missing, reported as not run (and passes)
	@if $(PY) tests/cluster/node.py --check; then \
	  echo "$(PY) tests/cluster/netns.py $(PY) bench/cluster/run.py"; $(PY) tests/cluster/netns.py $(PY) bench/cluster/run.py; \
	else [ $$? -eq 3 ]; fi
	python3 bench/report.py
