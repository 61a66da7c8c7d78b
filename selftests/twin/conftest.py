"""Fixtures of the twin's self-tests: an in-memory store, a `helm` with the Akri repository,
`make_node` (a twin node with two mock cameras and the chart installed), a running node model,
an API server over a fresh store, and `start_app` (the streaming app on a fake camera set).

The API server fixtures give each test a fresh store and server (HTTPS, client certificate
required) on loopback, and a client built the way the suite builds it: from the kubeconfig
`microk8s config` would print, pointed at the server's port. Everything started is stopped.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from fixtures.kube.client import Kube, api_client_from_kubeconfig
from selftests.twin.akri_support import VALUES, TwinNode, camera
from selftests.twin.clustersupport import Changes
from selftests.twin.helm_support import REPO
from selftests.twin.streaming_support import SMALL, Env, jpeg
from twin.akri.agent import AkriModel
from twin.cluster.microk8s import NODE_NAME, Cluster
from twin.helm.cli import Helm
from twin.kubeapi.pki import Pki, make_pki
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore
from twin.machine.frames import DeviceFrames
from twin.streaming.app import StreamingApp
from twin.streaming.server import WerkzeugServer


@pytest.fixture
def store() -> ObjectStore:
    """A fresh store with the `default` namespace a new cluster has."""
    store = ObjectStore(history=20)
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return store


@pytest.fixture
def helm(store: ObjectStore) -> Helm:
    helm = Helm(store)
    assert helm.run(["repo", "add", "akri-helm-charts", REPO])[0] == 0
    return helm


@pytest.fixture
def make_node() -> Iterator[Callable[..., TwinNode]]:
    """make_node(*faults, fed=..., wait=...): a started twin node with the chart installed."""
    started: list[TwinNode] = []

    def make(*faults: str, fed: tuple[bool, bool] = (True, True), wait: bool = False) -> TwinNode:
        store = ObjectStore()
        changed, events = threading.Condition(), [0]

        def on_change(_type: str, _obj: dict) -> None:
            with changed:
                events[0] += 1
                changed.notify_all()

        store.subscribe(on_change)
        cluster = Cluster(store, NODE_NAME, frozenset(faults))
        cameras = {1: camera(1, fed[0]), 2: camera(2, fed[1])}
        node = TwinNode(store, cluster, None, cameras, changed, events)  # type: ignore[arg-type]
        node.akri = AkriModel(store, cluster, NODE_NAME, node.devices, frozenset(faults))
        started.append(node)
        cluster.start()
        node.akri.start()
        node.helm = Helm(store, frozenset(faults))
        node.helm.run(["repo", "add", "akri-helm-charts", "https://project-akri.github.io/akri/"])
        argv = ["install", "akri", "akri-helm-charts/akri-dev", "--version", "0.13.26"]
        argv += ["--wait", "--timeout", "10s"] if wait else []
        code, out, err = node.helm.run([*argv, *(a for v in VALUES for a in ("--set", v))])
        assert (code, err) == (0, ""), err
        assert "STATUS: deployed" in out
        return node

    yield make
    for node in started:
        node.akri.stop()
        node.cluster.stop()


@pytest.fixture
def twin() -> Iterator[tuple[ObjectStore, Cluster, Changes]]:
    """A running node model over a fresh store, and a way to wait on its changes."""
    store = ObjectStore()
    cluster = Cluster(store, NODE_NAME, frozenset())
    changes = Changes(store)
    cluster.start()
    yield store, cluster, changes
    cluster.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def faults() -> set[str]:
    return set()


@pytest.fixture
def server(store: ObjectStore, pki: Pki, faults: set[str]) -> Iterator[KubeApiServer]:
    srv = KubeApiServer(store, pki, faults=faults)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def kube(server: KubeApiServer, pki: Pki) -> Iterator[Kube]:
    # the kubeconfig names MicroK8s' port; the client must dial the override instead
    text = pki.kubeconfig("https://127.0.0.1:16443")
    k = Kube(api_client_from_kubeconfig(text, f"https://127.0.0.1:{server.port}"))
    yield k
    k.close()


@pytest.fixture
def start_app() -> Iterator[Callable[..., Env]]:
    """Start apps (faults, small cameras); at the end each stops, its port and threads gone."""
    stop = threading.Event()
    devices = {d: DeviceFrames(d) for d in ("/dev/video1", "/dev/video2", "/dev/video3")}

    def publish() -> None:
        i = 0
        while not stop.wait(0.05):
            i += 1
            for name in ("/dev/video1", "/dev/video2"):
                devices[name].publish(jpeg(f"{name} {i}"))

    feeder = threading.Thread(target=publish)
    feeder.start()
    envs: list[Env] = []

    def start(faults: frozenset[str] = frozenset(), small: list[str] = SMALL) -> Env:
        env = Env(devices, small=list(small))
        env.app = StreamingApp(env.cameras, env.source, faults)
        env.http = WerkzeugServer(env.app, 0)
        env.app.boot()
        env.http.start()
        envs.append(env)
        return env

    yield start
    stop.set()
    feeder.join()
    for env in envs:
        assert env.http is not None
        port = env.http.port
        env.http.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not [t for t in threading.enumerate() if t.name.startswith("feed ")]
