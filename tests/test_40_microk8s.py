"""Layer 4, MicroK8s: the snap runs, the node is Ready, addons and paths Akri relies on."""

import pytest

from fixtures import names, parsers
from fixtures.kstate import pods_summary
from fixtures.kwaits import wait_for
from fixtures.probes import assert_installed, gather

pytestmark = [
    pytest.mark.akri,
    pytest.mark.microk8s,
    pytest.mark.order(40),
    pytest.mark.prereq("test_cameras_fed"),
]


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
    assert snap is not None and snap.tracking == settings.microk8s_channel, (
        f"expected the snap to track {settings.microk8s_channel}\n{facts.quote('snap')}"
    )


@pytest.mark.prereq("test_microk8s_running")
def test_node_ready(kube, settings, versions):
    """The single node reports Ready to the API server."""

    def ready(nodes):
        return bool(nodes) and all(
            any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])
            for n in nodes
        )

    def describe(nodes):
        return (
            "; ".join(
                f"{n.metadata.name}: "
                + ", ".join(f"{c.type}={c.status}" for c in n.status.conditions or [])
                for n in nodes
            )
            or "none"
        )

    nodes, _ = wait_for(
        kube,
        kube.core.list_node,
        namespace=None,
        condition=ready,
        describe=describe,
        what="node Ready",
        timeout=settings.ready_timeout,
    )
    versions["kubernetes"] = nodes[0].status.node_info.kubelet_version


@pytest.mark.prereq("test_microk8s_running")
def test_microk8s_addons(facts, kube, settings):
    """dns is enabled with CoreDNS running; rbac really is the apiserver's mode (akri-facts 5.1)."""
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
        condition=lambda pods: any(p.status.phase == "Running" for p in pods),
        describe=pods_summary,
        what="CoreDNS running",
        timeout=settings.ready_timeout,
    )


@pytest.mark.prereq("test_microk8s_running")
def test_apiserver_allows_privileged(facts):
    """--allow-privileged=true (default since 1.19): udev brokers run privileged."""
    value = parsers.apiserver_args(facts.out("args")).get("--allow-privileged")
    assert value == "true", (
        f"expected --allow-privileged=true, found {value!r}\n{facts.quote('args')}"
    )


@pytest.mark.prereq("test_microk8s_running")
def test_kubelet_directory(facts):
    """/var/lib/kubelet resolves into the snap, or Akri's device plugins never register (F9)."""
    seen = facts.out("kubelet").strip()
    assert seen == names.KUBELET_ROOT, (
        f"expected {names.KUBELET_LINK} -> {names.KUBELET_ROOT}, it resolves to {seen!r}: the "
        "Akri agent mounts /var/lib/kubelet/device-plugins (akri-facts 5.3)"
    )
