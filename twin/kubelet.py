"""The scheduler and kubelet of the twin's single node: pods from Pending to Running, or not.

Each pod bound (or bindable) to the node gets an in-memory record: when it was scheduled, when
its containers start, their restart counts, container ids and last terminations. Statuses are
computed from the record and written only when they change, so a reconcile pass that finds
nothing to do writes nothing. Time-based steps (start after `ready_after`, crash-loop back-off
1 s, 2 s, 4 s, capped at 8 s) are deadlines returned to the caller's scheduler, never sleeps.
Pods requesting an extended resource (`akri.sh/...`) the Node does not offer stay Pending and
Unschedulable, as the real scheduler reports it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from twin.clusterobjects import NODE_IP, now
from twin.podstatus import (
    ContainerRecord,
    PodBehaviour,
    PodRecord,
    extended_requests,
    pod_status,
)
from twin.recorder import EventRecorder
from twin.store import NotFound, ObjectStore

FIRST_RESTART = 0.2  # seconds between the first crash and the first restart (no back-off yet)
MAX_BACKOFF = 8.0


class PodUnavailable(ValueError):
    """A container's logs or environment cannot be read (the API server's 400 BadRequest)."""

    reason = "BadRequest"


class PodNotFound(PodUnavailable, NotFound):
    """No such pod (the API server's 404 NotFound)."""

    reason = "NotFound"


@dataclass
class _Deadlines:
    next: float | None = None

    def at(self, when: float) -> None:
        self.next = when if self.next is None else min(self.next, when)


@dataclass
class Kubelet:
    """Schedules pods onto the node and runs their modelled containers."""

    store: ObjectStore
    recorder: EventRecorder
    node_name: str
    behaviour_of: Callable[[dict], PodBehaviour]
    records: dict[str, PodRecord] = field(default_factory=dict)
    _ips: int = 0

    # --- reconcile -------------------------------------------------------------------------

    def sync(self, clock: float) -> float | None:
        """Advance every pod of this node to `clock`; return the next deadline, if any."""
        node = self.store.get("Node", None, self.node_name)
        if node is None:
            return None
        pods, _ = self.store.list("Pod")
        pods.sort(key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]))
        live = {p["metadata"]["uid"] for p in pods}
        for uid in list(self.records):
            if uid not in live:
                del self.records[uid]
        free = self._free_resources(node, pods)
        deadlines = _Deadlines()
        for pod in pods:
            bound_elsewhere = pod["spec"].get("nodeName") not in (None, "", self.node_name)
            if bound_elsewhere or pod["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._sync_pod(pod, clock, free, deadlines)
            except NotFound:
                self.records.pop(pod["metadata"]["uid"], None)
        return deadlines.next

    def _free_resources(self, node: dict, pods: list[dict]) -> dict[str, int]:
        free = {}
        for name, value in (node.get("status", {}).get("allocatable") or {}).items():
            if "/" in name:
                free[name] = _quantity(value)
        for pod in pods:
            rec = self.records.get(pod["metadata"]["uid"])
            if rec is not None and rec.bound:
                for name, amount in extended_requests(pod).items():
                    free[name] = free.get(name, 0) - amount
        return free

    def _sync_pod(self, pod: dict, clock: float, free: dict[str, int], dl: _Deadlines) -> None:
        meta = pod["metadata"]
        rec = self.records.get(meta["uid"])
        if rec is None:
            rec = PodRecord(meta["uid"], meta.get("namespace", "default"), meta["name"])
            rec.containers = {
                c["name"]: ContainerRecord(c["name"], c.get("image", ""))
                for c in pod["spec"].get("containers", [])
            }
            self.records[meta["uid"]] = rec
        if not rec.bound:
            self._schedule(pod, rec, clock, free)
        if rec.bound:
            for container in rec.containers.values():
                self._advance(pod, rec, container, clock, dl)
        self._write_status(pod, rec)

    def _schedule(self, pod: dict, rec: PodRecord, clock: float, free: dict[str, int]) -> None:
        requests = extended_requests(pod)
        short = sorted(name for name, amount in requests.items() if free.get(name, 0) < amount)
        if short:
            reasons = ", ".join(f"1 Insufficient {name}" for name in short)
            message = (
                f"0/1 nodes are available: {reasons}. preemption: 0/1 nodes are available: "
                "1 No preemption victims found for incoming pod."
            )
            if message != rec.unschedulable:
                rec.unschedulable = message
                rec.stamp("PodScheduled", "False")
                self.recorder.record(
                    pod, "FailedScheduling", message, "default-scheduler", warning=True
                )
            return
        for name, amount in requests.items():
            free[name] -= amount
        rec.bound, rec.unschedulable = True, None
        rec.start_time = now()
        rec.behaviour = self.behaviour_of(pod)
        rec.run_at = clock + rec.behaviour.ready_after
        ns, name = rec.namespace, rec.name
        self.recorder.record(
            pod,
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {self.node_name}",
            "default-scheduler",
        )

    def _advance(
        self, pod: dict, rec: PodRecord, c: ContainerRecord, clock: float, dl: _Deadlines
    ) -> None:
        if c.state == "creating":
            if clock < rec.run_at:
                dl.at(rec.run_at)
                return
            if rec.ip is None:
                rec.ip = NODE_IP if pod["spec"].get("hostNetwork") else self._next_ip()
            self._start(pod, rec, c, clock)
        elif c.state in ("error", "backoff") and clock >= c.next_at:
            c.restart_count += 1
            self._start(pod, rec, c, clock)
        if c.state in ("error", "backoff"):
            dl.at(c.next_at)

    def _start(self, pod: dict, rec: PodRecord, c: ContainerRecord, clock: float) -> None:
        behaviour = self.behaviour_of(pod)
        rec.behaviour, rec.ever_started = behaviour, True
        path = f"spec.containers{{{c.name}}}"
        if c.container_id:
            message = f'Container image "{c.image}" already present on machine'
        else:
            message = f'Successfully pulled image "{c.image}" in 1.2s (1.2s including waiting)'
            self.recorder.record(
                pod, "Pulling", f'Pulling image "{c.image}"', "kubelet", field_path=path
            )
        self.recorder.record(pod, "Pulled", message, "kubelet", field_path=path)
        c.container_id = secrets.token_hex(32)
        c.started_at = now()
        self.recorder.record(
            pod, "Created", f"Created container: {c.name}", "kubelet", field_path=path
        )
        self.recorder.record(
            pod, "Started", f"Started container {c.name}", "kubelet", field_path=path
        )
        if behaviour.crash_reason is None:
            c.state, c.ready = "running", not behaviour.never_ready
            if behaviour.never_ready:
                self.recorder.record(
                    pod,
                    "Unhealthy",
                    "Readiness probe failed: connection refused",
                    "kubelet",
                    warning=True,
                    field_path=path,
                )
            return
        c.ready = False
        c.last_terminated = {
            "exitCode": 101,
            "reason": "Error",
            "startedAt": c.started_at,
            "finishedAt": now(),
            "containerID": f"containerd://{c.container_id}",
        }
        if c.state == "creating":
            c.state, c.next_at = "error", clock + FIRST_RESTART
            return
        c.backoff = min(MAX_BACKOFF, c.backoff * 2) if c.backoff else 1.0
        c.state, c.next_at = "backoff", clock + c.backoff
        self.recorder.record(
            pod,
            "BackOff",
            f"Back-off restarting failed container {c.name} in pod "
            f"{rec.name}_{rec.namespace}({rec.uid})",
            "kubelet",
            warning=True,
            field_path=path,
        )

    def _write_status(self, pod: dict, rec: PodRecord) -> None:
        status = pod_status(pod, rec)

        def write(obj: dict) -> None:
            if rec.bound:
                obj["spec"]["nodeName"] = self.node_name
            obj["status"] = status

        if pod.get("status") != status or (rec.bound and not pod["spec"].get("nodeName")):
            self.store.patch("Pod", rec.namespace, rec.name, write)

    def _next_ip(self) -> str:
        self._ips += 1
        return f"10.1.{58 + self._ips // 250}.{self._ips % 250 + 2}"

    # --- node events -----------------------------------------------------------------------

    def reboot(self, clock: float) -> None:
        """Every container dies with the node and is created again (restartCount + 1)."""
        for rec in self.records.values():
            if not rec.bound:
                continue
            rec.ip = None
            rec.run_at = clock + rec.behaviour.ready_after
            rec.sandbox_changed = True
            for c in rec.containers.values():
                if c.container_id and c.state != "creating":
                    c.last_terminated = {
                        "exitCode": 255,
                        "reason": "Unknown",
                        "startedAt": c.started_at,
                        "finishedAt": now(),
                        "containerID": f"containerd://{c.container_id}",
                    }
                    c.restart_count += 1
                c.state, c.ready, c.backoff = "creating", False, 0.0

    def announce_sandbox_changes(self) -> None:
        """Record SandboxChanged for pods whose sandbox a reboot destroyed."""
        for rec in self.records.values():
            if rec.sandbox_changed:
                rec.sandbox_changed = False
                pod = self.store.get("Pod", rec.namespace, rec.name)
                if pod is not None:
                    self.recorder.record(
                        pod,
                        "SandboxChanged",
                        "Pod sandbox changed, it will be killed and re-created.",
                        "kubelet",
                    )

    # --- reads -----------------------------------------------------------------------------

    def container_of(self, namespace: str, name: str, container: str | None) -> tuple:
        """(pod, record, container record, container name); PodUnavailable as the API says it."""
        pod = self.store.get("Pod", namespace, name)
        if pod is None:
            raise PodNotFound(f'pods "{name}" not found')
        names = [c["name"] for c in pod["spec"].get("containers", [])]
        if container is None:
            if len(names) != 1:
                raise PodUnavailable(
                    f"a container name must be specified for pod {name}, choose one of: "
                    f"[{' '.join(names)}]",
                )
            container = names[0]
        if container not in names:
            raise PodUnavailable(f"container {container} is not valid for pod {name}")
        rec = self.records.get(pod["metadata"]["uid"])
        return pod, rec, (rec.containers.get(container) if rec else None), container

    def log(self, namespace: str, name: str, container: str | None, previous: bool) -> str:
        """What `kubectl logs` shows for one container (previous: the last terminated one)."""
        _, rec, c, cname = self.container_of(namespace, name, container)
        if previous and (c is None or c.last_terminated is None):
            raise PodUnavailable(
                f'previous terminated container "{cname}" in pod "{name}" not found'
            )
        if c is None or not c.container_id:
            raise PodUnavailable(
                f'container "{cname}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        behaviour = rec.behaviour
        if behaviour.logs is not None:
            return behaviour.logs(previous)
        if behaviour.crash_reason and (previous or c.state != "running"):
            reason = behaviour.crash_reason
            return reason if reason.endswith("\n") else reason + "\n"
        return ""


def _quantity(value: object) -> int:
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return int(float(text.rstrip("kKMGi") or 0))
