"""The sandbox's address plan: one 127.N.0.0/16 per sandbox, all of it routed to lo on Linux.

Nodes are 127.N.0.(10+i), pods of node i 127.N.i.x, Service ClusterIPs 127.N.128.0/17 and
LoadBalancer ingress IPs 127.N.255.x, so every address a client reads from the API is a real
address on this machine (see network.py for what listens there).
"""

from __future__ import annotations

import ipaddress
import re

NODE_COUNT = 3
KUBELET_PORT = 10250
BASES = range(16, 240)
UNCLAIMED_BASE = 250  # a Store no SandboxCluster has started (nothing listens there)  # N of 127.N.0.0/16; a wide range so parallel sandboxes rarely collide

_OLD = (  # the addresses of state files written before the sandbox had real ones
    (re.compile(r"^10\.0\.0\.(\d+)$"), lambda n, m: f"127.{n}.0.{m[1]}"),
    (
        re.compile(r"^10\.244\.(\d+)\.(\d+)(/\d+)?$"),
        lambda n, m: f"127.{n}.{m[1]}.{m[2]}{m[3] or ''}",
    ),
    (re.compile(r"^10\.96\.(\d+)\.(\d+)$"), lambda n, m: f"127.{n}.{128 + int(m[1]) % 128}.{m[2]}"),
    (re.compile(r"^172\.18\.255\.(\d+)$"), lambda n, m: f"127.{n}.255.{m[1]}"),
    (
        re.compile(r"^127\.\d+\.(\d+)\.(\d+)(/\d+)?$"),
        lambda n, m: f"127.{n}.{m[1]}.{m[2]}{m[3] or ''}",
    ),
)


class AddressPlan:
    """Addresses of one sandbox (base N of 127.N.0.0/16)."""

    def __init__(self, base: int):
        self.base = base

    def node_ip(self, index: int) -> str:
        """InternalIP of sandbox-node-<index> (1-based)."""
        return f"127.{self.base}.0.{10 + index}"

    def pod_cidr(self, index: int) -> str:
        return f"127.{self.base}.{index}.0/24"

    def pod_ip(self, index: int, host: int) -> str:
        return f"127.{self.base}.{index}.{host}"

    @property
    def service_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"127.{self.base}.128.0/17")

    def load_balancer_ip(self, host: int) -> str:
        return f"127.{self.base}.255.{host}"

    @property
    def unused_ip(self) -> str:
        """An address of this sandbox where nothing ever listens (unresolvable backends)."""
        return f"127.{self.base}.0.1"

    def translate(self, address: str) -> str:
        """An address of another base (or of an old 10.x state file) moved into this plan."""
        for pattern, rewrite in _OLD:
            m = pattern.match(address)
            if m:
                return rewrite(self.base, m)
        return address
