#!/usr/bin/env bash
# Set up a local SpinKube on Minikube for heart-disease-api (`make minikube-setup`):
#   1. minikube with the containerd runtime, plus its registry and metrics-server addons
#   2. cert-manager (the spin-operator's webhooks need certificates)
#   3. containerd-shim-spin on the node, installed by the kwasm operator's node installer
#   4. the RuntimeClass and spin-operator CRDs, the spin-operator chart, the executor
# Every step is idempotent: run it again to repair or confirm a setup. Versions are
# pinned below; override one through the environment (e.g. SHIM_VERSION=v0.24.0).
# Needs: minikube, kubectl, helm on PATH, and a Minikube driver (docker, kvm2, ...).
set -euo pipefail

# --- pinned versions ----------------------------------------------------------------
KUBERNETES_VERSION="${KUBERNETES_VERSION:-v1.32.0}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-v1.14.5}"
KWASM_OPERATOR_CHART_VERSION="${KWASM_OPERATOR_CHART_VERSION:-0.2.3}"
SHIM_VERSION="${SHIM_VERSION:-v0.24.0}"
SPIN_OPERATOR_VERSION="${SPIN_OPERATOR_VERSION:-0.6.1}"

# --- settings -----------------------------------------------------------------------
PROFILE="${MINIKUBE_PROFILE:-minikube}"
NAMESPACE="${NAMESPACE:-default}"
TIMEOUT="${TIMEOUT:-300s}"
MINIKUBE_CPUS="${MINIKUBE_CPUS:-2}"
MINIKUBE_MEMORY="${MINIKUBE_MEMORY:-4096}"

SPIN_OPERATOR_RELEASES="https://github.com/spinframework/spin-operator/releases/download/v${SPIN_OPERATOR_VERSION}"
SPIN_OPERATOR_CHART="oci://ghcr.io/spinframework/charts/spin-operator"
SHIM_INSTALLER_IMAGE="ghcr.io/spinframework/containerd-shim-spin/node-installer:${SHIM_VERSION}"
CERT_MANAGER_MANIFEST="https://github.com/cert-manager/cert-manager/releases/download/${CERT_MANAGER_VERSION}/cert-manager.yaml"
KWASM_REPO_URL="http://kwasm.sh/kwasm-operator/"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'minikube-setup: %s\n' "$*" >&2; exit 1; }

for tool in minikube kubectl helm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH; install it first"
done

step "Minikube profile '${PROFILE}' (Kubernetes ${KUBERNETES_VERSION}, containerd)"
if minikube -p "$PROFILE" status --format '{{.Host}} {{.APIServer}}' 2>/dev/null | grep -q '^Running Running$'; then
  runtime="$(kubectl get nodes -o jsonpath='{.items[0].status.nodeInfo.containerRuntimeVersion}')"
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

step "containerd-shim-spin ${SHIM_VERSION} on the node (kwasm-operator chart ${KWASM_OPERATOR_CHART_VERSION})"
helm repo add kwasm "$KWASM_REPO_URL" --force-update >/dev/null
helm upgrade --install kwasm-operator kwasm/kwasm-operator \
  --namespace kwasm --create-namespace \
  --version "$KWASM_OPERATOR_CHART_VERSION" \
  --set kwasmOperator.installerImage="$SHIM_INSTALLER_IMAGE" \
  --wait --timeout "$TIMEOUT"
kubectl annotate node --all kwasm.sh/kwasm-node=true --overwrite
echo "waiting for the node installer job"
for _ in $(seq 60); do
  if [ -n "$(kubectl -n kwasm get jobs -o name 2>/dev/null)" ]; then break; fi
  sleep 2
done
[ -n "$(kubectl -n kwasm get jobs -o name 2>/dev/null)" ] || die "the kwasm operator started no installer job in namespace kwasm"
kubectl -n kwasm wait --for=condition=Complete job --all --timeout="$TIMEOUT"

step "RuntimeClass wasmtime-spin-v2 and spin-operator ${SPIN_OPERATOR_VERSION} CRDs"
kubectl apply -f "$HERE/runtime-class.yaml"
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
echo "Next: make image && make push REGISTRY=\$(minikube ip):5000 && make deploy && make smoke"
