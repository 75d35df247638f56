# heart-disease-api — every workflow is a make target; `make help` lists them.
#
# Tools are installed on demand (idempotent), so `make up` and `make test` work on a
# fresh machine: Rust wasm targets, wasmtime-cli, jco (npm, pinned by package-lock.json),
# Debian tools for the Kubernetes checks, and a Python venv pinned by requirements.txt.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# The component, in two builds of the same service for wasm32-wasip2, as cargo writes them
# (RAW_*) and as they ship, after wasm-opt:
# - WASM: the wasi:http 0.2 build (src/): every host — wasmtime serve, jco, workerd, browsers,
#   Spin 3 and 4, containerd-shim-spin v0.24 and v0.25; spin.toml serves it;
# - WASM_P3: the wasi:http 0.3 build (crates/edge-p3): Spin 4 and containerd-shim-spin v0.25
#   only, which reuse one instance for many requests; spin-p3.toml serves it.
WASM_TARGET := wasm32-wasip2
RAW_WASM := target/$(WASM_TARGET)/release/heart_disease_api.wasm
WASM := target/heart_disease_api.wasm
RAW_WASM_P3 := target/$(WASM_TARGET)/release/heart_disease_api_p3.wasm
WASM_P3 := target/heart_disease_api_p3.wasm
# wasmtime-cli version that `make up` / the tests serve the component with.
WASMTIME_VERSION := 48.0.8
# cargo installs into $CARGO_HOME/bin (~/.cargo/bin unless CARGO_HOME is set).
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
WASMTIME := $(shell command -v wasmtime 2>/dev/null || echo $(CARGO_BIN)/wasmtime)
JCO := node_modules/.bin/jco
VENV := .venv
PY := $(VENV)/bin/python
# The example patient as compact JSON, read from the Rust source (tests/fixtures.py).
EXAMPLE_PATIENT = $(shell python3 tests/fixtures.py example)
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------
.PHONY: deps rust-targets crates wasmtime jco venv apt-tools spin-check
deps: rust-targets crates wasmtime jco venv apt-tools hardening-tools spin-check ## install every tool the build and tests need

rust-targets:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt

wasmtime:
	@command -v wasmtime >/dev/null || [ -x $(CARGO_BIN)/wasmtime ] || { \
	  echo "installing wasmtime-cli $(WASMTIME_VERSION) (about 10 minutes on 2 cores)"; \
	  cargo install wasmtime-cli --locked --version $(WASMTIME_VERSION); }

# Every crate of every target platform, so that the checks that run with --frozen/--offline
# (cargo deny) find them on a machine that has never built the project.
crates:
	cargo fetch --locked
	cargo fetch --locked --manifest-path monitoring/logs/vrl-check/Cargo.toml

# Spin, containerd-shim-spin and a `ctr` that can pull Spin artifacts come from their own
# installers, not from a package registry: say which runtimes the tests will run and which they
# will report as not run (and why). Never fails: CI has only the registries.
spin-check:
	@echo "runtimes on this machine:"
	@python3 tests/runtimes.py --check

jco: $(JCO)
$(JCO): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

# Debian packages: shellcheck for k8s/minikube-setup.sh, docker-registry for the loopback
# registry `make push` is tested against, containerd to run the pushed artifact on the shim,
# nginx as the ingress proxy in front of Spin in the stress checks, prometheus for promtool
# (the chart's alert rules are checked and unit-tested with it; its service is not used),
# chromium for the browser page's test and `make screenshot`; etcd, the CNI plugins, conntrack,
# dnsmasq, busybox, iptables and runc for the throwaway cluster of `make test-cluster`.
APT_TOOLS := shellcheck docker-registry containerd nginx prometheus chromium \
  etcd-server containernetworking-plugins conntrack dnsmasq-base busybox-static iptables runc
