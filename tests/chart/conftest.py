"""Shared helpers for the chart, manifest and image checks (run by `make test-kube`).

Rendering and linting use the real Helm library: the `helm` CLI when it is on PATH,
otherwise helm-python-sdk (Helm's Go SDK through its C ABI). Both apply
values.schema.json and the templates' `fail` checks exactly as `helm install` would.
SpinKube and prometheus-operator objects are validated against the upstream CRDs, read from
outside the repository (HEART_UPSTREAM, by default ../shared/upstream/; spinkube_crds.py);
without them those checks are skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "heart-disease-api"
K8S = ROOT / "k8s"
RELEASE = "heart-disease-api"
NAMESPACE = "heart-disease"

# The value sets every check runs on: the chart's defaults, the dev and prod files,
# and every test file in ci/ (all-on-values.yaml turns every optional part on).
VALUE_SETS: dict[str, Path | None] = {
    "default": None,
    "dev": CHART / "values-dev.yaml",
    "prod": CHART / "values-prod.yaml",
    **{p.name.removesuffix(".yaml").removesuffix("-values"): p
       for p in sorted((CHART / "ci").glob("*.yaml"))},
}
assert "all-on" in VALUE_SETS
KUBE_VERSIONS = ["1.30.0", "1.34.0"]

OPERATOR_POD_LABEL = "core.spinkube.dev/app-name"


class RenderError(Exception):
    """Helm refused to render: the message is Helm's."""


def helm_cli() -> str | None:
    return shutil.which("helm")


def load_values(name: str) -> dict[str, Any]:
    path = VALUE_SETS[name]
    return {} if path is None else (yaml.safe_load(path.read_text()) or {})


def render_files(values: dict[str, Any], *, release: str = RELEASE,
                 namespace: str = NAMESPACE) -> dict[str, str]:
    """Render the chart; returns template path -> text (NOTES.txt included)."""
    cli = helm_cli()
    if cli:  # not exercised on the project's machines, which have no helm CLI
        with _values_file(values) as vf:
            proc = subprocess.run(
                [cli, "template", release, str(CHART), "--namespace", namespace, "-f", vf],
                capture_output=True, text=True,
            )
            if proc.returncode != 0:
                raise RenderError(proc.stderr)
            dry = subprocess.run(
                [cli, "install", release, str(CHART), "--namespace", namespace, "-f", vf,
                 "--dry-run=client"],
                capture_output=True, text=True,
            )
        docs: dict[str, str] = {}  # template path -> its documents, as the SDK returns them
        for doc in proc.stdout.split("\n---\n"):
            source = re.search(r"^# Source: (\S+)$", doc, re.MULTILINE)
            path = source.group(1) if source else "helm-template.yaml"
            docs[path] = docs.get(path, "") + "---\n" + doc + "\n"
        if dry.returncode == 0 and "NOTES:" in dry.stdout:
            docs[f"{CHART.name}/templates/NOTES.txt"] = dry.stdout.split("NOTES:", 1)[1]
        return docs
    import helm_python as helm

    with helm.Chart.load(CHART) as chart:
        try:
            return chart.render(values=values, name=release, namespace=namespace, is_install=True)
        except (helm.HelmValuesError, helm.HelmRenderError) as e:
            raise RenderError(str(e)) from e


def render(values: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
    """Render and parse: the Kubernetes objects, in a stable order."""
    objs: list[dict[str, Any]] = []
    for path, text in sorted(render_files(values, **kw).items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objs.append(doc)
    return objs


def notes(values: dict[str, Any]) -> str:
    for path, text in render_files(values).items():
        if path.endswith("NOTES.txt"):
            return text
    raise AssertionError("NOTES.txt did not render")


def lint(values: dict[str, Any], kube_version: str) -> list[dict[str, Any]]:
    """Strict lint; returns the messages as [{severity, path, error}] (2 = warning, 3 = error)."""
    cli = helm_cli()
    if cli:
        with _values_file(values) as vf:
            proc = subprocess.run(
                [cli, "lint", "--strict", str(CHART), "-f", vf, "--kube-version", kube_version],
                capture_output=True, text=True,
            )
        msgs = []
        for line in (proc.stdout + proc.stderr).splitlines():
            for tag, sev in (("[WARNING]", 2), ("[ERROR]", 3)):
                if line.strip().startswith(tag):
                    msgs.append({"severity": sev, "path": "", "error": line.strip()})
        if proc.returncode != 0 and not msgs:
            msgs.append({"severity": 3, "path": "", "error": proc.stdout + proc.stderr})
        return msgs
    import helm_python as helm

    report = helm.lint(CHART, values, strict=True, kube_version=f"v{kube_version}")
    return report["messages"] + [{"severity": 3, "path": "", "error": e} for e in report["errors"]]


class _values_file:
    def __init__(self, values: dict[str, Any]):
        import tempfile

        self._f = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        json.dump(values, self._f)  # JSON is YAML
        self._f.close()

    def __enter__(self) -> str:
        return self._f.name

    def __exit__(self, *exc: object) -> None:
        Path(self._f.name).unlink(missing_ok=True)


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o.get("kind") == kind]


def one(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objs, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


@pytest.fixture(scope="session", params=list(VALUE_SETS))
def value_set(request: pytest.FixtureRequest) -> str:
    return request.param


_RENDER_CACHE: dict[str, list[dict[str, Any]]] = {}


@pytest.fixture(scope="session")
def rendered(value_set: str) -> list[dict[str, Any]]:
    if value_set not in _RENDER_CACHE:
        _RENDER_CACHE[value_set] = render(load_values(value_set))
    return _RENDER_CACHE[value_set]
