"""Workload statuses as the real controllers write them (apps/v1 omitempty rules included).

Deployment status counts the pods of all its ReplicaSets, with the `Available` condition
(MinimumReplicasAvailable / MinimumReplicasUnavailable, honouring the rolling update's
maxUnavailable) and `Progressing` (NewReplicaSetAvailable / ReplicaSetUpdated). Zero counts
that the API omits are omitted here too, so clients see the same `None`s as on a real cluster.
Condition timestamps move only when a condition's status or reason changes.
"""

from __future__ import annotations

from twin.cluster.objects import template_hash
from twin.kubeapi.meta import now


def pod_ready(pod: dict) -> bool:
    """True when the pod's Ready condition is True."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _without_zeros(status: dict, keep: tuple[str, ...]) -> dict:
    return {k: v for k, v in status.items() if k in keep or v not in (0, None)}


def _max_unavailable(spec: dict, desired: int) -> int:
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return desired * int(value[:-1]) // 100
    return int(value)


def _condition(previous: dict, ctype: str, ok: bool, reason: str, message: str) -> dict:
    status = "True" if ok else "False"
    old = previous.get(ctype)
    if old and old.get("status") == status and old.get("reason") == reason:
        return {**old, "message": message}
    stamp = now()
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp
        if not old or old.get("status") != status
        else old.get("lastTransitionTime", stamp),
        "reason": reason,
        "message": message,
    }


def deployment_status(deployment: dict, pods_by_rs: dict[str, list[dict]]) -> dict:
    """The status of a Deployment given the pods of each of its ReplicaSets."""
    meta, spec = deployment["metadata"], deployment["spec"]
    desired = int(spec.get("replicas", 1))
    current = f"{meta['name']}-{template_hash(spec['template'])}"
    pods = [p for group in pods_by_rs.values() for p in group]
    updated = len(pods_by_rs.get(current, []))
    available = sum(1 for p in pods if pod_ready(p))
    previous = {c["type"]: c for c in (deployment.get("status") or {}).get("conditions") or []}
    enough = available >= desired - _max_unavailable(spec, desired)
    available_cond = _condition(
        previous,
        "Available",
        enough,
        "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
        "Deployment has minimum availability."
        if enough
        else "Deployment does not have minimum availability.",
    )
    done = updated == desired == available == len(pods)
    progressing = _condition(
        previous,
        "Progressing",
        True,
        "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
        f'ReplicaSet "{current}" has successfully progressed.'
        if done
        else f'ReplicaSet "{current}" is progressing.',
    )
    status = {
        "observedGeneration": meta.get("generation", 1),
        "replicas": len(pods),
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": max(desired - available, 0),
        "conditions": [available_cond, progressing],
    }
    return _without_zeros(status, ("observedGeneration", "conditions"))


def replicaset_status(rs: dict, pods: list[dict]) -> dict:
    """The status of a ReplicaSet given its pods."""
    ready = sum(1 for p in pods if pod_ready(p))
    status = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    return _without_zeros(status, ("replicas", "observedGeneration"))


def daemonset_status(ds: dict, pods: list[dict], desired: int) -> dict:
    """The status of a DaemonSet on a one-node cluster."""
    pod_hash = template_hash(ds["spec"]["template"])
    ready = sum(1 for p in pods if pod_ready(p))
    updated = sum(
        1
        for p in pods
        if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == pod_hash
    )
    status = {
        "currentNumberScheduled": len(pods),
        "desiredNumberScheduled": desired,
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": ds["metadata"].get("generation", 1),
        "updatedNumberScheduled": updated,
        "numberAvailable": ready,
        "numberUnavailable": max(desired - ready, 0),
    }
    required = (
        "currentNumberScheduled",
        "desiredNumberScheduled",
        "numberMisscheduled",
        "numberReady",
        "observedGeneration",
    )
    return _without_zeros(status, required)
