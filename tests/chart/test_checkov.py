"""checkov on the rendered chart and on k8s/: no failed check; a skipped check must
carry its reason inline (checkov.io/skipN: CHECK=reason). Rendering is checked by its
own tests, since checkov exits 0 on a directory it cannot parse."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import K8S, VALUE_SETS, load_values, render


def _checkov(directory: Path) -> dict:
    cli = Path(sys.executable).with_name("checkov")
    proc = subprocess.run(
        [str(cli), "-d", str(directory), "--framework", "kubernetes", "-o", "json",
         "--skip-download"],
        capture_output=True, text=True,
    )
    report = json.loads(proc.stdout)
    if isinstance(report, list):
        (report,) = report
    if report.get("summary", {}).get("failed", 0) == 0:
        assert proc.returncode == 0, proc.stderr
    return report


def _assert_clean(report: dict, resources: int) -> None:
    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])
    assert summary["failed"] == 0, [(c["check_id"], c["resource"], c["check_name"]) for c in failed]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == resources, summary
    assert summary["passed"] > 0
    for check in report["results"].get("skipped_checks", []):
        assert (check.get("check_result", {}).get("suppress_comment") or "").strip(), check


def test_checkov_on_rendered_chart(tmp_path):
    total = 0
    for name in VALUE_SETS:
        d = tmp_path / name
        d.mkdir()
        for i, obj in enumerate(render(load_values(name))):
            (d / f"{i:02d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj))
            # checkov counts a Deployment's or a Job's pod template as one more resource
            total += 2 if obj["kind"] in ("Deployment", "Job") else 1
    _assert_clean(_checkov(tmp_path), total)


def test_checkov_on_monitoring_with_a_tag_only_image(tmp_path):
    """monitoring.enabled with the default collector image (a version tag, no digest): the
    skipped checks are CKV_K8S_43 (image by digest), with its reason on the Deployment, and
    the `helm test` pod's and the drain Job's, each with its reason."""
    # (with networkPolicy.enabled: without it checkov's CKV2_K8S_6 flags the collector's pod,
    # as it would any pod without a NetworkPolicy)
    objs = render({"executor": {"create": True}, "monitoring": {"enabled": True},
                   "networkPolicy": {"enabled": True}})
    for i, obj in enumerate(objs):
        (tmp_path / f"{i:02d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj))
    total = sum(2 if o["kind"] in ("Deployment", "Job") else 1 for o in objs)
    report = _checkov(tmp_path)
    _assert_clean(report, total)
    skipped = {(c["check_id"], c["resource"].split(".")[0]) for c in report["results"].get("skipped_checks", [])}
    assert skipped == {("CKV_K8S_43", "Deployment"), ("CKV_K8S_43", "Pod"), ("CKV_K8S_8", "Pod"),
                       ("CKV_K8S_9", "Pod"), ("CKV2_K8S_6", "Pod"),
                       ("CKV_K8S_43", "Job"), ("CKV_K8S_38", "Job")}, skipped


def test_checkov_on_plain_manifests(tmp_path):
    """k8s/*.yaml, the project's manifests."""
    count = 0
    for path in K8S.glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
        count += sum(1 for d in yaml.safe_load_all(path.read_text()) if d)
    report = _checkov(tmp_path)
    _assert_clean(report, count)
    skipped = {c["check_id"] for c in report["results"].get("skipped_checks", [])}
    assert skipped == {"CKV_K8S_21"}, skipped


def test_checkov_does_fail_a_bad_manifest(tmp_path):
    """The check is live: a Service in the default namespace fails CKV_K8S_21."""
    (tmp_path / "svc.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }))
    report = _checkov(tmp_path)
    assert "CKV_K8S_21" in {c["check_id"] for c in report["results"]["failed_checks"]}
