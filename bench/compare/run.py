#!/usr/bin/env python3
"""`make bench-compare`: the served component as it is now against an earlier commit's build,
measured **interleaved**, so that a redesign is judged within the noise of one machine at one
time rather than against figures from another day.

1. builds the earlier commit's component (`BENCH_COMPARE_BASE`, a git revision) from
   `git archive` in target/bench-compare/, as `make build` builds (cargo, then `jco opt`);
2. precompiles it, the current one and the spin-sdk "hello" fixture (`wasmtime compile`);
3. runs BENCH_COMPARE_ROUNDS rounds; in each, every build in turn (the order rotates from round
   to round) is served by `wasmtime serve` pinned to one core, checked, warmed up and loaded by
   wrk pinned to the other, POST /predict of one patient at concurrency 16;
4. writes bench/compare/results.json (req/s, p50, p99, req per CPU-second per build and round;
   the .wasm sizes); `python3 bench/report.py` renders bench/compare/RESULTS.md from it.

Reuses bench/run.py's server, wrk and CPU accounting, and tests/runtimes.py underneath.
Standard library only.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import run as bench  # noqa: E402  (bench/run.py: server(), wrk(), cpu_seconds(), env())

OUT = REPO / "target" / "bench-compare"
RESULTS_JSON = REPO / "bench" / "compare" / "results.json"
CPUS = ("0", "1")  # server, wrk


def built_at(rev: str) -> Path:
    """The release component of commit `rev`, built as `make build` builds it."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.strip()
    wasm = OUT / f"{sha[:12]}.wasm"
    if wasm.exists():
        return wasm
    src = OUT / f"src-{sha[:12]}"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", sha], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    bench.log(f"building {rev} ({sha[:12]}) in {src.relative_to(REPO)}")
    subprocess.run(["cargo", "build", "--release", "--locked", "--target", "wasm32-wasip2",
                    "-p", "heart-disease-api", "--target-dir", str(OUT / "target")],
                   cwd=src, check=True)
    raw = OUT / "target" / "wasm32-wasip2" / "release" / "heart_disease_api.wasm"
    subprocess.run([str(REPO / "node_modules" / ".bin" / "jco"), "opt", str(raw), "-o", str(wasm), "-q"],
                   check=True)
    shutil.rmtree(src)
    return wasm


def compiled(wasm: Path, name: str) -> Path:
    cwasm = OUT / f"{name}.cwasm"
    subprocess.run([bench.env("WASMTIME"), "compile", "-o", str(cwasm), str(wasm)], check=True)
    return cwasm


def main() -> int:
    base = os.environ.get("BENCH_COMPARE_BASE", "cbf81e3")
    rounds = int(os.environ.get("BENCH_COMPARE_ROUNDS", "5"))
    seconds = int(os.environ.get("BENCH_SECONDS", "8"))
    warmup = int(os.environ.get("BENCH_WARMUP", "2"))
    OUT.mkdir(parents=True, exist_ok=True)
    bench.LOGS = OUT
    wasms = {"before": built_at(base), "now": Path(bench.env("WASM")), "hello": Path(bench.env("HELLO_WASM"))}
    cwasms = {name: compiled(w, name) for name, w in wasms.items()}
    body = OUT / "patient.json"
    body.write_text(bench.PATIENT)
    names = list(cwasms)
    runs: dict[str, list[dict]] = {n: [] for n in names}
    for i in range(rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            r = bench.load_runs(f"{name}-round{i + 1}", bench.serve_argv(cwasms[name], []),
                                name != "hello", [16], seconds, warmup, body, CPUS)["runs"][0]
            r["round"] = i + 1
            runs[name].append(r)
    median = {n: statistics.median(r["rps"] for r in runs[n]) for n in names}
    result = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "base": {"rev": base, "wasm": wasms["before"].name},
        "params": {"rounds": rounds, "seconds": seconds, "warmup_s": warmup, "conns": 16,
                   "wasmtime": bench.sh([bench.env("WASMTIME"), "--version"]).strip()},
        "wasm_bytes": {n: wasms[n].stat().st_size for n in names},
        "runs": runs,
        "median_rps": median,
        # Per round, each build over the hello of the same round: the ratio the issue asks for.
        "ratio_to_hello": {n: [a["rps"] / h["rps"] for a, h in zip(runs[n], runs["hello"])]
                           for n in ("before", "now")},
    }
    RESULTS_JSON.write_text(json.dumps(result, indent=1) + "\n")
    bench.log(f"wrote {RESULTS_JSON.relative_to(REPO)}: median req/s {median}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
