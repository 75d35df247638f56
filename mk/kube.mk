# Kubernetes through SpinKube: OCI image without Docker, push, Minikube, Helm deploy,
# smoke test, and the offline checks of chart, manifests and image (tests/chart).
# Included by the top-level Makefile (SHELL is bash with -euo pipefail). k8s/DEPLOY.md
# describes the Minikube workflow.

CHART := helm/heart-disease-api
APP_NAME := heart-disease-api
# The chart's appVersion is the image tag unless IMAGE_TAG is given.
APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' $(CHART)/Chart.yaml)
IMAGE_TAG ?= $(APP_VERSION)
# spin.toml whose component is packaged; the image holds a copy whose `source` is the .wasm's base name.
SPIN_TOML ?= spin.toml
# OCI image layout written by `make image` (and its manifest digest in $(OCI_DIR).digest).
OCI_DIR ?= target/oci/$(APP_NAME)
# Target that produces $(WASM); empty packages an existing $(WASM) without building it.
WASM_BUILD_TARGET ?= build
# `make push REGISTRY=host:port[/path]`; TLS_VERIFY=auto uses plain HTTP for localhost,
# 127.x and the Minikube node's address (its registry addon), HTTPS elsewhere.
REGISTRY ?=
TLS_VERIFY ?= auto
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

.PHONY: image push require-registry minikube-setup deploy smoke test-kube

image: $(WASM_BUILD_TARGET) apt-tools ## package $(WASM) + spin.toml as a reproducible OCI image in target/oci (no Docker)
	@echo "packaging $(WASM) with $(SPIN_TOML) as $(APP_NAME):$(IMAGE_TAG)"
	@digest=$$(python3 tools/oci/build-image.py --wasm "$(WASM)" --spin-toml "$(SPIN_TOML)" --out "$(OCI_DIR)" --tag "$(IMAGE_TAG)"); \
	skopeo inspect "oci:$(OCI_DIR):$(IMAGE_TAG)" >/dev/null; \
	echo "image oci:$(OCI_DIR):$(IMAGE_TAG)"; \
	echo "digest $$digest"; \
	echo "wasm sha256:$$(sha256sum "$(WASM)" | cut -d' ' -f1)"

push: require-registry image ## push the image with skopeo: make push REGISTRY=host:port (Minikube: REGISTRY=$(minikube ip):5000)
	@tls="$(TLS_VERIFY)"; \
	if [ "$$tls" = auto ]; then \
	  tls=true; host="$(REGISTRY)"; host="$${host%%/*}"; host="$${host%%:*}"; \
	  mk_ip=$$(command -v $(MINIKUBE) >/dev/null && $(MINIKUBE) ip 2>/dev/null || true); \
	  case "$$host" in localhost|127.*) tls=false;; esac; \
	  if [ -n "$$mk_ip" ] && [ "$$host" = "$$mk_ip" ]; then tls=false; fi; \
	fi; \
	dest="$(REGISTRY)/$(APP_NAME):$(IMAGE_TAG)"; \
	echo "pushing oci:$(OCI_DIR):$(IMAGE_TAG) to $$dest (tls-verify=$$tls)"; \
	skopeo copy --quiet --preserve-digests --dest-tls-verify="$$tls" "oci:$(OCI_DIR):$(IMAGE_TAG)" "docker://$$dest"; \
	pushed=$$(skopeo inspect --tls-verify="$$tls" --format '{{.Digest}}' "docker://$$dest"); \
	[ "$$pushed" = "$$(cat $(OCI_DIR).digest)" ] || { echo "push: registry reports $$pushed, built $$(cat $(OCI_DIR).digest)" >&2; exit 1; }; \
	echo "pushed $$dest@$$pushed"

require-registry:
	@if [ -z "$(REGISTRY)" ]; then echo "push: set REGISTRY, e.g. make push REGISTRY=\$$(minikube ip):5000" >&2; exit 2; fi

minikube-setup: ## start Minikube (containerd) with cert-manager, the Spin shim, spin-operator and the executor
	bash k8s/minikube-setup.sh

deploy: ## helm upgrade --install the chart (VALUES=values-dev.yaml by default) with the built image's digest
	@command -v $(HELM) >/dev/null || { echo "deploy: the helm CLI is needed (not installed here)" >&2; exit 2; }
	@digest=""; if [ -f "$(OCI_DIR).digest" ]; then digest=$$(cat "$(OCI_DIR).digest"); fi; \
	echo "deploying $(DEPLOY_REPOSITORY):$(IMAGE_TAG)$${digest:+@$$digest} as release $(RELEASE) in namespace $(NAMESPACE) with $(VALUES)"; \
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
	  -d '{"age":63,"sex":1,"cp":1,"trestbps":145,"chol":233,"fbs":1,"restecg":2,"thalach":150,"exang":0,"oldpeak":2.3,"slope":3,"ca":0,"thal":6}'; \
	echo; echo "smoke: OK"

test-kube: venv apt-tools $(WASM_BUILD_TARGET) ## offline checks: chart render/lint/schema, kubernetes-validate, checkov, manifests, shellcheck, image push/pull
	WASM="$(WASM)" SPIN_TOML="$(SPIN_TOML)" $(PY) -m pytest tests/chart -q -p no:cacheprovider
