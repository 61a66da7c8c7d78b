"""`kubectl describe`: readable text for one object, ending with its Events.

Pods, Nodes, Deployments, DaemonSets and Services get kubectl's dedicated layouts (container
states with Last State and Restart Count, conditions, capacity/allocatable, replica counts,
endpoints); any other kind (Akri Configurations and Instances included) gets the generic
layout kubectl uses for custom resources: "Title Case" field names over nested spec/status.
"""

from __future__ import annotations

from twin.kubeapi.store import ObjectStore
from twin.kubectl.cells import NONE, age
from twin.kubectl.prefixwriter import Lines, pairs, title, when
from twin.kubectl.tables import pod_phase_text


def _header(out: Lines, obj: dict) -> None:
    meta = obj["metadata"]
    out.kv(0, "Name", meta["name"])
    if meta.get("namespace"):
        out.kv(0, "Namespace", meta["namespace"])
    out.kv(0, "Labels", pairs(meta.get("labels")))
    out.kv(0, "Annotations", pairs(meta.get("annotations"), ": "))


def _events(out: Lines, store: ObjectStore, obj: dict) -> None:
    uid = obj["metadata"].get("uid")
    events = [e for e in store.list("Event")[0] if e["involvedObject"].get("uid") == uid]
    if not events:
        out.kv(0, "Events", NONE)
        return
    events.sort(key=lambda e: e.get("lastTimestamp") or "")
    rows = [
        ["Type", "Reason", "Age", "From", "Message"],
        ["----", "------", "----", "----", "-------"],
    ]
    for e in events:
        when = age(e.get("lastTimestamp"))
        if int(e.get("count") or 1) > 1:
            when += f" (x{e['count']} over {age(e.get('firstTimestamp'))})"
        rows.append(
            [
                e.get("type", ""),
                e.get("reason", ""),
                when,
                e.get("source", {}).get("component", ""),
                e.get("message", ""),
            ]
        )
    out.kv(0, "Events")
    out.table(rows)


def _state(out: Lines, title: str, state: dict) -> None:
    if not state:
        out.kv(2, title, "Waiting" if title == "State" else NONE)
        return
    name, detail = next(iter(state.items()))
    out.kv(2, title, name.capitalize())
    detail = detail or {}
    for key, label in (
        ("reason", "Reason"),
        ("message", "Message"),
        ("exitCode", "Exit Code"),
        ("startedAt", "Started"),
        ("finishedAt", "Finished"),
    ):
        if key in detail:
            value = when(detail[key]) if key.endswith("At") else detail[key]
            out.kv(3, label, value)


def _containers(out: Lines, containers: list[dict], statuses: list[dict], level: int) -> None:
    by_name = {s["name"]: s for s in statuses}
    for c in containers:
        out.kv(level, c["name"])
        status = by_name.get(c["name"])
        if status and status.get("containerID"):
            out.kv(level + 1, "Container ID", status["containerID"])
        out.kv(level + 1, "Image", c.get("image", ""))
        if status:
            out.kv(level + 1, "Image ID", status.get("imageID", ""))
        ports = [f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in c.get("ports") or []]
        out.kv(level + 1, "Port" + ("s" if len(ports) > 1 else ""), ", ".join(ports) or NONE)
        if status:
            _state(out, "State", status.get("state") or {})
            if status.get("lastState"):
                _state(out, "Last State", status["lastState"])
            out.kv(level + 1, "Ready", str(status.get("ready", False)).capitalize())
            out.kv(level + 1, "Restart Count", status.get("restartCount", 0))
        for section in ("limits", "requests"):
            values = (c.get("resources") or {}).get(section)
            if values:
                out.kv(level + 1, section.capitalize())
                for key, value in sorted(values.items()):
                    out.kv(level + 2, key, value)
        env = c.get("env") or []
        if not env:
            out.kv(level + 1, "Environment", NONE)
        else:
            out.kv(level + 1, "Environment")
            for var in env:
                value = var.get("value")
                out.kv(level + 2, var["name"], value if value is not None else "<set from ref>")


def _describe_pod(out: Lines, pod: dict) -> None:
    spec, status = pod["spec"], pod.get("status") or {}
    out.kv(0, "Name", pod["metadata"]["name"])
    out.kv(0, "Namespace", pod["metadata"].get("namespace"))
    out.kv(0, "Priority", spec.get("priority", 0))
    out.kv(0, "Service Account", spec.get("serviceAccountName", "default"))
    node = spec.get("nodeName")
    out.kv(0, "Node", f"{node}/{status.get('hostIP', '')}" if node else NONE)
    out.kv(0, "Start Time", when(status.get("startTime")))
    out.kv(0, "Labels", pairs(pod["metadata"].get("labels")))
    out.kv(0, "Annotations", pairs(pod["metadata"].get("annotations"), ": "))
    out.kv(
        0,
        "Status",
        pod_phase_text(pod) if status.get("phase") == "Pending" else status.get("phase", "Unknown"),
    )
    out.kv(0, "IP", status.get("podIP", ""))
    owners = pod["metadata"].get("ownerReferences") or []
    if owners:
        out.kv(0, "Controlled By", f"{owners[0]['kind']}/{owners[0]['name']}")
    out.kv(0, "Containers")
    _containers(out, spec.get("containers", []), status.get("containerStatuses") or [], 1)
    conditions = status.get("conditions") or []
    if conditions:
        out.kv(0, "Conditions")
        rows = [["Type", "Status"]] + [[c["type"], c["status"]] for c in conditions]
        out.table(rows)
    out.kv(0, "QoS Class", status.get("qosClass", ""))
    out.kv(0, "Node-Selectors", pairs(spec.get("nodeSelector")))
    out.kv(
        0,
        "Tolerations",
        [f"{t.get('key')}:{t.get('effect', '')}" for t in spec.get("tolerations") or []],
    )