apt-tools:
	@missing=""; for p in $(APT_TOOLS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi

# ---------------------------------------------------------------------------
# Build, train, serve
# ---------------------------------------------------------------------------
.PHONY: build train up
# `cargo build`, then Binaryen's wasm-opt over the components' core modules (`jco opt`, the
# jco pinned in package.json): about a sixth smaller. wasm-opt runs only when cargo wrote a
# new .wasm.
build: rust-targets jco ## build both release components ($(WASM): wasi:http 0.2; $(WASM_P3): 0.3), optimised with wasm-opt
	cargo build --release --target $(WASM_TARGET) -p heart-disease-api -p heart-disease-api-p3
	@for pair in $(RAW_WASM):$(WASM) $(RAW_WASM_P3):$(WASM_P3); do \
	  raw=$${pair%%:*}; out=$${pair#*:}; \
	  if [ ! -f $$out ] || [ $$raw -nt $$out ]; then \
	    $(JCO) opt $$raw -o $$out.tmp -q && mv $$out.tmp $$out; \
	  fi; \
	  echo "built $$out: $$(stat -c %s $$out) bytes, sha256 $$(sha256sum $$out | cut -c1-64)"; \
	done

train: ## retrain on model/data and rewrite model/artifact.rs, model/model-card.json and model/figures/*.svg
	cargo run --release -p trainer

# Serve on $(HOST):$(PORT): `spin up` when Spin is installed (Spin 4 serves the wasi:http 0.3
# build, spin-p3.toml; Spin 3 the 0.2 build, spin.toml), else `wasmtime serve` of the 0.2 build
# (installed only then: about 14 minutes the first time).
SPIN_MAJOR = $(shell spin --version 2>/dev/null | sed -n 's/^spin \([0-9]*\)\..*/\1/p')
SPIN_MANIFEST = $(if $(filter-out 0 1 2 3,$(SPIN_MAJOR)),spin-p3.toml,spin.toml)
up: build $(if $(shell command -v spin),,wasmtime) ## build and serve the component on http://127.0.0.1:3000
	@echo "serving on http://$(HOST):$(PORT)  (Ctrl-C stops)"
	@echo "try: curl -s http://$(HOST):$(PORT)/predict -H 'content-type: application/json' \\"
	@printf "       -d '%s'\n" '$(EXAMPLE_PATIENT)'
	@if command -v spin >/dev/null; then \
	  echo "($$(spin --version | cut -d' ' -f1-2): spin up -f $(SPIN_MANIFEST))"; \
	  exec spin up -f $(SPIN_MANIFEST) --listen $(HOST):$(PORT); \
	else \
	  echo "(spin is not installed: serving the wasi:http 0.2 build with wasmtime serve)"; \
	  exec $(WASMTIME) serve -S cli=y --no-logging-prefix --addr $(HOST):$(PORT) $(WASM); \
	fi

# The same component at the edge: a workerd (Cloudflare Workers) worker in target/edge/ that
# hands every request to the component's own wasi:http handler (edge/README.md).
.PHONY: edge edge-up
edge: build jco ## the component as a workerd / Cloudflare worker in target/edge/
	node edge/build.mjs

edge-up: edge ## serve target/edge/ with workerd on http://127.0.0.1:3000 (PORT=…)
	node_modules/.bin/workerd serve target/edge/config.capnp --socket-addr http=$(HOST):$(PORT)

# The browser page: the same .wasm transpiled by jco; the form is built from the component's
# own feature table and the assessment runs in the page (target/web/, static files).
.PHONY: web
web: build jco ## the browser page in target/web/: the same .wasm run by the browser (serve the folder statically)
	node web/build.mjs

# What a user sees: /docs (with the model card's figures) served by wasmtime and rendered by
# headless Chromium (Debian's package, installed here when missing) into target/screenshots/.
.PHONY: screenshot
screenshot: build wasmtime apt-tools ## screenshots of /docs and the model card's figures, rendered by headless Chromium, in target/screenshots/
	python3 tools/screenshot.py

# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
# Two tiers. `make check` is the one to run before every commit: formatting, clippy on the host
# and on wasm32-wasip2, and every host test (nothing served); it installs nothing. `make test`
# installs what is missing (`make deps`), then runs `check` and everything that serves the
# built component, and ends with the runtimes it ran and those it reported as not run (why).
.PHONY: check test lint test-host test-served test-api test-spin test-logs test-stress test-edge test-web
check: lint test-host ## the fast tier, before every commit: fmt, clippy (host + wasm), host cargo test; installs nothing

test: deps check test-served test-api test-spin test-logs test-stress test-edge test-web test-kube test-cluster test-hardening soak-smoke ## everything: `make check`, the release .wasm on every runtime installed (served suite, API/protocol, Spin tooling and node runtime, edge, browser, stress), chart checks, fuzz smoke, cargo deny
	@echo; echo "make test: every check passed. Runtimes: what ran, and what was reported as not run and why:"
	@python3 tests/runtimes.py --check

lint: ## cargo fmt --check and clippy -D warnings on the host and wasm32-wasip2
	@rustup target list --installed | grep -qx $(WASM_TARGET) || { echo "the Rust target $(WASM_TARGET) is not installed: make deps (or rustup target add $(WASM_TARGET))"; exit 1; }
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p heart-disease-api -p heart-disease-api-p3 -p heart-model -p heart-wire -p heart-api --target $(WASM_TARGET) -- -D warnings

test-host: ## what plain `cargo test` runs on every host member (unit, properties, regressions, trainer): nothing built or served
	cargo test --workspace --exclude heart-served

test-served: build wasmtime jco ## the release .wasm served by wasmtime, jco, Spin, the SpinKube shim and workerd: one trial per check per runtime
	HEART_WASM=$(CURDIR)/$(WASM) cargo test -p heart-served

test-api: build wasmtime venv ## schemathesis and a stock Open Inference Protocol client (tritonclient) on wasmtime, Spin and the shim
	HEART_WASM=$(CURDIR)/$(WASM) $(PY) -m pytest tests/api

test-spin: build venv ## spin build, the `make push` artifact, the node runtime's restart from the precompiled layer, OTLP export
	$(PY) -m pytest tests/spin tests/otel

test-logs: build venv ## the log collector's parser: monitoring/logs/vector.yaml's VRL program (the real vrl crate) on the lines the component prints under spin up
	cargo build --release --locked --manifest-path monitoring/logs/vrl-check/Cargo.toml --target-dir target/vrl-check
	$(PY) -m pytest tests/logs

test-edge: build jco ## workerd answers byte for byte as wasmtime serve; the preview2-shim stdio override is still needed
	node --test tests/edge/

test-web: web wasmtime venv apt-tools ## the page in headless Chromium: answers equal POST /predict, no request after load, <= 160 kB gzip
	$(PY) -m pytest tests/web

test-stress: build venv apt-tools ## slow clients: 3000 stalled bodies through nginx configured as the chart's Ingress, in front of Spin
	$(PY) -m pytest tests/stress

include mk/kube.mk
include mk/manifests.mk
include mk/bench.mk
include mk/hardening.mk
