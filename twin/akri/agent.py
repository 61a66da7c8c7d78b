"""The twin's Akri: the agent and udev discovery turn devices into Instances; see also
`twin.akri.controller` (brokers, services), `twin.akri.discovery` (rules, Instance ids) and
`twin.akri.broker` (the broker's runtime).

While the agent and udev discovery-handler pods are Running and Ready, every node device that a udev
Configuration's rules match becomes an Instance `<config>-<hash>` in the Configuration's namespace
(docs/facts.md#instance-names), and the node offers `akri.sh/<instance>` and `akri.sh/<config>`
(docs/facts.md#device-plugin-resources). A vanished device's Instance goes after a short modelled
delay. Everything happens on one reconcile thread woken by store events, `notify_devices` and
timers; nothing sleeps. Faults: `agent-down`, `missing-instance`, `broker-crashloop`, and through
the controller `slow-start` and `no-config-service`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from twin.akri import webhook
from twin.akri.broker import broker_behaviour
from twin.akri.controller import API, AkriController, belongs, key_of, pod_ready
from twin.akri.deviceplugins import DevicePlugins
from twin.akri.discovery import instance_hash, rule_matches, udev_rules
from twin.akri.drift import HandEdits
from twin.akri.finalizer import finalize
from twin.akri.restarts import AgentRestarts
from twin.cluster.podstatus import PodBehaviour
from twin.kubeapi.meta import owner_ref
from twin.kubeapi.store import Conflict, NotFound
from twin.machine.udev import NULL_DEVICE, UdevDevice

log = logging.getLogger(__name__)
REMOVAL_DELAY = 0.5  # seconds until the agent drops the Instance of a vanished device
RETRY_AFTER_ERROR = 0.5
WATCHED = {"Pod", "Configuration", "Instance", "Service", "CustomResourceDefinition", "Node"}
NAME = "app.kubernetes.io/name"
WEBHOOK = "akri-webhook-configuration"  # its pods' name label and its Service's name


class AkriModel:
    """The agent, udev discovery handler and controller of one node."""

    def __init__(
        self,
        store: Any,
        cluster: Any,
        node_name: str,
        devices: Callable[[], list[UdevDevice]],
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self._store, self._cluster, self._node = store, cluster, node_name
        self._devices, self._faults = devices, faults
        self._cond = threading.Condition()
        self._dirty, self._stopping = True, False
        self._due: set[float] = set()
        self._thread: threading.Thread | None = None
        self._gone_since: dict[str, float] = {}  # devpath -> when it vanished
        self._known: set[str] = set()  # devpaths that had an Instance
        self._plugins = DevicePlugins(store, cluster, node_name)
        self._controller = AkriController(store, node_name, faults, self._wake_at)
        self._edits = HandEdits(store, faults)
        self._restarts = AgentRestarts()
        cluster.add_pod_behaviour(self._behaviour)
        store.subscribe(self._on_event)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the reconcile thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping, self._dirty = False, True
            self._thread = threading.Thread(target=self._run, name="twin-akri", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the reconcile thread (a no-op when not started)."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join()

    def notify_devices(self) -> None:
        """The node's devices or their producers changed: rediscover."""
        self._poke()

    def broker_device(self, namespace: str, pod_name: str) -> str | None:
        """The devnode a broker pod was allocated (that Instance's UDEV_DEVNODE), or None."""
        pod = self._store.get("Pod", namespace, pod_name)
        inst = self._plugins.allocated(pod) if pod else None
        return ((inst or {}).get("spec", {}).get("brokerProperties") or {}).get("UDEV_DEVNODE")

    # -- thread ----------------------------------------------------------------------------

    def _on_event(self, _type: str, obj: dict) -> None:
        if obj.get("kind") in WATCHED:
            self._poke()

    def _poke(self) -> None:
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def _wake_at(self, when: float) -> None:
        with self._cond:
            self._due.add(when)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._dirty or self._stopping):
                    now = time.monotonic()
                    due = min(self._due, default=None)
                    if due is not None and due <= now:
                        break
                    self._cond.wait(None if due is None else due - now)
                if self._stopping:
                    return
                self._dirty = False
                now = time.monotonic()
                self._due = {t for t in self._due if t > now}
            try:
                self._reconcile()
            except (Conflict, NotFound):
                # another writer raced us (GC, kubectl, helm): look again shortly
                log.debug("akri reconcile raced another writer; retrying", exc_info=True)
                self._wake_at(time.monotonic() + RETRY_AFTER_ERROR)
            except Exception:
                log.exception("akri reconcile failed; retrying")
                self._wake_at(time.monotonic() + RETRY_AFTER_ERROR)

    # -- reconcile -------------------------------------------------------------------------

    def _list(self, kind: str, labels: str | None = None) -> list[dict]:
        if self._store.resource(kind) is None:
            return []
        return self._store.list(kind, label_selector=labels)[0]

    def _component_ready(self, name: str) -> bool:
        pods = self._list("Pod", f"{NAME}={name}")
        return any(pod_ready(p) for p in pods)

    def _reconcile(self) -> None:
        running = getattr(self._cluster, "is_running", lambda: True)
        if not running():
            return
        now = time.monotonic()
        self._sync_webhook()
        # udev reports every device of the node: the cameras, and /dev/null that every node has
        devices = {d.devpath: d for d in [*self._devices(), NULL_DEVICE]}
        for devpath in self._known - devices.keys():
            self._gone_since.setdefault(devpath, now)
        for devpath in devices:
            self._gone_since.pop(devpath, None)
        every = self._list("Configuration")
        configs = [c for c in every if c["spec"].get("discoveryHandler", {}).get("name") == "udev"]
        if self._component_ready("akri-agent") and self._reapply(now):
            configs = self._finalize(every, configs)
            discovering = self._component_ready("akri-udev-discovery")
            instances = self._list("Instance")
            for cfg in configs:
                mine = [i for i in instances if belongs(i, cfg)]
                self._sync_instances(cfg, devices if discovering else None, mine, now)
            names = {key_of(c) for c in every}
            for inst in instances:
                if (key_of(inst)[0], inst["spec"]["configurationName"]) not in names:
                    self._delete("Instance", *key_of(inst))
        instances = [i for i in self._list("Instance") if self._node in i["spec"].get("nodes", [])]
        self._plugins.sync(instances)
        if self._component_ready("akri-controller"):
            self._controller.sync({key_of(c): c for c in configs}, instances, now)

    def _reapply(self, now: float) -> bool:
        """False while a restarted agent waits for its handler; then it deletes this node's
        Instances once, to apply them again with new UIDs (twin.akri.restarts)."""
        due = self._restarts.check(self._list("Pod", "app.kubernetes.io/name=akri-agent"), now)
        if due is not None and now < due:
            self._wake_at(due)
            return False
        if due is not None:
            for inst in self._list("Instance"):
                if self._node in inst["spec"].get("nodes", []):
                    self._delete("Instance", *key_of(inst))
            self._restarts.reapplied()
        return True

    def _finalize(self, every: list[dict], udev: list[dict]) -> list[dict]:
        """The agent's finalizer on every Configuration; the udev ones still discovered for."""
        return finalize(self._store, self._node, "no-config-cleanup" in self._faults, every, udev)

    def _sync_webhook(self) -> None:
        """Akri's webhook answers the API server while one of its pods is ready."""
        namespaces = {key_of(p)[0] for p in self._list("Pod", f"{NAME}={WEBHOOK}") if pod_ready(p)}
        backends = self._store.webhook_backends
        for namespace in {k[0] for k in list(backends) if k[1] == WEBHOOK} - namespaces:
            backends.pop((namespace, WEBHOOK), None)
        for namespace in namespaces:
            backends[(namespace, WEBHOOK)] = webhook.review

    def _sync_instances(
        self, cfg: dict, devices: dict[str, UdevDevice] | None, mine: list[dict], now: float
    ) -> None:
        if devices is None:
            return  # the discovery handler is not registered: nothing is reported or withdrawn
        rules = udev_rules(cfg)
        found = [d for d in devices.values() if any(rule_matches(r, d) for r in rules)]
        found.sort(key=lambda d: d.devnode)
        if "missing-instance" in self._faults:
            found = found[:1]
        name = key_of(cfg)[1]
        wanted = {f"{name}-{instance_hash(d.devpath, self._node)}": d for d in found}
        have = {key_of(i)[1] for i in mine}
        for inst_name, device in wanted.items():
            if inst_name not in have:
                self._create_instance(cfg, inst_name, device, now)
        for inst in mine:
            if key_of(inst)[1] in wanted:
                continue
            devpath = (inst["spec"].get("brokerProperties") or {}).get("UDEV_DEVPATH", "")
            gone = self._gone_since.get(devpath)
            if gone is not None and now < gone + REMOVAL_DELAY:
                self._wake_at(gone + REMOVAL_DELAY)
                continue
            self._delete("Instance", *key_of(inst))

    def _create_instance(self, cfg: dict, name: str, device: UdevDevice, now: float) -> None:
        namespace, config = key_of(cfg)
        capacity = int(cfg["spec"].get("capacity") or 1)
        props = dict(cfg["spec"].get("brokerProperties") or {})
        props.update(UDEV_DEVNODE=device.devnode, UDEV_DEVPATH=device.devpath)
        spec = {
            "configurationName": config,
            "cdiName": f"akri.sh/{config}={name.rsplit('-', 1)[-1]}",
            "capacity": capacity,
            "shared": False,
            "nodes": [self._node],
            "deviceUsage": {},  # created empty; the device plugin writes held slots only
            "brokerProperties": props,
        }
        meta = {"name": name, "namespace": namespace, "ownerReferences": [owner_ref(cfg)]}
        with contextlib.suppress(Conflict):
            self._store.create(
                {"apiVersion": API, "kind": "Instance", "metadata": meta, "spec": spec}
            )
        self._known.add(device.devpath)
        self._controller.first_seen[name] = now

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._store.delete(kind, namespace, name)

    # -- pod behaviours (called by the kubelet model at each container start) ---------------

    def _behaviour(self, pod: dict) -> PodBehaviour | None:
        labels = pod["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/name") == "akri-agent" and "agent-down" in self._faults:
            return PodBehaviour(never_ready=True)
        name = labels.get("akri.sh/instance")
        if labels.get("controller") != "akri.sh" or not name:
            return None
        # the broker sees the device its resource claim was allocated, not the one its label names
        inst = self._plugins.allocate(pod)
        if inst is None:
            return broker_behaviour(None, {}, None, busy=False)
        props = inst["spec"].get("brokerProperties") or {}
        devnode = props.get("UDEV_DEVNODE")
        device = next((d for d in self._devices() if d.devnode == devnode), None)
        busy = "broker-crashloop" in self._faults and self._is_second(inst)
        return broker_behaviour(key_of(inst)[1], props, device, busy)

    def _is_second(self, inst: dict) -> bool:
        """The fault's victim: the second Instance of its Configuration by devnode."""
        spec = inst["spec"]
        siblings = [
            i
            for i in self._list("Instance")
            if i["spec"].get("configurationName") == spec.get("configurationName")
        ]
        siblings.sort(
            key=lambda i: (i["spec"].get("brokerProperties") or {}).get("UDEV_DEVNODE", "")
        )
        return len(siblings) > 1 and key_of(siblings[1]) == key_of(inst)
