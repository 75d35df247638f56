#!/usr/bin/env python3
"""Serve the release .wasm on one real runtime, on 127.0.0.1, for the tests and benches.

One place knows how each host starts, is known to be ready, and stops:

  wasmtime   `wasmtime serve -S cli=y` on the .wasm
  jco        `jco serve` (the component transpiled to JavaScript, on Node.js)
  spin       `spin up` on the project's own spin.toml (Spin 3.6 or 4.0)
  spin-p3    `spin up` on spin-p3.toml: the wasi:http 0.3 build (Spin 4 only)
  spin-oci   `spin registry push` to a loopback registry, then `spin up --from` that reference
  shim       the same artifact pulled by a private containerd and run by containerd-shim-spin,
             SpinKube's node runtime (`ctr run --runtime io.containerd.spin.v2`)
  shim-p3    the same with the wasi:http 0.3 build's artifact (containerd-shim-spin v0.25+)
  workerd    Cloudflare's Workers runtime (`workerd serve`) on the worker `node edge/build.mjs`
             builds from the .wasm (jco transpile + preview2-shim; see edge/README.md)

As a program (the Rust tests start it this way):

  python3 tests/runtimes.py RUNTIME --addr 127.0.0.1:PORT [--wasm PATH]

serves until SIGTERM or SIGINT, then stops everything it started (container, containerd,
registry) in order and exits 0. It prints `ready URL pid=PID sha256:HEX` (the serving
process and the sha256 of the .wasm served) once /health answers 200. As a module (the
Python tests), `serve(runtime)` is a context manager; `launched(cmd, addr, ...)`, which serve()
uses, starts any server argv and waits for its /health (the benches start theirs with it, e.g.
`wasmtime_serve_cmd` with their own wasmtime flags behind taskset and nice).

Spin, containerd-shim-spin and the `ctr` that can pull Spin artifacts are in no package
registry (UNREGISTERED): where one is missing, `not_run(runtime)` says which, and the tests
report that runtime's checks as not run, naming the program (`require(runtime)` in pytest; the
Rust harness asks `runtimes.py --not-run RUNTIME`). Everything else a runtime needs comes from
`make deps`: its absence is a failure with install advice (`Missing`), never a skip.
`runtimes.py --check` prints, per runtime, whether it runs here or why not.

Standard library only: it runs under any python3.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

REPO = Path(__file__).resolve().parents[1]
SPIN_TOML = REPO / "spin.toml"
SPIN_P3_TOML = REPO / "spin-p3.toml"
DEFAULT_WASM = REPO / "target" / "heart_disease_api.wasm"
# The wasi:http 0.3 build (crates/edge-p3): only Spin 4 and containerd-shim-spin v0.25+ run it.
DEFAULT_WASM_P3 = REPO / "target" / "heart_disease_api_p3.wasm"
APP = "heart-disease-api"
RUNTIMES = ("wasmtime", "jco", "spin", "spin-p3", "spin-oci", "shim", "shim-p3", "workerd")
# The runtimes that serve the wasi:http 0.3 build, and the oldest version of each program that
# loads a wasi:http 0.3.0-rc-2026-03-15 component.
P3 = ("spin-p3", "shim-p3")
P3_MIN_VERSION = {"spin": (4, 0, 0), "containerd-shim-spin-v2": (0, 25, 0)}
# Media type of the layers the shim precompiles (SpinKube's documented artifact format).
WASM_LAYER = "application/vnd.wasm.content.layer.v1+wasm"
# containerd's name for the shim: it runs `containerd-shim-spin-v2` from PATH.
SHIM_RUNTIME = "io.containerd.spin.v2"
READY_TIMEOUT_S = 180

INSTALL = {
    "wasmtime": "run `make deps` (cargo install wasmtime-cli --locked --version 48.0.8)",
    "jco": "run `make deps` (npm ci installs jco from package-lock.json)",
    "workerd": "run `make deps` (npm ci installs workerd from package-lock.json)",
    "node": "install Node.js 20 (Debian package nodejs)",
    "spin": "install Spin 3.6 or 4.0 with its official installer, https://spinframework.dev/install",
    "docker-registry": "run `make deps` (Debian package docker-registry)",
    "containerd": "run `make deps` (Debian package containerd)",
    "containerd-shim-spin-v2": "install containerd-shim-spin v0.24 or v0.25 from its releases,"
    " github.com/spinframework/containerd-shim-spin",
    "ctr": "put containerd's `ctr` 1.6.25 or newer first on PATH; Debian's 1.6.20 cannot unpack"
    " a Spin artifact ('mismatched image rootfs and manifest layers')",
}
# The programs no package registry reachable by CI provides: a runtime that needs one is
# reported as not run where it is missing, instead of failing.
UNREGISTERED = ("spin", "containerd-shim-spin-v2", "ctr")


class Missing(RuntimeError):
    """A program a runtime needs is not installed; the message says how to install it."""


def not_run(runtime: str) -> str | None:
    """Why `runtime` cannot run on this machine: each program it needs that no package
    registry provides and that is not on PATH (or a `ctr` too old for Spin artifacts), with how
    to install it; None when it can run."""
    reasons = []
    for name in NEEDS[runtime]:
        if name not in UNREGISTERED:
            continue
        found = shutil.which(name)
        if not found:
            reasons.append(f"`{name}` is not on PATH: {INSTALL[name]}")
        elif name == "ctr":
            version = run([found, "--version"], "ctr --version").strip()
            if ctr_too_old(version):
                reasons.append(f"{found} is {version}: {INSTALL['ctr']}")
        elif runtime in P3 and name in P3_MIN_VERSION:
            have = program_version(found, "-v" if name == "containerd-shim-spin-v2" else "--version")
            if have is None or have < P3_MIN_VERSION[name]:
                need = ".".join(map(str, P3_MIN_VERSION[name]))
                reasons.append(f"{found} is {'.'.join(map(str, have)) if have else 'of unknown version'}; "
                               f"the wasi:http 0.3 build needs {need} or newer: {INSTALL[name]}")
    return "; ".join(reasons) or None


def program_version(path: str, flag: str = "--version") -> tuple[int, ...] | None:
    """The first x.y.z a program prints for `flag` (`spin --version`: `spin 4.0.2 (…)`; the
    shim takes single-dash flags only, `-v`: `Version: 0.25.1` among other lines), or None."""
    import re

    p = subprocess.run([path, flag], capture_output=True, text=True)
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", p.stdout + p.stderr)
    return tuple(int(g) for g in found.groups()) if found else None


def default_wasm(runtime: str) -> Path:
    """The build `runtime` serves unless told otherwise: the wasi:http 0.3 build
    ($HEART_WASM_P3) on the P3 runtimes, the 0.2 build ($HEART_WASM) everywhere else."""
    if runtime in P3:
        return Path(os.environ.get("HEART_WASM_P3") or DEFAULT_WASM_P3)
    return Path(os.environ.get("HEART_WASM") or DEFAULT_WASM)


def require(runtime: str) -> None:
    """In a pytest test or fixture: reports the test as not run (a skip whose reason names the
    missing program, shown by `pytest -rs`) when `runtime` cannot run here."""
    why = not_run(runtime)
    if why:
        import pytest

        pytest.skip(f"{runtime} not run: {why}")


# Where `cargo install` (wasmtime-cli) puts programs: $CARGO_HOME/bin, by default ~/.cargo/bin.
CARGO_BIN = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo") / "bin"


def program(name: str, runtime: str) -> str:
    """The path of a program on PATH (or cargo's bin folder), or a Missing error."""
    found = shutil.which(name) or shutil.which(name, path=str(CARGO_BIN))
    if name in ("jco", "workerd"):
        local = REPO / "node_modules" / ".bin" / name
        found = str(local) if local.exists() else None
    if not found:
        raise Missing(f"{runtime}: `{name}` is not installed: {INSTALL[name]}")
    return found


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None, log: Path, what: str,
              timeout: float = READY_TIMEOUT_S, poll_s: float = 0.05) -> None:
    """Polls `url` (a fresh connection each time, every `poll_s` s) until it answers 200; fails
    with the log if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {url} within {timeout:.0f} s:\n{tail(log)}")
        time.sleep(poll_s)


def tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signals a process and waits for it; kills it after `timeout` s. Returns its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def stop_group(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to a process started with start_new_session and everything in its group;
    SIGKILL to the group after `timeout` s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run(cmd: list[str], what: str, **kw) -> str:
    """Runs a command to its end; its stdout, or an error with everything it printed."""
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{what} failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


# ---------------------------------------------------------------------------------------------
# A loopback OCI registry and the Spin artifact in it
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def registry(workdir: Path, runtime: str = "spin-oci") -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1:<free port>, storage under `workdir`; yields
    host:port."""
    exe = program("docker-registry", runtime)
    port = free_port()
    config = workdir / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'registry'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = workdir / "registry.log"
    with log.open("w") as out:
        proc = subprocess.Popen([exe, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/", proc, log, "docker-registry", timeout=60)
        yield f"127.0.0.1:{port}"
    finally:
        stop(proc)


@dataclass
class Pushed:
    """A Spin application in a registry: `reference` is repository:tag, `digest` the manifest's."""

    reference: str
    digest: str
    manifest: dict

    @property
    def pinned(self) -> str:
        """The reference by digest: what the chart deploys."""
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"


def spin_env(home: Path) -> dict[str, str]:
    """Spin keeps a cache under $HOME; give it one of its own."""
    return {**os.environ, "HOME": str(home)}


def push(host: str, wasm: Path, workdir: Path, tag: str = "test", runtime: str = "spin-oci") -> Pushed:
    """`make push` to `host`, then checks what the registry holds: one wasm layer of the
    precompilable media type whose digest is the .wasm's sha256, under the digest `make push`
    reported. `make push` picks the build by the shim the cluster runs: a P3 runtime pushes
    for containerd-shim-spin v0.25.1 (spin-p3.toml), every other for v0.24.0 (spin.toml)."""
    program("spin", runtime)
    check_spin_toml_serves(wasm, manifest_for(runtime))
    shim = "v0.25.1" if runtime in P3 else "v0.24.0"
    pushed_file = workdir / "pushed-image"
    out = run(["make", "--no-print-directory", "push", f"REGISTRY={host}", f"IMAGE_TAG={tag}",
               "WASM_BUILD_TARGET=", f"PUSHED={pushed_file}", "MINIKUBE=false",
               f"SHIM_VERSION={shim}"],
              "make push", env=spin_env(workdir), cwd=REPO)
    if f"pushing {manifest_for(runtime).name} " not in out:
        raise RuntimeError(f"make push SHIM_VERSION={shim} did not push {manifest_for(runtime).name}:\n{out}")
    pushed = pushed_artifact(host, APP, tag, wasm)
    if f"pushed {pushed.reference}@{pushed.digest}" not in out or \
            pushed_file.read_text().strip() != f"{host}/{APP}@{pushed.digest}":
        raise RuntimeError(f"make push reported another digest than the registry's {pushed.digest}:\n{out}")
    return pushed


def pushed_artifact(host: str, repository: str, tag: str, wasm: Path) -> Pushed:
    """What the registry holds at repository:tag, checked to be the Spin artifact of `wasm`: one
    wasm layer of the precompilable media type whose digest is the .wasm's sha256."""
    ref = f"{host}/{repository}:{tag}"
    manifest, digest = fetch_manifest(host, repository, tag)
    wasm_layers = [layer for layer in manifest["layers"] if layer["mediaType"] == WASM_LAYER]
    want = f"sha256:{sha256_file(wasm)}"
    if [layer["digest"] for layer in wasm_layers] != [want]:
        raise RuntimeError(f"{ref}: expected one {WASM_LAYER} layer {want}, got {manifest['layers']}")
    return Pushed(ref, digest, manifest)


def fetch_manifest(host: str, repository: str, tag: str) -> tuple[dict, str]:
    """The OCI image manifest of repository:tag and its digest, as the registry serves them."""
    req = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        body = r.read()
        digest = r.headers["Docker-Content-Digest"]
    if digest != f"sha256:{hashlib.sha256(body).hexdigest()}":
        raise RuntimeError(f"registry digest {digest} does not match the manifest it served")
    return json.loads(body), digest


def manifest_for(runtime: str) -> Path:
    """The Spin manifest a runtime serves: spin-p3.toml for the P3 runtimes, else spin.toml."""
    return SPIN_P3_TOML if runtime in P3 else SPIN_TOML


def check_spin_toml_serves(wasm: Path, manifest_path: Path = SPIN_TOML) -> None:
    """`spin up` and `spin registry push` take the component from the manifest: it must be
    `wasm`."""
    import tomllib

    manifest = tomllib.loads(manifest_path.read_text())
    sources = {(manifest_path.parent / c["source"]).resolve() for c in manifest["component"].values()}
    if sources != {wasm.resolve()}:
        raise RuntimeError(f"{manifest_path.name} serves {sorted(map(str, sources))}, not {wasm}: "
                           f"Spin runs what {manifest_path.name} names (build it with `make build`)")


# ---------------------------------------------------------------------------------------------
# A private containerd with the Spin shim: what a SpinKube node runs
# ---------------------------------------------------------------------------------------------

class Containerd:
    """A containerd daemon with its own root, state and socket under `workdir` (no CRI), that
    finds containerd-shim-spin-v2 on PATH. Use as a context manager. With `debug`, the daemon
    and the shim log at debug level: the shim's compiler then logs every function it compiles,
    and the shim logs its peak memory when a container stops (bench/shim reads it)."""

    NAMESPACE = "heart"

    def __init__(self, workdir: Path, runtime: str = "shim", debug: bool = False):
        self.debug = debug
        self.exe = program("containerd", runtime)
        program("containerd-shim-spin-v2", runtime)
        self.ctr_exe = program("ctr", runtime)
        version = run([self.ctr_exe, "--version"], "ctr --version")
        if ctr_too_old(version):
            raise Missing(f"{runtime}: {version.strip()} cannot unpack a Spin artifact: {INSTALL['ctr']}")
        self.dir = workdir / "containerd"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "containerd.sock"
        self.log = self.dir / "containerd.log"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Containerd":
        config = self.dir / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.dir / "root"}"\n'
            f'state = "{self.dir / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
            '[plugins."io.containerd.internal.v1.opt"]\n'
            f'  path = "{self.dir / "opt"}"\n'
            + ('[debug]\n  level = "debug"\n' if self.debug else "")
        )
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([self.exe, "--config", str(config)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run([self.ctr_exe, "-a", str(self.socket), "version"],
                             capture_output=True).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start:\n{tail(self.log)}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        # Tasks and containers first (a container left behind would keep its shim running).
        for name in self.ctr("containers", "list", "-q").split():
            subprocess.run(self._ctr_args("task", "kill", "-s", "SIGKILL", name), capture_output=True)
            subprocess.run(self._ctr_args("task", "delete", "-f", name), capture_output=True)
            subprocess.run(self._ctr_args("containers", "delete", name), capture_output=True)
        if self.proc is not None:
            stop(self.proc)

    def _ctr_args(self, *args: str) -> list[str]:
        return [self.ctr_exe, "-a", str(self.socket), "-n", self.NAMESPACE, *args]

    def ctr(self, *args: str) -> str:
        return run(self._ctr_args(*args), f"ctr {args[0]}")

    def pull(self, reference: str) -> None:
        self.ctr("images", "pull", "--plain-http", reference)

    def run_app(self, reference: str, name: str, addr: str, log: Path,
                extra_args: tuple[str, ...] = ()) -> subprocess.Popen:
        """`ctr run` of a pulled Spin image on the shim, host network, listening on `addr`
        (the shim reads the address only from SPIN_HTTP_LISTEN_ADDR)."""
        with log.open("a") as out:
            return subprocess.Popen(
                self._ctr_args("run", "--rm", "--net-host", "--runtime", SHIM_RUNTIME,
                               "--env", f"SPIN_HTTP_LISTEN_ADDR={addr}", *extra_args,
                               reference, name, "/"),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def kill_task(self, name: str, sig: str = "SIGTERM") -> None:
        subprocess.run(self._ctr_args("task", "kill", "-s", sig, name), capture_output=True)


def ctr_too_old(version_text: str) -> bool:
    """Debian's ctr 1.6.20 cannot unpack Spin artifacts; 1.6.25 can."""
    try:
        parts = version_text.split()[-1].lstrip("v").split("~")[0].split("-")[0].split(".")
        major, minor, patch = (int(p) for p in parts[:3])
    except (ValueError, IndexError):
        return False
    return (major, minor, patch) < (1, 6, 25)


# ---------------------------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------------------------

@dataclass
class Server:
    runtime: str
    addr: str
    url: str
    log: Path
    wasm_sha256: str
    workdir: Path
    # The serving process (wasmtime, node, spin, workerd); for the shim, `ctr run` (the app
    # itself runs in containerd-shim-spin-v2 processes named by the container: `-id NAME`).
    # `spin up` serves from a child process (`spin trigger http`): measure the whole tree.
    pid: int = 0


@contextlib.contextmanager
def serve(runtime: str, addr: str | None = None, wasm: Path | None = None,
          log: Path | None = None, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Serves the .wasm on `runtime` at `addr` (a free 127.0.0.1 port by default) until the
    block ends; everything it started is stopped in order, also on failure. `env` is added to
    the runtime's environment (e.g. OTEL_EXPORTER_OTLP_ENDPOINT); in the shim, the container's."""
    env = env or {}
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; one of {', '.join(RUNTIMES)}")
    wasm = Path(wasm or default_wasm(runtime))
    if not wasm.is_file():
        raise RuntimeError(f"{wasm} is missing: build it with `make build` (or run `make test`)")
    addr = addr or f"127.0.0.1:{free_port()}"
    host, port = addr.rsplit(":", 1)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"heart-{runtime}-")))
        log = log or workdir / "server.log"
        server = Server(runtime, addr, f"http://{addr}", log, sha256_file(wasm), workdir)
        log.touch()
        if runtime in ("shim", "shim-p3"):
            node = Containerd(workdir, runtime)
            pushed = push(stack.enter_context(registry(workdir, runtime)), wasm, workdir,
                          runtime=runtime)
            stack.enter_context(node)
            node.pull(pushed.pinned)
            name = f"heart-{port}"
            env_args = tuple(a for k, v in env.items() for a in ("--env", f"{k}={v}"))
            proc = node.run_app(pushed.pinned, name, addr, log, env_args)
            server.pid = proc.pid
            stack.callback(stop_container, node, name, proc)
            wait_http(f"{server.url}/health", None, log, runtime)
            yield server
            return
        # Every other runtime is one process on `addr`, with its own base environment.
        base_env = os.environ
        if runtime == "wasmtime":
            cmd = wasmtime_serve_cmd(wasm, addr)
        elif runtime == "jco":
            cmd = [program("jco", runtime), "serve", "--host", host, "--port", port, str(wasm)]
        elif runtime in ("spin", "spin-p3"):
            check_spin_toml_serves(wasm, manifest_for(runtime))
            cmd = [program("spin", runtime), "up", "--from", str(manifest_for(runtime)), "--listen", addr,
                   "--state-dir", str(workdir / "spin-state")]
            base_env = spin_env(workdir)
        elif runtime == "spin-oci":
            spin = program("spin", runtime)
            pushed = push(stack.enter_context(registry(workdir)), wasm, workdir)
            cmd = [spin, "up", "--from", pushed.pinned, "--insecure", "--listen", addr]
            base_env = spin_env(workdir)
        else:  # workerd
            edge = build_edge(wasm, workdir / "edge", runtime)
            cmd = [program("workerd", runtime), "serve", str(edge / "config.capnp"),
                   "--socket-addr", f"http={addr}"]
        server.pid = stack.enter_context(launched(cmd, addr, log, runtime, {**base_env, **env})).pid
        yield server


def wasmtime_serve_cmd(wasm: Path, addr: str, args: Sequence[str] = (), wasmtime: str | None = None) -> list[str]:
    """`wasmtime serve -S cli=y [ARGS] --addr ADDR WASM`, as every caller serves the component
    on wasmtime (`--allow-precompiled` added for a `wasmtime compile`d .cwasm). bench/run.py
    adds its flags (pooling allocator, perf map, `--no-logging-prefix`) in `args`."""
    pre = ["--allow-precompiled"] if Path(wasm).suffix == ".cwasm" else []
    return [wasmtime or program("wasmtime", "wasmtime"), "serve", "-S", "cli=y", *pre, *args,
            "--addr", addr, str(wasm)]


@dataclass
class Launched:
    proc: subprocess.Popen
    url: str
    # Seconds from just before the launch to the first 200 on the ready path.
    ready_s: float

    @property
    def pid(self) -> int:
        return self.proc.pid


@contextlib.contextmanager
def launched(cmd: list[str], addr: str, log: Path, what: str, env: dict | None = None, path: str = "/health",
             poll_s: float = 0.05, timeout: float = READY_TIMEOUT_S) -> Iterator[Launched]:
    """Starts a server (`cmd`, which listens on `addr`; any prefix such as `nice` or `taskset`
    that execs it keeps its pid) as `process()` does, and waits until GET `path` answers 200,
    polled every `poll_s` s; stopped when the block ends. The one "start it, wait for ready"
    of the tests and benches: serve() uses it, bench/run.py with its own argv and a 2 ms poll
    (cold start is `ready_s`)."""
    t0 = time.perf_counter()
    with process(cmd, log, what, env) as proc:
        wait_http(f"http://{addr}{path}", proc, log, what, timeout, poll_s)
        yield Launched(proc, f"http://{addr}", time.perf_counter() - t0)


def build_edge(wasm: Path, out: Path, runtime: str = "workerd") -> Path:
    """`node edge/build.mjs` (what `make edge` runs) from `wasm` into `out`; checks the worker
    was built from that .wasm (build.json records its sha256)."""
    run([program("node", runtime), str(REPO / "edge" / "build.mjs"), "--wasm", str(wasm),
         "--out", str(out)], "edge/build.mjs", cwd=REPO)
    built = json.loads((out / "build.json").read_text())["sha256"]
    if built != sha256_file(wasm):
        raise RuntimeError(f"edge/build.mjs built from sha256:{built}, not {wasm}")
    return out


def stop_container(node: Containerd, name: str, proc: subprocess.Popen, timeout: float = 15) -> int:
    """SIGTERM to the app's task, as the kubelet sends it; SIGKILL after `timeout` s."""
    node.kill_task(name, "SIGTERM")
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        node.kill_task(name, "SIGKILL")
        return stop(proc)


@contextlib.contextmanager
def process(cmd: list[str], log: Path, what: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """A server process writing to `log`, in its own process group; stopped with SIGTERM."""
    with log.open("a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=REPO, start_new_session=True)
    try:
        yield proc
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited early with {proc.returncode}:\n{tail(log)}")
    finally:
        # The whole group: `jco serve` runs its server in a child Node.js process.
        stop_group(proc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runtime", choices=RUNTIMES, nargs="?")
    parser.add_argument("--check", action="store_true",
                        help="print, per runtime, whether it runs here or why not (exit 0)")
    parser.add_argument("--not-run", action="store_true",
                        help="print why RUNTIME cannot run here and exit 3, or exit 0 when it can")
    parser.add_argument("--addr", help="host:port to listen on (default: a free 127.0.0.1 port)")
    parser.add_argument("--wasm", type=Path, help="the component (default: the runtime's build,"
                        " $HEART_WASM or $HEART_WASM_P3 when set)")
    parser.add_argument("--log", type=Path, help="where the server's output goes (default: stdout)")
    args = parser.parse_args()
    if args.check:
        return check_installed()
    if args.runtime is None:
        parser.error("name a runtime, or --check")
    if args.not_run:
        why = not_run(args.runtime)
        if why:
            print(why)
        return 3 if why else 0
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    try:
        with serve(args.runtime, args.addr, args.wasm, args.log) as server:
            print(f"ready {server.url} pid={server.pid} sha256:{server.wasm_sha256}", flush=True)
            if args.log is None:
                follow(server.log, stopping)
            while not stopping:
                time.sleep(0.1)
    except Missing as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


# The programs each runtime needs, beyond the .wasm.
NEEDS = {
    "wasmtime": ["wasmtime"],
    "jco": ["jco"],
    "spin": ["spin"],
    "spin-p3": ["spin"],
    "spin-oci": ["spin", "docker-registry"],
    "shim": ["spin", "docker-registry", "containerd", "containerd-shim-spin-v2", "ctr"],
    "shim-p3": ["spin", "docker-registry", "containerd", "containerd-shim-spin-v2", "ctr"],
    "workerd": ["node", "jco", "workerd"],
}


def check_installed() -> int:
    """One line per runtime: `runs here`, or `not run here` and why. Programs from the
    registries that are missing are listed too (`make deps` installs them). Always 0: a runtime
    that cannot run here is reported by the tests as not run, not an error."""
    for runtime in NEEDS:
        why = not_run(runtime)
        absent = []
        for name in NEEDS[runtime]:
            if name not in UNREGISTERED:
                try:
                    program(name, runtime)
                except Missing:
                    absent.append(name)
        if why:
            state = f"not run here: {why}"
        elif absent:
            state = f"runs once `make deps` installs {', '.join(absent)}"
        else:
            state = "runs here"
        print(f"  {runtime:<9} {state}")
    return 0


def follow(log: Path, stopping: list) -> None:
    """Copies the server's log to stdout as it grows, until stopped."""
    with log.open("rb") as f:
        while not stopping:
            chunk = f.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            else:
                time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
