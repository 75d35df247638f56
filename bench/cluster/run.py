#!/usr/bin/env python3
"""`make bench-cluster`: the app on a real single-node Kubernetes (the throwaway cluster of
`make test-cluster`, tests/cluster/node.py), installed by the chart.

Measures, with the machine's cores and memory beside the figures:
  1. first start on the node: `helm install` (one replica) to the first 200 through the
     NodePort, the shim precompiling the module;
  2. a new replica: for each pod of a 1 -> 2 -> 4 scale-up, scheduled -> running -> Ready ->
     first answer on its own IP (watch events and a 20 ms poll, timed here as they arrive);
  3. density: 10, 25, 50, 100 replicas: time to all Ready, restarts, node memory per pod (the
     node's used memory, the pods' cgroups, metrics-server's figure, the shim processes' PSS)
     and idle CPU per pod (the pods' cgroups, the shim processes) over 20 s without requests;
  4. many at once on a cold node: the precompiled module removed from containerd's content
     store, then 0 -> 10 replicas at once, against 0 -> 10 with it kept: restarts, exit codes,
     time to all Ready (the exit-137 race, README 'Fifty pods at once');
  5. rollouts under load: a rolling update of 3 replicas with 20 POST /predict a second through
     the NodePort, 3 rounds: requests that failed and how.

Writes bench/cluster/results.json; bench/report.py renders bench/cluster/RESULTS.md. Runs only
inside netns.py's namespace (`make bench-cluster` does that); exit 3 when a program is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO / "tests" / "cluster"), str(REPO / "tests")]
import node  # noqa: E402
import runtimes  # noqa: E402
import smoke  # noqa: E402
from kube import Watch, is_ready, quantity, restarts, wait_for  # noqa: E402
from load import Load  # noqa: E402

RELEASE = "heart-disease-api"
NS = "bench"
DENSITY = (10, 25, 50, 100)
IDLE_S = 20
CGROUP = Path("/sys/fs/cgroup")


def say(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


# -- what the node holds --------------------------------------------------------------------

def shim_pids() -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "comm").read_text().strip().startswith("containerd-shim"):
                    out.append(int(p.name))
            except OSError:
                pass
    return out


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    return total / 1024


def cpu_s(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def pod_cgroups(pods: list[dict], controller: str) -> list[Path]:
    out = []
    for p in pods:
        uid = p["metadata"]["uid"]
        out += list((CGROUP / controller / "kubepods").glob(f"**/pod{uid}"))
    return out


def cgroup_memory_mib(pods: list[dict]) -> dict:
    usage = working = 0
    for cg in pod_cgroups(pods, "memory"):
        u = int((cg / "memory.usage_in_bytes").read_text())
        stat = dict(line.split() for line in (cg / "memory.stat").read_text().splitlines())
        usage += u
        working += u - int(stat.get("total_inactive_file", 0))
    return {"usage": usage / 2**20, "working_set": working / 2**20}


def cgroup_cpu_s(pods: list[dict]) -> float:
    return sum(int((cg / "cpuacct.usage").read_text()) for cg in pod_cgroups(pods, "cpuacct")) / 1e9


def metrics_server_mib(c: node.Cluster, app: str) -> float | None:
    try:
        items = json.loads(c.kubectl("get", "--raw", f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods"))["items"]
    except Exception:  # noqa: BLE001 — not scraped yet
        return None
    mine = [i for i in items if i["metadata"]["name"].startswith(app)]
    return sum(float(quantity(ct["usage"]["memory"])) for i in mine for ct in i["containers"]) / 2**20


# -- steps ----------------------------------------------------------------------------------

def set_replicas(c: node.Cluster, app: str, n: int) -> None:
    c.kubectl("patch", "spinapp", "-n", NS, app, "--type", "merge", "-p", json.dumps({"spec": {"replicas": n}}))


def all_ready(c: node.Cluster, app: str, n: int, timeout: float = 900) -> float:
    t0 = time.monotonic()
    if n:
        c.wait_ready(NS, app, n, timeout=timeout)
    else:
        wait_for("no pods", lambda: not c.pods(NS, app), timeout)
    return time.monotonic() - t0


def first_start(c: node.Cluster, values: dict) -> tuple[str, dict]:
    url = smoke.node_port_url(c, values)
    t0 = time.monotonic()
    app = smoke.app_of(smoke.install(c, RELEASE, NS, values))
    wait_for("the first answer", lambda: smoke.health(url) or True, 300, poll_s=0.02)
    to_answer = time.monotonic() - t0
    c.wait_ready(NS, app, 1)
    return app, {"install_to_first_answer_s": round(to_answer, 2),
                 "install_to_ready_s": round(time.monotonic() - t0, 2)}


def new_replicas(c: node.Cluster, app: str) -> list[dict]:
    """Each new pod's scheduled -> running -> Ready -> answering on its IP, from the pods'
    watch events as they arrive and a 20 ms poll of /health on the pod's IP."""
    rows = []
    for n in (2, 4):
        with Watch(c, f"/api/v1/namespaces/{NS}/pods") as w:
            before = {p["metadata"]["name"] for p in c.pods(NS, app)}
            set_replicas(c, app, n)
            answered: dict[str, float] = {}

            def check() -> bool:
                for e in w.events:
                    o = e["object"]
                    ip = o.get("status", {}).get("podIP")
                    name = o["metadata"]["name"]
                    if name in before or name in answered or not ip:
                        continue
                    try:
                        with urllib.request.urlopen(f"http://{ip}:80/health", timeout=0.5) as r:
                            if r.status == 200:
                                answered[name] = time.monotonic()
                    except OSError:
                        pass
                return len(answered) == n - len(before) and len(c.ready_pods(NS, app)) == n

            wait_for(f"{n} replicas answering", check, 300, poll_s=0.02)
        for name, t_answer in answered.items():
            ev = [(t, e["object"]) for t, e in zip(w.received, w.events) if e["object"]["metadata"]["name"] == name]
            first = lambda pred: next((t for t, o in ev if pred(o)), None)  # noqa: E731
            sched = first(lambda o: o["spec"].get("nodeName"))
            running = first(lambda o: any("running" in s.get("state", {}) for s in o.get("status", {}).get("containerStatuses", [])))
            ready = first(is_ready)
            rows.append({"scale_to": n, "scheduled_to_running_s": rel(running, sched),
                         "scheduled_to_answer_s": rel(t_answer, sched),
                         "scheduled_to_ready_s": rel(ready, sched)})
    return rows


