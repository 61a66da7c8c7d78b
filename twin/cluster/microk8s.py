"""The twin's MicroK8s single-node cluster: kubelet, scheduler and controllers over the store.

One reconcile thread wakes on store changes (`store.subscribe`) or when a modelled delay is due
(a timer heap: pod starts, crash-loop back-off, containers stopping), then runs one
level-triggered pass over namespaces and garbage, workloads, the kubelet, workload statuses and
Endpoints, writing only differences. While MicroK8s is down (`set_running(False)`) nothing
reconciles and the Node reads NotReady. Other models (Akri) shape pods through
`add_pod_behaviour` and device-plugin resources through `set_allocatable`. Faults:
`dns-disabled` (the dns addon never enables), `app-not-ready` (the app's pods never get ready),
`disk-pressure` (DiskPressure from the start, as on a small disk, docs/facts.md#disk-pressure:
the node stays Ready but tainted), `slow-terminate` (containers take 25 s to exit on SIGTERM,
docs/facts.md#graceful-deletion).
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable

from twin.cluster import addons, objects
from twin.cluster.controllers import Controllers
from twin.cluster.endpoints import EndpointsController
from twin.cluster.garbage import GarbageCollector
from twin.cluster.kubelet import Kubelet, PodUnavailable
from twin.cluster.podenv import pod_environment
from twin.cluster.podstatus import PodBehaviour
from twin.cluster.recorder import EventRecorder
from twin.kubeapi.meta import now
from twin.kubeapi.store import Conflict, NotFound, ObjectStore

__all__ = ["NODE_NAME", "Cluster", "PodBehaviour", "PodUnavailable"]

log = logging.getLogger(__name__)
NODE_NAME = "akri-edge-twin"
# value of the app's `app` label (docs/facts.md#streaming-app-manifest)
STREAMING_APP = "akri-video-streaming-app"
RETRY_AFTER_ERROR = 0.2
SLOW_TERMINATE_SECONDS = 25.0  # the `slow-terminate` perturbation (README's fault table)


class Cluster:
    """A single-node MicroK8s cluster model driven by one reconcile thread."""

    def __init__(
        self, store: ObjectStore, node_name: str = NODE_NAME, faults: frozenset[str] = frozenset()
    ) -> None:
        self.store = store
        self.node_name = node_name
        self.faults = faults
        self.pressure = frozenset({"DiskPressure"} if "disk-pressure" in faults else ())
        self.boot_id = str(uuid.uuid4())
        self._lock = threading.RLock()
        self._pass_lock = threading.RLock()  # held while a reconcile pass writes
        self._wake, self._stopping = threading.Event(), threading.Event()
        self.system = objects.SYSTEM  # (osImage, kernelVersion): the daemon gives its platform's
        self._thread: threading.Thread | None = None
        self._running = True
        self._timers: list[tuple[float, int, Callable[[], None] | None]] = []
        self._kubelet_due: float | None = None
        self._sequence = itertools.count()
        self._behaviours: list[Callable[[dict], PodBehaviour | None]] = []
        self._addons: set[str] = set()
        self._purged: set[str] = set()
        self.passes = 0
        self.recorder = EventRecorder(store, node_name)
        self.kubelet = Kubelet(store, self.recorder, node_name, self._behaviour_for)
        self.controllers = Controllers(store, self.recorder, node_name)
        self.garbage = GarbageCollector(store)
        self.endpoints = EndpointsController(store)
        store.subscribe(self._on_change)

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bootstrap on first start, then run the reconcile thread."""
        if self._thread is not None:
            return
        if self.store.get("Node", None, self.node_name) is None:
            self.bootstrap()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="twin-cluster", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Stop reconciling and join the thread (idempotent)."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        self._wake.set()
        thread.join(timeout=10)

    def set_running(self, running: bool) -> None:
        """MicroK8s up or down: down means no reconciling and a NotReady Node."""
        with self._lock:
            if running == self._running:
                return
            self._running = running
        if not running:
            with self._pass_lock:
                pass  # a pass already under way finishes before MicroK8s counts as down
        stamp = now()
        self._patch_node(lambda node: objects.set_node_health(node, running, self.pressure, stamp))
        self._wake.set()

    def is_running(self) -> bool:
        """Whether the cluster currently reconciles."""
        with self._lock:
            return self._running

    def bootstrap(self) -> None:
        """Create what a fresh MicroK8s has: namespaces, the kubernetes Service, the Node, CNI."""
        fresh = [objects.namespace(ns) for ns in objects.SYSTEM_NAMESPACES]
        fresh += objects.kubernetes_service()
        fresh.append(objects.node(self.node_name, self.boot_id, self.pressure, self.system))
        fresh += addons.calico()
        self._create_missing(fresh)

    def reboot(self, boot_id: str | None = None, kernel: str | None = None) -> None:
        """The node rebooted: every pod's containers are recreated; the store keeps everything."""
        self.boot_id = boot_id or str(uuid.uuid4())

        def info(node: dict) -> None:
            node["status"]["nodeInfo"]["bootID"] = self.boot_id
            if kernel:
                node["status"]["nodeInfo"]["kernelVersion"] = kernel

        self._patch_node(info)
        # the kubelet is only ever touched from the reconcile thread
        self.call_later(0, lambda: self.kubelet.reboot(time.monotonic()))

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run fn on the reconcile thread after delay seconds (a modelled delay, no sleeping)."""
        self._at(time.monotonic() + delay, fn)

    # --- models plugged in by the rest of the twin --------------------------------------------

    def add_pod_behaviour(self, fn: Callable[[dict], PodBehaviour | None]) -> None:
        """Register a behaviour chooser; the first non-None answer for a pod wins."""
        with self._lock:
            self._behaviours.append(fn)
        self._wake.set()

    def set_allocatable(self, resource: str, count: int | None) -> None:
        """Advertise an extended resource on the Node (device plugin); None removes it."""

        def write(node: dict) -> None:
            for field in ("capacity", "allocatable"):
                values = node["status"].setdefault(field, {})
                values.pop(resource, None)
                if count is not None:
                    values[resource] = str(count)

        self._patch_node(write)
        self._wake.set()

    def enable_addon(self, name: str) -> None:
        """Enable a MicroK8s addon (dns deploys CoreDNS; others are only recorded)."""
        if name == "dns" and "dns-disabled" in self.faults:
            return
        with self._lock:
            self._addons.add(name)
        if name == "dns":
            self._create_missing(addons.coredns())

    def disable_addon(self, name: str) -> None:
        """Disable a MicroK8s addon (dns removes the CoreDNS objects)."""
        with self._lock:
            self._addons.discard(name)
        if name == "dns":
            for obj in addons.coredns():
                with contextlib.suppress(NotFound):
                    self.store.delete(obj["kind"], "kube-system", obj["metadata"]["name"])

    def addon_enabled(self, name: str) -> bool:
        """Whether an addon is enabled."""
        with self._lock:
            return name in self._addons

    def pod_log(self, namespace: str, name: str, container: str | None, previous: bool) -> str:
        """A container's log (raises PodUnavailable with the API server's reason and text)."""
        return self.kubelet.log(namespace, name, container, previous)

    def pod_env(self, namespace: str, name: str, container: str | None = None) -> dict[str, str]:
        """The environment a process started in the container sees (`printenv`)."""
        pod, rec, c, cname = self.kubelet.container_of(namespace, name, container)
        if c is None or c.state != "running":
            raise PodUnavailable(f'container not found ("{cname}")')
        # the kubelet writes service variables when the container starts, not later
        services = [
            svc
            for svc in self.store.list("Service", namespace)[0]
            if svc["metadata"].get("creationTimestamp", "") <= c.started_at
        ]
        master = self.store.get("Service", "default", "kubernetes")
        if namespace != "default" and master is not None:
            services.append(master)
        return pod_environment(self.store, pod, cname, services, rec.behaviour.env or {})

    # --- internals ---------------------------------------------------------------------------

    def _behaviour_for(self, pod: dict) -> PodBehaviour:
        with self._lock:
            choosers = list(self._behaviours)
        behaviour = next((b for b in (fn(pod) for fn in choosers) if b is not None), None)
        behaviour = behaviour or PodBehaviour()
        labels = pod["metadata"].get("labels") or {}
        if "app-not-ready" in self.faults and labels.get("app") == STREAMING_APP:
            behaviour = dataclasses.replace(behaviour, never_ready=True)
        if "slow-terminate" in self.faults:
            behaviour = dataclasses.replace(behaviour, stop_after=SLOW_TERMINATE_SECONDS)
        return behaviour

    def _on_change(self, event_type: str, obj: dict) -> None:
        kind = obj.get("kind")
        if kind == "Event":
            return
        if kind == "Namespace" and event_type == "DELETED":
            with self._lock:
                self._purged.add(obj["metadata"]["name"])
        self._wake.set()

    def _at(self, when: float, fn: Callable[[], None] | None) -> None:
        with self._lock:
            heapq.heappush(self._timers, (when, next(self._sequence), fn))
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                dues = [self._timers[0][0]] if self._timers else []
                if self._kubelet_due is not None:
                    dues.append(self._kubelet_due)
                # while MicroK8s is down, modelled delays wait for it to come back
                due = min(dues, default=None) if self._running else None
            timeout = None if due is None else max(0.0, due - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stopping.is_set():
                return
            with self._pass_lock:
                if not self.is_running():
                    continue
                for fn in self._due_timers():
                    self._guarded(fn)
                self._guarded(self._pass)

    def _due_timers(self) -> list[Callable[[], None]]:
        clock, due = time.monotonic(), []
        with self._lock:
            while self._timers and self._timers[0][0] <= clock:
                fn = heapq.heappop(self._timers)[2]
                if fn is not None:
                    due.append(fn)
        return due

    def _guarded(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (Conflict, NotFound) as exc:
            # a race with another writer (an object changed or went away): just go again
            log.debug("cluster reconcile raced another writer (%s); retrying", exc)
            self._at(time.monotonic() + RETRY_AFTER_ERROR, None)
        except Exception:
            log.exception("cluster reconcile step failed; retrying")
            self._at(time.monotonic() + RETRY_AFTER_ERROR, None)

    def _pass(self) -> None:
        self.passes += 1
        with self._lock:
            purged, self._purged = self._purged, set()
        self.garbage.sync_namespaces(purged)
        self.garbage.collect_garbage()
        self.controllers.sync_workloads()
        self.kubelet.announce_sandbox_changes()
        deadline = self.kubelet.sync(time.monotonic())
        with self._lock:
            self._kubelet_due = deadline
        self.controllers.sync_statuses()
        self.endpoints.sync_endpoints()

    def _patch_node(self, fn: Callable[[dict], None]) -> None:
        with contextlib.suppress(NotFound):  # not bootstrapped yet: bootstrap writes it whole
            self.store.patch("Node", None, self.node_name, fn)

    def _create_missing(self, fresh: list[dict]) -> None:
        for obj in fresh:
            meta = obj["metadata"]
            if self.store.get(obj["kind"], meta.get("namespace"), meta["name"]) is None:
                with contextlib.suppress(Conflict):
                    self.store.create(obj)
