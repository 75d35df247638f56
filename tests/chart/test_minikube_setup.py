"""k8s/minikube-setup.sh: shellcheck-clean, strict mode, pinned versions, and — run against
stand-ins for minikube, kubectl and helm that record their calls — the documented SpinKube
steps in order (runtime-class-manager and a Shim, not the deprecated kwasm installer)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

import spinkube_crds
from conftest import CHART, K8S

SCRIPT = K8S / "minikube-setup.sh"


def test_shellcheck_clean():
    assert shutil.which("shellcheck"), "shellcheck missing: run `make apt-tools`"
    proc = subprocess.run(["shellcheck", "--severity=style", "--external-sources", str(SCRIPT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_is_live(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    assert subprocess.run(["shellcheck", str(bad)], capture_output=True).returncode != 0


def test_strict_mode_and_pins():
    text = SCRIPT.read_text()
    assert re.search(r"^set -euo pipefail$", text, re.MULTILINE)
    pins = dict(re.findall(r'^([A-Z_]+_VERSION)="\$\{\1:-([^}]+)\}"$', text, re.MULTILINE))
    assert pins == {
        "KUBERNETES_VERSION": "v1.32.0",
        "CERT_MANAGER_VERSION": "v1.20.0",
        "RUNTIME_CLASS_MANAGER_VERSION": "0.2.0",
        "SHIM_VERSION": "v0.25.1",
        "SPIN_OPERATOR_VERSION": "0.6.1",
    }
    assert "--container-runtime=containerd" in text
    # idempotent: upgrade --install, apply and label --overwrite, never plain create/install
    assert "helm install" not in text
    assert "kubectl create -f" not in text
    assert "--overwrite" in text
    # the deprecated node-installer path is gone (no installer image, no kwasm chart or annotation)
    assert "node-installer:" not in text and "kwasm.sh" not in text and "kwasm-operator/" not in text


def test_bash_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


def test_crds_applied_are_the_release_the_tests_validate_against():
    """The script applies the CRDs of its SPIN_OPERATOR_VERSION (the release asset): by
    default the release the chart targets and whose upstream CRD files the tests read
    (spinkube_crds: ../shared/upstream/spin-operator-v0.6.1/)."""
    text = SCRIPT.read_text()
    pinned = re.search(r'^SPIN_OPERATOR_VERSION="\$\{SPIN_OPERATOR_VERSION:-([^}]+)\}"$', text, re.MULTILINE).group(1)
    assert pinned == yaml.safe_load((CHART / "Chart.yaml").read_text())["annotations"]["spinkube.dev/spin-operator-version"]
    assert pinned == spinkube_crds.SPIN_OPERATOR_RELEASE
    assert spinkube_crds.SPIN_OPERATOR_DIR.name == f"spin-operator-v{pinned}"
    assert "VENDORED" not in text and "/crds/" not in text


# --- a dry run against recording stand-ins ------------------------------------------------

STUB = textwrap.dedent("""\
    #!{python}
    # Stand-in for minikube, kubectl and helm: records each call, answers what the script reads.
    import json, os, sys
    tool, args = os.path.basename(sys.argv[0]), sys.argv[1:]
    call = {{"tool": tool, "args": args}}
    if tool == "kubectl" and args[:3] == ["apply", "-f", "-"]:
        call["stdin"] = sys.stdin.read()
    with open(os.environ["STUB_LOG"], "a") as log:
        log.write(json.dumps(call) + "\\n")
    joined = " ".join(args)
    if tool == "minikube" and args[2:3] == ["status"]:
        print(os.environ.get("STUB_MINIKUBE_STATUS", "Running Running"))
    elif tool == "minikube" and args[2:3] == ["ip"]:
        print("192.168.49.2")
    elif tool == "minikube" and args[2:3] == ["ssh"]:
        print(os.environ["STUB_CONTAINERD_CONFIG"])
    elif tool == "kubectl" and "containerRuntimeVersion" in joined:
        print("containerd://1.7.23")
    elif tool == "kubectl" and args[:2] == ["get", "runtimeclass"] and "{{.handler}}" in joined:
        handler = os.environ.get("STUB_OLD_HANDLER", "")
        if not handler:
            sys.exit(1)
        print(handler)
    elif tool == "helm" and args[:1] == ["-n"] and "status" in args:
        sys.exit(0 if os.environ.get("STUB_KWASM") else 1)
