"""Layer 8, Akri behaviour: what Akri's own e2e checks (docs/facts.md#akri-e2e-checks).

A deleted broker comes back and the app serves its camera again; Akri's webhook admits a valid
Configuration and refuses one with an unknown brokerPodSpec field; a second udev Configuration
(`KERNEL=="null"`, no broker) gets exactly one Instance, and deleting it removes that Instance
through the agent's finalizer without touching the demo. Extra Configurations are cleaned up
whatever happens (the cleanup is registered before the create).
"""

import time

import pytest

from fixtures.node import names
from fixtures.node.akri import AkriNode
from fixtures.node.app import App
from fixtures.node.brokers import Brokers
from fixtures.node.configurations import (
    UNKNOWN_FIELD,
    Configurations,
    broker_pod,
    configuration,
    demo_uids,
)
from fixtures.node.feeds import read_camera_feed, read_feeds
from fixtures.node.instances import Instances
from fixtures.node.services import Services

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_behaviour,
    pytest.mark.order(80),
    pytest.mark.prereq(
        "test_streaming_app_available",
        "test_unknown_feed_is_500",
        "test_index_lists_feeds",
        "test_camera_list",
        "test_feeds_deliver_jpeg",
        "test_feeds_are_live",
    ),
]
PARTS = 3
SETTLE = 1.0  # Akri's e2e re-reads the Instance count 1 s after it first matches
DEV_NULL = "akri-conformance-dev-null"
NULL_RULES = 'udevRules:\n- KERNEL=="null"\npermissions: rwm\n'
ECHO = 'descriptions: ["foo", "bar"]'  # debugEcho: a discovery handler this node does not run


@pytest.fixture(scope="module", autouse=True)
def layer(installed):
    return installed("akri_behaviour")


@pytest.fixture(scope="module")
def akri(kube, spec) -> AkriNode:
    return AkriNode.of(kube, spec)


@pytest.fixture(scope="module")
def configs(akri) -> Configurations:
    return Configurations(akri)


@pytest.fixture(scope="module")
def app(kube, node) -> App:
    return App(kube, node.app_port)


def test_broker_replaced(akri, app, settings, measured):
    """The last camera's broker pod deleted: a new Running one, same name, new uid, the old one
    ignored while it terminates (docs/facts.md#broker-replacement,
    docs/facts.md#graceful-deletion); its instance service back with the new broker behind it
    (a new Service and ClusterIP are fine, docs/facts.md#services-follow-brokers); the
    Instances, the configuration service and the other brokers keep their uids; the app lists
    the new service and the camera's feed, opened afresh, is live (docs/facts.md#streaming-stalls).
    Measured: delete to its first new frame."""
    cam, before = akri.cameras[-1], demo_uids(akri)
    deleted_at = time.monotonic()
    old = Brokers(akri).delete(cam).metadata.uid
    pod, timeout = Brokers(akri).wait_until_broker_replaced(cam, old, settings.ready_timeout)
    assert pod is not None, (
        f"{cam.title}: no new broker pod after its broker {names.broker_pod(akri.instance(cam))} "
        f"(uid {old}) was deleted; the controller re-creates it "
        f"(docs/facts.md#broker-replacement)\n{timeout}"
    )
    svc, timeout = Services(akri).wait_until_instance_service_behind(
        cam, pod.metadata.uid, settings.ready_timeout
    )
    assert svc is not None, f"{cam.title}: no instance service for the new broker\n{timeout}"
    own = {names.broker_pod(akri.instance(cam)), names.instance_service(akri.instance(cam))}
    if len(akri.cameras) == 1:  # the configuration service goes with the last broker
        own.add(names.CONFIGURATION_SERVICE)
    after = demo_uids(akri)
    changed = [
        f"{what}: uid {uid} -> {after.get(what, 'gone')}"
        for what, uid in before.items()
        if what.split(" ", 1)[1] not in own and after.get(what) != uid
    ]
    assert not changed, f"replacing {cam.title}'s broker changed: {changed}"
    services = Services(akri).as_the_app_lists_them()
    app.wait_until_camera_list(services.camera_list(), services.explain, settings.ready_timeout)
    read = read_camera_feed(app, services, cam, PARTS, settings.frame_timeout)
    problems = read.jpeg_problems() or (["all frames identical"] if read.frozen() else [])
    assert not problems, f"{cam.title} after its broker was replaced:\n  " + "\n  ".join(problems)
    seconds = read.result.answered - deleted_at
    measured("broker_replaced_to_first_frame", seconds, f"{cam.title}, {read.source.label}")


