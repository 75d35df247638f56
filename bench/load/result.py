"""The result line bench/load/post.lua makes wrk print, read: one place for every bench
(bench/run.py, bench/shim/run.py, bench/edge/run.py)."""

import json

PREFIX = "BENCH_JSON "


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
