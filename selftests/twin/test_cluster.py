"""Self-tests of the twin's node model: kubelet, scheduler and controllers over a real store.

Every object the model writes must also load into the kubernetes client's pydantic models, as
the suite will read it through the API server.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from kubernetes import client

from twin.cluster import NODE_NAME, Cluster, PodBehaviour
from twin.store import ObjectStore

PANIC = "thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value'"


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


@pytest.fixture
def twin() -> Iterator[tuple[ObjectStore, Cluster, Changes]]:
    store = ObjectStore()
    cluster = Cluster(store, NODE_NAME, frozenset())
    changes = Changes(store)
    cluster.start()
    yield store, cluster, changes
    cluster.stop()


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


def test_bootstrap_is_a_fresh_microk8s(twin):
    store, _, changes = twin
    names = {ns["metadata"]["name"] for ns in store.list("Namespace")[0]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    assert store.get("Service", "default", "kubernetes")["spec"]["clusterIP"] == "10.152.183.1"
    node = load_models(store, "Node", "V1NodeList")[0]
    assert node.metadata.name == NODE_NAME
    assert node.status.node_info.kubelet_version.startswith("v1.34.")
    assert node.status.node_info.os_image.startswith("Ubuntu 24.04")
    assert {"cpu", "memory", "pods"} <= set(node.status.allocatable)
    assert condition(store.get("Node", None, NODE_NAME), "Ready")["status"] == "True"
    ready = changes.until(
        lambda: (store.get("DaemonSet", "kube-system", "calico-node").get("status") or {}).get(
            "numberReady"
        ),
        what="calico-node ready",
    )
    assert ready == 1


def test_deployment_runs_pods_and_becomes_available(twin):
    store, _, changes = twin
    store.create(deployment("web", {"app": "web"}, replicas=2))
    changes.until(
        lambda: (
            condition(store.get("Deployment", "default", "web"), "Available").get("status")
            == "True"
        ),
        what="web Available",
    )
    status = store.get("Deployment", "default", "web")["status"]
    assert status["readyReplicas"] == status["availableReplicas"] == status["replicas"] == 2
    assert condition({"status": status}, "Available")["reason"] == "MinimumReplicasAvailable"
    assert status["observedGeneration"] == 1
    pods = store.list("Pod", "default", "app=web")[0]
    assert len(pods) == 2
    for p in pods:
        assert re.fullmatch(r"web-[0-9a-f]{10}-[a-z0-9]{5}", p["metadata"]["name"])
        assert p["metadata"]["labels"]["pod-template-hash"] in p["metadata"]["name"]
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    models = [m for m in load_models(store, "Pod", "V1PodList") if m.metadata.labels.get("app")]
    for model in models:
        cs = model.status.container_statuses[0]
        assert model.status.phase == "Running" and cs.ready and cs.started
        assert model.status.pod_ip.startswith("10.1.") and model.status.host_ip
        assert cs.image == "docker.io/library/nginx:1.27" and "@sha256:" in cs.image_id
        assert cs.container_id.startswith("containerd://") and cs.state.running.started_at
        assert {c.type for c in model.status.conditions} >= {"Initialized", "Ready", "PodScheduled"}
    load_models(store, "Deployment", "V1DeploymentList")
    load_models(store, "ReplicaSet", "V1ReplicaSetList")
    load_models(store, "Event", "CoreV1EventList")


def test_template_change_replaces_pods_and_deleted_pods_come_back(twin):
    store, _, changes = twin
    store.create(deployment("web", {"app": "web"}))
    first = changes.until(lambda: store.list("Pod", "default", "app=web")[0], what="a web pod")
    store.delete("Pod", "default", first[0]["metadata"]["name"])
    changes.until(
        lambda: [
            p
            for p in store.list("Pod", "default", "app=web")[0]
            if p["metadata"]["uid"] != first[0]["metadata"]["uid"]
        ],
        what="a replacement pod",
    )
    store.patch(
        "Deployment",
        "default",
        "web",
        lambda d: d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2"),
    )
    changes.until(
        lambda: (
            [
                p["spec"]["containers"][0]["image"]
                for p in store.list("Pod", "default", "app=web")[0]
            ]
            == ["nginx:2"]
        ),
        what="pods of the new template only",
    )
    assert store.get("Deployment", "default", "web")["metadata"]["generation"] == 2


def test_deleting_an_owner_deletes_its_pods(twin):
    store, _, changes = twin
    calico = changes.until(
        lambda: store.list("Pod", "kube-system", "k8s-app=calico-node")[0], what="calico-node pod"
    )
    assert re.fullmatch(r"calico-node-[a-z0-9]{5}", calico[0]["metadata"]["name"])
    store.delete("Pod", "kube-system", calico[0]["metadata"]["name"])
    changes.until(
        lambda: [
            p
            for p in store.list("Pod", "kube-system", "k8s-app=calico-node")[0]
            if p["metadata"]["uid"] != calico[0]["metadata"]["uid"]
        ],
        what="the DaemonSet pod recreated",
    )
    store.create(deployment("web", {"app": "web"}))
    changes.until(lambda: store.list("Pod", "default", "app=web")[0], what="a web pod")
    store.delete("Deployment", "default", "web")
    changes.until(
        lambda: (
            not store.list("Pod", "default", "app=web")[0]
            and not store.list("ReplicaSet", "default")[0]
        ),
        what="the ReplicaSet and pods garbage-collected",
    )


def test_crash_loop_has_the_real_shape(twin):
    store, cluster, changes = twin
    cluster.add_pod_behaviour(
        lambda p: PodBehaviour(crash_reason=PANIC) if p["metadata"]["name"] == "broker" else None
    )
    store.create(pod("broker"))

    def restarted_twice() -> dict | None:
        statuses = (store.get("Pod", "default", "broker").get("status") or {}).get(
            "containerStatuses"
        ) or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 2 else None

    cs = changes.until(restarted_twice, what="restartCount >= 2")
    assert phase(store, "broker") == "Running"
    assert cs["ready"] is False
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert cs["lastState"]["terminated"]["exitCode"] == 101
    assert PANIC in cluster.pod_log("default", "broker", None, previous=True)
    reasons = {e["reason"] for e in store.list("Event", "default")[0]}
    assert {"Scheduled", "Pulled", "Created", "Started", "BackOff"} <= reasons
    load_models(store, "Pod", "V1PodList")


def test_extended_resource_pod_waits_for_allocatable(twin):
    store, cluster, changes = twin
    resource = "akri.sh/akri-udev-video-3a9f0c"
    store.create(pod("broker", limits={resource: "1"}))
    scheduled = changes.until(
        lambda: condition(store.get("Pod", "default", "broker"), "PodScheduled"),
        what="a PodScheduled condition",
    )
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    assert scheduled["message"].startswith(f"0/1 nodes are available: 1 Insufficient {resource}")
    assert store.get("Pod", "default", "broker")["status"]["phase"] == "Pending"
    cluster.set_allocatable(resource, 1)
    assert store.get("Node", None, NODE_NAME)["status"]["allocatable"][resource] == "1"
    changes.until(
        lambda: phase(store, "broker") == "Running",
        what="the broker Running once the device plugin advertises the resource",
    )
    store.create(pod("second", limits={resource: "1"}))
    changes.until(
        lambda: (
            condition(store.get("Pod", "default", "second"), "PodScheduled").get("reason")
            == "Unschedulable"
        ),
        what="the capacity of 1 already taken",
    )


def test_endpoints_split_ready_and_not_ready_pods(twin):
    store, cluster, changes = twin
    cluster.add_pod_behaviour(
        lambda p: PodBehaviour(never_ready=True) if p["metadata"]["name"] == "b" else None
    )
    for name in ("a", "b"):
        store.create(pod(name, {"app": "cam"}))
    store.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "cam-svc", "namespace": "default"},
            "spec": {
                "selector": {"app": "cam"},
                "ports": [{"name": "grpc", "port": 80, "targetPort": 8083}],
            },
        }
    )

    def subset() -> dict | None:
        ep = store.get("Endpoints", "default", "cam-svc") or {}
        subsets = ep.get("subsets") or [{}]
        full = subsets[0].get("addresses") and subsets[0].get("notReadyAddresses")
        return subsets[0] if full else None

    found = changes.until(subset, what="one ready and one not-ready address")
    assert [a["targetRef"]["name"] for a in found["addresses"]] == ["a"]
    assert [a["targetRef"]["name"] for a in found["notReadyAddresses"]] == ["b"]
    assert found["ports"] == [{"name": "grpc", "port": 8083, "protocol": "TCP"}]
    load_models(store, "Endpoints", "V1EndpointsList")


def test_pod_env_has_spec_behaviour_and_service_variables(twin):
    store, cluster, changes = twin
    cluster.add_pod_behaviour(lambda p: PodBehaviour(env={"UDEV_DEVNODE_3A9F0C": "/dev/video1"}))
    spec = pod("broker")
    spec["spec"]["containers"][0]["env"] = [
        {"name": "PLAIN", "value": "x"},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    store.create(spec)
    changes.until(lambda: phase(store, "broker") == "Running")
    env = cluster.pod_env("default", "broker")
    assert env["UDEV_DEVNODE_3A9F0C"] == "/dev/video1" and env["PLAIN"] == "x"
    assert env["NODE"] == NODE_NAME and env["HOSTNAME"] == "broker"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.152.183.1"


def test_stopped_microk8s_reconciles_nothing_and_reboot_restarts_pods(twin):
    store, cluster, changes = twin
    store.create(pod("p"))
    changes.until(lambda: phase(store, "p") == "Running")
    cluster.set_running(False)
    assert condition(store.get("Node", None, NODE_NAME), "Ready")["status"] == "Unknown"
    store.create(pod("late"))
    cluster.reboot()
    threading.Event().wait(0.6)  # a negative check: nothing may reconcile in this window
    assert not store.get("Pod", "default", "late").get("status")
    cluster.set_running(True)
    assert condition(store.get("Node", None, NODE_NAME), "Ready")["status"] == "True"

    def restarted() -> bool:
        cs = store.get("Pod", "default", "p")["status"]["containerStatuses"][0]
        return cs["restartCount"] == 1 and cs["ready"]

    changes.until(restarted, what="the pod restarted once by the reboot and ready again")
    changes.until(lambda: phase(store, "late") == "Running")


def test_dns_addon_and_faults():
    store = ObjectStore()
    cluster = Cluster(store, NODE_NAME, frozenset({"dns-disabled", "app-not-ready"}))
    changes = Changes(store)
    cluster.start()
    try:
        cluster.enable_addon("dns")
        assert not cluster.addon_enabled("dns")
        assert store.get("Deployment", "kube-system", "coredns") is None
        app = deployment("akri-video-streaming-app", {"app": "akri-video-streaming-app"})
        store.create(app)

        def running_unready() -> bool:
            pods = store.list("Pod", "default", "app=akri-video-streaming-app")[0]
            statuses = [(p.get("status") or {}).get("containerStatuses") or [{}] for p in pods]
            return bool(statuses) and all(
                s[0].get("started") and not s[0].get("ready") for s in statuses
            )

        changes.until(running_unready, what="the app pod Running but never ready")
        available = condition(
            store.get("Deployment", "default", "akri-video-streaming-app"), "Available"
        )
        assert available["status"] == "False"
        assert available["reason"] == "MinimumReplicasUnavailable"
    finally:
        cluster.stop()
    healthy = Cluster(ObjectStore(), NODE_NAME)
    healthy.bootstrap()
    healthy.enable_addon("dns")
    assert healthy.addon_enabled("dns")
    svc = healthy.store.get("Service", "kube-system", "kube-dns")
    assert svc["spec"]["clusterIP"] == "10.152.183.10"
    dns = healthy.store.get("Deployment", "kube-system", "coredns")
    assert dns["spec"]["template"]["metadata"]["labels"]["k8s-app"] == "kube-dns"


def test_stop_leaves_no_threads():
    before = set(threading.enumerate())
    cluster = Cluster(ObjectStore(), NODE_NAME)
    cluster.start()
    cluster.call_later(0.05, lambda: None)
    cluster.stop()
    cluster.stop()
    assert set(threading.enumerate()) <= before