""")


@pytest.fixture
def run_setup(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("minikube", "kubectl", "helm"):
        stub = bin_dir / tool
        stub.write_text(STUB.format(python=sys.executable))
        stub.chmod(0o755)
    log = tmp_path / "calls.jsonl"

    def run(**env: str) -> list[dict]:
        log.unlink(missing_ok=True)
        proc = subprocess.run(
            ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
            env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
                 "STUB_LOG": str(log),
                 "STUB_CONTAINERD_CONFIG": '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n    SystemdCgroup = true',
                 **env},
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return [json.loads(line) for line in log.read_text().splitlines()]

    return run


def _commands(calls: list[dict]) -> list[str]:
    return [" ".join([c["tool"], *c["args"]]) for c in calls]


def _index(commands: list[str], pattern: str) -> int:
    hits = [i for i, c in enumerate(commands) if re.search(pattern, c)]
    assert hits, f"no call matches {pattern!r}: {commands}"
    return hits[0]


def test_dry_run_follows_the_documented_steps(run_setup):
    calls = run_setup()
    commands = _commands(calls)
    order = [
        r"^kubectl apply -f https://\S+/cert-manager/releases/download/v1\.20\.0/cert-manager\.yaml$",
        r"^helm upgrade --install runtime-class-manager oci://\S+/runtime-class-manager .*--version 0\.2\.0 .*--wait",
        r"^kubectl apply -f -$",
        r"^kubectl label node --all spin=true --overwrite$",
        r"^kubectl get nodes -l spin=true,spin-v2!=provisioned -o name$",
        r"^kubectl apply -f https://github\.com/spinframework/spin-operator/releases/download/v0\.6\.1/spin-operator\.crds\.yaml$",
        r"^helm upgrade --install spin-operator oci://\S+/spin-operator .*--version 0\.6\.1 .*--wait",
        rf"^kubectl -n default apply -f {re.escape(str(K8S))}/spinapp-executor\.yaml$",
    ]
    positions = [_index(commands, p) for p in order]
    assert positions == sorted(positions), list(zip(order, positions))
    assert not any(c.startswith("minikube -p minikube start") for c in commands), "already running"
    assert not any(re.search(r"kwasm|runtime-class\.yaml", c) and " status " not in c for c in commands)

    (shim,) = [yaml.safe_load(c["stdin"]) for c in calls if "stdin" in c]
    executor = yaml.safe_load((K8S / "spinapp-executor.yaml").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert shim["apiVersion"] == "runtime.spinkube.dev/v1alpha1" and shim["kind"] == "Shim"
    assert shim["spec"]["nodeSelector"] == {"spin": "true"}
    assert shim["spec"]["runtimeClass"] == {"name": "wasmtime-spin-v2", "handler": "spin-v2"}
    assert shim["spec"]["runtimeClass"]["name"] == executor["spec"]["deploymentConfig"]["runtimeClassName"] \
        == values["executor"]["runtimeClassName"]
    assert shim["spec"]["containerdRuntimeOptions"] == {"SystemdCgroup": "true"}
    assert shim["spec"]["rolloutStrategy"] == {"type": "recreate"}
    platforms = {p["arch"]: p for p in shim["spec"]["fetchStrategy"]["platforms"]}
    assert set(platforms) == {"x86_64", "aarch64"}
    for arch, p in platforms.items():
        assert p["os"] == "linux" and "sha256" not in p
        assert p["location"].endswith(
            f"/containerd-shim-spin/releases/download/v0.25.1/containerd-shim-spin-v2-linux-{arch}.tar.gz")


def test_dry_run_options_and_migration(run_setup):
    """cgroupfs nodes, pinned archive digests, a stopped profile, and a kwasm-era
    RuntimeClass (handler spin), which is replaced since a handler cannot change."""
    calls = run_setup(STUB_CONTAINERD_CONFIG="SystemdCgroup = false", STUB_MINIKUBE_STATUS="Stopped",
                      STUB_OLD_HANDLER="spin", STUB_KWASM="1",
                      SHIM_SHA256_X86_64="a" * 64, SHIM_SHA256_AARCH64="b" * 64)
    commands = _commands(calls)
    assert _index(commands, r"^minikube start -p minikube --container-runtime=containerd --kubernetes-version=v1\.32\.0")
    assert _index(commands, r"^kubectl delete runtimeclass wasmtime-spin-v2$") < _index(commands, r"^kubectl apply -f -$")
    (shim,) = [yaml.safe_load(c["stdin"]) for c in calls if "stdin" in c]
    assert shim["spec"]["containerdRuntimeOptions"] == {"SystemdCgroup": "false"}
    assert {p["arch"]: p["sha256"] for p in shim["spec"]["fetchStrategy"]["platforms"]} == {
        "x86_64": "a" * 64, "aarch64": "b" * 64}


def test_dry_run_with_another_operator_release_uses_its_crds(run_setup):
    """The CRDs always come from the release asset of the operator version installed."""
    commands = _commands(run_setup(SPIN_OPERATOR_VERSION="0.7.0"))
    assert _index(commands, r"^kubectl apply -f https://\S+/spin-operator/releases/download/v0\.7\.0/spin-operator\.crds\.yaml$")
    assert _index(commands, r"^helm upgrade --install spin-operator oci://\S+/spin-operator .*--version 0\.7\.0 ")
    assert not any("crds" in c and "v0.7.0" not in c for c in commands), commands
