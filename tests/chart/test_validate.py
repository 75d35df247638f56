"""Every rendered object is valid Kubernetes: built-in kinds by kubernetes-validate
--strict (1.30 and 1.34), SpinKube kinds by the project's own JSON schemas."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import K8S, KUBE_VERSIONS, SPIN_KINDS, one, spin_schema


def _validate_builtin(obj: dict, version: str) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_rendered_objects_are_valid(rendered, kube_version):
    checked = 0
    for obj in rendered:
        if obj["kind"] in SPIN_KINDS:
            jsonschema.validate(obj, spin_schema(obj["kind"]), cls=jsonschema.Draft202012Validator)
        else:
            _validate_builtin(obj, kube_version)
        checked += 1
    assert checked == len(rendered) > 0


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_kubernetes_validate_cli_strict(tmp_path, rendered, kube_version):
    """The same through the CLI, as a user would run it."""
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


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_plain_manifests_are_valid(kube_version):
    for path in sorted(K8S.glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if obj["kind"] in SPIN_KINDS:
                jsonschema.validate(obj, spin_schema(obj["kind"]), cls=jsonschema.Draft202012Validator)
            else:
                _validate_builtin(obj, kube_version)


def test_strict_validation_rejects_unknown_field(rendered):
    """kubernetes-validate --strict is not a no-op."""
    svc = copy.deepcopy(one(rendered, "Service"))
    svc["spec"]["bogus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate_builtin(svc, KUBE_VERSIONS[0])


# --- the SpinApp schema ---------------------------------------------------------------

def _errors(obj: dict) -> list[str]:
    v = jsonschema.Draft202012Validator(spin_schema(obj["kind"]))
    return [e.message for e in v.iter_errors(obj)]


def test_spinapp_schema_is_a_valid_schema():
    for kind in SPIN_KINDS:
        jsonschema.Draft202012Validator.check_schema(spin_schema(kind))


def test_spinapp_matches_schema(rendered):
    assert _errors(one(rendered, "SpinApp")) == []


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s["spec"].update(imagePullPolicy="Always"), "Additional properties are not allowed ('imagePullPolicy'"),
    (lambda s: s["spec"]["checks"]["readiness"]["httpGet"].update(port=80), "Additional properties are not allowed ('port'"),
    (lambda s: s["spec"].update(bogus=True), "Additional properties are not allowed ('bogus'"),
    (lambda s: s["spec"].pop("image"), "'image' is a required property"),
    (lambda s: s["spec"].update(replicas="2"), "'2' is not of type 'integer'"),
    (lambda s: s["spec"].update(replicas=2147483648), "is greater than the maximum"),
    (lambda s: s["spec"]["resources"]["limits"].update(cpu="half"), "is not valid under any of the given schemas"),
    (lambda s: s.update(apiVersion="core.spinoperator.dev/v1alpha1"), "was expected"),
    (lambda s: s["spec"].update(variables=[{"name": "x", "value": "1", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "x"}}}]),
     "is valid under each of"),
])
def test_spinapp_schema_rejects(mutate, message):
    from conftest import load_values, render

    spinapp = copy.deepcopy(one(render(load_values("all-on")), "SpinApp"))
    assert _errors(spinapp) == []
    mutate(spinapp)
    errors = _errors(spinapp)
    assert any(message in e for e in errors), errors


def test_spinapp_schema_forbids_replicas_with_autoscaling():
    from conftest import render

    spinapp = copy.deepcopy(one(render({}), "SpinApp"))
    assert spinapp["spec"]["enableAutoscaling"] is True
    spinapp["spec"]["replicas"] = 2
    assert _errors(spinapp), "replicas with enableAutoscaling must be rejected"
    del spinapp["spec"]["enableAutoscaling"]
    assert _errors(spinapp) == []
    del spinapp["spec"]["replicas"]
    assert _errors(spinapp), "without autoscaling, replicas are required"
