"""How the twin's API server deletes, through the kubernetes client the suite uses.

See docs/facts.md#graceful-deletion and docs/facts.md#configuration-finalizer.

Graceful pod deletion with the twin's kubelet running: the pod stays Terminating, still Running
and Ready, until its containers stopped; a container that ignores SIGTERM is killed at the end
of the grace period; `gracePeriodSeconds=0` deletes at once; controllers replace a terminating
pod at once with a pod of a new uid. Objects with finalizers wait for them; propagation
policies; a CRD waits for its objects' finalizers; preconditions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from selftests.twin.apisupport import ApiUnderTest, pod, start_api
from twin.cluster.microk8s import NODE_NAME
from twin.cluster.podstatus import PodBehaviour
from twin.kubeapi.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def live(pki: Pki) -> Iterator[ApiUnderTest]:
    api, stop = start_api(pki, with_cluster=True)
    yield api
    stop()


@pytest.fixture
def bare(pki: Pki) -> Iterator[ApiUnderTest]:
    api, stop = start_api(pki)
    yield api
    stop()


def running(api: ApiUnderTest, name: str) -> client.V1Pod:
    def ready() -> client.V1Pod | None:
        got = api.kube.call(api.kube.core.read_namespaced_pod, name, "default")
        conditions = got.status.conditions or []
        ok = any(c.type == "Ready" and c.status == "True" for c in conditions)
        return got if got.status.phase == "Running" and ok else None

    return api.until(ready, f"{name} Running and Ready")


def events_of(api: ApiUnderTest, name: str, rv: str, seen: list) -> threading.Thread:
    """Follow the pod's watch events from rv until DELETED, in a thread."""

    def follow() -> None:
        for event in watch.Watch().stream(
            api.kube.core.list_namespaced_pod,
            "default",
            field_selector=f"metadata.name={name}",
            resource_version=rv,
            timeout_seconds=10,
        ):
            seen.append((event["type"], event["object"]))
            if event["type"] == "DELETED":
                return

    thread = threading.Thread(target=follow)
    thread.start()
    return thread


def test_deleted_pod_terminates_then_goes_with_its_containers_stopped(live: ApiUnderTest) -> None:
    live.kube.call(live.kube.core.create_namespaced_pod, "default", pod("web"))
    before = running(live, "web")
    seen: list = []
    follower = events_of(live, "web", before.metadata.resource_version, seen)
    started = time.monotonic()
    answer = live.kube.call(live.kube.core.delete_namespaced_pod, "web", "default")
    assert answer.metadata.deletion_timestamp is not None
    assert answer.metadata.deletion_grace_period_seconds == 30  # terminationGracePeriodSeconds
    follower.join(10)
    took = time.monotonic() - started
    assert seen and seen[-1][0] == "DELETED", [t for t, _ in seen]
    assert took < 2, f"a container that exits on SIGTERM is gone in well under 2 s, took {took}"
    terminating = [o for t, o in seen if t == "MODIFIED" and o.metadata.deletion_timestamp]
    assert terminating[0].status.phase == "Running"  # still Running while it terminates
    last = seen[-1][1].status.container_statuses[0].state.terminated
    assert last.exit_code == 143 and last.reason == "Error"  # exited on SIGTERM
    reasons = {e["reason"] for e in live.store.list("Event", "default")[0]}
    assert "Killing" in reasons
    with pytest.raises(ApiException) as err:
        live.kube.call(live.kube.core.read_namespaced_pod, "web", "default")
    assert err.value.status == 404


def test_a_container_that_ignores_sigterm_is_killed_after_the_grace_period(
    live: ApiUnderTest,
) -> None:
    assert live.cluster is not None
    live.cluster.add_pod_behaviour(lambda p: PodBehaviour(stop_after=60.0))
    live.kube.call(
        live.kube.core.create_namespaced_pod,
        "default",
        pod("stubborn", terminationGracePeriodSeconds=1),
    )
    running(live, "stubborn")
    started = time.monotonic()
    live.kube.call(live.kube.core.delete_namespaced_pod, "stubborn", "default")
    held = live.store.get("Pod", "default", "stubborn")
    assert held is not None and held["metadata"]["deletionGracePeriodSeconds"] == 1
    live.until(lambda: live.store.get("Pod", "default", "stubborn") is None, "the pod gone")
    assert 0.9 <= time.monotonic() - started < 3


def test_grace_period_zero_and_unbound_pods_go_at_once(live: ApiUnderTest) -> None:
    live.kube.call(live.kube.core.create_namespaced_pod, "default", pod("now"))
    running(live, "now")
    live.kube.call(live.kube.core.delete_namespaced_pod, "now", "default", grace_period_seconds=0)
    assert live.store.get("Pod", "default", "now") is None
    unschedulable = pod("pending")
    unschedulable["spec"]["containers"][0]["resources"] = {"limits": {"akri.sh/missing": "1"}}
    live.kube.call(live.kube.core.create_namespaced_pod, "default", unschedulable)
    live.kube.call(live.kube.core.delete_namespaced_pod, "pending", "default")
    assert live.store.get("Pod", "default", "pending") is None  # never bound: nothing to stop


