"""schemathesis against the served component and its own /openapi.json: no server error, no
response that violates the document, schema-violating requests rejected."""

import os
import subprocess
import sys
from pathlib import Path


ST = str(Path(sys.executable).with_name("st"))
EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "30")


def run(base_url: str, *args: str) -> None:
    cmd = [ST, "run", f"{base_url}/openapi.json", "--max-examples", EXAMPLES, "--generation-deterministic", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-20000:]}\n{proc.stderr[-5000:]}"
    assert "No issues found" in proc.stdout or " passed" in proc.stdout, proc.stdout[-3000:]


def test_every_operation_with_every_check(base_url):
    # The inference operations are checked below: their tensor rules cannot be written in JSON Schema.
    run(base_url, "--checks", "all", "--exclude-path-regex", "/infer$")


def test_inference_operations(base_url):
    # Every check but "schema-valid request accepted": JSON Schema cannot say that a tensor's
    # data must fill its shape, so schema-valid tensors can still be inconsistent (400).
    run(base_url, "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--include-path-regex", "/infer$")
