"""Service address allocation, as the API server does it on create and update.

MicroK8s serves `--service-cluster-ip-range=10.152.183.0/24` (docs/facts.md#kubeconfig); the
`kubernetes` Service holds 10.152.183.1. Addresses are data only: nothing in the twin ever
connects to them. NodePorts come from a pluggable allocator (the twin maps them to real
loopback ports) or else from the default 30000-32767 range. Exhaustion or a node port that
another Service holds raises ValueError.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

SERVICE_CIDR = ipaddress.ip_network("10.152.183.0/24")
NODEPORT_RANGE = range(30000, 32768)


def _free_cluster_ip(used: set[str], name: str, namespace: str, uid: str = "") -> str:
    hosts = list(SERVICE_CIDR.hosts())
    if (namespace, name) == ("default", "kubernetes") and str(hosts[0]) not in used:
        return str(hosts[0])
    # The API server picks a free address at random, so a Service deleted and created again
    # gets a new ClusterIP (docs/facts.md#services-follow-brokers); the new object's uid stands
    # in for the dice.
    start = int(uid.replace("-", "")[:8] or "0", 16) % (len(hosts) - 1) if uid else 0
    for ip in hosts[1 + start :] + hosts[1 : 1 + start]:
        if str(ip) not in used:
            return str(ip)
    raise ValueError(f"no cluster IP left in {SERVICE_CIDR}")


def allocate_service_addresses(
    new: dict,
    old: dict | None,
    others: list[dict],
    nodeport_allocator: Callable[[], int] | None,
) -> None:
    """Fill spec.type, clusterIP(s) and node ports of `new` in place (keeping `old`'s)."""
    spec = new.setdefault("spec", {})
    old_spec = (old or {}).get("spec") or {}
    spec.setdefault("type", "ClusterIP")
    if not spec.get("clusterIP") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])
    if not spec.get("clusterIP") and spec["type"] != "ExternalName":
        used = {(s.get("spec") or {}).get("clusterIP") for s in others}
        meta = new.get("metadata", {})
        spec["clusterIP"] = _free_cluster_ip(
            used, meta.get("name"), meta.get("namespace"), meta.get("uid", "")
        )
        spec["clusterIPs"] = [spec["clusterIP"]]
    if spec["type"] not in ("NodePort", "LoadBalancer"):
        for port in spec.get("ports") or []:
            port.pop("nodePort", None)
        return
    taken = {
        p.get("nodePort")
        for s in others
        for p in (s.get("spec") or {}).get("ports") or []
        if p.get("nodePort")
    }
    previous = {
        (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
        for p in old_spec.get("ports") or []
    }
    for port in spec.get("ports") or []:
        if not port.get("nodePort"):
            port["nodePort"] = previous.get((port.get("port"), port.get("protocol", "TCP")))
        if not port.get("nodePort"):
            port["nodePort"] = _next_node_port(taken, nodeport_allocator)
        elif port["nodePort"] in taken:
            raise ValueError(f"spec.ports.nodePort: provided port {port['nodePort']} is allocated")
        taken.add(port["nodePort"])


def _next_node_port(taken: set, allocator: Callable[[], int] | None) -> int:
    if allocator is not None:
        return allocator()
    for candidate in NODEPORT_RANGE:
        if candidate not in taken:
            return candidate
    raise ValueError("no node port left in 30000-32767")
