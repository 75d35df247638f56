"""k8s/minikube-setup.sh: shellcheck-clean, strict mode, pinned versions."""

from __future__ import annotations

import re
import shutil
import subprocess

from conftest import K8S

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
        "CERT_MANAGER_VERSION": "v1.14.5",
        "KWASM_OPERATOR_CHART_VERSION": "0.2.3",
        "SHIM_VERSION": "v0.24.0",
        "SPIN_OPERATOR_VERSION": "0.6.1",
    }
    assert "--container-runtime=containerd" in text
    # idempotent: upgrade --install, apply and annotate --overwrite, never plain create/install
    assert "helm install" not in text
    assert "kubectl create -f" not in text
    assert "--overwrite" in text


def test_bash_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
