"""The scheduler and kubelet of the twin's single node: pods from Pending to Running, or not.

Each pod bound (or bindable) to the node gets an in-memory record: when it was scheduled, when its
containers start, their restart counts, container ids and last terminations. Statuses are computed
from the record and written only when they change, so a reconcile pass that finds nothing to do
writes nothing. Time-based steps (start after `ready_after`, crash-loop back-off 1 s, 2 s, 4 s,
capped at 8 s) are deadlines returned to the caller's scheduler, never sleeps. Pods the node cannot
take (an extended resource such as `akri.sh/...` it does not offer, a taint they do not tolerate:
`twin.cluster.scheduling`) stay Pending and Unschedulable, as the real scheduler reports it. A pod
being deleted (docs/facts.md#graceful-deletion) has its containers stopped: they exit after their
behaviour's `stop_after` (SIGTERM), or are killed once the pod's grace period is over; the kubelet
then reports them terminated and deletes the pod for good (grace period 0, its uid as the
precondition), which is when watchers see DELETED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twin.cluster.containers import start_container, stop_container
from twin.cluster.objects import NODE_IP
from twin.cluster.podlogs import PodNotFound, PodUnavailable, container_log, container_of
from twin.cluster.podstatus import (
    ContainerRecord,
    PodBehaviour,
    PodRecord,
    extended_requests,
    pod_status,
)
from twin.cluster.recorder import EventRecorder
from twin.cluster.scheduling import unschedulable
from twin.kubeapi.meta import now
from twin.kubeapi.store import DeleteOptions, NotFound, ObjectStore

__all__ = ["Kubelet", "PodNotFound", "PodUnavailable"]


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
            if pod["spec"].get("nodeName") not in (None, "", self.node_name):
                continue
            try:
                if pod["metadata"].get("deletionTimestamp"):
                    self._terminate(pod, clock, deadlines)
                else:
                    self._sync_pod(pod, node, clock, free, deadlines)
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

    def _sync_pod(
        self, pod: dict, node: dict, clock: float, free: dict[str, int], dl: _Deadlines
    ) -> None:
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
            self._schedule(pod, node, rec, clock, free)
        if rec.bound:
            for container in rec.containers.values():
                self._advance(pod, rec, container, clock, dl)
        self._write_status(pod, rec)

    def _schedule(
        self, pod: dict, node: dict, rec: PodRecord, clock: float, free: dict[str, int]
    ) -> None:
        message = unschedulable(pod, node, free)
        if message is not None:
            if message != rec.unschedulable:
                rec.unschedulable = message
                rec.stamp("PodScheduled", "False")
                self.recorder.record(
                    pod, "FailedScheduling", message, "default-scheduler", warning=True
                )
            return
        requests = extended_requests(pod)
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
            rec.behaviour = self.behaviour_of(pod)
            start_container(self.recorder, pod, rec, c, clock)
        elif c.state in ("error", "backoff") and clock >= c.next_at:
            c.restart_count += 1
            rec.behaviour = self.behaviour_of(pod)
            start_container(self.recorder, pod, rec, c, clock)
        if c.state in ("error", "backoff"):
            dl.at(c.next_at)

    def _write_status(self, pod: dict, rec: PodRecord) -> None:
        status = pod_status(pod, rec)

        def write(obj: dict) -> None:
            if rec.bound:
                obj["spec"]["nodeName"] = self.node_name
            obj["status"] = status

        if pod.get("status") != status or (rec.bound and not pod["spec"].get("nodeName")):
            self.store.patch("Pod", rec.namespace, rec.name, write)

    # --- deletion ---------------------------------------------------------------------------

    def _terminate(self, pod: dict, clock: float, dl: _Deadlines) -> None:
        """Stop a deleted pod's running containers, then delete it for good."""
        meta = pod["metadata"]
        rec = self.records.get(meta["uid"])
        running = (
            [] if rec is None else [c for c in rec.containers.values() if c.state == "running"]
        )
        if rec is not None and running:
            if rec.stopping_since is None:
                rec.stopping_since = clock
                for c in running:
                    path = f"spec.containers{{{c.name}}}"
                    message = f"Stopping container {c.name}"
                    self.recorder.record(pod, "Killing", message, "kubelet", field_path=path)
            # the grace period counts: a second DELETE may have shortened it
            grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            done = rec.stopping_since + min(rec.behaviour.stop_after, grace)
            if clock < done:
                dl.at(done)
                return
            for c in running:
                stop_container(c, killed=rec.behaviour.stop_after > grace)
            self._write_status(pod, rec)
        self.store.delete(
            "Pod",
            meta.get("namespace"),
            meta["name"],
            DeleteOptions(grace_seconds=0, preconditions={"uid": meta["uid"]}),
        )

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
        return container_of(self.store, self.records, namespace, name, container)

    def log(self, namespace: str, name: str, container: str | None, previous: bool) -> str:
        """What `kubectl logs` shows for one container (previous: the last terminated one)."""
        _, rec, c, cname = self.container_of(namespace, name, container)
        return container_log(rec, c, name, cname, previous)


def _quantity(value: object) -> int:
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return int(float(text.rstrip("kKMGi") or 0))
