"""Layer 5, Akri control plane: the chart, its CRDs, its components and the Configuration."""

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from fixtures import names
from fixtures.kstate import live_pods, pod_ready, pods_summary
from fixtures.kwaits import wait_for
from fixtures.probes import assert_installed

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


def test_akri_install(layer, settings, versions):
    """The Helm repo and the pinned chart, installed with today's values (akri-facts 1.2)."""
    versions["akri_chart"] = f"{settings.akri_chart}-{settings.akri_version}"
    versions["broker_image"] = settings.broker_image
    assert_installed(layer, "akri_control_plane", settings.install)


def test_akri_crds(kube, layer):
    """configurations.akri.sh and instances.akri.sh are established and serve v0."""
    problems = []
    for crd_name in names.CRDS:
        try:
            crd = kube.call(kube.apiext.read_custom_resource_definition, crd_name)
        except ApiException as exc:
            problems.append(f"{crd_name}: {exc.status} {exc.reason}")
            continue
        served = [v.name for v in crd.spec.versions if v.served]
        established = any(
            c.type == "Established" and c.status == "True" for c in (crd.status.conditions or [])
        )
        if names.AKRI_VERSION not in served or not established:
            problems.append(f"{crd_name}: served {served}, established={established}")
    assert not problems, (
        "expected the Akri CRDs, established and serving v0:\n  "
        + "\n  ".join(problems)
        + "\n(the chart ships them in crds/; check `microk8s helm3 install` output)"
    )


@pytest.mark.prereq("test_akri_install")
def test_akri_components_ready(kube, settings, versions):
    """Agent, controller, udev discovery handler and webhook each have a Running, ready pod."""
    missing: dict[str, str] = {}
    for component, selector in names.COMPONENTS.items():
        try:
            pods, _ = wait_for(
                kube,
                kube.core.list_namespaced_pod,
                namespace=names.NAMESPACE,
                label_selector=selector,
                condition=lambda ps: any(pod_ready(p) for p in ps),
                describe=pods_summary,
                what=f"Akri {component} ready",
                timeout=settings.ready_timeout,
            )
        except AssertionError as exc:
            missing[component] = str(exc)
            continue
        image = next(p for p in pods if pod_ready(p)).spec.containers[0].image
        versions[f"akri_{component.replace(' ', '_')}_image"] = image
    assert not missing, "Akri components not ready:\n" + "\n".join(
        f"- {c} ({names.COMPONENTS[c]}): {why}" for c, why in missing.items()
    )


@pytest.mark.prereq("test_akri_components_ready")
def test_akri_images_match_chart(kube, settings):
    """Component images carry the chart's version, not frozen latest-dev tags (akri-facts F8)."""
    suffix = "-dev" if settings.akri_chart == "akri-dev" else ""
    expected = f"v{settings.akri_version}{suffix}"
    pods = live_pods(
        kube.call(
            kube.core.list_namespaced_pod, names.NAMESPACE, label_selector=names.PART_OF_AKRI
        ).items
    )
    wrong = [
        f"{p.metadata.name}: {c.image}"
        for p in pods
        for c in p.spec.containers
        if c.image.startswith("ghcr.io/project-akri/akri/") and not c.image.endswith(":" + expected)
    ]
    assert not wrong, f"expected Akri images tagged {expected}:\n  " + "\n  ".join(wrong)


@pytest.mark.prereq("test_akri_crds")
def test_akri_configuration(kube, settings):
    """The udev Configuration exists with the rule and the broker image asked for."""
    config = kube.get_custom("configurations", names.CONFIGURATION, names.NAMESPACE)
    assert config is not None, (
        f"no Configuration {names.CONFIGURATION} in {names.NAMESPACE}: Helm values with pre-0.6 "
        "names (udev.enabled, udev.name) are silently ignored (akri-facts F7)"
    )
    handler = config["spec"]["discoveryHandler"]
    details = yaml.safe_load(handler.get("discoveryDetails") or "") or {}
    assert handler.get("name") == "udev" and names.UDEV_RULE in details.get("udevRules", []), (
        f"expected discovery handler udev with rule {names.UDEV_RULE}, got {handler}"
    )
    containers = config["spec"]["brokerSpec"]["brokerPodSpec"]["containers"]
    assert containers[0]["image"] == settings.broker_image, (
        f"expected broker image {settings.broker_image}, Configuration has {containers[0]['image']}"
    )
