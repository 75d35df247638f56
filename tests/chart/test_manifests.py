"""k8s/heart-disease-api.yaml is generated from the chart (`make manifests`, k8s/render.py)
and is what a `spin kube scaffold` user applies."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
import yaml

from conftest import K8S, ROOT, by_kind, one, render

PLAIN = K8S / "heart-disease-api.yaml"


@pytest.fixture(scope="module")
def renderer():
    spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_file_is_the_current_render(renderer):
    assert PLAIN.read_text() == renderer.render(), \
        "k8s/heart-disease-api.yaml is stale: run `make manifests`"


def test_check_mode_reports_drift(tmp_path, renderer, monkeypatch):
    """`render.py --check` (make manifests-check) fails on a stale file, passes on a fresh one."""
    script = K8S / "render.py"
    ok = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    stale = tmp_path / "heart-disease-api.yaml"
    stale.write_text(PLAIN.read_text().replace("nodePort: 30080", "nodePort: 30081"))
    monkeypatch.setattr(renderer, "OUT", stale)
    monkeypatch.setattr(sys, "argv", ["render.py", "--check"])
    assert renderer.main() == 1


def test_scaffold_shape():
    """A SpinApp with the image, the setup's executor and the HPA owning the replica
    count (spin kube scaffold --replicas 2 --autoscaler hpa), NodePort 30080, no
    namespace and no Helm labels."""
    objs = [o for o in yaml.safe_load_all(PLAIN.read_text()) if o]
    assert [o["kind"] for o in objs] == ["ServiceAccount", "SpinApp", "Service", "HorizontalPodAutoscaler"]
    spinapp = one(objs, "SpinApp")["spec"]
    assert spinapp["image"] == "localhost:5000/heart-disease-api:0.1.0"
    assert spinapp["executor"] == "containerd-shim-spin"
    assert spinapp["enableAutoscaling"] is True and "replicas" not in spinapp
    hpa = one(objs, "HorizontalPodAutoscaler")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert one(objs, "Service")["spec"]["ports"][0]["nodePort"] == 30080
    for obj in objs:
        assert "namespace" not in obj["metadata"]
        labels = obj["metadata"]["labels"]
        assert "helm.sh/chart" not in labels and "app.kubernetes.io/managed-by" not in labels
        assert labels["app.kubernetes.io/instance"] == "heart-disease-api"


def test_equal_to_the_default_render_but_for_helm_bookkeeping():
    """Independent of render.py: the same objects as the chart's default render."""
    def strip(obj):
        obj = yaml.safe_load(yaml.safe_dump(obj))
        meta = obj["metadata"]
        meta.pop("namespace", None)
        meta.pop("annotations", None)
        for labels in (meta.get("labels", {}), obj.get("spec", {}).get("podLabels", {})):
            labels.pop("helm.sh/chart", None)
            labels.pop("app.kubernetes.io/managed-by", None)
        return obj

    # Less the `helm test` pod, which only `helm test` runs, and the drain hook Job, which
    # `kubectl apply` cannot run (the plain manifests' header gives its command).
    chart = {(o["kind"], o["metadata"]["name"]): strip(o) for o in render({"drain": {"enabled": False}})
             if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") != "test"}
    plain = {(o["kind"], o["metadata"]["name"]): strip(o)
             for o in yaml.safe_load_all(PLAIN.read_text()) if o}
    assert plain == chart
    assert not by_kind(list(plain.values()), "SpinAppExecutor")
