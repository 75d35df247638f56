"""Every SpinApp's executor exists before Helm creates the SpinApp.

The spin-operator's validating webhook (spin-operator v0.6.1,
internal/webhook/spinapp_validating.go, validateExecutor; failurePolicy Fail in its
chart's validating-webhook-configuration.yaml) refuses to create or update a SpinApp whose
`spec.executor` names no SpinAppExecutor in the SpinApp's namespace. So this computes the
order in which Helm really creates the chart's objects, from the rendered chart:

1. the hooks of the event (pre-install, or pre-upgrade), one at a time, sorted by kind
   (InstallOrder), then by weight and name — Helm's execHook in pkg/action/hooks.go
   (`sort.Stable(hookByWeight(...))`, Less: weight, then name);
2. then the release's other manifests, sorted by kind with InstallOrder (kinds it does
   not list last, alphabetically), keeping file order (template paths sorted, documents
   in file order) among equals — pkg/release/v1/util/manifest_sorter.go SortManifests
   and kind_sorter.go; Helm's kube client creates them in batches of consecutive objects
   of one kind, each batch concurrently, one batch after the other (pkg/kube/client.go,
   batchPerform), so an object counts as created before another only in an earlier batch.

Files read: helm/helm v4.2.3 (commit 43e8b7feece8beb0fcba47059ec9b522fd929a64, the Helm
that helm-python-sdk 0.2.2 embeds) pkg/release/v1/util/kind_sorter.go,
manifest_sorter.go, pkg/action/hooks.go, pkg/kube/client.go; Helm 3.20.2's
pkg/releaseutil/kind_sorter.go has the same list without the two webhook configuration
kinds at its end.

An executor that the release does not create must already exist: the only one assumed is
`containerd-shim-spin` in `default`, which k8s/minikube-setup.sh applies.
"""

from __future__ import annotations

import copy
import posixpath

import pytest
import yaml

from conftest import VALUE_SETS, load_values, render_files

# helm/helm v4.2.3 pkg/release/v1/util/kind_sorter.go, InstallOrder.
INSTALL_ORDER = [
    "PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
    "PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
    "ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
    "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
    "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
    "APIService", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
]
# pkg/release/v1/hook.go: the hook events Helm knows; a hook naming another is skipped.
HOOK_EVENTS = {"pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade",
               "post-upgrade", "pre-rollback", "post-rollback", "test", "test-success"}
PREEXISTING_EXECUTORS = {("default", "containerd-shim-spin")}
SETUP_NAMESPACE = "default"


def _kind_key(kind: str) -> tuple[int, str]:
    """lessByKind: listed kinds by their rank, unknown kinds after them alphabetically."""
    if kind in INSTALL_ORDER:
        return (INSTALL_ORDER.index(kind), "")
    return (len(INSTALL_ORDER), kind)


def _weight(obj: dict) -> int:
    try:  # calculateHookWeight: strconv.Atoi, 0 when absent or not a number
        return int((obj["metadata"].get("annotations") or {}).get("helm.sh/hook-weight", "0"))
    except ValueError:
        return 0


def creation_steps(files: dict[str, str], event: str) -> list[list[dict]]:
    """The objects Helm creates for `event` (pre-install or pre-upgrade), as successive
    steps: each hook alone, then one step per batch of same-kind manifests."""
    hooks, manifests = [], []
    for path in sorted(files):
        base = posixpath.basename(path)
        if base.startswith("_") or base == "NOTES.txt":
            continue
        for obj in yaml.safe_load_all(files[path]):
            if not obj:
                continue
            annotations = obj["metadata"].get("annotations") or {}
            if "helm.sh/hook" not in annotations:
                manifests.append(obj)
                continue
            events = {e.strip().lower() for e in annotations["helm.sh/hook"].split(",")}
            if events <= HOOK_EVENTS and event in events:
                hooks.append(obj)
    hooks.sort(key=lambda o: _kind_key(o["kind"]))
    hooks.sort(key=lambda o: (_weight(o), o["metadata"]["name"]))
    manifests.sort(key=lambda o: _kind_key(o["kind"]))
    steps = [[h] for h in hooks]
    for obj in manifests:
        if steps[len(hooks):] and steps[-1][0]["kind"] == obj["kind"]:
            steps[-1].append(obj)
        else:
            steps.append([obj])
    return steps


