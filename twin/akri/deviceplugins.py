"""The Akri agent's device plugins on the twin's node: what the node offers, who holds a slot.

Source: agent/src/plugin_manager/device_plugin_instance_controller.rs at akri 604bdcb6
(docs/facts.md#instance-fields, docs/facts.md#device-plugin-resources). One plugin per Instance
offers `akri.sh/<instance>` with `capacity` slots; one per Configuration offers `akri.sh/<config>`,
whose virtual devices `<config>-<n>` each stand for a free slot of one of its Instances. A pod's
container gets a device only through a claim: a request of `akri.sh/<instance>` gets that Instance,
a request of `akri.sh/<config>` gets any Instance with a free slot (the kubelet picks; the twin
takes the first by name), and no request gets nothing. The Allocate answer carries the device's
properties, suffixed with the upper-case hash of the Instance the device belongs to
(`cdi_device_to_car`, docs/facts.md#broker-environment): `twin.akri.broker` turns it into the
broker's environment.

`deviceUsage` is written the way the agent applies it (docs/facts.md#instance-fields): created
empty, a held slot `<instance>-<i>` maps to `<node>` (instance-level claim) or `C:<vdev>:<node>`
(configuration level), a free slot is absent. A slot is held while its pod is neither Succeeded
nor Failed.

The node's `akri.sh/<config>` count is the sum of the Instances' capacities; the facts have not
confirmed it on a cluster (docs/facts.md#device-plugin-resources), while the source advertises
one virtual device per Instance with a free slot, plus the ones in use: a question for the
facts.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from twin.akri.controller import key_of
from twin.cluster.podstatus import extended_requests
from twin.kubeapi.store import NotFound

PREFIX = "akri.sh/"
ENDED = ("Succeeded", "Failed")


@dataclass(frozen=True)
class Claim:
    """The device a pod was allocated: its Instance and, for a configuration-level claim, the
    virtual device id."""

    namespace: str
    instance: str
    vdev: str | None = None

    def usage(self, node: str) -> str:
        """The deviceUsage value the agent writes for this claim."""
        return f"C:{self.vdev}:{node}" if self.vdev else node


class DevicePlugins:
    """Allocation, advertised resources and deviceUsage for the Instances of one node."""

    def __init__(self, store: Any, cluster: Any, node_name: str) -> None:
        self._store, self._cluster, self._node = store, cluster, node_name
        self._lock = threading.Lock()
        self._claims: dict[str, Claim | None] = {}  # pod uid -> what its Allocate answered
        self._allocatable: dict[str, int] = {}

    def allocate(self, pod: dict) -> dict | None:
        """The Instance whose device the pod's container got (None: no akri.sh claim).

        Like the kubelet's Allocate, once per pod: a restarted container keeps its device.
        """
        uid = pod["metadata"]["uid"]
        with self._lock:
            if uid not in self._claims:
                self._claims[uid] = self._claim(pod)
            claim = self._claims[uid]
        if claim is None:
            return None
        return self._store.get("Instance", claim.namespace, claim.instance)

    def allocated(self, pod: dict) -> dict | None:
        """The Instance a pod was already allocated (None: not allocated, or no claim)."""
        with self._lock:
            claim = self._claims.get(pod["metadata"]["uid"])
        return self._store.get("Instance", claim.namespace, claim.instance) if claim else None

    def _claim(self, pod: dict) -> Claim | None:
        namespace = pod["metadata"].get("namespace", "default")
        for resource in sorted(extended_requests(pod)):
            if not resource.startswith(PREFIX):
                continue
            name = resource[len(PREFIX) :]
            if self._store.get("Instance", namespace, name) is not None:
                return Claim(namespace, name)
            instances = self._list("Instance", namespace)
            members = [i for i in instances if i["spec"].get("configurationName") == name]
            held = [c for c in self._claims.values() if c is not None]
            for inst in sorted(members, key=lambda i: key_of(i)[1]):
                taken = sum(1 for c in held if (c.namespace, c.instance) == key_of(inst))
                if taken < int(inst["spec"].get("capacity") or 1):
                    used = {c.vdev for c in held}
                    vdev = next(
                        f"{name}-{n}" for n in range(len(used) + 1) if f"{name}-{n}" not in used
                    )
                    return Claim(namespace, key_of(inst)[1], vdev)
        return None

    def sync(self, instances: list[dict]) -> None:
        """Advertise this node's resources and write each Instance's held slots."""
        self._sync_allocatable(instances)
        live = {
            p["metadata"]["uid"]: p
            for p in self._list("Pod")
            if (p.get("status") or {}).get("phase") not in ENDED
        }
        with self._lock:
            for uid in set(self._claims) - set(live):
                del self._claims[uid]  # the pod is gone: the agent frees its slot
            held = [c for c in self._claims.values() if c is not None]
        for inst in instances:
            mine = [c.usage(self._node) for c in held if (c.namespace, c.instance) == key_of(inst)]
            self._write_usage(inst, mine)

    def _write_usage(self, inst: dict, wanted: list[str]) -> None:
        namespace, name = key_of(inst)
        capacity = int(inst["spec"].get("capacity") or 1)
        current = inst["spec"].get("deviceUsage") or {}
        usage: dict[str, str] = {}
        for slot, value in sorted(current.items()):
            if value in wanted:  # a held slot keeps its id
                wanted.remove(value)
                usage[slot] = value
        for value in wanted:
            free = (f"{name}-{i}" for i in range(capacity) if f"{name}-{i}" not in usage)
            slot = next(free, None)
            if slot is not None:
                usage[slot] = value
        if usage == current:
            return

        def write(obj: dict) -> None:
            obj["spec"]["deviceUsage"] = usage

        with contextlib.suppress(NotFound):  # the agent deleted it meanwhile
            self._store.patch("Instance", namespace, name, write)

    def _sync_allocatable(self, instances: list[dict]) -> None:
        want: dict[str, int] = {}
        for inst in instances:
            capacity = int(inst["spec"].get("capacity") or 1)
            want[f"{PREFIX}{key_of(inst)[1]}"] = capacity
            config = f"{PREFIX}{inst['spec']['configurationName']}"
            want[config] = want.get(config, 0) + capacity
        for resource in sorted(set(want) | set(self._allocatable)):
            if want.get(resource) != self._allocatable.get(resource):
                self._cluster.set_allocatable(resource, want.get(resource))
        self._allocatable = want

    def _list(self, kind: str, namespace: str | None = None) -> list[dict]:
        if self._store.resource(kind) is None:
            return []
        return self._store.list(kind, namespace)[0]
