"""Self-tests of Akri's webhook, the API server's validating webhooks, and the agent's finalizer.

See docs/facts.md#akri-webhook, docs/facts.md#webhook-refusal,
docs/facts.md#configuration-finalizer and docs/facts.md#akri-e2e-checks: the e2e's invalid
Configuration refused with the webhook's chain of keys, worded by the API server as a 403; a
schema refusal (422) comes first; a `KERNEL=="null"` Configuration gets one Instance of /dev/null,
the agent's finalizer, and goes with its Instance when deleted.
"""

from __future__ import annotations

import pytest

from twin.akri import webhook
from twin.charts.catalogue import chart_versions, crds
from twin.cluster.microk8s import NODE_NAME
from twin.kubeapi.admission import Invalid
from twin.kubeapi.store import ObjectStore
from twin.kubeapi.webhooks import Denied

HOOK = "akri-webhook-configuration.default.svc"


def config(name: str = "broker", **pod_fields: object) -> dict:
    pod = {"containers": [{"name": "test-broker", "image": "nginx:stable-alpine"}], **pod_fields}
    return {
        "apiVersion": "akri.sh/v0",
        "kind": "Configuration",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "capacity": 1,
            "discoveryHandler": {"name": "debugEcho", "discoveryDetails": "descriptions: [a]"},
            "brokerSpec": {"brokerPodSpec": pod},
        },
    }


def test_the_webhook_names_the_unknown_field_as_its_rust_chain_does():
    answer = webhook.review({"uid": "u", "object": config(xUnknownSyntheticField="x")})
    assert answer["allowed"] is False
    assert answer["status"]["message"] == (
        'input key ("spec") not equal to parsed: ("input key (\\"brokerSpec\\") not equal to '
        'parsed: (\\"input key (\\\\\\"brokerPodSpec\\\\\\") not equal to parsed: (\\\\\\"input '
        'key (\\\\\\\\\\\\\\"xUnknownSyntheticField\\\\\\\\\\\\\\") not equal to parsed: '
        '(\\\\\\\\\\\\\\"no matching value in `deserialized`\\\\\\\\\\\\\\")\\\\\\")\\")")'
    )
    assert webhook.review({"uid": "u", "object": config()}) == {"uid": "u", "allowed": True}


@pytest.fixture
def guarded(store: ObjectStore) -> ObjectStore:
    """A store with Akri's CRDs' kind served, its ValidatingWebhookConfiguration and backend."""
    for crd in crds(chart_versions("akri-dev")[-1], "2026-01-01T00:00:00Z"):
        store.create(crd)
    rule = {"operations": ["CREATE", "UPDATE"], "apiGroups": ["akri.sh"]}
    rule |= {"apiVersions": ["v0"], "resources": ["configurations"]}
    service = {"namespace": "default", "name": "akri-webhook-configuration"}
    hook = {"name": HOOK, "clientConfig": {"service": service}, "rules": [rule]}
    store.create(
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "akri-webhook-configuration"},
            "webhooks": [hook],
        }
    )
    store.webhook_backends[("default", "akri-webhook-configuration")] = webhook.review
    return store


def test_the_api_server_words_a_denial_as_a_403(guarded: ObjectStore):
    with pytest.raises(Denied) as refused:
        guarded.create(config(xUnknownSyntheticField="x"))
    assert (refused.value.code, refused.value.reason) == (403, "Forbidden")
    assert str(refused.value).startswith(
        f'configurations.akri.sh "broker" is forbidden: admission webhook "{HOOK}" denied the '
        'request: input key ("spec")'
    )
    assert guarded.get("Configuration", "default", "broker") is None
    assert guarded.create(config())["metadata"]["name"] == "broker"


def test_schema_validation_refuses_before_the_webhook(guarded: ObjectStore):
    with pytest.raises(Invalid):
        guarded.create(config("not_a_name", xUnknownSyntheticField="x"))


def test_a_dev_null_configuration_gets_one_instance_and_cleans_up(make_node):
    node = make_node(wait=True)
    rules = 'udevRules:\n- KERNEL=="null"\npermissions: rwm\n'
    body = config("dev-null")
    body["spec"] = {"discoveryHandler": {"name": "udev", "discoveryDetails": rules}}
    node.store.create(body)

    def mine() -> list[dict]:
        return [
            i for i in node.instances().values() if i["spec"]["configurationName"] == "dev-null"
        ]

    node.until(lambda: len(mine()) == 1, "the /dev/null Instance")
    assert mine()[0]["spec"]["brokerProperties"]["UDEV_DEVNODE"] == "/dev/null"
    assert mine()[0]["spec"]["nodes"] == [NODE_NAME]
    held = node.store.get("Configuration", "default", "dev-null")["metadata"]["finalizers"]
    assert held == [NODE_NAME]
    assert not [p for p in node.brokers() if "dev-null" in p]
    node.store.delete("Configuration", "default", "dev-null")
    node.until(lambda: node.store.get("Configuration", "default", "dev-null") is None, "gone")
    node.until(lambda: not mine(), "its Instance to go")
