#!/usr/bin/env bash
# Set up a local SpinKube on Minikube for heart-disease-api (`make minikube-setup`), the
# way the SpinKube documentation installs it with Helm:
#   1. minikube with the containerd runtime, plus its registry and metrics-server addons
#   2. cert-manager (the spin-operator's webhooks need certificates)
#   3. containerd-shim-spin on the node through runtime-class-manager: its chart, a Shim
#      resource for the shim, and the node label the Shim selects; runtime-class-manager
#      then installs the shim and creates the RuntimeClass wasmtime-spin-v2. (The kwasm
#      node-installer path is deprecated since containerd-shim-spin v0.24.0.)
#   4. the spin-operator CRDs (the release asset spin-operator.crds.yaml), the
#      spin-operator chart, and the containerd-shim-spin SpinAppExecutor
# Every step is idempotent: run it again to repair or confirm a setup (it also moves a
# setup made by the earlier kwasm version of this script over). Versions are pinned
# below; override one through the environment (e.g. SHIM_VERSION=v0.24.0, the Spin 3.6 shim:
# then push with `make push SHIM_VERSION=v0.24.0`, which pushes the wasi:http 0.2 build).
# Needs: minikube, kubectl, helm on PATH, and a Minikube driver (docker, kvm2, ...).
set -euo pipefail

# --- pinned versions ----------------------------------------------------------------
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.32.0}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.20.0}"
RUNTIME_CLASS_MANAGER_VERSION="${RUNTIME_CLASS_MANAGER_VERSION:-0.2.0}"
SHIM_VERSION="${SHIM_VERSION:-v0.25.1}"
SPIN_OPERATOR_VERSION="${SPIN_OPERATOR_VERSION:-0.6.1}"

# --- settings -----------------------------------------------------------------------
PROFILE="${MINIKUBE_PROFILE:-minikube}"
NAMESPACE="${NAMESPACE:-default}"
TIMEOUT="${TIMEOUT:-300s}"   # in seconds, with the s
MINIKUBE_CPUS="${MINIKUBE_CPUS:-2}"
MINIKUBE_MEMORY="${MINIKUBE_MEMORY:-4096}"
# sha256 of the shim's release archives, checked by runtime-class-manager when given.
SHIM_SHA256_X86_64="${SHIM_SHA256_X86_64:-}"
SHIM_SHA256_AARCH64="${SHIM_SHA256_AARCH64:-}"
# true|false: the cgroup driver of the shim; empty: the one the node's containerd uses.
SHIM_SYSTEMD_CGROUP="${SHIM_SYSTEMD_CGROUP:-}"

# The Shim (runtime-class-manager's resource) as the SpinKube docs' sample makes it: nodes
# labelled spin=true get containerd-shim-spin-v2, whose containerd runtime is named after
# the binary (spin-v2), and the RuntimeClass wasmtime-spin-v2 that the executor names.
SHIM_NAME="spin-v2"
SHIM_NODE_LABEL="spin=true"
RUNTIME_CLASS="wasmtime-spin-v2"
RUNTIME_HANDLER="spin-v2"

SHIM_RELEASES="https://github.com/spinframework/containerd-shim-spin/releases/download/${SHIM_VERSION}"
RUNTIME_CLASS_MANAGER_CHART="oci://ghcr.io/spinframework/charts/runtime-class-manager"
SPIN_OPERATOR_RELEASES="https://github.com/spinframework/spin-operator/releases/download/v${SPIN_OPERATOR_VERSION}"
SPIN_OPERATOR_CHART="oci://ghcr.io/spinframework/charts/spin-operator"
CERT_MANAGER_MANIFEST="https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'minikube-setup: %s\n' "$*" >&2; exit 1; }

# wait_until WHAT COMMAND...: run COMMAND every 2 s until it succeeds, at most $TIMEOUT.
wait_until() {
  local what="$1" deadline=$((SECONDS + ${TIMEOUT%s}))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${TIMEOUT} waiting for ${what}"
    sleep 2
  done
}

# One fetchStrategy.platforms entry of the Shim: shim_platform ARCH [SHA256].
shim_platform() {
  printf '      - os: linux\n        arch: %s\n        location: "%s/containerd-shim-spin-v2-linux-%s.tar.gz"\n' \
    "$1" "$SHIM_RELEASES" "$1"
  if [ -n "${2:-}" ]; then printf '        sha256: "%s"\n' "$2"; fi
}

# True when every node selected by the Shim has the shim installed: runtime-class-manager
# labels such a node <shim name>=provisioned (and =failed when the install failed).
shim_provisioned() {
  [ -z "$(kubectl get nodes -l "${SHIM_NODE_LABEL},${SHIM_NAME}!=provisioned" -o name)" ]
}

for tool in minikube kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH; install it first"
done
[[ "$TIMEOUT" =~ ^[0-9]+s$ ]] || die "TIMEOUT must be in seconds, e.g. 300s (got ${TIMEOUT})"

step "Minikube profile '${PROFILE}' (Kubernetes ${KUBERNETES_VERSION}, containerd)"
if minikube -p "$PROFILE" status --format '{{.Host}} {{.APIServer}}' 2>/dev/null | grep -q '^Running Running$'; then
  runtime="$(kubectl --context "$PROFILE" get nodes -o jsonpath='{.items[0].status.nodeInfo.containerRuntimeVersion}')"
  case "$runtime" in
    containerd://*) echo "already running (${runtime})" ;;
    *) die "profile '${PROFILE}' runs ${runtime}; SpinKube needs containerd: minikube -p ${PROFILE} delete, then run this again" ;;
  esac
