"""Layer 8, Akri behaviour: what Akri's own e2e checks (docs/facts.md#akri-e2e-checks).

A deleted broker comes back and the app serves its camera again; Akri's webhook admits a valid
Configuration and refuses one with an unknown brokerPodSpec field; a second udev Configuration
(`KERNEL=="null"`, no broker) gets exactly one Instance, and deleting it removes that Instance
through the agent's finalizer without touching the demo. Extra Configurations are cleaned up
whatever happens (the cleanup is registered before the create).
"""

import time
from dataclasses import dataclass

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
from fixtures.node.spec import Camera

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_behaviour,
    pytest.mark.order(80),
    pytest.mark.prereq("test_camera_list", "test_feeds_are_live"),
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


@dataclass
class Replacement:
    """One camera's broker, deleted: what was there before, and when."""

    camera: Camera
    old_uid: str
    deleted_at: float  # time.monotonic()
    before: dict[str, str]  # demo_uids() before the delete
    new_uid: str = ""


@pytest.fixture(scope="module")
def replacement(akri) -> Replacement:
    """The last camera's broker pod deleted, as `kubectl delete pod` does."""
    camera, before = akri.cameras[-1], demo_uids(akri)
    deleted_at = time.monotonic()
    old = Brokers(akri).delete(camera)
    return Replacement(camera, old.metadata.uid, deleted_at, before)


def test_broker_replaced(replacement, akri, settings):
    """A new Running broker, same name `<instance>-pod`, new uid; the old one is ignored while
    it terminates (docs/facts.md#broker-replacement, docs/facts.md#graceful-deletion)."""
    cam = replacement.camera
    pod, timeout = Brokers(akri).wait_until_broker_replaced(
        cam, replacement.old_uid, settings.ready_timeout
    )
    assert pod is not None, (
        f"{cam.title}: no new broker pod after its broker {names.broker_pod(akri.instance(cam))} "
        f"(uid {replacement.old_uid}) was deleted; the controller re-creates it "
        f"(docs/facts.md#broker-replacement)\n{timeout}"
    )
    replacement.new_uid = pod.metadata.uid


@pytest.mark.prereq("test_broker_replaced")
def test_instance_service_back(replacement, akri, settings):
    """The camera's `<instance>-svc` is back with the new broker behind it (a new Service and
    ClusterIP are accepted, docs/facts.md#services-follow-brokers)."""
    cam = replacement.camera
    svc, timeout = Services(akri).wait_until_instance_service_behind(
        cam, replacement.new_uid, settings.ready_timeout
    )
    assert svc is not None, f"{cam.title}: no instance service for the new broker\n{timeout}"


@pytest.mark.prereq("test_broker_replaced")
def test_others_untouched(replacement, akri):
    """The Instances, the configuration service and the other cameras' brokers keep their uids
    (docs/facts.md#broker-replacement)."""
    own = (names.broker_pod(akri.instance(replacement.camera)),)
    own += (names.instance_service(akri.instance(replacement.camera)),)
    if len(akri.cameras) == 1:  # its service goes with the last broker
        own += (names.CONFIGURATION_SERVICE,)
    after = demo_uids(akri)
    changed = [
        f"{what}: uid {uid} -> {after.get(what, 'gone')}"
        for what, uid in replacement.before.items()
        if what.split(" ", 1)[1] not in own and after.get(what) != uid
    ]
    assert not changed, f"replacing {replacement.camera.title}'s broker changed:\n  " + (
        "\n  ".join(changed)
    )


@pytest.mark.prereq("test_instance_service_back")
def test_app_serves_replaced_camera(replacement, akri, app, settings, measured):
    """The app lists the new service; the camera's feed, opened afresh, is live again
    (docs/facts.md#streaming-stalls). Measured: delete to its first new frame."""
    cam = replacement.camera
    services = Services(akri).as_the_app_lists_them()
    app.wait_until_camera_list(services.camera_list(), services.explain, settings.ready_timeout)
    read = read_camera_feed(app, services, cam, PARTS, settings.frame_timeout)
    problems = read.jpeg_problems() or (["all frames identical"] if read.frozen() else [])
    assert not problems, f"{cam.title} after its broker was replaced:\n  " + "\n  ".join(problems)
    seconds = read.result.answered - replacement.deleted_at
    measured("broker_replaced_to_first_frame", seconds, f"{cam.title}, {read.source.label}")


@pytest.fixture(scope="module")
def app(kube, node) -> App:
    return App(kube, node.app_port)


def test_webhook_admits_valid_configuration(configs, request, settings):
    """Akri's e2e valid Configuration is admitted (docs/facts.md#akri-webhook)."""
    name = "akri-conformance-webhook-valid"
    request.addfinalizer(lambda: configs.cleanup(name, settings.ready_timeout))
    refusal = configs.create(configuration(name, "debugEcho", ECHO, broker_pod()))
    assert refusal is None, f"a valid Configuration was refused: {refusal}"


