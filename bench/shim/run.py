#!/usr/bin/env python3
"""The image on SpinKube's node runtime: containerd + containerd-shim-spin running the Spin OCI
artifact `make push` pushes (issue "The image on SpinKube's node runtime", items 2-4).

Measures, on 127.0.0.1 only, with the machine's core count and load average beside every figure:
  1. start times: `ctr run` to the first 200 from /health, polled every 5 ms, for the first
     start of a freshly pulled image (the shim precompiles the wasm layer) and a second start of
     the same image (it loads the precompiled layer); a fresh containerd per sample, median of 5;
  2. throughput under the shim, side by side: ours (POST /predict, one patient) and the hello
     fixture (GET /, bench/shim/spin.toml), wrk -t1 -c16, 10 s after a 3 s warm-up, the shim's
     processes pinned to CPU 0 and wrk to CPU 1;
  3. resources: per container, the shim's own "peak memory" log lines (containerd's log, at
     stop), VmHWM of its processes, the container cgroup's memory.max_usage_in_bytes, and CPU per
     request (utime+stime of the shim's processes over the requests served), for c=16, c=64 and a
     batch of 1000 patients; then c=16 under the chart's dev and prod limits (`ctr run
     --memory-limit --cpus`), with the cgroup files that show whether they are enforced.

Writes bench/shim/results.json (`python3 bench/report.py` renders bench/shim/RESULTS.md from
it). Reuses tests/runtimes.py (registry, `make push`, Containerd, `launched` for `spin up`).
Standard library only: `python3 bench/shim/run.py`.
Environment: SHIM_BENCH_SECONDS (10), SHIM_BENCH_WARMUP (3), SHIM_BENCH_STARTS (5),
WRK (wrk on PATH).
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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench" / "load"))
import runtimes as rt  # noqa: E402
import result as bench_result  # noqa: E402  (post.lua's result line; results.json)

HELLO_TOML = HERE / "spin.toml"
HELLO_WASM = REPO / "target" / "wasm32-wasip2" / "release" / "bench_hello.wasm"
HELLO_REPO = "bench-hello"
# The wasi:http 0.3 hello (bench/hello-p3), measured beside our 0.3 build where Spin 4 and a
# v0.25 shim run it.
HELLO_P3_TOML = HERE / "spin-p3.toml"
HELLO_P3_WASM = REPO / "target" / "wasm32-wasip2" / "release" / "bench_hello_p3.wasm"
HELLO_P3_REPO = "bench-hello-p3"
# Spin 4's instance reuse settings that bench/p3/run.py tries on our 0.3 build under `spin up`
# (its defaults for a 0.3 component: 128 requests per instance, 16 at once, 1 s idle).
REUSE = {
    "default": (),
    "no_reuse": ("--max-instance-reuse-count", "1", "--max-instance-concurrent-reuse-count", "1"),
    "serial_reuse": ("--max-instance-concurrent-reuse-count", "1"),
    "reuse_1024": ("--max-instance-reuse-count", "1024"),
}
# POSTs the file named after `--`, or GETs when none is given.
WRK_LUA = REPO / "bench" / "load" / "post.lua"
CHART = REPO / "helm" / "heart-disease-api"
PATIENT = bench_result.PATIENT
SECONDS = int(os.environ.get("SHIM_BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("SHIM_BENCH_WARMUP", "3"))
STARTS = int(os.environ.get("SHIM_BENCH_STARTS", "5"))
SHIM_CPU, WRK_CPU = (0, 1) if (os.cpu_count() or 1) >= 2 else (None, None)
TICK = os.sysconf("SC_CLK_TCK")
PEAK_RE = re.compile(r"peak memory|zygote", re.I)


def log(msg: str) -> None:
    print(f"[shim-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# ---------------------------------------------------------------------------------------------
# The hello fixture as a Spin artifact (runtimes.push only pushes the project's spin.toml)
# ---------------------------------------------------------------------------------------------

def push_hello(host: str, workdir: Path, toml: Path = HELLO_TOML, wasm: Path = HELLO_WASM,
               repo: str = HELLO_REPO) -> rt.Pushed:
    """`spin registry push` of a hello fixture's manifest (bench/shim/spin.toml, or
    spin-p3.toml), checked as runtimes.push checks ours."""
    if not wasm.is_file():
        raise RuntimeError(f"{wasm.relative_to(REPO)} is missing: "
                           f"cargo build --release --target wasm32-wasip2 -p {repo}")
    ref = f"{host}/{repo}:shim"
    rt.run([rt.program("spin", "shim"), "registry", "push", "--insecure", "--from", str(toml), ref],
           "spin registry push (hello)", env=rt.spin_env(workdir), cwd=REPO)
    return rt.pushed_artifact(host, repo, "shim", wasm)


# ---------------------------------------------------------------------------------------------
# The container's processes, cgroup and log
# ---------------------------------------------------------------------------------------------

def proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, cmdline) of every process."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(d.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd)
        except (OSError, ValueError, IndexError):
            pass
    return out


def shim_pids(name: str) -> list[int]:
    """containerd-shim-spin-v2 processes started for container `name` (-id NAME), with all
    their descendants (the container's own process, the zygote)."""
    table = proc_table()
    roots = {pid for pid, (_, cmd) in table.items()
             if "containerd-shim-spin-v2" in cmd and re.search(rf"-id {re.escape(name)}(\s|$)", cmd)}
    found, grew = set(roots), True
    while grew:
        grew = False
        for pid, (ppid, _) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / TICK
    return total


def comm(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return ""


def status_kib(pid: int, key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def pin(pids: list[int], cpu: int | None) -> None:
    """Every thread of the shim's processes onto `cpu` (threads made later inherit it)."""
    if cpu is None:
        return
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(task.name), {cpu})


def cgroup_dirs(pids: list[int], name: str) -> dict[str, Path]:
    """controller -> the container's cgroup v1 directory (memory, cpu), if it has one of its own."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        own[ctrls] = path
    out: dict[str, Path] = {}
    for ctrl in ("memory", "cpu"):
        candidates = []
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
                    _, ctrls, path = line.split(":", 2)
                    if ctrl in ctrls.split(",") and path != own.get(ctrls):
                        candidates.append(path)
        candidates.append(f"/{rt.Containerd.NAMESPACE}/{name}")  # ctr's default cgroupsPath
        for path in candidates:
            d = Path("/sys/fs/cgroup") / ctrl / path.lstrip("/")
            if d.is_dir() and path not in ("/", ""):
                out[ctrl] = d
                break
    return out


def read_int(p: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(p.read_text().split()[0])
    return None


def cgroup_figures(dirs: dict[str, Path]) -> dict:
    m, c = dirs.get("memory"), dirs.get("cpu")
    return {
        "memory_cgroup": str(m) if m else None,
        "memory_max_usage_bytes": read_int(m / "memory.max_usage_in_bytes") if m else None,
        "memory_limit_bytes": read_int(m / "memory.limit_in_bytes") if m else None,
        "memory_failcnt": read_int(m / "memory.failcnt") if m else None,
        "cpu_cgroup": str(c) if c else None,
        "cfs_quota_us": read_int(c / "cpu.cfs_quota_us") if c else None,
        "cfs_period_us": read_int(c / "cpu.cfs_period_us") if c else None,
        "nr_throttled": next((int(line.split()[1]) for line in (c / "cpu.stat").read_text().splitlines()
                              if line.startswith("nr_throttled")), None) if c and (c / "cpu.stat").exists() else None,
    }


class App:
    """One `ctr run` of a pulled Spin image on the shim; `stop()` returns the shim's peak lines."""

    def __init__(self, node: rt.Containerd, ref: str, name: str, workdir: Path, extra=()):
        self.node, self.name = node, name
        self.port = rt.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        self.log_offset = node.log.stat().st_size
        self.t0 = time.perf_counter()
        self.proc = node.run_app(ref, name, f"127.0.0.1:{self.port}", self.log, tuple(extra))
        rt.wait_http(f"{self.url}/health", self.proc, self.log, "ctr run", timeout=120, poll_s=0.005)
        self.ready_s = time.perf_counter() - self.t0
        self.pids = shim_pids(name)
        pin(self.pids, SHIM_CPU)
        self.cgroups = cgroup_dirs(self.pids, name)

    def memory(self) -> dict:
        self.pids = shim_pids(self.name) or self.pids
        return {
            "pids": {pid: {"comm": comm(pid), "cmd": proc_table().get(pid, (0, "?"))[1][:120],
                           "vmhwm_kib": status_kib(pid, "VmHWM"), "vmrss_kib": status_kib(pid, "VmRSS")}
                     for pid in self.pids},
            "vmhwm_kib_sum": sum(status_kib(p, "VmHWM") or 0 for p in self.pids),
            # The shim's main process (the task service, the first of the -id NAME processes)
            # and the container's own process (youki's init: where the wasm runs, in the
            # container's cgroup).
            "shim_main_vmhwm_kib": status_kib(self.pids[0], "VmHWM") if self.pids else None,
            "container_vmhwm_kib": max((status_kib(p, "VmHWM") or 0 for p in self.pids
                                        if comm(p).startswith("youki")), default=None),
            "vmhwm_kib_max": max((status_kib(p, "VmHWM") or 0 for p in self.pids), default=0),
            **cgroup_figures(self.cgroups),
        }

    def stop(self) -> list[str]:
        rt.stop_container(self.node, self.name, self.proc)
        lines: list[str] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.node.log.open(errors="replace") as f:
                f.seek(self.log_offset)
                lines = [ln.strip() for ln in f if PEAK_RE.search(ln)]
            if any("peak" in ln for ln in lines):
                break
            time.sleep(0.2)
        return lines


@dataclass
class SpinUp:
    """A `spin up` started by tests/runtimes.py, pinned to the shim's CPU: the same interface
    as App for load(), so that Spin and the shim are measured alike."""

    url: str
    pids: list[int]


@contextlib.contextmanager
def spin_up(toml: Path, name: str, workdir: Path, extra: tuple[str, ...] = ()) -> Iterator[SpinUp]:
    """`spin up` of a spin.toml on a free 127.0.0.1 port (with `extra` trigger options), ready
    (/health) for the block."""
    addr = f"127.0.0.1:{rt.free_port()}"
    cmd = [rt.program("spin", "spin"), "up", "--from", str(toml), "--listen", addr,
           "--state-dir", str(workdir / f"{name}-state"), *extra]
    with rt.launched(cmd, addr, workdir / f"{name}.log", "spin up", env=rt.spin_env(workdir),
                     poll_s=0.005) as srv:
        # `spin up` runs the HTTP trigger in a child process: count and pin the whole tree.
        table = proc_table()
        pids, grew = [srv.pid], True
        while grew:
            children = [pid for pid, (ppid, _) in table.items() if ppid in pids and pid not in pids]
            pids += children
            grew = bool(children)
        pin(pids, SHIM_CPU)
        yield SpinUp(srv.url, pids)


def peak_kib(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for ln in lines for m in [re.search(r"peak resident set (\d+) kB", ln)] if m]


# ---------------------------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------------------------

def wrk(url: str, script: Path, conns: int, seconds: int, body: Path | None = None) -> dict:
    argv = [os.environ.get("WRK") or shutil.which("wrk") or "wrk", "-t1", f"-c{conns}", f"-d{seconds}s",
            "--timeout", "5s", "-s", str(script), url] + (["--", str(body)] if body else [])
    if WRK_CPU is not None:
        argv = ["taskset", "-c", str(WRK_CPU)] + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    return {**bench_result.parse(out.stdout, out.stderr), "conns": conns}


def load(app: App | SpinUp, kind: str, conns: int, bodies: dict[str, Path]) -> dict:
    """Warm-up, then the measured run with the shim's CPU and the load average around it."""
    if kind == "hello":
        url, script, body = f"{app.url}/", WRK_LUA, None
    else:
        url, script, body = f"{app.url}/predict", WRK_LUA, bodies[kind]
    if WARMUP:
        wrk(url, script, conns, WARMUP, body)
    load0, cpu0, t0 = loadavg(), cpu_s(app.pids), time.perf_counter()
    per0 = {pid: cpu_s([pid]) for pid in app.pids}
    r = wrk(url, script, conns, SECONDS, body)
    wall, cpu = time.perf_counter() - t0, cpu_s(app.pids) - cpu0
    r["cpu_s_by_pid"] = {pid: round(cpu_s([pid]) - c, 3) for pid, c in per0.items()}
    r.update(load_before=load0, load_after=loadavg(), shim_cpu_s=cpu,
             shim_cpu_share=cpu / wall, cpu_ms_per_req=1000 * cpu / max(r["requests"], 1),
             req_per_cpu_s=r["requests"] / cpu if cpu else None)
    log(f"  {kind} c={conns}: {r['rps']:,.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
        f"errors {r['status']}+{r['socket_errors']}, shim CPU {r['cpu_ms_per_req']:.3f} ms/req")
    return r


# ---------------------------------------------------------------------------------------------
# The chart's resources
# ---------------------------------------------------------------------------------------------

def chart_resources(values: Path) -> dict:
    """requests/limits of the `resources:` block of a values file (a two-level YAML map)."""
    out: dict = {}
    block = section = None
    for line in values.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, val = line.strip().partition(":")
        if indent == 0:
            block = key == "resources"
            continue
        if block and indent == 2:
            section = key
            out[section] = {}
        elif block and indent == 4 and section:
            out[section][key] = val.strip().strip('"')
    return out


def cpu_cores(q: str) -> float:
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def mem_bytes(q: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for u, f in units.items():
        if q.endswith(u):
            return int(float(q[: -len(u)]) * f)
    return int(q)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    t_start = time.time()
    why = rt.not_run("shim")
    if why:  # Spin, the shim or a recent ctr: in no package registry
        print(f"bench/shim: not run: {why}", file=sys.stderr)
        return 3
    for name in ("spin", "docker-registry", "containerd", "containerd-shim-spin-v2", "ctr"):
        rt.program(name, "shim")
    cores = os.cpu_count() or 1
    cargo_busy = int(subprocess.run("ps aux | grep -c '[c]argo install'", shell=True,
                                    capture_output=True, text=True).stdout.strip() or 0)
    r: dict = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": cores, "load_start": loadavg(), "cargo_install_running": cargo_busy},
        "versions": {
            "containerd": rt.run(["containerd", "--version"], "containerd").split()[2],
            "ctr": rt.run(["ctr", "--version"], "ctr").split()[-1],
            "spin": rt.run(["spin", "--version"], "spin").split()[1],
            "shim": "containerd-shim-spin v" + ".".join(
                map(str, rt.program_version(rt.program("containerd-shim-spin-v2", "shim"), "-v") or ("?",))),
            "wrk": "wrk " + (subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1:2] or ["?"])[0],
        },
        "params": {"seconds": SECONDS, "warmup": WARMUP, "starts": STARTS,
                   "pinning": f"shim on CPU {SHIM_CPU}, wrk on CPU {WRK_CPU}" if SHIM_CPU is not None else "none"},
    }
    log(f"{cores} cores, load {r['machine']['load_start']}, cargo install running: {cargo_busy}")
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="shim-bench-")))
        bodies = {"one": work / "one.json", "batch": work / "batch1000.json"}
        bodies["one"].write_text(PATIENT)
        bodies["batch"].write_text('{"instances":[' + ",".join([PATIENT] * 1000) + "]}")
        host = stack.enter_context(rt.registry(work, "shim"))
        log(f"registry {host}: make push (ours), spin registry push (hello)")
        ours = rt.push(host, rt.DEFAULT_WASM, work, tag="shim", runtime="shim")
        hello = push_hello(host, work)
        r["images"] = {"ours": {"digest": ours.digest, "wasm_bytes": rt.DEFAULT_WASM.stat().st_size},
                       "hello": {"digest": hello.digest, "wasm_bytes": HELLO_WASM.stat().st_size}}
        # The wasi:http 0.3 builds, where the shim (v0.25+) runs them.
        shim_p3 = rt.not_run("shim-p3") is None
        r["p3"] = {"shim": shim_p3, "not_run": {"shim-p3": why} if (why := rt.not_run("shim-p3")) else {}}
        if shim_p3:
            ours_p3 = rt.push(host, rt.DEFAULT_WASM_P3, work, tag="shim-p3", runtime="shim-p3")
            hello_p3 = push_hello(host, work, HELLO_P3_TOML, HELLO_P3_WASM, HELLO_P3_REPO)
            r["images"]["ours_p3"] = {"digest": ours_p3.digest,
                                      "wasm_bytes": rt.DEFAULT_WASM_P3.stat().st_size}
            r["images"]["hello_p3"] = {"digest": hello_p3.digest, "wasm_bytes": HELLO_P3_WASM.stat().st_size}

        # 1. Start times: a fresh containerd (empty content store) per sample.
        starts = {"first": [], "second": [], "pull_s": []}
        for i in range(STARTS):
            with rt.Containerd(work / f"start{i}") as node:
                t = time.perf_counter()
                node.pull(ours.pinned)
                starts["pull_s"].append(time.perf_counter() - t)
                for which in ("first", "second"):
                    app = App(node, ours.pinned, f"start{i}-{which}", work)
                    starts[which].append(app.ready_s)
                    app.stop()
            log(f"start {i + 1}/{STARTS}: pull {starts['pull_s'][-1]*1000:.0f} ms, first "
                f"{starts['first'][-1]*1000:.0f} ms, second {starts['second'][-1]*1000:.0f} ms")
        r["starts"] = {k: {"samples_ms": [round(x * 1000, 1) for x in v],
                           "median_ms": round(statistics.median(v) * 1000, 1)} for k, v in starts.items()}

        # 2 and 3. Load, one container per case, on one containerd.
        # debug: the shim logs its "peak memory" lines (level info) only when containerd passes
        # it -debug; it logs nothing per request, only the compiler's lines once at precompile.
        node = stack.enter_context(rt.Containerd(work / "load", debug=True))
        images = {"ours": ours, "hello": hello, **({"ours_p3": ours_p3, "hello_p3": hello_p3} if shim_p3 else {})}
        for image in images.values():
            node.pull(image.pinned)
        # One start of each first: the shim precompiles the layers (its peak memory then is
        # recorded apart), so that every measured container below loads the precompiled layer.
        r["precompile"] = {}
        for key, image in images.items():
            app = App(node, image.pinned, f"precompile-{key}", work)
            mem = app.memory()
            lines = app.stop()
            r["precompile"][key] = {"ready_ms": round(app.ready_s * 1000, 1), "shim_log": lines,
                                    "shim_peak_kib": peak_kib(lines), "memory": mem}
            log(f"precompile {key}: ready in {app.ready_s * 1000:.0f} ms, shim peak {peak_kib(lines)} kB")
        cases = [  # key, image, load kind, concurrency, ctr run extra args
            ("ours_c16", ours, "one", 16, ()),
            ("hello_c16", hello, "hello", 16, ()),
            ("ours_c64", ours, "one", 64, ()),
            ("ours_batch1000_c4", ours, "batch", 4, ()),
        ]
        if shim_p3:
            cases += [
                ("ours_p3_c16", ours_p3, "one", 16, ()),
                ("hello_p3_c16", hello_p3, "hello", 16, ()),
                ("ours_p3_c64", ours_p3, "one", 64, ()),
            ]
        r["limits"] = {}
        for env_name in ("dev", "prod"):
            res = chart_resources(CHART / f"values-{env_name}.yaml")
            lim = res.get("limits", {})
            args = ("--memory-limit", str(mem_bytes(lim["memory"])), "--cpus", str(cpu_cores(lim["cpu"])))
            r["limits"][env_name] = {"values": res, "ctr_args": list(args)}
            cases.append((f"ours_c16_{env_name}_limits", ours, "one", 16, args))
        r["cases"] = {}
        for key, image, kind, conns, extra in cases:
            log(f"{key}: ctr run {' '.join(extra)}")
            app = App(node, image.pinned, key.replace("_", "-"), work, extra)
            try:
                res = load(app, kind, conns, bodies)
                res["memory"] = app.memory()
                res["ready_ms"] = round(app.ready_s * 1000, 1)
            finally:
                lines = app.stop()
            res["shim_log"] = lines
            res["shim_peak_kib"] = peak_kib(lines)
            res["ctr_args"] = list(extra)
            r["cases"][key] = res
            m = res["memory"]
            log(f"  peak: shim log {res['shim_peak_kib']} kB, VmHWM sum {m['vmhwm_kib_sum']} kB, "
                f"cgroup max {m['memory_max_usage_bytes']} B (limit {m['memory_limit_bytes']}, "
                f"quota {m['cfs_quota_us']}/{m['cfs_period_us']})")
        # 4. The same two apps under `spin up` (the Spin on PATH), alike. (Both builds on Spin 4,
        # and Spin 4's reuse settings: bench/p3/run.py.)
        r["spin"] = {}
        for key, toml, kind in (("ours_c16", rt.SPIN_TOML, "one"), ("hello_c16", HELLO_TOML, "hello")):
            log(f"spin up {key}")
            with spin_up(toml, f"spin-{key}", work) as app:
                r["spin"][key] = load(app, kind, 16, bodies)
        r["spin_ratio_ours_hello_rps"] = r["spin"]["ours_c16"]["rps"] / r["spin"]["hello_c16"]["rps"]
        r["spin_ratio_ours_hello_cpu"] = (r["spin"]["hello_c16"]["cpu_ms_per_req"]
                                          / r["spin"]["ours_c16"]["cpu_ms_per_req"])
        for where, runs in (("shim", r["cases"]),):
            if "ours_p3_c16" in runs:
                p3, h3, p2 = runs["ours_p3_c16"], runs["hello_p3_c16"], runs["ours_c16"]
                r[f"{where}_p3"] = {"ours_p3_over_hello_p3_rps": p3["rps"] / h3["rps"],
                                    "ours_p3_over_ours_p2_rps": p3["rps"] / p2["rps"],
                                    "hello_p3_over_hello_p2_rps": h3["rps"] / runs["hello_c16"]["rps"]}
    r["machine"]["load_end"] = loadavg()
    c16, h16 = r["cases"]["ours_c16"], r["cases"]["hello_c16"]
    r["ratio_ours_hello_rps"] = c16["rps"] / h16["rps"]
    r["ratio_ours_hello_cpu"] = h16["cpu_ms_per_req"] / c16["cpu_ms_per_req"]
    bench_result.write_json(HERE / "results.json", r)
    log(f"wrote {HERE.relative_to(REPO)}/results.json in {time.time() - t_start:.0f} s "
        "(`python3 bench/report.py` renders RESULTS.md)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except rt.Missing as e:  # a program `make deps` installs
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