def missing_executors(files: dict[str, str], event: str, namespace: str) -> list[str]:
    """SpinApps whose executor neither was created in an earlier step nor pre-exists."""
    problems = []
    existing = set(PREEXISTING_EXECUTORS)
    for step in creation_steps(files, event):
        for obj in step:
            ns = obj["metadata"].get("namespace", namespace)
            if obj["kind"] == "SpinApp" and (ns, obj["spec"]["executor"]) not in existing:
                problems.append(f"{event}: SpinApp {ns}/{obj['metadata']['name']} is created "
                                f"before its executor {obj['spec']['executor']!r} exists")
        existing |= {(o["metadata"].get("namespace", namespace), o["metadata"]["name"])
                     for o in step if o["kind"] == "SpinAppExecutor"}
    return problems


EVENTS = ["pre-install", "pre-upgrade"]


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("name", list(VALUE_SETS))
def test_executor_exists_before_spinapp(name, event):
    files = render_files(load_values(name), namespace=SETUP_NAMESPACE)
    assert missing_executors(files, event, SETUP_NAMESPACE) == []


@pytest.mark.parametrize("event", EVENTS)
def test_release_owned_executor_comes_first_in_any_namespace(event):
    """executor.create (also when switched on by an upgrade) needs nothing pre-existing."""
    values = load_values("dev") | {"executor": {"create": True}}
    for namespace in (SETUP_NAMESPACE, "heart-disease"):
        files = render_files(values, namespace=namespace)
        assert missing_executors(files, event, namespace) == []
        first = creation_steps(files, event)[0]
        assert [o["kind"] for o in first] == ["SpinAppExecutor"]


def test_the_check_fails_when_the_executor_is_a_plain_manifest():
    """The check is live: as a plain manifest (the chart before it became a hook) the
    executor is created after the SpinApp, kinds unknown to Helm going alphabetically."""
    files = render_files(load_values("all-on"), namespace=SETUP_NAMESPACE)
    plain = {}
    for path, text in files.items():
        if path.endswith("NOTES.txt"):
            continue
        docs = []
        for obj in yaml.safe_load_all(text):
            if obj and obj["kind"] == "SpinAppExecutor":
                obj = copy.deepcopy(obj)
                del obj["metadata"]["annotations"]
            docs.append(obj)
        plain[path] = yaml.safe_dump_all(docs)
    kinds = [[o["kind"] for o in step] for step in creation_steps(plain, "pre-install")]
    assert kinds.index(["SpinApp"]) < kinds.index(["SpinAppExecutor"])
    assert missing_executors(plain, "pre-install", SETUP_NAMESPACE) == [
        "pre-install: SpinApp default/heart-disease-api is created before its executor "
        "'heart-disease-api' exists"]


def test_the_setup_executor_is_assumed_only_where_the_setup_puts_it():
    """In another namespace the containerd-shim-spin executor must be applied first
    (README: kubectl -n NS apply -f k8s/spinapp-executor.yaml)."""
    files = render_files({}, namespace="heart-disease")
    assert missing_executors(files, "pre-install", "heart-disease") == [
        "pre-install: SpinApp heart-disease/heart-disease-api is created before its executor "
        "'containerd-shim-spin' exists"]


def test_executor_hook_is_kept_and_never_deleted_before_an_upgrade():
    """Delete policy: never hook-succeeded (the app needs the executor), never
    before-hook-creation — also Helm's default when no policy is given (hooks.go,
    hookSetDeletePolicy) — because spin-operator v0.6.1 keeps an executor that a SpinApp
    names (internal/controller/spinappexecutor_controller.go, handleDeletion: its
    finalizer stays while SpinApps refer to it): the delete could never finish."""
    files = render_files(load_values("all-on"), namespace=SETUP_NAMESPACE)
    (executor,) = [step[0] for step in creation_steps(files, "pre-install")
                   if step[0]["kind"] == "SpinAppExecutor"]
    annotations = executor["metadata"]["annotations"]
    # On rollback too: a real cluster showed `helm rollback` leaving the newer executor's OTLP
    # endpoints on the pods when the hook ran on install and upgrade only.
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade", "pre-rollback"}
    policies = {p.strip() for p in annotations["helm.sh/hook-delete-policy"].split(",")}
    assert policies and not policies & {"before-hook-creation", "hook-succeeded"}, policies
    assert _weight(executor) < 0
