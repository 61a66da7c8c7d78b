"""fixtures.kube.waits against the twin's API server: list + watch waits, re-lists, timeouts.

State changes arrive from threading.Timer callbacks writing to the store, the way the twin's
controllers change things while the suite waits. Every server and client is stopped at the end.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator

import pytest
import urllib3
from kubernetes.client import V1PodList

from fixtures.kube.client import Kube, api_client_from_kubeconfig
from fixtures.kube.waits import WaitTimeout, wait_for, wait_until_endpoints_ready
from twin.kubeapi.pki import make_pki
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore


@pytest.fixture
def store() -> ObjectStore:
    return ObjectStore(history=10)


@pytest.fixture
def kube(store: ObjectStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    server = KubeApiServer(store, pki)
    port = server.start()
    url = f"https://127.0.0.1:{port}"
    k = Kube(api_client_from_kubeconfig(pki.kubeconfig(url), url))
    yield k
    k.close()
    server.stop()


@pytest.fixture
def timers() -> Iterator[list[threading.Timer]]:
    started: list[threading.Timer] = []
    yield started
    for timer in started:
        timer.cancel()
        timer.join()


def later(timers: list[threading.Timer], seconds: float, fn) -> None:
    timer = threading.Timer(seconds, fn)
    timers.append(timer)
    timer.start()


def add_pod(store: ObjectStore, name: str) -> None:
    store.create(
        {
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": "Pending"},
        }
    )


def set_phase(store: ObjectStore, name: str, phase: str) -> None:
    store.patch("Pod", "default", name, lambda pod: pod["status"].update(phase=phase))


def all_running(pods: list) -> bool:
    return len(pods) == 2 and all(p.status.phase == "Running" for p in pods)


def phases(pods: list) -> str:
    return ", ".join(f"{p.metadata.name}={p.status.phase}" for p in pods)


def wait_web_pods(kube: Kube, list_fn=None, timeout: float = 5):
    return wait_for(
        kube,
        list_fn or kube.core.list_namespaced_pod,
        namespace="default",
        label_selector="app=web",
        condition=all_running,
        describe=phases,
        what="2 web pods Running",
        timeout=timeout,
    )


def test_returns_when_pods_become_running(
    kube: Kube, store: ObjectStore, timers: list[threading.Timer]
) -> None:
    add_pod(store, "web-1")
    add_pod(store, "web-2")
    later(timers, 0.2, lambda: set_phase(store, "web-1", "Running"))
    later(timers, 0.4, lambda: set_phase(store, "web-2", "Running"))
    started = time.monotonic()
    pods, stats = wait_web_pods(kube)
    assert phases(pods) == "web-1=Running, web-2=Running"
    assert time.monotonic() - started < 2
    assert stats.events == 2 and stats.relists == 0


def test_times_out_with_the_last_observed_phases(
    kube: Kube, store: ObjectStore, timers: list[threading.Timer]
) -> None:
    add_pod(store, "web-1")
    add_pod(store, "web-2")
    later(timers, 0.2, lambda: set_phase(store, "web-1", "Running"))
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as err:
        wait_web_pods(kube, timeout=1.5)
    assert 1.5 <= time.monotonic() - started < 2, "the deadline is kept to well under a second"
    message = str(err.value)
    assert "2 web pods Running" in message and "1.5s" in message
    assert "web-1=Running, web-2=Pending" in message
    assert isinstance(err.value, AssertionError)


def test_waits_for_custom_objects(
    kube: Kube, store: ObjectStore, timers: list[threading.Timer]
) -> None:
    store.create(
        {
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "instances.akri.sh"},
            "spec": {
                "group": "akri.sh",
                "names": {"kind": "Instance", "plural": "instances"},
                "scope": "Namespaced",
                "versions": [{"name": "v0", "served": True, "storage": True}],
            },
        }
    )

    def instance(name: str) -> dict:
        return {"apiVersion": "akri.sh/v0", "kind": "Instance", "metadata": {"name": name}}

    later(timers, 0.1, lambda: store.create(instance("akri-udev-video-aaaaaa")))
    later(timers, 0.3, lambda: store.create(instance("akri-udev-video-bbbbbb")))
    items, _ = wait_for(
        kube,
        kube.custom_lister("instances"),
        namespace="default",
        condition=lambda found: len(found) == 2,
        describe=lambda found: ", ".join(i["metadata"]["name"] for i in found),
        what="2 Instances",
        timeout=5,
    )
    assert [i["metadata"]["name"] for i in items] == [
        "akri-udev-video-aaaaaa",
        "akri-udev-video-bbbbbb",
    ]


def test_relists_after_410_gone(kube: Kube, store: ObjectStore) -> None:
    add_pod(store, "web-1")
    add_pod(store, "web-2")

    @functools.wraps(kube.core.list_namespaced_pod)
    def list_then_churn(*args, **kwargs) -> V1PodList:
        if kwargs.get("watch") and not churned.is_set():
            churned.set()
            # overflow the store's history past the listed version: the watch gets a 410
            for i in range(15):
                store.create({"kind": "ConfigMap", "metadata": {"name": f"churn-{i}"}})
            set_phase(store, "web-1", "Running")
            set_phase(store, "web-2", "Running")
        return kube.core.list_namespaced_pod(*args, **kwargs)

    churned = threading.Event()
    pods, stats = wait_web_pods(kube, list_then_churn)
    assert stats.relists == 1 and all_running(pods)


def test_relists_after_a_dropped_watch(kube: Kube, store: ObjectStore) -> None:
    add_pod(store, "web-1")
    add_pod(store, "web-2")

    @functools.wraps(kube.core.list_namespaced_pod)
    def dropping(*args, **kwargs) -> V1PodList:
        if kwargs.get("watch") and not dropped.is_set():
            dropped.set()
            set_phase(store, "web-1", "Running")
            set_phase(store, "web-2", "Running")
            raise urllib3.exceptions.ProtocolError("Connection broken: tunnel closed")
        return kube.core.list_namespaced_pod(*args, **kwargs)

    dropped = threading.Event()
    pods, stats = wait_web_pods(kube, dropping)
    assert stats.relists == 1 and all_running(pods)


def test_endpoints_that_become_ready_late_end_the_wait_at_once(
    kube: Kube, store: ObjectStore, timers: list[threading.Timer]
) -> None:
    """The Service exists first and never changes; only its Endpoints get the ready address.

    A wait that watched Services would get no event and run to its deadline (issue 11, 1.4).
    """
    ports = [{"name": "grpc", "port": 80, "targetPort": 8083, "protocol": "TCP"}]
    store.create(
        {
            "kind": "Service",
            "metadata": {"name": "cam-svc"},
            "spec": {"selector": {"app": "cam"}, "ports": ports},
        }
    )
    store.create({"kind": "Endpoints", "metadata": {"name": "cam-svc"}, "subsets": []})
    ready = {"addresses": [{"ip": "10.1.0.7"}], "ports": [{"name": "grpc", "port": 8083}]}
    later(
        timers,
        0.3,
        lambda: store.patch("Endpoints", "default", "cam-svc", lambda e: e.update(subsets=[ready])),
    )
    started = time.monotonic()
    endpoints, stats = wait_until_endpoints_ready(
        kube, "default", {"cam-svc": 1}, what="cam-svc ready", timeout=10
    )
    assert time.monotonic() - started < 2, "ended by the Endpoints event, not by the deadline"
    assert stats.events >= 1 and stats.relists == 0
    assert endpoints["cam-svc"].subsets[0].addresses[0].ip == "10.1.0.7"


def test_endpoints_wait_times_out_saying_what_each_service_has(kube: Kube, store: ObjectStore):
    store.create({"kind": "Endpoints", "metadata": {"name": "a-svc"}, "subsets": []})
    with pytest.raises(WaitTimeout) as err:
        wait_until_endpoints_ready(
            kube, "default", {"a-svc": 1, "b-svc": 1}, what="services ready", timeout=1
        )
    assert "a-svc: 0 ready endpoint(s); b-svc: no Endpoints" in str(err.value)
