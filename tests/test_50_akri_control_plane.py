"""Layer 5, Akri control plane: the chart, its CRDs, its components and the Configuration."""

import pytest

from fixtures.install.probes import assert_installed
from fixtures.node import names
from fixtures.node.control_plane import AkriControlPlane
from fixtures.node.helm import chart_ref

pytestmark = [
    pytest.mark.akri,
    pytest.mark.akri_control_plane,
    pytest.mark.order(50),
    pytest.mark.prereq(
        "test_node_ready",
        "test_microk8s_addons",
        "test_apiserver_allows_privileged",
        "test_kubelet_directory",
    ),
]


@pytest.fixture(scope="module")
def layer(installed):
    return installed("akri_control_plane")


@pytest.fixture(scope="module")
def control_plane(kube):
    return AkriControlPlane(kube)


def test_akri_install(layer, settings, spec, versions):
    """The Helm repo and the pinned chart, installed with today's values.

    See docs/facts.md#akri-charts and docs/facts.md#helm-values.
    """
    versions["akri_chart"] = chart_ref(spec)
    versions["broker_image"] = spec.broker_image
    assert_installed(layer, "akri_control_plane", settings.install)


def test_akri_crds(control_plane, layer):
    """configurations.akri.sh and instances.akri.sh are established and serve v0."""
    problems = [p for crd in control_plane.crds() if (p := crd.problem())]
    assert not problems, (
        "expected the Akri CRDs, established and serving v0:\n  "
        + "\n  ".join(problems)
        + "\n(the chart ships them in crds/ and `helm uninstall` keeps them, see "
        "docs/facts.md#helm-cleanup-hook: check the install output, and whether someone ran "
        "`kubectl delete crd` since)"
    )


@pytest.mark.prereq("test_akri_install")
def test_akri_components_ready(control_plane, settings, versions):
    """Agent, controller, udev discovery handler and webhook each have a Running, ready pod."""
    seen = control_plane.wait_until_components_ready(settings.ready_timeout)
    versions.update(seen.versions())
    assert not seen.missing, "Akri components not ready:\n" + "\n".join(seen.problems())


@pytest.mark.prereq("test_akri_components_ready")
def test_akri_images_match_chart(control_plane, spec):
    """Each component runs the image its chart renders, not a frozen latest-dev.

    See docs/facts.md#component-images.
    """
    pods = control_plane.release_pods()
    problems = pods.image_problems(spec)
    assert not problems, (
        f"expected every Akri component of release {names.RELEASE} on the images chart "
        f"{chart_ref(spec)} renders (v<version>, -dev for akri-dev; see docs/facts.md#akri-charts "
        "and docs/facts.md#component-images):\n  "
        + "\n  ".join(problems)
        + f"\nrelease pods: {', '.join(pods.seen()) or 'none'}"
        + "\n(a latest-dev tag is frozen since Oct 2023; see `kubectl get ds,deploy -o wide`)"
    )


@pytest.mark.prereq("test_akri_crds")
def test_akri_configuration(control_plane, spec):
    """The udev Configuration exists with the rule, the broker image and the services asked for."""
    config = control_plane.configuration()
    assert config.exists, (
        f"no Configuration {names.CONFIGURATION} in {names.NAMESPACE} (`kubectl get akric`): the "
        "chart creates it only with udev.configuration.enabled=true, and pre-0.6 value names "
        "(udev.enabled, udev.name, udev.udevRules) are silently ignored (see "
        "docs/facts.md#helm-values)"
    )
    problems = config.problems(spec)
    assert not problems, (
        f"Configuration {names.CONFIGURATION} differs from what the suite's Helm values ask for:"
        "\n  "
        + "\n  ".join(problems)
        + "\n(`kubectl get akric -o yaml`; see docs/facts.md#helm-values and "
        "docs/facts.md#udev-capabilities)"
    )
