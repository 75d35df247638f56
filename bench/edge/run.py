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

Writes bench/edge/results.json and bench/edge/RESULTS.md. Standard library only:
`python3 bench/edge/run.py` (needs `npm ci` and wrk). `--render` rewrites RESULTS.md from
results.json. Environment: EDGE_BENCH_SECONDS (10), EDGE_BENCH_WARMUP (3), EDGE_BENCH_STARTS (5),
HEART_WASM (the .wasm to build from; default target/heart_disease_api.wasm).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench" / "load"))
import runtimes as rt  # noqa: E402
import result as wrk_result  # noqa: E402  (post.lua's result line)

WRK_LUA = REPO / "bench" / "load" / "post.lua"
PATIENT = (
    '{"age":63,"sex":1,"cp":1,"trestbps":145,"chol":233,"fbs":1,"restecg":2,'
    '"thalach":150,"exang":0,"oldpeak":2.3,"slope":3,"ca":0,"thal":6}'
)
SECONDS = int(os.environ.get("EDGE_BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("EDGE_BENCH_WARMUP", "3"))
STARTS = int(os.environ.get("EDGE_BENCH_STARTS", "5"))
CONNS = 16


def log(msg: str) -> None:
    print(f"[edge bench] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def status_of(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        m = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


class Workerd:
    """`workerd serve CONFIG --socket-addr http=127.0.0.1:PORT`, in its own process group."""

    def __init__(self, config: Path, log_path: Path):
        self.port = rt.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.started = time.monotonic()
        with log_path.open("a") as out:
            self.proc = subprocess.Popen(
                [rt.program("workerd", "workerd"), "serve", str(config),
                 "--socket-addr", f"http=127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def wait_ready(self, path: str, timeout: float = 60.0) -> float:
        """Seconds from spawn to the first 200 on `path`."""
        deadline = self.started + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"workerd exited {self.proc.returncode}:\n{rt.tail(self.log_path)}")
            if status_of(self.url + path, timeout=2) == 200:
                return time.monotonic() - self.started
            if time.monotonic() > deadline:
                raise RuntimeError(f"workerd not ready on {path}:\n{rt.tail(self.log_path)}")
            time.sleep(0.002)

    def stop(self) -> None:
        rt.stop(self.proc)

    def __enter__(self) -> "Workerd":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wrk(url: str, body_file: Path | None, seconds: int) -> dict:
    cmd = [shutil.which("wrk") or "wrk", "-t2", f"-c{CONNS}", f"-d{seconds}s", "--latency",
           "-s", str(WRK_LUA), url]
    if body_file is not None:
        cmd += ["--", str(body_file)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = wrk_result.parse(out.stdout, out.stderr)
    r["errors"] = r["socket_errors"] + r["status"]
    return r


def load_run(name: str, config: Path, routes: list[tuple[str, str, Path | None]], workdir: Path,
             ready_path: str) -> dict:
    """One workerd for all of a worker's routes: warm-up, then the measured run, per route."""
    out: dict = {"routes": {}}
    with Workerd(config, workdir / f"{name}.log") as w:
        w.wait_ready(ready_path)
        for label, path, body in routes:
            log(f"{name} {label}: warm-up {WARMUP} s, then {SECONDS} s at c={CONNS}")
            wrk(w.url + path, body, WARMUP)
            before = loadavg()
            r = wrk(w.url + path, body, SECONDS)
            r["load_before"], r["load_after"] = before, loadavg()
            out["routes"][label] = r
        out["rss_kib"] = proc_status_kib(w.proc.pid, "VmRSS")
        out["hwm_kib"] = proc_status_kib(w.proc.pid, "VmHWM")
    return out


def cold_start(name: str, config: Path, workdir: Path, path: str) -> dict:
    samples = []
    for i in range(STARTS):
        with Workerd(config, workdir / f"{name}-start{i}.log") as w:
            samples.append(w.wait_ready(path, timeout=60) * 1000)
            rss = proc_status_kib(w.proc.pid, "VmRSS")
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
        with Workerd(cfg[name], workdir / f"{name}-check.log") as w:
            w.wait_ready(ready)
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


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def render(r: dict) -> str:
    hello_rps = r["load"]["hello"]["routes"]["GET /"]["rps"]
    rows = []
    for worker, what in (("ours", "the component's wasi:http handler (served)"),
                         ("typed", "typed export, bench reference only (not served)"),
                         ("hello", "trivial JSON worker")):
        for route, x in r["load"][worker]["routes"].items():
            rows.append(
                f"| {worker}: {what} | {route} | {fmt_int(x['rps'])} | {x['rps'] / hello_rps:.0%} "
                f"| {x['p50_us'] / 1000:.2f} | {x['p99_us'] / 1000:.2f} | {x['errors']} "
                f"| {x['load_before']} → {x['load_after']} |")
    mem = []
    for worker in ("ours", "typed", "hello"):
        m = r["load"][worker]
        mem.append(f"| {worker} | {m['rss_kib'] / 1024:.0f} | {m['hwm_kib'] / 1024:.0f} |")
    cs = r["cold_start"]
    starts = [
        f"| {w} | {cs[w]['path']} | {cs[w]['median_ms']:.1f} | "
        f"{', '.join(f'{s:.1f}' for s in cs[w]['samples_ms'])} | {cs[w]['rss_after_first_kib'] / 1024:.0f} |"
        for w in ("ours", "hello")
    ]
    return "\n".join([
        "# The component on workerd (edge/)",
        "",
        f"`python3 bench/edge/run.py`, {r['date']}, {r['cores']} cores, load average "
        f"{r['load_start']} at the start and {r['load_end']} at the end; {r['workerd']}; "
        f".wasm sha256 `{r['wasm_sha256']}`.",
        "",
        f"wrk -t2 -c{r['conns']}, {r['warmup']} s warm-up then {r['seconds']} s per route; wrk and "
        "workerd share the cores (unpinned), so absolute req/s are lower than on a dedicated "
        "machine: read the ratio to hello, measured in the same run under the same load.",
        "",
        "| worker | route | req/s | of hello | p50 ms | p99 ms | errors | load before → after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
        "Cold start: `workerd serve` spawned to the first 200 (ours: /health, which also "
        "instantiates the component), polled every 2 ms:",
        "",
        "| worker | path | median ms | samples ms | RSS after the first 200, MiB |",
        "| --- | --- | ---: | --- | ---: |",
        *starts,
        "",
        "Memory of the workerd process after its load runs:",
        "",
        "| worker | VmRSS MiB | VmHWM MiB |",
        "| --- | ---: | ---: |",
        *mem,
        "",
        "edge/worker.js serves every route, POST /predict included, through the component's own "
        "wasi:http handler (preview2-shim's InMemoryHttpClient), so its answers are the "
        "component's bytes. The typed row shows what answering POST /predict through "
        "`heart:predictor/predictor` instead would buy; it is not served because its answers "
        "are not byte-identical (JSON number formatting, headers, request id and the log line "
        "would have to be re-implemented in JavaScript).",
        "",
    ])


def main() -> int:
    results = HERE / "results.json"
    if "--render" in sys.argv[1:]:
        r = json.loads(results.read_text())
    else:
        r = measure()
        results.write_text(json.dumps(r, indent=2) + "\n")
    (HERE / "RESULTS.md").write_text(render(r))
    print((HERE / "RESULTS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
