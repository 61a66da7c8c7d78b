"""Fixtures of the twin's self-tests: an in-memory store and a `helm` with the Akri repository."""

from __future__ import annotations

import pytest

from selftests.twin.helm_support import REPO
from twin.helm import Helm
from twin.store import ObjectStore


@pytest.fixture
def store() -> ObjectStore:
    store = ObjectStore()
    store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})
    return store


@pytest.fixture
def helm(store: ObjectStore) -> Helm:
    helm = Helm(store)
    assert helm.run(["repo", "add", "akri-helm-charts", REPO])[0] == 0
    return helm
