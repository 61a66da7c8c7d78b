"""Self-tests of the twin's node model: the node, kubelet, scheduler, endpoints and addons.

Every object the model writes must also load into the kubernetes client's pydantic models, as
the suite will read it through the API server. Workload controllers: test_workloads.py.
"""

from __future__ import annotations

import threading

from selftests.twin.clustersupport import Changes, condition, deployment, load_models, phase, pod
from twin.cluster.microk8s import NODE_NAME, Cluster, PodBehaviour
from twin.kubeapi.store import ObjectStore

PANIC = "thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value'"


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
    # only what the API server gave it at creation: no kubelet has touched it
    assert store.get("Pod", "default", "late")["status"] == {
        "phase": "Pending",
        "qosClass": "BestEffort",
    }
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


def test_disk_pressure_keeps_the_node_ready_but_tainted():
    store = ObjectStore()
    cluster = Cluster(store, NODE_NAME, frozenset({"disk-pressure"}))
    changes = Changes(store)
    cluster.start()
    try:
        node = store.get("Node", None, NODE_NAME)
        assert condition(node, "Ready")["status"] == "True"
        pressure = condition(node, "DiskPressure")
        assert (pressure["status"], pressure["reason"]) == ("True", "KubeletHasDiskPressure")
        taint = {"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}
        assert node["spec"]["taints"] == [taint]
        store.create(pod("plain"))
        scheduled = changes.until(
            lambda: condition(store.get("Pod", "default", "plain"), "PodScheduled"),
            what="the scheduler's verdict",
        )
        assert scheduled["reason"] == "Unschedulable"
        assert (
            "1 node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }"
            in (scheduled["message"])
        )
        changes.until(  # DaemonSet pods tolerate it
            lambda: [
                p
                for p in store.list("Pod", "kube-system", "k8s-app=calico-node")[0]
                if (p.get("status") or {}).get("phase") == "Running"
            ],
            what="calico-node Running on the tainted node",
        )
        cluster.set_running(False)
        cluster.set_running(True)
        assert condition(store.get("Node", None, NODE_NAME), "DiskPressure")["status"] == "True"
    finally:
        cluster.stop()
