#!/usr/bin/env python3
"""`make bench`: one run of every measurement of issue 4, written to bench/results.json
(`python3 bench/report.py` then renders bench/RESULTS.md from it).

Runs, in this order, with the machine's core count and load average recorded beside them:
  1. criterion micro benches on the host (`cargo bench -p heart-wire --bench predict`);
  2. end to end: our release component, the spin-sdk "hello" fixture (both precompiled,
     `wasmtime serve`) and the native hyper server (bench/native-server), each pinned to one
     core, `wrk` pinned to the other, POST /predict of one patient at concurrency 1, 16, 64,
     10 s each after a warm-up; then the same at 16 with wasmtime's pooling allocator;
  3. a batch of 1000 patients through the served component (and the native server);
  4. a `perf` profile of our component under load at concurrency 16 (what the time goes to);
  5. cold start: launch to the first 200 from /health, polled every 2 ms, median of 5;
  6. artifact sizes.

Every server is started by tests/runtimes.py (`launched`, the one "start it, wait for /health"
of the tests and benches; `wasmtime_serve_cmd` for wasmtime's argv), listens on 127.0.0.1 only,
runs for a bounded time and is stopped here.

Inputs come from mk/bench.mk (paths of the built artifacts and tools) as environment
variables; see `main()`. BENCH_QUICK=1 is a smoke run of the script itself (2 s runs, 2 cold
starts); BENCH_SECONDS, BENCH_WARMUP and BENCH_QUIET_WAIT set the durations. Standard library
only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH / "load"))
sys.path.insert(0, str(REPO / "tests"))
import result as bench_result  # noqa: E402  (post.lua's result line; results.json)
import runtimes as rt  # noqa: E402  (how a server is started and known to be ready)

RESULTS_JSON = BENCH / "results.json"
CRITERION = ["cargo", "bench", "-p", "heart-wire", "--bench", "predict"]

PATIENT = bench_result.PATIENT

# Where the servers' logs go for one run (set in main()).
LOGS = Path(tempfile.gettempdir())


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        sys.exit(f"bench/run.py: ${name} is not set (run it through `make bench`)")
    return value


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


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


@contextlib.contextmanager
def server(name: str, argv_for_addr, cpu: str | None, poll_s: float = 0.05) -> Iterator[rt.Launched]:
    """A server on a free loopback port, pinned to `cpu` at $BENCH_NICE, started by
    tests/runtimes.py and ready (200 from /health) when the block starts; `ready_s` is its
    launch to that first 200, polled every `poll_s` s."""
    addr = f"127.0.0.1:{rt.free_port()}"
    pin = ["taskset", "-c", cpu] if cpu is not None else []
    log_file = LOGS / (re.sub(r"[^A-Za-z0-9]+", "-", name) + ".log")
    # nice and taskset exec the server: the pid is the server's own (VmHWM, perf -p).
    with rt.launched(nice_prefix() + pin + argv_for_addr(addr), addr, log_file, name, env=server_env(),
                     poll_s=poll_s, timeout=120) as srv:
        yield srv


def wrk(url: str, body_file: Path, conns: int, seconds: int, cpu: str | None) -> dict:
    argv = [
        env("WRK"), "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
        "-s", str(BENCH / "load" / "post.lua"), f"{url}/predict", "--", str(body_file),
    ]
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    argv = nice_prefix() + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    return {**bench_result.parse(out.stdout, out.stderr), "conns": conns, "seconds": seconds}


# ---------------------------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------------------------


def micro() -> dict:
    log(f"criterion micro benches ({' '.join(CRITERION)})")
    crit_dir = REPO / "target" / "criterion"
    shutil.rmtree(crit_dir / "single", ignore_errors=True)
    shutil.rmtree(crit_dir / "batch1000", ignore_errors=True)
    cmd = nice_prefix() + [env("CARGO", CRITERION[0]), *CRITERION[1:]]
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
    # --no-logging-prefix: each request's log line is then plain JSON, as `make up` serves it.
    return lambda addr: rt.wasmtime_serve_cmd(wasm, addr, ["--no-logging-prefix", *extra], env("WASMTIME"))


def native_argv():
    binary = env("NATIVE")
    return lambda addr: [binary, addr]


def check_answer(name: str, url: str, body: bytes, expect_json: bool) -> None:
    req = urllib.request.Request(f"{url}/predict", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, answer = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read()
    if status != 200:
        raise RuntimeError(f"{name}: POST /predict answered {status}: {answer[:300]!r}")
    if expect_json and b'"probability"' not in answer:
        raise RuntimeError(f"{name}: POST /predict answered no prediction: {answer[:300]!r}")


def load_runs(name: str, argv, expect_json: bool, levels, seconds: int, warmup: int,
              body_file: Path, cpus) -> dict:
    srv_cpu, load_cpu = cpus
    with server(name, argv, srv_cpu) as srv:
        check_answer(name, srv.url, body_file.read_bytes(), expect_json)
        log(f"{name}: warm-up {warmup} s at c=16")
        wrk(srv.url, body_file, 16, warmup, load_cpu)
        runs = []
        for c in levels:
            load_before = loadavg()
            cpu0, m0, k0 = cpu_seconds(srv.pid), machine_busy_s(), children_cpu_s()
            r = wrk(srv.url, body_file, c, seconds, load_cpu)
            cpu1, m1, k1 = cpu_seconds(srv.pid), machine_busy_s(), children_cpu_s()
            r["server_cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
            # Requests per second of CPU the server got: what one whole core would serve if the
            # server were CPU-bound on it, whatever else ran on the machine.
            r["per_cpu_s"] = r["requests"] / r["server_cpu_s"] if r["server_cpu_s"] else None
            r["cpu_share"] = r["server_cpu_s"] / (r["duration_us"] / 1e6) if r["server_cpu_s"] else None
            wall = r["duration_us"] / 1e6
            # Everything else the machine ran meanwhile, in cores: not the server, not wrk.
            r["others_cores"] = max(0.0, ((m1 - m0) - (r["server_cpu_s"] or 0) - (k1 - k0)) / wall)
            r["rss_kib"] = vm_hwm_kib(srv.pid)
            r["load_before"] = load_before
            r["load_after"] = loadavg()
            log(f"{name}: c={c}: {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
                f"errors {r['status']}+{r['socket_errors']}, server CPU {r['cpu_share'] or 0:.0%}, "
                f"{r['per_cpu_s'] or 0:.0f} req/CPU-s, others {r['others_cores']:.2f} cores, "
                f"VmHWM {r['rss_kib']} KiB, load {r['load_after']}")
            runs.append(r)
        return {"runs": runs, "rss_kib": vm_hwm_kib(srv.pid)}


def profile(name: str, argv_with_perfmap, body_file: Path, cpus, seconds: int = 5) -> dict | None:
    """`perf record` on a server under load at c=16: CPU per request, split by shared object,
    and the top symbols (the component's own, when it kept its symbols)."""
    perf = shutil.which("perf")
    if not perf:
        return None
    srv_cpu, load_cpu = cpus
    data = Path(tempfile.mkdtemp(prefix="bench-perf-")) / "perf.data"
    with server(name, argv_with_perfmap, srv_cpu) as srv:
        wrk(srv.url, body_file, 16, 2, load_cpu)
        rec = subprocess.Popen(
            [perf, "record", "-q", "-e", "cpu-clock", "-F", "997", "-p", str(srv.pid), "-o", str(data),
             "--", "sleep", str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu0 = cpu_seconds(srv.pid)
        run = wrk(srv.url, body_file, 16, seconds, load_cpu)
        cpu1 = cpu_seconds(srv.pid)
        rec.wait(timeout=30)
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
    """Median launch-to-first-200 of `runs` launches, /health polled every 2 ms on a fresh
    connection; `prime` launches once unmeasured first (to fill a compile cache)."""
    if prime:
        with server(name, argv, cpu, poll_s=0.002):
            pass
    times, hwm = [], []
    for _ in range(runs):
        with server(name, argv, cpu, poll_s=0.002) as srv:
            times.append(srv.ready_s * 1000)
            hwm.append(vm_hwm_kib(srv.pid) or 0)
    return {"ms": times, "median_ms": statistics.median(times), "rss_kib": statistics.median(hwm)}


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return "?"


def main() -> None:
    global LOGS
    if sys.argv[1:]:
        sys.exit("usage: bench/run.py (through `make bench`); `python3 bench/report.py` renders RESULTS.md")
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

    cores = len(os.sched_getaffinity(0))
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
        "nice": (f"`nice -n {os.environ.get('BENCH_NICE')}` for servers, wrk and criterion"
                 if int(os.environ.get("BENCH_NICE", "0")) else "default"),
        "pinning": ("server on CPU 0, wrk on CPU 1 (`taskset -c`)" if cpus[0] is not None
                    else "none (fewer than 2 cores)"),
        "wasmtime": sh([env("WASMTIME"), "--version"]).replace("wasmtime ", ""),
        "wrk": (sh([env("WRK"), "-v"]) or "wrk").splitlines()[0].split(" [")[0],
        "rustc": sh(["rustc", "--version"]),
        "commit": sh(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        + (" (+ uncommitted changes)" if sh(["git", "-C", str(REPO), "status", "--porcelain"]) else ""),
    }
    busy, waited = wait_for_quiet(float(os.environ.get("BENCH_QUIET_WAIT", "30")))
    machine["busy_start"] = busy
    machine["waited_s"] = waited
    machine["load_start"] = loadavg()
    log(f"{cores} cores, load average {machine['load_start']}, other work {busy:.2f} cores")

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    LOGS = work
    one = work / "one.json"
    one.write_text(PATIENT)
    many = work / "batch1000.json"
    many.write_text('{"instances":[' + ",".join([PATIENT] * 1000) + "]}")

    r: dict = {"machine": machine,
               "params": {"seconds": seconds, "warmup": warmup, "cold_runs": cold_runs,
                          "body_bytes": len(PATIENT), "criterion": " ".join(CRITERION)}}
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
        with server(label, argv, cpus[0]) as srv:
            check_answer(label, srv.url, many.read_bytes(), True)
            wrk(srv.url, many, 1, 1, cpus[1])
            run = wrk(srv.url, many, 1, 3 if quick else 5, cpus[1])
        log(f"batch of 1000, {label}: p50 {run['p50_us']} us, {run['rps']:.1f}/s")
        r["batch"].append((label, run))

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
    bench_result.write_json(RESULTS_JSON, r)
    shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {RESULTS_JSON.relative_to(REPO)} in {time.time() - t_start:.0f} s "
        "(`python3 bench/report.py` renders bench/RESULTS.md)")


if __name__ == "__main__":
    main()