def rel(t: float | None, t0: float | None) -> float | None:
    return None if t is None or t0 is None else round(t - t0, 3)


def density(c: node.Cluster, app: str) -> list[dict]:
    rows = []
    for n in DENSITY:
        set_replicas(c, app, n)
        took = all_ready(c, app, n)
        pods = c.pods(NS, app)
        time.sleep(20)  # metrics-server's next scrape (15 s resolution)
        mem_cg = cgroup_memory_mib(pods)
        shims = shim_pids()
        cpu0, shim0, t0 = cgroup_cpu_s(pods), cpu_s(shims), time.monotonic()
        time.sleep(IDLE_S)
        span = time.monotonic() - t0
        row = {"replicas": n, "all_ready_s": round(took, 1), "restarts": restarts(c.pods(NS, app)),
               "cgroup_usage_mib_per_pod": round(mem_cg["usage"] / n, 2),
               "cgroup_working_set_mib_per_pod": round(mem_cg["working_set"] / n, 2),
               "metrics_server_mib_per_pod": (round(m / n, 2) if (m := metrics_server_mib(c, app)) is not None else None),
               "shim_pss_mib_per_pod": round(pss_mib(shims) / n, 2),
               "shim_processes": len(shims),
               "idle_cgroup_millicores_per_pod": round((cgroup_cpu_s(pods) - cpu0) / span / n * 1000, 2),
               "idle_shim_millicores_per_pod": round((cpu_s(shims) - shim0) / span / n * 1000, 2)}
        say(f"density {row}")
        rows.append(row)
    return rows


def drop_precompiled(c: node.Cluster) -> int:
    """Removes the shim's precompiled modules from containerd's content store — the blobs
    labelled `runwasi.io/precompiled/<engine>/<key>/original=<layer>`, not the image's
    manifest and layer that point at them — as on a node that never ran the image; returns
    how many went."""
    ctr = ["ctr", "-a", str(c.dir / "containerd" / "containerd.sock"), "-n", "k8s.io"]
    lines = subprocess.run([*ctr, "content", "ls"], capture_output=True, text=True).stdout.splitlines()
    gone = 0
    for line in lines[1:]:
        if "/original=sha256:" in line:
            subprocess.run([*ctr, "content", "rm", line.split()[0]], capture_output=True)
            gone += 1
    return gone


