# Kubernetes through SpinKube: the Spin OCI artifact (`spin registry push`), Minikube, Helm
# deploy, smoke test, and the offline checks of chart and manifests (tests/chart).
# Included by the top-level Makefile (SHELL is bash with -euo pipefail). k8s/DEPLOY.md
# describes the Minikube workflow.

CHART := helm/heart-disease-api
APP_NAME := heart-disease-api
# The chart's appVersion is the image tag unless IMAGE_TAG is given.
APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' $(CHART)/Chart.yaml)
IMAGE_TAG ?= $(APP_VERSION)
# Target that produces the builds spin.toml and spin-p3.toml name; empty pushes the existing build.
WASM_BUILD_TARGET ?= build
# `make push REGISTRY=host:port[/path]`; TLS_VERIFY=auto uses plain HTTP for localhost,
# 127.x and the Minikube node's address (its registry addon), HTTPS elsewhere.
REGISTRY ?=
TLS_VERIFY ?= auto
# The containerd-shim-spin the cluster's nodes run (k8s/minikube-setup.sh installs v0.25.1):
# v0.25 and newer embed Spin 4 and get the wasi:http 0.3 build (spin-p3.toml), which Spin 4
# serves with one instance for many requests; older shims (v0.24: Spin 3.6) the 0.2 build
# (spin.toml).
SHIM_VERSION ?= v0.25.1
# Where `make push` records the pushed reference by digest, for `make deploy`.
PUSHED ?= target/pushed-image
# The artifact's `org.opencontainers.image.created`: the last commit's time, so that the same
# sources push to the same digest (Spin would write the current time).
CREATED ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo 1970-01-01T00:00:00Z)
# Helm release, namespace and values of `make deploy`; the namespace needs the
# containerd-shim-spin SpinAppExecutor (make minikube-setup applies it to `default`).
RELEASE ?= $(APP_NAME)
NAMESPACE ?= default
VALUES ?= $(CHART)/values-dev.yaml
# Repository as the cluster's node pulls it: Minikube's registry addon is localhost:5000 there.
DEPLOY_REPOSITORY ?= localhost:5000/$(APP_NAME)
NODE_PORT ?= 30080
HELM ?= helm
KUBECTL ?= kubectl
MINIKUBE ?= minikube

.PHONY: push require-registry require-spin minikube-setup deploy smoke test-kube test-cluster cluster-smoke

# The Spin OCI artifact, as SpinKube documents it: a wasm layer the shim precompiles on the
# node (its digest is the .wasm's sha256) and the Spin application config.
push: require-registry require-spin $(WASM_BUILD_TARGET) ## push the app with `spin registry push`: make push REGISTRY=host:port (Minikube: REGISTRY=$$(minikube ip):5000)
	@tls="$(TLS_VERIFY)"; \
	if [ "$$tls" = auto ]; then \
	  tls=true; host="$(REGISTRY)"; host="$${host%%/*}"; host="$${host%%:*}"; \
	  mk_ip=$$(command -v $(MINIKUBE) >/dev/null && $(MINIKUBE) ip 2>/dev/null || true); \
	  case "$$host" in localhost|127.*) tls=false;; esac; \
	  if [ -n "$$mk_ip" ] && [ "$$host" = "$$mk_ip" ]; then tls=false; fi; \
	fi; \
	if [ "$$(printf '%s\n' v0.25.0 "v$(SHIM_VERSION:v%=%)" | sort -V | head -1)" = v0.25.0 ]; then \
	  manifest=spin-p3.toml; wasm=$(WASM_P3); build="wasi:http 0.3"; \
	else \
	  manifest=spin.toml; wasm=$(WASM); build="wasi:http 0.2"; \
	fi; \
	dest="$(REGISTRY)/$(APP_NAME):$(IMAGE_TAG)"; \
	echo "pushing $$manifest ($$wasm, sha256:$$(sha256sum $$wasm | cut -c1-64)) to $$dest (tls-verify=$$tls)"; \
	echo "  the $$build build, for containerd-shim-spin $(SHIM_VERSION) (SHIM_VERSION=v0.24.0 pushes the 0.2 build)"; \
	out=$$(spin registry push $$([ "$$tls" = false ] && echo --insecure) \
	  --annotation org.opencontainers.image.created=$(CREATED) --from $$manifest "$$dest"); \
	digest=$$(echo "$$out" | grep -oE 'sha256:[0-9a-f]{64}' | tail -1); \
	[ -n "$$digest" ] || { echo "push: spin registry push printed no digest: $$out" >&2; exit 1; }; \
	mkdir -p "$$(dirname $(PUSHED))"; echo "$(REGISTRY)/$(APP_NAME)@$$digest" > $(PUSHED); \
	echo "pushed $$dest@$$digest"

