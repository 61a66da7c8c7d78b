"""Layer 9, recovery: a power cut. The node is rebooted for real, then, without any install step,
the whole camera chain must come back by itself (docs/facts.md#persisted-across-reboot).

The reboot is the host's own (`Host.reboot`, as the install plan's reboot step: a new boot id, SSH
back). Nothing is installed afterwards, only observed through the same node resources as the
earlier layers, each held to the new boot. Reported (JUnit properties, summary): the seconds from
the reboot to each camera's first live frame, and whether each Instance and broker kept its UID
(the agent re-applies Instances under the same names with new UIDs after it restarts,
docs/facts.md#broker-replacement). `--reboot never` skips the layer (a node that must not be
rebooted); on `--target local` it is skipped by default.
"""

import pytest

from fixtures.node import names, recovery
from fixtures.node.akri import AkriNode
from fixtures.node.app import App
from fixtures.node.control_plane import AkriControlPlane
from fixtures.node.devices import VideoDevices
from fixtures.node.feeders import PS, Feeders
from fixtures.node.instances import Instances
from fixtures.node.kernel import V4l2LoopbackModule
from fixtures.node.services import Services
from fixtures.node.waits import HostWaitTimeout, wait_until

pytestmark = [
    pytest.mark.akri,
    pytest.mark.recovery,
    pytest.mark.order(90),
    pytest.mark.prereq(
        "test_feeds_are_live",
        "test_broker_replaced",
        "test_webhook_refuses_unknown_field",
        "test_extra_configuration_cleanup",
    ),
]
FED_TIMEOUT = 30.0  # enabled feeder units start alongside sshd at boot (multi-user.target)


@pytest.fixture(scope="module")
def allowed(settings):
    if not settings.reboot_allowed:
        why = "--reboot never" if settings.reboot else "--target local (--reboot never by default)"
        pytest.skip(f"{why}: the node must not be rebooted, so the recovery layer is skipped")


@pytest.fixture(scope="module")
def akri(allowed, installed, kube, spec) -> AkriNode:
    installed("recovery")  # the chain as the earlier layers left it; no step after the reboot
    return AkriNode.of(kube, spec)


@pytest.fixture(scope="module")
def before(akri, host, spec):
    """What the reboot must give back: the module, the card labels, Instances and brokers."""
    return (
        V4l2LoopbackModule(host, spec).observe(),
        VideoDevices(host, spec).observe(),
        recovery.ChainBefore.observe(akri),
    )


@pytest.fixture(scope="module")
def rebooted(before, host, settings, versions) -> recovery.Reboot:
    """The real reboot, once for the layer."""
    done = recovery.reboot(host, settings.ssh_timeout + 300)
    versions["recovery_ssh_back_seconds"] = f"{done.seconds:.1f}"
    return done


def test_module_after_reboot(before, rebooted, host, spec):
    """v4l2loopback is loaded with the parameters it had: from /etc/modules-load.d with
    /etc/modprobe.d's options, before sshd answers (systemd-modules-load is in sysinit.target)."""
    was, now = before[0], V4l2LoopbackModule(host, spec).observe()
    n = len(spec.cameras)
    problem = now.loaded_problem() or next(
        (
            f"{name} {','.join(getattr(now, name)[:n])}, before the reboot "
            f"{','.join(getattr(was, name)[:n])}"
            for name in ("video_nr", "exclusive_caps")
            if getattr(now, name)[:n] != getattr(was, name)[:n]
        ),
        None,
    )
    assert problem is None, (
        f"after the reboot (boot {rebooted.new_boot_id}) v4l2loopback is not back as it was:\n"
        f"{problem}\n{now.facts.quote('modprobe_d')}\n(docs/facts.md#persisted-across-reboot)"
    )


@pytest.mark.prereq("test_module_after_reboot")
def test_devices_after_reboot(before, host, spec, camera):
    """The camera's /dev/videoN is back, a loopback device with the label it had."""
    now = VideoDevices(host, spec).observe()
    problems = now.problems(camera)
    if not problems and now.label(camera) != before[1].label(camera):
        problems = [f"label {now.label(camera)!r}, before the reboot {before[1].label(camera)!r}"]
    assert not problems, f"{camera.title} after the reboot:\n  " + "\n  ".join(problems)


