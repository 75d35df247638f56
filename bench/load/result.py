"""What every bench (bench/run.py, bench/shim/run.py, bench/edge/run.py) shares: the patient
it sends, the result line bench/load/post.lua makes wrk print, read; and how a bench writes its
results.json."""

import json
import re
from pathlib import Path

from fixtures import example_json  # tests/fixtures.py, on the path every bench sets

PREFIX = "BENCH_JSON "

# The one patient every bench sends: the example patient (the data set's first row) as compact
# JSON; its size is params.body_bytes in bench/results.json.
PATIENT = example_json()


def parse(stdout: str, stderr: str = "") -> dict:
    """wrk's counts and latencies (µs) from post.lua's line, with `rps` and `socket_errors`
    (connect, read, write and timeout errors; non-2xx answers are `status`) added."""
    for line in stdout.splitlines():
        if line.startswith(PREFIX):
            r = json.loads(line[len(PREFIX):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["socket_errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"]
            return r
    raise RuntimeError(f"wrk printed no result:\n{stdout}\n{stderr}")


def scrub(text: str) -> str:
    """No machine-local paths in the committed results (temporary folders, tool locations):
    each becomes its last component."""
    return re.sub(r"/(?:tmp|work|root|home)/[^\s\"']*",
                  lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def write_json(path: Path, results: dict) -> None:
    """A bench's figures, the one thing its measuring script writes (bench/report.py renders
    them): indented JSON, machine-local paths scrubbed."""
    path.write_text(scrub(json.dumps(results, indent=2, default=str)) + "\n")