def _describe_node(out: Lines, node: dict) -> None:
    status = node.get("status") or {}
    _header(out, node)
    out.kv(0, "CreationTimestamp", when(node["metadata"].get("creationTimestamp")))
    out.kv(0, "Taints", [f"{t['key']}:{t['effect']}" for t in node["spec"].get("taints") or []])
    out.kv(0, "Unschedulable", str(bool(node["spec"].get("unschedulable"))).lower())
    out.kv(0, "Conditions")
    rows = [["Type", "Status", "Reason", "Message"], ["----", "------", "------", "-------"]]
    rows += [
        [c["type"], c["status"], c.get("reason", ""), c.get("message", "")]
        for c in status.get("conditions") or []
    ]
    out.table(rows)
    out.kv(0, "Addresses")
    for a in status.get("addresses") or []:
        out.kv(1, a["type"], a["address"])
    for section in ("capacity", "allocatable"):
        out.kv(0, section.capitalize())
        for key, value in sorted((status.get(section) or {}).items()):
            out.kv(1, key, value)
    out.kv(0, "System Info")
    for key, value in (status.get("nodeInfo") or {}).items():
        out.kv(1, title(key), value)


def _describe_workload(out: Lines, obj: dict, store: ObjectStore) -> None:
    spec, status = obj["spec"], obj.get("status") or {}
    _header(out, obj)
    out.kv(0, "Selector", ",".join(pairs((spec.get("selector") or {}).get("matchLabels"))))
    if obj["kind"] == "Deployment":
        desired, available = spec.get("replicas", 1), status.get("availableReplicas", 0)
        out.kv(
            0,
            "Replicas",
            f"{desired} desired | {status.get('updatedReplicas', 0)} updated | "
            f"{status.get('replicas', 0)} total | {available} available | "
            f"{status.get('unavailableReplicas', 0)} unavailable",
        )
        out.kv(0, "StrategyType", (spec.get("strategy") or {}).get("type", "RollingUpdate"))
    else:
        for key, label in (
            ("desiredNumberScheduled", "Desired Number of Nodes Scheduled"),
            ("currentNumberScheduled", "Current Number of Nodes Scheduled"),
            ("numberReady", "Number of Nodes Scheduled with Ready Pods"),
            ("numberMisscheduled", "Number of Nodes Misscheduled"),
        ):
            out.kv(0, label, status.get(key, 0))
    template = spec.get("template") or {}
    out.kv(0, "Pod Template")
    out.kv(1, "Labels", pairs((template.get("metadata") or {}).get("labels")))
    out.kv(1, "Containers")
    _containers(out, (template.get("spec") or {}).get("containers", []), [], 2)
    if status.get("conditions"):
        out.kv(0, "Conditions")
        rows = [["Type", "Status", "Reason"], ["----", "------", "------"]]
        rows += [[c["type"], c["status"], c.get("reason", "")] for c in status["conditions"]]
        out.table(rows)


def _describe_service(out: Lines, svc: dict, store: ObjectStore) -> None:
    spec = svc["spec"]
    _header(out, svc)
    out.kv(0, "Selector", ",".join(pairs(spec.get("selector"))) or NONE)
    out.kv(0, "Type", spec.get("type", "ClusterIP"))
    out.kv(0, "IP", spec.get("clusterIP", NONE))
    meta = svc["metadata"]
    ep = store.get("Endpoints", meta.get("namespace"), meta["name"]) or {}
    for port in spec.get("ports") or []:
        proto = port.get("protocol", "TCP")
        out.kv(0, "Port", f"{port.get('name') or '<unset>'}  {port['port']}/{proto}")
        out.kv(0, "TargetPort", f"{port.get('targetPort', port['port'])}/{proto}")
        if port.get("nodePort"):
            out.kv(0, "NodePort", f"{port.get('name') or '<unset>'}  {port['nodePort']}/{proto}")
        ips = [
            f"{a['ip']}:{p['port']}"
            for s in ep.get("subsets") or []
            for a in s.get("addresses") or []
            for p in s.get("ports") or []
            if p.get("name") == port.get("name")
        ]
        out.kv(0, "Endpoints", ",".join(ips))


def _generic(out: Lines, value: object, level: int) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.kv(level, title(key))
                _generic(out, item, level + 1)
            else:
                out.kv(level, title(key), "" if item in ({}, []) else item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _generic(out, item, level)
            else:
                out.text("  " * level + str(item))


def describe(obj: dict, store: ObjectStore) -> str:
    """The `kubectl describe` text for one object."""
    out = Lines()
    kind = obj["kind"]
    if kind == "Pod":
        _describe_pod(out, obj)
    elif kind == "Node":
        _describe_node(out, obj)
    elif kind in ("Deployment", "DaemonSet"):
        _describe_workload(out, obj, store)
    elif kind == "Service":
        _describe_service(out, obj, store)
    else:
        _header(out, obj)
        out.kv(0, "API Version", obj.get("apiVersion", ""))
        out.kv(0, "Kind", kind)
        rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        meta = {
            k: v
            for k, v in obj["metadata"].items()
            if k not in ("name", "namespace", "labels", "annotations")
        }
        _generic(out, {"metadata": meta, **rest}, 0)
    _events(out, store, obj)
    return out.render()
