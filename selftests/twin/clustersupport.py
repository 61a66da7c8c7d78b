"""Helpers for the self-tests of the twin's node model: a running cluster, manifests, waits.

`Changes` waits on store changes with a deadline (no polling sleeps); manifests complete enough
for the model; `load_models` loads what the model wrote into the kubernetes client's pydantic
models, as the suite will read it through the API server. The `twin` fixture is in conftest.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from kubernetes import client

from twin.kubeapi.store import ObjectStore


class Changes:
    """Waits on store changes with a deadline (no polling sleeps)."""

    def __init__(self, store: ObjectStore) -> None:
        self.changed = threading.Condition()
        store.subscribe(lambda *_: self._notify())

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def until(self, check: Callable[[], object], timeout: float = 5.0, what: str = "") -> object:
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (result := check()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"timed out after {timeout}s waiting for {what or check}")
                self.changed.wait(min(remaining, 0.2))
        return result


def deployment(name: str, labels: dict, image: str = "nginx:1.27", replicas: int = 1) -> dict:
    container = {"name": name, "image": image, "ports": [{"name": "http", "containerPort": 8080}]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def pod(name: str, labels: dict | None = None, limits: dict | None = None) -> dict:
    container = {"name": "main", "image": "busybox", "resources": {"limits": limits or {}}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels or {}},
        "spec": {"containers": [container]},
    }


def condition(obj: dict | None, ctype: str) -> dict:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond["type"] == ctype:
            return cond
    return {}


def phase(store: ObjectStore, name: str) -> str | None:
    return (store.get("Pod", "default", name).get("status") or {}).get("phase")


def load_models(store: ObjectStore, kind: str, model: str) -> list:
    items, _ = store.list(kind)
    body = {"apiVersion": "v1", "kind": f"{kind}List", "metadata": {}, "items": items}
    return client.ApiClient().deserialize(json.dumps(body), model, "application/json").items
