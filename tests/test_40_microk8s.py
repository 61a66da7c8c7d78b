"""Layer 4, MicroK8s: the snap runs, the node is Ready, addons and paths Akri relies on."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node.microk8s import Microk8s, Microk8sCluster

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
def microk8s(host, layer):
    """The snap, its status, the apiserver's args and the kubelet link: one round trip."""
    return Microk8s(host).observe()


@pytest.fixture(scope="module")
def cluster(kube):
    return Microk8sCluster(kube)


def test_microk8s_install(layer, settings):
    """The snap from the chosen channel, refreshes held, ready, group and addons applied."""
    assert_installed(layer, "microk8s", settings.install)


@pytest.mark.prereq("test_microk8s_install")
def test_microk8s_running(microk8s, spec, versions):
    """`microk8s status` says running, on the chosen channel."""
    versions.update(microk8s.versions())
    assert not (problem := microk8s.running_problem()), problem
    assert not (problem := microk8s.channel_problem(spec.channel)), problem


@pytest.mark.prereq("test_microk8s_running")
def test_node_ready(cluster, settings, versions):
    """The single node is Ready and takes pods: no pressure condition, no cordon, no taint.

    A node under DiskPressure still reads Ready but is tainted and evicts pods (a small disk,
    docs/facts.md#disk-pressure): Akri's controller, webhook and brokers would stay Pending.
    """
    nodes = cluster.wait_until_node_ready(settings.ready_timeout)
    versions["kubernetes"] = nodes[0].status.node_info.kubelet_version


@pytest.mark.prereq("test_microk8s_running", "test_node_ready")
def test_microk8s_addons(microk8s, cluster, settings):
    """dns is enabled with CoreDNS running; rbac really is the apiserver's mode.

    See docs/facts.md#microk8s-addons and docs/facts.md#rbac-mode.
    """
    assert not (problem := microk8s.dns_problem()), problem
    assert not (problem := microk8s.rbac_problem()), problem
    cluster.wait_until_coredns_running(settings.ready_timeout)


@pytest.mark.prereq("test_microk8s_running")
def test_apiserver_allows_privileged(microk8s, cluster, spec):
    """--allow-privileged=true (default since 1.19) and the apiserver admits a privileged pod.

    udev brokers run privileged (docs/facts.md#allow-privileged). The args file is what the
    next restart reads; a dry-run create asks the running apiserver itself and persists
    nothing.
    """
    found = (microk8s.privileged_problem(), cluster.privileged_problem(spec.broker_image))
    problems = [p for p in found if p]
    assert not problems, (
        "expected --allow-privileged=true, privileged pods admitted "
        "(docs/facts.md#allow-privileged):\n  "
        + "\n  ".join(problems)
        + f"\n{microk8s.facts.quote('args')}"
    )


@pytest.mark.prereq("test_microk8s_running")
def test_kubelet_directory(microk8s):
    """/var/lib/kubelet resolves into the snap, or Akri's device plugins never register.

    See docs/facts.md#kubelet-directory.
    """
    assert not (problem := microk8s.kubelet_problem()), problem
