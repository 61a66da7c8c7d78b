"""The twin's Kubernetes API server, driven by the real kubernetes client (fixtures.kube.client).

Each test gets a fresh store and server (HTTPS, client certificate required) on loopback, and a
client built the way the suite builds it: from the kubeconfig `microk8s config` would print,
pointed at the server's port (fixtures in conftest.py). Everything started here is stopped by
the fixtures. Watches: test_kubeapi_watch.py; write semantics: test_apiadmission.py and
test_apideletion.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fixtures.kube.client import Kube, kubeconfig_port
from selftests.twin.apisupport import bound_pod as pod
from twin.kubeapi.pki import Pki
from twin.kubeapi.server import KubeApiServer
from twin.kubeapi.store import ObjectStore


def add_pod(store: ObjectStore, name: str, phase: str, node: str = "edge", **labels: str) -> None:
    """Create a pod, then give it the phase a kubelet would report."""
    store.create(pod(name, node, **labels))
    store.patch("Pod", "default", name, lambda p: p["status"].update(phase=phase))


def akri_crd(kind: str, plural: str) -> dict:
    """An akri.sh/v0 CRD as the chart installs it, with the status the client requires."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.akri.sh"},
        "spec": {
            "group": "akri.sh",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "scope": "Namespaced",
            "versions": [{"name": "v0", "served": True, "storage": True}],
        },
        "status": {
            "acceptedNames": {"kind": kind, "plural": plural},
            "storedVersions": ["v0"],
            "conditions": [
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
    }


def test_kubeconfig_is_microk8s_shaped(pki: Pki) -> None:
    text = pki.kubeconfig("https://127.0.0.1:16443")
    assert kubeconfig_port(text) == 16443
    assert "current-context: microk8s" in text and "name: microk8s-cluster" in text
    assert "client-key-data" in text and "token" not in text
    assert oct(Path(pki.client_key).stat().st_mode & 0o777) == "0o600"


def test_get_list_and_not_found_status(kube: Kube, store: ObjectStore) -> None:
    add_pod(store, "web-1", "Running", app="web")
    got = kube.call(kube.core.read_namespaced_pod, "web-1", "default")
    assert got.status.phase == "Running" and got.metadata.uid
    listed = kube.call(kube.core.list_namespaced_pod, "default")
    assert [p.metadata.name for p in listed.items] == ["web-1"]
    assert int(listed.metadata.resource_version) >= int(got.metadata.resource_version)
    with pytest.raises(ApiException) as err:
        kube.call(kube.core.read_namespaced_pod, "nope", "default")
    body = json.loads(err.value.body)
    assert err.value.status == 404
    assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404
    assert body["message"] == 'pods "nope" not found'
    assert body["details"] == {"name": "nope", "kind": "pods"}


def test_label_and_field_selectors(kube: Kube, store: ObjectStore) -> None:
    add_pod(store, "a", "Running", app="web", tier="fe")
    add_pod(store, "b", "Pending", app="web", tier="be", canary="yes")
    add_pod(store, "c", "Running", node="other", app="db")

    def names(**query: str) -> list[str]:
        listed = kube.call(kube.core.list_namespaced_pod, "default", **query)
        return [p.metadata.name for p in listed.items]

    assert names(label_selector="app=web,tier in (fe,be)") == ["a", "b"]
    assert names(label_selector="app==web,!canary") == ["a"]
    assert names(label_selector="tier notin (fe),app!=db") == ["b"]
    assert names(label_selector="canary") == ["b"]
    assert names(field_selector="status.phase=Running") == ["a", "c"]
    assert names(field_selector="spec.nodeName=edge,metadata.name!=a") == ["b"]
    assert names(label_selector="app=web", field_selector="status.phase=Running") == ["a"]
    with pytest.raises(ApiException) as err:
        names(label_selector="app in web")
    assert err.value.status == 400


def test_custom_resources_served_only_while_their_crd_exists(
    kube: Kube, store: ObjectStore
) -> None:
    with pytest.raises(ApiException) as err:
        kube.list_custom("instances")
    assert err.value.status == 404
    store.create(akri_crd("Instance", "instances"))
    crd = kube.call(kube.apiext.read_custom_resource_definition, "instances.akri.sh")
    assert crd.spec.versions[0].name == "v0"
    instance = {
        "apiVersion": "akri.sh/v0",
        "kind": "Instance",
        "metadata": {"name": "akri-udev-video-3a9f0c", "labels": {"cam": "1"}},
        "spec": {"configurationName": "akri-udev-video", "capacity": 1, "cdiName": "x"},
    }
    kube.call(
        kube.custom.create_namespaced_custom_object,
        "akri.sh",
        "v0",
        "default",
        "instances",
        instance,
    )
    assert [i["metadata"]["name"] for i in kube.list_custom("instances", label_selector="cam")] == [
        "akri-udev-video-3a9f0c"
    ]
    assert kube.get_custom("instances", "akri-udev-video-3a9f0c")["spec"]["capacity"] == 1
    assert kube.get_custom("instances", "missing") is None
    with pytest.raises(ApiException) as err:
        kube.call(
            kube.custom.create_namespaced_custom_object,
            "akri.sh",
            "v0",
            "default",
            "instances",
            instance,
        )
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"
    store.delete("CustomResourceDefinition", None, "instances.akri.sh")
    with pytest.raises(ApiException) as err:
        kube.list_custom("instances")
    assert err.value.status == 404
    assert store.list("Pod")[0] == []  # unrelated kinds untouched


def test_client_certificate_is_required(server: KubeApiServer, pki: Pki) -> None:
    cfg = client.Configuration()
    cfg.host = f"https://127.0.0.1:{server.port}"
    cfg.ssl_ca_cert = str(pki.ca_cert)
    cfg.tls_server_name = "kubernetes"
    no_cert = Kube(client.ApiClient(cfg))
    started = time.monotonic()
    try:
        with pytest.raises(Exception, match=r"(?i)certificate required"):
            no_cert.call(no_cert.core.list_namespaced_pod, "default")
    finally:
        no_cert.close()
    assert time.monotonic() - started < 2, "a TLS trust failure must not be retried"


@pytest.mark.parametrize("faults", [{"flaky-api"}])
def test_flaky_api_faults_are_retried_by_kube_call(kube: Kube, store: ObjectStore) -> None:
    store.create(pod("p"))
    for _ in range(4):
        kube.core.read_namespaced_pod("p", "default")
    with pytest.raises(ApiException) as err:  # the 5th request, without retries
        kube.core.read_namespaced_pod("p", "default")
    assert err.value.status == 500
    for _ in range(6):  # crosses the 10th request: a 429 with Retry-After
        assert kube.call(kube.core.read_namespaced_pod, "p", "default").metadata.name == "p"


def test_pod_log_version_delete_and_discovery(
    kube: Kube, store: ObjectStore, server: KubeApiServer
) -> None:
    store.create(pod("p"))
    server.pod_log = lambda ns, name, container, previous: f"{ns}/{name}/{container}\nb\nc\n"
    text = kube.call(kube.core.read_namespaced_pod_log, "p", "default", container="main")
    assert text == "default/p/main\nb\nc\n"
    assert kube.call(kube.core.read_namespaced_pod_log, "p", "default", tail_lines=1) == "c\n"
    assert kube.call(client.VersionApi(kube.api).get_code).git_version == "v1.34.2"
    deleted = kube.call(kube.core.delete_namespaced_pod, "p", "default")
    # bound to a node: graceful, it waits for a kubelet (none here) until forced
    assert deleted.metadata.name == "p" and deleted.metadata.deletion_timestamp
    kube.call(kube.core.delete_namespaced_pod, "p", "default", grace_period_seconds=0)
    assert store.get("Pod", "default", "p") is None
    groups = kube.call(client.ApisApi(kube.api).get_api_versions)
    assert "apps" in [g.name for g in groups.groups]


def test_typed_reads_the_suite_relies_on(kube: Kube, store: ObjectStore) -> None:
    labels = {"app.kubernetes.io/name": "akri-agent"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "agent"}]}}
    workload = {"selector": {"matchLabels": labels}, "template": template}
    store.create(
        {"kind": "DaemonSet", "metadata": {"name": "akri-agent-daemonset"}, "spec": workload}
    )
    store.create({"kind": "Deployment", "metadata": {"name": "app"}, "spec": workload})
    store.create({"kind": "Node", "metadata": {"name": "edge"}, "status": {"allocatable": {}}})
    store.create(
        {"kind": "Service", "metadata": {"name": "app"}, "spec": {"ports": [{"port": 80}]}}
    )
    store.create({"kind": "Endpoints", "metadata": {"name": "app"}, "subsets": []})
    involved = {"kind": "Pod", "name": "app-1", "namespace": "default"}
    store.create({"kind": "Event", "metadata": {"name": "app-1.1"}, "involvedObject": involved})
    daemonset = kube.call(kube.apps.read_namespaced_daemon_set, "akri-agent-daemonset", "default")
    assert daemonset.spec.selector.match_labels == labels
    assert (
        kube.call(kube.apps.read_namespaced_deployment, "app", "default").metadata.generation == 1
    )
    assert [n.metadata.name for n in kube.call(kube.core.list_node).items] == ["edge"]
    service = kube.call(kube.core.read_namespaced_service, "app", "default")
    assert service.spec.type == "ClusterIP" and service.spec.cluster_ip.startswith("10.152.183.")
    assert kube.call(kube.core.list_namespaced_endpoints, "default").items[0].metadata.name == "app"
    assert kube.call(kube.core.list_namespaced_event, "default").items[0].involved_object.name


def test_services_get_cluster_ips_and_node_ports(store: ObjectStore) -> None:
    store.nodeport_allocator = iter([31234]).__next__
    svc = {"kind": "Service", "metadata": {"name": "app"}, "spec": {"type": "NodePort"}}
    svc["spec"]["ports"] = [{"name": "http", "port": 80, "targetPort": 5000}]
    created = store.create(svc)
    assert created["spec"]["clusterIP"].startswith("10.152.183.")
    assert created["spec"]["ports"][0]["nodePort"] == 31234
    reapplied = store.apply(svc)  # kubectl apply again: same addresses, no new event
    assert reapplied["spec"] == created["spec"]
    assert reapplied["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
