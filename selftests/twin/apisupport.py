"""Helpers for the self-tests of the twin's API server semantics: a server, two clients, waits.

`ApiUnderTest` bundles a fresh store, its HTTPS API server, the kubernetes client built the way
the suite builds it, and a raw HTTPS client (client certificate, CA pinned) for what the typed
client cannot send (a protobuf body, an unsupported patch type). With `with_cluster`, the
node model runs too, so pods are scheduled, started and stopped by the twin's kubelet. Waits
follow store changes with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fixtures.kube.client import Kube, api_client_from_kubeconfig
from twin.cluster.microk8s import NODE_NAME, Cluster
from twin.kubeapi.pki import Pki
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore


@dataclass
class ApiUnderTest:
    """A store, its API server, the suite's client and a raw HTTPS client."""

    store: ObjectStore
    server: KubeApiServer
    kube: Kube
    pki: Pki
    cluster: Cluster | None = None
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.store.subscribe(lambda *_: self._notify())

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def until(self, check: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Wait for check() to be truthy, woken by store changes; fail naming `what`."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := check()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"timed out after {timeout}s waiting for {what}")
                self._changed.wait(min(remaining, 0.2))
        return result

    def raw(
        self, method: str, path: str, body: bytes | dict | list | None = None, ctype: str = ""
    ) -> tuple[int, Any]:
        """One HTTPS request with the admin client certificate; (status, decoded body)."""
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(self.pki.client_cert, self.pki.client_key)
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=context)
        data = json.dumps(body).encode() if isinstance(body, dict | list) else body
        headers = {"Content-Type": ctype or "application/json"} if data is not None else {}
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
        finally:
            conn.close()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


def start_api(pki: Pki, with_cluster: bool = False, faults: frozenset[str] = frozenset()):
    """Start a store, API server (and node model); return (ApiUnderTest, stop function)."""
    store = ObjectStore()
    server = KubeApiServer(store, pki)
    server.start()
    cluster = Cluster(store, NODE_NAME, faults) if with_cluster else None
    if cluster is not None:
        cluster.start()
    kube = Kube(
        api_client_from_kubeconfig(
            pki.kubeconfig("https://127.0.0.1:16443"), f"https://127.0.0.1:{server.port}"
        )
    )

    def stop() -> None:
        kube.close()
        if cluster is not None:
            cluster.stop()
        server.stop()

    return ApiUnderTest(store, server, kube, pki, cluster), stop


def pod(name: str, node: str | None = None, **spec: Any) -> dict:
    """A minimal pod manifest, as a client would send it."""
    body: dict[str, Any] = {"containers": [{"name": "main", "image": "busybox:1.36"}], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def bound_pod(name: str, node: str = "edge", **labels: str) -> dict:
    """A pod complete enough for the client's models (the API server sets it Pending)."""
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]},
    }
