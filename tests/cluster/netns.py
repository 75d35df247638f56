#!/usr/bin/env python3
"""Run a command inside a network namespace of its own, then delete the namespace.

  python3 tests/cluster/netns.py COMMAND [ARG...]

The namespace holds the throwaway cluster's whole network (node.py): loopback, the node's
address on a veth, the pods' bridge and veths, kube-proxy's iptables rules; the veth's other
end is a client outside the node, in a second namespace. Deleting them removes all of it,
whatever the command left. Only the network is separate (`nsenter
--net`): the command sees the host's files, cgroups and mounts, as a kubelet must.

Exits with the command's status; 1 when something of the cluster is still there afterwards
(its folder's processes or mounts, pod network namespaces, kubelet cgroups), naming it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node import CLIENT_IP, NODE_IP, client_netns  # noqa: E402


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    name = f"heart-cluster-{os.getpid()}"
    sh("ip", "netns", "add", name)
    try:
        inside = ["ip", "-n", name]
        sh(*inside, "link", "set", "lo", "up")
        # The node's interface: one end of a veth pair whose other end is a client outside
        # the node, in a namespace of its own (CLIENT_IP: what a user's machine is to a
        # Minikube node; load.py's `Load(..., netns=cluster.client)` sends from there).
        client = client_netns(name)
        sh("ip", "netns", "add", client)
        outside = ["ip", "-n", client]
        sh(*outside, "link", "set", "lo", "up")
        sh(*inside, "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer")
        sh(*inside, "link", "set", "node0-peer", "netns", client)
        sh(*inside, "addr", "add", f"{NODE_IP}/24", "dev", "node0")
        sh(*outside, "addr", "add", f"{CLIENT_IP}/24", "dev", "node0-peer")
        sh(*outside, "link", "set", "node0-peer", "up")
        sh(*inside, "link", "set", "node0", "up")
        # A default route, so that connections to Service IPs leave the routing step and
        # reach kube-proxy's DNAT rules (nothing leaves: the client namespace routes nowhere).
        sh(*inside, "route", "add", "default", "dev", "node0")
        env = {**os.environ, "HEART_NETNS": name}
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{name}", *argv], env=env)
        # Ctrl-C reaches the command from the terminal: wait for it to tear the cluster down
        # (pytest runs its fixtures' teardown on an interrupt); a SIGTERM becomes that interrupt.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGINT))
        return proc.wait()
    finally:
        subprocess.run(["ip", "netns", "delete", client_netns(name)], stderr=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "delete", name])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