else
  minikube start -p "$PROFILE" \
    --container-runtime=containerd \
    --kubernetes-version="$KUBERNETES_VERSION" \
    --cpus="$MINIKUBE_CPUS" --memory="$MINIKUBE_MEMORY"
fi
kubectl config use-context "$PROFILE" >/dev/null

step "Minikube addons: registry (localhost:5000 on the node) and metrics-server (for the HPA)"
minikube -p "$PROFILE" addons enable registry
minikube -p "$PROFILE" addons enable metrics-server

step "cert-manager ${CERT_MANAGER_VERSION}"
kubectl apply -f "$CERT_MANAGER_MANIFEST"
kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout="$TIMEOUT"

step "runtime-class-manager ${RUNTIME_CLASS_MANAGER_VERSION}"
helm upgrade --install runtime-class-manager "$RUNTIME_CLASS_MANAGER_CHART" \
  --namespace runtime-class-manager --create-namespace \
  --version "$RUNTIME_CLASS_MANAGER_VERSION" \
  --wait --timeout "$TIMEOUT"

step "containerd-shim-spin ${SHIM_VERSION} on the node (Shim ${SHIM_NAME}, RuntimeClass ${RUNTIME_CLASS})"
if [ -z "$SHIM_SYSTEMD_CGROUP" ]; then
  # The shim must use the cgroup driver of the node's containerd, or pod metrics (which
  # the HPA reads) go wrong; minikube chooses it from the host.
  containerd_config="$(minikube -p "$PROFILE" ssh -- sudo cat /etc/containerd/config.toml 2>/dev/null || true)"
  if grep -Eq '^[[:space:]]*SystemdCgroup[[:space:]]*=[[:space:]]*true' <<<"$containerd_config"; then
    SHIM_SYSTEMD_CGROUP=true
  else
    SHIM_SYSTEMD_CGROUP=false
  fi
fi
# A RuntimeClass of that name left by the kwasm setup has handler "spin"; a handler cannot
# change, so runtime-class-manager could not take it over: remove it, the Shim recreates it.
handler="$(kubectl get runtimeclass "$RUNTIME_CLASS" -o jsonpath='{.handler}' 2>/dev/null || true)"
if [ -n "$handler" ] && [ "$handler" != "$RUNTIME_HANDLER" ]; then
  echo "removing RuntimeClass ${RUNTIME_CLASS} with handler '${handler}' (earlier setup)"
  kubectl delete runtimeclass "$RUNTIME_CLASS"
fi
kubectl apply -f - <<EOF
apiVersion: runtime.spinkube.dev/v1alpha1
kind: Shim
metadata:
  name: ${SHIM_NAME}
spec:
  nodeSelector:
    ${SHIM_NODE_LABEL%%=*}: "${SHIM_NODE_LABEL#*=}"
  fetchStrategy:
    platforms:
$(shim_platform x86_64 "$SHIM_SHA256_X86_64")
$(shim_platform aarch64 "$SHIM_SHA256_AARCH64")
  containerdRuntimeOptions:
    SystemdCgroup: "${SHIM_SYSTEMD_CGROUP}"
  runtimeClass:
    name: ${RUNTIME_CLASS}
    handler: ${RUNTIME_HANDLER}
  rolloutStrategy:
    type: recreate
EOF
kubectl label node --all "$SHIM_NODE_LABEL" --overwrite
echo "waiting for runtime-class-manager to install the shim on the node"
wait_until "the shim on every node labelled ${SHIM_NODE_LABEL}" shim_provisioned
wait_until "RuntimeClass ${RUNTIME_CLASS}" kubectl get runtimeclass "$RUNTIME_CLASS"
if helm -n kwasm status kwasm-operator >/dev/null 2>&1; then
  echo "note: the kwasm-operator of an earlier setup is no longer needed: helm -n kwasm uninstall kwasm-operator"
fi

step "spin-operator ${SPIN_OPERATOR_VERSION} CRDs"
# The release's own asset, as the SpinKube docs install it (for v0.6.1: the SpinApp and
# SpinAppExecutor CRD files the tests validate against, concatenated; see k8s/DEPLOY.md).
kubectl apply -f "${SPIN_OPERATOR_RELEASES}/spin-operator.crds.yaml"

step "spin-operator ${SPIN_OPERATOR_VERSION}"
helm upgrade --install spin-operator "$SPIN_OPERATOR_CHART" \
  --namespace spin-operator --create-namespace \
  --version "$SPIN_OPERATOR_VERSION" \
  --wait --timeout "$TIMEOUT"

step "SpinAppExecutor containerd-shim-spin in namespace ${NAMESPACE}"
kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || kubectl create namespace "$NAMESPACE"
kubectl -n "$NAMESPACE" apply -f "$HERE/spinapp-executor.yaml"

step "Ready"
echo "Minikube node: $(minikube -p "$PROFILE" ip)"
echo "Next: make push REGISTRY=\$(minikube ip):5000 && make deploy && make smoke"
