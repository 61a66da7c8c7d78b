"""`kubectl describe`: readable text for one object, ending with its Events.

Pods, Nodes, Deployments, DaemonSets and Services get kubectl's dedicated layouts (container
states with Last State and Restart Count, conditions, capacity/allocatable, replica counts,
endpoints); any other kind (Akri Configurations and Instances included) gets the generic
layout kubectl uses for custom resources: "Title Case" field names over nested spec/status.
"""

from __future__ import annotations

import re
from datetime import datetime

from twin.kubeapi.store import ObjectStore
from twin.kubectl.tables import NONE, age, pod_phase_text, tabulate


def _when(stamp: str | None) -> str:
    if not stamp:
        return NONE
    parsed = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    return parsed.strftime("%a, %d %b %Y %H:%M:%S +0000")


class _Out:
    """Key/value lines aligned per run of same-level rows, like kubectl's prefix writer."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, list[str] | None]] = []

    def kv(self, level: int, key: str, value: object = None) -> None:
        if value is None:
            self.rows.append((level, key + ":", None))
        elif isinstance(value, list):
            self.rows.append((level, key + ":", [str(v) for v in value] or [NONE]))
        else:
            self.rows.append((level, key + ":", [str(value)]))

    def text(self, block: str) -> None:
        for line in block.rstrip("\n").split("\n"):
            self.rows.append((-1, line, None))

    def render(self) -> str:
        lines, i = [], 0
        while i < len(self.rows):
            level, key, values = self.rows[i]
            if values is None:
                lines.append(key if level < 0 else "  " * level + key)
                i += 1
                continue
            j = i
            while j < len(self.rows) and self.rows[j][0] == level and self.rows[j][2] is not None:
                j += 1
            width = max(len(k) for _, k, _ in self.rows[i:j]) + 2
            for lvl, k, vals in self.rows[i:j]:
                pad = "  " * lvl
                lines.append(pad + k.ljust(width) + vals[0])
                lines += [pad + " " * width + v for v in vals[1:]]
            i = j
        return "\n".join(lines) + "\n"


def _pairs(mapping: dict | None, sep: str = "=") -> list[str]:
    # like kubectl, the client-side apply bookkeeping is not shown
    hidden = "kubectl.kubernetes.io/last-applied-configuration"
    return [f"{k}{sep}{v}" for k, v in sorted((mapping or {}).items()) if k != hidden]


def _header(out: _Out, obj: dict) -> None:
    meta = obj["metadata"]
    out.kv(0, "Name", meta["name"])
    if meta.get("namespace"):
        out.kv(0, "Namespace", meta["namespace"])
    out.kv(0, "Labels", _pairs(meta.get("labels")))
    out.kv(0, "Annotations", _pairs(meta.get("annotations"), ": "))


def _events(out: _Out, store: ObjectStore, obj: dict) -> None:
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
    out.text("\n".join("  " + line for line in tabulate(rows).rstrip("\n").split("\n")))


def _state(out: _Out, title: str, state: dict) -> None:
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
            value = _when(detail[key]) if key.endswith("At") else detail[key]
            out.kv(3, label, value)


def _containers(out: _Out, containers: list[dict], statuses: list[dict], level: int) -> None:
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


def _describe_pod(out: _Out, pod: dict) -> None:
    spec, status = pod["spec"], pod.get("status") or {}
    out.kv(0, "Name", pod["metadata"]["name"])
    out.kv(0, "Namespace", pod["metadata"].get("namespace"))
    out.kv(0, "Priority", spec.get("priority", 0))
    out.kv(0, "Service Account", spec.get("serviceAccountName", "default"))
    node = spec.get("nodeName")
    out.kv(0, "Node", f"{node}/{status.get('hostIP', '')}" if node else NONE)
    out.kv(0, "Start Time", _when(status.get("startTime")))
    out.kv(0, "Labels", _pairs(pod["metadata"].get("labels")))
    out.kv(0, "Annotations", _pairs(pod["metadata"].get("annotations"), ": "))
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
        out.text("\n".join("  " + line for line in tabulate(rows).rstrip("\n").split("\n")))
    out.kv(0, "QoS Class", status.get("qosClass", ""))
    out.kv(0, "Node-Selectors", _pairs(spec.get("nodeSelector")))
    out.kv(
        0,
        "Tolerations",
        [f"{t.get('key')}:{t.get('effect', '')}" for t in spec.get("tolerations") or []],
    )


def _describe_node(out: _Out, node: dict) -> None:
    status = node.get("status") or {}
    _header(out, node)
    out.kv(0, "CreationTimestamp", _when(node["metadata"].get("creationTimestamp")))
    out.kv(0, "Taints", [f"{t['key']}:{t['effect']}" for t in node["spec"].get("taints") or []])
    out.kv(0, "Unschedulable", str(bool(node["spec"].get("unschedulable"))).lower())
    out.kv(0, "Conditions")
    rows = [["Type", "Status", "Reason", "Message"], ["----", "------", "------", "-------"]]
    rows += [
        [c["type"], c["status"], c.get("reason", ""), c.get("message", "")]
        for c in status.get("conditions") or []
    ]
    out.text("\n".join("  " + line for line in tabulate(rows).rstrip("\n").split("\n")))
    out.kv(0, "Addresses")
    for a in status.get("addresses") or []:
        out.kv(1, a["type"], a["address"])
    for section in ("capacity", "allocatable"):
        out.kv(0, section.capitalize())
        for key, value in sorted((status.get(section) or {}).items()):
            out.kv(1, key, value)
    out.kv(0, "System Info")
    for key, value in (status.get("nodeInfo") or {}).items():
        out.kv(1, _title(key), value)


def _describe_workload(out: _Out, obj: dict, store: ObjectStore) -> None:
    spec, status = obj["spec"], obj.get("status") or {}
    _header(out, obj)
    out.kv(0, "Selector", ",".join(_pairs((spec.get("selector") or {}).get("matchLabels"))))
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
    out.kv(1, "Labels", _pairs((template.get("metadata") or {}).get("labels")))
    out.kv(1, "Containers")
    _containers(out, (template.get("spec") or {}).get("containers", []), [], 2)
    if status.get("conditions"):
        out.kv(0, "Conditions")
        rows = [["Type", "Status", "Reason"], ["----", "------", "------"]]
        rows += [[c["type"], c["status"], c.get("reason", "")] for c in status["conditions"]]
        out.text("\n".join("  " + line for line in tabulate(rows).rstrip("\n").split("\n")))


def _describe_service(out: _Out, svc: dict, store: ObjectStore) -> None:
    spec = svc["spec"]
    _header(out, svc)
    out.kv(0, "Selector", ",".join(_pairs(spec.get("selector"))) or NONE)
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


def _title(key: str) -> str:
    if not re.fullmatch(r"[a-z][A-Za-z0-9]*", key):
        return key
    words = re.sub(r"([A-Z]+)", r" \1", key).split()
    return " ".join(w[:1].upper() + w[1:] for w in words)


def _generic(out: _Out, value: object, level: int) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.kv(level, _title(key))
                _generic(out, item, level + 1)
            else:
                out.kv(level, _title(key), "" if item in ({}, []) else item)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                _generic(out, item, level)
            else:
                out.text("  " * level + str(item))


def describe(obj: dict, store: ObjectStore) -> str:
    """The `kubectl describe` text for one object."""
    out = _Out()
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
