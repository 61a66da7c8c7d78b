"""Self-tests of the twin's Akri model on a real store and cluster model.

Each test installs the chart the way the docs do (through the twin's `helm`, no --wait), with two
mock cameras, and waits on store events with a deadline. Expectations come from akri-facts
2.2-2.6 and 4 (names, hashes, labels, env, services) and from the fault table in twin.md.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from twin import akri_controller
from twin.akri import AkriModel, UdevDevice, instance_hash
from twin.cluster import NODE_NAME, Cluster
from twin.helm import Helm
from twin.store import ObjectStore
from twin.udev import rule_matches

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
        return {n for n, p in self.brokers().items() if _ready(p)}

    def services(self) -> dict[str, dict]:
        return {s["metadata"]["name"]: s for s in self.store.list("Service", "default")[0]}


def _ready(pod: dict) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _waiting_reason(pod: dict) -> str | None:
    statuses = pod.get("status", {}).get("containerStatuses") or [{}]
    return statuses[0].get("state", {}).get("waiting", {}).get("reason")


@pytest.fixture
def make_node() -> Iterator[Callable[..., TwinNode]]:
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


# -- pure functions -------------------------------------------------------------------------------


def test_instance_hash_is_blake2b_of_devpath_and_node():
    devpath = "/devices/virtual/video4linux/video1"
    expected = hashlib.blake2b((devpath + "node-a").encode(), digest_size=3).hexdigest()
    assert instance_hash(devpath, "node-a") == expected
    assert len(expected) == 6 and expected == expected.lower()


@pytest.mark.parametrize(
    ("rule", "matches"),
    [
        (RULE, True),
        ('KERNEL=="video[3-9]*"', False),
        ('SUBSYSTEM=="video4linux"', True),
        ('KERNEL=="video[0-9]*", ENV{ID_V4L_CAPABILITIES}==":capture:"', False),
        ('KERNEL!="video1"', False),
        ('ATTR{name}=="cam1"', False),
        ("not a rule", False),
    ],
)
def test_udev_rules_on_a_mock_camera(rule, matches):
    assert rule_matches(rule, camera(1)) is matches


# -- the healthy demo -----------------------------------------------------------------------------


def test_two_fed_cameras_give_instances_brokers_and_services(make_node):
    node = make_node(wait=True)
    want = {name_of(1): 1, name_of(2): 2}
    node.until(lambda: set(node.services()) >= {f"{n}-svc" for n in want}, "instance services")
    node.until(lambda: f"{CONFIG}-svc" in node.services(), "configuration service")
    instances = node.instances()
    assert set(instances) == set(want)
    for name, n in want.items():
        spec = instances[name]["spec"]
        suffix = name.rsplit("-", 1)[1]
        assert spec["configurationName"] == CONFIG
        assert spec["cdiName"] == f"akri.sh/{CONFIG}={suffix}"
        assert (spec["shared"], spec["nodes"], spec["capacity"]) == (False, [NODE_NAME], 1)
        assert spec["brokerProperties"] == {
            "UDEV_DEVNODE": f"/dev/video{n}",
            "UDEV_DEVPATH": f"/devices/virtual/video4linux/video{n}",
        }
        owner = instances[name]["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"]) == ("Configuration", CONFIG)
    node.until(lambda: len(node.ready_brokers()) == 2, "two ready brokers")
    for name, n in want.items():
        pod = node.brokers()[f"{name}-pod"]
        assert pod["metadata"]["labels"] == {
            "app": f"{name}-pod", "controller": "akri.sh", "akri.sh/configuration": CONFIG,
            "akri.sh/instance": name, "akri.sh/target-node": NODE_NAME,
        }  # fmt: skip
        (container,) = pod["spec"]["containers"]
        assert container["name"] == f"{CONFIG}-broker"
        for part in ("requests", "limits"):
            assert container["resources"][part][f"akri.sh/{name}"] == "1"
        affinity = pod["spec"]["affinity"]["nodeAffinity"]
        term = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
        assert term["matchFields"][0]["values"] == [NODE_NAME]
        assert pod["metadata"]["ownerReferences"][0]["name"] == name
        env = node.cluster.pod_env("default", f"{name}-pod")
        assert env[f"UDEV_DEVNODE_{name[-6:].upper()}"] == f"/dev/video{n}"
        assert env["UDEV_DEVNODE"] == f"/dev/video{n}"
        assert node.akri.broker_device("default", f"{name}-pod") == f"/dev/video{n}"
        usage = node.until(
            lambda name=name: node.instances()[name]["spec"]["deviceUsage"][f"{name}-0"],
            "the broker to take its slot",
        )
        assert usage == NODE_NAME
    services = node.services()
    grpc = [{"name": "grpc", "port": 80, "protocol": "TCP", "targetPort": 8083}]
    config_svc = services[f"{CONFIG}-svc"]
    assert config_svc["metadata"]["labels"]["akri.sh/configuration"] == CONFIG
    assert config_svc["spec"]["selector"] == {
        "controller": "akri.sh",
        "akri.sh/configuration": CONFIG,
    }
    assert config_svc["spec"]["ports"] == grpc
    for name in want:
        svc = services[f"{name}-svc"]
        assert "akri.sh/configuration" not in svc["metadata"]["labels"]
        assert svc["spec"]["selector"] == {"controller": "akri.sh", "akri.sh/instance": name}
        assert svc["spec"]["ports"] == grpc and svc["spec"]["type"] == "ClusterIP"
    allocatable = node.store.get("Node", None, NODE_NAME)["status"]["allocatable"]
    assert allocatable[f"akri.sh/{CONFIG}"] == "2"
    assert all(allocatable[f"akri.sh/{name}"] == "1" for name in want)


def test_removed_camera_loses_its_instance_broker_and_service_then_comes_back(make_node):
    node = make_node()
    gone = name_of(2)
    node.until(lambda: len(node.ready_brokers()) == 2, "two ready brokers")
    node.until(lambda: f"{gone}-svc" in node.services(), "instance services")
    node.set_camera(2, None)
    node.until(lambda: gone not in node.instances(), "the Instance to go")
    node.until(lambda: f"{gone}-pod" not in node.brokers(), "the broker to go")
    node.until(lambda: f"{gone}-svc" not in node.services(), "the instance service to go")
    assert f"{CONFIG}-svc" in node.services()
    assert set(node.instances()) == {name_of(1)}
    node.set_camera(2, camera(2))
    node.until(lambda: gone in node.instances(), "the Instance to come back")
    assert node.helm is not None
    assert node.helm.run(["uninstall", "akri"])[0] == 0
    node.until(lambda: not node.instances() and not node.brokers(), "Akri's objects to go")
    node.until(lambda: not [s for s in node.services() if s.startswith(CONFIG)], "services to go")
    allocatable = node.store.get("Node", None, NODE_NAME)["status"]["allocatable"]
    assert not [r for r in allocatable if r.startswith("akri.sh/")]


def test_unfed_camera_crash_loops_with_the_capturer_panic_until_fed(make_node):
    node = make_node(fed=(True, False))
    pod = f"{name_of(2)}-pod"
    node.until(lambda: _waiting_reason(node.brokers().get(pod, {})) == "CrashLoopBackOff", "crash")
    logs = node.cluster.pod_log("default", pod, None, True)
    assert "build_and_start_camera_capturer" in logs
    assert "index out of bounds: the len is 0 but the index is 0" in logs
    node.set_camera(2, camera(2, fed=True))
    node.until(lambda: pod in node.ready_brokers(), "the broker to start once fed", timeout=8)


# -- faults ---------------------------------------------------------------------------------------


def test_agent_down_gives_no_instances(make_node):
    # helm --wait still succeeds: with one node and maxUnavailable 1 a DaemonSet needs no ready pod
    node = make_node("agent-down", wait=True)
    agent = "app.kubernetes.io/name=akri-agent"
    node.until(
        lambda: node.store.list("Pod", "default", agent, "status.phase=Running")[0],
        "the agent pod to run",
    )
    node.stays_false(node.instances, 0.6)
    assert not any(_ready(p) for p in node.store.list("Pod", "default", agent)[0])


def test_missing_instance_keeps_only_the_first_camera(make_node):
    node = make_node("missing-instance")
    node.until(lambda: node.ready_brokers(), "a ready broker")
    node.stays_false(lambda: len(node.instances()) > 1, 0.5)
    assert set(node.instances()) == {name_of(1)}


def test_broker_crashloop_hits_the_second_camera(make_node):
    node = make_node("broker-crashloop")
    bad = f"{name_of(2)}-pod"
    node.until(lambda: _waiting_reason(node.brokers().get(bad, {})) == "CrashLoopBackOff", "crash")
    node.until(lambda: node.ready_brokers() == {f"{name_of(1)}-pod"}, "the other broker ready")
    assert "Device or resource busy" in node.cluster.pod_log("default", bad, None, True)


def test_no_config_service_creates_only_instance_services(make_node):
    node = make_node("no-config-service")
    names = {f"{name_of(n)}-svc" for n in (1, 2)}
    node.until(lambda: names <= set(node.services()), "instance services")
    node.stays_false(lambda: f"{CONFIG}-svc" in node.services(), 0.3)


def test_slow_start_delays_brokers(make_node, monkeypatch):
    monkeypatch.setattr(akri_controller, "SLOW_START_DELAY", 1.0)
    node = make_node("slow-start")
    node.until(lambda: len(node.instances()) == 2, "two Instances")
    node.stays_false(node.brokers, 0.5)
    node.until(lambda: len(node.brokers()) == 2, "the late brokers")
