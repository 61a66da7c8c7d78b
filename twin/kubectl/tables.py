"""kubectl's `get` tables: the columns of each kind (default and `-o wide`) and the table itself.

Columns follow kubectl 1.34's built-in printers for the kinds the suite meets (pods, services,
deployments, daemonsets, replicasets, nodes, namespaces, endpoints, events, CRDs, ...); custom
resources use their CRD's additionalPrinterColumns (Akri: Capacity/Age, Config/Shared/Nodes/Age).
Ages and the layout are `twin.kubectl.cells`.
"""

from __future__ import annotations

from collections.abc import Callable

from twin.kubectl.cells import NONE, age, tabulate
from twin.kubectl.jsonpath import relaxed, render

UNNAMED = {"Event"}  # kubectl's event table has no NAME column
Column = tuple[str, Callable[[dict], str], bool]  # header, cell, wide-only


def _age(obj: dict) -> str:
    return age(obj["metadata"].get("creationTimestamp"))


def labels_text(mapping: dict | None) -> str:
    """A label map as kubectl prints it: `k=v,k2=v2`, or <none>."""
    return ",".join(f"{k}={v}" for k, v in (mapping or {}).items()) or NONE


def pod_phase_text(pod: dict) -> str:
    """The STATUS column of `kubectl get pods`."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in reversed(status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"] or {}
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode')}"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _restarts(pod: dict) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    count = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    finished = [
        ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt") for cs in statuses
    ]
    latest = max((f for f in finished if f), default=None)
    return f"{count} ({age(latest)} ago)" if count and latest else str(count)


def _pod_ready(pod: dict) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    return f"{ready}/{len(pod['spec'].get('containers', []))}"


def _ports(svc: dict) -> str:
    cells = []
    for p in svc["spec"].get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        cells.append(f"{p['port']}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(cells) or NONE


def _endpoints(ep: dict) -> str:
    cells = [
        f"{a['ip']}:{p['port']}"
        for s in ep.get("subsets") or []
        for p in s.get("ports") or [{"port": ""}]
        for a in s.get("addresses") or []
    ]
    if len(cells) > 3:
        return ",".join(cells[:3]) + f" + {len(cells) - 3} more..."
    return ",".join(cells) or NONE


def _node_status(node: dict) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    text = "Ready" if ready else "NotReady"
    return text + (",SchedulingDisabled" if node["spec"].get("unschedulable") else "")


def _node_roles(node: dict) -> str:
    prefix = "node-role.kubernetes.io/"
    labels = node["metadata"].get("labels") or {}
    return ",".join(k[len(prefix) :] for k in labels if k.startswith(prefix)) or NONE


def _containers(obj: dict, key: str) -> str:
    containers = obj["spec"]["template"]["spec"].get("containers", [])
    return ",".join(c.get(key, "") for c in containers)


def _status(obj: dict, key: str) -> str:
    return str((obj.get("status") or {}).get(key) or 0)


def _address(node: dict, kind: str) -> str:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == kind:
            return a.get("address", NONE)
    return NONE


def _info(key: str) -> Callable[[dict], str]:
    return lambda o: (o.get("status") or {}).get("nodeInfo", {}).get(key, "")


def _ds_selector(o: dict) -> str:
    return labels_text(o["spec"]["template"]["spec"].get("nodeSelector"))


def _wide_workload() -> list[Column]:
    return [
        ("CONTAINERS", lambda o: _containers(o, "name"), True),
        ("IMAGES", lambda o: _containers(o, "image"), True),
        ("SELECTOR", lambda o: labels_text(o["spec"]["selector"].get("matchLabels")), True),
    ]


COLUMNS: dict[str, list[Column]] = {
    "Pod": [
        ("READY", _pod_ready, False),
        ("STATUS", pod_phase_text, False),
        ("RESTARTS", _restarts, False),
        ("AGE", _age, False),
        ("IP", lambda o: (o.get("status") or {}).get("podIP") or NONE, True),
        ("NODE", lambda o: o["spec"].get("nodeName") or NONE, True),
        ("NOMINATED NODE", lambda o: NONE, True),
        ("READINESS GATES", lambda o: NONE, True),
    ],
    "Service": [
        ("TYPE", lambda o: o["spec"].get("type", "ClusterIP"), False),
        ("CLUSTER-IP", lambda o: o["spec"].get("clusterIP") or NONE, False),
        ("EXTERNAL-IP", lambda o: NONE, False),
        ("PORT(S)", _ports, False),
        ("AGE", _age, False),
        ("SELECTOR", lambda o: labels_text(o["spec"].get("selector")), True),
    ],
    "Deployment": [
        ("READY", lambda o: f"{_status(o, 'readyReplicas')}/{o['spec'].get('replicas', 1)}", False),
        ("UP-TO-DATE", lambda o: _status(o, "updatedReplicas"), False),
        ("AVAILABLE", lambda o: _status(o, "availableReplicas"), False),
        ("AGE", _age, False),
        *_wide_workload(),
    ],
    "DaemonSet": [
        ("DESIRED", lambda o: _status(o, "desiredNumberScheduled"), False),
        ("CURRENT", lambda o: _status(o, "currentNumberScheduled"), False),
        ("READY", lambda o: _status(o, "numberReady"), False),
        ("UP-TO-DATE", lambda o: _status(o, "updatedNumberScheduled"), False),
        ("AVAILABLE", lambda o: _status(o, "numberAvailable"), False),
        ("NODE SELECTOR", _ds_selector, False),
        ("AGE", _age, False),
        *_wide_workload(),
    ],
    "ReplicaSet": [
        ("DESIRED", lambda o: str(o["spec"].get("replicas", 1)), False),
        ("CURRENT", lambda o: _status(o, "replicas"), False),
        ("READY", lambda o: _status(o, "readyReplicas"), False),
        ("AGE", _age, False),
        *_wide_workload(),
    ],
    "Node": [
        ("STATUS", _node_status, False),
        ("ROLES", _node_roles, False),
        ("AGE", _age, False),
        ("VERSION", _info("kubeletVersion"), False),
        ("INTERNAL-IP", lambda o: _address(o, "InternalIP"), True),
        ("EXTERNAL-IP", lambda o: _address(o, "ExternalIP"), True),
        ("OS-IMAGE", _info("osImage"), True),
        ("KERNEL-VERSION", _info("kernelVersion"), True),
        ("CONTAINER-RUNTIME", _info("containerRuntimeVersion"), True),
    ],
    "Namespace": [
        ("STATUS", lambda o: (o.get("status") or {}).get("phase", "Active"), False),
        ("AGE", _age, False),
    ],
    "Endpoints": [("ENDPOINTS", _endpoints, False), ("AGE", _age, False)],
    "Event": [
        ("LAST SEEN", lambda o: age(o.get("lastTimestamp") or o.get("eventTime")), False),
        ("TYPE", lambda o: o.get("type", ""), False),
        ("REASON", lambda o: o.get("reason", ""), False),
        (
            "OBJECT",
            lambda o: f"{o['involvedObject']['kind'].lower()}/{o['involvedObject']['name']}",
            False,
        ),
        ("MESSAGE", lambda o: o.get("message", ""), False),
    ],
    "CustomResourceDefinition": [
        ("CREATED AT", lambda o: o["metadata"].get("creationTimestamp", ""), False)
    ],
    "ClusterRole": [("CREATED AT", lambda o: o["metadata"].get("creationTimestamp", ""), False)],
    "ConfigMap": [("DATA", lambda o: str(len(o.get("data") or {})), False), ("AGE", _age, False)],
    "Secret": [
        ("TYPE", lambda o: o.get("type", "Opaque"), False),
        ("DATA", lambda o: str(len(o.get("data") or {})), False),
        ("AGE", _age, False),
    ],
    "ServiceAccount": [
        ("SECRETS", lambda o: str(len(o.get("secrets") or [])), False),
        ("AGE", _age, False),
    ],
}


def crd_columns(crd: dict | None) -> list[Column]:
    """Columns from a CRD's additionalPrinterColumns (AGE alone when it has none)."""
    versions = ((crd or {}).get("spec") or {}).get("versions") or []
    version = next((v for v in versions if v.get("storage")), versions[0] if versions else {})
    columns: list[Column] = []
    for col in version.get("additionalPrinterColumns") or []:
        template = relaxed(col["jsonPath"])
        if col.get("type") == "date":
            cell = lambda o, t=template: age(render(t, o) or None)  # noqa: E731
        else:
            cell = lambda o, t=template: render(t, o) or NONE  # noqa: E731
        columns.append((col["name"].upper(), cell, int(col.get("priority", 0)) > 0))
    return columns or [("AGE", _age, False)]


def table(
    kind: str,
    objs: list[dict],
    *,
    wide: bool = False,
    namespaces: bool = False,
    headers: bool = True,
    columns: list[Column] | None = None,
    prefix: str = "",
) -> str:
    """A `kubectl get` table for objects of one kind."""
    spec = columns if columns is not None else COLUMNS.get(kind, [("AGE", _age, False)])
    chosen = [(h, fn) for h, fn, only_wide in spec if wide or not only_wide]
    named = kind not in UNNAMED
    heads = (
        (["NAMESPACE"] if namespaces else []) + (["NAME"] if named else []) + [h for h, _ in chosen]
    )
    rows = [heads] if headers else []
    for obj in objs:
        row = [obj["metadata"].get("namespace", "")] if namespaces else []
        if named:
            row.append(prefix + obj["metadata"]["name"])
        row += [fn(obj) for _, fn in chosen]
        rows.append(row)
    return tabulate(rows)
