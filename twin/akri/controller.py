"""The twin's Akri controller: a broker Pod per Instance, then the Instance and Configuration
Services once brokers run.

Brokers follow `shared/src/k8s/pod.rs` (docs/facts.md#broker-pods): `<instance>-pod`, labels
`app`, `controller=akri.sh`, `akri.sh/configuration`, `akri.sh/instance`, `akri.sh/target-node`,
the Configuration's brokerPodSpec with `{{PLACEHOLDER}}` resources renamed `akri.sh/<instance>`,
node affinity on the node name and an ownerReference to the Instance. Services follow
docs/facts.md#akri-services and docs/facts.md#services-follow-brokers: `<instance>-svc` and
`<config>-svc` from the first Running broker behind them until no broker behind them is left;
the spec's own selector is kept and the controller's labels added. A broker pod that is
deleted stays (Terminating) until its containers stopped; only then can `<instance>-pod` be
created again, with a new uid (docs/facts.md#broker-replacement). Faults: `slow-start`,
`no-config-service`, `broker-not-replaced` (the controller's watches stall once every broker
ran, as a watch that silently stops delivering does: it never sees a deletion again, so a
deleted broker is not replaced and nothing of its services changes).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable
from typing import Any

from twin.kubeapi.meta import owner_ref
from twin.kubeapi.store import Conflict, NotFound

API = "akri.sh/v0"
PLACEHOLDER = "{{PLACEHOLDER}}"
SLOW_START_DELAY = 20.0  # the `slow-start` fault: brokers appear this long after their Instance


def pod_ready(pod: dict) -> bool:
    """Running with condition Ready=True."""
    status = pod.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return status.get("phase") == "Running" and ready


def key_of(obj: dict) -> tuple[str, str]:
    """(namespace, name) of an object."""
    return obj["metadata"].get("namespace", "default"), obj["metadata"]["name"]


def belongs(inst: dict, cfg: dict) -> bool:
    """True when an Instance was discovered for this Configuration."""
    same_ns = key_of(inst)[0] == key_of(cfg)[0]
    return same_ns and inst["spec"]["configurationName"] == key_of(cfg)[1]


class AkriController:
    """Broker pods and services for the Instances of one node."""

    def __init__(
        self,
        store: Any,
        node_name: str,
        faults: frozenset[str],
        wake_at: Callable[[float], None],
    ) -> None:
        self._store, self._node, self._faults, self._wake_at = store, node_name, faults, wake_at
        self.first_seen: dict[str, float] = {}  # instance name -> when the agent created it
        self._stalled = False  # the `broker-not-replaced` fault: no reconcile any more

    def _list(self, kind: str, labels: str | None = None) -> list[dict]:
        if self._store.resource(kind) is None:
            return []
        return self._store.list(kind, label_selector=labels)[0]

    def _delete(self, kind: str, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            self._store.delete(kind, namespace, name)

    def sync(self, configs: dict, instances: list[dict], now: float) -> None:
        """Reconcile services, then broker pods: the pod watcher removes a gone broker's services
        before the Instance's broker is created again (pod_watcher.rs handle_non_running_pod)."""
        if self._stalled:
            return
        brokers = self._list("Pod", "controller=akri.sh")
        self._sync_services(configs, instances, brokers)
        self._sync_brokers(configs, instances, now)
        if "broker-not-replaced" in self._faults and instances:
            running = {p["metadata"]["name"] for p in brokers if pod_ready(p)}
            wanted = [i for i in instances if self._pod_spec(configs, i)]
            self._stalled = bool(wanted) and all(
                f"{key_of(i)[1]}-pod".replace(".", "-") in running for i in wanted
            )

    @staticmethod
    def _pod_spec(configs: dict, inst: dict) -> dict | None:
        cfg = configs.get((key_of(inst)[0], inst["spec"]["configurationName"]))
        return ((cfg or {}).get("spec", {}).get("brokerSpec") or {}).get("brokerPodSpec")

    def _sync_brokers(self, configs: dict, instances: list[dict], now: float) -> None:
        wanted: set[tuple[str, str]] = set()
        for inst in instances:
            namespace, name = key_of(inst)
            cfg = configs.get((namespace, inst["spec"]["configurationName"]))
            pod_spec = self._pod_spec(configs, inst)
            if not pod_spec:
                continue
            pod_name = f"{name}-pod".replace(".", "-")
            wanted.add((namespace, pod_name))
            if self._store.get("Pod", namespace, pod_name) is not None:
                continue
            if "slow-start" in self._faults:
                due = self.first_seen.setdefault(name, now) + SLOW_START_DELAY
                if now < due:
                    self._wake_at(due)
                    continue
            self._create_broker(cfg, inst, pod_name, pod_spec)
        for pod in self._list("Pod", "controller=akri.sh,akri.sh/instance"):
            if key_of(pod) not in wanted:
                self._delete("Pod", *key_of(pod))

    def _create_broker(self, cfg: dict, inst: dict, pod_name: str, pod_spec: dict) -> None:
        namespace, name = key_of(inst)
        spec = copy.deepcopy(pod_spec)
        for container in spec.get("containers", []):
            for part in ("requests", "limits"):
                amounts = (container.get("resources") or {}).get(part)
                if amounts and PLACEHOLDER in amounts:
                    container["resources"][part] = {
                        (f"akri.sh/{name}" if k == PLACEHOLDER else k): v
                        for k, v in amounts.items()
                    }
        term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [self._node]}]}
        rule = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
        spec["affinity"] = {"nodeAffinity": rule}
        labels = {
            "app": pod_name,
            "controller": "akri.sh",
            "akri.sh/configuration": key_of(cfg)[1],
            "akri.sh/instance": name,
            "akri.sh/target-node": self._node,
        }
        meta = {"name": pod_name, "namespace": namespace, "labels": labels}
        meta["ownerReferences"] = [owner_ref(inst)]
        with contextlib.suppress(Conflict):
            self._store.create({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})

    def _sync_services(self, configs: dict, instances: list[dict], brokers: list[dict]) -> None:
        """Services follow the brokers (pod_watcher.rs, docs/facts.md#services-follow-brokers).

        A service is created when a broker behind it is Running, and deleted once no broker pod
        behind it is left that has not ended (`cleanup_svc_if_unsupported` counts every phase
        but Succeeded and Failed), so a replaced broker gets a new Service and ClusterIP.
        """
        phases: dict[tuple[str, str, str], set[str]] = {}
        for pod in brokers:
            labels = pod["metadata"].get("labels") or {}
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            for label in ("akri.sh/instance", "akri.sh/configuration"):
                if labels.get(label):
                    phases.setdefault((key_of(pod)[0], label, labels[label]), set()).add(phase)
        wanted: set[tuple[str, str]] = set()

        def follow(owner: dict, name: str, spec: dict | None, label: str, value: str) -> None:
            seen = phases.get((key_of(owner)[0], label, value), set())
            exists = self._store.get("Service", key_of(owner)[0], name) is not None
            if spec and (("Running" in seen) or (exists and seen - {"Succeeded", "Failed"})):
                wanted.add((key_of(owner)[0], name))
                self._ensure_service(owner, name, spec, label, value)

        for inst in instances:
            namespace, name = key_of(inst)
            cfg = configs.get((namespace, inst["spec"]["configurationName"]))
            spec = (cfg or {}).get("spec", {}).get("instanceServiceSpec")
            follow(inst, f"{name}-svc", spec, "akri.sh/instance", name)
        for (_namespace, config), cfg in configs.items():
            if "no-config-service" in self._faults:
                continue
            spec = cfg["spec"].get("configurationServiceSpec")
            follow(cfg, f"{config}-svc", spec, "akri.sh/configuration", config)
        for svc in self._list("Service", "controller=akri.sh"):
            if key_of(svc) not in wanted:
                self._delete("Service", *key_of(svc))

    def _ensure_service(self, owner: dict, name: str, spec: dict, label: str, value: str) -> None:
        namespace = key_of(owner)[0]
        if self._store.get("Service", namespace, name) is not None:
            return
        labels = {"app": name, "controller": "akri.sh", label: value}
        meta = {"name": name, "namespace": namespace, "labels": labels}
        meta["ownerReferences"] = [owner_ref(owner)]
        body = copy.deepcopy(spec)
        # added to the spec's own selector, not replacing it (service.rs)
        body["selector"] = {**(body.get("selector") or {}), "controller": "akri.sh", label: value}
        with contextlib.suppress(Conflict):
            self._store.create(
                {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}
            )
