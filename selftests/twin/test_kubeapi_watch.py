"""Watches of the twin's API server, through the real kubernetes client's watch.Watch.

Replay from a resourceVersion, objects leaving a selection read as DELETED, a too old version
is 410 Gone, and stopping the server ends open watches and their threads.
"""

from __future__ import annotations

import threading
import time

import pytest
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from fixtures.kube.client import Kube
from selftests.twin.apisupport import bound_pod as pod
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore


def test_watch_from_resource_version_sees_later_changes(kube: Kube, store: ObjectStore) -> None:
    store.create(pod("old"))
    rv = kube.call(kube.core.list_namespaced_pod, "default").metadata.resource_version
    store.create(pod("replayed"))
    later = threading.Timer(0.2, lambda: store.patch("Pod", "default", "old", _run))
    later.start()
    seen = []
    w = watch.Watch()
    try:
        for event in w.stream(
            kube.core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=5
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                w.stop()
    finally:
        later.cancel()
    assert seen == [("ADDED", "replayed"), ("MODIFIED", "old")]


def _run(obj: dict) -> None:
    obj["status"]["phase"] = "Running"


def test_watch_with_selector_sees_leaving_objects_as_deleted(store: ObjectStore) -> None:
    store.create(pod("p", app="web"))
    _, rv = store.list("Pod")
    store.patch("Pod", "default", "p", _run)
    events = store.watch("Pod", "default", None, "status.phase=Pending", rv, timeout=0.1)
    assert [(t, o["status"]["phase"]) for t, o in events] == [("DELETED", "Pending")]


def test_watch_from_too_old_resource_version_is_410(kube: Kube, store: ObjectStore) -> None:
    store.create(pod("p"))
    rv = kube.call(kube.core.list_namespaced_pod, "default").metadata.resource_version
    for i in range(25):  # more than the store's history of 20
        store.create({"kind": "ConfigMap", "metadata": {"name": f"cm{i}"}})
    with pytest.raises(ApiException) as err:
        list(
            watch.Watch().stream(
                kube.core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=2
            )
        )
    assert err.value.status == 410 and err.value.reason.startswith("Expired")


def test_stop_ends_open_watches_and_threads(kube: Kube, server: KubeApiServer) -> None:
    failures: list[BaseException] = []

    def long_watch() -> None:
        try:
            list(watch.Watch().stream(kube.core.list_namespaced_pod, "default", timeout_seconds=60))
        except Exception as exc:  # the stream may end cleanly or by a reset: both are fine
            failures.append(exc)

    watcher = threading.Thread(target=long_watch)
    watcher.start()
    time.sleep(0.2)  # let the watch reach the server
    started = time.monotonic()
    server.stop()
    watcher.join(5)
    assert not watcher.is_alive()
    assert time.monotonic() - started < 3
    assert not [t for t in threading.enumerate() if "process_request" in t.name]