def test_webhook_refuses_unknown_field(configs, request, settings):
    """One whose brokerPodSpec has an unknown field is refused by Akri's webhook, naming it:
    `admission webhook "akri-webhook-configuration.<ns>.svc" denied the request`, 403 (400 on
    older API servers), never the schema's 422 Invalid (docs/facts.md#webhook-refusal)."""
    name = "akri-conformance-webhook-invalid"
    request.addfinalizer(lambda: configs.cleanup(name, settings.ready_timeout))
    refusal = configs.create(configuration(name, "debugEcho", ECHO, broker_pod(True)))
    assert refusal is not None, (
        f"a Configuration whose brokerPodSpec has the unknown field {UNKNOWN_FIELD} was "
        f"admitted; Akri's webhook refuses it (docs/facts.md#akri-webhook). "
        f"ValidatingWebhookConfigurations: {configs.webhook_configurations() or 'none'}"
    )
    problem = refusal.problem(UNKNOWN_FIELD)
    assert not problem, problem


@dataclass(frozen=True)
class Extra:
    """The extra Configuration: the demo before it, and whether it was admitted."""

    before: dict[str, str]
    refusal: object


@pytest.fixture(scope="module")
def dev_null(configs, akri, request, settings) -> Extra:
    """`KERNEL=="null"` without a broker, as Akri's e2e (cleanup registered first)."""
    before = demo_uids(akri)
    request.addfinalizer(lambda: configs.cleanup(DEV_NULL, settings.ready_timeout))
    return Extra(before, configs.create(configuration(DEV_NULL, "udev", NULL_RULES)))


def test_extra_configuration_instance(dev_null, akri, settings):
    """Exactly one Instance, of /dev/null on this node, steady after a settle."""
    assert dev_null.refusal is None, f"{DEV_NULL} was refused: {dev_null.refusal}"
    instances = Instances(akri)
    found, timeout = instances.wait_until_instances_of(DEV_NULL, 1, settings.ready_timeout)
    assert len(found) == 1, f"expected one Instance of {DEV_NULL}\n{timeout}"
    spec = found[0]["spec"]
    where = (spec.get("nodes"), (spec.get("brokerProperties") or {}).get("UDEV_DEVNODE"))
    assert where == ([akri.node], "/dev/null"), f"its Instance: nodes, UDEV_DEVNODE = {where}"
    changed = instances.changed_during(DEV_NULL, 1, SETTLE)
    assert changed is None, f"{DEV_NULL}'s Instances changed within {SETTLE:g}s: {changed}"


@pytest.mark.prereq("test_extra_configuration_instance")
def test_extra_configuration_cleanup(dev_null, configs, akri, settings):
    """Deleted, the Configuration goes, and its Instance with it (the agent's finalizer,
    docs/facts.md#configuration-finalizer)."""
    configs.delete(DEV_NULL)
    stuck = configs.wait_until_gone(DEV_NULL, settings.ready_timeout)
    left, _ = Instances(akri).wait_until_instances_of(DEV_NULL, 0, settings.ready_timeout)
    assert stuck is None and not left, (
        f"{DEV_NULL} deleted, but Instances {[i['metadata']['name'] for i in left]} stay; "
        f"deletion completes while an agent runs (docs/facts.md#configuration-finalizer)"
        f"\n{stuck or ''}"
    )


@pytest.mark.prereq("test_extra_configuration_cleanup")
def test_demo_unchanged_after_cleanup(dev_null, akri):
    """The demo's Instances, brokers and services kept their uids through it all."""
    after = demo_uids(akri)
    before = dev_null.before
    changed = {k: (v, after.get(k, "gone")) for k, v in before.items() if after.get(k) != v}
    added = sorted(set(after) - set(dev_null.before))
    assert not changed and not added, f"changed {changed}, added {added}"


@pytest.fixture(scope="module")
def feeds_after(app, akri, settings):
    services = Services(akri).as_the_app_lists_them()
    return read_feeds(app, services, settings.cameras + 1, PARTS, settings.frame_timeout)


@pytest.mark.prereq("test_extra_configuration_cleanup")
def test_feeds_live_after_cleanup(camera, feeds_after):
    """The camera's feeds still deliver live JPEG frames."""
    problems = [p for read in feeds_after.of(camera) for p in read.jpeg_problems()]
    problems += [f"{r.source.label}: frozen" for r in feeds_after.of(camera) if r.frozen()]
    missing = feeds_after.missing(camera)
    assert not problems and not missing, f"{camera.title}: {[missing, *problems]}"