require-registry:
	@if [ -z "$(REGISTRY)" ]; then echo "push: set REGISTRY, e.g. make push REGISTRY=\$$(minikube ip):5000" >&2; exit 2; fi

require-spin:
	@command -v spin >/dev/null || { echo "push: the spin CLI is needed: install Spin 3.6 or 4.0 with its official installer (https://spinframework.dev/install)" >&2; exit 2; }

minikube-setup: ## start Minikube (containerd) with cert-manager, the Spin shim, spin-operator and the executor
	bash k8s/minikube-setup.sh

deploy: ## helm upgrade --install the chart (VALUES=values-dev.yaml by default) with the pushed artifact's digest
	@command -v $(HELM) >/dev/null || { echo "deploy: the helm CLI is needed (not installed here)" >&2; exit 2; }
	@[ -f "$(PUSHED)" ] || { echo "deploy: nothing pushed yet: run make push REGISTRY=… first" >&2; exit 2; }
	@digest=$$(sed 's/.*@//' "$(PUSHED)"); \
	echo "deploying $(DEPLOY_REPOSITORY):$(IMAGE_TAG)@$$digest as release $(RELEASE) in namespace $(NAMESPACE) with $(VALUES)"; \
	$(HELM) upgrade --install "$(RELEASE)" "$(CHART)" --namespace "$(NAMESPACE)" --values "$(VALUES)" \
	  --set image.repository="$(DEPLOY_REPOSITORY)" --set image.tag="$(IMAGE_TAG)" --set image.digest="$$digest" \
	  --set service.nodePort=$(NODE_PORT)
	@echo "waiting for the spin-operator to create deployment/$(RELEASE)"; \
	for _ in $$(seq 60); do $(KUBECTL) -n "$(NAMESPACE)" get deployment "$(RELEASE)" >/dev/null 2>&1 && break; sleep 2; done; \
	$(KUBECTL) -n "$(NAMESPACE)" rollout status deployment/"$(RELEASE)" --timeout=180s

smoke: ## POST /predict (and GET /health) through http://$(minikube ip):30080
	@ip=$$($(MINIKUBE) ip); url="http://$$ip:$(NODE_PORT)"; \
	echo "GET $$url/health"; \
	curl -fsS --retry 10 --retry-connrefused --retry-delay 2 --max-time 10 "$$url/health"; echo; \
	echo "POST $$url/predict"; \
	curl -fsS --max-time 10 -X POST "$$url/predict" -H 'content-type: application/json' \
	  -d '$(EXAMPLE_PATIENT)'; \
	echo; echo "smoke: OK"

test-kube: venv apt-tools $(WASM_BUILD_TARGET) ## offline checks: chart render/lint, upstream CRDs, kubernetes-validate, checkov, manifests, shellcheck, `make push`
	$(PY) -m pytest tests/chart

# A throwaway single-node Kubernetes (tests/cluster/node.py) inside a network namespace of
# its own (tests/cluster/netns.py): the chart installed by Helm, served by the shim, checked,
# and everything torn down. Its programs are in no package registry: where one is missing the
# target prints "cluster not run: ..." naming it, and passes (CI).
test-cluster: venv apt-tools $(WASM_BUILD_TARGET) ## the chart on a real single-node cluster (kube-apiserver … kubelet with containerd-shim-spin, spin-operator, metrics-server): install, executor, second release, rollout under load, HPA, 50 replicas, Pod Security, monitoring
	@# exit 3 from --check: a program is missing, reported as not run (and passes)
	@if $(PY) tests/cluster/node.py --check; then \
	  echo "$(PY) tests/cluster/netns.py $(PY) -m pytest tests/cluster"; $(PY) tests/cluster/netns.py $(PY) -m pytest tests/cluster; \
	else [ $$? -eq 3 ]; fi

# The same install → Ready → API suite through the NodePort → helm test → uninstall, against
# any KUBECONFIG (your Minikube after `make minikube-setup` and `make push`).
cluster-smoke: venv ## install the chart on $$KUBECONFIG's cluster, run the API suite through the NodePort and helm test, uninstall (ARGS="--values FILE --set k=v --keep")
	$(PY) tests/cluster/smoke.py --values "$(VALUES)" $(ARGS)
