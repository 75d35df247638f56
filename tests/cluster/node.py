"""A throwaway single-node Kubernetes, for `make test-cluster` and `make bench-cluster`.

What a SpinKube node is, from programs on PATH and Debian packages, with nothing outside a
network namespace the run creates (`netns.py` creates it and runs everything inside):

  etcd (Debian), kube-apiserver, kube-controller-manager, kube-scheduler
  containerd (Debian) with the CRI plugin, runc for ordinary pods and containerd-shim-spin for
    the RuntimeClass `wasmtime-spin-v2` (handler `spin`); the bridge CNI plugin (Debian)
  kubelet (cgroupfs driver), kube-proxy (iptables mode)
  spin-operator (run beside the cluster, webhooks off) with the upstream CRDs from
    ../shared/upstream/, and a `containerd-shim-spin` SpinAppExecutor in each test namespace
  metrics-server (beside the cluster, behind the aggregated metrics.k8s.io API)
  docker-registry (Debian) on 127.0.0.1:5000, as Minikube's registry addon is on its node
  dnsmasq (Debian) as the cluster DNS for the Services (`helm test` resolves the Service name)

The node's address is NODE_IP on a veth inside the namespace; pods get 10.244.0.0/16 on the bridge cni0;
Services 10.96.0.0/16. Every component authenticates with one admin certificate: the cluster
lives for one test run and nothing else can reach it.

`Cluster` is a context manager: entering brings the cluster up (seconds, once the programs
exist), leaving tears it down: pods first (so CRI releases their network), then every process
it started and every shim containerd started, the mounts under its folder and its pods'
network namespaces, the kubelet's cgroups. `leftovers()` lists whatever is still there.
Standard library only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for runtimes.py
from kube import GaveUp, Kube, wait_for  # noqa: E402
from runtimes import ctr_too_old, stop_group  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
UPSTREAM = Path(os.environ.get("HEART_UPSTREAM") or REPO.parent / "shared" / "upstream")

NODE = "node0"
NODE_IP = "10.77.0.1"
CLIENT_IP = "10.77.0.2"  # a machine outside the node, on node0's link (netns.py)
# A /16, not a node's usual /24: a run starts several hundred pods, and once the bridge's
# IP allocator had wrapped around, connections to a new pod on an address a gone pod had used
# timed out or got "no route to host" for seconds (most likely the node's neighbour entry
# still held the old pod's MAC address).
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
REGISTRY = "127.0.0.1:5000"
RUNTIME_CLASS = "wasmtime-spin-v2"
RUNTIME_HANDLER = "spin"
EXECUTOR = "containerd-shim-spin"
PAUSE_IMAGE = f"{REGISTRY}/pause:3.9"
# The `helm test` pod's image: Debian's static busybox in an image of its own.
BUSYBOX_IMAGE = "localhost:5000/busybox:1.36.1"
# The drain hook Job's image: the kubectl on PATH (a static binary) in an image of its own.
KUBECTL_IMAGE = {"repository": "localhost:5000/kubectl", "tag": "local"}

# Programs in no package registry (built from their public sources; see README "On a real
# cluster"), then Debian's.
UNREGISTERED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
                "kube-proxy", "kubectl", "spin-operator", "metrics-server", "pause",
                "containerd-shim-spin-v2", "ctr", "spin")
DEBIAN = {"etcd": "etcd-server", "containerd": "containerd", "runc": "runc",
          "docker-registry": "docker-registry", "dnsmasq": "dnsmasq-base",
          "busybox": "busybox-static", "iptables": "iptables", "conntrack": "conntrack",
          "openssl": "openssl", "nsenter": "util-linux", "ip": "iproute2", "nstat": "iproute2"}
CNI_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")


def client_netns(cluster_netns: str) -> str:
    """The client's network namespace, beside the cluster's (netns.py makes both)."""
    return f"{cluster_netns}-client"


def not_run() -> str | None:
    """Why the cluster cannot be brought up here (the missing programs, and how to get them),
    or None. Programs from Debian's packages are installed by `make deps`: their absence is
    reported too, since `make test-cluster` is the only user."""
    missing = [name for name in UNREGISTERED if not shutil.which(name)]
    why = []
    if missing:
        why.append("not on PATH: " + ", ".join(missing) + " (in no package registry: see README.md,"
                   " 'On a real cluster')")
    ctr = shutil.which("ctr")
    if ctr and ctr_too_old(subprocess.run([ctr, "--version"], capture_output=True,
                                          text=True).stdout):
        why.append(f"{ctr} is older than 1.6.25 and cannot unpack a Spin artifact")
    debian = [f"{name} ({pkg})" for name, pkg in DEBIAN.items()
              if not shutil.which(name) and not Path("/usr/sbin", name).exists()]
    debian += [f"{CNI_DIR / p} (containernetworking-plugins)" for p in CNI_PLUGINS
               if not (CNI_DIR / p).exists()]
    if debian:
        why.append("Debian packages missing (make deps): " + ", ".join(debian))
    if not (UPSTREAM / "spin-operator-v0.6.1").is_dir():
        why.append(f"the upstream CRDs are not in {UPSTREAM}")
    if os.geteuid() != 0:
        why.append("a kubelet and a network namespace need root")
    return "; ".join(why) or None


def run(cmd: list[str], what: str | None = None, **kw: Any) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{what or cmd[0]} failed ({p.returncode}): {' '.join(cmd)}\n"
                           f"{p.stdout}{p.stderr}")
    return p.stdout


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ---------------------------------------------------------------------------------------------
# Certificates: one CA, the API server's serving certificate, one admin client certificate
# (system:masters) for every component, the aggregation layer's front proxy, the service
# account key pair.
# ---------------------------------------------------------------------------------------------

def make_pki(pki: Path) -> None:
    pki.mkdir(parents=True)
    ssl = shutil.which("openssl") or "openssl"

    def key(name: str) -> None:
        run([ssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(pki / f"{name}.key")])

    def cert(name: str, subject: str, ext: str) -> None:
        key(name)
        (pki / f"{name}.ext").write_text(ext)
        run([ssl, "req", "-new", "-key", str(pki / f"{name}.key"), "-subj", subject,
             "-out", str(pki / f"{name}.csr")])
        run([ssl, "x509", "-req", "-in", str(pki / f"{name}.csr"), "-CA", str(pki / "ca.crt"),
             "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "2",
             "-extfile", str(pki / f"{name}.ext"), "-out", str(pki / f"{name}.crt")])

    key("ca")
    run([ssl, "req", "-x509", "-new", "-key", str(pki / "ca.key"), "-subj", "/CN=heart-test-ca",
         "-days", "2", "-out", str(pki / "ca.crt")])
    client = "extendedKeyUsage=clientAuth\n"
    sans = ",".join(["DNS:kubernetes", "DNS:kubernetes.default", "DNS:kubernetes.default.svc",
                     "DNS:kubernetes.default.svc.cluster.local", "DNS:localhost",
                     "IP:127.0.0.1", f"IP:{NODE_IP}", "IP:10.96.0.1"])
    cert("apiserver", "/CN=kube-apiserver", f"extendedKeyUsage=serverAuth\nsubjectAltName={sans}\n")
    cert("admin", "/O=system:masters/CN=heart-test-admin", client)
    cert("front-proxy", "/CN=front-proxy-client", client)
    run([ssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", str(pki / "sa.key")])
    run([ssl, "pkey", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")])


def kubeconfig(pki: Path, server: str) -> str:
    def b64(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "heart-test",
        "clusters": [{"name": "heart-test", "cluster": {
            "server": server, "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": "admin", "user": {
            "client-certificate-data": b64("admin.crt"), "client-key-data": b64("admin.key")}}],
        "contexts": [{"name": "heart-test", "context": {"cluster": "heart-test", "user": "admin"}}],
    }, indent=1)


# ---------------------------------------------------------------------------------------------
# Images the node needs that are not the app: pushed to the loopback registry as OCI images
# ---------------------------------------------------------------------------------------------

def push_image(registry: str, repository: str, tag: str, files: dict[str, tuple[bytes, int]],
               entrypoint: list[str], symlinks: dict[str, str] | None = None) -> str:
    """Pushes a one-layer OCI image (`files`: path -> (content, mode)) with the registry's
    HTTP API; returns the manifest digest."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for path, (content, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(content), mode
            tar.addfile(info, io.BytesIO(content))
        for path, target in sorted((symlinks or {}).items()):
            info = tarfile.TarInfo(path)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    layer_bytes = layer.getvalue()
    layer_digest = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": entrypoint, "User": "65534:65534"},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    }).encode()
    base = f"http://{registry}/v2/{repository}"
    for blob in (layer_bytes, config):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        req = urllib.request.Request(f"{base}/blobs/uploads/", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as r:
            location = r.headers["Location"]
        if location.startswith("/"):
            location = f"http://{registry}{location}"
        sep = "&" if "?" in location else "?"
        req = urllib.request.Request(f"{location}{sep}digest={digest}", method="PUT", data=blob,
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(req, timeout=30).close()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer_bytes)}],
    }).encode()
    req = urllib.request.Request(f"{base}/manifests/{tag}", method="PUT", data=manifest,
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(req, timeout=30).close()
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


# ---------------------------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------------------------

class Cluster(Kube):
    """The throwaway cluster: `with Cluster() as c:` brings it up in the current network
    namespace (netns.py's); it is a `Kube` on its admin kubeconfig (`c.kubectl(...)`,
    `c.helm(namespace)`)."""

    def __init__(self, workdir: Path | None = None):
        self.dir = workdir or Path(tempfile.mkdtemp(prefix="heart-cluster-"))
        self.logs = self.dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.pki = self.dir / "pki"
        super().__init__(self.dir / "admin.kubeconfig")
        self.procs: dict[str, subprocess.Popen] = {}
        self.netns_before = set(os.listdir("/run/netns")) if Path("/run/netns").is_dir() else set()
        self._dns_stop = threading.Event()
        self._dns_thread: threading.Thread | None = None

    # -- processes -----------------------------------------------------------------------

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("w")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def wait_for(self, what: str, check, timeout: float = 120, proc: str | None = None) -> Any:
        """kube.wait_for, failing at once with the log of `proc` if that process exits."""

        def alive_check() -> Any:
            if proc and self.procs[proc].poll() is not None:
                raise GaveUp(f"{proc} exited with {self.procs[proc].returncode} while waiting "
                                 f"for {what}:\n{tail(self.logs / f'{proc}.log')}")
            return check()

        return wait_for(what, alive_check, timeout,
                        (lambda: tail(self.logs / f"{proc}.log")) if proc else None)

    # -- bring-up ------------------------------------------------------------------------

    def __enter__(self) -> "Cluster":
        try:
            self._up()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _up(self) -> None:
        d = self.dir
        make_pki(self.pki)
        self.kubeconfig.write_text(kubeconfig(self.pki, f"https://{NODE_IP}:6443"))
        (d / "resolv.conf").write_text(f"nameserver {NODE_IP}\n")

        self._start_registry()
        self.start("etcd", ["etcd", "--data-dir", str(d / "etcd"), "--name", NODE,
                            "--listen-client-urls", "http://127.0.0.1:2379",
                            "--advertise-client-urls", "http://127.0.0.1:2379",
                            "--listen-peer-urls", "http://127.0.0.1:2380",
                            "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                            "--initial-cluster", f"{NODE}=http://127.0.0.1:2380"])
        p = self.pki
        self.start("kube-apiserver", [
            "kube-apiserver", "--etcd-servers=http://127.0.0.1:2379",
            f"--advertise-address={NODE_IP}", "--bind-address=0.0.0.0", "--secure-port=6443",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--service-node-port-range=30000-32767",
            f"--client-ca-file={p / 'ca.crt'}", f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--service-account-key-file={p / 'sa.pub'}",
            f"--service-account-signing-key-file={p / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC", "--allow-privileged=true",
            f"--kubelet-client-certificate={p / 'admin.crt'}",
            f"--kubelet-client-key={p / 'admin.key'}",
            # Reach the kubelet (logs, exec) at the node's address, not by looking up its name.
            "--kubelet-preferred-address-types=InternalIP",
            f"--requestheader-client-ca-file={p / 'ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={p / 'front-proxy.crt'}",
            f"--proxy-client-key-file={p / 'front-proxy.key'}",
            "--enable-aggregator-routing=true",
        ])
        self.wait_for("the API server", lambda: "ok" in self.kubectl("get", "--raw", "/readyz"),
                      proc="kube-apiserver")
        kc = str(self.kubeconfig)
        self.start("kube-controller-manager", [
            "kube-controller-manager", f"--kubeconfig={kc}", "--leader-elect=false",
            f"--service-account-private-key-file={p / 'sa.key'}",
            f"--root-ca-file={p / 'ca.crt'}", "--use-service-account-credentials=false",
            f"--cluster-signing-cert-file={p / 'ca.crt'}",
            f"--cluster-signing-key-file={p / 'ca.key'}",
            # The HPA looks at the metrics every 5 s, not 15, and scales down after 15 s of low
            # load, not 5 minutes: the autoscaling check waits less (the cluster's settings,
            # not the chart's).
            "--horizontal-pod-autoscaler-sync-period=5s",
            "--horizontal-pod-autoscaler-downscale-stabilization=15s",
        ])
        self.start("kube-scheduler", ["kube-scheduler", f"--kubeconfig={kc}", "--leader-elect=false"])
        self._start_containerd()
        self._start_kubelet()
        self._start_kube_proxy()
        self._start_dns()
        self.wait_for("node0 Ready", self._node_ready, timeout=120, proc="kubelet")
        self._install_spinkube()
        self._start_metrics_server()

    def _start_registry(self) -> None:
        config = self.dir / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir / 'registry'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {REGISTRY}\n")
        self.start("registry", ["docker-registry", "serve", str(config)])
        self.wait_for("the registry", lambda: urllib.request.urlopen(
            f"http://{REGISTRY}/v2/", timeout=2).status == 200, proc="registry")
        pause = Path(shutil.which("pause") or "pause").read_bytes()
        push_image(REGISTRY, "pause", "3.9", {"pause": (pause, 0o755)}, ["/pause"])
        busybox = Path(shutil.which("busybox") or "busybox").read_bytes()
        push_image(REGISTRY, "busybox", "1.36.1", {"bin/busybox": (busybox, 0o755)},
                   ["/bin/busybox"], {"bin/sh": "busybox", "bin/wget": "busybox"})
        kubectl = Path(shutil.which("kubectl") or "kubectl").read_bytes()
        push_image(REGISTRY, "kubectl", KUBECTL_IMAGE["tag"], {"bin/kubectl": (kubectl, 0o755)},
                   ["/bin/kubectl"], {})

    def _start_containerd(self) -> None:
        d = self.dir / "containerd"
        (d / "cni").mkdir(parents=True)
        (d / "cni" / "10-heart.conflist").write_text(json.dumps({
            "cniVersion": "0.4.0", "name": "heart",
            "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": True,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                          "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(d / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ]}))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        mirror = (f'endpoint = ["http://{REGISTRY}"]\n')
        (d / "config.toml").write_text(
            "version = 2\n"
            f'root = "{d / "root"}"\nstate = "{d / "state"}"\n'
            f'[grpc]\n  address = "{d / "containerd.sock"}"\n'
            f'[ttrpc]\n  address = "{d / "containerd.sock.ttrpc"}"\n'
            f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{d / "opt"}"\n'
            f'[{cri}]\n  sandbox_image = "{PAUSE_IMAGE}"\n'
            # No CAP_SYS_RESOURCE here: containerd may only raise pods' oom_score_adj.
            "  restrict_oom_score_adj = true\n"
            f'[{cri}.cni]\n  bin_dir = "{CNI_DIR}"\n  conf_dir = "{d / "cni"}"\n'
            f'[{cri}.containerd]\n  default_runtime_name = "runc"\n'
            f'[{cri}.containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n'
            f'[{cri}.containerd.runtimes.{RUNTIME_HANDLER}]\n  runtime_type = "io.containerd.spin.v2"\n'
            f'[{cri}.registry.mirrors."{REGISTRY}"]\n  {mirror}'
            f'[{cri}.registry.mirrors."localhost:5000"]\n  {mirror}'
        )
        self.containerd_sock = d / "containerd.sock"
        self.start("containerd", ["containerd", "--config", str(d / "config.toml")])
        self.wait_for("containerd", lambda: subprocess.run(
            ["ctr", "-a", str(self.containerd_sock), "version"], capture_output=True).returncode == 0,
            proc="containerd")

    def _start_kubelet(self) -> None:
        d = self.dir / "kubelet"
        d.mkdir()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "address": NODE_IP, "readOnlyPort": 0, "cgroupDriver": "cgroupfs", "failSwapOn": False,
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": str(self.pki / "ca.crt")}},
            "authorization": {"mode": "AlwaysAllow"},
            "clusterDomain": "cluster.local", "clusterDNS": [NODE_IP],
            "resolvConf": str(self.dir / "resolv.conf"),
            "containerRuntimeEndpoint": f"unix://{self.containerd_sock}",
            "podCIDR": POD_CIDR, "maxPods": 110, "serializeImagePulls": False,
            # A shared test machine: never evict or collect images because of the host's disk.
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "enforceNodeAllocatable": ["pods"],
            "fileCheckFrequency": "5s", "syncFrequency": "10s",
        }
        (d / "config.json").write_text(json.dumps(config))
        self.start("kubelet", ["kubelet", f"--kubeconfig={self.kubeconfig}",
                               f"--config={d / 'config.json'}", f"--root-dir={d / 'root'}",
                               f"--cert-dir={d / 'pki'}", f"--hostname-override={NODE}",
                               f"--node-ip={NODE_IP}"])

    def _start_kube_proxy(self) -> None:
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.kubeconfig)}, "mode": "iptables",
            "clusterCIDR": POD_CIDR, "hostnameOverride": NODE,
            "bindAddress": NODE_IP, "healthzBindAddress": f"{NODE_IP}:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            # Leave the host's conntrack table size and timeouts alone.
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                          "tcpCloseWaitTimeout": "0s"},
        }
        (self.dir / "kube-proxy.json").write_text(json.dumps(config))
        self.start("kube-proxy", ["kube-proxy", f"--config={self.dir / 'kube-proxy.json'}"])

    def _start_dns(self) -> None:
        """dnsmasq answers <service>.<namespace>.svc[.cluster.local] from a hosts file that a
        thread rewrites from the Services every 0.5 s (SIGHUP reloads it)."""
        hosts = self.dir / "services.hosts"
        hosts.write_text("")
        self.start("dnsmasq", ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
                               "--no-daemon", f"--listen-address={NODE_IP}", "--bind-interfaces",
                               f"--addn-hosts={hosts}", "--user=root", "--pid-file=",
                               "--local=/cluster.local/", "--local=/svc/"])

        def refresh() -> None:
            last = ""
            while not self._dns_stop.wait(0.5):
                try:
                    services = self.get("services", "-A")["items"]
                except Exception:  # noqa: BLE001 — the API server may be going away
                    continue
                lines = []
                for s in services:
                    ip = s["spec"].get("clusterIP")
                    if ip and ip != "None":
                        n, ns = s["metadata"]["name"], s["metadata"]["namespace"]
                        lines.append(f"{ip} {n}.{ns}.svc.cluster.local {n}.{ns}.svc")
                text = "\n".join(sorted(lines)) + "\n"
                if text != last:
                    hosts.write_text(text)
                    self.procs["dnsmasq"].send_signal(signal.SIGHUP)
                    last = text

        self._dns_thread = threading.Thread(target=refresh, daemon=True)
        self._dns_thread.start()

    def _node_ready(self) -> bool:
        node = self.get("node", NODE)
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in node["status"].get("conditions", []))

    def _install_spinkube(self) -> None:
        crds = sorted((UPSTREAM / "spin-operator-v0.6.1").glob("*.yaml"))
        crds += sorted((UPSTREAM / "prometheus-operator-v0.93.0").glob("*.yaml"))
        for crd in crds:
            self.kubectl("apply", "--server-side", "-f", str(crd))
        self.apply([{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                     "metadata": {"name": RUNTIME_CLASS}, "handler": RUNTIME_HANDLER}])
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/spinapps.core.spinkube.dev", "crd/spinappexecutors.core.spinkube.dev")
        self.start("spin-operator", ["spin-operator", "-kubeconfig", str(self.kubeconfig),
                                     "-metrics-bind-address", "127.0.0.1:8080",
                                     "-health-probe-bind-address", "127.0.0.1:8082"])
        self.wait_for("spin-operator", lambda: urllib.request.urlopen(
            "http://127.0.0.1:8082/readyz", timeout=2).status == 200, proc="spin-operator")

    def _start_metrics_server(self) -> None:
        self.start("metrics-server", [
            "metrics-server", f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--secure-port=4443", f"--bind-address={NODE_IP}",
            f"--cert-dir={self.dir / 'metrics-server'}", "--kubelet-insecure-tls",
            "--kubelet-preferred-address-types=InternalIP", "--metric-resolution=15s"])
        self.apply([
            {"apiVersion": "v1", "kind": "Service",
             "metadata": {"name": "metrics-server", "namespace": "kube-system"},
             "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 4443}]}},
            {"apiVersion": "v1", "kind": "Endpoints",
             "metadata": {"name": "metrics-server", "namespace": "kube-system"},
             "subsets": [{"addresses": [{"ip": NODE_IP}],
                          "ports": [{"name": "https", "port": 4443}]}]},
            {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
             "metadata": {"name": "v1beta1.metrics.k8s.io"},
             "spec": {"group": "metrics.k8s.io", "version": "v1beta1",
                      "groupPriorityMinimum": 100, "versionPriority": 100,
                      "insecureSkipTLSVerify": True,
                      "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}}},
        ])
        self.wait_for("the metrics API", lambda: "node0" in self.kubectl(
            "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"), timeout=120,
            proc="metrics-server")

    # -- teardown --------------------------------------------------------------------------

    def __exit__(self, *exc: object) -> None:
        self._dns_stop.set()
        if "kubelet" in self.procs and self.procs["kubelet"].poll() is None:
            # Pods first, while the kubelet runs: CRI then releases their network.
            with contextlib.suppress(Exception):
                self.kubectl("delete", "spinapps", "--all", "-A", "--wait=false", check=False)
                self.kubectl("delete", "pods", "--all", "-A", "--grace-period=0", "--force",
                             "--wait=false", check=False)
                self.wait_for("the pods to go", lambda: not self._sandboxes(), timeout=60)
        for name in reversed(list(self.procs)):
            stop_group(self.procs[name])
        self.clean()

    def _sandboxes(self) -> list[str]:
        out = subprocess.run(["ctr", "-a", str(self.dir / "containerd" / "containerd.sock"),
                              "-n", "k8s.io", "containers", "list", "-q"],
                             capture_output=True, text=True).stdout
        return out.split()

    def clean(self) -> None:
        """Whatever the processes left: shims (they outlive containerd), mounts under the
        folder, the pods' network namespaces, the kubelet's cgroups."""
        for pid in self._our_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self._our_pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        for target in sorted(self._our_mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
        for name in self._our_netns():
            subprocess.run(["umount", "-l", f"/run/netns/{name}"], capture_output=True)
            with contextlib.suppress(OSError):
                os.unlink(f"/run/netns/{name}")
        for cgroup in self._our_cgroups():
            for sub in sorted((p for p in cgroup.rglob("*") if p.is_dir()),
                              key=lambda p: len(p.parts), reverse=True):
                with contextlib.suppress(OSError):
                    sub.rmdir()
            with contextlib.suppress(OSError):
                cgroup.rmdir()

    def _our_pids(self) -> list[int]:
        me = str(self.dir)
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if me.encode() in (entry / "cmdline").read_bytes():
                        pids.append(int(entry.name))
        return pids

    def _our_mounts(self) -> list[str]:
        me = str(self.dir)
        return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                if line.split()[4].startswith(me)]

    def _our_netns(self) -> list[str]:
        now = set(os.listdir("/run/netns")) if Path("/run/netns").is_dir() else set()
        return sorted(n for n in now - self.netns_before if n.startswith("cni-"))

    @staticmethod
    def _our_cgroups() -> list[Path]:
        return [p for p in Path("/sys/fs/cgroup").glob("*/kubepods*") if p.is_dir()]

    # -- the network as the pods and clients see it ------------------------------------------

    @property
    def client(self) -> str:
        """The network namespace of a client outside the node (netns.py makes it)."""
        return client_netns(os.environ["HEART_NETNS"])

    def pods_tcp_counter(self, name: str) -> int:
        """A kernel TCP counter (`nstat`'s name, e.g. TcpExtPAWSTimewait) summed over the pods'
        network namespaces."""
        return sum(tcp_counter(name, netns) for netns in self._our_netns())

    def routed_pods(self) -> set[str]:
        """The pod addresses kube-proxy's rules send Service traffic to now (its DNAT
        targets in the pod network): what a stale rule still points at shows up here."""
        out = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                             check=True).stdout
        prefix = POD_CIDR.split(".0.0/")[0] + "."
        return {ip for ip in re.findall(r"--to-destination (\d+\.\d+\.\d+\.\d+):\d+", out)
                if ip.startswith(prefix)}

    def forget_connections(self, client_ip: str, port: int | None = None) -> str:
        """Drops the node's conntrack entries of `client_ip`'s TCP connections (to node port
        `port`, if given) and returns them as `conntrack -L` lists them. An entry outlives its
        connection (SYN_SENT and TIME_WAIT for 120 s), and a new connection that reuses its
        source port is sent where the old one went, even to a pod that is gone: a check that
        follows another from the same client starts as a fresh client would."""
        match = ["-p", "tcp", "--orig-src", client_ip, *(["--orig-port-dst", str(port)] if port else [])]
        out = subprocess.run(["conntrack", "-L", *match], capture_output=True, text=True).stdout
        subprocess.run(["conntrack", "-D", *match], capture_output=True)
        return out

    def seen_from(self, client_ip: str, port: int) -> set[str]:
        """The addresses the pods saw `client_ip`'s connections to node port `port` come from
        (the reply destinations of their conntrack entries: the client's own, or the node's
        when kube-proxy masqueraded them), since the last call: it forgets the entries."""
        out = self.forget_connections(client_ip, port)
        return {found[1] for found in (re.findall(r"dst=(\S+)", line) for line in out.splitlines())
                if len(found) == 2}

    def leftovers(self) -> list[str]:
        """What is still there after teardown (empty when it cleaned up)."""
        left = [f"process {pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()!r}"
                for pid in self._our_pids()]
        left += [f"mount {m}" for m in self._our_mounts()]
        left += [f"network namespace {n}" for n in self._our_netns()]
        left += [f"cgroup {c}" for c in self._our_cgroups()]
        return left


def tcp_counter(name: str, netns: str | None = None) -> int:
    """A kernel TCP counter (`nstat -a`'s name) in network namespace `netns` (None: this one)."""
    inside = ["ip", "netns", "exec", netns] if netns else []
    out = subprocess.run([*inside, "nstat", "-asz", name], capture_output=True, text=True,
                         check=True).stdout
    return next((int(line.split()[1]) for line in out.splitlines()
                 if line.split()[:1] == [name]), 0)


def executor(namespace: str) -> dict:
    """The containerd-shim-spin SpinAppExecutor, as SpinKube's quickstart applies it."""
    return {"apiVersion": "core.spinkube.dev/v1alpha1", "kind": "SpinAppExecutor",
            "metadata": {"name": EXECUTOR, "namespace": namespace},
            "spec": {"createDeployment": True,
                     "deploymentConfig": {"runtimeClassName": RUNTIME_CLASS,
                                          "installDefaultCACerts": True}}}



if __name__ == "__main__":
    # `node.py --check`: one line for `make test-cluster` / `make bench-cluster`; exit 3 where
    # the cluster cannot run here (the reason printed), 0 where it can.
    why = not_run()
    print(f"cluster not run: {why}" if why else "cluster: every program is here")
    sys.exit(3 if why else 0)
