#!/usr/bin/env python3
"""`make bench-p3`: the two builds side by side on Spin 4 (`spin up`), with the hello fixtures
of both kinds — what issue 21 asks: our wasi:http 0.3 build beside the 0.3 hello (spin-sdk 6)
and beside our 0.2 build, and the 0.2 build beside the 0.2 hello (spin-sdk 5.2).

The four apps take turns, round after round (the order rotating), each under `spin up` pinned
to one core with wrk on the other, POST /predict of one patient (GET / for the hellos) at
concurrency 16, so their ratios are measured within the noise of one machine at one time; then
our 0.3 build once under each of Spin 4's instance-reuse settings; then each of our builds once
at each of IN_FLIGHT requests in flight, for its memory. Per run: req/s, p50, p99,
CPU per request and VmHWM of the `spin up` processes. Writes bench/p3/results.json;
`python3 bench/report.py` renders bench/p3/RESULTS.md. Needs Spin 4 on PATH (`spin-p3` in
tests/runtimes.py); otherwise it says why and writes nothing. Reuses bench/shim/run.py's
`spin up`, pinning and load. Standard library only.
Environment: BENCH_P3_ROUNDS (5), SHIM_BENCH_SECONDS (10), SHIM_BENCH_WARMUP (3), WRK.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("shim_bench", REPO / "bench" / "shim" / "run.py")
shim = importlib.util.module_from_spec(_spec)
sys.modules["shim_bench"] = shim  # its dataclasses look their module up by name
_spec.loader.exec_module(shim)  # tests/runtimes.py comes with it, as shim.rt
rt = shim.rt

RESULTS_JSON = REPO / "bench" / "p3" / "results.json"
# key: (manifest, load kind)
APPS = {
    "ours_p3": (rt.SPIN_P3_TOML, "one"),
    "hello_p3": (shim.HELLO_P3_TOML, "hello"),
    "ours_p2": (rt.SPIN_TOML, "one"),
    "hello_p2": (shim.HELLO_TOML, "hello"),
}


# Requests in flight for the memory runs: the 0.3 build's memory grows with them (Spin 4 runs
# each request of a reused instance as a task of its own), the 0.2 build's does not.
IN_FLIGHT = (16, 64, 128, 256)


def measure(key: str, toml: Path, kind: str, work: Path, bodies: dict, extra: tuple = (),
            conns: int = 16) -> dict:
    with shim.spin_up(toml, key, work, extra) as app:
        r = shim.load(app, kind, conns, bodies)
        hwm = [shim.status_kib(pid, "VmHWM") or 0 for pid in app.pids]
        r["vmhwm_kib_sum"], r["vmhwm_kib_max"] = sum(hwm), max(hwm)
        r["spin_args"] = list(extra)
    return r


def main() -> int:
    why = rt.not_run("spin-p3")
    if why:
        print(f"bench/p3: not run: {why}", file=sys.stderr)
        return 3
    for wasm in (rt.DEFAULT_WASM, rt.DEFAULT_WASM_P3, shim.HELLO_WASM, shim.HELLO_P3_WASM):
        if not wasm.is_file():
            raise SystemExit(f"{wasm} is missing: run `make bench-p3` (it builds the four)")
    rounds = int(os.environ.get("BENCH_P3_ROUNDS", "5"))
    r: dict = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cores": os.cpu_count(), "load_start": shim.loadavg()},
        "versions": {"spin": rt.run([rt.program("spin", "spin-p3"), "--version"], "spin").strip()},
        "params": {"rounds": rounds, "seconds": shim.SECONDS, "warmup": shim.WARMUP, "conns": 16,
                   "pinning": f"spin on CPU {shim.SHIM_CPU}, wrk on CPU {shim.WRK_CPU}"},
        "wasm_bytes": {"ours_p3": rt.DEFAULT_WASM_P3.stat().st_size, "ours_p2": rt.DEFAULT_WASM.stat().st_size,
                       "hello_p3": shim.HELLO_P3_WASM.stat().st_size, "hello_p2": shim.HELLO_WASM.stat().st_size},
        "runs": {k: [] for k in APPS},
        "reuse": {},
        "in_flight": {},
    }
    with tempfile.TemporaryDirectory(prefix="p3-bench-") as tmp:
        work = Path(tmp)
        bodies = {"one": work / "one.json"}
        bodies["one"].write_text(shim.PATIENT)
        names = list(APPS)
        for i in range(rounds):
            for key in names[i % len(names):] + names[:i % len(names)]:
                shim.log(f"round {i + 1}/{rounds}: {key}")
                r["runs"][key].append(measure(key, *APPS[key], work, bodies))
        for name, args in shim.REUSE.items():
            shim.log(f"reuse {name}: {' '.join(args) or '(defaults)'}")
            r["reuse"][name] = measure(f"reuse-{name}", rt.SPIN_P3_TOML, "one", work, bodies, args)
        for key in ("ours_p3", "ours_p2"):
            for conns in IN_FLIGHT:
                shim.log(f"in flight: {key}, c={conns}")
                r["in_flight"].setdefault(key, {})[str(conns)] = measure(
                    f"{key}-c{conns}", APPS[key][0], "one", work, bodies, conns=conns)
    r["machine"]["load_end"] = shim.loadavg()

    def ratios(a: str, b: str) -> list[float]:
        return [x["rps"] / y["rps"] for x, y in zip(r["runs"][a], r["runs"][b])]

    r["ratios"] = {"ours_p3/hello_p3": ratios("ours_p3", "hello_p3"),
                   "ours_p3/ours_p2": ratios("ours_p3", "ours_p2"),
                   "ours_p2/hello_p2": ratios("ours_p2", "hello_p2"),
                   "hello_p3/hello_p2": ratios("hello_p3", "hello_p2")}
    r["median_ratios"] = {k: statistics.median(v) for k, v in r["ratios"].items()}
    RESULTS_JSON.write_text(json.dumps(r, indent=1) + "\n")
    shim.log(f"wrote {RESULTS_JSON.relative_to(REPO)}: {r['median_ratios']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
