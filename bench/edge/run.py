#!/usr/bin/env python3
"""The component at the edge: workerd serving the worker `edge/build.mjs` builds, beside a
trivial hello worker under the same workerd (issue "The same .wasm at the edge and in the
browser", the workerd part).

Measures, on 127.0.0.1, with the machine's core count and load average beside every figure:
  1. throughput, wrk -t2 -c16 (wrk and workerd share the machine's cores, unpinned, as the
     issue's figures were taken), WARMUP s then SECONDS s per route:
       ours      POST /predict (one patient) and GET /health, through the component's own
                 wasi:http handler (the one path edge/worker.js serves);
       typed     POST /predict through the typed export heart:predictor/predictor
                 (bench/edge/typed.js): a reference for what a second path would buy, not
                 served (its answers are not byte-identical);
       hello     GET / of bench/edge/hello.js, a fixed JSON answer (the runtime's ceiling);
  2. cold start: workerd spawned to the first 200 (ours: /health, which instantiates the
     component; hello: /), polled every 2 ms, median of STARTS;
  3. memory: VmRSS and VmHWM of the workerd process after its load runs.

Writes bench/edge/results.json (`python3 bench/report.py` renders bench/edge/RESULTS.md from
it). workerd is started by tests/runtimes.py (`launched`). Standard library only:
`python3 bench/edge/run.py` (needs `npm ci` and wrk). Environment: EDGE_BENCH_SECONDS (10),
EDGE_BENCH_WARMUP (3), EDGE_BENCH_STARTS (5), HEART_WASM (the .wasm to build from; default
target/heart_disease_api.wasm).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench" / "load"))
import runtimes as rt  # noqa: E402
import result as bench_result  # noqa: E402  (post.lua's result line; results.json)

WRK_LUA = REPO / "bench" / "load" / "post.lua"
PATIENT = bench_result.PATIENT
SECONDS = int(os.environ.get("EDGE_BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("EDGE_BENCH_WARMUP", "3"))
STARTS = int(os.environ.get("EDGE_BENCH_STARTS", "5"))
CONNS = 16


def log(msg: str) -> None:
    print(f"[edge bench] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


@contextlib.contextmanager
def workerd(config: Path, log_path: Path, ready_path: str) -> Iterator[rt.Launched]:
    """`workerd serve CONFIG --socket-addr http=127.0.0.1:PORT`, started by tests/runtimes.py,
    ready (200 on `ready_path`, polled every 2 ms; `ready_s` from spawn) for the block."""
    addr = f"127.0.0.1:{rt.free_port()}"
    cmd = [rt.program("workerd", "workerd"), "serve", str(config), "--socket-addr", f"http={addr}"]
    with rt.launched(cmd, addr, log_path, "workerd", path=ready_path, poll_s=0.002, timeout=60) as w:
        yield w


def wrk(url: str, body_file: Path | None, seconds: int) -> dict:
    cmd = [shutil.which("wrk") or "wrk", "-t2", f"-c{CONNS}", f"-d{seconds}s", "--latency",
           "-s", str(WRK_LUA), url]
    if body_file is not None:
        cmd += ["--", str(body_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = bench_result.parse(out.stdout, out.stderr)
    r["errors"] = r["socket_errors"] + r["status"]
    return r


def load_run(name: str, config: Path, routes: list[tuple[str, str, Path | None]], workdir: Path,
             ready_path: str) -> dict:
    """One workerd for all of a worker's routes: warm-up, then the measured run, per route."""
    out: dict = {"routes": {}}
    with workerd(config, workdir / f"{name}.log", ready_path) as w:
        for label, path, body in routes:
            log(f"{name} {label}: warm-up {WARMUP} s, then {SECONDS} s at c={CONNS}")
            wrk(w.url + path, body, WARMUP)
            before = loadavg()
            r = wrk(w.url + path, body, SECONDS)
            r["load_before"], r["load_after"] = before, loadavg()
            out["routes"][label] = r
        out["rss_kib"] = proc_status_kib(w.pid, "VmRSS")
        out["hwm_kib"] = proc_status_kib(w.pid, "VmHWM")
    return out


