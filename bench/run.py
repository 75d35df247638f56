#!/usr/bin/env python3
"""`make bench`: one run of every measurement in issue 4, written to bench/RESULTS.md.

Runs, in this order, with the machine's core count and load average printed beside them:
  1. criterion micro benches on the host (crates/heart-model/benches/predict.rs);
  2. end to end: our release component, the spin-sdk "hello" fixture (both precompiled,
     `wasmtime serve`) and the native hyper server (bench/native-server), each pinned to one
     core, `wrk` pinned to the other, POST /predict of one patient at concurrency 1, 16, 64,
     10 s each after a warm-up; then the same at 16 with wasmtime's pooling allocator;
  3. a batch of 1000 patients through the served component (and the native server);
  4. a `perf` profile of our component under load at concurrency 16 (what the time goes to);
  5. cold start: launch to the first 200 from /health, polled every 2 ms, median of 5;
  6. artifact sizes.

Everything it starts listens on 127.0.0.1 only, runs for a bounded time and is stopped here.
The section of RESULTS.md between the soak markers is kept as it was (another script fills it).

Inputs come from mk/bench.mk (paths of the built artifacts and tools) as environment
variables; see `main()`. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "load"))
import result as wrk_result  # noqa: E402  (post.lua's result line)

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "RESULTS.md"
NOTES = BENCH / "notes.md"
SOAK_BEGIN = "<!-- soak:begin -->"
SOAK_END = "<!-- soak:end -->"

PATIENT = (
    '{"age":63,"sex":1,"cp":1,"trestbps":145,"chol":233,"fbs":1,"restecg":2,'
    '"thalach":150,"exang":0,"oldpeak":2.3,"slope":3,"ca":0,"thal":6}'
)

# Other work (in cores) above which a run's throughput and latency are not judged.
QUIET_CORES = 0.25

# Targets of issue 4 (the old design's figure: 450–660 req/s; 15x its top end).
OLD_DESIGN_RPS = (450, 660)
TARGETS = {
    "ratio_hello_c16": 0.90,
    "rps_c16": 15 * OLD_DESIGN_RPS[1],
    "p99_c16_ms": 3.0,
    "cold_precompiled_ms": 50.0,
    "rss_mib": 32.0,
    "wasm_kib": 300.0,
    "micro_single_us": 2.0,
    "micro_batch_ms": 1.0,
    "served_batch_ms": 5.0,
}


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"bench/run.py: ${name} is not set (run it through `make bench`)")
    return value


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_of(port: int, path: str = "/health", timeout: float = 1.0) -> int | None:
    """One GET on a fresh connection; the status code, or None if nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", head)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return (int(m.group(1)) if m else 0), raw.split(b"\r\n\r\n", 1)[-1]


def vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def nice_prefix() -> list[str]:
    """`nice -n N` for the measured processes (servers, wrk, criterion), from $BENCH_NICE."""
    n = int(os.environ.get("BENCH_NICE", "0"))
    return ["nice", "-n", str(n)] if n else []


def server_env() -> dict:
    """The environment servers run in: as in production, no backtrace capture. With
    RUST_BACKTRACE=1 (set in many shells and CI), wasmtime captures a backtrace for every
    internal error value, which perf showed costing ~5 % of the serve loop in libgcc's unwinder."""
    e = dict(os.environ)
    for k in ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE"):
        e.pop(k, None)
    return e


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used so far (every core, from /proc/stat)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = f
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def others_busy(seconds: float = 1.0) -> float:
    """Cores' worth of CPU used by everything on the machine over `seconds` (this script idles)."""
    b0 = machine_busy_s()
    time.sleep(seconds)
    return (machine_busy_s() - b0) / seconds


