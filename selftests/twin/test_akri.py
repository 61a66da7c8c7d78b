"""Self-tests of the twin's Akri model on a real store and cluster model.

Each test installs the chart the way the docs do (through the twin's `helm`, no --wait), with two
mock cameras, and waits on store events with a deadline. Expectations come from docs/facts.md's
Akri sections (names, hashes, labels, env, deviceUsage, services); the faults are in
test_akri_faults.py.
"""

from __future__ import annotations

import hashlib

import pytest

from selftests.twin.akri_support import CONFIG, RULE, camera, name_of, waiting_reason
from twin.akri import controller as akri_controller
from twin.akri.discovery import instance_hash, rule_matches
from twin.cluster.microk8s import NODE_NAME

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
    node.until(lambda: waiting_reason(node.brokers().get(pod, {})) == "CrashLoopBackOff", "crash")
    logs = node.cluster.pod_log("default", pod, None, True)
    assert "build_and_start_camera_capturer" in logs
    assert "index out of bounds: the len is 0 but the index is 0" in logs
    node.set_camera(2, camera(2, fed=True))
    node.until(lambda: pod in node.ready_brokers(), "the broker to start once fed", timeout=8)


def test_device_usage_is_created_empty_and_then_names_the_holding_node(make_node, monkeypatch):
    """`deviceUsage` starts empty; a held slot maps to the node; free ones are absent.

    See docs/facts.md#instance-fields.
    """
    monkeypatch.setattr(akri_controller, "SLOW_START_DELAY", 1.0)  # brokers come a second late
    node = make_node("slow-start")
    node.until(lambda: len(node.instances()) == 2, "two Instances")
    assert all(i["spec"]["deviceUsage"] == {} for i in node.instances().values())
    for n in (1, 2):
        name = name_of(n)
        usage = node.until(
            lambda name=name: node.instances()[name]["spec"]["deviceUsage"], f"{name} held"
        )
        assert usage == {f"{name}-0": NODE_NAME}


def test_services_go_with_the_last_broker_and_come_back_as_new_objects(make_node):
    """No broker behind a service, no service; a new broker, a new Service.

    See docs/facts.md#services-follow-brokers.
    """
    node = make_node()
    watched = {f"{name_of(1)}-svc", f"{CONFIG}-svc"}
    node.until(lambda: watched <= set(node.services()), "both services")
    before = {n: node.services()[n] for n in watched}
    deleted: list[str] = []
    node.store.subscribe(
        lambda kind, obj: (
            deleted.append(obj["metadata"]["name"])
            if kind == "DELETED" and obj["kind"] == "Service"
            else None
        )
    )
    for n in (1, 2):
        node.store.delete("Pod", "default", f"{name_of(n)}-pod")
    node.until(lambda: watched <= set(deleted), "both services deleted")

    def renewed() -> bool:
        now = node.services()
        return all(
            n in now and now[n]["metadata"]["uid"] != before[n]["metadata"]["uid"] for n in watched
        )

    node.until(renewed, "both services created again")
    for n in watched:
        assert node.services()[n]["spec"]["clusterIP"] != before[n]["spec"]["clusterIP"], n


def test_a_broker_that_claims_no_device_gets_none_and_panics(make_node, monkeypatch):
    """The environment comes from the device plugin's Allocate, not from the pod's labels: a
    broker pod spec without `{{PLACEHOLDER}}` gets no device and main.rs panics
    (docs/facts.md#broker-environment)."""
    monkeypatch.setattr(akri_controller, "SLOW_START_DELAY", 1.0)  # time to edit the spec
    node = make_node("slow-start")

    def unclaimed(cfg: dict) -> None:
        (container,) = cfg["spec"]["brokerSpec"]["brokerPodSpec"]["containers"]
        for amounts in container["resources"].values():
            amounts.pop("{{PLACEHOLDER}}")

    node.store.patch("Configuration", "default", CONFIG, unclaimed)
    pod = f"{name_of(1)}-pod"
    node.until(lambda: waiting_reason(node.brokers().get(pod, {})) == "CrashLoopBackOff", "crash")
    logs = node.cluster.pod_log("default", pod, None, True)
    assert "panicked at src/main.rs:71:10:\ndevnode not set in environment variable" in logs
    assert node.instances()[name_of(1)]["spec"]["deviceUsage"] == {}, "no slot is held"
