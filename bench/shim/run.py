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

Writes bench/shim/results.json and bench/shim/RESULTS.md. Reuses tests/runtimes.py (registry,
`make push`, Containerd). Standard library only: `python3 bench/shim/run.py`.
`--render` writes RESULTS.md again from results.json.
Environment: SHIM_BENCH_SECONDS (10), SHIM_BENCH_WARMUP (3), SHIM_BENCH_STARTS (5),
WRK (wrk on PATH).
"""

from __future__ import annotations

import contextlib
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

HELLO_TOML = HERE / "spin.toml"
HELLO_WASM = REPO / "target" / "wasm32-wasip2" / "release" / "bench_hello.wasm"
HELLO_REPO = "bench-hello"
# POSTs the file named after `--`, or GETs when none is given.
WRK_LUA = REPO / "bench" / "load" / "post.lua"
CHART = REPO / "helm" / "heart-disease-api"
PATIENT = (
    '{"age":63,"sex":1,"cp":1,"trestbps":145,"chol":233,"fbs":1,"restecg":2,'
    '"thalach":150,"exang":0,"oldpeak":2.3,"slope":3,"ca":0,"thal":6}'
)
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

def push_hello(host: str, workdir: Path) -> rt.Pushed:
    """`spin registry push` of bench/shim/spin.toml, checked as runtimes.push checks ours."""
    if not HELLO_WASM.is_file():
        raise RuntimeError(f"{HELLO_WASM.relative_to(REPO)} is missing: "
                           "cargo build --release --target wasm32-wasip2 -p bench-hello")
    ref = f"{host}/{HELLO_REPO}:shim"
    rt.run([rt.program("spin", "shim"), "registry", "push", "--insecure", "--from", str(HELLO_TOML), ref],
           "spin registry push (hello)", env=rt.spin_env(workdir), cwd=REPO)
    return rt.pushed_artifact(host, HELLO_REPO, "shim", HELLO_WASM)


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


def wait_200(url: str, proc: subprocess.Popen, log_file: Path, t0: float, timeout: float = 120) -> float:
    """Polls `url` every 5 ms until it answers 200; seconds since t0."""
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"ctr run exited with {proc.returncode}:\n{rt.tail(log_file)}")
        with contextlib.suppress(OSError, urllib.error.URLError):
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{url} not ready in {timeout} s:\n{rt.tail(log_file)}")
        time.sleep(0.005)


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
        self.ready_s = wait_200(f"{self.url}/health", self.proc, self.log, self.t0)
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


class SpinUp:
    """`spin up` of a spin.toml on 127.0.0.1, pinned to the shim's CPU: the same interface as
    App for load(), so that Spin and the shim are measured alike."""

    def __init__(self, toml: Path, name: str, workdir: Path):
        self.port = rt.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{name}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [rt.program("spin", "spin"), "up", "--from", str(toml), "--listen", f"127.0.0.1:{self.port}",
                 "--state-dir", str(workdir / f"{name}-state")],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=rt.spin_env(workdir), start_new_session=True)
        self.ready_s = wait_200(f"{self.url}/health", self.proc, self.log, time.perf_counter())
        # `spin up` runs the HTTP trigger in a child process: count and pin the whole tree.
        table = proc_table()
        self.pids, grew = [self.proc.pid], True
        while grew:
            children = [pid for pid, (ppid, _) in table.items() if ppid in self.pids and pid not in self.pids]
            self.pids += children
            grew = bool(children)
        pin(self.pids, SHIM_CPU)

    def stop(self) -> None:
        rt.stop(self.proc)


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
    return {**wrk_result.parse(out.stdout, out.stderr), "conns": conns}


def load(app: App, kind: str, conns: int, bodies: dict[str, Path]) -> dict:
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
            "shim": "containerd-shim-spin v0.24.0",
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
        node.pull(ours.pinned)
        node.pull(hello.pinned)
        # One start of each first: the shim precompiles the layers (its peak memory then is
        # recorded apart), so that every measured container below loads the precompiled layer.
        r["precompile"] = {}
        for key, image in (("ours", ours), ("hello", hello)):
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
        # 4. The same two apps under `spin up`, the runtime the shim embeds, alike.
        r["spin"] = {}
        for key, toml, kind in (("ours_c16", rt.SPIN_TOML, "one"), ("hello_c16", HELLO_TOML, "hello")):
            log(f"spin up {key}")
            app = SpinUp(toml, f"spin-{key}", work)
            try:
                r["spin"][key] = load(app, kind, 16, bodies)
            finally:
                app.stop()
        r["spin_ratio_ours_hello_rps"] = r["spin"]["ours_c16"]["rps"] / r["spin"]["hello_c16"]["rps"]
        r["spin_ratio_ours_hello_cpu"] = (r["spin"]["hello_c16"]["cpu_ms_per_req"]
                                          / r["spin"]["ours_c16"]["cpu_ms_per_req"])
    r["machine"]["load_end"] = loadavg()
    c16, h16 = r["cases"]["ours_c16"], r["cases"]["hello_c16"]
    r["ratio_ours_hello_rps"] = c16["rps"] / h16["rps"]
    r["ratio_ours_hello_cpu"] = h16["cpu_ms_per_req"] / c16["cpu_ms_per_req"]
    write(r)
    log(f"wrote {HERE.relative_to(REPO)}/results.json and RESULTS.md")
    return 0


# ---------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------

def scrub(text: str) -> str:
    """No machine-local paths in the files written (temporary folders, tool locations): each
    becomes its last component."""
    return re.sub(r"/(?:tmp|work|root|home)/[^\s\"']*", lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def write(r: dict) -> None:
    (HERE / "results.json").write_text(scrub(json.dumps(r, indent=2)) + "\n")
    (HERE / "RESULTS.md").write_text(scrub(render(r)))


def mib(kib: float | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "—"


def us(x: float) -> str:
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x:.0f} µs"


def container_share(c: dict) -> str:
    youki = [str(pid) for pid, info in c["memory"]["pids"].items() if "youki" in info.get("comm", "")]
    total = sum(c["cpu_s_by_pid"].values())
    part = sum(v for pid, v in c["cpu_s_by_pid"].items() if str(pid) in youki)
    return f"{part / total:.0%}" if total and youki else "—"


def peak_of(case: dict) -> float:
    """The largest of the memory figures (KiB) of one process or of the container's cgroup:
    what a limit has to cover (the sum over the shim's processes counts the pages they share,
    the binary's, more than once)."""
    m = case["memory"]
    return max([*case["shim_peak_kib"], m["vmhwm_kib_max"] or 0,
                (m["memory_max_usage_bytes"] or 0) / 1024])


def render(r: dict) -> str:
    m = r["machine"]
    out: list[str] = []
    w = out.append
    w("# The image on SpinKube's node runtime: containerd + containerd-shim-spin\n")
    w(f"Generated by `python3 bench/shim/run.py` on {r['date']}; do not edit by hand.\n")
    busy = (f"**yes** (a `cargo install` was running: figures are depressed, read the ratios)"
            if m["cargo_install_running"] else "no")
    w(f"- machine: **{m['cores']} cores**; load average at start **{m['load_start']}**, at end "
      f"**{m['load_end']}**; other heavy work running at start: {busy}")
    v = r["versions"]
    w(f"- {v['shim']} under containerd {v['containerd']} (a private daemon, no CRI), ctr {v['ctr']}, "
      f"spin {v['spin']} (`make push` for ours, `spin registry push` of bench/shim/spin.toml for "
      f"hello, to a loopback docker-registry), {v['wrk']}")
    w(f"- load: `wrk -t1 -cC -d{r['params']['seconds']}s` after a {r['params']['warmup']} s warm-up; "
      f"{r['params']['pinning']} (`sched_setaffinity` on every thread of the shim's processes, "
      "`taskset` for wrk)\n")

    s = r["starts"]
    w("## Start times (`ctr run` to the first 200 from /health)\n")
    w(f"A fresh containerd per sample (empty content store), then `ctr images pull`, then two "
      f"`ctr run --rm` of the pulled image in turn; /health polled every 5 ms; median of "
      f"{r['params']['starts']}. The old plain-image form (a rootfs with /spin.toml) has been "
      "dropped from the project and is not measured.\n")
    w("| start | median | samples | cores | load (start → end of run) |")
    w("| --- | ---: | --- | ---: | --- |")
    for key, label in (("first", "first start (shim precompiles the wasm layer)"),
                       ("second", "second start (loads the precompiled layer)"),
                       ("pull_s", "pull (not part of the start)")):
        w(f"| {label} | {s[key]['median_ms']:.0f} ms | {', '.join(f'{x:.0f}' for x in s[key]['samples_ms'])} ms "
          f"| {m['cores']} | {m['load_start']} → {m['load_end']} |")
    w("")

    w("## Throughput under the shim, side by side (c=16)\n")
    w("| app | load | req/s | p50 | p99 | non-2xx | socket errors | shim CPU | CPU per request | "
      "req per shim CPU-s | load avg (before → after) |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    labels = {
        "ours_c16": ("ours", "POST /predict, 1 patient, c=16"),
        "hello_c16": ("hello fixture", "GET /, c=16"),
        "ours_c64": ("ours", "POST /predict, 1 patient, c=64"),
        "ours_batch1000_c4": ("ours", "POST /predict, batch of 1000, c=4"),
        "ours_c16_dev_limits": ("ours, dev limits", "POST /predict, 1 patient, c=16"),
        "ours_c16_prod_limits": ("ours, prod limits", "POST /predict, 1 patient, c=16"),
    }

    def row(key: str, runs: str = "cases", runtime: str = "") -> str:
        c = r[runs][key]
        app, what = labels[key]
        return (f"| {app}{runtime} | {what} | {c['rps']:,.0f} | {us(c['p50_us'])} | {us(c['p99_us'])} | "
                f"{c['status']} | {c['socket_errors']} | {c['shim_cpu_share']:.0%} | "
                f"{c['cpu_ms_per_req'] * 1000:.0f} µs | {c['req_per_cpu_s'] or 0:,.0f} | "
                f"{c['load_before']} → {c['load_after']} |")
    for key in ("ours_c16", "hello_c16"):
        w(row(key))
    if "spin" in r:
        for key in ("ours_c16", "hello_c16"):
            w(row(key, "spin", ", `spin up`"))
        w(f"\nUnder `spin up` (Spin {r['versions']['spin']}, the runtime the shim embeds; its "
          f"processes pinned like the shim's): ours / hello **{r['spin_ratio_ours_hello_rps']:.3f}** in req/s, "
          f"{r['spin_ratio_ours_hello_cpu']:.3f} in CPU per request (hello's / ours).")
    ok = r["ratio_ours_hello_rps"] >= 0.9
    w(f"\nours / hello: **{r['ratio_ours_hello_rps']:.3f}** in req/s, "
      f"{r['ratio_ours_hello_cpu']:.3f} in CPU per request (hello's / ours) — target ≥ 0.9: "
      f"{'met' if ok else '**missed**'}. \"shim CPU\" is the utime+stime of the container's "
      "containerd-shim-spin-v2 processes (and their children) over the run's wall time "
      "(100 % = one core).\n")

    w("## Resources of ours (one container per row)\n")
    w("| case | req/s | errors | CPU per request | of it in the container process | shim's peak RSS, zygote's (containerd log) | "
      "VmHWM: shim main / container process / sum of all | cgroup memory.max_usage_in_bytes | cores | load avg (after) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for key in ("ours_c16", "ours_c64", "ours_batch1000_c4", "hello_c16"):
        c = r["cases"][key]
        mm = c["memory"]
        w(f"| {labels[key][0]}: {labels[key][1]} | {c['rps']:,.0f} | {c['status'] + c['socket_errors']} | "
          f"{c['cpu_ms_per_req'] * 1000:.0f} µs | {container_share(c)} | {', '.join(mib(k) for k in c['shim_peak_kib']) or '—'} | "
          f"{mib(mm['shim_main_vmhwm_kib'])} / {mib(mm['container_vmhwm_kib'])} / {mib(mm['vmhwm_kib_sum'])} | "
          f"{mib((mm['memory_max_usage_bytes'] or 0) / 1024)} | "
          f"{m['cores']} | {c['load_after']} |")
    w("")
    w("The shim's log lines at stop, ours at c=16:\n")
    w("```")
    for ln in r["cases"]["ours_c16"]["shim_log"]:
        w(ln[-300:])
    w("```\n")

    w("## Under the chart's limits (`ctr run --memory-limit --cpus`)\n")
    w("| values file | requests | limits | ctr run | req/s | p99 | errors | shim CPU | "
      "cgroup memory.limit_in_bytes | cpu.cfs_quota_us / period | nr_throttled | peak (cgroup) |")
    w("| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for env_name in ("dev", "prod"):
        c = r["cases"][f"ours_c16_{env_name}_limits"]
        lim = r["limits"][env_name]
        mm = c["memory"]
        req, li = lim["values"].get("requests", {}), lim["values"].get("limits", {})
        w(f"| values-{env_name}.yaml | {req.get('cpu')}/{req.get('memory')} | {li.get('cpu')}/{li.get('memory')} | "
          f"`{' '.join(lim['ctr_args'])}` | {c['rps']:,.0f} | {us(c['p99_us'])} | {c['status'] + c['socket_errors']} | "
          f"{c['shim_cpu_share']:.0%} | {mm['memory_limit_bytes'] if mm['memory_limit_bytes'] is not None else '—'} | "
          f"{mm['cfs_quota_us']} / {mm['cfs_period_us']} | {mm['nr_throttled']} | "
          f"{mib((mm['memory_max_usage_bytes'] or 0) / 1024)} |")
    w("")
    w(enforcement(r))
    w(proposal(r))
    return "\n".join(out) + "\n"


def enforcement(r: dict) -> str:
    notes = []
    for env_name in ("dev", "prod"):
        c = r["cases"][f"ours_c16_{env_name}_limits"]
        mm = c["memory"]
        want_mem, want_cpu = int(r["limits"][env_name]["ctr_args"][1]), float(r["limits"][env_name]["ctr_args"][3])
        quota = (mm["cfs_quota_us"] / mm["cfs_period_us"]
                 if mm["cfs_quota_us"] and mm["cfs_quota_us"] > 0 and mm["cfs_period_us"] else None)
        youki = [pid for pid, info in mm["pids"].items() if "youki" in info.get("comm", "")]
        used = sum(v for pid, v in c["cpu_s_by_pid"].items() if pid in youki) / SECONDS
        notes.append(
            f"- {env_name}: `memory.limit_in_bytes` of the container's cgroup is "
            f"{mm['memory_limit_bytes']} ({'= --memory-limit: set' if mm['memory_limit_bytes'] == want_mem else '**not the limit asked for**'}; "
            f"usage peaked at {mib((mm['memory_max_usage_bytes'] or 0) / 1024)}, so it was never reached: enforcement "
            f"of memory is configured, not exercised); `cpu.cfs_quota_us/period` = "
            f"{f'{quota:g} CPU' if quota else '**none**'} ({'= --cpus: set' if quota and abs(quota - want_cpu) < 0.01 else '**not the quota asked for**'}); "
            f"the container process used {used:.2f} CPU, throttled {mm['nr_throttled']} times.")
    notes.append("- The cgroup holds only the container's process (youki's init, where the wasm runs: "
                 "~100 % of the CPU per request). The shim's main process (the task service, which also "
                 "precompiles) and its helpers stay in containerd's cgroup here, outside the limit: on a "
                 "node their memory counts against the node, not the pod.")
    return "Are the limits enforced here?\n\n" + "\n".join(notes) + "\n"


def proposal(r: dict) -> str:
    c16, c64, batch = (r["cases"][k] for k in ("ours_c16", "ours_c64", "ours_batch1000_c4"))
    pre = r["precompile"]["ours"]
    peak = max([peak_of(c) for c in (c16, c64, batch)] + pre["shim_peak_kib"])  # KiB
    typical = peak_of(c16)
    cgroup_peak = max((c["memory"]["memory_max_usage_bytes"] or 0) / 1024 for c in (c16, c64, batch))
    cpu_req_s = c16["cpu_ms_per_req"] / 1000  # CPU-seconds per request
    up = (lambda kib, step: step * -(-kib / 1024 // step))
    mem_limit = up(2 * peak, 32)
    # Memory does not grow with load: a request near typical use would keep an 80 % memory HPA
    # at or above its target for good. So request ≥ peak / 0.8.
    mem_req = up(max(typical, peak / 0.8), 16)
    lines = ["## Proposed resources\n",
             f"Measured: largest single-process or cgroup peak {mib(peak)} (the shim's own, while it "
             f"precompiles the layer: {', '.join(mib(k) for k in pre['shim_peak_kib'])}), typical {mib(typical)} "
             f"(c=16, largest process); the container cgroup itself peaked at {mib(cgroup_peak)} (batch of 1000). "
             f"Memory is flat with load (c=16, c=64, batches). CPU per request {cpu_req_s * 1e6:.0f} µs at c=16 "
             f"({1 / cpu_req_s:,.0f} requests per CPU-second).\n",
             f"Memory limit = 2 × peak rounded up to 32 Mi; memory request = max(typical, peak / 0.8) rounded up "
             f"to 16 Mi, so that the flat baseline never crosses an 80 % memory target by itself. CPU: the request "
             f"sets the HPA point; the limit allows a burst of 5 × (dev) / 2 × (prod) the request.\n",
             "| | CPU request | CPU limit | memory request | memory limit | HPA: 80 % CPU of the request at | "
             "80 % memory of the request at | max req/s per pod at the CPU limit |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for env_name, cpu_req, cpu_lim in (("dev", 0.1, 0.5), ("prod", 0.5, 1.0)):
        lines.append(f"| {env_name} | {cpu_req * 1000:.0f}m | {cpu_lim * 1000:.0f}m | {mem_req:.0f}Mi | "
                     f"{mem_limit:.0f}Mi | {0.8 * cpu_req / cpu_req_s:,.0f} req/s per pod | "
                     f"{0.8 * mem_req:.0f} Mi: not reached by load (flat at ≤ {mib(peak)}) | "
                     f"{cpu_lim / cpu_req_s:,.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--render"]:  # RESULTS.md again from results.json, without measuring
        write(json.loads((HERE / "results.json").read_text()))
        sys.exit(0)
    try:
        sys.exit(main())
    except rt.Missing as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(3)
