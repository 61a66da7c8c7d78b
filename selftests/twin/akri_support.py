"""Shared by the twin's Akri self-tests: a node (store, cluster, Akri model, helm) around two
mock cameras, installed the way the docs do, and waits on store events with a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from twin.akri.agent import AkriModel
from twin.akri.discovery import instance_hash
from twin.cluster.microk8s import NODE_NAME, Cluster
from twin.helm.cli import Helm
from twin.kubeapi.store import ObjectStore
from twin.machine.udev import UdevDevice

CONFIG = "akri-udev-video"
RULE = 'KERNEL=="video[0-9]*"'
VALUES = [
    "udev.discovery.enabled=true",
    "udev.configuration.enabled=true",
    f"udev.configuration.name={CONFIG}",
    f"udev.configuration.discoveryDetails.udevRules[0]={RULE}",
    "udev.configuration.brokerPod.image.repository=ghcr.io/project-akri/akri/udev-video-broker",
]


def camera(n: int, fed: bool = True) -> UdevDevice:
    return UdevDevice(f"/dev/video{n}", f"/devices/virtual/video4linux/video{n}", fed)


def name_of(n: int) -> str:
    return f"{CONFIG}-{instance_hash(camera(n).devpath, NODE_NAME)}"


@dataclass
class TwinNode:
    """A store, cluster, Akri model and helm around a mutable set of cameras."""

    store: ObjectStore
    cluster: Cluster
    akri: AkriModel
    cameras: dict[int, UdevDevice]
    changed: threading.Condition
    events: list[int]
    helm: Helm | None = None

    def devices(self) -> list[UdevDevice]:
        return [self.cameras[n] for n in sorted(self.cameras)]

    def set_camera(self, n: int, device: UdevDevice | None) -> None:
        if device is None:
            self.cameras.pop(n, None)
        else:
            self.cameras[n] = device
        self.akri.notify_devices()

    def until(self, check: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
        """Wait on store events until check() is truthy; fail with the last value."""
        deadline = time.monotonic() + timeout
        while True:
            with self.changed:
                seen = self.events[0]
            value = check()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {value!r}")
            with self.changed:
                if self.events[0] == seen:
                    self.changed.wait(remaining)

    def stays_false(self, check: Callable[[], Any], seconds: float) -> None:
        """check() stays falsy for `seconds` of store events."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            assert not check(), check()
            with self.changed:
                self.changed.wait(remaining)
        assert not check(), check()

    def instances(self) -> dict[str, dict]:
        return {i["metadata"]["name"]: i for i in self.store.list("Instance", "default")[0]}

    def brokers(self) -> dict[str, dict]:
        pods = self.store.list("Pod", "default", f"akri.sh/configuration={CONFIG}")[0]
        return {p["metadata"]["name"]: p for p in pods}

    def ready_brokers(self) -> set[str]:
        return {n for n, p in self.brokers().items() if ready(p)}

    def services(self) -> dict[str, dict]:
        return {s["metadata"]["name"]: s for s in self.store.list("Service", "default")[0]}


def ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def waiting_reason(pod: dict) -> str | None:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting", {}).get("reason")
