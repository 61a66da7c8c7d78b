"""The endpoints controller: one Endpoints object per Service that has a selector.

Ready pods (Ready condition True) with an IP go to `subsets[].addresses`, the others to
`notReadyAddresses`; ports come from the Service's targetPorts, named ones resolved through the
pods' container ports. A Service without pods gets an Endpoints object without subsets; an
Endpoints object whose Service is gone is deleted. Services without a selector (the
`kubernetes` Service) are left to whoever manages them.
"""

from __future__ import annotations

import contextlib

from twin.cluster.objects import labels_string
from twin.cluster.statuses import pod_ready
from twin.kubeapi.store import Conflict, NotFound, ObjectStore


class EndpointsController:
    """Keeps Endpoints in line with Services and pod readiness."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def sync_endpoints(self) -> None:
        """One Endpoints object per Service with a selector; orphans removed."""
        services = {}
        for svc in self.store.list("Service")[0]:
            services[(svc["metadata"]["namespace"], svc["metadata"]["name"])] = svc
            if svc["spec"].get("selector"):
                self._sync_service_endpoints(svc)
        for ep in self.store.list("Endpoints")[0]:
            key = (ep["metadata"]["namespace"], ep["metadata"]["name"])
            if key not in services:
                with contextlib.suppress(NotFound):
                    self.store.delete("Endpoints", *key)

    def _sync_service_endpoints(self, svc: dict) -> None:
        meta = svc["metadata"]
        selector = labels_string(svc["spec"]["selector"])
        pods = [
            p
            for p in self.store.list("Pod", meta["namespace"], label_selector=selector)[0]
            if (p.get("status") or {}).get("podIP") and not p["metadata"].get("deletionTimestamp")
        ]
        subset: dict = {}
        for kind, ready in (("addresses", True), ("notReadyAddresses", False)):
            chosen = sorted(
                (p for p in pods if pod_ready(p) == ready), key=lambda p: p["status"]["podIP"]
            )
            if chosen:
                subset[kind] = [_address(p) for p in chosen]
        ports = [_endpoint_port(port, pods) for port in svc["spec"].get("ports") or []]
        if subset and any(ports):
            subset["ports"] = [p for p in ports if p]
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "labels": dict(meta.get("labels") or {}),
            },
        }
        if subset:
            endpoints["subsets"] = [subset]
        current = self.store.get("Endpoints", meta["namespace"], meta["name"])
        if current is None:
            with contextlib.suppress(Conflict):
                self.store.create(endpoints)
            return
        if (
            current.get("subsets") != endpoints.get("subsets")
            or current["metadata"].get("labels") != endpoints["metadata"]["labels"]
        ):

            def write(obj: dict) -> None:
                obj["metadata"]["labels"] = endpoints["metadata"]["labels"]
                obj.pop("subsets", None)
                if subset:
                    obj["subsets"] = endpoints["subsets"]

            self.store.patch("Endpoints", meta["namespace"], meta["name"], write)


def _address(pod: dict) -> dict:
    meta = pod["metadata"]
    return {
        "ip": pod["status"]["podIP"],
        "nodeName": pod["spec"].get("nodeName"),
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }


def _endpoint_port(port: dict, pods: list[dict]) -> dict | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, str) and not target.isdigit():
        named = [
            p.get("containerPort")
            for pod in pods
            for c in pod["spec"].get("containers", [])
            for p in c.get("ports") or []
            if p.get("name") == target
        ]
        if not named:
            return None
        target = named[0]
    result = {"port": int(target), "protocol": port.get("protocol", "TCP")}
    if port.get("name"):
        result["name"] = port["name"]
    return result
