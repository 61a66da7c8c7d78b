"""The twin's Akri faults on a real store and cluster model: each breaks what twin.md says.

Expectations come from the fault table (twin/faults.py, twin.md) and the facts each fault
cites; the hand-edit faults (twin/akri_drift.py) also from the Akri source they follow.
"""

from __future__ import annotations

import yaml

from selftests.twin.akri_support import CONFIG, RULE, name_of, ready, waiting_reason
from twin.akri import controller as akri_controller

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
    assert not any(ready(p) for p in node.store.list("Pod", "default", agent)[0])


def test_missing_instance_keeps_only_the_first_camera(make_node):
    node = make_node("missing-instance")
    node.until(lambda: node.ready_brokers(), "a ready broker")
    node.stays_false(lambda: len(node.instances()) > 1, 0.5)
    assert set(node.instances()) == {name_of(1)}


def test_broker_crashloop_hits_the_second_camera(make_node):
    node = make_node("broker-crashloop")
    bad = f"{name_of(2)}-pod"
    node.until(lambda: waiting_reason(node.brokers().get(bad, {})) == "CrashLoopBackOff", "crash")
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


# -- hand edits of the release (twin/akri_drift.py) ----------------------------------------------


def test_stale_component_image_runs_the_controller_on_latest_dev(make_node):
    node = make_node("stale-component-image", wait=True)
    deployment = node.store.get("Deployment", "default", "akri-controller-deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "ghcr.io/project-akri/akri/controller:latest-dev"
    agent = node.store.get("DaemonSet", "default", "akri-agent-daemonset")
    assert agent["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v0.13.26-dev")
    selector = "app.kubernetes.io/name=akri-controller"

    def images() -> set[str]:
        pods = node.store.list("Pod", "default", selector)[0]
        return {c["image"] for p in pods if ready(p) for c in p["spec"]["containers"]}

    node.until(lambda: images() == {container["image"]}, "the controller pod on latest-dev")
    node.until(lambda: len(node.ready_brokers()) == 2, "brokers: the component still works")


def test_capture_only_rule_matches_no_mock_camera(make_node):
    node = make_node("capture-only-rule")
    config = node.store.get("Configuration", "default", CONFIG)
    details = yaml.safe_load(config["spec"]["discoveryHandler"]["discoveryDetails"])
    assert details["udevRules"] == [f'{RULE}, ENV{{ID_V4L_CAPABILITIES}}==":capture:"']

    def discovering() -> bool:
        names = ("akri-agent", "akri-udev-discovery")
        pods = [node.store.list("Pod", "default", f"app.kubernetes.io/name={n}")[0] for n in names]
        return all(any(ready(p) for p in found) for found in pods)

    node.until(discovering, "the agent and the udev discovery handler ready")
    node.stays_false(node.instances, 1.0)


def test_broker_config_resource_gives_brokers_some_camera_not_their_own(make_node):
    node = make_node("broker-config-resource")
    node.until(lambda: len(node.ready_brokers()) == 2, "two ready brokers")
    allocated: dict[str, str] = {}
    for n in (1, 2):
        pod = node.brokers()[f"{name_of(n)}-pod"]
        limits = pod["spec"]["containers"][0]["resources"]["limits"]
        assert limits[f"akri.sh/{CONFIG}"] == "1" and f"akri.sh/{name_of(n)}" not in limits
        env = node.cluster.pod_env("default", f"{name_of(n)}-pod")
        (suffixed,) = [k for k in env if k.startswith("UDEV_DEVNODE_")]
        allocated[pod["metadata"]["name"]] = env[suffixed]
    assert sorted(allocated.values()) == ["/dev/video1", "/dev/video2"], allocated

    def usage() -> list[str]:
        slots = [i["spec"]["deviceUsage"] for i in node.instances().values()]
        return sorted(v for usage in slots for v in usage.values())

    want = [f"C:{CONFIG}-0:akri-edge-twin", f"C:{CONFIG}-1:akri-edge-twin"]
    node.until(lambda: usage() == want, "configuration-level slots")


def test_service_selector_mismatch_leaves_instance_services_without_endpoints(make_node):
    node = make_node("service-selector-mismatch")
    names = {f"{name_of(n)}-svc" for n in (1, 2)}
    node.until(lambda: names | {f"{CONFIG}-svc"} <= set(node.services()), "the services")

    def endpoints(name: str) -> list:
        ep = node.store.get("Endpoints", "default", name) or {}
        return [a for s in ep.get("subsets") or [] for a in s.get("addresses") or []]

    node.until(lambda: len(endpoints(f"{CONFIG}-svc")) == 2, "the configuration service's")
    for name in names:
        selector = node.services()[name]["spec"]["selector"]
        assert selector == {
            "app": f"{CONFIG}-broker", "controller": "akri.sh", "akri.sh/instance": name[:-4],
        }  # fmt: skip
        assert not endpoints(name)


def test_crds_deleted_after_the_install_leaves_a_deployed_release(make_node):
    node = make_node("crds-deleted")
    assert node.store.get("CustomResourceDefinition", None, "configurations.akri.sh") is None
    assert node.store.get("CustomResourceDefinition", None, "instances.akri.sh") is None
    assert node.helm is not None
    assert "deployed" in node.helm.run(["list", "-o", "json"])[1]
    node.until(
        lambda: node.store.get("DaemonSet", "default", "akri-agent-daemonset"), "the rest stays"
    )
