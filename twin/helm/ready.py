"""Helm's `--wait`: when a Deployment or DaemonSet of a release counts as ready.

As Helm's ReadyChecker (pkg/kube/ready.go): the controller has observed the latest generation,
and enough pods are ready for the rolling update's maxUnavailable (a percentage rounds down for
Deployments, up for DaemonSets); a DaemonSet must also be fully updated.
"""

from __future__ import annotations

from typing import Any


def ready(store: Any, obj: dict) -> bool:
    """Helm's ReadyChecker for the kinds the chart has; other kinds are ready at once."""
    kind, meta = obj["kind"], obj["metadata"]
    if kind not in ("Deployment", "DaemonSet"):
        return True
    cur = store.get(kind, meta.get("namespace"), meta["name"])
    if cur is None:
        return False
    status, spec = cur.get("status") or {}, cur["spec"]
    if status.get("observedGeneration", 0) < cur["metadata"].get("generation", 1):
        return False
    if kind == "Deployment":
        replicas = spec.get("replicas", 1)
        unavailable = _scaled(spec["strategy"]["rollingUpdate"]["maxUnavailable"], replicas, False)
        return status.get("readyReplicas", 0) >= replicas - unavailable
    desired = status.get("desiredNumberScheduled", 0)
    if status.get("updatedNumberScheduled", 0) != desired:
        return False
    unavailable = _scaled(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], desired, True)
    return status.get("numberReady", 0) >= desired - unavailable


def _scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    pct = int(str(value).rstrip("%")) * total
    return -(-pct // 100) if round_up else pct // 100