def cold_start(name: str, config: Path, workdir: Path, path: str) -> dict:
    samples = []
    for i in range(STARTS):
        with workerd(config, workdir / f"{name}-start{i}.log", path) as w:
            samples.append(w.ready_s * 1000)
            rss = proc_status_kib(w.pid, "VmRSS")
        time.sleep(0.2)
    return {"path": path, "samples_ms": samples, "median_ms": statistics.median(samples),
            "rss_after_first_kib": rss}


def configs(workdir: Path, wasm: Path) -> dict[str, Path]:
    edge = workdir / "edge"
    rt.build_edge(wasm, edge)
    shutil.copy(HERE / "typed.js", edge / "typed.js")
    text = (edge / "config.capnp").read_text()
    # The first module is the main one: typed.js, with the same modules behind it.
    typed = text.replace("  modules = [\n",
                         '  modules = [\n    (name = "typed.js", esModule = embed "typed.js"),\n', 1)
    (edge / "typed.capnp").write_text(typed)
    shutil.copy(HERE / "hello.js", edge / "hello.js")
    hello = re.sub(r"  modules = \[\n.*?\n  \],\n",
                   '  modules = [ (name = "hello.js", esModule = embed "hello.js") ],\n',
                   text, count=1, flags=re.S)
    (edge / "hello.capnp").write_text(hello)
    return {"ours": edge / "config.capnp", "typed": edge / "typed.capnp",
            "hello": edge / "hello.capnp"}


def check_answers(cfg: dict[str, Path], workdir: Path) -> None:
    """Every measured route answers 200 before it is measured."""
    for name, path, ready in (("ours", "/predict", "/health"), ("typed", "/predict", "/health"),
                              ("hello", "/", "/")):
        with workerd(cfg[name], workdir / f"{name}-check.log", ready) as w:
            req = urllib.request.Request(w.url + path, data=PATIENT.encode() if path == "/predict" else None,
                                         headers={"content-type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                body = r.read()
                if r.status != 200 or not body.startswith(b"{"):
                    raise RuntimeError(f"{name} {path}: {r.status} {body[:200]!r}")


def measure() -> dict:
    wasm = Path(os.environ.get("HEART_WASM") or rt.DEFAULT_WASM)
    with tempfile.TemporaryDirectory(prefix="heart-edge-bench-") as tmp:
        workdir = Path(tmp)
        cfg = configs(workdir, wasm)
        check_answers(cfg, workdir)
        body = workdir / "patient.json"
        body.write_text(PATIENT)
        r: dict = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(),
            "load_start": loadavg(),
            "wasm_sha256": rt.sha256_file(wasm),
            "workerd": subprocess.run([rt.program("workerd", "workerd"), "--version"],
                                      capture_output=True, text=True).stdout.strip(),
            "seconds": SECONDS, "warmup": WARMUP, "conns": CONNS,
        }
        r["load"] = {
            "ours": load_run("ours", cfg["ours"], [("POST /predict", "/predict", body),
                                                   ("GET /health", "/health", None)],
                             workdir, "/health"),
            "typed": load_run("typed", cfg["typed"], [("POST /predict", "/predict", body)],
                              workdir, "/health"),
            "hello": load_run("hello", cfg["hello"], [("GET /", "/", None)], workdir, "/"),
        }
        log(f"cold starts, {STARTS} each")
        r["cold_start"] = {
            "ours": cold_start("ours", cfg["ours"], workdir, "/health"),
            "hello": cold_start("hello", cfg["hello"], workdir, "/"),
        }
        r["load_end"] = loadavg()
    return r


def main() -> int:
    bench_result.write_json(HERE / "results.json", measure())
    log("wrote bench/edge/results.json (`python3 bench/report.py` renders RESULTS.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
