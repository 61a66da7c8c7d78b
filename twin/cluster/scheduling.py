"""The default scheduler's filters for the twin's single node: device resources and taints.

A pod fits when the node offers every extended resource it requests (a device plugin's
`akri.sh/<instance>`, counted against the pods already bound) and it tolerates every
NoSchedule / NoExecute taint of the node (`node.kubernetes.io/disk-pressure` under DiskPressure,
`.../unreachable` while the kubelet is gone). When it does not, the FailedScheduling message is
the one kube-scheduler 1.3x writes, so `kubectl describe` and the suite's diagnostics read the
same text as on a real node.
"""

from __future__ import annotations

from twin.cluster.podstatus import extended_requests

_NO_VICTIMS = "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
_NOT_HELPFUL = "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."


def tolerates(toleration: dict, taint: dict) -> bool:
    """Whether one toleration tolerates one taint (core/v1 Toleration.ToleratesTaint)."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    key = toleration.get("key")
    if key and key != taint.get("key"):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return bool(key) and toleration.get("value", "") == taint.get("value", "")


def untolerated_taint(pod: dict, node: dict) -> dict | None:
    """The first NoSchedule/NoExecute taint of the node the pod does not tolerate."""
    tolerations = pod["spec"].get("tolerations") or []
    for taint in node["spec"].get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def unschedulable(pod: dict, node: dict, free: dict[str, int]) -> str | None:
    """None when the pod fits the node, else the scheduler's FailedScheduling message."""
    taint = untolerated_taint(pod, node)
    if taint is not None:
        shown = f"{{{taint.get('key')}: {taint.get('value', '')}}}"
        return f"0/1 nodes are available: 1 node(s) had untolerated taint {shown}. {_NOT_HELPFUL}"
    requests = extended_requests(pod)
    short = sorted(name for name, amount in requests.items() if free.get(name, 0) < amount)
    if short:
        reasons = ", ".join(f"1 Insufficient {name}" for name in short)
        return f"0/1 nodes are available: {reasons}. {_NO_VICTIMS}"
    return None
