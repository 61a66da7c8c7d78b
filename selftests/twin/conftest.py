"""Fixtures of the twin self-tests: a running node model, or an API server, over a fresh store.

The API server fixtures give each test a fresh store and server (HTTPS, client certificate
required) on loopback, and a client built the way the suite builds it: from the kubeconfig
`microk8s config` would print, pointed at the server's port. Everything started is stopped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fixtures.kube import Kube, api_client_from_kubeconfig
from selftests.twin.clustersupport import Changes
from twin.cluster import NODE_NAME, Cluster
from twin.kubeapi import KubeApiServer
from twin.pki import Pki, make_pki
from twin.store import ObjectStore


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
def store() -> ObjectStore:
    return ObjectStore(history=20)


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