def test_webhook_refuses_unknown_field(configs, request, settings):
    """Akri's e2e valid Configuration is admitted; one whose brokerPodSpec has an unknown field
    is refused by Akri's webhook, naming it: `admission webhook
    "akri-webhook-configuration.<ns>.svc" denied the request`, 403 (400 on older API servers),
    never the schema's 422 Invalid (docs/facts.md#akri-webhook, docs/facts.md#webhook-refusal)."""
    valid, invalid = "akri-conformance-webhook-valid", "akri-conformance-webhook-invalid"
    for name in (valid, invalid):
        request.addfinalizer(lambda name=name: configs.cleanup(name, settings.ready_timeout))
    refusal = configs.create(configuration(valid, "debugEcho", ECHO, broker_pod()))
    assert refusal is None, f"a valid Configuration was refused: {refusal}"
    refusal = configs.create(configuration(invalid, "debugEcho", ECHO, broker_pod(True)))
    assert refusal is not None, (
        f"a Configuration whose brokerPodSpec has the unknown field {UNKNOWN_FIELD} was "
        f"admitted; Akri's webhook refuses it (docs/facts.md#akri-webhook). "
        f"ValidatingWebhookConfigurations: {configs.webhook_configurations() or 'none'}"
    )
    problem = refusal.problem(UNKNOWN_FIELD)
    assert not problem, problem


def test_extra_configuration_cleanup(configs, akri, app, request, settings):
    """`KERNEL=="null"` without a broker, as Akri's e2e: exactly one Instance, of /dev/null on
    this node, steady over a settle; deleted, it goes with its Instance (the agent's finalizer,
    docs/facts.md#configuration-finalizer), the demo's objects keep their uids and every camera
    still delivers live frames. The cleanup is registered before the create."""
    before, instances = demo_uids(akri), Instances(akri)
    request.addfinalizer(lambda: configs.cleanup(DEV_NULL, settings.ready_timeout))
    refusal = configs.create(configuration(DEV_NULL, "udev", NULL_RULES))
    assert refusal is None, f"{DEV_NULL} was refused: {refusal}"
    found, timeout = instances.wait_until_instances_of(DEV_NULL, 1, settings.ready_timeout)
    assert len(found) == 1, f"expected one Instance of {DEV_NULL}\n{timeout}"
    spec = found[0]["spec"]
    where = (spec.get("nodes"), (spec.get("brokerProperties") or {}).get("UDEV_DEVNODE"))
    assert where == ([akri.node], "/dev/null"), f"its Instance: nodes, UDEV_DEVNODE = {where}"
    changed = instances.changed_during(DEV_NULL, 1, SETTLE)
    assert changed is None, f"{DEV_NULL}'s Instances changed within {SETTLE:g}s: {changed}"
    configs.delete(DEV_NULL)
    stuck = configs.wait_until_gone(DEV_NULL, settings.ready_timeout)
    left, _ = instances.wait_until_instances_of(DEV_NULL, 0, settings.ready_timeout)
    assert stuck is None and not left, (
        f"{DEV_NULL} deleted, but Instances {[i['metadata']['name'] for i in left]} stay; "
        f"deletion completes while an agent runs (docs/facts.md#configuration-finalizer)"
        f"\n{stuck or ''}"
    )
    after = demo_uids(akri)
    moved = {k: (v, after.get(k, "gone")) for k, v in before.items() if after.get(k) != v}
    assert not moved and set(after) == set(before), f"the demo changed: {moved}, now {after}"
    services = Services(akri).as_the_app_lists_them()
    feeds = read_feeds(app, services, settings.cameras + 1, PARTS, settings.frame_timeout)
    problems = [
        p
        for c in akri.cameras
        for p in [
            feeds.missing(c),
            *(f"{c.title}: {q}" for r in feeds.of(c) for q in r.jpeg_problems()),
            *(f"{c.title}: {r.source.label} frozen" for r in feeds.of(c) if r.frozen()),
        ]
        if p
    ]
    assert not problems, f"after {DEV_NULL} came and went:\n  " + "\n  ".join(problems)
