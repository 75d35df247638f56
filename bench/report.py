#!/usr/bin/env python3
"""`make bench-report`: the benches' Markdown, written from the figures they measured.

  bench/results.json       (bench/run.py)       -> bench/RESULTS.md, with bench/notes.md, the
                                                   before/after of issue 11 against
                                                   bench/baseline/results.json, and the soak
                                                   section from bench/soak/results.json
                                                   (`make soak`, bench/soak/src/main.rs)
  bench/shim/results.json  (bench/shim/run.py)  -> bench/shim/RESULTS.md
  bench/edge/results.json  (bench/edge/run.py)  -> bench/edge/RESULTS.md
  bench/cluster/results.json (bench/cluster/run.py) -> bench/cluster/RESULTS.md

The measuring programs write only JSON; this is the one place that writes Markdown, so a report
can be re-rendered (after editing notes.md or this file) without measuring again. Standard
library only: `python3 bench/report.py`.
"""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SOAK_JSON = BENCH / "soak" / "results.json"
# The soak's runtimes in the order `make soak` runs them (mk/soak.env); any other after them.
SOAK_RUNTIMES = ("wasmtime", "spin", "spin-p3")
BASELINE = BENCH / "baseline"

# Other work (in cores) above which a run's throughput and latency are not judged.
QUIET_CORES = 0.25
# Targets of issue 4 (the old design's figure: 450–660 req/s; 15x its top end).
OLD_DESIGN_RPS = (450, 660)
T = {"ratio_hello_c16": 0.90, "rps_c16": 15 * OLD_DESIGN_RPS[1], "p99_c16_ms": 3.0,
     "cold_precompiled_ms": 50.0, "rss_mib": 32.0, "wasm_kib": 300.0,
     "micro_single_us": 2.0, "micro_batch_ms": 1.0, "served_batch_ms": 5.0}


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------

def fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def fmt_ns(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms" if ns >= 1e6 else f"{ns / 1e3:.2f} µs" if ns >= 1e3 else f"{ns:.0f} ns"


def mib(kib: float | None) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "—"


def pct(x: float | None) -> str:
    return "?" if x is None else f"{x:.0%}"


def num(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def verdict(ok: bool | None) -> str:
    return "— (not judged)" if ok is None else ("met" if ok else "**missed**")


def table(head: list[str], align: str, rows: list[list]) -> list[str]:
    """A Markdown table; `align` has one letter per column, l or r."""
    return [("| " + " | ".join(head) + " |").replace("|  |", "| |"),
            "| " + " | ".join("---:" if a == "r" else "---" for a in align) + " |",
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows), ""]


# ---------------------------------------------------------------------------------------------
# bench/RESULTS.md
# ---------------------------------------------------------------------------------------------

def c16(r: dict, key: str) -> dict:
    return next(x for x in r["e2e"][key]["runs"] if x["conns"] == 16)


def busy(r: dict, *keys: str) -> float | None:
    """The most other work (cores) during these servers' c=16 runs, when too much to judge."""
    worst = max(c16(r, k).get("others_cores", 0.0) for k in keys)
    return worst if worst > QUIET_CORES else None


def caveat(r: dict, *keys: str) -> str:
    worst = busy(r, *keys)
    return f" ⚠ other work used {worst:.2f} cores during these runs: not a valid measurement" if worst else ""


def micro_ns(r: dict, name: str) -> float | None:
    e = r["micro"].get(name)
    return e["mean_ns"] if e else None


def served_batch_us(r: dict) -> float | None:
    run = dict(r["batch"]).get("ours (precompiled)")
    return run["p50_us"] if run else None


def targets(r: dict) -> list[tuple[str, str, bool | None]]:
    """Issue 4's targets: (target, measured, met?); None where the run was too noisy to judge."""
    o, h, n = c16(r, "ours"), c16(r, "hello"), c16(r, "native")
    noisy_ours = busy(r, "ours") is not None
    ratio = o["rps"] / h["rps"]
    rows = [(f"/predict at c=16 ≥ {T['ratio_hello_c16']:.0%} of hello's req/s", f"{ratio:.1%}" + caveat(r, "ours", "hello"),
             None if busy(r, "ours", "hello") else ratio >= T["ratio_hello_c16"])]
    if o.get("per_cpu_s") and h.get("per_cpu_s"):
        cpu_ratio = o["per_cpu_s"] / h["per_cpu_s"]
        rows.append((f"the same in CPU per request (hello's / ours) ≥ {T['ratio_hello_c16']:.0%}: holds on a busy "
                     "machine too", f"{cpu_ratio:.1%}", cpu_ratio >= T["ratio_hello_c16"]))
    rps, p99 = o["rps"], o["p99_us"] / 1000
    # On a busy machine a miss is not judged; a pass still is.
    rows.append((f"/predict at c=16 ≥ 15 × the old design ({15 * OLD_DESIGN_RPS[0]:,}–{T['rps_c16']:,} req/s)",
                 f"{rps:,.0f} req/s ({rps / OLD_DESIGN_RPS[1]:.1f}× 660, {rps / OLD_DESIGN_RPS[0]:.1f}× 450); "
                 f"{o.get('per_cpu_s') or 0:,.0f} per server CPU-s" + caveat(r, "ours"),
                 True if rps >= T["rps_c16"] else None if noisy_ours else False))
    rows.append((f"p99 at c=16 ≤ {T['p99_c16_ms']} ms", f"{p99:.2f} ms" + caveat(r, "ours"),
                 True if p99 <= T["p99_c16_ms"] else None if noisy_ours else False))
    pre = dict(r["cold"])[r["cold_precompiled_label"]]["median_ms"]
    rows.append((f"cold start, precompiled ≤ {T['cold_precompiled_ms']:.0f} ms", f"{pre:.1f} ms",
                 pre <= T["cold_precompiled_ms"]))
    rss = r["e2e"]["ours"]["rss_kib"] / 1024
    rows.append((f"peak RSS of the serving process ≤ {T['rss_mib']:.0f} MiB", f"{rss:.1f} MiB", rss <= T["rss_mib"]))
    kib = r["wasm_bytes"] / 1024
    rows.append((f"release .wasm ≤ {T['wasm_kib']:.0f} KiB", f"{kib:.1f} KiB", kib <= T["wasm_kib"]))
    if (one := micro_ns(r, "single/json_to_prediction")) is not None:
        rows.append((f"host: one prediction from JSON bytes ≤ {T['micro_single_us']} µs", fmt_ns(one),
                     one <= T["micro_single_us"] * 1e3))
    if (many := micro_ns(r, "batch1000/json_to_predictions")) is not None:
        rows.append((f"host: batch of 1000 ≤ {T['micro_batch_ms']} ms", fmt_ns(many), many <= T["micro_batch_ms"] * 1e6))
    if (served := served_batch_us(r)) is not None:
        rows.append((f"batch of 1000 through the served component ≤ {T['served_batch_ms']} ms (p50)", fmt_us(served),
                     served <= T["served_batch_ms"] * 1000))
    cpu_native = (o.get("per_cpu_s") or 0) / (n.get("per_cpu_s") or 1)
    rows.append(("ours / native at c=16 (reported, no target)",
                 f"{o['rps'] / n['rps']:.3f} in req/s, {cpu_native:.3f} in CPU per request" + caveat(r, "ours", "native"),
                 None))
    return rows


# The constraints of issue 11 (the redesign must not cost performance), issue 4's targets of
# the same figures: label, limit, the figure from a results.json (None if that run lacks it),
# its format, met?, servers whose c=16 runs must have been quiet for it to be judged.
ISSUE_11 = [
    ("ours / hello req/s, `wasmtime serve`, c=16", f"≥ {T['ratio_hello_c16']:.2f}",
     lambda r: c16(r, "ours")["rps"] / c16(r, "hello")["rps"], lambda v: f"{v:.3f}",
     lambda v: v >= T["ratio_hello_c16"], ("ours", "hello")),
    ("host: one prediction (criterion `single/json_to_prediction`)", f"≤ {T['micro_single_us']:g} µs",
     lambda r: micro_ns(r, "single/json_to_prediction"), fmt_ns, lambda v: v <= T["micro_single_us"] * 1e3, ()),
    ("host: batch of 1000 (criterion `batch1000/json_to_predictions`)", f"≤ {T['micro_batch_ms']:g} ms",
     lambda r: micro_ns(r, "batch1000/json_to_predictions"), fmt_ns, lambda v: v <= T["micro_batch_ms"] * 1e6, ()),
    ("served: batch of 1000 through `wasmtime serve`, p50", f"≤ {T['served_batch_ms']:g} ms", served_batch_us,
     fmt_us, lambda v: v <= T["served_batch_ms"] * 1000, ()),
    ("release .wasm", f"≤ {T['wasm_kib']:g} KiB", lambda r: r["wasm_bytes"] / 1024, lambda v: f"{v:.1f} KiB",
     lambda v: v <= T["wasm_kib"], ()),
]


def issue_11(before: dict, after: dict) -> list[tuple[str, str, str, str, str]]:
    """Rows of the before/after table: (constraint, before, after, limit, verdict on after)."""
    rows = []
    for label, limit, value, fmt, ok, quiet in ISSUE_11:
        cells = []
        for r in (before, after):
            v = value(r)
            noisy = quiet and busy(r, *quiet)
            judged = None if v is None or noisy else ok(v)
            cells.append(("—" if v is None else fmt(v) + (" ⚠ busy machine" if noisy else ""), judged))
        rows.append((label, f"{cells[0][0]} ({verdict(cells[0][1]).strip('*')})", cells[1][0], limit,
                     verdict(cells[1][1])))
    return rows


def before_after(r: dict) -> list[str]:
    path = BASELINE / "results.json"
    if not path.exists():
        return []
    base = json.loads(path.read_text())
    out = ["## Before and after the redesign (issue 11)\n",
           f"Before: bench/baseline/results.json, `make bench` at commit {base['machine']['commit']} (before the "
           f"redesign), {base['date']}. After: this run, commit {r['machine']['commit']}, {r['date']}. The same "
           "measurements; a figure taken while other work ran (⚠) is not judged. The last column judges the "
           "after figure, the before column's own verdict is in brackets.\n"]
    if (base["date"], base["machine"]["commit"]) == (r["date"], r["machine"]["commit"]):
        out.append("⚠ bench/results.json is still the baseline's own run: the after column shows the redesigned "
                   "code's figures once `make bench` has run on it.\n")
    out += table(["constraint", "before", "after", "limit", ""], "lrrrl", issue_11(base, r))
    return out


def criterion_source(r: dict) -> tuple[str, str]:
    """The criterion command and the bench's source (older runs: heart-model's)."""
    cmd = r["params"].get("criterion", "cargo bench -p heart-model --bench predict")
    crate = cmd.split(" -p ")[1].split()[0]
    return cmd, f"crates/{crate}/benches/predict.rs"


def render_main(r: dict, notes: str, soak: list[str]) -> str:
    m, p = r["machine"], r["params"]
    out = ["# Benchmark results\n",
           f"Measured by `make bench` (bench/run.py, into bench/results.json) on {r['date']}; written by "
           "bench/report.py: do not edit by hand. The soak sections at the end are from `make soak` "
           "(bench/soak/results.json).\n",
           f"- machine: **{m['cores']} cores** ({m['cpu']}), {m['mem_gib']:.0f} GiB; "
           f"load average at start **{m['load_start']}**, at end **{m['load_end']}**; other work at start "
           f"**{m['busy_start']:.2f} cores** (after waiting {m['waited_s']:.0f} s, at most $BENCH_QUIET_WAIT, for under 0.25)",
           f"- pinning: {m['pinning']}; priority: {m['nice']}; servers run without RUST_BACKTRACE; "
           "`wasmtime serve -S cli=y --no-logging-prefix` (our log lines plain JSON, as `make up` serves), "
           "stdout and stderr to a file",
           f"- wasmtime {m['wasmtime']}, {m['wrk']}, {m['rustc']}; commit {m['commit']}",
           f"- load: `wrk -t1 -cC -dD` with bench/load/post.lua, POST /predict of one patient "
           f"({p.get('body_bytes', 135)} bytes of JSON), keep-alive; warm-up {p['warmup']} s, "
           f"then {p['seconds']} s per concurrency level",
           "- wrk counts a status ≥ 400 as an error (\"non-2xx\" below; every server here answers 200 or ≥ 400); "
           "socket errors are connect + read + write + timeout.\n",
           "The load average counts every runnable process on the machine, ours included (the server and wrk "
           "add about 2 while a run is on). Figures taken while other work ran on the machine are lower than "
           "on an idle one; the ratios, measured side by side in one run, move much less.\n",
           "## Targets (issue 4)\n"]
    out += table(["target", "measured", ""], "lll", [(a, b, verdict(ok)) for a, b, ok in targets(r)])
    out += before_after(r)

    out += ["## End to end: POST /predict, one patient\n",
            "Server pinned to one core, wrk to the other. RSS is the server's peak (VmHWM) so far.\n"]
    out += table(["server", "concurrency", "req/s", "p50", "p99", "non-2xx", "socket errors", "peak RSS", "server CPU",
                  "req per server CPU-s", "other work (cores)", "load (before → after)"], "lrrrrrrrrrrl",
                 [[label, x["conns"], f"{x['rps']:,.0f}", fmt_us(x["p50_us"]), fmt_us(x["p99_us"]), x["status"],
                   x["socket_errors"], mib(x["rss_kib"]), pct(x.get("cpu_share")), num(x.get("per_cpu_s")),
                   f"{x.get('others_cores', 0):.2f}", f"{x['load_before']} → {x['load_after']}"]
                  for key, label in r["e2e_labels"] for x in r["e2e"][key]["runs"]])
    out += ["\"server CPU\" is the CPU time the server process used over the run's wall time (100 % = its "
            "whole core); \"req per server CPU-s\" divides the requests by that CPU time: what one core "
            "would serve if nothing else ran on it, for a CPU-bound server. \"other work\" is the CPU that "
            "everything but the server and wrk used during the run, in cores (0 on a quiet machine, 2 = both "
            "cores busy with other work): where it is well above 0, the figures in that row are depressed.\n",
            "Ratios, same run, same load (req/s; in brackets the same ratio of req per server CPU-s):\n"]

    def ratio(a, b, digits):
        return f"{a / b:.{digits}f}" if a and b else "?"

    rows = []
    for i, x in enumerate(r["e2e"]["ours"]["runs"]):
        h, n = r["e2e"]["hello"]["runs"][i], r["e2e"]["native"]["runs"][i]
        rows.append([x["conns"], f"{ratio(x['rps'], h['rps'], 3)} ({ratio(x.get('per_cpu_s'), h.get('per_cpu_s'), 3)})",
                     f"{ratio(x['rps'], n['rps'], 4)} ({ratio(x.get('per_cpu_s'), n.get('per_cpu_s'), 3)})"])
    out += table(["concurrency", "ours / hello", "ours / native"], "rrr", rows)
    if r.get("pooling"):
        out += ["### wasmtime's pooling allocator (`-O pooling-allocator=y`), concurrency 16\n"]
        out += table(["server", "allocator", "req/s", "p50", "p99", "peak RSS", "req per server CPU-s",
                      "other work (cores)"], "llrrrrrr",
                     [[label, alloc, f"{x['rps']:,.0f}", fmt_us(x["p50_us"]), fmt_us(x["p99_us"]), mib(x["rss_kib"]),
                       num(x.get("per_cpu_s")), f"{x.get('others_cores', 0):.2f}"] for label, alloc, x in r["pooling"]])

    out += ["## A batch of 1000 patients, end to end (concurrency 1)\n",
            f"Body: `{{\"instances\": [1000 × the patient]}}`, {r['batch_bytes']:,} bytes.\n"]
    out += table(["server", "batches/s", "p50", "p99", "mean", "non-2xx", "socket errors"], "lrrrrrr",
                 [[label, f"{x['rps']:,.1f}", fmt_us(x["p50_us"]), fmt_us(x["p99_us"]), fmt_us(x["mean_us"]),
                   x["status"], x["socket_errors"]] for label, x in r["batch"]])

    cmd, source = criterion_source(r)
    out += [f"## Host micro benches (criterion, {source})\n",
            f"`{cmd}` with the workspace's `bench` profile (the release profile at opt-level 3, as a native build "
            f"runs). Load average after: {r['micro'].get('_load', '?')}.\n"]
    benches = sorted((k for k in r["micro"] if not k.startswith("_")),
                     key=lambda k: (k.startswith("batch"), "_to_" not in k, k))
    out += table(["bench", "mean", "95 % interval", "median"], "lrlr",
                 [[k, fmt_ns(e["mean_ns"]), f"{fmt_ns(e['lo_ns'])} – {fmt_ns(e['hi_ns'])}", fmt_ns(e["median_ns"])]
                  for k in benches for e in [r["micro"][k]]])
    out += ["`json_to_prediction(s)` is a prediction from JSON bytes (parse + validate + assess), what the "
            "issue's micro targets measure; `json_to_json` is the whole path of `POST /predict` on a body already "
            "read: the same, then the answer written. The other rows are its steps alone.\n",
            "## Cold start: launch to the first 200 from GET /health\n",
            f"Polled every 2 ms on a fresh connection; median of {p['cold_runs']} launches, server pinned "
            "to one core. RSS is VmHWM at the first 200.\n"]
    out += table(["server", "median", "all runs", "RSS at first 200"], "lrlr",
                 [[label, f"{c['median_ms']:.1f} ms", ", ".join(f"{x:.1f}" for x in c["ms"]), mib(c["rss_kib"])]
                  for label, c in r["cold"]])
    out += ["## Artifact sizes\n"]
    out += table(["artifact", "bytes", "KiB"], "lrr", [[label, f"{n:,}", f"{n / 1024:.1f}"] for label, n in r["sizes"]])
    out += profile_section(r)
    if notes:
        out.append(notes.rstrip() + "\n")
    out += soak
    return "\n".join(out).rstrip("\n") + "\n"


def profile_section(r: dict) -> list[str]:
    if not r.get("profile"):
        return []
    out = ["## Where the time goes: `perf` under load (concurrency 16)\n",
           "`perf record -e cpu-clock` on the `wasmtime serve` process with `--profile=perfmap`, 5 s of the same "
           "load after a 2 s warm-up; CPU per request is the process's CPU time over the requests served meanwhile "
           "(perf itself adds a little). " + ("Ours is profiled as the same release build with its symbols kept "
                                              "(`strip = false`), so its own functions have names. "
                                              if r.get("profile_symbols") else "") +
           "`*.cwasm` is the component's own code, `wasmtime` the runtime (instantiation, the wasi:http "
           "host, hyper), `[kernel.kallsyms]` the TCP stack, page faults and the scheduler.\n"]
    groups = ["component (.cwasm)", "wasmtime", "[kernel.kallsyms]", "libc.so.6", "other"]
    rows = []
    for key, prof in (("ours", r["profile"]), ("hello", r.get("profile_hello"))):
        if not prof:
            continue
        share = dict.fromkeys(groups, 0.0)
        for s, dso in prof["dsos"]:
            share["component (.cwasm)" if dso.endswith(".cwasm") else dso if dso in groups else "other"] += s
        us = prof["us_per_req"] or 0
        rows.append([key, f"{prof['rps']:,.0f}", f"{us:.0f} µs",
                     *(f"{us * share[g] / 100:.0f} µs ({share[g]:.0f} %)" for g in groups)])
    out += table(["component", "req/s under perf", "CPU per request", *groups], "lrrrrrrr", rows)
    out += ["Top symbols of ours, whole process (≥ 0.7 % of samples):\n", "```", r["profile"]["top"], "```\n"]
    if r["profile"].get("guest_top"):
        out += ["Top functions of the component itself (percent of all the process's samples):\n",
                "```", r["profile"]["guest_top"], "```\n"]
    return out


def fmt_soak_us(us: float) -> str:
    return f"{us / 1e6:.2f} s" if us >= 1e6 else f"{us / 1e3:.1f} ms"


def render_soak(runs: dict) -> list[str]:
    """One section per runtime of bench/soak/results.json (`make soak`), in the order it runs them."""
    out = []
    for name in sorted(runs, key=lambda n: (SOAK_RUNTIMES.index(n) if n in SOAK_RUNTIMES else len(SOAK_RUNTIMES), n)):
        s = runs[name]
        p, what, rss, f = s["params"], s["what"], s["rss"], s["failures"]
        mix = p["pct"]
        out += [f"## Soak on {what} (`make soak`, SOAK_RUNTIME={name})\n",
                f"Measured by `make soak` (bench/soak, into bench/soak/results.json) on {s['date']} UTC, "
                f"{s['version']}, serving the release component sha256:{s['wasm_sha256'][:16]}…; load average at the "
                f"end {s['load_end']}.\n",
                f"{p['warmup_s']} s of warm-up, then {p['seconds']} s measured, at concurrency {p['concurrency']} (one "
                "keep-alive connection per worker, kept after a 413 unless the answer says `connection: close`; dropped "
                f"after a stalled body) against {what} on 127.0.0.1, started by tests/runtimes.py, client and server "
                f"sharing the machine's {s['cores']} cores. Mix: {mix['oversized']:g}% oversized, {mix['stalled']:g}% "
                f"stalled, {mix['slow']:g}% slow, {mix['head']:g}% HEAD, {mix['invalid']:g}% invalid (with GET "
                f"/health), {mix['batch']:g}% batches, the rest single patients. Every answer's status is checked; "
                "every prediction is compared with the host model core on the same body (|Δp| ≤ 1e-12 and the same "
                f"0/1 prediction). Counts below are for the measured {p['seconds']} s; \"slowest\" is from the "
                "request's first byte" + ("; \"mean\" is over the answered requests, and \"of the workers' time\" "
                "is the time they held their workers over concurrency × the measured time" if busy_known(s) else "")
                + ".\n"]
        worker_us = p["concurrency"] * s["measured_s"] * 1e6
        head, align = ["request", "expected", "sent", "answered as expected", "slowest"], "llrrr"
        if busy_known(s):
            head, align = head + ["mean", "of the workers' time"], align + "rr"
        rows = []
        for k in s["kinds"]:
            row = [k["request"], k["expected"], k["sent"], k["as_expected"], fmt_soak_us(k["slowest_us"])]
            if busy_known(s):
                row += [fmt_soak_us(k["busy_us"] / k["sent"]) if k["sent"] else "—", f"{k['busy_us'] / worker_us:.1%}"]
            rows.append(row)
        out += table(head, align, rows)[:-1]
        lat = s["latency_ms"]
        limit = "not checked" if p["max_rss_growth_pct"] is None else f"limit +{p['max_rss_growth_pct']:g} %"
        step = max(1, round(5 / rss["interval_s"]))
        series = ", ".join(f"{t:.0f} s {kib / 1024:.1f}" for t, kib in rss["samples"][::step])
        out += ["",
                f"- **{s['requests']} requests** in {s['measured_s']:.0f} s: {s['requests'] / s['measured_s']:.0f} "
                f"req/s; latency (all but the slow and stalled bodies) p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} "
                f"ms, max {lat['max']:.1f} ms",
                f"- unexpected statuses: **{f['unexpected_status']}**; connections closed without an answer: "
                f"**{f['closed_without_answer']}**; writes refused before the answer: **{f['write_failed']}**; failed "
                f"connects: **{f['connect_failed']}**; 5xx: **{f['server_errors']}**; wrong answers: **{f['wrong']}** "
                f"(warm-up included); predictions checked against the host model: **{s['predictions_checked']}**; "
                f"413s answered on a connection that stayed open and was reused: {s['oversized_kept_open']}",
                f"- server RSS ({rss['what']}; median of the last {rss['window']} once-a-second readings): "
                f"{mib(rss['warm_kib'])} at the end of warm-up, {mib(rss['end_kib'])} at the end "
                f"(**{rss['growth_pct']:+.1f} %**, {limit}); last reading {mib(rss['last_kib'])}, peak (VmHWM) "
                f"{mib(rss['hwm_kib'])}, {mib(rss['idle_kib'])} after 1 s idle",
                f"- RSS every {step * rss['interval_s']:g} s (MiB): {series}"]
        if not s["every_kind_ran"]:
            out.append("- not every kind of request was sent: run longer, or raise its share")
        if not s["server_alive"]:
            out.append("- the runtime exited during the run")
        elif not s["stopped_cleanly"]:
            out.append(f"- the runtime did not stop cleanly on SIGTERM (launcher: {s['launcher']})")
        out.append(f"- verdict: **{'pass' if s['pass'] else 'FAIL'}**")
        out += [f"  - {e}" for e in s["examples"]]
        out.append("")
    return out


def busy_known(s: dict) -> bool:
    """Runs before the soak kept the time each kind held its workers lack `busy_us`."""
    return all("busy_us" in k for k in s["kinds"])


# ---------------------------------------------------------------------------------------------
# bench/shim/RESULTS.md
# ---------------------------------------------------------------------------------------------

SHIM_CASES = {
    "ours_c16": ("ours", "POST /predict, 1 patient, c=16"),
    "hello_c16": ("hello fixture", "GET /, c=16"),
    "ours_c64": ("ours", "POST /predict, 1 patient, c=64"),
    "ours_batch1000_c4": ("ours", "POST /predict, batch of 1000, c=4"),
    "ours_c16_dev_limits": ("ours, dev limits", "POST /predict, 1 patient, c=16"),
    "ours_c16_prod_limits": ("ours, prod limits", "POST /predict, 1 patient, c=16"),
    "ours_p3_c16": ("ours, wasi:http 0.3", "POST /predict, 1 patient, c=16"),
    "hello_p3_c16": ("hello fixture, wasi:http 0.3", "GET /, c=16"),
    "ours_p3_c64": ("ours, wasi:http 0.3", "POST /predict, 1 patient, c=64"),
}
# Spin 4's trigger options for each reuse case of bench/shim/run.py (REUSE there).
REUSE_NOTE = ("no reuse: `--max-instance-reuse-count 1 --max-instance-concurrent-reuse-count 1`; one at a "
              "time: `--max-instance-concurrent-reuse-count 1`; 1024: `--max-instance-reuse-count 1024`; "
              "Spin 4's defaults for a 0.3 component: 128 requests per instance, 16 at once, 1 s idle")


def render_p3(r: dict) -> list[str]:
    """The wasi:http 0.3 build beside the 0.2 one, and the hellos of both, under the v0.25 shim:
    the ratios issue 21 asks for there (on `spin up`: bench/p3)."""
    if not r.get("p3"):
        return []
    out = ["## The wasi:http 0.3 build beside the 0.2 build (c=16)\n"]
    for why in r["p3"].get("not_run", {}).values():
        out.append(f"- not run: {why}")
    rows = []
    for where, runs, label in (("shim", r.get("cases", {}), r["versions"]["shim"]),):
        for key in ("ours_p3_c16", "hello_p3_c16", "ours_c16", "hello_c16", "ours_p3_c64"):
            if key in runs:
                c = runs[key]
                mem = c.get("vmhwm_kib_sum") or (c.get("memory") or {}).get("vmhwm_kib_sum")
                rows.append([label, SHIM_CASES[key][0], SHIM_CASES[key][1], f"{c['rps']:,.0f}",
                             fmt_us(c["p50_us"]), fmt_us(c["p99_us"]), c["status"] + c["socket_errors"],
                             f"{c['cpu_ms_per_req'] * 1000:.0f} µs", mib(mem)])
    out += table(["runtime", "app", "load", "req/s", "p50", "p99", "errors", "CPU per request",
                  "VmHWM (sum of the processes)"], "llllrrrrr", rows)
    for where in ("shim",):
        q = r.get(f"{where}_p3")
        if q:
            out.append(f"- {where}: our 0.3 build / the 0.3 hello **{q['ours_p3_over_hello_p3_rps']:.3f}** "
                       f"(target ≥ 0.9: {verdict(q['ours_p3_over_hello_p3_rps'] >= 0.9)}); our 0.3 build / "
                       f"our 0.2 build **{q['ours_p3_over_ours_p2_rps']:.3f}** (target ≥ 1.4: "
                       f"{verdict(q['ours_p3_over_ours_p2_rps'] >= 1.4)}); 0.3 hello / 0.2 hello "
                       f"{q['hello_p3_over_hello_p2_rps']:.3f}.")
    out.append("\nBoth builds on Spin 4 under `spin up`, and its reuse settings: bench/p3/RESULTS.md.\n")
    return out


def youki_pids(case: dict) -> list[str]:
    """The container's own process (youki's init, where the wasm runs)."""
    return [pid for pid, info in case["memory"]["pids"].items() if "youki" in info.get("comm", "")]


def container_share(c: dict) -> str:
    youki, total = youki_pids(c), sum(c["cpu_s_by_pid"].values())
    part = sum(v for pid, v in c["cpu_s_by_pid"].items() if pid in youki)
    return f"{part / total:.0%}" if total and youki else "—"


def peak_of(case: dict) -> float:
    """The largest of the memory figures (KiB) of one process or of the container's cgroup:
    what a limit has to cover (the sum over the shim's processes counts the pages they share,
    the binary's, more than once)."""
    m = case["memory"]
    return max([*case["shim_peak_kib"], m["vmhwm_kib_max"] or 0, (m["memory_max_usage_bytes"] or 0) / 1024])


def render_shim(r: dict) -> str:
    m, v, p, s = r["machine"], r["versions"], r["params"], r["starts"]
    busy_note = ("**yes** (a `cargo install` was running: figures are depressed, read the ratios)"
                 if m["cargo_install_running"] else "no")
    out = ["# The image on SpinKube's node runtime: containerd + containerd-shim-spin\n",
           f"Measured by `python3 bench/shim/run.py` on {r['date']} (bench/shim/results.json); written by "
           "bench/report.py: do not edit by hand.\n",
           f"- machine: **{m['cores']} cores**; load average at start **{m['load_start']}**, at end "
           f"**{m['load_end']}**; other heavy work running at start: {busy_note}",
           f"- {v['shim']} under containerd {v['containerd']} (a private daemon, no CRI), ctr {v['ctr']}, "
           f"spin {v['spin']} (`make push` for ours, `spin registry push` of bench/shim/spin.toml for "
           f"hello, to a loopback docker-registry), {v['wrk']}",
           f"- load: `wrk -t1 -cC -d{p['seconds']}s` after a {p['warmup']} s warm-up; {p['pinning']} "
           "(`sched_setaffinity` on every thread of the shim's processes, `taskset` for wrk)\n",
           "## Start times (`ctr run` to the first 200 from /health)\n",
           f"A fresh containerd per sample (empty content store), then `ctr images pull`, then two "
           f"`ctr run --rm` of the pulled image in turn; /health polled every 5 ms; median of {p['starts']}. "
           "The old plain-image form (a rootfs with /spin.toml) has been dropped from the project and is not "
           "measured.\n"]
    out += table(["start", "median", "samples", "cores", "load (start → end of run)"], "lrlrl",
                 [[label, f"{s[k]['median_ms']:.0f} ms", ", ".join(f"{x:.0f}" for x in s[k]["samples_ms"]) + " ms",
                   m["cores"], f"{m['load_start']} → {m['load_end']}"]
                  for k, label in (("first", "first start (shim precompiles the wasm layer)"),
                                   ("second", "second start (loads the precompiled layer)"),
                                   ("pull_s", "pull (not part of the start)"))])

    def row(key: str, runs: str = "cases", runtime: str = "") -> list:
        c = r[runs][key]
        app, what = SHIM_CASES[key]
        return [app + runtime, what, f"{c['rps']:,.0f}", fmt_us(c["p50_us"]), fmt_us(c["p99_us"]), c["status"],
                c["socket_errors"], f"{c['shim_cpu_share']:.0%}", f"{c['cpu_ms_per_req'] * 1000:.0f} µs",
                f"{c['req_per_cpu_s'] or 0:,.0f}", f"{c['load_before']} → {c['load_after']}"]

    rows = [row(k) for k in ("ours_c16", "hello_c16")]
    if "spin" in r:
        rows += [row(k, "spin", ", `spin up`") for k in ("ours_c16", "hello_c16")]
    out += ["## Throughput under the shim, side by side (c=16)\n"]
    out += table(["app", "load", "req/s", "p50", "p99", "non-2xx", "socket errors", "shim CPU", "CPU per request",
                  "req per shim CPU-s", "load avg (before → after)"], "llrrrrrrrrl", rows)[:-1]
    if "spin" in r:
        out.append(f"\nUnder `spin up` (Spin {v['spin']}, the runtime the shim embeds; its processes pinned like "
                   f"the shim's): ours / hello **{r['spin_ratio_ours_hello_rps']:.3f}** in req/s, "
                   f"{r['spin_ratio_ours_hello_cpu']:.3f} in CPU per request (hello's / ours).")
    out.append(f"\nours / hello: **{r['ratio_ours_hello_rps']:.3f}** in req/s, {r['ratio_ours_hello_cpu']:.3f} in "
               f"CPU per request (hello's / ours) — target ≥ 0.9: {verdict(r['ratio_ours_hello_rps'] >= 0.9)}. "
               "\"shim CPU\" is the utime+stime of the container's containerd-shim-spin-v2 processes (and their "
               "children) over the run's wall time (100 % = one core).\n")
    out += baseline_line("shim.json", lambda b: (
        f"ours / hello under the shim {b['ratio_ours_hello_rps']:.3f} in req/s"
        + (f", under `spin up` {b['spin_ratio_ours_hello_rps']:.3f}" if "spin_ratio_ours_hello_rps" in b else "")))

    out += render_p3(r)
    out += ["## Resources of ours (one container per row)\n"]
    rows = []
    for key in ("ours_c16", "ours_c64", "ours_batch1000_c4", "hello_c16"):
        c = r["cases"][key]
        mm = c["memory"]
        rows.append([f"{SHIM_CASES[key][0]}: {SHIM_CASES[key][1]}", f"{c['rps']:,.0f}", c["status"] + c["socket_errors"],
                     f"{c['cpu_ms_per_req'] * 1000:.0f} µs", container_share(c),
                     ", ".join(mib(k) for k in c["shim_peak_kib"]) or "—",
                     f"{mib(mm['shim_main_vmhwm_kib'])} / {mib(mm['container_vmhwm_kib'])} / {mib(mm['vmhwm_kib_sum'])}",
                     mib((mm["memory_max_usage_bytes"] or 0) / 1024), m["cores"], c["load_after"]])
    out += table(["case", "req/s", "errors", "CPU per request", "of it in the container process",
                  "shim's peak RSS, zygote's (containerd log)", "VmHWM: shim main / container process / sum of all",
                  "cgroup memory.max_usage_in_bytes", "cores", "load avg (after)"], "lrrrrrrrrl", rows)
    out += ["The shim's log lines at stop, ours at c=16:\n", "```",
            *(ln[-300:] for ln in r["cases"]["ours_c16"]["shim_log"]), "```\n",
            "## Under the chart's limits (`ctr run --memory-limit --cpus`)\n"]
    rows = []
    for env_name in ("dev", "prod"):
        c, lim = r["cases"][f"ours_c16_{env_name}_limits"], r["limits"][env_name]
        mm = c["memory"]
        req, li = lim["values"].get("requests", {}), lim["values"].get("limits", {})
        rows.append([f"values-{env_name}.yaml", f"{req.get('cpu')}/{req.get('memory')}", f"{li.get('cpu')}/{li.get('memory')}",
                     f"`{' '.join(lim['ctr_args'])}`", f"{c['rps']:,.0f}", fmt_us(c["p99_us"]),
                     c["status"] + c["socket_errors"], f"{c['shim_cpu_share']:.0%}",
                     "—" if mm["memory_limit_bytes"] is None else mm["memory_limit_bytes"],
                     f"{mm['cfs_quota_us']} / {mm['cfs_period_us']}", mm["nr_throttled"],
                     mib((mm["memory_max_usage_bytes"] or 0) / 1024)])
    out += table(["values file", "requests", "limits", "ctr run", "req/s", "p99", "errors", "shim CPU",
                  "cgroup memory.limit_in_bytes", "cpu.cfs_quota_us / period", "nr_throttled", "peak (cgroup)"],
                 "llllrrrrrrrr", rows)
    out += [enforcement(r), proposal(r)]
    return "\n".join(out) + "\n"


def enforcement(r: dict) -> str:
    notes = []
    for env_name in ("dev", "prod"):
        c = r["cases"][f"ours_c16_{env_name}_limits"]
        mm, args = c["memory"], r["limits"][env_name]["ctr_args"]
        want_mem, want_cpu = int(args[1]), float(args[3])
        quota = (mm["cfs_quota_us"] / mm["cfs_period_us"]
                 if mm["cfs_quota_us"] and mm["cfs_quota_us"] > 0 and mm["cfs_period_us"] else None)
        used = sum(v for pid, v in c["cpu_s_by_pid"].items() if pid in youki_pids(c)) / r["params"]["seconds"]
        mem_set = "= --memory-limit: set" if mm["memory_limit_bytes"] == want_mem else "**not the limit asked for**"
        cpu_set = "= --cpus: set" if quota and abs(quota - want_cpu) < 0.01 else "**not the quota asked for**"
        notes.append(
            f"- {env_name}: `memory.limit_in_bytes` of the container's cgroup is {mm['memory_limit_bytes']} ({mem_set}; "
            f"usage peaked at {mib((mm['memory_max_usage_bytes'] or 0) / 1024)}, so it was never reached: enforcement "
            f"of memory is configured, not exercised); `cpu.cfs_quota_us/period` = "
            f"{f'{quota:g} CPU' if quota else '**none**'} ({cpu_set}); "
            f"the container process used {used:.2f} CPU, throttled {mm['nr_throttled']} times.")
    notes.append("- The cgroup holds only the container's process (youki's init, where the wasm runs: "
                 "~100 % of the CPU per request). The shim's main process (the task service, which also "
                 "precompiles) and its helpers stay in containerd's cgroup here, outside the limit: on a "
                 "node their memory counts against the node, not the pod.")
    return "Are the limits enforced here?\n\n" + "\n".join(notes) + "\n"


def proposal(r: dict) -> str:
    """Resources for the chart, from the cases of both builds it can deploy: the 0.2 build (flat
    memory) and the 0.3 build (`make push`'s default; Spin 4 reuses instances, so its memory grows
    with concurrent requests). The 0.3 cases are sized for when the run measured them."""
    p2_keys = ("ours_c16", "ours_c64", "ours_batch1000_c4")
    p3_keys = tuple(k for k in ("ours_p3_c16", "ours_p3_c64") if k in r["cases"])
    p2, p3 = [r["cases"][k] for k in p2_keys], [r["cases"][k] for k in p3_keys]
    pre = r["precompile"]["ours"]
    peak_key = max(p2_keys + p3_keys, key=lambda k: peak_of(r["cases"][k]))
    peak = max([peak_of(r["cases"][peak_key])] + pre["shim_peak_kib"])  # KiB
    where = ("the shim's own, while it precompiles the layer" if peak > peak_of(r["cases"][peak_key])
             else "{}: {}".format(*SHIM_CASES[peak_key]))
    typical = peak_of(p2[0])
    cgroup_peak = max((c["memory"]["memory_max_usage_bytes"] or 0) / 1024 for c in p2 + p3)
    cpu_req_s = p2[0]["cpu_ms_per_req"] / 1000  # CPU-seconds per request
    up = (lambda kib, step: step * -(-kib / 1024 // step))
    mem_limit = up(2 * peak, 32)
    # A request near typical use would keep an 80 % memory HPA at or above its target for good
    # (the 0.2 build's memory is flat with load). So request ≥ peak / 0.8.
    mem_req = up(max(typical, peak / 0.8), 16)
    growth = ("The 0.2 build's memory is flat with load (c=16, c=64, batches); the 0.3 build's grows with "
              "concurrent requests (" + "; ".join(f"{mib(peak_of(r['cases'][k]))} at {SHIM_CASES[k][1]}"
                                                  for k in p3_keys) + ")."
              if p3 else "Memory is flat with load (c=16, c=64, batches).")
    lines = ["## Proposed resources\n",
             f"Measured: largest single-process or cgroup peak {mib(peak)} ({where}; the shim's own while it "
             f"precompiles the layer: {', '.join(mib(k) for k in pre['shim_peak_kib'])}), typical {mib(typical)} "
             f"(0.2 build, c=16, largest process); the container cgroup itself peaked at {mib(cgroup_peak)}. "
             f"{growth} CPU per request {cpu_req_s * 1e6:.0f} µs at c=16 "
             f"({1 / cpu_req_s:,.0f} requests per CPU-second, 0.2 build).\n",
             "Memory limit = 2 × peak rounded up to 32 Mi; memory request = max(typical, peak / 0.8) rounded up "
             "to 16 Mi, so that no measured load keeps an 80 % memory target crossed by itself. CPU: the request "
             "sets the HPA point; the limit allows a burst of 5 × (dev) / 2 × (prod) the request.\n"]
    lines += table(["", "CPU request", "CPU limit", "memory request", "memory limit", "HPA: 80 % CPU of the request at",
                    "80 % memory of the request at", "max req/s per pod at the CPU limit"], "lrrrrrrr",
                   [[env_name, f"{cpu_req * 1000:.0f}m", f"{cpu_lim * 1000:.0f}m", f"{mem_req:.0f}Mi", f"{mem_limit:.0f}Mi",
                     f"{0.8 * cpu_req / cpu_req_s:,.0f} req/s per pod",
                     f"{0.8 * mem_req:.0f} Mi: above every measured load (≤ {mib(peak)})", f"{cpu_lim / cpu_req_s:,.0f}"]
                    for env_name, cpu_req, cpu_lim in (("dev", 0.1, 0.5), ("prod", 0.5, 1.0))])[:-1]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# bench/edge/RESULTS.md
# ---------------------------------------------------------------------------------------------

EDGE_WORKERS = (("ours", "the component's wasi:http handler (served)"),
                ("typed", "typed export, bench reference only (not served)"),
                ("hello", "trivial JSON worker"))


def edge_of_hello(r: dict) -> float:
    return r["load"]["ours"]["routes"]["POST /predict"]["rps"] / r["load"]["hello"]["routes"]["GET /"]["rps"]


def render_edge(r: dict) -> str:
    hello_rps = r["load"]["hello"]["routes"]["GET /"]["rps"]
    cs = r["cold_start"]
    out = ["# The component on workerd (edge/)\n",
           f"`python3 bench/edge/run.py` (bench/edge/results.json, written by bench/report.py), {r['date']}, "
           f"{r['cores']} cores, load average {r['load_start']} at the start and {r['load_end']} at the end; "
           f"{r['workerd']}; .wasm sha256 `{r['wasm_sha256']}`.\n",
           f"wrk -t2 -c{r['conns']}, {r['warmup']} s warm-up then {r['seconds']} s per route; wrk and "
           "workerd share the cores (unpinned), so absolute req/s are lower than on a dedicated "
           "machine: read the ratio to hello, measured in the same run under the same load.\n"]
    out += table(["worker", "route", "req/s", "of hello", "p50 ms", "p99 ms", "errors", "load before → after"],
                 "llrrrrrl",
                 [[f"{w}: {what}", route, f"{x['rps']:,.0f}", f"{x['rps'] / hello_rps:.0%}", f"{x['p50_us'] / 1000:.2f}",
                   f"{x['p99_us'] / 1000:.2f}", x["errors"], f"{x['load_before']} → {x['load_after']}"]
                  for w, what in EDGE_WORKERS for route, x in r["load"][w]["routes"].items()])
    out += baseline_line("edge.json", lambda b: f"ours POST /predict {edge_of_hello(b):.0%} of hello "
                                                f"(this run: {edge_of_hello(r):.0%})")
    out += ["Cold start: `workerd serve` spawned to the first 200 (ours: /health, which also "
            "instantiates the component), polled every 2 ms:\n"]
    out += table(["worker", "path", "median ms", "samples ms", "RSS after the first 200, MiB"], "llrlr",
                 [[w, cs[w]["path"], f"{cs[w]['median_ms']:.1f}", ", ".join(f"{s:.1f}" for s in cs[w]["samples_ms"]),
                   f"{cs[w]['rss_after_first_kib'] / 1024:.0f}"] for w in ("ours", "hello")])
    out += ["Memory of the workerd process after its load runs:\n"]
    out += table(["worker", "VmRSS MiB", "VmHWM MiB"], "lrr",
                 [[w, f"{r['load'][w]['rss_kib'] / 1024:.0f}", f"{r['load'][w]['hwm_kib'] / 1024:.0f}"]
                  for w, _ in EDGE_WORKERS])
    out += ["edge/worker.js serves every route, POST /predict included, through the component's own "
            "wasi:http handler (preview2-shim's InMemoryHttpClient), so its answers are the "
            "component's bytes. The typed row shows what answering POST /predict through "
            "`heart:predictor/predictor` instead would buy; it is not served because its answers "
            "are not byte-identical (JSON number formatting, headers, request id and the log line "
            "would have to be re-implemented in JavaScript).\n"]
    return "\n".join(out)


def render_compare(r: dict) -> str:
    """bench/compare/RESULTS.md: `make bench-compare`, the component now against an earlier
    commit's, interleaved round by round."""
    p = r["params"]
    names = [("before", f"before ({r['base']['rev']})"), ("now", "now"), ("hello", "hello (spin-sdk 5.2)")]
    out = [
        "# The component now against an earlier build, measured interleaved\n",
        f"`make bench-compare`, {r['date']}, {r['machine']['cores']} cores; {p['wasmtime']} "
        f"(`wasmtime serve`, precompiled), pinned to one core, wrk on the other; POST /predict of one "
        f"patient at concurrency {p['conns']}; {p['rounds']} rounds, each build {p['seconds']} s after "
        f"{p['warmup_s']} s of warm-up per round, the order rotating from round to round. "
        "Rendered by bench/report.py from bench/compare/results.json.\n",
    ]
    rows = []
    for key, label in names:
        runs = r["runs"][key]
        rows.append([label, f"{r['wasm_bytes'][key]:,}", f"{r['median_rps'][key]:.0f}",
                     " / ".join(f"{x['rps']:.0f}" for x in runs),
                     fmt_us(statistics.median(x["p99_us"] for x in runs))])
    out += table(["build", ".wasm bytes", "median req/s", "req/s by round", "median p99"], "lrrrr", rows)
    ratios = {k: r["ratio_to_hello"][k] for k in ("before", "now")}
    out += ["", "Ours / hello in the same round (req/s):\n"]
    out += table(["build", "median", "by round"], "lrr",
                 [[label, f"{statistics.median(ratios[k]):.3f}", " / ".join(f"{x:.3f}" for x in ratios[k])]
                  for k, label in names[:2]])
    hello = [x["rps"] for x in r["runs"]["hello"]]
    out += ["", f"The noise: the same hello's req/s ranged {min(hello):.0f}–{max(hello):.0f} between rounds "
            f"({max(hello) / min(hello) - 1:.0%} above its lowest), with nothing else measurably running "
            "(bench/compare/results.json: `others_cores`); a difference between the builds smaller than the "
            "spread of the same-round ratios below is not a finding.\n"]
    now_over_before = [n["rps"] / b["rps"] for n, b in zip(r["runs"]["now"], r["runs"]["before"])]
    out += ["", f"Now / before in the same round: median {statistics.median(now_over_before):.3f} "
            f"(range {min(now_over_before):.3f}–{max(now_over_before):.3f}); .wasm "
            f"{r['wasm_bytes']['now'] - r['wasm_bytes']['before']:+,} bytes.\n"]
    return "\n".join(out)


P3_APPS = [("ours_p3", "ours, wasi:http 0.3 (spin-sdk 6)", "POST /predict, 1 patient"),
           ("hello_p3", "hello, wasi:http 0.3 (spin-sdk 6)", "GET /"),
           ("ours_p2", "ours, wasi:http 0.2 (spin-sdk 5.2)", "POST /predict, 1 patient"),
           ("hello_p2", "hello, wasi:http 0.2 (spin-sdk 5.2)", "GET /")]


def render_spin4(r: dict) -> str:
    """bench/p3/RESULTS.md: `make bench-p3`, both builds and both hellos on Spin 4."""
    p, m = r["params"], r["machine"]
    out = ["# The wasi:http 0.3 build on Spin 4, beside the 0.2 build and both hellos\n",
           f"`make bench-p3`, {r['date']}, {m['cores']} cores, load {m['load_start']} → {m['load_end']}; "
           f"{r['versions']['spin']} (`spin up`), {p['pinning']}; wrk -t1 -c{p['conns']}, {p['seconds']} s after "
           f"{p['warmup']} s of warm-up; {p['rounds']} rounds, the four apps taking turns (the order rotating). "
           "Rendered by bench/report.py from bench/p3/results.json.\n"]
    rows = []
    for key, app, load in P3_APPS:
        runs = r["runs"][key]
        rows.append([app, load, f"{r['wasm_bytes'][key]:,}", f"{statistics.median(x['rps'] for x in runs):,.0f}",
                     " / ".join(f"{x['rps']:.0f}" for x in runs),
                     fmt_us(statistics.median(x["p99_us"] for x in runs)),
                     f"{statistics.median(x['cpu_ms_per_req'] for x in runs) * 1000:.0f} µs",
                     mib(statistics.median(x["vmhwm_kib_sum"] for x in runs)),
                     sum(x["status"] + x["socket_errors"] for x in runs)])
    out += table(["app", "load", ".wasm bytes", "median req/s", "req/s by round", "median p99",
                  "CPU per request", "VmHWM (spin up's processes)", "errors"], "llrrrrrrr", rows)
    targets = {"ours_p3/hello_p3": ("≥ 0.9", lambda x: x >= 0.9), "ours_p3/ours_p2": ("≥ 1.4", lambda x: x >= 1.4),
               "ours_p2/hello_p2": ("", None), "hello_p3/hello_p2": ("", None)}
    out += ["", "Ratios in req/s, each from the same round:\n"]
    out += table(["ratio", "median", "by round", "target"], "lrrl",
                 [[k, f"{r['median_ratios'][k]:.3f}", " / ".join(f"{x:.3f}" for x in v),
                   f"{targets[k][0]}: {verdict(targets[k][1](r['median_ratios'][k]))}" if targets[k][1] else "—"]
                  for k, v in r["ratios"].items()])
    out += ["", f"Our 0.3 build under Spin 4's instance-reuse settings ({REUSE_NOTE}), one run each:\n"]
    out += table(["setting", "req/s", "p99", "CPU per request", "VmHWM (spin up's processes)", "errors"], "lrrrrr",
                 [[name, f"{c['rps']:,.0f}", fmt_us(c["p99_us"]), f"{c['cpu_ms_per_req'] * 1000:.0f} µs",
                   mib(c["vmhwm_kib_sum"]), c["status"] + c["socket_errors"]] for name, c in r["reuse"].items()])
    if r.get("in_flight"):
        conns = list(next(iter(r["in_flight"].values())))
        out += ["", "Memory by requests in flight (wrk -c), one run each: VmHWM of the process that serves "
                "(`spin trigger http`, the largest of spin up's), then req/s:\n"]
        out += table(["build", *(f"c={c}" for c in conns)], "l" + "r" * len(conns),
                     [[key, *(f"{mib(runs[c]['vmhwm_kib_max'])}, {runs[c]['rps']:,.0f} req/s" for c in conns)]
                      for key, runs in r["in_flight"].items()])
    return "\n".join(out) + "\n"


def baseline_line(name: str, describe) -> list[str]:
    """One line on the same bench before the redesign (bench/baseline/NAME), if it is there."""
    path = BASELINE / name
    if not path.exists():
        return []
    base = json.loads(path.read_text())
    try:
        text = describe(base)
    except (KeyError, ZeroDivisionError) as e:
        text = f"not comparable ({e!r})"
    return [f"Before the redesign of issue 11 (bench/baseline/{name}, {base['date']}): {text}.\n"]


# ---------------------------------------------------------------------------------------------


def render_cluster(r: dict) -> str:
    """bench/cluster/RESULTS.md: the app on a real single-node Kubernetes (bench/cluster/run.py)."""
    v = r["versions"]
    out = ["# The app on a real single-node Kubernetes", "",
           f"Measured by `make bench-cluster` (bench/cluster/run.py) on {r['date']}, {r['cores']} cores, "
           f"{r['mem_gib']} GiB; {v['kubernetes']}, {v['containerd-shim-spin']}, {v['containerd']}; the "
           f"{'wasi:http 0.3' if v['build'] == 'shim-p3' else 'wasi:http 0.2'} build, installed by the chart "
           f"(readiness probed at once and every second). The whole run took {r['took_s']} s. Written by "
           "bench/report.py from bench/cluster/results.json.", "",
           "## Starting", ""]
    f = r["first_start"]
    out += [f"First start on the node (the shim precompiles the module): `helm install` to the first 200 "
            f"through the NodePort in {f['install_to_first_answer_s']} s, to the pod Ready in "
            f"{f['install_to_ready_s']} s.", "",
            "A new replica, timed from the moment the scheduler placed it (watch events as they arrive; "
            "its own IP polled every 20 ms):", ""]
    out += table(["scale to", "scheduled → running", "scheduled → answers", "scheduled → Ready"], "rrrr",
                 [[n["scale_to"], f"{n['scheduled_to_running_s']} s", f"{n['scheduled_to_answer_s']} s",
                   f"{n['scheduled_to_ready_s']} s"] for n in r["new_replicas"]])
    out += ["## Density", "",
            "Replicas raised step by step (SpinApp `replicas`); memory once all are Ready, CPU over 20 s "
            "without requests. *cgroup* the pods' own cgroups (what the kubelet sees); *shim PSS* the containerd-shim-spin "
            "processes (each pod's sandbox and app shims), which run outside the pods' cgroups, their "
            "shared pages split between them; *all-in* the two together. "
            "*metrics-server* serves nothing for these pods on a cgroup v1 node (README, 'Autoscaling').", ""]
    out += table(["replicas", "all Ready", "restarts", "all-in / pod", "cgroup usage / pod",
                  "cgroup working set / pod", "metrics-server / pod", "shim PSS / pod",
                  "idle CPU / pod (cgroup)", "idle CPU / pod (shim)"], "rrrrrrrrrr",
                 [[d["replicas"], f"{d['all_ready_s']} s", d["restarts"],
                   f"{d['cgroup_usage_mib_per_pod'] + d['shim_pss_mib_per_pod']:.1f} MiB",
                   f"{d['cgroup_usage_mib_per_pod']} MiB", f"{d['cgroup_working_set_mib_per_pod']} MiB",
                   "none served" if not d["metrics_server_mib_per_pod"] else f"{d['metrics_server_mib_per_pod']} MiB",
                   f"{d['shim_pss_mib_per_pod']} MiB", f"{d['idle_cgroup_millicores_per_pod']} m",
                   f"{d['idle_shim_millicores_per_pod']} m"] for d in r["density"]])
    out += ["## Many at once, cold and warm", "",
            "Replicas 0 → 10 at once; *cold*: the shim's precompiled module removed from containerd's "
            "content store first, as on a node that has never run this image.", ""]
    out += table(["round", "cold", "all Ready", "restarts", "exit codes before a restart"], "lllrl",
                 [[i + 1, "yes" if m["cold"] else "no", f"{m['all_ready_s']} s", m["restarts"],
                   ", ".join(f"{k}: {n}" for k, n in sorted(m["last_exit_codes"].items())) or "—"]
                  for i, m in enumerate(r["many_at_once"])])
    out += ["## Rolling updates under load", "",
            "3 replicas, every pod replaced (a new pod template), while 20 POST /predict a second go "
            "through the NodePort, each on a new connection, 3 s timeout.", ""]
    out += table(["round", "sent", "failed", "how", "when (s into the load)"], "rrrll",
                 [[x["round"], x["sent"], x["failed"],
                   ", ".join(f"{k}: {n}" for k, n in x["kinds"].items()) or "—",
                   ", ".join(str(t) for t in sorted(x["failed_at_s"])) or "—"] for x in r["rollouts"]])
    return "\n".join(out)


def main() -> int:
    results_md = BENCH / "RESULTS.md"
    written = []
    main_json = BENCH / "results.json"
    if main_json.exists():
        r = json.loads(main_json.read_text())
        notes = (BENCH / "notes.md").read_text() if (BENCH / "notes.md").exists() else ""
        soak = json.loads(SOAK_JSON.read_text()) if SOAK_JSON.exists() else {}
        results_md.write_text(render_main(r, notes, render_soak(soak)))
        written.append(results_md)
        for label, value, ok in targets(r):
            print(f"  {re.sub(r'[*]', '', verdict(ok)):>14}  {label}: {value}")
    for sub, render in (("shim", render_shim), ("edge", render_edge), ("compare", render_compare),
                        ("p3", render_spin4), ("cluster", render_cluster)):
        src = BENCH / sub / "results.json"
        if src.exists():
            (BENCH / sub / "RESULTS.md").write_text(render(json.loads(src.read_text())))
            written.append(BENCH / sub / "RESULTS.md")
    print("wrote " + ", ".join(str(p.relative_to(BENCH.parent)) for p in written))
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