def wait_for_quiet(limit_s: float, threshold: float = 0.25) -> tuple[float, float]:
    """Waits (at most `limit_s`) until other work uses under `threshold` of a core; returns the
    busy figure measured last and the seconds waited. A busy machine is reported, not refused."""
    t0 = time.time()
    busy = others_busy()
    while busy > threshold and time.time() - t0 < limit_s:
        log(f"other work is using {busy:.2f} cores; waiting for a quieter machine "
            f"({limit_s - (time.time() - t0):.0f} s more at most)")
        time.sleep(4)
        busy = others_busy()
    return busy, time.time() - t0


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Server:
    """A server process pinned to `cpu`, on a free loopback port; `stop()` ends it."""

    def __init__(self, name: str, argv_for_addr, cpu: str | None):
        self.name = name
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        argv = argv_for_addr(self.addr)
        if cpu is not None:
            argv = ["taskset", "-c", cpu] + argv
        argv = nice_prefix() + argv
        self.log_file = tempfile.NamedTemporaryFile(prefix="bench-" + re.sub(r"[^A-Za-z0-9]+", "-", name) + "-", suffix=".log", delete=False)
        self.t0 = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=server_env())

    def wait_ready(self, deadline_s: float = 120.0, poll_s: float = 0.002) -> float:
        """Polls /health until 200; returns seconds since launch."""
        end = self.t0 + deadline_s
        while time.perf_counter() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log()}")
            if status_of(self.port, timeout=1.0) == 200:
                return time.perf_counter() - self.t0
            time.sleep(poll_s)
        raise RuntimeError(f"{self.name} never answered /health:\n{self.log()}")

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")[-4000:]

    def hwm_kib(self) -> int | None:
        return vm_hwm_kib(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        os.unlink(self.log_file.name)


def wrk(port: int, body_file: Path, conns: int, seconds: int, cpu: str | None) -> dict:
    argv = [
        env("WRK"), "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(BENCH / "load" / "post.lua"), f"http://127.0.0.1:{port}/predict", "--", str(body_file),
    ]
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    argv = nice_prefix() + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    return {**wrk_result.parse(out.stdout, out.stderr), "conns": conns, "seconds": seconds}


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------


def micro() -> dict:
    log("criterion micro benches (cargo bench -p heart-model --bench predict)")
    crit_dir = REPO / "target" / "criterion"
    shutil.rmtree(crit_dir / "single", ignore_errors=True)
    shutil.rmtree(crit_dir / "batch1000", ignore_errors=True)
    cmd = nice_prefix() + [env("CARGO", "cargo"), "bench", "-p", "heart-model", "--bench", "predict"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    results = {}
    for est in sorted(glob.glob(str(crit_dir / "*" / "*" / "new" / "estimates.json"))):
        parts = Path(est).parts
        group, name = parts[-4], parts[-3]
        if group not in ("single", "batch1000"):
            continue
        e = json.loads(Path(est).read_text())
        results[f"{group}/{name}"] = {
            "mean_ns": e["mean"]["point_estimate"],
            "median_ns": e["median"]["point_estimate"],
            "lo_ns": e["mean"]["confidence_interval"]["lower_bound"],
            "hi_ns": e["mean"]["confidence_interval"]["upper_bound"],
        }
    results["_load"] = loadavg()
    return results


def serve_argv(wasm: Path, extra: list[str]):
    wasmtime = env("WASMTIME")
    pre = ["--allow-precompiled"] if wasm.suffix == ".cwasm" else []
    # --no-logging-prefix: each request's log line is then plain JSON, as `make up` serves it.
    return lambda addr: [wasmtime, "serve", "-S", "cli=y", "--no-logging-prefix", *pre, *extra, "--addr", addr,
                         str(wasm)]


def native_argv():
    binary = env("NATIVE")
    return lambda addr: [binary, addr]


def check_answer(name: str, port: int, body: bytes, expect_json: bool) -> None:
    status, answer = post(port, "/predict", body)
    if status != 200:
        raise RuntimeError(f"{name}: POST /predict answered {status}: {answer[:300]!r}")
    if expect_json and b'"probability"' not in answer:
        raise RuntimeError(f"{name}: POST /predict answered no prediction: {answer[:300]!r}")


def load_runs(name: str, argv, expect_json: bool, levels, seconds: int, warmup: int,
              body_file: Path, cpus) -> dict:
    srv_cpu, load_cpu = cpus
    srv = Server(name, argv, srv_cpu)
    try:
        srv.wait_ready()
        check_answer(name, srv.port, body_file.read_bytes(), expect_json)
        log(f"{name}: warm-up {warmup} s at c=16")
        wrk(srv.port, body_file, 16, warmup, load_cpu)
        runs = []
        for c in levels:
            load_before = loadavg()
            cpu0, m0, k0 = cpu_seconds(srv.proc.pid), machine_busy_s(), children_cpu_s()
            r = wrk(srv.port, body_file, c, seconds, load_cpu)
            cpu1, m1, k1 = cpu_seconds(srv.proc.pid), machine_busy_s(), children_cpu_s()
            r["server_cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
            # Requests per second of CPU the server got: what one whole core would serve if the
            # server were CPU-bound on it, whatever else ran on the machine.
            r["per_cpu_s"] = r["requests"] / r["server_cpu_s"] if r["server_cpu_s"] else None
            r["cpu_share"] = r["server_cpu_s"] / (r["duration_us"] / 1e6) if r["server_cpu_s"] else None
            wall = r["duration_us"] / 1e6
            # Everything else the machine ran meanwhile, in cores: not the server, not wrk.
            r["others_cores"] = max(0.0, ((m1 - m0) - (r["server_cpu_s"] or 0) - (k1 - k0)) / wall)
            r["rss_kib"] = srv.hwm_kib()
            r["load_before"] = load_before
            r["load_after"] = loadavg()
            log(f"{name}: c={c}: {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
                f"errors {r['status']}+{r['socket_errors']}, server CPU {r['cpu_share'] or 0:.0%}, "
                f"{r['per_cpu_s'] or 0:.0f} req/CPU-s, others {r['others_cores']:.2f} cores, VmHWM {r['rss_kib']} KiB, load {r['load_after']}")
            runs.append(r)
        return {"runs": runs, "rss_kib": srv.hwm_kib()}
    finally:
        srv.stop()


def profile(name: str, argv_with_perfmap, body_file: Path, cpus, seconds: int = 5) -> dict | None:
    """`perf record` on a server under load at c=16: CPU per request, split by shared object,
    and the top symbols (the component's own, when it kept its symbols)."""
    perf = shutil.which("perf")
    if not perf:
        return None
    srv_cpu, load_cpu = cpus
    srv = Server(name, argv_with_perfmap, srv_cpu)
    data = Path(tempfile.mkdtemp(prefix="bench-perf-")) / "perf.data"
    try:
        srv.wait_ready()
        wrk(srv.port, body_file, 16, 2, load_cpu)
        # wasmtime is the child of taskset after exec: same pid.
        rec = subprocess.Popen(
            [perf, "record", "-q", "-e", "cpu-clock", "-F", "997", "-p", str(srv.proc.pid), "-o", str(data),
             "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = cpu_seconds(srv.proc.pid)
        run = wrk(srv.port, body_file, 16, seconds, load_cpu)
        cpu1 = cpu_seconds(srv.proc.pid)
        rec.wait(timeout=30)
    finally:
        srv.stop()
    if not data.exists():
        return None

    def report(*args: str) -> list[str]:
        out = subprocess.run(
            [perf, "report", "-i", str(data), "--no-children", "--stdio", "-g", "none", *args],
            capture_output=True, text=True, timeout=120).stdout
        return [l.rstrip() for l in out.splitlines() if l.strip() and not l.startswith("#")]

    dsos = []
    for line in report("--sort", "dso"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            dsos.append((float(m.group(1)), m.group(2)))
    guest = next((d for _, d in dsos if d.endswith(".cwasm")), None)
    result = {
        "us_per_req": (cpu1 - cpu0) / run["requests"] * 1e6 if cpu0 is not None and cpu1 is not None else None,
        "rps": run["rps"],
        "dsos": dsos,
        "top": "\n".join(report("--sort", "dso,sym", "--percent-limit", "0.7")[:25]),
    }
    if guest:
        result["guest_top"] = "\n".join(report("--sort", "sym", "--dsos", guest)[:20])
    shutil.rmtree(data.parent, ignore_errors=True)
    return result


def cold_start(name: str, argv, runs: int, cpu: str | None, prime: bool = False) -> dict:
    """Median launch-to-first-200 of `runs` launches; `prime` launches once unmeasured first
    (to fill a compile cache)."""
    if prime:
        srv = Server(name, argv, cpu)
        try:
            srv.wait_ready(deadline_s=60)
        finally:
            srv.stop()
    times, hwm = [], []
    for _ in range(runs):
        srv = Server(name, argv, cpu)
        try:
            times.append(srv.wait_ready(deadline_s=60) * 1000)
            hwm.append(srv.hwm_kib() or 0)
        finally:
            srv.stop()
    return {"ms": times, "median_ms": statistics.median(times), "rss_kib": statistics.median(hwm)}


# ---------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------


def soak_section() -> str:
    if RESULTS.exists():
        text = RESULTS.read_text()
        i, j = text.find(SOAK_BEGIN), text.find(SOAK_END)
        if i != -1 and j > i:
            return text[i:j + len(SOAK_END)]
    return f"{SOAK_BEGIN}\n{SOAK_END}"


def fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.0%}"


def num(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def verdict(ok: bool | None) -> str:
    return "— (not judged)" if ok is None else ("met" if ok else "**missed**")


def render(r: dict) -> str:
    m = r["machine"]
    out = []
    w = out.append
    w("# Benchmark results\n")
    w(f"Generated by `make bench` (bench/run.py) on {r['date']}; do not edit by hand, "
      "except the soak section at the end, which its own script fills.\n")
    w(f"- machine: **{m['cores']} cores** ({m['cpu']}), {m['mem_gib']:.0f} GiB; "
      f"load average at start **{m['load_start']}**, at end **{m['load_end']}**; other work at start "
      f"**{m['busy_start']:.2f} cores** (after waiting {m['waited_s']:.0f} s, at most $BENCH_QUIET_WAIT, for under 0.25)")
    w(f"- pinning: {m['pinning']}; priority: {m['nice']}; servers run without RUST_BACKTRACE; "
      "`wasmtime serve -S cli=y --no-logging-prefix` (our log lines plain JSON, as `make up` serves), "
      "stdout and stderr to a file")
    w(f"- wasmtime {m['wasmtime']}, {m['wrk']}, {m['rustc']}; commit {m['commit']}")
    w(f"- load: `wrk -t1 -cC -dD` with bench/load/post.lua, POST /predict of one patient "
      f"({len(PATIENT)} bytes of JSON), keep-alive; warm-up {r['params']['warmup']} s, "
      f"then {r['params']['seconds']} s per concurrency level")
    w("- wrk counts a status ≥ 400 as an error (\"non-2xx\" below; every server here answers 200 or ≥ 400); "
      "socket errors are connect + read + write + timeout.\n")
    w("The load average counts every runnable process on the machine, ours included (the server and wrk "
      "add about 2 while a run is on). Figures taken while other work ran on the machine are lower than "
      "on an idle one; the ratios, measured side by side in one run, move much less.\n")

    # Targets
    t = r["targets"]
    w("## Targets (issue 4)\n")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for label, value, ok in t:
        w(f"| {label} | {value} | {verdict(ok)} |")
    w("")

    # End to end
    w("## End to end: POST /predict, one patient\n")
    w("Server pinned to one core, wrk to the other. RSS is the server's peak (VmHWM) so far.\n")
    w("| server | concurrency | req/s | p50 | p99 | non-2xx | socket errors | peak RSS | server CPU | req per server CPU-s | other work (cores) | load (before → after) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for key, label in r["e2e_labels"]:
        for run in r["e2e"][key]["runs"]:
            w(f"| {label} | {run['conns']} | {run['rps']:,.0f} | {fmt_us(run['p50_us'])} | {fmt_us(run['p99_us'])} "
              f"| {run['status']} | {run['socket_errors']} | {run['rss_kib'] / 1024:.1f} MiB "
              f"| {pct(run.get('cpu_share'))} | {num(run.get('per_cpu_s'))} | {run.get('others_cores', 0):.2f} "
              f"| {run['load_before']} → {run['load_after']} |")
    w("")
    w("\"server CPU\" is the CPU time the server process used over the run's wall time (100 % = its "
      "whole core); \"req per server CPU-s\" divides the requests by that CPU time: what one core "
      "would serve if nothing else ran on it, for a CPU-bound server. \"other work\" is the CPU that "
      "everything but the server and wrk used during the run, in cores (0 on a quiet machine, 2 = both "
      "cores busy with other work): where it is well above 0, the figures in that row are depressed.\n")
    w("Ratios, same run, same load (req/s; in brackets the same ratio of req per server CPU-s):\n")
    w("| concurrency | ours / hello | ours / native |")
    w("| ---: | ---: | ---: |")
    for c, rh, rn, ch, cn in r["ratios"]:
        w(f"| {c} | {rh:.3f} ({ch}) | {rn:.4f} ({cn}) |")
    w("")
    if r.get("pooling"):
        w("### wasmtime's pooling allocator (`-O pooling-allocator=y`), concurrency 16\n")
        w("| server | allocator | req/s | p50 | p99 | peak RSS | req per server CPU-s | other work (cores) |")
        w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for label, alloc, run in r["pooling"]:
            w(f"| {label} | {alloc} | {run['rps']:,.0f} | {fmt_us(run['p50_us'])} | {fmt_us(run['p99_us'])} "
              f"| {run['rss_kib'] / 1024:.1f} MiB | {num(run.get('per_cpu_s'))} | {run.get('others_cores', 0):.2f} |")
        w("")

    # Batch
    w("## A batch of 1000 patients, end to end (concurrency 1)\n")
    w(f"Body: `{{\"instances\": [1000 × the patient]}}`, {r['batch_bytes']:,} bytes.\n")
    w("| server | batches/s | p50 | p99 | mean | non-2xx | socket errors |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, run in r["batch"]:
        w(f"| {label} | {run['rps']:,.1f} | {fmt_us(run['p50_us'])} | {fmt_us(run['p99_us'])} "
          f"| {fmt_us(run['mean_us'])} | {run['status']} | {run['socket_errors']} |")
    w("")

    # Micro
    w("## Host micro benches (criterion, crates/heart-model/benches/predict.rs)\n")
    w("`cargo bench -p heart-model --bench predict` with the workspace's `bench` profile (the release "
      f"profile at opt-level 3, as a native build runs). Load average after: {r['micro'].get('_load', '?')}.\n")
    w("| bench | mean | 95 % interval | median |")
    w("| --- | ---: | --- | ---: |")
    for name, e in sorted(r["micro"].items(), key=lambda kv: (kv[0].startswith("batch"), "_to_" not in kv[0], kv[0])):
        if name.startswith("_"):
            continue
        w(f"| {name} | {fmt_ns(e['mean_ns'])} | {fmt_ns(e['lo_ns'])} – {fmt_ns(e['hi_ns'])} | {fmt_ns(e['median_ns'])} |")
    w("")
    w("`json_to_prediction(s)` is a prediction from JSON bytes, what the issue's micro targets measure: "
      "parse + validate (`PredictRequest::from_json_bytes`) and `MODEL.assess`. `json_to_json` is the whole "
      "path of `POST /predict` on a body already read: the same, then the answer written "
      "(`Assessment::write_json`); the other rows are its steps alone.\n")

    # Cold start
    w("## Cold start: launch to the first 200 from GET /health\n")
    w(f"Polled every 2 ms on a fresh connection; median of {r['params']['cold_runs']} launches, server pinned "
      "to one core. RSS is VmHWM at the first 200.\n")
    w("| server | median | all runs | RSS at first 200 |")
    w("| --- | ---: | --- | ---: |")
    for label, c in r["cold"]:
        runs = ", ".join(f"{x:.1f}" for x in c["ms"])
        w(f"| {label} | {c['median_ms']:.1f} ms | {runs} | {c['rss_kib'] / 1024:.1f} MiB |")
    w("")

    # Sizes
    w("## Artifact sizes\n")
    w("| artifact | bytes | KiB |")
    w("| --- | ---: | ---: |")
    for label, size in r["sizes"]:
        w(f"| {label} | {size:,} | {size / 1024:.1f} |")
    w("")

    # Profile
    if r.get("profile"):
        w("## Where the time goes: `perf` under load (concurrency 16)\n")
        w("`perf record -e cpu-clock` on the `wasmtime serve` process with `--profile=perfmap`, 5 s of the same "
          "load after a 2 s warm-up; CPU per request is the process's CPU time over the requests served meanwhile "
          "(perf itself adds a little). " + ("Ours is profiled as the same release build with its symbols kept "
                                              "(`strip = false`), so its own functions have names. "
                                              if r.get("profile_symbols") else "") +
          "`*.cwasm` is the component's own code, `wasmtime` the runtime (instantiation, the wasi:http "
          "host, hyper), `[kernel.kallsyms]` the TCP stack, page faults and the scheduler.\n")
        profs = [("ours", r["profile"]), ("hello", r.get("profile_hello"))]
        profs = [(k, p) for k, p in profs if p]
        groups = ["component (.cwasm)", "wasmtime", "[kernel.kallsyms]", "libc.so.6", "other"]

        def split(p):
            g = dict.fromkeys(groups, 0.0)
            for share, dso in p["dsos"]:
                key = "component (.cwasm)" if dso.endswith(".cwasm") else (dso if dso in groups else "other")
                g[key] += share
            return g

        w("| component | req/s under perf | CPU per request | " + " | ".join(groups) + " |")
        w("| --- | ---: | ---: | " + " | ".join("---:" for _ in groups) + " |")
        for key, p in profs:
            g = split(p)
            us = p["us_per_req"] or 0
            cells = " | ".join(f"{us * g[k] / 100:.0f} µs ({g[k]:.0f} %)" for k in groups)
            w(f"| {key} | {p['rps']:,.0f} | {us:.0f} µs | {cells} |")
        w("")
        w("Top symbols of ours, whole process (≥ 0.7 % of samples):\n")
        w("```")
        w(r["profile"]["top"])
        w("```\n")
        if r["profile"].get("guest_top"):
            w("Top functions of the component itself (percent of all the process's samples):\n")
            w("```")
            w(r["profile"]["guest_top"])
            w("```\n")

    if NOTES.exists():
        w(NOTES.read_text().rstrip() + "\n")

    w(r["soak"])
    return "\n".join(out) + "\n"


def targets(r: dict) -> list:
    T = TARGETS
    rows = []
    c16 = {k: next(x for x in v["runs"] if x["conns"] == 16) for k, v in r["e2e"].items()}
    busy = {k: v.get("others_cores", 0.0) for k, v in c16.items()}
    noisy = max(busy["ours"], busy["hello"]) > QUIET_CORES

    def caveat(keys) -> str:
        worst = max(busy[k] for k in keys)
        return (f" ⚠ other work used {worst:.2f} cores during these runs: not a valid measurement"
                if worst > QUIET_CORES else "")

    ratio = c16["ours"]["rps"] / c16["hello"]["rps"]
    rows.append((f"/predict at c=16 ≥ {T['ratio_hello_c16']:.0%} of hello's req/s",
                 f"{ratio:.1%}" + caveat(["ours", "hello"]), None if noisy else ratio >= T["ratio_hello_c16"]))
    if c16["ours"].get("per_cpu_s") and c16["hello"].get("per_cpu_s"):
        cpu_ratio = c16["ours"]["per_cpu_s"] / c16["hello"]["per_cpu_s"]
        rows.append((f"the same in CPU per request (hello's / ours) ≥ {T['ratio_hello_c16']:.0%}: holds on a busy "
                     "machine too", f"{cpu_ratio:.1%}", cpu_ratio >= T["ratio_hello_c16"]))
    rps = c16["ours"]["rps"]
    rows.append((f"/predict at c=16 ≥ 15 × the old design ({15 * OLD_DESIGN_RPS[0]:,}–{T['rps_c16']:,} req/s)",
                 f"{rps:,.0f} req/s ({rps / OLD_DESIGN_RPS[1]:.1f}× 660, {rps / OLD_DESIGN_RPS[0]:.1f}× 450); "
                 f"{c16['ours'].get('per_cpu_s') or 0:,.0f} per server CPU-s" + caveat(["ours"]),
                 rps >= T["rps_c16"] if not busy["ours"] > QUIET_CORES or rps >= T["rps_c16"] else None))
    p99 = c16["ours"]["p99_us"] / 1000
    rows.append((f"p99 at c=16 ≤ {T['p99_c16_ms']} ms", f"{p99:.2f} ms" + caveat(["ours"]),
                 p99 <= T["p99_c16_ms"] if not busy["ours"] > QUIET_CORES or p99 <= T["p99_c16_ms"] else None))
    cold = dict(r["cold"])
    pre = cold[r["cold_precompiled_label"]]["median_ms"]
    rows.append((f"cold start, precompiled ≤ {T['cold_precompiled_ms']:.0f} ms", f"{pre:.1f} ms",
                 pre <= T["cold_precompiled_ms"]))
    rss = r["e2e"]["ours"]["rss_kib"] / 1024
    rows.append((f"peak RSS of the serving process ≤ {T['rss_mib']:.0f} MiB", f"{rss:.1f} MiB",
                 rss <= T["rss_mib"]))
    kib = r["wasm_bytes"] / 1024
    rows.append((f"release .wasm ≤ {T['wasm_kib']:.0f} KiB", f"{kib:.1f} KiB", kib <= T["wasm_kib"]))
    one = r["micro"].get("single/json_to_prediction")
    if one:
        rows.append((f"host: one prediction from JSON bytes ≤ {T['micro_single_us']} µs",
                     fmt_ns(one["mean_ns"]), one["mean_ns"] <= T["micro_single_us"] * 1e3))
    many = r["micro"].get("batch1000/json_to_predictions")
    if many:
        rows.append((f"host: batch of 1000 ≤ {T['micro_batch_ms']} ms", fmt_ns(many["mean_ns"]),
                     many["mean_ns"] <= T["micro_batch_ms"] * 1e6))
    served = dict(r["batch"]).get("ours (precompiled)")
    if served:
        rows.append((f"batch of 1000 through the served component ≤ {T['served_batch_ms']} ms (p50)",
                     fmt_us(served["p50_us"]), served["p50_us"] <= T["served_batch_ms"] * 1000))
    ratio_native = c16["ours"]["rps"] / c16["native"]["rps"]
    cpu_native = (c16["ours"].get("per_cpu_s") or 0) / (c16["native"].get("per_cpu_s") or 1)
    rows.append(("ours / native at c=16 (reported, no target)",
                 f"{ratio_native:.3f} in req/s, {cpu_native:.3f} in CPU per request" + caveat(["ours", "native"]), None))
    return rows


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def render_only() -> None:
    """`bench/run.py --render`: rewrite RESULTS.md from the last run's target/bench/results.json
    (after editing notes.md or this renderer), keeping the soak section."""
    r = json.loads((REPO / "target" / "bench" / "results.json").read_text())
    r["targets"] = targets(r)
    r["soak"] = soak_section()
    RESULTS.write_text(render(r))
    log(f"rewrote {RESULTS.relative_to(REPO)} from target/bench/results.json")


def main() -> None:
    if sys.argv[1:] == ["--render"]:
        return render_only()
    t_start = time.time()
    quick = os.environ.get("BENCH_QUICK") == "1"  # a smoke run of the script itself
    seconds = 2 if quick else int(env("BENCH_SECONDS", "10"))
    warmup = 1 if quick else int(env("BENCH_WARMUP", "2"))
    cold_runs = 2 if quick else 5
    levels = [1, 16, 64]

    wasm = Path(env("WASM"))
    cwasm = Path(env("CWASM"))
    hello_cwasm = Path(env("HELLO_CWASM"))
    hello_wasm = Path(env("HELLO_WASM"))
    native = Path(env("NATIVE"))

    cores = cpu_count()
    cpus = ("0", "1") if cores >= 2 else (None, None)
    if cores >= 2:
        # This script (the /health poller, criterion) stays on the load generator's core;
        # every server is started with `taskset -c 0`.
        os.sched_setaffinity(0, {1})
    machine = {
        "cores": cores,
        "cpu": next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                     if l.startswith("model name")), platform.machine()),
        "mem_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
        "load_start": loadavg(),
        "nice": (f"`nice -n {os.environ.get('BENCH_NICE')}` for servers, wrk and criterion"
                 if int(os.environ.get("BENCH_NICE", "0")) else "default"),
        "pinning": ("server on CPU 0, wrk on CPU 1 (`taskset -c`)" if cpus[0] is not None
                    else "none (fewer than 2 cores)"),
        "wasmtime": sh([env("WASMTIME"), "--version"]).replace("wasmtime ", ""),
        "wrk": sh([env("WRK"), "-v"]).splitlines()[0].split(" [")[0] if sh([env("WRK"), "-v"]) else "wrk",
        "rustc": sh(["rustc", "--version"]),
        "commit": sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        + (" (+ uncommitted changes)" if sh(["git", "-C", str(REPO), "status", "--porcelain"]) else ""),
    }
    busy, waited = wait_for_quiet(float(os.environ.get("BENCH_QUIET_WAIT", "30")))
    machine["busy_start"] = busy
    machine["waited_s"] = waited
    machine["load_start"] = loadavg()
    log(f"{cores} cores, load average {machine['load_start']}, other work {busy:.2f} cores")

    work = Path(tempfile.mkdtemp(prefix="bench-bodies-"))
    one = work / "one.json"
    one.write_text(PATIENT)
    many = work / "batch1000.json"
    many.write_text('{"instances":[' + ",".join([PATIENT] * 1000) + "]}")

    r: dict = {"machine": machine, "params": {"seconds": seconds, "warmup": warmup, "cold_runs": cold_runs}}
    r["date"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    r["micro"] = micro()

    # End to end, side by side.
    servers = [
        ("ours", "ours (precompiled)", serve_argv(cwasm, []), True),
        ("hello", "hello fixture (precompiled)", serve_argv(hello_cwasm, []), False),
        ("native", "native hyper (bench/native-server)", native_argv(), True),
    ]
    r["e2e"], r["e2e_labels"] = {}, []
    for key, label, argv, expect_json in servers:
        r["e2e"][key] = load_runs(label, argv, expect_json, levels, seconds, warmup, one, cpus)
        r["e2e_labels"].append((key, label))
    r["ratios"] = []
    for i, c in enumerate(levels):
        o, h, n = (r["e2e"][k]["runs"][i]["rps"] for k in ("ours", "hello", "native"))
        co, ch, cn = (r["e2e"][k]["runs"][i].get("per_cpu_s") for k in ("ours", "hello", "native"))
        rc = (lambda a, b: f"{a / b:.3f}" if a and b else "?")
        r["ratios"].append((c, o / h, o / n, rc(co, ch), rc(co, cn)))

    pooled = ["-O", "pooling-allocator=y"]
    r["pooling"] = []
    for key, label, path, expect_json in [("ours", "ours", cwasm, True), ("hello", "hello", hello_cwasm, False)]:
        res = load_runs(f"{label}+pooling", serve_argv(path, pooled), expect_json, [16], seconds, warmup, one, cpus)
        base = next(x for x in r["e2e"][key]["runs"] if x["conns"] == 16)
        r["pooling"].append((label, "on-demand (default)", base))
        r["pooling"].append((label, "pooling", res["runs"][0]))

    # A batch of 1000 through the served component and the native server.
    r["batch_bytes"] = many.stat().st_size
    r["batch"] = []
    for label, argv in [("ours (precompiled)", serve_argv(cwasm, [])), ("native hyper", native_argv())]:
        srv = Server(label, argv, cpus[0])
        try:
            srv.wait_ready()
            check_answer(label, srv.port, many.read_bytes(), True)
            wrk(srv.port, many, 1, 1, cpus[1])
            run = wrk(srv.port, many, 1, 3 if quick else 5, cpus[1])
            log(f"batch of 1000, {label}: p50 {run['p50_us']} us, {run['rps']:.1f}/s")
            r["batch"].append((label, run))
        finally:
            srv.stop()

    # Profile.
    log("perf profile of ours at c=16")
    try:
        sym = Path(os.environ.get("SYMBOLS_CWASM", "")) if os.environ.get("SYMBOLS_CWASM") else cwasm
        r["profile_symbols"] = sym != cwasm
        r["profile"] = profile("ours+perf", serve_argv(sym, ["--profile=perfmap"]), one, cpus,
                               seconds=3 if quick else 5)
        r["profile_hello"] = profile("hello+perf", serve_argv(hello_cwasm, ["--profile=perfmap"]), one, cpus,
                                     seconds=3 if quick else 5)
    except Exception as e:  # a profile is a bonus: never fail the run for it
        log(f"perf failed: {e}")
        r["profile"] = r["profile_hello"] = None

    # Cold start.
    log("cold start")
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-wasmtime-cache-"))
    cache_cfg = work / "cache.toml"
    cache_cfg.write_text(f'[cache]\ndirectory = "{cache_dir}"\n')
    r["cold_precompiled_label"] = "ours, precompiled .cwasm"
    r["cold"] = [
        ("ours, .wasm, compile cache off (compiles at start)",
         cold_start("cold-wasm", serve_argv(wasm, ["-C", "cache=n"]), cold_runs, cpus[0])),
        ("ours, .wasm, compile cache warm",
         cold_start("cold-wasm-cache", serve_argv(wasm, ["-C", f"cache-config={cache_cfg}"]), cold_runs,
                    cpus[0], prime=True)),
        (r["cold_precompiled_label"], cold_start("cold-cwasm", serve_argv(cwasm, []), cold_runs, cpus[0])),
        ("ours, precompiled .cwasm + pooling allocator",
         cold_start("cold-cwasm-pool", serve_argv(cwasm, pooled), cold_runs, cpus[0])),
        ("hello fixture, precompiled .cwasm",
         cold_start("cold-hello", serve_argv(hello_cwasm, []), cold_runs, cpus[0])),
        ("native hyper", cold_start("cold-native", native_argv(), cold_runs, cpus[0])),
    ]
    shutil.rmtree(cache_dir, ignore_errors=True)

    r["wasm_bytes"] = wasm.stat().st_size
    r["sizes"] = [
        ("ours: release .wasm (what ships)", wasm.stat().st_size),
        ("ours: precompiled .cwasm (x86_64, wasmtime 48)", cwasm.stat().st_size),
        ("hello fixture: release .wasm", hello_wasm.stat().st_size),
        ("hello fixture: precompiled .cwasm", hello_cwasm.stat().st_size),
        ("native hyper server binary", native.stat().st_size),
    ]

    machine["load_end"] = loadavg()
    r["targets"] = targets(r)
    r["soak"] = soak_section()
    RESULTS.write_text(render(r))
    out_json = REPO / "target" / "bench" / "results.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({k: v for k, v in r.items() if k != "soak"}, indent=1, default=str))
    shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {RESULTS.relative_to(REPO)} and {out_json.relative_to(REPO)} in {time.time() - t_start:.0f} s")
    for label, value, ok in r["targets"]:
        log(f"  {verdict(ok).strip('*'):>7}  {label}: {value}")


if __name__ == "__main__":
    main()
