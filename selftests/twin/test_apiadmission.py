"""What the twin's API server does to requests, as a real kube-apiserver does.

See docs/facts.md#api-defaults-validation and docs/facts.md#api-discovery.

Defaults at creation, 422 validation with the server's wording, 400 for a field selector the
kind does not index, `dryRun=All` that never persists, 415 for a body it cannot read, JSON and
YAML bodies and JSON patches, and discovery with shortNames and categories. Through the
kubernetes client where the suite uses it, raw HTTPS for what the client cannot send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from selftests.twin.apisupport import ApiUnderTest, pod, start_api
from twin.kubeapi.pki import Pki, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def api(pki: Pki) -> Iterator[ApiUnderTest]:
    under_test, stop = start_api(pki)
    yield under_test
    stop()


def refused(exc: ApiException) -> dict:
    return json.loads(exc.body)


def test_a_created_pod_gets_the_api_servers_defaults(api: ApiUnderTest) -> None:
    created = api.kube.call(api.kube.core.create_namespaced_pod, "default", pod("p"))
    spec, status = created.spec, created.status
    assert status.phase == "Pending" and status.qos_class == "BestEffort"
    assert spec.restart_policy == "Always" and spec.dns_policy == "ClusterFirst"
    assert spec.service_account_name == "default" and spec.termination_grace_period_seconds == 30
    assert spec.scheduler_name == "default-scheduler" and spec.priority == 0
    tolerations = {(t.key, t.effect, t.toleration_seconds) for t in spec.tolerations}
    assert tolerations == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }
    volume = next(v for v in spec.volumes if v.name.startswith("kube-api-access-"))
    assert volume.projected.sources[0].service_account_token.path == "token"
    mount = spec.containers[0].volume_mounts[0]
    assert mount.name == volume.name and mount.read_only
    assert mount.mount_path == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert spec.containers[0].image_pull_policy == "IfNotPresent"  # a tagged image
    limited = pod("g")
    limited["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "10m", "memory": "30Mi"}}
    guaranteed = api.kube.call(api.kube.core.create_namespaced_pod, "default", limited)
    assert guaranteed.spec.containers[0].resources.requests == {"cpu": "10m", "memory": "30Mi"}
    assert guaranteed.status.qos_class == "Guaranteed"


def test_invalid_objects_are_refused_with_422_as_the_server_words_it(api: ApiUnderTest) -> None:
    with pytest.raises(ApiException) as err:
        api.kube.call(api.kube.core.create_namespaced_pod, "default", pod("bad_name"))
    body = refused(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('Pod "bad_name" is invalid: metadata.name: Invalid value:')
    assert "a lowercase RFC 1123 subdomain must consist of" in body["message"]
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    empty = pod("empty")
    empty["spec"]["containers"] = []
    with pytest.raises(ApiException) as err:
        api.kube.call(api.kube.core.create_namespaced_pod, "default", empty)
    assert (
        refused(err.value)["message"] == 'Pod "empty" is invalid: spec.containers: Required value'
    )
    service = {"metadata": {"name": "1svc"}, "spec": {"ports": [{"port": 80}]}}
    with pytest.raises(ApiException) as err:
        api.kube.call(api.kube.core.create_namespaced_service, "default", service)
    assert "a DNS-1035 label must" in refused(err.value)["message"]
    assert api.store.list("Pod")[0] == [] and api.store.list("Service")[0] == []


def test_privileged_pods_follow_the_apiservers_allow_privileged(api: ApiUnderTest) -> None:
    privileged = pod("broker")
    privileged["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    api.store.policy.allow_privileged = False
    with pytest.raises(ApiException) as err:
        api.kube.call(api.kube.core.create_namespaced_pod, "default", privileged, dry_run="All")
    assert refused(err.value)["message"] == (
        'Pod "broker" is invalid: spec.containers[0].securityContext.privileged: Forbidden: '
        "disallowed by cluster policy"
    )
    api.store.policy.allow_privileged = True
    api.kube.call(api.kube.core.create_namespaced_pod, "default", privileged, dry_run="All")


def test_unsupported_field_selectors_are_400(api: ApiUnderTest) -> None:
    with pytest.raises(ApiException) as err:
        api.kube.call(api.kube.core.list_namespaced_pod, "default", field_selector="spec.foo=x")
    assert err.value.status == 400
    assert refused(err.value)["message"] == "field label not supported: spec.foo"
    status, body = api.raw("GET", "/api/v1/namespaces/default/pods?watch=true&fieldSelector=a=b")
    assert status == 400 and body["reason"] == "BadRequest"  # refused before any stream starts
    listed = api.kube.call(
        api.kube.core.list_namespaced_pod, "default", field_selector="status.phase=Running"
    )
    assert listed.items == []
    api.store.create(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "instances.akri.sh"},
            "spec": {
                "group": "akri.sh",
                "names": {"kind": "Instance", "plural": "instances"},
                "scope": "Namespaced",
                "versions": [{"name": "v0", "served": True, "storage": True}],
            },
        }
    )
    status, body = api.raw("GET", "/apis/akri.sh/v0/instances?fieldSelector=spec.shared=false")
    assert status == 400
    assert body["message"] == (
        '"spec.shared" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def test_dry_run_answers_as_if_it_had_written_and_persists_nothing(api: ApiUnderTest) -> None:
    created = api.kube.call(
        api.kube.core.create_namespaced_config_map,
        "default",
        {"metadata": {"name": "cm"}, "data": {"a": "1"}},
        dry_run="All",
    )
    assert created.metadata.uid and created.data == {"a": "1"}
    assert api.store.get("ConfigMap", "default", "cm") is None
    _, rv = api.store.list("ConfigMap")
    api.store.create({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}})
    body = {"metadata": {"name": "cm"}, "data": {"a": "2"}}
    replaced = api.kube.call(
        api.kube.core.replace_namespaced_config_map, "cm", "default", body, dry_run="All"
    )
    patched = api.kube.call(
        api.kube.core.patch_namespaced_config_map, "cm", "default", body, dry_run="All"
    )
    assert replaced.data == patched.data == {"a": "2"}
    api.kube.call(api.kube.core.delete_namespaced_config_map, "cm", "default", dry_run="All")
    assert api.store.get("ConfigMap", "default", "cm")["data"] == {"a": "1"}
    events = list(api.store.watch("ConfigMap", "default", None, None, rv, timeout=0.1))
    assert [t for t, _ in events] == ["ADDED"]  # the real create only
    status, body = api.raw("DELETE", "/api/v1/namespaces/default/configmaps/cm?dryRun=Some")
    assert status == 400 and "Invalid dry run value" in body["message"]


def test_bodies_it_cannot_read_are_415_with_a_status(api: ApiUnderTest) -> None:
    status, body = api.raw(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        b"k8s\x00\n\x0f\n\x02v1\x12\tConfigMap",
        ctype="application/vnd.kubernetes.protobuf",
    )
    assert status == 415 and body["kind"] == "Status" and body["reason"] == "UnsupportedMediaType"
    assert body["message"].startswith("the body of the request was in an unknown format")
    api.store.create({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}})
    status, body = api.raw(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/cm",
        b"data: {a: '3'}",
        ctype="application/apply-patch+yaml",
    )
    assert status == 415
    status, body = api.raw(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        b"metadata: {name: from-yaml}\ndata: {b: '2'}\n",
        ctype="application/yaml",
    )
    assert status == 201 and api.store.get("ConfigMap", "default", "from-yaml")["data"] == {
        "b": "2"
    }


def test_json_patch(api: ApiUnderTest) -> None:
    api.store.create({"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "1"}})
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b", "value": "3"},
    ]
    patched = api.kube.call(api.kube.core.patch_namespaced_config_map, "cm", "default", ops)
    assert patched.data == {"a": "2", "b": "3"}
    with pytest.raises(ApiException) as err:
        api.kube.call(
            api.kube.core.patch_namespaced_config_map,
            "cm",
            "default",
            [{"op": "test", "path": "/data/a", "value": "9"}],
        )
    assert err.value.status == 422


def test_discovery_lists_short_names_and_categories(api: ApiUnderTest) -> None:
    core = api.kube.call(api.kube.core.get_api_resources)
    by_name = {r.name: r for r in core.resources}
    assert by_name["pods"].short_names == ["po"] and by_name["pods"].categories == ["all"]
    assert by_name["services"].short_names == ["svc"] and by_name["pods"].singular_name == "pod"
    assert by_name["pods/log"].short_names is None
    apps = api.kube.call(client.AppsV1Api(api.kube.api).get_api_resources)
    short = {r.name: r.short_names for r in apps.resources}
    assert short["deployments"] == ["deploy"] and short["daemonsets"] == ["ds"]
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
        "status": {
            "acceptedNames": {
                "kind": "Configuration",
                "plural": "configurations",
                "shortNames": ["akric"],
                "categories": ["all"],
            }
        },
    }
    api.store.create(crd)
    status, akri = api.raw("GET", "/apis/akri.sh/v0")
    assert status == 200
    entry = next(r for r in akri["resources"] if r["name"] == "configurations")
    assert entry["shortNames"] == ["akric"] and entry["categories"] == ["all"]