@pytest.mark.prereq("test_devices_after_reboot")
def test_feeders_after_reboot(host, spec, camera):
    """One live feeder writes to the camera again: an enabled unit that the boot started."""
    feeders = Feeders(host, spec)
    state = recovery.wait_until_fed_after(feeders, FED_TIMEOUT)
    problem = state.problem(camera)
    note = feeders.unit_note(camera) if problem else None
    assert problem is None, (
        f"after the reboot: {problem}"
        + (f"\n  {note}" if note else "")
        + f"\n(processes: `{PS}`; a transient systemd-run unit does not survive a reboot, "
        "docs/facts.md#persisted-across-reboot)"
    )


@pytest.mark.prereq("test_feeders_after_reboot")
def test_microk8s_after_reboot(kube, rebooted, settings):
    """MicroK8s is back: the Node is Ready as the kubelet of the new boot reports it."""
    recovery.wait_until_node_ready_in_boot(kube, rebooted.new_boot_id, settings.ready_timeout)


@pytest.mark.prereq("test_microk8s_after_reboot")
def test_akri_after_reboot(kube, settings):
    """The agent, controller, udev discovery handler and webhook are ready again."""
    ready = AkriControlPlane(kube).wait_until_components_ready(settings.ready_timeout)
    problems = ready.problems()
    assert not problems, "after the reboot:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def instances_after(akri, settings):
    timeout = settings.ready_timeout + recovery.REREGISTRATION_ALLOWANCE
    return Instances(akri).wait_until_instances(timeout)


@pytest.mark.prereq("test_akri_after_reboot")
def test_instances_after_reboot(instances_after, camera):
    """The camera's Instance is back under the same name (its UID may change)."""
    problem = instances_after.problem(camera)
    assert problem is None, f"after the reboot: {problem}"


@pytest.fixture(scope="module")
def brokers_after(akri, before, settings):
    timeout = settings.ready_timeout + recovery.REREGISTRATION_ALLOWANCE
    return recovery.wait_until_brokers_in_boot(akri, before[2], timeout)


@pytest.mark.prereq("test_instances_after_reboot")
def test_brokers_after_reboot(brokers_after, camera):
    """The camera's broker is Running and ready in a container started in this boot."""
    problem = brokers_after.problem(camera)
    assert problem is None, f"after the reboot: {problem}"


@pytest.mark.prereq("test_brokers_after_reboot")
def test_services_after_reboot(akri, camera, settings):
    """The camera's instance service and the configuration service have ready endpoints."""
    services = Services(akri)

    def judged():
        # the agent may re-apply its Instances after the reboot, so the controller may replace
        # a service that was ready a moment ago (docs/facts.md#persisted-across-reboot): re-judge
        seen = services.wait_until_instance_services_ready(settings.ready_timeout)
        config = services.wait_until_configuration_service_ready(settings.ready_timeout)
        problems = seen.instance_service_problems(camera) + config.configuration_service_problems()
        return problems, seen

    try:
        (problems, seen), _ = wait_until(
            judged,
            lambda result: not result[0],
            timeout=settings.ready_timeout,
            what=f"{camera.title}'s services ready after the reboot",
            describe=lambda result: "; ".join(result[0]) or "ready",
        )
    except HostWaitTimeout as exc:
        problems, seen = judged()
        assert not problems, f"after the reboot, {camera.title}: {exc}" + seen.why()


@pytest.fixture(scope="module")
def live_after(akri, before, rebooted, kube, node, settings, versions):
    """Each camera's first live frames after the reboot; then the UIDs it cost, reported."""
    app = App(kube, node.app_port)
    timeout = settings.ready_timeout + settings.frame_timeout
    live = recovery.wait_until_live_after(app, akri, rebooted, timeout)
    for camera, seconds in live.first.items():
        versions[f"recovery_{camera.label}_first_frame_seconds"] = f"{seconds:.1f}"
    after = recovery.ChainBefore.observe(akri)
    fates = {
        **recovery.uid_changes(before[2].instances, after.instances),
        **recovery.uid_changes(before[2].brokers, after.brokers),
    }
    for camera in akri.cameras:
        inst = akri.instance(camera)
        for kind, name in (("instance", inst), ("broker", names.broker_pod(inst))):
            old = (before[2].instances | before[2].brokers).get(name, "-")
            new = (after.instances | after.brokers).get(name, "-")
            versions[f"recovery_{camera.label}_{kind}_uid"] = (
                f"{fates.get(name, 'missing')} ({old[:8]} -> {new[:8]})"
            )
    return live


@pytest.mark.prereq("test_services_after_reboot")
def test_live_after_reboot(live_after, camera):
    """The app serves live frames of the camera again (re-read /camera_list, re-opened feed)."""
    problem = live_after.problem(camera)
    assert problem is None, problem
