"""Self-tests of the twin's workload controllers and garbage collector over a running node.

Deployments, ReplicaSets and DaemonSets as kube-controller-manager runs them: pods being
deleted do not count (a replacement starts while the old pod terminates), a pod refused by
admission is a FailedCreate event, deleting an owner deletes its dependents.
"""

from __future__ import annotations

import re

from selftests.twin.clustersupport import condition, deployment, load_models
from twin.cluster.microk8s import PodBehaviour


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


def test_a_pod_refused_by_admission_is_a_failed_create_event(twin):
    store, _, changes = twin
    store.policy.allow_privileged = False  # an apiserver without --allow-privileged=true
    app = deployment("priv", {"app": "priv"})
    app["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    store.create(app)

    def failed_create() -> list[dict]:
        return [e for e in store.list("Event", "default")[0] if e["reason"] == "FailedCreate"]

    event = changes.until(failed_create, what="a FailedCreate event")[0]
    assert event["type"] == "Warning" and event["involvedObject"]["kind"] == "ReplicaSet"
    assert "privileged: Forbidden: disallowed by cluster policy" in event["message"]
    assert not store.list("Pod", "default", "app=priv")[0]


def test_a_daemonset_pod_being_deleted_is_replaced_at_once(twin):
    store, cluster, changes = twin
    cluster.add_pod_behaviour(lambda p: PodBehaviour(stop_after=30.0))  # ignores SIGTERM
    first = changes.until(
        lambda: [
            p
            for p in store.list("Pod", "kube-system", "k8s-app=calico-node")[0]
            if (p.get("status") or {}).get("phase") == "Running"
        ],
        what="calico-node Running (an unbound pod would go at once)",
    )[0]
    store.delete("Pod", "kube-system", first["metadata"]["name"])

    def two() -> list[dict] | None:
        found = store.list("Pod", "kube-system", "k8s-app=calico-node")[0]
        return found if len(found) == 2 else None

    both = changes.until(two, what="a new calico-node pod next to the terminating one")
    old = next(p for p in both if p["metadata"]["uid"] == first["metadata"]["uid"])
    assert old["metadata"]["deletionTimestamp"] and old["metadata"]["deletionGracePeriodSeconds"]
    tolerated = {t["key"] for t in old["spec"]["tolerations"]}
    assert "node.kubernetes.io/disk-pressure" in tolerated  # the DaemonSet controller adds it