def test_slow_terminate_keeps_a_ready_pod_terminating_while_its_replacement_runs(
    pki: Pki,
) -> None:
    api, stop = start_api(pki, with_cluster=True, faults=frozenset({"slow-terminate"}))
    try:
        labels = {"app": "web"}
        template = {"metadata": {"labels": labels}, "spec": pod("x")["spec"]}
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template},
        }
        api.kube.call(api.kube.apps.create_namespaced_deployment, "default", deployment)

        def pods() -> list[client.V1Pod]:
            listed = api.kube.call(
                api.kube.core.list_namespaced_pod, "default", label_selector="app=web"
            )
            return listed.items

        first = api.until(lambda: [p for p in pods() if p.status.phase == "Running"], "a web pod")
        old = first[0].metadata
        api.kube.call(api.kube.core.delete_namespaced_pod, old.name, "default")

        def pair() -> list[client.V1Pod] | None:
            found = pods()
            return (
                found
                if len(found) == 2 and all(p.status.phase == "Running" for p in found)
                else None
            )

        both = api.until(pair, "the replacement Running next to the terminating pod")
        gone = next(p for p in both if p.metadata.uid == old.uid)
        new = next(p for p in both if p.metadata.uid != old.uid)
        assert gone.metadata.deletion_timestamp and not new.metadata.deletion_timestamp
        ready = any(c.type == "Ready" and c.status == "True" for c in gone.status.conditions)
        assert ready, "a terminating pod is often still Ready: only deletionTimestamp tells"
        status = api.kube.call(api.kube.apps.read_namespaced_deployment, "web", "default").status
        assert status.replicas == 1  # the terminating pod does not count
    finally:
        stop()


def test_finalizers_hold_an_object_until_they_are_removed(bare: ApiUnderTest) -> None:
    body = {"metadata": {"name": "held", "finalizers": ["example.com/keep"]}, "data": {"a": "1"}}
    bare.kube.call(bare.kube.core.create_namespaced_config_map, "default", body)
    bare.kube.call(bare.kube.core.delete_namespaced_config_map, "held", "default")
    held = bare.kube.call(bare.kube.core.read_namespaced_config_map, "held", "default")
    assert held.metadata.deletion_timestamp and held.metadata.finalizers == ["example.com/keep"]
    with pytest.raises(ApiException) as err:  # no new finalizers on an object being deleted
        bare.kube.call(
            bare.kube.core.patch_namespaced_config_map,
            "held",
            "default",
            {"metadata": {"finalizers": ["example.com/keep", "example.com/more"]}},
        )
    assert err.value.status == 422 and "no new finalizers" in json.loads(err.value.body)["message"]
    bare.kube.call(
        bare.kube.core.patch_namespaced_config_map,
        "held",
        "default",
        {"metadata": {"finalizers": None}},
    )
    assert bare.store.get("ConfigMap", "default", "held") is None


def test_preconditions_and_crd_deletion_waiting_for_its_objects(bare: ApiUnderTest) -> None:
    bare.kube.call(
        bare.kube.core.create_namespaced_config_map, "default", {"metadata": {"name": "c"}}
    )
    with pytest.raises(ApiException) as err:
        bare.kube.call(
            bare.kube.core.delete_namespaced_config_map,
            "c",
            "default",
            body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-it")),
        )
    assert err.value.status == 409 and "Precondition failed: UID" in err.value.body
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "configurations.akri.sh"},
        "spec": {
            "group": "akri.sh",
            "names": {"kind": "Configuration", "plural": "configurations"},
            "scope": "Namespaced",
            "versions": [{"name": "v0", "served": True, "storage": True}],
        },
    }
    bare.store.create(crd)
    config = {"apiVersion": "akri.sh/v0", "kind": "Configuration", "metadata": {"name": "cfg"}}
    # the agent's finalizer (docs/facts.md#configuration-finalizer)
    config["metadata"]["finalizers"] = [NODE_NAME]
    bare.store.create(config)
    bare.store.delete("CustomResourceDefinition", None, "configurations.akri.sh")
    waiting = bare.store.get("CustomResourceDefinition", None, "configurations.akri.sh")
    assert waiting["metadata"]["deletionTimestamp"]
    assert bare.store.get("Configuration", "default", "cfg")["metadata"]["deletionTimestamp"]
    bare.store.patch("Configuration", "default", "cfg", lambda o: o["metadata"].pop("finalizers"))
    assert bare.store.get("CustomResourceDefinition", None, "configurations.akri.sh") is None


def test_foreground_deletion_waits_for_the_dependents(live: ApiUnderTest) -> None:
    assert live.cluster is not None
    live.cluster.add_pod_behaviour(lambda p: PodBehaviour(stop_after=1.0))
    labels = {"app": "fg"}
    spec = {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}}
    spec["template"]["spec"] = pod("x")["spec"]
    live.kube.call(
        live.kube.apps.create_namespaced_deployment,
        "default",
        {"metadata": {"name": "fg"}, "spec": spec},
    )
    live.until(
        lambda: [
            p for p in live.store.list("Pod", "default", "app=fg")[0] if p["status"].get("podIP")
        ],
        "a started pod of the Deployment",
    )
    status, held = live.raw(
        "DELETE",
        "/apis/apps/v1/namespaces/default/deployments/fg",
        {"propagationPolicy": "Foreground"},
    )
    assert status == 200 and held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert held["metadata"]["deletionTimestamp"]

    def gone() -> bool:
        return live.store.get("Deployment", "default", "fg") is None

    live.until(gone, "the Deployment gone")
    assert (
        not live.store.list("ReplicaSet", "default")[0] and not live.store.list("Pod", "default")[0]
    )
