"""Every rendered object and every manifest in k8s/ is valid Kubernetes: built-in kinds by
kubernetes-validate --strict (1.30 and 1.34), SpinKube and prometheus-operator kinds by the
upstream CRDs (read from HEART_UPSTREAM, converted by spinkube_crds.py, unknown fields are
errors) and by the rules of the spin-operator's validating webhooks. The CRD checks are
skipped where the upstream folder is absent; the built-in and webhook checks always run."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import spinkube_crds
from conftest import K8S, KUBE_VERSIONS, by_kind, load_values, one, render
from spinkube_crds import requires_crds

# Known without the CRD files, so that importing this module never needs them.
SPIN_KINDS = spinkube_crds.kinds()


def _validate_builtin(objs: list[dict], kube_version: str) -> None:
    for obj in objs:
        if obj["kind"] not in SPIN_KINDS:
            kubernetes_validate.validate(obj, kube_version, strict=True)


def _validate_custom(objs: list[dict], kube_version: str) -> None:
    for obj in objs:
        if obj["kind"] in SPIN_KINDS:
            problems = spinkube_crds.errors(obj, kube_version) + spinkube_crds.webhook_errors(obj)
            assert problems == [], (obj["kind"], obj["metadata"]["name"], problems)


def _plain_manifests() -> list[dict]:
    return [obj for path in sorted(K8S.glob("*.yaml"))
            for obj in yaml.safe_load_all(path.read_text()) if obj]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_objects_are_valid(rendered, kube_version):
    _validate_builtin(rendered, kube_version)
    assert rendered


@requires_crds
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_custom_resources_are_valid(rendered, kube_version):
    _validate_custom(rendered, kube_version)
    assert "SpinApp" in {o["kind"] for o in rendered}


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_plain_manifests_are_valid(kube_version):
    objs = _plain_manifests()
    assert {"SpinApp", "SpinAppExecutor"} <= {o["kind"] for o in objs}
    _validate_builtin(objs, kube_version)


@requires_crds
@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_plain_manifests_custom_resources_are_valid(kube_version):
    _validate_custom(_plain_manifests(), kube_version)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_kubernetes_validate_cli_strict(tmp_path, rendered, kube_version):
    """The built-in kinds through the CLI, as a user would run it."""
    files = []
    for i, obj in enumerate(o for o in rendered if o["kind"] not in SPIN_KINDS):
        f = tmp_path / f"{i:02d}.yaml"
        f.write_text(yaml.safe_dump(obj))
        files.append(str(f))
    cli = Path(sys.executable).with_name("kubernetes-validate")
    proc = subprocess.run([str(cli), "--strict", "-k", kube_version, *files],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("INFO") == len(files), proc.stdout


def test_strict_validation_rejects_unknown_field(rendered):
    """kubernetes-validate --strict is not a no-op."""
    svc = copy.deepcopy(by_kind(rendered, "Service")[0])
    svc["spec"]["bogus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(svc, KUBE_VERSIONS[0], strict=True)


# --- the CRD check is live: each mutation of a valid object is refused ---------------------

def _errors(obj: dict) -> list[str]:
    return spinkube_crds.errors(obj, KUBE_VERSIONS[-1])


@pytest.fixture(scope="module")
def all_on() -> list[dict]:
    return render(load_values("all-on"))


@requires_crds
def test_old_otel_endpoint_field_is_refused(all_on):
    """The mistake the chart used to make: deploymentConfig.otel.endpoint does not exist
    in the CRD (exporter_otlp_endpoint does), so the API server would drop it."""
    executor = copy.deepcopy(one(all_on, "SpinAppExecutor"))
    assert _errors(executor) == []
    otel = executor["spec"]["deploymentConfig"]["otel"]
    otel["endpoint"] = otel.pop("exporter_otlp_endpoint")
    assert _errors(executor) == [
        "spec.deploymentConfig.otel: Additional properties are not allowed ('endpoint' was unexpected)"]


@requires_crds
@pytest.mark.parametrize("mutate, message", [
    (lambda s: s["spec"].update(imagePullPolicy="Always"), "spec: Additional properties are not allowed ('imagePullPolicy'"),
    (lambda s: s["spec"]["checks"]["readiness"]["httpGet"].update(port=80), "spec.checks.readiness.httpGet: Additional properties are not allowed ('port'"),
    (lambda s: s["spec"]["imagePullSecrets"][0].update(namespace="x"), "Additional properties are not allowed ('namespace'"),
    (lambda s: s.update(bogus=True), "<root>: Additional properties are not allowed ('bogus'"),
    (lambda s: s["metadata"].update(labelz={"a": "b"}), "metadata: Additional properties are not allowed ('labelz'"),
    (lambda s: s["metadata"].update(name="Heart_API"), "metadata.name: 'Heart_API' does not match"),
    (lambda s: s["metadata"].pop("name"), "metadata: 'name' is a required property"),
    (lambda s: s["spec"].pop("image"), "spec: 'image' is a required property"),
    (lambda s: s["spec"].update(executor=None), "spec.executor: None is not of type 'string'"),
    (lambda s: s["spec"].update(replicas="2"), "spec.replicas: '2' is not of type 'integer'"),
    (lambda s: s["spec"].update(replicas=2.0), "spec.replicas: 2.0 is not of type 'integer'"),
    (lambda s: s["spec"].update(replicas=2**31), "spec.replicas: 2147483648 is greater than the maximum of 2147483647"),
    (lambda s: s["spec"]["checks"]["liveness"].update(periodSeconds=-2**31 - 1), "is less than the minimum of -2147483648"),
    (lambda s: s["spec"]["resources"]["limits"].update(cpu="half"), "spec.resources.limits.cpu: 'half' does not match"),
    (lambda s: s["spec"]["resources"]["limits"].update(cpu=0.5), "spec.resources.limits.cpu: 0.5 is not of type 'integer', 'string'"),
    (lambda s: s.update(status={"readyReplicas": 1, "ready": True}), "status: Additional properties are not allowed ('ready'"),
])
def test_spinapp_crd_refuses(all_on, mutate, message):
    _refuses(one(all_on, "SpinApp"), mutate, message)


@requires_crds
def test_spinapp_crd_accepts_what_the_api_server_accepts(all_on):
    """int-or-string quantities take an integer; the status subresource may be empty."""
    spinapp = copy.deepcopy(one(all_on, "SpinApp"))
    spinapp["spec"]["resources"]["limits"]["cpu"] = 1
    spinapp["status"] = {"readyReplicas": 2}
    assert _errors(spinapp) == []


@requires_crds
def test_api_version_and_kind_are_pinned(all_on):
    spinapp = copy.deepcopy(one(all_on, "SpinApp"))
    spinapp["apiVersion"] = "core.spinoperator.dev/v1alpha1"
    with pytest.raises(KeyError, match="no served CRD version"):
        _errors(spinapp)
    executor = one(all_on, "SpinAppExecutor")
    v = spinkube_crds.validator("core.spinkube.dev/v1alpha1", "SpinApp", KUBE_VERSIONS[-1])
    assert "'SpinApp' was expected" in [e.message for e in v.iter_errors(executor)]


@requires_crds
@pytest.mark.parametrize("mutate, message", [
    (lambda e: e["spec"].pop("createDeployment"), "spec: 'createDeployment' is a required property"),
    (lambda e: e["spec"]["deploymentConfig"].update(runtimeClass="x"), "Additional properties are not allowed ('runtimeClass'"),
    (lambda e: e["spec"]["deploymentConfig"]["otel"].update(exporter_otlp_headers="a=b"), "('exporter_otlp_headers' was unexpected)"),
    (lambda e: e["spec"].update(createDeployment="true"), "spec.createDeployment: 'true' is not of type 'boolean'"),
])
def test_executor_crd_refuses(all_on, mutate, message):
    _refuses(one(all_on, "SpinAppExecutor"), mutate, message)


def _refuses(rendered, mutate, message):
    """The rendered object is valid; `mutate`d, its CRD refuses it with `message`."""
    obj = copy.deepcopy(rendered)
    assert _errors(obj) == []
    mutate(obj)
    errors = _errors(obj)
    assert any(message in e for e in errors), errors


# --- the operator's webhook rules ---------------------------------------------------------

def test_webhook_replicas_rules():
    """spin-operator v0.6.1 validateReplicas: replicas xor enableAutoscaling."""
    spinapp = copy.deepcopy(one(render({}), "SpinApp"))
    assert spinapp["spec"]["enableAutoscaling"] is True
    assert spinkube_crds.webhook_errors(spinapp) == []
    spinapp["spec"]["replicas"] = 2
    assert spinkube_crds.webhook_errors(spinapp) == [
        "spec.replicas: replicas cannot be set when autoscaling is enabled"]
    del spinapp["spec"]["enableAutoscaling"]
    assert spinkube_crds.webhook_errors(spinapp) == []
    del spinapp["spec"]["replicas"]
    assert spinkube_crds.webhook_errors(spinapp) == ["spec.replicas: replicas must be > 0"]


def test_webhook_executor_rules(all_on):
    """spin-operator v0.6.1 validateRuntimeClassAndSpinImage: exactly one of the two."""
    executor = copy.deepcopy(one(all_on, "SpinAppExecutor"))
    assert spinkube_crds.webhook_errors(executor) == []
    executor["spec"]["deploymentConfig"]["spinImage"] = "spin:3"
    assert "mutually exclusive" in spinkube_crds.webhook_errors(executor)[0]
    del executor["spec"]["deploymentConfig"]["spinImage"]
    del executor["spec"]["deploymentConfig"]["runtimeClassName"]
    assert "must be set" in spinkube_crds.webhook_errors(executor)[0]
