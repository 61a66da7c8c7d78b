"""Layer 4, MicroK8s: the snap runs, the node is Ready, addons and paths Akri relies on."""

import json

import pytest
from kubernetes.client.exceptions import ApiException

from fixtures.install.probes import assert_installed
from fixtures.kube.state import pod_running, pods_summary
from fixtures.kube.waits import wait_for
from fixtures.node import names, parsers
from fixtures.node.facts import gather

pytestmark = [
    pytest.mark.akri,
    pytest.mark.microk8s,
    pytest.mark.order(40),
    pytest.mark.prereq("test_cameras_fed"),
]
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


@pytest.fixture(scope="module")
def layer(installed):
    return installed("microk8s")


@pytest.fixture(scope="module")
def facts(host, layer):
    return gather(
        host,
        {
            "status": "microk8s status --format yaml",
            "snap": "snap list microk8s",
            "args": f"cat {names.APISERVER_ARGS}",
            "kubelet": f"readlink -f {names.KUBELET_LINK}",
        },
    )


def test_microk8s_install(layer, settings):
    """The snap from the chosen channel, refreshes held, ready, group and addons applied."""
    assert_installed(layer, "microk8s", settings.install)


@pytest.mark.prereq("test_microk8s_install")
def test_microk8s_running(facts, settings, versions):
    """`microk8s status` says running, on the chosen channel."""
    status = parsers.microk8s_status(facts.out("status"))
    snap = parsers.snap_list(facts.out("snap")).get("microk8s")
    if snap is not None:
        versions["microk8s_channel"] = snap.tracking
        versions["microk8s_version"] = snap.version
        versions["microk8s_revision"] = snap.rev
    assert status.running, (
        f"MicroK8s is not running: {status.message or 'no message'}\n{facts.quote('status')}"
    )
    wanted = settings.microk8s_channel
    assert snap is not None and snap.tracking == wanted, (
        f"expected the snap to track {wanted}, it tracks "
        f"{snap.tracking if snap else 'nothing'}: the suite does not move an installed MicroK8s "
        "to another track (an upgrade goes one minor at a time, see "
        "docs/facts.md#microk8s-restarts); refresh it "
        f"(`sudo snap refresh microk8s --channel={wanted}`) or run with "
        f"--microk8s-channel={snap.tracking if snap else wanted}\n{facts.quote('snap')}"
    )


def _status_message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body or "{}").get("message") or str(exc.reason)
    except ValueError:
        return str(exc.body or exc.reason)


def _node_problems(node) -> list[str]:
    """What keeps Akri's pods off this node: not Ready, under pressure, cordoned, tainted."""
    conditions = {c.type: c for c in node.status.conditions or []}
    ready = conditions.get("Ready")
    problems = []
    if ready is None or ready.status != "True":
        problems.append(
            f"Ready={ready.status} ({ready.reason}: {ready.message})" if ready else "no Ready"
        )
    for name in PRESSURES:
        cond = conditions.get(name)
        if cond is not None and cond.status == "True":
            problems.append(f"{name}=True ({cond.reason}: {cond.message})")
    if node.spec.unschedulable:
        problems.append("cordoned (spec.unschedulable)")
    for taint in node.spec.taints or []:
        # the node lifecycle's own taints; a user's taints may be tolerated by their pods
        if taint.key.startswith("node.kubernetes.io/") and taint.effect != "PreferNoSchedule":
            problems.append(f"taint {taint.key}:{taint.effect}")
    return problems


@pytest.mark.prereq("test_microk8s_running")
def test_node_ready(kube, settings, versions):
    """The single node is Ready and takes pods: no pressure condition, no cordon, no taint.

    A node under DiskPressure still reads Ready but is tainted and evicts pods (a small disk,
    docs/facts.md#disk-pressure): Akri's controller, webhook and brokers would stay Pending.
    """

    def describe(nodes):
        return (
            "; ".join(f"{n.metadata.name}: {', '.join(_node_problems(n)) or 'ok'}" for n in nodes)
            or "no node"
        )

    nodes, _ = wait_for(
        kube,
        kube.core.list_node,
        namespace=None,
        condition=lambda nodes: bool(nodes) and not any(_node_problems(n) for n in nodes),
        describe=describe,
        what="the node Ready, without pressure or taints (docs/facts.md#disk-pressure)",
        timeout=settings.ready_timeout,
    )
    versions["kubernetes"] = nodes[0].status.node_info.kubelet_version


@pytest.mark.prereq("test_microk8s_running", "test_node_ready")
def test_microk8s_addons(facts, kube, settings):
    """dns is enabled with CoreDNS running; rbac really is the apiserver's mode.

    See docs/facts.md#microk8s-addons and docs/facts.md#rbac-mode.
    """
    status = parsers.microk8s_status(facts.out("status"))
    assert status.addons.get("dns") == "enabled", (
        f"expected the dns addon enabled, status says {status.addons.get('dns', 'absent')!r}\n"
        f"{facts.quote('status', 40)}"
    )
    mode = parsers.apiserver_args(facts.out("args")).get("--authorization-mode", "")
    assert "RBAC" in mode, (
        f"expected --authorization-mode=RBAC,Node in {names.APISERVER_ARGS}, found {mode!r} "
        "(`microk8s status` shows rbac enabled regardless)"
    )
    wait_for(
        kube,
        kube.core.list_namespaced_pod,
        namespace="kube-system",
        label_selector="k8s-app=kube-dns",
        condition=lambda pods: any(pod_running(p) for p in pods),
        describe=pods_summary,
        what="CoreDNS running",
        timeout=settings.ready_timeout,
    )


@pytest.mark.prereq("test_microk8s_running")
def test_apiserver_allows_privileged(facts, kube, settings):
    """--allow-privileged=true (default since 1.19) and the apiserver admits a privileged pod.

    udev brokers run privileged (docs/facts.md#allow-privileged). The args file is what the
    next restart reads; a dry-run create asks the running apiserver itself and persists
    nothing.
    """
    problems = []
    value = parsers.apiserver_args(facts.out("args")).get("--allow-privileged")
    if value != "true":
        problems.append(f"{names.APISERVER_ARGS} has --allow-privileged={value!r}, not true")
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": names.PRIVILEGED_PROBE, "namespace": names.NAMESPACE},
        "spec": {
            "containers": [
                {
                    "name": "probe",
                    "image": settings.broker_image,
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    try:
        kube.call(kube.core.create_namespaced_pod, names.NAMESPACE, probe, dry_run="All")
    except ApiException as exc:
        why = f"{exc.status} {_status_message(exc)}"
        problems.append(f"the apiserver refuses a privileged pod (dry run): {why}")
    assert not problems, (
        "expected --allow-privileged=true, privileged pods admitted "
        "(docs/facts.md#allow-privileged):\n  " + "\n  ".join(problems) + f"\n{facts.quote('args')}"
    )


@pytest.mark.prereq("test_microk8s_running")
def test_kubelet_directory(facts):
    """/var/lib/kubelet resolves into the snap, or Akri's device plugins never register.

    See docs/facts.md#kubelet-directory.
    """
    seen = facts.out("kubelet").strip()
    assert seen == names.KUBELET_ROOT, (
        f"expected {names.KUBELET_LINK} -> {names.KUBELET_ROOT}, it resolves to {seen!r}: the "
        "Akri agent mounts /var/lib/kubelet/device-plugins, and the snap links the directory "
        "only if it did not exist when MicroK8s was installed (docs/facts.md#kubelet-directory)"
    )
