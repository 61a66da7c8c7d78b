"""Pod records of the twin's kubelet and the pod status the API shows for them.

The record is what the kubelet remembers about a pod (bound or not, when containers start,
restart counts, container ids, last terminations); `pod_status` renders it in the exact shape
of core/v1 PodStatus as containerd-backed kubelets report it: conditions with stable transition
times, container states (waiting ContainerCreating / CrashLoopBackOff, running, terminated),
`lastState`, fully qualified image names and `sha256` image ids. A pod whose containers the
kubelet stopped for its deletion reads as terminated, phase Failed (or Succeeded when every
container exited 0), as kubelets since 1.27 report a deleted pod before it goes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from twin.cluster.objects import NODE_IP
from twin.kubeapi.admission import qos_class
from twin.kubeapi.meta import now


@dataclass
class PodBehaviour:
    """How a pod's containers behave on the twin (default: Running and Ready after 0.3 s).

    `stop_after`: how long the containers take to exit once the kubelet sends SIGTERM; a
    process that exits on SIGTERM is gone in well under a second. Past the pod's grace period
    the kubelet kills it (exit 137).
    """

    ready_after: float = 0.3
    stop_after: float = 0.1
    crash_reason: str | None = None
    never_ready: bool = False
    logs: Callable[[bool], str] | None = None
    env: dict[str, str] | None = None


@dataclass
class ContainerRecord:
    """One container slot of a pod: its current container and its history."""

    name: str
    image: str
    state: str = "creating"  # creating | running | error (first crash) | backoff | stopped
    ready: bool = False
    restart_count: int = 0
    container_id: str = ""
    started_at: str = ""
    last_terminated: dict | None = None
    stopped: dict | None = None  # how it ended when the kubelet stopped it for deletion
    next_at: float = 0.0
    backoff: float = 0.0


@dataclass
class PodRecord:
    """What the kubelet (and scheduler) remember about one pod."""

    uid: str
    namespace: str
    name: str
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    behaviour: PodBehaviour = field(default_factory=PodBehaviour)
    bound: bool = False
    unschedulable: str | None = None
    start_time: str = ""
    run_at: float = 0.0
    ip: str | None = None
    ever_started: bool = False
    sandbox_changed: bool = False
    stopping_since: float | None = None  # when the kubelet began stopping it for its deletion
    transitions: dict[str, tuple[str, str]] = field(default_factory=dict)

    def stamp(self, ctype: str, status: str) -> str:
        """The lastTransitionTime of a condition, moved only when its status changes."""
        known = self.transitions.get(ctype)
        if known is None or known[0] != status:
            known = (status, now())
            self.transitions[ctype] = known
        return known[1]


def _is_extended(resource: str) -> bool:
    return "/" in resource and not resource.startswith(("kubernetes.io/", "requests."))


def extended_requests(pod: dict) -> dict[str, int]:
    """Extended resources (device plugins such as akri.sh/<instance>) the pod asks for."""
    wanted: dict[str, int] = {}
    for container in pod["spec"].get("containers", []):
        resources = container.get("resources") or {}
        merged = {**(resources.get("requests") or {}), **(resources.get("limits") or {})}
        for name, amount in merged.items():
            if _is_extended(name):
                wanted[name] = wanted.get(name, 0) + int(str(amount))
    return wanted


def normalize_image(image: str) -> str:
    """The image reference as containerd reports it (docker.io/library/..., :latest)."""
    ref = image
    if "@" not in ref and ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    first = ref.split("/", 1)[0]
    if "/" not in ref:
        ref = "docker.io/library/" + ref
    elif "." not in first and ":" not in first and first != "localhost":
        ref = "docker.io/" + ref
    return ref


def image_id(image: str) -> str:
    """The containerd imageID of an image: <repository>@sha256:<digest>."""
    ref = normalize_image(image)
    repository = ref.split("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    return f"{repository}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def _container_status(pod: dict, rec: PodRecord, c: ContainerRecord) -> dict:
    status: dict = {
        "name": c.name,
        "image": normalize_image(c.image),
        "imageID": image_id(c.image) if c.container_id and c.state != "creating" else "",
        "ready": c.ready,
        "restartCount": c.restart_count,
        "started": c.state == "running",
        "lastState": {},
    }
    if c.container_id and c.state != "creating":
        status["containerID"] = f"containerd://{c.container_id}"
    if c.state == "creating":
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    elif c.state == "running":
        status["state"] = {"running": {"startedAt": c.started_at}}
    elif c.state == "error":
        status["state"] = {"terminated": c.last_terminated}
    elif c.state == "stopped":
        status["state"] = {"terminated": c.stopped}
    else:
        message = (
            f"back-off {int(c.backoff)}s restarting failed container={c.name} "
            f"pod={rec.name}_{rec.namespace}({rec.uid})"
        )
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
    if c.last_terminated and c.state != "error":
        status["lastState"] = {"terminated": c.last_terminated}
    return status


def _condition(rec: PodRecord, ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
    status = "True" if ok else "False"
    cond = {
        "type": ctype,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": rec.stamp(ctype, status),
    }
    if not ok and reason:
        cond["reason"] = reason
        if message:
            cond["message"] = message
    return cond


def pod_status(pod: dict, rec: PodRecord) -> dict:
    """The PodStatus the API shows for this record."""
    qos = qos_class(pod)
    if not rec.bound:
        status: dict = {"phase": "Pending", "qosClass": qos}
        if rec.unschedulable:
            status["conditions"] = [
                _condition(rec, "PodScheduled", False, "Unschedulable", rec.unschedulable)
            ]
        return status
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    records = [rec.containers[n] for n in names if n in rec.containers]
    unready = [c.name for c in records if not c.ready]
    reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    phase = "Running" if rec.ever_started else "Pending"
    if records and all(c.state == "stopped" for c in records):
        failed = any((c.stopped or {}).get("exitCode") for c in records)
        phase, reason, message = ("Failed" if failed else "Succeeded"), "PodCompleted", ""
    status = {
        "phase": phase,
        "conditions": [
            _condition(rec, "PodReadyToStartContainers", rec.ip is not None),
            _condition(rec, "Initialized", True),
            _condition(rec, "Ready", not unready, reason, message),
            _condition(rec, "ContainersReady", not unready, reason, message),
            _condition(rec, "PodScheduled", True),
        ],
        "hostIP": NODE_IP,
        "hostIPs": [{"ip": NODE_IP}],
        "startTime": rec.start_time,
        "containerStatuses": [_container_status(pod, rec, c) for c in records],
        "qosClass": qos,
    }
    if rec.ip is not None:
        status["podIP"] = rec.ip
        status["podIPs"] = [{"ip": rec.ip}]
    return status