def exit_codes(pods: list[dict]) -> dict[str, int]:
    codes: dict[str, int] = {}
    for p in pods:
        for s in p.get("status", {}).get("containerStatuses", []):
            code = s.get("lastState", {}).get("terminated", {}).get("exitCode")
            if code is not None:
                codes[str(code)] = codes.get(str(code), 0) + 1
    return codes


def many_at_once(c: node.Cluster, app: str, cold: bool, n: int = 10) -> dict:
    set_replicas(c, app, 0)
    all_ready(c, app, 0)
    removed = drop_precompiled(c) if cold else 0
    t0 = time.monotonic()
    set_replicas(c, app, n)
    all_ready(c, app, n)
    pods = c.pods(NS, app)
    return {"cold": cold, "replicas": n, "precompiled_removed": removed,
            "all_ready_s": round(time.monotonic() - t0, 1), "restarts": restarts(pods),
            "last_exit_codes": exit_codes(pods)}


def rollouts(c: node.Cluster, app: str, values: dict, rounds: int = 3) -> list[dict]:
    url = smoke.node_port_url(c, values)
    rows = []
    for i in range(rounds):
        set_replicas(c, app, 3)
        all_ready(c, app, 3)
        smoke.wait_healthy(url)
        with Load(url, rate=20, limit=20 * 90) as load:
            gen = c.get("deployment", "-n", NS, app)["metadata"]["generation"]
            c.kubectl("patch", "spinapp", "-n", NS, app, "--type", "merge", "-p",
                      json.dumps({"spec": {"podAnnotations": {"bench-round": str(i)}}}))
            wait_for("the rollout", lambda: c.rolled_out(NS, app, gen + 1, 3), 300)
            time.sleep(2)
        rows.append({"round": i + 1, **load.summary()})
        say(f"rollout {rows[-1]}")
    return rows


def version(argv: list[str]) -> str:
    """The line of `argv`'s output that names the version (the shim's `-v` prints its name on
    a line of its own first)."""
    p = subprocess.run(argv, capture_output=True, text=True)
    lines = [line.strip() for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    named = [line for line in lines if "version" in line.lower()]
    return (named or lines or ["?"])[0]


def main() -> int:
    why = node.not_run() or (None if os.environ.get("HEART_NETNS") else "run it through `make bench-cluster`")
    if why:
        print(f"bench-cluster not run: {why}")
        return 3
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp, node.Cluster(Path(tmp) / "cluster") as c:
        shim = runtimes.program_version(runtimes.program("containerd-shim-spin-v2", "shim"), "-v")
        runtime = "shim-p3" if shim and shim >= runtimes.P3_MIN_VERSION["containerd-shim-spin-v2"] else "shim"
        p = runtimes.push(node.REGISTRY, runtimes.default_wasm(runtime), Path(tmp), runtime=runtime)
        repository, digest = f"localhost:5000/{runtimes.APP}", p.digest
        c.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, node.executor(NS)])
        values = {"image": {"repository": repository, "digest": digest},
                  "autoscaling": {"enabled": False}, "replicaCount": 1,
                  # 100 pods x 10m of CPU requested fit the node's 2 cores (the default 100m, 20).
                  "resources": {"requests": {"cpu": "10m"}}}
        say("first start")
        app, first = first_start(c, values)
        say(f"first start {first}")
        fresh = new_replicas(c, app)
        say(f"new replicas {fresh}")
        dens = density(c, app)
        race = [many_at_once(c, app, cold) for cold in (False, True, False, True)]
        say(f"many at once {race}")
        roll = rollouts(c, app, values)
        results = {
            "date": dt.date.today().isoformat(), "cores": os.cpu_count(),
            "mem_gib": round(int(Path("/proc/meminfo").read_text().split()[1]) / 2**20, 1),
            "versions": {"kubernetes": version(["kubelet", "--version"]),
                         "containerd-shim-spin": version(["containerd-shim-spin-v2", "-v"]),
                         "containerd": version(["containerd", "--version"]),
                         "build": runtime},
            "first_start": first, "new_replicas": fresh, "density": dens,
            "many_at_once": race, "rollouts": roll,
            "took_s": round(time.monotonic() - started)}
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    say(f"wrote {HERE / 'results.json'} ({results['took_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
